"""IL-NIQE (Zhang, Zhang & Bovik 2015): the official MATLAB release, batched in torch.

*A feature-enriched completely blind image quality evaluator*, IEEE TIP 24(8), 2015. The score is
the mean, over 84x84 patches, of the Mahalanobis-like distance between each patch's feature vector
and a multivariate Gaussian fitted to pristine patches (lower is better). This module follows the
release's ``computequality.m`` step by step:

* **input**: the [0, 1] RGB image is taken back to 8 bit (``round(255 x)``) and resized with MATLAB
  ``imresize(im, [524 524])`` on ``uint8``: bicubic with antialiasing, one axis at a time (the axis
  shrunk most first), each pass rounded and saturated to ``uint8`` as MATLAB's ``imresizemex``
  does; the result is cropped to whole 84x84 patches (504x504, 36 patches);
* **maps** per scale (2 scales): opponent colours ``O1, O2, O3`` (``O3`` is the intensity); the MSCN
  coefficients of ``O3`` (5x5 Gaussian window, sigma 5/6, replicate borders); Gaussian-derivative
  responses ``Ix, Iy`` of ``O1..O3`` (``conv2(., dx + i dy, 'same')``, sigma
  ``1.66 / scale^0.28``) and their magnitudes ``sqrt(Ix^2 + Iy^2) + eps``; the log-opponent
  colour channels of ``log(RGB + 1e-5)`` minus their image means (intensity, blue-yellow,
  red-green); the real and imaginary parts of 3 x 4 log-Gabor responses of ``O3`` (minimum
  wavelength ``2.4 / scale^0.87``, ``mult`` 1.31, ``sigmaOnf`` 0.55, ``dThetaOnSigma`` 1.10, no
  low-pass) with their Gaussian-derivative responses and magnitudes;
* **features** per patch and scale (234): NIQE's 18 MSCN features; the Weibull fit (maximum
  likelihood, MATLAB ``wblfit``: scale, shape) of the 3 colour gradient magnitudes and of the 24
  log-Gabor gradient magnitudes; mean and variance of the 3 log-opponent channels; the AGGD shape
  and mean scale ``(beta_l + beta_r) / 2`` of the 6 derivative maps, the 24 log-Gabor responses and
  their 48 derivatives. The second scale is made by a 6x6 Gaussian (sigma 0.9, replicate borders)
  and keeping every other row and column;
* **score**: infinite features set to 10000; projection on the template's principal vectors
  (``principleVectors' * (feat - meanOfSampleData)``); ``nanmean``/``nancov`` of the projected
  patches (NaN entries of the mean or covariance set to 2000); per patch
  ``sqrt((f - mu)' pinv((cov_pris + cov_dist) / 2) (f - mu))`` with the patch's NaN entries taken
  from the patch mean; the score is the mean over patches.

The template (``ILNIQE_templateModel.mat``, weights-table entry ``ilniqe_templates``) holds one
variable ``templateModel``, a 1x4 cell: ``mu_prisparam`` (1 x D), ``cov_prisparam`` (D x D),
``meanOfSampleData`` (468 x 1) and ``principleVectors`` (468 x D). It is not bundled: it is
resolved through :func:`paradigm.weights.resolve` (never downloaded when ``PARADIGM_OFFLINE=1``).

Example:
    >>> import torch
    >>> from paradigm.metrics.ilniqe import ilniqe
    >>> ilniqe(torch.rand(2, 3, 128, 128), params_path="ILNIQE_templateModel.mat").shape  # doctest: +SKIP
    torch.Size([2])
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError, WeightsError
from .base import Kind, Metric, Pillar, Reference, check_image
from .fsim import fft_grid
from .nr_classic import (
    PathLike,
    _nanmean_nancov,
    _niqe_block_features,
    _work_device,
    estimate_aggd,
    mscn,
    resize_matrix,
    separable_filter_same,
)
from .nr_params import require_parameter_file
from .registry import register

#: Side of the square the release resizes every image to.
NORMALIZED_WIDTH = 524
#: Patch side at the first scale (half at the second).
PATCH = 84
#: Features per patch and scale, and in all.
FEATURES_PER_SCALE = 234
N_FEATURES = 2 * FEATURES_PER_SCALE

SIGMA_GAU_DERIVATIVE = 1.66
K_FOR_LOG = 1e-5
MIN_WAVELENGTH = 2.4
SIGMA_ONF = 0.55
MULT = 1.31
DTHETA_ON_SIGMA = 1.10
SCALE_FACTOR_LOG = 0.87
SCALE_FACTOR_GAU_DER = 0.28
SIGMA_DOWNSAMPLE = 0.9
LG_SCALES, LG_ORIENTS = 3, 4
INF_CONST = 10000.0
NAN_CONST = 2000.0
EPS = float(np.finfo(np.float64).eps)

#: Opponent colour space of the release (rows: O1, O2, O3).
OPPONENT = ((0.3, 0.04, -0.35), (0.34, -0.6, 0.17), (0.06, 0.63, 0.27))

_WEIBULL_MAX_ITER = 100
_WEIBULL_RTOL = 1e-12
#: Images processed together (a 504x504 image needs ~0.3 GB of float64 maps).
_CHUNK = 2


# ------------------------------------------------------------------------------------ template
@functools.lru_cache(maxsize=4)
def load_template(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read and check an IL-NIQE ``templateModel`` .mat file.

    Returns:
        ``(mu (D,), cov (D, D), mean_of_sample_data (468,), principle_vectors (468, D))`` float64.

    Raises:
        WeightsError: the file is not a MATLAB .mat file with that layout; the message names what is
            wrong and what is expected.
    """
    from scipy.io import loadmat

    expected = (
        "a MATLAB .mat file holding 'templateModel', a 1x4 cell {mu_prisparam (1xD), cov_prisparam (DxD), "
        f"meanOfSampleData ({N_FEATURES}x1), principleVectors ({N_FEATURES}xD)}} as saved by the official "
        "IL-NIQE release (ILNIQE_templateModel.mat; `paradigm weights fetch ilniqe_templates`)"
    )
    try:
        data = loadmat(path)
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError, MatReadError...
        raise WeightsError(f"IL-NIQE template {path} cannot be read as a .mat file ({exc}); expected {expected}") from exc
    if "templateModel" not in data:
        keys = sorted(k for k in data if not k.startswith("__"))
        raise WeightsError(f"IL-NIQE template {path} has no variable 'templateModel' (it has {keys}); expected {expected}")
    cell = np.asarray(data["templateModel"], dtype=object).reshape(-1)
    if cell.size != 4:
        raise WeightsError(f"IL-NIQE template {path}: 'templateModel' has {cell.size} entries, not 4; expected {expected}")
    try:
        parts = [np.asarray(c, dtype=np.float64) for c in cell]
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"IL-NIQE template {path}: 'templateModel' entries are not numeric ({exc}); expected {expected}") from exc
    return _check_template(path, parts, expected)


def _check_template(
    path: str, parts: list[np.ndarray], expected: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shape and value checks of the four template arrays; read-only float64 copies."""
    mu, cov, mean, vecs = parts
    shapes = ", ".join(str(p.shape) for p in parts)
    if vecs.ndim != 2 or vecs.shape[0] != N_FEATURES or not 1 <= vecs.shape[1] <= N_FEATURES:
        raise WeightsError(
            f"IL-NIQE template {path}: principleVectors has shape {vecs.shape}, expected ({N_FEATURES}, D) "
            f"with 1 <= D <= {N_FEATURES} (shapes found: {shapes}); expected {expected}"
        )
    d = vecs.shape[1]
    if mu.size != d or cov.shape != (d, d) or mean.size != N_FEATURES:
        raise WeightsError(
            f"IL-NIQE template {path}: shapes {shapes} do not fit D = {d}: expected mu (1, {d}), "
            f"cov ({d}, {d}), meanOfSampleData ({N_FEATURES}, 1), principleVectors ({N_FEATURES}, {d}); "
            f"expected {expected}"
        )
    if not all(np.isfinite(p).all() for p in parts):
        raise WeightsError(f"IL-NIQE template {path} holds NaN or infinite values; use the official file")
    out = (mu.reshape(-1).copy(), cov.copy(), mean.reshape(-1).copy(), vecs.copy())
    for a in out:
        a.flags.writeable = False
    return out


# ------------------------------------------------------------------------------------ resizing
def imresize_uint8(img: torch.Tensor, out_h: int, out_w: int) -> torch.Tensor:
    """MATLAB ``imresize(A, [out_h out_w])`` (bicubic, antialiased) of a ``uint8`` image.

    MATLAB resizes one axis at a time, the one with the smaller scale factor first (rows on ties),
    and its ``imresizemex`` returns the input's class, so every pass is rounded and saturated.

    Args:
        img: ``(N, C, H, W)`` float64 holding integers in [0, 255].

    Returns:
        ``(N, C, out_h, out_w)`` float64 holding integers in [0, 255].
    """
    h, w = img.shape[-2:]
    sh, sw = out_h / h, out_w / w
    out = img
    for axis in ((-2, -1) if sh <= sw else (-1, -2)):
        n_in, n_out, s = (h, out_h, sh) if axis == -2 else (w, out_w, sw)
        if n_in == n_out:
            continue  # MATLAB's weights are then the identity
        m = torch.from_numpy(np.array(resize_matrix(n_in, n_out, s))).to(img.device)
        out = torch.matmul(m, out) if axis == -2 else torch.matmul(out, m.T)
        out = torch.floor(out.clamp(0.0, 255.0) + 0.5)
    return out


def _downsample(x: torch.Tensor) -> torch.Tensor:
    """``imfilter(x, fspecial('gaussian', 6, 0.9), 'replicate')`` then ``x(1:2:end, 1:2:end)``."""
    return separable_filter_same(x, _ds_taps(), "replicate")[..., ::2, ::2]


@functools.lru_cache(maxsize=1)
def _ds_taps() -> tuple[float, ...]:
    size = math.ceil(6 * SIGMA_DOWNSAMPLE)
    t = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(t**2) / (2 * SIGMA_DOWNSAMPLE**2))
    return tuple(float(v) for v in g / g.sum())


@functools.lru_cache(maxsize=1)
def _mscn_taps() -> tuple[float, ...]:
    """1-D factor of ``fspecial('gaussian', 5, 5/6)`` normalised to sum 1."""
    g = np.exp(-(np.arange(-2, 3, dtype=np.float64) ** 2) / (2 * (5.0 / 6.0) ** 2))
    return tuple(float(v) for v in g / g.sum())


# ------------------------------------------------------------------------------------ filters
def _gau_der_taps(sigma: float) -> tuple[list[float], list[float]]:
    """Taps of the release's ``gauDerivative``: ``dx = x g(x) g(y)``, unnormalised, half-length ``ceil(3 sigma)``.

    Returns:
        ``(odd, even)``: ``odd[j - 1] = j g(j)`` for ``j = 1..L`` and ``even[i + L] = g(i)`` for ``i = -L..L``.
    """
    half = math.ceil(3 * sigma)
    g = [math.exp(-(t * t) / 2 / sigma / sigma) for t in range(-half, half + 1)]
    odd = [j * g[half + j] for j in range(1, half + 1)]
    return odd, g


def gaussian_derivatives(x: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``conv2(x, dx + 1i * dy, 'same')`` of the release, split: ``(Ix, Iy)`` per channel.

    The kernel is separable; the odd factor is applied as ``sum_j j g(j) (x[c - j] - x[c + j])``
    (true convolution, zero padding), so that a constant area gives exactly 0.

    Args:
        x: ``(N, C, H, W)`` float64.

    Returns:
        ``(Ix, Iy)``, each ``(N, C, H, W)``.
    """
    odd, even = _gau_der_taps(sigma)
    half = len(odd)
    h, w = x.shape[-2:]
    p = F.pad(x, (half, half, half, half))

    def deriv(t: torch.Tensor, dim: int, n: int) -> torch.Tensor:  # sum_j j g(j) (t[-j] - t[+j])
        acc = torch.sub(t.narrow(dim, half - 1, n), t.narrow(dim, half + 1, n)).mul_(odd[0])
        diff = torch.empty_like(acc)
        for j in range(2, half + 1):  # differences first: a constant area gives exactly 0
            acc.add_(torch.sub(t.narrow(dim, half - j, n), t.narrow(dim, half + j, n), out=diff), alpha=odd[j - 1])
        return acc

    def smooth(t: torch.Tensor, dim: int, n: int) -> torch.Tensor:
        acc = t.narrow(dim, 0, n) * even[0]
        for k in range(1, len(even)):
            acc.add_(t.narrow(dim, k, n), alpha=even[k])
        return acc

    ix = smooth(deriv(p, -1, w), -2, h)
    iy = smooth(deriv(p, -2, h), -1, w)
    return ix, iy


@functools.lru_cache(maxsize=4)
def log_gabor_bank(rows: int, cols: int, min_wavelength: float) -> torch.Tensor:
    """The release's ``logGabors``: ``(3 * 4, rows, cols)`` frequency responses, scale-major, float64.

    Kovesi's construction without the low-pass: radial ``exp(-log(r / f0)^2 / (2 log(sigmaOnf)^2))``
    for ``f0 = 1 / (minWaveLength mult^s)`` (0 at DC) times the angular Gaussian of spread
    ``pi / 4 / dThetaOnSigma`` around ``o pi / 4``, quadrant-shifted (DC at the corner).
    """
    xx, yy = fft_grid(rows, cols)
    radius = torch.fft.ifftshift(torch.sqrt(xx * xx + yy * yy))
    theta = torch.fft.ifftshift(torch.atan2(-yy, xx))
    radius[0, 0] = 1.0
    sint, cost = torch.sin(theta), torch.cos(theta)
    theta_sigma = math.pi / LG_ORIENTS / DTHETA_ON_SIGMA
    filters = []
    for s in range(LG_SCALES):
        fo = 1.0 / (min_wavelength * MULT**s)
        radial = torch.exp(-(torch.log(radius / fo) ** 2) / (2 * math.log(SIGMA_ONF) ** 2))
        radial[0, 0] = 0.0
        for o in range(LG_ORIENTS):
            angl = o * math.pi / LG_ORIENTS
            ds = sint * math.cos(angl) - cost * math.sin(angl)
            dc = cost * math.cos(angl) + sint * math.sin(angl)
            dtheta = torch.abs(torch.atan2(ds, dc))
            filters.append(radial * torch.exp(-(dtheta**2) / (2 * theta_sigma**2)))
    return torch.stack(filters)


# ------------------------------------------------------------------------------------ fits
def fit_weibull(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximum-likelihood two-parameter Weibull fit per row (MATLAB ``wblfit``), solved to convergence.

    The shape ``k`` is the root of ``sum(x^k log x) / sum(x^k) - 1 / k - mean(log x)`` (increasing
    in ``k``), found by Newton steps kept inside a bracket (bisection when a step leaves it); the
    scale is ``mean(x^k)^(1/k)``. Powers are taken relative to the row maximum to avoid overflow.

    Args:
        v: ``(M, n)`` float64, positive.

    Returns:
        ``(scale, shape)``, each ``(M,)``.
    """
    logv = torch.log(v)
    ymax = logv.amax(1)
    y = logv - ymax[:, None]  # log(x / max x) <= 0: exp(k y) in (0, 1]
    ybar = y.mean(1)
    constant = y.amin(1) == 0  # MATLAB: zero range gives shape Inf, scale x
    k = 1.2 / torch.where(constant, torch.ones_like(ybar), y.std(1))
    lo = torch.zeros_like(k)
    hi = torch.full_like(k, float("inf"))
    for _ in range(_WEIBULL_MAX_ITER):
        wts = torch.exp(k[:, None] * y)
        s0 = wts.sum(1)
        wy = wts.mul_(y)
        a = wy.sum(1) / s0
        g = a - 1.0 / k - ybar
        gp = wy.mul_(y).sum(1) / s0 - a * a + 1.0 / (k * k)
        lo = torch.where(g < 0, k, lo)
        hi = torch.where(g > 0, k, hi)
        step = k - g / gp
        fallback = torch.where(torch.isinf(hi), 2.0 * k, 0.5 * (lo + hi))
        new = torch.where((step > lo) & (step < hi), step, fallback)
        done = (torch.abs(new - k) <= _WEIBULL_RTOL * k) | (g == 0) | constant
        k = torch.where(g == 0, k, new)
        if bool(done.all()):
            break
    scale = torch.exp(ymax + torch.log(torch.exp(k[:, None] * y).mean(1)) / k)
    scale = torch.where(constant, torch.exp(ymax), scale)
    return scale, torch.where(constant, torch.full_like(k, float("inf")), k)


def _aggd_shape_scale(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """AGGD shape ``alpha`` and ``(beta_l + beta_r) / 2`` per row (the release's ``estimateaggdparam``)."""
    alpha, lstd, rstd = estimate_aggd(v)
    c = torch.exp(0.5 * (torch.lgamma(1.0 / alpha) - torch.lgamma(3.0 / alpha)))
    return alpha, (lstd + rstd) * c / 2


# ------------------------------------------------------------------------------------ features
def _patches(maps: torch.Tensor, block: int) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, n_patches, C, block * block)``, patches in row-major order."""
    n, c, h, w = maps.shape
    nh, nw = h // block, w // block
    t = maps[..., : nh * block, : nw * block].reshape(n, c, nh, block, nw, block)
    return t.permute(0, 2, 4, 1, 3, 5).reshape(n, nh * nw, c, block * block)


def _maps(rgb: torch.Tensor, opp: torch.Tensor, scale: int) -> dict[str, torch.Tensor]:
    """The release's ``compositeMat`` of one scale, grouped by the statistics taken of each part."""
    sigma = SIGMA_GAU_DERIVATIVE / scale**SCALE_FACTOR_GAU_DER
    ix, iy = gaussian_derivatives(opp, sigma)
    grad_mag = torch.sqrt(ix * ix + iy * iy) + EPS
    log_rgb = torch.log(rgb + K_FOR_LOG)
    log_rgb = log_rgb - log_rgb.mean(dim=(-2, -1), keepdim=True)
    lr, lg, lb = log_rgb[:, 0], log_rgb[:, 1], log_rgb[:, 2]
    colour = torch.stack(
        [(lr + lg + lb) / math.sqrt(3), (lr + lg - 2 * lb) / math.sqrt(6), (lr - lg) / math.sqrt(2)], 1
    )
    o3 = opp[:, 2]
    rows, cols = o3.shape[-2:]
    bank = log_gabor_bank(rows, cols, MIN_WAVELENGTH / scale**SCALE_FACTOR_LOG).to(o3.device)
    resp = torch.fft.ifft2(bank[None] * torch.fft.fft2(o3)[:, None])  # (N, 12, h, w)
    parts = torch.stack([resp.real, resp.imag], 2).flatten(1, 2)  # (N, 24): re, im per filter
    px, py = gaussian_derivatives(parts, sigma)
    partial = torch.stack([px, py], 2).flatten(1, 2)  # per filter: x, y of re, then x, y of im
    lg_mag = torch.sqrt(px * px + py * py) + EPS
    derivs = torch.stack([ix, iy], 2).flatten(1, 2)  # IxO1, IyO1, IxO2, ...
    return {
        "mscn": mscn(o3[:, None], "replicate", _mscn_taps()),
        "weibull": torch.cat([grad_mag, lg_mag], 1),  # 3 + 24
        "colour": colour,
        "aggd": torch.cat([derivs, parts, partial], 1),  # 6 + 24 + 48
    }


def _scale_features(rgb: torch.Tensor, opp: torch.Tensor, scale: int) -> torch.Tensor:
    """The 234 features of every patch at one scale: ``(N, n_patches, 234)``."""
    maps = _maps(rgb, opp, scale)
    block = PATCH // scale
    nss = _niqe_block_features(maps["mscn"], block)  # (N, P, 18)
    n, p = nss.shape[:2]

    def per_channel(name: str) -> torch.Tensor:
        t = _patches(maps[name], block)
        return t.reshape(-1, t.shape[-1])

    w_scale, w_shape = fit_weibull(per_channel("weibull"))
    weib = torch.stack([w_scale, w_shape], -1).reshape(n, p, 27, 2)
    col = _patches(maps["colour"], block)
    colour = torch.stack([col.mean(-1), col.var(-1)], -1)  # (N, P, 3, 2), var normalised by n - 1
    alpha, beta = _aggd_shape_scale(per_channel("aggd"))
    aggd = torch.stack([alpha, beta], -1).reshape(n, p, 78, 2)
    parts = [nss, weib[:, :, :3].flatten(2), colour.flatten(2), aggd.flatten(2), weib[:, :, 3:].flatten(2)]
    return torch.cat(parts, -1)


def ilniqe_features(x: torch.Tensor) -> torch.Tensor:
    """Per-patch IL-NIQE features (before the PCA projection) of RGB images.

    Args:
        x: ``(N, 3, H, W)`` float in [0, 1].

    Returns:
        ``(N, 36, 468)`` float64 (6 x 6 patches of the 524x524 resized image; 234 features per scale).
    """
    img = torch.floor(x.to(_work_device(x), torch.float64).clamp(0.0, 1.0) * 255.0 + 0.5)
    img = imresize_uint8(img, NORMALIZED_WIDTH, NORMALIZED_WIDTH)
    return features_resized(img)


def features_resized(img: torch.Tensor) -> torch.Tensor:
    """Per-patch features of images already resized (values in [0, 255], float64): ``(N, P, 468)``."""
    h, w = img.shape[-2:]
    img = img[..., : (h // PATCH) * PATCH, : (w // PATCH) * PATCH]
    opp = torch.einsum("oc,nchw->nohw", torch.tensor(OPPONENT, dtype=img.dtype, device=img.device), img)
    rgb = img
    feats = []
    for scale in (1, 2):
        feats.append(_scale_features(rgb, opp, scale))
        if scale == 1:
            rgb, opp = _downsample(rgb), _downsample(opp)
    return torch.cat(feats, -1)


def pool_features(feat: torch.Tensor, template: tuple[np.ndarray, ...]) -> torch.Tensor:
    """The release's pooling: PCA projection, distorted MVG, mean patch distance to the pristine MVG.

    Args:
        feat: ``(N, P, 468)`` float64 patch features (:func:`features_resized`).
        template: the four arrays of :func:`load_template`.

    Returns:
        ``(N,)`` float64 scores.
    """
    dev = feat.device
    mu_p, cov_p, mean, vecs = (torch.from_numpy(np.array(a)).to(dev) for a in template)
    feat = torch.where(torch.isinf(feat), torch.full_like(feat, INF_CONST), feat)
    proj = (feat - mean) @ vecs  # (N, P, D); a NaN feature makes its whole row NaN
    mu_d, cov_d = _nanmean_nancov(proj)
    mu_d = torch.nan_to_num(mu_d, nan=NAN_CONST)
    cov_d = torch.nan_to_num(cov_d, nan=NAN_CONST)
    inv = torch.linalg.pinv((cov_p[None] + cov_d) / 2)
    proj = torch.where(torch.isnan(proj), mu_d[:, None, :], proj)
    diff = proj - mu_p
    q = ((diff @ inv) * diff).sum(-1).clamp_min(0.0)
    return torch.sqrt(q).mean(1)


def ilniqe(x: torch.Tensor, params_path: PathLike | None = None) -> torch.Tensor:
    """IL-NIQE (Zhang, Zhang & Bovik 2015), the official MATLAB release, batched.

    Args:
        x: ``(N, 3, H, W)`` float RGB in [0, 1]; any size (every image is resized to 524x524).
        params_path: the template .mat (``ILNIQE_templateModel.mat``); None resolves
            ``ilniqe_templates`` through :func:`paradigm.weights.resolve` (not bundled: fetch it with
            ``paradigm weights fetch ilniqe_templates``).

    Returns:
        ``(N,)`` float64 on ``x``'s device, >= 0, lower is better (with the official template the
        calibration images of ``shared/calibration`` score from about 20 to 113).

    Raises:
        InputError: bad tensor or a grey (one-channel) image.
        WeightsNotFoundError: the template cannot be found (offline or not fetched).
        WeightsError: the template file does not have the official layout.
    """
    check_image(x, "image")
    if x.shape[1] != 3:
        raise InputError(
            f"IL-NIQE needs RGB images (its features include colour statistics), got {x.shape[1]} channel(s); "
            "for a grey image pass x.expand(-1, 3, -1, -1)"
        )
    explicit = None if params_path is None else Path(params_path)
    template = load_template(str(require_parameter_file("ilniqe_templates", explicit)))
    scores = [pool_features(ilniqe_features(x[i : i + _CHUNK]), template) for i in range(0, x.shape[0], _CHUNK)]
    return torch.cat(scores).to(x.device)


@register
class ILNIQE(Metric):
    """IL-NIQE, official MATLAB release; needs ``ilniqe_templates`` (not bundled); lower is better."""

    name: ClassVar[str] = "ilniqe"
    version: ClassVar[str] = "1"
    kind: ClassVar[Kind] = "no-reference"
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float, float]] = (0.0, float("inf"))
    pillar: ClassVar[Pillar] = "perceptual"
    reference: ClassVar[Reference] = "none"
    weights: ClassVar[tuple[str, ...]] = ("ilniqe_templates",)
    supports_y_channel: ClassVar[bool] = False
    min_size: ClassVar[int] = PATCH
    defaults: ClassVar[dict[str, Any]] = {"params_path": None}
    description: ClassVar[str] = (
        "integrated local NIQE (Zhang et al. 2015), official MATLAB release on 8-bit RGB resized to 524x524; "
        "lower is better; template file through the weights resolver (ilniqe_templates), not bundled"
    )

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return ilniqe(x, params_path=self.options["params_path"])


__all__ = ["ILNIQE", "features_resized", "fit_weibull", "ilniqe", "ilniqe_features", "imresize_uint8", "load_template", "pool_features"]
