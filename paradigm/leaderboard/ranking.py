"""Ranking with significance: methods share a rank when their difference is not significant.

Rule (documented in ``docs/leaderboards.md``): methods are sorted by their score (mean over images
of the per-image composite, or of the per-image floor), best first, ties broken by name. The best
method opens rank group 1. Walking down the list, a method joins the current group while it is
*not significantly worse than the group's top method*; otherwise it opens a new group. Ranks are
competition ranks: every member of a group gets the 1-based position of its top method ("1, 1, 3").

"Significantly worse" is a paired bootstrap over the images both methods scored: the per-image
differences ``top - other`` are resampled with replacement ``n_boot`` times; the other method is
significantly worse when the lower end of the two-sided ``1 - alpha`` percentile interval of the
mean difference is above 0. With fewer than two shared images nothing can be concluded and the
method joins the group. Every random stream is seeded from ``seed`` and the names involved, so the
result does not depend on the order in which groups are processed.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Largest number of bootstrap values drawn at once (bounds the memory of one step).
_CHUNK = 2_000_000


def rng_for(seed: int, *parts: str) -> np.random.Generator:
    """A generator seeded from ``seed`` and names, independent of call order."""
    digest = hashlib.sha256(json.dumps([int(seed), *parts]).encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def bootstrap_means(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_boot`` resamples (with replacement) of a 1-D array of ``n >= 1`` values."""
    n = len(values)
    out = np.empty(n_boot, dtype=np.float64)
    step = max(1, _CHUNK // max(n, 1))
    for start in range(0, n_boot, step):
        stop = min(n_boot, start + step)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = values[idx].mean(axis=1)
    return out


def bootstrap_ci(
    values: np.ndarray, n_boot: int, rng: np.random.Generator, alpha: float = 0.05
) -> tuple[float, float]:
    """Percentile bootstrap ``1 - alpha`` interval of the mean.

    Args:
        values: 1-D array of per-image scores (NaN already removed).
        n_boot: number of resamples; 0 gives ``(nan, nan)``.
        rng: random generator.
        alpha: 1 minus the coverage.

    Returns:
        ``(low, high)``; ``(nan, nan)`` when empty, ``(v, v)`` for a single value.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0 or n_boot <= 0:
        return math.nan, math.nan
    if len(values) == 1:
        return float(values[0]), float(values[0])
    means = bootstrap_means(values, n_boot, rng)
    lo, hi = np.percentile(means, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(lo), float(hi)


def significantly_worse(
    top: pd.Series, other: pd.Series, n_boot: int, rng: np.random.Generator, alpha: float = 0.05
) -> bool:
    """Whether ``other`` is significantly worse than ``top`` over the images both scored.

    Args:
        top: per-image scores of the better method, indexed by image.
        other: per-image scores of the other method, indexed by image.
        n_boot: bootstrap resamples.
        rng: random generator.
        alpha: significance level (two-sided interval, so one-sided level ``alpha/2``).

    Returns:
        True when the lower end of the interval of ``mean(top - other)`` is above 0.
    """
    shared = top.index.intersection(other.index)
    if len(shared) < 2 or n_boot <= 0:
        return False
    diff = top.loc[shared].to_numpy(np.float64) - other.loc[shared].to_numpy(np.float64)
    diff = diff[~np.isnan(diff)]
    if len(diff) < 2:
        return False
    if np.all(diff == diff[0]):  # a constant difference: no sampling variation
        return bool(diff[0] > 0)
    lo, _ = bootstrap_ci(diff, n_boot, rng, alpha)
    return lo > 0


@dataclass(frozen=True)
class RankResult:
    """Rank of one method in one board."""

    rank: int
    score: float
    group_top: str


def rank_methods(
    per_image: Mapping[str, pd.Series],
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    context: tuple[str, ...] = (),
) -> dict[str, RankResult]:
    """Rank methods by mean per-image score with significance-aware shared ranks.

    Args:
        per_image: method -> per-image scores (indexed by image, NaN allowed and ignored).
        n_boot: bootstrap resamples per comparison.
        seed: base seed.
        alpha: significance level.
        context: names mixed into the seeds (task, dataset, rank key).

    Returns:
        method -> :class:`RankResult`; methods without any finite score get rank 0 (unranked).
    """
    scores = {m: s.dropna() for m, s in per_image.items()}
    means = {m: float(s.mean()) if len(s) else math.nan for m, s in scores.items()}
    ranked = sorted((m for m in scores if not math.isnan(means[m])), key=lambda m: (-means[m], m))
    out: dict[str, RankResult] = {}
    top: str | None = None
    top_rank = 0
    for pos, m in enumerate(ranked, start=1):
        if top is None or significantly_worse(
            scores[top], scores[m], n_boot, rng_for(seed, *context, top, m), alpha
        ):
            top, top_rank = m, pos
        out[m] = RankResult(rank=top_rank, score=means[m], group_top=top)
    for m in scores:
        if m not in out:
            out[m] = RankResult(rank=0, score=math.nan, group_top="")
    return out
