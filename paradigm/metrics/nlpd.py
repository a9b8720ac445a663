"""NLPD, the normalised Laplacian pyramid distance (Laparra, Ballé, Berardino & Simoncelli 2016).

Reproduces the authors' ``NLP_dist.m`` (the first output, the distance in the normalised domain):

* input: the grey image in [0, 1] (MATLAB ``rgb2gray`` of the 8-bit image, rounded as uint8, / 255);
* a 6-level Laplacian pyramid (``laplacian_pyramid_s``, after Burt & Adelson): the filter
  ``f' f`` with ``f = [0.05 0.25 0.4 0.25 0.05]``; downsampling is ``imfilter(., 'symmetric')``
  then ``(1:2:end)``; upsampling pads one replicated pixel, inserts zeros, multiplies by 4,
  filters with zero borders and crops back to the finer size; the last level is the low-pass residual;
* divisive normalisation per level ``k``: ``y = x / (sigma_k + conv2(|x|, F_k, 'same'))`` with the
  published ``sigma = [0.0248 0.0185 0.0179 0.0191 0.0220 0.2782]`` and the 5x5 neighbour filters
  of ``DN_filters`` (level 1 includes the small ``0.0072`` tap two pixels to the right that some
  ports drop);
* ``NLPD = mean_k sqrt(mean((y_k - y'_k)^2))``.

Pillar: perceptual. NLPD is a standard perceptual full-reference baseline: its transform models
early visual gain control (divisive normalisation fitted to human data) and it is validated
against human opinion (TID2008/LIVE), not pixel error. Lower is better (0 for identical images).
See ``docs/metrics-fr-classic.md``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ._filters import conv2_same, fast_check_pair, separable_filter_valid
from .fsim import _FRPerceptual
from .registry import register
from .vif import _grey

#: Number of pyramid levels of NLP_dist.m.
NLPD_LEVELS = 6
#: Burt & Adelson's 5-tap filter; the 2-D filter is its outer product.
BURT_ADELSON = (0.05, 0.25, 0.4, 0.25, 0.05)
#: Divisive normalisation constants of DN_filters (learned on McGill by the authors).
NLPD_SIGMAS = (0.0248, 0.0185, 0.0179, 0.0191, 0.0220, 0.2782)
#: Non-zero taps ``(row, col, value)`` of the 5x5 DN_filters(k).F2, 0-based.
NLPD_DN_TAPS: tuple[tuple[tuple[int, int, float], ...], ...] = (
    ((1, 2, 0.1011), (2, 1, 0.1493), (2, 3, 0.1460), (2, 4, 0.0072), (3, 2, 0.1015)),
    ((1, 2, 0.0757), (2, 1, 0.1986), (2, 3, 0.1846), (3, 2, 0.0837)),
    ((1, 2, 0.0477), (2, 1, 0.2138), (2, 3, 0.2243), (3, 2, 0.0467)),
    ((2, 1, 0.2503), (2, 3, 0.2616)),
    ((2, 1, 0.2598), (2, 3, 0.2552)),
    ((2, 1, 0.2215), (2, 3, 0.0717)),
)
#: Smallest side: 6 levels need 2^5 px.
NLPD_MIN_SIZE = 32


def dn_filter(level: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The 5x5 divisive normalisation filter ``DN_filts(level + 1).F2`` (for ``conv2``)."""
    f = torch.zeros(5, 5, dtype=dtype)
    for r, c, v in NLPD_DN_TAPS[level]:
        f[r, c] = v
    return f


def _downsample(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``imfilter(x, k' k, 'symmetric')`` then ``x(1:2:end, 1:2:end)``."""
    return separable_filter_valid(_pad_symmetric2(x), k)[..., ::2, ::2]


def _pad_symmetric2(x: torch.Tensor) -> torch.Tensor:
    """MATLAB ``padarray(x, [2 2], 'symmetric')`` (mirror including the edge); sides >= 2."""
    x = torch.cat((x[..., 1:2, :], x[..., 0:1, :], x, x[..., -1:, :], x[..., -2:-1, :]), dim=-2)
    return torch.cat((x[..., 1:2], x[..., 0:1], x, x[..., -1:], x[..., -2:-1]), dim=-1)


def _upsample(x: torch.Tensor, odd: tuple[int, int], k: torch.Tensor) -> torch.Tensor:
    """``upsample`` of laplacian_pyramid_s: replicate-pad 1, zero-insert x4, filter (zero borders), crop."""
    xp = F.pad(x, (1, 1, 1, 1), mode="replicate")
    n, c, h, w = xp.shape
    r = torch.zeros(n, c, 2 * h, 2 * w, dtype=x.dtype, device=x.device)
    r[..., ::2, ::2] = 4.0 * xp
    r = separable_filter_valid(F.pad(r, (2, 2, 2, 2)), k)
    return r[..., 2 : 2 * h - 2 - odd[0], 2 : 2 * w - 2 - odd[1]]


def nlp_transform(img: torch.Tensor) -> list[torch.Tensor]:
    """The normalised Laplacian pyramid of ``NLP_dist.m`` for ``(B, 1, H, W)`` grey images in [0, 1]."""
    k = torch.tensor(BURT_ADELSON, dtype=img.dtype, device=img.device)
    out = []
    j = img
    for level in range(NLPD_LEVELS):
        if level < NLPD_LEVELS - 1:
            low = _downsample(j, k)
            odd = (2 * low.shape[-2] - j.shape[-2], 2 * low.shape[-1] - j.shape[-1])
            lap = j - _upsample(low, odd, k)
        else:
            low, lap = j, j
        a2 = conv2_same(lap.abs(), dn_filter(level, img.dtype))
        out.append(lap / (NLPD_SIGMAS[level] + a2))
        j = low
    return out


def nlpd(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """NLPD of the official ``NLP_dist.m`` (see the module docstring).

    Args:
        x: ``(N, C, H, W)`` distorted output in [0, 1], sides >= 32.
        ref: ``(N, C, H, W)`` reference, same shape.

    Returns:
        ``(N,)`` float64 distance >= 0; 0 for identical images; lower is better.
    """
    fast_check_pair(x, ref, NLPD_MIN_SIZE)
    n = x.shape[0]
    # float32 unless the input is float64: the distance needs ~1e-7 relative accuracy at most
    dt = torch.float64 if x.dtype == torch.float64 else torch.float32
    both = (torch.cat((_grey(ref), _grey(x)), dim=0) / 255.0).to(dt)
    dist = torch.zeros(n, dtype=torch.float64, device=x.device)
    for band in nlp_transform(both):
        d = band[:n] - band[n:]
        dist += torch.sqrt((d * d).flatten(1).sum(1).to(torch.float64) / d[0].numel())
    return dist / NLPD_LEVELS


@register
class NLPD(_FRPerceptual):
    """NLPD (official NLP_dist.m): distance in a normalised Laplacian pyramid (lower is better)."""

    name = "nlpd"
    version = "1"
    higher_is_better = False
    value_range = (0.0, float("inf"))
    min_size = NLPD_MIN_SIZE
    description = "Normalised Laplacian pyramid distance NLPD (Laparra et al. 2016, official NLP_dist.m); lower is better"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return nlpd(x, ref)


__all__ = ["dn_filter", "nlp_transform", "nlpd"]
