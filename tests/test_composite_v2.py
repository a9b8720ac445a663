"""Composite v2: one scale, the floor of the geometric mean, exact copies, profiles, schema rules.

Expected values are worked by hand from the definitions in docs/composite.md, never by calling the
code under test.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from paradigm.composite import aggregate, apply_composite, calibrate, list_profiles, load_composite, validate
from paradigm.composite.profiles import PROFILES_FILES, validate_profiles
from paradigm.errors import CompositeSchemaError

REPO = Path(__file__).resolve().parents[1]
V2 = REPO / "data" / "composite" / "default-v2.json"

#: The raw value of each metric for an exact copy of the reference, from each metric's definition
#: (PSNR-like: infinite; similarities: 1; distances/errors/drift/area: 0). NR metrics are given the
#: same value on output and reference (``<m>_ref``): an arbitrary, mediocre naturalness.
IDEAL_RAW: dict[str, float] = {
    "psnr": math.inf, "psnr_y": math.inf, "psnr_mu": math.inf, "ssim": 1.0, "ms_ssim": 1.0, "gmsd": 0.0,
    "ciede2000": 0.0, "fsim": 1.0, "fsimc": 1.0, "vifp": 1.0, "psnr_hvs": math.inf, "psnr_hvs_m": math.inf,
    "psnr_ha": math.inf, "psnr_hma": math.inf, "psnrc": math.inf, "wsnr": math.inf, "nqm": math.inf,
    "vsnr": math.inf, "lpips": 0.0, "dists": 0.0, "edge_f1": 1.0, "edge_f1_input": 1.0, "clip_sim": 1.0,
    "clip_sim_input": 1.0, "dino_sim": 1.0, "dino_patch_sim": 1.0, "dino_sim_input": 1.0,
    "structure_consistency": 1.0, "structure_consistency_input": 1.0, "geo_drift": 0.0, "geo_drift_input": 0.0,
    "hallucinated_area": 0.0,
}
NR_SAME: dict[str, float] = {"niqe": 7.3, "brisque": 35.0, "musiq": 41.0, "clipiqa": 0.45, "topiq_nr": 0.4,
                             "maniqa": 0.35, "nima": 4.2, "uiqm": 1.9, "uciqe": 0.2}


def _exact_copy_row(metrics: list[str]) -> pd.DataFrame:
    row: dict[str, float] = {}
    for m in metrics:
        if m in NR_SAME:
            row[m] = row[m + "_ref"] = NR_SAME[m]
        else:
            row[m] = IDEAL_RAW[m]
    return pd.DataFrame({k: [v] for k, v in row.items()})


def test_v2_is_default_and_v1_still_loads() -> None:
    assert load_composite().tag == "default-v2"
    v1 = load_composite("default-v1")
    assert v1.tag == "default-v1" and v1.calibrations["psnr"]["type"] == "logistic4"


def test_anchored_calibration_by_hand() -> None:
    cal = {"type": "anchored", "center": 0.3, "scale": -0.08, "worst": 1.0, "ideal": 0.0}
    s = [float(expit((v - 0.3) / -0.08)) for v in (0.0, 0.2, 1.0)]
    want = (s[1] - s[2]) / (s[0] - s[2])
    got = calibrate(np.array([0.0, 0.2, 1.0, 2.0, np.nan]), cal)
    assert got[0] == pytest.approx(1.0) and got[1] == pytest.approx(want) and got[2] == pytest.approx(0.0)
    assert got[3] == 0.0 and math.isnan(got[4])
    # ideal = None: the asymptote; +inf (identical images for PSNR) gives exactly 1
    psnr = {"type": "anchored", "center": 29.0, "scale": 1.7, "worst": 15.0, "ideal": None}
    sw = float(expit((15.0 - 29.0) / 1.7))
    assert calibrate(np.array([np.inf, 30.0]), psnr) == pytest.approx([1.0, (float(expit(1 / 1.7)) - sw) / (1 - sw)])


def test_relative_to_reference_by_hand() -> None:
    niqe = {"type": "anchored", "center": 6.0, "scale": -1.0, "worst": 20.0, "ideal": 3.0,
            "relative_to_reference": True}
    s = lambda v: float(expit((v - 6.0) / -1.0))  # noqa: E731
    den = s(3.0) - s(20.0)
    x = np.array([7.0, 8.0, 5.0, 8.0])
    ref = np.array([7.0, 7.0, 7.0, np.nan])
    got = calibrate(x, niqe, ref)
    # equal to the reference: 1; one NIQE unit worse than it: the curve at ideal + 1;
    # more natural than the reference: capped at 1; no reference value: absolute
    assert got == pytest.approx([1.0, (s(4.0) - s(20.0)) / den, 1.0, (s(8.0) - s(20.0)) / den])


def test_geometric_floor_rule() -> None:
    df = pd.DataFrame({"perceptual": [0.8, 0.8], "stability": [0.0, 0.01], "fidelity": [0.9, 0.9]})
    w = {"perceptual": 1 / 3, "stability": 1 / 3, "fidelity": 1 / 3}
    want = (0.8 * 0.05 * 0.9) ** (1 / 3)  # each pillar floored at 0.05 before the geometric mean
    assert aggregate(df, w).tolist() == pytest.approx([want, want])
    assert want > 0.3  # a failed pillar dominates but does not erase the others


def test_exact_copy_scores_one_under_every_profile_synthetic() -> None:
    base = load_composite()
    for prof in list_profiles():
        spec = base if prof == "default" else __import__("paradigm.composite", fromlist=["apply_profile"]).apply_profile(base, prof)
        out, _ = apply_composite(_exact_copy_row(spec.metrics()), profile=prof)
        for p in spec.pillars:
            assert out[p][0] >= 0.99, (prof, p, out[p][0])
        assert out["composite"][0] >= 0.99, prof


def test_v2_one_scale_every_calibration_anchored() -> None:
    spec = load_composite()
    for m, cal in spec.calibrations.items():
        assert cal["type"] == "anchored", m
        if m in IDEAL_RAW:
            assert calibrate(np.array([IDEAL_RAW[m]]), cal)[0] == pytest.approx(1.0), m
        if cal.get("provenance", {}).get("kind") == "fitted":
            # 0 at the worst observed value of the fitting data
            assert calibrate(np.array([float(cal["worst"])]), cal)[0] == pytest.approx(0.0, abs=1e-12), m


def test_diagnostic_metric_cannot_be_weighted(tmp_path: Path) -> None:
    obj = json.loads(V2.read_text())
    bad = copy.deepcopy(obj)
    bad["pillars"]["perceptual"]["metrics"]["fusion_en"] = 0.1
    with pytest.raises(CompositeSchemaError, match=r"pillars\.perceptual\.metrics\.fusion_en: .*diagnostic"):
        validate(bad)
    prof = json.loads(PROFILES_FILES[2].read_text())
    bad = copy.deepcopy(prof)
    bad["profiles"]["multi-focus-fusion"]["pillars"]["perceptual"]["metrics"]["fusion_sd"] = 0.2
    with pytest.raises(CompositeSchemaError, match="fusion_sd.*diagnostic"):
        validate_profiles(bad)


def test_fusion_profiles_report_not_weight_diagnostics() -> None:
    for path in PROFILES_FILES.values():
        prof = json.loads(path.read_text())["profiles"]
        for name in ("multi-focus-fusion", "infrared-visible-fusion"):
            weighted = {m for p in prof[name]["pillars"].values() for m in p["metrics"]}
            assert not weighted & {"fusion_en", "fusion_sd", "fusion_sf", "fusion_ag"}
            assert set(prof[name]["reported"]) == {"fusion_en", "fusion_sd", "fusion_sf", "fusion_ag"}


def test_v2_provenance_three_split_table() -> None:
    obj = json.loads(V2.read_text())
    prov = obj["weights_provenance"]
    gen = prov["generalisation"]
    assert set(gen) == {"reference", "type", "random"}
    assert gen["type"]["folds"] == 24 and gen["reference"]["folds"] == 5
    for split in gen.values():
        best = split["best_single"]
        assert best["srcc"] > 0.7 and len(best["srcc_ci"]) == 2
        for cand in split["candidates"].values():
            lo, hi = cand["srcc_ci"]
            assert lo <= cand["srcc"] <= hi and len(cand["delta_ci"]) == 2
    chosen = prov["chosen_variant"]
    loses = gen["type"]["candidates"][chosen]["delta_vs_best_single"] < 0
    assert prov["fitted_loses_leave_type_out"] == loses
    assert ("LOSES" in prov["description"]) == loses
    for m in prov["fitted_metrics"]:
        assert obj["calibrations"][m]["provenance"]["kind"] == "fitted"


def test_run_spread_profile_option(tmp_path: Path) -> None:
    from paradigm.composite.profiles import _inject_run_spread

    raw = json.loads(V2.read_text())
    _inject_run_spread(raw, {"metric": "psnr", "weight": 0.2, "limit": 2.0}, "test")
    spec = validate(raw)
    assert spec.pillars["stability"].metrics["run_spread"] == pytest.approx(0.2)
    f = tmp_path / "c.json"
    f.write_text(json.dumps(raw))
    df = pd.DataFrame({"method": "m", "image": ["a", "a", "b"], "sample": ["0", "1", ""],
                       "psnr": [30.0, 31.0, 30.0], "structure_consistency": [0.9, 0.9, 0.9]})
    out, _ = apply_composite(df, composite=str(f))
    # input a: population std of (30, 31) = 0.5 -> linear 1 - 0.5/2 = 0.75; input b: one sample -> NaN
    assert out["run_spread"].tolist()[:2] == pytest.approx([0.5, 0.5]) and math.isnan(out["run_spread"][2])
    q_sc = calibrate(np.array([0.9]), spec.calibrations["structure_consistency"])[0]
    assert out["stability"][0] == pytest.approx((0.3 * 0.8 * q_sc + 0.2 * 0.75) / (0.3 * 0.8 + 0.2))
    assert out["stability"][2] == pytest.approx(q_sc)


def test_local_std_and_run_spread_by_hand() -> None:
    import torch

    from paradigm.samples import local_std, run_spread

    a = torch.zeros(3, 4, 4)
    b = torch.full((3, 4, 4), 0.2)
    # two samples differing by 0.2 everywhere: pixel-wise population std 0.1
    assert local_std([a, b]) == pytest.approx(0.1)
    assert local_std([a, a]) == 0.0 and math.isnan(local_std([a]))
    df = pd.DataFrame({"method": ["m", "m", "m", "n"], "image": ["a", "a", "a", "a"], "lpips": [0.1, 0.2, 0.3, 0.5]})
    got = run_spread(df, "lpips")
    assert got[:3] == pytest.approx([np.std([0.1, 0.2, 0.3])] * 3) and math.isnan(got[3])


def test_structure_consistency_by_hand() -> None:
    import torch

    from paradigm.metrics.stability import structure_consistency

    ramp = torch.linspace(0, 0.4, 32, dtype=torch.float32).view(1, 1, 1, 32).repeat(1, 1, 16, 1)
    # gradient fields g_out = 2 g_ref everywhere (borders included), no pre-blur, negligible floor:
    # 1 - sum |g|^2 / sum (4 |g|^2 + |g|^2) = 1 - 1/5
    got = structure_consistency(2 * ramp, ramp, sigma=0.0, floor=1e-12)
    assert float(got[0]) == pytest.approx(0.8, abs=1e-5)
    # opposite gradients: 1 - 4|g|^2 / 2|g|^2 < 0, clipped to 0; identical flat images: 1
    assert float(structure_consistency(0.4 - ramp, ramp, sigma=0.0, floor=1e-12)[0]) == 0.0
    flat = torch.full((1, 3, 16, 16), 0.5)
    assert float(structure_consistency(flat, flat)[0]) == 1.0
    # a faint change on a flat reference is measured against the texture floor, not against nothing:
    # gradient error e^2 per pixel vs floor 1e-4 -> S = 1 - e^2 / (e^2 + 1e-4) with e small
    bump = flat.clone()
    bump[..., :, 8:] += 0.002
    assert float(structure_consistency(bump, flat, sigma=0.0)[0]) > 0.99


def test_geometric_drift_measures_a_shift() -> None:
    import torch

    from paradigm.metrics.stability import geometric_drift

    data = pytest.importorskip("skimage.data")
    a = torch.from_numpy(np.asarray(data.astronaut()[100:228, 150:278], dtype=np.float32) / 255).permute(2, 0, 1)[None]
    shifted = torch.cat([a[..., :, :1].repeat(1, 1, 1, 3), a[..., :, :-3]], dim=-1)  # content 3 px right
    assert float(geometric_drift(a, a)[0]) == pytest.approx(0.0, abs=0.05)
    assert float(geometric_drift(shifted, a)[0]) == pytest.approx(3.0, abs=0.3)
