"""FSIM and FSIMc (Zhang, Zhang, Mou & Zhang 2011), as the authors' ``FeatureSIM.m``.

The official MATLAB function returns both values; this module reproduces its steps on batches:

* colour: on the 0..255 RGB values, ``Y = 0.299 R + 0.587 G + 0.114 B`` and the YIQ chroma
  ``I = 0.596 R - 0.274 G - 0.322 B``, ``Q = 0.211 R - 0.523 G + 0.312 B`` (not quantised); a
  one-channel image is its own ``Y`` (FSIMc then equals FSIM);
* downsampling: ``F = max(1, round(min(H, W) / 256))``, ``conv2(., ones(F)/F^2, 'same')`` (zero
  padding) and subsampling ``(1:F:end, 1:F:end)``;
* phase congruency (``phasecong2`` inside FeatureSIM.m, after Kovesi): log-Gabor filters of
  4 scales (minimum wavelength 6, factor 2, sigma_f 0.55) times 4 angular Gaussians
  (dTheta/sigma 1.2), a Butterworth low-pass (cutoff 0.45, order 15), built on the FFT grid of the
  downsampled image; per orientation the noise threshold is estimated from the median of the
  smallest-scale energy (Rayleigh model, k = 2, divided by 1.7) and ``PC = sum_o max(E_o - T_o, 0)
  / sum_o sum_s A_so``;
* gradient magnitude from the Scharr kernels ``[3 0 -3; 10 0 -10; 3 0 -3] / 16`` (``conv2 'same'``);
* ``FSIM = sum(S_PC S_G PC_m) / sum(PC_m)`` with ``T1 = 0.85``, ``T2 = 160``, ``PC_m = max(PC1, PC2)``;
  ``FSIMc`` multiplies by ``real((S_I S_Q) ^ 0.03)`` with ``T3 = T4 = 200`` (the real part of the
  power, as MATLAB, so a negative ``S_I S_Q`` contributes ``|S_I S_Q|^0.03 cos(0.03 pi)``).

MATLAB's ``median`` of an even number of values (the mean of the two middle ones) is reproduced.
The only deviation: where no filter responds at all (a constant image, ``sum_o sum_s A = 0``) the
official code divides 0 by 0; here PC is 0 there, and an image pair without any phase congruency
(``sum PC_m = 0``) scores the unweighted mean of the similarity map.

Pillar: perceptual. FSIM/FSIMc are among the standard perceptual full-reference baselines (they
model low-level features the visual system is known to weight: phase congruency and gradient
magnitude) and are validated against human opinion (TID2013 SROCC 0.80/0.85), not pixel fidelity.
See ``docs/metrics-fr-classic.md``.
"""

from __future__ import annotations

import functools
import math
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from ._filters import MEMO, fast_check_pair, thread_map
from .base import FullReferenceMetric, Pillar
from .registry import register

#: YIQ rows of FeatureSIM.m (applied to 0..255 RGB).
YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))
#: Stabilising constants of FeatureSIM.m on the 0..255 scale.
T1, T2, T3, T4 = 0.85, 160.0, 200.0, 200.0
#: Chroma exponent lambda of FSIMc.
LAMBDA = 0.03
#: Phase congruency parameters of FeatureSIM.m's phasecong2.
PC_SCALES, PC_ORIENTS, PC_MIN_WAVELENGTH, PC_MULT = 4, 4, 6.0, 2.0
PC_SIGMA_ONF, PC_DTHETA_ON_SIGMA, PC_K, PC_EPSILON = 0.55, 1.2, 2.0, 1e-4
#: Smallest side accepted (phase congruency needs a few wavelengths; Scharr needs 3 px).
FSIM_MIN_SIZE = 8


def scharr_kernels(dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``dx``, ``dy`` Scharr kernels of FeatureSIM.m and VSI.m (for ``conv2``)."""
    dx = torch.tensor([[3.0, 0.0, -3.0], [10.0, 0.0, -10.0], [3.0, 0.0, -3.0]], dtype=dtype) / 16.0
    return dx, dx.t().contiguous()


def gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """``sqrt(conv2(x, dx, 'same')^2 + conv2(x, dy, 'same')^2)`` with the Scharr kernels, per channel.

    The kernels are separable (``[3 10 3]' * [1 0 -1] / 16`` and its transpose): with zero padding,
    ``gx = (3 d(i-1) + 10 d(i) + 3 d(i+1)) / 16`` with ``d(i) = x(i, j+1) - x(i, j-1)``, and ``gy``
    likewise, from shifted slices (several times faster on CPU than two depthwise convolutions; the
    same values up to float rounding as :func:`scharr_kernels` through ``conv2_same``).
    """
    xp = F.pad(x, (1, 1, 1, 1))
    d = xp[..., 2:] - xp[..., :-2]  # (.., H + 2, W): x(i, j + 1) - x(i, j - 1)
    gx = (d[..., :-2, :] + d[..., 2:, :]).mul_(3.0).add_(d[..., 1:-1, :], alpha=10.0)
    e = xp[..., 2:, :] - xp[..., :-2, :]  # (.., H, W + 2): x(i + 1, j) - x(i - 1, j)
    gy = (e[..., :-2] + e[..., 2:]).mul_(3.0).add_(e[..., 1:-1], alpha=10.0)
    return gx.mul_(gx).addcmul_(gy, gy).sqrt_().div_(16.0)


def similarity(a: Any, b: Any, c: float) -> Any:
    """``(2 a b + c) / (a^2 + b^2 + c)`` of torch tensors or numpy arrays (operators only)."""
    return (2.0 * a * b + c) / (a * a + b * b + c)


def real_power(v: torch.Tensor, p: float) -> torch.Tensor:
    """MATLAB ``real(v .^ p)`` for real ``v`` and fractional ``p``: ``|v|^p cos(p pi)`` where ``v < 0``."""
    mag = v.abs().pow(p)
    return torch.where(v < 0, mag * math.cos(p * math.pi), mag)


def fft_grid(rows: int, cols: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Kovesi's normalised frequency grid (``x``, ``y``), centred, as ``phasecong2``/``lowpassfilter``."""

    def axis(n: int) -> torch.Tensor:
        if n % 2:
            return (torch.arange(n, dtype=torch.float64) - (n - 1) / 2) / max(n - 1, 1)
        return (torch.arange(n, dtype=torch.float64) - n // 2) / n

    yy, xx = torch.meshgrid(axis(rows), axis(cols), indexing="ij")
    return xx, yy


def _ifftshift(t: torch.Tensor) -> torch.Tensor:
    return torch.fft.ifftshift(t, dim=(-2, -1))


@functools.lru_cache(maxsize=8)
def _pc_filters(rows: int, cols: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-Gabor filters and the per-orientation noise constants of ``phasecong2`` (float64, CPU).

    Returns:
        ``filters`` ``(O, S, rows, cols)``; ``em_n`` ``(O,)`` = sum of the squared smallest-scale
        filter; ``an2_aiaj`` ``(O,)`` = sum(EstSumAn2) + 2 sum(EstSumAiAj) of the spatial filters.
    """
    xx, yy = fft_grid(rows, cols)
    radius = _ifftshift(torch.sqrt(xx * xx + yy * yy))
    theta = _ifftshift(torch.atan2(-yy, xx))
    radius[0, 0] = 1.0
    sint, cost = torch.sin(theta), torch.cos(theta)
    lowpass = _ifftshift(1.0 / (1.0 + (torch.sqrt(xx * xx + yy * yy) / 0.45) ** 30))
    log_gabor = []
    for s in range(PC_SCALES):
        fo = 1.0 / (PC_MIN_WAVELENGTH * PC_MULT**s)
        lg = torch.exp(-(torch.log(radius / fo) ** 2) / (2 * math.log(PC_SIGMA_ONF) ** 2)) * lowpass
        lg[0, 0] = 0.0
        log_gabor.append(lg)
    theta_sigma = math.pi / PC_ORIENTS / PC_DTHETA_ON_SIGMA
    spread = []
    for o in range(PC_ORIENTS):
        angl = o * math.pi / PC_ORIENTS
        ds = sint * math.cos(angl) - cost * math.sin(angl)
        dc = cost * math.cos(angl) + sint * math.sin(angl)
        dtheta = torch.abs(torch.atan2(ds, dc))
        spread.append(torch.exp(-(dtheta**2) / (2 * theta_sigma**2)))
    filters = torch.stack(spread)[:, None] * torch.stack(log_gabor)[None]  # (O, S, rows, cols)
    em_n = (filters[:, 0] ** 2).sum(dim=(-2, -1))
    spatial = torch.fft.ifft2(filters).real * math.sqrt(rows * cols)
    total = spatial.sum(dim=1)  # sum_s a_s; (sum a)^2 = sum a^2 + 2 sum_{i<j} a_i a_j
    an2_aiaj = (total**2).sum(dim=(-2, -1))
    return filters, em_n, an2_aiaj


def matlab_median(x: torch.Tensor) -> torch.Tensor:
    """Median over the last dimension as MATLAB (mean of the two middle values for an even count).

    Exact in every case: non-negative float32 rows on CPU (the energies of ``phasecong2``) go
    through :func:`_median_nonneg_f32` (a radix histogram, then a sort of the one or two bins
    holding the middle ranks); other CPU rows through one ``numpy.partition`` (introselect);
    elsewhere ``kthvalue``.
    """
    n = x.shape[-1]
    k = n // 2
    if x.device.type == "cpu" and not x.requires_grad:
        if x.dtype == torch.float32 and x.ndim == 2 and n > 0 and _nonneg_bits(x):
            return _median_nonneg_f32(x.contiguous())
        part = np.partition(x.numpy(), (k - 1, k) if n % 2 == 0 else (k,), axis=-1)
        if n % 2:
            return torch.from_numpy(part[..., k].copy())
        return 0.5 * (torch.from_numpy(part[..., k - 1].copy()) + torch.from_numpy(part[..., k].copy()))
    if n % 2:
        return x.kthvalue(k + 1, dim=-1).values
    lo = x.kthvalue(k, dim=-1).values
    hi = x.kthvalue(k + 1, dim=-1).values
    return 0.5 * (lo + hi)


def _nonneg_bits(x: torch.Tensor) -> bool:
    """Whether every value is ``>= 0`` (no NaN) with a clear sign bit (no ``-0.0``)."""
    return bool(((x >= 0) & (x.view(torch.int32) >= 0)).all())


def _median_nonneg_f32(x: torch.Tensor) -> torch.Tensor:
    """MATLAB median of each row of a non-negative float32 CPU ``(R, n)`` tensor (no ``-0.0``), exactly:
    the radix-histogram selection of :func:`._fsim_jit.median_rows` (the bit patterns of non-negative
    floats sort as integers, so a histogram of their top bits finds the bin(s) of the middle ranks
    and only the values in those bins are sorted). A compiled loop that releases the GIL, so it runs
    side by side in :func:`thread_map`."""
    from ._fsim_jit import median_rows

    return torch.from_numpy(median_rows(np.ascontiguousarray(x.numpy())))


def phase_congruency(y: torch.Tensor) -> torch.Tensor:
    """Phase congruency maps of ``phasecong2`` (FeatureSIM.m) for a batch of grey images.

    The image spectra are computed at once; each image's ``O x S`` filter responses come from one
    batched inverse FFT and are reduced image by image (so the working set stays in cache). On CPU
    that per-image work runs in numpy, torch's FFT and compiled loops, images side by side (:func:`_pc_cpu`);
    elsewhere in torch, on the real and imaginary planes separated once (:func:`_pc_reduce`).

    Args:
        y: ``(N, 1, H, W)`` luminance on the 0..255 scale (float32 or float64; computed in its dtype).

    Returns:
        ``(N, 1, H, W)`` phase congruency (in [0, 1] up to noise compensation).
    """
    n, _, rows, cols = y.shape
    filters, thresh_scale = _pc_filters_as(rows, cols, y.dtype, y.device)
    spectra = torch.fft.fft2(y[:, 0])  # (N, H, W)
    out = torch.empty_like(y)
    if y.device.type == "cpu" and not y.requires_grad:
        return _pc_cpu(spectra, filters, thresh_scale, out)
    work = torch.empty(filters.shape[:-1], dtype=spectra.dtype, device=y.device)
    planes = torch.empty((2, *filters.shape[:-1]), dtype=y.dtype, device=y.device)
    for i in range(n):
        eo = torch.fft.ifft2(_filtered(spectra[i], filters, work), out=work)  # (O, S, H, W): E + iO
        planes.copy_(torch.view_as_real(eo).permute(4, 0, 1, 2, 3))
        out[i, 0] = _pc_reduce(planes[0], planes[1], thresh_scale)
    return out


def _filtered(spectrum: torch.Tensor, filters: torch.Tensor, work: torch.Tensor) -> torch.Tensor:
    """``spectrum`` times every (real) filter, into the complex ``work`` buffer: the real filter scales
    the real and imaginary parts alike (``filters`` holds each value twice)."""
    torch.mul(torch.view_as_real(spectrum), filters, out=torch.view_as_real(work))
    return work


def _pc_cpu(spectra: torch.Tensor, filters: torch.Tensor, thresh_scale: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """:func:`phase_congruency` on CPU, image by image in numpy and torch's FFT (which release the
    GIL), the images side by side on all cores (:func:`thread_map`): both cores
    do useful work instead of one waiting at torch's barriers. Each image is computed alone, so the
    values do not depend on the thread count."""
    spec = spectra.numpy()
    filt = filters.numpy()  # (O, S, H, W, 2): each real filter value twice
    scale = thresh_scale.numpy()

    for i, pc in enumerate(thread_map(lambda i: _pc_of_spectrum(spec[i], filt, scale), range(spec.shape[0]))):
        out[i, 0] = torch.from_numpy(pc)
    return out


def _pc_of_spectrum(spec: np.ndarray, filt: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Phase congruency ``(H, W)`` of one image from its spectrum ``(H, W)``: the spectrum times every
    filter of ``filt`` (``(O, S, H, W, 2)``, each real value twice, so that it scales the real and
    imaginary parts alike), the inverse FFT of the responses and :func:`_pc_reduce_numpy`.

    The inverse FFT is torch's, image by image: on x86 that is MKL's, less CPU than ``scipy.fft``
    (16 transforms of 192x256 on one thread: 3.0 vs 4.2 ms, ``python docs/probes/fft_layout.py``),
    and one image's responses stay in cache (a batch of images in one call is slower per image). complex64 responses of 4 scales go
    orientation by orientation (:func:`_pc_by_orientation`)."""
    if spec.dtype == np.complex64 and filt.shape[1] == 4:
        return _pc_by_orientation(spec, filt, scale)
    work = np.empty(filt.shape[:-1], dtype=spec.dtype)
    np.multiply(spec.view(filt.dtype).reshape(filt.shape[2:]), filt, out=work.view(filt.dtype).reshape(filt.shape))
    return _pc_reduce_numpy(torch.fft.ifft2(torch.from_numpy(work)).numpy(), scale)


def _pc_by_orientation(spec: np.ndarray, filt: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """:func:`_pc_of_spectrum` one orientation at a time (:class:`._fsim_jit.Accumulator`): the inverse
    FFT of an orientation's 4 responses, then their share of the sums, so a quarter of the responses
    is in memory at once. The same bits as the compiled reduction of all of them (tested)."""
    from ._fsim_jit import Accumulator

    n_o, n_s, h, w, _ = filt.shape
    acc = Accumulator(h * w, PC_EPSILON)
    work = np.empty((n_s, h, w), dtype=np.complex64)
    for o in range(n_o):
        np.multiply(spec.view(np.float32).reshape(h, w, 2), filt[o], out=work.view(np.float32).reshape(n_s, h, w, 2))
        acc.add(torch.fft.ifft2(torch.from_numpy(work)).numpy(), float(scale[o]))
    return acc.result(h, w)


def _pc_reduce_numpy(eo: np.ndarray, thresh_scale: np.ndarray) -> np.ndarray:
    """:func:`_pc_reduce` on CPU, from the complex responses ``eo`` ``(O, S, H, W)`` themselves.

    complex64 responses of the 4 scales of FeatureSIM.m go through the compiled loops of
    :mod:`._fsim_jit` (one pass); anything else through numpy, whose complex ``abs`` and multiply
    are SIMD loops over the interleaved values (torch's complex ``abs`` is several times slower).
    """
    if eo.dtype == np.complex64 and eo.shape[1] == 4 and eo.flags.c_contiguous:
        from ._fsim_jit import reduce

        return reduce(eo, thresh_scale, PC_EPSILON)
    k = eo.real.dtype.type
    amp = np.abs(eo)
    s0 = eo[:, 0]
    amp2 = (s0.real * s0.real + s0.imag * s0.imag).reshape(eo.shape[0], -1)  # smallest-scale energy
    med = _median_nonneg_f32(torch.from_numpy(np.ascontiguousarray(amp2))) if amp2.dtype == np.float32 else None
    med = matlab_median(torch.from_numpy(amp2)) if med is None else med
    thresh = np.sqrt(med.numpy()) * thresh_scale
    an_all = amp.sum(axis=(0, 1))
    sum_eo = eo.sum(axis=1)  # (O, H, W)
    mag = np.abs(sum_eo)
    x_energy = mag + k(PC_EPSILON)
    unit_conj = np.empty_like(sum_eo)  # conj(sum_eo) / x_energy = (m_e, -m_o)
    np.divide(sum_eo.real, x_energy, out=unit_conj.real)
    np.divide(sum_eo.imag, x_energy, out=unit_conj.imag)
    np.negative(unit_conj.imag, out=unit_conj.imag)
    # Im((E + iO)(m_e - i m_o)) = O m_e - E m_o
    cross = np.abs(np.multiply(eo, unit_conj[:, None]).imag).sum(axis=1)
    energy = mag * mag
    energy /= x_energy
    energy -= cross
    energy -= thresh[:, None, None]
    energy = np.maximum(energy, k(0.0), out=energy).sum(axis=0)
    return np.where(an_all > 0, energy / np.where(an_all > 0, an_all, k(1.0)), k(0.0))


def _pc_reduce(e: torch.Tensor, o: torch.Tensor, thresh_scale: torch.Tensor) -> torch.Tensor:
    """Phase congruency of one image from its even and odd filter responses ``(O, S, H, W)`` (overwritten).

    ``sum_s (E m_e + O m_o) - |E m_o - O m_e|`` with ``(m_e, m_o) = sum_s EO / (|sum_s EO| + eps)``;
    the first sum is ``|sum_s EO|^2 / (|sum_s EO| + eps)``. The noise threshold per orientation is
    ``sqrt(median smallest-scale energy) * thresh_scale`` (Rayleigh model).
    """
    amp = torch.mul(e, e).addcmul_(o, o)  # squared amplitude
    small = amp[:, 0].reshape(amp.shape[0], -1)
    # e^2 + o^2 of finite values is >= 0 and never -0.0: the histogram median applies as is
    med = _median_nonneg_f32(small) if small.dtype == torch.float32 and small.device.type == "cpu" else None
    thresh = (matlab_median(small) if med is None else med).sqrt_().mul_(thresh_scale)
    an_all = amp.sqrt_().sum(dim=(0, 1))
    se, so = e.sum(dim=1), o.sum(dim=1)  # (O, H, W)
    mag2 = torch.mul(se, se).addcmul_(so, so)
    x_energy = mag2.sqrt().add_(PC_EPSILON)
    me, mo = se.div_(x_energy), so.div_(x_energy)
    cross = o.mul_(me[:, None]).addcmul_(e, mo[:, None], value=-1.0).abs_().sum(dim=1)
    energy = mag2.div_(x_energy).sub_(cross).sub_(thresh[:, None, None]).clamp_min_(0.0).sum(dim=0)
    return torch.where(an_all > 0, energy / torch.where(an_all > 0, an_all, 1.0), 0.0)


@functools.lru_cache(maxsize=8)
def _pc_filters_as(
    rows: int, cols: int, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_pc_filters` on ``device`` for :func:`phase_congruency`: the filters of real ``dtype``,
    each value twice (``(O, S, H, W, 2)``, to scale a spectrum's real and imaginary parts in the
    layout of ``view_as_real``), and the per-orientation noise-threshold factor
    ``sqrt(an2_aiaj / em_n / -log(0.5)) * k_noise`` (computed in float64), so that the threshold is
    ``sqrt(median smallest-scale energy) * factor``."""
    filters, em_n, an2_aiaj = _pc_filters(rows, cols)
    noise_k = (math.sqrt(math.pi / 2) + PC_K * math.sqrt(2 - math.pi / 2)) / 1.7
    factor = (an2_aiaj / em_n / -math.log(0.5)).sqrt() * noise_k
    filters = filters.to(device, dtype)
    return torch.stack((filters, filters), dim=-1), factor.to(device, dtype)


def downsample_factor(h: int, w: int) -> int:
    """``max(1, round(min(H, W) / 256))`` with MATLAB rounding (half away from zero)."""
    return max(1, int(math.floor(min(h, w) / 256 + 0.5)))


def downsample_zeros(x: torch.Tensor, f: int) -> torch.Tensor:
    """``conv2(x, ones(f) / f^2, 'same')`` then ``x(1:f:end, 1:f:end)``, per channel (zero padding).

    The same values as ``matlab_average_downsample(x, f, padding="zeros")`` (up to float rounding),
    summed from ``f`` strided row slices and ``f`` column slices, which is an order of magnitude
    faster on CPU than ``avg_pool2d``.
    """
    if f <= 1:
        return x
    h, w = x.shape[-2:]
    before = (f + 1) // 2 - 1  # MATLAB kernel centre, 1-based: floor((f + 1) / 2)
    out_h, out_w = math.ceil(h / f), math.ceil(w / f)
    pads = (before, out_w * f - w - before, before, out_h * f - h - before)
    xp = F.pad(x, pads) if any(pads) else x
    rows = xp[..., 0::f, :][..., :out_h, :]
    for k in range(1, f):
        rows = rows + xp[..., k::f, :][..., :out_h, :]
    out = rows[..., 0::f][..., :out_w]
    for k in range(1, f):
        out = out + rows[..., k::f][..., :out_w]
    return out / float(f * f)


def _features(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image FSIM features: downsampled Y/I/Q, phase congruency and gradient magnitude.

    The (linear) downsampling runs on the RGB planes before the (linear) YIQ transform, which then
    costs a quarter; both orders give the same values up to float rounding.
    """
    if x.device.type == "cpu" and not x.requires_grad and x.dtype != torch.float64:
        return _features_cpu(x)
    dt = torch.float64 if x.dtype == torch.float64 else torch.float32
    xd = downsample_zeros(x.to(dt), downsample_factor(*x.shape[-2:]))
    if xd.shape[1] == 3:
        r, g, b = xd[:, 0:1], xd[:, 1:2], xd[:, 2:3]
        yiq = [r * (255.0 * m[0]) + g * (255.0 * m[1]) + b * (255.0 * m[2]) for m in YIQ]
    else:
        yiq = [xd * 255.0]
    lum = yiq[0]
    out = {"y": lum, "pc": phase_congruency(lum), "gm": gradient_magnitude(lum)}
    if len(yiq) == 3:
        out["i"], out["q"] = yiq[1], yiq[2]
    return out


@functools.lru_cache(maxsize=8)
def _pc_filters_np(rows: int, cols: int, transposed: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_pc_filters_as` (float32, CPU) as numpy arrays, the filters transposed (``(O, S, W, H, 2)``)
    when ``transposed``: see :func:`_features_cpu`."""
    filters, scale = _pc_filters_as(rows, cols, torch.float32, torch.device("cpu"))
    return (filters.transpose(2, 3) if transposed else filters).contiguous().numpy(), scale.numpy()


def _features_cpu(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """:func:`_features` on CPU (float32), image by image on all cores: downsampling, YIQ and the
    Scharr gradient in compiled loops (:mod:`._fsim_jit`), the FFTs in torch, one image per call (see
    :func:`_pc_of_spectrum`), and the phase-congruency reduction of :func:`_pc_reduce_numpy`. Each
    image is computed alone, so the values do not depend on the thread count.

    A wide image's phase congruency is computed on its transpose (the spectrum of the transpose is the
    transpose of the spectrum; the reduction is per pixel and its medians are over all pixels, so the
    map is the same map transposed). With the long side as the leading axis, the strided pass of the
    2-D inverse FFT is along the long side: 16 transforms of a 384x512 image's 192x256 grid take 2.3
    instead of 3.0 ms in torch on one thread, 272x408 (DIV2K) 9.9 instead of 10.9, 256x384 the same
    (5.9 ms; ``python docs/probes/fft_layout.py``; an earlier run had 256x384 4 % slower transposed).
    The rule depends on the shape only, so the values are reproducible."""
    from ._fsim_jit import gradient_magnitude as grad_np
    from ._fsim_jit import yiq_downsampled

    n, c, h, w = x.shape
    f = downsample_factor(h, w)
    rows = np.asarray([[255.0 * v for v in m] for m in YIQ] if c == 3 else [[255.0]], dtype=np.float32)
    out_h, out_w = math.ceil(h / f), math.ceil(w / f)
    wide = out_w > out_h
    filt, scale = _pc_filters_np(out_h, out_w, wide)
    xs = x.to(torch.float32).contiguous().numpy()

    def one(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        yiq = yiq_downsampled(xs[i], f, rows)
        luma = np.ascontiguousarray(yiq[0].T) if wide else yiq[0]
        pc = _pc_of_spectrum(torch.fft.fft2(torch.from_numpy(luma)).numpy(), filt, scale)
        return yiq, np.ascontiguousarray(pc.T) if wide else pc, grad_np(yiq[0])

    parts = thread_map(one, range(n))
    out = {"y": torch.from_numpy(np.stack([p[0][0:1] for p in parts])),
           "pc": torch.from_numpy(np.stack([p[1] for p in parts]))[:, None],
           "gm": torch.from_numpy(np.stack([p[2] for p in parts]))[:, None]}
    if c == 3:
        out["i"] = torch.from_numpy(np.stack([p[0][1:2] for p in parts]))
        out["q"] = torch.from_numpy(np.stack([p[0][2:3] for p in parts]))
    return out


def _features_memo(x: torch.Tensor) -> dict[str, torch.Tensor]:
    return MEMO.get_or_compute("fsim_features", (x,), lambda: _features(x))


def _fsim_both(x: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(FSIM, FSIMc) of a batch, both ``(N,)`` float64."""
    fast_check_pair(x, ref, FSIM_MIN_SIZE)
    if x.shape[1] != ref.shape[1]:
        raise InputError("FSIM needs output and reference with the same number of channels")
    fa, fb = _features_memo(x), _features_memo(ref)
    if fa["pc"].device.type == "cpu" and fa["pc"].dtype == torch.float32 and not fa["pc"].requires_grad:
        pairs = thread_map(lambda i: _pooled_np(fa, fb, i), range(x.shape[0]))
        return (torch.tensor([p[0] for p in pairs], dtype=torch.float64),
                torch.tensor([p[1] for p in pairs], dtype=torch.float64))
    pcm = torch.maximum(fa["pc"], fb["pc"])
    sim = similarity(fa["pc"], fb["pc"], T1) * similarity(fa["gm"], fb["gm"], T2)
    if "i" in fa:
        chroma = real_power(similarity(fa["i"], fb["i"], T3) * similarity(fa["q"], fb["q"], T4), LAMBDA)
    else:
        chroma = torch.ones_like(sim)
    den = pcm.flatten(1).sum(1)
    flat = den <= 0
    weight = torch.where(flat[:, None, None, None], torch.ones_like(pcm), pcm)
    den = torch.where(flat, float(pcm[0].numel()), den)
    fsim_v = (sim * weight).flatten(1).sum(1) / den
    fsimc_v = (sim * chroma * weight).flatten(1).sum(1) / den
    return fsim_v.to(torch.float64), fsimc_v.to(torch.float64)


def _pooled_np(fa: dict[str, torch.Tensor], fb: dict[str, torch.Tensor], i: int) -> tuple[float, float]:
    """(FSIM, FSIMc) of pair ``i`` from float32 CPU features in numpy (one thread, no OpenMP team):
    the operations of :func:`_fsim_both`'s torch path, the weighted sums in float64."""
    def plane(f: dict[str, torch.Tensor], k: str) -> np.ndarray:
        return f[k][i, 0].numpy()

    pa, pb = plane(fa, "pc"), plane(fb, "pc")
    pcm = np.maximum(pa, pb)
    sim = similarity(pa, pb, T1) * similarity(plane(fa, "gm"), plane(fb, "gm"), T2)
    if "i" in fa:
        v = similarity(plane(fa, "i"), plane(fb, "i"), T3) * similarity(plane(fa, "q"), plane(fb, "q"), T4)
        mag = np.abs(v) ** np.float32(LAMBDA)
        chroma = np.where(v < 0, mag * np.float32(math.cos(LAMBDA * math.pi)), mag)
    else:
        chroma = np.ones_like(sim)
    den = float(pcm.sum(dtype=np.float64))
    weight = pcm if den > 0 else np.ones_like(pcm)
    den = den if den > 0 else float(pcm.size)
    return (float((sim * weight).sum(dtype=np.float64)) / den, float((sim * chroma * weight).sum(dtype=np.float64)) / den)


def fsim(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """FSIM (luminance only) of FeatureSIM.m.

    Args:
        x: ``(N, C, H, W)`` output in [0, 1], C in {1, 3}, sides >= 8.
        ref: ``(N, C, H, W)`` reference, same shape.

    Returns:
        ``(N,)`` float64 FSIM, 1 for identical images, usually in [0, 1]; higher is better.
    """
    return _fsim_both(x, ref)[0]


def fsimc(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """FSIMc (FSIM with YIQ chroma similarity, lambda = 0.03) of FeatureSIM.m; equals FSIM for grey input.

    Args:
        x: ``(N, C, H, W)`` output in [0, 1], C in {1, 3}, sides >= 8.
        ref: ``(N, C, H, W)`` reference, same shape.

    Returns:
        ``(N,)`` float64 FSIMc, 1 for identical images, usually in [0, 1]; higher is better.
    """
    return _fsim_both(x, ref)[1]


class _FRPerceptual(FullReferenceMetric):
    """Shared declaration and forward of the classical perceptual full-reference metrics (FSIM, VIF, VSI, NLPD)."""

    pillar: ClassVar[Pillar] = "perceptual"
    min_size: ClassVar[int] = FSIM_MIN_SIZE



@register
class FSIM(_FRPerceptual):
    """FSIM (official FeatureSIM.m, luminance): phase congruency and Scharr gradient similarity."""

    name = "fsim"
    # 4: on CPU phase congruency is reduced by the compiled loops of _fsim_jit.py (issue 14); the
    # maps moved by up to 2.4e-7 (float32 rounding), the official-value distances are unchanged.
    # 5: on CPU the FFTs are torch's (MKL on x86) instead of scipy's, a wide image's on its transpose
    # (_features_cpu); values moved by up to 2.1e-8 (docs/probes/compiled_loops_accuracy.py's pairs)
    version = "5"
    higher_is_better = True
    value_range = (0.0, 1.0)
    description = "Feature similarity FSIM (Zhang et al. 2011, official FeatureSIM.m), luminance only"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return fsim(x, ref)


@register
class FSIMc(_FRPerceptual):
    """FSIMc (official FeatureSIM.m): FSIM with YIQ chroma similarity."""

    name = "fsimc"
    version = "5"  # 4, 5: as fsim 4, 5
    higher_is_better = True
    value_range = (0.0, 1.0)
    description = "Feature similarity FSIMc (Zhang et al. 2011, official FeatureSIM.m), with YIQ chroma"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return fsimc(x, ref)


__all__ = ["fsim", "fsimc", "gradient_magnitude", "phase_congruency", "real_power", "similarity"]
