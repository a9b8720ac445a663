"""Helpers shared by the dataset loaders: reading tables, column checks, names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError


def read_csv(path: str | Path, **kw: Any) -> pd.DataFrame:
    """``pandas.read_csv`` with user-facing errors (missing, empty or unparsable file)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"file not found: {p}")
    try:
        t = pd.read_csv(p, **kw)
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{p} is empty (no header and no rows)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"cannot parse {p} as CSV: {exc}") from exc
    if len(t) == 0:
        raise InputError(f"{p} has a header but no rows")
    return t


def need(df: pd.DataFrame, cols: tuple[str, ...] | list[str], source: str) -> None:
    """Raise when ``df`` lacks a column."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"{source} lacks column(s) {missing}; found {list(df.columns)}")


def stem(path: str) -> str:
    """File name without folder and extension."""
    base = re.split(r"[\\/]", str(path))[-1]
    return base.rsplit(".", 1)[0] if "." in base else base


def truthy(v: Any) -> bool:
    """``?key=0|false|no|n|`` -> False, anything else True."""
    return str(v).strip().lower() not in ("0", "false", "no", "n", "")


#: Dataset names that imply the direction of their human scores (substring of a file's stem).
IMPLIED_DIRECTION = {
    "tid2013": True, "tid2008": True, "kadid": True, "pipal": True, "agiqa": True, "koniq": True, "spaq": True,
    "csiq": False, "live": False, "sriqa": False,
}


def implied_direction(name: str) -> bool | None:
    """``higher_is_better`` implied by a dataset/file name (``csiq_dmos`` -> False), or None."""
    low = name.lower()
    hits = {v for k, v in IMPLIED_DIRECTION.items() if k in low}
    return hits.pop() if len(hits) == 1 else None


def read_table(path: str | Path, *, header: bool = True, names: str | None = None, sep: str = ",") -> pd.DataFrame:
    """A CSV (or parquet) table; headerless files get columns ``#0, #1, ...`` or ``names`` (comma-separated)."""
    p = Path(path)
    if p.suffix == ".parquet":
        if not p.is_file():
            raise InputError(f"file not found: {p}")
        return pd.read_parquet(p)
    kw: dict[str, Any] = {"sep": sep}
    if not header:
        kw["header"] = None
    t = read_csv(p, **kw)
    if names:
        cols = [c.strip() for c in names.split(",")]
        if len(cols) != t.shape[1]:
            raise InputError(f"{p}: names= gives {len(cols)} column names but the file has {t.shape[1]} columns")
        t.columns = cols
    elif not header:
        t.columns = [f"#{k}" for k in range(t.shape[1])]
    return t


def column(t: pd.DataFrame, spec: str, source: str) -> pd.Series:
    """A column by name, by position (``#2``: the third column) or the row number (``#row``, from 1)."""
    s = spec.strip()
    if s.lower() == "#row":
        return pd.Series([str(k) for k in range(1, len(t) + 1)], index=t.index)
    if s in t.columns:
        return t[s]
    if re.fullmatch(r"#\d+", s):
        k = int(s[1:])
        if k >= t.shape[1]:
            raise InputError(f"{source}: column {s} asked for but the table has {t.shape[1]} columns (#0..#{t.shape[1] - 1})")
        return t.iloc[:, k]
    raise InputError(f"{source} has no column {s!r}; found {list(t.columns)} (or use #k for the k-th column, #row)")
