"""NLPD of one grey image pair as compiled loops (numba; see :mod:`._jit`).

The steps of :func:`.nlpd.nlp_transform` and :func:`.nlpd.nlpd` (``NLP_dist.m``) on two ``(H, W)``
float32 images in [0, 1], level by level: the Burt-Adelson downsampling (symmetric padding, only the
kept samples computed), the polyphase upsampling (replicate padding), the Laplacian band, its
divisive normalisation by ``sigma_k + conv2(|band|, F_k, 'same')`` and the mean squared difference
of the two normalised bands, summed in float64. Each filter is ``t0 x0`` then one multiply-add per
tap, in the torch code's order.
"""

from __future__ import annotations

import numpy as np

from ._jit import inline, kernel

_f = np.float32


@inline
def _sym(i, n):
    """MATLAB 'symmetric' padding (mirror including the edge) of index ``i`` for a side of ``n``."""
    if i < 0:
        return -i - 1
    return 2 * n - 1 - i if i >= n else i


@kernel
def _down(x, taps):
    """``imfilter(x, k' k, 'symmetric')`` then ``x(1:2:end, 1:2:end)``."""
    h, w = x.shape
    oh, ow = (h + 1) // 2, (w + 1) // 2
    rows = np.empty((oh, w + 4), dtype=np.float32)
    for r in range(oh):
        dst = rows[r, 2 : w + 2]
        src, t0 = x[_sym(2 * r - 2, h)], taps[0]
        for c in range(w):
            dst[c] = src[c] * t0
        for t in range(1, 5):
            src, tt = x[_sym(2 * r + t - 2, h)], taps[t]
            for c in range(w):
                dst[c] = src[c] * tt + dst[c]
        rows[r, 0], rows[r, 1] = rows[r, 3], rows[r, 2]
        rows[r, w + 2], rows[r, w + 3] = rows[r, w + 1], rows[r, w]
    out = np.empty((oh, ow), dtype=np.float32)
    for r in range(oh):
        src, dst = rows[r], out[r]
        for c in range(ow):
            acc = src[2 * c] * taps[0]
            for t in range(1, 5):
                acc = src[2 * c + t] * taps[t] + acc
            dst[c] = acc
    return out


@kernel
def _up(x, odd_h, odd_w, taps):
    """``upsample`` of laplacian_pyramid_s, polyphase on the replicate-padded ``x``, cropped by ``odd``."""
    n, m = x.shape
    k0, k1, k2, k3, k4 = (_f(2.0) * taps[0], _f(2.0) * taps[1], _f(2.0) * taps[2], _f(2.0) * taps[3],
                          _f(2.0) * taps[4])
    oh = 2 * n - odd_h
    tall = np.empty((oh, m), dtype=np.float32)
    for i in range(oh):
        q = i // 2
        lo, mid, hi = x[max(q - 1, 0)], x[q], x[min(q + 1, n - 1)]
        dst = tall[i]
        if i % 2 == 0:
            for c in range(m):
                dst[c] = hi[c] * k4 + (mid[c] * k2 + lo[c] * k0)
        else:
            for c in range(m):
                dst[c] = hi[c] * k3 + mid[c] * k1
    ow = 2 * m - odd_w
    out = np.empty((oh, ow), dtype=np.float32)
    for i in range(oh):
        src, dst = tall[i], out[i]
        for c in range(ow):
            q = c // 2
            lo, mid, hi = src[max(q - 1, 0)], src[q], src[min(q + 1, m - 1)]
            dst[c] = hi * k4 + (mid * k2 + lo * k0) if c % 2 == 0 else hi * k3 + mid * k1
    return out


@kernel
def _normalised(band, rows, cols, vals, sigma):
    """``band / (sigma + conv2(|band|, F, 'same'))`` with the non-zero taps ``(rows, cols, vals)`` of ``F``."""
    h, w = band.shape
    ap = np.zeros((h + 4, w + 4), dtype=np.float32)
    for i in range(h):
        for j in range(w):
            ap[i + 2, j + 2] = abs(band[i, j])
    out = np.empty((h, w), dtype=np.float32)
    for i in range(h):
        dst = out[i]
        src, v0 = ap[i + 4 - rows[0], 4 - cols[0] :], vals[0]
        for j in range(w):
            dst[j] = src[j] * v0
        for t in range(1, vals.shape[0]):
            src, vt = ap[i + 4 - rows[t], 4 - cols[t] :], vals[t]
            for j in range(w):
                dst[j] = src[j] * vt + dst[j]
        b = band[i]
        for j in range(w):
            dst[j] = b[j] / (sigma + dst[j])
    return out


@kernel
def _mean_square_diff(a, b):
    total = 0.0
    h, w = a.shape
    for i in range(h):
        for j in range(w):
            d = a[i, j] - b[i, j]
            total += d * d
    return total / (h * w)


def level_mse(x: np.ndarray, ref: np.ndarray, taps: np.ndarray, filters: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
              sigmas: tuple[float, ...]) -> list[float]:
    """Mean squared difference of the normalised bands of two ``(H, W)`` float32 images, per level."""
    out = []
    j, k = x, ref
    last = len(sigmas) - 1
    for level, sigma in enumerate(sigmas):
        bands = []
        for img in (j, k):
            if level < last:
                low = _down(img, taps)
                up = _up(low, 2 * low.shape[0] - img.shape[0], 2 * low.shape[1] - img.shape[1], taps)
                bands.append((img - up, low))
            else:
                bands.append((img, img))
        r, c, v = filters[level]
        nx = _normalised(bands[0][0], r, c, v, np.float32(sigma))
        nr = _normalised(bands[1][0], r, c, v, np.float32(sigma))
        out.append(float(_mean_square_diff(nx, nr)))
        j, k = bands[0][1], bands[1][1]
    return out
