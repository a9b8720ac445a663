"""NQM, the noise quality measure of Damera-Venkata, Kite, Geisler, Evans and Bovik (2000).

A pure function :func:`nqm` over ``(N, C, H, W)`` float tensors in ``[0, 1]`` returning an ``(N,)``
float64 tensor in dB, plus the registered :class:`NQM` class.

What is reproduced: ``nqm_modified.m`` of the degradation-model toolbox as wrapped by MeTriX MuX
(``metrix_nqm.m``, the NQM of the TID2008/TID2013 metric set), on the 8-bit ``rgb2gray`` image of
each input (MATLAB weights 0.2989/0.5870/0.1140 on 0..255 values, rounded as ``uint8``):

* Peli's contrast pyramid in the Fourier domain: on the grid ``meshgrid(-W/2 : W/2-1, -H/2 : H/2-1)``
  (frequency in cycles per image, radius ``r``), a low-pass ``G0 = 0.5 (1 + cos(pi log2(r + 2) - pi))``
  for ``r + 2`` in ``[1, 4]`` and five raised-cosine bands ``Gk = 0.5 (1 + cos(pi log2(r / 2^k)))`` for
  ``r`` in ``[2^(k-1), 2^(k+1)]``, ``k = 1..5``, applied as ``real(ifft2(fftshift(G) .* fft2(img)))``;
* local band-limited contrast ``c_k = a_k / (l_0 + a_1 + ... + a_(k-1))`` for both images;
* suprathreshold contrast masking (``cmaskn_modified``): where ``|min(c'_k, 1) - c_k| < T`` with
  ``T = ct (0.86 (c_k / ct - 1) + 0.3)`` and ``ct = ctf(k)``, the distorted band takes the original's
  value. As in the official code, ``ct`` is the CTF at the band *index* ``k`` (not at its frequency),
  and values of ``c'`` above 1 in magnitude are set to +1;
* detection thresholds (``gthresh_modified``): band values whose contrast is below
  ``ctf(2^k / VA)`` are zeroed, with the CTF ``1 / (200 * 2.6 (0.0192 + 0.114 f) exp(-(0.114 f)^1.1))``
  and the viewing angle ``VA = 180 / (3.5 pi)`` degrees (3.5 picture heights, MeTriX MuX);
* ``NQM = 10 log10(sum y^2 / sum (y - y')^2)`` with ``y``, ``y'`` the sums of the five thresholded
  bands of the original and the distorted image (the low-pass ``l_0`` is not part of them).

Frequencies above 64 cycles per image are in no band and do not count, as in the official code.
A zero contrast denominator gives ``Inf``/``NaN`` contrasts exactly as in MATLAB (every comparison with
``NaN`` is false, so such pixels keep their band value). Identical images give 100 dB, the cap of
paradigm's ``psnr`` (the MATLAB code gives ``Inf``; TID2013 stores 100000); every value is capped at
100 dB. Higher is better.

Pillar: ``fidelity``. Like PSNR-HVS-M, NQM is an SNR between two band-thresholded, masked versions of
the images (an error energy after a fixed linear model and a threshold), not a model of perceived
quality; TID2013 reports Spearman 0.64 with MOS, PSNR's level.

Batched over N: one ``fft2`` of the batch and one inverse transform per band; no loops over images.
"""

from __future__ import annotations

import functools
import math
from typing import Any, ClassVar

import torch

from ._filters import fast_check_pair
from .base import FullReferenceMetric, Pillar
from .fidelity import PSNR_MAX_DB, capped_db, matlab_gray255
from .registry import register

#: Viewing angle of the image height in degrees (viewed at 3.5 picture heights; ``metrix_nqm.m``).
NQM_VIEWING_ANGLE = 180.0 / (3.5 * math.pi)

#: Number of band-pass levels of the contrast pyramid.
NQM_BANDS = 5


def nqm_ctf(f: torch.Tensor | float) -> torch.Tensor:
    """The contrast threshold function ``ctf.m``: ``1 / (200 * 2.6 (0.0192 + 0.114 f) exp(-(0.114 f)^1.1))``."""
    f = torch.as_tensor(f, dtype=torch.float64)
    return 1.0 / (200.0 * (2.6 * (0.0192 + 0.114 * f) * torch.exp(-((0.114 * f) ** 1.1))))


def _raised_cosine(r: torch.Tensor, lo: float, hi: float, fill: float, phase: float) -> torch.Tensor:
    """``0.5 (1 + cos(pi log2(r .* inside + fill .* ~inside) - phase))`` as written in nqm_modified.m."""
    inside = (r >= lo) & (r <= hi)
    arg = torch.where(inside, r, torch.full_like(r, fill))
    return 0.5 * (1.0 + torch.cos(math.pi * torch.log2(arg) - phase))


@functools.lru_cache(maxsize=4)
def nqm_filters(rows: int, cols: int) -> torch.Tensor:
    """(Cached, read-only.) ``(6, rows, cols)`` float64: ``fftshift`` of G0 (low-pass) and G1..G5."""
    v = (torch.arange(rows, dtype=torch.float64) - rows / 2)[:, None].expand(rows, cols)
    u = (torch.arange(cols, dtype=torch.float64) - cols / 2)[None, :].expand(rows, cols)
    r = torch.sqrt(u * u + v * v)
    filters = [_raised_cosine(r + 2, 1.0, 4.0, 4.0, math.pi)]
    for k in range(1, NQM_BANDS + 1):
        # odd k: fill 4 and phase pi; even k: fill 0.5 and phase 0 (both are 0 outside the band)
        odd = k % 2 == 1
        filters.append(_raised_cosine(r, 2.0 ** (k - 1), 2.0 ** (k + 1), 4.0 if odd else 0.5, math.pi if odd else 0.0))
    return torch.fft.fftshift(torch.stack(filters), dim=(-2, -1))


def nqm_bands(img: torch.Tensor) -> list[torch.Tensor]:
    """Six ``(M, H, W)`` tensors: the low-pass ``l_0`` and the bands ``a_1..a_5`` of ``(M, H, W)`` float64 images.

    For even H and W the filters are symmetric under ``k -> -k`` (the Nyquist row/column maps to
    itself), so ``real(ifft2(G .* fft2(img)))`` equals the half-spectrum ``irfft2(G .* rfft2(img))``,
    computed here at half the cost; odd sizes take the full complex transform, as the official code.
    """
    h, w = img.shape[-2:]
    g = nqm_filters(h, w).to(img.device)
    if h % 2 == 0 and w % 2 == 0:
        spec = torch.fft.rfft2(img)
        g = g[..., : w // 2 + 1]
        return [torch.fft.irfft2(spec * g[k], s=(h, w)) for k in range(NQM_BANDS + 1)]
    spec = torch.fft.fft2(img)
    return [torch.fft.ifft2(spec * g[k]).real for k in range(NQM_BANDS + 1)]


def _mask_and_threshold(bands: list[torch.Tensor], n: int, viewing_angle: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The thresholded band sums ``y`` (original) and ``y'`` (distorted) of six ``(2N, H, W)`` bands
    (original images first)."""
    denom = bands[0].clone()  # l_0 (first N) and li_0 (last N), then + a_1 + ... + a_(k-1)
    y = torch.zeros_like(denom[:n])
    yi = torch.zeros_like(denom[:n])
    for k in range(1, NQM_BANDS + 1):
        both = bands[k]
        a, ai = both[:n], both[n:]
        cc = both / denom  # contrasts of both images at once
        c, ci = cc[:n], cc[n:]
        if k < NQM_BANDS:
            denom += both
        ct = float(nqm_ctf(float(k)))  # the band index, as cmaskn_modified(..., i)
        t = ct * (0.86 * (c / ct - 1.0) + 0.3)
        ci_clip = ci.masked_fill(ci.abs() > 1, 1.0)
        ai = torch.where((ci_clip - c).abs() - t < 0, a, ai)
        d = float(nqm_ctf(2.0**k / viewing_angle))
        y += a.masked_fill(c.abs() < d, 0.0)
        yi += ai.masked_fill(ci.abs() < d, 0.0)
    return y, yi


def nqm(
    x: torch.Tensor,
    ref: torch.Tensor,
    *,
    quantize: bool = True,
    viewing_angle: float = NQM_VIEWING_ANGLE,
    max_db: float = PSNR_MAX_DB,
) -> torch.Tensor:
    """Noise quality measure of ``x`` against ``ref`` (``nqm_modified.m`` via MeTriX MuX), in dB.

    Args:
        x: ``(N, C, H, W)`` output in [0, 1].
        ref: ``(N, C, H, W)`` reference, same shape.
        quantize: round the grey image to 8 bits as MATLAB ``rgb2gray`` on ``uint8``.
        viewing_angle: degrees subtended by the image height (default 3.5 picture heights).
        max_db: cap in dB (identical images).

    Returns:
        ``(N,)`` float64 NQM in dB, at most ``max_db``; higher is better.
    """
    fast_check_pair(x, ref, 2)
    a = matlab_gray255(ref.to(torch.float64), quantize=quantize)[:, 0]
    b = matlab_gray255(x.to(torch.float64), quantize=quantize)[:, 0]
    y, yi = _mask_and_threshold(nqm_bands(torch.cat((a, b))), a.shape[0], viewing_angle)
    sp = y.square().flatten(1).sum(1)
    noise = (y - yi).square().flatten(1).sum(1)
    return capped_db(sp, noise, max_db)


@register
class NQM(FullReferenceMetric):
    """NQM (Damera-Venkata et al. 2000) as nqm_modified.m / MeTriX MuX on the 8-bit rgb2gray image."""

    name = "nqm"
    version = "1"
    higher_is_better = True
    value_range = (float("-inf"), PSNR_MAX_DB)
    pillar: ClassVar[Pillar] = "fidelity"
    min_size = 2
    defaults = {"quantize": True}
    description = "noise quality measure (Damera-Venkata et al. 2000, nqm_modified.m, 3.5 heights) on rgb2gray, dB"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return nqm(x, ref, **options)


__all__ = ["NQM", "NQM_BANDS", "NQM_VIEWING_ANGLE", "nqm", "nqm_bands", "nqm_ctf", "nqm_filters"]
