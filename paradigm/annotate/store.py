"""SQLite storage of ``paradigm annotate``: issued trials and the raters' answers.

One database per study (default ``RESULTS/.paradigm/annotate.sqlite``). WAL mode and a busy
timeout let several server threads or processes share it; issuing a trial and storing an answer are
each one ``BEGIN IMMEDIATE`` transaction, so concurrent raters never lose or duplicate anything.

Tables:

- ``meta(key, value)``: study settings (schema version, the image-id secret, the folders served).
- ``trials``: one row per issued trial: ``trial_id`` (opaque, random), ``rater``, ``seq`` (position
  in the rater's session; unique per rater), ``kind`` (``regular``/``repeat``/``catch``),
  ``reference``, ``method_a``, ``method_b``, ``sample_a``, ``sample_b``, ``repeat_of``, ``issued_at``.
- ``answers``: one row per answered trial: ``rater``, ``trial_id``, ``winner`` (``a``/``b``/``tie``,
  as shown), ``time_ms`` (measured in the page), ``server_ts`` (UNIX seconds); ``UNIQUE(rater,
  trial_id)``, so a double-submitted answer is stored once (the first one wins).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .schedule import KINDS, WINNERS, Record, Scheduler, TrialSpec

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
#: Longest accepted answer time (one day), in ms; longer or negative times are stored as NULL.
MAX_TIME_MS = 24 * 3600 * 1000
_RATER_RE = re.compile(r"^[\w .@+\-]{1,64}$")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    trial_id TEXT PRIMARY KEY,
    rater TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN {KINDS!r}),
    reference TEXT NOT NULL,
    method_a TEXT NOT NULL,
    method_b TEXT NOT NULL,
    sample_a TEXT NOT NULL DEFAULT '',
    sample_b TEXT NOT NULL DEFAULT '',
    repeat_of TEXT,
    issued_at REAL NOT NULL,
    UNIQUE (rater, seq)
);
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rater TEXT NOT NULL,
    trial_id TEXT NOT NULL REFERENCES trials (trial_id),
    winner TEXT NOT NULL CHECK (winner IN {WINNERS!r}),
    time_ms INTEGER,
    server_ts REAL NOT NULL,
    UNIQUE (rater, trial_id)
);
CREATE INDEX IF NOT EXISTS trials_rater ON trials (rater, seq);
"""


def check_rater(rater: Any) -> str:
    """Validate a rater id (1–64 letters, digits, spaces or ``. @ + - _``) and return it stripped.

    Raises:
        InputError: an empty, too long or oddly formed id.
    """
    r = str(rater if rater is not None else "").strip()
    if not _RATER_RE.match(r):
        raise InputError(
            "rater id must be 1 to 64 characters: letters, digits, spaces and . @ + - _ (e.g. 'alice' or 'r07')"
        )
    return r


@dataclass(frozen=True)
class AnswerResult:
    """What :meth:`Store.answer` did: ``duplicate`` is True when the trial already had an answer."""

    trial_id: str
    winner: str
    duplicate: bool


class Store:
    """The study database.

    Args:
        path: SQLite file; created (with its folder) when missing.

    Raises:
        InputError: when the file exists but is not a paradigm annotation database.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the folder of the database {self.path}: {exc}") from exc
        try:
            with self.connect() as con:
                con.execute("PRAGMA journal_mode=WAL")
                con.executescript(_SCHEMA)
                row = con.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None:
                    con.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                elif int(row[0]) != SCHEMA_VERSION:
                    raise InputError(
                        f"{self.path} has annotation schema {row[0]}, this paradigm reads {SCHEMA_VERSION}"
                    )
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path} is not a usable SQLite annotation database: {exc}") from exc

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's autocommit connection (opened once per thread); use ``BEGIN IMMEDIATE`` for transactions."""
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            con.execute("PRAGMA busy_timeout=60000")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA foreign_keys=ON")
            self._local.con = con
        yield con

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # -- meta -----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A ``meta`` value, or None."""
        with self.connect() as con:
            row = con.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a ``meta`` value."""
        with self._transaction() as con:
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def secret(self) -> str:
        """The study's secret (random, created once): keys the opaque image ids."""
        with self._transaction() as con:
            row = con.execute("SELECT value FROM meta WHERE key='secret'").fetchone()
            if row is not None:
                return str(row[0])
            value = secrets.token_hex(16)
            con.execute("INSERT INTO meta VALUES ('secret', ?)", (value,))
            return value

    # -- trials -----------------------------------------------------------------------------
    _RECORD_SQL = (
        "SELECT t.kind, t.reference, t.method_a, t.method_b, t.sample_a, t.sample_b, t.repeat_of, "
        "t.trial_id, t.rater, t.seq, a.winner FROM trials t "
        "LEFT JOIN answers a ON a.trial_id = t.trial_id AND a.rater = t.rater"
    )

    @staticmethod
    def _record(row: tuple[Any, ...]) -> Record:
        return Record(
            kind=row[0], reference=row[1], method_a=row[2], method_b=row[3], sample_a=row[4], sample_b=row[5],
            repeat_of=row[6], trial_id=row[7], rater=row[8], seq=int(row[9]), winner=row[10],
        )

    def records(self, con: sqlite3.Connection | None = None) -> list[Record]:
        """Every issued trial with its answer (``winner`` None when unanswered), by rater and position."""
        if con is None:
            with self.connect() as c:
                return self.records(c)
        rows = con.execute(self._RECORD_SQL + " ORDER BY t.rater, t.seq").fetchall()
        return [self._record(r) for r in rows]

    def next_trial(self, rater: str, scheduler: Scheduler) -> Record | None:
        """The rater's pending trial, else a newly scheduled and stored one; None when the session is done.

        Runs in one ``BEGIN IMMEDIATE`` transaction, so two simultaneous requests of one rater get
        the same trial and concurrent raters see each other's trials when balancing.
        """
        rater = check_rater(rater)
        with self._transaction() as con:
            row = con.execute(
                self._RECORD_SQL + " WHERE t.rater = ? AND a.id IS NULL ORDER BY t.seq LIMIT 1", (rater,)
            ).fetchone()
            if row is not None:
                return self._record(row)
            records = self.records(con)
            spec = scheduler.next_trial(rater, records)
            if spec is None:
                return None
            seq = sum(1 for r in records if r.rater == rater)
            rec = self._insert(con, rater, seq, spec)
        return rec

    def add_trial(self, rater: str, spec: TrialSpec) -> Record:
        """Store ``spec`` as the rater's next trial (for tools and tests; the app uses :meth:`next_trial`)."""
        rater = check_rater(rater)
        with self._transaction() as con:
            (seq,) = con.execute("SELECT COUNT(*) FROM trials WHERE rater = ?", (rater,)).fetchone()
            return self._insert(con, rater, int(seq), spec)

    @staticmethod
    def _insert(con: sqlite3.Connection, rater: str, seq: int, spec: TrialSpec) -> Record:
        tid = secrets.token_hex(8)
        con.execute(
            "INSERT INTO trials (trial_id, rater, seq, kind, reference, method_a, method_b, sample_a, sample_b, "
            "repeat_of, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (tid, rater, seq, spec.kind, spec.reference, spec.method_a, spec.method_b, spec.sample_a,
             spec.sample_b, spec.repeat_of, time.time()),
        )
        return Record(
            kind=spec.kind, reference=spec.reference, method_a=spec.method_a, method_b=spec.method_b,
            sample_a=spec.sample_a, sample_b=spec.sample_b, repeat_of=spec.repeat_of,
            trial_id=tid, rater=rater, seq=seq, winner=None,
        )

    # -- answers ----------------------------------------------------------------------------
    def answer(self, rater: str, trial_id: str, winner: str, time_ms: Any = None) -> AnswerResult:
        """Store a rater's answer to a trial; idempotent (a second answer to the same trial is ignored).

        Args:
            rater: the rater id the trial was issued to.
            trial_id: the trial's id.
            winner: ``"a"``, ``"b"`` or ``"tie"`` (sides as shown).
            time_ms: answer time measured in the page; stored as NULL when missing or implausible.

        Returns:
            :class:`AnswerResult` with the stored winner and whether this was a duplicate.

        Raises:
            InputError: unknown trial, a trial of another rater, or a bad ``winner``.
        """
        rater = check_rater(rater)
        w = str(winner).strip().lower()
        if w not in WINNERS:
            raise InputError(f"choice must be one of {', '.join(WINNERS)}, got {winner!r}")
        t: int | None
        try:
            t = int(round(float(time_ms)))
        except (TypeError, ValueError, OverflowError):
            t = None
        if t is not None and not (0 <= t <= MAX_TIME_MS):
            t = None
        with self._transaction() as con:
            row = con.execute("SELECT rater FROM trials WHERE trial_id = ?", (str(trial_id),)).fetchone()
            if row is None or row[0] != rater:
                raise InputError(f"no trial {str(trial_id)[:32]!r} was issued to rater {rater!r}")
            cur = con.execute(
                "INSERT OR IGNORE INTO answers (rater, trial_id, winner, time_ms, server_ts) VALUES (?, ?, ?, ?, ?)",
                (rater, str(trial_id), w, t, time.time()),
            )
            if cur.rowcount == 1:
                return AnswerResult(str(trial_id), w, False)
            (stored,) = con.execute(
                "SELECT winner FROM answers WHERE rater = ? AND trial_id = ?", (rater, str(trial_id))
            ).fetchone()
            return AnswerResult(str(trial_id), str(stored), True)

    def answer_rows(self) -> list[dict[str, Any]]:
        """Every answered trial joined with its answer, in answer order (for the export)."""
        sql = (
            "SELECT a.id, t.trial_id, t.rater, t.seq, t.kind, t.reference, t.method_a, t.method_b, t.sample_a, "
            "t.sample_b, t.repeat_of, a.winner, a.time_ms, a.server_ts, t.issued_at "
            "FROM answers a JOIN trials t ON a.trial_id = t.trial_id AND a.rater = t.rater ORDER BY a.id"
        )
        with self.connect() as con:
            cur = con.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def progress(self, rater: str) -> tuple[int, int]:
        """``(answered, issued)`` trial counts of a rater."""
        with self.connect() as con:
            (issued,) = con.execute("SELECT COUNT(*) FROM trials WHERE rater = ?", (rater,)).fetchone()
            (answered,) = con.execute("SELECT COUNT(*) FROM answers WHERE rater = ?", (rater,)).fetchone()
        return int(answered), int(issued)


def open_existing(path: str | os.PathLike[str]) -> Store:
    """Open a database that must already exist (for ``export``/``report``).

    Raises:
        InputError: when the file does not exist.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"annotation database {p} does not exist; pass the --db used with `paradigm annotate`")
    return Store(p)
