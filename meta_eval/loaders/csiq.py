"""CSIQ DMOS from the official ``csiq.DMOS.xlsx`` (sheet ``all_by_image``) or a CSV export of it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..judgments import Judgments, opinion
from ._common import need, read_csv

#: CSIQ spreadsheet ``dst_type`` -> the token in its distorted file names (``1600.AWGN.1.png``)
CSIQ_TOKENS = {
    "noise": "AWGN", "awgn": "AWGN", "jpeg": "JPEG", "jpeg 2000": "jpeg2000", "jpeg2000": "jpeg2000",
    "f noise": "fnoise", "fnoise": "fnoise", "blur": "BLUR", "contrast": "contrast",
}


def _spreadsheet(p: Path) -> pd.DataFrame:
    import zipfile

    if importlib.util.find_spec("openpyxl") is None:
        raise InputError(
            f"reading {p.name} needs openpyxl (pip install openpyxl), or export its 'all_by_image' "
            "sheet to CSV and pass csiq:FILE.csv"
        )
    try:
        return pd.read_excel(p, sheet_name="all_by_image")
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read the CSIQ spreadsheet {p}: {exc}") from exc


def load_csiq(path: str | Path) -> Judgments:
    """CSIQ DMOS (0–1, LOWER is better).

    The spreadsheet's ``all_by_image`` sheet (columns ``image, dst_idx, dst_type, dst_lev, dmos_std,
    dmos``) needs ``openpyxl``; a CSV export with at least ``image,dst_type,dst_lev,dmos`` needs nothing.
    Items are named like the CSIQ files, ``<image>.<TOKEN>.<dst_lev>.png`` (``1600.AWGN.1.png``,
    ``1600.jpeg2000.3.png``); pairing with scores is case-insensitive.
    """
    p = Path(path)
    t = _spreadsheet(p) if p.suffix.lower() in (".xlsx", ".xls") else read_csv(p)
    t.columns = [str(c).strip().lower() for c in t.columns]
    need(t, ["image", "dst_type", "dst_lev", "dmos"], str(path))
    t = t.dropna(subset=["image", "dst_type", "dst_lev", "dmos"])
    tokens = [CSIQ_TOKENS.get(str(d).strip().lower(), str(d).strip()) for d in t["dst_type"]]
    images = [str(i).strip() for i in t["image"]]
    try:
        levels = [int(float(v)) for v in t["dst_lev"]]
    except (ValueError, OverflowError) as exc:
        raise InputError(f"{path}: dst_lev must be whole numbers ({exc})") from exc
    items = [f"{i}.{tok}.{lv}.png" for i, tok, lv in zip(images, tokens, levels, strict=True)]
    return opinion(
        items, t["dmos"], reference=[f"{i}.png" for i in images], distortion=tokens,
        level=levels, higher_is_better=False, score_range=(0.0, 1.0), name="csiq", source=str(path),
    )
