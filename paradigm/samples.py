"""Several samples per input: per-input statistics (mean, floor, ceiling, spread) and diversity.

Stochastic restorers (diffusion, GAN samplers) can produce K outputs for one input. The engine
writes one row per sample (column ``sample``, see ``docs/contracts.md`` §2) and calls
:func:`aggregate_samples`; :func:`summarise_samples` turns its result into one row per method, and
:func:`rank_methods` ranks methods by their mean or their floor (worst sample), which rewards
methods that are reliably good rather than good on average.

Direction: ``floor`` is the worst sample and ``ceiling`` the best, so for lower-is-better metrics
(LPIPS, ΔE) the floor is the *largest* value. Directions come from :func:`paradigm.metric_info`
(a multi-output metric may declare ``column_higher_is_better`` per output column; ``None`` there
means "signed, no better/worse", e.g. ``shift_dx``). Pillars and the composite are higher-is-better.
Columns without a known direction get ``floor = ceiling = NaN`` (pass ``directions=`` to set them).

Run-to-run stability (CCSR, Sun et al., arXiv 2401.00877): their **G-STD** of a metric is the standard
deviation of the metric over the N runs of one input, averaged over inputs — here the ``spread``
column of :func:`aggregate_samples` (population std) averaged by :func:`summarise_samples`, also
given per row by :func:`run_spread`; their **L-STD** is the pixel-wise standard deviation over the N
outputs of one input, averaged over pixels — :func:`local_std` (on [0, 1] values; multiply by 255 for
8-bit units). A task profile's ``run_spread`` option lets the G-STD of one metric enter the stability
pillar (``paradigm.composite.profiles``).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from .errors import InputError, ParadigmError

logger = logging.getLogger(__name__)

__all__ = [
    "KEYS",
    "PILLAR_COLUMNS",
    "aggregate_samples",
    "summarise_samples",
    "rank_methods",
    "column_directions",
    "sample_diversity",
    "Diversity",
    "run_spread",
    "local_std",
    "local_std_table",
    "with_local_std",
    "spread_report",
    "local_std_summary",
]

#: Columns identifying one input (one row per input after aggregation).
KEYS: tuple[str, ...] = ("method", "task", "dataset", "image")
#: Pillar and composite columns: always higher-is-better, reported first.
PILLAR_COLUMNS: tuple[str, ...] = ("composite", "perceptual", "stability", "fidelity")
#: Non-metric columns of ``scores.parquet`` (contracts §2) that are never aggregated.
META_COLUMNS: frozenset[str] = frozenset(
    {"method", "task", "dataset", "image", "sample", "output_path", "gt_path", "input_path", "height", "width", "resized"}
)
#: Columns of the :func:`aggregate_samples` result.
STAT_COLUMNS: tuple[str, ...] = ("mean", "floor", "ceiling", "spread", "count", "higher_is_better")


def _registered_directions() -> dict[str, bool | None]:
    """Output column -> higher_is_better (or None) over all registered metrics."""
    from .metrics.registry import get_metric_class, list_metrics

    out: dict[str, bool | None] = {}
    for name in list_metrics():
        cls = get_metric_class(name)
        per_col: Mapping[str, bool | None] = getattr(cls, "column_higher_is_better", {}) or {}
        for col in cls.outputs or (cls.name,):
            out.setdefault(col, per_col.get(col, cls.higher_is_better) if per_col else cls.higher_is_better)
    return out


def column_directions(
    columns: Iterable[str], overrides: Mapping[str, bool | None] | None = None
) -> dict[str, bool | None]:
    """Direction of each column: True (higher is better), False (lower is better) or None (unknown/signed).

    Args:
        columns: score column names.
        overrides: explicit directions that win over the registry.

    Returns:
        dict column -> direction.
    """
    overrides = dict(overrides or {})
    try:
        reg = _registered_directions()
    except (ParadigmError, ImportError) as exc:  # a broken metric module must not stop aggregation
        logger.warning("could not read metric directions from the registry: %s", exc)
        reg = {}
    out: dict[str, bool | None] = {}
    for col in columns:
        if col in overrides:
            out[col] = overrides[col]
        elif col in PILLAR_COLUMNS:
            out[col] = True
        else:
            out[col] = reg.get(col)
    return out


def _value_columns(df: pd.DataFrame) -> list[str]:
    cols = [c for c in PILLAR_COLUMNS if c in df.columns]
    for c in df.columns:
        if c in META_COLUMNS or c in cols:
            continue
        if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]):
            cols.append(str(c))
    return cols


def aggregate_samples(
    df: pd.DataFrame,
    *,
    directions: Mapping[str, bool | None] | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-input statistics over several samples.

    Args:
        df: per-image scores (``scores.parquet`` layout): key columns ``method, task, dataset,
            image`` (missing ones are treated as ``""``), a ``sample`` column (``""`` for
            single-output methods; optional) and numeric score columns. NaN scores are ignored.
        directions: column -> higher_is_better (True/False/None) overriding the registry.
        columns: score columns to aggregate; default: the pillars/composite present plus every
            other numeric column that is not metadata (``height``, ``width``, ``resized``...).

    Returns:
        Long-form DataFrame, one row per (method, task, dataset, image, metric), columns
        ``method, task, dataset, image, metric, mean, floor, ceiling, spread, count,
        higher_is_better``: ``floor`` = worst sample, ``ceiling`` = best (direction-aware; NaN when
        the direction is unknown), ``spread`` = population standard deviation (0 for one sample),
        ``count`` = samples with a value. Deterministic methods get count 1 and spread 0.

    Raises:
        InputError: ``df`` is not a DataFrame, or a requested column is missing/non-numeric.
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"aggregate_samples needs a pandas DataFrame, got {type(df).__name__}")
    data = df.copy()
    for k in KEYS:
        if k not in data.columns:
            data[k] = ""
        data[k] = data[k].fillna("").astype(str)
    if columns is None:
        cols = _value_columns(data)
    else:
        missing = [c for c in columns if c not in data.columns]
        if missing:
            raise InputError(f"columns {missing} are not in the scores table (it has {list(data.columns)})")
        bad = [c for c in columns if not pd.api.types.is_numeric_dtype(data[c])]
        if bad:
            raise InputError(f"columns {bad} are not numeric and cannot be aggregated")
        cols = list(columns)
    dirs = column_directions(cols, directions)
    out_cols = [*KEYS, "metric", *STAT_COLUMNS]
    if not cols or data.empty:
        return pd.DataFrame(columns=out_cols)

    grouped = data.groupby(list(KEYS), sort=True, dropna=False)[cols]
    stats = {
        "mean": grouped.mean(),
        "min": grouped.min(),
        "max": grouped.max(),
        "spread": grouped.std(ddof=0),
        "count": grouped.count(),
    }
    frames = []
    for col in cols:
        d = dirs[col]
        lo, hi = stats["min"][col], stats["max"][col]
        if d is True:
            floor, ceiling = lo, hi
        elif d is False:
            floor, ceiling = hi, lo
        else:
            floor = ceiling = lo * np.nan
        part = pd.DataFrame(
            {
                "metric": col,
                "mean": stats["mean"][col],
                "floor": floor,
                "ceiling": ceiling,
                "spread": stats["spread"][col],
                "count": stats["count"][col].astype(int),
                "higher_is_better": d,
            }
        )
        frames.append(part.reset_index())
    out = pd.concat(frames, ignore_index=True)
    out["higher_is_better"] = out["higher_is_better"].astype(object)
    return out[out_cols]


def summarise_samples(agg: pd.DataFrame) -> pd.DataFrame:
    """Per-method summary of :func:`aggregate_samples`: means over inputs of the per-input statistics.

    Args:
        agg: the long-form result of :func:`aggregate_samples`.

    Returns:
        DataFrame with one row per (method, task, dataset, metric): ``mean`` (mean of per-input
        means), ``floor``, ``ceiling``, ``spread`` (means of the per-input values), ``n_inputs``,
        ``samples_per_input`` (mean count) and ``higher_is_better``.

    Raises:
        InputError: ``agg`` lacks the expected columns.
    """
    need = {"method", "task", "dataset", "metric", "mean", "floor", "ceiling", "spread", "count"}
    if not isinstance(agg, pd.DataFrame) or not need <= set(agg.columns):
        have = list(agg.columns) if isinstance(agg, pd.DataFrame) else type(agg).__name__
        raise InputError(f"summarise_samples needs the output of aggregate_samples; got columns {have}")
    keys = ["method", "task", "dataset", "metric"]
    g = agg.groupby(keys, sort=True, dropna=False)
    out = g[["mean", "floor", "ceiling", "spread"]].mean()
    out["n_inputs"] = g["mean"].count()
    out["samples_per_input"] = g["count"].mean()
    out["higher_is_better"] = g["higher_is_better"].first() if "higher_is_better" in agg.columns else None
    return out.reset_index()


def rank_methods(summary: pd.DataFrame, metric: str = "composite", *, by: str = "mean") -> pd.DataFrame:
    """Rank methods on one metric by ``mean`` or ``floor`` (worst sample) of :func:`summarise_samples`.

    Args:
        summary: output of :func:`summarise_samples`.
        metric: metric (or pillar/composite) column to rank on.
        by: ``"mean"``, ``"floor"`` or ``"ceiling"``.

    Returns:
        The rows of ``metric``, best first, with a 1-based ``rank`` column (per task and dataset).

    Raises:
        InputError: unknown ``by``, unknown metric, or a metric without a direction.
    """
    if by not in ("mean", "floor", "ceiling"):
        raise InputError(f"by must be 'mean', 'floor' or 'ceiling', got {by!r}")
    rows = summary[summary["metric"] == metric].copy()
    if rows.empty:
        raise InputError(f"metric {metric!r} is not in the summary; available: {sorted(summary['metric'].unique())}")
    hib = rows["higher_is_better"].iloc[0]
    if hib is None or (isinstance(hib, float) and np.isnan(hib)):
        raise InputError(f"metric {metric!r} has no direction (signed diagnostic); it cannot be ranked")
    rows = rows.sort_values(["task", "dataset", by], ascending=[True, True, not bool(hib)])
    rows["rank"] = rows.groupby(["task", "dataset"]).cumcount() + 1
    return rows.reset_index(drop=True)


class Diversity(float):
    """A float (mean pairwise distance) that also records how it was computed.

    Attributes:
        metric: ``"lpips"`` or ``"1-ssim"``.
        pairs: number of sample pairs averaged.
    """

    metric: str
    pairs: int

    def __new__(cls, value: float, metric: str, pairs: int) -> Diversity:
        obj = super().__new__(cls, value)
        obj.metric = metric
        obj.pairs = pairs
        return obj

    def __repr__(self) -> str:
        return f"Diversity({float(self)!r}, metric={self.metric!r}, pairs={self.pairs})"

    def as_dict(self) -> dict[str, Any]:
        """``{"diversity": value, "diversity_metric": metric, "diversity_pairs": pairs}`` for tables."""
        return {"diversity": float(self), "diversity_metric": self.metric, "diversity_pairs": self.pairs}


def _stack(images: Sequence[torch.Tensor]) -> torch.Tensor:
    from .metrics.base import check_image

    if not isinstance(images, (list, tuple)):
        raise InputError(f"sample_diversity needs a list of image tensors, got {type(images).__name__}")
    ts = []
    for i, im in enumerate(images):
        if not isinstance(im, torch.Tensor):
            raise InputError(f"sample {i} is a {type(im).__name__}, expected a torch.Tensor (C,H,W) or (1,C,H,W)")
        t = im[None] if im.ndim == 3 else im
        check_image(t, f"sample {i}")
        if t.shape[0] != 1:
            raise InputError(f"sample {i} has batch size {t.shape[0]}; pass one image per list item")
        ts.append(t)
    shapes = {tuple(t.shape) for t in ts}
    if len(shapes) > 1:
        raise InputError(f"samples differ in shape {sorted(shapes)}; resize them to one size first")
    return torch.cat(ts) if ts else torch.empty(0)


#: LPIPS metric (or False once it proved unavailable), created once per process.
_LPIPS: dict[str, Any] = {}


def _lpips_metric() -> Any | None:
    if "m" not in _LPIPS:
        try:
            from . import create_metric

            _LPIPS["m"] = create_metric("lpips")
        except (ParadigmError, ImportError, OSError, RuntimeError) as exc:
            logger.info("LPIPS unavailable for sample diversity (%s); using 1 - SSIM", exc)
            _LPIPS["m"] = False
    return _LPIPS["m"] or None


def _ssim_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    try:
        from . import create_metric

        m = create_metric("ssim")
        with torch.no_grad():
            return 1.0 - torch.as_tensor(m(x, y), dtype=torch.float64).reshape(-1).cpu()
    except (ParadigmError, ImportError):
        from skimage.metrics import structural_similarity

        vals = []
        for a, b in zip(x, y, strict=True):
            an, bn = a.detach().cpu().double().numpy(), b.detach().cpu().double().numpy()
            vals.append(1.0 - structural_similarity(an, bn, data_range=1.0, channel_axis=0))
        return torch.tensor(vals, dtype=torch.float64)


def sample_diversity(images: Sequence[torch.Tensor], *, metric: str = "auto") -> Diversity:
    """Mean pairwise perceptual distance between the samples of one input.

    Args:
        images: K >= 2 samples, each ``(C, H, W)`` or ``(1, C, H, W)`` float in [0, 1], same shape.
        metric: ``"auto"`` (LPIPS when ``paradigm.create_metric("lpips")`` works, i.e. its weights
            are available; else ``1 - SSIM``), ``"lpips"`` or ``"1-ssim"``.

    Returns:
        :class:`Diversity` (a float; 0 when all samples are identical) with ``.metric`` naming the
        distance used and ``.pairs`` the number of pairs. Fewer than 2 samples give NaN with
        ``.metric`` = the requested one (``"auto"`` when not forced) and ``.pairs = 0``.

    Raises:
        InputError: bad images or unknown ``metric``; MetricUnavailableError when ``metric="lpips"``
        is forced but unavailable.
    """
    if metric not in ("auto", "lpips", "1-ssim"):
        raise InputError(f"metric must be 'auto', 'lpips' or '1-ssim', got {metric!r}")
    x = _stack(images)
    k = x.shape[0] if x.numel() else 0
    pairs = list(itertools.combinations(range(k), 2))
    i = torch.tensor([p[0] for p in pairs], dtype=torch.long)
    j = torch.tensor([p[1] for p in pairs], dtype=torch.long)
    if not pairs:  # fewer than two samples: diversity is undefined
        return Diversity(float("nan"), metric, 0)
    d: torch.Tensor | None = None
    if metric in ("auto", "lpips"):
        lp = _lpips_metric()
        if lp is not None:
            try:
                with torch.no_grad():
                    d = torch.as_tensor(lp(x[i], x[j]), dtype=torch.float64).reshape(-1).cpu()
            except (ParadigmError, ImportError, OSError) as exc:  # weights resolved lazily, on first use
                logger.info("LPIPS unavailable for sample diversity (%s); using 1 - SSIM", exc)
                _LPIPS["m"] = False
                d = None
        if d is None and metric == "lpips":
            from .errors import MetricUnavailableError

            raise MetricUnavailableError("LPIPS is not available here (weights or package missing); use metric='1-ssim'")
    name = "lpips" if d is not None else "1-ssim"
    if d is None:
        d = _ssim_distance(x[i], x[j])
    return Diversity(float(d.mean()), name, len(pairs))


def run_spread(df: pd.DataFrame, metric: str) -> np.ndarray:
    """Per row, the population std of ``metric`` over the samples of the same input (CCSR's G-STD per input).

    Args:
        df: per-image scores with the key columns ``method, task, dataset, image`` (missing ones count
            as ``""``) and ``metric``.
        metric: the score column.

    Returns:
        float64 array, one value per row of ``df``: the std (ddof 0) over the rows sharing its input,
        NaN where the input has fewer than 2 samples with a value, or ``metric`` is absent.
    """
    n = len(df)
    if metric not in df.columns or n == 0:
        return np.full(n, np.nan)
    keys = pd.DataFrame({k: (df[k].fillna("").astype(str) if k in df.columns else "") for k in KEYS}, index=df.index)
    vals = pd.to_numeric(df[metric], errors="coerce")
    grp = vals.groupby([keys[k] for k in KEYS], sort=False)
    std = grp.transform(lambda v: v.std(ddof=0))
    cnt = grp.transform("count")
    return np.asarray(np.where(cnt >= 2, std, np.nan), dtype=np.float64)


def local_std(images: Sequence[torch.Tensor]) -> float:
    """CCSR's L-STD of one input: the pixel-wise std over its K samples, averaged over pixels and channels.

    Args:
        images: K >= 2 samples, each ``(C, H, W)`` or ``(1, C, H, W)`` float in [0, 1], same shape.

    Returns:
        The mean pixel-wise population std, in [0, 1] units (0 when all samples are identical; NaN for
        fewer than 2 samples).

    Raises:
        InputError: bad images.
    """
    x = _stack(images)
    if x.numel() == 0 or x.shape[0] < 2:
        return float("nan")
    return float(x.to(torch.float64).std(dim=0, unbiased=False).mean())


#: Columns of :func:`local_std_table`.
LOCAL_STD_COLUMNS: tuple[str, ...] = (*KEYS, "l_std", "l_std_samples")


def _one_local_std(paths: Sequence[str], read: Any) -> tuple[float, int, list[tuple[str, str]]]:
    """L-STD of one input from its sample files, streamed (Welford, float64): ``(value, decoded, errors)``.

    Only one sample and the running mean/M2 are held in memory, whatever K is.
    """
    mean = m2 = None
    k = 0
    errors: list[tuple[str, str]] = []
    for p in paths:
        try:
            t = read(p).to(torch.float64)
        except (ParadigmError, OSError, ValueError) as exc:
            errors.append((p, f"sample not decodable for L-STD: {exc}"))
            continue
        if mean is not None and t.shape != mean.shape:
            errors.append((p, f"sample is {tuple(t.shape[-2:])} px but this input's first sample is "
                              f"{tuple(mean.shape[-2:])} px; L-STD needs its samples at one size"))
            continue
        k += 1
        if mean is None or m2 is None:
            mean, m2 = t.clone(), torch.zeros_like(t)
            continue
        d = t - mean
        mean += d / k
        m2 += d * (t - mean)
    if k < 2 or m2 is None:
        return float("nan"), k, errors
    return float(torch.sqrt(m2 / k).mean()), k, errors


def local_std_table(
    scores: pd.DataFrame, *, read: Any = None, progress: bool | None = None, memo: Any = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """CCSR's L-STD of every input scored with several samples, from the sample files of a run.

    Each input's K samples (rows of ``scores`` sharing ``method, task, dataset, image`` with a non-empty
    ``sample``) are decoded once, as delivered (before any resize to the GT), and :func:`local_std` is
    computed over them without holding all K in memory. Inputs with one sample get no row.

    Args:
        scores: the per-image table of ``paradigm score`` (``output_path`` and ``sample`` columns).
        read: ``path -> (C, H, W)`` tensor in [0, 1] [default :func:`paradigm.io.read_image`].
        progress: draw a progress bar (None: only when stderr is a terminal).
        memo: optional store of finished values (the engine's cache): ``memo.get(paths)`` returns
            ``(l_std, samples)`` or None, ``memo.put(paths, l_std, samples)`` keeps an error-free one.

    Returns:
        ``(table, errors)``: one row per input with ``method, task, dataset, image, l_std,
        l_std_samples`` (``l_std`` in [0, 1] units, NaN when fewer than 2 samples decoded;
        ``l_std_samples`` = samples decoded), and error rows (``method, task, dataset, image, path,
        stage, reason`` with stage ``l_std``) for samples that could not be decoded or differ in size.
    """
    from ._progress import progress_bar

    if read is None:
        from .io import read_image as read
    errs_cols = [*KEYS, "path", "stage", "reason"]
    need = {"sample", "output_path"}
    if not isinstance(scores, pd.DataFrame) or not need <= set(scores.columns) or scores.empty:
        return pd.DataFrame(columns=list(LOCAL_STD_COLUMNS)), pd.DataFrame(columns=errs_cols)
    data = scores[scores["sample"].fillna("").astype(str) != ""]
    keys = pd.DataFrame({k: (data[k].fillna("").astype(str) if k in data.columns else "") for k in KEYS},
                        index=data.index)
    groups = [(key, list(dict.fromkeys(g.astype(str))))
              for key, g in data["output_path"].groupby([keys[k] for k in KEYS], sort=True)]
    groups = [(key, paths) for key, paths in groups if len(paths) >= 2]
    rows: list[tuple[Any, ...]] = []
    errors: list[tuple[Any, ...]] = []
    with progress_bar(groups, enabled=progress is not False, desc="L-STD", unit="input") as bar:
        for key, paths in bar:
            hit = memo.get(paths) if memo is not None else None
            if hit is not None:
                rows.append((*key, *hit))
                continue
            value, k, errs = _one_local_std(paths, read)
            if memo is not None and not errs:
                memo.put(paths, value, k)
            rows.append((*key, value, k))
            errors += [(*key, p, "l_std", why) for p, why in errs]
    return pd.DataFrame(rows, columns=list(LOCAL_STD_COLUMNS)), pd.DataFrame(errors, columns=errs_cols)


def with_local_std(agg: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """:func:`aggregate_samples` output with one ``l_std`` row per input of :func:`local_std_table`.

    The row has ``metric = "l_std"``, ``mean`` = the input's L-STD, ``count`` = samples decoded,
    ``higher_is_better`` False (less run-to-run variation is more stable) and NaN ``floor``,
    ``ceiling`` and ``spread`` (L-STD is already a statistic over the samples), so
    :func:`summarise_samples` gives each method's mean L-STD over its inputs.
    """
    if table.empty:
        return agg
    rows = table[list(KEYS)].copy()
    rows["metric"] = "l_std"
    rows["mean"] = table["l_std"].astype("float64")
    rows["floor"] = rows["ceiling"] = rows["spread"] = np.nan
    rows["count"] = table["l_std_samples"].astype(int)
    rows["higher_is_better"] = False
    rows["higher_is_better"] = rows["higher_is_better"].astype(object)
    return pd.concat([agg, rows], ignore_index=True) if len(agg) else rows.reset_index(drop=True)


def spread_report(agg: pd.DataFrame) -> list[dict[str, Any]]:
    """Run-to-run spread per (method, task, dataset), for ``run.json``: CCSR's G-STD and L-STD.

    Args:
        agg: :func:`aggregate_samples` output, with the ``l_std`` rows of :func:`with_local_std`.

    Returns:
        One dict per method/task/dataset that has an input with several samples: ``method``,
        ``task``, ``dataset``, ``n_inputs`` (inputs with >= 2 samples), ``samples_per_input``,
        ``g_std`` (``{column: mean over those inputs of the std over samples}`` for the composite
        and pillars present) and ``l_std`` (mean L-STD over inputs, [0, 1] units; None if not
        computed). An empty list when ``agg`` is not in that layout.
    """
    need = {"method", "task", "dataset", "metric", "mean", "spread", "count"}
    if not isinstance(agg, pd.DataFrame) or not need <= set(agg.columns) or agg.empty:
        return []
    multi = agg[agg["count"] >= 2]
    out: list[dict[str, Any]] = []
    for (method, task, dataset), g in multi.groupby(["method", "task", "dataset"], sort=True):
        lstd = g[g["metric"] == "l_std"]["mean"].dropna()
        gstd = {str(c): float(g[g["metric"] == c]["spread"].mean()) for c in PILLAR_COLUMNS
                if (g["metric"] == c).any()}
        per_input = g.groupby(list(KEYS))["count"].max()
        out.append({
            "method": str(method), "task": str(task), "dataset": str(dataset),
            "n_inputs": int(len(per_input)), "samples_per_input": float(per_input.mean()),
            "g_std": {k: (v if np.isfinite(v) else None) for k, v in gstd.items()},
            "l_std": float(lstd.mean()) if len(lstd) else None,
        })
    return out


def local_std_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per-method rows of :func:`local_std_table` in the ``summary.csv`` layout (metric ``l_std``).

    ``mean`` and ``std`` (ddof 1) over the inputs with a finite L-STD, ``count`` = those inputs, no CI.
    """
    cols = ["method", "task", "dataset", "metric", "mean", "std", "count", "ci_low", "ci_high"]
    rows = []
    for (method, task, dataset), g in table.groupby(["method", "task", "dataset"], sort=True):
        v = g["l_std"].to_numpy(dtype=np.float64)
        v = v[np.isfinite(v)]
        rows.append((method, task, dataset, "l_std", float(v.mean()) if v.size else np.nan,
                     float(v.std(ddof=1)) if v.size > 1 else (0.0 if v.size else np.nan), int(v.size), np.nan, np.nan))
    return pd.DataFrame(rows, columns=cols)
