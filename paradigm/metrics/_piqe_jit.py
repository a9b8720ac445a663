"""PIQE of one grey image as compiled loops (numba; see :mod:`._jit`).

The steps of :func:`.piqe._piqe_one` (MATLAB ``piqe``) on one ``(H, W)`` float64 0..255 image:
the ``padarray(., 'symmetric', 'post')`` padding to a multiple of 16, the MSCN coefficients with the
7x7 Gaussian (replicate borders; vertical pass first, as :func:`._filters.separable_filter_valid`)
and, per 16x16 block, the variance, the noticeable-artifact flag (a 6-pixel segment of an edge with
a standard deviation below 0.1) and the noise flag (centre-surround standard-deviation ratio), all
in float64 and in the same order of operations as the torch code, block by block from the map.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import exact_kernel

BLOCK = 16
SEGMENT = 6
_MAX = float(np.finfo(np.float64).max)


@exact_kernel
def _mscn(g, taps, out):
    """MSCN of the ``padarray(g, 'symmetric', 'post')`` image of ``out``'s shape into ``out``."""
    h, w = g.shape
    hp, wp = out.shape
    r = (taps.shape[0] - 1) // 2
    k = taps.shape[0]
    wb = wp + 2 * r
    # the post-padded image with r replicated pixels on every side: (hp + 2r, wp + 2r)
    big = np.empty((hp + 2 * r, wb), dtype=np.float64)
    for i in range(hp + 2 * r):
        pi = min(max(i - r, 0), hp - 1)
        src, row = g[pi if pi < h else 2 * h - 1 - pi], big[i]
        row[r : r + w] = src
        for j in range(w, wp):  # symmetric 'post' columns
            row[r + j] = src[2 * w - 1 - j]
        for j in range(r):  # replicated borders
            row[j] = row[r]
            row[r + wp + j] = row[r + wp - 1]
    sq = big * big
    v1 = np.empty(wb, dtype=np.float64)
    v2 = np.empty(wb, dtype=np.float64)
    mu = np.empty(wp, dtype=np.float64)
    f2 = np.empty(wp, dtype=np.float64)
    for i in range(hp):
        s1, s2, t0 = big[i], sq[i], taps[0]
        for j in range(wb):
            v1[j] = s1[j] * t0
            v2[j] = s2[j] * t0
        for t in range(1, k):
            s1, s2, tt = big[i + t], sq[i + t], taps[t]
            for j in range(wb):
                v1[j] = s1[j] * tt + v1[j]
                v2[j] = s2[j] * tt + v2[j]
        for j in range(wp):
            mu[j] = v1[j] * t0
            f2[j] = v2[j] * t0
        for t in range(1, k):
            tt = taps[t]
            for j in range(wp):
                mu[j] = v1[j + t] * tt + mu[j]
                f2[j] = v2[j + t] * tt + f2[j]
        centre, o = big[i + r], out[i]
        for j in range(wp):
            o[j] = (centre[j + r] - mu[j]) / (math.sqrt(abs(mu[j] * mu[j] - f2[j])) + 1.0)


@exact_kernel
def _segment_low(m, i0, j0, di, dj, threshold):
    """Whether one of the 6-px windows along the 16-px edge starting at ``(i0, j0)`` (step
    ``(di, dj)``) has a sample standard deviation below ``threshold``."""
    for s in range(BLOCK - SEGMENT + 1):
        total = 0.0
        for t in range(SEGMENT):
            total += m[i0 + (s + t) * di, j0 + (s + t) * dj]
        mean = total / SEGMENT
        dev = 0.0
        for t in range(SEGMENT):
            d = m[i0 + (s + t) * di, j0 + (s + t) * dj] - mean
            dev += d * d
        if math.sqrt(dev / (SEGMENT - 1)) < threshold:
            return True
    return False


@exact_kernel
def _block_scores(m, activity, impaired):
    """(sum of the active blocks' scores, number of active blocks) of an MSCN map."""
    b = BLOCK
    rows, cols = m.shape[0] // b, m.shape[1] // b
    c1 = b // 2 - 1  # 0-based first centre column (MATLAB columns 8 and 9)
    col1 = np.empty(b, dtype=np.float64)
    col2 = np.empty(b, dtype=np.float64)
    score, active = 0.0, 0
    for br in range(rows):
        for bc in range(cols):
            i0, j0 = br * b, bc * b
            total = 0.0
            for i in range(b):
                for j in range(b):
                    total += m[i0 + i, j0 + j]
            mean = total / (b * b)
            for j in range(b):
                s1, s2 = 0.0, 0.0
                for i in range(b):
                    d = m[i0 + i, j0 + j] - mean
                    s1 += d
                    s2 += d * d
                col1[j], col2[j] = s1, s2
            all1, all2 = col1.sum(), col2.sum()
            var = all2 / (b * b - 1)
            if not var > activity:
                continue
            active += 1
            cs1, cs2 = col1[c1] + col1[c1 + 1], col2[c1] + col2[c1 + 1]
            centre = max((cs2 - cs1 * cs1 / (2 * b)) / (2 * b - 1), 0.0)
            o1, o2 = all1 - (col1[c1] + col1[c1 + 2]), all2 - (col2[c1] + col2[c1 + 2])
            n_out = b * (b - 2)
            surround = max((o2 - o1 * o1 / n_out) / (n_out - 1), 0.0)
            # torch.nan_to_num of sqrt(centre) / sqrt(surround): 0/0 -> 0, x/0 -> the largest float64
            # (written without inf or NaN: the kernels are compiled assuming neither occurs)
            ratio = math.sqrt(centre) / math.sqrt(surround) if surround > 0 else (_MAX if centre > 0 else 0.0)
            sigma = math.sqrt(var)
            hi = max(sigma, ratio)
            noisy = hi > 0 and sigma > 2.0 * (abs(sigma - ratio) / hi)
            artifact = (_segment_low(m, i0, j0, 0, 1, impaired) or _segment_low(m, i0, j0 + b - 1, 1, 0, impaired)
                        or _segment_low(m, i0 + b - 1, j0, 0, 1, impaired) or _segment_low(m, i0, j0, 1, 0, impaired))
            score += (1.0 - var) * artifact + var * noisy
    return score, active


def piqe_one(g: np.ndarray, taps: np.ndarray, activity: float, impaired: float) -> float:
    """PIQE of one C-contiguous ``(H, W)`` float64 0..255 grey image (already rescaled to peak 255)."""
    h, w = g.shape
    m = np.empty((h + (-h % BLOCK), w + (-w % BLOCK)), dtype=np.float64)
    _mscn(g, taps.astype(np.float64), m)
    score, active = _block_scores(m, activity, impaired)
    return 100.0 * (score + 1.0) / (active + 1.0)
