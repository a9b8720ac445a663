"""Composite v2 fitting: meta_eval.hierarchical is the model `paradigm score` applies; `--aggregation all`.

The reproduction tests apply fitted files with paradigm's own composite code (score_table) and compare
with the numbers the fit states, on TID2013's official values (skips without ../shared).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.stats import spearmanr

from meta_eval import hierarchical as H
from paradigm.composite import validate
from paradigm.composite.aggregate import PILLAR_FLOOR, score_table

FIX = Path(__file__).resolve().parent / "fixtures" / "meta_eval"
OFFICIAL = {"psnr": "PSNR.txt", "ssim": "SSIM.txt", "fsimc": "FSIMc.txt"}
STRUCT = {"fidelity": ["psnr", "ssim"], "perceptual": ["fsimc"]}
IDEALS = {"psnr": None, "ssim": 1.0, "fsimc": 1.0}
DIRS = dict.fromkeys(OFFICIAL, True)


@pytest.fixture(scope="module")
def tid(shared_dir: Path) -> dict:
    root = shared_dir / "human" / "tid2013"
    rows = [ln.split() for ln in (root / "mos_with_names.txt").read_text().splitlines() if ln.strip()]
    vals = {}
    for m, f in OFFICIAL.items():
        v = np.loadtxt(root / "metrics_values" / f)
        vals[m] = np.where(v >= 100000, np.inf, v)
    return {"y": np.array([float(r[0]) for r in rows]) / 9, "refs": np.array([r[1][1:3] for r in rows]),
            "types": np.array([r[1][4:6] for r in rows]), "values": vals}


def _doc(model: dict) -> dict:
    return H.composite_file(model, name="t", version=1, data="TID2013", command="test")


def test_floor_matches_paradigm() -> None:
    assert H.FLOOR == PILLAR_FLOOR


@pytest.mark.parametrize("rule", H.RULES)
def test_predict_equals_score_table(rule: str) -> None:
    rng = np.random.default_rng(1)
    vals = {"psnr": rng.uniform(15, 45, 200), "ssim": rng.uniform(0.2, 1, 200), "fsimc": rng.uniform(0.5, 1, 200)}
    vals["psnr"][:3] = np.inf
    cals = {m: {"type": "anchored", "center": c, "scale": s, "worst": w, "ideal": i}
            for m, (c, s, w, i) in {"psnr": (29.0, 1.7, 15.0, None), "ssim": (0.8, 0.06, 0.2, 1.0),
                                    "fsimc": (0.85, 0.05, 0.5, 1.0)}.items()}
    model = {"aggregation": rule, "calibrations": cals,
             "pillars": {"fidelity": {"weight": 0.3, "metrics": {"psnr": 0.7, "ssim": 0.3}},
                         "perceptual": {"weight": 0.7, "metrics": {"fsimc": 1.0}}}}
    spec = validate(_doc(model))
    _, _, comp = score_table(pd.DataFrame(vals), spec)
    assert np.allclose(comp["composite"].to_numpy(), H.predict(model, vals), atol=1e-12, rtol=0)


def test_fitted_file_reproduces_stated_numbers(tid: dict) -> None:
    """In-sample SRCC of the final model and the pooled out-of-fold SRCC, recomputed by `paradigm score`'s code."""
    res = H.fit_all(tid["values"], tid["y"], tid["refs"], tid["types"], STRUCT, DIRS, IDEALS, n_folds=3, n_boot=20)
    frame = pd.DataFrame(tid["values"])
    for rule, fin in res["final"].items():
        spec = validate(_doc(fin["model"]))
        _, _, comp = score_table(frame, spec)
        assert spearmanr(comp["composite"], tid["y"])[0] == pytest.approx(fin["in_sample_srcc"], abs=1e-12)
        cv = res["cv"]["reference"]
        oof = np.full(len(frame), np.nan)
        for model, te in zip(cv["fold_models"][f"fitted/{rule}"], cv["folds_index"], strict=True):
            _, _, c = score_table(frame.iloc[te], validate(_doc(model)))
            oof[te] = c["composite"].to_numpy()
        assert spearmanr(oof, tid["y"])[0] == pytest.approx(cv["candidates"][f"fitted/{rule}"]["srcc"], abs=1e-12)
    assert "weighted_geometric" in H.format_fit_all(res)


def test_three_splits_and_leave_type_out_folds(tid: dict) -> None:
    cv = H.cross_validate(tid["values"], tid["y"], tid["refs"], tid["types"], STRUCT, DIRS, IDEALS,
                          [("equal", "weighted_geometric")], n_boot=10)
    assert set(cv) == {"reference", "type", "random"}
    assert cv["type"]["folds"] == 24 and cv["reference"]["folds"] == 5 and cv["random"]["folds"] == 5
    for te, t in zip(cv["type"]["folds_index"], sorted(set(tid["types"])), strict=True):
        assert set(tid["types"][te]) == {t}  # each fold holds out exactly one distortion type
    for te in cv["reference"]["folds_index"]:
        others = set(tid["refs"]) - set(tid["refs"][te])
        assert not set(tid["refs"][te]) & others
    # single metrics: FSIMc's official SRCC on TID2013 is 0.851 (Ponomarenko et al. 2015)
    assert cv["random"]["single"]["fsimc"]["srcc"] == pytest.approx(0.851, abs=0.005)


def test_anchored_fit_recovers_known_curve() -> None:
    x = np.linspace(10, 50, 400)
    y = 0.1 + 0.7 / (1 + np.exp(-(x - 30) / 3))
    cal = H.anchored_calibration(x, y, True, None)
    assert cal["center"] == pytest.approx(30, abs=1e-3) and cal["scale"] == pytest.approx(3, abs=1e-3)
    assert cal["worst"] == 10 and H.apply_anchored(cal, np.array([10.0, np.inf])).tolist() == [0.0, 1.0]


def test_aggregation_all_cli(tmp_path: Path) -> None:
    from meta_eval.cli import meta_eval

    tid = f"tid2013:{FIX / 'tid2013'}"
    tidm = f"tid2013-metrics:{FIX / 'tid2013' / 'metrics_values'}"
    out = tmp_path / "c.json"
    res = CliRunner().invoke(meta_eval, ["fit", "--human", tid, "--scores", tidm, "--metric", "PSNR=psnr",
                                         "--metric", "SSIM=ssim", "--pillar", "SSIM=perceptual",
                                         "--folds", "3", "--bootstrap", "20",
                                         "--aggregation", "all", "-o", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    rows = [ln for ln in res.output.splitlines() if ln.split()[:1] and ln.split()[0] in H.RULES]
    assert [r.split()[0] for r in rows] == list(H.RULES)  # the three rules, side by side
    doc = json.loads(out.read_text())
    spec = validate(doc)
    assert spec.aggregation in H.RULES and set(doc["weights_provenance"]["results"]["rules"]) == set(H.RULES)


def test_shipped_generalisation_table_reproduces(shared_dir: Path) -> None:
    """default-v2's provenance: the shipped variant's grouped-by-reference row, recomputed from the official values."""
    from paradigm.composite.build_v2 import FITTED_PILLAR, IDEAL, read_tid2013

    doc = json.loads((Path(__file__).resolve().parents[1] / "data" / "composite" / "default-v2.json").read_text())
    prov = doc["weights_provenance"]
    names = tuple(prov["fitted_metrics"])
    t = read_tid2013(shared_dir, names)
    struct: dict[str, list[str]] = {}
    for m in names:
        struct.setdefault(FITTED_PILLAR[m], []).append(m)
    chosen = prov["chosen_variant"]
    cv = H.cross_validate(t["values"], t["y"], t["refs"], t["types"], struct, dict.fromkeys(names, True), IDEAL,
                          [(chosen, "weighted_geometric")], splits=("reference",), n_boot=1000, seed=0)
    got = cv["reference"]["candidates"][f"{chosen}/weighted_geometric"]
    want = prov["generalisation"]["reference"]["candidates"][chosen]
    assert got["srcc"] == pytest.approx(want["srcc"], abs=1e-5)
    assert got["srcc_ci"] == pytest.approx(want["srcc_ci"], abs=1e-5)
    assert cv["reference"]["best_single"] == prov["generalisation"]["reference"]["best_single"]["metric"]
