"""CIEDE2000 of sRGB pixel pairs as one compiled CPU loop (numba; see :mod:`._jit` for why).

The same quantities as :func:`.colour._lab_fast` and :func:`.colour._de00_fast` (skimage's
``rgb2lab`` and ``deltaE_ciede2000``, kL = kC = kH = 1), in float32, with the transcendental steps
written as arithmetic so that LLVM vectorises the whole chain:

* sRGB linearisation: looked up when every value of the image pair is an 8-bit level (``v`` with
  ``round(255 v) / 255 == v``, as decoded from 8-bit files; the table holds skimage's float64 formula
  at ``k / 255``); otherwise the float64 formula for every value;
* CIELAB ``f(t) = t^(1/3)``: reduced into [1/8, 1] by factors of 8, a cubic seed (1.7 % off) and two
  Halley steps (cubic convergence: float32-exact);
* the mean hue enters only through ``cos(h)``/``sin(h)`` of the direction of ``u1 + u2`` (the
  multiple-angle terms of ``T`` follow by the double- and triple-angle formulas) and through
  ``exp(-((h - 275 deg) / 25 deg)^2)``, for which ``h`` comes from a polynomial ``atan2``
  (< 7e-7 rad); the exponential is a Taylor polynomial on [0, 1/2) times ``exp(-k/2)`` factors
  chosen by the bits of ``k``, cut at ``exp(-20)`` (below, the rotation term is < 1e-9 ΔE);
* ``sin(2 dtheta)`` (``2 dtheta`` in [0, pi/3]): its Taylor series to the 11th power (< 3e-10).

Per pixel the result is within 1e-3 ΔE + 1e-4 relative of skimage's float64 value on random
colours, grey, black and identical pairs included (measured: 4.1e-5 relative, the float32 rounding of
Lab; ``tests/test_throughput_paths.py``); each image's mean is summed in float64 in a fixed order,
so it does not depend on the number of threads or the vector width.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ._jit import inline, kernel

_f = np.float32
#: Pixels per block: linearised first (a scalar lookup loop), then the vectorised ΔE loop.
BLOCK = 512
#: sRGB D65 -> XYZ rows divided by the white point (skimage's ``xyz_from_rgb`` and D65 / 2 deg).
_XYZ_OVER_WHITE = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
) / np.array([[0.95047], [1.0], [1.08883]])
#: Cubic least-squares seed of ``t^(1/3)`` on [1/8, 1] (``numpy.polyfit`` on 2001 points, as float32).
_CBRT_SEED = (0.4389141798019409, -1.1116559505462646, 1.315867304801941, 0.36068034172058105)
#: ``exp(-2^b / 2)`` for the bits ``b`` of ``k`` in ``exp(-k/2)``, k < 64.
_EXP_HALF_BITS = tuple(float(_f(math.exp(-(2**b) / 2.0))) for b in range(6))
#: Odd polynomial of ``atan`` on [0, 1] (max error 6.9e-7 rad), highest power first.
_ATAN = (-0.0040540580, 0.0218612288, -0.0559098861, 0.0964200441, -0.1390853351, 0.1994653599, -0.3332985605)


def _srgb_linear64(c: np.ndarray) -> np.ndarray:
    """skimage's sRGB companding inverse in float64."""
    return np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)


@functools.lru_cache(maxsize=1)
def tables() -> tuple[np.ndarray, np.ndarray]:
    """(the float32 ``(3, 3)`` XYZ / white matrix, the float32 linearisation of the 256 levels)."""
    lut = _srgb_linear64(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
    return _XYZ_OVER_WHITE.astype(np.float32), lut


@kernel
def _all_levels(x):
    """Whether every value of the C-contiguous float32 array ``x`` (in [0, 1]) is an 8-bit level ``k / 255``."""
    flat = x.ravel()
    off = 0
    for j in range(flat.shape[0]):
        v = flat[j]
        off += _f(np.int32(v * _f(255.0) + _f(0.5))) / _f(255.0) != v
    return off == 0


@inline
def _linear(v, lut, levels):
    if levels:
        return lut[np.intp(v * _f(255.0) + _f(0.5))]
    c = np.float64(v)
    return _f(((c + 0.055) / 1.055) ** 2.4) if c > 0.04045 else _f(c / 12.92)


@inline
def _cbrt(t):
    m1 = _f(8.0) if t < _f(0.125) else _f(1.0)
    s1 = _f(0.5) if t < _f(0.125) else _f(1.0)
    t1 = t * m1
    m2 = _f(8.0) if t1 < _f(0.125) else _f(1.0)
    s2 = _f(0.5) if t1 < _f(0.125) else _f(1.0)
    t2 = t1 * m2
    m3 = _f(8.0) if t2 < _f(0.125) else _f(1.0)
    s3 = _f(0.5) if t2 < _f(0.125) else _f(1.0)
    u = t2 * m3
    y = ((_f(_CBRT_SEED[0]) * u + _f(_CBRT_SEED[1])) * u + _f(_CBRT_SEED[2])) * u + _f(_CBRT_SEED[3])
    y3 = y * y * y
    y = y * (y3 + _f(2.0) * u) / (_f(2.0) * y3 + u)
    y3 = y * y * y
    y = y * (y3 + _f(2.0) * u) / (_f(2.0) * y3 + u)
    return y * (s1 * s2 * s3)


@inline
def _lab_f(t):
    root = _cbrt(max(t, _f(0.008856)))
    return root if t > _f(0.008856) else _f(7.787) * t + _f(16.0 / 116.0)


@inline
def _lab(r, g, b, m):
    fx = _lab_f(m[0] * r + m[1] * g + m[2] * b)
    fy = _lab_f(m[3] * r + m[4] * g + m[5] * b)
    fz = _lab_f(m[6] * r + m[7] * g + m[8] * b)
    return _f(116.0) * fy - _f(16.0), _f(500.0) * (fx - fy), _f(200.0) * (fy - fz)


@inline
def _atan2(y, x):
    ax, ay = abs(x), abs(y)
    a = min(ax, ay) / max(max(ax, ay), _f(1e-30))
    s = a * a
    p = _f(_ATAN[0])
    p = p * s + _f(_ATAN[1])
    p = p * s + _f(_ATAN[2])
    p = p * s + _f(_ATAN[3])
    p = p * s + _f(_ATAN[4])
    p = p * s + _f(_ATAN[5])
    p = p * s + _f(_ATAN[6])
    r = p * s * a + a
    r = _f(math.pi / 2) - r if ay > ax else r
    r = _f(math.pi) - r if x < _f(0.0) else r
    return -r if y < _f(0.0) else r


@inline
def _exp_neg(e2):
    """``exp(-e2)`` for ``e2`` in [0, 20]."""
    q = np.int32(e2 * _f(2.0))
    r = e2 - _f(q) * _f(0.5)
    p = _f(1.0 / 40320.0)
    p = _f(1.0 / 5040.0) - r * p
    p = _f(1.0 / 720.0) - r * p
    p = _f(1.0 / 120.0) - r * p
    p = _f(1.0 / 24.0) - r * p
    p = _f(1.0 / 6.0) - r * p
    p = _f(0.5) - r * p
    p = _f(1.0) - r * p
    p = _f(1.0) - r * p
    p = p * (_f(_EXP_HALF_BITS[0]) if q & 1 else _f(1.0))
    p = p * (_f(_EXP_HALF_BITS[1]) if q & 2 else _f(1.0))
    p = p * (_f(_EXP_HALF_BITS[2]) if q & 4 else _f(1.0))
    p = p * (_f(_EXP_HALF_BITS[3]) if q & 8 else _f(1.0))
    p = p * (_f(_EXP_HALF_BITS[4]) if q & 16 else _f(1.0))
    return p * (_f(_EXP_HALF_BITS[5]) if q & 32 else _f(1.0))


@inline
def _sin_small(x):
    x2 = x * x
    p = _f(1.0 / 39916800.0)
    p = _f(1.0 / 362880.0) - x2 * p
    p = _f(1.0 / 5040.0) - x2 * p
    p = _f(1.0 / 120.0) - x2 * p
    p = _f(1.0 / 6.0) - x2 * p
    return x * (_f(1.0) - x2 * p)


@inline
def _hue_terms(u1x, u1y, u2x, u2y):
    """(``T``, ``exp(-((h'bar - 275 deg) / 25 deg)^2) - exp(-20)``) from the unit hue vectors."""
    vx, vy = u1x + u2x, u1y + u2y
    vn = math.sqrt(vx * vx + vy * vy)
    zero = vn == _f(0.0)  # both chromas 0 (skimage: h'bar = 0)
    iv = _f(1.0) / max(vn, _f(1e-30))
    c = _f(1.0) if zero else vx * iv
    s = _f(0.0) if zero else vy * iv
    c2, s2 = _f(2.0) * c * c - _f(1.0), _f(2.0) * s * c
    c3, s3 = c * (_f(4.0) * c * c - _f(3.0)), s * (_f(3.0) - _f(4.0) * s * s)
    c4, s4 = _f(2.0) * c2 * c2 - _f(1.0), _f(2.0) * s2 * c2
    t = (_f(1.0) - _f(0.17) * (c * _f(math.cos(math.radians(30))) + s * _f(0.5)) + _f(0.24) * c2
         + _f(0.32) * (c3 * _f(math.cos(math.radians(6))) - s3 * _f(math.sin(math.radians(6))))
         - _f(0.20) * (c4 * _f(math.cos(math.radians(63))) + s4 * _f(math.sin(math.radians(63)))))
    h = _atan2(vy, vx)
    h = h + _f(2 * math.pi) if h < _f(0.0) else h
    h = _f(0.0) if zero else h
    e = h * _f(180.0 / math.pi / 25.0) - _f(11.0)
    return t, _exp_neg(min(e * e, _f(20.0))) - _f(math.exp(-20.0))


@inline
def _de00(L1, a1, b1, L2, a2, b2):
    p25_7 = _f(25.0**7)
    cbar = _f(0.5) * (math.sqrt(a1 * a1 + b1 * b1) + math.sqrt(a2 * a2 + b2 * b2))
    c7 = cbar * cbar * cbar * cbar * cbar * cbar * cbar
    g = _f(1.5) - _f(0.5) * math.sqrt(c7 / (c7 + p25_7))  # 1 + G
    a1p, a2p = a1 * g, a2 * g
    C1, C2 = math.sqrt(a1p * a1p + b1 * b1), math.sqrt(a2p * a2p + b2 * b2)
    r1, r2 = _f(1.0) / max(C1, _f(1e-30)), _f(1.0) / max(C2, _f(1e-30))
    u1x, u1y, u2x, u2y = a1p * r1, b1 * r1, a2p * r2, b2 * r2
    cross = a1p * b2 - b1 * a2p  # the sign of sin(dh')
    dx, dy = u1x - u2x, u1y - u2y
    h = math.sqrt(dx * dx + dy * dy) * math.sqrt(C1 * C2)
    h_term = math.copysign(h, cross)
    t, dexp = _hue_terms(u1x, u1y, u2x, u2y)
    lbar = _f(0.5) * (L1 + L2) - _f(50.0)
    l2 = lbar * lbar
    l_term = (L2 - L1) / (_f(1.0) + _f(0.015) * l2 / math.sqrt(l2 + _f(20.0)))
    cb = _f(0.5) * (C1 + C2)
    c_term = (C2 - C1) / (_f(1.0) + _f(0.045) * cb)
    h_term = h_term / (_f(1.0) + _f(0.015) * cb * t)
    cb7 = cb * cb * cb * cb * cb * cb * cb
    rc = _f(2.0) * math.sqrt(cb7 / (cb7 + p25_7))
    r_term = _sin_small(dexp * _f(2 * math.radians(30))) * rc * c_term * h_term
    de2 = l_term * l_term + c_term * c_term + h_term * h_term - r_term
    return math.sqrt(max(de2, _f(0.0)))


@kernel
def _de00_run(x, y, m, lut, levels, out):
    """ΔE00 of the pixel pairs of ``x``, ``y`` (``(3, M)`` float32 sRGB); returns their float64 sum.

    ``levels``: every value of both is an 8-bit level (:func:`_all_levels`), looked up in ``lut``.
    Copies each pixel's ΔE into ``out`` when it has ``M`` entries. The block buffers are local (so
    LLVM knows that no store aliases the inputs) and ``m`` is read into scalars, for the same reason.
    """
    n = x.shape[1]
    mm = (m[0, 0], m[0, 1], m[0, 2], m[1, 0], m[1, 1], m[1, 2], m[2, 0], m[2, 1], m[2, 2])
    lin = np.empty((6, BLOCK), dtype=np.float32)
    de = np.empty(BLOCK, dtype=np.float32)
    total = 0.0
    for s0 in range(0, n, BLOCK):
        nb = min(BLOCK, n - s0)
        for j in range(nb):
            for c in range(3):
                lin[c, j] = _linear(x[c, s0 + j], lut, levels)
                lin[3 + c, j] = _linear(y[c, s0 + j], lut, levels)
        for j in range(nb):
            L1, a1, b1 = _lab(lin[0, j], lin[1, j], lin[2, j], mm)
            L2, a2, b2 = _lab(lin[3, j], lin[4, j], lin[5, j], mm)
            de[j] = _de00(L1, a1, b1, L2, a2, b2)
        for j in range(nb):
            total += de[j]
        if out.shape[0] == n:
            out[s0 : s0 + nb] = de[:nb]
    return total


def de00_sum(x: np.ndarray, y: np.ndarray) -> float:
    """Float64 sum of the ΔE00 of the pixel pairs of two C-contiguous ``(3, M)`` float32 arrays."""
    m, lut = tables()
    levels = bool(_all_levels(x)) and bool(_all_levels(y))
    return float(_de00_run(x, y, m, lut, levels, np.empty(0, dtype=np.float32)))


def de00_map(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-pixel ΔE00 ``(M,)`` float32 of two C-contiguous ``(3, M)`` float32 arrays."""
    m, lut = tables()
    out = np.empty(x.shape[1], dtype=np.float32)
    _de00_run(x, y, m, lut, bool(_all_levels(x)) and bool(_all_levels(y)), out)
    return out
