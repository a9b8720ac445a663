"""PIPAL ``Train_Label/*.txt``: one file per reference, lines ``A0001_00_00.bmp,1520.06``."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..judgments import Judgments, opinion
from ._common import stem


def load_pipal(path: str | Path) -> Judgments:
    """PIPAL labels: Elo scores, higher is better; the scale is the observed range.

    Reference = ``<file stem>.bmp``; distortion = the second ``_`` part of the item's stem.
    """
    p = Path(path)
    files = sorted(p.glob("*.txt")) if p.is_dir() else [p]
    if not files:
        raise InputError(f"PIPAL: no label .txt files in {p} (expected Train_Label/A0001.txt ...)")
    items, refs, scores, dist = [], [], [], []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"PIPAL: {f} is not a text file of 'name,score' lines ({exc})") from exc
        for ln, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            parts = [s.strip() for s in line.split(",")]
            if len(parts) < 2:
                raise InputError(f"{f}:{ln}: expected 'name,score', got {line!r}")
            items.append(parts[0])
            refs.append(f"{f.stem}.bmp")
            scores.append(parts[1])
            dist.append("_".join(stem(parts[0]).split("_")[1:2]))
    return opinion(items, scores, reference=refs, distortion=dist, name="pipal", source=str(p))
