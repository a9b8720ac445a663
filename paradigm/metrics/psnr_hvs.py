"""DCT-domain PSNR family of Ponomarenko et al.: PSNR-HVS, PSNR-HVS-M, PSNR-HA, PSNR-HMA, and PSNRc.

Each metric is a pure function over ``(N, C, H, W)`` float tensors in ``[0, 1]`` returning an
``(N,)`` float64 tensor in dB, plus a registered :class:`~paradigm.metrics.base.Metric` class.

What is reproduced (from the papers and the documented behaviour of the authors' MATLAB code):

* **PSNR-HVS** (Egiazarian et al. 2006) and **PSNR-HVS-M** (Ponomarenko et al. 2007), as
  ``psnrhvsm.m``: the images (0..255) are cut into non-overlapping 8x8 blocks (only whole blocks,
  starting at the top-left corner), each block is transformed with the orthonormal 2-D DCT
  (MATLAB ``dct2``), and the coefficient errors ``|dA - dB|`` are weighted by the fixed 8x8 CSF
  table. PSNR-HVS-M first lowers every AC error by the contrast-masking threshold
  ``E / MaskCof(k, l)`` (floored at 0), where ``E = max(E(A), E(B))`` and
  ``E(z) = sqrt(sum_AC dz^2 MaskCof * pop(z)) / 32``; ``pop`` is the summed variance of the four
  4x4 quadrants over the block variance (MATLAB ``var(.)*numel``, i.e. unbiased variances, 0 for a
  flat block). ``S = mean over all coefficients of (u * CSF)^2`` and the value is
  ``10 log10(255^2 / S)``.
* **PSNR-HA** and **PSNR-HMA** (Ponomarenko et al. 2011, "Modified image visual quality metrics for
  contrast change and mean shift accounting"), as ``psnrhma.m`` + ``color_psnrhma.m``: per channel,
  the distorted image is shifted to the reference mean (``delta = mean(ref) - mean(dist)``), a
  contrast-corrected copy ``mean + (dist' - mean) * l`` (``l`` the least-squares gain) is scored as
  well, and the error sums combine as ``S = SS + (S - SS) * K`` when ``S > SS`` (``K = 0.002`` if
  ``l < 1`` else ``0.25``) plus ``0.04 * delta^2``. The colour value combines the channels of MATLAB
  ``rgb2ycbcr`` (8-bit, rounded) as ``(S_Y + (S_Cb + S_Cr) / 2) / 2``.
* **PSNRc**, the colour PSNR of the TID2013 metric set: PSNR over the three RGB channels with peak
  255, i.e. the same definition as paradigm's ``psnr``. There is no published formula; the
  definition was established from TID2013's own value files (``docs/metrics-fr-classic-2.md``): the
  offset between TID2013's ``PSNR`` (MATLAB ``rgb2ycbcr`` Y) and ``PSNRc`` is 1.33 dB for mean
  shift and Gaussian blur (``20 log10(255/219)`` = 1.32 dB for an equal error in R, G and B) and
  4.76 dB for additive white noise (4.82 dB predicted for independent RGB noise), and only PSNRc
  sees colour-saturation changes.

The TID2013 values of PSNR-HVS and PSNR-HVS-M are on the luma Y of MATLAB ``rgb2ycbcr`` (their
difference to TID2013's Y-PSNR is 0 dB for white noise and -4.1 dB for a mean shift, as the CSF
weight 1.608 of the DC coefficient predicts); these functions use the same Y, rounded to 8 bits as
``rgb2ycbcr`` does on ``uint8`` images (``quantize=True``). Grey (C = 1) inputs are used as they
are (x 255, rounded as well with ``quantize``). Identical images give 100 dB, the cap of paradigm's ``psnr`` (the MATLAB code returns
100000); higher is better.

Pillar: these are pixel-error measures (an MSE in the block-DCT domain, weighted by a fixed contrast
sensitivity table and, for -M, reduced by a masking threshold), so they are declared ``fidelity``
like PSNR, not ``perceptual``: they measure how close the pixels are, with errors the eye cannot
see discounted, rather than how natural an output looks.

Everything is batched: the blocks of every image and channel are unfolded into one
``(planes, blocks, 8, 8)`` tensor and transformed by two 8x8 matrix products; no Python loop runs
over blocks or images. The PSNR-HVS/-M pair and the PSNR-HA/-HMA pair each share one pass per batch
through the per-batch memo.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from ._filters import MEMO, fast_check_pair
from .base import FullReferenceMetric, Pillar
from .fidelity import PSNR_MAX_DB, psnr
from .registry import register

#: CSF weights of the 8x8 DCT coefficients (psnrhvsm.m / psnrhma.m ``CSFCof``).
CSF_COF = (
    (1.608443, 2.339554, 2.573509, 1.608443, 1.072295, 0.643377, 0.504610, 0.421887),
    (2.144591, 2.144591, 1.838221, 1.354478, 0.989811, 0.443708, 0.428918, 0.467911),
    (1.838221, 1.979622, 1.608443, 1.072295, 0.643377, 0.451493, 0.372972, 0.459555),
    (1.838221, 1.513829, 1.169777, 0.887417, 0.504610, 0.295806, 0.321689, 0.415082),
    (1.429727, 1.169777, 0.695543, 0.459555, 0.378457, 0.236102, 0.249855, 0.334222),
    (1.072295, 0.735288, 0.467911, 0.402111, 0.317717, 0.247453, 0.227744, 0.279729),
    (0.525206, 0.402111, 0.329937, 0.295806, 0.249855, 0.212687, 0.214459, 0.254803),
    (0.357432, 0.279729, 0.270896, 0.262603, 0.229778, 0.257351, 0.249855, 0.259950),
)
#: Contrast-masking weights of the 8x8 DCT coefficients (``MaskCof``).
MASK_COF = (
    (0.390625, 0.826446, 1.000000, 0.390625, 0.173611, 0.062500, 0.038447, 0.026874),
    (0.694444, 0.694444, 0.510204, 0.277008, 0.147929, 0.029727, 0.027778, 0.033058),
    (0.510204, 0.591716, 0.390625, 0.173611, 0.062500, 0.030779, 0.021004, 0.031888),
    (0.510204, 0.346021, 0.206612, 0.118906, 0.038447, 0.013212, 0.015625, 0.026015),
    (0.308642, 0.206612, 0.073046, 0.031888, 0.021626, 0.008417, 0.009426, 0.016866),
    (0.173611, 0.081633, 0.033058, 0.024414, 0.015242, 0.009246, 0.007831, 0.011815),
    (0.041649, 0.024414, 0.016437, 0.013212, 0.009426, 0.006830, 0.006944, 0.009803),
    (0.019290, 0.011815, 0.011080, 0.010412, 0.007972, 0.010000, 0.009426, 0.010203),
)
#: MATLAB rgb2ycbcr for RGB in [0, 1] -> 8-bit Y, Cb, Cr (rows) and the offsets.
YCBCR = ((65.481, 128.553, 24.966), (-37.797, -74.203, 112.0), (112.0, -93.786, -18.214))
YCBCR_OFFSET = (16.0, 128.0, 128.0)


def dct8_matrix(dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> torch.Tensor:
    """The orthonormal 8-point DCT-II matrix ``D``; MATLAB ``dct2(A) = D @ A @ D.T`` for an 8x8 block."""
    k = torch.arange(8, dtype=torch.float64)[:, None]
    n = torch.arange(8, dtype=torch.float64)[None, :]
    d = torch.cos(math.pi * (2 * n + 1) * k / 16) * math.sqrt(2 / 8)
    d[0] = math.sqrt(1 / 8)
    return d.to(dtype=dtype, device=device)


def ycbcr255(x: torch.Tensor, *, quantize: bool = True, y_only: bool = False) -> torch.Tensor:
    """MATLAB ``rgb2ycbcr`` planes on the 0..255 scale, float64.

    Args:
        x: ``(N, 3, H, W)`` RGB in [0, 1] (``(N, 1, H, W)`` grey is used as it is, x 255).
        quantize: round half away from zero to 8 bits as ``rgb2ycbcr`` on ``uint8`` images (the
            official values); grey images are rounded too.
        y_only: return only Y.

    Returns:
        ``(N, 3, H, W)`` (Y, Cb, Cr) or ``(N, 1, H, W)`` float64 on the 0..255 scale.
    """
    xd = x.to(torch.float64)
    if xd.shape[1] == 1:
        out = xd * 255.0
    else:
        rows = YCBCR[:1] if y_only else YCBCR
        planes = [
            off + w[0] * xd[:, 0] + w[1] * xd[:, 1] + w[2] * xd[:, 2]
            for w, off in zip(rows, YCBCR_OFFSET, strict=False)
        ]
        out = torch.stack(planes, dim=1)
    if quantize:
        out = torch.floor(out + 0.5).clamp_(0, 255)
    return out


def _blocks(p: torch.Tensor) -> torch.Tensor:
    """``(P, H, W)`` -> ``(P, nb, 8, 8)``: the whole non-overlapping 8x8 blocks, row by row."""
    n, h, w = p.shape
    bh, bw = h // 8, w // 8
    b = p[:, : bh * 8, : bw * 8].reshape(n, bh, 8, bw, 8).permute(0, 1, 3, 2, 4)
    return b.reshape(n, bh * bw, 8, 8)


def _dct_blocks(blocks: torch.Tensor) -> torch.Tensor:
    """2-D DCT of every 8x8 block as one matrix product: ``vec(D A D^T) = (D kron D) vec(A)``."""
    d = dct8_matrix(blocks.dtype, blocks.device)
    return (blocks.reshape(-1, 64) @ torch.kron(d, d).T).reshape(blocks.shape)


def _masking(blocks: torch.Tensor, dct: torch.Tensor) -> torch.Tensor:
    """``maskeff``: the masking energy ``E`` of every block, ``(P, nb)``."""
    mask_cof = torch.tensor(MASK_COF, dtype=dct.dtype, device=dct.device)
    mask_cof[0, 0] = 0.0  # the DC coefficient does not mask
    m = (dct * dct * mask_cof).sum(dim=(-2, -1))

    def ss(z: torch.Tensor) -> torch.Tensor:  # sum of squared deviations
        return (z - z.mean(dim=(-2, -1), keepdim=True)).square().sum(dim=(-2, -1))

    total = ss(blocks) * (64.0 / 63.0)  # var(z(:)) * numel, unbiased var
    quad = blocks.reshape(*blocks.shape[:-2], 2, 4, 2, 4).transpose(-3, -2)  # (.., 2, 2, 4, 4)
    sub = ss(quad).sum(dim=(-2, -1)) * (16.0 / 15.0)
    pop = torch.where(total != 0, sub / torch.where(total != 0, total, 1.0), torch.zeros_like(total))
    return torch.sqrt(m * pop) / 32.0


def _error_sums(
    da: torch.Tensor, db: torch.Tensor, mask: torch.Tensor, inv_mask_cof: torch.Tensor, csf2: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of ``(u CSF)^2`` per plane without (PSNR-HVS) and with (PSNR-HVS-M) masking."""
    u = (da - db).abs_()
    s_hvs = (u * u * csf2).mean(dim=(-3, -2, -1))
    u = u.sub_(mask[..., None, None] * inv_mask_cof).clamp_(min=0.0)
    s_hvsm = (u * u * csf2).mean(dim=(-3, -2, -1))
    return s_hvsm, s_hvs


def _tables(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    csf = torch.tensor(CSF_COF, dtype=dtype, device=device)
    inv = 1.0 / torch.tensor(MASK_COF, dtype=dtype, device=device)
    inv[0, 0] = 0.0  # no masking threshold on the DC coefficient
    return inv, csf * csf


def hvs_error_sums(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``psnrhvsm.m``'s normalised sums ``(S1, S2)`` (HVS-M, HVS) of every plane.

    Args:
        a: ``(P, H, W)`` float64 reference planes, 0..255, sides >= 8.
        b: ``(P, H, W)`` distorted planes.

    Returns:
        Two ``(P,)`` tensors: the masked and the unmasked CSF-weighted mean squared DCT error.
    """
    ba, bb = _blocks(a), _blocks(b)
    da, db = _dct_blocks(ba), _dct_blocks(bb)
    mask = torch.maximum(_masking(ba, da), _masking(bb, db))
    inv, csf2 = _tables(a.dtype, a.device)
    return _error_sums(da, db, mask, inv, csf2)


def hma_error_sums(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``psnrhma.m``'s final sums ``(S1, S2)`` (HMA, HA) of every plane, mean shift and contrast included.

    Args:
        a: ``(P, H, W)`` float64 reference planes, 0..255, sides >= 8.
        b: ``(P, H, W)`` distorted planes.

    Returns:
        Two ``(P,)`` tensors.
    """
    dims = (-2, -1)
    delta = a.mean(dim=dims) - b.mean(dim=dims)
    bm = b + delta[:, None, None]
    mean1, mean2 = a.mean(dim=dims, keepdim=True), bm.mean(dim=dims, keepdim=True)
    cov = ((a - mean1) * (bm - mean2)).mean(dim=dims)
    var = (bm - mean2).square().mean(dim=dims)  # var(., 1)
    # a flat distorted plane has no contrast to correct: any gain leaves it unchanged (MATLAB gives NaN)
    gain = torch.where(var > 0, cov / torch.where(var > 0, var, 1.0), torch.ones_like(var))
    k_contr = torch.where(gain < 1, 0.002, 0.25).to(a.dtype)
    ba, bb = _blocks(a), _blocks(bm)
    da, db = _dct_blocks(ba), _dct_blocks(bb)
    # the contrast-corrected copy mean2 + (bm - mean2) * gain, by linearity of the DCT (a flat block
    # of value v has only the DC coefficient 8 v)
    g = gain[:, None, None, None]
    dc = db * g
    dc[..., 0, 0] += (1 - gain[:, None]) * mean2[:, :, 0] * 8.0
    mask = torch.maximum(_masking(ba, da), _masking(bb, db))
    inv, csf2 = _tables(a.dtype, a.device)
    s1, s2 = _error_sums(da, db, mask, inv, csf2)
    ss1, ss2 = _error_sums(da, dc, mask, inv, csf2)
    shift = 0.04 * delta * delta
    s1 = torch.where(s1 > ss1, ss1 + (s1 - ss1) * k_contr, s1) + shift
    s2 = torch.where(s2 > ss2, ss2 + (s2 - ss2) * k_contr, s2) + shift
    return s1, s2


def _to_db(s: torch.Tensor, max_db: float) -> torch.Tensor:
    floor = 255.0**2 * 10.0 ** (-max_db / 10.0)
    return 10.0 * torch.log10(255.0**2 / s.clamp_min(floor))


def _planes(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1, *t.shape[-2:])


def _hvs_pair(x: torch.Tensor, y: torch.Tensor, quantize: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(S_HVS-M, S_HVS) per image on Y, computed once per batch."""

    def compute() -> tuple[torch.Tensor, torch.Tensor]:
        a = _planes(ycbcr255(y, quantize=quantize, y_only=True))
        b = _planes(ycbcr255(x, quantize=quantize, y_only=True))
        return hvs_error_sums(a, b)

    return MEMO.get_or_compute(("psnr_hvs_sums", quantize), (x, y), compute)


def _hma_pair(x: torch.Tensor, y: torch.Tensor, quantize: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(S_HMA, S_HA) per image, channels combined as ``color_psnrhma.m``, computed once per batch."""

    def compute() -> tuple[torch.Tensor, torch.Tensor]:
        a, b = ycbcr255(y, quantize=quantize), ycbcr255(x, quantize=quantize)
        n, c = a.shape[:2]
        s1, s2 = (s.reshape(n, c) for s in hma_error_sums(_planes(a), _planes(b)))
        if c == 1:
            return s1[:, 0], s2[:, 0]
        return (s1[:, 0] + 0.5 * (s1[:, 1] + s1[:, 2])) / 2, (s2[:, 0] + 0.5 * (s2[:, 1] + s2[:, 2])) / 2

    return MEMO.get_or_compute(("psnr_hma_sums", quantize), (x, y), compute)


def psnr_hvs(
    x: torch.Tensor, y: torch.Tensor, *, masking: bool = False, quantize: bool = True, max_db: float = PSNR_MAX_DB
) -> torch.Tensor:
    """PSNR-HVS (``masking=False``) or PSNR-HVS-M (``masking=True``) on the luma Y, as ``psnrhvsm.m``.

    Args:
        x: ``(N, C, H, W)`` output in [0, 1], sides >= 8 (only whole 8x8 blocks are scored).
        y: ``(N, C, H, W)`` reference, same shape.
        masking: apply the between-coefficient contrast masking (PSNR-HVS-M).
        quantize: round Y to 8 bits as MATLAB ``rgb2ycbcr`` on ``uint8`` images.
        max_db: cap in dB (identical images).

    Returns:
        ``(N,)`` float64 in dB, at most ``max_db`` (about -4 dB at worst, black vs white); higher is better.
    """
    fast_check_pair(x, y, 8)
    s_m, s = _hvs_pair(x, y, quantize)
    return _to_db(s_m if masking else s, max_db)


def psnr_ha(
    x: torch.Tensor, y: torch.Tensor, *, masking: bool = False, quantize: bool = True, max_db: float = PSNR_MAX_DB
) -> torch.Tensor:
    """PSNR-HA (``masking=False``) or PSNR-HMA (``masking=True``) on YCbCr, as ``color_psnrhma.m``.

    Args:
        x: ``(N, C, H, W)`` output in [0, 1], sides >= 8. Grey (C = 1) is scored as one channel.
        y: ``(N, C, H, W)`` reference, same shape.
        masking: apply the contrast masking (PSNR-HMA).
        quantize: round Y, Cb, Cr to 8 bits as MATLAB ``rgb2ycbcr`` on ``uint8`` images.
        max_db: cap in dB (identical images).

    Returns:
        ``(N,)`` float64 in dB, at most ``max_db``; higher is better.
    """
    fast_check_pair(x, y, 8)
    s_m, s = _hma_pair(x, y, quantize)
    return _to_db(s_m if masking else s, max_db)


def psnrc(x: torch.Tensor, y: torch.Tensor, *, max_db: float = PSNR_MAX_DB) -> torch.Tensor:
    """PSNRc of the TID2013 metric set: PSNR over all RGB channels, peak 255 (see the module docstring).

    Args:
        x: ``(N, C, H, W)`` output in [0, 1].
        y: ``(N, C, H, W)`` reference, same shape.
        max_db: cap in dB (identical images).

    Returns:
        ``(N,)`` float64 in dB; higher is better.
    """
    return psnr(x, y, max_db=max_db)


# -------------------------------------------------------------------------------- registered classes


class _DCTPSNRMetric(FullReferenceMetric):
    pillar: ClassVar[Pillar] = "fidelity"
    higher_is_better = True
    # the CSF weights exceed 1 (DC: 1.61), so extreme errors (black vs white) reach about -4 dB
    value_range = (float("-inf"), PSNR_MAX_DB)
    min_size = 8



@register
class PSNRHVS(_DCTPSNRMetric):
    """PSNR-HVS (Egiazarian et al. 2006) on the 8-bit BT.601 Y, as psnrhvsm.m (TID2013 ``PSNRHVS``)."""

    name = "psnr_hvs"
    aliases = ("psnrhvs",)
    version = "1"
    defaults = {"quantize": True}
    description = "PSNR-HVS (8x8 DCT, CSF-weighted; official psnrhvsm.m) on rgb2ycbcr Y, dB, capped at 100"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return psnr_hvs(x, ref, masking=False, **options)


@register
class PSNRHVSM(_DCTPSNRMetric):
    """PSNR-HVS-M (Ponomarenko et al. 2007) on the 8-bit BT.601 Y, as psnrhvsm.m (TID2013 ``PSNRHVSM``)."""

    name = "psnr_hvs_m"
    aliases = ("psnrhvsm",)
    version = "1"
    defaults = {"quantize": True}
    description = "PSNR-HVS-M (DCT CSF + contrast masking; official psnrhvsm.m) on rgb2ycbcr Y, dB, capped at 100"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return psnr_hvs(x, ref, masking=True, **options)


@register
class PSNRHA(_DCTPSNRMetric):
    """PSNR-HA (Ponomarenko et al. 2011) on YCbCr, as color_psnrhma.m (TID2013 ``PSNRHA``)."""

    name = "psnr_ha"
    aliases = ("psnrha",)
    version = "1"
    defaults = {"quantize": True}
    description = "PSNR-HA (PSNR-HVS with mean-shift/contrast correction, YCbCr; official color_psnrhma.m), dB"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return psnr_ha(x, ref, masking=False, **options)


@register
class PSNRHMA(_DCTPSNRMetric):
    """PSNR-HMA (Ponomarenko et al. 2011) on YCbCr, as color_psnrhma.m (TID2013 ``PSNRHMA``)."""

    name = "psnr_hma"
    aliases = ("psnrhma",)
    version = "1"
    defaults = {"quantize": True}
    description = "PSNR-HMA (PSNR-HVS-M with mean-shift/contrast correction, YCbCr; official color_psnrhma.m), dB"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return psnr_ha(x, ref, masking=True, **options)


@register
class PSNRc(_DCTPSNRMetric):
    """PSNRc of the TID2013 metric set: RGB PSNR with peak 255 (the same values as ``psnr``)."""

    name = "psnrc"
    aliases = ("psnr_c",)
    version = "1"
    value_range = (0.0, PSNR_MAX_DB)
    min_size = 1
    description = "PSNRc (TID2013's colour PSNR: MSE over R, G, B, peak 255; equals psnr), dB, capped at 100"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return psnrc(x, ref, **options)


__all__ = [
    "CSF_COF",
    "MASK_COF",
    "dct8_matrix",
    "hma_error_sums",
    "hvs_error_sums",
    "psnr_ha",
    "psnr_hvs",
    "psnrc",
    "ycbcr255",
]
