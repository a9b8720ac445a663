"""Composite: calibration, aggregation, missing parts, strict mode, schema errors, profiles."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paradigm.composite import (
    aggregate,
    apply_composite,
    apply_profile,
    calibrate,
    list_profiles,
    load_composite,
    load_profile,
    logistic4,
    validate,
)
from paradigm.composite.aggregate import score_table
from paradigm.composite.schema import sha256_of
from paradigm.errors import CompositeSchemaError, InputError, MetricUnavailableError
from paradigm.metrics.spec import load_manifest

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "data" / "composite" / "default-v1.json"

TASKS = [
    "dehazing",
    "super-resolution",
    "deraining",
    "deshadowing",
    "motion-deblur",
    "defocus-deblur",
    "denoising",
    "reflection-removal",
    "flare-removal",
    "low-light",
    "underwater",
    "hdr",
    "multi-focus-fusion",
    "infrared-visible-fusion",
]


def small_composite(**over: object) -> dict:
    obj = {
        "schema": "paradigm.composite/1",
        "name": "tiny",
        "version": 1,
        "aggregation": "weighted_geometric",
        "pillars": {
            "perceptual": {"weight": 0.5, "metrics": {"lpips": 1.0}},
            "fidelity": {"weight": 0.5, "metrics": {"psnr": 0.5, "ssim": 0.5}},
        },
        "weights_provenance": {"kind": "prior", "description": "test"},
        "calibrations": {
            "lpips": {"type": "logistic4", "lo": 0, "hi": 1, "center": 0.3, "scale": -0.08,
                      "provenance": {"kind": "prior", "description": "test"}},
            "psnr": {"type": "logistic4", "lo": 0, "hi": 1, "center": 25, "scale": 3,
                     "provenance": {"kind": "fitted", "data": "d", "command": "c", "n": 3}},
            "ssim": {"type": "linear", "a": 0.5, "b": 1.0,
                     "provenance": {"kind": "prior", "description": "test"}},
        },
    }
    obj.update(over)
    return obj


def write(tmp_path: Path, obj: dict) -> str:
    p = tmp_path / "c.json"
    p.write_text(json.dumps(obj))
    return str(p)


# ----------------------------------------------------------------------------------- calibration


@pytest.mark.parametrize("scale", [3.0, -3.0])
def test_logistic_monotone_in_quality(scale: float) -> None:
    x = np.linspace(0, 50, 101)
    q = logistic4(x, 0.1, 0.9, 25.0, scale)
    assert ((q >= 0.1) & (q <= 0.9)).all()
    d = np.diff(q)
    # higher-is-better (scale > 0): q increases with x; lower-is-better: q decreases with x,
    # i.e. increases with quality in both cases.
    assert (d > 0).all() if scale > 0 else (d < 0).all()


def test_calibrate_direction_aware_lower_is_better() -> None:
    cal = {"type": "logistic4", "lo": 0.0, "hi": 1.0, "center": 0.3, "scale": -0.08}
    good, bad = calibrate(np.array([0.05, 0.7]), cal)
    assert good > 0.9 > 0.1 > bad


def test_calibrate_nan_inf_and_series() -> None:
    cal = {"type": "logistic4", "lo": 0.2, "hi": 0.8, "center": 25.0, "scale": 3.0}
    q = calibrate(pd.Series([np.inf, -np.inf, np.nan, 25.0]), cal)
    assert q[0] == pytest.approx(0.8) and q[1] == pytest.approx(0.2) and math.isnan(q[2])
    assert q[3] == pytest.approx(0.5)


def test_linear_calibration_both_directions() -> None:
    up = {"type": "linear", "a": 10.0, "b": 20.0}
    down = {"type": "linear", "a": 20.0, "b": 10.0}
    assert calibrate(np.array([5, 15, 25]), up).tolist() == [0.0, 0.5, 1.0]
    assert calibrate(np.array([5, 15, 25]), down).tolist() == [1.0, 0.5, 0.0]


# ----------------------------------------------------------------------------------- aggregation


def test_geometric_le_arithmetic_and_collapse_drags_more() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.uniform(0.01, 1, size=(200, 3)), columns=["perceptual", "stability", "fidelity"])
    w = {"perceptual": 0.2, "stability": 0.3, "fidelity": 0.5}
    g = aggregate(df, w, "weighted_geometric")
    a = aggregate(df, w, "weighted_arithmetic")
    assert (g <= a + 1e-12).all()
    # a collapsed pillar
    ok = pd.DataFrame({"perceptual": [0.9], "stability": [0.9], "fidelity": [0.9]})
    bad = ok.assign(fidelity=0.02)
    w3 = {"perceptual": 1 / 3, "stability": 1 / 3, "fidelity": 1 / 3}
    drop_g = aggregate(ok, w3, "weighted_geometric")[0] - aggregate(bad, w3, "weighted_geometric")[0]
    drop_a = aggregate(ok, w3, "weighted_arithmetic")[0] - aggregate(bad, w3, "weighted_arithmetic")[0]
    assert drop_g > drop_a > 0


def test_identity_gives_one_and_min_penalty() -> None:
    ones = pd.DataFrame({"perceptual": [1.0], "fidelity": [1.0]})
    w = {"perceptual": 0.5, "fidelity": 0.5}
    for m in ("weighted_geometric", "weighted_arithmetic", "min_penalty"):
        assert aggregate(ones, w, m)[0] == pytest.approx(1.0)
    unbalanced = pd.DataFrame({"perceptual": [0.9], "fidelity": [0.3]})
    arith = aggregate(unbalanced, w, "weighted_arithmetic")[0]
    pen = aggregate(unbalanced, w, "min_penalty", threshold=0.25, penalty=0.5)[0]
    assert pen == pytest.approx(arith - 0.5 * (0.6 - 0.25))
    small_gap = pd.DataFrame({"perceptual": [0.6], "fidelity": [0.5]})
    assert aggregate(small_gap, w, "min_penalty")[0] == pytest.approx(0.55)


def test_aggregate_renormalises_over_present_pillars_and_rejects_unknown() -> None:
    df = pd.DataFrame({"perceptual": [0.8, np.nan], "fidelity": [np.nan, np.nan]})
    s = aggregate(df, {"perceptual": 0.3, "fidelity": 0.7}, "weighted_geometric")
    assert s[0] == pytest.approx(0.8) and math.isnan(s[1])
    with pytest.raises(CompositeSchemaError, match="unknown aggregation"):
        aggregate(df, {"perceptual": 1.0}, "harmonic")
    with pytest.raises(CompositeSchemaError, match=">= 0"):
        aggregate(df, {"perceptual": -1.0, "fidelity": 2.0}, "weighted_arithmetic")
    with pytest.raises(CompositeSchemaError, match="not in the table"):
        aggregate(df, {"stability": 1.0}, "weighted_arithmetic")


def test_bad_input_raises_input_error() -> None:
    with pytest.raises(InputError, match="DataFrame"):
        apply_composite({"psnr": [1.0]}, composite=None, profile=None, strict=False)  # type: ignore[arg-type]


def test_monotone_worsening_composite() -> None:
    psnrs = [40, 35, 30, 25, 20, 15]
    df = pd.DataFrame({"psnr": psnrs, "ssim": np.linspace(0.99, 0.5, 6), "lpips": np.linspace(0.02, 0.8, 6),
                       "ciede2000": np.linspace(0.5, 12, 6), "structure_consistency": np.linspace(0.99, 0.4, 6)})
    out, _ = apply_composite(df, composite=None, profile=None, strict=False)
    # strictly decreasing until every pillar reaches the geometric mean's floor (0.05), then flat
    c = out["composite"].to_numpy()
    assert (np.diff(c) <= 0).all() and (np.diff(c[c > 0.05]) < 0).all() and c[0] > 0.9
    vals = out[["perceptual", "stability", "fidelity", "composite"]].to_numpy(dtype=float)
    vals = vals[~np.isnan(vals)]
    assert ((vals >= 0) & (vals <= 1)).all()


# ----------------------------------------------------------------------------------- missing parts


def test_renormalisation_equals_composite_of_present_parts(tmp_path: Path) -> None:
    full = small_composite()
    path_full = write(tmp_path, full)
    df = pd.DataFrame({"psnr": [28.0, 31.0], "lpips": [0.2, 0.4]})  # ssim absent
    out, info = apply_composite(df, composite=path_full, profile=None, strict=False)
    reduced = copy.deepcopy(full)
    reduced["pillars"]["fidelity"]["metrics"] = {"psnr": 1.0}
    p2 = tmp_path / "r.json"
    p2.write_text(json.dumps(reduced))
    out2, info2 = apply_composite(df, composite=str(p2), profile=None, strict=False)
    np.testing.assert_allclose(out["composite"], out2["composite"])
    np.testing.assert_allclose(out["fidelity"], out2["fidelity"])
    assert info["missing"] == {"ssim": "not computed"} and info["renormalised"] is True
    assert info2["missing"] == {} and info2["renormalised"] is False
    assert list(out["composite_missing"]) == ["ssim", "ssim"]
    assert out["stability"].isna().all()  # pillar not in this composite


def test_row_level_missing_and_missing_pillar(tmp_path: Path) -> None:
    path = write(tmp_path, small_composite())
    df = pd.DataFrame({"psnr": [28.0, np.nan], "ssim": [0.9, np.nan], "lpips": [0.2, 0.2]})
    out, info = apply_composite(df, composite=path, profile=None, strict=False)
    assert list(out["composite_missing"]) == ["", "psnr,ssim"]
    assert math.isnan(out["fidelity"][1])
    # the composite of row 1 is the perceptual pillar alone
    assert out["composite"][1] == pytest.approx(out["perceptual"][1])
    assert info["missing"]["psnr"] == "not computed for 1 of 2 rows"
    df2 = df.drop(columns=["psnr", "ssim"])
    _, info2 = apply_composite(df2, composite=path, profile=None, strict=False)
    assert info2["missing_pillars"] == ["fidelity"]


def test_strict_refuses_and_names_missing(tmp_path: Path) -> None:
    path = write(tmp_path, small_composite())
    df = pd.DataFrame({"psnr": [28.0], "lpips": [0.2]})
    with pytest.raises(MetricUnavailableError, match="ssim"):
        apply_composite(df, composite=path, profile=None, strict=True)
    full = df.assign(ssim=[0.9])
    out, info = apply_composite(full, composite=path, profile=None, strict=True)
    assert info["renormalised"] is False and out["composite_missing"][0] == ""


def test_info_fields_and_input_untouched() -> None:
    df = pd.DataFrame({"psnr": [30.0]})
    out, info = apply_composite(df, composite="default", profile=None, strict=False)
    assert list(df.columns) == ["psnr"]
    assert info["composite"] == "default-v2" and len(info["sha256"]) == 64
    assert info["aggregation"] == "weighted_geometric" and info["profile"] is None
    assert set(info["parts"]) == {"perceptual", "stability", "fidelity"}
    json.dumps(info)  # the engine stores it in run.json


def test_empty_table() -> None:
    out, info = apply_composite(pd.DataFrame({"psnr": []}), composite=None, profile=None, strict=False)
    assert len(out) == 0 and "composite" in out.columns


# ----------------------------------------------------------------------------------- schema


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda o: o["pillars"]["fidelity"]["metrics"].__setitem__("psnr", -1),
         "pillars.fidelity.metrics.psnr: weight must be >= 0, got -1"),
        (lambda o: o["pillars"]["fidelity"].__setitem__("weight", 0.6), "pillars: pillar weights must sum to 1"),
        (lambda o: o["pillars"].__setitem__("fidelty", o["pillars"].pop("fidelity")), "pillars.fidelty: unknown pillar"),
        (lambda o: o["calibrations"]["psnr"].__setitem__("type", "cubic"), "calibrations.psnr.type: unknown calibration type"),
        (lambda o: o["calibrations"]["psnr"].update(lo=0.9, hi=0.1), "calibrations.psnr: need 0 <= lo < hi <= 1"),
        (lambda o: o["calibrations"]["psnr"].__setitem__("scale", -3), "calibrations.psnr.scale: must be > 0"),
        (lambda o: o["calibrations"]["lpips"].__setitem__("scale", 0.08), "calibrations.lpips.scale: must be < 0"),
        (lambda o: o["calibrations"]["psnr"]["provenance"].pop("command"), "calibrations.psnr.provenance.command"),
        (lambda o: o["calibrations"]["psnr"]["provenance"].__setitem__("kind", "guessed"),
         "calibrations.psnr.provenance.kind: must be one of"),
        (lambda o: o["calibrations"].pop("ssim"), "pillars.fidelity.metrics.ssim: no calibration"),
        (lambda o: o.__setitem__("aggregation", "mean"), "aggregation: unknown aggregation"),
        (lambda o: o.__setitem__("schema", "x/1"), "schema: must be"),
        (lambda o: o.__setitem__("version", "1"), "version: must be an integer"),
        (lambda o: o["weights_provenance"].__setitem__("kind", "fitted"), "weights_provenance.data"),
        (lambda o: o.__setitem__("colour", 1), "unknown top-level key"),
    ],
)
def test_schema_errors_name_the_path(mutate, message: str) -> None:
    obj = small_composite()
    mutate(obj)
    with pytest.raises(CompositeSchemaError) as exc:
        validate(obj)
    assert message in str(exc.value)


def test_user_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CompositeSchemaError, match="not valid JSON"):
        load_composite(str(bad))
    with pytest.raises(CompositeSchemaError, match="not found"):
        load_composite(str(tmp_path / "absent.json"))
    with pytest.raises(CompositeSchemaError, match="unknown composite 'defualt'.*default-v1"):
        load_composite("defualt")
    obj = small_composite()
    obj["pillars"]["fidelity"]["metrics"]["psnr"] = -1
    with pytest.raises(CompositeSchemaError, match=r"c\.json: pillars\.fidelity\.metrics\.psnr"):
        load_composite(write(tmp_path, obj))


def test_sha256_is_canonical() -> None:
    a = small_composite()
    b = json.loads(json.dumps(a, indent=4, sort_keys=True))
    assert sha256_of(a) == sha256_of(b) == validate(a).sha256


# ----------------------------------------------------------------------------------- default file


def test_default_file_validates_and_provenance_is_accurate() -> None:
    spec = load_composite("default-v1")
    assert spec.tag == "default-v1" and spec.aggregation == "weighted_geometric"
    assert set(spec.pillars) == {"perceptual", "stability", "fidelity"}
    for name, cal in spec.calibrations.items():
        prov = cal["provenance"]
        if name in ("psnr", "ssim", "ms_ssim"):
            assert prov["kind"] == "fitted"
            assert "TID2013" in prov["data"] and "build_default" in prov["command"]
            assert prov["n"] == 3000 and prov["srcc"] > 0.6
        else:
            assert prov["kind"] == "prior" and prov["description"], name
    assert spec.raw["weights_provenance"]["kind"] == "prior"
    manifest = load_manifest()
    for pillar in spec.raw["pillars"].values():  # every weighted metric has a calibration
        assert set(pillar["metrics"]) <= set(spec.calibrations)
    for name in spec.calibrations:  # and is a metric paradigm declares
        assert manifest.get(name) is not None, name
    v2 = load_composite("default")
    assert v2.tag == "default-v2"
    for pillar in v2.raw["pillars"].values():
        assert set(pillar["metrics"]) <= set(v2.calibrations)


def test_default_file_deterministic_text() -> None:
    text = DEFAULT.read_text(encoding="utf-8")
    obj = json.loads(text)
    assert text == json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_rebuild_reproduces_default_byte_for_byte(shared_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("meta_eval.fitting")
    from paradigm.composite.build_default import main

    out = tmp_path / "default-v1.json"
    assert main(["--shared", str(shared_dir), "-o", str(out)]) == 0
    assert out.read_bytes() == DEFAULT.read_bytes()


def test_fitted_srcc_matches_published_tid2013(shared_dir: Path) -> None:
    spec = load_composite("default")
    # the database's published Spearman of PSNR with MOS over all 3000 images
    assert spec.calibrations["psnr"]["provenance"]["srcc"] == pytest.approx(0.6395, abs=5e-4)


# ----------------------------------------------------------------------------------- profiles


def test_all_profiles_load_and_apply() -> None:
    names = list_profiles()
    assert names[0] == "default"
    for t in TASKS:
        assert t in names
    base = load_composite("default")
    for name in names:
        prof = load_profile(name)
        spec = apply_profile(base, name)
        assert spec.profile == name
        if not prof["ground_truth"]:
            assert "fidelity" not in spec.pillars
            assert any(m.endswith("_input") for m in spec.pillars["stability"].metrics)
    assert apply_profile(base, "default").sha256 == base.sha256
    assert apply_profile(base, "dehazing").sha256 != base.sha256


def test_profiles_declare_missing_metrics() -> None:
    fusion = load_profile("infrared-visible-fusion")
    missing = {m["name"] for m in fusion["missing_metrics"]}
    assert {"fusion_mi", "fusion_qabf", "fusion_vif"} <= missing
    used = {m for p in fusion["pillars"].values() for m in p["metrics"]}
    assert not used & missing
    uw = apply_profile(load_composite(), "underwater")
    assert {"uiqm", "uciqe"} <= set(uw.pillars["perceptual"].metrics)
    assert "psnr_mu" in apply_profile(load_composite(), "hdr").pillars["fidelity"].metrics


def test_unknown_profile_did_you_mean() -> None:
    with pytest.raises(CompositeSchemaError, match="Did you mean 'dehazing'"):
        load_profile("dehazeing")
    assert load_profile("Super_Resolution")["ground_truth"] is True


def test_profile_in_apply_composite() -> None:
    df = pd.DataFrame({"niqe": [4.0], "brisque": [20.0], "structure_consistency_input": [0.6],
                       "geo_drift_input": [1.0], "dino_sim_input": [0.8]})
    out, info = apply_composite(df, composite=None, profile="low-light-real", strict=True)
    assert info["profile"] == "low-light-real" and math.isnan(out["fidelity"][0])
    assert 0 < out["composite"][0] < 1
    _, info2 = apply_composite(
        pd.DataFrame({"fusion_en": [7.0]}), composite=None, profile="multi-focus-fusion", strict=False
    )
    assert {u["name"] for u in info2["unsupported"]} >= {"fusion_mi"}


def test_score_table_matches_manual_computation() -> None:
    spec = load_composite("default-v1")  # v1 weights PSNR and SSIM equally in its fidelity pillar
    df = pd.DataFrame({"psnr": [30.0], "ssim": [0.9], "lpips": [0.2]})
    cal, pil, comp = score_table(df, spec)
    q_psnr = calibrate(np.array([30.0]), spec.calibrations["psnr"])[0]
    q_ssim = calibrate(np.array([0.9]), spec.calibrations["ssim"])[0]
    q_lp = calibrate(np.array([0.2]), spec.calibrations["lpips"])[0]
    assert pil["fidelity"][0] == pytest.approx((q_psnr + q_ssim) / 2)
    assert pil["perceptual"][0] == pytest.approx(q_lp)
    assert comp["composite"][0] == pytest.approx(math.sqrt(pil["fidelity"][0] * q_lp), rel=1e-5)


def test_profiles_file_is_canonical_and_validated(tmp_path: Path) -> None:
    from paradigm.composite.profiles import PROFILES_FILE, validate_profiles

    text = PROFILES_FILE.read_text(encoding="utf-8")
    obj = json.loads(text)
    assert text == json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    bad = copy.deepcopy(obj)
    bad["profiles"]["dehazing"]["pillars"]["fidelity"]["metrics"]["psnr"] = -0.5
    with pytest.raises(CompositeSchemaError, match=r"profiles\.dehazing\.pillars\.fidelity\.metrics\.psnr: weight must be >= 0"):
        validate_profiles(bad)
    for name, prof in obj["profiles"].items():
        for item in prof.get("missing_metrics", []):
            assert item["why"], name


def test_profile_needs_calibrations_of_user_composite(tmp_path: Path) -> None:
    path = write(tmp_path, small_composite())
    with pytest.raises(CompositeSchemaError, match="profile 'dehazing' on composite tiny-v1: .*no calibration"):
        apply_composite(pd.DataFrame({"psnr": [30.0]}), composite=path, profile="dehazing", strict=False)
