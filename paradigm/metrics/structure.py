"""Structure (stability-pillar) metrics: edge consistency between an output and a reference.

``edge_f1`` detects Canny-style edges on the luma of both images with the *same* absolute
thresholds, derived from the reference's gradient statistics, and scores how well the two edge
sets agree within a spatial tolerance (the boundary F-measure of BSDS-style benchmarks, with a
dilation band instead of a bipartite matching). See ``docs/metrics-fidelity.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, cast

import torch
import torch.nn.functional as F

from ..errors import InputError
from ._filters import fast_check_pair, gaussian_kernel1d, separable_filter_valid, thread_map
from .base import Metric, Pillar, Reference
from .colour import _GRAY as _GRAY_W
from .colour import rgb_to_gray
from .registry import register

#: Fraction of reference pixels that are *not* edges when choosing the high threshold (as MATLAB's
#: ``edge(I, 'canny')`` PercentOfPixelsNotEdges).
HIGH_QUANTILE = 0.7
#: Low threshold as a fraction of the high threshold (MATLAB's ThresholdRatio).
LOW_RATIO = 0.4
#: Smallest high threshold (gradient magnitude on [0,1] luma, per pixel): keeps flat references from
#: turning sensor noise into edges.
MIN_HIGH = 0.02


def _gray32(x: torch.Tensor) -> torch.Tensor:
    """``rgb2gray`` weights in float32, ``(N, 1, H, W)``."""
    return rgb_to_gray(x.to(torch.float32) if x.dtype != torch.float64 else x).to(torch.float32)


def _gray_pair32(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """``torch.cat((_gray32(x), _gray32(ref)))`` written into one buffer with fused multiply-adds.

    About 3x faster than the generic weighted sum on CPU; may differ from it by one float32 ulp.
    """
    n, c, h, w = x.shape
    if c == 1 or x.dtype == torch.float64 or ref.dtype == torch.float64:
        return torch.cat((_gray32(x), _gray32(ref)), dim=0)
    out = torch.empty((2 * n, 1, h, w), dtype=torch.float32, device=x.device)
    for img, dst in ((x, out[:n]), (ref, out[n:])):
        img = img.to(torch.float32)
        torch.mul(img[:, 0:1], _GRAY_W[0], out=dst)
        dst.add_(img[:, 1:2], alpha=_GRAY_W[1]).add_(img[:, 2:3], alpha=_GRAY_W[2])
    return out


def _smooth_taps(sigma: float, dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> torch.Tensor:
    """The 1-D Gaussian of :func:`_smooth`: ``2 r + 1`` taps, ``r = max(1, ceil(3 sigma))``."""
    radius = max(1, int(math.ceil(3 * sigma)))
    return gaussian_kernel1d(2 * radius + 1, sigma, dtype=dtype, device=device)


def _smooth(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur, replicate padding, same size. ``x``: (N, 1, H, W)."""
    if sigma <= 0:
        return x
    k = _smooth_taps(sigma, x.dtype, x.device)
    r = (k.numel() - 1) // 2
    return separable_filter_valid(F.pad(x, (r, r, r, r), mode="replicate"), k)


def _sobel(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sobel gradients divided by 8 (a unit step gives magnitude 0.5). ``x``: (N, 1, H, W).

    Computed separably with shifted slices (``[1, 2, 1]`` smoothing times ``[-1, 0, 1]``
    difference) on the replicate-padded image: the cross-correlation with
    ``[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] / 8`` (x) and its transpose (y), several times faster
    on CPU than a 2-channel ``conv2d``.
    """
    xp = F.pad(x, (1, 1, 1, 1), mode="replicate")
    sy = xp[..., :-2, :] + xp[..., 2:, :] + 2 * xp[..., 1:-1, :]  # (N, 1, H, W + 2)
    gx = (sy[..., 2:] - sy[..., :-2]) * 0.125
    sx = xp[..., :-2] + xp[..., 2:] + 2 * xp[..., 1:-1]  # (N, 1, H + 2, W)
    gy = (sx[..., 2:, :] - sx[..., :-2, :]) * 0.125
    return gx, gy


#: tan(22.5°) and tan(67.5°): borders of the 0/45/90/135 degree direction bins.
_TAN_22_5 = math.tan(math.pi / 8)
_TAN_67_5 = math.tan(3 * math.pi / 8)


def _non_max_suppression(mag: torch.Tensor, gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
    """Boolean map of pixels that are local maxima of ``mag`` along the gradient direction.

    The direction is quantised to 0/45/90/135 degrees (``round(atan2(gy, gx) / 45°) mod 4``,
    decided here by comparing ``|gy|`` with ``tan(22.5°) |gx|`` and ``tan(67.5°) |gx|`` and the
    signs, without computing angles); a pixel survives when its magnitude is ``>=`` both
    neighbours across the edge and ``>`` the one on the negative side (a tie-break that keeps one
    pixel of a two-pixel plateau). Image borders are suppressed. On CPU the comparisons run in
    numpy (about 2.5x faster than torch's boolean kernels there).
    """
    if mag.device.type == "cpu":
        import numpy as np

        m, x, y = mag.numpy(), gx.numpy(), gy.numpy()

        def one(i: int) -> Any:
            mi = m[i : i + 1]
            return _nms_core(mi, np.pad(mi, ((0, 0), (0, 0), (1, 1), (1, 1))), x[i : i + 1], y[i : i + 1])

        return torch.from_numpy(np.concatenate(thread_map(one, range(m.shape[0]))))
    return cast(torch.Tensor, _nms_core(mag, F.pad(mag, (1, 1, 1, 1)), gx, gy))


def _nms_core(c: Any, mp: Any, gx: Any, gy: Any) -> Any:
    """Operator-only body of :func:`_non_max_suppression`, shared by numpy arrays and torch tensors."""
    ax, ay = abs(gx), abs(gy)
    b0 = ay <= _TAN_22_5 * ax  # horizontal gradient: compare left/right
    b2 = (ay >= _TAN_67_5 * ax) & ~b0  # vertical gradient: compare up/down
    diag = ~(b0 | b2)
    same = (gx > 0) == (gy > 0)  # 45 degrees (down-right) when gx, gy share a sign, else 135
    k0 = (c >= mp[..., 1:-1, 2:]) & (c > mp[..., 1:-1, :-2])
    k2 = (c >= mp[..., 2:, 1:-1]) & (c > mp[..., :-2, 1:-1])
    k1 = (c >= mp[..., 2:, 2:]) & (c > mp[..., :-2, :-2])
    k3 = (c >= mp[..., 2:, :-2]) & (c > mp[..., :-2, 2:])
    keep = (b0 & k0) | (b2 & k2) | (diag & ((same & k1) | (~same & k3)))
    keep[..., 0, :] = False
    keep[..., -1, :] = False
    keep[..., :, 0] = False
    keep[..., :, -1] = False
    return keep


def _hysteresis(strong: torch.Tensor, weak: torch.Tensor) -> torch.Tensor:
    """Keep the 8-connected components of ``weak`` that contain a ``strong`` pixel (batched).

    On CPU this is one ``scipy.ndimage.label`` call over the whole batch (components never cross
    images); on other devices the strong set is grown by 3x3 dilations inside ``weak`` until it
    stops changing. Both give the same result.
    """
    strong = strong & weak
    if weak.device.type == "cpu":
        return torch.from_numpy(_hysteresis_np(strong[:, 0].numpy(), weak[:, 0].numpy())).unsqueeze(1)
    weak_f = weak.to(torch.float32)
    cur_f = strong.to(torch.float32)
    while True:
        prev = cur_f
        for _ in range(8):  # test convergence every 8 growth steps
            cur_f = F.max_pool2d(cur_f, 3, stride=1, padding=1) * weak_f
        if torch.equal(cur_f, prev):
            return cur_f > 0


def _hysteresis_np(strong: Any, weak: Any) -> Any:
    """numpy :func:`_hysteresis` of ``(H, W)`` or ``(B, H, W)`` boolean maps (``strong`` within ``weak``).

    One ``scipy.ndimage.label`` call with 8-connectivity inside each image and none across the
    batch axis, then the components holding a strong pixel.
    """
    import numpy as np
    from scipy import ndimage

    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True
    if weak.ndim == 2:
        structure = structure[1]
    labels, count = ndimage.label(weak, structure=structure)
    keep = np.zeros(count + 1, dtype=bool)
    keep[labels[strong]] = True
    keep[0] = False
    return np.take(keep, labels)  # keep[labels], ~2x faster


def _high_rank(n_pixels: int) -> int:
    """1-based rank of the ``HIGH_QUANTILE`` order statistic among ``n_pixels`` magnitudes."""
    return max(1, int(math.ceil(HIGH_QUANTILE * n_pixels)))


def edge_thresholds(ref_mag: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """High and low hysteresis thresholds ``(N, 1, 1, 1)`` from the reference's gradient magnitudes.

    ``high = max(quantile(mag, 0.7), 0.02)`` and ``low = 0.4 * high`` (MATLAB ``edge('canny')`` rule,
    without its max-normalisation, plus an absolute floor).
    """
    flat = ref_mag.flatten(1).to(torch.float32)
    k = _high_rank(flat.shape[1])
    high = flat.kthvalue(k, dim=1).values.clamp_min(MIN_HIGH).view(-1, 1, 1, 1)
    return high.to(ref_mag.dtype), (LOW_RATIO * high).to(ref_mag.dtype)


def canny_edges(
    x: torch.Tensor, *, sigma: float = 1.0, thresholds: tuple[torch.Tensor, torch.Tensor] | None = None
) -> torch.Tensor:
    """Canny-style edge map of a batch.

    Args:
        x: ``(N, C, H, W)`` float in [0, 1]; RGB is converted with MATLAB ``rgb2gray`` weights.
        sigma: Gaussian pre-smoothing (pixels).
        thresholds: ``(high, low)`` each broadcastable to ``(N, 1, 1, 1)`` on the Sobel/8 magnitude
            scale; default: :func:`edge_thresholds` of ``x`` itself.

    Returns:
        ``(N, 1, H, W)`` boolean edge map.
    """
    g = _smooth(rgb_to_gray(x).to(torch.float32), sigma)
    gx, gy = _sobel(g)
    mag = torch.sqrt(gx * gx + gy * gy)
    high, low = thresholds if thresholds is not None else edge_thresholds(mag)
    nms = _non_max_suppression(mag, gx, gy)
    return _hysteresis(nms & (mag >= high), nms & (mag >= low))


def _disk_half_widths(radius: int) -> list[int]:
    """Half-width of the Euclidean disk of ``radius`` on each row offset ``-radius..radius``."""
    return [int(math.floor(math.sqrt(radius * radius - dy * dy) + 1e-6)) for dy in range(-radius, radius + 1)]


def _dilate(e: Any, radius: int) -> Any:
    """Binary dilation by the Euclidean disk ``dx^2 + dy^2 <= radius^2`` over the last two axes.

    Works on torch tensors (any device) and numpy arrays alike. Done with shifted ORs of boolean maps:
    horizontal dilations of growing half-width, then an OR over the row offsets with each row's
    half-width (exact, no float convolution).
    """
    if radius <= 0:
        return e
    is_np = not isinstance(e, torch.Tensor)
    e = e.astype(bool) if is_np else e.to(torch.bool)
    horiz = [e]
    for k in range(1, radius + 1):
        cur = horiz[-1].copy() if is_np else horiz[-1].clone()
        cur[..., k:] |= e[..., :-k]
        cur[..., :-k] |= e[..., k:]
        horiz.append(cur)
    out = horiz[0].copy() if is_np else horiz[0].clone()
    out[...] = False
    for dy, half in zip(range(-radius, radius + 1), _disk_half_widths(radius), strict=True):
        src = horiz[half]
        if dy == 0:
            out |= src
        elif dy > 0:
            out[..., dy:, :] |= src[..., :-dy, :]
        else:
            out[..., :dy, :] |= src[..., -dy:, :]
    return out


def kth_smallest(flat: Any, k: int, stride: int = 37, margin: float = 0.025) -> Any:
    """The ``k``-th smallest value (1-based) of a 1-D numpy array: ``np.partition(flat, k - 1)[k - 1]``.

    Exact, about twice as fast on an image's worth of values: the sorted subsample ``flat[::stride]``
    brackets the rank within ``+-margin`` (about four standard errors of a subsample quantile); the
    values below the bracket are counted and only those inside it are partitioned. When the bracket
    misses the rank (a rare subsample), the whole array is partitioned.
    """
    import numpy as np

    n = flat.size
    sample = np.sort(flat[::stride])
    if n < 4096 or sample.size < 16:
        return np.partition(flat, k - 1)[k - 1]
    q = (k - 0.5) / n
    lo = sample[max(0, int((q - margin) * sample.size))]
    hi = sample[min(sample.size - 1, int((q + margin) * sample.size) + 1)]
    below = int(np.count_nonzero(flat < lo))
    band = flat[(flat >= lo) & (flat <= hi)]
    j = k - 1 - below
    if 0 <= j < band.size:
        return np.partition(band, j)[j]
    return np.partition(flat, k - 1)[k - 1]


def _cpu_greys(x: torch.Tensor, ref: torch.Tensor, sigma: float) -> Callable[[int], tuple[Any, Any]]:
    """``i -> (smoothed grey output, smoothed grey reference)`` of pair ``i`` as C-contiguous float32
    arrays: float32 RGB pairs in one compiled loop per image (:func:`._edge_jit.gray_smooth`, the
    same float32 values as :func:`_gray_pair32` and :func:`_smooth`), anything else through those."""
    import numpy as np

    if x.shape[1] == 3 and x.dtype == ref.dtype == torch.float32 and sigma > 0:
        from ._edge_jit import gray_smooth

        xs, rs = x.contiguous().numpy(), ref.contiguous().numpy()
        taps = _smooth_taps(sigma).numpy()
        return lambda i: (gray_smooth(xs[i], _GRAY_W, taps), gray_smooth(rs[i], _GRAY_W, taps))
    n = x.shape[0]
    gn = np.ascontiguousarray(_smooth(_gray_pair32(x, ref), sigma).numpy()[:, 0])
    return lambda i: (gn[i], gn[n + i])


def _edge_counts_np(greys: Callable[[int], tuple[Any, Any]], n: int, tolerance: int) -> tuple[torch.Tensor, ...]:
    """CPU body of :func:`edge_f1`, one image pair per task on all cores.

    ``greys(i)`` gives pair ``i``'s smoothed grey images (:func:`_cpu_greys`). Per pair, compiled
    loops (:mod:`._edge_jit`): Sobel magnitude and non-maximum suppression (the float32 values of
    :func:`_sobel` and :func:`_non_max_suppression`), the reference's thresholds (:func:`edge_thresholds`: the same k-th
    smallest value, by :func:`kth_smallest`), hysteresis by flood fill (the components of
    ``scipy.ndimage.label``, 8-connected) and the counts ``(n_out, n_ref, hit_out, hit_ref)`` of
    the disk matching of :func:`_dilate`, as float64 tensors. Same results as the torch path; the
    loops release the GIL, so pairs run on all cores.
    """
    import numpy as np

    from ._edge_jit import hits, hysteresis, sobel_nms

    half = _disk_half_widths(tolerance)

    def one(i: int) -> tuple[int, int, int, int]:
        g_out, g_ref = greys(i)
        mag_o, nms_o = sobel_nms(g_out)
        mag_r, nms_r = sobel_nms(g_ref)
        flat = mag_r.reshape(-1)
        high = max(kth_smallest(flat, _high_rank(flat.size)), np.float32(MIN_HIGH))
        low = np.float32(LOW_RATIO) * high
        e_out, e_ref = hysteresis(mag_o, nms_o, high, low), hysteresis(mag_r, nms_r, high, low)
        return (int(np.count_nonzero(e_out)), int(np.count_nonzero(e_ref)),
                hits(e_out, e_ref, half), hits(e_ref, e_out, half))

    counts = torch.tensor(thread_map(one, range(n)), dtype=torch.float64).reshape(n, 4)
    return counts[:, 0], counts[:, 1], counts[:, 2], counts[:, 3]


def _edges_and_dilated(x: torch.Tensor, ref: torch.Tensor, sigma: float, tolerance: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The torch steps of the edge detector on a batch: ``(edges, dilated edges)``, each ``(2N, 1, H, W)``
    boolean, the outputs first, with the thresholds of the references applied to both (the path of
    other devices, and of :func:`edge_error_map`)."""
    n = x.shape[0]
    g = _smooth(_gray_pair32(x, ref), sigma)
    gx, gy = _sobel(g)
    mag = torch.sqrt(gx * gx + gy * gy)
    high, low = (t.repeat(2, 1, 1, 1) for t in edge_thresholds(mag[n:]))
    nms = _non_max_suppression(mag, gx, gy)
    edges = _hysteresis(nms & (mag >= high), nms & (mag >= low))
    return edges, _dilate(edges, tolerance)


def edge_f1(
    x: torch.Tensor,
    ref: torch.Tensor,
    *,
    tolerance: int = 2,
    sigma: float = 1.0,
    return_pr: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Edge F1 between an output and a reference, with a spatial tolerance.

    Both images go through the same Canny-style detector (grey, Gaussian sigma, Sobel, non-maximum
    suppression, hysteresis) with the *same* absolute thresholds, computed from the reference:
    ``high = max(70th percentile of the reference gradient magnitude, 0.02)``, ``low = 0.4 high``.
    Precision is the fraction of output edge pixels within ``tolerance`` px (Euclidean disk) of a
    reference edge pixel; recall the fraction of reference edge pixels within ``tolerance`` of an
    output edge pixel; F1 = 2PR / (P + R). Two empty edge maps score 1; one empty map scores 0.

    Args:
        x: ``(N, C, H, W)`` output in [0, 1].
        ref: ``(N, C, H, W)`` reference (ground truth, or the resized degraded input).
        tolerance: matching radius in pixels (>= 0).
        sigma: Gaussian pre-smoothing in pixels (>= 0).
        return_pr: also return precision and recall.

    Returns:
        ``(N,)`` float64 F1 in [0, 1] (1 for identical images; higher is better), or
        ``(f1, precision, recall)`` with ``return_pr``.
    """
    fast_check_pair(x, ref, 3)
    if tolerance < 0 or int(tolerance) != tolerance:
        raise InputError(f"tolerance must be a non-negative integer number of pixels, got {tolerance!r}")
    if sigma < 0:
        raise InputError(f"sigma must be >= 0, got {sigma!r}")
    tolerance = int(tolerance)
    n = x.shape[0]
    if x.device.type == "cpu":
        n_out, n_ref, hit_out, hit_ref = _edge_counts_np(_cpu_greys(x, ref, sigma), n, tolerance)
    else:
        edges, dil = _edges_and_dilated(x, ref, sigma, tolerance)
        e_out, e_ref = edges[:n], edges[n:]
        d_out, d_ref = dil[:n], dil[n:]
        n_out = e_out.flatten(1).sum(1).to(torch.float64)
        n_ref = e_ref.flatten(1).sum(1).to(torch.float64)
        hit_out = (e_out & d_ref).flatten(1).sum(1).to(torch.float64)
        hit_ref = (e_ref & d_out).flatten(1).sum(1).to(torch.float64)
    precision = torch.where(n_out > 0, hit_out / n_out.clamp_min(1), (n_ref == 0).to(torch.float64))
    recall = torch.where(n_ref > 0, hit_ref / n_ref.clamp_min(1), (n_out == 0).to(torch.float64))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp_min(1e-12), torch.zeros_like(denom))
    if return_pr:
        return f1, precision, recall
    return f1


def edge_error_map(x: torch.Tensor, ref: torch.Tensor, *, tolerance: int = 2, sigma: float = 1.0) -> torch.Tensor:
    """The edge pixels that :func:`edge_f1` counts against the output, as a map.

    The same detector, thresholds (from the reference) and tolerance as :func:`edge_f1`: a pixel is 1
    when it is an output edge with no reference edge within ``tolerance`` px (lowers precision) or a
    reference edge with no output edge within ``tolerance`` px (lowers recall), else 0.

    Returns:
        ``(N, H, W)`` float64 in {0, 1}; all zeros for identical images.
    """
    fast_check_pair(x, ref, 3)
    if tolerance < 0 or int(tolerance) != tolerance or sigma < 0:
        raise InputError(f"need an integer tolerance >= 0 and sigma >= 0, got {tolerance!r}, {sigma!r}")
    n = x.shape[0]
    edges, dil = _edges_and_dilated(x, ref, sigma, int(tolerance))
    miss = (edges[:n] & ~dil[n:]) | (edges[n:] & ~dil[:n])
    return miss[:, 0].to(torch.float64)


class _EdgeF1Base(Metric):
    pillar: ClassVar[Pillar] = "stability"
    higher_is_better = True
    value_range = (0.0, 1.0)
    min_size = 3
    defaults = {"tolerance": 2, "sigma": 1.0}
    error_map_kind = "edges unmatched within the tolerance (output edges far from a reference edge, and vice versa)"

    def forward(
        self, x: torch.Tensor, ref: torch.Tensor | None = None
    ) -> torch.Tensor:
        if ref is None:
            what = "the degraded input (--input)" if self.reference == "input" else "the ground truth"
            raise InputError(f"metric {self.name!r} compares against {what}: pass it as ref")
        opts: dict[str, Any] = dict(self.options)
        out = cast(torch.Tensor, edge_f1(x, ref, tolerance=opts["tolerance"], sigma=opts["sigma"]))
        return out.to(torch.float64)

    def error_map(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return edge_error_map(x, ref, tolerance=self.options["tolerance"], sigma=self.options["sigma"])


@register
class EdgeF1(_EdgeF1Base):
    """Edge F1 against the ground truth."""

    name = "edge_f1"
    version = "2"  # 2: grey image by fused multiply-adds (may differ by 1 float32 ulp)
    reference: ClassVar[Reference] = "gt"
    description = "Canny edge F1 vs the ground truth within 2 px (same thresholds from the GT); higher is better"


@register
class EdgeF1Input(_EdgeF1Base):
    """Edge F1 against the degraded input resized to the output size (no ground truth needed)."""

    name = "edge_f1_input"
    version = "2"  # 2: grey image by fused multiply-adds (may differ by 1 float32 ulp)
    reference: ClassVar[Reference] = "input"
    description = "Canny edge F1 vs the (resized) degraded input within 2 px; stability without ground truth"


__all__ = ["canny_edges", "edge_error_map", "edge_f1", "edge_thresholds"]
