"""Direction-aware statistics for meta-evaluation.

Conventions:
    * Every function takes the metric's direction (``higher_is_better``) and orients the metric so
      that a positive correlation / high agreement always means "agrees with humans". Human scores are
      expected oriented already (higher is better; DMOS flipped by the loaders' ``higher_is_better``).
    * NaN pairs are dropped; ``+inf`` metric values (e.g. infinite PSNR) rank above every finite value
      in rank statistics and are clipped to the largest finite value for curve fits.
    * Randomness (bootstrap, permutation, split-half) takes an explicit integer ``seed``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import InputError

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
Level = Literal["item", "group", "system"]


# ----------------------------------------------------------------------------------- basics
def finite_clip(x: ArrayLike) -> FloatArray:
    """Replace ``+inf``/``-inf`` by the largest/smallest finite value (NaN stays NaN).

    Used before least-squares fits: the TID2013 sentinel ``100000`` (infinite PSNR) is read as
    ``+inf`` and ranks above every finite value, but a curve fit needs finite numbers.
    """
    a = np.asarray(x, dtype=np.float64).copy()
    fin = np.isfinite(a)
    if fin.any():
        a[np.isposinf(a)] = a[fin].max()
        a[np.isneginf(a)] = a[fin].min()
    return a


def orient(x: ArrayLike, higher_is_better: bool = True) -> FloatArray:
    """The metric as a float array that increases with quality (negated when lower is better)."""
    a = np.asarray(x, dtype=np.float64)
    return a if higher_is_better else -a


def _pair(x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if xa.shape != ya.shape:
        raise InputError(f"metric ({xa.size}) and human ({ya.size}) arrays differ in length")
    keep = ~np.isnan(xa) & ~np.isnan(ya)
    return xa[keep], ya[keep]


def srcc(x: ArrayLike, y: ArrayLike, higher_is_better: bool = True) -> float:
    """Spearman rank correlation of a metric with human scores (oriented; NaN when undefined).

    Args:
        x: metric values ``(n,)``; y: human scores ``(n,)`` (higher is better).
        higher_is_better: the metric's direction.

    Returns:
        SRCC in [-1, 1]; positive means agreement with humans.
    """
    from scipy.stats import spearmanr

    a, b = _pair(orient(x, higher_is_better), y)
    if a.size < 3 or np.unique(a).size < 2 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b)[0])


def krcc(x: ArrayLike, y: ArrayLike, higher_is_better: bool = True) -> float:
    """Kendall's tau-b of a metric with human scores (oriented; NaN when undefined)."""
    from scipy.stats import kendalltau

    a, b = _pair(orient(x, higher_is_better), y)
    if a.size < 3 or np.ptp(b) == 0:
        return float("nan")
    return float(kendalltau(a, b, variant="b")[0])


def pearson(x: ArrayLike, y: ArrayLike) -> float:
    """Plain Pearson correlation (NaN when a side is constant or fewer than 3 pairs)."""
    a, b = _pair(x, y)
    a = finite_clip(a)
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


# ------------------------------------------------------------------------- logistic fitting
def vqeg_logistic5(x: ArrayLike, b1: float, b2: float, b3: float, b4: float, b5: float) -> FloatArray:
    """VQEG 5-parameter logistic: ``b1 * (0.5 - 1/(1+exp(b2*(x-b3)))) + b4*x + b5`` (Sheikh et al. 2006)."""
    from scipy.special import expit

    xa = np.asarray(x, dtype=np.float64)
    return np.asarray(b1 * (0.5 - expit(-b2 * (xa - b3))) + b4 * xa + b5)


def vqeg_logistic4(x: ArrayLike, b1: float, b2: float, b3: float, b4: float) -> FloatArray:
    """VQEG 4-parameter logistic: ``(b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2``."""
    from scipy.special import expit

    xa = np.asarray(x, dtype=np.float64)
    return np.asarray((b1 - b2) * expit((xa - b3) / max(abs(b4), 1e-12)) + b2)


@dataclass
class LogisticFit:
    """A fitted VQEG logistic (``kind`` "4" or "5") mapping oriented metric values to human scores."""

    kind: str
    params: list[float]
    converged: bool

    def predict(self, x: ArrayLike) -> FloatArray:
        """Predicted human score for oriented metric values ``x`` (``±inf`` clipped by the caller)."""
        f = vqeg_logistic5 if self.kind == "5" else vqeg_logistic4
        return f(x, *self.params)


def _basis(z: FloatArray, kind: str, p: ArrayLike, q: ArrayLike) -> FloatArray:
    """The non-constant shape column of the logistic for shape parameters ``(p, q)`` (broadcast).

    5-parameter: ``y = b1 * (0.5 - expit(-p (z - q))) + b4 z + b5``: the column is ``0.5 - expit(...)``,
    the linear parameters multiply ``[column, z, 1]``; 4-parameter: ``y = (b1 - b2) expit((z - q) / p)
    + b2``: the column is ``expit(...)`` and the linear parameters multiply ``[column, 1]``.
    """
    zz = np.asarray(z, dtype=np.float64)[:, None]
    pp, qq = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if kind == "5":  # 0.5 - expit(-t) = tanh(t / 2) / 2
        return np.asarray(0.5 * np.tanh(0.5 * pp * (zz - qq)))
    return np.asarray(0.5 + 0.5 * np.tanh(0.5 * (zz - qq) / pp))


def _grid_starts(z: FloatArray, y: FloatArray, kind: str, keep: int = 6) -> list[list[float]]:
    """Global search: on a grid of shape parameters (20 slopes x 62 centres: 31 metric quantiles and 31
    evenly spaced values), solve the linear parameters exactly by least squares (variable projection,
    batched normal equations) and return the ``keep`` best full parameter vectors."""
    slopes = np.geomspace(0.05, 30.0, 20)
    centres = np.unique(np.r_[np.quantile(z, np.linspace(0.0, 1.0, 31)), np.linspace(z.min(), z.max(), 31)])
    pp = np.repeat(slopes if kind == "5" else 1.0 / slopes, centres.size)
    qq = np.tile(centres, slopes.size)
    col = _basis(z, kind, pp[None, :], qq[None, :])  # (n, G)
    others = [z, np.ones_like(z)] if kind == "5" else [np.ones_like(z)]
    k = 1 + len(others)
    gram = np.empty((pp.size, k, k))
    rhs = np.empty((pp.size, k))
    gram[:, 0, 0] = np.einsum("ng,ng->g", col, col)
    rhs[:, 0] = y @ col
    for i, o in enumerate(others, start=1):
        gram[:, 0, i] = gram[:, i, 0] = o @ col
        rhs[:, i] = float(o @ y)
        for j2, o2 in enumerate(others, start=1):
            gram[:, i, j2] = float(o @ o2)
    gram += np.eye(k)[None] * 1e-12
    coef = np.linalg.solve(gram, rhs[..., None])[..., 0]  # (G, k)
    sse = float(y @ y) - np.einsum("gk,gk->g", coef, rhs)
    out = []
    for g in np.argsort(sse)[:keep]:
        c = coef[g]
        if kind == "5":
            out.append([float(c[0]), float(pp[g]), float(qq[g]), float(c[1]), float(c[2])])
        else:
            out.append([float(c[0] + c[1]), float(c[1]), float(qq[g]), float(pp[g])])
    return out


def fit_logistic(x: ArrayLike, y: ArrayLike, kind: str = "5") -> LogisticFit:
    """Fit the VQEG logistic from (oriented) metric values to human scores.

    Robust global start: on the standardised metric, a grid of 20 slopes x 62 centres (31 metric
    quantiles and 31 evenly spaced values over the range) is searched with the linear parameters solved exactly by least squares at every grid
    point (variable projection); the 6 best grid points and 4 fixed heuristic starts are then refined
    by ``scipy.optimize.curve_fit`` and the smallest squared error wins (a refinement never replaces
    a better grid point). If nothing finite comes out, a linear map is returned (``converged=False``),
    so PLCC falls back to the plain Pearson correlation.

    Args:
        x: oriented metric values ``(n,)`` (finite).
        y: human scores ``(n,)``.
        kind: ``"5"`` (default, VQEG/Sheikh 2006) or ``"4"``.

    Returns:
        The :class:`LogisticFit`.
    """
    import warnings

    from scipy.optimize import OptimizeWarning, curve_fit

    xa, ya = _pair(x, y)
    xa = finite_clip(xa)
    if kind not in ("4", "5"):
        raise InputError(f"logistic kind must be '4' or '5', got {kind!r}")
    sx = float(np.std(xa)) or 1.0
    mx = float(np.mean(xa))
    z = (xa - mx) / sx  # standardised x for conditioning; parameters are converted back below
    f: Callable[..., FloatArray] = vqeg_logistic5 if kind == "5" else vqeg_logistic4
    starts = _grid_starts(z, ya, kind) + _heuristic_starts(z, ya, kind)
    best: tuple[float, list[float]] | None = None
    for p0 in starts:
        sse0 = float(np.sum((f(z, *p0) - ya) ** 2))
        cands = [(sse0, list(p0))] if math.isfinite(sse0) else []
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                p, _ = curve_fit(f, z, ya, p0=p0, maxfev=20000)
            cands.append((float(np.sum((f(z, *p) - ya) ** 2)), [float(v) for v in p]))
        except (RuntimeError, ValueError):
            pass
        for sse, par in cands:
            if math.isfinite(sse) and (best is None or sse < best[0]):
                best = (sse, par)
    if best is None:
        slope = float(np.polyfit(xa, ya, 1)[0]) if np.ptp(xa) > 0 else 0.0
        icpt = float(np.mean(ya) - slope * mx)
        if kind == "5":
            return LogisticFit("5", [0.0, 1.0, 0.0, slope, icpt], False)
        return LogisticFit("4", [float(ya.max()), float(ya.min()), mx, sx], False)
    p = best[1]
    if kind == "5":  # x = mx + sx*z: b2*(z-b3) = (b2/sx)*(x - (mx + sx*b3)); b4*z = (b4/sx)*x - b4*mx/sx
        params = [p[0], p[1] / sx, mx + sx * p[2], p[3] / sx, p[4] - p[3] * mx / sx]
    else:
        params = [p[0], p[1], mx + sx * p[2], abs(p[3]) * sx]
    return LogisticFit(kind, params, True)


def _heuristic_starts(z: FloatArray, y: FloatArray, kind: str) -> list[list[float]]:
    yr = float(np.ptp(y)) or 1.0
    if kind == "5":
        return [
            [yr, 1.0, float(np.median(z)), 0.0, float(np.mean(y))],
            [2 * yr, 0.5, 0.0, 0.0, float(np.mean(y))],
            [yr, 3.0, float(np.quantile(z, 0.75)), 0.0, float(np.mean(y))],
            [yr, 3.0, float(np.quantile(z, 0.25)), 0.0, float(np.mean(y))],
        ]
    return [
        [float(y.max()), float(y.min()), float(np.median(z)), 1.0],
        [float(y.max()), float(y.min()), float(np.quantile(z, 0.25)), 0.3],
        [float(y.max()), float(y.min()), float(np.quantile(z, 0.75)), 0.3],
    ]


def plcc_rmse(
    x: ArrayLike, y: ArrayLike, higher_is_better: bool = True, kind: str = "5"
) -> tuple[float, float, LogisticFit]:
    """PLCC and RMSE after the VQEG logistic fit of the oriented metric to the human scores.

    Returns:
        ``(plcc, rmse, fit)``; RMSE is in human-score units.
    """
    a, b = _pair(orient(x, higher_is_better), y)
    a = finite_clip(a)
    if a.size < 5 or np.ptp(a) == 0:
        return float("nan"), float("nan"), LogisticFit(kind, [], False)
    fit = fit_logistic(a, b, kind)
    pred = fit.predict(a)
    rmse = float(np.sqrt(np.mean((pred - b) ** 2)))
    return pearson(pred, b), rmse, fit


# -------------------------------------------------------------------------- pairwise agreement
@dataclass
class PairwiseAccuracy:
    """Result of :func:`pairwise_accuracy` (``acc_eq`` of Deutsch et al. 2023)."""

    accuracy: float
    epsilon: float
    n_pairs: int
    counts: dict[str, int] = field(default_factory=dict)


def _pair_diffs(
    m: FloatArray, h: FloatArray, groups: ArrayLike | None, max_pairs: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Metric and human differences over all pairs (within groups when given)."""
    if groups is None:
        gidx = [np.arange(m.size)]
    else:
        g = np.asarray(groups)
        _, inv = np.unique(g, return_inverse=True)
        order = np.argsort(inv, kind="stable")
        bounds = np.flatnonzero(np.diff(inv[order])) + 1
        gidx = np.split(order, bounds)
    dm, dh = [], []
    rng = np.random.default_rng(seed)
    for idx in gidx:
        if idx.size < 2:
            continue
        if idx.size * (idx.size - 1) // 2 > max_pairs:  # too many to enumerate: sample pairs (seeded)
            i = rng.integers(0, idx.size, max_pairs)
            j = (i + rng.integers(1, idx.size, max_pairs)) % idx.size
        else:
            i, j = np.triu_indices(idx.size, k=1)
        with np.errstate(invalid="ignore"):
            dm.append(m[idx[i]] - m[idx[j]])
        dh.append(h[idx[i]] - h[idx[j]])
    if not dm:
        return np.zeros(0), np.zeros(0)
    dmc, dhc = np.concatenate(dm), np.concatenate(dh)
    if dmc.size > max_pairs:
        keep = rng.choice(dmc.size, max_pairs, replace=False)
        dmc, dhc = dmc[keep], dhc[keep]
    with np.errstate(invalid="ignore"):
        dmc = np.where(np.isnan(dmc), 0.0, dmc)  # inf - inf: both infinite -> tie
    return dmc, dhc


def pairwise_accuracy(
    x: ArrayLike,
    y: ArrayLike,
    higher_is_better: bool = True,
    *,
    groups: ArrayLike | None = None,
    tie_calibration: bool = True,
    epsilon: float | None = None,
    max_pairs: int = 5_000_000,
    seed: int = 0,
) -> PairwiseAccuracy:
    """Pairwise accuracy with ties, ``acc_eq`` (Deutsch, Foster & Freitag 2023; mt-metrics-eval ``acc23``).

    Over all pairs of items (within each group when ``groups`` is given)::

        acc_eq = (C + T_hm) / (C + D + T_h + T_m + T_hm)

    where C/D count concordant/discordant pairs, T_h pairs tied only by humans, T_m pairs tied only by
    the metric and T_hm pairs tied by both. With tie calibration the metric's ties are
    ``|Δmetric| <= ε``, and ε is chosen among all observed ``|Δmetric|`` (and 0) to maximise
    ``acc_eq`` — the optimistic calibration of the paper (report ε next to the accuracy).

    Args:
        x: metric values ``(n,)``; y: human scores ``(n,)`` (higher is better).
        higher_is_better: metric direction.
        groups: optional group labels ``(n,)``: only pairs inside a group count (e.g. same reference).
        tie_calibration: search ε; otherwise ``epsilon`` (default 0: only exact ties).
        epsilon: fixed ε when ``tie_calibration`` is False.
        max_pairs: subsample (seeded) beyond this many pairs (groups too large to enumerate are
            sampled directly).
        seed: for the subsample.

    Returns:
        :class:`PairwiseAccuracy` with the accuracy, ε and the pair count.
    """
    m = orient(x, higher_is_better).ravel()
    h = np.asarray(y, dtype=np.float64).ravel()
    if m.shape != h.shape:
        raise InputError(f"metric ({m.size}) and human ({h.size}) arrays differ in length")
    keep = ~np.isnan(m) & ~np.isnan(h)
    g = None if groups is None else np.asarray(groups)[keep]
    dm, dh = _pair_diffs(m[keep], h[keep], g, max_pairs, seed)
    n = int(dm.size)
    if n == 0:
        return PairwiseAccuracy(float("nan"), 0.0, 0)
    htie = dh == 0
    concord = (np.sign(dm) == np.sign(dh)) & ~htie
    adm = np.abs(dm)
    if not tie_calibration:
        eps = float(epsilon or 0.0)
        mtie = adm <= eps
        correct = np.where(mtie, htie, concord)
        return PairwiseAccuracy(float(correct.mean()), eps, n, _counts(mtie, htie, concord))
    order = np.argsort(adm, kind="stable")
    a_sorted = adm[order]
    # acc(eps) = sum_{|d|<=eps} htie + sum_{|d|>eps} concord, evaluated at the end of each run of equal |d|
    cum_t = np.cumsum(htie[order])
    cum_c = np.cumsum(concord[order])
    total_c = cum_c[-1]
    ends = np.flatnonzero(np.r_[a_sorted[1:] != a_sorted[:-1], True])
    scores = cum_t[ends] + (total_c - cum_c[ends])
    # eps below the smallest |d|: no metric ties (only when the smallest |d| > 0)
    base = float(total_c) if a_sorted[0] > 0 else -1.0
    k = int(np.argmax(scores))
    if base >= scores[k]:
        eps, best = 0.0, base
    else:
        eps, best = float(a_sorted[ends[k]]), float(scores[k])
    mtie = adm <= eps if best != base else adm < 0
    return PairwiseAccuracy(best / n, eps, n, _counts(mtie, htie, concord))


def _counts(mtie: NDArray[np.bool_], htie: NDArray[np.bool_], concord: NDArray[np.bool_]) -> dict[str, int]:
    return {
        "concordant": int((concord & ~mtie).sum()),
        "discordant": int((~concord & ~mtie & ~htie).sum()),
        "ties_human": int((htie & ~mtie).sum()),
        "ties_metric": int((mtie & ~htie).sum()),
        "ties_both": int((mtie & htie).sum()),
    }


def twoafc_agreement(
    score_a: ArrayLike, score_b: ArrayLike, frac_b: ArrayLike, higher_is_better: bool = True
) -> float:
    """2AFC agreement of the LPIPS paper (Zhang et al. 2018), averaged over triplets.

    For each triplet (reference, A, B) with a fraction ``h`` of people preferring B::

        agree = h * 1[metric prefers B] + (1 - h) * 1[metric prefers A]      (metric tie: 0.5)

    For a distance (lower is better) the metric prefers the candidate with the smaller distance.

    Args:
        score_a, score_b: metric values of A and B against the reference, ``(n,)``.
        frac_b: fraction of humans preferring B, in [0, 1], ``(n,)``.
        higher_is_better: metric direction.

    Returns:
        Mean agreement in [0, 1] (human ceiling is ``mean(max(h, 1-h))``-ish, not 1).
    """
    a = orient(score_a, higher_is_better).ravel()
    b = orient(score_b, higher_is_better).ravel()
    h = np.asarray(frac_b, dtype=np.float64).ravel()
    if not (a.shape == b.shape == h.shape):
        raise InputError("2AFC arrays must have the same length")
    keep = ~np.isnan(a) & ~np.isnan(b) & ~np.isnan(h)
    a, b, h = a[keep], b[keep], h[keep]
    if a.size == 0:
        return float("nan")
    pb = np.where(b > a, 1.0, np.where(b < a, 0.0, 0.5))
    return float(np.mean(h * pb + (1 - h) * (1 - pb)))


# ----------------------------------------------------------------------------- levels
def group_mean_corr(
    x: ArrayLike, y: ArrayLike, groups: ArrayLike, corr: Callable[[FloatArray, FloatArray], float]
) -> float:
    """Correlation within each group (e.g. per reference), averaged over groups with >= 3 items.

    Groups where the correlation is undefined (constant metric or humans) are skipped.
    """
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    g = np.asarray(groups)
    vals = []
    for key in np.unique(g):
        sel = g == key
        if sel.sum() < 3:
            continue
        v = corr(xa[sel], ya[sel])
        if math.isfinite(v):
            vals.append(v)
    return float(np.mean(vals)) if vals else float("nan")


def system_means(x: ArrayLike, y: ArrayLike, systems: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Per-system means of metric and human scores (NaN-aware), in sorted system order."""
    import pandas as pd

    df = pd.DataFrame({"x": finite_clip(np.asarray(x, dtype=np.float64)), "y": y, "s": systems})
    agg = df.groupby("s", sort=True)[["x", "y"]].mean()
    return agg["x"].to_numpy(np.float64), agg["y"].to_numpy(np.float64)


# ----------------------------------------------------------------------- batched SRCC
def _rank_rows(a: FloatArray) -> FloatArray:
    """Average ranks along the last axis (NaN-free input; ``inf`` ranks last)."""
    from scipy.stats import rankdata

    return np.asarray(rankdata(a, axis=-1), dtype=np.float64)


def _corr_rows(a: FloatArray, b: FloatArray) -> FloatArray:
    """Pearson correlation along the last axis between broadcastable arrays."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    num = (a * b).sum(axis=-1)
    den = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan))


def bootstrap_weights(
    n_items: int,
    groups: ArrayLike | None,
    n_boot: int,
    seed: int,
    unit: Literal["item", "group", "both"] = "group",
) -> NDArray[np.float64]:
    """Bootstrap resamples as multiplicities: ``W[b, i]`` = copies of item ``i`` in resample ``b``.

    ``item`` resamples items; ``group`` whole groups (all their items); ``both`` is two-level: groups,
    then items within each drawn group copy. Equivalent to drawing index sets, but lets the SRCC be
    computed without materialising the resamples (:func:`bootstrap_srcc`).

    Returns:
        ``(n_boot, n_items)`` float array of counts.
    """
    rng = np.random.default_rng(seed)
    if unit == "item" or groups is None:
        return rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=n_boot).astype(np.float64)
    _, inv = np.unique(np.asarray(groups), return_inverse=True)
    n_g = int(inv.max()) + 1
    gcount = rng.multinomial(n_g, np.full(n_g, 1.0 / n_g), size=n_boot)  # (B, G)
    if unit == "group":
        return np.asarray(gcount[:, inv], dtype=np.float64)
    w = np.zeros((n_boot, n_items))
    for g in range(n_g):
        members = np.flatnonzero(inv == g)
        s = members.size
        for b in np.flatnonzero(gcount[:, g]):
            w[b, members] += rng.multinomial(int(gcount[b, g]) * s, np.full(s, 1.0 / s))
    return w


def weighted_ranks(v: FloatArray, w: FloatArray) -> FloatArray:
    """Average ranks of ``v`` ``(n,)`` in each expanded sample ``w`` ``(B, n)`` (ties and copies averaged)."""
    n = v.size
    o = np.argsort(v, kind="stable")
    vs = v[o]
    cum = np.cumsum(w[:, o], axis=1)
    new = np.r_[True, vs[1:] != vs[:-1]]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:] - 1, n - 1]
    e = cum[:, ends]
    s = np.where(starts[None, :] > 0, cum[:, np.maximum(starts - 1, 0)], 0.0)
    avg = (s + 1.0 + e) / 2.0
    out = np.empty_like(cum)
    out[:, o] = avg[:, np.cumsum(new) - 1]
    return out


def _weighted_corr(a: FloatArray, b: FloatArray, w: FloatArray) -> FloatArray:
    sw = w.sum(axis=1, keepdims=True)
    ma = (w * a).sum(axis=1, keepdims=True) / sw
    mb = (w * b).sum(axis=1, keepdims=True) / sw
    da, db = a - ma, b - mb
    num = (w * da * db).sum(axis=1)
    den = np.sqrt((w * da * da).sum(axis=1) * (w * db * db).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan))


def bootstrap_srcc(
    metrics: FloatArray,
    human: FloatArray,
    weights: NDArray[np.float64] | Sequence[NDArray[np.intp]],
    chunk: int = 250,
) -> FloatArray:
    """SRCC of each metric on each bootstrap resample, vectorised.

    The resamples are given as multiplicities (:func:`bootstrap_weights`) or index arrays
    (converted). Ranks of a resample are computed from one sort per metric
    and cumulative multiplicities (exactly the average ranks of the expanded sample), then a weighted
    Pearson correlation gives the resample's SRCC — no per-resample re-sorting.

    Args:
        metrics: oriented metric values ``(k, n)`` without NaN (``inf`` allowed).
        human: human scores ``(n,)``.
        weights: ``(B, n)`` multiplicities, or a list of ``B`` index arrays.
        chunk: resamples processed at once (memory).

    Returns:
        ``(B, k)`` SRCCs.
    """
    n = human.size
    if not isinstance(weights, np.ndarray):
        weights = np.stack([np.bincount(ix, minlength=n) for ix in weights]).astype(np.float64)
    out = np.empty((weights.shape[0], metrics.shape[0]))
    for i in range(0, weights.shape[0], chunk):
        w = weights[i : i + chunk]
        rh = weighted_ranks(human, w)
        for k in range(metrics.shape[0]):
            out[i : i + w.shape[0], k] = _weighted_corr(weighted_ranks(metrics[k], w), rh, w)
    return out


def percentile_ci(samples: FloatArray, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile confidence interval ignoring NaN samples."""
    s = samples[np.isfinite(samples)]
    if s.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(s, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


# --------------------------------------------------------------------- significance tests
def williams_test(r12: float, r13: float, r23: float, n: int, *, two_sided: bool = False) -> tuple[float, float]:
    """Williams test for two dependent correlations sharing variable 1 (Steiger 1980, eq. 7).

    As used in the WMT metrics tasks (Graham & Baldwin 2014): variable 1 is the human score, 2 and 3
    two metrics; tests whether ``r12 > r13`` given the metrics' correlation ``r23``.

    Args:
        r12: corr(human, metric A); r13: corr(human, metric B); r23: corr(A, B); n: number of items.
        two_sided: two-sided p-value instead of one-sided (H1: r12 > r13).

    Returns:
        ``(t, p)`` with ``n - 3`` degrees of freedom.

    Example (Howell, *Statistical Methods for Psychology*, 6th ed., p. 262):
        >>> t, p = williams_test(0.80, 0.72, 0.89, 26, two_sided=True)
        >>> round(t, 3), round(p, 3)
        (1.361, 0.187)
    """
    from scipy.stats import t as student_t

    if n <= 3:
        raise InputError(f"the Williams test needs more than 3 items, got {n}")
    k = 1 - r12**2 - r13**2 - r23**2 + 2 * r12 * r13 * r23
    den = 2 * k * (n - 1) / (n - 3) + ((r12 + r13) ** 2 / 4) * (1 - r23) ** 3
    tval = (r12 - r13) * math.sqrt((n - 1) * (1 + r23) / den) if den > 0 else float("inf") * np.sign(r12 - r13)
    df = n - 3
    p = 2 * float(student_t.sf(abs(tval), df)) if two_sided else float(student_t.sf(tval, df))
    return float(tval), p


def _unit_members(n: int, units: ArrayLike | None) -> tuple[NDArray[np.intp], int]:
    if units is None:
        return np.arange(n), n
    _, inv = np.unique(np.asarray(units), return_inverse=True)
    return inv.astype(np.intp), int(inv.max()) + 1


def permutation_test(
    a: ArrayLike,
    b: ArrayLike,
    human: ArrayLike,
    *,
    units: ArrayLike | None = None,
    n_perm: int = 1000,
    seed: int = 0,
    stat: Literal["srcc", "plcc"] = "srcc",
) -> tuple[float, float]:
    """Paired permutation test of "metric A agrees with humans better than metric B".

    Both metrics must be oriented already (higher = better quality). They are first put on a common
    scale — their ranks divided by n for ``srcc`` (with human ranks: the statistic is then exactly the
    SRCC difference), z-scores for ``plcc`` — and each permutation swaps A's and B's transformed values
    on a random half of the units (items, or whole groups such as references when ``units`` is given),
    recomputing the Pearson difference on the swapped columns (mt-metrics-eval ``PermutationSigDiff``
    idea). Vectorised: no re-ranking per permutation.

    Args:
        a, b: oriented metric values ``(n,)`` (no NaN).
        human: human scores ``(n,)``.
        units: swap unit label per item, or None for items.
        n_perm: permutations.
        seed: RNG seed.
        stat: correlation compared.

    Returns:
        ``(delta, p)``: observed ``corr(A) - corr(B)`` and the one-sided p-value
        ``(1 + #{perm delta >= delta}) / (1 + n_perm)``.
    """
    from scipy.stats import rankdata

    aa, bb, hh = (np.asarray(v, dtype=np.float64).ravel() for v in (a, b, human))
    if stat == "srcc":
        aa, bb = rankdata(aa) / aa.size, rankdata(bb) / bb.size
        hh = rankdata(hh)
    else:
        aa, bb = (finite_clip(v) for v in (aa, bb))
        aa, bb = (aa - aa.mean()) / (aa.std() or 1.0), (bb - bb.mean()) / (bb.std() or 1.0)
    hc = (hh - hh.mean())[None, :]
    obs = _corr_rows(np.stack([aa, bb]), hc)
    delta = float(obs[0] - obs[1])
    inv, n_units = _unit_members(aa.size, units)
    rng = np.random.default_rng(seed)
    count = 0
    done = 0
    while done < n_perm:
        c = min(200, n_perm - done)
        swap = rng.integers(0, 2, size=(c, n_units)).astype(bool)[:, inv]  # (c, n)
        pa = np.where(swap, bb[None, :], aa[None, :])
        pb = np.where(swap, aa[None, :], bb[None, :])
        d = _corr_rows(pa, hc) - _corr_rows(pb, hc)
        count += int(np.sum(d >= delta - 1e-12))
        done += c
    return delta, (1 + count) / (1 + n_perm)


def significance_clusters(
    names: Sequence[str], values: Mapping[str, float], pvalue: Callable[[str, str], float], alpha: float = 0.05
) -> dict[str, int]:
    """Rank metrics into significance clusters (WMT style, greedy).

    Metrics are sorted by ``values`` (descending). Walking down the list, a metric joins the current
    cluster unless the first (best) metric of that cluster beats it significantly
    (``pvalue(best, metric) < alpha``), in which case it opens the next cluster.

    Args:
        names: metric names.
        values: name -> statistic (higher is better; NaN sorts last).
        pvalue: ``(a, b) -> p`` of "a beats b".
        alpha: significance level.

    Returns:
        name -> cluster number (1 = top).
    """
    order = sorted(names, key=lambda n: -values[n] if math.isfinite(values[n]) else math.inf)
    out: dict[str, int] = {}
    cluster, head = 0, None
    for name in order:
        if head is None or not math.isfinite(values[name]) or pvalue(head, name) < alpha:
            cluster += 1
            head = name
        out[name] = cluster
    return out


# ---------------------------------------------------------------------- metric summary
def evaluate_metric(
    x: ArrayLike,
    y: ArrayLike,
    higher_is_better: bool,
    *,
    groups: ArrayLike | None = None,
    systems: ArrayLike | None = None,
    level: Level = "item",
    logistic: str = "5",
) -> dict[str, Any]:
    """SRCC, KRCC, PLCC, RMSE (after the logistic fit) and pairwise accuracy at one level.

    Args:
        x: metric values ``(n,)``; y: human scores ``(n,)`` (higher is better).
        higher_is_better: metric direction.
        groups: reference per item (needed for ``group`` level; pairs for accuracy stay within it).
        systems: system per item (needed for ``system`` level).
        level: ``item`` (all items), ``group`` (correlation per reference, averaged) or ``system``
            (means per system, then correlated).
        logistic: ``"5"`` or ``"4"`` parameter VQEG logistic for PLCC/RMSE.

    Returns:
        dict with ``n, srcc, krcc, plcc, rmse, acc, acc_eps, logistic`` (params).
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    keep = ~np.isnan(xa) & ~np.isnan(ya)
    xa, ya = xa[keep], ya[keep]
    g = None if groups is None else np.asarray(groups)[keep]
    s = None if systems is None else np.asarray(systems)[keep]
    out: dict[str, Any] = {"level": level, "n": int(xa.size)}
    if level == "system":
        if s is None:
            raise InputError("system-level correlation needs a system per item (none in these human data)")
        xa, ya = system_means(xa, ya, s)
        g = None
        out["n_systems"] = int(xa.size)
    if level == "group":
        if g is None:
            raise InputError("group-level correlation needs a reference per item (none in these human data)")
        o = orient(xa, higher_is_better)
        out["srcc"] = group_mean_corr(o, ya, g, lambda a, b: srcc(a, b))
        out["krcc"] = group_mean_corr(o, ya, g, lambda a, b: krcc(a, b))
        out["plcc"] = group_mean_corr(o, ya, g, lambda a, b: plcc_rmse(a, b, True, logistic)[0])
        out["rmse"] = float("nan")
        out["logistic"] = None
        out["n_groups"] = int(np.unique(g).size)
    else:
        out["srcc"] = srcc(xa, ya, higher_is_better)
        out["krcc"] = krcc(xa, ya, higher_is_better)
        p, r, fit = plcc_rmse(xa, ya, higher_is_better, logistic)
        out["plcc"], out["rmse"] = p, r
        out["logistic"] = {"kind": fit.kind, "params": fit.params, "converged": fit.converged}
    acc = pairwise_accuracy(xa, ya, higher_is_better, groups=g)
    out["acc"], out["acc_eps"], out["acc_pairs"] = acc.accuracy, acc.epsilon, acc.n_pairs
    return out
