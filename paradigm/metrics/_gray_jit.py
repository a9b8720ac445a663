"""MATLAB's 8-bit ``rgb2gray`` of one RGB image in float64 as a compiled loop (numba; see :mod:`._jit`).

The operations of :func:`.fidelity.matlab_gray255` with ``quantize=True`` on float64 data, in the same
order and without fused multiply-adds — ``floor((x0 w0 + x1 w1) + x2 w2 + 0.5)`` clamped to 0..255
with ``w = 255 * (0.2989, 0.5870, 0.1140)`` — so the same float64 values, in one pass.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import exact_kernel


@exact_kernel
def _gray255(rgb, w0, w1, w2, out):
    _, h, w = rgb.shape
    for i in range(h):
        r, g, b, o = rgb[0, i], rgb[1, i], rgb[2, i], out[i]
        for j in range(w):
            v = (np.float64(r[j]) * w0 + np.float64(g[j]) * w1) + np.float64(b[j]) * w2
            o[j] = min(max(math.floor(v + 0.5), 0.0), 255.0)


def gray255(rgb: np.ndarray, weights: tuple[float, float, float]) -> np.ndarray:
    """The rounded 0..255 grey level ``(H, W)`` float64 of one C-contiguous ``(3, H, W)`` float32/64 image;
    ``weights`` are the three 0..255-scaled ``rgb2gray`` coefficients."""
    out = np.empty(rgb.shape[1:], dtype=np.float64)
    _gray255(rgb, weights[0], weights[1], weights[2], out)
    return out
