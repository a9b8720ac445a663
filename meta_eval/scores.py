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
* ``table:FILE?item=COL[&reference=COL&distortion=COL&header=0&names=a,b&sep=;]`` — a CSV/parquet with
  an item column and one numeric column per metric. Columns may be given by position (``#0`` is the
  first), ``item=#row`` keys the rows by their number (from 1) for files that hold one value per line
  in the order of the human scores, ``header=0`` reads a file without a header row (columns ``#0,
  #1, ...``, or ``names=``). ``reference``/``distortion`` name label columns that are not metrics:
  they give the human items their reference/distortion for grouping (bootstrap over references,
  pairwise accuracy within a reference, per-distortion breakdowns).

Several tables are joined to the same human items one after the other (:func:`join_all`), each
matched on its own item key.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .directions import COMPOSITE_COLUMNS, Manifest, run_directions
from .directions import metric_direction as _direction
from .errors import InputError
from .judgments import Judgments
from .loaders import parse_spec
from .loaders._common import column, read_table

log = logging.getLogger(__name__)

#: TID2013's sentinel for infinite values in ``metrics_values/*.txt``.
TID_SENTINEL = 100000.0

#: Columns of ``scores.parquet`` that are not metrics (contracts §2).
PARADIGM_ID_COLUMNS = (
    "method", "task", "dataset", "image", "sample", "output_path", "gt_path", "input_path",
    "height", "width", "resized",
)

#: The TID2013 official metric set (``metrics_values/<NAME>.txt``): all higher-is-better.
TID2013_OFFICIAL = (
    "PSNR", "PSNRc", "PSNRHVS", "PSNRHVSM", "PSNRHA", "PSNRHMA", "SSIM", "MSSIM", "FSIM", "FSIMc",
    "VIFP", "VSNR", "WSNR", "NQM",
)

#: Non-metric label columns a table may carry for grouping (``table:...?reference=COL``).
GROUP_COLUMNS = ("reference", "distortion")


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
    return read_table(p)


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
    out.attrs.update(kind="paradigm", source=str(p), higher_is_better=_run_json_directions(p.parent))
    return out


def _run_json_directions(folder: Path) -> dict[str, bool]:
    """Per-column directions from the run's ``run.json`` (empty when absent or when it records none)."""
    f = folder / "run.json"
    if not f.is_file():
        return {}
    try:
        run = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s (%s); metric directions come from the manifest", f, exc)
        return {}
    dirs = run_directions(run) if isinstance(run, dict) else {}
    return {**{c: True for c in COMPOSITE_COLUMNS}, **dirs} if dirs else {}


def load_table(
    path: str | Path,
    item: str | None = None,
    reference: str | None = None,
    distortion: str | None = None,
    header: bool = True,
    names: str | None = None,
    sep: str = ",",
) -> pd.DataFrame:
    """A precomputed table: an item column (``item``, default the first column), numeric metric columns
    and optional ``reference``/``distortion`` label columns (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"scores file not found: {p}")
    t = read_table(p, header=header, names=names, sep=sep)
    src = str(p)
    key = column(t, item, src) if item else t.iloc[:, 0]
    used = {key.name} if item and item.strip().lower() != "#row" else ({t.columns[0]} if not item else set())
    out = pd.DataFrame({"key": key.astype(str).to_numpy()})
    labels = {}
    for gname, spec in (("reference", reference), ("distortion", distortion)):
        if spec:
            col = column(t, spec, src)
            used.add(col.name)
            labels[gname] = True
            out[f"__{gname}"] = col.astype(str).to_numpy()
    metric_cols = [c for c in t.columns if c not in used and pd.api.types.is_numeric_dtype(t[c])]
    if not metric_cols and not labels:
        raise InputError(f"{p}: no numeric metric columns besides the item column (and no reference=/distortion=)")
    for c in metric_cols:
        out[str(c)] = t[c].to_numpy(np.float64)
    out.attrs.update(kind="table", source=src, higher_is_better={}, labels=sorted(labels))
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
        kind, path, opts = parse_spec(spec, kinds=("paradigm", "tid2013-metrics", "table"))
    if not Path(path).exists():
        raise InputError(f"scores: {path} does not exist")
    if kind == "tid2013-metrics":
        df = load_tid2013_metrics(path, **_only(opts, {"names"}, kind))
    elif kind == "paradigm":
        _only(opts, set(), kind)
        df = load_paradigm_scores(path)
    elif kind == "table":
        df = load_table(path, **_only(opts, {"item", "reference", "distortion", "header", "names", "sep"}, kind))
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
    return [c for c in table.columns if c not in ("key", "alt_key") and not str(c).startswith("__")]


# ---------------------------------------------------------------------------------- direction
def metric_direction(
    name: str,
    table: pd.DataFrame | None = None,
    lower_is_better: Iterable[str] = (),
    higher_is_better: Iterable[str] = (),
    manifest: Manifest | None = None,
) -> tuple[bool, str]:
    """Direction of a metric column and where it came from (:func:`meta_eval.directions.metric_direction`).

    ``table`` supplies its own declaration (``attrs["higher_is_better"]``: the TID2013 official set,
    or the directions a paradigm run recorded in ``run.json``); ``manifest`` is paradigm's metric
    manifest (default: none — callers load it once with :func:`meta_eval.directions.load_manifest`).

    Returns:
        ``(higher_is_better, source)`` with source in ``option|table|manifest|composite|external|default``.
    """
    declared = (table.attrs.get("higher_is_better", {}) if table is not None else {}) or {}
    return _direction(name, declared, lower_is_better, higher_is_better, manifest)


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


def _pick(cols: list[str], metrics: Iterable[str] | None) -> list[str]:
    if metrics is None:
        return cols
    want = list(metrics)
    lower = {c.lower(): c for c in cols}
    missing = [m for m in want if m.lower() not in lower]
    if missing:
        raise InputError(f"metric(s) {missing} not in the scores; available: {cols}")
    return [lower[m.lower()] for m in want]


def _attach(out: pd.DataFrame, rows: np.ndarray, vals: np.ndarray, cols: list[str], suffix: str = "") -> None:
    got = np.where(rows[:, None] >= 0, vals[np.maximum(rows, 0)], np.nan)
    for k, c in enumerate(cols):
        out[f"{c}{suffix}"] = got[:, k]


def _labels(out: pd.DataFrame, table: pd.DataFrame, rows: np.ndarray) -> list[str]:
    """Copy a table's reference/distortion labels onto the matched human items (they override)."""
    used = []
    for g in GROUP_COLUMNS:
        if f"__{g}" not in table.columns:
            continue
        lab = table[f"__{g}"].to_numpy(object)
        new = np.where(rows >= 0, lab[np.maximum(rows, 0)], None)
        old = out[g].to_numpy(object) if g in out else np.full(len(out), "", dtype=object)
        out[g] = np.where(rows >= 0, new, old).astype(str)
        used.append(g)
    return used


def join(
    human: Judgments, table: pd.DataFrame, metrics: Iterable[str] | None = None
) -> tuple[Judgments, dict[str, Any]]:
    """Attach metric values to human judgments.

    Opinion tables get one column per metric; 2AFC and vote tables get ``<metric>__a`` and
    ``<metric>__b`` for their two items. Unmatched items get NaN and are listed in the report. A
    table's ``reference``/``distortion`` label columns replace the human items' labels.

    Args:
        human: from :func:`meta_eval.loaders.load_human`.
        table: a metric table from :func:`load_scores`.
        metrics: metric columns to keep (default all).

    Returns:
        ``(joined, report)``: the judgments with the metric columns added (named in ``joined.metrics``).

    Raises:
        InputError: when no item matches or a requested metric is absent.
    """
    cols = _pick(metric_columns(table), metrics)
    out = human.frame.copy()
    vals = table[cols].to_numpy(np.float64)
    if human.kind == "opinion":
        rows, rep = match_items(out["item"], table)
        _attach(out, rows, vals, cols)
        rep["labels"] = _labels(out, table, rows)
    else:
        both = pd.concat([out["item_a"], out["item_b"]], ignore_index=True).drop_duplicates()
        rows, rep = match_items(both, table)
        pos = dict(zip(both, rows, strict=True))
        for side in ("a", "b"):
            _attach(out, out[f"item_{side}"].map(pos).to_numpy(), vals, cols, f"__{side}")
    if rep["n_matched"] == 0:
        raise InputError(
            f"none of the {rep['n_items']} human items matched a row of the scores "
            f"(human e.g. {rep['unmatched_items'][:2]}, scores e.g. {table['key'].head(2).tolist()}); "
            "check that both name the same images"
        )
    rep["source"] = table.attrs.get("spec") or table.attrs.get("source")
    return human.with_frame(out, metrics=(*human.metrics, *cols)), rep


def join_all(
    human: Judgments, tables: list[pd.DataFrame], metrics: Iterable[str] | None = None
) -> tuple[Judgments, list[dict[str, Any]], dict[str, bool]]:
    """Join several metric tables to the same human items, each matched on its own item key.

    ``metrics`` (default all) are looked up across the tables. Returns ``(joined, reports,
    declared)`` where ``declared`` merges the tables' own direction declarations.

    Raises:
        InputError: when a metric name appears in two tables, or a requested metric is in none.
    """
    want = None if metrics is None else {m.lower() for m in metrics}
    seen: dict[str, str] = {}
    reports: list[dict[str, Any]] = []
    declared: dict[str, bool] = {}
    j = human
    for t in tables:
        cols = [c for c in metric_columns(t) if want is None or c.lower() in want]
        for c in cols:
            if c.lower() in seen:
                raise InputError(
                    f"metric {c!r} is in two score tables ({seen[c.lower()]} and {t.attrs.get('spec')}); "
                    "keep it in one (or pick columns with --metric)"
                )
            seen[c.lower()] = str(t.attrs.get("spec") or t.attrs.get("source"))
        if not cols and not t.attrs.get("labels"):
            raise InputError(f"{t.attrs.get('spec')}: none of the requested metrics is in this table")
        j, rep = join(j, t, cols)
        reports.append(rep)
        declared.update(t.attrs.get("higher_is_better", {}) or {})
    if want is not None:
        missing = sorted(want - set(seen))
        if missing:
            raise InputError(f"metric(s) {missing} are in none of the score tables")
    return j, reports, declared
