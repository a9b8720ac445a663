"""The weights lock file: digests recorded on first use, for entries the table cannot pin.

A table entry without a full sha256 is checked by the *declared-hash rule*
(:mod:`paradigm.weights.download`); the digest it was accepted with - or the digest of a file the user
supplied for it - is written to ``weights-lock.json`` in the folder that holds the file (the cache dir,
or the ``--dest`` folder of ``paradigm weights fetch``). Every later use compares the file against
that record and refuses a mismatch, so a file can change only by the user deleting its record.

The file is JSON, keyed by the entry's file name::

    {"schema": "paradigm.weights-lock/1",
     "files": {"x.pth": {"name": "x", "sha256": "…", "size": 123, "origin": "declared-hash",
                         "declared_by": "X-Linked-Etag", "url": "https://…", "recorded_at": "…"}}}
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCK_NAME = "weights-lock.json"
SCHEMA = "paradigm.weights-lock/1"
_write_lock = threading.Lock()


def lock_path(folder: str | os.PathLike[str]) -> Path:
    """The lock file of ``folder``."""
    return Path(folder) / LOCK_NAME


def read_lock(folder: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """File name -> record of the lock file in ``folder`` (empty when absent or unreadable)."""
    p = lock_path(folder)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable weights lock file %s: %s", p, exc)
        return {}
    files = raw.get("files") if isinstance(raw, dict) else None
    return {str(k): v for k, v in files.items() if isinstance(v, dict)} if isinstance(files, dict) else {}


def recorded(filename: str, folders: list[Path]) -> tuple[str, Path] | None:
    """``(sha256, lock file)`` of the first record of ``filename`` in ``folders``' lock files."""
    seen: set[Path] = set()
    for folder in folders:
        key = Path(folder).expanduser().resolve() if Path(folder).exists() else Path(folder)
        if key in seen:
            continue
        seen.add(key)
        rec = read_lock(folder).get(filename)
        sha = str(rec.get("sha256", "")).lower() if rec else ""
        if len(sha) == 64:
            return sha, lock_path(folder)
    return None


def record(folder: str | os.PathLike[str], filename: str, name: str, sha256: str, **info: Any) -> Path | None:
    """Write (or replace) the record of ``filename`` in ``folder``'s lock file, atomically.

    Returns:
        The lock file, or None when it could not be written (a read-only folder: the file is still
        usable, only the record is missing, and a warning says so).
    """
    p = lock_path(folder)
    with _write_lock:
        files = read_lock(folder)
        files[filename] = {
            "name": name,
            "sha256": sha256.lower(),
            **{k: v for k, v in info.items() if v is not None},
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        text = json.dumps({"schema": SCHEMA, "files": dict(sorted(files.items()))}, indent=2) + "\n"
        tmp: str | None = None
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{LOCK_NAME}.", suffix=".part", dir=p.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, p)
        except OSError as exc:
            log.warning("could not record the sha256 of %s in %s: %s", filename, p, exc)
            return None
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
    return p
