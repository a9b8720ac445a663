"""VSI, the visual saliency-induced index (Zhang, Shen & Li 2014), as the authors' ``VSI.m``.

Steps of the official release, reproduced on batches:

* saliency (``SDSP``, Zhang et al. 2013) on the 0..255 RGB image: MATLAB ``imresize(., [256 256],
  'bilinear')`` (with its antialiasing when shrinking, exactly, as resampling matrices); CIELAB
  through the release's own ``RGB2Lab`` (sRGB -> XYZ, reference white D50 ``0.9642, 1, 0.8251``);
  a log-Gabor band-pass (``omega0 = 0.021``, ``sigma_F = 1.34``, zero outside radius 0.5) applied by
  FFT to L, a, b; a centre prior ``exp(-d^2 / 145^2)``; a warm-colour prior
  ``1 - exp(-(a_n^2 + b_n^2) / 0.001^2)`` on min-max normalised a, b; the product resized back
  with ``imresize(., [H W], 'bilinear')`` and scaled to [0, 1] by ``mat2gray``;
* the opponent space ``L = 0.06 R + 0.63 G + 0.27 B``, ``M = 0.30 R + 0.04 G - 0.35 B``,
  ``N = 0.34 R - 0.60 G + 0.17 B``;
* downsampling by ``F = max(1, round(min(H, W) / 256))`` (``conv2(., ones(F)/F^2, 'same')`` and
  ``(1:F:end)``) of L, M, N and both saliency maps;
* Scharr gradient magnitude of L; ``S = S_VS * S_GM^0.4 * real((S_M S_N)^0.02)`` with constants
  1.27, 386 and 130, pooled with the weight ``max(VS1, VS2)``.

A one-channel image is treated as grey RGB. Where a saliency map is constant (a flat image, or
a grey one: the official min-max normalisations divide 0 by 0) it is taken as 0, and a pair whose
weights are all zero scores the unweighted mean of the similarity map.

The ``vsi`` row of IQA-PyTorch's ResultsCalibra table was not made by ``VSI.m`` but by another
PyTorch port (saliency at full resolution); we reproduce ``VSI.m`` and differ from that row by up
to 0.0123 (``docs/probes/vsi_row_source.py``).

Pillar: perceptual. VSI is a standard perceptual full-reference baseline (saliency-weighted
gradient and colour similarity, validated against human opinion: TID2013 SROCC 0.90), not a pixel
fidelity measure. See ``docs/metrics-fr-classic.md``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch

from ._filters import MEMO, fast_check_pair, thread_map
from .fsim import (
    _FRPerceptual,
    downsample_factor,
    downsample_zeros,
    gradient_magnitude,
    real_power,
    similarity,
)
from .registry import register

#: Constants of VSI.m.
C_VS, C_GM, C_CHROM, ALPHA, LAMBDA = 1.27, 386.0, 130.0, 0.40, 0.020
#: SDSP parameters of VSI.m.
SIGMA_F, OMEGA0, SIGMA_D, SIGMA_C = 1.34, 0.0210, 145.0, 0.001
#: Side of the square image SDSP works on.
SDSP_SIZE = 256
#: Opponent colour space of VSI.m (rows L, M, N; applied to 0..255 RGB).
LMN = ((0.06, 0.63, 0.27), (0.30, 0.04, -0.35), (0.34, -0.60, 0.17))
#: sRGB -> XYZ of SDSP's RGB2Lab and its reference white (D50).
RGB2XYZ = ((0.4124564, 0.3575761, 0.1804375), (0.2126729, 0.7151522, 0.0721750), (0.0193339, 0.1191920, 0.9503041))
WHITE = (0.9642, 1.0, 0.8251)
VSI_MIN_SIZE = 8


@functools.lru_cache(maxsize=16)
def imresize_taps(in_len: int, out_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """MATLAB ``imresize`` along one axis with the bilinear (triangle) kernel: ``(indices, weights)``, each ``(out, P)``.

    Reproduces MATLAB's ``contributions``: output pixel ``x`` samples ``u = x / s + 0.5 (1 - 1 / s)``
    with ``s = out / in``; when shrinking, the kernel is widened by ``1 / s`` (antialiasing, the
    default); weights are normalised per output pixel and indices outside the image are mirrored
    (symmetric, edge repeated).
    """
    scale = out_len / in_len
    width = 2.0 / scale if scale < 1 else 2.0
    x = torch.arange(1, out_len + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None]
    dist = u[:, None] - idx
    if scale < 1:
        w = scale * (1 - (scale * dist).abs()).clamp_min(0.0)
    else:
        w = (1 - dist.abs()).clamp_min(0.0)
    w = w / w.sum(dim=1, keepdim=True)
    aux = torch.cat((torch.arange(in_len), torch.arange(in_len - 1, -1, -1)))
    return aux[torch.remainder(idx.long() - 1, 2 * in_len)], w


@functools.lru_cache(maxsize=16)
def _resize_phases(in_len: int, out_len: int) -> tuple[int, int, int, int, list[tuple[int, list[float]]]] | None:
    """The taps of :func:`imresize_taps` as ``q`` phases repeating every ``p`` input samples, or None.

    With ``out / in = q / p`` in lowest terms, output ``phi + q j`` reads inputs ``start_phi + p j + t``
    (before mirroring) with the weights of output ``phi`` (leading and trailing zero weights dropped).
    Returns ``(p, q, pad_before, pad_after, [(start_phi, weights_phi), ...])`` when ``q <= 8`` (more phases cost more than a gather per tap)
    and the computed taps follow that pattern exactly (weights to 1e-12), else None.
    """
    idx, w = imresize_taps(in_len, out_len)
    g = math.gcd(in_len, out_len)
    p, q = in_len // g, out_len // g
    if q > 8:
        return None
    scale = out_len / in_len
    width = 2.0 / scale if scale < 1 else 2.0
    x = torch.arange(1, out_len + 1, dtype=torch.float64)
    left = torch.floor(x / scale + 0.5 * (1 - 1 / scale) - width / 2).long() - 1  # 0-based, unmirrored
    phases = []
    for phi in range(q):
        j = torch.arange(phi, out_len, q)
        if not torch.equal(left[j] - left[phi], p * (j - phi) // q):
            return None
        if not torch.allclose(w[j], w[phi].expand_as(w[j]), rtol=0, atol=1e-12):
            return None
        start, weights = int(left[phi]), [float(v) for v in w[phi]]
        # taps of weight exactly 0 add nothing (to finite data): dropped, with the padding they needed
        while weights[0] == 0.0:
            start, weights = start + 1, weights[1:]
        while weights[-1] == 0.0:
            weights = weights[:-1]
        phases.append((start, weights))
    before = max(0, -min(start for start, _ in phases))
    after = max(
        0,
        max(start + p * (len(range(phi, out_len, q)) - 1) + len(wts) for phi, (start, wts) in enumerate(phases)) - in_len,
    )
    return p, q, before, after, phases


def _resize_axis(x: torch.Tensor, out_len: int, dim: int) -> torch.Tensor:
    """One axis of :func:`imresize_bilinear`: strided multiply-adds per phase of a periodic tap pattern
    (the input mirrored once by padding), or a gather per tap where the taps are not periodic."""
    in_len = x.shape[dim]
    plan = _resize_phases(in_len, out_len)
    if plan is None or plan[3] + plan[2] > in_len:
        return _resize_axis_gather(x, out_len, dim)
    p, q, before, after, phases = plan
    d = dim % x.ndim
    # symmetric padding (edge repeated) by mirrored slices; before + after <= in_len here
    parts = [x.narrow(d, 0, before).flip(d)] if before else []
    parts += [x, x.narrow(d, in_len - after, after).flip(d)] if after else [x]
    xp = torch.cat(parts, dim=d) if len(parts) > 1 else x
    outs = []
    for phi, (start, weights) in enumerate(phases):
        count = len(range(phi, out_len, q))
        views = []
        for t in range(len(weights)):
            view = xp.narrow(d, start + before + t, p * (count - 1) + 1)
            views.append(view.unfold(d, 1, p).squeeze(-1) if p > 1 else view)
        acc = views[0] * weights[0]
        for view, wt in zip(views[1:], weights[1:], strict=True):
            acc.add_(view, alpha=wt)
        outs.append(acc)
    if q == 1:
        return outs[0]
    counts = [o.shape[d] for o in outs]
    if len(set(counts)) == 1:
        return torch.stack(outs, dim=d + 1).flatten(d, d + 1)
    return _interleave(outs, d, out_len)


def _interleave(outs: list[torch.Tensor], d: int, out_len: int) -> torch.Tensor:
    shape = list(outs[0].shape)
    shape[d] = out_len
    res = outs[0].new_empty(shape)
    q = len(outs)
    for phi, o in enumerate(outs):
        res.narrow(d, 0, out_len)[(slice(None),) * d + (slice(phi, None, q),)] = o
    return res


def _resize_axis_gather(x: torch.Tensor, out_len: int, dim: int) -> torch.Tensor:
    idx, w = imresize_taps(x.shape[dim], out_len)
    idx, w = idx.to(x.device), w.to(x)
    shape = [1] * x.ndim
    shape[dim] = out_len
    out = x.index_select(dim, idx[:, 0]) * w[:, 0].view(shape)
    for p in range(1, idx.shape[1]):
        out += x.index_select(dim, idx[:, p]) * w[:, p].view(shape)
    return out


def imresize_bilinear(x: torch.Tensor, out_h: int, out_w: int) -> torch.Tensor:
    """MATLAB ``imresize(x, [out_h out_w], 'bilinear')`` of double data, every channel; ``x`` is ``(N, C, H, W)``.

    On CPU one image at a time in the compiled loops of :mod:`._resize_jit` (the same taps, in order).
    """
    if x.device.type == "cpu" and not x.requires_grad and x.dtype in (torch.float32, torch.float64):
        from ._resize_jit import resize

        rows, cols = _taps_np(x.shape[-2], out_h), _taps_np(x.shape[-1], out_w)
        xn = x.contiguous().numpy()
        return torch.from_numpy(np.stack([resize(xn[i], rows, cols) for i in range(x.shape[0])]))
    return _resize_axis(_resize_axis(x, out_h, -2), out_w, -1)


@functools.lru_cache(maxsize=16)
def _taps_np(in_len: int, out_len: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`imresize_taps` as numpy arrays (cached per size pair)."""
    idx, w = imresize_taps(in_len, out_len)
    return np.ascontiguousarray(idx.numpy()), np.ascontiguousarray(w.numpy())


def sdsp_rgb2lab(rgb: torch.Tensor) -> torch.Tensor:
    """SDSP's ``RGB2Lab`` of 0..255 RGB ``(N, 3, H, W)``: sRGB linearisation, XYZ, Lab with a D50 white."""
    return _rgb01_to_lab(rgb / 255.0)


def _rgb01_to_lab(c: torch.Tensor) -> torch.Tensor:
    """:func:`sdsp_rgb2lab` of RGB in [0, 1].

    On CPU the elementwise steps run in numpy, whose SIMD ``power`` and ``cbrt`` are several times
    faster than torch's ``pow`` (the cube root is ``cbrt``, within 2 ulp of ``x ** (1/3)``).
    """
    m = torch.tensor(RGB2XYZ, dtype=c.dtype, device=c.device)
    white = torch.tensor(WHITE, dtype=c.dtype, device=c.device).view(1, 3, 1, 1)
    if c.device.type == "cpu" and not c.requires_grad:
        return _rgb01_to_lab_numpy(c, m, white)
    lin = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = torch.einsum("kc,nchw->nkhw", m, lin) / white
    f = torch.where(xyz > 0.008856, xyz ** (1.0 / 3.0), (903.3 * xyz + 16.0) / 116.0)
    fx, fy, fz = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    return torch.cat((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=1)


def _rgb01_to_lab_numpy(c: torch.Tensor, m: torch.Tensor, white: torch.Tensor) -> torch.Tensor:
    """The CPU path of :func:`_rgb01_to_lab` (``m`` the XYZ matrix, ``white`` the reference white):
    image by image, side by side on all cores (:func:`thread_map`; the values do not depend on it)."""
    mw = (m.double() / white.view(3, 1).double()).numpy()  # XYZ rows scaled by 1 / white
    return torch.from_numpy(np.stack(thread_map(lambda i: _lab_numpy(c[i].numpy(), mw), range(c.shape[0]))))


def _lab_numpy(a: np.ndarray, mw: np.ndarray) -> np.ndarray:
    """Lab of one ``(3, H, W)`` RGB image in [0, 1]; ``mw`` is the RGB -> XYZ / white matrix."""
    k = a.dtype.type  # constants in the data's precision
    lin = np.where(a <= k(0.04045), a / k(12.92), np.power((a + k(0.055)) / k(1.055), k(2.4)))
    xyz = np.einsum("kc,chw->khw", mw.astype(a.dtype), lin)
    f = np.where(xyz > k(0.008856), np.cbrt(xyz), (k(903.3) * xyz + k(16.0)) / k(116.0))
    fx, fy, fz = f[0], f[1], f[2]
    return np.stack((k(116.0) * fy - k(16.0), k(500.0) * (fx - fy), k(200.0) * (fy - fz)))


@functools.lru_cache(maxsize=4)
def _sdsp_priors(rows: int, cols: int) -> tuple[torch.Tensor, torch.Tensor]:
    """SDSP's log-Gabor transfer function (FFT layout) and centre prior for a ``rows x cols`` image."""
    u1 = (torch.arange(1, cols + 1, dtype=torch.float64) - (cols // 2 + 1)) / (cols - cols % 2)
    u2 = (torch.arange(1, rows + 1, dtype=torch.float64) - (rows // 2 + 1)) / (rows - rows % 2)
    uy, ux = torch.meshgrid(u2, u1, indexing="ij")
    outside = ux**2 + uy**2 > 0.25
    radius = torch.fft.ifftshift(torch.sqrt(ux**2 + uy**2), dim=(-2, -1))
    outside = torch.fft.ifftshift(outside, dim=(-2, -1))
    radius[0, 0] = 1.0
    lg = torch.exp(-(torch.log(radius.clamp_min(1e-300) / OMEGA0) ** 2) / (2 * SIGMA_F**2))
    lg[outside] = 0.0
    lg[0, 0] = 0.0
    r = torch.arange(1, rows + 1, dtype=torch.float64)[:, None] - rows / 2
    c = torch.arange(1, cols + 1, dtype=torch.float64)[None, :] - cols / 2
    centre = torch.exp(-(r**2 + c**2) / SIGMA_D**2)
    return lg, centre


def _minmax(x: torch.Tensor) -> torch.Tensor:
    """Per-image ``(x - min) / (max - min)`` (MATLAB ``mat2gray``); 0 where the image is constant."""
    lo, hi = torch.aminmax(x.flatten(1), dim=1)  # one pass, the values only (no indices)
    lo, hi = (t.view(-1, *([1] * (x.ndim - 1))) for t in (lo, hi))
    span = hi - lo
    if x.device.type == "cpu" and bool((span > 0).all()):  # the usual case: two passes instead of five
        return (x - lo).div_(span)
    return torch.where(span > 0, (x - lo) / torch.where(span > 0, span, 1.0), 0.0)


def sdsp(rgb: torch.Tensor) -> torch.Tensor:
    """SDSP saliency of 0..255 RGB ``(N, 3, H, W)`` as in VSI.m; returns ``(N, 1, H, W)`` in [0, 1]."""
    return _sdsp01(rgb / 255.0)


def _sdsp01(c: torch.Tensor) -> torch.Tensor:
    """:func:`sdsp` of RGB in [0, 1] (the resize is linear, so it commutes with the 1/255 scaling)."""
    h, w = c.shape[-2:]
    lab = _rgb01_to_lab(imresize_bilinear(c, SDSP_SIZE, SDSP_SIZE))
    lg, centre = (t.to(c) for t in _sdsp_priors(SDSP_SIZE, SDSP_SIZE))
    # lg is even on the FFT grid, so the filtered image is real: half spectra (rfft2/irfft2) suffice
    band = torch.fft.irfft2(torch.fft.rfft2(lab) * lg[..., : SDSP_SIZE // 2 + 1], s=(SDSP_SIZE, SDSP_SIZE))
    sf = torch.sqrt((band * band).sum(dim=1, keepdim=True))
    ab = _minmax_channels(lab[:, 1:3])
    # exp(-50) < 2e-22 leaves 1 - exp(.) == 1 in float32 and float64 alike: clamping the exponent there
    # changes nothing and keeps exp off its slow (denormal) range
    sc = 1.0 - torch.exp((ab * ab).sum(dim=1, keepdim=True).div_(-(SIGMA_C**2)).clamp_min_(-50.0))
    vs = imresize_bilinear(sf * centre * sc, h, w)
    return _minmax(vs)


def _minmax_channels(x: torch.Tensor) -> torch.Tensor:
    n, c = x.shape[:2]
    return _minmax(x.reshape(n * c, 1, *x.shape[-2:])).reshape(x.shape)


def _features(x: torch.Tensor) -> torch.Tensor:
    """Per-image VSI features ``(N, 5, h, w)``: downsampled L, M, N, saliency, and L's gradient magnitude.

    Computed image by image (the working set of one image stays in cache; every step is per image).
    The downsampling (linear) runs on the RGB planes before the (linear) LMN transform, which then
    costs a quarter (its 0..255 scale folded into the coefficients); both orders give the same values
    up to float rounding.
    """
    rgb = x.to(torch.float64 if x.dtype == torch.float64 else torch.float32)
    if rgb.shape[1] == 1:
        rgb = rgb.expand(-1, 3, -1, -1)
    f = downsample_factor(*x.shape[-2:])
    small = downsample_zeros(rgb, f)
    r, g, b = small[:, 0:1], small[:, 1:2], small[:, 2:3]
    lmn = [r * (255.0 * m[0]) + g * (255.0 * m[1]) + b * (255.0 * m[2]) for m in LMN]
    vs = downsample_zeros(_sdsp01(rgb), f)
    return torch.cat((*lmn, vs, gradient_magnitude(lmn[0])), dim=1)


def vsi(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """VSI of the official ``VSI.m`` (see the module docstring).

    Args:
        x: ``(N, C, H, W)`` distorted output in [0, 1], C in {1, 3}, sides >= 8.
        ref: ``(N, C, H, W)`` reference, same shape.

    Returns:
        ``(N,)`` float64 VSI: 1 for identical images, usually in [0.8, 1]; higher is better. Computed
        in float32 unless the input is float64 (values agree to ~1e-6).
    """
    fast_check_pair(x, ref, VSI_MIN_SIZE)
    fa = MEMO.get_or_compute("vsi_features", (x,), lambda: _features(x))
    fb = MEMO.get_or_compute("vsi_features", (ref,), lambda: _features(ref))
    s_vs = similarity(fa[:, 3], fb[:, 3], C_VS)
    s_gm = similarity(fa[:, 4], fb[:, 4], C_GM)
    s_c = real_power(similarity(fa[:, 1], fb[:, 1], C_CHROM) * similarity(fa[:, 2], fb[:, 2], C_CHROM), LAMBDA)
    weight = torch.maximum(fa[:, 3], fb[:, 3])
    den = weight.flatten(1).sum(1)
    flat = den <= 0
    weight = torch.where(flat[:, None, None], torch.ones_like(weight), weight)
    den = torch.where(flat, float(weight[0].numel()), den)
    return ((s_gm.pow(ALPHA) * s_vs * s_c * weight).flatten(1).sum(1) / den).to(torch.float64)


@register
class VSI(_FRPerceptual):
    """VSI (official VSI.m): saliency-weighted gradient and chroma similarity."""

    name = "vsi"
    version = "4"  # 4: MATLAB imresize on CPU in compiled loops (_resize_jit.py; <= 3.6e-7 apart on some sizes)
    higher_is_better = True
    value_range = (0.0, 1.0)
    min_size = VSI_MIN_SIZE
    description = "Visual saliency-induced index VSI (Zhang et al. 2014, official VSI.m with SDSP saliency)"

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        return vsi(x, ref)


__all__ = ["imresize_bilinear", "sdsp", "vsi"]
