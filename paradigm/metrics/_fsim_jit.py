"""FSIM's phase-congruency reduction of one image as compiled loops (numba; see :mod:`._jit`).

The computation of :func:`.fsim._pc_reduce_numpy` (``phasecong2`` in FeatureSIM.m) from the complex
filter responses ``E + iO`` of one image, ``(O, 4, H, W)`` complex64 (4 scales), in float32: the
smallest-scale energies (whose per-orientation median sets the noise threshold), then per pixel and
orientation ``|sum_s EO|^2 / (|sum_s EO| + eps) - sum_s |E m_o - O m_e| - T_o`` clipped at 0,
summed over orientations and divided by ``sum_o sum_s |EO|``. One pass over the responses instead
of ~15 numpy passes; sums are taken in a fixed order.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import exact_kernel, kernel

_f = np.float32


@kernel
def _small_energy(ef, out):
    """``E^2 + O^2`` of the smallest scale, ``(O, HW)``, from ``ef`` ``(O, 4, 2 HW)`` (re, im interleaved)."""
    n_o, hw = out.shape
    for o in range(n_o):
        src, dst = ef[o, 0], out[o]
        for p in range(hw):
            re, im = src[2 * p], src[2 * p + 1]
            dst[p] = re * re + im * im


@kernel
def _add_orientation(ef, t, eps, energy, an_all):
    """One orientation's share of the phase congruency: ``ef`` ``(4, 2 HW)`` (re, im interleaved) and
    its noise threshold ``t``, added into the float32 accumulators ``energy`` and ``an_all`` ``(HW,)``."""
    s0, s1, s2, s3 = ef[0], ef[1], ef[2], ef[3]
    for p in range(energy.shape[0]):
        r0, i0 = s0[2 * p], s0[2 * p + 1]
        r1, i1 = s1[2 * p], s1[2 * p + 1]
        r2, i2 = s2[2 * p], s2[2 * p + 1]
        r3, i3 = s3[2 * p], s3[2 * p + 1]
        an_all[p] += ((math.sqrt(r0 * r0 + i0 * i0) + math.sqrt(r1 * r1 + i1 * i1))
                      + math.sqrt(r2 * r2 + i2 * i2)) + math.sqrt(r3 * r3 + i3 * i3)
        se, so = ((r0 + r1) + r2) + r3, ((i0 + i1) + i2) + i3
        mag = math.sqrt(se * se + so * so)
        xe = mag + eps
        me, mo = se / xe, so / xe
        cross = ((abs(i0 * me - r0 * mo) + abs(i1 * me - r1 * mo)) + abs(i2 * me - r2 * mo)) + abs(i3 * me - r3 * mo)
        energy[p] += max(mag * mag / xe - cross - t, _f(0.0))


@kernel
def _finish(energy, an_all, out):
    """``energy / an_all`` where ``an_all > 0``, else 0, into ``out``."""
    for p in range(out.shape[0]):
        a = an_all[p]
        out[p] = energy[p] / a if a > _f(0.0) else _f(0.0)


class Accumulator:
    """The per-pixel sums of one image's phase congruency, filled one orientation at a time (so only
    that orientation's responses need to be in memory); the orientations in order give the same bits
    whether they come from one array or one by one."""

    def __init__(self, hw: int, eps: float) -> None:
        self.energy = np.zeros(hw, dtype=np.float32)
        self.an_all = np.zeros(hw, dtype=np.float32)
        self.eps = _f(eps)

    def add(self, eo: np.ndarray, thresh_scale: float) -> None:
        """Add one orientation's C-contiguous ``(4, H, W)`` complex64 responses; its noise threshold is
        ``sqrt(median smallest-scale energy) * thresh_scale``."""
        if eo.shape[0] != 4:
            raise ValueError(f"the compiled reduction is written for 4 scales, got {eo.shape[0]}")
        small = median_rows(small_energy(eo[None]))  # energies E^2 + O^2: >= 0, never -0.0
        t = (np.sqrt(small) * np.asarray([thresh_scale], dtype=np.float32))[0]
        _add_orientation(eo.view(np.float32).reshape(4, -1), t, self.eps, self.energy, self.an_all)

    def result(self, h: int, w: int) -> np.ndarray:
        """Phase congruency ``(h, w)`` float32."""
        out = np.empty(h * w, dtype=np.float32)
        _finish(self.energy, self.an_all, out)
        return out.reshape(h, w)


def small_energy(eo: np.ndarray) -> np.ndarray:
    """Smallest-scale energies ``(O, H W)`` float32 of C-contiguous ``(O, 4, H, W)`` complex64 responses."""
    o, s, h, w = eo.shape
    out = np.empty((o, h * w), dtype=np.float32)
    _small_energy(eo.view(np.float32).reshape(o, s, 2 * h * w), out)
    return out


def reduce(eo: np.ndarray, thresh_scale: np.ndarray, eps: float) -> np.ndarray:
    """Phase congruency ``(H, W)`` float32 of C-contiguous ``(O, 4, H, W)`` complex64 responses and the
    per-orientation threshold factors ``thresh_scale`` ``(O,)`` (see :class:`Accumulator`)."""
    o, _, h, w = eo.shape
    acc = Accumulator(h * w, eps)
    for k in range(o):
        acc.add(eo[k], float(thresh_scale[k]))
    return acc.result(h, w)


@exact_kernel
def _yiq_down(x, f, yiq, out):
    """``downsample_zeros`` (``f x f`` box, zero padding, MATLAB centre) of the planes of ``x``
    ``(C, H, W)``, then the rows ``yiq`` ``(C', C)`` (255 times FeatureSIM.m's YIQ rows) into ``out``
    ``(C', h, w)``. Sums in :func:`.fsim.downsample_zeros`'s order (a block's rows, then its columns;
    the zero padding adds exact zeros)."""
    c, h, w = x.shape
    oc, oh, ow = out.shape
    before = (f + 1) // 2 - 1
    rs = np.zeros(ow * f, dtype=np.float32)  # row sums of one band of f rows, padded columns
    planes = np.empty((c, ow), dtype=np.float32)
    even2 = f == 2 and h % 2 == 0 and w % 2 == 0  # the usual case (sides of 384-639 px): no padding
    for i in range(oh):
        for ch in range(c):
            if even2:
                top, bot, row = x[ch, 2 * i], x[ch, 2 * i + 1], planes[ch]
                for j in range(ow):
                    row[j] = ((top[2 * j] + bot[2 * j]) + (top[2 * j + 1] + bot[2 * j + 1])) / _f(4.0)
                continue
            rs[:] = 0.0
            for kr in range(f):
                ri = i * f + kr - before
                if 0 <= ri < h:
                    src = x[ch, ri]
                    for j in range(min(w, ow * f - before)):
                        rs[j + before] += src[j]
            row = planes[ch]
            for j in range(ow):
                acc = _f(0.0)
                for kc in range(f):
                    acc += rs[j * f + kc]
                row[j] = acc / _f(f * f)
        for m in range(oc):
            dst = out[m, i]
            for j in range(ow):
                v = planes[0, j] * yiq[m, 0]
                for ch in range(1, c):
                    v = v + planes[ch, j] * yiq[m, ch]
                dst[j] = v


@exact_kernel
def _gradient_magnitude(y, out):
    """Scharr gradient magnitude of :func:`.fsim.gradient_magnitude` (zero padding) of ``(H, W)`` ``y``:
    ``gx = 3 (d(i-1) + d(i+1)) + 10 d(i)`` with ``d = y(., j+1) - y(., j-1)``, ``gy`` likewise, ``/ 16``."""
    h, w = y.shape
    yp = np.zeros((h + 2, w + 2), dtype=np.float32)
    yp[1 : h + 1, 1 : w + 1] = y
    dx = np.empty((h + 2, w), dtype=np.float32)  # y(i, j + 1) - y(i, j - 1), padded rows
    for i in range(h + 2):
        for j in range(w):
            dx[i, j] = yp[i, j + 2] - yp[i, j]
    dy = np.empty((h, w + 2), dtype=np.float32)  # y(i + 1, j) - y(i - 1, j), padded columns
    for i in range(h):
        for j in range(w + 2):
            dy[i, j] = yp[i + 2, j] - yp[i, j]
    for i in range(h):
        for j in range(w):
            gx = (dx[i, j] + dx[i + 2, j]) * _f(3.0) + dx[i + 1, j] * _f(10.0)
            gy = (dy[i, j] + dy[i, j + 2]) * _f(3.0) + dy[i, j + 1] * _f(10.0)
            out[i, j] = math.sqrt(gx * gx + gy * gy) / _f(16.0)


def yiq_downsampled(x: np.ndarray, f: int, rows: np.ndarray) -> np.ndarray:
    """The downsampled YIQ (or Y) planes ``(len(rows), ceil(H/f), ceil(W/f))`` of one ``(C, H, W)`` float32 image."""
    c, h, w = x.shape
    out = np.empty((rows.shape[0], -(-h // f), -(-w // f)), dtype=np.float32)
    _yiq_down(x, f, rows.astype(np.float32), out)
    return out


def gradient_magnitude(y: np.ndarray) -> np.ndarray:
    """Scharr gradient magnitude ``(H, W)`` float32 of one C-contiguous float32 plane."""
    out = np.empty_like(y)
    _gradient_magnitude(y, out)
    return out


#: Low bits of a float32 dropped for the median's histogram (8192 bins per row).
_MEDIAN_SHIFT = 18


@kernel
def _median_rows(x, out):
    """MATLAB ``median`` of each row of the non-negative float32 ``(R, n)`` array ``x`` (no ``-0.0``).

    The bit patterns of non-negative floats sort as integers: a histogram of their top bits finds
    the bin(s) of the middle rank(s), and only the values in those bins are sorted. Exact.
    """
    r, n = x.shape
    bins = 1 << (31 - _MEDIAN_SHIFT)
    hist = np.empty(bins, dtype=np.int64)
    k1 = (n - 1) // 2  # 0-based middle ranks: k1 == k2 for odd n
    k2 = n // 2
    for row in range(r):
        bits = x[row].view(np.int32)
        hist[:] = 0
        for p in range(n):
            hist[bits[p] >> _MEDIAN_SHIFT] += 1
        below, b1, b2, seen = 0, -1, -1, 0
        for b in range(bins):
            nxt = seen + hist[b]
            if b1 < 0 and k1 < nxt:
                b1, below = b, seen
            if k2 < nxt:
                b2 = b
                break
            seen = nxt
        picked = np.empty(nxt - below, dtype=np.int32)
        m = 0
        for p in range(n):
            key = bits[p] >> _MEDIAN_SHIFT
            if b1 <= key <= b2:
                picked[m] = bits[p]
                m += 1
        picked.sort()
        lo = picked[k1 - below : k1 - below + 1].view(np.float32)[0]
        hi = picked[k2 - below : k2 - below + 1].view(np.float32)[0]
        out[row] = lo if k1 == k2 else _f(0.5) * (lo + hi)


def median_rows(x: np.ndarray) -> np.ndarray:
    """MATLAB median ``(R,)`` of each row of a C-contiguous non-negative float32 ``(R, n)`` array."""
    out = np.empty(x.shape[0], dtype=np.float32)
    _median_rows(x, out)
    return out
