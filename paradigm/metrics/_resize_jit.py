"""MATLAB ``imresize`` (separable taps) of CPU images as compiled loops (numba; see :mod:`._jit`).

:func:`.vsi.imresize_bilinear`'s two passes — rows, then columns — from :func:`.vsi.imresize_taps`'
indices and weights: each output is ``x[i0] w0 + x[i1] w1 + ...`` in tap order, vectorised along
the other axis (the column pass runs on the transposed intermediate, so both passes read rows).
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel


@kernel
def _resize_rows(x, idx, w, out):
    """``out[c, o, :] = sum_t x[c, idx[o, t], :] w[o, t]`` for ``(C, H, W)`` ``x`` and ``(C, O, W)`` ``out``."""
    c_n, o_n, width = out.shape
    taps = idx.shape[1]
    for c in range(c_n):
        for o in range(o_n):
            dst, src, w0 = out[c, o], x[c, idx[o, 0]], w[o, 0]
            for j in range(width):
                dst[j] = src[j] * w0
            for t in range(1, taps):
                wt = w[o, t]
                if wt == 0:
                    continue
                src = x[c, idx[o, t]]
                for j in range(width):
                    dst[j] = src[j] * wt + dst[j]


def resize(x: np.ndarray, rows: tuple[np.ndarray, np.ndarray], cols: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``(C, H, W)`` -> ``(C, out_h, out_w)`` with the row taps, then the column taps (``(out, P)`` each)."""
    dt = x.dtype
    tall = np.empty((x.shape[0], rows[0].shape[0], x.shape[2]), dtype=dt)
    _resize_rows(x, rows[0], rows[1].astype(dt), tall)
    flat_t = np.ascontiguousarray(tall.transpose(0, 2, 1))
    out_t = np.empty((x.shape[0], cols[0].shape[0], tall.shape[1]), dtype=dt)
    _resize_rows(flat_t, cols[0], cols[1].astype(dt), out_t)
    return np.ascontiguousarray(out_t.transpose(0, 2, 1))
