"""SRIQA-Bench ``normalize_SRIQA_mos.txt``: ``dist,ref,score`` without header."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..judgments import Judgments, opinion
from ._common import read_csv, stem


def load_sriqa(path: str | Path) -> Judgments:
    """SRIQA-Bench scores, LOWER is better.

    Scores are ``100 - scaled Thurstone score`` (the original ≈ 0). The system (SR method) is the
    last ``_``-separated part of the distorted file's stem (``online15_SeeSRx4.png`` -> ``SeeSRx4``).
    """
    t = read_csv(path, header=None)
    if t.shape[1] < 3:
        raise InputError(f"{path}: expected 3 columns dist,ref,score")
    t = t.iloc[:, :3]
    t.columns = ["dist", "ref", "score"]
    system = [stem(d).rsplit("_", 1)[-1] for d in t["dist"]]
    return opinion(
        t["dist"], t["score"], reference=t["ref"], distortion=system, system=system,
        higher_is_better=False, name="sriqa-bench", source=str(path),
    )
