"""Metric values in: ``paradigm score`` outputs or precomputed tables, joined to human items.

A metric table is a DataFrame with a ``key`` column (the item id as written by the source) and one
float column per metric; ``attrs["source"]``, ``attrs["kind"]`` describe where it came from.

The ``--scores SPEC`` syntax is ``KIND:PATH[?key=value&...]`` (or a bare path, auto-detected):

* ``paradigm:DIR|scores.parquet|scores.csv`` — ``paradigm score --out DIR`` results (contracts §2);
  every metric column, the pillars and ``composite`` become metrics. Items are keyed by
  ``<method>/<task>/<dataset>/<image>`` (empty parts dropped), ``output_path`` and ``image``.
* ``tid2013-metrics:DIR[?names=FILE]`` — the TID2013 official layout ``metrics_values/<NAME>.txt``, one
  value per line in the order of ``mos_with_names.txt`` (looked for in ``DIR/..`` unless ``names``
  is given). ``100000`` is the database's sentinel for an infinite value (identical images for
  PSNR-like metrics) and is read as ``+inf``: rank statistics rank it above every finite value
  (which reproduces the published correlations) and curve fits clip it to the largest finite value.
* ``table:FILE?item=COL`` — a CSV/parquet with an item column and one numeric column per metric.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paradigm.errors import InputError

from .human import parse_spec

log = logging.getLogger(__name__)

#: TID2013's sentinel for infinite values in ``metrics_values/*.txt``.
TID_SENTINEL = 100000.0

#: Columns of ``scores.parquet`` that are not metrics (contracts §2).
PARADIGM_ID_COLUMNS = (
    "method", "task", "dataset", "image", "sample", "output_path", "gt_path", "input_path",
    "height", "width", "resized",
)

#: Metrics known to be higher-is-better although not registered in paradigm (TID2013 official set).
TID2013_OFFICIAL = (
    "PSNR", "PSNRc", "PSNRHVS", "PSNRHVSM", "PSNRHA", "PSNRHMA", "SSIM", "MSSIM", "FSIM", "FSIMc",
    "VIFP", "VSNR", "WSNR", "NQM",
)

#: Common lower-is-better metric names (distances, errors, NR scores where lower is better).
KNOWN_LOWER = {
    "lpips", "dists", "niqe", "brisque", "piqe", "mse", "rmse", "mae", "gmsd", "pieapp", "ciede2000",
    "delta_e", "fid", "kid", "nlpd", "mad", "vsi_dist", "ilniqe", "pi",
}


def norm_key(s: Any) -> str:
    """Normalised item key: lower case, ``/`` separators, no ``./`` prefix, no doubled ``/``."""
    k = str(s).strip().replace("\\", "/").lower()
    k = re.sub(r"/+", "/", k)
    while k.startswith("./"):
        k = k[2:]
    return k.strip("/")


def _base(k: str) -> str:
    return k.rsplit("/", 1)[-1]


def _stem(k: str) -> str:
    b = _base(k)
    return b.rsplit(".", 1)[0] if "." in b else b


# --------------------------------------------------------------------------------- loaders
def load_tid2013_metrics(path: str | Path, names: str | Path | None = None) -> pd.DataFrame:
    """The TID2013 official metric values (``metrics_values/*.txt``); see the module docstring."""
    d = Path(path)
    if not d.is_dir():
        raise InputError(f"tid2013-metrics: {d} is not a folder of <METRIC>.txt files")
    files = sorted(d.glob("*.txt"))
    if not files:
        raise InputError(f"tid2013-metrics: no .txt files in {d}")
    nf = Path(names) if names else next(
        (p for p in (d.parent / "mos_with_names.txt", d / "mos_with_names.txt") if p.is_file()), None
    )
    if nf is None or not nf.is_file():
        raise InputError(
            f"tid2013-metrics: cannot find mos_with_names.txt beside {d}; pass ?names=/path/mos_with_names.txt"
        )
    keys = [ln.split()[1] for ln in nf.read_text(encoding="latin-1").splitlines() if ln.strip()]
    out = pd.DataFrame({"key": keys})
    for f in files:
        v = np.loadtxt(f, dtype=np.float64).ravel()
        if v.size != len(keys):
            raise InputError(f"{f} has {v.size} values but {nf} names {len(keys)} images; they must align")
        v[v >= TID_SENTINEL] = np.inf
        out[f.stem] = v
    out.attrs.update(kind="tid2013-metrics", source=str(d), higher_is_better={f.stem: True for f in files})
    return out


def _read_table(p: Path) -> pd.DataFrame:
    if not p.is_file():
        raise InputError(f"scores file not found: {p}")
    if p.suffix == ".parquet":
        return pd.read_parquet(p)
    try:
        return pd.read_csv(p, keep_default_na=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot parse {p}: {exc}") from exc


def load_paradigm_scores(path: str | Path) -> pd.DataFrame:
    """``paradigm score`` results (``scores.parquet`` preferred, else ``scores.csv``; contracts §2).

    Rows with several samples per input are averaged per item. The ``key`` is
    ``<method>/<task>/<dataset>/<image>`` with empty parts dropped; ``alt_keys`` holds the
    ``output_path`` for matching by path.
    """
    p = Path(path)
    if p.is_dir():
        cand = [p / "scores.parquet", p / "scores.csv"]
        found = next((c for c in cand if c.is_file()), None)
        if found is None:
            raise InputError(f"no scores.parquet or scores.csv in {p}; run `paradigm score --out {p}` first")
        p = found
    t = _read_table(p)
    if "image" not in t.columns:
        raise InputError(f"{p} is not a `paradigm score` table (no 'image' column); use table:FILE?item=COL")
    for c in ("method", "task", "dataset", "sample", "output_path"):
        if c not in t.columns:
            t[c] = ""
    t[["method", "task", "dataset", "image", "output_path"]] = (
        t[["method", "task", "dataset", "image", "output_path"]].fillna("").astype(str)
    )
    metric_cols = [
        c for c in t.columns if c not in PARADIGM_ID_COLUMNS and pd.api.types.is_numeric_dtype(t[c])
    ]
    t["key"] = ["/".join(x for x in parts if x) for parts in
                zip(t["method"], t["task"], t["dataset"], t["image"], strict=True)]
    agg = t.groupby("key", sort=False).agg({**{c: "mean" for c in metric_cols}, "output_path": "first"})
    out = agg.reset_index().rename(columns={"output_path": "alt_key"})
    out = out[["key", "alt_key", *metric_cols]]
    out.attrs.update(kind="paradigm", source=str(p), higher_is_better={})
    return out


def load_table(path: str | Path, item: str | None = None) -> pd.DataFrame:
    """A precomputed table: an item column (``item``, default the first column) and numeric metric columns."""
    p = Path(path)
    t = _read_table(p)
    col = item or t.columns[0]
    if col not in t.columns:
        raise InputError(f"{p} has no column {col!r}; found {list(t.columns)}")
    metric_cols = [c for c in t.columns if c != col and pd.api.types.is_numeric_dtype(t[c])]
    if not metric_cols:
        raise InputError(f"{p}: no numeric metric columns besides {col!r}")
    out = t[[col, *metric_cols]].rename(columns={col: "key"})
    out["key"] = out["key"].astype(str)
    out.attrs.update(kind="table", source=str(p), higher_is_better={})
    return out


def load_scores(spec: str) -> pd.DataFrame:
    """Load metric values from a ``--scores`` SPEC (see the module docstring); bare paths are auto-detected."""
    opts: dict[str, Any]
    if ":" not in spec or Path(spec).exists():
        p = Path(spec)
        if p.is_dir() and any(p.glob("scores.*")):
            kind, path, opts = "paradigm", spec, {}
        elif p.is_dir():
            kind, path, opts = "tid2013-metrics", spec, {}
        elif p.suffix in (".parquet", ".csv") and (p.stem == "scores" or _looks_like_paradigm(p)):
            kind, path, opts = "paradigm", spec, {}
        else:
            kind, path, opts = "table", spec, {}
    else:
        kind, path, opts = parse_spec(spec)
    if not Path(path).exists():
        raise InputError(f"scores: {path} does not exist")
    if kind == "tid2013-metrics":
        df = load_tid2013_metrics(path, **_only(opts, {"names"}, kind))
    elif kind == "paradigm":
        _only(opts, set(), kind)
        df = load_paradigm_scores(path)
    elif kind == "table":
        df = load_table(path, **_only(opts, {"item"}, kind))
    else:
        raise InputError(f"unknown scores kind {kind!r}; use paradigm:, tid2013-metrics: or table:")
    df.attrs["spec"] = spec
    return df


def _looks_like_paradigm(p: Path) -> bool:
    """A table with the id columns of ``paradigm score`` output (contracts §2)."""
    try:
        cols = set(pd.read_parquet(p).columns if p.suffix == ".parquet" else pd.read_csv(p, nrows=0).columns)
    except (OSError, ValueError, pd.errors.ParserError):
        return False
    return {"method", "image", "output_path"} <= cols


def _only(opts: Mapping[str, Any], allowed: set[str], kind: str) -> dict[str, Any]:
    bad = sorted(set(opts) - allowed)
    if bad:
        raise InputError(f"{kind}: unknown option(s) {bad}; valid: {sorted(allowed) or 'none'}")
    return dict(opts)


def metric_columns(table: pd.DataFrame) -> list[str]:
    """The metric columns of a metric table."""
    return [c for c in table.columns if c not in ("key", "alt_key")]


# ---------------------------------------------------------------------------------- direction
def metric_direction(
    name: str,
    table: pd.DataFrame | None = None,
    lower_is_better: Iterable[str] = (),
    higher_is_better: Iterable[str] = (),
) -> tuple[bool, str]:
    """Direction of a metric column and where it came from.

    Order: ``--lower-is-better``/``--higher-is-better`` options; the table's own declaration (TID2013
    official metrics: all higher-is-better); paradigm's registry (``paradigm.metric_info``, also for
    output columns ``<metric>_<suffix>``); a list of well-known lower-is-better names; else
    higher-is-better with a warning.

    Returns:
        ``(higher_is_better, source)`` with source in ``option|table|registry|known|default``.
    """
    low = {n.lower() for n in lower_is_better}
    high = {n.lower() for n in higher_is_better}
    key = name.lower()
    if key in low:
        return False, "option"
    if key in high:
        return True, "option"
    declared = (table.attrs.get("higher_is_better", {}) if table is not None else {}) or {}
    if name in declared:
        return bool(declared[name]), "table"
    if key in ("perceptual", "stability", "fidelity", "composite"):
        return True, "registry"
    info = registry_info(name)
    if info is not None:
        return bool(info["higher_is_better"]), "registry"
    if key in KNOWN_LOWER or key.split("_")[0] in KNOWN_LOWER:
        return False, "known"
    log.warning("direction of metric %r unknown; assuming higher is better (use --lower-is-better %s)", name, name)
    return True, "default"


def registry_info(name: str) -> dict[str, Any] | None:
    """``paradigm.metric_info`` for ``name`` or its prefix before the last ``_`` parts; None if unknown."""
    try:
        import paradigm
        from paradigm.errors import UnknownMetricError
    except ImportError:  # pragma: no cover
        return None
    parts = name.split("_")
    for k in range(len(parts), 0, -1):
        cand = "_".join(parts[:k])
        try:
            return paradigm.metric_info(cand)
        except UnknownMetricError:
            continue
        except Exception as exc:  # a sibling metric module that fails to import must not break meta_eval
            log.warning("paradigm registry unavailable (%s); using known directions only", exc)
            return None
    return None


# ------------------------------------------------------------------------------------ join
def _levels(keys: pd.Series) -> dict[str, list[str]]:
    full = [norm_key(k) for k in keys]
    return {"path": full, "name": [_base(k) for k in full], "stem": [_stem(k) for k in full]}


def _suffix_match(hk: list[str], sk: list[str]) -> dict[str, int]:
    """Match human keys to score keys when one is a path suffix of the other (unique matches only)."""
    by_base: dict[str, list[int]] = {}
    for j, k in enumerate(sk):
        by_base.setdefault(_base(k), []).append(j)
    out: dict[str, int] = {}
    for h in hk:
        cands = [j for j in by_base.get(_base(h), []) if sk[j].endswith("/" + h) or h.endswith("/" + sk[j]) or sk[j] == h]
        if len(cands) == 1:
            out[h] = cands[0]
    return out


def match_items(items: Iterable[str], table: pd.DataFrame) -> tuple[np.ndarray, dict[str, Any]]:
    """Row of ``table`` for each human item (−1 when unmatched), matching case-insensitively.

    Tries, in order, the full path, a path suffix (``a/b/x.png`` vs ``x.png``-rooted paths), the file
    name and the stem (name without extension), on the table's ``key`` and ``alt_key``; keeps the
    first that matches the most items with unique keys.

    Returns:
        ``(rows, report)``: the report has ``matched_by``, ``n_items``, ``n_matched``,
        ``unmatched_items`` (first 20), ``n_unmatched_items``, ``n_unused_rows``.
    """
    hitems = pd.Series(list(items), dtype=str)
    hl = _levels(hitems)
    best_rows = np.full(len(hitems), -1)
    best_name = "none"
    cols = ["key"] + (["alt_key"] if "alt_key" in table.columns else [])
    for col in cols:
        sl = _levels(table[col].fillna(""))
        for level in ("path", "suffix", "name", "stem"):
            if level == "suffix":
                m = _suffix_match(hl["path"], sl["path"])
                rows = np.array([m.get(h, -1) for h in hl["path"]])
            else:
                sk = sl[level]
                counts = pd.Series(sk).value_counts()
                index = {k: j for j, k in enumerate(sk) if counts[k] == 1 and k}
                rows = np.array([index.get(h, -1) for h in hl[level]])
            if (rows >= 0).sum() > (best_rows >= 0).sum():
                best_rows, best_name = rows, f"{col}:{level}"
            if (best_rows >= 0).all():
                break
        if (best_rows >= 0).all():
            break
    unmatched = hitems[best_rows < 0].tolist()
    report = {
        "matched_by": best_name,
        "n_items": int(len(hitems)),
        "n_matched": int((best_rows >= 0).sum()),
        "n_unmatched_items": len(unmatched),
        "unmatched_items": unmatched[:20],
        "n_unused_rows": int(len(table) - len(set(best_rows[best_rows >= 0].tolist()))),
    }
    if unmatched:
        log.warning(
            "%d of %d human items have no metric values (e.g. %s); matched by %s",
            len(unmatched), len(hitems), unmatched[:3], best_name,
        )
    return best_rows, report


def join(human: pd.DataFrame, table: pd.DataFrame, metrics: Iterable[str] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Attach metric values to human judgments.

    Opinion tables get one column per metric; 2AFC and vote tables get ``<metric>__a`` and
    ``<metric>__b`` for their two items. Unmatched items get NaN and are listed in the report.

    Args:
        human: a table from :func:`meta_eval.human.load_human`.
        table: a metric table from :func:`load_scores`.
        metrics: metric columns to keep (default all).

    Returns:
        ``(joined, report)``.

    Raises:
        InputError: when no item matches or a requested metric is absent.
    """
    cols = metric_columns(table)
    if metrics is not None:
        want = list(metrics)
        lower = {c.lower(): c for c in cols}
        missing = [m for m in want if m.lower() not in lower]
        if missing:
            raise InputError(f"metric(s) {missing} not in the scores; available: {cols}")
        cols = [lower[m.lower()] for m in want]
    out = human.copy()
    kind = human.attrs.get("kind", "opinion")
    if kind == "opinion":
        rows, rep = match_items(human["item"], table)
        vals = table[cols].to_numpy(np.float64)
        got = np.where(rows[:, None] >= 0, vals[np.maximum(rows, 0)], np.nan)
        for k, c in enumerate(cols):
            out[c] = got[:, k]
    else:
        both = pd.concat([human["item_a"], human["item_b"]], ignore_index=True).drop_duplicates()
        rows, rep = match_items(both, table)
        pos = dict(zip(both, rows, strict=True))
        vals = table[cols].to_numpy(np.float64)
        for side in ("a", "b"):
            r = human[f"item_{side}"].map(pos).to_numpy()
            got = np.where(r[:, None] >= 0, vals[np.maximum(r, 0)], np.nan)
            for k, c in enumerate(cols):
                out[f"{c}__{side}"] = got[:, k]
    if rep["n_matched"] == 0:
        raise InputError(
            f"none of the {rep['n_items']} human items matched a row of the scores "
            f"(human e.g. {rep['unmatched_items'][:2]}, scores e.g. {table['key'].head(2).tolist()}); "
            "check that both name the same images"
        )
    out.attrs = dict(human.attrs)
    out.attrs["metrics"] = cols
    return out, rep
