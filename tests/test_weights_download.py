"""Downloads through the resolver, served by a local HTTP server on 127.0.0.1 (never the internet).

Covers the CLIP/DINOv2 path end to end (download, verify, load, run), truncated and tampered files,
the declared-hash rule (X-Linked-Etag on a redirect, recorded on first use, a later change refused),
and ``paradigm weights fetch --dest`` / ``paradigm weights verify``.
"""
# ruff: noqa: F811  (fixtures imported from _tiny_weights are redefined as arguments)

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import torch
from _tiny_weights import register_tiny_clip_config, tiny_files  # noqa: F401  (fixture)
from click.testing import CliRunner

from paradigm.errors import WeightsHashError, WeightsNotFoundError
from paradigm.weights import cache_dir, clear_hash_cache, get_entry, override_table, resolve, status
from paradigm.weights.lock import LOCK_NAME, read_lock


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------------ server
@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False  # announce len(body) but send half of it, then close
    redirect: str | None = None  # 302 to this path (headers are sent on the redirect)


class Server:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[str] = []
        routes, hits = self.routes, self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                hits.append(self.path)
                r = routes.get(self.path)
                if r is None:
                    self.send_error(404)
                    return
                if r.redirect:
                    self.send_response(302)
                    self.send_header("Location", r.redirect)
                    for k, v in r.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(r.body)))
                for k, v in r.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(r.body[: len(r.body) // 2] if r.truncate else r.body)
                if r.truncate:
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    s.thread.start()
    try:
        yield s
    finally:
        s.httpd.shutdown()
        s.httpd.server_close()
        s.thread.join(5)


@pytest.fixture
def online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Downloads allowed (the conftest guard still refuses anything but loopback); empty private cache."""
    monkeypatch.delenv("PARADIGM_OFFLINE", raising=False)
    monkeypatch.delenv("PARADIGM_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("PARADIGM_ALLOW_UNVERIFIED", raising=False)
    monkeypatch.delenv("PARADIGM_WEIGHTS_TABLE", raising=False)
    monkeypatch.setenv("PARADIGM_CACHE_DIR", str(tmp_path / "cache"))
    clear_hash_cache()
    return tmp_path / "cache"


def entry(filename: str, url: str, digest: str | None, **extra: Any) -> dict[str, Any]:
    return {"filename": filename, "urls": [url], "sha256": digest, "format": "text", "licence": "test", **extra}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != LOCK_NAME) if folder.exists() else []


# ------------------------------------------------------------------------------------------ CLIP / DINOv2
def _served_models(files: tuple[Path, dict[str, dict[str, Any]]], server: Server) -> dict[str, dict[str, Any]]:
    """The tiny CLIP and DINOv2 entries, with their URLs on the local server (pinned sha256)."""
    from _tiny_weights import TINY_CLIP, TINY_CLIP_TAG

    from paradigm.metrics.deep import clip_entry_name

    root, entries = files
    out = {}
    for name in (clip_entry_name(TINY_CLIP, TINY_CLIP_TAG), "dinov2_vits14"):
        e = dict(entries[name])
        body = (root / e["filename"]).read_bytes()
        assert sha(body) == e["sha256"]
        server.routes[f"/hub/{e['filename']}"] = Route(body)
        out[name] = {**e, "filename": "dl_" + e["filename"], "urls": [server.url(f"/hub/{e['filename']}")]}
    return out


def test_clip_and_dino_download_verify_and_run(tiny_files, server: Server, online: Path) -> None:
    from _tiny_weights import TINY_CLIP, TINY_CLIP_TAG

    from paradigm.metrics import deep

    register_tiny_clip_config()
    deep.clear_model_cache()
    entries = _served_models(tiny_files, server)
    x = torch.rand(2, 3, 40, 48, generator=torch.Generator().manual_seed(1))
    y = (x + 0.05 * torch.rand(x.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    with override_table(entries):
        d = deep.dino_sim(x, y)
        c = deep.clip_sim(x, y, model=TINY_CLIP, pretrained=TINY_CLIP_TAG)
        for name, e in entries.items():
            p = cache_dir() / e["filename"]
            assert p.is_file() and sha(p.read_bytes()) == e["sha256"], name
            assert status(name)["state"] == "verified" and status(name)["verification"] == "pinned"
    deep.clear_model_cache()
    assert d.shape == (2,) and c.shape == (2,)
    assert torch.isfinite(d).all() and torch.isfinite(c).all() and (d <= 1 + 1e-9).all()
    assert len(server.hits) == 2  # one download each; the models came from the verified files
    assert not list(online.glob("*.part"))


# ------------------------------------------------------------------------------------------ refusals
def test_truncated_download_refused(server: Server, online: Path) -> None:
    body = bytes(range(256)) * 64
    server.routes["/t.bin"] = Route(body, truncate=True)
    with override_table({"t": entry("t.bin", server.url("/t.bin"), sha(body))}), pytest.raises(WeightsNotFoundError) as info:
        resolve("t")
    msg = str(info.value)
    assert "incomplete" in msg and "t.bin" in msg and str(len(body)) in msg
    assert leftovers(online) == [], "a truncated download must leave nothing in the cache"


def test_truncated_declared_hash_download_refused(server: Server, online: Path) -> None:
    body = b"w" * 10000
    server.routes["/d.bin"] = Route(body, headers={"ETag": f'"{sha(body)}"'}, truncate=True)
    with override_table({"d": entry("d.bin", server.url("/d.bin"), None)}), pytest.raises(WeightsNotFoundError, match="incomplete"):
        resolve("d")
    assert leftovers(online) == [] and not read_lock(online)


def test_tampered_download_refused(server: Server, online: Path) -> None:
    good = b"the real weights" * 100
    bad = bytearray(good)
    bad[500] ^= 0xFF  # same length, one byte changed
    server.routes["/w.bin"] = Route(bytes(bad))
    with override_table({"w": entry("w.bin", server.url("/w.bin"), sha(good))}), pytest.raises(WeightsHashError) as info:
        resolve("w")
    msg = str(info.value)
    assert sha(good) in msg and sha(bytes(bad)) in msg and "refused" in msg
    assert leftovers(online) == []


def test_server_lying_about_its_hash_refused(server: Server, online: Path) -> None:
    body = b"payload" * 50
    server.routes["/l.bin"] = Route(body, headers={"X-Linked-Etag": f'"{"ab" * 32}"'})
    with override_table({"l": entry("l.bin", server.url("/l.bin"), None)}), pytest.raises(WeightsHashError, match="X-Linked-Etag"):
        resolve("l")
    assert leftovers(online) == [] and not read_lock(online)


# ------------------------------------------------------------------------------------------ declared-hash rule
def test_declared_hash_recorded_then_change_refused(server: Server, online: Path) -> None:
    """Hub-style: the resolve URL redirects, declaring the LFS sha256 in X-Linked-Etag on the redirect."""
    v1 = b"model version 1" * 200
    server.routes["/resolve/m.bin"] = Route(redirect="/cdn/m.bin", headers={"X-Linked-Etag": f'"{sha(v1)}"'})
    server.routes["/cdn/m.bin"] = Route(v1, headers={"ETag": '"not-a-sha"'})
    e = entry("m.bin", server.url("/resolve/m.bin"), None)
    with override_table({"m": e}):
        assert status("m")["verification"] == "declared-hash"
        p = resolve("m")
        assert p.read_bytes() == v1
        rec = read_lock(online)["m.bin"]
        assert rec["sha256"] == sha(v1) and rec["origin"] == "declared-hash"
        assert rec["declared_by"] == "X-Linked-Etag" and rec["size"] == len(v1) and rec["name"] == "m"
        assert status("m")["state"] == "recorded" and status("m")["recorded_sha256"] == sha(v1)
        # upstream changes the file (consistently declared); the cached copy is gone: refused
        v2 = b"model version 2" * 200
        server.routes["/resolve/m.bin"] = Route(redirect="/cdn/m.bin", headers={"X-Linked-Etag": f'"{sha(v2)}"'})
        server.routes["/cdn/m.bin"] = Route(v2)
        p.unlink()
        clear_hash_cache()
        with pytest.raises(WeightsHashError) as info:
            resolve("m")
        assert sha(v1) in str(info.value) and sha(v2) in str(info.value) and "recorded" in str(info.value)
        assert leftovers(online) == []
        # a changed file put into the cache by hand is refused against the record too
        (online / "m.bin").write_bytes(v2)
        clear_hash_cache()
        with pytest.raises(WeightsHashError, match="recorded"):
            resolve("m")


def test_linked_etag_wins_over_a_cdn_etag(server: Server, online: Path) -> None:
    """A CDN may send a 64-hex ETag that is not the sha256 (another hash scheme): the hub's X-Linked-Etag
    on the redirect is the declaration."""
    body = b"hub file" * 64
    server.routes["/resolve/h.bin"] = Route(redirect="/cdn/h.bin", headers={"X-Linked-Etag": f'"{sha(body)}"'})
    server.routes["/cdn/h.bin"] = Route(body, headers={"ETag": f'"{"cd" * 32}"'})
    with override_table({"h": entry("h.bin", server.url("/resolve/h.bin"), None)}):
        assert resolve("h").read_bytes() == body
    assert read_lock(online)["h.bin"]["declared_by"] == "X-Linked-Etag"


def test_etag_sha256_is_a_declaration(server: Server, online: Path) -> None:
    body = b"etag-declared" * 10
    server.routes["/e.bin"] = Route(body, headers={"ETag": f'W/"{sha(body)}"'})
    with override_table({"e": entry("e.bin", server.url("/e.bin"), None)}):
        assert resolve("e").read_bytes() == body
    assert read_lock(online)["e.bin"]["declared_by"] == "ETag"


def test_no_declared_hash_refused_unless_allowed(server: Server, online: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = b"nothing declares me" * 10
    server.routes["/n.bin"] = Route(body, headers={"ETag": '"5d41402abc4b2a76b9719d911017c592"'})  # an md5, not a sha256
    with override_table({"n": entry("n.bin", server.url("/n.bin"), None)}):
        with pytest.raises(WeightsNotFoundError) as info:
            resolve("n")
        assert "PARADIGM_ALLOW_UNVERIFIED" in str(info.value) and "declared" in str(info.value)
        assert leftovers(online) == []
        monkeypatch.setenv("PARADIGM_ALLOW_UNVERIFIED", "1")
        assert resolve("n").read_bytes() == body
        assert read_lock(online)["n.bin"]["origin"] == "unverified"


def test_second_url_used_when_first_declares_nothing(server: Server, online: Path) -> None:
    body = b"mirrored" * 30
    server.routes["/release/x.bin"] = Route(body)  # e.g. a release asset: no sha256 declared
    server.routes["/hub/x.bin"] = Route(body, headers={"X-Linked-Etag": sha(body)})
    e = {**entry("x.bin", server.url("/release/x.bin"), None), "urls": [server.url("/release/x.bin"), server.url("/hub/x.bin")]}
    with override_table({"x": e}):
        assert resolve("x").read_bytes() == body
    assert read_lock(online)["x.bin"]["url"].endswith("/hub/x.bin")


# ------------------------------------------------------------------------------------------ CLI fetch / verify
def test_cli_fetch_dest_and_verify(tmp_path: Path, server: Server, online: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paradigm.cli import cli

    pinned, declared = b"pinned file" * 40, b"declared file" * 40
    server.routes["/p.bin"] = Route(pinned)
    server.routes["/d.bin"] = Route(declared, headers={"X-Linked-Etag": sha(declared)})
    dino = b"not really dino" * 10
    server.routes["/dino.safetensors"] = Route(dino)
    overlay = tmp_path / "table.json"
    overlay.write_text(json.dumps({"entries": {
        "p": entry("p.bin", server.url("/p.bin"), sha(pinned)),
        "d": entry("d.bin", server.url("/d.bin"), None),
        "dinov2_vits14": {**get_entry("dinov2_vits14"), "urls": [server.url("/dino.safetensors")], "sha256": sha(dino)},
    }}))
    monkeypatch.setenv("PARADIGM_WEIGHTS_TABLE", str(overlay))  # the test-only table: URLs on 127.0.0.1
    dest = tmp_path / "airgap"
    runner = CliRunner()
    res = runner.invoke(cli, ["weights", "fetch", "p", "d", "--metrics", "dino_sim", "--dest", str(dest)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in dest.iterdir()) == sorted(["p.bin", "d.bin", LOCK_NAME, get_entry("dinov2_vits14")["filename"]])
    assert read_lock(dest)["d.bin"]["sha256"] == sha(declared)
    assert "downloaded" in res.output and not (online / "p.bin").exists()  # --dest, not the cache
    # the air-gapped machine: offline, the folder as PARADIGM_WEIGHTS_DIR
    monkeypatch.setenv("PARADIGM_OFFLINE", "1")
    monkeypatch.setenv("PARADIGM_WEIGHTS_DIR", str(dest))
    assert resolve("d") == (dest / "d.bin").resolve() and status("d")["state"] == "recorded"
    res = runner.invoke(cli, ["weights", "verify", "p", "d", "dinov2_vits14", "alexnet"])
    assert res.exit_code == 0, res.output
    lines = {ln.split()[1]: ln.split()[0] for ln in res.output.splitlines() if ln and ln.split()[0] in ("ok", "missing", "mismatch")}
    assert lines == {"p": "ok", "d": "ok", "dinov2_vits14": "ok", "alexnet": "missing"}
    # tamper with the declared-hash file: verify reports it and exits non-zero
    (dest / "d.bin").write_bytes(declared[:-1] + b"!")
    res = runner.invoke(cli, ["weights", "verify", "--dir", str(dest), "d", "p"])
    assert res.exit_code == 1 and "mismatch" in res.output and sha(declared) in res.output
    # fetching again with a bad file in --dest refuses it
    monkeypatch.delenv("PARADIGM_OFFLINE")
    res = runner.invoke(cli, ["weights", "fetch", "d", "--dest", str(dest)])
    assert res.exit_code == 1 and "failed" in res.output


def test_cli_fetch_unknown_name_and_offline(online: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paradigm.cli import cli

    res = CliRunner().invoke(cli, ["weights", "fetch", "dinov2_vits41"])
    assert res.exit_code == 1 and "dinov2_vits14" in res.output
    monkeypatch.setenv("PARADIGM_OFFLINE", "1")
    res = CliRunner().invoke(cli, ["weights", "fetch", "dinov2_vits14"])
    assert res.exit_code == 1 and "PARADIGM_OFFLINE" in res.output


def test_cli_list_states_the_rules(online: Path) -> None:
    from paradigm.cli import cli

    res = CliRunner().invoke(cli, ["weights", "list", "--no-verify"])
    assert res.exit_code == 0, res.output
    rows = {ln.split()[0]: ln for ln in res.output.splitlines() if ln.strip()}
    assert "pinned" in rows["dinov2_vits14"] and "declared-hash" in rows["pyiqa_topiq_nr_koniq"]
    flat = " ".join(res.output.split())
    assert "X-Linked-Etag" in flat and "recorded on first use" in flat
    assert get_entry("open_clip_vit_b_32_laion2b_s34b_b79k")["sha256"] in res.output
    res = CliRunner().invoke(cli, ["weights", "list", "--json", "--no-verify"])
    for r in json.loads(res.output):
        assert r["verification"] in ("pinned", "declared-hash")
        assert (r["sha256"] is None) == (r["verification"] == "declared-hash")
        assert bool(r["sha256_source"]) == bool(r["sha256"]), r["name"]


def test_table_env_overlay_is_validated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paradigm.errors import InputError, WeightsError

    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"entries": {"x": {"filename": "x", "urls": [], "sha256": "nothex", "format": "text"}}}))
    monkeypatch.setenv("PARADIGM_WEIGHTS_TABLE", str(bad))
    with pytest.raises(InputError, match="sha256"):
        get_entry("x")
    monkeypatch.setenv("PARADIGM_WEIGHTS_TABLE", str(tmp_path / "absent.json"))
    with pytest.raises(WeightsError, match="PARADIGM_WEIGHTS_TABLE"):
        get_entry("alexnet")
    monkeypatch.delenv("PARADIGM_WEIGHTS_TABLE")
    assert get_entry("alexnet")["sha256"]
