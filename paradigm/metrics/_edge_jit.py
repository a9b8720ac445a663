"""Edge F1's per-image CPU steps as compiled loops (numba; see :mod:`._jit`).

The same arithmetic, operation by operation, as :func:`.structure._sobel` and
:func:`.structure._non_max_suppression` (Sobel / 8 on the replicate-padded image, magnitude,
non-maximum suppression with the 0/45/90/135 degree bins), so the same float32 magnitudes and the
same maps; hysteresis as a flood fill of the 8-connected weak pixels
from the strong ones (the components of ``scipy.ndimage.label`` that hold a strong pixel); and the
tolerance matching of :func:`.structure._dilate` (Euclidean disk) counted without building the
dilated maps. Each step is one pass over the image instead of ~20 numpy passes.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import exact_kernel, inline_exact, kernel

_f = np.float32
_TAN_22_5 = float(_f(math.tan(math.pi / 8)))
_TAN_67_5 = float(_f(math.tan(3 * math.pi / 8)))


@inline_exact
def _grad(up, mid, dn, jl, j, jr):
    """(gx, gy) at column ``j`` of the rows ``up``, ``mid``, ``dn`` (``jl``/``jr``: the clamped neighbours)."""
    # sy = (up + down) + 2 mid at the columns right and left of j; sx likewise on the rows below and above
    sy_r = (up[jr] + dn[jr]) + _f(2.0) * mid[jr]
    sy_l = (up[jl] + dn[jl]) + _f(2.0) * mid[jl]
    sx_d = (dn[jl] + dn[jr]) + _f(2.0) * dn[j]
    sx_u = (up[jl] + up[jr]) + _f(2.0) * up[j]
    return (sy_r - sy_l) * _f(0.125), (sx_d - sx_u) * _f(0.125)


@exact_kernel
def _gradients(img, gx, gy, mag):
    """Sobel / 8 gradients (replicate borders) and magnitude of one ``(H, W)`` float32 image (W >= 2)."""
    h, w = img.shape
    for i in range(h):
        up, mid, dn = img[max(i - 1, 0)], img[i], img[min(i + 1, h - 1)]
        ox, oy, om = gx[i], gy[i], mag[i]
        for j in range(1, w - 1):  # interior columns: no clamping, vectorised
            a, b = _grad(up, mid, dn, j - 1, j, j + 1)
            ox[j], oy[j], om[j] = a, b, math.sqrt(a * a + b * b)
        for j in (0, w - 1):
            a, b = _grad(up, mid, dn, max(j - 1, 0), j, min(j + 1, w - 1))
            ox[j], oy[j], om[j] = a, b, math.sqrt(a * a + b * b)


@exact_kernel
def _nms(gx, gy, mag, keep):
    """Non-maximum suppression of :func:`.structure._nms_core` (borders suppressed), branch-free."""
    h, w = mag.shape
    keep[:, :] = False
    for i in range(1, h - 1):
        mu, mc, md, ox, oy, ok = mag[i - 1], mag[i], mag[i + 1], gx[i], gy[i], keep[i]
        for j in range(1, w - 1):
            a, b, c = ox[j], oy[j], mc[j]
            ax, ay = abs(a), abs(b)
            b0 = ay <= _f(_TAN_22_5) * ax
            b2 = (ay >= _f(_TAN_67_5) * ax) & ~b0
            diag = ~(b0 | b2)
            same = (a > _f(0.0)) == (b > _f(0.0))
            k0 = (c >= mc[j + 1]) & (c > mc[j - 1])
            k2 = (c >= md[j]) & (c > mu[j])
            k1 = (c >= md[j + 1]) & (c > mu[j - 1])
            k3 = (c >= md[j - 1]) & (c > mu[j + 1])
            ok[j] = (b0 & k0) | (b2 & k2) | (diag & ((same & k1) | (~same & k3)))


@kernel
def _gray_smooth(rgb, w, taps, out):
    """``rgb2gray`` (weights ``w``) of a ``(3, H, W)`` float32 image, then the separable filter ``taps``
    with replicate borders into ``out`` ``(H, W)``: vertical pass first, each pass ``t0 x0`` then one
    multiply-add per tap, as :func:`.structure._gray_pair32` and :func:`.structure._smooth` (torch's
    ``add_(x, alpha=t)`` is a fused multiply-add)."""
    _, h, wd = rgb.shape
    r = (taps.shape[0] - 1) // 2
    wp = wd + 2 * r
    grey = np.empty((h, wp), dtype=np.float32)
    for i in range(h):
        row = grey[i]
        for j in range(wd):
            row[r + j] = rgb[2, i, j] * w[2] + (rgb[1, i, j] * w[1] + rgb[0, i, j] * w[0])
        for j in range(r):
            row[j] = row[r]
            row[r + wd + j] = row[r + wd - 1]
    v = np.empty((h, wp), dtype=np.float32)
    for i in range(h):
        acc = v[i]
        src = grey[min(max(i - r, 0), h - 1)]
        for j in range(wp):
            acc[j] = src[j] * taps[0]
        for t in range(1, taps.shape[0]):
            src = grey[min(max(i - r + t, 0), h - 1)]
            tt = taps[t]
            for j in range(wp):
                acc[j] = src[j] * tt + acc[j]
    for i in range(h):
        src, o = v[i], out[i]
        for j in range(wd):
            o[j] = src[j] * taps[0]
        for t in range(1, taps.shape[0]):
            tt = taps[t]
            for j in range(wd):
                o[j] = src[j + t] * tt + o[j]


@exact_kernel
def _hysteresis(mag, keep, high, low, edges):
    """``edges``: the 8-connected components of ``keep & (mag >= low)`` holding a pixel ``>= high``."""
    h, w = mag.shape
    edges[:, :] = False
    stack = np.empty(h * w, dtype=np.int64)
    for i in range(h):
        for j in range(w):
            if edges[i, j] or not keep[i, j] or mag[i, j] < high or mag[i, j] < low:
                continue
            edges[i, j] = True
            top = 0
            stack[0] = i * w + j
            top = 1
            while top > 0:
                top -= 1
                p = stack[top]
                pi, pj = p // w, p % w
                for di in range(-1, 2):
                    qi = pi + di
                    if qi < 0 or qi >= h:
                        continue
                    for dj in range(-1, 2):
                        qj = pj + dj
                        if qj < 0 or qj >= w or edges[qi, qj]:
                            continue
                        if keep[qi, qj] and mag[qi, qj] >= low:
                            edges[qi, qj] = True
                            stack[top] = qi * w + qj
                            top += 1


@exact_kernel
def _hits(a, b, half):
    """Pixels of ``a`` with a pixel of ``b`` within the disk of row half-widths ``half`` (rows -r..r)."""
    h, w = a.shape
    r = (half.shape[0] - 1) // 2
    count = 0
    for i in range(h):
        for j in range(w):
            if not a[i, j]:
                continue
            found = False
            for dy in range(-r, r + 1):
                qi = i + dy
                if qi < 0 or qi >= h:
                    continue
                hw = half[dy + r]
                for qj in range(max(j - hw, 0), min(j + hw, w - 1) + 1):
                    if b[qi, qj]:
                        found = True
                        break
                if found:
                    break
            count += found
    return count


def sobel_nms(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(magnitude, non-maximum-suppression map) of one C-contiguous ``(H, W)`` float32 image."""
    gx, gy, mag = (np.empty_like(img) for _ in range(3))
    _gradients(img, gx, gy, mag)
    keep = np.empty(img.shape, dtype=np.bool_)
    _nms(gx, gy, mag, keep)
    return mag, keep


def hysteresis(mag: np.ndarray, keep: np.ndarray, high: np.float32, low: np.float32) -> np.ndarray:
    """Edge map of the weak pixels ``keep & (mag >= low)`` connected to a strong one (``>= high``)."""
    edges = np.empty(mag.shape, dtype=np.bool_)
    _hysteresis(mag, keep, _f(high), _f(low), edges)
    return edges


def hits(a: np.ndarray, b: np.ndarray, half_widths: list[int]) -> int:
    """Number of pixels of ``a`` within the disk (row half-widths, rows ``-r..r``) of a pixel of ``b``."""
    return int(_hits(a, b, np.asarray(half_widths, dtype=np.int64)))


def gray_smooth(rgb: np.ndarray, weights: tuple[float, float, float], taps: np.ndarray) -> np.ndarray:
    """Grey level and Gaussian smoothing of one C-contiguous ``(3, H, W)`` float32 image (see :func:`_gray_smooth`)."""
    out = np.empty(rgb.shape[1:], dtype=np.float32)
    _gray_smooth(rgb, np.asarray(weights, dtype=np.float32), taps.astype(np.float32), out)
    return out
