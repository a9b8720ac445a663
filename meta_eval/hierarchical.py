"""The composite's hierarchical model, fitted and cross-validated exactly as ``paradigm score`` applies it.

Model (``docs/composite.md`` §2-§4)::

    q_m    = anchored calibration of metric m          (1 = ideal value, 0 = worst of the fitting data)
    P_p    = sum_m w_m q_m / sum_m w_m                  (within pillar p: weighted arithmetic mean)
    C      = rule(P, W)                                 (across pillars)

with ``rule`` one of ``weighted_arithmetic`` (``sum W_p P_p``), ``weighted_geometric``
(``prod max(P_p, FLOOR) ** W_p``) and ``min_penalty`` (arithmetic minus ``penalty * max(0, gap -
threshold)``), clipped to [0, 1]. :func:`predict` is a numpy transcription of
``paradigm.composite.aggregate.score_table`` (tested to agree to 1e-12); this module imports neither
paradigm nor torch, so ``meta_eval`` stays light.

The anchored calibration fits ``lo + (hi - lo) * sigmoid((x - center) / scale)`` to the human score by
least squares (many starts, best kept) and keeps only ``center``/``scale``: the rescaling between the
curve's value at the worst observed metric value and at the metric's ideal value does not depend on
``lo``/``hi``. Weights are fitted on within-reference pairs (better, worse) with a logistic
(Bradley-Terry style) loss, softmax weights per pillar and across pillars, an L2 pull toward equal
weights, and are rounded to 4 decimals *before* any number is reported, so the written composite file
reproduces the stated values.

Cross-validation splits (:func:`split_folds`): ``reference`` (GroupKFold over references),
``type`` (leave one distortion type out) and ``random`` (seeded KFold over items). Confidence
intervals resample references (bootstrap, items of a reference stay together).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

RULES: tuple[str, ...] = ("weighted_arithmetic", "weighted_geometric", "min_penalty")
#: Floor of a pillar score in the geometric mean (equals ``paradigm.composite.aggregate.PILLAR_FLOOR``).
FLOOR = 0.05
MIN_PENALTY: dict[str, float] = {"threshold": 0.25, "penalty": 0.5}
SPLITS: tuple[str, ...] = ("reference", "type", "random")
_DIGITS = 6
FloatArray = NDArray[np.float64]


def _sig(v: float) -> float:
    return float(f"{float(v):.{_DIGITS}g}")


def _expit(z: ArrayLike) -> FloatArray:
    from scipy.special import expit

    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(expit(np.asarray(z, dtype=np.float64)), dtype=np.float64)


# ------------------------------------------------------------------------------------ calibration


def fit_logistic(x: ArrayLike, y: ArrayLike, higher_is_better: bool) -> tuple[float, float, float, float]:
    """Least-squares ``lo + (hi - lo) * sigmoid((x - c) / s)`` with the sign of ``s`` fixed by the direction.

    ``±inf`` in ``x`` are clipped to the finite extremes; NaN rows dropped. Starts: centre at the
    20th, 50th, 80th percentiles x widths (0.3, 1 standard deviation); the best is kept.

    Returns:
        ``(lo, hi, center, scale)``.
    """
    from scipy.optimize import least_squares

    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    keep = ~np.isnan(xa) & np.isfinite(ya)
    xa, ya = xa[keep], ya[keep]
    fin = np.isfinite(xa)
    if fin.sum() < 4:
        raise ValueError("a calibration needs at least 4 finite metric values")
    xa = np.clip(xa, xa[fin].min(), xa[fin].max())
    mu, sd = float(xa.mean()), float(xa.std())
    if not sd > 0:
        raise ValueError("cannot calibrate a constant metric")
    z = (xa - mu) / sd
    sign = 1.0 if higher_is_better else -1.0

    def resid(p: FloatArray) -> FloatArray:
        return np.asarray(p[0] + p[1] * _expit(sign * (z - p[2]) / p[3]) - ya)

    def jac(p: FloatArray) -> FloatArray:
        u = sign * (z - p[2]) / p[3]
        e = _expit(u)
        de = p[1] * e * (1.0 - e)
        return np.stack([np.ones_like(z), e, -sign / p[3] * de, -u / p[3] * de], axis=1)

    lower = [-1.0, 1e-3, float(z.min()) - 5, 1e-3]
    upper = [2.0, 3.0, float(z.max()) + 5, 20.0]
    best: Any = None
    y_lo, y_span = float(ya.min()), float(np.ptp(ya)) or 1.0
    for c0 in np.percentile(z, [20, 50, 80]):
        for a0 in (0.3, 1.0):
            p0 = np.clip([y_lo, y_span, float(c0), a0], np.add(lower, 1e-9), np.subtract(upper, 1e-9))
            res = least_squares(resid, p0, jac=jac, bounds=(lower, upper), method="trf", max_nfev=500)
            if best is None or res.cost < best.cost - 1e-12:
                best = res
    lo, span, c, a = (float(v) for v in best.x)
    return lo, lo + span, mu + sd * c, sign * sd * a


def anchored_calibration(
    x: ArrayLike, y: ArrayLike, higher_is_better: bool, ideal: float | None
) -> dict[str, Any]:
    """Fit an ``anchored`` calibration: logistic to human scores, 0 at the worst observed value, 1 at ``ideal``.

    Args:
        x: raw metric values (``±inf`` allowed, e.g. infinite PSNR).
        y: human quality, higher is better (any scale: only the curve's shape is kept).
        higher_is_better: the metric's direction.
        ideal: the metric's value for an exact copy of the reference (None: the asymptote, e.g. PSNR).

    Returns:
        ``{"type": "anchored", "center", "scale", "worst", "ideal"}`` (6 significant digits); ``worst``
        is the worst finite value in ``x`` (minimum for higher-is-better metrics).
    """
    lo, hi, c, s = fit_logistic(x, y, higher_is_better)
    xa = np.asarray(x, dtype=np.float64)
    fin = xa[np.isfinite(xa)]
    worst = float(fin.min() if higher_is_better else fin.max())
    return {"type": "anchored", "center": _sig(c), "scale": _sig(s), "worst": _sig(worst),
            "ideal": None if ideal is None else _sig(ideal)}


def apply_anchored(cal: Mapping[str, Any], x: ArrayLike) -> FloatArray:
    """``clip((S(x) - S(worst)) / (S(ideal) - S(worst)), 0, 1)`` with ``S(v) = sigmoid((v - center) / scale)``."""
    c, s, w = float(cal["center"]), float(cal["scale"]), float(cal["worst"])
    ideal = cal.get("ideal")
    s_w = float(_expit((w - c) / s))
    s_i = 1.0 if ideal is None else float(_expit((float(ideal) - c) / s))
    q = (_expit((np.asarray(x, dtype=np.float64) - c) / s) - s_w) / (s_i - s_w)
    return np.asarray(np.where(np.isnan(q), np.nan, np.clip(q, 0.0, 1.0)), dtype=np.float64)


# ------------------------------------------------------------------------------------ the model


def _nanmean_w(v: FloatArray, w: FloatArray) -> FloatArray:
    present = ~np.isnan(v)
    wb = np.broadcast_to(w, v.shape)
    den = np.where(present, wb, 0.0).sum(axis=1)
    num = np.where(present, v * wb, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan))


def combine(pillars: FloatArray, weights: FloatArray, rule: str) -> FloatArray:
    """Across-pillar rule on ``(n, P)`` pillar scores (NaN = pillar absent; weights renormalised)."""
    w = np.asarray(weights, dtype=np.float64)
    if rule == "weighted_geometric":
        out = np.exp(_nanmean_w(np.log(np.clip(pillars, FLOOR, None)), w))
    elif rule in ("weighted_arithmetic", "min_penalty"):
        out = _nanmean_w(pillars, w)
        if rule == "min_penalty":
            used = ~np.isnan(pillars) & (w > 0)
            hi = np.where(used, pillars, -np.inf).max(axis=1, initial=-np.inf)
            lo = np.where(used, pillars, np.inf).min(axis=1, initial=np.inf)
            gap = np.where(used.any(axis=1), hi - lo, 0.0)
            out = out - MIN_PENALTY["penalty"] * np.clip(gap - MIN_PENALTY["threshold"], 0.0, None)
    else:
        raise ValueError(f"unknown rule {rule!r}; use one of {RULES}")
    return np.asarray(np.where(np.isnan(out), np.nan, np.clip(out, 0.0, 1.0)))


def predict(model: Mapping[str, Any], values: Mapping[str, ArrayLike]) -> FloatArray:
    """Composite values of a model (``{"pillars", "calibrations", "aggregation"}``) on raw metric values."""
    cols = []
    pw = []
    for p in model["pillars"].values():
        mets = list(p["metrics"])
        q = np.stack([apply_anchored(model["calibrations"][m], values[m]) for m in mets], axis=1)
        cols.append(_nanmean_w(q, np.array([float(p["metrics"][m]) for m in mets])))
        pw.append(float(p["weight"]))
    return combine(np.stack(cols, axis=1), np.array(pw), model["aggregation"])


def round_simplex(w: ArrayLike, digits: int = 4) -> FloatArray:
    """Round simplex weights to ``digits`` decimals; the largest absorbs the rounding so the sum stays 1."""
    a = np.asarray(w, dtype=np.float64)
    a = a / a.sum()
    r = np.round(a, digits)
    r[int(np.argmax(r))] += 1.0 - float(r.sum())
    return np.asarray(np.round(r, digits + 6))


def _pairs(y: FloatArray, groups: NDArray[Any], max_pairs: int, seed: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    bi, wi = [], []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        i, j = np.triu_indices(idx.size, k=1)
        a, b = idx[i], idx[j]
        d = y[a] - y[b]
        keep = d != 0
        bi.append(np.where(d[keep] > 0, a[keep], b[keep]))
        wi.append(np.where(d[keep] > 0, b[keep], a[keep]))
    better, worse = np.concatenate(bi), np.concatenate(wi)
    if better.size == 0:
        raise ValueError("no pair of items shares a group with different human scores")
    if better.size > max_pairs:
        sel = np.random.default_rng(seed).choice(better.size, max_pairs, replace=False)
        better, worse = better[sel], worse[sel]
    return better, worse


def _softmax(a: FloatArray) -> FloatArray:
    e = np.exp(a - a.max())
    return np.asarray(e / e.sum())


def fit_weights(
    q: Mapping[str, FloatArray],
    y: FloatArray,
    pair_groups: NDArray[Any],
    structure: Mapping[str, Sequence[str]],
    rule: str,
    *,
    l2: float = 0.01,
    max_pairs: int = 5_000,
    seed: int = 0,
    fit_pillar_weights: bool = True,
) -> dict[str, dict[str, Any]]:
    """Fit within- and across-pillar weights of the hierarchical model on pairs sharing a group.

    Loss: ``mean log(1 + exp(-beta (C_i - C_j)))`` over (better i, worse j) pairs of items with the same
    ``pair_groups`` value, plus ``l2 * (||w - 1/k||^2 + ||W - 1/P||^2)`` summed over pillars;
    softmax parametrisation, free sharpness ``beta``, L-BFGS from equal weights (deterministic).
    With ``fit_pillar_weights=False`` the pillar weights stay equal and only the metric weights within
    each pillar are fitted.

    Returns:
        ``{pillar: {"weight": W, "metrics": {metric: w}}}`` rounded with :func:`round_simplex`.
    """
    from scipy.optimize import minimize

    pnames = list(structure)
    bi, wi = _pairs(y, pair_groups, max_pairs, seed)
    items = np.unique(np.concatenate([bi, wi]))
    pos = np.searchsorted(items, np.arange(len(y)))
    qs = [np.stack([np.nan_to_num(q[m][items], nan=0.5) for m in structure[p]], axis=1) for p in pnames]
    sizes = [len(structure[p]) for p in pnames]
    npar = sum(sizes) + len(pnames) + 1

    def unpack(par: FloatArray) -> tuple[list[FloatArray], FloatArray, float]:
        ws, k = [], 0
        for s in sizes:
            ws.append(_softmax(par[k : k + s]))
            k += s
        big = _softmax(par[k : k + len(pnames)]) if fit_pillar_weights else np.full(len(pnames), 1.0 / len(pnames))
        return ws, big, math.exp(float(par[-1]))

    def loss(par: FloatArray) -> float:
        ws, big_w, beta = unpack(par)
        pil = np.stack([qq @ w for qq, w in zip(qs, ws, strict=True)], axis=1)
        c = combine(pil, big_w, rule)
        d = c[pos[bi]] - c[pos[wi]]
        reg = sum(float(np.sum((w - 1.0 / w.size) ** 2)) for w in ws) + float(np.sum((big_w - 1.0 / big_w.size) ** 2))
        return float(np.mean(np.logaddexp(0.0, -beta * d))) + l2 * reg

    bpos, wpos = pos[bi], pos[wi]
    m_items = len(items)

    def loss_grad(par: FloatArray) -> tuple[float, FloatArray]:
        """Analytic gradient for the arithmetic and geometric rules (the clip at [0, 1] is inactive there)."""
        ws, big_w, beta = unpack(par)
        pil = np.stack([qq @ w for qq, w in zip(qs, ws, strict=True)], axis=1)
        if rule == "weighted_geometric":
            lp = np.log(np.maximum(pil, FLOOR))
            c = np.exp(lp @ big_w)
            dc_dp = np.where(pil > FLOOR, c[:, None] * big_w[None, :] / np.maximum(pil, FLOOR), 0.0)
            dc_dw = c[:, None] * lp
        else:
            c = pil @ big_w
            dc_dp = np.broadcast_to(big_w[None, :], pil.shape)
            dc_dw = pil
        z = beta * (c[bpos] - c[wpos])
        gz = -_expit(-z) / z.size  # dL/dz per pair
        gc = np.bincount(bpos, gz * beta, m_items) - np.bincount(wpos, gz * beta, m_items)
        reg = sum(float(np.sum((w - 1.0 / w.size) ** 2)) for w in ws)
        grad = np.zeros(npar)
        k = 0
        for j, (qq, w) in enumerate(zip(qs, ws, strict=True)):
            g = qq.T @ (gc * dc_dp[:, j]) + 2 * l2 * (w - 1.0 / w.size)
            grad[k : k + w.size] = w * (g - float(w @ g))
            k += w.size
        if fit_pillar_weights:
            reg += float(np.sum((big_w - 1.0 / big_w.size) ** 2))
            g = dc_dw.T @ gc + 2 * l2 * (big_w - 1.0 / big_w.size)
            grad[k : k + big_w.size] = big_w * (g - float(big_w @ g))
        grad[-1] = float(np.sum(gz * z))
        return float(np.mean(np.logaddexp(0.0, -z))) + l2 * reg, grad

    x0 = np.zeros(npar)
    x0[-1] = math.log(10.0)
    if rule == "min_penalty":
        res = minimize(loss, x0, method="L-BFGS-B", options={"maxiter": 150})
    else:
        res = minimize(loss_grad, x0, jac=True, method="L-BFGS-B", options={"maxiter": 300})
    ws, big_w, _ = unpack(res.x)
    big_w = round_simplex(big_w)
    out: dict[str, dict[str, Any]] = {}
    for p, w, bw in zip(pnames, ws, big_w, strict=True):
        out[p] = {"weight": float(bw), "metrics": dict(zip(structure[p], (float(v) for v in round_simplex(w)), strict=True))}
    return out


def equal_weights(structure: Mapping[str, Sequence[str]]) -> dict[str, dict[str, Any]]:
    """Equal pillar weights, equal metric weights within each pillar (rounded like fitted ones)."""
    big_w = round_simplex(np.ones(len(structure)))
    return {
        p: {"weight": float(bw), "metrics": dict(zip(ms, (float(v) for v in round_simplex(np.ones(len(ms)))), strict=True))}
        for (p, ms), bw in zip(structure.items(), big_w, strict=True)
    }


# ------------------------------------------------------------------------------------ variants and CV


#: What :func:`fit_model` can fit. ``pairs``: "reference" = pairs within a reference;
#: "reference+type" = within a reference and distortion type (within-type rankings only); ``l2``: pull
#: toward equal weights; ``few``: keep the k metrics with the highest training |SRCC|; ``equal``: no
#: weight fit; ``pillar_weights``: fit the across-pillar weights too (else equal).
VARIANTS: dict[str, dict[str, Any]] = {
    "fitted": {"pairs": "reference", "l2": 0.01, "few": None, "equal": False, "pillar_weights": True},
    "fitted_within_pillars": {"pairs": "reference", "l2": 0.01, "few": None, "equal": False, "pillar_weights": False},
    "fitted_within_type": {"pairs": "reference+type", "l2": 0.01, "few": None, "equal": False, "pillar_weights": False},
    "regularised": {"pairs": "reference", "l2": 1.0, "few": None, "equal": False, "pillar_weights": False},
    "equal": {"pairs": "reference", "l2": 0.0, "few": None, "equal": True, "pillar_weights": False},
    "few3_equal": {"pairs": "reference", "l2": 0.0, "few": 3, "equal": True, "pillar_weights": False},
}


def _spearman(a: FloatArray, b: FloatArray) -> float:
    from scipy.stats import spearmanr

    ok = ~np.isnan(a) & ~np.isnan(b)
    return float(spearmanr(a[ok], b[ok])[0]) if ok.sum() > 2 else float("nan")


def fit_model(
    values: Mapping[str, FloatArray],
    y: FloatArray,
    refs: NDArray[Any],
    types: NDArray[Any],
    structure: Mapping[str, Sequence[str]],
    directions: Mapping[str, bool],
    ideals: Mapping[str, float | None],
    rule: str,
    variant: str = "fitted",
    *,
    calibrations: Mapping[str, dict[str, Any]] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit one hierarchical model (calibrations, then weights) on the given items.

    Args:
        values: metric -> raw values ``(n,)``; y: human quality ``(n,)``; refs/types: reference and
            distortion type per item.
        structure: pillar -> metrics; directions: metric -> higher_is_better; ideals: metric ->
            ideal value (None = asymptote).
        rule: across-pillar rule; variant: a key of :data:`VARIANTS`.
        calibrations: already fitted calibrations on the same items (skip refitting them).

    Returns:
        ``{"aggregation", "pillars", "calibrations", "variant"}`` (what :func:`predict` takes).
    """
    spec = VARIANTS[variant]
    cals = dict(calibrations) if calibrations is not None else {
        m: anchored_calibration(values[m], y, directions[m], ideals.get(m)) for ms in structure.values() for m in ms
    }
    struct = {p: list(ms) for p, ms in structure.items()}
    if spec["few"]:
        rank = sorted((m for ms in struct.values() for m in ms),
                      key=lambda m: -abs(_spearman(np.asarray(values[m], dtype=np.float64), y)))
        keep = set(rank[: spec["few"]])
        struct = {p: [m for m in ms if m in keep] for p, ms in struct.items()}
        struct = {p: ms for p, ms in struct.items() if ms}
    if spec["equal"]:
        pillars = equal_weights(struct)
    else:
        q = {m: apply_anchored(cals[m], values[m]) for ms in struct.values() for m in ms}
        groups = refs if spec["pairs"] == "reference" else np.char.add(refs.astype(str), np.char.add("|", types.astype(str)))
        pillars = fit_weights(q, y, groups, struct, rule, l2=spec["l2"], seed=seed,
                              fit_pillar_weights=spec["pillar_weights"])
    used = {m for p in pillars.values() for m in p["metrics"]}
    return {"aggregation": rule, "variant": variant, "pillars": pillars,
            "calibrations": {m: cals[m] for m in sorted(used)}}


def split_folds(kind: str, refs: NDArray[Any], types: NDArray[Any], n_folds: int = 5, seed: int = 0
                ) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """Train/test indices: ``reference`` (GroupKFold), ``type`` (leave one type out), ``random`` (KFold)."""
    from sklearn.model_selection import GroupKFold, KFold

    n = len(refs)
    if kind == "reference":
        k = min(n_folds, len(np.unique(refs)))
        return [(tr, te) for tr, te in GroupKFold(n_splits=k).split(np.zeros(n), groups=refs)]
    if kind == "type":
        return [(np.flatnonzero(types != t), np.flatnonzero(types == t)) for t in np.unique(types)]
    if kind == "random":
        return [(tr, te) for tr, te in KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(np.zeros(n))]
    raise ValueError(f"unknown split {kind!r}; use one of {SPLITS}")


def bootstrap_srcc(preds: FloatArray, y: FloatArray, refs: NDArray[Any], n_boot: int, seed: int) -> FloatArray:
    """SRCC of each row of ``preds`` ``(r, n)`` on ``n_boot`` resamples of references; ``(n_boot, r)``."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(seed)
    uniq = np.unique(refs)
    members = [np.flatnonzero(refs == u) for u in uniq]
    out = np.full((n_boot, preds.shape[0]), np.nan)
    for b in range(n_boot):
        idx = np.concatenate([members[i] for i in rng.integers(0, len(uniq), len(uniq))])
        ry = rankdata(y[idx])
        rp = rankdata(preds[:, idx], axis=1)
        ry = ry - ry.mean()
        rp = rp - rp.mean(axis=1, keepdims=True)
        out[b] = (rp @ ry) / np.sqrt((rp**2).sum(axis=1) * float((ry**2).sum()))
    return out


def _ci(a: FloatArray) -> list[float]:
    a = a[np.isfinite(a)]
    return [float(np.percentile(a, 2.5)), float(np.percentile(a, 97.5))] if a.size else [float("nan")] * 2


def cross_validate(
    values: Mapping[str, FloatArray],
    y: FloatArray,
    refs: NDArray[Any],
    types: NDArray[Any],
    structure: Mapping[str, Sequence[str]],
    directions: Mapping[str, bool],
    ideals: Mapping[str, float | None],
    candidates: Sequence[tuple[str, str]],
    *,
    splits: Sequence[str] = SPLITS,
    n_folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Out-of-fold SRCC (with reference-bootstrap CIs) of candidate models and of every single metric.

    Each fold refits the calibrations and the weights on its training items only. For each split the
    result lists, per candidate ``"<variant>/<rule>"`` and per single metric (calibrated per fold), the
    pooled out-of-fold SRCC with its 95 % CI, and for each candidate the paired difference to the best
    single metric of that split with the CI of the difference (same resamples).

    Returns:
        ``{split: {"folds", "candidates": {name: {...}}, "single": {metric: {...}}, "best_single",
        "fold_models": {name: [model per fold]}, "folds_index": [test indices per fold]}}``.
    """
    metrics = [m for ms in structure.values() for m in ms]
    out: dict[str, Any] = {}
    for kind in splits:
        folds = split_folds(kind, refs, types, n_folds, seed)
        names = [f"{v}/{r}" for v, r in candidates]
        oof = {nm: np.full(y.size, np.nan) for nm in names}
        single = {m: np.full(y.size, np.nan) for m in metrics}
        fold_models: dict[str, list[dict[str, Any]]] = {nm: [] for nm in names}
        for tr, te in folds:
            vtr = {m: np.asarray(values[m])[tr] for m in metrics}
            vte = {m: np.asarray(values[m])[te] for m in metrics}
            cals = {m: anchored_calibration(vtr[m], y[tr], directions[m], ideals.get(m)) for m in metrics}
            for m in metrics:
                single[m][te] = apply_anchored(cals[m], vte[m])
            for (variant, rule), nm in zip(candidates, names, strict=True):
                model = fit_model(vtr, y[tr], refs[tr], types[tr], structure, directions, ideals, rule, variant,
                                  calibrations=cals, seed=seed)
                oof[nm][te] = predict(model, vte)
                fold_models[nm].append(model)
        mat = np.stack([oof[nm] for nm in names] + [single[m] for m in metrics])
        boots = bootstrap_srcc(mat, y, refs, n_boot, seed) if n_boot else np.full((1, mat.shape[0]), np.nan)
        srccs = [_spearman(row, y) for row in mat]
        sing: dict[str, dict[str, Any]] = {
            m: {"srcc": srccs[len(names) + j], "srcc_ci": _ci(boots[:, len(names) + j])} for j, m in enumerate(metrics)
        }
        best = max(metrics, key=lambda m: float(sing[m]["srcc"]))
        jb = len(names) + metrics.index(best)
        cands = {}
        for i, nm in enumerate(names):
            cands[nm] = {"srcc": srccs[i], "srcc_ci": _ci(boots[:, i]),
                         "delta_vs_best_single": srccs[i] - srccs[jb], "delta_ci": _ci(boots[:, i] - boots[:, jb])}
        out[kind] = {"folds": len(folds), "candidates": cands, "single": sing, "best_single": best,
                     "fold_models": fold_models, "folds_index": [te.tolist() for _, te in folds]}
    return out


# ------------------------------------------------------------------------------------ reporting


def format_table(cv: Mapping[str, Any]) -> str:
    """Side-by-side out-of-fold SRCC [95 % CI] of the candidates and the best single metric, per split."""
    splits = list(cv)
    names = list(next(iter(cv.values()))["candidates"])
    head = f"{'model':<40}" + "".join(f"{s + ' split':>30}" for s in splits)
    lines = [head]
    for nm in names:
        cells = []
        for s in splits:
            c = cv[s]["candidates"][nm]
            cells.append(f"{c['srcc']:.4f} [{c['srcc_ci'][0]:.3f},{c['srcc_ci'][1]:.3f}] {c['delta_vs_best_single']:+.3f}")
        lines.append(f"{nm:<40}" + "".join(f"{x:>30}" for x in cells))
    cells = []
    for s in splits:
        b = cv[s]["best_single"]
        c = cv[s]["single"][b]
        cells.append(f"{b} {c['srcc']:.4f} [{c['srcc_ci'][0]:.3f},{c['srcc_ci'][1]:.3f}]")
    lines.append(f"{'best single metric':<40}" + "".join(f"{x:>30}" for x in cells))
    lines.append("cells: out-of-fold SRCC [95% CI, references resampled] and its difference to the best single metric")
    return "\n".join(lines)


def composite_file(
    model: Mapping[str, Any],
    *,
    name: str,
    version: int,
    data: str,
    command: str,
    results: Mapping[str, Any] | None = None,
    description: str = "",
) -> dict[str, Any]:
    """A ``paradigm.composite/1`` document of a fitted model (what ``paradigm score --composite`` reads)."""
    cal_prov = {"kind": "fitted", "data": data, "command": command}
    return {
        "schema": "paradigm.composite/1",
        "name": name,
        "version": version,
        "description": description or f"hierarchical composite fitted by meta_eval on {data}",
        "aggregation": model["aggregation"],
        "pillars": {p: {"weight": v["weight"], "metrics": {m: w for m, w in v["metrics"].items() if w > 0}}
                    for p, v in model["pillars"].items() if v["weight"] > 0},
        "weights_provenance": {
            "kind": "fitted", "data": data, "command": command,
            "description": f"hierarchical model ({model.get('variant', 'fitted')}): within-pillar weighted mean, "
            f"{model['aggregation']} across pillars; pairwise logistic loss on within-reference pairs",
            **({"results": _jsonable(results)} if results else {}),
        },
        "calibrations": {m: {**c, "provenance": cal_prov} for m, c in model["calibrations"].items()},
    }


def _jsonable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (float, np.floating)):
        return _sig(float(v)) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def fit_all(
    values: Mapping[str, FloatArray],
    y: FloatArray,
    refs: NDArray[Any],
    types: NDArray[Any],
    structure: Mapping[str, Sequence[str]],
    directions: Mapping[str, bool],
    ideals: Mapping[str, float | None],
    *,
    rules: Sequence[str] = RULES,
    n_folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """``meta-eval fit --aggregation all``: the three rules out of fold (reference split) side by side,
    and each refitted on all items, with its in-sample SRCC (what the written file reproduces)."""
    cv = cross_validate(values, y, refs, types, structure, directions, ideals, [("fitted", r) for r in rules],
                        splits=("reference",), n_folds=n_folds, n_boot=n_boot, seed=seed)
    finals = {}
    for r in rules:
        model = fit_model(values, y, refs, types, structure, directions, ideals, r, "fitted", seed=seed)
        finals[r] = {"model": model, "in_sample_srcc": _spearman(predict(model, values), y)}
    best = max(rules, key=lambda r: cv["reference"]["candidates"][f"fitted/{r}"]["srcc"])
    return {"cv": cv, "final": finals, "best_rule": best}


def format_fit_all(res: Mapping[str, Any]) -> str:
    """Terminal table of :func:`fit_all`."""
    cv = res["cv"]["reference"]
    lines = [f"hierarchical composite, {cv['folds']} folds grouped by reference; out-of-fold SRCC [95% CI]:"]
    lines.append(f"{'rule':<22}{'OOF SRCC':>10}{'95% CI':>20}{'vs best single':>16}{'in-sample':>11}")
    for r, fin in res["final"].items():
        c = cv["candidates"][f"fitted/{r}"]
        ci = f"[{c['srcc_ci'][0]:.4f}, {c['srcc_ci'][1]:.4f}]"
        lines.append(f"{r:<22}{c['srcc']:>10.4f}{ci:>20}{c['delta_vs_best_single']:>+16.4f}{fin['in_sample_srcc']:>11.4f}")
    b = cv["best_single"]
    lines.append(f"best single metric: {b} {cv['single'][b]['srcc']:.4f}; saved rule: {res['best_rule']}")
    return "\n".join(lines)


def ideal_from_range(value_range: Sequence[float] | None, higher_is_better: bool) -> float | None:
    """A metric's ideal value from its declared range: the end in the quality direction (None if infinite/unknown)."""
    if not value_range:
        return None
    v = float(value_range[1] if higher_is_better else value_range[0])
    return v if math.isfinite(v) else None


def run_cli(
    joined: Any,
    cols: Sequence[str],
    rename: Mapping[str, str],
    directions: Mapping[str, bool],
    pillars: Mapping[str, str],
    n_folds: int,
    n_boot: int,
    seed: int,
    name: str,
    version: int,
    command: str,
    results_path: str | None,
    info: Any = None,
) -> tuple[dict[str, Any], str]:
    """``meta-eval fit --aggregation all`` on a joined (human, scores) table; returns (composite file, text).

    ``info(name)`` (optional) returns a metric's registry declaration, whose ``range`` gives its ideal value.
    """
    import json

    out = [rename.get(c, c) for c in cols]
    values = {rename.get(c, c): joined[c].to_numpy(dtype=np.float64) for c in cols}
    dirs = {rename.get(c, c): bool(directions[c]) for c in cols}
    ideals: dict[str, float | None] = {}
    for m in out:
        decl = info(m) if info is not None else None
        ideals[m] = ideal_from_range(decl.get("range") if decl else None, dirs[m])
    structure: dict[str, list[str]] = {}
    for c in cols:
        structure.setdefault(pillars[c], []).append(rename.get(c, c))
    y = joined["human01"].to_numpy(dtype=np.float64)
    refs = joined["reference"].astype(str).to_numpy()
    types = joined["distortion"].astype(str).to_numpy() if "distortion" in joined.columns else np.full(len(y), "")
    res = fit_all(values, y, refs, types, structure, dirs, ideals, n_folds=n_folds, n_boot=n_boot, seed=seed)
    best = res["best_rule"]
    cvr = res["cv"]["reference"]
    results = {
        "split": f"GroupKFold({cvr['folds']}) over references", "bootstrap": n_boot, "seed": seed,
        "rules": {r: {**cvr["candidates"][f"fitted/{r}"], "in_sample_srcc": res["final"][r]["in_sample_srcc"]}
                  for r in res["final"]},
        "best_single": {"metric": cvr["best_single"], **cvr["single"][cvr["best_single"]]},
    }
    doc = composite_file(res["final"][best]["model"], name=name, version=version, data=f"{len(y)} items",
                         command=command, results=results)
    if results_path:
        from pathlib import Path

        Path(results_path).write_text(json.dumps(_jsonable({"cv": res["cv"], "final": res["final"]}), indent=2,
                                                 sort_keys=True) + "\n", encoding="utf-8")
    return doc, format_fit_all(res)
