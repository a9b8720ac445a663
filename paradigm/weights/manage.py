"""Prepare and check weights folders: what a metric set needs, fetch it, re-hash what is present.

``paradigm weights fetch`` and ``paradigm weights verify`` are thin wrappers over these functions.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, WeightsError, WeightsHashError
from .resolver import _download, cache_dir, check_file, find_local, recorded_hash, sha256_file
from .table import get_entry, names, verification


def names_for_metrics(metrics: Iterable[str]) -> list[str]:
    """Weights-table names the given metrics need (their declared ``weights``), in order, unique.

    ``default`` stands for paradigm's default metric set (``paradigm.engine.DEFAULT_METRICS``).

    Raises:
        UnknownMetricError: a metric name is not registered.
    """
    from ..metrics.registry import get_metric_class

    wanted: list[str] = []
    for m in metrics:
        if m.strip().lower() == "default":
            from ..engine import DEFAULT_METRICS

            wanted.extend(DEFAULT_METRICS)
        elif m.strip():
            wanted.append(m.strip())
    out: list[str] = []
    for m in wanted:
        for w in get_metric_class(m).weights:
            if w not in out:
                out.append(w)
    return out


def select(requested: Iterable[str], all_: bool, metrics: Iterable[str]) -> list[str]:
    """The entry names ``weights fetch`` works on: ``--all``, named entries and ``--metrics``' weights;
    with none of them, what the default metric set needs.

    Raises:
        WeightsError: an unknown entry name (with suggestions).
    """
    if all_:
        return names()
    chosen: list[str] = []
    for n in requested:
        get_entry(n)  # raises WeightsError (with suggestions) on an unknown name
        if n not in chosen:
            chosen.append(n)
    for n in names_for_metrics(metrics):
        if n not in chosen:
            chosen.append(n)
    return chosen or names_for_metrics(["default"])


@dataclass
class FetchResult:
    """One entry's outcome of :func:`fetch_one`: ``state`` in present/copied/downloaded/failed."""

    name: str
    state: str
    path: str | None = None
    message: str = ""


def fetch_one(name: str, dest: Path | None = None, show_progress: bool | None = None) -> FetchResult:
    """Make ``name`` present (and verified) in ``dest`` (default: the cache dir), downloading if needed.

    A file already in ``dest``, or found by the resolver's usual search when ``dest`` is the cache,
    is verified instead of downloaded. Files shipped inside paradigm or another package are
    reported as present and are not copied.
    """
    entry = get_entry(name)
    folder = dest if dest is not None else cache_dir()
    try:
        target = folder / entry["filename"]
        if target.is_file():
            check_file(name, entry, target)
            return FetchResult(name, "present", str(target), "already in the folder")
        local = find_local(name)
        if local is not None:
            check_file(name, entry, local[0])
            if dest is None or local[1] == "package":
                return FetchResult(name, "present", str(local[0]), local[1])
            _copy_into(name, entry, local[0], folder)
            return FetchResult(name, "copied", str(target), f"from {local[0]}")
        p = _download(name, entry, folder, show_progress=show_progress)
        check_file(name, entry, p)
        return FetchResult(name, "downloaded", str(p), verification(entry))
    except (WeightsError, OSError) as exc:
        return FetchResult(name, "failed", None, str(exc))


def _copy_into(name: str, entry: dict[str, Any], src: Path, folder: Path) -> None:
    """Copy a verified local file into ``folder`` atomically, carrying its lock record along."""
    import shutil
    import tempfile

    from . import lock

    fd, tmp = tempfile.mkstemp(prefix=f".{entry['filename']}.", suffix=".part", dir=folder)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, folder / entry["filename"])
    finally:
        Path(tmp).unlink(missing_ok=True)
    if not entry.get("sha256"):
        lock.record(folder, entry["filename"], name, sha256_file(src), origin="copied", url=str(src))


@dataclass
class VerifyResult:
    """One entry's outcome of :func:`verify_one`: ``state`` in ok/mismatch/missing/unchecked."""

    name: str
    state: str
    path: str | None
    expected: str | None
    actual: str | None
    how: str


def verify_one(name: str, folder: Path | None = None) -> VerifyResult:
    """Re-hash ``name``'s file (in ``folder``, or wherever the resolver finds it) against the table
    or its lock-file record. ``unchecked``: present, but nothing to compare with."""
    from .resolver import clear_hash_cache

    entry = get_entry(name)
    if folder is not None:
        cand = folder / entry["filename"]
        found = (cand, "folder") if cand.is_file() else None
    else:
        found = find_local(name)
    if found is None:
        return VerifyResult(name, "missing", None, entry.get("sha256") or recorded_hash(entry), None,
                            verification(entry))
    path = found[0]
    clear_hash_cache()  # re-hash from disk, never from the in-process cache
    actual = sha256_file(path)
    expected = entry.get("sha256") or recorded_hash(entry, path)
    how = "pinned" if entry.get("sha256") else ("recorded" if expected else "declared-hash")
    try:
        state = check_file(name, entry, path)
    except WeightsHashError:
        return VerifyResult(name, "mismatch", str(path), expected, actual, how)
    return VerifyResult(name, "ok" if state != "unverified" else "unchecked", str(path), expected, actual, how)


def parse_metrics(value: str | None) -> list[str]:
    """``a,b`` -> ``["a", "b"]`` (empty for None)."""
    return [m for m in (value or "").split(",") if m.strip()]


def dest_folder(value: str | os.PathLike[str] | None) -> Path | None:
    """The ``--dest`` folder as a path (created), or None.

    Raises:
        InputError: it exists and is not a folder.
    """
    if value is None:
        return None
    p = Path(value).expanduser()
    if p.exists() and not p.is_dir():
        raise InputError(f"--dest {p} exists and is not a folder")
    p.mkdir(parents=True, exist_ok=True)
    return p


def as_rows(results: Iterable[Any]) -> list[dict[str, Any]]:
    """Dataclass results as plain dicts (``--json``)."""
    return [dict(r.__dict__) for r in results]
