"""Build ``data/composite/default-v1.json``: fitted PSNR/SSIM/MS-SSIM calibrations plus documented priors.

Usage::

    python -m paradigm.composite.build_default [--shared ../shared] -o data/composite/default-v1.json

- PSNR, SSIM and MS-SSIM calibrations are **fitted** (``meta_eval.fitting.fit_calibration``) on
  TID2013: MOS/9 against the database's official metric values (``metrics_values/PSNR.txt``,
  ``SSIM.txt``, ``MSSIM.txt``; 3000 images). The provenance records the data, n, the command and
  the fit's SRCC/PLCC/RMSE.
- Every other metric gets a **prior** logistic whose centre and width come from value ranges
  reported in the literature and in ``../shared/calibration/results_official.csv`` (official
  implementations on five TID2013 pairs); each prior says what it is based on.
- Pillar weights (1/3 each) and metric weights (equal within a pillar) are priors, pending
  ``paradigm meta-eval fit``.

The output is deterministic (sorted keys, parameters rounded to 6 significant digits, no dates),
so rebuilding reproduces the shipped file byte for byte.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, MetaEvalError
from .schema import SCHEMA_ID, dump_json, validate

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMAND = "python -m paradigm.composite.build_default --shared ../shared -o data/composite/default-v1.json"
TID_SENTINEL = 100000.0

#: Fitted metrics: registry name -> (file in tid2013/metrics_values, higher_is_better).
FITTED: dict[str, tuple[str, bool]] = {
    "psnr": ("PSNR.txt", True),
    "ssim": ("SSIM.txt", True),
    "ms_ssim": ("MSSIM.txt", True),
}

_CAL = "../shared/calibration/results_official.csv (official implementations, five TID2013 pairs)"
_DEMO = "paradigm's own implementation on the 7 scikit-image photographs of `paradigm demo` (256 px crops)"

#: Prior calibrations: name -> (center, scale, what the prior is based on). ``scale < 0`` for
#: lower-is-better metrics. Centre = a value typical of a "fair" result, |scale| = about a quarter of
#: the span from "bad" to "good" reported for the metric, so q ~ 0.1 at "bad" and ~ 0.9 at "good".
PRIORS: dict[str, tuple[float, float, str]] = {
    # fidelity
    "psnr_y": (
        0.0, 0.0,  # filled from the fitted psnr calibration below
        "the fitted RGB-PSNR calibration, reused: PSNR on BT.601 luma is typically within about 1 dB of RGB PSNR "
        "on natural images; not fitted on Y-channel values",
    ),
    "gmsd": (
        0.1, -0.03,
        f"GMSD spans 0 (identical) to ~0.35 (Xue et al. 2014); {_CAL}: 0.0005/0.0004 for near-identical "
        "pairs, 0.13 for a visible distortion, 0.20-0.22 for strong ones",
    ),
    "ciede2000": (
        5.0, -1.5,
        "mean CIEDE2000 colour difference: ~1-2.3 is the just-noticeable difference (Sharma et al. 2005), "
        "ΔE00 above ~10 is a gross colour shift; q ~ 0.9 at ΔE00 = 2, ~ 0.1 at ΔE00 = 8",
    ),
    "psnr_mu": (
        35.0, 3.0,
        "mu-law tone-mapped PSNR (Kalantari & Ramamoorthi 2017): HDR deghosting methods report ~38-44 dB, "
        "simple baselines ~30-35 dB",
    ),
    # stability
    "edge_f1": (
        0.7, 0.08,
        f"F1 of Canny edge maps vs the ground truth (2 px tolerance); {_DEMO}, median over the 7 images: "
        "1.00 for a 1 px shift, 0.96 / 0.92 / 0.74 for Gaussian noise 0.02 / 0.05 / 0.10, 0.91 / 0.67 / 0.32 "
        "for x2 / x4 / x8 bicubic down-up, 0.85 / 0.58 / 0.26 for blur sigma 1 / 2 / 4, 0.84 / 0.72 / 0.63 for "
        "3 / 6 / 12 px shifts; centred at the x4-bicubic / 6 px-shift level (q ~ 0.9 at 0.87, ~ 0.2 at 0.59)",
    ),
    "edge_f1_input": (
        0.6, 0.08,
        "as edge_f1, against the degraded input: a good restorer adds edges the input lacks, so agreement "
        "with the input is lower than with a ground truth; centred 0.1 below edge_f1",
    ),
    "clip_sim": (
        0.8, 0.05,
        "cosine similarity of CLIP image embeddings: ~0.9-1.0 for the same content under mild "
        "degradation, ~0.5-0.7 for different images of a similar scene",
    ),
    "clip_sim_input": (
        0.75, 0.05,
        "as clip_sim, against the degraded input (whose embedding is itself shifted), centred 0.05 lower",
    ),
    "dino_sim": (
        0.7, 0.08,
        "cosine similarity of DINO global embeddings: more sensitive to content changes than CLIP; "
        "~0.85-1.0 for the same content, < 0.5 for other content",
    ),
    "dino_patch_sim": (
        0.6, 0.08,
        "mean cosine similarity of co-located DINO patch tokens: lower than the global similarity for "
        "the same pair, centred 0.1 below dino_sim",
    ),
    "dino_sim_input": (
        0.65, 0.08,
        "as dino_sim, against the degraded input, centred 0.05 lower",
    ),
    # perceptual
    "lpips": (
        0.3, -0.08,
        f"LPIPS (AlexNet) ~0.05 for near-identical and > 0.5 for strongly distorted pairs; {_CAL}: "
        "0.05, 0.05, 0.26, 0.43, 0.72",
    ),
    "dists": (
        0.2, -0.05,
        f"DISTS {_CAL}: 0.03, 0.07 (near-identical), 0.14, 0.31, 0.47 (strong distortion)",
    ),
    "niqe": (
        6.0, -1.0,
        f"NIQE ~3-4 for pristine natural images, > 8 for strongly distorted ones; {_CAL} (NIQE): "
        "3.2, 3.2, 3.7, 8.6, 15.8; paradigm's NIQE on the five pristine TID2013 references there: 2.8-5.1",
    ),
    "brisque": (
        40.0, -10.0,
        f"BRISQUE ~0-20 for pristine images, 60-100 for strongly distorted ones; {_CAL} (MATLAB): "
        "-2.4, 15.8, 23.3, 61.0, 70.7; paradigm's BRISQUE on the five pristine TID2013 references there: -0.5-16.9",
    ),
    "musiq": (
        50.0, 8.0,
        f"MUSIQ (KonIQ-10k, 0-100) {_CAL}: 12.5, 36.9 (distorted), 73.4-75.3 (near-pristine)",
    ),
    "clipiqa": (
        0.5, 0.1,
        "CLIP-IQA in [0, 1]: ~0.2-0.4 for strongly degraded, ~0.6-0.8 for good photographs",
    ),
    "topiq_nr": (
        0.5, 0.1,
        "TOPIQ-NR (KonIQ-10k, MOS scaled to [0, 1]): ~0.2-0.3 for poor, ~0.7 for good photographs",
    ),
    "maniqa": (
        0.4, 0.1,
        "MANIQA (KonIQ/PIPAL-trained, [0, 1]): ~0.2 for poor, ~0.6-0.7 for good images",
    ),
    "nima": (
        5.0, 0.5,
        f"NIMA (AVA, 1-10): aesthetic means cluster in 4-6.5; {_CAL} (MUSIQ-AVA, same scale): 3.4-5.6",
    ),
    # task metrics (no ground truth)
    "uiqm": (
        2.5, 0.5,
        "UIQM (Panetta et al. 2016): raw underwater images ~1.5-2.5, enhanced results ~2.8-3.5 in UIEB studies; "
        f"{_DEMO}: 1.9-4.3 (median 2.7) for the sharp photographs, median 2.0 after x4 bicubic blur",
    ),
    "uciqe": (
        0.22, 0.04,
        "UCIQE (Yang & Sowmya 2015) as paradigm computes it (8-bit Lab scaling without OpenCV's +128 offset, "
        f"so values are lower than the ~0.5-0.6 of the common Python code); {_DEMO}: 0.23-0.43, median 0.25; "
        "centred just below natural-photo level",
    ),
    "fusion_en": (
        6.5, 0.5,
        f"entropy in bits of an 8-bit image (0-8): fused images in the VIFB/MFIF benchmarks ~6-7.5; {_DEMO}: "
        "median 7.1",
    ),
    "fusion_sd": (
        40.0, 8.0,
        f"standard deviation on the 8-bit scale, as in VIFB: fused images ~30-60; {_DEMO}: 26-82, median 50",
    ),
    "fusion_sf": (
        12.0, 4.0,
        f"spatial frequency on the 8-bit scale, as in VIFB/MFIF: fused images ~5-25; {_DEMO}: median 21 sharp, "
        "7.6 after x4 bicubic blur",
    ),
    "fusion_ag": (
        5.0, 1.5,
        f"average gradient on the 8-bit scale, as in VIFB: fused images ~2-9; {_DEMO}: median 6.4 sharp, "
        "3.2 after x4 bicubic blur",
    ),
    "fusion_mi": (
        2.5, 0.5,
        "MI(A,F) + MI(B,F) in nats (VIFB convention): order of magnitude 1.5-4 in fusion benchmarks",
    ),
    "fusion_qabf": (
        0.5, 0.1,
        "Q^AB/F edge preservation in [0, 1]: ~0.3-0.7 in VIFB/MFIF benchmarks",
    ),
    "fusion_vif": (
        0.6, 0.1,
        "VIF of the fused image w.r.t. the sources: ~0.3-0.9 in VIFB benchmarks",
    ),
}

#: Default pillars: equal pillar weights; equal metric weights within a pillar (priors).
DEFAULT_PILLARS: dict[str, dict[str, Any]] = {
    "perceptual": {"weight": 1 / 3, "metrics": {"lpips": 0.25, "dists": 0.25, "niqe": 0.25, "brisque": 0.25}},
    "stability": {"weight": 1 / 3, "metrics": {"dino_sim": 1 / 3, "clip_sim": 1 / 3, "edge_f1": 1 / 3}},
    "fidelity": {"weight": 1 / 3, "metrics": {"psnr": 0.25, "ssim": 0.25, "ms_ssim": 0.25, "ciede2000": 0.25}},
}


def _sig(v: float, digits: int = 6) -> float:
    return float(f"{float(v):.{digits}g}")


def read_tid2013(shared: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """MOS/9 of TID2013 and the official values of the fitted metrics (sentinel -> +inf).

    Raises:
        InputError: when the files are absent or their lengths differ.
    """
    root = shared / "human" / "tid2013"
    mos_file = root / "mos.txt"
    if not mos_file.is_file():
        raise InputError(f"TID2013 scores not found at {mos_file}; pass --shared DIR (the shared data folder)")
    mos = np.loadtxt(mos_file, dtype=np.float64)
    values: dict[str, np.ndarray] = {}
    for name, (fname, _) in FITTED.items():
        f = root / "metrics_values" / fname
        if not f.is_file():
            raise InputError(f"official {name} values not found at {f}")
        v = np.loadtxt(f, dtype=np.float64)
        if v.shape != mos.shape:
            raise InputError(f"{f} has {v.size} values but mos.txt has {mos.size}")
        values[name] = np.where(v >= TID_SENTINEL, np.inf, v)
    return mos / 9.0, values


def build(shared: Path) -> dict[str, Any]:
    """The default composite as a JSON-able dict (see module docstring)."""
    from meta_eval.fitting import fit_calibration

    human01, values = read_tid2013(shared)
    cals: dict[str, Any] = {}
    for name, (fname, hib) in FITTED.items():
        cal = fit_calibration(
            values[name],
            human01,
            hib,
            provenance={
                "data": f"TID2013 MOS/9 (3000 images, 25 references, 24 distortions x 5 levels) vs the "
                f"database's official {fname} values",
                "command": COMMAND,
            },
        )
        cals[name] = cal
    for name, (center, scale, based_on) in PRIORS.items():
        if name == "psnr_y":
            center, scale = float(cals["psnr"]["center"]), float(cals["psnr"]["scale"])
        cals[name] = {
            "type": "logistic4",
            "lo": 0.0,
            "hi": 1.0,
            "center": _sig(center),
            "scale": _sig(scale),
            "provenance": {"kind": "prior", "description": based_on},
        }
    weights = {p: _sig(v["weight"]) for p, v in DEFAULT_PILLARS.items()}
    # Rounded thirds do not sum to 1 exactly: the first pillar takes the remainder.
    first = next(iter(weights))
    weights[first] = _sig(1.0 - sum(w for n, w in weights.items() if n != first))
    pillars = {
        p: {"weight": weights[p], "metrics": {m: _sig(w) for m, w in v["metrics"].items()}}
        for p, v in DEFAULT_PILLARS.items()
    }
    obj: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "name": "default",
        "version": 1,
        "description": (
            "paradigm's default composite: perceptual quality, structural/semantic stability and pixel "
            "fidelity, each a weighted mean of calibrated metrics, combined by a weighted geometric mean. "
            "PSNR/SSIM/MS-SSIM calibrations are fitted on TID2013; all other calibrations and all weights "
            "are documented priors pending `paradigm meta-eval fit`."
        ),
        "aggregation": "weighted_geometric",
        "pillars": pillars,
        "weights_provenance": {
            "kind": "prior",
            "description": (
                "equal pillar weights (1/3) and equal metric weights within each pillar: no human data "
                "covering all three pillars was available to fit them; replace with `paradigm meta-eval fit`"
            ),
        },
        "calibrations": cals,
    }
    validate(obj, "build_default")
    return obj


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    ap = argparse.ArgumentParser(prog="python -m paradigm.composite.build_default", description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=REPO_ROOT.parent / "shared", help="shared data folder")
    ap.add_argument("-o", "--out", type=Path, required=True, help="output JSON file")
    ap.add_argument("--version", type=int, choices=(1, 2), default=1,
                    help="1: default-v1 (fitted PSNR/SSIM/MS-SSIM, logistic4); 2: default-v2 (see build_v2)")
    ap.add_argument("--bootstrap", type=int, default=1000, help="v2: bootstrap resamples of the CIs")
    ap.add_argument("--fitted", default=None,
                    help="v2: comma-separated TID2013-fitted metrics (default: build_v2.REPRODUCED)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.version == 2:
            from .build_v2 import REPRODUCED, build_v2

            names = tuple(m.strip() for m in args.fitted.split(",") if m.strip()) if args.fitted else REPRODUCED
            obj2 = build_v2(args.shared, names=names, n_boot=args.bootstrap)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(dump_json(obj2), encoding="utf-8")
            log.info("%s", obj2["weights_provenance"]["description"])
            log.info("wrote %s", args.out)
            return 0
        obj = build(args.shared)
    except (InputError, MetaEvalError) as exc:  # fit_calibration raises meta_eval errors
        log.error("%s", exc)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dump_json(obj), encoding="utf-8")
    for name in FITTED:
        prov = obj["calibrations"][name]["provenance"]
        log.info("%s: n=%s srcc=%s plcc=%s rmse=%s", name, prov["n"], prov["srcc"], prov["plcc"], prov["rmse"])
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
