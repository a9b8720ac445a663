"""WSNR, the CSF-weighted signal-to-noise ratio (Mitsa & Varkur 1992; Damera-Venkata et al. 2000).

A pure function :func:`wsnr` over ``(N, C, H, W)`` float tensors in ``[0, 1]`` returning an ``(N,)``
float64 tensor in dB, plus the registered :class:`WSNR` class.

What is reproduced: ``wsnr.m`` of Damera-Venkata's degradation-model toolbox (the WSNR of the
TID2008/TID2013 metric set, also wrapped by MeTriX MuX) on the 8-bit ``rgb2gray`` image:

* the error ``e = ref - out`` is weighted in the frequency domain by the Mannos-Sakrison-type CSF
  ``2.6 (0.0192 + 0.114 f) exp(-(0.114 f)^1.1)``, set to its peak 0.9809 below f = 7.8909 cycles/degree,
  with the radial frequency ``f = |u + i v| / rows * 2 * 60`` (``nfreq = 60``: the Nyquist frequency is
  60 cycles/degree) divided by ``0.85 + 0.15 cos(4 angle)`` (3 dB less sensitivity on the diagonals);
  ``(u, v)`` are the ``fftshift``-ed frequency bins on a grid offset by half a bin, as ``meshgrid(-x/2+0.5
  : x/2-0.5, ...)``;
* ``WSNR = 10 log10(sum |FFT(ref)|^2 / sum |CSF . FFT(e)|^2)`` (the reference's full power, DC included).

The toolbox's grid is written for square images; for non-square images this implementation keeps
the grid in image layout (``rows x cols`` bins) and scales both axes by the number of rows, as the
MeTriX MuX / pymetrikz translation does. Identical images give 100 dB, the cap of paradigm's ``psnr``
(the MATLAB code gives ``Inf``); the value is negative only when the error carries more power than
the reference (e.g. a black reference). Higher is better.

Pillar: ``fidelity``. WSNR is an SNR of the pixel error after a fixed linear CSF filter, i.e. an
error energy like PSNR with frequency weights, not a model of perceived quality.

Batched over N with one ``fft2`` of the whole batch; no loops.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import torch

from ._filters import fast_check_pair
from .base import FullReferenceMetric, Pillar
from .fidelity import PSNR_MAX_DB, capped_db, matlab_gray255
from .registry import register

#: Cycles per degree at the Nyquist frequency (``nfreq`` of wsnr.m).
NFREQ = 60.0


@functools.lru_cache(maxsize=4)
def wsnr_csf(rows: int, cols: int, nfreq: float = NFREQ) -> torch.Tensor:
    """(Cached, read-only.) The ``(rows, cols)`` CSF of wsnr.m in ``fftshift`` layout, float64."""
    u = (torch.arange(rows, dtype=torch.float64) - rows / 2 + 0.5)[:, None].expand(rows, cols)
    v = (torch.arange(cols, dtype=torch.float64) - cols / 2 + 0.5)[None, :].expand(rows, cols)
    scale = 2 * nfreq / rows
    radfreq = torch.sqrt(u * u + v * v) * scale
    w = 0.7
    radfreq = radfreq / ((1 - w) / 2 * torch.cos(4 * torch.atan2(v, u)) + (1 + w) / 2)
    csf = 2.6 * (0.0192 + 0.114 * radfreq) * torch.exp(-((0.114 * radfreq) ** 1.1))
    return torch.where(radfreq < 7.8909, torch.full_like(csf, 0.9809), csf)


def wsnr(
    x: torch.Tensor, ref: torch.Tensor, *, quantize: bool = True, nfreq: float = NFREQ, max_db: float = PSNR_MAX_DB
) -> torch.Tensor:
    """CSF-weighted SNR of ``x`` against ``ref`` (Damera-Venkata's ``wsnr.m``), in dB.

    Args:
        x: ``(N, C, H, W)`` output in [0, 1].
        ref: ``(N, C, H, W)`` reference, same shape.
        quantize: round the grey image to 8 bits as MATLAB ``rgb2gray`` on ``uint8``.
        nfreq: cycles per degree at the Nyquist frequency (viewing distance), 60 as wsnr.m.
        max_db: cap in dB (identical images).

    Returns:
        ``(N,)`` float64 WSNR in dB, at most ``max_db``; higher is better.
    """
    fast_check_pair(x, ref, 2)
    a = matlab_gray255(ref.to(torch.float64), quantize=quantize)[:, 0]
    b = matlab_gray255(x.to(torch.float64), quantize=quantize)[:, 0]
    h, w = a.shape[-2:]
    csf = torch.fft.ifftshift(wsnr_csf(h, w, nfreq).to(a.device))  # fftshift(F) .* csf, in FFT order
    spec = torch.fft.fft2(torch.stack((a, a - b)))
    mss = spec[0].abs().square().flatten(1).sum(1)
    mse = (spec[1] * csf).abs().square().flatten(1).sum(1)
    return capped_db(mss, mse, max_db)  # capped like psnr (a zero weighted error reads max_db)


@register
class WSNR(FullReferenceMetric):
    """WSNR (Mitsa & Varkur 1992, Damera-Venkata et al. 2000) as wsnr.m on the 8-bit rgb2gray image."""

    name = "wsnr"
    version = "1"
    higher_is_better = True
    value_range = (float("-inf"), PSNR_MAX_DB)  # negative when the error outweighs the reference
    pillar: ClassVar[Pillar] = "fidelity"
    min_size = 2
    defaults = {"quantize": True}
    description = "CSF-weighted SNR (Damera-Venkata et al. 2000, wsnr.m, 60 cpd) on rgb2gray, dB, capped at 100"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return wsnr(x, ref, **options)


__all__ = ["NFREQ", "WSNR", "wsnr", "wsnr_csf"]
