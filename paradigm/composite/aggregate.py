"""Pillar scores and the composite: calibrate, average per pillar, combine pillars.

Per pillar, the score is the weighted mean of the calibrated metrics that ran for that row (the
metric weights are renormalised over them). The pillars are combined with non-negative weights
summing to 1 (again renormalised over the pillars that ran) by one of:

- ``weighted_geometric`` (default): ``prod_p max(P_p, 0.05) ** w_p``. A collapsed pillar drags the
  composite down multiplicatively, so a high score on one pillar cannot hide a failure on another;
  the floor ``PILLAR_FLOOR = 0.05`` keeps one failed pillar from erasing every other signal (with
  three equal weights a pillar at 0 caps the composite at ``0.05 ** (1/3) = 0.37`` times the
  geometric mean of the other two, instead of 0).
- ``weighted_arithmetic``: ``sum_p w_p P_p`` (pillars fully compensate each other).
- ``min_penalty``: the arithmetic mean minus ``penalty * max(0, (max_p P_p - min_p P_p) - threshold)``,
  clipped to [0, 1]: compensation up to a tolerated imbalance, then a linear penalty.

:func:`aggregate` is the function ``meta_eval`` calls to compare the rules on human data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..errors import CompositeSchemaError, InputError, MetricUnavailableError
from .calibration import calibrate
from .schema import AGGREGATIONS, MIN_PENALTY_DEFAULTS, PILLARS, CompositeSpec, load_composite

log = logging.getLogger(__name__)

#: Floor applied to pillar scores in the geometric mean: one pillar at 0 dominates the composite but
#: does not erase the others (composite v2; v1 used 1e-6, which turned any zero into a zero).
PILLAR_FLOOR = 0.05
#: Backwards-compatible name of :data:`PILLAR_FLOOR`.
GEOMETRIC_FLOOR = PILLAR_FLOOR
#: Suffix of the column holding a no-reference metric's value on the reference (``niqe_ref``).
REF_SUFFIX = "_ref"
#: Columns added by :func:`apply_composite`.
OUTPUT_COLUMNS: tuple[str, ...] = (*PILLARS, "composite", "composite_missing")


def weighted_nanmean(values: NDArray[np.float64], weights: NDArray[np.float64]) -> NDArray[np.float64]:
    """Row-wise weighted mean over the non-NaN entries, weights renormalised per row.

    Args:
        values: ``(n, k)`` array, NaN where a part did not run.
        weights: ``(k,)`` non-negative weights.

    Returns:
        ``(n,)`` array; NaN where no part with positive weight ran.
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.broadcast_to(np.asarray(weights, dtype=np.float64), v.shape)
    present = ~np.isnan(v)
    den = np.where(present, w, 0.0).sum(axis=1)
    num = np.where(present, v * w, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return np.asarray(out, dtype=np.float64)


def aggregate(
    pillar_scores: pd.DataFrame,
    weights: Mapping[str, float],
    method: str = "weighted_geometric",
    *,
    threshold: float = MIN_PENALTY_DEFAULTS["threshold"],
    penalty: float = MIN_PENALTY_DEFAULTS["penalty"],
) -> pd.Series:
    """Combine pillar scores into the composite, per row.

    Args:
        pillar_scores: one column per pillar named in ``weights``, values in [0, 1], NaN where a
            pillar did not run for that row (its weight is then shared by the others).
        weights: pillar -> non-negative weight (renormalised over the pillars present per row).
        method: ``"weighted_geometric"``, ``"weighted_arithmetic"`` or ``"min_penalty"``.
        threshold: ``min_penalty``: tolerated gap between the best and worst pillar.
        penalty: ``min_penalty``: slope of the penalty beyond ``threshold``.

    Returns:
        Series (index of ``pillar_scores``, name ``"composite"``) in [0, 1]; NaN where no pillar ran.

    Raises:
        CompositeSchemaError: unknown method, negative weights or a pillar column that is absent.

    Example:
        >>> df = pd.DataFrame({"fidelity": [0.9, 0.9], "perceptual": [0.9, 0.1]})
        >>> aggregate(df, {"fidelity": 0.5, "perceptual": 0.5}, "weighted_arithmetic").round(3).tolist()
        [0.9, 0.5]
        >>> aggregate(df, {"fidelity": 0.5, "perceptual": 0.5}).round(3).tolist()
        [0.9, 0.3]
        >>> aggregate(pd.DataFrame({"fidelity": [0.9], "perceptual": [0.0]}), {"fidelity": 0.5, "perceptual": 0.5}).round(3).tolist()
        [0.212]
    """
    if method not in AGGREGATIONS:
        raise CompositeSchemaError(f"unknown aggregation {method!r}; use one of {list(AGGREGATIONS)}")
    names = list(weights)
    absent = [n for n in names if n not in pillar_scores.columns]
    if absent:
        raise CompositeSchemaError(f"pillar column(s) {absent} not in the table (columns: {list(pillar_scores.columns)})")
    w = np.array([float(weights[n]) for n in names], dtype=np.float64)
    if (w < 0).any() or not np.isfinite(w).all():
        raise CompositeSchemaError(f"pillar weights must be finite and >= 0, got {dict(weights)}")
    p = pillar_scores[names].to_numpy(dtype=np.float64)
    if method == "weighted_geometric":
        logs = np.log(np.clip(p, PILLAR_FLOOR, None))
        out = np.exp(weighted_nanmean(logs, w))
    else:
        out = weighted_nanmean(p, w)
        if method == "min_penalty":
            used = ~np.isnan(p) & (w > 0)
            hi = np.where(used, p, -np.inf).max(axis=1, initial=-np.inf)
            lo = np.where(used, p, np.inf).min(axis=1, initial=np.inf)
            gap = np.where(used.any(axis=1), hi - lo, 0.0)
            out = out - penalty * np.clip(gap - threshold, 0.0, None)
    out = np.where(np.isnan(out), np.nan, np.clip(out, 0.0, 1.0))
    return pd.Series(out, index=pillar_scores.index, name="composite", dtype=np.float64)


def calibrated_table(df: pd.DataFrame, spec: CompositeSpec) -> pd.DataFrame:
    """Calibrated values of every metric of ``spec`` (columns absent from ``df`` are all NaN).

    A no-reference metric whose calibration is ``relative_to_reference`` uses the column
    ``<metric>_ref`` (its value on the ground truth) when the table has it.
    """
    cols: dict[str, NDArray[np.float64]] = {}
    for m in spec.metrics():
        if m == "run_spread" and m not in df.columns and "of" in spec.calibrations[m]:
            from ..samples import run_spread  # a profile's run_spread option (profiles._inject_run_spread)

            cols[m] = calibrate(run_spread(df, str(spec.calibrations[m]["of"])), spec.calibrations[m])
        elif m in df.columns:
            raw = pd.to_numeric(df[m], errors="coerce").to_numpy(dtype=np.float64)
            rc = m + REF_SUFFIX
            ref = pd.to_numeric(df[rc], errors="coerce").to_numpy(dtype=np.float64) if rc in df.columns else None
            cols[m] = calibrate(raw, spec.calibrations[m], ref)
        else:
            cols[m] = np.full(len(df), np.nan)
    return pd.DataFrame(cols, index=df.index, columns=spec.metrics())


def pillar_table(calibrated: pd.DataFrame, spec: CompositeSpec) -> pd.DataFrame:
    """Per-row pillar scores from calibrated metrics (weights renormalised over what ran)."""
    out = {}
    for name, p in spec.pillars.items():
        vals = calibrated[list(p.metrics)].to_numpy(dtype=np.float64)
        out[name] = weighted_nanmean(vals, np.array(list(p.metrics.values()), dtype=np.float64))
    return pd.DataFrame(out, index=calibrated.index, columns=list(spec.pillars))


def resolve_spec(composite: str | None = None, profile: str | None = None) -> CompositeSpec:
    """Load a composite (name or file; None = ``"default"``) and apply a task profile (None = none)."""
    spec = load_composite(composite)
    if profile:
        from .profiles import apply_profile

        spec = apply_profile(spec, profile)
    return spec


def score_table(df: pd.DataFrame, spec: CompositeSpec) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Calibrated metrics, pillar scores and the composite column for a score table.

    Returns:
        ``(calibrated, pillars, composite)``: ``pillars`` has one column per pillar of :data:`PILLARS`
        (NaN for a pillar the composite does not use), ``composite`` one column ``"composite"``.
    """
    cal = calibrated_table(df, spec)
    pil = pillar_table(cal, spec)
    comp = aggregate(
        pil,
        {n: p.weight for n, p in spec.pillars.items()},
        spec.aggregation,
        **spec.aggregation_params,
    )
    full = pd.DataFrame({n: pil[n] if n in pil.columns else np.nan for n in PILLARS}, index=df.index)
    return cal, full, comp.to_frame()


def apply_composite(
    df: pd.DataFrame,
    *,
    composite: str | None = None,
    profile: str | None = None,
    strict: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The engine's hook: add pillar and composite columns to a per-image score table.

    Args:
        df: the wide score table of contracts §2 (one column per metric output column).
        composite: shipped composite name (``"default"``, ``"default-v1"``) or path of a composite
            JSON file; None means ``"default"``.
        profile: task profile name (``paradigm.composite.list_profiles()``), or None.
        strict: refuse (raise) when any metric of the composite did not run for some row, instead of
            renormalising the weights over what ran.

    Returns:
        ``(table, info)``: a copy of ``df`` with columns ``perceptual, stability, fidelity, composite``
        (float in [0, 1], NaN where nothing of that pillar ran / no pillar ran) and
        ``composite_missing`` (comma-separated metrics missing for that row, ``""`` if none); and
        ``info = {"composite": "<name>-v<k>", "sha256", "profile", "aggregation",
        "aggregation_params", "missing": {metric: reason}, "renormalised": bool,
        "missing_pillars": [...], "unsupported": [{"name", "why"}], "parts": {pillar: {"weight",
        "metrics": {metric: weight}}}}``.

    Raises:
        CompositeSchemaError: bad composite file or unknown profile.
        MetricUnavailableError: ``strict=True`` and some metric did not run (the message names them).
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"apply_composite needs a pandas DataFrame of scores, got {type(df).__name__}")
    spec = resolve_spec(composite, profile)
    out = df.copy()
    if "run_spread" in spec.metrics() and "run_spread" not in out.columns:
        from ..samples import run_spread

        out["run_spread"] = run_spread(out, str(spec.calibrations["run_spread"].get("of", "")))
    cal, pil, comp = score_table(out, spec)
    n = len(out)
    missing: dict[str, str] = {}
    row_missing = np.zeros((n, len(cal.columns)), dtype=bool)
    for j, m in enumerate(cal.columns):
        if m not in out.columns:
            missing[m] = "not computed"
            row_missing[:, j] = True
            continue
        raw_nan = pd.to_numeric(out[m], errors="coerce").isna().to_numpy()
        row_missing[:, j] = raw_nan
        k = int(raw_nan.sum())
        if n and k == n:
            missing[m] = "not computed (no value in any row)"
        elif k:
            missing[m] = f"not computed for {k} of {n} rows"
    missing_pillars = [
        name for name in spec.pillars if n and bool(pil[name].isna().all())
    ]
    if strict and missing:
        details = "; ".join(f"{m}: {why}" for m, why in missing.items())
        raise MetricUnavailableError(
            f"composite {spec.tag}{' (profile ' + spec.profile + ')' if spec.profile else ''} needs "
            f"metric(s) that did not run: {details}. Install/enable them (paradigm metrics, paradigm weights) "
            "or drop --strict to renormalise the weights over the metrics that ran"
        )
    for name in PILLARS:
        out[name] = pil[name].to_numpy(dtype=np.float64)
    out["composite"] = comp["composite"].to_numpy(dtype=np.float64)
    names = list(cal.columns)
    order = sorted(range(len(names)), key=lambda j: names[j])
    out["composite_missing"] = [
        ",".join(names[j] for j in order if row_missing[i, j]) for i in range(n)
    ]
    if missing:
        log.warning(
            "composite %s: renormalised weights over the metrics that ran; missing: %s",
            spec.tag,
            ", ".join(f"{m} ({why})" for m, why in missing.items()),
        )
    info: dict[str, Any] = {
        "composite": spec.tag,
        "sha256": spec.sha256,
        "profile": spec.profile,
        "aggregation": spec.aggregation,
        "aggregation_params": dict(spec.aggregation_params),
        "missing": missing,
        "renormalised": bool(missing),
        "missing_pillars": missing_pillars,
        "unsupported": [dict(m) for m in spec.missing_metrics],
        "parts": {
            name: {"weight": p.weight, "metrics": dict(p.metrics)} for name, p in spec.pillars.items()
        },
    }
    return out, info
