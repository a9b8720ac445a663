"""NRQM (Ma, Yang, Yang & Yang 2017) and the PIRM 2018 perceptual index PI.

NRQM ("Ma's score") predicts the quality of a super-resolved image, 0-10, higher is better, from three
groups of hand-crafted statistics, each mapped to a score by its own regression forest (the
``randomforest-matlab`` trees of the official release, chaoma99/sr-metric), the three scores combined
by a linear model: ``score = [1 s1 s2 s3] @ linear``. PI = ((10 - NRQM) + NIQE) / 2, lower is better.

Pipeline (the behaviour of the official MATLAB code as documented by its PyTorch port in IQA-PyTorch,
which was read as a reference only):

* colour: ``nrqm`` converts the 8-bit version of the image with MATLAB ``rgb2gray`` (rounded to
  uint8, as paradigm's NIQE); ``perceptual_index`` follows the PIRM 2018 scripts: Y of MATLAB
  ``rgb2ycbcr`` on the 8-bit image (uint8), a 4-pixel border shaved, then NRQM and NIQE of that plane;
* a three-level Gaussian pyramid of ``I / 255`` (3x3 Gaussian, sigma 0.5, zero padding, every second
  pixel from the second);
* **local frequency** (18 = 3 scales x 6): 7x7 DCT blocks with stride 3 (zero-padded 'same' grid);
  per block the generalised-Gaussian shape of the AC coefficients, their coefficient of variation
  (std / mean of the magnitudes) and the variance of that ratio over three orientation groups; per
  scale the mean of the 10 % lowest shapes, the mean of the 10 % highest ratios and all the means;
* **global frequency** (45): a frequency-domain complex steerable pyramid (2 scales x 6 orientations)
  of ``I`` on the 0-255 scale, divisive (GSM) normalisation of the real parts by their 3x3
  neighbourhood, parent and sibling bands; generalised-Gaussian shapes per band (12) and per
  orientation across scales (6), SSIM contrast-structure terms between each band and the high-pass
  residual (12) and between the orientations of the first scale (15);
* **spatial** (75 = 3 scales x 25): singular values of the matrix of distinct 5x5 patches;
* the forests and the linear model of ``NRQM_model.mat`` (weights entry ``nrqm_model``).

The parameter file is not bundled (no verifiable digest): it comes through the weights resolver
(``paradigm weights fetch nrqm_model``; never a network access with ``PARADIGM_OFFLINE=1``).

Example:
    >>> import torch
    >>> from paradigm.metrics.nrqm import nrqm
    >>> nrqm(torch.rand(1, 3, 128, 128), params_path="NRQM_model.mat")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError, WeightsError
from .base import Kind, Metric, Pillar, Reference, check_image
from .nr_classic import _cubic, _work_device, niqe, to_gray255
from .nr_params import require_parameter_file
from .psnr_hvs import ycbcr255
from .registry import register

PathLike = str | os.PathLike[str]

#: Smallest side NRQM accepts (the steerable pyramid's guard bands must leave samples).
NRQM_MIN_SIZE = 64
#: Pixels shaved from each border by the PIRM 2018 scripts (the x4 super-resolution scale).
PI_SHAVE = 4
#: Smallest side PI accepts: NIQE's 96x96 block after shaving.
PI_MIN_SIZE = 96 + 2 * PI_SHAVE
#: Field names of a ``randomforest-matlab`` regression model, and their positions in NRQM_model.mat.
FOREST_FIELDS = {"lDau": 0, "rDau": 1, "upper": 4, "avnode": 5, "mbest": 6}
_DCT_BLOCK, _DCT_STRIDE = 7, 3
_PATCH = 5
_N_BANDS = 6
_GUARD = 16


class Forest(NamedTuple):
    """One regression forest, node-major ``(nodes, trees)`` arrays; indices are 1-based, 0 = none."""

    left: np.ndarray  # lDau: left daughter, 0 at a terminal node
    right: np.ndarray  # rDau
    threshold: np.ndarray  # upper: go left when feature <= threshold
    value: np.ndarray  # avnode: prediction of the node
    feature: np.ndarray  # mbest: 1-based index of the split feature


# ------------------------------------------------------------------------------------ model file
def _field(rec: Any, name: str) -> np.ndarray:
    names = rec.dtype.names or ()
    return np.asarray(rec[name] if name in names else rec[FOREST_FIELDS[name]])


def _forest(rec: Any, k: int) -> Forest:
    arrays = {name: _field(rec, name) for name in FOREST_FIELDS}
    shape = arrays["lDau"].shape
    if len(shape) != 2 or any(a.shape != shape for a in arrays.values()):
        raise WeightsError(f"forest {k + 1}: node arrays must share one (nodes, trees) shape, got "
                           + ", ".join(f"{n} {a.shape}" for n, a in arrays.items()))
    ints = {n: arrays[n].astype(np.int64) for n in ("lDau", "rDau", "mbest")}
    nodes = shape[0]
    if any(int(a.min(initial=0)) < 0 or int(a.max(initial=0)) > nodes for a in (ints["lDau"], ints["rDau"])):
        raise WeightsError(f"forest {k + 1}: daughter indices outside 0..{nodes}")
    return Forest(ints["lDau"], ints["rDau"], arrays["upper"].astype(np.float64),
                  arrays["avnode"].astype(np.float64), ints["mbest"])


@functools.lru_cache(maxsize=4)
def load_nrqm_model(path: str) -> tuple[np.ndarray, tuple[Forest, Forest, Forest]]:
    """``(linear (4,), (forest_local, forest_global, forest_spatial))`` of an NRQM ``model.mat``.

    The layout of the official release as mirrored by IQA-PyTorch: a struct ``model`` with ``linear``
    (4x1) and ``rf`` (1x3 cell of ``randomforest-matlab`` regression models with ``lDau``, ``rDau``,
    ``upper``, ``avnode``, ``mbest``, each nodes x trees; read by name, else by position 0, 1, 4, 5, 6).

    Raises:
        WeightsError: the file is not such a MATLAB file.
    """
    import scipy.io
    from scipy.io.matlab import MatReadError

    try:
        model = scipy.io.loadmat(path)["model"][0, 0]
        linear = np.asarray(model["linear"], dtype=np.float64).reshape(-1)
        cells = np.asarray(model["rf"]).reshape(-1)
        forests = tuple(_forest(np.asarray(cells[k]).reshape(-1)[0], k) for k in range(3))
    except WeightsError as exc:
        raise WeightsError(f"NRQM model {path}: {exc}") from exc
    except (MatReadError, OSError, ValueError, KeyError, IndexError, TypeError, NotImplementedError) as exc:
        raise WeightsError(
            f"NRQM model {path} is not the MATLAB file of the official release (a struct 'model' with "
            f"'linear' 4x1 and 'rf' 1x3 regression forests): {type(exc).__name__}: {exc}; "
            f"fetch it again with `paradigm weights fetch nrqm_model`"
        ) from exc
    if linear.shape != (4,) or len(forests) != 3:
        raise WeightsError(f"NRQM model {path}: 'linear' has {linear.size} values, expected 4")
    linear.flags.writeable = False
    return linear, forests


def forest_predict(feat: np.ndarray, forest: Forest) -> np.ndarray:
    """Mean prediction of the trees of ``forest`` for each row of ``feat`` (``(N, D)`` -> ``(N,)``).

    Every sample descends every tree at once: at a split node it goes to ``lDau`` when
    ``feat[mbest - 1] <= upper`` and to ``rDau`` otherwise, until a node without daughters
    (``lDau == 0``), whose ``avnode`` it returns (``randomforest-matlab``'s ``regRF_predict``).
    """
    feat = np.asarray(feat, dtype=np.float64)
    n, dim = feat.shape
    trees = forest.left.shape[1]
    cols = np.arange(trees)[None, :]
    rows = np.arange(n)[:, None]
    k = np.zeros((n, trees), dtype=np.int64)
    for _ in range(forest.left.shape[0]):
        left = forest.left[k, cols]
        active = left > 0
        if not active.any():
            break
        attr = np.clip(forest.feature[k, cols] - 1, 0, dim - 1)
        go_left = feat[rows, attr] <= forest.threshold[k, cols]
        nxt = np.where(go_left, left, forest.right[k, cols]) - 1
        k = np.where(active & (nxt >= 0), nxt, k)
    result: np.ndarray = forest.value[k, cols].mean(axis=1)
    return result


# ------------------------------------------------------------------------------------ statistics
@functools.lru_cache(maxsize=4)
def _ggd_table(device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Shape grid ``0.03:0.001:10`` and ``G(1/g) G(3/g) / G(2/g)^2`` (decreasing in g)."""
    gam = torch.arange(0.03, 10 + 0.001, 0.001, dtype=torch.float64, device=device)
    ratio = torch.exp(torch.lgamma(1 / gam) + torch.lgamma(3 / gam) - 2 * torch.lgamma(2 / gam))
    return gam, ratio


def ggd_shape(v: torch.Tensor) -> torch.Tensor:
    """Generalised-Gaussian shape of each row of ``v`` (``(..., n)`` -> ``(...)``) by moment matching.

    ``rho = var(v) / (mean|v - mean v|^2 + 1e-7)`` (unbiased variance), matched to the nearest grid
    value of ``G(1/g) G(3/g) / G(2/g)^2`` (first on ties). The ratio is monotone, so the nearest value
    is found by a binary search between its two neighbours instead of scanning the 9971-point grid.
    """
    gam, ratio = _ggd_table(str(v.device))
    flat = v.reshape(-1, v.shape[-1])
    mean = flat.mean(-1, keepdim=True)
    rho = flat.var(-1) / ((flat - mean).abs().mean(-1) ** 2 + 1e-7)
    inc = ratio.flip(0)  # increasing
    pos = torch.searchsorted(inc, torch.nan_to_num(rho)).clamp(1, inc.numel() - 1)
    lo, hi = inc[pos - 1], inc[pos]
    pick = torch.where((hi - rho).abs() <= (rho - lo).abs(), pos, pos - 1)
    out = gam.flip(0)[pick]
    return torch.where(torch.isnan(rho), rho, out).reshape(v.shape[:-1])


def _coef_var(v: torch.Tensor, eps: float) -> torch.Tensor:
    """``std(|v|) / (mean(|v|) + eps)`` over the last dimension (unbiased std)."""
    a = v.abs()
    return a.std(-1) / (a.mean(-1) + eps)


# ------------------------------------------------------------------------------------ local frequency
@functools.lru_cache(maxsize=4)
def _dct_matrix(n: int, device: str) -> torch.Tensor:
    """Orthonormal ``n``-point DCT-II matrix ``D``: ``dct2(A) = D @ A @ D.T``."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    d = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2 / n)
    d[0] = math.sqrt(1 / n)
    return d.to(device)


def _orientation_index() -> tuple[list[int], list[int], list[int]]:
    """Flat indices (row * 7 + col) of the three orientation groups of a 7x7 DCT block."""
    def group(spans: list[tuple[int, int]], by_row: bool) -> list[int]:
        out = []
        for line, start in spans:
            for j in range(start, _DCT_BLOCK):
                out.append(line * _DCT_BLOCK + j if by_row else j * _DCT_BLOCK + line)
        return out

    spans = [(0, 1), (1, 2), (2, 4), (3, 5)]
    diagonal = [(1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (3, 4)] + [(4, c) for c in range(3, 7)] + [
        (5, c) for c in range(4, 7)] + [(6, c) for c in range(4, 7)]
    return group(spans, True), [r * _DCT_BLOCK + c for r, c in diagonal], group(spans, False)


def _dct_blocks(img: torch.Tensor) -> torch.Tensor:
    """7x7 blocks every 3 px on the zero-padded 'same' grid, DCT-transformed: ``(N, blocks, 49)``."""
    h, w = img.shape[-2:]
    pad_r = (math.ceil(h / _DCT_STRIDE) - 1) * _DCT_STRIDE + _DCT_BLOCK - h
    pad_c = (math.ceil(w / _DCT_STRIDE) - 1) * _DCT_STRIDE + _DCT_BLOCK - w
    p = F.pad(img, (pad_c // 2, pad_c - pad_c // 2, pad_r // 2, pad_r - pad_r // 2))
    blocks = F.unfold(p, _DCT_BLOCK, stride=_DCT_STRIDE).transpose(1, 2)  # (N, L, 49), rows first
    d = _dct_matrix(_DCT_BLOCK, str(img.device))
    return blocks @ torch.kron(d, d).T


def _low_high_means(sorted_v: torch.Tensor, low: bool) -> torch.Tensor:
    n = sorted_v.shape[-1]
    part = sorted_v[..., : math.ceil(0.1 * n) + 1] if low else sorted_v[..., math.floor(0.9 * n):]
    return part.mean(-1)


def local_frequency_features(img: torch.Tensor) -> torch.Tensor:
    """6 DCT-domain statistics of one pyramid level ``(N, 1, H, W)`` (grey in [0, 1]): ``(N, 6)``."""
    coef = _dct_blocks(img)
    ac = coef[..., 1:]
    shape = torch.sort(ggd_shape(ac), -1).values
    cv = torch.sort(_coef_var(ac, 1e-7), -1).values
    groups = [_coef_var(coef[..., idx], 1e-8) for idx in _orientation_index()]
    orient = torch.sort(torch.stack(groups, -1).var(-1), -1).values
    return torch.stack([
        _low_high_means(shape, True), shape.mean(-1), _low_high_means(cv, False), cv.mean(-1),
        _low_high_means(orient, False), orient.mean(-1),
    ], 1)


def gauss_pyramid(img: torch.Tensor, levels: int = 3) -> list[torch.Tensor]:
    """``levels`` images: ``img`` then repeatedly filtered by ``fspecial('gaussian', 3, 0.5)`` (zero
    padding) and subsampled at the even 1-based positions (``(2:2:end, 2:2:end)``)."""
    from ._filters import gaussian_kernel1d, separable_filter_valid

    k = gaussian_kernel1d(3, 0.5, dtype=torch.float64, device=img.device)
    out = [img]
    for _ in range(levels - 1):
        img = separable_filter_valid(F.pad(img, (1, 1, 1, 1)), k)[..., 1::2, 1::2]
        out.append(img)
    return out


def spatial_features(img: torch.Tensor) -> torch.Tensor:
    """Singular values of the ``(patches, 25)`` matrix of distinct 5x5 patches (zero-padded right and
    bottom, MATLAB ``im2col(..., 'distinct')``): ``(N, 25)``."""
    h, w = img.shape[-2:]
    p = F.pad(img, (0, -w % _PATCH, 0, -h % _PATCH))
    cols = F.unfold(p, _PATCH, stride=_PATCH).transpose(1, 2)
    return torch.linalg.svdvals(cols)


# ------------------------------------------------------------------------------------ global frequency
@functools.lru_cache(maxsize=16)
def _polar_grid(m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(log2 radius, angle)`` of the centred ``m x n`` frequency grid (``buildSCFpyr``'s)."""
    rows = (np.arange(m) - m // 2) / (m / 2)
    cols = (np.arange(n) - n // 2) / (n / 2)
    xv, yv = np.meshgrid(cols, rows)
    angle = np.arctan2(yv, xv)
    rad = np.sqrt(xv**2 + yv**2)
    rad[m // 2, n // 2] = rad[m // 2, n // 2 - 1]
    return np.log2(rad), angle


def _raised_cosine() -> tuple[np.ndarray, np.ndarray]:
    """``rcosFn(1, -0.5)``: abscissae in log2 frequency and the square root of the transition."""
    x = np.pi * np.arange(-257, 2) / 512
    y = np.cos(x) ** 2
    y[0], y[-1] = y[1], y[-2]
    return -0.5 + 2 / np.pi * (x + np.pi / 4), np.sqrt(y)


def _angle_profile() -> tuple[np.ndarray, np.ndarray]:
    """Abscissae and values of the order-5 angular window of a 6-orientation pyramid."""
    order = _N_BANDS - 1
    xcosn = np.pi * np.arange(-2049, 1026) / 1024
    alpha = (xcosn + np.pi) % (2 * np.pi) - np.pi
    const = 2 ** (2 * order) * math.factorial(order) ** 2 / (_N_BANDS * math.factorial(2 * order))
    return xcosn, 2 * np.sqrt(const) * np.cos(xcosn) ** order * (np.abs(alpha) < np.pi / 2)


def _mask(grid: np.ndarray, xs: np.ndarray, ys: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.interp(grid, xs, ys)).to(like.device)


def steerable_pyramid(img: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Real parts of a 2-scale, 6-orientation complex steerable pyramid (``buildSCFpyr``).

    Args:
        img: ``(N, H, W)`` float64.

    Returns:
        ``(high-pass residual (N, H, W), [6 bands (N, H, W), 6 bands at half size])``.
    """
    log_rad, angle = _polar_grid(*img.shape[-2:])
    xr, yr = _raised_cosine()
    yi = np.sqrt(np.abs(1 - yr**2))
    xcosn, ycosn = _angle_profile()
    dft = torch.fft.fftshift(torch.fft.fft2(img), dim=(-2, -1))

    def inverse(z: torch.Tensor) -> torch.Tensor:
        return torch.fft.ifft2(torch.fft.ifftshift(z, dim=(-2, -1)))

    high = inverse(dft * _mask(log_rad, xr, yr, img)).real
    lo = dft * _mask(log_rad, xr, yi, img)
    bands: list[torch.Tensor] = []
    for _ in range(2):
        xr = xr - 1.0
        himask = _mask(log_rad, xr, yr, img)
        for b in range(_N_BANDS):
            amask = _mask(angle, xcosn + np.pi * b / _N_BANDS, ycosn, img)
            bands.append(inverse(lo * amask * himask).imag)  # real part of (-i)^5 * band
        dims = np.array(lo.shape[-2:])
        start = (np.ceil((dims + 0.5) / 2) - np.ceil((np.ceil((dims - 0.5) / 2) + 0.5) / 2)).astype(int)
        end = start + np.ceil((dims - 0.5) / 2).astype(int)
        log_rad = log_rad[start[0]:end[0], start[1]:end[1]]
        angle = angle[start[0]:end[0], start[1]:end[1]]
        lo = lo[..., start[0]:end[0], start[1]:end[1]] * _mask(log_rad, xr, yi, img)
    return high, bands


@functools.lru_cache(maxsize=32)
def _bicubic_matrix(in_len: int, out_len: int) -> np.ndarray:
    """``(out_len, in_len)`` matrix of MATLAB ``imresize`` (bicubic, antialiased when shrinking,
    symmetric borders) along one axis, the general form of NIQE's half-size matrix."""
    scale = out_len / in_len
    width = 4.0 / scale if scale < 1 else 4.0
    u = np.arange(1, out_len + 1, dtype=np.float64) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    w = scale * _cubic(scale * (u[:, None] - idx)) if scale < 1 else _cubic(u[:, None] - idx)
    w = w / w.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    src = aux[np.mod(idx.astype(np.int64) - 1, aux.size)]
    mat = np.zeros((out_len, in_len))
    np.add.at(mat, (np.repeat(np.arange(out_len), taps), src.reshape(-1)), w.reshape(-1))
    return mat


def imresize_bicubic(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """MATLAB ``imresize(x, [h w])`` (bicubic) of ``(..., H, W)`` float64; the same size is the identity."""
    if x.shape[-2:] == (h, w):
        return x
    mh = torch.from_numpy(_bicubic_matrix(x.shape[-2], h)).to(x.device)
    mw = torch.from_numpy(_bicubic_matrix(x.shape[-1], w)).to(x.device)
    return mh @ x @ mw.T


def _gsm_normalise(band: torch.Tensor, others: list[torch.Tensor], n_div: int) -> torch.Tensor:
    """Divide the centred ``band`` by the GSM multiplier estimated from its 3x3 neighbourhood and the
    ``others`` (parent, siblings): ``sqrt(v^T pinv(C) v / n_div)`` with ``C`` their second moments,
    made positive semi-definite with its trace kept (DIIVINE-style ``norm_sender_normalized``); the
    pseudo-inverse equals the inverse for a regular ``C`` and keeps a singular one (flat images)
    finite; samples with ``z = 0`` give 0. Returns ``(N, H - 2, W - 2)``."""
    n, h, w = band.shape
    planes = [band[:, i : i + h - 2, j : j + w - 2] for i in range(3) for j in range(3)]
    planes += [o[:, 1:-1, 1:-1] for o in others]
    v = torch.stack(planes, 1).reshape(n, len(planes), (h - 2) * (w - 2))  # (N, K, L)
    cov = v @ v.transpose(1, 2) / v.shape[2]
    evals, evecs = torch.linalg.eigh(cov)
    pos = evals.clamp_min(0.0)
    pos_sum = pos.sum(1, keepdim=True)
    evals = pos * evals.sum(1, keepdim=True) / (pos_sum + (pos_sum == 0).to(pos.dtype))
    cov = evecs @ torch.diag_embed(evals) @ evecs.transpose(1, 2)
    quad = (torch.linalg.pinv(cov).transpose(1, 2) @ v) * v  # pinv: a degenerate band gives z = 0, not an error
    z = (quad.sum(1) / n_div).sqrt()
    centre = band[:, 1:-1, 1:-1].reshape(n, -1)
    centre = centre - centre.mean(1, keepdim=True)
    ok = z != 0
    return (centre * ok / (z * ok + 1e-12)).reshape(n, h - 2, w - 2)


def normalised_subbands(bands: list[torch.Tensor]) -> list[torch.Tensor]:
    """The 12 bands after GSM normalisation, guard bands (16 px, 8 px at half size) cut, centred."""
    out = []
    for s in range(2):
        for b in range(_N_BANDS):
            band = bands[s * _N_BANDS + b]
            others = []
            if s == 0:
                others.append(imresize_bicubic(bands[_N_BANDS + b], *band.shape[-2:]))
            others += [bands[s * _N_BANDS + o] for o in range(_N_BANDS) if o != b]
            g = _gsm_normalise(band, others, 9 + (s == 0))
            gb = _GUARD >> s
            g = g[:, gb:-gb, gb:-gb]
            out.append(g - g.mean((1, 2), keepdim=True))
    return out


def contrast_structure(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM contrast-structure term (11x11 Gaussian, sigma 1.5, 'valid', ``C2 = (0.03 * 255)^2``,
    negative values set to 0) of planes ``(N, K, H, W)`` paired channel by channel: ``(N, K)``."""
    from ._filters import gaussian_kernel1d, separable_filter_valid

    k = gaussian_kernel1d(11, 1.5, dtype=torch.float64, device=a.device)
    kk = a.shape[1]
    stats = separable_filter_valid(torch.cat([a, b, a * a, b * b, a * b], 1), k)
    mx, my, xx, yy, xy = stats.split(kk, 1)
    vx, vy, cxy = xx - mx * mx, yy - my * my, xy - mx * my
    c2 = (0.03 * 255) ** 2
    return ((2 * cxy + c2) / (vx + vy + c2)).clamp_min(0.0).mean((2, 3))


def global_frequency_features(img: torch.Tensor) -> torch.Tensor:
    """45 steerable-pyramid statistics of ``(N, 1, H, W)`` grey on the 0-255 scale: ``(N, 45)``."""
    n = img.shape[0]
    high, bands = steerable_pyramid(img[:, 0])
    subs = normalised_subbands(bands)
    feats = [ggd_shape(s.reshape(n, -1)) for s in subs]
    feats += [ggd_shape(torch.cat([subs[b].reshape(n, -1), subs[b + _N_BANDS].reshape(n, -1)], 1))
              for b in range(_N_BANDS)]
    up = torch.stack([imresize_bicubic(band, *high.shape[-2:]) for band in bands], 1)
    cross = contrast_structure(up, high[:, None].expand_as(up))
    pairs = [(i, j) for i in range(_N_BANDS) for j in range(i + 1, _N_BANDS)]
    first = torch.stack(subs[:_N_BANDS], 1)
    orient = contrast_structure(first[:, [i for i, _ in pairs]], first[:, [j for _, j in pairs]])
    return torch.cat([torch.stack(feats, 1), cross, orient], 1)


# ------------------------------------------------------------------------------------ scores
def nrqm_features(gray: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The three feature groups of ``(N, 1, H, W)`` float64 grey levels in [0, 255]:
    local frequency ``(N, 18)``, global frequency ``(N, 45)``, spatial ``(N, 75)``."""
    pyr = gauss_pyramid(gray / 255.0)
    f1 = torch.cat([local_frequency_features(p) for p in pyr], 1)
    f2 = global_frequency_features(gray)
    f3 = torch.cat([spatial_features(p) for p in pyr], 1)
    return f1, f2, f3


def nrqm_gray(gray: torch.Tensor, params_path: PathLike | None = None) -> torch.Tensor:
    """NRQM of ``(N, 1, H, W)`` float64 grey levels in [0, 255] (already converted and cropped): ``(N,)``."""
    path = None if params_path is None else Path(params_path)
    linear, forests = load_nrqm_model(str(require_parameter_file("nrqm_model", path)))
    feats = nrqm_features(gray)
    scores = [np.ones(gray.shape[0])]
    scores += [forest_predict(f.cpu().numpy(), forest) for f, forest in zip(feats, forests, strict=True)]
    out = np.stack(scores, 1) @ linear
    return torch.from_numpy(out).to(gray.device)


def _check_size(x: torch.Tensor, least: int, what: str) -> None:
    h, w = x.shape[-2:]
    if min(h, w) < least:
        raise InputError(f"{what} needs images of at least {least}x{least} px, got {h}x{w}; "
                         "upscale the image or use a metric without a minimum size")


def nrqm(x: torch.Tensor, params_path: PathLike | None = None) -> torch.Tensor:
    """NRQM / Ma's score (Ma et al. 2017), the official MATLAB model, batched.

    Args:
        x: ``(N, C, H, W)`` float in [0, 1], C in {1, 3}, H and W at least 64. RGB is converted with
            MATLAB ``rgb2gray`` after rounding to 8 bit; one channel is used as is (rounded to 8 bit).
        params_path: ``NRQM_model.mat``; None resolves weights entry ``nrqm_model`` (offline-safe).

    Returns:
        ``(N,)`` float64 on ``x``'s device, about 0-10, higher is better.

    Raises:
        InputError: bad tensor or too small an image.
        WeightsNotFoundError: the model file is missing (the message says how to fetch it).
        WeightsError: the model file is malformed.
    """
    check_image(x, "image")
    _check_size(x, NRQM_MIN_SIZE, "NRQM")
    return nrqm_gray(to_gray255(x), params_path).to(x.device)


def perceptual_index(
    x: torch.Tensor, params_path: PathLike | None = None, niqe_params_path: PathLike | None = None,
    shave: int = PI_SHAVE,
) -> torch.Tensor:
    """Perceptual index of the PIRM 2018 challenge, ``((10 - NRQM) + NIQE) / 2``, lower is better.

    As the challenge's scripts: Y of MATLAB ``rgb2ycbcr`` on the 8-bit image (uint8; one channel is
    used as is), ``shave`` pixels cut from each border, then NRQM and paradigm's NIQE (the official
    LIVE release) of that plane.

    Args:
        x: ``(N, C, H, W)`` float in [0, 1], C in {1, 3}; H and W at least ``96 + 2 * shave``.
        params_path: ``NRQM_model.mat`` (weights entry ``nrqm_model``).
        niqe_params_path: NIQE's pristine model (weights entry ``niqe_pris_params``, bundled).
        shave: border cut from each side (4, the x4 scale of the challenge).

    Returns:
        ``(N,)`` float64 on ``x``'s device.
    """
    check_image(x, "image")
    _check_size(x, 96 + 2 * shave, "PI")
    x8 = torch.floor(x.to(_work_device(x), torch.float64).clamp(0, 1) * 255 + 0.5) / 255
    y = ycbcr255(x8, y_only=True)
    if shave:
        y = y[..., shave:-shave, shave:-shave]
    ma = nrqm_gray(y, params_path)
    nq = niqe(y / 255.0, params_path=niqe_params_path).to(ma.device)
    return ((10.0 - ma + nq) / 2.0).to(x.device)


# ------------------------------------------------------------------------------------ metrics
_RESOLVED = "parameters come through the weights resolver (`paradigm weights fetch nrqm_model`), not bundled"


@register
class NRQM(Metric):
    """NRQM / Ma's score (Ma et al. 2017): needs ``nrqm_model``."""

    name: ClassVar[str] = "nrqm"
    aliases: ClassVar[tuple[str, ...]] = ("ma",)
    version: ClassVar[str] = "1"
    kind: ClassVar[Kind] = "no-reference"
    pillar: ClassVar[Pillar] = "perceptual"
    reference: ClassVar[Reference] = "none"
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float, float]] = (0.0, 10.0)
    weights: ClassVar[tuple[str, ...]] = ("nrqm_model",)
    min_size: ClassVar[int] = NRQM_MIN_SIZE
    defaults: ClassVar[dict[str, Any]] = {"params_path": None}
    description: ClassVar[str] = f"no-reference SR quality (Ma et al. 2017) on rgb2gray, 0-10, higher is better; {_RESOLVED}"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return nrqm(x, params_path=self.options["params_path"])


@register
class PI(Metric):
    """Perceptual index of PIRM 2018, ``((10 - NRQM) + NIQE) / 2`` on the shaved Y plane; lower is better."""

    name: ClassVar[str] = "pi"
    aliases: ClassVar[tuple[str, ...]] = ("perceptual_index",)
    version: ClassVar[str] = "1"
    kind: ClassVar[Kind] = "no-reference"
    pillar: ClassVar[Pillar] = "perceptual"
    reference: ClassVar[Reference] = "none"
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float, float]] = (float("-inf"), float("inf"))
    weights: ClassVar[tuple[str, ...]] = ("nrqm_model", "niqe_pris_params")
    min_size: ClassVar[int] = PI_MIN_SIZE
    defaults: ClassVar[dict[str, Any]] = {"params_path": None, "niqe_params_path": None}
    description: ClassVar[str] = (
        "perceptual index ((10 - NRQM) + NIQE) / 2 (Blau et al. 2018, PIRM scripts: Y, 4 px shaved), "
        f"lower is better; {_RESOLVED}"
    )

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return perceptual_index(x, params_path=self.options["params_path"],
                                niqe_params_path=self.options["niqe_params_path"])


__all__ = [
    "NRQM", "PI", "Forest", "forest_predict", "ggd_shape", "load_nrqm_model", "nrqm", "nrqm_features",
    "nrqm_gray", "perceptual_index",
]
