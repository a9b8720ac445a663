"""Colour conversions shared by paradigm metrics: BT.601 luma, MATLAB grey, CIELAB and CIEDE2000.

All functions are batched torch over ``(N, C, H, W)`` tensors, work on any device and have no
Python loops over images. Inputs are RGB in ``[0, 1]`` (channel order R, G, B).

Conventions (exact formulas):

* :func:`rgb_to_y` with ``y_range="matlab"`` is MATLAB ``rgb2ycbcr``'s Y channel, identical to
  BasicSR ``rgb2ycbcr(img, y_only=True)`` / ``bgr2ycbcr``:
  ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255`` for ``R, G, B`` in ``[0, 1]``, i.e. the
  8-bit studio-swing luma (16..235) divided by 255, so the result lies in ``[16/255, 235/255]``.
  ``y_range="full"`` is the full-swing BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` in ``[0, 1]``.
* :func:`rgb_to_gray` is MATLAB ``rgb2gray``: ``0.2989 R + 0.5870 G + 0.1140 B``.
* :func:`rgb_to_lab` is ``skimage.color.rgb2lab`` (sRGB companding, D65 / 2° white point
  ``(0.95047, 1, 1.08883)``, the easyrgb ``0.008856 / 7.787`` linear segment).
* :func:`ciede2000_map` is ``skimage.color.deltaE_ciede2000`` (kL = kC = kH = 1), including its
  handling of zero chroma.
"""

from __future__ import annotations

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


def rgb_to_y(x: torch.Tensor, *, y_range: YRange = "matlab") -> torch.Tensor:
    """ITU-R BT.601 luma of RGB images.

    Args:
        x: ``(N, 3, H, W)`` float RGB in ``[0, 1]``; ``(N, 1, H, W)`` is treated as already grey and
            returned unchanged.
        y_range: ``"matlab"`` (default): MATLAB ``rgb2ycbcr`` / BasicSR Y,
            ``(16 + 65.481 R + 128.553 G + 24.966 B) / 255``, values in ``[16/255, 235/255]``.
            ``"full"``: ``0.299 R + 0.587 G + 0.114 B``, values in ``[0, 1]``.

    Returns:
        ``(N, 1, H, W)`` luma, same dtype and device as ``x``. Multiply by 255 for the 8-bit scale.

    Raises:
        InputError: wrong shape / dtype, or unknown ``y_range``.
    """
    _check_rgb(x, "image")
    if x.shape[1] == 1:
        return x
    if y_range == "matlab":
        return (16.0 + _weighted_sum(x, _Y_MATLAB)) / 255.0
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


def rgb_to_lab(x: torch.Tensor) -> torch.Tensor:
    """sRGB -> CIELAB (D65, 2° observer), matching ``skimage.color.rgb2lab``.

    Computed in float64 and returned in float64 (``L`` in ``[0, 100]``, ``a``/``b`` roughly in
    ``[-128, 128]``). Grey ``(N, 1, H, W)`` input is replicated to three channels first.

    Args:
        x: ``(N, 3, H, W)`` (or ``(N, 1, H, W)``) float RGB in ``[0, 1]``.

    Returns:
        ``(N, 3, H, W)`` float64 tensor with channels ``L, a, b``.
    """
    _check_rgb(x, "image")
    rgb = x.to(torch.float64)
    if rgb.shape[1] == 1:
        rgb = rgb.expand(-1, 3, -1, -1)
    lin = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055).clamp_min(0).pow(2.4), rgb / 12.92)
    m = torch.tensor(_XYZ_FROM_RGB, dtype=torch.float64, device=x.device)
    xyz = torch.einsum("ij,njhw->nihw", m, lin)
    white = torch.tensor(_WHITE_D65, dtype=torch.float64, device=x.device).view(1, 3, 1, 1)
    t = xyz / white
    f = torch.where(t > 0.008856, torch.sign(t) * t.abs().pow(1.0 / 3.0), 7.787 * t + 16.0 / 116.0)
    fx, fy, fz = f[:, 0], f[:, 1], f[:, 2]
    return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=1)


def _polar_2pi(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r = torch.hypot(a, b)
    t = torch.atan2(b, a)
    t = torch.where(t < 0.0, t + 2 * math.pi, t)
    return r, t


def ciede2000_map(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """Per-pixel CIEDE2000 colour difference (kL = kC = kH = 1), as ``skimage.color.deltaE_ciede2000``.

    Symmetric in its arguments. Computed in float64.

    Args:
        lab1: ``(N, 3, H, W)`` CIELAB (from :func:`rgb_to_lab`).
        lab2: ``(N, 3, H, W)`` CIELAB, same shape.

    Returns:
        ``(N, H, W)`` float64 ΔE00 >= 0 (0 for identical colours; about 100+ for black vs white).

    Raises:
        InputError: shapes differ or are not ``(N, 3, H, W)``.
    """
    for name, t in (("lab1", lab1), ("lab2", lab2)):
        if not isinstance(t, torch.Tensor) or t.ndim != 4 or t.shape[1] != 3:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise InputError(f"{name} must be a (N,3,H,W) Lab tensor, got {shape}")
    if lab1.shape != lab2.shape:
        raise InputError(f"lab1 {tuple(lab1.shape)} and lab2 {tuple(lab2.shape)} differ in shape")
    lab1 = lab1.to(torch.float64)
    lab2 = lab2.to(torch.float64)
    L1, a1, b1 = lab1[:, 0], lab1[:, 1], lab1[:, 2]
    L2, a2, b2 = lab2[:, 0], lab2[:, 1], lab2[:, 2]
    p25_7 = 25.0**7

    cbar = 0.5 * (torch.hypot(a1, b1) + torch.hypot(a2, b2))
    c7 = cbar**7
    g = 0.5 * (1 - torch.sqrt(c7 / (c7 + p25_7)))
    scale = 1 + g
    C1, h1 = _polar_2pi(a1 * scale, b1)
    C2, h2 = _polar_2pi(a2 * scale, b2)

    lbar = 0.5 * (L1 + L2)
    tmp = (lbar - 50) ** 2
    sl = 1 + 0.015 * tmp / torch.sqrt(20 + tmp)
    l_term = (L2 - L1) / sl

    cbar = 0.5 * (C1 + C2)
    sc = 1 + 0.045 * cbar
    c_term = (C2 - C1) / sc

    h_diff = h2 - h1
    h_sum = h1 + h2
    cc = C1 * C2
    zero = cc == 0.0
    dh = h_diff - 2 * math.pi * (h_diff > math.pi).to(h_diff.dtype) + 2 * math.pi * (h_diff < -math.pi).to(h_diff.dtype)
    dh = torch.where(zero, torch.zeros_like(dh), dh)
    dh_term = 2 * torch.sqrt(cc) * torch.sin(dh / 2)

    wrap = (~zero) & (h_diff.abs() > math.pi)
    hbar = h_sum + 2 * math.pi * (wrap & (h_sum < 2 * math.pi)).to(h_sum.dtype)
    hbar = hbar - 2 * math.pi * (wrap & (h_sum >= 2 * math.pi)).to(h_sum.dtype)
    hbar = torch.where(zero, hbar * 2, hbar) * 0.5

    t = (
        1
        - 0.17 * torch.cos(hbar - math.radians(30))
        + 0.24 * torch.cos(2 * hbar)
        + 0.32 * torch.cos(3 * hbar + math.radians(6))
        - 0.20 * torch.cos(4 * hbar - math.radians(63))
    )
    sh = 1 + 0.015 * cbar * t
    h_term = dh_term / sh

    c7 = cbar**7
    rc = 2 * torch.sqrt(c7 / (c7 + p25_7))
    dtheta = math.radians(30) * torch.exp(-(((torch.rad2deg(hbar) - 275) / 25) ** 2))
    r_term = -torch.sin(2 * dtheta) * rc * c_term * h_term

    de2 = l_term**2 + c_term**2 + h_term**2 + r_term
    return torch.sqrt(de2.clamp_min(0))
