"""Expected values of tests/test_nrqm.py, computed with pyiqa 0.1.16 (reference only, never imported
by paradigm or its tests) on the synthetic model of ``make_nrqm_fixture.py`` (seed 0).

Run with the peer environment from the repository root::

    /work/peer/.venv/bin/python tests/tools/pyiqa_nrqm_reference.py [../shared]

Prints, per input, pyiqa's NRQM of the MATLAB ``rgb2gray`` grey image (``nrqm_arch.nrqm`` on the same
grey levels paradigm computes), of its own RGB conversion (YIQ luma, for information), and of the
PIRM 2018 input (``NRQM(color_space='ycbcr', crop_border=4)``: rgb2ycbcr Y, 4 px shaved), pyiqa's PI
(its ``PI`` module: that NRQM and pyiqa's NIQE of the same plane, with the NIQE pristine model of
``../shared/weights/niqe/niqe_pris_params.npz`` written as the .mat pyiqa reads, since pyiqa's own file
cannot be downloaded here), and the three feature groups of the synthetic image's grey levels (10
significant digits).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.io
import torch
from make_nrqm_fixture import rgb2gray8, synthetic_image, write_nrqm_model
from PIL import Image
from pyiqa.archs import nrqm_arch
from pyiqa.archs.niqe_arch import NIQE
from pyiqa.matlab_utils import im2col

#: The 256x256 crop of the calibration images the tests use (rows, columns).
CROP = (slice(64, 320), slice(128, 384))
#: Calibration images used (dist/I04 is not: its distortion leaves the luma unchanged).
CALIB_INPUTS = (("ref", "I04"), ("dist", "I19"))


def inputs(shared: Path) -> dict[str, np.ndarray]:
    out = {"synthetic": synthetic_image()}
    for kind, image in CALIB_INPUTS:
        rgb = np.asarray(Image.open(shared / "calibration" / kind / f"{image}.bmp").convert("RGB"))
        out[f"{kind}_{image}_crop"] = rgb[CROP]
    return out


def features(gray: torch.Tensor) -> dict[str, list[float]]:
    """pyiqa's three NRQM feature groups (the steps of ``nrqm_arch.nrqm`` before the forests)."""
    pyr = nrqm_arch.get_gauss_pyramid(gray / 255.0)
    f1 = torch.cat([nrqm_arch.block_dct(im) for im in pyr], 1)
    f2 = nrqm_arch.global_gsm(gray)
    f3 = torch.cat([torch.linalg.svdvals(im2col(im, 5, "distinct")) for im in pyr], 1)
    return {k: [float(f"{v:.10g}") for v in f[0].tolist()] for k, f in (("f1", f1), ("f2", f2), ("f3", f3))}


def main() -> None:
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared")
    with tempfile.TemporaryDirectory() as tmp:
        model = write_nrqm_model(Path(tmp) / "NRQM_model.mat", seed=0)
        plain = nrqm_arch.NRQM(pretrained_model_path=str(model))
        pirm = nrqm_arch.NRQM(color_space="ycbcr", crop_border=4, pretrained_model_path=str(model))
        with np.load(shared / "weights" / "niqe" / "niqe_pris_params.npz") as npz:
            niqe_mat = Path(tmp) / "niqe_modelparameters.mat"
            scipy.io.savemat(str(niqe_mat), {"mu_prisparam": npz["mu_pris_param"], "cov_prisparam": npz["cov_pris_param"]})
        pi = nrqm_arch.PI.__new__(nrqm_arch.PI)
        torch.nn.Module.__init__(pi)
        pi.nrqm = pirm
        pi.niqe = NIQE(color_space="ycbcr", crop_border=4, pretrained_model_path=str(niqe_mat))
        results = {}
        for name, rgb in inputs(shared).items():
            gray = torch.from_numpy(rgb2gray8(rgb))[None, None]
            x = torch.from_numpy(rgb.astype(np.float64) / 255.0).permute(2, 0, 1)[None]
            results[name] = {
                "gray": float(nrqm_arch.nrqm(gray, plain.linear_param, plain.rf_params_list)),
                "yiq": float(plain(x)),
                "pirm_y": float(pirm(x)),
                "pi": float(pi(x)),
            }
            if name == "synthetic":
                results[name]["features"] = features(gray)
            print(name, {k: v for k, v in results[name].items() if k != "features"}, file=sys.stderr)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
