"""PNG row unfiltering and 8-bit-to-float conversion as one compiled loop (numba; see :mod:`.metrics._jit`).

Used by :mod:`._png8` for 8-bit non-interlaced PNGs. Integer arithmetic only; each sample becomes
``float32(v) / float32(255)`` through a 256-entry table, the same bits as the reader's numpy path.
For RGB and RGBA rows the left neighbours of the Sub, Average and Paeth filters are kept in registers
(one chain per channel, interleaved), instead of being read back from the row just written.
"""

from __future__ import annotations

import numpy as np

from .metrics._jit import exact_kernel, inline_exact

#: ``float32(v) / float32(255)`` for every 8-bit level (numpy's float32 division, so the same bits).
LEVELS = np.arange(256, dtype=np.float32) / np.float32(255.0)


@inline_exact
def _predict(kind, left, up, corner):
    """The PNG predictor of filter ``kind`` 1 (Sub), 3 (Average) or 4 (Paeth) from int32 neighbours."""
    if kind == 1:
        return left
    if kind == 3:
        return (left + up) >> 1
    pa, pb, pc = abs(up - corner), abs(left - corner), abs(left + up - 2 * corner)
    return left if (pa <= pb and pa <= pc) else (up if pb <= pc else corner)


@exact_kernel
def _unfilter_row(kind, raw, prev, cur, bpp):
    """Undo one row's PNG filter (types 0-4) from ``raw`` into ``cur`` given the previous row ``prev``."""
    n = cur.shape[0]
    if kind == 0 or kind == 2:
        for i in range(n):
            cur[i] = (np.int32(raw[i]) + (np.int32(prev[i]) if kind == 2 else np.int32(0))) & 255
        return
    for i in range(n):
        up = np.int32(prev[i])
        if i >= bpp:
            left, corner = np.int32(cur[i - bpp]), np.int32(prev[i - bpp])
        else:
            left, corner = np.int32(0), np.int32(0)
        cur[i] = (np.int32(raw[i]) + _predict(kind, left, up, corner)) & 255


@exact_kernel
def _unfilter_colour_row(kind, raw, prev, cur, ch, levels, o0, o1, o2):
    """Filter 1, 3 or 4 of an RGB (``ch`` 3) or RGBA (4) row into ``cur`` and its colour into ``o0..o2``:
    one loop per (filter, channels), so that both are constants in it (2x faster than one loop)."""
    if ch == 3:
        if kind == 4:
            _colour_loop(4, raw, prev, cur, 3, levels, o0, o1, o2)
        elif kind == 3:
            _colour_loop(3, raw, prev, cur, 3, levels, o0, o1, o2)
        else:
            _colour_loop(1, raw, prev, cur, 3, levels, o0, o1, o2)
    elif kind == 4:
        _colour_loop(4, raw, prev, cur, 4, levels, o0, o1, o2)
    elif kind == 3:
        _colour_loop(3, raw, prev, cur, 4, levels, o0, o1, o2)
    else:
        _colour_loop(1, raw, prev, cur, 4, levels, o0, o1, o2)


@inline_exact
def _colour_loop(kind, raw, prev, cur, ch, levels, o0, o1, o2):
    """The loop of :func:`_unfilter_colour_row`, the left neighbours carried in registers."""
    a0 = a1 = a2 = a3 = np.int32(0)
    c0 = c1 = c2 = c3 = np.int32(0)
    for x in range(o0.shape[0]):
        i = ch * x
        b0, b1, b2 = np.int32(prev[i]), np.int32(prev[i + 1]), np.int32(prev[i + 2])
        a0 = (np.int32(raw[i]) + _predict(kind, a0, b0, c0)) & 255
        a1 = (np.int32(raw[i + 1]) + _predict(kind, a1, b1, c1)) & 255
        a2 = (np.int32(raw[i + 2]) + _predict(kind, a2, b2, c2)) & 255
        cur[i], cur[i + 1], cur[i + 2] = a0, a1, a2
        c0, c1, c2 = b0, b1, b2
        if ch == 4:
            b3 = np.int32(prev[i + 3])
            a3 = (np.int32(raw[i + 3]) + _predict(kind, a3, b3, c3)) & 255
            cur[i + 3] = a3
            c3 = b3
        o0[x], o1[x], o2[x] = levels[a0], levels[a1], levels[a2]


@exact_kernel
def unfilter_to_rgb(raw, h, w, ch, levels, out):
    """Unfilter the inflated stream ``raw`` (``h`` rows of a filter byte plus ``w * ch`` bytes) of an
    8-bit PNG with ``ch`` channels (grey, grey+alpha, RGB, RGBA) into ``out`` ``(3, h, w)`` float32:
    grey is repeated to three channels, alpha is dropped. Returns False at an invalid filter byte."""
    stride = w * ch
    rows = np.zeros((2, stride), dtype=np.uint8)
    for y in range(h):
        base = y * (stride + 1)
        kind = raw[base]
        if kind > 4:
            return False
        cur, prev = rows[y & 1], rows[(y + 1) & 1]
        row = raw[base + 1: base + 1 + stride]
        o0, o1, o2 = out[0, y], out[1, y], out[2, y]
        if ch >= 3 and kind != 0 and kind != 2:
            _unfilter_colour_row(kind, row, prev, cur, ch, levels, o0, o1, o2)
            continue
        _unfilter_row(kind, row, prev, cur, ch)
        g, b = (1, 2) if ch >= 3 else (0, 0)  # grey: the one level goes to all three channels
        for x in range(w):
            i = x * ch
            o0[x], o1[x], o2[x] = levels[cur[i]], levels[cur[i + g]], levels[cur[i + b]]
    return True
