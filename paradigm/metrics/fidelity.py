"""Pixel-fidelity metrics: PSNR, PSNR-Y, SSIM, MS-SSIM, GMSD and CIEDE2000.

Each metric is a pure function over ``(N, C, H, W)`` float tensors in ``[0, 1]`` (C = 3 RGB or C = 1
grey) returning an ``(N,)`` float64 tensor, plus a thin registered :class:`Metric` class.

SSIM, MS-SSIM and GMSD reproduce the authors' MATLAB releases run the way the IQA-PyTorch
``ResultsCalibra`` reference values were produced: the image is converted with MATLAB ``rgb2gray``
on 8-bit data (exact coefficients ``0.298936021293775, 0.587043074451121, 0.114020904255103``,
rounded half away from zero to integers 0..255) and the metric runs on that 0..255 grey image.
See ``docs/metrics-fidelity.md`` for the measured agreement.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from ..errors import InputError
from ._filters import (
    MEMO,
    conv2_same,
    fast_check_pair,
    gaussian_kernel1d,
    matlab_average_downsample,
    separable_filter_valid,
    thread_map,
)
from .base import FullReferenceMetric, Pillar
from .colour import ciede2000_map, mean_ciede2000, rgb_to_lab, rgb_to_y, y_rule
from .registry import register

#: Coefficients MATLAB's rgb2gray actually uses (first row of inv(NTSC)); documented as 0.2989/0.5870/0.1140.
MATLAB_GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
#: MS-SSIM scale weights (Wang, Simoncelli & Bovik 2003).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: PSNR of identical images (and the cap of all PSNR values), in dB.
PSNR_MAX_DB = 100.0


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """float64 stays float64; everything else is computed in float32."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _round_half_away(x: torch.Tensor) -> torch.Tensor:
    """MATLAB ``round`` / uint8 conversion for non-negative values (torch.round is half-to-even)."""
    return torch.floor(x + 0.5)


def matlab_gray255(x: torch.Tensor, *, quantize: bool = True, y_channel: bool | str = False) -> torch.Tensor:
    """The 0..255 grey image the official MATLAB scripts receive.

    Args:
        x: ``(N, C, H, W)`` float in [0, 1], C in {1, 3}.
        quantize: round to integers like MATLAB's ``uint8`` output of ``rgb2gray`` (default, as the
            official values); False keeps the continuous grey level.
        y_channel: use BT.601 studio-swing luma (MATLAB ``rgb2ycbcr`` Y / BasicSR, 16..235) instead
            of ``rgb2gray``; this follows BasicSR's ``test_y_channel`` and is never quantised.

    Returns:
        ``(N, 1, H, W)`` in the compute dtype (float32, or float64 for float64 input), range 0..255.
    """
    xd = x.to(_compute_dtype(x))
    if y_channel:
        return rgb_to_y(xd, y_range="matlab", round8=y_rule(y_channel) == "matlab") * 255.0
    if xd.shape[1] != 3:
        g = xd * 255.0
        return _round_half_away(g).clamp_(0, 255) if quantize else g
    # weights applied to 8-bit values, as rgb2gray on uint8 data: (w0 x0 + w1 x1) + w2 x2, then
    # floor(g + 0.5) clamped; one image at a time into one buffer (the planes stay in the CPU caches)
    n, _, h, w = xd.shape
    out = torch.empty((n, 1, h, w), dtype=xd.dtype, device=xd.device)
    tmp = torch.empty((1, 1, h, w), dtype=xd.dtype, device=xd.device)
    w0, w1, w2 = (c * 255.0 for c in MATLAB_GRAY)
    for i in range(n):
        g = out[i : i + 1]
        torch.mul(xd[i : i + 1, 0:1], w0, out=g)
        g.add_(torch.mul(xd[i : i + 1, 1:2], w1, out=tmp))
        g.add_(torch.mul(xd[i : i + 1, 2:3], w2, out=tmp))
        if quantize:
            g.add_(0.5).floor_().clamp_(0, 255)
    return out


def _gray_memo(x: torch.Tensor, quantize: bool, y_channel: bool | str) -> torch.Tensor:
    """:func:`matlab_gray255` of ``x``, computed once per batch tensor (shared by SSIM, MS-SSIM, GMSD)."""
    return MEMO.get_or_compute(
        ("gray255", quantize, y_channel), (x,), lambda: matlab_gray255(x, quantize=quantize, y_channel=y_channel)
    )


# --------------------------------------------------------------------------------------------- PSNR


def psnr(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    y_channel: bool | str = False,
    data_range: float = 1.0,
    max_db: float = PSNR_MAX_DB,
) -> torch.Tensor:
    """Peak signal-to-noise ratio ``10 log10(data_range^2 / MSE)`` over all channels and pixels.

    With RGB input this equals ``skimage.metrics.peak_signal_noise_ratio`` on the 8-bit images.
    Values are capped at ``max_db`` (default 100 dB, i.e. MSE <= 1e-10): identical images give
    exactly ``max_db`` instead of ``inf``, which keeps means and standard deviations finite.

    Args:
        x: ``(N, C, H, W)`` output in [0, 1].
        y: ``(N, C, H, W)`` reference, same shape.
        y_channel: compute on BT.601 Y instead of RGB: True/``"float"``: BasicSR's float Y
            (``test_y_channel``); ``"matlab"``: MATLAB ``rgb2ycbcr`` on uint8 input (Y rounded to 8 bits).
        data_range: peak value (1 for [0, 1] images).
        max_db: cap in dB.

    Returns:
        ``(N,)`` float64 PSNR in dB, in ``[~0, max_db]``; higher is better.
    """
    fast_check_pair(x, y)
    rule = y_rule(y_channel)
    if rule is not None:
        r8 = rule == "matlab"
        x, y = rgb_to_y(x.to(torch.float64), round8=r8), rgb_to_y(y.to(torch.float64), round8=r8)
    dt = _compute_dtype(x)
    diff = x.to(dt) - y.to(dt)
    # a float32 row sum (torch sums in cascades: ~1e-7 relative, 4e-7 dB) then float64; reducing with
    # ``dtype=torch.float64`` takes a conversion path ~20x slower on CPU
    mse = diff.mul_(diff).flatten(1).sum(1).to(torch.float64) / diff[0].numel()
    floor = data_range**2 * 10.0 ** (-max_db / 10.0)
    return 10.0 * torch.log10(data_range**2 / mse.clamp_min(floor))


# --------------------------------------------------------------------------------------------- SSIM


def _ssim_means(
    a: torch.Tensor, b: torch.Tensor, *, c1: float, c2: float, win: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and mean contrast-structure term of single-channel batches (``ssim_index_new.m``).

    Inputs are centred on a per-image constant before filtering (variances and covariances are
    shift invariant) so that float32 keeps ~1e-6 accuracy.
    """
    n, _, h, w = a.shape
    shift = 0.5 * (a.mean(dim=(1, 2, 3), keepdim=True) + b.mean(dim=(1, 2, 3), keepdim=True))
    stack = torch.empty((n, 5, h, w), dtype=a.dtype, device=a.device)  # (N, 5, H, W): one conv call
    ac = torch.sub(a, shift, out=stack[:, 0:1])
    bc = torch.sub(b, shift, out=stack[:, 1:2])
    torch.mul(ac, ac, out=stack[:, 2:3])
    torch.mul(bc, bc, out=stack[:, 3:4])
    torch.mul(ac, bc, out=stack[:, 4:5])
    f = separable_filter_valid(stack, win).contiguous()
    mu1c, mu2c = f[:, 0], f[:, 1]
    # the same operations as (2 s12 + c2) / (s11 + s22 + c2) and (2 mu1 mu2 + c1) / (mu1^2 + mu2^2 + c1),
    # in place to spare allocations
    s11 = mu1c * mu1c
    s11 = torch.sub(f[:, 2], s11, out=s11)
    s22 = mu2c * mu2c
    s22 = torch.sub(f[:, 3], s22, out=s22)
    s12 = mu1c * mu2c
    s12 = torch.sub(f[:, 4], s12, out=s12)
    cs = s12.mul_(2).add_(c2).div_(s11.add_(s22).add_(c2))
    sh = shift.view(n, 1, 1)
    mu1, mu2 = mu1c + sh, mu2c + sh
    den = (mu1 * mu1).add_(mu2 * mu2).add_(c1)
    lum = mu1.mul_(2).mul_(mu2).add_(c1).div_(den)
    return lum.mul_(cs).flatten(1).mean(1), cs.flatten(1).mean(1)


def _ssim_means_split(
    a: torch.Tensor, b: torch.Tensor, *, c1: float, c2: float, win: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_ssim_means`; on CPU in float32 one compiled loop per image (:mod:`._ssim_jit`), the
    images on all cores (each image alone, so the values do not depend on the thread count)."""
    if a.device.type != "cpu" or a.dtype != torch.float32 or b.dtype != torch.float32:
        return _ssim_means(a, b, c1=c1, c2=c2, win=win)
    from ._ssim_jit import ssim_means

    an, bn = a.contiguous().numpy()[:, 0], b.contiguous().numpy()[:, 0]
    taps = win.to(torch.float32).numpy()
    parts = thread_map(lambda i: ssim_means(an[i], bn[i], taps, c1, c2), range(a.shape[0]))
    return (torch.tensor([p[0] for p in parts], dtype=torch.float64),
            torch.tensor([p[1] for p in parts], dtype=torch.float64))


def capped_db(signal: torch.Tensor, noise: torch.Tensor, max_db: float) -> torch.Tensor:
    """``10 log10(signal / noise)``, reading ``max_db`` wherever ``noise <= signal * 10^(-max_db/10)``
    (a zero noise included), as :func:`psnr` caps a perfect copy."""
    capped = noise <= signal * 10.0 ** (-max_db / 10.0)
    ratio = 10.0 * torch.log10(signal / torch.where(capped, torch.ones_like(noise), noise))
    return torch.where(capped, torch.full_like(ratio, max_db), ratio)


def _ssim_downsample(a: torch.Tensor, b: torch.Tensor, win_size: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``ssim.m``'s automatic pre-step on grey images: ``f = max(1, round(min(H, W) / 256))``, an ``f x f``
    box filter and subsampling by ``f``. Returns the downsampled pair and ``f``."""
    f = max(1, int(math.floor(min(a.shape[-2:]) / 256 + 0.5)))
    a, b = matlab_average_downsample(a, f), matlab_average_downsample(b, f)
    if min(a.shape[-2:]) < win_size:
        raise InputError(f"images of {tuple(a.shape[-2:])} px after {f}x downsampling are too small for SSIM")
    return a, b, f


def _ssim_constants(k1: float, k2: float) -> tuple[float, float]:
    return (k1 * 255.0) ** 2, (k2 * 255.0) ** 2


def ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    downsample: bool = False,
    quantize: bool = True,
    y_channel: bool | str = False,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004), official MATLAB semantics.

    Runs on the 0..255 grey image (see :func:`matlab_gray255`) with an 11x11 Gaussian window
    (sigma 1.5), ``C1 = (0.01 * 255)^2``, ``C2 = (0.03 * 255)^2``, 'valid' filtering and the mean of
    the SSIM map, as ``ssim_index.m``. With ``downsample=True`` the ``ssim.m`` (2009) pre-step is
    applied first: ``f = max(1, round(min(H, W) / 256))``, an ``f x f`` box filter with symmetric
    padding and subsampling by ``f``. The default (no downsampling) reproduces the reference values
    of the IQA-PyTorch calibration set, which were computed without it.

    Args:
        x: ``(N, C, H, W)`` output in [0, 1].
        y: ``(N, C, H, W)`` reference, same shape, each side >= ``win_size`` (x f when downsampling).
        downsample: apply the ``ssim.m`` automatic downsampling.
        quantize: round the grey image to integers as MATLAB's uint8 ``rgb2gray``.
        y_channel: use BT.601 Y (BasicSR convention) instead of ``rgb2gray``.
        win_size, sigma, k1, k2: window and stabilising constants.

    Returns:
        ``(N,)`` float64 SSIM, at most 1 (identical images), usually in [0, 1]; higher is better.
    """
    fast_check_pair(x, y, win_size)
    if not downsample:
        return _ssim_scale0(x, y, quantize, y_channel, win_size, sigma, k1, k2)[0].to(torch.float64)
    a, b, _ = _ssim_downsample(_gray_memo(x, quantize, y_channel), _gray_memo(y, quantize, y_channel), win_size)
    c1, c2 = _ssim_constants(k1, k2)
    win = gaussian_kernel1d(win_size, sigma, dtype=a.dtype, device=a.device)
    return _ssim_means_split(a, b, c1=c1, c2=c2, win=win)[0].to(torch.float64)


def _ssim_scale0(
    x: torch.Tensor, y: torch.Tensor, quantize: bool, y_channel: bool | str, win_size: int, sigma: float, k1: float, k2: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and mean ``cs`` at full resolution; computed once per batch for SSIM and MS-SSIM."""

    def compute() -> tuple[torch.Tensor, torch.Tensor]:
        a = _gray_memo(x, quantize, y_channel)
        b = _gray_memo(y, quantize, y_channel)
        c1, c2 = _ssim_constants(k1, k2)
        win = gaussian_kernel1d(win_size, sigma, dtype=a.dtype, device=a.device)
        return _ssim_means_split(a, b, c1=c1, c2=c2, win=win)

    return MEMO.get_or_compute(("ssim0", quantize, y_channel, win_size, sigma, k1, k2), (x, y), compute)


def ms_ssim_min_size(levels: int = 5, win_size: int = 11) -> int:
    """Smallest image side for which every scale of MS-SSIM still holds a ``win_size`` window."""
    # each level halves with ceil (symmetric 2x2 box + subsampling 1:2:end)
    return (win_size - 1) * 2 ** (levels - 1) + 1


def ms_ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    quantize: bool = True,
    y_channel: bool | str = False,
    weights: tuple[float, ...] = MS_SSIM_WEIGHTS,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003), as the official ``msssim.m``.

    At each of ``len(weights)`` scales the mean contrast-structure term ``cs`` is computed on the
    0..255 grey image, then the image is filtered with a 2x2 box (``imfilter``, 'symmetric') and
    subsampled ``(1:2:end)``; the result is ``prod(cs_1..cs_{L-1} ^ w) * ssim_L ^ w_L``.
    No clipping of negative ``cs`` is done (as MATLAB); with ``quantize`` only the grey input is
    rounded, the downsampled scales stay continuous (``msssim.m`` works in double).

    Args:
        x: ``(N, C, H, W)`` output in [0, 1].
        y: ``(N, C, H, W)`` reference; each side >= :func:`ms_ssim_min_size` (161 px for 5 scales).
        quantize, y_channel: as :func:`ssim`.
        weights: per-scale exponents.
        win_size, sigma, k1, k2: window and constants.

    Returns:
        ``(N,)`` float64 MS-SSIM, at most 1; higher is better. (NaN is possible only if a coarse-scale
        ``cs`` is negative, which needs anti-correlated images.)

    Raises:
        InputError: images too small for the number of scales.
    """
    need = ms_ssim_min_size(len(weights), win_size)
    fast_check_pair(x, y)
    if min(x.shape[-2:]) < need:
        raise InputError(
            f"images of {tuple(x.shape[-2:])} px are too small for MS-SSIM with {len(weights)} scales "
            f"(min side {need} px); use 'ssim' for small images"
        )
    a = _gray_memo(x, quantize, y_channel)
    b = _gray_memo(y, quantize, y_channel)
    c1, c2 = _ssim_constants(k1, k2)
    win = gaussian_kernel1d(win_size, sigma, dtype=a.dtype, device=a.device)
    w = torch.tensor(weights, dtype=torch.float64, device=a.device)
    out = torch.ones(a.shape[0], dtype=torch.float64, device=a.device)
    levels = len(weights)
    for level in range(levels):
        if level == 0:
            s, cs = _ssim_scale0(x, y, quantize, y_channel, win_size, sigma, k1, k2)
        else:
            s, cs = _ssim_means_split(a, b, c1=c1, c2=c2, win=win)
        if level < levels - 1:
            out = out * cs.to(torch.float64).pow(w[level])
            ab = matlab_average_downsample(torch.cat((a, b), dim=1), 2)
            a, b = ab[:, 0:1], ab[:, 1:2]
        else:
            out = out * s.to(torch.float64).pow(w[level])
    return out


# --------------------------------------------------------------------------------------------- GMSD


def gmsd(x: torch.Tensor, y: torch.Tensor, *, quantize: bool = True, t: float = 170.0) -> torch.Tensor:
    """Gradient magnitude similarity deviation (Xue, Zhang, Mou & Bovik 2014), official ``GMSD.m``.

    On the 0..255 grey image: ``conv2(ones(2)/4, 'same')`` and subsampling by 2, Prewitt/3
    gradients (``conv2 'same'``, zero padding), ``GMS = (2 g1 g2 + T) / (g1^2 + g2^2 + T)`` with
    ``T = 170``, and the score is the standard deviation (N - 1 normalisation, as MATLAB ``std2``)
    of the GMS map.

    Args:
        x: ``(N, C, H, W)`` output in [0, 1], sides >= 4.
        y: ``(N, C, H, W)`` reference, same shape.
        quantize: round the grey image as MATLAB's uint8 ``rgb2gray``.
        t: stabilising constant on the 0..255 scale.

    Returns:
        ``(N,)`` float64 GMSD in [0, ~0.5]; 0 for identical images; lower is better.
    """
    fast_check_pair(x, y, 4)
    a = _gray_memo(x, quantize, False)
    b = _gray_memo(y, quantize, False)
    ab = matlab_average_downsample(torch.cat((a, b), dim=1), 2, padding="zeros")
    dx = torch.tensor([[1.0, 0.0, -1.0]] * 3, dtype=ab.dtype, device=ab.device) / 3.0
    gx = conv2_same(ab, dx)
    gy = conv2_same(ab, dx.t().contiguous())
    sq = gx * gx + gy * gy  # squared gradient magnitudes, (N, 2, h, w)
    s1, s2 = sq[:, 0], sq[:, 1]
    # 2 g1 g2 = 2 sqrt(s1 s2): exactly 2 s1 when s1 == s2, so identical images give exactly 0
    gms = (2 * torch.sqrt(s1 * s2) + t) / (s1 + s2 + t)
    return gms.flatten(1).to(torch.float64).std(dim=1, unbiased=True)


# ---------------------------------------------------------------------------------------- CIEDE2000


def ciede2000(x: torch.Tensor, y: torch.Tensor, *, float64: bool = False) -> torch.Tensor:
    """Mean CIEDE2000 colour difference over pixels (sRGB D65 -> CIELAB, kL = kC = kH = 1).

    Agrees with ``skimage.color.deltaE_ciede2000(rgb2lab(x), rgb2lab(y)).mean()``. Grey images are
    treated as neutral RGB.

    Args:
        x: ``(N, C, H, W)`` output in [0, 1].
        y: ``(N, C, H, W)`` reference, same shape.
        float64: compute in float64 (default: float32 unless the input is float64; float32 agrees
            with the float64 mean to ~1e-6 ΔE and is several times faster).

    Returns:
        ``(N,)`` float64 mean ΔE00 >= 0 (0 for identical images, ~100 for black vs white); lower is better.
    """
    fast_check_pair(x, y)
    dtype = torch.float64 if (float64 or x.dtype == torch.float64) else torch.float32
    return mean_ciede2000(x, y, dtype=dtype)


# --------------------------------------------------------------------------------------- error maps
# Per-pixel maps behind ``Metric.error_map`` (the heat maps of ``paradigm explain --heatmap``): each
# uses its metric's own grey conversion, window and constants; ``(N, H, W)`` float64 in [0, 1] at the
# input size, 0 where the output equals the reference.


def _fit_map(m: torch.Tensor, size: tuple[int, int], offset: int = 0, factor: int = 1) -> torch.Tensor:
    """A map ``(N, h, w)`` computed at ``1/factor`` resolution and/or with a 'valid' window that lost
    ``offset`` px on each side, brought back to ``size``: pixels repeated ``factor`` times, then the
    border values replicated (or the excess cropped) so that each pixel shows its own or the nearest
    window."""
    h, w = size
    if factor > 1:
        m = m.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)
    m = m[..., : h - offset, : w - offset]
    bottom, right = h - offset - m.shape[-2], w - offset - m.shape[-1]
    return torch.nn.functional.pad(m[:, None], (offset, right, offset, bottom), mode="replicate")[:, 0]


def squared_error_map(x: torch.Tensor, y: torch.Tensor, *, y_channel: bool | str = False) -> torch.Tensor:
    """Per-pixel squared error of :func:`psnr` (mean over channels; on Y by the same rule with
    ``y_channel``), divided by its largest value in each image (all zeros for identical images).

    Returns:
        ``(N, H, W)`` float64 in [0, 1].
    """
    fast_check_pair(x, y)
    rule = y_rule(y_channel)
    xd, yd = x.to(torch.float64), y.to(torch.float64)
    if rule is not None:
        r8 = rule == "matlab"
        xd, yd = rgb_to_y(xd, round8=r8), rgb_to_y(yd, round8=r8)
    e = ((xd - yd) ** 2).mean(dim=1)
    return e / e.flatten(1).amax(dim=1).clamp_min(1e-30).view(-1, 1, 1)


def _ssim_local(a: torch.Tensor, b: torch.Tensor, *, c1: float, c2: float, win: torch.Tensor) -> torch.Tensor:
    """The 'valid' local SSIM map ``(N, H - K + 1, W - K + 1)`` of single-channel batches (``ssim_index.m``)."""
    f = separable_filter_valid(torch.cat((a, b, a * a, b * b, a * b), dim=1), win)
    mu1, mu2 = f[:, 0], f[:, 1]
    s11, s22, s12 = f[:, 2] - mu1 * mu1, f[:, 3] - mu2 * mu2, f[:, 4] - mu1 * mu2
    return ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1 * mu1 + mu2 * mu2 + c1) * (s11 + s22 + c2))


def ssim_error_map(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    downsample: bool = False,
    quantize: bool = True,
    y_channel: bool | str = False,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """``1 -`` the local SSIM map whose mean is :func:`ssim` (same grey image, options and constants).

    Computed in float64; clipped to [0, 1] (local SSIM can be negative). The 'valid' map is brought back
    to the input size by :func:`_fit_map` (border windows repeated; downsampled maps upsampled).
    MS-SSIM's map is this map at its finest scale.

    Returns:
        ``(N, H, W)`` float64 in [0, 1]; 0 where the output equals the reference.
    """
    fast_check_pair(x, y, win_size)
    a = matlab_gray255(x, quantize=quantize, y_channel=y_channel).to(torch.float64)
    b = matlab_gray255(y, quantize=quantize, y_channel=y_channel).to(torch.float64)
    a, b, f = _ssim_downsample(a, b, win_size) if downsample else (a, b, 1)
    c1, c2 = _ssim_constants(k1, k2)
    win = gaussian_kernel1d(win_size, sigma, dtype=a.dtype, device=a.device)
    err = (1.0 - _ssim_local(a, b, c1=c1, c2=c2, win=win)).clamp(0.0, 1.0)
    small = _fit_map(err, (a.shape[-2], a.shape[-1]), (win_size - 1) // 2)
    return _fit_map(small, (x.shape[-2], x.shape[-1]), 0, f)


def gmsd_error_map(x: torch.Tensor, y: torch.Tensor, *, quantize: bool = True, t: float = 170.0) -> torch.Tensor:
    """``1 - GMS``, the gradient-magnitude similarity map whose standard deviation is :func:`gmsd`.

    Computed at half resolution as ``GMSD.m`` and repeated 2x2 to the input size.

    Returns:
        ``(N, H, W)`` float64 in [0, 1]; 0 where the output equals the reference.
    """
    fast_check_pair(x, y, 4)
    a = matlab_gray255(x, quantize=quantize).to(torch.float64)
    b = matlab_gray255(y, quantize=quantize).to(torch.float64)
    ab = matlab_average_downsample(torch.cat((a, b), dim=1), 2, padding="zeros")
    dx = torch.tensor([[1.0, 0.0, -1.0]] * 3, dtype=ab.dtype, device=ab.device) / 3.0
    sq = conv2_same(ab, dx) ** 2 + conv2_same(ab, dx.t().contiguous()) ** 2
    s1, s2 = sq[:, 0], sq[:, 1]
    gms = (2 * torch.sqrt(s1 * s2) + t) / (s1 + s2 + t)
    return _fit_map((1.0 - gms).clamp(0.0, 1.0), (x.shape[-2], x.shape[-1]), 0, 2)


#: ΔE00 shown at full scale by :func:`ciede2000_error_map` (a large, obvious colour difference).
CIEDE2000_MAP_SCALE = 20.0


def ciede2000_error_map(x: torch.Tensor, y: torch.Tensor, *, float64: bool = False) -> torch.Tensor:
    """Per-pixel ΔE00 whose mean is :func:`ciede2000`, divided by :data:`CIEDE2000_MAP_SCALE` and clipped.

    Returns:
        ``(N, H, W)`` float64 in [0, 1]; 0 where the output equals the reference.
    """
    fast_check_pair(x, y)
    dtype = torch.float64 if (float64 or x.dtype == torch.float64) else torch.float32
    de = ciede2000_map(rgb_to_lab(x, dtype=dtype), rgb_to_lab(y, dtype=dtype), dtype=dtype)
    return (de.to(torch.float64) / CIEDE2000_MAP_SCALE).clamp(0.0, 1.0)


# -------------------------------------------------------------------------------- registered classes


class _FidelityMetric(FullReferenceMetric):
    """Shared forward: validate, call ``fn`` with the options, return float64."""

    pillar: ClassVar[Pillar] = "fidelity"



@register
class PSNR(_FidelityMetric):
    """Peak signal-to-noise ratio on RGB (or Y with ``y_channel=True``), capped at 100 dB."""

    name = "psnr"
    version = "2"  # 2: float32 per-image sums (values move by < 1e-6 dB)
    higher_is_better = True
    value_range = (0.0, PSNR_MAX_DB)
    supports_y_channel = True
    defaults = {"y_channel": False}
    description = "PSNR in dB over RGB (data range 1), capped at 100 dB; y_channel=True uses BT.601 Y"
    error_map_kind = "squared error (RGB, or Y with y_channel) / its largest value in the image"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return psnr(x, ref, **options)

    def error_map(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return squared_error_map(x, ref, y_channel=self.options["y_channel"])


@register
class PSNRY(_FidelityMetric):
    """PSNR on the BT.601 Y channel (MATLAB rgb2ycbcr / BasicSR), the usual super-resolution PSNR."""

    name = "psnr_y"
    version = "1"
    higher_is_better = True
    value_range = (0.0, PSNR_MAX_DB)
    description = "PSNR in dB on the BT.601 Y channel (MATLAB rgb2ycbcr, 16-235), capped at 100 dB"
    error_map_kind = "squared error on BT.601 Y / its largest value in the image"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return psnr(x, ref, y_channel=True)

    def error_map(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return squared_error_map(x, ref, y_channel=True)


@register
class SSIM(_FidelityMetric):
    """SSIM as the official MATLAB release on the rgb2gray image (y_channel=True: BasicSR Y)."""

    name = "ssim"
    # 2: on CPU the map means come from one compiled loop per image summed in float64 (_ssim_jit.py,
    # issue 20): moved by <= 4.9e-7 from version 1, <= 7.3e-7 from the float64 computation on 16 of
    # bench_kernels' 512x384 pairs (docs/probes/compiled_loops_accuracy.py)
    version = "2"
    higher_is_better = True
    value_range = (0.0, 1.0)
    supports_y_channel = True
    min_size = 11
    defaults = {"y_channel": False, "downsample": False, "quantize": True}
    description = "SSIM (Wang et al. 2004, official MATLAB) on the 8-bit rgb2gray image, 11x11 Gaussian window"
    error_map_kind = "1 - local SSIM (8-bit rgb2gray, 11x11 Gaussian window)"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return ssim(x, ref, **options)

    def error_map(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return ssim_error_map(x, ref, **self.options)


@register
class MSSSIM(_FidelityMetric):
    """MS-SSIM as the official msssim.m (5 scales) on the rgb2gray image."""

    name = "ms_ssim"
    aliases = ("msssim",)
    version = "2"  # 2: the CPU SSIM loop of ssim version 2 at every scale
    higher_is_better = True
    value_range = (0.0, 1.0)
    supports_y_channel = True
    min_size = ms_ssim_min_size()
    defaults = {"y_channel": False, "quantize": True}
    description = "Multi-scale SSIM (Wang et al. 2003, official msssim.m), 5 scales, min side 161 px"
    error_map_kind = "1 - local SSIM at the finest scale (8-bit rgb2gray, 11x11 Gaussian window)"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return ms_ssim(x, ref, **options)

    def error_map(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return ssim_error_map(x, ref, **self.options)  # the finest scale


@register
class GMSD(_FidelityMetric):
    """GMSD as the official GMSD.m on the rgb2gray image (lower is better)."""

    name = "gmsd"
    version = "1"
    higher_is_better = False
    value_range = (0.0, 1.0)
    min_size = 4
    defaults = {"quantize": True}
    description = "Gradient magnitude similarity deviation (Xue et al. 2014, official MATLAB); lower is better"
    error_map_kind = "1 - gradient-magnitude similarity (half resolution, as GMSD.m)"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return gmsd(x, ref, **options)

    def error_map(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return gmsd_error_map(x, ref, **self.options)


@register
class CIEDE2000(_FidelityMetric):
    """Mean CIEDE2000 colour difference (lower is better)."""

    name = "ciede2000"
    aliases = ("delta_e2000", "de2000")
    # version 2: on CPU the float32 mean comes from one compiled loop per image (metrics/_ciede_jit.py,
    # issue 20); it moved by <= 4.5e-7 ΔE from version 1 and is within 8.4e-7 of float64 on 16 of
    # bench_kernels' 512x384 pairs (version 1: 5.5e-7; docs/probes/compiled_loops_accuracy.py)
    version = "2"
    higher_is_better = False
    value_range = (0.0, float("inf"))
    defaults = {"float64": False}
    description = "Mean CIEDE2000 colour difference over pixels (sRGB D65 -> Lab, as skimage); lower is better"
    error_map_kind = "CIEDE2000 colour difference, ΔE00 / 20 (1 = ΔE00 >= 20)"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return ciede2000(x, ref, **options)

    def error_map(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return ciede2000_error_map(x, ref, **self.options)


__all__ = [
    "MATLAB_GRAY",
    "MS_SSIM_WEIGHTS",
    "PSNR_MAX_DB",
    "capped_db",
    "ciede2000",
    "ciede2000_error_map",
    "gmsd",
    "gmsd_error_map",
    "matlab_gray255",
    "ms_ssim",
    "ms_ssim_min_size",
    "psnr",
    "squared_error_map",
    "ssim",
    "ssim_error_map",
]
