"""Metric variants of the generative-restorer study's evaluation scripts (arXiv 2512.15110).

The study (repository ``Zplusdragon/LowLevelBanana``, folder ``eval/``) scores each of its 14 tasks
with its own script, and the scripts disagree on colour conversion, window, padding, precision and
even on the metric's formula. This module implements each variant **from its definition** as an
option of a few registered metrics, so that :mod:`paradigm.protocols` can reproduce every script:

* ``study_psnr`` (``variant``): ``rgb`` (10 log10(255^2/MSE) over all channels: skimage, BasicSR,
  the deblurring scripts), ``rgb-per-channel`` (mean of per-channel PSNRs: reflection removal),
  ``y-pyiqa`` (pyiqa ``psnr`` with ``test_y_channel``: full-range Y = 0.299 R + 0.587 G + 0.114 B on
  [0, 1], not rounded, ``10 log10(1 / (MSE + 1e-8))``: super-resolution), ``y-matlab-uint8``
  (MATLAB ``rgb2ycbcr`` on uint8, i.e. Y rounded to integers 16..235: deraining) and ``rgb-basicsr``
  (BasicSR ``calculate_psnr``: peak 1 when the output's maximum is <= 1, else 255: deshadowing).
* ``study_ssim`` (``variant``): ``skimage`` (``structural_similarity`` with ``channel_axis``: 7x7
  uniform window, sample covariance, per RGB channel, averaged), ``gauss-zero`` (11x11 Gaussian,
  sigma 1.5, zero-padded 'same' convolution per RGB channel on [0, 1]: deblurring),
  ``basicsr-3d`` (BasicSR's 11x11x11 Gaussian across H, W *and* the channel axis, replicate
  padding: deshadowing), ``y-same-replicate`` (BasicSR ``_ssim_cly``: BT.601 Y, 'same' Gaussian
  with replicate borders), ``pyiqa-y`` (pyiqa ``ssim``: full-range Y rounded to integers, 'valid'
  Gaussian, ``relu`` of the contrast-structure term: super-resolution) and ``matlab-y-uint8``
  (Wang's ``ssim_index.m`` on the uint8 ``rgb2ycbcr`` Y: deraining).
* ``study_ms_ssim``: piq ``multi_scale_ssim`` per RGB channel (replicate pad + 2x2 average pooling,
  ``relu`` of every level), averaged over channels (reflection removal).
* ``study_delta_e94``: mean CIE94 colour difference (graphic-arts weights, ``kL = kC = kH = 1``,
  ``K1 = 0.045``, ``K2 = 0.015``) with the ground truth as the reference colour (HDR).
* ``study_niqe``: BasicSR ``calculate_niqe`` (dehazing): BT.601 Y (not rounded), 96x96 blocks and
  the second scale made by OpenCV ``INTER_LINEAR`` halving, which OpenCV turns into a 2x2 average.
* ``study_brisque``: paradigm's BRISQUE, multiplied by ``sign`` (the dehazing script's ``* -1``).
* ``study_lpips``: paradigm's LPIPS at native size, optionally fed [0, 1] tensors as if they were
  [-1, 1] (the HDR script's missing normalisation).
* ``study_uiqm`` / ``study_uciqe``: the underwater script's UIQM (5x5 blocks, per-channel
  UIConM, Sobel as ``|h_x * I + h_y * I|``, optional BGR channel order) and UCIQE (OpenCV's
  fixed-point 8-bit Lab with its +128 offset, a 65 536-bin histogram between the luminance
  minimum and maximum).

Two-input fusion variants live in :mod:`paradigm.metrics.study_fusion`. All metrics are
``pillar="diagnostic"`` (never part of a composite); they exist to reproduce published numbers.
Inputs are ``(N, C, H, W)`` floats in [0, 1] taken back to 8 bit (``round(255 x)``), as the scripts
read 8-bit files. See ``docs/protocols.md``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch

from ..errors import InputError
from .base import Metric, check_image, check_pair
from .registry import register

__all__ = [
    "to_u8",
    "study_psnr",
    "study_ssim",
    "study_ms_ssim",
    "delta_e94",
    "study_niqe",
    "study_uiqm",
    "study_uciqe",
    "PSNR_VARIANTS",
    "SSIM_VARIANTS",
]

PSNR_VARIANTS = ("rgb", "rgb-per-channel", "y-pyiqa", "y-matlab-uint8", "rgb-basicsr")
SSIM_VARIANTS = ("skimage", "gauss-zero", "basicsr-3d", "y-same-replicate", "pyiqa-y", "matlab-y-uint8")


def to_u8(x: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` in [0, 1] -> ``(N, H, W, 3)`` float64 holding the 8-bit values (grey -> RGB)."""
    a = torch.round(x.detach().to("cpu", torch.float64) * 255.0).clamp_(0, 255)
    if a.shape[1] == 1:
        a = a.expand(-1, 3, -1, -1)
    return a.permute(0, 2, 3, 1).numpy()


def _round_half_away(v: np.ndarray) -> np.ndarray:
    return np.floor(v + 0.5)


def y_matlab_uint8(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` Y of uint8 RGB (``(..., 3)`` of 0..255): ``round(16 + (65.481 R + 128.553 G + 24.966 B)/255)``."""
    y = 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0
    return np.clip(_round_half_away(y), 0, 255)


def y_basicsr(rgb: np.ndarray) -> np.ndarray:
    """BasicSR ``to_y_channel`` (BT.601 studio swing, not rounded) of 0..255 RGB, in 0..255."""
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def y_full(rgb: np.ndarray) -> np.ndarray:
    """Full-range luma ``0.299 R + 0.587 G + 0.114 B`` (pyiqa ``rgb2yiq`` Y), same scale as the input."""
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


# ----------------------------------------------------------------------------------------- PSNR


def _psnr_from_mse(mse: float, peak: float, identical: float) -> float:
    if mse == 0:
        return identical
    return 10.0 * math.log10(peak * peak / mse)


def _psnr_one(o: np.ndarray, g: np.ndarray, variant: str, identical: float) -> float:
    if variant == "rgb":
        return _psnr_from_mse(float(np.mean((o - g) ** 2)), 255.0, identical)
    if variant == "rgb-per-channel":
        return float(np.mean([_psnr_from_mse(float(np.mean((o[..., c] - g[..., c]) ** 2)), 255.0, identical)
                              for c in range(3)]))
    if variant == "y-pyiqa":
        mse = float(np.mean((y_full(o / 255.0) - y_full(g / 255.0)) ** 2))
        return 10.0 * math.log10(1.0 / (mse + 1e-8))
    if variant == "y-matlab-uint8":
        return _psnr_from_mse(float(np.mean((y_matlab_uint8(o) - y_matlab_uint8(g)) ** 2)), 255.0, identical)
    if variant == "rgb-basicsr":
        peak = 1.0 if o.max() <= 1 else 255.0
        return _psnr_from_mse(float(np.mean((o - g) ** 2)), peak, identical)
    raise InputError(f"study_psnr variant must be one of {', '.join(PSNR_VARIANTS)}, got {variant!r}")


def study_psnr(x: torch.Tensor, ref: torch.Tensor, *, variant: str = "rgb", identical: float = 100.0) -> torch.Tensor:
    """PSNR of the study's scripts on the 8-bit values (see the module docstring for ``variant``).

    Args:
        x: outputs ``(N, C, H, W)`` in [0, 1].
        ref: ground truth, same shape.
        variant: one of :data:`PSNR_VARIANTS`.
        identical: value for identical images (MSE = 0): 100 as paradigm's cap and the deblurring
            scripts; ``float('nan')`` drops the pair like the denoising script's ``isfinite`` filter.

    Returns:
        ``(N,)`` float64 dB.
    """
    check_pair(x, ref)
    o, g = to_u8(x), to_u8(ref)
    return torch.tensor([_psnr_one(o[i], g[i], variant, identical) for i in range(o.shape[0])], dtype=torch.float64)


# ----------------------------------------------------------------------------------------- SSIM


def _gauss1d(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    t = np.arange(size) - size // 2
    g = np.exp(-(t**2) / (2.0 * sigma**2))
    return np.asarray(g / g.sum())


def _filt(img: np.ndarray, g: np.ndarray, mode: str) -> np.ndarray:
    """Separable 'same' filtering of a 2-D array (``mode``: scipy border mode)."""
    from scipy.ndimage import correlate1d

    return np.asarray(correlate1d(correlate1d(img, g, axis=0, mode=mode), g, axis=1, mode=mode))


def _ssim_maps(a: np.ndarray, b: np.ndarray, f: Any, c1: float, c2: float) -> tuple[np.ndarray, np.ndarray]:
    """Luminance and contrast-structure maps with the local means ``f`` (a filter function)."""
    mu1, mu2 = f(a), f(b)
    s11 = f(a * a) - mu1 * mu1
    s22 = f(b * b) - mu2 * mu2
    s12 = f(a * b) - mu1 * mu2
    lum = (2 * mu1 * mu2 + c1) / (mu1 * mu1 + mu2 * mu2 + c1)
    cs = (2 * s12 + c2) / (s11 + s22 + c2)
    return lum, cs


def ssim_skimage_channel(a: np.ndarray, b: np.ndarray, win: int = 7, data_range: float = 255.0) -> float:
    """``skimage.metrics.structural_similarity`` of one channel: ``win x win`` uniform window
    (reflect borders), sample covariance ``N/(N-1)``, mean over the map without ``(win-1)/2`` borders."""
    from scipy.ndimage import uniform_filter

    npx = win * win
    cov = npx / (npx - 1.0)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    ux, uy = uniform_filter(a, size=win), uniform_filter(b, size=win)
    vx = cov * (uniform_filter(a * a, size=win) - ux * ux)
    vy = cov * (uniform_filter(b * b, size=win) - uy * uy)
    vxy = cov * (uniform_filter(a * b, size=win) - ux * uy)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    p = (win - 1) // 2
    return float(s[p : s.shape[0] - p, p : s.shape[1] - p].mean())


def skimage_win(h: int, w: int) -> int:
    """The flare script's window: ``min(7, min side)``, made odd, at least 3."""
    m = min(h, w)
    win = min(7, m) if m >= 3 else m
    if win % 2 == 0:
        win -= 1
    return max(win, 3)


def _ssim_3d(o: np.ndarray, g: np.ndarray) -> float:
    """BasicSR ``_ssim_3d``: 11x11x11 Gaussian over (H, W, C), replicate padding 5, 'same'."""
    from scipy.ndimage import correlate1d

    k = _gauss1d()
    peak = 1.0 if o.max() <= 1 else 255.0
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2

    def f(v: np.ndarray) -> np.ndarray:
        for ax in range(3):
            v = correlate1d(v, k, axis=ax, mode="nearest")
        return v

    lum, cs = _ssim_maps(o, g, f, c1, c2)
    return float((lum * cs).mean())


def _ssim_valid(a: np.ndarray, b: np.ndarray, relu_cs: bool) -> float:
    """Wang's 'valid' 11x11 Gaussian SSIM on 0..255 data (optionally with pyiqa's ``relu(cs)``)."""
    c1, c2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2
    k = _gauss1d()

    def f(v: np.ndarray) -> np.ndarray:
        return _filt(v, k, "constant")[5:-5, 5:-5]

    lum, cs = _ssim_maps(a, b, f, c1, c2)
    if relu_cs:
        cs = np.maximum(cs, 0.0)
    return float((lum * cs).mean())


def _y_pyiqa255(rgb: np.ndarray) -> np.ndarray:
    """pyiqa ``to_y_channel(x, 255)``: float32 ``x @ yiq`` Y of ``to_tensor`` values, times 255, rounded (half to even)."""
    x = torch.from_numpy(rgb.astype(np.float32)).div(255.0)
    w = torch.tensor([[0.299, 0.587, 0.114]], dtype=torch.float32).t()
    return torch.round(torch.matmul(x, w)[..., 0] * 255.0).double().numpy()


def _ssim_torch32(o: np.ndarray, g: np.ndarray, variant: str) -> float:
    """``gauss-zero`` / ``basicsr-3d`` in float32 torch, the operations of the scripts (CPU arithmetic)."""
    import torch.nn.functional as F

    t = torch.arange(11, dtype=torch.float64) - 5
    k = torch.exp(-(t**2) / (2 * 1.5**2))
    k = k / k.sum()
    if variant == "gauss-zero":
        a = torch.from_numpy(o.astype(np.float32) / np.float32(255)).permute(2, 0, 1)[None]
        b = torch.from_numpy(g.astype(np.float32) / np.float32(255)).permute(2, 0, 1)[None]
        k32 = torch.tensor([math.exp(-((x - 5) ** 2) / 4.5) for x in range(11)], dtype=torch.float32)
        k32 = k32 / k32.sum()
        win = (k32[:, None] @ k32[None, :])[None, None].expand(3, 1, 11, 11).contiguous()

        def f(v: torch.Tensor) -> torch.Tensor:
            return F.conv2d(v, win, padding=5, groups=3)

        c1, c2 = 0.01**2, 0.03**2
    else:
        peak = 1.0 if o.max() <= 1 else 255.0
        a = torch.from_numpy(o).float()[None, None]
        b = torch.from_numpy(g).float()[None, None]
        win = (k[:, None, None] * k[None, :, None] * k[None, None, :]).float()[None, None]

        def f(v: torch.Tensor) -> torch.Tensor:
            return F.conv3d(F.pad(v, (5,) * 6, mode="replicate"), win)

        c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mu1, mu2 = f(a), f(b)
    s11, s22, s12 = f(a * a) - mu1.pow(2), f(b * b) - mu2.pow(2), f(a * b) - mu1 * mu2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1.pow(2) + mu2.pow(2) + c1) * (s11 + s22 + c2))
    return float(m.mean())


def _ssim_one(o: np.ndarray, g: np.ndarray, variant: str, float32: bool = False) -> float:
    if float32 and variant in ("gauss-zero", "basicsr-3d"):
        return _ssim_torch32(o, g, variant)
    if variant == "skimage":
        win = skimage_win(o.shape[0], o.shape[1])
        return float(np.mean([ssim_skimage_channel(o[..., c], g[..., c], win) for c in range(3)]))
    if variant == "gauss-zero":
        k = _gauss1d()
        c1, c2 = 0.01**2, 0.03**2
        vals = [_ssim_maps(o[..., c] / 255.0, g[..., c] / 255.0, lambda v: _filt(v, k, "constant"), c1, c2)
                for c in range(3)]
        return float(np.mean([(lum * cs).mean() for lum, cs in vals]))
    if variant == "basicsr-3d":
        return _ssim_3d(o, g)
    if variant == "y-same-replicate":
        k = _gauss1d()
        c1, c2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2
        lum, cs = _ssim_maps(y_basicsr(o), y_basicsr(g), lambda v: _filt(v, k, "nearest"), c1, c2)
        return float((lum * cs).mean())
    if variant == "pyiqa-y":
        return _ssim_valid(_y_pyiqa255(o), _y_pyiqa255(g), relu_cs=True)
    if variant == "matlab-y-uint8":
        return _ssim_valid(y_matlab_uint8(o), y_matlab_uint8(g), relu_cs=False)
    raise InputError(f"study_ssim variant must be one of {', '.join(SSIM_VARIANTS)}, got {variant!r}")


def study_ssim(x: torch.Tensor, ref: torch.Tensor, *, variant: str = "skimage", float32: bool = False) -> torch.Tensor:
    """SSIM of the study's scripts on the 8-bit values (see the module docstring for ``variant``).

    ``float32=True`` computes ``gauss-zero`` and ``basicsr-3d`` with float32 torch convolutions as
    the scripts do (their values then agree to ~1e-7 on CPU instead of ~3e-5); other variants are float64.

    Returns:
        ``(N,)`` float64, 1 for identical images.
    """
    check_pair(x, ref, 11 if variant in ("pyiqa-y", "matlab-y-uint8") else 1)
    o, g = to_u8(x), to_u8(ref)
    return torch.tensor([_ssim_one(o[i], g[i], variant, float32) for i in range(o.shape[0])], dtype=torch.float64)


def study_ms_ssim(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """piq ``multi_scale_ssim`` (defaults) per RGB channel on [0, 1], averaged over channels.

    Five levels with weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); 11x11 Gaussian (sigma 1.5),
    'valid' filtering, K1 = 0.01, K2 = 0.03; before each coarser level the image is padded by one
    row/column at the top/left (replicate) when a side is odd and 2x2-average pooled; every level's
    value is clipped at 0 (``relu``) before the weighted product.
    """
    check_pair(x, ref, 161)
    o, g = to_u8(x) / 255.0, to_u8(ref) / 255.0
    weights = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
    k = _gauss1d()
    c1, c2 = 0.01**2, 0.03**2
    out = []
    for i in range(o.shape[0]):
        vals = []
        for c in range(3):
            a, b = o[i, ..., c], g[i, ..., c]
            prod = 1.0
            for lvl, w in enumerate(weights):
                if lvl > 0:
                    a, b = _pool2(a), _pool2(b)
                lum, cs = _ssim_maps(a, b, lambda v: _filt(v, k, "constant")[5:-5, 5:-5], c1, c2)
                val = (lum * cs).mean() if lvl == len(weights) - 1 else cs.mean()
                prod *= max(float(val), 0.0) ** w
            vals.append(prod)
        out.append(float(np.mean(vals)))
    return torch.tensor(out, dtype=torch.float64)


def _pool2(a: np.ndarray) -> np.ndarray:
    """piq's downsampling: replicate-pad one row and column at the start if any side is odd, 2x2 mean."""
    pad = max(a.shape[0] % 2, a.shape[1] % 2)
    if pad:
        a = np.pad(a, ((pad, 0), (pad, 0)), mode="edge")
    h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
    a = a[:h, :w]
    return np.asarray((a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]) / 4.0)


# ------------------------------------------------------------------------------------------ ΔE94


def delta_e94(x: torch.Tensor, ref: torch.Tensor, *, k1: float = 0.045, k2: float = 0.015) -> torch.Tensor:
    """Mean CIE94 colour difference with the reference (``ref``, the ground truth) as first colour.

    ``ΔE94 = sqrt((ΔL/S_L)^2 + (ΔC/S_C)^2 + ΔH^2/S_H^2)`` with ``S_L = 1``, ``S_C = 1 + K1 C1``,
    ``S_H = 1 + K2 C1``, ``C1`` the reference chroma and ``ΔH^2 = 2 (C1 C2 - a1 a2 - b1 b2)``;
    CIELAB from sRGB (D65, 2°) of the 8-bit values. The same definition as
    ``skimage.color.deltaE_ciede94(rgb2lab(gt), rgb2lab(out))`` (the HDR script).
    """
    check_pair(x, ref)
    from .colour import rgb_to_lab

    lab2 = rgb_to_lab(torch.from_numpy(to_u8(x) / 255.0).permute(0, 3, 1, 2), dtype=torch.float64).numpy()
    lab1 = rgb_to_lab(torch.from_numpy(to_u8(ref) / 255.0).permute(0, 3, 1, 2), dtype=torch.float64).numpy()
    l1, a1, b1 = lab1[:, 0], lab1[:, 1], lab1[:, 2]
    l2, a2, b2 = lab2[:, 0], lab2[:, 1], lab2[:, 2]
    c1 = np.hypot(a1, b1)
    c2 = np.hypot(a2, b2)
    dh2 = np.maximum(2.0 * (c1 * c2 - a1 * a2 - b1 * b2), 0.0)
    de = np.sqrt((l1 - l2) ** 2 + ((c1 - c2) / (1 + k1 * c1)) ** 2 + dh2 / (1 + k2 * c1) ** 2)
    return torch.from_numpy(de.reshape(de.shape[0], -1).mean(1))


# ------------------------------------------------------------------------------------------ NIQE


def study_niqe(x: torch.Tensor, params_path: str | None = None) -> torch.Tensor:
    """BasicSR ``calculate_niqe(img, 0, 'HWC', 'y')`` (the dehazing script).

    Differs from paradigm's ``niqe`` (official MATLAB) in two steps: the grey image is BasicSR's
    BT.601 Y (studio swing, *not* rounded) instead of MATLAB ``rgb2gray`` rounded to uint8, and the
    second scale is ``cv2.resize(img / 255, (w // 2, h // 2), INTER_LINEAR) * 255`` which OpenCV
    computes as a 2x2 average (an exact halving with ``INTER_LINEAR`` is routed to ``INTER_AREA``)
    instead of MATLAB's antialiased bicubic ``imresize``. Features, the pristine model (the same
    ``niqe_pris_params``) and the distance are shared with :func:`paradigm.metrics.nr_classic.niqe`.
    """
    from .nr_classic import (
        NIQE_BLOCK,
        _load_niqe_params,
        _nanmean_nancov,
        _niqe_block_features,
        _resolve,
        mscn,
    )

    check_image(x, "image")
    h, w = x.shape[-2:]
    if h < NIQE_BLOCK or w < NIQE_BLOCK:
        raise InputError(f"NIQE needs at least one 96x96 block, got an image of {h}x{w} px")
    mu_p, cov_p = _load_niqe_params(str(_resolve("niqe_pris_params", params_path)))
    y = torch.from_numpy(y_basicsr(to_u8(x)))[:, None]  # (N, 1, H, W) float64
    nh, nw = h // NIQE_BLOCK, w // NIQE_BLOCK
    img = y[..., : nh * NIQE_BLOCK, : nw * NIQE_BLOCK]
    feats = [_niqe_block_features(mscn(img, "replicate"), NIQE_BLOCK)]
    half = torch.nn.functional.avg_pool2d(img, 2)
    feats.append(_niqe_block_features(mscn(half, "replicate"), NIQE_BLOCK // 2))
    feat = torch.cat(feats, -1)
    mu_d, cov_d = _nanmean_nancov(feat)
    cov = (torch.from_numpy(np.array(cov_p))[None] + cov_d) / 2
    diff = (torch.from_numpy(np.array(mu_p))[None] - mu_d)[:, None, :]
    q = (diff @ torch.linalg.pinv(cov) @ diff.transpose(1, 2)).reshape(-1)
    return torch.sqrt(q).to(torch.float64)


# ------------------------------------------------------------------------------------ underwater


def _pad_to_blocks(ch: np.ndarray, bs: int) -> np.ndarray:
    """The script's ``skimage.transform.resize`` up to the next multiple of ``bs`` (when needed)."""
    m, n = ch.shape
    if m % bs == 0 and n % bs == 0:
        return ch
    from skimage import transform

    x = m - m % bs + bs if m % bs else m
    y = n - n % bs + bs if n % bs else n
    return np.asarray(transform.resize(ch, (x, y), anti_aliasing=True))


def _block_minmax(ch: np.ndarray, bs: int) -> tuple[np.ndarray, np.ndarray]:
    m, n = ch.shape
    b = ch.reshape(m // bs, bs, n // bs, bs)
    return b.max(axis=(1, 3)), b.min(axis=(1, 3))


def _amee(ch: np.ndarray, bs: int) -> float:
    mx, mn = _block_minmax(ch, bs)
    ok = ((mx != 0) | (mn != 0)) & (mx != mn)
    r = np.where(ok, (mx - mn) / np.where(ok, mx + mn, 1.0), 1.0)
    return float(abs(np.where(ok, np.log(r) * r, 0.0).sum()) / mx.size)


def _eme(ch: np.ndarray, bs: int) -> float:
    mx, mn = _block_minmax(ch, bs)
    ok = (mx > 0) & (mn > 0)
    return float(2 * abs(np.where(ok, np.log(np.where(ok, mx, 1.0) / np.where(ok, mn, 1.0)), 0.0).sum()) / mx.size)


def _uicm_study(img: np.ndarray) -> float:
    r, g, b = img[..., 0].ravel(), img[..., 1].ravel(), img[..., 2].ravel()
    k = r.size
    start, end = int(0.1 * k + 1), int(k * 0.9)
    n = max(1.0, k * (1 - 0.2))

    def trimmed(v: np.ndarray) -> tuple[float, float]:
        s = np.sort(v)
        s = s[start:end] if start < end else s
        mean = float(s.sum() / n)
        return mean, math.sqrt(float(((s - mean) ** 2).sum()) / n)

    m_rg, d_rg = trimmed(r - g)
    m_yb, d_yb = trimmed((r + g) / 2 - b)
    return -0.0268 * math.sqrt(m_rg**2 + m_yb**2) + 0.1586 * math.sqrt(d_yb**2 + d_rg**2)


def _uism_study(img: np.ndarray, bs: int) -> float:
    from scipy import ndimage

    hx = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float64)
    hy = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
    total = 0.0
    for c, lam in enumerate((0.299, 0.587, 0.114)):
        ch = img[..., c]
        sob = np.abs(ndimage.convolve(ch, hx, mode="nearest") + ndimage.convolve(ch, hy, mode="nearest"))
        total += lam * _eme(_pad_to_blocks(sob, bs), bs)
    return total


def study_uiqm(x: torch.Tensor, *, bgr: bool = False, block_size: int = 5) -> dict[str, torch.Tensor]:
    """UIQM as the underwater script ``uie_evl_withoutgt.py`` computes it.

    ``UIQM = 0.0282 UICM + 0.2953 UISM + 3.5753 UIConM`` on the 8-bit values with: UICM from
    alpha-trimmed (10 %/10 %) sums of RG and YB divided by ``0.8 K``; UISM the EME (``2 |sum log(max/min)|``
    over ``block_size`` blocks with positive max and min) of ``|h_x * I + h_y * I|`` (scipy
    ``convolve``, 'nearest' borders), weights 0.299/0.587/0.114; UIConM the sum over the three
    channels of ``|sum r log r| / blocks`` with ``r = (max-min)/(max+min)``. Sides that are not a
    multiple of ``block_size`` are first resized up to one with ``skimage.transform.resize``.

    Args:
        x: ``(N, 3, H, W)`` RGB in [0, 1].
        bgr: feed the channels in B, G, R order as the script does (it reads with ``cv2.imread``
            and indexes channel 0 as red); False is the corrected RGB order.
        block_size: block side (5 in the script).

    Returns:
        dict of ``(N,)`` float64: ``study_uiqm``, ``study_uicm``, ``study_uism``, ``study_uiconm``.
    """
    check_image(x, "image")
    imgs = to_u8(x)
    rows = []
    for img in imgs:
        if bgr:
            img = img[..., ::-1]
        uicm = _uicm_study(img)
        uism = _uism_study(img, block_size)
        uiconm = sum(_amee(_pad_to_blocks(img[..., c], block_size), block_size) for c in range(3))
        rows.append((0.0282 * uicm + 0.2953 * uism + 3.5753 * uiconm, uicm, uism, uiconm))
    v = torch.tensor(rows, dtype=torch.float64).reshape(-1, 4)
    return {"study_uiqm": v[:, 0], "study_uicm": v[:, 1], "study_uism": v[:, 2], "study_uiconm": v[:, 3]}


#: sRGB -> XYZ (D65) matrix and white point of OpenCV's Lab conversion.
_XYZ = np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])
_WHITE = np.array([0.950456, 1.0, 1.088754])


def _lab_tables() -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's 8-bit Lab tables: sRGB linearisation x 255 x 2^3 and ``f(t)`` x 2^15 on 3072 steps."""
    x = np.arange(256) / 255.0
    lin = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    gamma_tab = np.rint(255.0 * 8 * lin).astype(np.int64)
    t = np.arange(256 * 3 // 2 * 8) / (255.0 * 8)
    f = np.where(t < 0.008856, t * 7.787 + 16.0 / 116.0, np.cbrt(t))
    return gamma_tab, np.rint((1 << 15) * f).astype(np.int64)


def lab_cv2_u8(rgb: np.ndarray) -> np.ndarray:
    """``cv2.cvtColor(bgr, COLOR_BGR2LAB)`` of 8-bit RGB: ``(L * 255/100, a + 128, b + 128)`` as uint8 values.

    OpenCV's fixed-point algorithm: table-linearised sRGB (x 2^3), the XYZ/white-point matrix in
    2^-12 steps, ``f(t)`` from a 2^15-scaled table, ``L = (116 * 255 + 50) // 100 * f(Y)`` minus the
    scaled 16, ``a = 500 (f(X) - f(Y))``, ``b = 200 (f(Y) - f(Z))`` plus 128, each rounded by its shift.
    Compared with ``opencv-python-headless`` 5.1 on all 2^24 colours: 1 675 of the 50 331 648 values
    are one level apart (the tables' float rounding), the rest identical.
    """
    gamma_tab, f_tab = _lab_tables()
    coef = np.rint(4096 * _XYZ / _WHITE[:, None]).astype(np.int64)
    v = gamma_tab[rgb.astype(np.int64)]  # (..., 3)

    def descale(x: np.ndarray, n: int) -> np.ndarray:
        return (x + (1 << (n - 1))) >> n

    fx, fy, fz = (f_tab[np.minimum(descale(v @ coef[i], 12), f_tab.size - 1)] for i in range(3))
    lum = descale((116 * 255 + 50) // 100 * fy - (16 * 255 * (1 << 15) + 50) // 100, 15)
    a = descale(500 * (fx - fy) + 128 * (1 << 15), 15)
    b = descale(200 * (fy - fz) + 128 * (1 << 15), 15)
    return np.clip(np.stack([lum, a, b], -1), 0, 255).astype(np.float64)


def _uciqe_one(lab: np.ndarray) -> float:
    lum, a, b = lab[..., 0] / 255.0, lab[..., 1] / 255.0, lab[..., 2] / 255.0
    chroma = np.sqrt(a * a + b * b)
    sat = chroma / (np.sqrt(chroma * chroma + lum * lum) + 1e-8)
    aver_chr = chroma.mean()
    var_chr = math.sqrt(float(np.mean(np.abs(1 - (aver_chr / (chroma + 1e-8)) ** 2))))
    nbins = 65536
    hist, _ = np.histogram(lum, nbins)
    cdf = np.cumsum(hist) / hist.sum()
    ilow, ihigh = np.where(cdf > 0.01)[0], np.where(cdf >= 0.99)[0]
    con = 0.0 if (len(ilow) == 0 or len(ihigh) == 0) else (ihigh[0] - ilow[0]) / (nbins - 1)
    return 0.4680 * var_chr + 0.2745 * con + 0.2576 * float(sat.mean())


def study_uciqe(x: torch.Tensor) -> torch.Tensor:
    """UCIQE as the underwater script computes it (from OpenCV's 8-bit Lab, :func:`lab_cv2_u8`).

    ``0.4680 sigma_c + 0.2745 con_l + 0.2576 mu_s`` with L, a, b divided by 255 *with* OpenCV's +128
    offset of a and b kept in the chroma ``sqrt(a^2 + b^2)``, ``sigma_c = sqrt(mean|1 - (mean_c / c)^2|)``,
    ``mu_s = mean(c / sqrt(c^2 + L^2))`` and ``con_l`` the distance between the 1 % and 99 %
    cumulative bins of a 65 536-bin histogram spanning the luminance minimum to maximum, over 65 535.
    The script gives the image to OpenCV as BGR, which is correct for this metric.
    """
    check_image(x, "image")
    return torch.tensor([_uciqe_one(lab_cv2_u8(img)) for img in to_u8(x)], dtype=torch.float64)


# ------------------------------------------------------------------------------ registered classes


class _Study(Metric):
    pillar = "diagnostic"
    version = "1"


class _StudyFR(_Study):
    kind = "full-reference"
    reference = "gt"

    def _ref(self, ref: torch.Tensor | None) -> torch.Tensor:
        if ref is None:
            raise InputError(f"metric {self.name!r} is full-reference: pass the ground truth as ref")
        return ref


@register
class StudyPSNR(_StudyFR):
    name = "study_psnr"
    value_range = (-float("inf"), float("inf"))  # rgb-basicsr's peak 1 can give negative values
    defaults: ClassVar[dict[str, Any]] = {"variant": "rgb", "identical": 100.0}
    description = "Study-script PSNR variants (rgb, rgb-per-channel, y-pyiqa, y-matlab-uint8, rgb-basicsr)"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return study_psnr(x, self._ref(ref), variant=self.options["variant"], identical=float(self.options["identical"]))


@register
class StudySSIM(_StudyFR):
    name = "study_ssim"
    value_range = (-1.0, 1.0)
    defaults: ClassVar[dict[str, Any]] = {"variant": "skimage", "float32": False}
    description = "Study-script SSIM variants (skimage, gauss-zero, basicsr-3d, y-same-replicate, pyiqa-y, matlab-y-uint8)"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return study_ssim(x, self._ref(ref), variant=self.options["variant"], float32=bool(self.options["float32"]))


@register
class StudyMSSSIM(_StudyFR):
    name = "study_ms_ssim"
    min_size = 161
    description = "piq multi_scale_ssim per RGB channel, averaged (reflection-removal script)"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return study_ms_ssim(x, self._ref(ref))


@register
class StudyDeltaE94(_StudyFR):
    name = "study_delta_e94"
    higher_is_better = False
    value_range = (0.0, float("inf"))
    description = "Mean CIE94 colour difference, ground truth as reference (HDR script)"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return delta_e94(x, self._ref(ref))


@register
class StudyNIQE(_Study):
    name = "study_niqe"
    kind = "no-reference"
    reference = "none"
    higher_is_better = False
    value_range = (0.0, float("inf"))
    weights = ("niqe_pris_params",)
    min_size = 96
    defaults: ClassVar[dict[str, Any]] = {"params_path": None}
    description = "BasicSR NIQE (unrounded BT.601 Y, 2x2-average second scale; dehazing script)"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return study_niqe(x, self.options["params_path"])


@register
class StudyBRISQUE(_Study):
    name = "study_brisque"
    kind = "no-reference"
    reference = "none"
    higher_is_better = False
    value_range = (-float("inf"), float("inf"))
    weights = ("brisque_allmodel", "brisque_allrange")
    defaults: ClassVar[dict[str, Any]] = {"sign": 1.0, "model_path": None, "range_path": None}
    description = "BRISQUE times sign (the dehazing script multiplies by -1)"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        from .nr_classic import brisque

        val = brisque(x, model_path=self.options["model_path"], range_path=self.options["range_path"])
        return float(self.options["sign"]) * val.to(torch.float64)


@register
class StudyLPIPS(_StudyFR):
    name = "study_lpips"
    higher_is_better = False
    weights = ("alexnet", "lpips_alex_v0.1")
    min_size = 16
    defaults: ClassVar[dict[str, Any]] = {"unnormalised": False}
    description = "LPIPS-Alex v0.1 at native size; unnormalised=True feeds [0,1] as [-1,1] (HDR script)"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        from .deep import lpips

        r = self._ref(ref)
        if self.options["unnormalised"]:
            # paradigm's lpips maps v -> 2 v - 1; (v + 1) / 2 makes the network see v itself
            x, r = (x + 1) / 2, (r + 1) / 2
        return lpips(x, r, max_pixels=None).to(torch.float64)


@register
class StudyUIQM(_Study):
    name = "study_uiqm"
    kind = "no-reference"
    reference = "none"
    value_range = (-float("inf"), float("inf"))
    pillar = "diagnostic"
    min_size = 5
    outputs = ("study_uiqm", "study_uicm", "study_uism", "study_uiconm")
    defaults: ClassVar[dict[str, Any]] = {"bgr": False, "block_size": 5}
    description = "UIQM of the underwater script (5x5 blocks, per-channel UIConM; bgr=True: its channel order)"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return study_uiqm(x, bgr=bool(self.options["bgr"]), block_size=int(self.options["block_size"]))


@register
class StudyUCIQE(_Study):
    name = "study_uciqe"
    kind = "no-reference"
    reference = "none"
    value_range = (0.0, float("inf"))
    description = "UCIQE of the underwater script (OpenCV 8-bit Lab with +128 offset, 65536-bin contrast)"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return study_uciqe(x)
