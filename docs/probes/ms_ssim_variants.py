"""Probe: which MS-SSIM preprocessing reproduces the official ``ms_ssim`` row of ResultsCalibra?

Runs the ``msssim.m`` scale loop on the five calibration pairs with several grey conversions and
downsampling rules and prints each variant's values and its largest error against the official row.
Run from the repository root, with ``../shared`` beside it::

    python docs/probes/ms_ssim_variants.py

Result on paradigm 0.1.0: no variant is within 0.001 on all five images (see docs/metrics-fidelity.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from paradigm.metrics._filters import matlab_average_downsample
from paradigm.metrics.fidelity import _ssim_means, gaussian_kernel1d, matlab_gray255
from paradigm.metrics.nr_classic import imresize_half

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
OFFICIAL = {"I03": 0.6733, "I04": 0.9996, "I06": 0.9998, "I08": 0.9566, "I19": 0.8462}
CALIB = Path(__file__).resolve().parents[2].parent / "shared" / "calibration"


def _load(path: Path) -> torch.Tensor:
    arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1)[None]


def _separable(a: torch.Tensor, k: torch.Tensor, mode: str) -> torch.Tensor:
    r = k.numel() // 2
    p = F.pad(a, (r, r, r, r), mode=mode)
    return F.conv2d(F.conv2d(p, k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))


def _impyramid(a: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([0.0625, 0.25, 0.375, 0.25, 0.0625], dtype=a.dtype)
    return _separable(a, k, "replicate")[..., ::2, ::2]


def _gauss(a: torch.Tensor) -> torch.Tensor:
    return _separable(a, gaussian_kernel1d(5, 1.0, dtype=a.dtype), "reflect")[..., ::2, ::2]


DOWNSAMPLE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "box 2x2 symmetric (msssim.m)": lambda a: matlab_average_downsample(a, 2),
    "box 2x2, uint8 rounded": lambda a: torch.floor(matlab_average_downsample(a, 2) + 0.5),
    "imresize(0.5) bicubic": imresize_half,
    "imresize(0.5), uint8 rounded": lambda a: torch.floor(imresize_half(a) + 0.5).clamp(0, 255),
    "impyramid reduce": _impyramid,
    "gaussian 5x5 s=1": _gauss,
    "avg_pool 2x2": lambda a: F.avg_pool2d(a, 2),
}
GREY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "rgb2gray uint8": lambda x: matlab_gray255(x),
    "rgb2gray continuous": lambda x: matlab_gray255(x, quantize=False),
}


def main() -> None:
    if not CALIB.is_dir():
        raise SystemExit(f"calibration data not found at {CALIB} (../shared beside the repository)")
    win = gaussian_kernel1d(11, 1.5, dtype=torch.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    pairs = {k: (_load(CALIB / "dist" / f"{k}.bmp"), _load(CALIB / "ref" / f"{k}.bmp")) for k in OFFICIAL}
    for gname, grey in GREY.items():
        for dname, down in DOWNSAMPLE.items():
            values = []
            for x, y in pairs.values():
                a, b = grey(x), grey(y)
                out = 1.0
                for level, w in enumerate(WEIGHTS):
                    s, cs = _ssim_means(a, b, c1=c1, c2=c2, win=win)
                    out *= float(s if level == len(WEIGHTS) - 1 else cs) ** w
                    a, b = down(a), down(b)
                values.append(out)
            err = max(abs(v - o) for v, o in zip(values, OFFICIAL.values(), strict=True))
            shown = " ".join(f"{v:.4f}" for v in values)
            print(f"{gname:20s} {dname:30s} max error {err:.4f}  [{shown}]")
    print("official                                            " + " ".join(f"{v:.4f}" for v in OFFICIAL.values()))


if __name__ == "__main__":
    main()
