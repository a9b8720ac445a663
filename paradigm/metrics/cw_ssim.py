"""CW-SSIM, complex wavelet structural similarity (Sampat, Wang, Gupta, Bovik & Markey 2009).

Reproduces Zhou Wang's ``cwssim_index.m`` with the settings of the IQA-PyTorch calibration (the
official values in ``results_official.csv``): 4 levels, 8 orientations, guard band 0, ``K = 0``,
on the MATLAB ``rgb2gray`` 8-bit grey image.

* The complex steerable pyramid is matlabPyrTools' ``buildSCFpyr(im, 4, 7)``, built in the Fourier
  domain exactly as that code does: the centred log-radius and angle grids (``ctr = ceil((dims +
  0.5) / 2)``), the raised-cosine radial masks of ``rcosFn(1, -1/2)`` read through ``pointOp``'s
  linear lookup, the one-sided angular masks ``2 sqrt(c) cos^7`` (``c = 2^14 7!^2 / (8 * 14!)``),
  the ``(-i)^7`` factor and the centre cropping between levels. Only the coarsest (4th) level
  is needed for the index, so only its 8 bands are transformed back.
* Per band, with a 7x7 box window (``filter2(ones(7)/49, ., 'valid')``):
  ``c = (2 |sum c1 conj(c2)| + K) / (sum |c1|^2 + |c2|^2 + K)``, averaged with a Gaussian weight of
  the map's size and sigma ``rows / 4`` (``fspecial('gaussian', s - 6, s(1) / 4)``); the index is
  the mean over the 8 orientations.

Pillar: stability. CW-SSIM is built to be insensitive to small translations, rotations and
scalings (they change the phase of complex wavelet coefficients consistently, which the magnitude
of the local correlation ignores), so it measures whether structure is kept under small geometric
jitter rather than pixel fidelity or perceived quality. See ``docs/metrics-fr-classic.md``.
"""

from __future__ import annotations

import functools
import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from ._filters import MEMO, fast_check_pair
from .base import FullReferenceMetric, Pillar
from .registry import register
from .vif import _grey

CW_LEVELS = 4
CW_ORIENTATIONS = 8
CW_WINDOW = 7
#: Smallest side: the 4th level (1/8 size) must hold the 7x7 window.
CW_MIN_SIZE = 56


def _rcos() -> tuple[torch.Tensor, float, float]:
    """``rcosFn(1, -1/2, [0 1])`` of matlabPyrTools: ``(sqrt(Y), X(1), X(2) - X(1))``."""
    sz = 256
    x = math.pi * torch.arange(-sz - 1, 2, dtype=torch.float64) / (2 * sz)
    y = torch.cos(x) ** 2
    y[0] = y[1]
    y[sz + 2] = y[sz + 1]
    xr = -0.5 + (2 / math.pi) * (x + math.pi / 4)
    return torch.sqrt(y), float(xr[0]), float(xr[1] - xr[0])


def point_op(x: torch.Tensor, lut: torch.Tensor, origin: float, increment: float) -> torch.Tensor:
    """matlabPyrTools ``pointOp``: linear interpolation in ``lut`` (linear extrapolation past the ends)."""
    pos = (x - origin) / increment
    idx = torch.floor(pos).clamp(0, lut.numel() - 2)
    i = idx.long()
    return lut[i] + (lut[i + 1] - lut[i]) * (pos - idx)


def _grids(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Centred ``log_rad`` and ``angle`` of buildSCFpyr for an ``h x w`` image."""
    ch, cw = math.ceil((h + 0.5) / 2), math.ceil((w + 0.5) / 2)
    xr = (torch.arange(1, w + 1, dtype=torch.float64) - cw) / (w / 2)
    yr = (torch.arange(1, h + 1, dtype=torch.float64) - ch) / (h / 2)
    yy, xx = torch.meshgrid(yr, xr, indexing="ij")
    angle = torch.atan2(yy, xx)
    rad = torch.sqrt(xx * xx + yy * yy)
    rad[ch - 1, cw - 1] = rad[ch - 1, cw - 2]
    return torch.log2(rad), angle


def _crop_box(h: int, w: int) -> tuple[slice, slice]:
    """The centre crop of buildSCFpyrLevs between levels (``lostart:loend``), 0-based slices."""
    out = []
    for d in (h, w):
        ctr = math.ceil((d + 0.5) / 2)
        lod = math.ceil((d - 0.5) / 2)
        loctr = math.ceil((lod + 0.5) / 2)
        start = ctr - loctr  # 0-based
        out.append(slice(start, start + lod))
    return out[0], out[1]


@functools.lru_cache(maxsize=8)
def _scf_masks(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Everything buildSCFpyr multiplies the spectrum by, for the coarsest level's bands.

    The pyramid works on the centred spectrum (``fftshift``), crops its centre between levels and
    returns to the spatial domain through ``ifftshift``. The crops compose into one index set, so
    here the needed coefficients are gathered directly from the unshifted ``fft2`` output, already
    in ``ifftshift`` order, which spares the shifts of full-size complex arrays.

    Returns:
        ``rows``, ``cols``: indices into the unshifted spectrum; ``mask`` ``(8, h4, w4)`` complex: the
        product of ``lo0mask``, the ``lomask`` of levels 1-3 (each cropped like the spectrum it
        multiplied), ``himask`` and ``(-i)^7 anglemask_b`` of level 4, in the same order.
    """
    ylut, x0, inc = _rcos()
    yilut = torch.sqrt((1.0 - ylut**2).clamp_min(0.0))
    log_rad, angle = _grids(h, w)
    gain = point_op(log_rad, yilut, x0, inc)  # lo0mask
    start = [0, 0]
    for level in range(1, CW_LEVELS):
        box = _crop_box(*log_rad.shape)
        start = [start[0] + box[0].start, start[1] + box[1].start]
        log_rad, angle, gain = log_rad[box], angle[box], gain[box]
        gain = gain * point_op(log_rad, yilut, x0 - level, inc)  # lomask of this level
    himask = point_op(log_rad, ylut, x0 - CW_LEVELS, inc)
    lutsize = 1024
    xcosn = math.pi * torch.arange(-(2 * lutsize + 1), lutsize + 2, dtype=torch.float64) / lutsize
    order = CW_ORIENTATIONS - 1
    const = (2 ** (2 * order)) * math.factorial(order) ** 2 / (CW_ORIENTATIONS * math.factorial(2 * order))
    alfa = torch.remainder(math.pi + xcosn, 2 * math.pi) - math.pi
    ycosn = 2 * math.sqrt(const) * torch.cos(xcosn) ** order * (alfa.abs() < math.pi / 2)
    step = float(xcosn[1] - xcosn[0])
    angmasks = torch.stack(
        [point_op(angle, ycosn, float(xcosn[0]) + math.pi * b / CW_ORIENTATIONS, step) for b in range(CW_ORIENTATIONS)]
    )
    mask = (-1j) ** order * (angmasks * himask * gain).to(torch.complex128)
    h4, w4 = log_rad.shape
    # centred-small index c = (j + n4 // 2) mod n4 (ifftshift order); centred-full = start + c;
    # unshifted-full = (centred-full - n // 2) mod n (inverse of fftshift)
    rows = (start[0] + (torch.arange(h4) + h4 // 2) % h4 - h // 2) % h
    cols = (start[1] + (torch.arange(w4) + w4 // 2) % w4 - w // 2) % w
    mask = torch.fft.ifftshift(mask, dim=(-2, -1))
    return rows, cols, mask


def _coarse_bands(g: torch.Tensor) -> torch.Tensor:
    """The 8 complex bands of level 4 of ``buildSCFpyr(g, 4, 7)`` for ``(B, 1, H, W)``: ``(B, 8, h4, w4)``."""
    rows, cols, mask = (t.to(g.device) for t in _scf_masks(*g.shape[-2:]))
    spec = torch.fft.fft2(g.to(torch.float64)).index_select(-2, rows).index_select(-1, cols)
    return torch.fft.ifft2(spec * mask)


def _gaussian2d(rows: int, cols: int, sigma: float) -> torch.Tensor:
    """MATLAB ``fspecial('gaussian', [rows cols], sigma)``."""
    y = torch.arange(rows, dtype=torch.float64) - (rows - 1) / 2
    x = torch.arange(cols, dtype=torch.float64) - (cols - 1) / 2
    g = torch.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / (2 * sigma**2))
    g = torch.where(g < torch.finfo(torch.float64).eps * g.max(), 0.0, g)
    return g / g.sum()


def cw_ssim(x: torch.Tensor, ref: torch.Tensor, *, k: float = 0.0) -> torch.Tensor:
    """CW-SSIM of ``cwssim_index.m`` (4 levels, 8 orientations, guard band 0); see the module docstring.

    Args:
        x: ``(N, C, H, W)`` output in [0, 1], sides >= 56.
        ref: ``(N, C, H, W)`` reference, same shape.
        k: the stabilising constant ``K`` (0 as the calibration; on the 0..255 grey scale).

    Returns:
        ``(N,)`` float64 CW-SSIM in [0, 1]; 1 for identical images; higher is better. With ``k = 0``
        (the default, as the calibration) flat images give NaN (0 / 0, as the official code).
    """
    fast_check_pair(x, ref, CW_MIN_SIZE)

    def bands_of(t: torch.Tensor) -> torch.Tensor:
        return MEMO.get_or_compute("cw_ssim_bands", (t,), lambda: _coarse_bands(_grey(t)))

    b1, b2 = bands_of(x), bands_of(ref)
    n, nb, hh, ww = b1.shape
    corr = b1 * b2.conj()
    varr = b1.real**2 + b1.imag**2 + b2.real**2 + b2.imag**2
    stack = torch.stack((corr.real, corr.imag, varr), dim=2).reshape(n * nb, 3, hh, ww)
    f = F.avg_pool2d(stack, CW_WINDOW, stride=1).reshape(n, nb, 3, hh - CW_WINDOW + 1, ww - CW_WINDOW + 1)
    cmap = (2 * torch.sqrt(f[:, :, 0] ** 2 + f[:, :, 1] ** 2) + k) / (f[:, :, 2] + k)
    wgt = _gaussian2d(hh - CW_WINDOW + 1, ww - CW_WINDOW + 1, hh / 4).to(cmap)
    return (cmap * wgt).sum(dim=(-2, -1)).mean(dim=1)


@register
class CWSSIM(FullReferenceMetric):
    """CW-SSIM (cwssim_index.m, 4 levels x 8 orientations): structure robust to small shifts."""

    name: ClassVar[str] = "cw_ssim"
    aliases = ("cwssim",)
    version: ClassVar[str] = "1"
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    pillar: ClassVar[Pillar] = "stability"
    min_size: ClassVar[int] = CW_MIN_SIZE
    defaults = {"k": 0.0}
    description: ClassVar[str] = (
        "Complex wavelet SSIM CW-SSIM (Sampat et al. 2009, cwssim_index.m, 4 levels, 8 orientations); "
        "tolerant of small shifts"
    )

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return cw_ssim(x, ref, k=float(options["k"]))


__all__ = ["cw_ssim", "point_op"]
