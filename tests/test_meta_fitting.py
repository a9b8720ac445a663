"""meta_eval.fitting: calibrations (contracts §4), grouped folds, weight fitting, composite file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as ss

from meta_eval import fitting
from meta_eval.errors import InputError


def test_calibration_recovers_known_curve() -> None:
    x = np.linspace(20, 40, 80)
    h = 0.1 + 0.8 / (1 + np.exp(-(x - 30) / 3))
    cal = fitting.fit_calibration(x, h, True, provenance={"data": "synthetic", "command": "test"})
    assert cal["type"] == "logistic4"
    assert cal["lo"] == pytest.approx(0.1, abs=1e-4) and cal["hi"] == pytest.approx(0.9, abs=1e-4)
    assert cal["center"] == pytest.approx(30, abs=1e-3) and cal["scale"] == pytest.approx(3, abs=1e-3)
    assert cal["provenance"]["kind"] == "fitted" and cal["provenance"]["n"] == 80
    assert cal["provenance"]["data"] == "synthetic"
    np.testing.assert_allclose(fitting.apply_calibration(cal, x), h, atol=1e-4)
    json.dumps(cal)  # serialisable


def test_calibration_direction_and_bounds() -> None:
    rng = np.random.default_rng(0)
    d = rng.uniform(0, 1, 300)  # a distance: lower is better
    h = np.clip(1 - d + rng.normal(0, 0.05, 300), 0, 1)
    cal = fitting.fit_calibration(d, h, False)
    assert cal["scale"] < 0 and 0 <= cal["lo"] < cal["hi"] <= 1
    q = fitting.apply_calibration(cal, np.array([0.0, 0.5, 1.0]))
    assert q[0] > q[1] > q[2]  # increasing in quality
    # a metric that is anti-correlated in the declared direction still gives a valid (flat-ish) curve
    bad = fitting.fit_calibration(d, h, True)
    assert 0 <= bad["lo"] < bad["hi"] <= 1 and bad["scale"] > 0


def test_calibration_inf_and_nan_handling() -> None:
    x = np.array([20, 25, 30, 35, 40, np.inf, np.nan])
    h = np.array([0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.5])
    cal = fitting.fit_calibration(x, h, True)
    assert cal["provenance"]["n"] == 6
    q = fitting.apply_calibration(cal, [np.inf, np.nan])
    assert q[0] == pytest.approx(cal["hi"]) and np.isnan(q[1])


def test_calibration_bad_input() -> None:
    with pytest.raises(InputError, match="at least 4"):
        fitting.fit_calibration([1, 2, 3], [0.1, 0.2, 0.3], True)
    with pytest.raises(InputError, match="constant"):
        fitting.fit_calibration([1, 1, 1, 1], [0.1, 0.2, 0.3, 0.4], True)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        fitting.fit_calibration([1, 2, 3, 4], [1, 2, 3, 4], True)
    with pytest.raises(InputError, match="logistic4"):
        fitting.apply_calibration({"type": "spline"}, [1.0])


def test_grouped_folds_never_share_a_reference() -> None:
    groups = np.repeat(np.arange(12), 7)
    folds = fitting.grouped_folds(groups, 5)
    assert len(folds) == 5
    seen = np.zeros(groups.size, int)
    for tr, te in folds:
        assert not set(groups[tr]) & set(groups[te])
        seen[te] += 1
    assert np.all(seen == 1)
    ds = np.where(groups < 6, "a", "b")
    lodo = fitting.grouped_folds(groups, 5, ds)
    assert len(lodo) == 2 and all(len(set(ds[te])) == 1 for _, te in lodo)
    with pytest.raises(InputError):
        fitting.grouped_folds(np.zeros(5), 5)


def _synthetic(n_ref: int = 10, per: int = 12, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_ref), per)
    y = rng.uniform(0.1, 0.9, g.size)
    vals = {
        "good": y + rng.normal(0, 0.05, g.size),
        "dist": -(y + rng.normal(0, 0.12, g.size)),  # lower is better
        "noise": rng.normal(size=g.size),
    }
    return vals, y, g


def test_fit_weights_prefers_informative_metric() -> None:
    vals, y, g = _synthetic()
    q = np.stack([vals["good"], -vals["dist"], vals["noise"]], axis=1)
    q = (q - q.min(0)) / np.ptp(q, axis=0)
    for agg in fitting.AGGREGATIONS:
        w, info = fitting.fit_weights(q, y, g, aggregation=agg)
        assert w.sum() == pytest.approx(1.0) and np.all(w >= 0)
        assert w[0] > w[2] and info["n_pairs"] > 0
    with pytest.raises(InputError):
        fitting.fit_weights(q, y, g, aggregation="median")


def test_fit_composite_and_document() -> None:
    vals, y, g = _synthetic()
    dirs = {"good": True, "dist": False, "noise": True}
    fit = fitting.fit_composite(vals, y, g, dirs, aggregations=["weighted_arithmetic", "weighted_geometric"],
                                n_folds=3, n_boot=100, n_perm=100, seed=0)
    assert fit["folds"] == 3 and fit["best_single"] == "good"
    for agg in fitting.AGGREGATIONS:
        r = fit["aggregations"][agg]
        lo, hi = r["oof"]["srcc_ci"]
        assert lo <= r["oof"]["srcc"] <= hi and r["oof"]["srcc"] > 0.8
        assert 0 < r["vs_best_single"]["p_value"] <= 1
        assert sum(r["weights"].values()) == pytest.approx(1.0)
    assert fit["calibrations"]["dist"]["scale"] < 0
    doc = fitting.composite_document(fit, pillars={"good": "fidelity", "dist": "perceptual", "noise": "fidelity"},
                                     rename={"good": "psnr"}, data="synthetic", command="cmd")
    assert doc["schema"] == "paradigm.composite/1" and doc["weights_provenance"]["kind"] == "fitted"
    assert sum(p["weight"] for p in doc["pillars"].values()) == pytest.approx(1.0, abs=1e-3)
    used = {m for p in doc["pillars"].values() for m in p["metrics"]}
    assert "psnr" in used and set(doc["calibrations"]) == used
    assert doc["calibrations"]["psnr"]["provenance"]["command"] == "cmd"
    # deterministic
    fit2 = fitting.fit_composite(vals, y, g, dirs, aggregations=["weighted_arithmetic", "weighted_geometric"],
                                 n_folds=3, n_boot=100, n_perm=100, seed=0)
    doc2 = fitting.composite_document(fit2, pillars={"good": "fidelity", "dist": "perceptual", "noise": "fidelity"},
                                      rename={"good": "psnr"}, data="synthetic", command="cmd")
    assert json.dumps(doc, sort_keys=True) == json.dumps(doc2, sort_keys=True)


def test_composite_values_handles_nan() -> None:
    q = np.array([[0.5, np.nan], [0.2, 0.8]])
    w = np.array([0.5, 0.5])
    np.testing.assert_allclose(fitting.composite_values(q, w, "weighted_arithmetic"), [0.5, 0.5])
    np.testing.assert_allclose(fitting.composite_values(q, w, "weighted_geometric"), [0.5, 0.4])


def test_transfer_applies_the_fitted_file_to_another_dataset() -> None:
    vals, y, g = _synthetic(seed=0)
    dirs = {"good": True, "dist": False, "noise": True}
    fit = fitting.fit_composite(vals, y, g, dirs, n_folds=3, n_boot=50, n_perm=50, seed=0)
    tv, ty, tg = _synthetic(n_ref=8, seed=5)
    t = fitting.transfer(fit, tv, ty, tg, n_boot=100, n_perm=100, seed=0)
    # expected composite: the file's logistic4 curves and weights, written out here from the definition
    w = fit["aggregations"]["weighted_arithmetic"]["weights"]
    comp = np.zeros(ty.size)
    for m, wm in w.items():
        c = fit["calibrations"][m]
        comp += wm * (c["lo"] + (c["hi"] - c["lo"]) / (1 + np.exp(-(tv[m] - c["center"]) / c["scale"])))
    r = t["aggregations"]["weighted_arithmetic"]
    assert r["srcc"] == pytest.approx(ss.spearmanr(comp, ty)[0], abs=1e-9)
    assert r["srcc_ci"][0] <= r["srcc"] <= r["srcc_ci"][1] and 0 < r["vs_best_single"]["p_value"] <= 1
    assert t["single"]["dist"]["srcc"] == pytest.approx(ss.spearmanr(-tv["dist"], ty)[0], abs=1e-12)
    assert t["best_single_on_train"] == "good" and t["n_references"] == 8
    with pytest.raises(InputError, match="lack"):
        fitting.transfer(fit, {"good": tv["good"]}, ty, tg)
