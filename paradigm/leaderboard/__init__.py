"""Leaderboards: merge ``paradigm score`` folders, rank methods with significance-aware shared ranks,
and write a static site (``index.html`` + ``methods/*.html``), ``README.md``, ``leaderboard.csv`` and
``leaderboard.json`` (schema ``paradigm.leaderboard/1``, see ``docs/leaderboard-schema.md``).

Example:
    >>> from paradigm.leaderboard import build_leaderboard
    >>> build_leaderboard(["demo/scores"], "leaderboards/demo")  # doctest: +SKIP
"""

from __future__ import annotations

from .build import SCHEMA, Leaderboard, build_leaderboard, compute_leaderboard, write_leaderboard
from .merge import Merged, Run, load_run, merge_runs

__all__ = [
    "SCHEMA",
    "Leaderboard",
    "Merged",
    "Run",
    "build_leaderboard",
    "compute_leaderboard",
    "load_run",
    "merge_runs",
    "write_leaderboard",
]
