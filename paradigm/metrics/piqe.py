"""PIQE, the perception-based image quality evaluator (Venkatanath et al., NCC 2015), no-reference.

Reproduces MATLAB's ``piqe`` (Image Processing Toolbox), which has no trained parameters:

* grey image: MATLAB ``rgb2gray`` of the 8-bit image (rounded as uint8), rescaled to
  ``round(255 * g / max(g))``;
* padded (``padarray(., 'symmetric', 'post')``) to a multiple of the 16x16 block size;
* MSCN coefficients ``(I - mu) / (sigma + 1)`` with a 7x7 Gaussian window (sigma 7/6) and
  replicated borders (``imfilter(., 'replicate')``);
* per block (all blocks at once here): variance ``v`` (N - 1 normalisation); a block is *active*
  when ``v > 0.1``; it shows a *noticeable artifact* when any of the 11 six-pixel segments of its
  four edges has a standard deviation below 0.1; it is *noisy* when ``sigma > 2 beta`` with
  ``beta = |sigma - r| / max(sigma, r)`` and ``r`` the ratio of the standard deviations of the
  block's two centre columns and of the rest of the block;
* ``PIQE = 100 (1 + sum_active(artifact (1 - v) + noisy v)) / (1 + number of active blocks)``.

Scores lie in [0, 100]; lower is better (MATLAB's bands: 0-20 excellent ... 80-100 bad).

Pillar: perceptual. PIQE is an opinion-unaware no-reference estimate of perceived distortion
(blockiness and noise in spatially active regions), used as a perceptual baseline; it needs no
reference and no trained model. See ``docs/metrics-fr-classic.md``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from ..errors import InputError
from ._filters import MEMO, _values_ok, gaussian_kernel1d, separable_filter_valid, thread_map
from .base import Kind, Metric, Pillar, Reference, check_image
from .registry import register
from .vif import _grey

PIQE_BLOCK = 16
PIQE_ACTIVITY_THRESHOLD = 0.1
PIQE_IMPAIRED_THRESHOLD = 0.1
PIQE_SEGMENT = 6


def _mscn(g: torch.Tensor) -> torch.Tensor:
    """``(I - mu) / (sigma + 1)`` with ``fspecial('gaussian', 7, 7/6)`` and replicated borders."""
    win = gaussian_kernel1d(7, 7.0 / 6.0, dtype=g.dtype)
    n, c, h, w = g.shape
    # the replicate-padded image and its square, filtered together
    planes = g.new_empty((n, 2 * c, h + 6, w + 6))
    planes[:, :c] = F.pad(g, (3, 3, 3, 3), mode="replicate")
    torch.mul(planes[:, :c], planes[:, :c], out=planes[:, c:])
    f = separable_filter_valid(planes, win)
    mu = f[:, :c]
    sigma = torch.mul(mu, mu).sub_(f[:, c:]).abs_().sqrt_()
    return (g - mu).div_(sigma.add_(1.0))


def _pad_post_symmetric(x: torch.Tensor, block: int) -> torch.Tensor:
    """``padarray(x, pad, 'symmetric', 'post')`` up to a multiple of ``block`` along H and W."""
    h, w = x.shape[-2:]
    ph, pw = -h % block, -w % block
    if ph:
        x = torch.cat((x, x[..., h - ph :, :].flip(-2)), dim=-2) if ph <= h else _pad_idx(x, -2, ph)
    if pw:
        x = torch.cat((x, x[..., :, w - pw :].flip(-1)), dim=-1) if pw <= w else _pad_idx(x, -1, pw)
    return x


def _pad_idx(x: torch.Tensor, dim: int, pad: int) -> torch.Tensor:
    n = x.shape[dim]
    idx = torch.arange(n + pad, device=x.device) % (2 * n)
    idx = torch.where(idx >= n, 2 * n - 1 - idx, idx)
    return x.index_select(dim, idx)


def _sliding_std(x: torch.Tensor, size: int) -> torch.Tensor:
    """Sample standard deviation (``std``, divisor ``size - 1``) of every ``size``-long window of the
    last dimension, two-pass (mean, then squared deviations) from shifted slices: the values of
    ``x.unfold(-1, size, 1).std(-1)`` without reducing over a strided view, which is slow on CPU."""
    n = x.shape[-1] - size + 1
    views = [x[..., k : k + n] for k in range(size)]
    total = views[0].clone()
    for v in views[1:]:
        total.add_(v)
    mean = total / size
    dev = (views[0] - mean).square_()
    for v in views[1:]:
        dev.add_((v - mean).square_())
    return dev.div_(size - 1).sqrt_()


def _block_stats(mscn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-block variance, noticeable-artifact flag and noise flag, each ``(N, blocks)``.

    Block moments come from sums over the ``(N, rows, 16, cols, 16)`` view of the map, with the
    deviations taken from each block's mean (so the sums of squares do not cancel): the variance of
    the block, of its two centre columns and of its surround are ``(S2 - S1^2 / n) / (n - 1)`` of
    those deviations, the same values as ``var``/``std`` over gathered copies up to rounding.
    """
    n, _, h, w = mscn.shape
    b = PIQE_BLOCK
    grid = mscn.reshape(n, h // b, b, w // b, b)
    mean = grid.sum(dim=(2, 4), keepdim=True).div_(b * b)
    dev = grid - mean  # (N, R, 16, C, 16)
    dev2 = dev * dev
    col1 = dev.sum(dim=2)  # (N, R, C, 16): per-column sums of deviations
    col2 = dev2.sum(dim=2)
    var = col2.sum(dim=-1).div_(b * b - 1)
    # noise: centre-surround deviation ratio. As MATLAB's piqe, the centre is columns 8 and 9
    # (1-based) and the surround is what is left after deleting column 8 and then column 9 of the
    # shortened block, i.e. every column but 8 and 10
    c1 = (b - 1 + 1) // 2 - 1  # 0-based first centre column
    centre = _var_from_sums(col1[..., c1 : c1 + 2].sum(dim=-1), col2[..., c1 : c1 + 2].sum(dim=-1), 2 * b)
    out1 = col1[..., c1] + col1[..., c1 + 2]
    out2 = col2[..., c1] + col2[..., c1 + 2]
    surround = _var_from_sums(col1.sum(dim=-1) - out1, col2.sum(dim=-1) - out2, b * (b - 2))
    ratio = torch.nan_to_num(centre.sqrt_() / surround.sqrt_())
    # noticeable artifacts: a low-variance 6-px segment on any of the four block edges
    blocks = grid.permute(0, 1, 3, 2, 4)  # (N, R, C, 16, 16) view
    edges = torch.stack((blocks[..., 0, :], blocks[..., :, b - 1], blocks[..., b - 1, :], blocks[..., :, 0]), 3)
    seg_std = _sliding_std(edges, PIQE_SEGMENT)
    artifact = (seg_std < PIQE_IMPAIRED_THRESHOLD).flatten(3).any(dim=3)
    sigma = var.sqrt()
    beta = (sigma - ratio).abs() / torch.maximum(sigma, ratio)
    noisy = sigma > 2 * beta
    return var.reshape(n, -1), artifact.reshape(n, -1), noisy.reshape(n, -1)


def _var_from_sums(s1: torch.Tensor, s2: torch.Tensor, count: int) -> torch.Tensor:
    """Sample variance (divisor ``count - 1``) from the sum and the sum of squares of deviations from
    a nearby value (the block mean); clamped at 0 against rounding."""
    return (s2 - s1 * s1 / count).div_(count - 1).clamp_min_(0.0)


def piqe(x: torch.Tensor) -> torch.Tensor:
    """PIQE of MATLAB's ``piqe`` (see the module docstring).

    Args:
        x: ``(N, C, H, W)`` images in [0, 1], C in {1, 3}, sides >= 16.

    Returns:
        ``(N,)`` float64 PIQE in [0, 100]; lower is better.
    """
    _check(x)
    if min(x.shape[-2:]) < PIQE_BLOCK:
        raise InputError(f"images of {tuple(x.shape[-2:])} px are too small for PIQE (min {PIQE_BLOCK} px)")
    g = _grey(x)  # shared with VIF, VIFP, NLPD and CW-SSIM on the same batch
    # image by image: the float64 filtering and block statistics then run within the cache; on CPU
    # the compiled loops release the GIL, so the images run on all cores
    one = (lambda i: _piqe_one(g[i : i + 1]))  # noqa: E731
    return torch.cat(thread_map(one, range(g.shape[0])) if g.device.type == "cpu" else [one(i) for i in range(g.shape[0])])


def _check(x: torch.Tensor) -> None:
    """:func:`check_image`, with its value scan (one ``aminmax`` pass) done once per batch tensor."""
    if not (
        isinstance(x, torch.Tensor)
        and x.ndim == 4
        and x.shape[1] in (1, 3)
        and x.is_floating_point()
        and MEMO.get_or_compute("valid", (x,), lambda: _values_ok(x))
    ):
        check_image(x)


def _piqe_one(g: torch.Tensor) -> torch.Tensor:
    """PIQE of ``(N, 1, H, W)`` 0..255 grey images (float64); on CPU the compiled loops of :mod:`._piqe_jit`."""
    peak = g.flatten(1).amax(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    if not bool((peak == 255.0).all()):  # 255 g / 255 rounds back to the integer g itself
        g = torch.floor(255.0 * g / peak + 0.5)
    if g.device.type == "cpu":
        from ._piqe_jit import piqe_one

        taps = gaussian_kernel1d(7, 7.0 / 6.0, dtype=torch.float64).numpy()
        gn = g.to(torch.float64).contiguous().numpy()[:, 0]
        vals = [piqe_one(gn[i], taps, PIQE_ACTIVITY_THRESHOLD, PIQE_IMPAIRED_THRESHOLD) for i in range(gn.shape[0])]
        return torch.tensor(vals, dtype=torch.float64)
    var, artifact, noisy = _block_stats(_mscn(_pad_post_symmetric(g, PIQE_BLOCK)))
    active = var > PIQE_ACTIVITY_THRESHOLD
    scores = active * (artifact * (1 - var) + noisy * var)
    return 100.0 * (scores.sum(dim=1) + 1.0) / (active.sum(dim=1) + 1.0)


@register
class PIQE(Metric):
    """PIQE (MATLAB piqe): no-reference, parameter-free block distortion score (lower is better)."""

    name: ClassVar[str] = "piqe"
    # still 1: the CPU loops of _piqe_jit.py (issue 14) agree with the torch steps within 2e-14 relative
    version: ClassVar[str] = "1"
    kind: ClassVar[Kind] = "no-reference"
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float, float]] = (0.0, 100.0)
    pillar: ClassVar[Pillar] = "perceptual"
    reference: ClassVar[Reference] = "none"
    min_size: ClassVar[int] = PIQE_BLOCK
    description: ClassVar[str] = (
        "Perception-based image quality evaluator PIQE (Venkatanath et al. 2015, MATLAB piqe); no reference, "
        "no parameters; lower is better"
    )

    def forward(
        self, x: torch.Tensor, ref: torch.Tensor | None = None
    ) -> torch.Tensor:
        return piqe(x).to(torch.float64)


__all__ = ["piqe"]
