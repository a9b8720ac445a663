"""VSNR, the visual signal-to-noise ratio of Chandler and Hemami (2007).

A pure function :func:`vsnr` over ``(N, C, H, W)`` float tensors in ``[0, 1]`` returning an ``(N,)``
float64 tensor in dB, plus the registered :class:`VSNR` class.

What is reproduced: ``vsnr.m`` (BETA 1.02, 2007) with its default viewing conditions, as wrapped by
MeTriX MuX (``vsnr_modified``, the VSNR of the TID2008/TID2013 metric set), on the 8-bit ``rgb2gray``
image of each input:

* pixel value to luminance ``L(p) = (b + k p)^g`` with ``b = 0``, ``k = 0.02874``, ``g = 2.2`` (sRGB);
  the original's RMS contrast ``Ci = std(L) / mean(L)`` (population std) and the scale factor
  ``zeta = mean(L) (b + k mean(p))^(1-g) / (k g)``;
* a 5-level 9/7 biorthogonal DWT of the original and of the error image
  ``E = uint8(dst - src + mean(src))`` (rounded and saturated as MATLAB ``uint8``); at scale ``s``
  (``s = 1`` finest) the contrast is ``sqrt(sum over the 3 orientations of (std(band) / (zeta 2^s))^2)``;
* the spatial frequency of scale ``s``: ``fs = r v tan(1 deg) 2^-s`` cycles/degree with ``r = 96``
  pixels/inch and ``v = 19.1`` inches;
* the contrast detection threshold of the distortion: ``CTe = || C_i(s) / csnr(s, 0) ||`` with
  ``csnr(s, v) = max(0, b0 fs^(b2 ln fs + b1))``, ``b0 = a0 (1 - v)``, ``b1 = a1 + (1 - a1) v``,
  ``b2 = a2 - (1 + a2) v``, ``a0 = 59.8``, ``a1 = -0.1258``, ``a2 = -0.1087``;
* if the error's RMS contrast ``Ce = std(L(E)) / mean(L(src))`` exceeds ``CTe``: the visibility index
  ``v`` whose contrasts ``C_i / csnr(s, v)`` have total ``Ce`` is found by bisection (at most 32 steps,
  stopping within 1 % of ``Ce``); ``d = alpha Ce + (1 - alpha) ||C_e*(s) - C_e(s)|| / sqrt(2)`` with
  ``alpha = 0.04``; ``VSNR = 20 log10(Ci / d)``;
* otherwise, if ``|mean(L(E)) - mean(L(src))| / mean(L(src)) < 0.01`` the distortion is invisible
  (``Inf`` in the official code); else Weber's law: ``VSNR = 20 log10(10^(mean L / dL) / 1.5)``.

The official DWT is the VSNR package's ``imdwt`` (a mex file, or MeTriX MuX's MATLAB ``dwt2d``); its
boundary handling is not documented. This implementation uses the CDF 9/7 filters in lifting form
with whole-sample symmetric extension and the ``bior4.4`` normalisation (low-pass DC gain and
high-pass Nyquist gain sqrt(2), which the default filter gains ``2^s`` assume). Only the band
standard deviations enter VSNR, so the boundary rule moves values near image borders only; the exact
official values are not available here (see docs/metrics-fr-classic-2.md for what is checked).

Identical images give 100 dB, the cap of paradigm's ``psnr``. (The official code reads an identical
pair as a brightness change: the error image is the constant ``round(mean(src))`` whose luminance
differs from the mean luminance by Jensen's gap, so TID2013 stores 50–229 dB for its unchanged images.)
Every value is capped at 100 dB (``Inf`` included). Higher is better.

Pillar: ``perceptual``. VSNR models when a distortion becomes visible (wavelet-domain contrast
thresholds measured psychophysically) and how far above threshold it disrupts the image's global
precedence; it is a model of perceived distortion like MAD (same laboratory), not an error energy.

Batched over N: one lifting DWT of the whole batch per image kind, and the bisection runs for all
images at once.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from ._filters import fast_check_pair
from .base import FullReferenceMetric, Pillar
from .fidelity import PSNR_MAX_DB, matlab_gray255
from .registry import register

#: CDF 9/7 lifting steps (Daubechies & Sweldens 1998) and the bior4.4 scale factor.
CDF97_LIFT = (-1.5861343420693648, -0.0529801185718856, 0.8829110755411875, 0.4435068520511142)
CDF97_SCALE = 1.1496043988602418

#: Default viewing conditions and model constants of vsnr.m.
VSNR_DEFAULTS = {"b": 0.0, "k": 0.02874, "g": 2.2, "r": 96.0, "v": 19.1, "levels": 5, "alpha": 0.04}
_A0, _A1, _A2 = 59.8, -0.1258, -0.1087


def _lift_1d(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One CDF 9/7 analysis step along the last dim (whole-sample symmetric extension); (low, high)."""
    s, d = x[..., 0::2], x[..., 1::2]
    ns, nd = s.shape[-1], d.shape[-1]
    p1, u1, p2, u2 = CDF97_LIFT
    for p, u in ((p1, u1), (p2, u2)):
        s_next = torch.cat((s[..., 1:], s[..., -1:]), -1) if ns == nd else s[..., 1:]
        d = d + p * (s[..., :nd] + s_next)
        if ns == nd:
            d_prev, d_cur = torch.cat((d[..., :1], d[..., :-1]), -1), d
        else:
            d_prev, d_cur = torch.cat((d[..., :1], d), -1), torch.cat((d, d[..., -1:]), -1)
        s = s + u * (d_prev + d_cur)
    return s * CDF97_SCALE, d / CDF97_SCALE


def cdf97_detail_std(img: torch.Tensor, levels: int) -> torch.Tensor:
    """``(M, levels, 3)``: population std of the three detail bands of each scale (finest first)."""
    out = []
    ll = img
    for _ in range(levels):
        lo, hi = _lift_1d(ll)  # along columns (width)
        lolo, lohi = _lift_1d(lo.transpose(-1, -2))
        hilo, hihi = _lift_1d(hi.transpose(-1, -2))
        out.append(torch.stack([t.flatten(1).std(1, correction=0) for t in (lohi, hilo, hihi)], -1))
        ll = lolo.transpose(-1, -2)
    return torch.stack(out, 1)


def _scale_contrasts(img: torch.Tensor, zeta: torch.Tensor, levels: int) -> torch.Tensor:
    """``(M, levels)``: the contrast of each scale, ``sqrt(sum_o (std / (zeta 2^s))^2)``."""
    gains = 2.0 ** torch.arange(1, levels + 1, dtype=torch.float64, device=img.device)
    c = cdf97_detail_std(img, levels) / (zeta[:, None, None] * gains[None, :, None])
    return c.square().sum(-1).sqrt()


def vsnr_best_csnrs(fs: torch.Tensor, v_idx: torch.Tensor) -> torch.Tensor:
    """``best_csnrs``: ``(M, levels)`` contrast-to-noise ratios for visibility indices ``v_idx`` ``(M,)``."""
    v = v_idx[:, None]
    b2 = (-1 - _A2) * v + _A2
    b1 = (1 - _A1) * v + _A1
    b0 = -_A0 * v + _A0
    return (b0 * fs ** (b2 * torch.log(fs) + b1)).clamp(min=0)


def _find_best_csnrs(fs: torch.Tensor, cis: torch.Tensor, ce: torch.Tensor) -> torch.Tensor:
    """``find_best_csnrs`` for every image at once: bisection on the visibility index (32 steps)."""
    lo, hi = torch.zeros_like(ce), torch.ones_like(ce)
    done = torch.zeros_like(ce, dtype=torch.bool)
    best = torch.zeros_like(cis)
    for _ in range(32):
        v = 0.5 * (lo + hi)
        csnrs = vsnr_best_csnrs(fs, v)
        best = torch.where(done[:, None], best, csnrs)
        diff = torch.linalg.vector_norm(cis / csnrs, dim=1) - ce
        stop = done | (lo == hi) | (diff.abs() < 0.01 * ce)
        lo = torch.where(~stop & (diff < 0), v, lo)
        hi = torch.where(~stop & (diff >= 0), v, hi)
        done = stop
        if bool(done.all()):
            break
    return best


def vsnr(
    x: torch.Tensor,
    ref: torch.Tensor,
    *,
    quantize: bool = True,
    alpha: float = 0.04,
    max_db: float = PSNR_MAX_DB,
) -> torch.Tensor:
    """Visual signal-to-noise ratio of ``x`` against ``ref`` (``vsnr.m`` defaults), in dB.

    Args:
        x: ``(N, C, H, W)`` output in [0, 1], at least 32 px a side (5 DWT levels).
        ref: ``(N, C, H, W)`` reference, same shape.
        quantize: round the grey image to 8 bits as MATLAB ``rgb2gray`` on ``uint8``.
        alpha: weight of perceived distortion contrast against global precedence (0.04).
        max_db: cap in dB (identical images, invisible distortions).

    Returns:
        ``(N,)`` float64 VSNR in dB, at most ``max_db``; higher is better.
    """
    fast_check_pair(x, ref, 32)
    src = matlab_gray255(ref.to(torch.float64), quantize=quantize)[:, 0]
    dst = matlab_gray255(x.to(torch.float64), quantize=quantize)[:, 0]
    p = VSNR_DEFAULTS
    levels = int(p["levels"])
    fs = p["r"] * p["v"] * math.tan(math.pi / 180) * 2.0 ** -torch.arange(1, levels + 1, dtype=torch.float64)
    fs = fs.to(src.device)

    def lum(img: torch.Tensor) -> torch.Tensor:
        return (p["b"] + p["k"] * img) ** p["g"]

    m_x = src.flatten(1).mean(1)
    src_lum = lum(src).flatten(1)
    m_l = src_lum.mean(1)
    ci = src_lum.std(1, correction=0) / m_l
    zeta = m_l * (p["b"] + p["k"] * m_x) ** (1 - p["g"]) / (p["k"] * p["g"])
    err = torch.floor(dst - src + m_x[:, None, None] + 0.5).clamp(0, 255)  # double(uint8(...))
    n = src.shape[0]
    cis, ces = _scale_contrasts(torch.cat((src, err)), torch.cat((zeta, zeta)), levels).split(n)
    cte = torch.linalg.vector_norm(cis / vsnr_best_csnrs(fs, torch.zeros_like(m_l)), dim=1)
    err_lum = lum(err).flatten(1)
    ce = err_lum.std(1, correction=0) / m_l

    ces_act = cis / (cis / ces)
    ces_str = cis / _find_best_csnrs(fs, cis, ce)
    d = alpha * ce + (1 - alpha) * torch.linalg.vector_norm(ces_str - ces_act, dim=1) / math.sqrt(2)
    supra = 20.0 * torch.log10(ci / d)
    lum_diff = (err_lum.mean(1) - m_l).abs()
    weber = 20.0 * m_l / lum_diff - 20.0 * math.log10(1.5)  # 20 log10(10^(mL / dL) / 1.5)
    invisible = lum_diff / m_l < 0.01
    res = torch.where(ce > cte, supra, torch.where(invisible, torch.full_like(supra, math.inf), weber))
    identical = (dst == src).flatten(1).all(1)
    res = torch.where(identical, torch.full_like(res, max_db), res)
    return torch.where(res > max_db, torch.full_like(res, max_db), res)


@register
class VSNR(FullReferenceMetric):
    """VSNR (Chandler & Hemami 2007) as vsnr.m with its default viewing conditions on rgb2gray."""

    name = "vsnr"
    version = "1"
    higher_is_better = True
    value_range = (float("-inf"), PSNR_MAX_DB)
    pillar: ClassVar[Pillar] = "perceptual"
    min_size = 32
    defaults = {"quantize": True}
    description = "visual SNR (Chandler & Hemami 2007, vsnr.m defaults, 9/7 DWT) on rgb2gray, dB, capped at 100"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return vsnr(x, ref, **options)


__all__ = ["CDF97_LIFT", "CDF97_SCALE", "VSNR", "VSNR_DEFAULTS", "cdf97_detail_std", "vsnr", "vsnr_best_csnrs"]
