"""SQLite cache of metric values, so re-running ``paradigm score`` computes only what changed.

Default location ``RESULTS/.paradigm/cache.sqlite`` (``--cache PATH``, ``--no-cache``). WAL mode
with a busy timeout, so two processes can share it; every batch is one transaction, so a run
killed at any point leaves a cache the next run uses.

Tables:

- ``files(path, size, mtime_ns, sha256)``: file hashes, reused while a file's (size, mtime_ns) is
  unchanged, so a rerun does not even re-hash unchanged files.
- ``scores(out_sha, ref_sha, metric, metric_sig, policy, value)``: one metric's output columns
  (JSON object ``column -> value``) for one output file against one reference.
- ``geometry(out_sha, gt_sha, policy, height, width, resized)``: the evaluated size of a pair, so
  fully cached pairs are not decoded at all.

Key: ``out_sha`` = sha256 of the output file's bytes; ``ref_sha`` = sha256 of the reference file
(GT or input) — for no-reference metrics the GT's hash, because ``--resize to-gt`` makes the
evaluated output depend on the GT's size; for input-referenced metrics ``input_sha:gt_sha`` for the
same reason. ``metric_sig`` = the metric's :meth:`~paradigm.metrics.base.Metric.signature` (name,
version, non-default options, weights) as canonical JSON; ``policy`` = the preprocessing policy
string (resize, crop, colour rule).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scores (
    out_sha TEXT NOT NULL, ref_sha TEXT NOT NULL, metric TEXT NOT NULL, metric_sig TEXT NOT NULL,
    policy TEXT NOT NULL, value TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (out_sha, ref_sha, metric, metric_sig, policy)
);
CREATE TABLE IF NOT EXISTS geometry (
    out_sha TEXT NOT NULL, gt_sha TEXT NOT NULL, policy TEXT NOT NULL,
    height INTEGER NOT NULL, width INTEGER NOT NULL, resized INTEGER NOT NULL,
    PRIMARY KEY (out_sha, gt_sha, policy)
);
"""

ScoreKey = tuple[str, str, str, str, str]


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """sha256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def metric_sig(signature: dict[str, Any]) -> str:
    """Canonical JSON of a metric signature (the cache's ``metric_sig`` column)."""
    return json.dumps(signature, sort_keys=True, separators=(",", ":"), default=str)


class NullCache:
    """A cache that stores nothing (``--no-cache``); hashes files in memory only."""

    path: Path | None = None

    def __init__(self) -> None:
        self._hashes: dict[tuple[str, int, int], str] = {}
        self.hashed = 0

    def file_sha(self, path: str | os.PathLike[str]) -> str:
        """sha256 of a file, memoised by (path, size, mtime_ns)."""
        st = os.stat(path)
        key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
        if key not in self._hashes:
            self._hashes[key] = sha256_file(path)
            self.hashed += 1
        return self._hashes[key]

    def get_scores(self, keys: Sequence[ScoreKey]) -> dict[ScoreKey, dict[str, float]]:
        """Cached values for the given keys (missing keys absent)."""
        return {}

    def get_geometry(self, keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], tuple[int, int, bool]]:
        """Cached (height, width, resized) for (out_sha, gt_sha, policy) keys."""
        return {}

    def put(
        self,
        scores: Iterable[tuple[ScoreKey, dict[str, float]]],
        geometry: Iterable[tuple[tuple[str, str, str], tuple[int, int, bool]]] = (),
    ) -> None:
        """Store values (one transaction)."""

    def flush_files(self) -> None:
        """Persist file hashes computed so far."""

    def close(self) -> None:
        """Close the database."""


class ScoreCache(NullCache):
    """The SQLite cache (see the module docstring).

    Args:
        path: database file; its folder is created.
        timeout: seconds to wait for a lock held by another process.
    """

    def __init__(self, path: str | os.PathLike[str], timeout: float = 60.0) -> None:
        super().__init__()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
        self._con.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        try:
            self._con.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:  # e.g. a network file system
            log.debug("cannot enable WAL on %s: %s", self.path, exc)
        self._con.execute("PRAGMA synchronous = NORMAL")
        self._retry(lambda: self._con.executescript(_SCHEMA))
        self._retry(
            lambda: self._con.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
            )
        )
        self._pending_files: list[tuple[str, int, int, str]] = []

    def _retry(self, fn: Any, tries: int = 5) -> Any:
        for i in range(tries):
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or i == tries - 1:
                    raise
                time.sleep(0.2 * (i + 1))
        return None

    def file_sha(self, path: str | os.PathLike[str]) -> str:
        """sha256 of a file; reused from the ``files`` table while (size, mtime_ns) are unchanged."""
        rp = str(Path(path).resolve())
        st = os.stat(rp)
        key = (rp, st.st_size, st.st_mtime_ns)
        if key in self._hashes:
            return self._hashes[key]
        row = self._con.execute("SELECT size, mtime_ns, sha256 FROM files WHERE path = ?", (rp,)).fetchone()
        if row is not None and row[0] == st.st_size and row[1] == st.st_mtime_ns:
            sha = str(row[2])
        else:
            sha = sha256_file(rp)
            self.hashed += 1
            self._pending_files.append((rp, st.st_size, st.st_mtime_ns, sha))
            if len(self._pending_files) >= 256:
                self.flush_files()
        self._hashes[key] = sha
        return sha

    def flush_files(self) -> None:
        if not self._pending_files:
            return
        rows, self._pending_files = self._pending_files, []

        def _do() -> None:
            with self._con:
                self._con.execute("BEGIN IMMEDIATE")
                self._con.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", rows)

        self._retry(_do)

    def get_scores(self, keys: Sequence[ScoreKey]) -> dict[ScoreKey, dict[str, float]]:
        out: dict[ScoreKey, dict[str, float]] = {}
        q = (
            "SELECT value FROM scores WHERE out_sha = ? AND ref_sha = ? AND metric = ? "
            "AND metric_sig = ? AND policy = ?"
        )
        for k in keys:
            row = self._con.execute(q, k).fetchone()
            if row is not None:
                try:
                    out[k] = {c: float(v) for c, v in json.loads(row[0]).items()}
                except (ValueError, TypeError, AttributeError):
                    log.debug("ignoring unreadable cache value for %s", k)
        return out

    def get_geometry(self, keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], tuple[int, int, bool]]:
        out: dict[tuple[str, str, str], tuple[int, int, bool]] = {}
        q = "SELECT height, width, resized FROM geometry WHERE out_sha = ? AND gt_sha = ? AND policy = ?"
        for k in keys:
            row = self._con.execute(q, k).fetchone()
            if row is not None:
                out[k] = (int(row[0]), int(row[1]), bool(row[2]))
        return out

    def put(
        self,
        scores: Iterable[tuple[ScoreKey, dict[str, float]]],
        geometry: Iterable[tuple[tuple[str, str, str], tuple[int, int, bool]]] = (),
    ) -> None:
        now = time.time()
        srows = [(*k, json.dumps(v, sort_keys=True), now) for k, v in scores]
        grows = [(*k, h, w, int(r)) for k, (h, w, r) in geometry]
        frows, self._pending_files = self._pending_files, []

        def _do() -> None:
            with self._con:
                self._con.execute("BEGIN IMMEDIATE")
                if frows:
                    self._con.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", frows)
                if grows:
                    self._con.executemany("INSERT OR REPLACE INTO geometry VALUES (?, ?, ?, ?, ?, ?)", grows)
                if srows:
                    self._con.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?)", srows)

        self._retry(_do)

    def count_scores(self) -> int:
        """Number of stored metric values (for tests and diagnostics)."""
        return int(self._con.execute("SELECT COUNT(*) FROM scores").fetchone()[0])

    def close(self) -> None:
        try:
            self.flush_files()
        finally:
            self._con.close()


def open_cache(path: str | os.PathLike[str] | None) -> NullCache:
    """A :class:`ScoreCache` at ``path``, or a :class:`NullCache` when ``path`` is None.

    If the database cannot be opened (read-only folder, corrupt file), logs a warning and returns
    a :class:`NullCache` so scoring still works.
    """
    if path is None:
        return NullCache()
    try:
        return ScoreCache(path)
    except (OSError, sqlite3.Error) as exc:
        log.warning("cache %s unusable (%s); continuing without a cache", path, exc)
        return NullCache()
