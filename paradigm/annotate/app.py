"""The ``paradigm annotate`` web app (Flask): pairwise judgments of restoration results in the browser.

Routes (all under the token check when a token is set):

- ``GET /``, ``/app.js``, ``/app.css``: the page (no inline script; strict Content-Security-Policy).
- ``POST /api/next`` ``{"rater": ID}``: the rater's pending trial, else a new one from the
  scheduler; ``{"done": true}`` when the session is complete.
- ``POST /api/answer`` ``{"rater", "trial_id", "choice": "a"|"b"|"tie", "time_ms"}``: stores the
  answer (idempotent: a repeated submission is acknowledged with ``"duplicate": true``).
- ``GET /img/<id>``: an image by its opaque id. Ids are HMACs (keyed by a per-study secret) of the
  file's place in the study; the client never names a file path. Files are only served when their
  real path (symlinks resolved) lies inside the RESULTS or GT folder, unless ``follow_symlinks``.

The API accepts only ``application/json`` bodies (so other web sites cannot post answers with a
plain form), and, when bound to a loopback address, only requests whose ``Host`` is a loopback name
(no DNS rebinding). With a token, every request must carry it: as ``?token=`` on the first load
(the app then sets an HttpOnly, SameSite=Strict cookie and redirects to drop it from the address
bar), as the cookie, or in an ``X-Paradigm-Token`` header; anything else gets 403.

Catch trials show the GT against a heavily degraded copy (block-averaged by 8, pixelated, plus
Gaussian noise), generated on first use into ``<db folder>/<db name>.files/``; TIFF files are
converted to PNG there too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError
from .schedule import CATCH_DEGRADED, CATCH_GT, Design, InputGroup, Record, Scheduler
from .store import Store, check_rater

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.serving import BaseWSGIServer

log = logging.getLogger(__name__)

#: Browsers show these directly; other formats (TIFF) are converted to PNG first.
BROWSER_TYPES: Mapping[str, str] = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".bmp": "image/bmp",
}
_ID_RE = re.compile(r"^[0-9a-f]{24}$")
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def default_db(results: str | os.PathLike[str]) -> Path:
    """``RESULTS/.paradigm/annotate.sqlite`` (``.paradigm/`` is ignored by results discovery)."""
    return Path(results) / ".paradigm" / "annotate.sqlite"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or name) is the loopback interface."""
    h = host.strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def degrade_for_catch(img: np.ndarray, seed: int = 0) -> np.ndarray:
    """A heavily degraded copy of ``img`` for catch trials: 8x block average, pixelated, noise sigma 0.12.

    Args:
        img: float array ``(3, H, W)`` in [0, 1].
        seed: noise seed.

    Returns:
        float32 ``(3, H, W)`` in [0, 1].
    """
    a = np.asarray(img, dtype=np.float64)
    _, h, w = a.shape
    f = int(min(8, max(2, min(h, w) // 4)))
    ph, pw = -h % f, -w % f
    p = np.pad(a, ((0, 0), (0, ph), (0, pw)), mode="edge")
    c, hh, ww = p.shape
    small = p.reshape(c, hh // f, f, ww // f, f).mean(axis=(2, 4))
    up = np.repeat(np.repeat(small, f, axis=1), f, axis=2)[:, :h, :w]
    rng = np.random.default_rng(seed)
    out = up + rng.normal(0.0, 0.12, size=up.shape)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


@dataclass
class StudyConfig:
    """Settings of an annotation study (the ``paradigm annotate`` options).

    Attributes:
        results, gt: the folders (layouts as for ``paradigm score``).
        db: SQLite file [default ``RESULTS/.paradigm/annotate.sqlite``].
        pairs: trials per rater (None: every input × method pair once, plus catch/repeat trials).
        seed, repeat_rate, catch_rate, active: scheduling (:class:`~paradigm.annotate.schedule.Scheduler`).
        token: when set, every request must carry it.
        title: page title.
        host: the address the server binds to (Host-header check on loopback).
        follow_symlinks: serve files whose real path lies outside RESULTS/GT (symlinked trees).
    """

    results: Path
    gt: Path
    db: Path | None = None
    pairs: int | None = None
    seed: int = 0
    repeat_rate: float = 0.1
    catch_rate: float = 0.1
    active: bool = False
    token: str | None = None
    title: str = "paradigm annotate"
    host: str = "127.0.0.1"
    follow_symlinks: bool = False


@dataclass
class _Image:
    kind: str  # "file" | "catch"
    path: Path  # the source file (GT for catch images)
    seed: int = 0


@dataclass
class Study:
    """A running study: discovered images, their opaque ids, the scheduler and the database."""

    config: StudyConfig
    store: Store
    scheduler: Scheduler
    files_dir: Path
    images: dict[str, _Image] = field(default_factory=dict)
    #: reference -> method -> sample -> image id; and reference -> GT image id / catch image id
    outputs: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    gt_ids: dict[str, str] = field(default_factory=dict)
    catch_ids: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    unpaired: int = 0
    roots: list[Path] = field(default_factory=list)
    secret: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _file_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cookie_name(self) -> str:
        """Name of the token cookie (per study, so two studies on one host do not clash)."""
        return "paradigm_annotate_" + hmac.new(self.secret.encode(), b"cookie", hashlib.sha256).hexdigest()[:10]

    # -- trials -----------------------------------------------------------------------------
    def next(self, rater: str) -> dict[str, Any]:
        """The ``/api/next`` payload for ``rater``."""
        rater = check_rater(rater)
        with self._lock:
            rec = self.store.next_trial(rater, self.scheduler)
        answered, _ = self.store.progress(rater)
        progress = {"answered": answered, "total": self.scheduler.max_trials}
        if rec is None:
            return {"done": True, "progress": progress}
        return {
            "done": False,
            "progress": progress,
            "trial": {"id": rec.trial_id, "seq": rec.seq, "reference": rec.reference, "images": self.image_urls(rec)},
        }

    def answer(self, rater: str, trial_id: str, choice: str, time_ms: Any) -> dict[str, Any]:
        """Store an answer; the ``/api/answer`` payload."""
        res = self.store.answer(rater, trial_id, choice, time_ms)
        return {"ok": True, "trial_id": res.trial_id, "winner": res.winner, "duplicate": res.duplicate}

    def image_urls(self, rec: Record) -> dict[str, str]:
        """Relative URLs of the reference, A and B images of a trial."""
        def one(method: str, sample: str) -> str:
            if method == CATCH_GT:
                return self.gt_ids[rec.reference]
            if method == CATCH_DEGRADED:
                return self.catch_ids[rec.reference]
            return self.outputs[rec.reference][method][sample]

        try:
            ids = {"ref": self.gt_ids[rec.reference], "a": one(rec.method_a, rec.sample_a),
                   "b": one(rec.method_b, rec.sample_b)}
        except KeyError as exc:
            raise InputError(
                f"trial {rec.trial_id} shows images that are no longer in the results folder ({exc}); "
                "restart with the folders this database was made for, or use a new --db"
            ) from None
        return {k: f"img/{v}" for k, v in ids.items()}

    # -- images -----------------------------------------------------------------------------
    def image_file(self, image_id: str) -> tuple[Path, str] | None:
        """``(file, mimetype)`` to send for an image id, or None for an unknown or malformed id."""
        if not _ID_RE.match(image_id):
            return None
        img = self.images.get(image_id)
        if img is None:
            return None
        if not self.config.follow_symlinks and not _inside(img.path, self.roots):
            log.warning("refusing %s: its real path is now outside the RESULTS and GT folders", img.path)
            return None
        if img.kind == "file":
            mime = BROWSER_TYPES.get(img.path.suffix.lower())
            if mime is not None:
                return img.path, mime
            return self._generated(image_id, img, lambda a: a), "image/png"
        return self._generated(image_id, img, lambda a: degrade_for_catch(a, img.seed)), "image/png"

    def _generated(self, image_id: str, img: _Image, fn: Any) -> Path:
        from ..io import read_array, write_png

        out = self.files_dir / f"{img.kind}-{image_id}.png"
        if out.is_file():
            return out
        with self._file_lock:
            if not out.is_file():
                self.files_dir.mkdir(parents=True, exist_ok=True)
                tmp = out.with_name(f".{out.name}.{os.getpid()}.{threading.get_ident()}.tmp")
                write_png(tmp, fn(read_array(img.path)))
                os.replace(tmp, out)
        return out

    def check_token(self, given: str | None) -> bool:
        """Whether ``given`` matches the study's token (always True without a token)."""
        tok = self.config.token
        if not tok:
            return True
        return given is not None and hmac.compare_digest(given.encode("utf-8"), tok.encode("utf-8"))


def _inside(path: Path, roots: list[Path]) -> bool:
    try:
        real = path.resolve(strict=True)
    except OSError:
        return False
    return any(real == r or real.is_relative_to(r) for r in roots)


def open_study(config: StudyConfig) -> Study:
    """Discover the results, pair them with the GT and open (or create) the study database.

    Raises:
        InputError: bad folders, fewer than two methods, bad options.
    """
    from ..layout import discover

    # Resolve every path once, at start-up: Flask's send_file resolves a relative path against the
    # package folder, and the server must not depend on the working directory later.
    results, gt = Path(config.results).resolve(), Path(config.gt).resolve()
    db = (Path(config.db) if config.db is not None else default_db(results)).resolve()
    config = dataclasses.replace(config, results=results, gt=gt, db=db)
    layout = discover(results, gt)
    store = Store(db)
    secret = store.secret()
    files_dir = db.with_name(db.name.rsplit(".", 1)[0] + ".files") if "." in db.name else db.with_name(db.name + ".files")

    for key, value in (("results", str(results)), ("gt", str(gt))):
        old = store.get_meta(key)
        if old is None:
            store.set_meta(key, value)
        elif old != value:
            log.warning("database %s was started with %s=%s, now %s: answers of both are mixed", db, key, old, value)

    roots = [results, gt]

    def image_id(kind: str, name: str) -> str:
        return hmac.new(secret.encode(), f"{kind}\0{name}".encode(), hashlib.sha256).hexdigest()[:24]

    study_images: dict[str, _Image] = {}
    outputs: dict[str, dict[str, dict[str, str]]] = {}
    gt_ids: dict[str, str] = {}
    skipped: list[str] = []
    for p in layout.pairs:
        ref = "/".join(x for x in (p.task, p.dataset, p.image) if x)
        bad = [q for q in (p.output_path, p.gt_path) if not config.follow_symlinks and not _inside(q, roots)]
        if bad:
            skipped.append(f"{bad[0]}: its real path is outside the RESULTS and GT folders (symlink)")
            continue
        if ref not in gt_ids:
            gid = image_id("gt", p.gt_path.relative_to(gt).as_posix())
            gt_ids[ref] = gid
            study_images[gid] = _Image("file", p.gt_path)
        oid = image_id("out", p.output_path.relative_to(results).as_posix())
        study_images[oid] = _Image("file", p.output_path)
        outputs.setdefault(ref, {}).setdefault(p.method, {})[p.sample] = oid
    for s in skipped:
        log.warning("not served: %s", s)
    catch_ids: dict[str, str] = {}
    for ref, gid in gt_ids.items():
        cid = image_id("catch", ref)
        catch_ids[ref] = cid
        seed = int.from_bytes(hashlib.sha256(f"{config.seed}|{ref}".encode()).digest()[:4], "little")
        study_images[cid] = _Image("catch", study_images[gid].path, seed)

    groups = tuple(
        InputGroup(ref, {m: tuple(sorted(s)) for m, s in sorted(by_m.items())})
        for ref, by_m in sorted(outputs.items())
    )
    design = Design(groups)
    scheduler = Scheduler(
        design, seed=config.seed, repeat_rate=config.repeat_rate, catch_rate=config.catch_rate,
        active=config.active, max_trials=config.pairs,
    )
    if config.active:
        try:
            import meta_eval.human  # noqa: F401
        except ImportError as exc:  # pragma: no cover - meta_eval ships with paradigm
            raise InputError(f"--active needs meta_eval's Bradley–Terry fit, which cannot be imported: {exc}") from exc
    return Study(
        config=config, store=store, scheduler=scheduler, files_dir=files_dir, images=study_images,
        outputs=outputs, gt_ids=gt_ids, catch_ids=catch_ids, skipped=skipped, unpaired=len(layout.unpaired),
        roots=roots, secret=secret,
    )


#: The API's bodies are flat objects; anything nested deeper than this is refused (400).
MAX_JSON_DEPTH = 8


def _depth_ok(value: Any, limit: int) -> bool:
    """Whether ``value`` (parsed JSON) nests at most ``limit`` containers deep (iterative, no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            if d > limit:
                return False
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return True


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of an API request body.

    Raises:
        InputError: not UTF-8 JSON, nested deeper than :data:`MAX_JSON_DEPTH` (a deeply nested body
            would otherwise exhaust the parser's recursion: a 500), or not an object.
    """
    import json

    try:
        data = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise InputError(f"the request body is not valid JSON for this API (nested deeper than {MAX_JSON_DEPTH})") from None
    except (UnicodeDecodeError, ValueError):
        raise InputError("the request body is not valid JSON") from None
    if not _depth_ok(data, MAX_JSON_DEPTH):
        raise InputError(f"the request body is not valid JSON for this API (nested deeper than {MAX_JSON_DEPTH})")
    if not isinstance(data, dict):
        raise InputError("the request body must be a JSON object")
    return data


def _host_name(host_header: str) -> str:
    h = host_header.strip().lower()
    if h.startswith("["):
        return h[: h.find("]") + 1] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def create_app(study: Study) -> Flask:
    """The Flask application serving ``study``."""
    from flask import Flask, Response, jsonify, redirect, request, send_file
    from werkzeug.exceptions import HTTPException

    from .page import APP_CSS, APP_JS, index_html

    app = Flask("paradigm.annotate", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    loopback = is_loopback(study.config.host)
    page = index_html(study.config.title)

    def deny(msg: str) -> Response:
        return Response(msg + "\n", status=403, mimetype="text/plain")

    @app.before_request
    def _guard() -> Any:
        if loopback and _host_name(request.host) not in _LOOPBACK_NAMES:
            return deny("forbidden: unexpected Host header for a server bound to the loopback interface")
        if study.config.token:
            given = (request.args.get("token") or request.cookies.get(study.cookie_name)
                     or request.headers.get("X-Paradigm-Token"))
            if not study.check_token(given):
                return deny("forbidden: this study needs its access token (open the link printed by "
                            "`paradigm annotate`, which ends in ?token=...)")
            if "token" in request.args and request.method == "GET" and request.path == "/":
                resp = redirect("./", code=303)
                resp.set_cookie(study.cookie_name, study.config.token, httponly=True, samesite="Strict", path="/")
                return resp
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if not request.path.startswith("/img/"):
            resp.headers["Cache-Control"] = "no-store"
        if study.config.token and "token" in request.args and resp.status_code < 400:
            resp.set_cookie(study.cookie_name, study.config.token, httponly=True, samesite="Strict", path="/")
        return resp

    def body() -> dict[str, Any]:
        if not request.is_json:
            raise InputError("send a JSON object with Content-Type: application/json")
        return parse_body(request.get_data(cache=False))

    @app.errorhandler(InputError)
    def _bad(exc: InputError) -> Any:
        return jsonify(error=str(exc)), 400

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        return jsonify(error=exc.description or exc.name), exc.code or 500

    @app.get("/")
    def index() -> Any:
        return Response(page, mimetype="text/html")

    @app.get("/favicon.ico")
    def favicon() -> Any:
        return Response(status=204)

    @app.get("/app.js")
    def app_js() -> Any:
        return Response(APP_JS, mimetype="text/javascript")

    @app.get("/app.css")
    def app_css() -> Any:
        return Response(APP_CSS, mimetype="text/css")

    @app.post("/api/next")
    def api_next() -> Any:
        return jsonify(study.next(str(body().get("rater", ""))))

    @app.post("/api/answer")
    def api_answer() -> Any:
        d = body()
        return jsonify(study.answer(str(d.get("rater", "")), str(d.get("trial_id", "")),
                                    str(d.get("choice", "")), d.get("time_ms")))

    @app.get("/img/<image_id>")
    def image(image_id: str) -> Any:
        found = study.image_file(image_id)
        if found is None:
            return jsonify(error="no such image"), 404
        path, mime = found
        return send_file(path, mimetype=mime, conditional=True, max_age=3600, etag=True)

    return app


def make_server(study: Study, host: str = "127.0.0.1", port: int = 8765) -> BaseWSGIServer:
    """A threaded WSGI server for ``study`` (``port=0`` picks a free port: see ``server.server_port``).

    Raises:
        InputError: when the address cannot be bound.
    """
    from werkzeug.serving import make_server as _make

    try:
        return _make(host, port, create_app(study), threaded=True)
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc}; pick another --port (0 = any free port)") from exc


def study_url(study: Study, host: str, port: int) -> str:
    """The URL to open (with ``?token=`` when the study has a token)."""
    h = host if host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    if ":" in h and not h.startswith("["):
        h = f"[{h}]"
    url = f"http://{h}:{port}/"
    if study.config.token:
        from urllib.parse import quote

        url += "?token=" + quote(study.config.token, safe="")
    return url


def new_token() -> str:
    """A random access token (URL-safe)."""
    return secrets.token_urlsafe(18)
