"""SQLite cache of metric values, so re-running ``paradigm score`` computes only what changed.

Default location ``RESULTS/.paradigm/cache.sqlite`` (``--cache PATH``, ``--no-cache``). WAL mode
with a busy timeout, so two processes can share it; every batch is one transaction, so a run
killed at any point leaves a cache the next run uses.

Tables:

- ``files(path, size, mtime_ns, sha256)``: file hashes by (size, mtime_ns). They are **used only
  with** ``--trust-mtime`` (``trust_mtime=True``): by default every file is re-hashed on every run,
  so a file whose content changed while its size and modification time were kept (``cp -p``,
  ``rsync -t``, a restored backup) never gets a stale value. ``--trust-mtime`` skips re-hashing
  unchanged (path, size, mtime) files: use it only for trees nothing rewrites in place.
- ``scores(out_sha, ref_sha, metric, metric_sig, policy, value)``: one metric's output columns
  (JSON object ``column -> value``) for one output file against one reference.
- ``geometry(out_sha, gt_sha, policy, height, width, resized)``: the evaluated size of a pair, so
  fully cached pairs are not decoded at all.

Key: ``out_sha`` = sha256 of the output file's bytes; ``ref_sha`` = sha256 of the reference file
(GT or input) — for no-reference metrics the GT's hash, because ``--resize to-gt`` makes the
evaluated output depend on the GT's size; for input-referenced metrics ``input_sha:gt_sha`` for the
same reason. Keys are therefore content hashes: renaming or copying a file keeps its values, and
changing one byte invalidates them. ``metric_sig`` = the metric's :meth:`~paradigm.metrics.base.Metric.signature` (name,
version, non-default options, weights) as canonical JSON; ``policy`` = the preprocessing policy
string (resize, crop, colour rule).

Damaged databases: an unreadable cache file (truncated, garbage, or with damaged pages inside a
valid header, found at open or at any later query) is renamed aside to
``cache.sqlite.corrupt-<UTC timestamp>`` (with its ``-wal``/``-shm`` files), one warning is
logged, and the run continues with a fresh, empty cache at the original path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
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


def _sha_or_none(path: str) -> str | None:
    """:func:`sha256_file`, or None when the file cannot be read (the caller hashes it again, and fails there)."""
    try:
        return sha256_file(path)
    except OSError:
        return None


def metric_sig(signature: dict[str, Any]) -> str:
    """Canonical JSON of a metric signature (the cache's ``metric_sig`` column)."""
    return json.dumps(signature, sort_keys=True, separators=(",", ":"), default=str)


class NullCache:
    """A cache that stores nothing (``--no-cache``); hashes files in memory only (one run)."""

    path: Path | None = None
    trust_mtime = False

    def __init__(self) -> None:
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._ahead: dict[tuple[str, int, int], str] = {}
        self.hashed = 0
        self.quarantined: list[Path] = []

    def file_sha(self, path: str | os.PathLike[str]) -> str:
        """sha256 of a file, memoised by (path, size, mtime_ns)."""
        st = os.stat(path)
        key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
        if key not in self._hashes:
            self._hashes[key] = self._hash(key)
            self.hashed += 1
        return self._hashes[key]

    def _hash(self, key: tuple[str, int, int]) -> str:
        """The file's sha256: the one :meth:`hash_ahead` computed for this very (path, size, mtime), or now."""
        got = self._ahead.pop(key, None)
        return got if got is not None else sha256_file(key[0])

    def hash_ahead(self, paths: Iterable[str | os.PathLike[str]], workers: int) -> None:
        """Hash the files :meth:`file_sha` will hash, in ``workers`` threads (hashlib releases the GIL).

        Only a speed-up: :meth:`file_sha` still decides what it needs, re-checks (path, size,
        mtime) and hashes by itself whatever is missing here (an unreadable file included, so its
        error is raised where it was before). With ``trust_mtime`` nothing is hashed ahead (most
        hashes then come from the database).
        """
        if self.trust_mtime or workers < 2:
            return
        todo: dict[tuple[str, int, int], str] = {}
        for p in paths:
            try:
                st = os.stat(p)
                key = (str(Path(p).resolve()), st.st_size, st.st_mtime_ns)
            except OSError:
                continue
            if key not in self._hashes and key not in self._ahead:
                todo[key] = key[0]
        if len(todo) < 2:
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="paradigm-hash") as ex:
            for key, sha in zip(todo, ex.map(_sha_or_none, todo.values()), strict=True):
                if sha is not None:
                    self._ahead[key] = sha

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


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Whether an sqlite error means a damaged file (not a lock, a full disk or a read-only folder)."""
    if not isinstance(exc, sqlite3.OperationalError):
        return True  # DatabaseError proper: "database disk image is malformed", "file is not a database"
    msg = str(exc).lower()
    return "malformed" in msg or "not a database" in msg


class ScoreCache(NullCache):
    """The SQLite cache (see the module docstring).

    Args:
        path: database file; its folder is created.
        timeout: seconds to wait for a lock held by another process.
        trust_mtime: reuse a file's stored hash while its (path, size, mtime_ns) is unchanged instead
            of re-hashing its bytes (``--trust-mtime``; only for trees nothing rewrites in place).
    """

    def __init__(self, path: str | os.PathLike[str], timeout: float = 60.0, trust_mtime: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.timeout = timeout
        self.trust_mtime = bool(trust_mtime)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._pending_files: list[tuple[str, int, int, str]] = []
        self._con = self._connect(str(self.path))
        self._db(self._init_schema)

    def _connect(self, target: str) -> sqlite3.Connection:
        con = sqlite3.connect(target, timeout=self.timeout, isolation_level=None)
        con.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        return con

    def _init_schema(self) -> None:
        try:
            self._con.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:  # e.g. a network file system
            log.debug("cannot enable WAL on %s: %s", self.path, exc)
        self._con.execute("PRAGMA synchronous = NORMAL")
        self._con.executescript(_SCHEMA)
        self._con.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    def _retry(self, fn: Any, tries: int = 5) -> Any:
        for i in range(tries):
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or i == tries - 1:
                    raise
                time.sleep(0.2 * (i + 1))
        return None

    def _db(self, fn: Any) -> Any:
        """``fn()`` with lock retries; a damaged database is quarantined and ``fn`` retried on a fresh one."""
        try:
            return self._retry(fn)
        except sqlite3.DatabaseError as exc:
            if not _is_damage(exc):
                raise
            self._quarantine(exc)
        return self._retry(fn)

    def _quarantine(self, exc: Exception) -> None:
        """Rename the damaged file (and its -wal/-shm) aside and continue with a fresh database."""
        assert self.path is not None
        try:
            self._con.close()
        except sqlite3.Error:
            pass
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        dest = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        k = 1
        while dest.exists():
            dest = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{k}")
            k += 1
        try:
            os.replace(self.path, dest)
            for ext in ("-wal", "-shm", "-journal"):
                side = self.path.with_name(self.path.name + ext)
                if side.exists():
                    os.replace(side, dest.with_name(dest.name + ext))
            self.quarantined.append(dest)
            log.warning("cache %s is damaged (%s): moved it to %s; continuing with a fresh cache",
                        self.path, exc, dest.name)
            self._con = self._connect(str(self.path))
        except OSError as err:
            log.warning("cache %s is damaged (%s) and cannot be moved aside (%s); continuing without "
                        "a cache (delete the file)", self.path, exc, err)
            self._con = self._connect(":memory:")
        self._con.executescript(_SCHEMA)

    def file_sha(self, path: str | os.PathLike[str]) -> str:
        """sha256 of a file's bytes; with ``trust_mtime`` reused from the ``files`` table while
        (path, size, mtime_ns) is unchanged."""
        rp = str(Path(path).resolve())
        st = os.stat(rp)
        key = (rp, st.st_size, st.st_mtime_ns)
        if key in self._hashes:
            return self._hashes[key]
        row = None
        if self.trust_mtime:
            q = "SELECT size, mtime_ns, sha256 FROM files WHERE path = ?"
            row = self._db(lambda: self._con.execute(q, (rp,)).fetchone())
        if row is not None and row[0] == st.st_size and row[1] == st.st_mtime_ns:
            sha = str(row[2])
        else:
            sha = self._hash(key)
            self.hashed += 1
            if row is None or row[2] != sha:
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

        self._db(_do)

    def get_scores(self, keys: Sequence[ScoreKey]) -> dict[ScoreKey, dict[str, float]]:
        return dict(self._db(lambda: self._get_scores(keys)))

    def _get_scores(self, keys: Sequence[ScoreKey]) -> dict[ScoreKey, dict[str, float]]:
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
        return dict(self._db(lambda: self._get_geometry(keys)))

    def _get_geometry(self, keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], tuple[int, int, bool]]:
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

        self._db(_do)

    def count_scores(self) -> int:
        """Number of stored metric values (for tests and diagnostics)."""
        return int(self._db(lambda: self._con.execute("SELECT COUNT(*) FROM scores").fetchone()[0]))

    def close(self) -> None:
        try:
            self.flush_files()
        finally:
            self._con.close()


def open_cache(path: str | os.PathLike[str] | None, trust_mtime: bool = False) -> NullCache:
    """A :class:`ScoreCache` at ``path``, or a :class:`NullCache` when ``path`` is None.

    A damaged database file is quarantined (see the module docstring). If the database still cannot
    be opened (read-only folder, locked), logs a warning and returns a :class:`NullCache` so scoring
    still works.
    """
    if path is None:
        return NullCache()
    try:
        return ScoreCache(path, trust_mtime=trust_mtime)
    except (OSError, sqlite3.Error) as exc:
        log.warning("cache %s unusable (%s); continuing without a cache", path, exc)
        return NullCache()
