"""Build ``data/composite/default-v2.json`` (``python -m paradigm.composite.build_default --version 2``).

- **One scale**: every calibration is ``anchored`` (1 = the metric's ideal value, i.e. an exact copy
  of the reference; 0 = the worst quality of the fitting data or a documented floor).
- **Fitted** on TID2013 (``meta_eval.hierarchical``): the calibrations of the full-reference metrics in
  :data:`REPRODUCED` (official per-image values in ``../shared/human/tid2013/metrics_values`` against
  ``mos.txt``) and their relative weights inside their pillars. Which weighting is shipped is chosen
  by out-of-fold SRCC under leave-one-distortion-type-out; the provenance records every variant tried
  under three splits (grouped by reference, leave-one-type-out, random items) with bootstrap CIs,
  next to the best single metric under the same splits.
- **Priors**: every other calibration, the pillar weights (1/3) and the shares of the non-fitted
  metrics in their pillars.

The output is deterministic (seeded folds and bootstrap, 6 significant digits, no dates).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .schema import SCHEMA_ID, validate

log = logging.getLogger(__name__)

COMMAND = "python -m paradigm.composite.build_default --version 2 --shared ../shared -o data/composite/default-v2.json"
TID_SENTINEL = 100000.0

#: EDIT HERE: the TID2013-fitted metrics, i.e. those paradigm reproduces within tolerance of the
#: official values. Drop a name when its implementation is absent or off; the build still works.
REPRODUCED: tuple[str, ...] = (
    "psnr", "ssim", "ms_ssim", "fsim", "fsimc", "vifp", "psnr_hvs", "psnr_hvs_m",
    "psnr_ha", "psnr_hma", "psnrc", "wsnr", "nqm", "vsnr",
)
#: paradigm name -> official TID2013 file.
OFFICIAL: dict[str, str] = {
    "psnr": "PSNR.txt", "ssim": "SSIM.txt", "ms_ssim": "MSSIM.txt", "fsim": "FSIM.txt", "fsimc": "FSIMc.txt",
    "vifp": "VIFP.txt", "psnr_hvs": "PSNRHVS.txt", "psnr_hvs_m": "PSNRHVSM.txt", "psnr_ha": "PSNRHA.txt",
    "psnr_hma": "PSNRHMA.txt", "psnrc": "PSNRc.txt", "wsnr": "WSNR.txt", "nqm": "NQM.txt", "vsnr": "VSNR.txt",
}
#: Pillar of each fitted metric (feature-similarity metrics are perceptual, the rest fidelity).
FITTED_PILLAR: dict[str, str] = {m: ("perceptual" if m in ("fsim", "fsimc") else "fidelity") for m in OFFICIAL}
#: Ideal value (exact copy of the reference); None = the asymptote (+inf dB for PSNR-like metrics).
IDEAL: dict[str, float | None] = {
    **{m: None for m in OFFICIAL}, "ssim": 1.0, "ms_ssim": 1.0, "fsim": 1.0, "fsimc": 1.0, "vifp": 1.0,
}
#: Non-fitted metrics of each pillar with their (prior) weight; the fitted metrics share the rest.
PRIOR_MEMBERS: dict[str, dict[str, float]] = {
    "perceptual": {"lpips": 0.2, "dists": 0.2, "niqe": 0.1, "brisque": 0.1},
    "stability": {"structure_consistency": 0.3, "geo_drift": 0.2, "hallucinated_area": 0.2, "dino_sim": 0.15,
                  "clip_sim": 0.15},
    "fidelity": {"ciede2000": 0.25},
}
#: Candidates evaluated: weighting variants of ``meta_eval.hierarchical.VARIANTS``, geometric rule.
CANDIDATES: tuple[str, ...] = ("fitted_within_pillars", "fitted_within_type", "regularised", "equal", "few3_equal")

_CAL = "../shared/calibration/results_official.csv (official implementations, five TID2013 pairs)"
_DEMO = "paradigm's own implementation on 7 scikit-image photographs (256 px centre crops), median"
_ONE = "0 at the documented floor, 1 at the ideal value"

#: Prior anchored calibrations: name -> (center, scale, worst, ideal, relative_to_reference, evidence).
PRIORS: dict[str, tuple[float, float, float, float | None, bool, str]] = {
    "gmsd": (0.1, -0.03, 0.35, 0.0, False, f"GMSD spans 0 (identical) to ~0.35 (Xue et al. 2014); {_CAL}: 0.0005 near-identical, 0.13 visible, 0.20-0.22 strong; {_ONE}"),
    "ciede2000": (5.0, -1.5, 20.0, 0.0, False, "mean CIEDE2000: JND ~1-2.3 (Sharma et al. 2005), > 10 gross; floor 20; ideal 0"),
    "psnr_mu": (35.0, 3.0, 20.0, None, False, "mu-law PSNR (Kalantari & Ramamoorthi 2017): methods ~38-44 dB, baselines ~30-35; floor 20 dB; ideal +inf"),
    "edge_f1": (0.7, 0.08, 0.0, 1.0, False, f"Canny edge F1 (2 px tolerance); {_DEMO}: 0.96/0.92 noise 0.02/0.05, 0.91/0.67 x2/x4 bicubic, 0.58 blur sigma 2, 0.72 6 px shift; {_ONE}"),
    "edge_f1_input": (0.6, 0.08, 0.0, 1.0, False, "as edge_f1 against the degraded input, centred 0.1 lower"),
    "structure_consistency": (0.75, 0.08, 0.0, 1.0, False, f"{_DEMO}: 1.00 copy, 0.998/0.986/0.948 noise 0.02/0.05/0.1, 0.958/0.773/0.468 blur sigma 1/2/4, 0.983/0.810/0.492 x2/x4/x8 bicubic, 0.872/0.356/0.148 1/3/6 px shift, 0.950 sharpen 1.5; q ~0.97 at blur 1, ~0.57 at blur 2, ~0.03 at blur 4"),
    "structure_consistency_input": (0.65, 0.08, 0.0, 1.0, False, "as structure_consistency against the degraded input (a restorer changes the input's gradients on purpose), centred 0.1 lower"),
    "geo_drift": (4.0, -1.0, 16.0, 0.0, False, f"largest pixel displacement |shift| + |scale-1| x half-diagonal, in GT pixels, scale as delivered (before any resize to the GT size: an output delivered at 2x the GT size of the same view drifts one half-diagonal); {_DEMO}: < 0.1 px for noise/blur/x4 bicubic, 0.85 x8 bicubic, 1/3/6/12 for 1/3/6/12 px shifts, 9 for a 5 % zoom; q 0.97 at 1 px, 0.74 at 3 px, 0.51 at 4 px, 0.12 at 6 px, 0 at the 16 px floor"),
    "geo_drift_input": (4.0, -1.0, 16.0, 0.0, False, "as geo_drift against the degraded input"),
    "hallucinated_area": (0.15, -0.05, 1.0, 0.0, False, f"area fraction with >= 4x the GT's local detail energy; {_DEMO}: 0 for blur/bicubic, 0.008/0.18 noise 0.05/0.1, 0.16 sharpen x3, 0.07 for a 6 px shift; q 0.99 at 0.01, 0.88 at 0.07, 0.45 at 0.16"),
    "clip_sim": (0.8, 0.05, 0.0, 1.0, False, "CLIP cosine: ~0.9-1.0 same content mildly degraded, 0.5-0.7 other images of a similar scene; ideal 1"),
    "clip_sim_input": (0.75, 0.05, 0.0, 1.0, False, "as clip_sim against the degraded input, centred 0.05 lower"),
    "dino_sim": (0.7, 0.08, 0.0, 1.0, False, "DINO global cosine: ~0.85-1.0 same content, < 0.5 other content; ideal 1"),
    "dino_patch_sim": (0.6, 0.08, 0.0, 1.0, False, "co-located DINO patch cosine, centred 0.1 below dino_sim; ideal 1"),
    "dino_sim_input": (0.65, 0.08, 0.0, 1.0, False, "as dino_sim against the degraded input, centred 0.05 lower"),
    "lpips": (0.3, -0.08, 1.0, 0.0, False, f"LPIPS (AlexNet) {_CAL}: 0.05, 0.05, 0.26, 0.43, 0.72; ideal 0, floor 1"),
    "dists": (0.2, -0.05, 1.0, 0.0, False, f"DISTS {_CAL}: 0.03, 0.07, 0.14, 0.31, 0.47; ideal 0, floor 1"),
    "niqe": (6.0, -1.0, 20.0, 3.0, True, f"NIQE ~3-4 pristine, > 8 strongly distorted; {_CAL}: 3.2, 3.2, 3.7, 8.6, 15.8; with a GT: relative to the GT's NIQE (ideal = GT's value), without: absolute, ideal 3, floor 20"),
    "brisque": (40.0, -10.0, 100.0, 10.0, True, f"BRISQUE ~0-20 pristine, 60-100 strongly distorted; {_CAL}: -2.4, 15.8, 23.3, 61.0, 70.7; relative to the GT's value when there is one, else ideal 10, floor 100"),
    "musiq": (50.0, 8.0, 0.0, 75.0, True, f"MUSIQ (KonIQ, 0-100) {_CAL}: 12.5, 36.9 distorted, 73.4-75.3 near-pristine; relative to the GT when there is one, else ideal 75, floor 0"),
    "clipiqa": (0.5, 0.1, 0.0, 0.8, True, "CLIP-IQA: ~0.2-0.4 strongly degraded, 0.6-0.8 good photographs; relative to the GT, else ideal 0.8"),
    "topiq_nr": (0.5, 0.1, 0.0, 0.75, True, "TOPIQ-NR (KonIQ MOS in [0,1]): ~0.2-0.3 poor, ~0.7 good; relative to the GT, else ideal 0.75"),
    "maniqa": (0.4, 0.1, 0.0, 0.7, True, "MANIQA: ~0.2 poor, 0.6-0.7 good; relative to the GT, else ideal 0.7"),
    "nima": (5.0, 0.5, 1.0, 6.5, True, f"NIMA (AVA 1-10): means 4-6.5; {_CAL} (MUSIQ-AVA): 3.4-5.6; relative to the GT, else ideal 6.5"),
    "uiqm": (2.5, 0.5, 0.0, 3.5, True, f"UIQM: raw underwater ~1.5-2.5, enhanced ~2.8-3.5 (UIEB); {_DEMO}: 2.7; relative to a GT when there is one, else ideal 3.5"),
    "uciqe": (0.22, 0.04, 0.0, 0.4, True, f"UCIQE as paradigm computes it; {_DEMO}: 0.23-0.43 (median 0.25); relative to a GT, else ideal 0.4"),
    "fusion_en": (6.5, 0.5, 0.0, 8.0, False, "entropy of an 8-bit image (0-8 bits), fused images 6-7.5; reported only (diagnostic)"),
    "fusion_sd": (40.0, 8.0, 0.0, None, False, "standard deviation on the 8-bit scale (VIFB) ~30-60; reported only (diagnostic)"),
    "fusion_sf": (12.0, 4.0, 0.0, None, False, "spatial frequency on the 8-bit scale ~5-25; reported only (diagnostic)"),
    "fusion_ag": (5.0, 1.5, 0.0, None, False, "average gradient on the 8-bit scale ~2-9; reported only (diagnostic)"),
    "fusion_mi": (2.5, 0.5, 0.0, None, False, "MI(A,F)+MI(B,F) in nats ~1.5-4; reported only (diagnostic)"),
    "fusion_qabf": (0.5, 0.1, 0.0, 1.0, False, "Q^AB/F in [0, 1] ~0.3-0.7; reported only (diagnostic)"),
    "fusion_vif": (0.6, 0.1, 0.0, 1.0, False, "fusion VIF ~0.3-0.9; reported only (diagnostic)"),
}


def _sig(v: float) -> float:
    return float(f"{float(v):.6g}")


def read_tid2013(shared: Path, names: tuple[str, ...] = REPRODUCED) -> dict[str, Any]:
    """TID2013: MOS/9, reference and distortion type per item, official values (sentinel -> +inf)."""
    root = shared / "human" / "tid2013"
    f = root / "mos_with_names.txt"
    if not f.is_file():
        raise InputError(f"TID2013 scores not found at {f}; pass --shared DIR (the shared data folder)")
    rows = [ln.split() for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
    mos = np.array([float(r[0]) for r in rows])
    items = [r[1].lower() for r in rows]
    values = {}
    unknown = sorted(set(names) - set(OFFICIAL))
    if unknown:
        raise InputError(f"no official TID2013 values for {unknown}; fittable metrics: {sorted(OFFICIAL)}")
    for m in names:
        p = root / "metrics_values" / OFFICIAL[m]
        if not p.is_file():
            raise InputError(f"official {m} values not found at {p}")
        v = np.loadtxt(p, dtype=np.float64)
        if v.shape != mos.shape:
            raise InputError(f"{p} has {v.size} values but mos_with_names.txt has {mos.size}")
        values[m] = np.where(v >= TID_SENTINEL, np.inf, v)
    return {"y": mos / 9.0, "refs": np.array([s[1:3] for s in items]), "types": np.array([s[4:6] for s in items]),
            "values": values}


def evaluate(tid: dict[str, Any], names: tuple[str, ...], n_boot: int, seed: int = 0) -> dict[str, Any]:
    """Three-split out-of-fold comparison of the candidate weightings (see module docstring)."""
    from meta_eval.hierarchical import cross_validate

    structure: dict[str, list[str]] = {}
    for m in names:
        structure.setdefault(FITTED_PILLAR[m], []).append(m)
    return cross_validate(
        tid["values"], tid["y"], tid["refs"], tid["types"], structure, dict.fromkeys(names, True), IDEAL,
        [(v, "weighted_geometric") for v in CANDIDATES], n_boot=n_boot, seed=seed,
    )


def summary(cv: dict[str, Any]) -> dict[str, Any]:
    """The JSON-able three-split table (no fold models)."""
    out: dict[str, Any] = {}
    for split, r in cv.items():
        b = r["best_single"]
        out[split] = {
            "folds": r["folds"],
            "candidates": {k.split("/")[0]: v for k, v in r["candidates"].items()},
            "best_single": {"metric": b, **r["single"][b]},
            "single_srcc": {m: s["srcc"] for m, s in r["single"].items()},
        }
    return out


def _prior_cal(name: str) -> dict[str, Any]:
    c, s, w, i, rel, why = PRIORS[name]
    cal: dict[str, Any] = {"type": "anchored", "center": c, "scale": s, "worst": w, "ideal": i,
                           "provenance": {"kind": "prior", "description": why}}
    if rel:
        cal["relative_to_reference"] = True
    return cal


def _pillars(fitted_weights: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Shipped pillars: prior members at their weights, fitted metrics sharing the rest by fitted weight."""
    out: dict[str, Any] = {}
    for p in ("perceptual", "stability", "fidelity"):
        mw = dict(PRIOR_MEMBERS[p])
        rest = 1.0 - sum(mw.values())
        for m, w in fitted_weights.get(p, {}).get("metrics", {}).items():
            if w > 0:
                mw[m] = _sig(rest * w)
        out[p] = {"weight": 0.333334 if p == "perceptual" else 0.333333, "metrics": dict(sorted(mw.items()))}
    return out


def build_v2(shared: Path, *, names: tuple[str, ...] = REPRODUCED, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The default-v2 composite as a JSON-able dict."""
    from scipy.stats import spearmanr

    from meta_eval.hierarchical import _jsonable, anchored_calibration, fit_model

    tid = read_tid2013(shared, names)
    cv = evaluate(tid, names, n_boot, seed)
    table = summary(cv)
    chosen = max(CANDIDATES, key=lambda v: table["type"]["candidates"][v]["srcc"])
    structure: dict[str, list[str]] = {}
    for m in names:
        structure.setdefault(FITTED_PILLAR[m], []).append(m)
    cals = {m: anchored_calibration(tid["values"][m], tid["y"], True, IDEAL[m]) for m in names}
    model = fit_model(tid["values"], tid["y"], tid["refs"], tid["types"], structure, dict.fromkeys(names, True),
                      IDEAL, "weighted_geometric", chosen, calibrations=cals, seed=seed)
    data = ("TID2013 MOS/9 (3000 images, 25 references, 24 distortion types x 5 levels) vs the database's official "
            "per-image values (metrics_values/*.txt)")
    calibrations: dict[str, Any] = {}
    for m in names:
        c = dict(cals[m])
        c["provenance"] = {"kind": "fitted", "data": f"{data}: {OFFICIAL[m]}", "command": COMMAND, "n": int(tid["y"].size),
                           "srcc": _sig(spearmanr(tid["values"][m], tid["y"])[0])}
        calibrations[m] = c
    for m in PRIORS:
        calibrations[m] = _prior_cal(m)
    if "psnr" in cals:  # PSNR on luma reuses the RGB-PSNR fit
        calibrations["psnr_y"] = {**{k: v for k, v in cals["psnr"].items()}, "provenance": {
            "kind": "prior", "description": "the fitted RGB-PSNR calibration of this file, reused: PSNR on BT.601 "
            "luma is typically within ~1 dB of RGB PSNR on natural images; not fitted on Y-channel values"}}
    fitted_loses = table["type"]["candidates"][chosen]["delta_vs_best_single"] < 0
    verdict = (
        f"Under leave-one-distortion-type-out the best weighting tried ({chosen}) reaches out-of-fold SRCC "
        f"{table['type']['candidates'][chosen]['srcc']:.4f} vs {table['type']['best_single']['metric']} alone "
        f"{table['type']['best_single']['srcc']:.4f}: "
        + ("the combination LOSES to the best single metric on unseen distortion types; it wins only when types are "
           "shared between training and test (reference and random splits)." if fitted_loses else
           "the combination does not lose to the best single metric on unseen distortion types.")
    )
    obj: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "name": "default",
        "version": 2,
        "description": (
            "paradigm's default composite v2: every metric on one scale (1 = indistinguishable from the reference, "
            "0 = worst quality of the fitting data or a documented floor); perceptual, stability and fidelity pillars "
            "(weighted means) combined by a weighted geometric mean with a 0.05 floor per pillar. Full-reference "
            "calibrations and their within-pillar weights are fitted on TID2013; everything else is a documented prior."
        ),
        "aggregation": "weighted_geometric",
        "pillars": _pillars(model["pillars"]),
        "weights_provenance": {
            "kind": "fitted",
            "data": data,
            "command": COMMAND,
            "description": (
                f"pillar weights 1/3 each and the weights of non-fitted metrics are priors; the relative weights of "
                f"the TID2013-fitted metrics inside their pillars come from variant '{chosen}' of meta_eval.hierarchical, "
                f"chosen among {list(CANDIDATES)} by out-of-fold SRCC under leave-one-distortion-type-out. {verdict}"
            ),
            "fitted_metrics": list(names),
            "chosen_variant": chosen,
            "fitted_block_weights": model["pillars"],
            "generalisation": _jsonable(table),
            "fitted_loses_leave_type_out": bool(fitted_loses),
        },
        "calibrations": dict(sorted(calibrations.items())),
    }
    validate(obj, "build_default --version 2", allow_unregistered=names)
    return obj
