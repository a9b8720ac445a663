"""The per-method summary that ``paradigm score`` prints: every requested metric, wrapped to the terminal.

The summary table used to cut off after eight columns, so a run with ``--metrics all`` silently hid
PSNR, SSIM, MS-SSIM and GMSD. Here every metric column that has a value is shown: columns are grouped
into one block per pillar (``overall``: composite and pillars; then ``perceptual``, ``stability``,
``fidelity``, ``diagnostic``, and ``other`` for columns no registered metric declares), and a block
wider than the terminal is split into several tables that fit, each repeating the method/task/dataset
columns. Nothing is dropped; the full numbers are in ``summary.csv`` with ``--out``.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Mapping, Sequence

import pandas as pd

__all__ = ["BLOCKS", "column_pillars", "render_summary"]

#: Block order; ``overall`` holds the composite and the pillar columns.
BLOCKS: tuple[str, ...] = ("overall", "perceptual", "stability", "fidelity", "diagnostic", "other")
_OVERALL = ("composite", "perceptual", "stability", "fidelity")
_GROUP = ("method", "task", "dataset")
_GAP = "  "


def column_pillars() -> dict[str, str]:
    """Output column -> pillar of its metric, for every registered metric (empty if the registry fails)."""
    try:
        from .metrics.registry import get_metric_class, list_metrics

        out: dict[str, str] = {}
        for name in list_metrics():
            cls = get_metric_class(name)
            for col in cls.outputs or (cls.name,):
                out[col] = cls.pillar
        return out
    except Exception:  # pragma: no cover - a broken optional metric module must not hide the table
        return {}


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    a = abs(v)
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    return f"{v:.3f}"


def _cell(by: pd.DataFrame, col: str) -> str:
    if col not in by.index:
        return "-"
    m, s = float(by.at[col, "mean"]), float(by.at[col, "std"])
    return f"{_fmt(m)} ± {_fmt(s)}" if math.isfinite(s) else _fmt(m)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], n_left: int, widths: Sequence[int]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return _GAP.join(c.ljust(w) if i < n_left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    sep = _GAP.join("-" * w for w in widths)
    return [ln.rstrip() for ln in (line(headers), sep, *(line(r) for r in rows))]


def _chunks(widths: Mapping[str, int], cols: Sequence[str], room: int) -> list[list[str]]:
    """Split ``cols`` (in order) into runs whose total width (with gaps) fits ``room`` (>= 1 column each)."""
    out: list[list[str]] = []
    cur: list[str] = []
    used = 0
    for c in cols:
        need = widths[c] + len(_GAP)
        if cur and used + need > room:
            out.append(cur)
            cur, used = [], 0
        cur.append(c)
        used += need
    if cur:
        out.append(cur)
    return out


def _blocks(columns: Sequence[str], pillar_of: Mapping[str, str]) -> list[tuple[str, list[str]]]:
    by_block: dict[str, list[str]] = {b: [] for b in BLOCKS}
    for c in columns:
        block = "overall" if c in _OVERALL else pillar_of.get(c, "other")
        by_block[block if block in by_block else "other"].append(c)
    return [(b, cols) for b, cols in by_block.items() if cols]


def render_summary(
    summary: pd.DataFrame,
    width: int | None = None,
    columns: Sequence[str] | None = None,
    pillar_of: Mapping[str, str] | None = None,
) -> str:
    """The per-method summary (``mean ± std`` per method × task × dataset), every metric shown.

    Args:
        summary: the ``summary.csv`` table (columns ``method, task, dataset, metric, mean, std, count…``).
        width: terminal width in characters [default: ``shutil.get_terminal_size`` (fallback 100)].
        columns: metric columns to show [default: every column with a value, composite and pillars first].
        pillar_of: column -> pillar [default: from the metric registry, :func:`column_pillars`].

    Returns:
        One or more plain-text tables. With more than one, each is headed by its block name (and part
        number when a block is split) so that no column is left out silently.
    """
    if summary.empty:
        return "(no scores)"
    has = summary.groupby("metric", sort=False)["count"].max()
    present = [m for m in dict.fromkeys(summary["metric"].tolist()) if has.get(m, 0) > 0]
    if not present:
        return "(no scores: no metric produced a value)"
    if columns is None:
        lead = [c for c in _OVERALL if c in present]
        columns = lead + [c for c in present if c not in lead]
    columns = [c for c in columns if c in present]
    width = width if width is not None else shutil.get_terminal_size((100, 24)).columns
    flat = bool((summary["task"] == "").all() and (summary["dataset"] == "").all())
    ids = ["method"] + ([] if flat else ["task", "dataset"]) + ["n"]
    id_rows, cells = [], []
    for (method, task, dataset), g in summary.groupby(list(_GROUP), sort=True):
        by = g.set_index("metric")
        n = int(by["count"].max()) if len(by) else 0
        id_rows.append([str(method)] + ([] if flat else [str(task), str(dataset)]) + [str(n)])
        cells.append({c: _cell(by, c) for c in columns})
    id_w = [max(len(h), *(len(r[i]) for r in id_rows)) for i, h in enumerate(ids)]
    col_w = {c: max(len(c), *(len(r[c]) for r in cells)) for c in columns}
    room = max(1, width - (sum(id_w) + len(_GAP) * (len(id_w) - 1)))
    parts: list[tuple[str, list[str]]] = [("", list(columns))]
    if sum(col_w.values()) + len(_GAP) * len(columns) > room:  # too wide: one block per pillar, split to fit
        parts = []
        for block, cols in _blocks(columns, pillar_of if pillar_of is not None else column_pillars()):
            pieces = _chunks(col_w, cols, room)
            parts += [(block if len(pieces) == 1 else f"{block} ({k}/{len(pieces)})", p)
                      for k, p in enumerate(pieces, start=1)]
    out: list[str] = []
    for title, cols in parts:
        if title:
            out += ([""] if out else []) + [f"[{title}]"]
        rows = [r + [c[k] for k in cols] for r, c in zip(id_rows, cells, strict=True)]
        out += _table([*ids, *cols], rows, len(ids) - 1, [*id_w, *(col_w[k] for k in cols)])
    return "\n".join(out)
