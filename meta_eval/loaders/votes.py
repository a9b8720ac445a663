"""Pairwise votes (contracts §5): ``reference, item_a, item_b, winner, rater, time_ms[, is_catch]``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..judgments import Judgments
from ._common import need, read_csv


def load_votes(path: str | Path, scaling: str = "bt") -> Judgments:
    """Pairwise votes, one row per vote.

    ``winner`` is ``a``, ``b`` or ``tie`` (case-insensitive). Rows with ``is_catch == 1`` are kept in
    the table (flagged) but excluded from scaling by :func:`meta_eval.scaling.scaling_votes`.
    ``scaling`` (``bt`` or ``thurstone``; ``votes:FILE?scaling=thurstone``) is the scaling
    ``validate``/``fit`` use.
    """
    if scaling not in ("bt", "thurstone"):
        raise InputError(f"votes: scaling must be 'bt' or 'thurstone', got {scaling!r}")
    t = read_csv(path, dtype={"reference": str, "item_a": str, "item_b": str, "rater": str})
    need(t, ["reference", "item_a", "item_b", "winner"], str(path))
    t["winner"] = t["winner"].astype(str).str.strip().str.lower()
    bad = ~t["winner"].isin(["a", "b", "tie"])
    if bad.any():
        raise InputError(
            f"{path}: winner must be 'a', 'b' or 'tie'; row {int(np.flatnonzero(bad)[0]) + 2} has "
            f"{t['winner'][bad].iloc[0]!r}"
        )
    if "rater" not in t:
        t["rater"] = ""
    t["rater"] = t["rater"].fillna("").astype(str)
    if "time_ms" not in t:
        t["time_ms"] = np.nan
    t["is_catch"] = (
        pd.to_numeric(t["is_catch"], errors="coerce").fillna(0).astype(int) if "is_catch" in t else 0
    )
    return Judgments(frame=t, kind="pairwise", name=Path(path).stem, source=str(path), scaling=scaling)
