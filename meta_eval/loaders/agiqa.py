"""AGIQA-3K ``data.csv`` (``name,prompt,...,mos_quality,std_quality,mos_align,std_align``)."""

from __future__ import annotations

from pathlib import Path

from ..judgments import Judgments, opinion
from ._common import need, read_csv


def load_agiqa(path: str | Path, column: str = "mos_quality") -> Judgments:
    """AGIQA-3K scores; ``column`` picks ``mos_quality`` (default) or ``mos_align``; higher is better.

    There is no reference image: ``reference`` is the prompt (items generated from the same prompt),
    ``system`` the generator (file-name prefix before the first ``_``).
    """
    p = Path(path)
    if p.is_dir():
        p = p / "data.csv"
    t = read_csv(p)
    need(t, ["name", "prompt", column], str(p))
    std_col = column.replace("mos_", "std_")
    system = [str(n).split("_")[0] for n in t["name"]]
    return opinion(
        t["name"], t[column], reference=t["prompt"], distortion=system, system=system,
        std=t[std_col] if std_col in t else None, name="agiqa-3k", source=str(p),
    )
