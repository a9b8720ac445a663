"""Find, verify, download and load pretrained files named in the weights table.

Search order of :func:`resolve`:

1. an explicit ``path`` argument (a file, or a folder holding the entry's file name);
2. ``$PARADIGM_WEIGHTS_DIR/<filename>``;
3. a pip package that ships the file (``bundled`` entries, e.g. the LPIPS heads);
4. the cache dir: ``$PARADIGM_CACHE_DIR`` or ``~/.cache/paradigm/weights``;
5. a download into the cache dir (:mod:`paradigm.weights.download`: atomic, verified), unless
   ``PARADIGM_OFFLINE=1``. A failed connection is treated like offline.

Every file is sha256-verified before it is returned; the digest is cached in-process by
``(path, size, mtime)`` so a big file is hashed once. *Pinned* entries (a full sha256 in the table)
are checked against it. Entries without one follow the *declared-hash rule*: a download must match
the content hash the server declares, and the digest is recorded on first use in the lock file beside
the cache (:mod:`paradigm.weights.lock`); a file the user supplies for them (explicit path,
``$PARADIGM_WEIGHTS_DIR`` or ``paradigm weights import``) is accepted and recorded the same way.
Later uses are checked against the record.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..errors import WeightsHashError, WeightsNotFoundError
from . import lock
from .download import _truthy
from .table import all_entries, get_entry, verification

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


# ----------------------------------------------------------------------------------------- places
def is_offline() -> bool:
    """True when ``PARADIGM_OFFLINE`` is set to 1/true/yes/on."""
    return _truthy(os.environ.get("PARADIGM_OFFLINE"))


def weights_dir() -> Path | None:
    """``$PARADIGM_WEIGHTS_DIR`` as a path, or None when unset."""
    value = os.environ.get("PARADIGM_WEIGHTS_DIR")
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """The download cache: ``$PARADIGM_CACHE_DIR`` or ``~/.cache/paradigm/weights`` (not created)."""
    value = os.environ.get("PARADIGM_CACHE_DIR")
    if value:
        return Path(value).expanduser()
    return Path.home() / ".cache" / "paradigm" / "weights"


def _package_dirs(pkg: str) -> list[Path]:
    """The folders of the (namespace) package ``pkg``; for ``paradigm._data`` also the repository's
    ``data/`` folder (some editable installs cannot import the mapped package)."""
    dirs: list[Path] = []
    try:
        spec = importlib.util.find_spec(pkg)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        dirs = [Path(loc) for loc in spec.submodule_search_locations]
    if pkg == "paradigm._data":
        dirs.append(Path(__file__).resolve().parents[2] / "data")
    return dirs


def package_file(pkg: str, relative: str) -> Path | None:
    """``relative`` inside the installed package ``pkg``, or None when absent."""
    for folder in _package_dirs(pkg):
        cand = folder / relative
        if cand.is_file():
            return cand
    return None


def bundled_path(entry: dict[str, Any]) -> Path | None:
    """The file inside the pip package an entry says ships it, or None (package absent)."""
    pkg = entry.get("bundled")
    return package_file(pkg, entry.get("package_path", entry["filename"])) if pkg else None


def licence_path(entry: dict[str, Any]) -> Path | None:
    """The licence text shipped beside a bundled file (``licence_file``), or None."""
    pkg, rel = entry.get("bundled"), entry.get("licence_file")
    return package_file(pkg, rel) if pkg and rel else None


# ----------------------------------------------------------------------------------------- hashing
def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, cached in-process by (resolved path, size, mtime)."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        if key in _hash_cache:
            return _hash_cache[key]
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    digest = h.hexdigest()
    with _hash_lock:
        _hash_cache[key] = digest
    return digest


def clear_hash_cache() -> None:
    """Forget cached digests (tests)."""
    with _hash_lock:
        _hash_cache.clear()


def _lock_folders(path: Path | None = None) -> list[Path]:
    """Folders whose lock files may record a digest: the file's own folder, the cache, the weights dir."""
    folders = [path.parent] if path is not None else []
    folders.append(cache_dir())
    wdir = weights_dir()
    if wdir is not None:
        folders.append(wdir)
    return folders


def recorded_hash(entry: dict[str, Any], path: Path | None = None) -> str | None:
    """The digest recorded for ``entry``'s file in a lock file (see :mod:`paradigm.weights.lock`)."""
    rec = lock.recorded(entry["filename"], _lock_folders(path))
    return rec[0] if rec else None


def _record(name: str, entry: dict[str, Any], digest: str, origin: str, folder: Path | None = None) -> None:
    lock.record(folder or cache_dir(), entry["filename"], name, digest, origin=origin)


def check_file(name: str, entry: dict[str, Any], path: Path) -> str:
    """Verify ``path`` against ``entry``; returns the verification state.

    Returns:
        ``"verified"`` (full sha256 matched), ``"prefix-verified"`` (only a digest prefix is known and
        it matched), ``"recorded"`` (matched the digest recorded in a lock file on first use) or
        ``"unverified"`` (nothing to compare with).

    Raises:
        WeightsHashError: the digest does not match; the message names both digests.
    """
    digest = sha256_file(path)
    want = entry.get("sha256")
    if want:
        if digest != want:
            raise WeightsHashError(_hash_message(name, entry, path, want, digest))
        return "verified"
    prefix = entry.get("sha256_prefix")
    if prefix and not digest.startswith(prefix):
        raise WeightsHashError(_hash_message(name, entry, path, f"{prefix}… (prefix)", digest))
    recorded = recorded_hash(entry, path)
    if recorded:
        if digest != recorded:
            raise WeightsHashError(
                _hash_message(name, entry, path, f"{recorded} (recorded in {lock.LOCK_NAME} on first use)", digest)
            )
        return "recorded"
    return "prefix-verified" if prefix else "unverified"


def _hash_message(name: str, entry: dict[str, Any], path: Path, want: str, got: str) -> str:
    return (
        f"weights {name!r}: file {path} has sha256 {got}, but the weights table expects {want}. "
        f"The file is corrupt, truncated or a different version: delete it and download "
        f"{entry['filename']} again from {', '.join(entry['urls']) or '(no URL known)'}, "
        f"or pass the right file explicitly."
    )


# ----------------------------------------------------------------------------------------- errors
def not_found_message(name: str, entry: dict[str, Any], reason: str) -> str:
    """The actionable message of :class:`WeightsNotFoundError` for ``name``."""
    wdir = weights_dir()
    sha = entry.get("sha256") or (
        f"unknown (prefix {entry['sha256_prefix']})" if entry.get("sha256_prefix") else "unknown"
    )
    size = f", {entry['size']} bytes" if entry.get("size") else ""
    urls = "\n".join(f"    {u}" for u in entry["urls"]) or "    (no public URL known)"
    where = (
        f"$PARADIGM_WEIGHTS_DIR ({wdir})" if wdir else "$PARADIGM_WEIGHTS_DIR (unset: set it to a folder)"
    )
    return (
        f"weights {name!r} are not available: {reason}.\n"
        f"  file:   {entry['filename']} (sha256 {sha}{size})\n"
        f"  source: {entry.get('source', '')}\n"
        f"  download it from:\n{urls}\n"
        f"  and put it in {where} or in the cache dir {cache_dir()}, named {entry['filename']},\n"
        f"  or run `paradigm weights import FILE --name {name}`."
    )


# ----------------------------------------------------------------------------------------- download
def _download(name: str, entry: dict[str, Any], dest_dir: Path | None = None, show_progress: bool | None = None) -> Path:
    """Download into ``dest_dir`` (default: the cache dir) and verify; WeightsNotFoundError when it cannot."""
    from .download import WeightsDownloadError, download_to

    if is_offline():
        raise WeightsNotFoundError(not_found_message(name, entry, "not found locally and PARADIGM_OFFLINE=1"))
    if not entry["urls"]:
        raise WeightsNotFoundError(not_found_message(name, entry, "not found locally and no URL is known"))
    folder = dest_dir if dest_dir is not None else cache_dir()
    try:
        return download_to(name, entry, folder, show_progress=show_progress)
    except WeightsDownloadError as exc:
        raise WeightsNotFoundError(not_found_message(name, entry, f"the download failed: {exc}")) from exc
    except OSError as exc:  # the destination cannot be created or written
        raise WeightsNotFoundError(
            not_found_message(name, entry, f"the folder {folder} cannot be written ({exc})")
        ) from exc


# ----------------------------------------------------------------------------------------- resolve
def _verified_alternate(entry: dict[str, Any], folder: Path) -> Path | None:
    """A file in ``folder`` (or one sub-folder down) that is the entry by its full sha256.

    Candidates are the entry's ``filename`` and its ``alt_filenames`` (e.g. DISTS ships its heads as
    ``weights.pt``). Only entries with a full sha256 qualify, and a candidate whose digest differs is
    skipped, not an error: other files may legitimately share a generic name.
    """
    want = entry.get("sha256")
    if not want:
        return None
    names = [entry["filename"], *entry.get("alt_filenames", [])]
    candidates: list[Path] = []
    for fn in names:
        candidates.append(folder / fn)
        try:
            candidates.extend(sorted(folder.glob(f"*/{fn}")))
        except OSError:  # unreadable folder
            continue
    for cand in candidates:
        try:
            if cand.is_file() and sha256_file(cand) == want:
                return cand
        except OSError:
            continue
    return None


def find_local(name: str, path: str | os.PathLike[str] | None = None) -> tuple[Path, str] | None:
    """The first local candidate for ``name`` and where it was found, without verifying it.

    An explicit folder or ``$PARADIGM_WEIGHTS_DIR`` is searched for the table's file name; failing
    that, for a file one folder down or under an alternative name that matches the full sha256 (so
    ``PARADIGM_WEIGHTS_DIR`` may point at a tree such as ``shared/weights/{niqe,brisque,dists}``).

    Returns:
        ``(path, place)`` with place in ``explicit``, ``weights-dir``, ``package``, ``cache``; None.

    Raises:
        WeightsNotFoundError: an explicit ``path`` that does not exist.
    """
    entry = get_entry(name)
    if path is not None:
        p = Path(path).expanduser()
        if p.is_dir():
            alt = None if (p / entry["filename"]).is_file() else _verified_alternate(entry, p)
            p = alt if alt is not None else p / entry["filename"]
        if not p.is_file():
            raise WeightsNotFoundError(not_found_message(name, entry, f"the given path {p} does not exist"))
        return p, "explicit"
    wdir = weights_dir()
    if wdir is not None:
        if (wdir / entry["filename"]).is_file():
            return wdir / entry["filename"], "weights-dir"
        if wdir.is_dir():
            alt = _verified_alternate(entry, wdir)
            if alt is not None:
                return alt, "weights-dir"
    bundled = bundled_path(entry)
    if bundled is not None:
        return bundled, "package"
    cached = cache_dir() / entry["filename"]
    if cached.is_file():
        return cached, "cache"
    return None


def resolve(name: str, path: str | os.PathLike[str] | None = None) -> Path:
    """The verified local path of the weights file ``name``, downloading it if needed and allowed.

    Args:
        name: an entry of the weights table (``paradigm weights list``).
        path: an explicit file (or a folder containing the entry's file name) that overrides the
            search; it is verified like any other.

    Returns:
        Absolute path of a file whose sha256 matches the table.

    Raises:
        WeightsNotFoundError: absent and not downloadable (offline, no network, unknown hash); the
            message names the file, its sha256, its URLs and the folders to put it in.
        WeightsHashError: a file was found but its digest differs; the message names both.
        WeightsError: ``name`` is not in the table.
    """
    entry = get_entry(name)
    found = find_local(name, path)
    if found is None:
        p = _download(name, entry)
        check_file(name, entry, p)
        return p.resolve()
    p, place = found
    state = check_file(name, entry, p)
    if state in ("unverified", "prefix-verified") and place != "package":
        # user-supplied (or an old cache file): remember its digest so later corruption is caught
        log.warning("weights %r: %s has no pinned sha256; accepting it and recording its digest", name, p)
        _record(name, entry, sha256_file(p), "user-file" if place != "cache" else "cache-file")
    return p.resolve()


def status(name: str, verify: bool = True) -> dict[str, Any]:
    """Where ``name`` is and whether it verifies, for ``paradigm weights list``.

    Returns:
        dict with ``name, filename, size, licence, licence_file, state, where, path, sha256,
        sha256_source, verification, recorded_sha256`` where ``state`` is ``verified``,
        ``prefix-verified``, ``recorded``, ``unverified``, ``present`` (not hashed: ``verify=False``),
        ``missing`` or ``hash-mismatch``, and ``verification`` is ``pinned`` or ``declared-hash``.
    """
    entry = get_entry(name)
    lic = licence_path(entry)
    out: dict[str, Any] = {
        "name": name,
        "filename": entry["filename"],
        "size": entry.get("size"),
        "licence": entry.get("licence"),
        "licence_file": str(lic) if lic else None,
        "sha256": entry.get("sha256"),
        "sha256_source": entry.get("sha256_source"),
        "sha256_prefix": entry.get("sha256_prefix"),
        "verification": verification(entry),
        "recorded_sha256": None if entry.get("sha256") else recorded_hash(entry),
        "urls": list(entry["urls"]),
        "state": "missing",
        "where": "",
        "path": None,
    }
    found = find_local(name)
    if found is None:
        return out
    p, place = found
    out.update(where=place, path=str(p))
    if not verify:
        out["state"] = "present"
        return out
    try:
        out["state"] = check_file(name, entry, p)
    except WeightsHashError:
        out["state"] = "hash-mismatch"
    return out


def identify(path: str | os.PathLike[str]) -> list[str]:
    """Names of table entries whose full sha256 (or digest prefix) matches the file."""
    digest = sha256_file(path)
    hits = [n for n, e in all_entries().items() if e.get("sha256") == digest]
    if hits:
        return sorted(hits)
    return sorted(
        n
        for n, e in all_entries().items()
        if not e.get("sha256") and e.get("sha256_prefix") and digest.startswith(e["sha256_prefix"])
    )


def import_file(src: str | os.PathLike[str], name: str | None = None) -> tuple[str, Path]:
    """Copy a user-supplied file into the cache dir under its table file name, after verifying it.

    Args:
        src: the file.
        name: the table entry; when None it is identified by sha256.

    Returns:
        ``(name, destination path)``.

    Raises:
        WeightsNotFoundError: ``src`` does not exist.
        WeightsHashError: the digest contradicts the entry.
        WeightsError: no entry matches (pass ``--name``) or the name is unknown.
    """
    from ..errors import WeightsError

    p = Path(src).expanduser()
    if not p.is_file():
        raise WeightsNotFoundError(f"cannot import {p}: no such file")
    if name is None:
        hits = identify(p)
        if not hits:
            raise WeightsError(
                f"{p} (sha256 {sha256_file(p)}) matches no entry of the weights table by hash; "
                "name it explicitly with `paradigm weights import FILE --name NAME`"
            )
        name = hits[0]
    entry = get_entry(name)
    digest = sha256_file(p)
    want = entry.get("sha256")
    prefix = entry.get("sha256_prefix")
    if (want and digest != want) or (not want and prefix and not digest.startswith(prefix)):
        raise WeightsHashError(_hash_message(name, entry, p, want or f"{prefix}… (prefix)", digest))
    dest_dir = cache_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / entry["filename"]
    if not (dest.exists() and dest.resolve() == p.resolve()):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{entry['filename']}.", suffix=".part", dir=dest_dir)
        os.close(fd)
        try:
            shutil.copyfile(p, tmp_name)
            os.replace(tmp_name, dest)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
    if not want:
        _record(name, entry, digest, "import")
    return name, dest


# ----------------------------------------------------------------------------------------- loading
def load_state_dict(name: str, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Resolve ``name`` and load it safely onto the CPU (never unpickling arbitrary objects).

    ``torch`` files load with ``torch.load(weights_only=True)``, ``safetensors`` with
    ``safetensors.torch.load_file``, ``npz`` with ``numpy.load(allow_pickle=False)`` (arrays).

    Returns:
        name -> tensor (or array for npz).

    Raises:
        WeightsError: a ``text`` entry (use :func:`resolve`) or an unreadable file.
    """
    from ..errors import WeightsError

    entry = get_entry(name)
    p = resolve(name, path)
    fmt = entry["format"]
    try:
        if fmt == "torch":
            import torch

            obj = torch.load(p, map_location="cpu", weights_only=True)
            if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
                obj = obj["state_dict"]
            if not isinstance(obj, dict):
                raise WeightsError(f"weights {name!r} in {p} are not a state dict ({type(obj).__name__})")
            return dict(obj)
        if fmt == "safetensors":
            from safetensors.torch import load_file

            return dict(load_file(str(p), device="cpu"))
        if fmt == "npz":
            import numpy as np

            with np.load(p, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
    except WeightsError:
        raise
    except Exception as exc:  # corrupt or foreign file
        raise WeightsError(f"cannot load weights {name!r} from {p}: {exc}") from exc
    raise WeightsError(f"weights {name!r} are a {fmt!r} file; use paradigm.weights.resolve() to get its path")
