"""Scaling pairwise votes to per-item scores: Bradley–Terry and Thurstone Case V, plus vote statistics.

Votes are a table ``reference, item_a, item_b, winner[, rater, time_ms, is_catch]`` (contracts §5),
given as a :class:`pandas.DataFrame` or as :class:`~meta_eval.judgments.Judgments` of kind
``pairwise``. ``paradigm annotate`` uses :func:`bradley_terry` for its active sampling.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .errors import InputError
from .judgments import Judgments, opinion

log = logging.getLogger(__name__)

Votes: TypeAlias = "pd.DataFrame | Judgments"


def _frame(votes: Votes) -> pd.DataFrame:
    return votes.frame if isinstance(votes, Judgments) else votes


def scaling_votes(votes: Votes) -> pd.DataFrame:
    """The votes used for scaling: catch trials (``is_catch == 1``) and self-pairs removed."""
    v = _frame(votes)
    if "is_catch" in v:
        v = v[v["is_catch"].astype(int) != 1]
    v = v[v["item_a"] != v["item_b"]]
    return v


def item_system(item: str) -> str:
    """System of a pairwise-vote item: its first path component (``<method>/<task>/<dataset>/<image>``)."""
    return re.split(r"[\\/]", str(item).strip("/"))[0]


# ------------------------------------------------------------------------- scaling votes
def _win_matrix(votes: pd.DataFrame, items: list[str]) -> NDArray[np.float64]:
    """W[i, j] = wins of i over j, ties counted as half a win each way."""
    index = {it: k for k, it in enumerate(items)}
    n = len(items)
    w = np.zeros((n, n))
    ia = votes["item_a"].map(index).to_numpy()
    ib = votes["item_b"].map(index).to_numpy()
    win = votes["winner"].to_numpy()
    va = np.where(win == "a", 1.0, np.where(win == "tie", 0.5, 0.0))
    np.add.at(w, (ia, ib), va)
    np.add.at(w, (ib, ia), 1.0 - va)
    return w


def bradley_terry(
    votes: Votes,
    *,
    method: str = "mm",
    prior: float = 0.1,
    max_iter: int = 10000,
    tol: float = 1e-10,
    items: list[str] | None = None,
    bootstrap: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """Bradley–Terry scaling of pairwise votes: ``P(i beats j) = 1 / (1 + exp(-(s_i - s_j)))``.

    Ties count as half a win for each side. A weak symmetric prior (``prior`` pseudo-votes split as
    ties on every compared pair) keeps items that always win or lose finite. Scores are log-strengths
    centred to mean 0 (per connected design only; disconnected designs are not comparable across
    components — a warning is logged). Standard errors come from the inverse Fisher information
    (pseudo-inverse under the sum-to-zero constraint).

    Args:
        votes: pairwise votes (``item_a, item_b, winner``), catch trials already removed.
        method: ``"mm"`` (Hunter 2004 minorisation–maximisation) or ``"newton"``.
        prior: pseudo-votes per compared pair (0 disables).
        max_iter, tol: iteration control.
        items: item order (default: sorted union of ``item_a``/``item_b``).
        bootstrap: when > 0, ``se`` and the CI come from this many refits on votes resampled with
            replacement (percentile 95% CI, seeded) instead of the Fisher information.
        seed: RNG seed of the bootstrap.

    Returns:
        DataFrame ``item, score, se, ci_low, ci_high, wins, n`` (95% normal CI, or bootstrap percentile).
    """
    from scipy.special import expit

    votes = _frame(votes)
    if method not in ("mm", "newton"):
        raise InputError(f"Bradley–Terry method must be 'mm' or 'newton', got {method!r}")
    items = items if items is not None else sorted(set(votes["item_a"]) | set(votes["item_b"]))
    n = len(items)
    if n < 2:
        raise InputError("Bradley–Terry scaling needs votes on at least two items")
    w = _win_matrix(votes, items)
    nij = w + w.T
    compared = nij > 0
    if prior > 0:
        w = w + prior / 2 * compared
        nij = w + w.T
    comp = _components(compared)
    wins = w.sum(axis=1)
    theta = _bt_mm(wins, nij, max_iter, tol) if method == "mm" else _bt_newton(wins, nij, tol)
    for c in np.unique(comp):  # centre each connected part (levels across parts are not identified)
        theta[comp == c] -= theta[comp == c].mean()
    pr = expit(theta[:, None] - theta[None, :])
    cov = np.linalg.pinv(_fisher(nij, pr))
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    lo_ci, hi_ci = theta - 1.959964 * se, theta + 1.959964 * se
    if bootstrap > 0:
        rng = np.random.default_rng(seed)
        boots = np.stack([
            bradley_terry(votes.iloc[rng.integers(0, len(votes), len(votes))], method=method, prior=prior,
                          max_iter=max_iter, tol=tol, items=items)["score"].to_numpy()
            for _ in range(bootstrap)
        ])
        se = boots.std(axis=0, ddof=1) if bootstrap > 1 else np.full(n, np.nan)
        lo_ci, hi_ci = np.quantile(boots, [0.025, 0.975], axis=0)
    raw = _win_matrix(votes, items)
    return pd.DataFrame(
        {
            "item": items,
            "score": theta,
            "se": se,
            "ci_low": lo_ci,
            "ci_high": hi_ci,
            "wins": raw.sum(axis=1),
            "n": (raw + raw.T).sum(axis=1),
        }
    )


def _bt_mm(wins: NDArray[np.float64], nij: NDArray[np.float64], max_iter: int, tol: float) -> NDArray[np.float64]:
    """Hunter (2004) minorisation–maximisation iterations; returns log-strengths."""
    p = np.ones(wins.size)
    for _ in range(max_iter):
        denom = (nij / (p[:, None] + p[None, :])).sum(axis=1)
        p_new = np.where(denom > 0, wins / np.where(denom > 0, denom, 1.0), p)
        p_new = np.maximum(p_new, 1e-300)
        p_new /= np.exp(np.mean(np.log(p_new)))
        if np.max(np.abs(np.log(p_new) - np.log(p))) < tol:
            return np.asarray(np.log(p_new))
        p = p_new
    return np.asarray(np.log(p))


def _bt_newton(wins: NDArray[np.float64], nij: NDArray[np.float64], tol: float) -> NDArray[np.float64]:
    """Newton iterations on the log-likelihood (pseudo-inverse of the Fisher information)."""
    from scipy.special import expit

    theta = np.zeros(wins.size)
    for _ in range(200):
        pr = expit(theta[:, None] - theta[None, :])
        grad = wins - (nij * pr).sum(axis=1)
        step = np.linalg.pinv(_fisher(nij, pr)) @ grad
        theta = theta + step
        theta -= theta.mean()
        if np.max(np.abs(step)) < tol:
            break
    return theta


def _fisher(nij: NDArray[np.float64], pr: NDArray[np.float64]) -> NDArray[np.float64]:
    v = nij * pr * (1 - pr)
    info = -v
    np.fill_diagonal(info, 0.0)
    np.fill_diagonal(info, v.sum(axis=1) - np.diag(v))
    return np.asarray(info)


def _components(compared: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Connected part of each item in the comparison graph (logs when there are several)."""
    from scipy.sparse.csgraph import connected_components

    k, labels = connected_components(compared, directed=False)
    if k > 1:
        log.info(
            "the comparison graph has %d disconnected parts (e.g. one per reference); scores are centred "
            "within each part and comparable only inside it",
            k,
        )
    return np.asarray(labels, dtype=np.intp)


def thurstone(
    votes: pd.DataFrame, *, n_boot: int = 200, seed: int = 0, items: list[str] | None = None
) -> pd.DataFrame:
    """Thurstone Case V scaling (least squares on probit-transformed win proportions).

    For every compared pair, ``z_ij = Φ⁻¹(p_ij)`` with ``p_ij = (wins_ij + 0.5) / (n_ij + 1)``
    (ties half); scores minimise ``Σ n_ij (s_i - s_j - z_ij)²`` (weighted graph-Laplacian solve,
    mean 0; unit = one standard deviation of the discriminal difference). Uncertainty: a bootstrap over
    votes (``n_boot`` resamples, seeded) gives ``se`` and percentile ``ci_low/ci_high``.

    Returns:
        DataFrame ``item, score, se, ci_low, ci_high``.
    """
    items = items if items is not None else sorted(set(votes["item_a"]) | set(votes["item_b"]))

    def solve(v: pd.DataFrame) -> NDArray[np.float64]:
        from scipy.stats import norm

        w = _win_matrix(v, items)
        nij = w + w.T
        z = np.where(nij > 0, norm.ppf((w + 0.5) / (nij + 1.0)), 0.0)
        lap = -nij.copy()
        np.fill_diagonal(lap, nij.sum(axis=1))
        rhs = (nij * z).sum(axis=1)
        s = np.linalg.pinv(lap) @ rhs
        return np.asarray(s - s.mean())

    s = solve(votes)
    rng = np.random.default_rng(seed)
    boots = np.array([solve(votes.iloc[rng.integers(0, len(votes), len(votes))]) for _ in range(n_boot)])
    if n_boot > 1:
        se = boots.std(axis=0, ddof=1)
        lo, hi = np.quantile(boots, [0.025, 0.975], axis=0)
    else:
        se = lo = hi = np.full(len(items), np.nan)
    return pd.DataFrame({"item": items, "score": s, "se": se, "ci_low": lo, "ci_high": hi})


def votes_to_opinion(votes: Votes, method: str | None = None) -> Judgments:
    """Scale votes to opinion judgments (``score`` = BT log-strength or Thurstone score, ``std`` = SE).

    ``method`` is ``bt`` or ``thurstone`` (default: the ``scaling`` the votes were loaded with, else
    ``bt``). ``system`` is the first path component of the item, ``reference`` the vote's reference
    (the most frequent one per item); ``ci_low``/``ci_high`` are carried as extra columns.
    """
    if method is None:
        method = (votes.scaling if isinstance(votes, Judgments) else None) or "bt"
    name = votes.name if isinstance(votes, Judgments) else "votes"
    source = votes.source if isinstance(votes, Judgments) else ""
    v = scaling_votes(votes)
    if v.empty:
        raise InputError("no usable votes (all are catch trials or self-pairs)")
    sc = bradley_terry(v) if method == "bt" else thurstone(v)
    ref_of = (
        pd.concat([v[["item_a", "reference"]].set_axis(["item", "reference"], axis=1),
                   v[["item_b", "reference"]].set_axis(["item", "reference"], axis=1)])
        .groupby("item")["reference"]
        .agg(lambda s: s.value_counts().index[0])
    )
    systems = [item_system(i) for i in sc["item"]]
    j = opinion(
        sc["item"], sc["score"], reference=[ref_of.get(i, i) for i in sc["item"]], distortion=systems,
        system=systems, std=sc["se"], extra={"ci_low": sc["ci_low"].to_numpy(), "ci_high": sc["ci_high"].to_numpy()},
        name=name, source=source,
    )
    return j.with_frame(j.frame, scaled_from="pairwise",
                        scaling="bradley-terry" if method == "bt" else "thurstone-case-v")


def vote_agreement(votes: Votes, score_of: Mapping[str, float], higher_is_better: bool = True) -> float:
    """Fraction of decisive votes (winner a/b) whose winner the score prefers (score ties: 0.5).

    Items without a score are skipped.
    """
    v = scaling_votes(votes)
    v = v[v["winner"] != "tie"]
    sa = v["item_a"].map(score_of).to_numpy(np.float64)
    sb = v["item_b"].map(score_of).to_numpy(np.float64)
    keep = ~np.isnan(sa) & ~np.isnan(sb)
    if not keep.any():
        return float("nan")
    sa, sb = sa[keep], sb[keep]
    if not higher_is_better:
        sa, sb = -sa, -sb
    a_wins = (v["winner"].to_numpy()[keep] == "a")
    pref_a = np.where(sa > sb, 1.0, np.where(sa < sb, 0.0, 0.5))
    return float(np.mean(np.where(a_wins, pref_a, 1.0 - pref_a)))


def split_half_ceiling(
    votes: Votes, *, n_rep: int = 20, seed: int = 0, by: str = "auto"
) -> dict[str, Any]:
    """Human-vs-human agreement ceiling from random split halves.

    Each repetition splits the raters (``by="rater"``; ``"auto"`` uses raters when there are at least
    4, else single votes) into two random halves, fits Bradley–Terry on one half and measures how
    often it predicts the winners of the other half's decisive votes (both directions, averaged),
    plus the SRCC between the two halves' scores. Metrics' :func:`vote_agreement` is comparable to
    ``agreement`` (a metric cannot be expected to beat it by much).

    Returns:
        ``{"agreement": mean, "agreement_ci": [lo, hi], "srcc": mean, "srcc_ci": [...], "n_rep", "by", "seed"}``.
    """
    from scipy.stats import spearmanr

    v = scaling_votes(votes).reset_index(drop=True)
    raters = v["rater"].astype(str).unique() if "rater" in v else np.array([""])
    use_raters = by == "rater" or (by == "auto" and len(raters) >= 4)
    rng = np.random.default_rng(seed)
    agree, rs = [], []
    for _ in range(n_rep):
        if use_raters:
            half = set(rng.permutation(raters)[: len(raters) // 2])
            mask = v["rater"].astype(str).isin(half).to_numpy()
        else:
            mask = rng.permutation(len(v)) < len(v) // 2
        h1, h2 = v[mask], v[~mask]
        if len(h1) == 0 or len(h2) == 0:
            continue
        s1 = bradley_terry(h1).set_index("item")["score"]
        s2 = bradley_terry(h2).set_index("item")["score"]
        a = [vote_agreement(h2, s1.to_dict()), vote_agreement(h1, s2.to_dict())]
        agree.append(float(np.nanmean(a)))
        common = s1.index.intersection(s2.index)
        if len(common) >= 3:
            rs.append(float(spearmanr(s1[common], s2[common])[0]))
    if not agree:
        raise InputError("too few votes to split in halves for a human ceiling")
    aa, rr = np.array(agree), np.array(rs) if rs else np.array([np.nan])
    return {
        "agreement": float(np.mean(aa)),
        "agreement_ci": [float(np.quantile(aa, 0.025)), float(np.quantile(aa, 0.975))],
        "srcc": float(np.nanmean(rr)),
        "srcc_ci": [float(np.nanquantile(rr, 0.025)), float(np.nanquantile(rr, 0.975))] if rs else [math.nan] * 2,
        "n_rep": len(agree),
        "by": "rater" if use_raters else "vote",
        "seed": seed,
    }
