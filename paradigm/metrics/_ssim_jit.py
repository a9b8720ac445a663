"""SSIM's mean map terms of one grey image pair as one compiled CPU loop (numba; see :mod:`._jit`).

The computation of :func:`.fidelity._ssim_means` (``ssim_index_new.m``): both images centred on one
constant (variances and covariances are shift invariant; float32 then keeps ~1e-6 accuracy), the
five planes ``a, b, a^2, b^2, ab`` filtered with the separable Gaussian ('valid'; vertical pass first,
tap by tap, as :func:`._filters.separable_filter_valid`), then per pixel
``cs = (2 s12 + C2) / (s11 + s22 + C2)`` and ``l = (2 mu1 mu2 + C1) / (mu1^2 + mu2^2 + C1)``. Every
product is rounded before it is added (no fused multiply-add), so identical images give exactly 1.
The filtering runs row by row, so the filtered planes never leave the CPU caches, and the map means
are summed in float64 in a fixed order (torch sums the float32 map; the means agree within 1e-6).
"""

from __future__ import annotations

import numpy as np

from ._jit import exact_kernel

_f = np.float32


@exact_kernel
def _ssim_sums(a, b, taps, c1, c2):
    """(sum of ``l cs``, sum of ``cs``, number of map pixels) of two ``(H, W)`` float32 images."""
    h, w = a.shape
    k = taps.shape[0]
    oh, ow = h - k + 1, w - k + 1
    total = 0.0
    for i in range(h):
        for j in range(w):
            total += np.float64(a[i, j]) + np.float64(b[i, j])
    shift = _f(0.5 * total / (h * w))
    planes = np.empty((5, h, w), dtype=np.float32)
    for i in range(h):
        for j in range(w):
            x, y = a[i, j] - shift, b[i, j] - shift
            planes[0, i, j], planes[1, i, j] = x, y
            planes[2, i, j], planes[3, i, j], planes[4, i, j] = x * x, y * y, x * y
    v = np.empty((5, w), dtype=np.float32)
    f = np.empty((5, ow), dtype=np.float32)
    lcs = np.empty(ow, dtype=np.float32)
    cs = np.empty(ow, dtype=np.float32)
    s_lcs, s_cs = 0.0, 0.0
    for i in range(oh):
        for q in range(5):
            vq, t0 = v[q], taps[0]
            src = planes[q, i]
            for j in range(w):
                vq[j] = src[j] * t0
            for t in range(1, k):
                src, tt = planes[q, i + t], taps[t]
                for j in range(w):
                    vq[j] = src[j] * tt + vq[j]
            fq = f[q]
            for j in range(ow):
                fq[j] = vq[j] * t0
            for t in range(1, k):
                tt = taps[t]
                for j in range(ow):
                    fq[j] = vq[j + t] * tt + fq[j]
        for j in range(ow):
            m1, m2 = f[0, j], f[1, j]
            s11, s22, s12 = f[2, j] - m1 * m1, f[3, j] - m2 * m2, f[4, j] - m1 * m2
            c = (_f(2.0) * s12 + c2) / (s11 + s22 + c2)
            u1, u2 = m1 + shift, m2 + shift
            lum = (_f(2.0) * u1 * u2 + c1) / (u1 * u1 + u2 * u2 + c1)
            cs[j] = c
            lcs[j] = lum * c
        for j in range(ow):
            s_lcs += lcs[j]
            s_cs += cs[j]
    return s_lcs, s_cs, oh * ow


def ssim_means(a: np.ndarray, b: np.ndarray, taps: np.ndarray, c1: float, c2: float) -> tuple[float, float]:
    """(mean SSIM, mean ``cs``) of two C-contiguous ``(H, W)`` float32 images (see the module docstring)."""
    s_lcs, s_cs, count = _ssim_sums(a, b, taps.astype(np.float32), _f(c1), _f(c2))
    return s_lcs / count, s_cs / count
