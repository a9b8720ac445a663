"""Stability metrics of composite v2: structure consistency, geometric drift, hallucinated area.

They answer "is it still the same scene?" in ways that stay defined on every image:

- :func:`structure_consistency` compares gradient *vectors* (magnitude and orientation) of the output
  and the reference on luma with a texture floor, so it is 1 for identical images, close to 1 for a
  faint blur of a low-texture photograph, and never 0 merely because the reference has few edges
  (edge F1 is 0 by construction when a blur removes the few edges a flat image has).
- :func:`geometric_drift` turns the ``geometry`` diagnostic's global shift and scale into one number:
  the largest displacement of any pixel, in ground-truth pixels, with the scale of the output as
  delivered (before any resize to the ground-truth size).
- ``hallucinated_area`` is the ``hallucination`` diagnostic's area fraction, registered as a stability
  metric (the diagnostic itself stays diagnostic: it is reported, never weighted).

The composite maps each raw value to [0, 1] with a documented prior (``docs/composite.md`` §2).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from .base import Metric, Pillar, Reference, check_pair
from .colour import rgb_to_gray
from .diagnostics import delivered_factor, estimate_geometry, hallucination
from .registry import register

__all__ = ["structure_consistency", "structure_error_map", "geometric_drift", "gradient_field"]


def _gauss1d(sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    r = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=dtype, device=device)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    return k / k.sum()


def gradient_field(g: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient ``(gx, gy)`` of grey images ``(N, 1, H, W)``: Gaussian pre-blur ``sigma``, central differences.

    Borders replicate the nearest pixel, so a constant image has zero gradient everywhere.
    """
    if sigma > 0:
        k = _gauss1d(sigma, g.dtype, g.device)
        r = k.numel() // 2
        g = F.conv2d(F.pad(g, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
        g = F.conv2d(F.pad(g, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    p = F.pad(g, (1, 1, 1, 1), mode="replicate")
    gx = (p[..., 1:-1, 2:] - p[..., 1:-1, :-2]) / 2
    gy = (p[..., 2:, 1:-1] - p[..., :-2, 1:-1]) / 2
    return gx, gy


def structure_consistency(
    x: torch.Tensor, ref: torch.Tensor, *, sigma: float = 1.0, floor: float = 1e-4
) -> torch.Tensor:
    """Agreement of gradient vectors between outputs and references, robust on low-texture images.

    On luma (MATLAB ``rgb2gray``), with gradients ``g`` from :func:`gradient_field`::

        S = 1 - sum_p |g_x(p) - g_r(p)|^2 / sum_p (|g_x(p)|^2 + |g_r(p)|^2 + floor)

    i.e. the pooled form of the gradient similarity ``(2 g_x . g_r + T) / (|g_x|^2 + |g_r|^2 + T)``
    weighted by local structure. It compares magnitude *and* orientation; ``S = 1`` iff the gradient
    fields agree, ``S = 0`` when the error has the energy of both fields (unrelated structure), and
    ``S < 0`` (clipped to 0) for anti-correlated structure. The texture floor ``floor`` (default
    ``1e-4``: a gradient of 0.01 per pixel, about 2.5 8-bit levels, the noise floor of
    ``hallucination``) is added for every pixel, so on an almost flat reference small errors are
    measured against that floor instead of against nearly nothing: the score is defined and smooth
    for any image, including a constant one (then 1 for an identical output).

    Args:
        x: outputs ``(N, C, H, W)`` float in [0, 1].
        ref: references, same shape.
        sigma: Gaussian pre-blur in pixels (the scale at which structure is compared).
        floor: per-pixel texture floor ``T`` in squared [0, 1] units per pixel.

    Returns:
        ``(N,)`` float64 in [0, 1], higher is better.

    Raises:
        InputError: bad inputs or ``floor <= 0``.
    """
    check_pair(x, ref, min_size=3)
    if not floor > 0 or sigma < 0:
        raise InputError(f"need floor > 0 and sigma >= 0, got floor={floor}, sigma={sigma}")
    # gradients in float32 (4x faster than float64 on CPU), sums in float64
    gx = rgb_to_gray(x.detach().to(torch.float32)) if x.shape[1] == 3 else x.detach().to(torch.float32)
    gr = rgb_to_gray(ref.detach().to(torch.float32)) if ref.shape[1] == 3 else ref.detach().to(torch.float32)
    ax, ay = gradient_field(gx, sigma)
    bx, by = gradient_field(gr, sigma)
    err = ((ax - bx) ** 2 + (ay - by) ** 2).to(torch.float64).sum(dim=(1, 2, 3))
    energy = (ax**2 + ay**2 + bx**2 + by**2).to(torch.float64).sum(dim=(1, 2, 3)) + floor * ax[0].numel()
    return (1.0 - err / energy).clamp(0.0, 1.0).cpu()


def structure_error_map(
    x: torch.Tensor, ref: torch.Tensor, *, sigma: float = 1.0, floor: float = 1e-4
) -> torch.Tensor:
    """Per-pixel ``1 -`` gradient similarity, the local form of :func:`structure_consistency`.

    With the same luma, gradients and texture floor: ``|g_x - g_r|^2 / (|g_x|^2 + |g_r|^2 + floor)``
    (``= 1 - (2 g_x . g_r + floor) / (|g_x|^2 + |g_r|^2 + floor)``), clipped to [0, 1].

    Returns:
        ``(N, H, W)`` float64 in [0, 1]; all zeros for identical images.
    """
    check_pair(x, ref, min_size=3)
    if not floor > 0 or sigma < 0:
        raise InputError(f"need floor > 0 and sigma >= 0, got floor={floor}, sigma={sigma}")
    ax, ay = gradient_field(rgb_to_gray(x.detach().to(torch.float64)), sigma)
    bx, by = gradient_field(rgb_to_gray(ref.detach().to(torch.float64)), sigma)
    err = (ax - bx) ** 2 + (ay - by) ** 2
    return (err / (ax**2 + ay**2 + bx**2 + by**2 + floor)).clamp(0.0, 1.0)[:, 0].cpu()


def geometric_drift(
    x: torch.Tensor,
    ref: torch.Tensor,
    *,
    max_scale: float = 2.5,
    work_size: int = 256,
    delivered_size: Any = None,
) -> torch.Tensor:
    """Largest displacement of any pixel between output and reference, in reference pixels.

    With the ``geometry`` diagnostic's model ``x(p) = ref((p - c - t) / s + c)`` (global shift ``t``,
    scale ``s`` about the centre ``c``, :func:`paradigm.metrics.diagnostics.estimate_geometry`), a pixel
    at distance ``r`` from the centre moves by at most ``|t| + |s - 1| r``; the drift is that bound at
    the image corner, ``|t| + |s - 1| * hypot(H, W) / 2``. 0 for a geometrically faithful output.
    The scale search spans ``[1/max_scale, max_scale]`` (2.5 by default, wider than the diagnostic's
    1.25, so a 2x field-of-view change is measured).

    The scale is that of the output **as delivered**, as in the ``geometry`` diagnostic: an output
    delivered at another size than the reference and resized to it before the metric (as ``paradigm
    score --resize to-gt`` does) passes its pre-resize size as ``delivered_size``, and ``s`` is the
    scale measured at the reference size times :func:`~paradigm.metrics.diagnostics.delivered_factor`
    (output pixels per reference pixel). So a 2x larger output of the same view has ``s = 2`` and a
    drift of one half-diagonal, not 0. Shifts and the half-diagonal are in pixels of ``ref``.

    Args:
        x: outputs ``(N, C, H, W)`` float in [0, 1], at least 16 px, at the reference size.
        ref: references, same shape.
        max_scale: scale search range.
        work_size: working resolution of the scale search.
        delivered_size: ``(H, W)`` (all items) or ``N`` sizes ``(H, W)``: each output's size before
            its resize to the reference; None: delivered at ``x``'s size (factor 1).

    Returns:
        ``(N,)`` float64 >= 0, lower is better.
    """
    check_pair(x, ref, min_size=16)
    scale, dx, dy = estimate_geometry(x, ref, max_scale=max_scale, work_size=work_size)
    scale = scale.to(torch.float64) * _delivered_factors(delivered_size, ref).to(scale.device)
    half_diag = math.hypot(x.shape[-2], x.shape[-1]) / 2
    return (torch.hypot(dx, dy) + (scale - 1.0).abs() * half_diag).to(torch.float64)


def _delivered_factors(delivered_size: Any, ref: torch.Tensor) -> torch.Tensor:
    """``(N,)`` output pixels per reference pixel of each output as delivered (1 when not given)."""
    n = int(ref.shape[0])
    if delivered_size is None:
        return torch.ones(n, dtype=torch.float64)
    sizes = np.asarray(delivered_size, dtype=np.float64).reshape(-1, 2)
    if sizes.shape[0] not in (1, n):
        raise InputError(f"delivered_size has {sizes.shape[0]} sizes for {n} images; pass one (H, W) or one per image")
    gt_hw = (int(ref.shape[-2]), int(ref.shape[-1]))
    sizes = np.broadcast_to(sizes, (n, 2))
    return torch.tensor([delivered_factor((h, w), gt_hw) for h, w in sizes], dtype=torch.float64)


def _ref_or_fail(name: str, reference: str, ref: torch.Tensor | None) -> torch.Tensor:
    if ref is None:
        what = "the degraded input (--input)" if reference == "input" else "the ground truth"
        raise InputError(f"metric {name!r} compares against {what}: pass it as ref")
    return ref


class _StructureBase(Metric):
    pillar: ClassVar[Pillar] = "stability"
    higher_is_better = True
    value_range = (0.0, 1.0)
    min_size = 3
    defaults = {"sigma": 1.0, "floor": 1e-4}
    error_map_kind = "1 - local gradient-vector similarity (luma, texture floor)"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return structure_consistency(x, _ref_or_fail(self.name, self.reference, ref), **self.options)

    def error_map(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return structure_error_map(x, ref, **self.options)


@register
class StructureConsistency(_StructureBase):
    """Gradient-vector agreement with the ground truth (texture floor; defined on flat images)."""

    name = "structure_consistency"
    reference: ClassVar[Reference] = "gt"
    description = "1 - gradient-vector error / (gradient energy + texture floor) vs the GT, on luma; higher is better"


@register
class StructureConsistencyInput(_StructureBase):
    """Gradient-vector agreement with the degraded input (no ground truth needed)."""

    name = "structure_consistency_input"
    reference: ClassVar[Reference] = "input"
    description = "structure_consistency vs the (resized) degraded input; stability without ground truth"


class _DriftBase(Metric):
    pillar: ClassVar[Pillar] = "stability"
    higher_is_better = False
    value_range = (0.0, float("inf"))
    min_size = 16
    defaults = {"max_scale": 2.5, "work_size": 256}

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None, delivered_size: Any = None) -> torch.Tensor:
        ref = _ref_or_fail(self.name, self.reference, ref)
        return geometric_drift(x, ref, delivered_size=delivered_size, **self.options)


@register
class GeoDrift(_DriftBase):
    """Largest pixel displacement (global shift + scale as delivered) relative to the ground truth, in GT pixels.

    The engine passes each output's size before its resize to the GT (``uses_delivered_size``), so an
    output delivered at 2x the GT size of the same view drifts by one half-diagonal (scale 2), as the
    ``geometry`` diagnostic's delivered ``scale`` says.
    """

    name = "geo_drift"
    version = "2"  # 2: the scale is that of the output as delivered (before the engine's resize to the GT)
    reference: ClassVar[Reference] = "gt"
    uses_delivered_size = True
    description = ("|shift| + |scale - 1| x half-diagonal vs the GT, in GT pixels, scale as delivered (before "
                   "any resize to the GT size; 0 = no drift); lower is better")


@register
class GeoDriftInput(_DriftBase):
    """Largest pixel displacement relative to the degraded input, in pixels."""

    name = "geo_drift_input"
    reference: ClassVar[Reference] = "input"
    description = "geo_drift vs the (resized) degraded input, in pixels; stability without ground truth"


@register
class HallucinatedArea(Metric):
    """Area fraction of output detail the ground truth does not support (the diagnostic, as a stability metric)."""

    name = "hallucinated_area"
    version = "1"
    kind = "full-reference"
    higher_is_better = False
    value_range = (0.0, 1.0)
    pillar: ClassVar[Pillar] = "stability"
    reference: ClassVar[Reference] = "gt"
    min_size = 3
    defaults = {"ratio": 4.0, "pre_sigma": 1.0, "window_sigma": 3.0, "noise_floor": 1e-4}
    description = "area fraction where local detail energy >= 4x the GT's (hallucination diagnostic); lower is better"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return hallucination(x, _ref_or_fail(self.name, self.reference, ref), **self.options)
