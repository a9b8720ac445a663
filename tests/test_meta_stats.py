"""meta_eval.stats: every statistic against scipy or a hand-worked example."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as ss

from meta_eval import stats
from meta_eval.errors import InputError


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = 0.7 * x + rng.normal(scale=0.7, size=200)
    x[:10] = x[0]  # ties
    return x, y


def test_srcc_krcc_match_scipy(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    assert stats.srcc(x, y) == pytest.approx(ss.spearmanr(x, y)[0], abs=1e-12)
    assert stats.krcc(x, y) == pytest.approx(ss.kendalltau(x, y)[0], abs=1e-12)
    # direction: a lower-is-better metric is negated, so agreement stays positive
    assert stats.srcc(-x, y, higher_is_better=False) == pytest.approx(ss.spearmanr(x, y)[0], abs=1e-12)
    assert stats.krcc(-x, y, higher_is_better=False) == pytest.approx(ss.kendalltau(x, y)[0], abs=1e-12)


def test_nan_pairs_dropped_and_inf_ranks_last() -> None:
    x = np.array([1.0, 2.0, np.nan, 4.0, np.inf])
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert stats.srcc(x, y) == pytest.approx(1.0)
    assert math.isnan(stats.srcc([1, 1, 1], [1, 2, 3]))


def test_pearson_and_rmse_after_logistic_recovers_known_curve() -> None:
    x = np.linspace(0, 10, 300)
    params = [4.0, 1.2, 5.0, 0.1, 3.0]
    y = stats.vqeg_logistic5(x, *params)
    plcc, rmse, fit = stats.plcc_rmse(x, y)
    assert plcc == pytest.approx(1.0, abs=1e-6) and rmse < 1e-4
    assert fit.converged
    np.testing.assert_allclose(fit.predict(x), y, atol=1e-4)
    # 4-parameter curve: parameters recovered
    y4 = stats.vqeg_logistic4(x, 9.0, 1.0, 4.0, 1.5)
    p4, r4, fit4 = stats.plcc_rmse(x, y4, kind="4")
    np.testing.assert_allclose(fit4.params, [9.0, 1.0, 4.0, 1.5], rtol=1e-3)
    assert p4 == pytest.approx(1.0, abs=1e-9) and r4 < 1e-6


def test_plcc_equals_pearson_of_prediction(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    plcc, rmse, fit = stats.plcc_rmse(x, y)
    pred = fit.predict(x)
    assert plcc == pytest.approx(ss.pearsonr(pred, y)[0], abs=1e-12)
    assert rmse == pytest.approx(float(np.sqrt(np.mean((pred - y) ** 2))), abs=1e-12)
    assert plcc >= abs(ss.pearsonr(x, y)[0]) - 1e-3  # the monotone fit is at least as good as linear


def test_williams_published_example() -> None:
    # Howell, Statistical Methods for Psychology (6th ed.), p. 262: t(23) = 1.361, p = .187 (two-sided)
    t, p = stats.williams_test(0.80, 0.72, 0.89, 26, two_sided=True)
    assert round(t, 3) == 1.361 and round(p, 3) == 0.187
    t1, p1 = stats.williams_test(0.80, 0.72, 0.89, 26)
    assert p1 == pytest.approx(p / 2)
    with pytest.raises(InputError):
        stats.williams_test(0.5, 0.4, 0.3, 3)


def test_acc23_hand_example_with_tie_calibration() -> None:
    # pairs: (0,1) metric differs by 0.1, humans tie; (0,2), (1,2) concordant.
    m, h = [1.0, 1.1, 3.0], [1.0, 1.0, 3.0]
    no_cal = stats.pairwise_accuracy(m, h, tie_calibration=False)
    assert no_cal.accuracy == pytest.approx(2 / 3) and no_cal.n_pairs == 3
    cal = stats.pairwise_accuracy(m, h)
    assert cal.accuracy == pytest.approx(1.0) and cal.epsilon == pytest.approx(0.1)
    # second hand example: m=[1,2,3,3], h=[1,2,2,3]: C=4 of 6 at eps=0 is the optimum
    r = stats.pairwise_accuracy([1, 2, 3, 3], [1, 2, 2, 3])
    assert r.accuracy == pytest.approx(4 / 6) and r.epsilon == 0.0
    assert r.counts == {"concordant": 4, "discordant": 0, "ties_human": 1, "ties_metric": 1, "ties_both": 0}
    # direction and groups: pairs only within groups
    g = stats.pairwise_accuracy([3, 2, 1, 1], [1, 2, 3, 0], higher_is_better=False, groups=[0, 0, 0, 1])
    assert g.n_pairs == 3 and g.accuracy == pytest.approx(1.0)


def test_twoafc_hand_example() -> None:
    a, b, h = [1.0, 2.0, 3.0], [2.0, 1.0, 3.0], [0.8, 0.3, 0.5]
    # prefers B -> 0.8; prefers A -> 0.7; tie -> 0.5
    assert stats.twoafc_agreement(a, b, h) == pytest.approx((0.8 + 0.7 + 0.5) / 3)
    # distances: lower is better, so preferences flip
    assert stats.twoafc_agreement(a, b, h, higher_is_better=False) == pytest.approx((0.2 + 0.3 + 0.5) / 3)


def _resample_indices(n: int, groups: np.ndarray, n_boot: int, rng: np.random.Generator, unit: str) -> list:
    """Explicit bootstrap index sets: items; whole groups; or groups, then items within each drawn group."""
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    out = []
    for _ in range(n_boot):
        if unit == "item":
            out.append(rng.integers(0, n, size=n))
            continue
        drawn = [members[k] for k in rng.integers(0, len(members), size=len(members))]
        out.append(np.concatenate([m[rng.integers(0, m.size, size=m.size)] if unit == "both" else m for m in drawn]))
    return out


def test_bootstrap_srcc_equals_explicit_resamples() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 40))
    x[0, :5] = x[0, 0]
    x[1, 3] = np.inf
    h = x[0] + rng.normal(size=40)
    g = np.repeat(np.arange(8), 5)
    for unit in ("item", "group", "both"):
        idx = _resample_indices(40, g, 15, np.random.default_rng(0), unit)
        ref = np.array([[ss.spearmanr(x[k, i], h[i])[0] for k in range(3)] for i in idx])
        np.testing.assert_allclose(stats.bootstrap_srcc(x, h, idx), ref, atol=1e-12)
    w = stats.bootstrap_weights(40, g, 50, 0, "group")
    assert w.shape == (50, 40) and np.all(w.sum(axis=1) == 40)
    # whole groups move together
    assert np.all(w.reshape(50, 8, 5).std(axis=2) == 0)


def test_permutation_test_detects_better_metric() -> None:
    rng = np.random.default_rng(2)
    h = rng.normal(size=300)
    good = h + rng.normal(scale=0.3, size=300)
    bad = h + rng.normal(scale=2.0, size=300)
    d, p = stats.permutation_test(good, bad, h, n_perm=500, seed=0)
    assert d == pytest.approx(ss.spearmanr(good, h)[0] - ss.spearmanr(bad, h)[0], abs=1e-12)
    assert p < 0.01
    _, p_rev = stats.permutation_test(bad, good, h, n_perm=500, seed=0)
    assert p_rev > 0.5
    _, p_same = stats.permutation_test(good, good, h, n_perm=200, seed=0)
    assert p_same == 1.0
    # grouped swapping also works
    _, pg = stats.permutation_test(good, bad, h, units=np.repeat(np.arange(30), 10), n_perm=500, seed=0)
    assert pg < 0.01


def test_significance_clusters_greedy() -> None:
    vals = {"a": 0.9, "b": 0.89, "c": 0.5, "d": 0.49, "e": float("nan")}
    sig = {("a", "c"), ("a", "d"), ("a", "b2")}
    clusters = stats.significance_clusters(list(vals), vals, lambda x, y: 0.001 if (x, y) in sig else 0.5)
    assert clusters == {"a": 1, "b": 1, "c": 2, "d": 2, "e": 3}


def test_levels() -> None:
    x = np.array([1, 2, 3, 1, 2, 3, 9, 8, 7.0])
    y = np.array([1, 2, 3, 3, 2, 1, 1, 2, 3.0])
    g = np.repeat([0, 1, 2], 3)
    r = stats.evaluate_metric(x, y, True, groups=g, level="group")
    assert r["srcc"] == pytest.approx((1 - 1 - 1) / 3)
    s = stats.evaluate_metric(x, y, True, systems=np.tile(["p", "q", "r"], 3), level="system")
    assert s["n_systems"] == 3
    with pytest.raises(InputError):
        stats.evaluate_metric(x, y, True, level="system")


def test_mismatched_lengths_raise() -> None:
    with pytest.raises(InputError):
        stats.srcc([1, 2, 3], [1, 2])


def test_logistic_global_start_finds_a_steep_curve_at_the_edge() -> None:
    # a steep step near the top of the metric range plus a linear trend: fixed starts at the median
    # and quartiles converge to a worse local optimum; the grid search must find the true curve
    x = np.linspace(0, 10, 400)
    b = [-2.0, 12.0, 9.5, 0.3, 1.0]  # the four fixed starts of the old fit all fail or stop at max error 0.81
    y = b[0] * (0.5 - 1 / (1 + np.exp(b[1] * (x - b[2])))) + b[3] * x + b[4]
    fit = stats.fit_logistic(x, y)
    pred = fit.predict(x)
    assert float(np.max(np.abs(pred - y))) < 1e-3
    np.testing.assert_allclose(fit.params, b, rtol=1e-3, atol=1e-3)
