"""Diagnostics for generative restorers: geometric drift, colour cast, hallucinated structure.

These metrics explain *why* a result scores badly; they are declared ``pillar="diagnostic"`` so the
composite never uses them. See ``docs/diagnostics.md`` for the user guide.

Geometry model and sign convention (used by :func:`estimate_geometry` and :func:`align_to`):
the output ``x`` is the reference content scaled by ``s`` about the image centre
``c = ((W-1)/2, (H-1)/2)`` and then displaced by ``t = (dx, dy)`` pixels::

    x(p) = ref((p - c - t) / s + c)

so an output whose content moved right/down by ``(+dx, +dy)`` reports ``shift_dx=+dx``,
``shift_dy=+dy``, and an output that is zoomed in (content larger) reports ``scale > 1``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from .base import Metric, check_image, check_pair
from .colour import ciede2000_map, rgb_to_gray, rgb_to_lab
from .registry import register

logger = logging.getLogger(__name__)

__all__ = [
    "estimate_geometry",
    "geometry",
    "align_to",
    "delivered_factor",
    "scale_as_delivered",
    "warp_similarity",
    "border_fraction",
    "colour_cast",
    "hallucination_map",
    "hallucination",
    "save_heatmap",
    "colorize",
]

# --------------------------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------------------------


def warp_similarity(
    x: torch.Tensor, scale: torch.Tensor | float, dx: torch.Tensor | float, dy: torch.Tensor | float
) -> torch.Tensor:
    """Resample ``x`` at ``s (q - c) + c + (dx, dy)`` for every output pixel ``q`` (bilinear).

    With the geometry model of this module (``x(p) = ref((p - c - t)/s + c)``) warping the output
    with its own estimated ``(s, dx, dy)`` brings it back onto the reference grid. Samples outside
    the image replicate the nearest edge pixel.

    Args:
        x: ``(N, C, H, W)`` float images.
        scale: scale factor(s), a float or an ``(N,)`` tensor, > 0.
        dx: horizontal displacement(s) in pixels, float or ``(N,)``.
        dy: vertical displacement(s) in pixels, float or ``(N,)``.

    Returns:
        ``(N, C, H, W)`` warped images, same dtype and device.
    """
    n, _, h, w = x.shape
    dt = x.dtype if x.is_floating_point() else torch.float32

    def _vec(v: torch.Tensor | float) -> torch.Tensor:
        t = torch.as_tensor(v, dtype=dt, device=x.device)
        return t.expand(n) if t.ndim == 0 else t.to(dt).reshape(n)

    s, tx, ty = _vec(scale), _vec(dx), _vec(dy)
    # align_corners=True: normalised coordinate u = 2 p / (W - 1) - 1, so the centre is u = 0.
    u = torch.linspace(-1.0, 1.0, w, dtype=dt, device=x.device) if w > 1 else x.new_zeros(1, dtype=dt)
    v = torch.linspace(-1.0, 1.0, h, dtype=dt, device=x.device) if h > 1 else x.new_zeros(1, dtype=dt)
    gu = s.view(n, 1, 1) * u.view(1, 1, w) + (2 * tx / max(w - 1, 1)).view(n, 1, 1)
    gv = s.view(n, 1, 1) * v.view(1, h, 1) + (2 * ty / max(h - 1, 1)).view(n, 1, 1)
    grid = torch.empty((n, h, w, 2), dtype=dt, device=x.device)
    grid[..., 0] = gu
    grid[..., 1] = gv
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _prep(a: np.ndarray, win: np.ndarray) -> np.ndarray:
    return (a - a.mean()) * win


class _Correlator:
    """Low-pass weighted phase correlation against one fixed reference image.

    The normalised cross-power spectrum is multiplied by a Gaussian low-pass weight
    ``exp(-|f|^2 / (2 lowpass^2))`` (``f`` in cycles/pixel) before the inverse FFT: plain phase
    correlation whitens all frequencies, so the high frequencies that a blurry (or hallucinating)
    restorer does not share with the reference turn into noise; the weight keeps the peak
    robust and smooth enough for a 3-point sub-pixel fit.
    """

    def __init__(self, ref: np.ndarray, lowpass: float) -> None:
        h, w = ref.shape
        self.win = np.outer(np.hanning(h), np.hanning(w))
        self.fr = np.conj(np.fft.fft2(_prep(ref, self.win)))
        fy = np.fft.fftfreq(h)[:, None]
        fx = np.fft.fftfreq(w)[None, :]
        self.weight = np.exp(-(fx**2 + fy**2) / (2 * lowpass**2)) if lowpass > 0 else np.ones((h, w))

    def surface(self, b: np.ndarray) -> np.ndarray:
        """Correlation surface; its peak sits at the displacement of ``b``'s content."""
        r = np.fft.fft2(_prep(b, self.win)) * self.fr
        r = r / (np.abs(r) + 1e-12) * self.weight
        return np.asarray(np.fft.ifft2(r).real)

    def peak(self, b: np.ndarray) -> float:
        return float(self.surface(b).max())

    def shift(self, b: np.ndarray) -> tuple[float, float]:
        """Sub-pixel (dx, dy) displacement of ``b`` relative to the reference."""
        c = self.surface(b)
        h, w = c.shape
        i, j = np.unravel_index(int(np.argmax(c)), c.shape)

        def fit(m: float, z: float, p: float) -> float:
            if m > 0 and z > 0 and p > 0:  # Gaussian 3-point fit (exact for a Gaussian peak)
                lm, lz, lp = math.log(m), math.log(z), math.log(p)
                d = lm - 2 * lz + lp
                if d < 0:
                    return float(np.clip(0.5 * (lm - lp) / d, -0.5, 0.5))
            d = m - 2 * z + p
            return float(np.clip(0.5 * (m - p) / d, -0.5, 0.5)) if d < 0 else 0.0

        dy = i + fit(c[(i - 1) % h, j], c[i, j], c[(i + 1) % h, j])
        dx = j + fit(c[i, (j - 1) % w], c[i, j], c[i, (j + 1) % w])
        dy = dy - h if dy > h / 2 else dy
        dx = dx - w if dx > w / 2 else dx
        return float(dx), float(dy)


def _downsample(g: torch.Tensor, max_side: int) -> tuple[torch.Tensor, float]:
    h, w = g.shape[-2:]
    f = max(h, w) / max_side
    if f <= 1:
        return g, 1.0
    size = (max(8, round(h / f)), max(8, round(w / f)))
    out = F.interpolate(g, size=size, mode="area")
    return out, w / size[1]


def _estimate_one(
    x: torch.Tensor, ref: torch.Tensor, max_scale: float, work_size: int, lowpass: float, scale_margin: float
) -> tuple[float, float, float]:
    """(scale, dx, dy) of one gray image pair ``(1, 1, H, W)`` float64."""
    from scipy.ndimage import affine_transform
    from scipy.optimize import minimize_scalar

    if float(x.std()) < 1e-6 or float(ref.std()) < 1e-6:  # flat image: nothing to register
        return 1.0, 0.0, 0.0
    # --- scale: coarse log-spaced search of the correlation peak, then bounded refinement.
    xs, _ = _downsample(x, work_size)
    rs, _ = _downsample(ref, work_size)
    corr = _Correlator(rs[0, 0].numpy(), lowpass)
    xs_np = xs[0, 0].numpy()
    centre = (np.array(xs_np.shape, dtype=np.float64) - 1) / 2

    def score(log_s: float) -> float:
        sc = math.exp(log_s)
        warped = affine_transform(xs_np, np.array([sc, sc]), offset=centre - sc * centre, order=1, mode="nearest")
        return corr.peak(warped)

    scale = 1.0
    if max_scale > 1.0:
        lim = math.log(max_scale)
        grid = np.union1d(np.linspace(-lim, lim, max(3, int(round(2 * lim / 0.03)) + 1)), [0.0])
        vals = [score(float(v)) for v in grid]
        best = float(grid[int(np.argmax(vals))])
        step = float(np.max(np.diff(grid)))
        res = minimize_scalar(
            lambda v: -score(v), bounds=(best - step, best + step), method="bounded", options={"xatol": 1e-4}
        )
        log_s, top = (float(res.x), -float(res.fun)) if -float(res.fun) >= max(vals) else (best, max(vals))
        # a scale change must be clearly better than the identity: on small or blurry images the
        # peak height varies by a few per cent with s by chance
        if top > (1.0 + scale_margin) * score(0.0):
            scale = math.exp(log_s)

    # --- translation of the un-scaled output, sub-pixel, at up to 2x work_size.
    xt = warp_similarity(x, scale, 0.0, 0.0) if scale != 1.0 else x
    xt2, f = _downsample(xt, 2 * work_size)
    rt2, _ = _downsample(ref, 2 * work_size)
    dx, dy = _Correlator(rt2[0, 0].numpy(), lowpass).shift(xt2[0, 0].numpy())
    # x_unscaled(q) = ref(q - t / s): the measured displacement is t / s
    return scale, dx * f * scale, dy * f * scale


def estimate_geometry(
    x: torch.Tensor,
    ref: torch.Tensor,
    *,
    max_scale: float = 1.25,
    work_size: int = 256,
    lowpass: float = 0.1,
    scale_margin: float = 0.05,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Estimate the global scale and translation of each output relative to its reference.

    Both use Hann-windowed phase correlation on luma (MATLAB ``rgb2gray``) whose normalised
    cross-power spectrum is weighted by a Gaussian low-pass ``exp(-|f|^2 / (2 lowpass^2))``
    (``f`` in cycles/pixel), which keeps the peak robust for blurry or hallucinating outputs.

    Scale: the correlation peak between the reference and the output warped by ``1/s`` is
    maximised over ``s`` (log-spaced coarse search with 3 % steps in ``[1/max_scale, max_scale]``,
    then bounded scalar refinement) on images downsampled to at most ``work_size`` px; the scale
    is reported only when its peak beats the identity's by more than ``scale_margin`` (relative),
    else it is 1. Translation: the correlation peak of the un-scaled output, with a 3-point
    Gaussian sub-pixel fit, at up to ``2 * work_size`` px.

    Args:
        x: outputs ``(N, C, H, W)`` float in [0, 1].
        ref: references, same shape.
        max_scale: largest scale factor searched (and its inverse); 1 disables the scale search.
        work_size: longest side used for the scale search.
        lowpass: frequency weight width in cycles/pixel (0 disables: plain phase correlation).
        scale_margin: relative peak gain a scale change needs over the identity.

    Returns:
        ``(scale, dx, dy)``, three ``(N,)`` float64 tensors, with the sign convention of the module
        docstring (content displaced by ``(+dx, +dy)`` -> ``dx, dy > 0``). Flat (constant) images
        give the identity ``(1, 0, 0)``.

    Raises:
        InputError: bad shapes/ranges, images smaller than 16 px, or bad options.
    """
    check_pair(x, ref, min_size=16)
    if max_scale < 1.0:
        raise InputError(f"max_scale must be >= 1, got {max_scale}")
    if lowpass < 0 or scale_margin < 0 or work_size < 16:
        raise InputError(
            f"need lowpass >= 0, scale_margin >= 0 and work_size >= 16; got {lowpass}, {scale_margin}, {work_size}"
        )
    gx = rgb_to_gray(x.detach().cpu().to(torch.float64))
    gr = rgb_to_gray(ref.detach().cpu().to(torch.float64))
    out = [
        _estimate_one(gx[i : i + 1], gr[i : i + 1], max_scale, work_size, lowpass, scale_margin)
        for i in range(x.shape[0])
    ]
    arr = torch.tensor(out, dtype=torch.float64).reshape(-1, 3)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def _padded_run(rows: np.ndarray, tol: float) -> int:
    """Leading rows (dim 0 of ``(L, C, K)``) that are constant or replicate the next row inwards."""
    n = rows.shape[0]
    flat = rows.reshape(n, -1)
    const = (flat.max(axis=1) - flat.min(axis=1)) <= tol
    repl = np.zeros(n, dtype=bool)
    repl[:-1] = np.abs(flat[:-1] - flat[1:]).max(axis=1) <= tol
    bad = ~(const | repl)[: n // 2]
    return int(np.argmax(bad)) if bad.any() else int(bad.size)


def _border_counts(img: np.ndarray, tol: float) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) padded line counts of one ``(C, H, W)`` image."""
    rows = img.transpose(1, 0, 2)  # H, C, W
    cols = img.transpose(2, 0, 1)  # W, C, H
    return (
        _padded_run(rows, tol),
        _padded_run(rows[::-1], tol),
        _padded_run(cols, tol),
        _padded_run(cols[::-1], tol),
    )


def border_fraction(x: torch.Tensor, ref: torch.Tensor | None = None, *, tol: float = 0.5 / 255) -> torch.Tensor:
    """Fraction of the image area covered by added constant or edge-replicated borders.

    For each side, the run of outermost rows (columns) that are constant (max - min <= ``tol``
    over the line and all channels) or repeat the next line inwards (max abs difference <= ``tol``)
    is counted. When ``ref`` is given, runs that the reference has as well (letterboxing present in
    the ground truth) are not counted. The result is ``1 - (H - top - bottom)(W - left - right)/(HW)``.

    Args:
        x: outputs ``(N, C, H, W)`` in [0, 1].
        ref: optional references of the same shape.
        tol: tolerance on [0, 1] values (default half an 8-bit level: equal 8-bit values).

    Returns:
        ``(N,)`` float64 in [0, 1] (0: no added border).
    """
    check_image(x, "output")
    if ref is not None:
        check_pair(x, ref)
    h, w = x.shape[-2:]
    out = []
    for i in range(x.shape[0]):
        cx = _border_counts(x[i].detach().cpu().double().numpy(), tol)
        if ref is not None:
            cr = _border_counts(ref[i].detach().cpu().double().numpy(), tol)
            cx = tuple(max(0, a - b) for a, b in zip(cx, cr, strict=True))  # type: ignore[assignment]
        top, bottom, left, right = cx
        inner = max(0, h - top - bottom) * max(0, w - left - right)
        out.append(1.0 - inner / (h * w))
    return torch.tensor(out, dtype=torch.float64)


def geometry(
    x: torch.Tensor,
    ref: torch.Tensor,
    *,
    max_scale: float = 1.25,
    work_size: int = 256,
    lowpass: float = 0.1,
    scale_margin: float = 0.05,
    shift_tol: float = 1.0,
    scale_tol: float = 0.01,
    delivered_size: Any = None,
) -> dict[str, torch.Tensor]:
    """Geometric drift of outputs relative to the ground truth.

    Units: shifts are in **ground-truth pixels**; ``scale`` is the size of the GT's content in the
    output **as delivered**, in output pixels per GT pixel (1: same size and framing; 2: a 2x larger
    output of the same view, or content zoomed in 2x).

    Args:
        x: outputs ``(N, C, H, W)`` float in [0, 1], already resized to the GT size when they were
            delivered at another size (as ``paradigm score --resize to-gt`` does).
        ref: ground truth, same shape.
        delivered_size: ``(H, W)`` (all items) or an ``(N, 2)`` array of each output's size before that
            resize; None: delivered at ``x``'s size. ``scale`` is multiplied by
            :func:`delivered_factor` of it; ``fov_flag`` is not (it is about the content).
        max_scale: scale search range, see :func:`estimate_geometry`.
        work_size: working resolution of the scale search.
        lowpass: correlation frequency weight, see :func:`estimate_geometry`.
        scale_margin: evidence a scale change needs, see :func:`estimate_geometry`.
        shift_tol: ``fov_flag`` threshold on the shift length in pixels.
        scale_tol: ``fov_flag`` threshold on ``|scale - 1|``.

    Returns:
        dict of ``(N,)`` float64: ``shift_dx``, ``shift_dy`` (GT pixels, content displacement of the
        output, see module docstring), ``scale`` (as delivered, see above; > 1: output larger or
        zoomed in), ``fov_flag`` (1.0 when ``hypot(dx, dy) > shift_tol`` or the content scale measured
        at the GT size differs from 1 by more than ``scale_tol``, else 0.0), ``border_frac``
        (:func:`border_fraction` with the reference).
    """
    scale, dx, dy = estimate_geometry(
        x, ref, max_scale=max_scale, work_size=work_size, lowpass=lowpass, scale_margin=scale_margin
    )
    flag = ((torch.hypot(dx, dy) > shift_tol) | ((scale - 1).abs() > scale_tol)).to(torch.float64)
    if delivered_size is not None:
        sizes = np.broadcast_to(np.asarray(delivered_size, dtype=np.float64).reshape(-1, 2), (x.shape[0], 2))
        gt_hw = (int(ref.shape[-2]), int(ref.shape[-1]))
        factor = torch.tensor([delivered_factor((h, w), gt_hw) for h, w in sizes], dtype=scale.dtype)
        scale = scale * factor.to(scale.device)
    return {
        "shift_dx": dx,
        "shift_dy": dy,
        "scale": scale,
        "fov_flag": flag,
        "border_frac": border_fraction(x, ref),
    }


def delivered_factor(delivered_hw: tuple[float, float], gt_hw: tuple[float, float]) -> float:
    """Output pixels per GT pixel of an output delivered at ``delivered_hw`` for a GT of ``gt_hw``.

    The geometric mean of the two axes' ratios, ``sqrt(Hd/Hg * Wd/Wg)`` (exactly the ratio when the
    aspect is kept); NaN when a size is unknown (not positive).
    """
    hd, wd = float(delivered_hw[0]), float(delivered_hw[1])
    hg, wg = float(gt_hw[0]), float(gt_hw[1])
    if min(hd, wd, hg, wg) <= 0:
        return math.nan
    return math.sqrt((hd / hg) * (wd / wg))


def scale_as_delivered(scores: Any, size_of: Any = None) -> Any:
    """The ``scale`` column of a ``paradigm score`` table, converted to the outputs as delivered.

    The engine resizes an output of another size to its GT's size before any metric, so
    :class:`Geometry` measures the content scale at the GT size (1.0 for a 2x output of the same view).
    This multiplies it by :func:`delivered_factor` of each output file's size (read from its header,
    so cached reruns need no decoding) and the GT size in ``height``/``width``.

    Args:
        scores: the per-pair table (``output_path``, ``height``, ``width``, ``scale``).
        size_of: ``path -> (H, W)`` [default :func:`paradigm.io.image_size`].

    Returns:
        The converted column (a pandas Series; NaN where the output's size cannot be read).
    """
    if size_of is None:
        from ..io import image_size as size_of

    def one(path: Any, h: Any, w: Any, s: Any) -> float:
        if not isinstance(path, str) or not path or not math.isfinite(float(s)):
            return float(s)
        try:
            hd, wd = size_of(path)
        except Exception:  # unreadable now: the delivered size is unknown
            return math.nan
        return float(s) * delivered_factor((hd, wd), (float(h), float(w)))

    cols = ("output_path", "height", "width", "scale")
    values = [one(*r) for r in zip(*(scores[c] for c in cols), strict=True)]
    return type(scores["scale"])(values, index=scores.index, dtype="float64")


def align_to(
    x: torch.Tensor,
    ref: torch.Tensor,
    *,
    max_scale: float = 1.25,
    work_size: int = 256,
    lowpass: float = 0.1,
    scale_margin: float = 0.05,
) -> torch.Tensor:
    """Warp outputs onto their references' grid (global translation + scale).

    Estimates ``(scale, dx, dy)`` with :func:`estimate_geometry` and resamples the output at
    ``s (q - c) + c + t`` (bilinear ``grid_sample``); pixels that fall outside the output replicate
    its nearest edge (``padding_mode="border"``), so the aligned image has no black borders. Used by
    ``paradigm score --align``.

    Args:
        x: outputs ``(N, C, H, W)`` float in [0, 1].
        ref: references, same shape.
        max_scale: scale search range.
        work_size: working resolution of the scale search.
        lowpass: correlation frequency weight, see :func:`estimate_geometry`.
        scale_margin: evidence a scale change needs, see :func:`estimate_geometry`.

    Returns:
        ``(N, C, H, W)`` aligned outputs, same dtype and device as ``x``, values in [0, 1].
    """
    scale, dx, dy = estimate_geometry(
        x, ref, max_scale=max_scale, work_size=work_size, lowpass=lowpass, scale_margin=scale_margin
    )
    dev = x.device
    out = warp_similarity(x, scale.to(dev), dx.to(dev), dy.to(dev))
    return out.clamp(0.0, 1.0)


# --------------------------------------------------------------------------------------------
# colour and exposure
# --------------------------------------------------------------------------------------------


def _psnr(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    from .fidelity import psnr

    return torch.as_tensor(psnr(x, ref), dtype=torch.float64).reshape(-1).cpu()


def colour_cast(x: torch.Tensor, ref: torch.Tensor) -> dict[str, torch.Tensor]:
    """Colour and exposure error of outputs relative to the ground truth.

    The output is corrected by a global affine map per RGB channel, ``ref_c ~ a_c x_c + b_c``
    (least squares over all pixels, then clamped to [0, 1]); the PSNR after correction and the
    share of the MSE it removes tell how much of a low PSNR is a colour/exposure cast rather than
    lost structure.

    Args:
        x: outputs ``(N, C, H, W)`` float in [0, 1] (C = 1 is treated as grey RGB for Lab).
        ref: ground truth, same shape.

    Returns:
        dict of ``(N,)`` float64:
        ``delta_L``, ``delta_a``, ``delta_b``: mean CIELAB of output minus mean of GT (``delta_L >
        0``: output brighter; ``delta_a > 0``: redder; ``delta_b > 0``: yellower);
        ``deltaE00_mean``: mean per-pixel CIEDE2000;
        ``psnr_colour_corrected``: PSNR (dB, data range 1) of the corrected output;
        ``colour_share``: ``(MSE_raw - MSE_corrected) / MSE_raw`` in [0, 1] (0 for identical images).
    """
    check_pair(x, ref)
    xd = x.detach().cpu().to(torch.float64)
    rd = ref.detach().cpu().to(torch.float64)
    lab_x, lab_r = rgb_to_lab(xd), rgb_to_lab(rd)
    delta = lab_x.mean(dim=(2, 3)) - lab_r.mean(dim=(2, 3))
    de = ciede2000_map(lab_x, lab_r).mean(dim=(1, 2))

    n, c = xd.shape[:2]
    xf, rf = xd.reshape(n, c, -1), rd.reshape(n, c, -1)
    mx, mr = xf.mean(-1, keepdim=True), rf.mean(-1, keepdim=True)
    var = ((xf - mx) ** 2).mean(-1, keepdim=True)
    cov = ((xf - mx) * (rf - mr)).mean(-1, keepdim=True)
    a = torch.where(var > 1e-12, cov / var.clamp_min(1e-12), torch.zeros_like(var))
    b = mr - a * mx
    corrected = (a * xf + b).clamp(0.0, 1.0).reshape_as(xd)

    mse_raw = ((xd - rd) ** 2).mean(dim=(1, 2, 3))
    mse_cor = ((corrected - rd) ** 2).mean(dim=(1, 2, 3))
    share = torch.where(mse_raw > 0, (mse_raw - mse_cor) / mse_raw.clamp_min(1e-300), torch.zeros_like(mse_raw))
    return {
        "delta_L": delta[:, 0],
        "delta_a": delta[:, 1],
        "delta_b": delta[:, 2],
        "deltaE00_mean": de,
        "psnr_colour_corrected": _psnr(corrected, rd),
        "colour_share": share.clamp(0.0, 1.0),
    }


# --------------------------------------------------------------------------------------------
# hallucination
# --------------------------------------------------------------------------------------------


def _gauss_kernel(sigma: float, dtype: torch.dtype) -> torch.Tensor:
    r = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with reflected borders (unfold + matmul: fast on CPU and GPU)."""
    k = _gauss_kernel(sigma, x.dtype).to(x.device)
    r = k.numel() // 2
    pad_mode = "reflect" if min(x.shape[-2:]) > r else "replicate"
    y = F.pad(x, (r, r, 0, 0), mode=pad_mode).unfold(3, k.numel(), 1) @ k
    return F.pad(y, (0, 0, r, r), mode=pad_mode).unfold(2, k.numel(), 1) @ k


def _local_hf_energy(g: torch.Tensor, pre_sigma: float, window_sigma: float) -> torch.Tensor:
    """Local mean of the squared gradient magnitude of the pre-blurred luma, ``(N, 1, H, W)``."""
    b = _blur(g, pre_sigma) if pre_sigma > 0 else g
    p = F.pad(b, (1, 1, 1, 1), mode="replicate")
    gx = (p[..., 1:-1, 2:] - p[..., 1:-1, :-2]) / 2
    gy = (p[..., 2:, 1:-1] - p[..., :-2, 1:-1]) / 2
    return _blur(gx**2 + gy**2, window_sigma)


def hallucination_map(
    x: torch.Tensor,
    ref: torch.Tensor,
    *,
    pre_sigma: float = 1.0,
    window_sigma: float = 3.0,
    noise_floor: float = 1e-4,
) -> torch.Tensor:
    """Per-pixel evidence of output structure that the reference does not support.

    Both images are converted to luma (MATLAB ``rgb2gray``) and blurred identically (Gaussian
    ``pre_sigma``, which also suppresses pixel noise); ``E`` is the local mean (Gaussian window
    ``window_sigma``) of the squared gradient magnitude (central differences, per pixel, [0, 1]
    units). The map is ``1 - E_ref / E_out`` clipped to [0, 1], and 0 where ``E_out <= noise_floor``
    (default ``1e-4``: a gradient of 0.01 per pixel, about 2.5 8-bit levels).

    Args:
        x: outputs ``(N, C, H, W)`` float in [0, 1].
        ref: references, same shape.
        pre_sigma: matched-scale pre-blur in pixels.
        window_sigma: local energy window in pixels.
        noise_floor: minimum output energy counted as structure.

    Returns:
        ``(N, 1, H, W)`` float64 in [0, 1]: 0 where the output has no more detail than the
        reference, approaching 1 where all of its local detail is absent from the reference.
    """
    check_pair(x, ref, min_size=3)
    gx = rgb_to_gray(x.detach().to(torch.float64))
    gr = rgb_to_gray(ref.detach().to(torch.float64))
    ex = _local_hf_energy(gx, pre_sigma, window_sigma)
    er = _local_hf_energy(gr, pre_sigma, window_sigma)
    m = (1.0 - er / ex.clamp_min(1e-20)).clamp(0.0, 1.0)
    return torch.where(ex > noise_floor, m, torch.zeros_like(m))


def hallucination(
    x: torch.Tensor,
    ref: torch.Tensor,
    *,
    ratio: float = 4.0,
    pre_sigma: float = 1.0,
    window_sigma: float = 3.0,
    noise_floor: float = 1e-4,
) -> torch.Tensor:
    """Fraction of the image area where the output has structure the reference does not support.

    A pixel counts when the output's local high-frequency energy exceeds ``ratio`` times the
    reference's (default 4, i.e. twice the gradient amplitude) and the noise floor; equivalently
    ``hallucination_map(...) >= 1 - 1/ratio``.

    Args:
        x: outputs ``(N, C, H, W)`` float in [0, 1].
        ref: references, same shape.
        ratio: energy ratio threshold, > 1.
        pre_sigma: see :func:`hallucination_map`.
        window_sigma: see :func:`hallucination_map`.
        noise_floor: see :func:`hallucination_map`.

    Returns:
        ``(N,)`` float64 in [0, 1], lower is better (0 for identical images).

    Raises:
        InputError: bad inputs or ``ratio <= 1``.
    """
    if ratio <= 1.0:
        raise InputError(f"ratio must be > 1, got {ratio}")
    m = hallucination_map(x, ref, pre_sigma=pre_sigma, window_sigma=window_sigma, noise_floor=noise_floor)
    return (m >= 1.0 - 1.0 / ratio).to(torch.float64).mean(dim=(1, 2, 3)).cpu()


#: Colormap anchors (approximately matplotlib "inferno"), values 0, .25, .5, .75, 1.
_CMAP = np.array(
    [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float64
)


def colorize(m: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to RGB uint8 with a hand-made inferno-like colormap (``(..., 3)``)."""
    v = np.clip(np.nan_to_num(m, nan=0.0), 0.0, 1.0) * (len(_CMAP) - 1)
    i = np.minimum(np.floor(v).astype(int), len(_CMAP) - 2)
    f = (v - i)[..., None]
    rgb = _CMAP[i] * (1 - f) + _CMAP[i + 1] * f
    return np.round(rgb).astype(np.uint8)


def save_heatmap(m: torch.Tensor | np.ndarray, path: str | Path) -> Path:
    """Save one map in [0, 1] as a colour PNG (or any format PIL infers from ``path``).

    Args:
        m: ``(H, W)``, ``(1, H, W)`` or ``(1, 1, H, W)`` values in [0, 1] (e.g. one item of
            :func:`hallucination_map`).
        path: destination file; its folder must exist.

    Returns:
        The path written.

    Raises:
        InputError: the map is not a single 2-D map.
    """
    from PIL import Image

    arr = m.detach().cpu().numpy() if isinstance(m, torch.Tensor) else np.asarray(m)
    arr = np.squeeze(arr.astype(np.float64))
    if arr.ndim != 2:
        raise InputError(f"save_heatmap needs one 2-D map, got shape {tuple(np.shape(m))}; pass map[i]")
    path = Path(path)
    Image.fromarray(colorize(arr), mode="RGB").save(path)
    return path


# --------------------------------------------------------------------------------------------
# registered metrics
# --------------------------------------------------------------------------------------------


def _need_ref(name: str, ref: torch.Tensor | None) -> torch.Tensor:
    if ref is None:
        raise InputError(f"metric {name!r} needs the ground-truth image as reference")
    return ref


@register
class Geometry(Metric):
    """Global translation/scale drift and added borders (diagnostic)."""

    name = "geometry"
    version = "2"  # 2: the engine reports `scale` of the output as delivered (before the resize to the GT)
    kind = "full-reference"
    higher_is_better = False
    value_range = (-float("inf"), float("inf"))
    pillar = "diagnostic"
    reference = "gt"
    min_size = 16
    outputs = ("shift_dx", "shift_dy", "scale", "fov_flag", "border_frac")
    defaults = {
        "max_scale": 1.25,
        "work_size": 256,
        "lowpass": 0.1,
        "scale_margin": 0.05,
        "shift_tol": 1.0,
        "scale_tol": 0.01,
    }
    description = ("Geometric drift: global shift (GT px), scale as delivered (output px per GT px), "
                   "field-of-view flag, added-border fraction")
    #: Direction per output column (None: signed, no better/worse), read by paradigm.samples.
    column_higher_is_better: ClassVar[dict[str, bool | None]] = {
        "shift_dx": None,
        "shift_dy": None,
        "scale": None,
        "fov_flag": False,
        "border_frac": False,
    }
    column_ranges: ClassVar[dict[str, tuple[float, float]]] = {
        "scale": (0.0, float("inf")),
        "fov_flag": (0.0, 1.0),
        "border_frac": (0.0, 1.0),
    }

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return geometry(x, _need_ref(self.name, ref), **self.options)


@register
class ColourCast(Metric):
    """Colour/exposure offset and how much of the error it explains (diagnostic)."""

    name = "colour_cast"
    aliases = ("color_cast",)
    version = "1"
    kind = "full-reference"
    higher_is_better = False
    value_range = (-float("inf"), float("inf"))
    pillar = "diagnostic"
    reference = "gt"
    outputs = ("delta_L", "delta_a", "delta_b", "deltaE00_mean", "psnr_colour_corrected", "colour_share")
    defaults: ClassVar[dict[str, Any]] = {}
    description = "Mean Lab offset, mean CIEDE2000, PSNR after per-channel affine colour fix, colour share of MSE"
    column_higher_is_better: ClassVar[dict[str, bool | None]] = {
        "delta_L": None,
        "delta_a": None,
        "delta_b": None,
        "deltaE00_mean": False,
        "psnr_colour_corrected": True,
        "colour_share": None,
    }
    column_ranges: ClassVar[dict[str, tuple[float, float]]] = {
        "deltaE00_mean": (0.0, float("inf")),
        "psnr_colour_corrected": (0.0, float("inf")),
        "colour_share": (0.0, 1.0),
    }

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return colour_cast(x, _need_ref(self.name, ref))


@register
class Hallucination(Metric):
    """Area fraction of output detail unsupported by the ground truth (diagnostic, lower is better)."""

    name = "hallucination"
    version = "1"
    kind = "full-reference"
    higher_is_better = False
    value_range = (0.0, 1.0)
    pillar = "diagnostic"
    reference = "gt"
    min_size = 3
    defaults = {"ratio": 4.0, "pre_sigma": 1.0, "window_sigma": 3.0, "noise_floor": 1e-4}
    description = "Fraction of area where the output has local detail energy >= 4x the GT's (hallucinated texture)"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return hallucination(x, _need_ref(self.name, ref), **self.options)
