"""Colour conversions shared by paradigm metrics: BT.601 luma, MATLAB grey, CIELAB and CIEDE2000.

All functions are batched torch over ``(N, C, H, W)`` tensors, work on any device and have no
Python loops over images. Inputs are RGB in ``[0, 1]`` (channel order R, G, B).

Conventions (exact formulas):

* :func:`rgb_to_y` with ``y_range="matlab"`` is MATLAB ``rgb2ycbcr``'s Y channel, identical to
  BasicSR ``rgb2ycbcr(img, y_only=True)`` / ``bgr2ycbcr``:
  ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255`` for ``R, G, B`` in ``[0, 1]``, i.e. the
  8-bit studio-swing luma (16..235) divided by 255, so the result lies in ``[16/255, 235/255]``.
  ``y_range="full"`` is the full-swing BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` in ``[0, 1]``.
  ``round8=True`` rounds that 8-bit value to an integer, as MATLAB ``rgb2ycbcr`` does on ``uint8``
  input (``--y-channel matlab``; see docs/colour.md).
* :func:`rgb_to_gray` is MATLAB ``rgb2gray``: ``0.2989 R + 0.5870 G + 0.1140 B``.
* :func:`rgb_to_lab` is ``skimage.color.rgb2lab`` (sRGB companding, D65 / 2° white point
  ``(0.95047, 1, 1.08883)``, the easyrgb ``0.008856 / 7.787`` linear segment).
* :func:`ciede2000_map` is ``skimage.color.deltaE_ciede2000`` (kL = kC = kH = 1), including its
  handling of zero chroma.
"""

from __future__ import annotations

import math
from typing import Literal, cast

import numpy as np
import torch

from ..errors import InputError

YRange = Literal["matlab", "full"]

#: MATLAB rgb2ycbcr / BasicSR Y coefficients for RGB in [0, 1] producing 8-bit values.
_Y_MATLAB = (65.481, 128.553, 24.966)
#: Full-swing ITU-R BT.601 luma weights.
_Y_FULL = (0.299, 0.587, 0.114)
#: MATLAB rgb2gray weights.
_GRAY = (0.2989, 0.5870, 0.1140)

#: sRGB (D65) linear RGB -> XYZ, as in skimage.color.colorconv.xyz_from_rgb.
_XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
#: D65, 2 degree observer reference white (skimage default).
_WHITE_D65 = (0.95047, 1.0, 1.08883)


def _check_rgb(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor of shape (N,C,H,W), got {type(x).__name__}")
    if x.ndim != 4:
        raise InputError(f"{name} must have shape (N,C,H,W), got {tuple(x.shape)}; add a batch dimension with x[None]")
    if x.shape[1] not in (1, 3):
        raise InputError(f"{name} must have 1 or 3 channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    if not x.is_floating_point():
        raise InputError(f"{name} must be a float tensor in [0,1], got dtype {x.dtype}; divide by 255 first")


def _weighted_sum(x: torch.Tensor, w: tuple[float, float, float]) -> torch.Tensor:
    return w[0] * x[:, 0:1] + w[1] * x[:, 1:2] + w[2] * x[:, 2:3]


#: ``--y-channel`` rules: ``"float"`` (BasicSR: unrounded Y) and ``"matlab"`` (Y rounded to 8 bits).
YRule = Literal["float", "matlab"]


def y_rule(value: object) -> YRule | None:
    """The Y rule of a metric's ``y_channel`` option: None (RGB), ``"float"`` or ``"matlab"``.

    ``False``/None: no Y; ``True`` or ``"float"``: BasicSR's float conversion (the default rule of
    ``--y-channel``); ``"matlab"``: MATLAB ``rgb2ycbcr`` on uint8 input, which returns uint8.

    Raises:
        InputError: any other value.
    """
    if value is None or value is False:
        return None
    if value is True or value == "float":
        return "float"
    if value == "matlab":
        return "matlab"
    raise InputError(f"y_channel must be False, True/'float' or 'matlab', got {value!r}")


def rgb_to_y(x: torch.Tensor, *, y_range: YRange = "matlab", round8: bool = False) -> torch.Tensor:
    """ITU-R BT.601 luma of RGB images.

    Args:
        x: ``(N, 3, H, W)`` float RGB in ``[0, 1]``; ``(N, 1, H, W)`` is treated as already grey and
            returned unchanged.
        y_range: ``"matlab"`` (default): MATLAB ``rgb2ycbcr`` / BasicSR Y,
            ``(16 + 65.481 R + 128.553 G + 24.966 B) / 255``, values in ``[16/255, 235/255]``.
            ``"full"``: ``0.299 R + 0.587 G + 0.114 B``, values in ``[0, 1]``.
        round8: round the 8-bit value to an integer (half away from zero) before dividing by 255, as
            MATLAB ``rgb2ycbcr`` does on ``uint8`` input (its output is ``uint8``); BasicSR's float
            conversion (default, False) does not round. Only with ``y_range="matlab"``.

    Returns:
        ``(N, 1, H, W)`` luma, same dtype and device as ``x``. Multiply by 255 for the 8-bit scale.

    Raises:
        InputError: wrong shape / dtype, or unknown ``y_range``.
    """
    _check_rgb(x, "image")
    if x.shape[1] == 1:
        return x
    if y_range == "matlab":
        y8 = 16.0 + _weighted_sum(x, _Y_MATLAB)
        return (torch.floor(y8 + 0.5) if round8 else y8) / 255.0
    if y_range == "full":
        return _weighted_sum(x, _Y_FULL)
    raise InputError(f"y_range must be 'matlab' or 'full', got {y_range!r}")


def rgb_to_gray(x: torch.Tensor) -> torch.Tensor:
    """MATLAB ``rgb2gray``: ``0.2989 R + 0.5870 G + 0.1140 B``.

    Args:
        x: ``(N, 3, H, W)`` float RGB in ``[0, 1]`` (or ``(N, 1, H, W)``, returned unchanged).

    Returns:
        ``(N, 1, H, W)`` grey in ``[0, 1]``, same dtype and device as ``x``.
    """
    _check_rgb(x, "image")
    if x.shape[1] == 1:
        return x
    return _weighted_sum(x, _GRAY)


def rgb_to_lab(x: torch.Tensor, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """sRGB -> CIELAB (D65, 2° observer), matching ``skimage.color.rgb2lab``.

    Computed and returned in float64 by default (``L`` in ``[0, 100]``, ``a``/``b`` roughly in
    ``[-128, 128]``); ``dtype=torch.float32`` computes in float32 (about 3x faster, within 1e-4 of
    skimage). Grey ``(N, 1, H, W)`` input is replicated to three channels first.

    Args:
        x: ``(N, 3, H, W)`` (or ``(N, 1, H, W)``) float RGB in ``[0, 1]``.
        dtype: compute and output dtype (default float64).

    Returns:
        ``(N, 3, H, W)`` tensor with channels ``L, a, b``.
    """
    _check_rgb(x, "image")
    dt = torch.float64 if dtype is None else dtype
    rgb = x.to(dt)
    if rgb.shape[1] == 1:
        rgb = rgb.expand(-1, 3, -1, -1)
    n, _, h, w = rgb.shape
    return _lab_flat(rgb.reshape(n, 3, h * w)).reshape(n, 3, h, w)


def _lab_flat(rgb: torch.Tensor) -> torch.Tensor:
    """:func:`rgb_to_lab` on ``(N, 3, M)`` pixels, in the input's dtype."""
    dt, dev = rgb.dtype, rgb.device
    lin = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055).clamp_min(0).pow(2.4), rgb / 12.92)
    white = torch.tensor(_WHITE_D65, dtype=torch.float64).view(3, 1)
    m = (torch.tensor(_XYZ_FROM_RGB, dtype=torch.float64) / white).to(dtype=dt, device=dev)
    t = torch.matmul(m, lin)  # xyz / white, (N, 3, M)
    f = torch.where(t > 0.008856, torch.sign(t) * t.abs().pow(1.0 / 3.0), 7.787 * t + 16.0 / 116.0)
    fx, fy, fz = f[:, 0], f[:, 1], f[:, 2]
    return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=1)


def _polar_2pi(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r = torch.hypot(a, b)
    t = torch.atan2(b, a)
    t = torch.where(t < 0.0, t + 2 * math.pi, t)
    return r, t


def ciede2000_map(lab1: torch.Tensor, lab2: torch.Tensor, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Per-pixel CIEDE2000 colour difference (kL = kC = kH = 1), as ``skimage.color.deltaE_ciede2000``.

    Symmetric in its arguments. Computed in float64 by default.

    Args:
        lab1: ``(N, 3, H, W)`` CIELAB (from :func:`rgb_to_lab`).
        lab2: ``(N, 3, H, W)`` CIELAB, same shape.
        dtype: compute and output dtype (default float64; float32 is ~3x faster, ~1e-4 ΔE off).

    Returns:
        ``(N, H, W)`` ΔE00 >= 0 (0 for identical colours; about 100+ for black vs white).

    Raises:
        InputError: shapes differ or are not ``(N, 3, H, W)``.
    """
    for name, t in (("lab1", lab1), ("lab2", lab2)):
        if not isinstance(t, torch.Tensor) or t.ndim != 4 or t.shape[1] != 3:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise InputError(f"{name} must be a (N,3,H,W) Lab tensor, got {shape}")
    if lab1.shape != lab2.shape:
        raise InputError(f"lab1 {tuple(lab1.shape)} and lab2 {tuple(lab2.shape)} differ in shape")
    dt = torch.float64 if dtype is None else dtype
    return _de00(lab1.to(dt), lab2.to(dt))


def _de00(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """CIEDE2000 of two Lab tensors with channels on dim 1 (``(N, 3, ...)``), in their dtype."""
    L1, a1, b1 = lab1[:, 0], lab1[:, 1], lab1[:, 2]
    L2, a2, b2 = lab2[:, 0], lab2[:, 1], lab2[:, 2]
    p25_7 = 25.0**7

    cbar = 0.5 * (torch.hypot(a1, b1) + torch.hypot(a2, b2))
    c7 = cbar.pow(7)
    g = 1.5 - 0.5 * torch.sqrt(c7 / (c7 + p25_7))  # 1 + G
    C1, h1 = _polar_2pi(a1 * g, b1)
    C2, h2 = _polar_2pi(a2 * g, b2)

    lbar = 0.5 * (L1 + L2)
    tmp = (lbar - 50).square_()
    sl = 1 + 0.015 * tmp / torch.sqrt(20 + tmp)
    l_term = (L2 - L1) / sl

    cbar = 0.5 * (C1 + C2)
    c_term = (C2 - C1) / (1 + 0.045 * cbar)

    h_diff = h2 - h1
    h_sum = h1 + h2
    cc = C1 * C2
    zero = cc == 0.0
    big = h_diff.abs() > math.pi
    # dh = h_diff -+ 2 pi where |h_diff| > pi (0 where a chroma is zero)
    dh = torch.where(big, h_diff - torch.copysign(torch.full_like(h_diff, 2 * math.pi), h_diff), h_diff)
    dh = dh.masked_fill_(zero, 0.0)
    h_term = 2 * torch.sqrt(cc) * torch.sin(dh * 0.5)

    wrap = big & ~zero
    hbar = torch.where(wrap, torch.where(h_sum < 2 * math.pi, h_sum + 2 * math.pi, h_sum - 2 * math.pi), h_sum)
    hbar = torch.where(zero, hbar, hbar * 0.5)

    t = (
        1
        - 0.17 * torch.cos(hbar - math.radians(30))
        + 0.24 * torch.cos(2 * hbar)
        + 0.32 * torch.cos(3 * hbar + math.radians(6))
        - 0.20 * torch.cos(4 * hbar - math.radians(63))
    )
    h_term = h_term / (1 + 0.015 * cbar * t)

    c7 = cbar.pow(7)
    rc = 2 * torch.sqrt(c7 / (c7 + p25_7))
    dtheta = math.radians(30) * torch.exp(-((hbar * (180.0 / math.pi / 25) - 11.0).square_()))
    r_term = torch.sin(2 * dtheta) * rc * c_term * h_term

    de2 = l_term.square_() + c_term.square() + h_term.square() - r_term
    return torch.sqrt(de2.clamp_min_(0))


#: Pixels per chunk in :func:`mean_ciede2000` (keeps the ~40 temporaries in the CPU caches).
_CHUNK = 1 << 16


def _lab_np(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy :func:`rgb_to_lab` of ``(3, M)`` pixels in their dtype; returns ``(L, a, b)``."""
    lin = ((rgb + 0.055) / 1.055) ** 2.4
    np.copyto(lin, rgb / 12.92, where=rgb <= 0.04045)  # np.where, without its slow float32 path
    r, g, b = lin[0], lin[1], lin[2]
    f = []
    for row, white in zip(_XYZ_FROM_RGB, _WHITE_D65, strict=True):
        # explicit sums, not ``m @ lin``: BLAS would start its own threads inside our worker threads
        t = r * (row[0] / white) + g * (row[1] / white) + b * (row[2] / white)  # xyz / white
        ft = np.cbrt(t)
        np.copyto(ft, 7.787 * t + 16.0 / 116.0, where=t <= 0.008856)
        f.append(ft)
    return 116.0 * f[1] - 16.0, 500.0 * (f[0] - f[1]), 200.0 * (f[1] - f[2])


def _de00_np(lab1: tuple[np.ndarray, ...], lab2: tuple[np.ndarray, ...]) -> np.ndarray:
    """numpy CIEDE2000 (same formulas as :func:`_de00`, numpy's SIMD math is ~2x faster on CPU)."""
    L1, a1, b1 = lab1
    L2, a2, b2 = lab2
    two_pi = 2 * math.pi
    p25_7 = 25.0**7

    cbar = 0.5 * (np.sqrt(a1 * a1 + b1 * b1) + np.sqrt(a2 * a2 + b2 * b2))
    c2 = cbar * cbar
    c7 = c2 * c2 * c2 * cbar
    g = 1.5 - 0.5 * np.sqrt(c7 / (c7 + p25_7))  # 1 + G
    a1p, a2p = a1 * g, a2 * g
    C1 = np.sqrt(a1p * a1p + b1 * b1)
    C2 = np.sqrt(a2p * a2p + b2 * b2)
    # branch-free selections below: x + c * mask is exactly x where the mask is 0
    ft = L1.dtype.type  # scalars of the compute dtype keep every product in that dtype
    h1 = np.arctan2(b1, a1p)
    h1 += ft(two_pi) * (h1 < 0.0)
    h2 = np.arctan2(b2, a2p)
    h2 += ft(two_pi) * (h2 < 0.0)

    lbar = 0.5 * (L1 + L2) - 50
    tmp = lbar * lbar
    l_term = (L2 - L1) / (1 + 0.015 * tmp / np.sqrt(20 + tmp))

    cbar = 0.5 * (C1 + C2)
    c_term = (C2 - C1) / (1 + 0.045 * cbar)

    h_diff = h2 - h1
    h_sum = h1 + h2
    cc = C1 * C2
    zero = cc == 0.0
    big = np.abs(h_diff) > math.pi
    nonzero = ~zero
    dh = (h_diff - np.copysign(two_pi, h_diff) * big) * nonzero
    h_term = 2 * np.sqrt(cc) * np.sin(dh * 0.5)

    wrap = big & nonzero
    sign = (h_sum < two_pi) * ft(2) - ft(1)  # +1: add 2 pi, -1: subtract it
    hbar = (h_sum + (ft(two_pi) * sign) * wrap) * (ft(1) - ft(0.5) * nonzero)

    t = (
        1
        - 0.17 * np.cos(hbar - math.radians(30))
        + 0.24 * np.cos(2 * hbar)
        + 0.32 * np.cos(3 * hbar + math.radians(6))
        - 0.20 * np.cos(4 * hbar - math.radians(63))
    )
    h_term = h_term / (1 + 0.015 * cbar * t)

    c2 = cbar * cbar
    c7 = c2 * c2 * c2 * cbar
    rc = 2 * np.sqrt(c7 / (c7 + p25_7))
    e = hbar * (180.0 / math.pi / 25) - 11.0
    e *= e
    # exp(-e^2) underflows to float32 subnormals for e^2 > 87, and subnormal arithmetic is ~100x
    # slower on x86; the rotation term is < 1e-30 there, so it is set to exactly 0 instead
    far = e > 80.0
    np.minimum(e, 80.0, out=e)
    dtheta = math.radians(30) * np.exp(-e)
    dtheta *= ~far
    r_term = np.sin(2 * dtheta) * rc * c_term * h_term

    de2 = l_term * l_term + c_term * c_term + h_term * h_term - r_term
    return cast(np.ndarray, np.sqrt(np.maximum(de2, 0)))


def mean_ciede2000(x: torch.Tensor, y: torch.Tensor, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Mean CIEDE2000 over the pixels of each image pair, sRGB in, computed chunk by chunk.

    Equals ``ciede2000_map(rgb_to_lab(x), rgb_to_lab(y)).flatten(1).mean(1)`` computed in ``dtype``
    (the per-pixel values are summed in float64). On CPU the work is done with numpy on chunks of
    ``2**16`` pixels, which keeps the ~40 intermediate arrays in the CPU caches and uses numpy's
    SIMD transcendental functions; on other devices the whole batch is done at once in torch.

    Args:
        x: ``(N, C, H, W)`` RGB (or grey) in [0, 1].
        y: same shape.
        dtype: compute dtype (float32: within ~1e-4 ΔE of the float64 result).

    Returns:
        ``(N,)`` float64 mean ΔE00.
    """
    _check_rgb(x, "image")
    _check_rgb(y, "reference")
    n, c, h, w = x.shape
    m = h * w
    xf = x.detach().to(dtype).expand(-1, 3, -1, -1).reshape(n, 3, m)
    yf = y.detach().to(dtype).expand(-1, 3, -1, -1).reshape(n, 3, m)
    if x.device.type != "cpu":
        return _de00(_lab_flat(xf), _lab_flat(yf)).sum(1, dtype=torch.float64) / m
    from ._filters import thread_map

    xn, yn = xf.numpy(), yf.numpy()

    def chunk_sum(job: tuple[int, int]) -> float:
        i, s0 = job
        de = _de00_np(_lab_np(xn[i, :, s0 : s0 + _CHUNK]), _lab_np(yn[i, :, s0 : s0 + _CHUNK]))
        return float(de.sum(dtype=np.float64))

    jobs = [(i, s0) for i in range(n) for s0 in range(0, m, _CHUNK)]
    sums = thread_map(chunk_sum, jobs)  # numpy releases the GIL: chunks run on all cores
    total = np.zeros(n, dtype=np.float64)
    for (i, _), v in zip(jobs, sums, strict=True):
        total[i] += v  # per image, in chunk order: the same result for any number of threads
    return torch.from_numpy(total / m)
