"""KADID-10k ``dmos.csv`` (``dist_img,ref_img,dmos,var``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..judgments import Judgments, opinion
from ._common import need, read_csv, stem


def load_kadid(path: str | Path) -> Judgments:
    """KADID-10k ``dmos.csv`` (or its folder).

    Despite its name the KADID "dmos" is a degradation-category rating 1–5, higher is better.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "dmos.csv"
    t = read_csv(p)
    need(t, ["dist_img", "ref_img", "dmos"], str(p))
    dist = [(stem(n).split("_") + ["", ""])[1] for n in t["dist_img"]]
    lev = [(stem(n).split("_") + ["", "", ""])[2] for n in t["dist_img"]]
    std = None
    if "var" in t:
        var = pd.to_numeric(t["var"], errors="coerce").to_numpy(np.float64)
        std = np.sqrt(np.where(var >= 0, var, np.nan))  # a negative or non-numeric variance: unknown std
    return opinion(
        t["dist_img"], t["dmos"], reference=t["ref_img"], distortion=dist, level=lev, std=std,
        higher_is_better=True, score_range=(1.0, 5.0), name="kadid10k", source=str(p),
    )
