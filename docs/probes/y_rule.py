"""Probe: PSNR on Y under the MATLAB rule (rgb2ycbcr on uint8) minus the BasicSR float rule.

Usage: paradigm demo demo && python docs/probes/y_rule.py demo   (see docs/colour.md)
"""
# PSNR on Y: MATLAB rule (rgb2ycbcr on uint8 -> uint8) minus BasicSR float rule, on the paradigm demo.
import pathlib
import sys

import numpy as np
import torch

from paradigm.io import read_image
from paradigm.metrics.fidelity import psnr

root = pathlib.Path(sys.argv[1])
d = []
for gt in sorted((root / "gt").rglob("*.png")):
    g = read_image(gt)[None].double()
    for out in sorted((root / "results").rglob(gt.stem + "*.png")):
        o = read_image(out)[None].double()
        if o.shape != g.shape:
            continue
        a, b = float(psnr(o, g, y_channel="matlab")), float(psnr(o, g, y_channel=True))
        d.append((b, a - b))
d = np.array(d)
print(f"demo: {len(d)} pairs, float-rule PSNR-Y {d[:,0].min():.1f}-{d[:,0].max():.1f} dB, matlab - float: "
      f"median {np.median(d[:,1]):+.4f} dB, range [{d[:,1].min():+.4f}, {d[:,1].max():+.4f}]")
# near-lossless outputs: the GT with +-1 grey level on 1% of the pixels of one channel
rng = np.random.default_rng(0)
for gt in sorted((root / "gt").rglob("*.png"))[:3]:
    g = read_image(gt)[None].double()
    o = g.clone()
    m = torch.from_numpy(rng.random(g.shape[2:]) < 0.01)
    o[0, 1][m] = (o[0, 1][m] + 1 / 255).clamp(0, 1)
    a, b = float(psnr(o, g, y_channel="matlab")), float(psnr(o, g, y_channel=True))
    print(f"{gt.name}: 1% of G +1 level: float {b:.2f} dB, matlab {a:.2f} dB, difference {a - b:+.2f} dB")
