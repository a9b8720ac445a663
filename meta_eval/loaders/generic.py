"""A generic opinion-score CSV (``csv:FILE?item=COL&score=COL...``), with or without a header."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..judgments import Judgments, opinion, parse_scores
from ._common import column, implied_direction, read_table

log = logging.getLogger(__name__)


def load_csv(
    path: str | Path,
    item: str = "item",
    score: str = "score",
    reference: str | None = None,
    distortion: str | None = None,
    system: str | None = None,
    std: str | None = None,
    higher_is_better: bool | None = None,
    lo: float | None = None,
    hi: float | None = None,
    sep: str = ",",
    header: bool = True,
    names: str | None = None,
) -> Judgments:
    """A generic opinion table: ``csv:FILE?item=col&score=col&higher_is_better=0``.

    Columns are named, or given by position: ``#0`` is the first column; ``item=#row`` numbers the
    rows from 1 (for files that are just one score per line, joined by row with metric tables that
    use ``item=#row`` too). ``header=0`` reads a file without a header row (columns ``#0, #1, ...``
    or ``names=a,b,c``). ``lo``/``hi`` give the scale's range (default: observed). Optional columns
    are used when named (or, for ``reference``/``distortion``/``system``/``std``, when a column of
    that name exists). Without ``higher_is_better`` the direction comes from the file name when it
    names a known dataset (``csiq``/``live``: lower is better), else higher-is-better is assumed and
    marked as not stated (``validate`` warns).
    """
    src = str(path)
    t = read_table(path, header=header, names=names, sep=sep)
    items = column(t, item, src)
    scores = column(t, score, src)

    def opt(name: str | None, default: str) -> object:
        if name:
            return column(t, name, src)
        return t[default] if default in t.columns else None

    stem = Path(path).stem
    stated = higher_is_better is not None
    hib = higher_is_better
    if hib is None:
        hib = implied_direction(stem)
        stated = hib is not None
        hib = True if hib is None else hib
    rng = None
    if lo is not None or hi is not None:
        vals = parse_scores(scores, items, src)
        if lo is not None and hi is not None and not lo < hi:
            raise InputError(f"{src}: lo ({lo}) must be below hi ({hi})")
        rng = (float(lo if lo is not None else np.nanmin(vals)), float(hi if hi is not None else np.nanmax(vals)))
    return opinion(
        items, scores, reference=opt(reference, "reference"), distortion=opt(distortion, "distortion"),
        system=opt(system, "system"), std=opt(std, "std"), higher_is_better=hib, direction_stated=stated,
        score_range=rng, name=stem, source=src,
    )
