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

import functools
import math
from typing import Literal

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


_SRGB_THR = 0.04045
_LAB_THR = 0.008856


def _srgb_linear(c: torch.Tensor) -> torch.Tensor:
    """sRGB companding inverse of one channel, branch-free: ``p(max(c, thr)) + min(c / 12.92 - p(thr), 0)``.

    ``p(c) = ((c + 0.055) / 1.055) ** 2.4`` is evaluated as ``exp(2.4 log(c + 0.055) - 2.4 log 1.055)``.
    Below the threshold the first term is the constant ``p(thr)`` and the second ``c / 12.92 - p(thr)``
    (< 0 there), so the sum is ``c / 12.92``; above it the second term is 0 (the two pieces meet
    within 2.3e-9, so only a window of 3e-8 above the threshold is off, by at most that much).
    """
    p_thr = ((_SRGB_THR + 0.055) / 1.055) ** 2.4
    p = torch.clamp_min(c, _SRGB_THR).add_(0.055).log_().mul_(2.4).sub_(2.4 * math.log(1.055)).exp_()
    return p.add_(torch.mul(c, 1.0 / 12.92).sub_(p_thr).clamp_max_(0.0))


def _lab_f(t: torch.Tensor) -> torch.Tensor:
    """CIELAB ``f(t)`` (cube root above 0.008856, ``7.787 t + 16/116`` below), branch-free as :func:`_srgb_linear`."""
    cbrt_thr = _LAB_THR ** (1.0 / 3.0)
    f = torch.clamp_min(t, _LAB_THR).log_().mul_(1.0 / 3.0).exp_()
    return f.add_(torch.mul(t, 7.787).add_(16.0 / 116.0 - cbrt_thr).clamp_max_(0.0))


@functools.lru_cache(maxsize=8)
def _srgb_lut8(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """:func:`_srgb_linear` of the 256 levels ``k / 255`` (a constant table, computed once per dtype/device)."""
    return _srgb_linear(torch.arange(256, dtype=dtype, device=device) / 255.0)


def _srgb_linear_rgb(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`_srgb_linear` of the three rows of ``(3, M)`` sRGB pixels.

    Pixels decoded from 8-bit files hold exactly ``k / 255`` (the float division by 255 the decoder
    does); when every value of the chunk is such a level, the result is looked up in
    :func:`_srgb_lut8` — the same formula on the same numbers, so the same bits — at a third of the
    cost. Any other value (16-bit or float input) takes the formula.
    """
    k = torch.mul(rgb, 255.0).round_().clamp_(0.0, 255.0)
    if torch.equal(k / 255.0, rgb):
        lut = _srgb_lut8(rgb.dtype, rgb.device)
        lin = torch.index_select(lut, 0, k.to(torch.int64).reshape(-1)).view(rgb.shape)
        return lin[0], lin[1], lin[2]
    return _srgb_linear(rgb[0]), _srgb_linear(rgb[1]), _srgb_linear(rgb[2])


def _lab_fast(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(L, a, b)`` of ``(3, M)`` sRGB pixels: :func:`rgb_to_lab`'s formulas with fused, in-place kernels."""
    r, g, b = _srgb_linear_rgb(rgb)
    f = []
    for row, white in zip(_XYZ_FROM_RGB, _WHITE_D65, strict=True):
        t = torch.mul(r, row[0] / white).add_(g, alpha=row[1] / white).add_(b, alpha=row[2] / white)
        f.append(_lab_f(t))
    fx, fy, fz = f
    return fy.mul(116.0).sub_(16.0), fx.sub_(fy).mul_(500.0), fy.sub_(fz).mul_(200.0)


def _norm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``sqrt(a^2 + b^2)`` (no overflow guard: Lab values are < 1e3), ~2x faster than ``torch.hypot``."""
    return torch.mul(a, a).addcmul_(b, b).sqrt_()


def _de00_fast(lab1: tuple[torch.Tensor, ...], lab2: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """CIEDE2000 (kL = kC = kH = 1) of two ``(L, a, b)`` pixel sets, with two atan2 fewer than :func:`_de00`.

    The same quantities as Sharma, Wu & Dalal (2005) and ``skimage.color.deltaE_ciede2000``, from the
    unit hue vectors ``u_i = (a'_i, b_i) / C'_i`` instead of the hue angles:

    * ``|dH'| = 2 sqrt(C'1 C'2) |sin(dh'/2)| = sqrt(C'1 C'2) |u1 - u2|``, with the sign of
      ``sin(dh') ~ a'1 b2 - b1 a'2`` (exactly 0 for identical colours, and for a zero chroma);
    * the mean hue ``h'bar`` is the direction of ``u1 + u2`` (the midpoint of the shorter arc, which is
      what the ``+- 2 pi`` rules select; a zero chroma gives ``u = 0``, so ``h'bar`` is the other hue,
      as skimage's ``h1 + h2``). Only exactly opposite hues differ, where the definition itself jumps.
    """
    L1, a1, b1 = lab1
    L2, a2, b2 = lab2
    p25_7 = 25.0**7
    cbar = _norm(a1, b1).add_(_norm(a2, b2)).mul_(0.5)
    c2 = cbar * cbar
    c7 = (c2 * c2).mul_(c2).mul_(cbar)  # cbar ** 7 by products (pow(7) is a slow generic power)
    g = c7.div_(c7 + p25_7).sqrt_().mul_(-0.5).add_(1.5)  # 1 + G
    a1p, a2p = a1 * g, a2 * g
    C1, C2 = _norm(a1p, b1), _norm(a2p, b2)
    r1, r2 = C1.clamp_min(1e-30).reciprocal_(), C2.clamp_min(1e-30).reciprocal_()
    u1x, u1y, u2x, u2y = a1p.mul(r1), b1.mul(r1), a2p.mul(r2), b2.mul(r2)
    cross = a1p.mul_(b2).sub_(b1 * a2p)
    h_term = _norm(u1x - u2x, u1y - u2y).mul_((C1 * C2).sqrt_()).copysign_(cross)
    # the direction of u1 + u2 in [0, 2 pi], as skimage's h'bar: pi + atan2 of the opposite vector
    hbar = torch.atan2(u1y.add_(u2y).neg_(), u1x.add_(u2x).neg_()).add_(math.pi)

    lbar = torch.add(L1, L2).mul_(0.5).sub_(50.0)
    tmp = lbar.mul_(lbar)
    l_term = torch.sub(L2, L1).div_(torch.add(tmp, 20.0).sqrt_().reciprocal_().mul_(tmp).mul_(0.015).add_(1.0))
    cbar = torch.add(C1, C2).mul_(0.5)
    c_term = torch.sub(C2, C1).div_(cbar * 0.045 + 1.0)
    deg30, deg6, deg63 = math.radians(30), math.radians(6), math.radians(63)
    t = torch.sub(hbar, deg30).cos_().mul_(-0.17).add_(1.0)
    t.add_(torch.mul(hbar, 2.0).cos_(), alpha=0.24)
    t.add_(torch.mul(hbar, 3.0).add_(deg6).cos_(), alpha=0.32)
    t.add_(torch.mul(hbar, 4.0).sub_(deg63).cos_(), alpha=-0.20)
    h_term.div_(t.mul_(cbar).mul_(0.015).add_(1.0))

    c2 = cbar * cbar
    c7 = (c2 * c2).mul_(c2).mul_(cbar)
    rc = c7.div_(c7 + p25_7).sqrt_().mul_(2.0)
    e = torch.mul(hbar, 180.0 / math.pi / 25.0).sub_(11.0)  # (h'bar in degrees - 275) / 25
    # exp(-e^2) would underflow to float32 subnormals (slow on x86) where the term is < 1e-35 anyway:
    # clamp e^2 at 80 and subtract exp(-80), so those pixels get exactly 0
    dtheta = e.mul_(e).clamp_max_(80.0).neg_().exp_().sub_(math.exp(-80.0)).mul_(2 * math.radians(30))
    r_term = dtheta.sin_().mul_(rc).mul_(c_term).mul_(h_term)
    de2 = l_term.mul_(l_term).addcmul_(c_term, c_term).addcmul_(h_term, h_term).sub_(r_term)
    return de2.clamp_min_(0.0).sqrt_()


def _mean_de00_fast(xf: torch.Tensor, yf: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Mean ΔE00 per image of ``(N, 3, M)`` sRGB tensors: on CPU (float32) the compiled loop of
    :mod:`._ciede_jit`, images on all cores; elsewhere :func:`_lab_fast` / :func:`_de00_fast`."""
    n, _, m = xf.shape
    if xf.device.type != "cpu" or dtype != torch.float32:
        x3, y3 = xf.permute(1, 0, 2).reshape(3, n * m), yf.permute(1, 0, 2).reshape(3, n * m)
        de = _de00_fast(_lab_fast(x3), _lab_fast(y3)).view(n, m)
        return de.sum(1).to(torch.float64) / m
    from ._ciede_jit import de00_sum
    from ._filters import thread_map

    xs, ys = xf.contiguous().numpy(), yf.contiguous().numpy()
    sums = thread_map(lambda i: de00_sum(xs[i], ys[i]), range(n))  # each image alone: thread-count free
    return torch.tensor(sums, dtype=torch.float64) / m


def mean_ciede2000(x: torch.Tensor, y: torch.Tensor, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Mean CIEDE2000 over the pixels of each image pair, sRGB in.

    Equals ``ciede2000_map(rgb_to_lab(x), rgb_to_lab(y)).flatten(1).mean(1)`` computed in ``dtype``.
    float32 (the default) runs on CPU as one compiled loop per image (:mod:`._ciede_jit`, images on
    all cores, each image's sum in float64) and elsewhere as the fused torch formulation of
    :func:`_lab_fast` / :func:`_de00_fast`; both are within ~1e-5 ΔE of the float64 mean on photos.
    float64 uses the reference formulas of :func:`rgb_to_lab` and :func:`ciede2000_map`.

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
    if dtype != torch.float64:
        return _mean_de00_fast(xf, yf, dtype)
    return _de00(_lab_flat(xf), _lab_flat(yf)).sum(1) / m
