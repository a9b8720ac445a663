"""Writing ``paradigm score`` outputs (``docs/contracts.md`` §2) and the terminal summary.

Files under ``--out DIR``: ``scores.parquet`` + ``scores.csv`` (per image), ``summary.csv`` (per
method/task/dataset and metric: mean, std, count, bootstrap CI for pillars and composite),
``errors.csv``, ``run.json``, and ``samples.csv`` when several samples per input exist and
``paradigm.samples`` is available.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

#: Leading identification columns of ``scores.*`` (contracts §2).
ID_COLUMNS: tuple[str, ...] = (
    "method", "task", "dataset", "image", "sample", "output_path", "gt_path", "input_path",
    "height", "width", "resized",
)
#: Pillar and composite columns added by ``paradigm.composite``.
PILLAR_COLUMNS: tuple[str, ...] = ("perceptual", "stability", "fidelity", "composite")
#: Columns of ``errors.csv``.
ERROR_COLUMNS: tuple[str, ...] = ("method", "task", "dataset", "image", "path", "stage", "reason")
#: Columns of ``summary.csv``.
SUMMARY_COLUMNS: tuple[str, ...] = ("method", "task", "dataset", "metric", "mean", "std", "count", "ci_low", "ci_high")
GROUP = ["method", "task", "dataset"]


def bootstrap_mean_ci(
    values: Sequence[float] | np.ndarray, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean.

    Args:
        values: 1-D values; NaNs are ignored.
        n_boot: number of resamples.
        seed: seed of the resampling (numpy ``default_rng``).
        alpha: 0.05 for a 95% interval.

    Returns:
        ``(low, high)``; ``(nan, nan)`` with no finite value; ``(v, v)`` with one value.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (math.nan, math.nan)
    if v.size == 1:
        return (float(v[0]), float(v[0]))
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot, dtype=np.float64)
    chunk = max(1, 2_000_000 // v.size)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, v.size, size=(stop - start, v.size))
        means[start:stop] = v[idx].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Numeric score columns of a scores table (everything after the id columns)."""
    out = []
    for c in df.columns:
        if c in ID_COLUMNS or c == "composite_missing":
            continue
        if np.issubdtype(df[c].dtype, np.number) and df[c].dtype != bool:
            out.append(c)
    return out


def summarise(df: pd.DataFrame, seed: int = 0, n_boot: int = 1000) -> pd.DataFrame:
    """Long-form summary: per (method, task, dataset) and metric column: mean, std, count, CI.

    ``ci_low``/``ci_high`` are filled only for the pillar and composite columns (bootstrap 95% of
    the mean over rows, i.e. over images — and samples, for multi-sample methods).
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    cols = metric_columns(df)
    if df.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    for (method, task, dataset), g in df.groupby(GROUP, sort=True, dropna=False):
        for c in cols:
            v = g[c].to_numpy(dtype=np.float64)
            fin = v[np.isfinite(v)]
            lo = hi = math.nan
            if c in PILLAR_COLUMNS:
                lo, hi = bootstrap_mean_ci(fin, n_boot=n_boot, seed=seed)
            rows.append(
                {
                    "method": method, "task": task, "dataset": dataset, "metric": c,
                    "mean": float(fin.mean()) if fin.size else math.nan,
                    "std": float(fin.std(ddof=1)) if fin.size > 1 else (0.0 if fin.size == 1 else math.nan),
                    "count": int(fin.size), "ci_low": lo, "ci_high": hi,
                }
            )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


def write_outputs(
    out_dir: str | os.PathLike[str],
    scores: pd.DataFrame,
    summary: pd.DataFrame,
    errors: pd.DataFrame,
    run_info: dict[str, Any],
    samples: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write every output file into ``out_dir`` (created); returns name -> path.

    Each file is written to a temporary name and renamed, so a partial file is never left.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    p = out / "scores.parquet"
    tmp = out / f".scores.parquet.{os.getpid()}.tmp"
    scores.to_parquet(tmp, index=False)
    os.replace(tmp, p)
    paths["scores.parquet"] = p
    for name, df in (("scores.csv", scores), ("summary.csv", summary), ("errors.csv", errors)):
        _atomic_write_text(out / name, df.to_csv(index=False, float_format="%.6g" if name != "scores.csv" else None))
        paths[name] = out / name
    if samples is not None:
        _atomic_write_text(out / "samples.csv", samples.to_csv(index=False))
        paths["samples.csv"] = out / "samples.csv"
    _atomic_write_text(out / "run.json", json.dumps(run_info, indent=2, sort_keys=False, default=_json_default) + "\n")
    paths["run.json"] = out / "run.json"
    return paths


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")
    a = abs(v)
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    return f"{v:.3f}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], n_left: int = 1) -> str:
    """Plain-text table: the first ``n_left`` columns left-aligned, the others right-aligned."""
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < n_left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=False)))
    sep = "  ".join("-" * w for w in widths)
    return "\n".join(ln.rstrip() for ln in [line(headers), sep, *(line(r) for r in rows)])


def summary_table(summary: pd.DataFrame, columns: Sequence[str] | None = None, max_columns: int = 8) -> str:
    """Compact per-method table (method/task/dataset x key metrics, ``mean ± std``).

    Args:
        summary: from :func:`summarise`.
        columns: metric columns to show (default: pillars/composite first, then metrics in order),
            at most ``max_columns``.
    """
    if summary.empty:
        return "(no scores)"
    has = summary.groupby("metric", sort=False)["count"].max()
    present = [m for m in dict.fromkeys(summary["metric"].tolist()) if has.get(m, 0) > 0]
    if not present:
        return "(no scores: no metric produced a value)"
    if columns is None:
        lead = [c for c in ("composite", "perceptual", "stability", "fidelity") if c in present]
        columns = lead + [c for c in present if c not in lead]
    columns = [c for c in columns if c in present][:max_columns]
    flat = bool((summary["task"] == "").all() and (summary["dataset"] == "").all())
    headers = ["method"] + ([] if flat else ["task", "dataset"]) + ["n"] + list(columns)
    rows = []
    for (method, task, dataset), g in summary.groupby(GROUP, sort=True):
        by = g.set_index("metric")
        n = int(by["count"].max()) if len(by) else 0
        cells = [str(method)] + ([] if flat else [str(task), str(dataset)]) + [str(n)]
        for c in columns:
            if c in by.index:
                m, s = float(by.at[c, "mean"]), float(by.at[c, "std"])
                cells.append(f"{_fmt(m)} ± {_fmt(s)}" if np.isfinite(s) else _fmt(m))
            else:
                cells.append("-")
        rows.append(cells)
    return format_table(headers, rows, n_left=1 if flat else 3)
