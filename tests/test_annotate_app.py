"""The ``paradigm annotate`` web app: API, concurrency, path traversal, token, headers, catch images, CLI."""

from __future__ import annotations

import hashlib
import hmac
import http.client as http_client
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_annotate_helpers import METHODS, http, live_server, make_tree

from paradigm.annotate.app import StudyConfig, create_app, degrade_for_catch, is_loopback, open_study
from paradigm.cli import cli
from paradigm.errors import InputError

pytest.importorskip("flask", reason="flask is not installed (pip install flask)")

SECRET_TEXT = b"TOP-SECRET-CONTENT"


@pytest.fixture
def tree(tmp_path):
    res, gt = make_tree(tmp_path / "data", n_images=6)
    return res, gt


def _study(tree, tmp_path, **kw):
    res, gt = tree
    cfg = StudyConfig(results=res, gt=gt, db=tmp_path / "db" / "annot.sqlite", **kw)
    return open_study(cfg)


def _client(study):
    return create_app(study).test_client()


def _next(c, rater="alice"):
    r = c.post("/api/next", json={"rater": rater})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


# ----------------------------------------------------------------------------------- basics
def test_page_api_and_images(tree, tmp_path):
    st = _study(tree, tmp_path, pairs=8, title="Study <b>&</b>")
    c = _client(st)
    page = c.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "Study &lt;b&gt;&amp;&lt;/b&gt;" in html and "<b>&</b>" not in html
    assert "<script>" not in html.replace('<script src="app.js" defer></script>', "")  # no inline script
    for h in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"):
        assert h in page.headers
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert c.get("/app.js").status_code == 200 and c.get("/app.css").status_code == 200
    seen = 0
    while True:
        d = _next(c)
        if d["done"]:
            break
        t = d["trial"]
        assert set(t) == {"id", "seq", "reference", "images"}
        text = str(d)
        assert not any(m in text for m in METHODS)  # blind: method names never reach the page
        for url in t["images"].values():
            assert url.startswith("img/") and ".." not in url and "/" not in url[4:]
            r = c.get("/" + url)
            assert r.status_code == 200 and r.mimetype == "image/png" and r.data[:4] == b"\x89PNG"
        assert _next(c)["trial"]["id"] == t["id"]  # asking again gives the same pending trial
        r = c.post("/api/answer", json={"rater": "alice", "trial_id": t["id"], "choice": "tie", "time_ms": 1500})
        assert r.status_code == 200 and r.get_json()["duplicate"] is False
        seen += 1
    assert seen == 8 and d["progress"] == {"answered": 8, "total": 8}


def test_bad_requests(tree, tmp_path):
    st = _study(tree, tmp_path)
    c = _client(st)
    assert c.post("/api/next", data="rater=alice").status_code == 400  # form posts refused (CSRF)
    assert c.post("/api/next", data='{"rater": "a"}', content_type="text/plain").status_code == 400
    assert c.post("/api/next", json=["alice"]).status_code == 400
    r = c.post("/api/next", json={"rater": "<script>"})
    assert r.status_code == 400 and "rater id" in r.get_json()["error"]
    t = _next(c)["trial"]
    r = c.post("/api/answer", json={"rater": "bob", "trial_id": t["id"], "choice": "a"})
    assert r.status_code == 400
    r = c.post("/api/answer", json={"rater": "alice", "trial_id": t["id"], "choice": "maybe"})
    assert r.status_code == 400
    assert c.get("/api/next").status_code == 405
    assert c.post("/api/next", data=b"x" * 100_000, content_type="application/json").status_code == 413


def test_host_header_checked_on_loopback(tree, tmp_path):
    c = _client(_study(tree, tmp_path))
    assert c.get("/", headers={"Host": "127.0.0.1:8765"}).status_code == 200
    assert c.get("/", headers={"Host": "[::1]:8765"}).status_code == 200
    assert c.get("/", headers={"Host": "evil.example:8765"}).status_code == 403  # DNS rebinding
    c2 = _client(_study(tree, tmp_path, host="0.0.0.0", token="t"))
    assert c2.get("/?token=t", headers={"Host": "annot.lab.example"}).status_code == 303


def test_is_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")


# ----------------------------------------------------------------------------------- token
def test_token_required_everywhere(tree, tmp_path):
    st = _study(tree, tmp_path, token="s3cr3t/+=")
    c = _client(st)
    assert c.get("/").status_code == 403
    assert c.get("/app.js").status_code == 403
    assert c.get("/?token=wrong").status_code == 403
    assert c.post("/api/next", json={"rater": "a"}).status_code == 403
    r = c.get("/?token=s3cr3t%2F%2B%3D")
    assert r.status_code == 303 and r.headers["Location"] in ("./", "/")
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith(st.cookie_name + "=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # the test client keeps the cookie
    assert c.get("/").status_code == 200
    d = _next(c)
    assert c.get("/" + d["trial"]["images"]["a"]).status_code == 200
    fresh = _client(st)
    assert fresh.get("/" + d["trial"]["images"]["a"]).status_code == 403
    assert fresh.post("/api/next", json={"rater": "a"}, headers={"X-Paradigm-Token": "s3cr3t/+="}).status_code == 200
    assert fresh.post("/api/next", json={"rater": "a"}, headers={"X-Paradigm-Token": "s3cr3t"}).status_code == 403


# ----------------------------------------------------------------------------------- traversal
def _raw_get(base: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    host, port = base.removeprefix("http://").split(":")
    conn = http_client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)  # sent verbatim, not normalised
    conn.putheader("Host", f"{host}:{port}")
    for k, v in (headers or {}).items():
        conn.putheader(k, v)
    conn.endheaders()
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def test_path_traversal_is_refused(tree, tmp_path):
    res, gt = tree
    outside = tmp_path / "outside"
    outside.mkdir()
    from PIL import Image

    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(outside / "img0.png")
    with open(outside / "img0.png", "ab") as fh:
        fh.write(SECRET_TEXT)  # a valid PNG with a recognisable tail
    (outside / "secret.txt").write_bytes(SECRET_TEXT)
    # symlinks pointing outside: one output file and one whole method folder
    victim = res / "beta" / "sr" / "tiny" / "img0.png"
    victim.unlink()
    victim.symlink_to(outside / "img0.png")
    (res / "delta" / "sr").mkdir(parents=True)
    (res / "delta" / "sr" / "tiny").symlink_to(outside, target_is_directory=True)
    st = _study(tree, tmp_path)
    assert any("img0.png" in s and "outside" in s for s in st.skipped)
    assert "delta" not in st.scheduler.design.methods
    roots = [res.resolve(), gt.resolve()]
    for img in st.images.values():
        real = img.path.resolve()
        assert any(real.is_relative_to(r) for r in roots)

    would_be = hmac.new(st.secret.encode(), b"out\0beta/sr/tiny/img0.png", hashlib.sha256).hexdigest()[:24]
    attempts = [
        "/img/../../../../etc/passwd",
        "/img/..%2f..%2f..%2fetc%2fpasswd",
        "/img/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/img/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/img//etc/passwd",
        "/img/" + str(outside / "secret.txt"),
        "/img/" + str(outside / "secret.txt").replace("/", "%2f"),
        "/img/..%5c..%5csecret.txt",
        "/img/" + would_be,
        "/img/" + would_be.upper(),
        "/img/" + "0" * 24,
        "/img/beta/sr/tiny/img0.png",
        "/img/" + "%2e%2e%2f" * 8 + "etc/passwd",
        "/" + str(outside / "secret.txt"),
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/app.js/../../../etc/passwd",
        "/static/../../secret.txt",
        "/img/....//....//secret.txt",
        "/img/%252e%252e%252fsecret.txt",
    ]
    with live_server(st) as base:
        for path in attempts:
            status, body = _raw_get(base, path)
            assert status in (403, 404), (path, status)
            assert SECRET_TEXT not in body and b"root:" not in body, path
        # the legitimate images of a trial are served
        status, _, body = http("POST", base + "/api/next", {"rater": "x"})
        assert status == 200
    follow = _study(tree, tmp_path / "follow", follow_symlinks=True)
    assert not follow.skipped and "delta" in follow.scheduler.design.methods
    fid = hmac.new(follow.secret.encode(), b"out\0beta/sr/tiny/img0.png", hashlib.sha256).hexdigest()[:24]
    assert follow.image_file(fid) is not None


def test_symlinked_gt_outside_is_not_served(tree, tmp_path):
    res, gt = tree
    outside = tmp_path / "outside_gt"
    outside.mkdir()
    g = gt / "sr" / "tiny" / "img1.png"
    (outside / "img1.png").write_bytes(g.read_bytes())
    g.unlink()
    g.symlink_to(outside / "img1.png")
    st = _study(tree, tmp_path)
    assert "sr/tiny/img1" not in st.gt_ids and "sr/tiny/img1" not in st.outputs
    assert len(st.scheduler.design.inputs) == 5


# ----------------------------------------------------------------------------------- concurrency
def test_concurrent_raters_lose_and_duplicate_nothing(tree, tmp_path):
    n_threads, n_answers = 20, 25
    st = _study(tree, tmp_path, pairs=n_answers)
    errors: list[str] = []
    dup_ok = Counter()

    def worker(k: int) -> None:
        rater = f"rater{k:02d}"
        try:
            for i in range(n_answers):
                s, _, body = http("POST", base + "/api/next", {"rater": rater})
                if s != 200:
                    errors.append(f"{rater} next {s} {body[:200]!r}")
                    return
                import json

                d = json.loads(body)
                if d["done"]:
                    errors.append(f"{rater} done early after {i}")
                    return
                payload = {"rater": rater, "trial_id": d["trial"]["id"], "choice": "abt"[(k + i) % 3]
                           .replace("t", "tie"), "time_ms": 100 + i}
                s, _, body = http("POST", base + "/api/answer", payload)
                if s != 200 or json.loads(body)["duplicate"]:
                    errors.append(f"{rater} answer {s} {body[:200]!r}")
                if i % 5 == 0:  # double submit
                    s, _, body = http("POST", base + "/api/answer", payload)
                    if s == 200 and json.loads(body)["duplicate"]:
                        dup_ok[rater] += 1
                    else:
                        errors.append(f"{rater} double submit {s} {body[:200]!r}")
            s, _, body = http("POST", base + "/api/next", {"rater": rater})
            if json.loads(body)["done"] is not True:
                errors.append(f"{rater} not done after {n_answers}")
        except Exception as exc:  # report, do not hang the test
            errors.append(f"{rater}: {exc!r}")

    with live_server(st) as base:
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert not errors, errors[:5]
    rows = st.store.answer_rows()
    assert len(rows) == n_threads * n_answers
    assert len({(r["rater"], r["trial_id"]) for r in rows}) == len(rows)
    per_rater = Counter(r["rater"] for r in rows)
    assert set(per_rater.values()) == {n_answers} and len(per_rater) == n_threads
    for rater in per_rater:
        seqs = sorted(r["seq"] for r in rows if r["rater"] == rater)
        assert seqs == list(range(n_answers))
    assert sum(dup_ok.values()) == n_threads * 5
    recs = st.store.records()
    assert len(recs) == n_threads * n_answers and all(r.winner is not None for r in recs)


def test_same_rater_in_parallel_gets_one_trial_and_one_answer(tree, tmp_path):
    st = _study(tree, tmp_path)
    ids: list[str] = []
    results: list[bool | None] = []
    lock = threading.Lock()
    import json

    with live_server(st) as base:
        def get() -> None:
            s, _, body = http("POST", base + "/api/next", {"rater": "twin"})
            with lock:
                ids.append(json.loads(body)["trial"]["id"] if s == 200 else f"error {s}")

        ts = [threading.Thread(target=get) for _ in range(8)]
        [t.start() for t in ts]
        [t.join(60) for t in ts]
        assert len(set(ids)) == 1 and not ids[0].startswith("error")

        def answer(choice: str) -> None:
            s, _, body = http("POST", base + "/api/answer", {"rater": "twin", "trial_id": ids[0], "choice": choice})
            with lock:
                results.append(json.loads(body)["duplicate"] if s == 200 else None)

        ts = [threading.Thread(target=answer, args=("ab"[k % 2],)) for k in range(8)]
        [t.start() for t in ts]
        [t.join(60) for t in ts]
    assert sorted(results) == [False] + [True] * 7
    assert len(st.store.answer_rows()) == 1


# ----------------------------------------------------------------------------------- images
def test_catch_images_are_generated_under_the_db_folder(tree, tmp_path):
    from paradigm.io import read_array

    st = _study(tree, tmp_path)
    assert st.files_dir == tmp_path / "db" / "annot.files"
    ref = next(iter(st.catch_ids))
    path, mime = st.image_file(st.catch_ids[ref])
    assert mime == "image/png" and path.parent == st.files_dir and path.is_file()
    gt_path, _ = st.image_file(st.gt_ids[ref])
    a, b = read_array(gt_path), read_array(path)
    assert a.shape == b.shape
    assert float(np.sqrt(np.mean((a - b) ** 2))) > 0.1  # heavily degraded
    assert st.image_file(st.catch_ids[ref])[0] == path  # generated once


def test_degrade_for_catch_properties():
    rng = np.random.default_rng(1)
    img = rng.random((3, 37, 23)).astype(np.float32)
    out = degrade_for_catch(img, seed=3)
    assert out.shape == img.shape and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    np.testing.assert_array_equal(out, degrade_for_catch(img, seed=3))
    assert np.sqrt(np.mean((out - img) ** 2)) > 0.15


def test_tiff_outputs_are_converted(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    res, gt = make_tree(tmp_path / "d", n_images=2)
    p = res / "alpha" / "sr" / "tiny" / "img0.png"
    tifffile.imwrite(p.with_suffix(".tif"), (np.random.default_rng(0).random((16, 16, 3)) * 65535).astype(np.uint16))
    p.unlink()
    st = open_study(StudyConfig(results=res, gt=gt, db=tmp_path / "x.sqlite"))
    oid = st.outputs["sr/tiny/img0"]["alpha"][""]
    path, mime = st.image_file(oid)
    assert mime == "image/png" and path.suffix == ".png" and path.read_bytes()[:4] == b"\x89PNG"


def test_one_method_is_an_input_error(tmp_path):
    res, gt = make_tree(tmp_path / "d", methods=("solo",), n_images=2)
    with pytest.raises(InputError, match="at least two methods"):
        open_study(StudyConfig(results=res, gt=gt, db=tmp_path / "x.sqlite"))


# ----------------------------------------------------------------------------------- CLI
class _FakeServer:
    server_port = 54321

    def serve_forever(self) -> None:
        return None

    def server_close(self) -> None:
        return None


@pytest.fixture
def fake_server(monkeypatch):
    calls: list[tuple[str, int]] = []

    def fake(study, host="127.0.0.1", port=8765):
        calls.append((host, port))
        return _FakeServer()

    monkeypatch.setattr("paradigm.annotate.app.make_server", fake)
    return calls


@pytest.mark.parametrize("form", [["annotate"], ["annotate", "serve"]])
def test_cli_default_and_explicit_serve(tree, tmp_path, fake_server, form):
    res, gt = tree
    db = tmp_path / "cli.sqlite"
    r = CliRunner().invoke(cli, [*form, str(res), "--gt", str(gt), "--db", str(db), "--port", "0", "--pairs", "5"])
    assert r.exit_code == 0, r.output
    assert "open http://127.0.0.1:54321/" in r.output and "5 trials per rater" in r.output
    assert "3 methods" in r.output and db.is_file()
    assert fake_server == [("127.0.0.1", 0)]


def test_cli_options_first_and_token(tree, tmp_path, fake_server):
    res, gt = tree
    r = CliRunner().invoke(cli, ["annotate", "--gt", str(gt), str(res), "--db", str(tmp_path / "a.sqlite"),
                                 "--token", "auto"])
    assert r.exit_code == 0, r.output
    assert "?token=" in r.output and "warning" not in r.output


def test_cli_warns_on_public_host_without_token(tree, tmp_path, fake_server):
    res, gt = tree
    r = CliRunner().invoke(cli, ["annotate", str(res), "--gt", str(gt), "--db", str(tmp_path / "a.sqlite"),
                                 "--host", "0.0.0.0"])
    assert r.exit_code == 0, r.output
    assert "warning: listening on 0.0.0.0 without --token" in r.output
    r = CliRunner().invoke(cli, ["annotate", str(res), "--gt", str(gt), "--db", str(tmp_path / "b.sqlite"),
                                 "--host", "0.0.0.0", "--token", "abc"])
    assert "without --token" not in r.output and "?token=abc" in r.output


def test_cli_errors(tmp_path, fake_server):
    res, gt = make_tree(tmp_path / "d", methods=("solo",), n_images=2)
    r = CliRunner().invoke(cli, ["annotate", str(res), "--gt", str(gt), "--db", str(tmp_path / "a.sqlite")])
    assert r.exit_code != 0 and "at least two methods" in r.output
    r = CliRunner().invoke(cli, ["annotate", str(tmp_path / "missing"), "--gt", str(gt)])
    assert r.exit_code != 0 and "does not exist" in r.output
    r = CliRunner().invoke(cli, ["annotate", "--help"])
    assert r.exit_code == 0 and "serve" in r.output and "export" in r.output


def test_default_db_is_inside_results_dot_paradigm(tree, fake_server):
    res, gt = tree
    r = CliRunner().invoke(cli, ["annotate", str(res), "--gt", str(gt)])
    assert r.exit_code == 0, r.output
    assert (res / ".paradigm" / "annotate.sqlite").is_file()
    # the database folder is ignored by discovery: serving again still finds the same methods
    st = open_study(StudyConfig(results=res, gt=gt))
    assert st.scheduler.design.methods == METHODS
    assert Path(st.store.path) == res / ".paradigm" / "annotate.sqlite"


def test_restart_keeps_ids_and_pending_trial(tree, tmp_path):
    st1 = _study(tree, tmp_path)
    c1 = _client(st1)
    t1 = _next(c1, "carol")["trial"]
    st2 = _study(tree, tmp_path)  # a restarted server on the same database
    assert st2.secret == st1.secret and st2.gt_ids == st1.gt_ids and st2.outputs == st1.outputs
    c2 = _client(st2)
    t2 = _next(c2, "carol")["trial"]
    assert t2 == t1
    assert c2.get("/" + t2["images"]["b"]).status_code == 200
    other = _study(tree, tmp_path / "other")  # another study: other secret, other ids
    assert set(other.images).isdisjoint(st1.images)


def test_file_swapped_for_outside_symlink_after_start_is_refused(tree, tmp_path):
    res, _ = tree
    st = _study(tree, tmp_path)
    oid = st.outputs["sr/tiny/img2"]["gamma"][""]
    assert st.image_file(oid) is not None
    secret = tmp_path / "secret.png"
    secret.write_bytes(SECRET_TEXT)
    victim = res / "gamma" / "sr" / "tiny" / "img2.png"
    victim.unlink()
    victim.symlink_to(secret)
    assert st.image_file(oid) is None
    assert _client(st).get(f"/img/{oid}").status_code == 404
