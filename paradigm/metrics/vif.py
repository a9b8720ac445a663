"""Visual information fidelity: VIF (wavelet domain, ``vifvec.m``) and VIFP (pixel domain, ``vifp_mscale.m``).

Sheikh & Bovik, "Image information and visual quality", IEEE TIP 2006. Both are the ratio of the
information the visual channel extracts from the distorted image to that from the reference, under a
Gaussian scale mixture model of the reference and a gain-plus-noise model of the distortion.

**VIF** (registry ``vif``) reproduces the official LIVE ``vifvec.m`` release:

* the grey image on the 0..255 scale (MATLAB ``rgb2gray`` of the 8-bit image, rounded as uint8);
* a 4-level steerable pyramid with the ``sp5Filters`` of matlabPyrTools (``buildSpyr(im, 4,
  'sp5Filters', 'reflect1')``): ``lo0filt`` first, then per level the oriented band filters and the
  ``lofilt`` low-pass with subsampling by 2, all correlations with reflect-without-repeat borders;
* the eight subbands ``[4 7 10 13 16 19 22 25]`` of ``ind2wav`` (orientations 1 and 4 of each
  level), cropped to a multiple of ``M = 3``;
* distortion channel (``vifsub_est_M``): box windows of ``2^lev + 1`` (``lev = ceil((sub - 1) / 6)``)
  sampled every 3 coefficients from offset 1, gain ``g`` and noise ``vv`` with tolerance 1e-15 and
  the official clamps (including its quirk of using the undivided ``ss_y`` where ``ss_x`` is ~0 or
  ``g < 0``);
* reference model (``refparams_vecgsm``): the 9x9 covariance of all overlapping 3x3 neighbourhoods,
  ``s = x^T C^-1 x / 9`` on the non-overlapping ones, the eigenvalues of ``C``;
* ``sigma_n^2 = 0.4``, borders of ``ceil(((winsize - 1) / 2) / 3)`` coefficients dropped, and
  ``VIF = sum log2(1 + g^2 s lambda / (vv + sigma_n^2)) / sum log2(1 + s lambda / sigma_n^2)``.

**VIFP** (registry ``vifp``) reproduces ``vifp_mscale.m``: four scales, Gaussian windows of
``N = 2^(4 - s + 1) + 1`` taps with sigma ``N / 5`` ('valid' filtering, as ``filter2``), each coarser
scale filtered with its own window and subsampled ``(1:2:end)``; ``sigma_n^2 = 2``; log10 sums; on the
same 8-bit ``rgb2gray`` image.

Pillar: perceptual. VIF/VIFP are standard perceptual full-reference baselines: they score how much
visual information survives under a natural-scene-statistics model of the human visual channel and
are validated against human opinion (LIVE, TID2013), not pixel error. See
``docs/metrics-fr-classic.md``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from ._filters import MEMO, fast_check_pair, gaussian_kernel1d, separable_filter_valid, thread_map
from .fidelity import MATLAB_GRAY, matlab_gray255
from .fsim import _FRPerceptual
from .registry import register

# matlabPyrTools ``sp5Filters.m``: ``lo0filt``, ``lofilt`` (the file lists half of it and multiplies
# by 2) and the first oriented band filter (``reshape(bfilts(:, 1), 7, 7)``); band 4 is ``-band1'``.
SP5_LO0 = (
    (0.00341614, -0.01551246, -0.03848215, -0.01551246, 0.00341614),
    (-0.01551246, 0.05586982, 0.15925570, 0.05586982, -0.01551246),
    (-0.03848215, 0.15925570, 0.40304148, 0.15925570, -0.03848215),
    (-0.01551246, 0.05586982, 0.15925570, 0.05586982, -0.01551246),
    (0.00341614, -0.01551246, -0.03848215, -0.01551246, 0.00341614),
)
SP5_LO = (
    (0.00085404, -0.00244917, -0.00387812, -0.00944432, -0.00962054, -0.00944432, -0.00387812, -0.00244917, 0.00085404),
    (-0.00244917, -0.00523281, -0.00661117, 0.00410600, 0.01002988, 0.00410600, -0.00661117, -0.00523281, -0.00244917),
    (-0.00387812, -0.00661117, 0.01396746, 0.03277038, 0.03981393, 0.03277038, 0.01396746, -0.00661117, -0.00387812),
    (-0.00944432, 0.00410600, 0.03277038, 0.06426333, 0.08169618, 0.06426333, 0.03277038, 0.00410600, -0.00944432),
    (-0.00962054, 0.01002988, 0.03981393, 0.08169618, 0.10096540, 0.08169618, 0.03981393, 0.01002988, -0.00962054),
    (-0.00944432, 0.00410600, 0.03277038, 0.06426333, 0.08169618, 0.06426333, 0.03277038, 0.00410600, -0.00944432),
    (-0.00387812, -0.00661117, 0.01396746, 0.03277038, 0.03981393, 0.03277038, 0.01396746, -0.00661117, -0.00387812),
    (-0.00244917, -0.00523281, -0.00661117, 0.00410600, 0.01002988, 0.00410600, -0.00661117, -0.00523281, -0.00244917),
    (0.00085404, -0.00244917, -0.00387812, -0.00944432, -0.00962054, -0.00944432, -0.00387812, -0.00244917, 0.00085404),
)
SP5_BAND1 = (
    (0.00277643, -0.00986904, -0.01021852, 0.0, 0.01021852, 0.00986904, -0.00277643),
    (0.00496194, -0.00893064, -0.03075356, 0.0, 0.03075356, 0.00893064, -0.00496194),
    (0.01026699, 0.01189859, -0.08226445, 0.0, 0.08226445, -0.01189859, -0.01026699),
    (0.01455399, 0.02755155, -0.11732297, 0.0, 0.11732297, -0.02755155, -0.01455399),
    (0.01026699, 0.01189859, -0.08226445, 0.0, 0.08226445, -0.01189859, -0.01026699),
    (0.00496194, -0.00893064, -0.03075356, 0.0, 0.03075356, 0.00893064, -0.00496194),
    (0.00277643, -0.00986904, -0.01021852, 0.0, 0.01021852, 0.00986904, -0.00277643),
)

#: ``vifvec.m``: neighbourhood size, subbands used (``ind2wav`` numbering) and noise variance.
VIF_M = 3
VIF_SUBBANDS = (4, 7, 10, 13, 16, 19, 22, 25)
VIF_SIGMA_NSQ = 0.4
VIF_TOL = 1e-15
#: Pyramid levels of ``vifvec.m``; the coarsest subband must hold a few 3x3 neighbourhoods.
VIF_LEVELS = 4
VIF_MIN_SIZE = 64
#: ``vifp_mscale.m``: noise variance and the tolerance of its clamps.
VIFP_SIGMA_NSQ = 2.0
VIFP_TOL = 1e-10
VIFP_MIN_SIZE = 41


def _grey(x: torch.Tensor) -> torch.Tensor:
    """The 0..255 uint8-rounded ``rgb2gray`` image in float64 (:func:`matlab_gray255` of the float64
    image), once per batch tensor; image by image, side by side on the cores (``thread_map``), so
    each image's float64 copy stays in cache. The values are elementwise, hence the batch's."""

    if x.device.type == "cpu" and x.shape[1] == 3 and x.dtype in (torch.float32, torch.float64) and not x.requires_grad:
        from ._gray_jit import gray255

        weights = (MATLAB_GRAY[0] * 255.0, MATLAB_GRAY[1] * 255.0, MATLAB_GRAY[2] * 255.0)
        xs = x.contiguous().numpy()

        def one(i: int) -> torch.Tensor:  # the same float64 operations in one compiled pass
            return torch.from_numpy(gray255(xs[i], weights))[None, None]

    else:

        def one(i: int) -> torch.Tensor:
            return matlab_gray255(x[i : i + 1].to(torch.float64), quantize=True, y_channel=False)

    return MEMO.get_or_compute("vif_grey", (x,), lambda: torch.cat(thread_map(one, range(x.shape[0]))))


def _corr_reflect(x: torch.Tensor, filt: torch.Tensor, step: int = 1) -> torch.Tensor:
    """matlabPyrTools ``corrDn(x, filt, 'reflect1', [step step])``: correlation, mirror borders without
    repeating the edge, samples ``1:step:end``; ``x`` is ``(B, 1, H, W)``, ``filt`` ``(K, 1, kh, kw)`` odd-sized.

    Each filter runs as one depthwise convolution over the batch folded into channels
    (``(1, B, H, W)``, ``groups=B``, channels-last on CPU): oneDNN's depthwise path is several times
    faster on CPU than a ``(B, 1, H, W)`` batch through a ``(K, 1, kh, kw)`` weight.
    """
    kh, kw = filt.shape[-2:]
    b = x.shape[0]
    xp = F.pad(x, ((kw - 1) // 2, (kw - 1) // 2, (kh - 1) // 2, (kh - 1) // 2), mode="reflect")
    xf = xp.reshape(1, b, *xp.shape[-2:])
    if x.device.type == "cpu":
        xf = xf.contiguous(memory_format=torch.channels_last)
    outs = [F.conv2d(xf, f.to(x).expand(b, 1, kh, kw).contiguous(), stride=step, groups=b) for f in filt]
    return torch.cat(outs, dim=0).transpose(0, 1).contiguous()


def _vif_subbands(g: torch.Tensor) -> dict[int, torch.Tensor]:
    """The ``vifvec.m`` subbands of a ``(B, 1, H, W)`` grey batch, keyed by ``ind2wav`` number.

    The filtering runs in float32 (oneDNN's fast path; float64 convolutions are ~10x slower on CPU)
    on the integer grey levels, unless the grey batch is float64.
    """
    dt = torch.float64 if g.dtype == torch.float64 else torch.float32
    lo0 = torch.tensor(SP5_LO0, dtype=dt)[None, None]
    lofilt = 2.0 * torch.tensor(SP5_LO, dtype=dt)[None, None]
    band1 = torch.tensor(SP5_BAND1, dtype=dt)
    both = torch.stack((band1, -band1.t()))[:, None]  # orientations 1 and 4
    lo = _corr_reflect(g.to(dt), lo0)
    out: dict[int, torch.Tensor] = {}
    for level in range(1, VIF_LEVELS + 1):
        bands = _corr_reflect(lo, both)
        # ind2wav numbers the 26 bands in reverse pyramid order: level L, orientation o -> 26 - 6 (L - 1) - o
        base = 26 - 6 * (level - 1)
        out[base - 1], out[base - 4] = bands[:, 0:1], bands[:, 1:2]
        if level < VIF_LEVELS:
            lo = _corr_reflect(lo, lofilt, step=2)
    return out


def _crop_m(y: torch.Tensor) -> torch.Tensor:
    h, w = y.shape[-2:]
    return y[..., : h // VIF_M * VIF_M, : w // VIF_M * VIF_M]


def _box_sum_sampled(y: torch.Tensor, winsize: int) -> torch.Tensor:
    """``corrDn(y, ones(w), 'reflect1', [M M], [2 2], size - 1)``: box sums centred on 1, 4, 7, ... (0-based).

    Differences of float64 cumulative sums taken at the sampled windows only (rows, then columns):
    two passes whatever the window size, accumulated in float64 and returned in ``y``'s dtype.
    """
    r = (winsize - 1) // 2
    yp = F.pad(y, (r, r, r, r), mode="reflect")[..., 1:, 1:]
    rows = _window_sums(yp.cumsum(dim=-2, dtype=torch.float64), winsize, -2)
    return _window_sums(rows.cumsum(dim=-1), winsize, -1).to(y.dtype)


def _window_sums(c: torch.Tensor, winsize: int, dim: int) -> torch.Tensor:
    """Sums of ``x[3 i : 3 i + winsize]`` along ``dim`` from the inclusive cumulative sums ``c`` of ``x``."""
    out_n = (c.shape[dim] - winsize) // VIF_M + 1
    ends = c.narrow(dim, winsize - 1, VIF_M * (out_n - 1) + 1).unfold(dim, 1, VIF_M).squeeze(-1).clone()
    if out_n > 1:  # window i > 0 starts after index 3 i - 1
        starts = c.narrow(dim, VIF_M - 1, VIF_M * (out_n - 2) + 1).unfold(dim, 1, VIF_M).squeeze(-1)
        ends.narrow(dim, 1, out_n - 1).sub_(starts)
    return ends


def _channel_params(y: torch.Tensor, yn: torch.Tensor, winsize: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gain ``g`` and noise variance ``vv`` of ``vifsub_est_M`` for one subband (all official clamps)."""
    area = float(winsize * winsize)
    stack = _box_sum_sampled(torch.cat((y, yn, y * yn, y * y, yn * yn), dim=1), winsize)
    mx, my = stack[:, 0:1] / area, stack[:, 1:2] / area
    cov = stack[:, 2:3] - area * mx * my
    ss_x = (stack[:, 3:4] - area * mx * mx).clamp_min(0.0)
    ss_y = (stack[:, 4:5] - area * my * my).clamp_min(0.0)
    g = cov / (ss_x + VIF_TOL)
    vv = (ss_y - g * cov) / area
    low_x, low_y = ss_x < VIF_TOL, ss_y < VIF_TOL
    g = torch.where(low_x, 0.0, g)
    vv = torch.where(low_x, ss_y, vv)
    g = torch.where(low_y, 0.0, g)
    vv = torch.where(low_y, 0.0, vv)
    vv = torch.where(g < 0, ss_y, vv)
    g = g.clamp_min(0.0)
    vv = torch.where(vv <= VIF_TOL, VIF_TOL, vv)
    return g, vv


def _gsm_params(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``refparams_vecgsm`` for one subband: the field ``s`` ``(B, 1, h, w)`` and eigenvalues ``(B, 9)``.

    Computed in float64 whatever the input dtype: float32 sums over the ~10^5 neighbourhoods move
    VIF by ~1e-4.
    """
    dt = y.dtype
    y = y.to(torch.float64)
    b, _, hh, ww = y.shape
    m = VIF_M
    # every 3x3 neighbourhood as 9 shifted views, (B, 9, L)
    patches = torch.stack([y[:, 0, k : hh - m + 1 + k, j : ww - m + 1 + j] for k in range(m) for j in range(m)], 1)
    patches = patches.flatten(2)
    # covariance as E[p p^T] - E[p] E[p]^T: float64 keeps the cancellation ~1e-12 relative here
    mean = patches.mean(dim=2, keepdim=True)
    cu = patches @ patches.transpose(1, 2) / patches.shape[2] - mean @ mean.transpose(1, 2)
    # non-overlapping blocks in the same element order, (B, 9, L')
    blocks = y.reshape(b, hh // m, m, ww // m, m).permute(0, 2, 4, 1, 3).reshape(b, m * m, -1)
    # pseudo-inverse: equals inv() for the (positive definite) covariance of a textured subband,
    # and stays finite for a flat one (MATLAB's inv() warns and returns Inf there)
    ss = ((torch.linalg.pinv(cu, hermitian=True) @ blocks) * blocks).sum(dim=1) / (m * m)
    h, w = hh // m, ww // m
    return ss.reshape(b, 1, h, w).to(dt), torch.linalg.eigvalsh(cu).to(dt)


def vif(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """VIF in the steerable-pyramid domain, as the official ``vifvec.m`` (see the module docstring).

    Args:
        x: ``(N, C, H, W)`` distorted output in [0, 1], sides >= 64.
        ref: ``(N, C, H, W)`` reference, same shape.

    Returns:
        ``(N,)`` float64 VIF: 1 for identical images, 0 when no information survives; can exceed 1
        for contrast enhancement. Higher is better. NaN when the reference carries no information
        (a flat image: 0 / 0, as the official code).
    """
    fast_check_pair(x, ref, VIF_MIN_SIZE)
    # float32 unless the input is float64 (the official values are reproduced to ~1e-6 either way)
    dt = torch.float64 if x.dtype == torch.float64 else torch.float32
    gd, gr = _grey(x).to(dt), _grey(ref).to(dt)
    n = x.shape[0]
    bands = _vif_subbands(torch.cat((gr, gd), dim=0))
    num = torch.zeros(n, dtype=torch.float64, device=x.device)
    den = torch.zeros_like(num)
    for sub in VIF_SUBBANDS:
        both = _crop_m(bands[sub])
        winsize = 2 ** math.ceil((sub - 1) / 6) + 1
        # image by image: the float64 statistics of one subband then stay in cache
        terms = [_vif_terms(both[i : i + 1], both[n + i : n + i + 1], winsize) for i in range(n)]
        num += torch.cat([t[0] for t in terms])
        den += torch.cat([t[1] for t in terms])
    return num / den


def _vif_terms(y: torch.Tensor, yn: torch.Tensor, winsize: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One subband's numerator and denominator sums ``(B,)`` (float64) of reference ``y`` and distorted ``yn``."""
    g, vv = _channel_params(y, yn, winsize)
    ss, lam = _gsm_params(y)
    off = math.ceil(((winsize - 1) / 2) / VIF_M)
    crop = (..., slice(off, -off), slice(off, -off))
    g, vv, ss = g[crop].flatten(1), vv[crop].flatten(1), ss[crop].flatten(1)
    lam = lam[:, :, None]  # (B, 9, 1)
    num = torch.log2(1 + (g * g * ss)[:, None] * lam / (vv[:, None] + VIF_SIGMA_NSQ)).sum(dim=(1, 2)).double()
    den = torch.log2(1 + ss[:, None] * lam / VIF_SIGMA_NSQ).sum(dim=(1, 2)).double()
    return num, den


def vifp(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Pixel-domain multi-scale VIF, as the official ``vifp_mscale.m`` (see the module docstring).

    Args:
        x: ``(N, C, H, W)`` distorted output in [0, 1], sides >= 41.
        ref: ``(N, C, H, W)`` reference, same shape.

    Returns:
        ``(N,)`` float64 VIFP: 1 for identical images, 0 when no information survives; can exceed 1
        for contrast enhancement. Higher is better. NaN for a flat reference (0 / 0, as the official code).
    """
    fast_check_pair(x, ref, VIFP_MIN_SIZE)
    a = torch.cat((_grey(ref), _grey(x)), dim=1)  # (N, 2, H, W): reference, distorted
    num = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    den = torch.zeros_like(num)
    for scale in range(1, 5):
        size = 2 ** (4 - scale + 1) + 1
        win = gaussian_kernel1d(size, size / 5.0, dtype=torch.float64)
        if scale > 1:
            a = separable_filter_valid(a, win)[..., ::2, ::2]
        r, d = a[:, 0:1], a[:, 1:2]
        f = separable_filter_valid(torch.cat((a, r * r, d * d, r * d), dim=1), win)
        mu1, mu2 = f[:, 0], f[:, 1]
        s1 = (f[:, 2] - mu1 * mu1).clamp_min(0.0)
        s2 = (f[:, 3] - mu2 * mu2).clamp_min(0.0)
        s12 = f[:, 4] - mu1 * mu2
        g = s12 / (s1 + VIFP_TOL)
        sv = s2 - g * s12
        low1, low2 = s1 < VIFP_TOL, s2 < VIFP_TOL
        g = torch.where(low1, 0.0, g)
        sv = torch.where(low1, s2, sv)
        s1 = torch.where(low1, 0.0, s1)
        g = torch.where(low2, 0.0, g)
        sv = torch.where(low2, 0.0, sv)
        sv = torch.where(g < 0, s2, sv)
        g = g.clamp_min(0.0)
        sv = torch.where(sv <= VIFP_TOL, VIFP_TOL, sv)
        num += torch.log10(1 + g * g * s1 / (sv + VIFP_SIGMA_NSQ)).flatten(1).sum(1)
        den += torch.log10(1 + s1 / VIFP_SIGMA_NSQ).flatten(1).sum(1)
    return num / den


@register
class VIF(_FRPerceptual):
    """VIF (official vifvec.m): steerable-pyramid information fidelity on the rgb2gray image."""

    name = "vif"
    version = "3"
    higher_is_better = True
    value_range = (0.0, float("inf"))
    ideal = 1.0  # identical images; contrast enhancement can exceed it
    min_size = VIF_MIN_SIZE
    description = "Visual information fidelity VIF (Sheikh & Bovik 2006, official vifvec.m, steerable pyramid)"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return vif(x, ref)


@register
class VIFP(_FRPerceptual):
    """VIFP (official vifp_mscale.m): pixel-domain, 4-scale information fidelity on the rgb2gray image."""

    name = "vifp"
    version = "1"
    higher_is_better = True
    value_range = (0.0, float("inf"))
    ideal = 1.0  # identical images; contrast enhancement can exceed it
    min_size = VIFP_MIN_SIZE
    description = "Pixel-domain visual information fidelity VIFP (Sheikh & Bovik 2006, official vifp_mscale.m)"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return vifp(x, ref)


__all__ = ["vif", "vifp"]
