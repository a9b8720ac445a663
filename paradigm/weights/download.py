"""Download one weights file over HTTP(S), verify it, and move it into place atomically.

Verification rules (``paradigm weights list`` shows which one each entry follows):

* **pinned**: the table holds the file's full sha256 (with its public source). The download must
  hash to it.
* **declared-hash**: no digest could be established from a public source. The download must hash to
  the content hash the server declares for it - the Hugging Face hub's ``X-Linked-Etag`` (the
  LFS object's sha256, sent on the ``resolve`` redirect) or an ``ETag`` that is itself a sha256 - and
  that digest is then recorded in the lock file beside the file (:mod:`paradigm.weights.lock`):
  trust on first use, recorded. A later download or use whose digest differs from the record is
  refused. A server that declares no sha256 is refused too, unless ``PARADIGM_ALLOW_UNVERIFIED=1``
  (then the digest of what arrived is recorded, with origin ``unverified``).

In both cases a response shorter or longer than its ``Content-Length`` is refused, the bytes go to a
temporary file in the destination folder, and only a verified file is renamed into place: a failed or
refused download leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import WeightsError, WeightsHashError
from . import lock

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_SHA256 = re.compile(r'^(?:W/)?"?([0-9a-fA-F]{64})"?$')
#: headers whose value, when it is a bare sha256, is the server's declared content hash (in order)
DECLARING_HEADERS = ("X-Linked-Etag", "ETag")


class WeightsDownloadError(WeightsError):
    """A download arrived incomplete or could not be checked; nothing was kept."""


@dataclass
class Fetched:
    """A downloaded temporary file and what the server said about it."""

    path: Path
    sha256: str
    size: int
    declared: dict[str, str] = field(default_factory=dict)  # {header: sha256} of the declaration, if any
    url: str = ""


def declared_sha256(headers: Any) -> dict[str, str]:
    """``{header: sha256}`` for each of :data:`DECLARING_HEADERS` whose value is a bare sha256."""
    out: dict[str, str] = {}
    for h in DECLARING_HEADERS:
        value = headers.get(h) if headers is not None else None
        m = _SHA256.match(str(value).strip()) if value else None
        if m:
            out[h] = m.group(1).lower()
    return out


class _RecordingRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects like urllib does, keeping the first ``X-Linked-Etag`` sha256 a redirect sent
    (the hub sends it on the ``resolve`` redirect, not on the CDN response)."""

    def __init__(self) -> None:
        self.linked: str | None = None

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if self.linked is None:
            self.linked = declared_sha256(headers).get("X-Linked-Etag")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _declaration(linked: str | None, final_headers: Any) -> dict[str, str]:
    """The one declaration a download is checked against: an ``X-Linked-Etag`` (a redirect's first,
    else the final response's), else the final response's ``ETag`` when it is a sha256. An ETag on a
    redirect is ignored (CDNs and other hash schemes use 64-hex ETags that are not a sha256)."""
    if linked:
        return {"X-Linked-Etag": linked}
    final = declared_sha256(final_headers)
    for h in DECLARING_HEADERS:
        if h in final:
            return {h: final[h]}
    return {}


def _progress(total: int | None, desc: str, show: bool | None) -> Any:
    """A tqdm bar on stderr when it is a terminal (or ``show``), else a no-op."""
    from tqdm.auto import tqdm

    if show is None:
        show = sys.stderr.isatty()
    return tqdm(total=total, unit="B", unit_scale=True, desc=desc, leave=False, disable=not show, file=sys.stderr)


def _stream(resp: Any, out: IO[bytes], bar: Any) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    for chunk in iter(lambda: resp.read(_CHUNK), b""):
        out.write(chunk)
        h.update(chunk)
        n += len(chunk)
        bar.update(len(chunk))
    return h.hexdigest(), n


def fetch(url: str, dest_dir: Path, filename: str, *, show_progress: bool | None = None) -> Fetched:
    """Stream ``url`` into a temporary file in ``dest_dir``, hashing it on the way.

    Raises:
        WeightsDownloadError: the body is shorter or longer than the declared ``Content-Length``.
        urllib.error.URLError, http.client.HTTPException, OSError: the transfer failed.
    """
    timeout = float(os.environ.get("PARADIGM_DOWNLOAD_TIMEOUT", "30"))
    redirects = _RecordingRedirects()
    opener = urllib.request.build_opener(redirects)
    req = urllib.request.Request(url, headers={"User-Agent": "paradigm-iqa"})
    fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with opener.open(req, timeout=timeout) as resp, os.fdopen(fd, "wb") as out:
            length = resp.headers.get("Content-Length")
            want = int(length) if length and length.isdigit() else None
            with _progress(want, filename, show_progress) as bar:
                digest, n = _stream(resp, out, bar)
            declared = _declaration(redirects.linked, resp.headers)
        if want is not None and n != want:
            raise WeightsDownloadError(
                f"download of {filename} from {url} is incomplete: received {n} bytes, the server announced "
                f"{want} (connection closed early?); nothing was kept - try again"
            )
    except http.client.IncompleteRead as exc:
        tmp.unlink(missing_ok=True)
        raise WeightsDownloadError(
            f"download of {filename} from {url} is incomplete: received {len(exc.partial)} bytes, "
            f"{exc.expected} more were announced (connection closed early); nothing was kept - try again"
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Fetched(tmp, digest, n, declared, url)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def allow_unverified() -> bool:
    """True when ``PARADIGM_ALLOW_UNVERIFIED`` permits downloading files with unknown sha256."""
    return _truthy(os.environ.get("PARADIGM_ALLOW_UNVERIFIED"))


def check_download(name: str, entry: dict[str, Any], got: Fetched, recorded: str | None) -> tuple[str, str | None]:
    """Decide whether a fetched file may be kept; returns ``(origin, declaring header)``.

    ``origin`` is ``pinned``, ``declared-hash``, ``recorded`` (matched an earlier record) or
    ``unverified`` (``PARADIGM_ALLOW_UNVERIFIED=1`` and no declared hash).

    Raises:
        WeightsHashError: the digest contradicts the table, the server's declaration or the record.
        WeightsDownloadError: nothing to check against and unverified downloads are not allowed.
    """
    where = f"{entry['filename']} downloaded from {got.url}"
    want = entry.get("sha256")
    if want:
        if got.sha256 != want:
            raise WeightsHashError(_mismatch(name, where, got.sha256, f"{want} (the weights table's pinned sha256)"))
        return "pinned", None
    prefix = entry.get("sha256_prefix")
    if prefix and not got.sha256.startswith(prefix):
        raise WeightsHashError(_mismatch(name, where, got.sha256, f"{prefix}… (the table's digest prefix)"))
    for header, sha in got.declared.items():
        if got.sha256 != sha:
            raise WeightsHashError(_mismatch(name, where, got.sha256, f"{sha} (declared by the server's {header})"))
    if recorded:
        if got.sha256 != recorded:
            raise WeightsHashError(
                _mismatch(name, where, got.sha256, f"{recorded} (recorded in the weights lock file on first use)")
                + " The file changed upstream since it was first recorded; delete its record from "
                f"{lock.LOCK_NAME} only if you trust the new version."
            )
        return "recorded", next(iter(got.declared), None)
    if got.declared:
        return "declared-hash", next(iter(got.declared))
    if allow_unverified():
        return "unverified", None
    raise WeightsDownloadError(
        f"weights {name!r}: {where} has no sha256 in the weights table and the server declared none "
        f"(no {' or '.join(DECLARING_HEADERS)} holding a sha256), so it cannot be verified; nothing was kept. "
        "Supply the file yourself (`paradigm weights import FILE --name "
        f"{name}`) or set PARADIGM_ALLOW_UNVERIFIED=1 to accept and record it anyway."
    )


def _mismatch(name: str, where: str, got: str, want: str) -> str:
    return (
        f"weights {name!r}: {where} has sha256 {got}, but expected {want}. "
        "The download is corrupt, truncated or tampered with, or upstream changed the file; it was "
        "refused and nothing was kept."
    )


def download_to(name: str, entry: dict[str, Any], dest_dir: Path, *, show_progress: bool | None = None) -> Path:
    """Download ``entry`` into ``dest_dir`` (tried URL by URL), verify, rename into place, record.

    Raises:
        WeightsHashError: a URL served a file whose digest contradicts the table / declaration / record.
        WeightsDownloadError: every URL failed or served an incomplete/uncheckable file (message lists each).
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / entry["filename"]
    rec = None if entry.get("sha256") else lock.recorded(entry["filename"], [dest_dir])
    errors: list[str] = []
    for url in entry["urls"]:
        try:
            got = fetch(url, dest_dir, entry["filename"], show_progress=show_progress)
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError, WeightsDownloadError) as exc:
            errors.append(f"{url}: {exc}")
            log.info("download of %s from %s failed: %s", name, url, exc)
            continue
        try:
            origin, header = check_download(name, entry, got, rec[0] if rec else None)
        except WeightsDownloadError as exc:  # nothing to check against here: another URL may declare a hash
            errors.append(f"{url}: {exc}")
            continue
        else:
            os.replace(got.path, dest)
        finally:
            got.path.unlink(missing_ok=True)
        if origin != "pinned":
            lock.record(dest_dir, entry["filename"], name, got.sha256, size=got.size, origin=origin,
                        declared_by=header, url=url)
            if origin == "unverified":
                log.warning("downloaded %s without any hash to check (recorded %s)", entry["filename"], got.sha256)
        return dest
    raise WeightsDownloadError("; ".join(errors) or "no URL is known")
