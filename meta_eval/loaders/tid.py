"""TID2013 and TID2008: ``mos_with_names.txt`` (``MOS name`` per line) with ``mos_std.txt`` beside it.

Items ``iXX_DD_L.bmp`` (reference XX, distortion DD, level L); MOS 0–9, higher is better.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..judgments import Judgments, opinion, parse_scores

log = logging.getLogger(__name__)


def _tid_layout(path: Path, name: str, score_range: tuple[float, float]) -> Judgments:
    f = path / "mos_with_names.txt" if path.is_dir() else path
    if not f.is_file():
        raise InputError(f"{name}: no mos_with_names.txt at {path}; point to the database folder or the file")
    rows = []
    for ln, line in enumerate(f.read_text(encoding="latin-1").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) < 2:
            raise InputError(f"{f}:{ln}: expected 'MOS name', got {line!r}")
        rows.append((parts[0], parts[1]))
    if not rows:
        raise InputError(f"{f} is empty")
    names = [r[1] for r in rows]
    mos = parse_scores([r[0] for r in rows], names, str(f))
    refs, dist, lev = [], [], []
    for nm in names:
        m = re.match(r"^[iI](\d+)_(\d+)_(\d+)", nm)
        if not m:
            raise InputError(f"{f}: image name {nm!r} is not in the iXX_DD_L layout of {name}")
        refs.append(f"i{m.group(1)}")
        dist.append(m.group(2))
        lev.append(int(m.group(3)))
    std = None
    sf = f.parent / "mos_std.txt"
    if sf.is_file():
        sv = np.loadtxt(sf, dtype=np.float64).ravel()
        if sv.size == mos.size:
            std = sv
        else:
            log.warning("%s has %d lines, %s has %d; ignoring the std", sf, sv.size, f, mos.size)
    return opinion(
        names, mos, reference=refs, distortion=dist, level=lev, std=std,
        higher_is_better=True, score_range=score_range, name=name, source=str(f),
    )


def load_tid2013(path: str | Path) -> Judgments:
    """TID2013 ``mos_with_names.txt`` (or its folder); MOS 0–9, higher is better."""
    return _tid_layout(Path(path), "tid2013", (0.0, 9.0))


def load_tid2008(path: str | Path) -> Judgments:
    """TID2008, same layout as TID2013 (17 distortions, 4 levels); MOS 0–9, higher is better."""
    return _tid_layout(Path(path), "tid2008", (0.0, 9.0))
