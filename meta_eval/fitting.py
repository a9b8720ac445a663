"""Calibrations (metric value -> [0, 1] quality) and composite weight fitting.

The calibration type is ``logistic4`` from ``docs/contracts.md`` §4::

    q(x) = lo + (hi - lo) / (1 + exp(-(x - center) / scale)),   0 <= lo < hi <= 1,

with ``scale < 0`` for lower-is-better metrics, so ``q`` always increases with quality. It is fitted by
least squares against the human opinion score mapped linearly to [0, 1] (higher is better).
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import stats
from .errors import InputError
from .stats import finite_clip

log = logging.getLogger(__name__)

#: Significant digits kept in fitted parameters (files stay readable and deterministic).
_DIGITS = 6
#: Smallest ``(hi - lo) / (1 - lo)`` of a fitted calibration (keeps ``lo < hi`` after rounding).
_MIN_SPAN = 1e-3


def _sig(v: float) -> float:
    return float(f"{float(v):.{_DIGITS}g}")


def logistic4(x: ArrayLike, lo: float, hi: float, center: float, scale: float) -> NDArray[np.float64]:
    """The contracts' ``logistic4`` curve ``lo + (hi - lo) * sigmoid((x - center) / scale)``.

    Args:
        x: metric values (any shape); ``±inf`` map to the asymptotes, NaN stays NaN.
        lo, hi: asymptotes in [0, 1].
        center: the metric value at the midpoint.
        scale: width; negative for lower-is-better metrics.

    Returns:
        Array of the same shape as ``x``.
    """
    from scipy.special import expit

    xa = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.asarray(lo + (hi - lo) * expit((xa - center) / scale), dtype=np.float64)


def apply_calibration(cal: Mapping[str, Any], x: ArrayLike) -> NDArray[np.float64]:
    """Map raw metric values to [0, 1] quality with a calibration dict (contracts §4).

    Args:
        cal: ``{"type": "logistic4", "lo", "hi", "center", "scale", ...}``.
        x: raw metric values.

    Returns:
        Calibrated values in ``[lo, hi]`` (NaN where ``x`` is NaN).

    Raises:
        InputError: for an unknown calibration type.
    """
    kind = cal.get("type")
    if kind != "logistic4":
        raise InputError(f"unknown calibration type {kind!r}; meta_eval writes and reads 'logistic4'")
    return logistic4(x, float(cal["lo"]), float(cal["hi"]), float(cal["center"]), float(cal["scale"]))


def fit_calibration(
    x: ArrayLike,
    human01: ArrayLike,
    higher_is_better: bool,
    *,
    provenance: Mapping[str, Any] | None = None,
    init: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit a monotone ``logistic4`` calibration of one metric to human scores in [0, 1].

    The curve is direction-aware: for ``higher_is_better=False`` the fitted ``scale`` is negative,
    so the calibrated value always increases with quality. ``lo``/``hi`` are constrained to
    ``0 <= lo < hi <= 1``. The fit is least squares (``scipy.optimize.least_squares``, bounded) on
    the standardised metric, started at the median with three widths; the best is kept, so
    the result is deterministic.

    Args:
        x: raw metric values, shape ``(n,)``. ``+inf``/``-inf`` (e.g. infinite PSNR) are clipped to
            the finite extremes for the fit; NaN rows are dropped.
        human01: human quality of the same items in [0, 1], higher is better (e.g. MOS/9 on TID2013,
            ``1 - DMOS/100`` for a DMOS scale). NaN rows are dropped.
        higher_is_better: the metric's direction.
        provenance: fields merged into the returned ``provenance`` (``data``, ``command``...).
        init: a previous calibration of the same metric to start from (one start instead of three;
            used for the cross-validation folds).

    Returns:
        ``{"type": "logistic4", "lo", "hi", "center", "scale", "provenance": {"kind": "fitted",
        "n", "rmse", "srcc", "plcc", ...}}`` (floats rounded to 6 significant digits).

    Raises:
        InputError: when fewer than 4 usable items remain, the metric is constant, or ``human01``
            leaves [0, 1].

    Example:
        >>> import numpy as np
        >>> x = np.linspace(20, 40, 50); h = 0.1 + 0.8 / (1 + np.exp(-(x - 30) / 3))
        >>> cal = fit_calibration(x, h, True)
        >>> round(cal["center"], 2), round(cal["scale"], 2)
        (30.0, 3.0)
    """
    from scipy.optimize import least_squares
    from scipy.special import expit
    from scipy.stats import pearsonr, spearmanr

    xa = np.asarray(x, dtype=np.float64).ravel()
    ha = np.asarray(human01, dtype=np.float64).ravel()
    if xa.shape != ha.shape:
        raise InputError(f"metric values ({xa.size}) and human scores ({ha.size}) differ in length")
    keep = ~np.isnan(xa) & np.isfinite(ha)
    xa, ha = finite_clip(xa[keep]), ha[keep]
    n = int(xa.size)
    if n < 4:
        raise InputError(f"a calibration needs at least 4 items with finite metric and human scores, got {n}")
    if ha.min() < -1e-9 or ha.max() > 1 + 1e-9:
        raise InputError(
            f"human scores for calibration must be mapped to [0, 1] first, got [{ha.min():.4g}, {ha.max():.4g}]"
        )
    mu, sd = float(xa.mean()), float(xa.std())
    if not sd > 0 or not math.isfinite(sd):
        raise InputError("cannot calibrate a metric that is constant over the data")
    z = (xa - mu) / sd
    sign = 1.0 if higher_is_better else -1.0

    def unpack(p: NDArray[np.float64]) -> tuple[float, float, float, float]:
        lo = float(p[0])
        hi = lo + float(p[1]) * (1.0 - lo)
        return lo, hi, float(p[2]), float(p[3])

    def resid(p: NDArray[np.float64]) -> NDArray[np.float64]:
        lo, hi, c, a = unpack(p)
        return np.asarray(lo + (hi - lo) * expit(sign * (z - c) / a) - ha)

    def jac(p: NDArray[np.float64]) -> NDArray[np.float64]:
        lo, v, c, a = (float(t) for t in p)
        s = expit(sign * (z - c) / a)
        ds = v * (1.0 - lo) * s * (1.0 - s)
        return np.stack([1.0 - v * s, (1.0 - lo) * s, -sign / a * ds, -sign * (z - c) / a**2 * ds], axis=1)

    h_lo, h_hi = float(np.clip(ha.min(), 0, 1)), float(np.clip(ha.max(), 0, 1))
    v0 = float(np.clip((h_hi - h_lo) / max(1e-9, 1.0 - h_lo), 1e-3, 1.0))
    lower = np.array([0.0, _MIN_SPAN, float(z.min()) - 10.0, 1e-3])
    upper = np.array([1.0, 1.0, float(z.max()) + 10.0, 100.0])
    best: Any = None
    starts = [(min(h_lo, 0.999), v0, float(np.median(z)), a0) for a0 in (0.3, 1.0, 3.0)]
    if init is not None and init.get("type") == "logistic4" and float(init["scale"]) * sign > 0:
        lo_i, hi_i = float(init["lo"]), float(init["hi"])
        starts = [(lo_i, (hi_i - lo_i) / max(1e-9, 1.0 - lo_i), (float(init["center"]) - mu) / sd,
                   abs(float(init["scale"])) / sd)]
    for start in starts:
        p0 = np.clip(np.array(start, dtype=np.float64), lower + 1e-9, upper - 1e-9)
        res = least_squares(resid, p0, jac=jac, bounds=(lower, upper), method="trf", x_scale="jac", max_nfev=2000)
        if best is None or res.cost < best.cost - 1e-15:
            best = res
    lo, hi, c, a = unpack(best.x)
    fitted = lo + (hi - lo) * expit(sign * (z - c) / a)
    rmse = float(np.sqrt(np.mean((fitted - ha) ** 2)))
    srcc = float(spearmanr(xa, ha)[0]) * sign
    plcc = float(pearsonr(fitted, ha)[0]) if np.ptp(fitted) > 0 else float("nan")
    prov: dict[str, Any] = {
        "kind": "fitted",
        "n": n,
        "rmse": _sig(rmse),
        "srcc": _sig(srcc),
        "plcc": _sig(plcc) if math.isfinite(plcc) else None,
    }
    if float(best.x[1]) <= _MIN_SPAN * 1.01 or srcc <= 0:
        prov["warning"] = "metric does not increase with human quality in the declared direction; curve is flat"
        log.warning("calibration: %s", prov["warning"])
    if provenance:
        prov.update(dict(provenance))
    return {
        "type": "logistic4",
        "lo": _sig(lo),
        "hi": _sig(hi),
        "center": _sig(mu + sd * c),
        "scale": _sig(sign * sd * a),
        "provenance": prov,
    }


# --------------------------------------------------------------------------- composite fitting
AGGREGATIONS = ("weighted_arithmetic", "weighted_geometric")
_EPS_Q = 1e-4


def _within_pairs(
    y: NDArray[np.float64], groups: NDArray[Any], max_pairs: int, rng: np.random.Generator
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Pairs (better, worse) of items sharing a group whose human scores differ."""
    bi, wi = [], []
    _, inv = np.unique(groups, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    for idx in np.split(order, np.flatnonzero(np.diff(inv[order])) + 1):
        if idx.size < 2:
            continue
        i, j = np.triu_indices(idx.size, k=1)
        a, b = idx[i], idx[j]
        d = y[a] - y[b]
        keep = d != 0
        a, b, d = a[keep], b[keep], d[keep]
        bi.append(np.where(d > 0, a, b))
        wi.append(np.where(d > 0, b, a))
    if not bi:
        raise InputError("no pair of items shares a reference with different human scores; cannot fit weights")
    better, worse = np.concatenate(bi), np.concatenate(wi)
    if better.size > max_pairs:
        sel = rng.choice(better.size, max_pairs, replace=False)
        better, worse = better[sel], worse[sel]
    return better, worse


def composite_values(q: NDArray[np.float64], w: NDArray[np.float64], aggregation: str) -> NDArray[np.float64]:
    """Aggregate calibrated values ``q`` ``(n, k)`` in [0, 1] with simplex weights ``w`` ``(k,)``.

    NaN entries are ignored (weights renormalised over the available metrics per item).
    """
    avail = ~np.isnan(q)
    ww = np.where(avail, w[None, :], 0.0)
    tot = ww.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if aggregation == "weighted_geometric":
            lq = np.log(np.clip(np.where(avail, q, 1.0), _EPS_Q, 1.0))
            out = np.exp((ww * lq).sum(axis=1) / tot)
        else:
            out = (ww * np.where(avail, q, 0.0)).sum(axis=1) / tot
    return np.asarray(np.where(tot > 0, out, np.nan))


def fit_weights(
    q: NDArray[np.float64],
    y: NDArray[np.float64],
    groups: NDArray[Any],
    *,
    aggregation: str = "weighted_arithmetic",
    l2: float = 0.01,
    max_pairs: int = 30_000,
    seed: int = 0,
) -> tuple[NDArray[np.float64], dict[str, Any]]:
    """Fit simplex weights of calibrated metrics with a pairwise Bradley–Terry-style logistic loss.

    On pairs of items sharing a reference whose human scores differ (better ``i``, worse ``j``)::

        loss = mean log(1 + exp(-beta * (c_i - c_j))) + l2 * ||w - 1/k||²,

    with ``c = Σ w_m q_m`` (arithmetic) or ``Σ w_m log q_m`` (geometric; same order as the weighted
    geometric mean). ``w = softmax(a)`` keeps the weights on the simplex; ``beta = exp(b)`` is a free
    sharpness. L-BFGS with analytic gradients, started from uniform weights (deterministic).

    Args:
        q: calibrated values ``(n, k)`` in [0, 1] (NaN -> the metric's median).
        y: human quality ``(n,)``.
        groups: reference per item ``(n,)``.
        aggregation: ``weighted_arithmetic`` or ``weighted_geometric``.
        l2: pull toward uniform weights.
        max_pairs: seeded subsample of pairs beyond this.
        seed: for the subsample.

    Returns:
        ``(w, info)`` with ``info = {"beta", "loss", "n_pairs", "converged"}``.
    """
    from scipy.optimize import minimize
    from scipy.special import expit

    if aggregation not in AGGREGATIONS:
        raise InputError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    k = q.shape[1]
    qq = np.where(np.isnan(q), np.nanmedian(q, axis=0)[None, :], q)
    feats = np.log(np.clip(qq, _EPS_Q, 1.0)) if aggregation == "weighted_geometric" else qq
    rng = np.random.default_rng(seed)
    bi, wi = _within_pairs(y, groups, max_pairs, rng)
    d = feats[bi] - feats[wi]  # (P, k)
    sd = float(np.std(d @ np.full(k, 1.0 / k))) or 1.0
    u = np.full(k, 1.0 / k)

    def fun(p: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        a, b = p[:k], p[k]
        e = np.exp(a - a.max())
        w = e / e.sum()
        beta = math.exp(b) / sd
        s = d @ w
        z = beta * s
        loss = float(np.mean(np.logaddexp(0.0, -z))) + l2 * float(np.sum((w - u) ** 2))
        g = -expit(-z)  # dloss/dz per pair
        gw = beta * (d.T @ g) / d.shape[0] + 2 * l2 * (w - u)
        ga = w * (gw - float(w @ gw))
        gb = float(np.mean(g * z))
        return loss, np.r_[ga, gb]

    res = minimize(fun, np.zeros(k + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    a = res.x[:k]
    e = np.exp(a - a.max())
    w = e / e.sum()
    return w, {"beta": float(math.exp(res.x[k]) / sd), "loss": float(res.fun), "n_pairs": int(d.shape[0]),
               "converged": bool(res.success)}


def clean_weights(w: NDArray[np.float64], floor: float = 1e-4, digits: int = 4) -> NDArray[np.float64]:
    """Zero weights below ``floor``, renormalise and round to ``digits`` (the largest absorbs rounding)."""
    w = np.where(w < floor, 0.0, w)
    w = w / w.sum()
    r = np.round(w, digits)
    r[int(np.argmax(r))] += round(1.0 - float(r.sum()), digits)
    return np.asarray(np.round(r, digits))


def grouped_folds(
    groups: NDArray[Any], n_folds: int, datasets: NDArray[Any] | None = None
) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """Train/test index pairs that never split one reference (or one dataset) across sides.

    Leave-one-dataset-out when ``datasets`` has several values; else ``GroupKFold`` on references.
    """
    from sklearn.model_selection import GroupKFold

    n = len(groups)
    if datasets is not None and len(np.unique(datasets)) > 1:
        return [(np.flatnonzero(datasets != d), np.flatnonzero(datasets == d)) for d in np.unique(datasets)]
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise InputError("cross-validation needs at least 2 references")
    k = min(n_folds, n_groups)
    if k < n_folds:
        log.warning("only %d references: using %d folds instead of %d", n_groups, k, n_folds)
    return [(tr, te) for tr, te in GroupKFold(n_splits=k).split(np.zeros(n), groups=groups)]


def _cross_validate(
    x: NDArray[np.float64], y: NDArray[np.float64], g: NDArray[Any], names: list[str],
    directions: Mapping[str, bool], cals_all: Mapping[str, dict[str, Any]],
    folds: list[tuple[NDArray[np.intp], NDArray[np.intp]]], aggregations: Sequence[str], *, l2: float,
    seed: int, progress: bool,
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.float64], dict[str, list[list[float]]]]:
    """Out-of-fold composite values, out-of-fold calibrated single metrics, and the weights of each fold."""
    iterator: Any = folds
    if progress:
        from tqdm import tqdm

        iterator = tqdm(folds, desc="folds", leave=False, file=sys.stderr, disable=not sys.stderr.isatty())
    oof = {a: np.full(y.size, np.nan) for a in aggregations}
    oof_single = np.full(x.shape, np.nan)
    fold_weights: dict[str, list[list[float]]] = {a: [] for a in aggregations}
    for tr, te in iterator:
        # fitted on the training fold only; the full-data fit is just the starting point
        cals = [fit_calibration(x[tr, j], y[tr], directions[m], init=cals_all[m]) for j, m in enumerate(names)]
        q_tr = np.stack([apply_calibration(c, x[tr, j]) for j, c in enumerate(cals)], axis=1)
        q_te = np.stack([apply_calibration(c, x[te, j]) for j, c in enumerate(cals)], axis=1)
        oof_single[te] = q_te
        for agg in aggregations:
            w, _ = fit_weights(q_tr, y[tr], g[tr], aggregation=agg, l2=l2, seed=seed)
            oof[agg][te] = composite_values(q_te, w, agg)
            fold_weights[agg].append([float(v) for v in clean_weights(w)])
    return oof, oof_single, fold_weights


def _final_weights(
    results: dict[str, Any], x: NDArray[np.float64], y: NDArray[np.float64], g: NDArray[Any], names: list[str],
    cals_all: Mapping[str, dict[str, Any]], aggregations: Sequence[str], *, l2: float, seed: int,
) -> None:
    """Weights refitted on all data (what the composite file holds), with their in-sample SRCC."""
    q_all = np.stack([apply_calibration(cals_all[m], x[:, j]) for j, m in enumerate(names)], axis=1)
    for agg in aggregations:
        w, info = fit_weights(q_all, y, g, aggregation=agg, l2=l2, seed=seed)
        w = clean_weights(w)
        results[agg]["weights"] = {m: float(v) for m, v in zip(names, w, strict=True)}
        results[agg]["fit"] = info
        results[agg]["in_sample_srcc"] = stats.srcc(composite_values(q_all, w, agg), y)


def fit_composite(
    values: Mapping[str, ArrayLike],
    human01: ArrayLike,
    groups: ArrayLike,
    directions: Mapping[str, bool],
    *,
    aggregations: Sequence[str] = ("weighted_arithmetic",),
    n_folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    l2: float = 0.01,
    datasets: ArrayLike | None = None,
    n_perm: int = 1000,
    progress: bool = False,
) -> dict[str, Any]:
    """Cross-validated composite fit: calibrations + simplex weights, out-of-fold evaluation.

    In each grouped fold (no reference on both sides), every metric's ``logistic4`` calibration and
    the weights are fitted on the training items only; the test items get out-of-fold composite values.
    The out-of-fold SRCC/KRCC/PLCC come with a bootstrap 95% CI resampling references, next to every
    single metric's full-data SRCC (raw) and out-of-fold SRCC (calibrated per fold), and a paired
    permutation p-value (references swapped) of "composite beats the best single metric".
    Finally calibrations and weights are refitted on all data.

    Args:
        values: metric -> raw values ``(n,)``.
        human01: human quality ``(n,)`` in [0, 1] (higher is better).
        groups: reference per item ``(n,)``.
        directions: metric -> higher_is_better.
        aggregations: which to fit/compare (first is the one saved).
        n_folds, n_boot, seed, l2, n_perm: as named.
        datasets: dataset per item for leave-one-dataset-out.
        progress: tqdm bars on stderr.

    Returns:
        ``{"metrics", "folds", "seed", "aggregations": {agg: {"oof": {...}, "weights": {...}, ...}},
        "single": {metric: {...}}, "best_single", "calibrations", "weights", "aggregation"}``.
    """
    names = list(values)
    x = np.stack([np.asarray(values[m], dtype=np.float64) for m in names], axis=1)  # (n, k)
    y = np.asarray(human01, dtype=np.float64)
    g = np.asarray(groups)
    keep = np.isfinite(y) & ~np.isnan(x).all(axis=1)
    x, y, g = x[keep], y[keep], g[keep]
    if y.size < 4 or np.ptp(y) == 0:
        raise InputError(
            f"cannot fit a composite: {y.size} items with metric values and their human scores "
            f"{'are all equal' if y.size else 'are missing'}"
        )
    ds = None if datasets is None else np.asarray(datasets)[keep]
    folds = grouped_folds(g, n_folds, ds)
    for tr, te in folds:
        assert not set(g[tr]) & set(g[te])  # by construction
    cals_all = {m: fit_calibration(x[:, j], y, directions[m]) for j, m in enumerate(names)}
    oof, oof_single, fold_weights = _cross_validate(
        x, y, g, names, directions, cals_all, folds, aggregations, l2=l2, seed=seed, progress=progress
    )
    # single metrics: raw (oriented) full-data values
    raw_or = np.stack([stats.orient(x[:, j], directions[m]) for j, m in enumerate(names)])  # (k, n)
    single: dict[str, Any] = {}
    for j, m in enumerate(names):
        single[m] = {
            "srcc_full": stats.srcc(raw_or[j], y),
            "srcc_oof": stats.srcc(oof_single[:, j], y),
            "krcc_full": stats.krcc(raw_or[j], y),
            "higher_is_better": directions[m],
        }
    best = max(names, key=lambda m: single[m]["srcc_full"] if math.isfinite(single[m]["srcc_full"]) else -9)
    # bootstrap over references: composite(s) and every single metric in one batch
    mat_rows = [oof[a] for a in aggregations] + [raw_or[j] for j in range(len(names))]
    mat = np.stack(mat_rows)
    ok = ~np.isnan(mat).any(axis=0)
    boots = stats.bootstrap_srcc(mat[:, ok], y[ok], stats.bootstrap_weights(int(ok.sum()), g[ok], n_boot, seed, "group")) \
        if n_boot > 0 else np.full((1, mat.shape[0]), np.nan)
    for j, m in enumerate(names):
        single[m]["srcc_full_ci"] = list(stats.percentile_ci(boots[:, len(aggregations) + j]))
    results: dict[str, Any] = {}
    for i, agg in enumerate(aggregations):
        o = oof[agg]
        okk = ~np.isnan(o)
        delta, p = stats.permutation_test(o[ok], raw_or[names.index(best)][ok], y[ok], units=g[ok],
                                          n_perm=n_perm, seed=seed)
        if not math.isfinite(stats.srcc(o, y)):  # constant out-of-fold predictions: no test to report
            delta, p = float("nan"), float("nan")
        results[agg] = {
            "oof": {
                "srcc": stats.srcc(o, y),
                "srcc_ci": list(stats.percentile_ci(boots[:, i])),
                "krcc": stats.krcc(o, y),
                "plcc": stats.plcc_rmse(o[okk], y[okk])[0],
                "n": int(okk.sum()),
            },
            "vs_best_single": {"metric": best, "delta_srcc": delta, "p_value": p,
                               "test": f"paired permutation, references swapped, {n_perm} permutations"},
            "fold_weights": fold_weights[agg],
        }
    _final_weights(results, x, y, g, names, cals_all, aggregations, l2=l2, seed=seed)
    return {
        "metrics": names,
        "n": int(y.size),
        "n_references": int(len(np.unique(g))),
        "folds": len(folds),
        "fold_kind": "leave-one-dataset-out" if ds is not None and len(np.unique(ds)) > 1 else "GroupKFold(reference)",
        "seed": seed,
        "bootstrap": n_boot,
        "l2": l2,
        "single": single,
        "best_single": best,
        "aggregations": results,
        "aggregation": aggregations[0],
        "calibrations": cals_all,
    }


def transfer(
    fit: Mapping[str, Any],
    values: Mapping[str, ArrayLike],
    human01: ArrayLike,
    groups: ArrayLike,
    *,
    n_boot: int = 1000,
    n_perm: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Cross-dataset check: apply a :func:`fit_composite` result (full-data calibrations and weights)
    to another dataset, untouched by the fit.

    Reports, on the test data, each aggregation's SRCC [bootstrap 95% CI over the test references],
    KRCC and PLCC, every single metric's SRCC (raw, oriented) [CI], and the paired permutation p-value
    (test references swapped) of "the composite beats the single metric that was best on the training
    data".

    Args:
        fit: from :func:`fit_composite`.
        values: metric -> raw values ``(n,)`` on the test data (every fitted metric).
        human01: test human quality ``(n,)`` in [0, 1]; groups: test reference per item.
        n_boot, n_perm, seed: as in :func:`fit_composite`.

    Raises:
        InputError: when a fitted metric has no values on the test data or the test scores are constant.
    """
    names = list(fit["metrics"])
    missing = [m for m in names if m not in values]
    if missing:
        raise InputError(f"the test data lack the fitted metric(s) {missing}")
    x = np.stack([np.asarray(values[m], dtype=np.float64) for m in names], axis=1)
    y = np.asarray(human01, dtype=np.float64)
    g = np.asarray(groups)
    keep = np.isfinite(y) & ~np.isnan(x).any(axis=1)
    x, y, g = x[keep], y[keep], g[keep]
    if y.size < 4 or np.ptp(y) == 0:
        raise InputError(f"the test data have {y.size} usable items with constant or missing human scores")
    dirs = {m: bool(fit["single"][m]["higher_is_better"]) for m in names}
    q = np.stack([apply_calibration(fit["calibrations"][m], x[:, j]) for j, m in enumerate(names)], axis=1)
    raw_or = np.stack([stats.orient(x[:, j], dirs[m]) for j, m in enumerate(names)])
    aggs = list(fit["aggregations"])
    comp = {a: composite_values(q, np.array([fit["aggregations"][a]["weights"][m] for m in names]), a) for a in aggs}
    mat = np.stack([comp[a] for a in aggs] + list(raw_or))
    boots = (stats.bootstrap_srcc(mat, y, stats.bootstrap_weights(y.size, g, n_boot, seed, "group"))
             if n_boot > 0 else np.full((1, mat.shape[0]), np.nan))
    best = str(fit["best_single"])
    out: dict[str, Any] = {"n": int(y.size), "n_references": int(len(np.unique(g))), "best_single_on_train": best,
                           "aggregations": {}, "single": {}}
    for i, a in enumerate(aggs):
        delta, p = stats.permutation_test(comp[a], raw_or[names.index(best)], y, units=g, n_perm=n_perm, seed=seed)
        out["aggregations"][a] = {
            "srcc": stats.srcc(comp[a], y), "srcc_ci": list(stats.percentile_ci(boots[:, i])),
            "krcc": stats.krcc(comp[a], y), "plcc": stats.plcc_rmse(comp[a], y)[0],
            "vs_best_single": {"metric": best, "delta_srcc": delta, "p_value": p,
                               "test": f"paired permutation, test references swapped, {n_perm} permutations"},
        }
    for j, m in enumerate(names):
        out["single"][m] = {"srcc": stats.srcc(raw_or[j], y),
                            "srcc_ci": list(stats.percentile_ci(boots[:, len(aggs) + j]))}
    return out


def composite_document(
    fit: Mapping[str, Any],
    *,
    pillars: Mapping[str, str],
    rename: Mapping[str, str] | None = None,
    name: str = "fitted",
    version: int = 1,
    data: str = "",
    command: str = "",
    description: str = "",
) -> dict[str, Any]:
    """Build a composite file (contracts §4, schema ``paradigm.composite/1``) from :func:`fit_composite`.

    Weights are flat over metrics; they are grouped by pillar (pillar weight = sum of its metrics'
    weights, metric weights renormalised within the pillar, 4 decimals). Metrics with weight 0 (and
    pillars left empty) are omitted, as are their calibrations. Deterministic: no dates.

    Args:
        fit: the result of :func:`fit_composite`.
        pillars: metric -> pillar.
        rename: column name -> name written in the file (e.g. ``PSNR`` -> ``psnr``).
        name, version, description: file identity.
        data, command: provenance.
    """
    rename = dict(rename or {})
    agg = fit["aggregation"]
    w = fit["aggregations"][agg]["weights"]
    per: dict[str, dict[str, float]] = {}
    for m, v in w.items():
        per.setdefault(pillars[m], {})[rename.get(m, m)] = float(v)
    out_p: dict[str, dict[str, Any]] = {}
    for pname, mw in per.items():
        tot = sum(mw.values())
        if tot <= 0:
            continue  # a pillar whose metrics all got weight 0 is left out
        out_p[pname] = {
            "weight": round(tot, 4),
            "metrics": {k: round(v / tot, 4) for k, v in mw.items() if v > 0},
        }
    used = {k for p in out_p.values() for k in p["metrics"]}
    res = fit["aggregations"][agg]
    results = {
        "oof_srcc": res["oof"]["srcc"], "oof_srcc_ci": res["oof"]["srcc_ci"], "oof_krcc": res["oof"]["krcc"],
        "oof_plcc": res["oof"]["plcc"], "vs_best_single": res["vs_best_single"],
        "single_srcc": {rename.get(m, m): s["srcc_full"] for m, s in fit["single"].items()},
        "folds": fit["folds"], "fold_kind": fit["fold_kind"], "seed": fit["seed"], "bootstrap": fit["bootstrap"],
    }
    if "transfer" in fit:
        t = fit["transfer"]
        results["cross_dataset"] = {"data": t.get("data", ""), **t["aggregations"][agg],
                                    "single_srcc": {rename.get(m, m): v["srcc"] for m, v in t["single"].items()}}
    cal_prov = {"data": data, "command": command}
    return {
        "schema": "paradigm.composite/1",
        "name": name,
        "version": version,
        "description": description or f"weights fitted by meta_eval on {data}",
        "aggregation": agg,
        "pillars": {p: out_p[p] for p in sorted(out_p)},
        "weights_provenance": {
            "kind": "fitted",
            "description": "pairwise logistic (Bradley-Terry style) loss on within-reference pairs, simplex "
            f"weights, L2 {fit['l2']} toward uniform; grouped {fit['folds']}-fold CV",
            "data": data,
            "command": command,
            "results": _jsonable(results),
        },
        "calibrations": {
            rename.get(m, m): {**c, "provenance": {**c["provenance"], **cal_prov}}
            for m, c in fit["calibrations"].items()
            if rename.get(m, m) in used
        },
    }


def check_finite(doc: Any, where: str = "the file") -> None:
    """Refuse a document (composite, calibrations) holding a non-finite number.

    Raises:
        InputError: listing the first offending fields.
    """
    bad: list[str] = []

    def walk(v: Any, path: str) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{path}.{k}" if path else str(k))
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(x, f"{path}[{i}]")
        elif isinstance(v, (float, np.floating)) and not math.isfinite(float(v)):
            bad.append(f"{path} = {v}")

    walk(doc, "")
    if bad:
        raise InputError(
            f"refusing to write {where}: {len(bad)} value(s) are not finite ({'; '.join(bad[:5])}); "
            "the human or metric data are degenerate (constant scores, too few items?)"
        )


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (float, np.floating)):
        return _sig(float(v)) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v
