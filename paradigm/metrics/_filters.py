"""Shared filtering helpers reproducing MATLAB semantics with batched torch ``conv2d``.

Everything works on ``(B, 1, H, W)`` or ``(N, C, H, W)`` tensors (channels are folded into the batch),
on any device and dtype. Gaussian windows are applied separably (two 1-D convolutions).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def gaussian_kernel1d(
    size: int = 11, sigma: float = 1.5, *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """Normalised 1-D Gaussian; its outer product with itself is MATLAB ``fspecial('gaussian', size, sigma)``.

    Args:
        size: number of taps (odd or even, as fspecial).
        sigma: standard deviation in pixels.

    Returns:
        ``(size,)`` tensor summing to 1.
    """
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(coords**2) / (2.0 * sigma**2))
    return (g / g.sum()).to(dtype=dtype, device=device)


def separable_filter_valid(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Correlate every channel with the separable window ``k ⊗ k``, keeping only the 'valid' part.

    Equals MATLAB ``filter2(k' * k, img, 'valid')`` for a symmetric ``k``. All ``N * C`` planes
    are filtered by one depthwise (grouped) convolution per direction in channels-last layout,
    which is several times faster on CPU than a batch of single-channel convolutions.

    Args:
        x: ``(N, C, H, W)``.
        k: ``(K,)`` 1-D kernel.

    Returns:
        ``(N, C, H - K + 1, W - K + 1)``.
    """
    n, c, h, w = x.shape
    planes = n * c
    k = k.to(dtype=x.dtype, device=x.device)
    size = k.numel()
    if x.device.type == "cpu" and x.dtype == torch.float64:
        # oneDNN has no fast float64 depthwise path: shifted multiply-adds are ~7x faster
        return _shifted_filter(_shifted_filter(x, k, -1), k, -2)
    xf = x.reshape(1, planes, h, w)
    if x.device.type == "cpu":
        xf = xf.contiguous(memory_format=torch.channels_last)
    wh = k.view(1, 1, 1, size).expand(planes, 1, 1, size).contiguous()
    wv = k.view(1, 1, size, 1).expand(planes, 1, size, 1).contiguous()
    y = F.conv2d(F.conv2d(xf, wh, groups=planes), wv, groups=planes)
    return y.reshape(n, c, h - size + 1, w - size + 1)


def _shifted_filter(x: torch.Tensor, k: torch.Tensor, dim: int) -> torch.Tensor:
    """'valid' correlation with the 1-D kernel ``k`` along ``dim`` via shifted multiply-adds."""
    size = k.numel()
    out_len = x.shape[dim] - size + 1
    taps = [float(v) for v in k.tolist()]
    acc = x.narrow(dim, 0, out_len) * taps[0]
    for i in range(1, size):
        acc.add_(x.narrow(dim, i, out_len), alpha=taps[i])
    return acc


def conv2_same(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """MATLAB ``conv2(img, kernel, 'same')`` (true convolution, zero padding) for every channel.

    Args:
        x: ``(N, C, H, W)``.
        kernel: ``(kh, kw)`` 2-D kernel.

    Returns:
        ``(N, C, H, W)``.
    """
    kh, kw = kernel.shape
    kflip = torch.flip(kernel, dims=(0, 1)).to(dtype=x.dtype, device=x.device)
    # conv2 'same' keeps full-convolution rows starting at floor(k/2) (0-based)
    top, left = (kh - 1) - kh // 2, (kw - 1) - kw // 2
    bottom, right = kh - 1 - top, kw - 1 - left
    n, c, h, w = x.shape
    planes = n * c
    xf = F.pad(x.reshape(1, planes, h, w), (left, right, top, bottom))
    if x.device.type == "cpu" and x.dtype != torch.float64:
        xf = xf.contiguous(memory_format=torch.channels_last)
    weight = kflip.view(1, 1, kh, kw).expand(planes, 1, kh, kw).contiguous()
    return F.conv2d(xf, weight, groups=planes).reshape(n, c, h, w)


def symmetric_index(n: int, before: int, after: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Indices of a length-``n`` axis padded MATLAB-'symmetric' style (mirror including the edge).

    Negative ``after`` crops instead of padding.
    """
    idx = torch.arange(-before, n + after, device=device)
    period = 2 * n
    idx = torch.remainder(idx, period)
    return torch.where(idx >= n, period - 1 - idx, idx)


def matlab_average_downsample(x: torch.Tensor, f: int, *, padding: str = "symmetric") -> torch.Tensor:
    """``imfilter(img, ones(f)/f^2, padding, 'same')`` followed by ``img(1:f:end, 1:f:end)``.

    This is the downsampling step of the official SSIM (``ssim.m``, ``'symmetric'``) and MS-SSIM
    (``msssim.m``) releases; GMSD's ``conv2(img, ones(2)/4, 'same')`` is ``padding="zeros"``.

    Args:
        x: ``(N, C, H, W)``.
        f: block size (>= 1; 1 returns ``x``).
        padding: ``"symmetric"`` (MATLAB imfilter 'symmetric') or ``"zeros"``.

    Returns:
        ``(N, C, ceil(H / f), ceil(W / f))``.
    """
    if f <= 1:
        return x
    h, w = x.shape[-2:]
    centre = (f + 1) // 2  # MATLAB kernel centre, 1-based: floor((f + 1) / 2)
    before = centre - 1
    out_h, out_w = math.ceil(h / f), math.ceil(w / f)
    after_h = out_h * f - h - before
    after_w = out_w * f - w - before
    if padding == "symmetric":
        ih = symmetric_index(h, before, after_h, x.device)
        iw = symmetric_index(w, before, after_w, x.device)
        xp = x.index_select(-2, ih).index_select(-1, iw)
    elif padding == "zeros":
        xp = F.pad(x, (before, max(after_w, 0), before, max(after_h, 0)))
        xp = xp[..., : out_h * f, : out_w * f]
    else:
        raise ValueError(f"padding must be 'symmetric' or 'zeros', got {padding!r}")
    return F.avg_pool2d(xp, kernel_size=f, stride=f)
