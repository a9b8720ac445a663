"""Probe: what produced the official ``vsi`` row of ResultsCalibra?

paradigm's ``vsi`` follows the published ``VSI.m`` (SDSP on a 256x256 ``imresize``, the release's
D50 ``RGB2Lab``, 1-based centre prior, resize back, ``mat2gray``) and misses the row by up to 0.0123.
This probe recomputes VSI with SDSP changed in the ways of Keyan Ding's IQA-optimization PyTorch
port (which IQA-PyTorch's first VSI was compared with):

* SDSP at full resolution: no resize to 256x256 and back;
* CIELAB with the D65 white applied the wrong way round (X multiplied by 0.950456 and Z by
  1.088754 instead of divided), sRGB -> XYZ with the 0.412453... matrix, the CIE 6/29 branch;
* centre prior on 0-based coordinates; the 2x2 average downsampling without padding;
  ``|S_M S_N|^0.02`` instead of the real part; small epsilons (1e-12) inside square roots;

and prints both variants' largest error against the row. Run from the repository root, with
``../shared`` beside it::

    python docs/probes/vsi_row_source.py

Result: VSI.m 0.012, the port's steps 7e-5 — the row is that port's output, not ``VSI.m``'s.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from paradigm.metrics.fsim import gradient_magnitude, similarity
from paradigm.metrics.vsi import LMN, _minmax, _minmax_channels, _sdsp_priors, vsi

CALIB = Path("../shared/calibration")
NAMES = ["I03", "I04", "I06", "I08", "I19"]
EPS = 1e-12


def port_lab(rgb: torch.Tensor) -> torch.Tensor:
    """The port's sRGB -> Lab of 0..255 RGB, with its inverted D65 normalisation."""
    c = (rgb / 255).clamp(0, 1)
    lin = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = torch.tensor([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])
    xyz = torch.einsum("kc,nchw->nkhw", m.to(rgb), lin) * torch.tensor([0.950456, 1.0, 1.088754]).to(rgb).view(1, 3, 1, 1)
    e = 6 / 29
    f = torch.where(xyz <= e**3, xyz / (3 * e * e) + 4 / 29, xyz.clamp_min(EPS) ** (1 / 3))
    return torch.cat((116 * f[:, 1:2] - 16, 500 * (f[:, 0:1] - f[:, 1:2]), 200 * (f[:, 1:2] - f[:, 2:3])), 1)


def port_sdsp(rgb: torch.Tensor) -> torch.Tensor:
    h, w = rgb.shape[-2:]
    lab = port_lab(rgb)
    lg, _ = _sdsp_priors(h, w)
    band = torch.fft.ifft2(torch.fft.fft2(lab) * lg.to(rgb)).real
    sf = torch.sqrt((band * band).sum(1, keepdim=True) + EPS)
    yy = torch.arange(h, dtype=rgb.dtype)[:, None] - h / 2
    xx = torch.arange(w, dtype=rgb.dtype)[None] - w / 2
    sd = torch.exp(-(yy**2 + xx**2) / 145**2)
    ab = _minmax_channels(lab[:, 1:3])
    sc = 1 - torch.exp(-(ab * ab).sum(1, keepdim=True) / 0.001**2)
    return _minmax(sf * sd * sc)


def port_vsi(x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    feats = []
    for img in (x, y):
        rgb = img * 255
        lmn = torch.einsum("kc,nchw->nkhw", torch.tensor(LMN).to(rgb), rgb)
        maps = F.avg_pool2d(torch.cat((lmn, port_sdsp(rgb)), 1), 2)
        feats.append(torch.cat((maps, gradient_magnitude(maps[:, 0:1])), 1))
    a, b = feats
    wgt = torch.maximum(a[:, 3], b[:, 3])
    chroma = (similarity(a[:, 1], b[:, 1], 130) * similarity(a[:, 2], b[:, 2], 130)).abs() + EPS
    s = (similarity(a[:, 4], b[:, 4], 386) + EPS) ** 0.4 * similarity(a[:, 3], b[:, 3], 1.27) * chroma**0.02
    return ((s * wgt).flatten(1).sum(1) / wgt.flatten(1).sum(1)).numpy()


def main() -> None:
    load = lambda sub: torch.from_numpy(  # noqa: E731
        np.stack([np.array(Image.open(CALIB / sub / f"{n}.bmp").convert("RGB")) for n in NAMES])
    ).permute(0, 3, 1, 2).float() / 255
    dist, ref = load("dist"), load("ref")
    with open(CALIB / "results_official.csv", newline="") as fh:
        row = next(np.array(r[1:], float) for r in csv.reader(fh) if r and r[0] == "vsi")
    for label, vals in (("VSI.m (paradigm)", vsi(dist, ref).numpy()), ("port's steps", port_vsi(dist, ref))):
        print(f"{label:18s} {np.round(vals, 4)}  max|diff| {np.abs(vals - row).max():.2g}")


if __name__ == "__main__":
    main()
