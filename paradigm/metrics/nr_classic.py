"""Classical no-reference metrics: NIQE (Mittal et al. 2013) and BRISQUE (Mittal et al. 2012).

Both are torch re-implementations of the authors' MATLAB releases, batched over N and vectorised
over image blocks. They reproduce the official values of IQA-PyTorch's ``ResultsCalibra`` table
(rows ``niqe`` and ``brisque``: the LIVE releases run on ``rgb2gray`` input), not the MATLAB Image
Processing Toolbox functions ``niqe()``/``brisque()`` (rows ``niqe_matlab``/``brisque_matlab``), which
use other models.

Pipeline shared by both (the official code paths):

* colour: the [0, 1] input is taken back to 8 bit (``round(255 x)``) and converted with MATLAB's
  ``rgb2gray`` (``0.298936 R + 0.587043 G + 0.114021 B``, rounded to uint8); one-channel input is
  used as is (after the same 8-bit rounding);
* MSCN coefficients ``(I - mu) / (sigma + 1)`` with a 7x7 Gaussian window (sigma 7/6), replicate
  padding for NIQE (``imfilter(..., 'replicate')``), zero padding for BRISQUE (``filter2(..., 'same')``);
* a second scale made by MATLAB ``imresize(I, 0.5)`` (bicubic with antialiasing, symmetric borders),
  reproduced exactly as a pair of resampling matrices;
* (A)GGD shape fits by moment matching on the grid ``0.2:0.001:10``.

NIQE fits a multivariate Gaussian to the 36 features of 96x96 blocks (48x48 at half scale) and
returns its distance to the pristine model. BRISQUE computes the 36 features of the whole image,
writes them like the official script does (``%f`` then libsvm ``svm-scale``'s ``%g``, emulated) and
evaluates the official RBF epsilon-SVR (774 support vectors) in torch.

Example:
    >>> import torch
    >>> from paradigm.metrics.nr_classic import niqe
    >>> x = torch.rand(2, 3, 192, 192)
    >>> niqe(x, params_path="../shared/weights/niqe/niqe_pris_params.npz").shape  # doctest: +SKIP
    torch.Size([2])
"""

from __future__ import annotations

import functools
import logging
import math
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError, WeightsError, WeightsHashError, WeightsNotFoundError
from .base import Kind, Metric, Pillar, Reference, check_image
from .registry import register

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

#: MATLAB ``rgb2gray`` coefficients (first row of the inverse NTSC transform).
RGB2GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
#: Block side of NIQE at full scale (the official recommended value).
NIQE_BLOCK = 96
#: Smallest side BRISQUE accepts (a 7x7 window must fit the half-scale image).
BRISQUE_MIN_SIZE = 16

#: |MSCN| below this is float noise of an exact zero (noise is < 1e-13 for 8-bit grey levels).
MSCN_ZERO = 1e-11

_GAM_GRID_SIZE = 9801  # 0.2:0.001:10
_CHUNK_ROWS = 256


# ------------------------------------------------------------------------------------ weights
def _resolve(name: str, path: PathLike | None) -> Path:
    """Locate a parameter file through :func:`paradigm.weights.resolve`.

    An explicit ``path`` is checked to exist first (never triggers a download); when the weights
    package is missing or its table does not know ``name`` yet, an existing explicit file is used
    as is.
    """
    explicit: Path | None = None
    if path is not None:
        explicit = Path(path).expanduser()
        if not explicit.exists():
            raise WeightsNotFoundError(
                f"weights {name!r}: the file {explicit} does not exist; pass the path of the file "
                f"(see `paradigm weights list`) or leave the option unset to use the default location"
            )
    try:
        from ..weights import resolve
    except ModuleNotFoundError as exc:  # weights package not installed / not written
        if explicit is not None and explicit.is_file():
            return explicit
        raise WeightsNotFoundError(
            f"weights {name!r}: no weights resolver available ({exc}); pass the file path explicitly"
        ) from exc
    try:
        return Path(resolve(name, path=explicit))
    except (WeightsHashError, WeightsNotFoundError):
        raise
    except WeightsError:
        if explicit is not None and explicit.is_file():  # name unknown to the table: trust the user
            log.warning("weights %r are not in the weights table; using %s unverified", name, explicit)
            return explicit
        raise


@functools.lru_cache(maxsize=8)
def _load_niqe_params(path: str) -> tuple[np.ndarray, np.ndarray]:
    """``(mu (36,), cov (36, 36))`` float64 of the NIQE pristine model stored in an npz file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            mu = np.asarray(data["mu_pris_param"], dtype=np.float64).reshape(-1)
            cov = np.asarray(data["cov_pris_param"], dtype=np.float64)
    except (OSError, ValueError, KeyError) as exc:
        raise WeightsError(
            f"NIQE parameters {path} are not a valid npz with 'mu_pris_param' (1x36) and "
            f"'cov_pris_param' (36x36): {exc}"
        ) from exc
    if mu.shape != (36,) or cov.shape != (36, 36):
        raise WeightsError(
            f"NIQE parameters {path} have shapes {mu.shape} and {cov.shape}; expected (36,) and (36, 36)"
        )
    mu.flags.writeable = False
    cov.flags.writeable = False
    return mu, cov


@functools.lru_cache(maxsize=8)
def _load_brisque_model(path: str) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Parse a libsvm RBF epsilon-SVR text model.

    Returns:
        ``(sv (n_sv, 36), coef (n_sv,), gamma, rho)``; the prediction is
        ``sum_i coef_i exp(-gamma |x - sv_i|^2) - rho``.
    """
    header: dict[str, str] = {}
    coefs: list[float] = []
    rows: list[dict[int, float]] = []
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                parts = line.split()
                if not parts:
                    continue
                if parts[0] == "SV":
                    break
                header[parts[0]] = " ".join(parts[1:])
            for line in fh:
                parts = line.split()
                if not parts:
                    continue
                coefs.append(float(parts[0]))
                row: dict[int, float] = {}
                for item in parts[1:]:
                    key, text = item.split(":")
                    row[int(key)] = float(text)
                rows.append(row)
        if header.get("svm_type") != "epsilon_svr" or header.get("kernel_type") != "rbf":
            raise ValueError(
                f"expected svm_type epsilon_svr and kernel_type rbf, got "
                f"{header.get('svm_type')!r} and {header.get('kernel_type')!r}"
            )
        gamma = float(header["gamma"])
        rho = float(header["rho"].split()[0])
        n_sv = int(header.get("total_sv", len(rows)))
        if n_sv != len(rows) or not rows:
            raise ValueError(f"header says {n_sv} support vectors, file holds {len(rows)}")
    except (OSError, UnicodeDecodeError, ValueError, KeyError) as exc:
        raise WeightsError(f"BRISQUE model {path} is not a libsvm RBF SVR model file: {exc}") from exc
    dim = max((max(r) for r in rows if r), default=0)
    if dim == 0:
        raise WeightsError(f"BRISQUE model {path} has no support-vector features")
    sv = np.zeros((len(rows), dim), dtype=np.float64)
    for i, r in enumerate(rows):  # sparse format: absent features are 0
        for idx, val in r.items():
            sv[i, idx - 1] = val
    coef = np.asarray(coefs, dtype=np.float64)
    sv.flags.writeable = False
    coef.flags.writeable = False
    return sv, coef, gamma, rho


@functools.lru_cache(maxsize=8)
def _load_brisque_range(path: str) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Parse a libsvm ``svm-scale`` range file (``x``, ``lower upper``, then ``index min max``).

    Returns:
        ``(lower, upper, fmin (36,), fmax (36,))``.
    """
    try:
        with open(path, encoding="ascii") as fh:
            lines = [ln.split() for ln in fh if ln.strip()]
        if not lines or lines[0] != ["x"]:
            raise ValueError("first line must be 'x' (feature ranges; 'y' ranges are not supported)")
        lower, upper = (float(v) for v in lines[1])
        entries = {int(p[0]): (float(p[1]), float(p[2])) for p in lines[2:]}
        dim = max(entries)
        fmin = np.full(dim, np.nan)
        fmax = np.full(dim, np.nan)
        for idx, (lo, hi) in entries.items():
            fmin[idx - 1], fmax[idx - 1] = lo, hi
        if np.isnan(fmin).any():
            raise ValueError("feature indices are not contiguous")
    except (OSError, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise WeightsError(f"BRISQUE range file {path} is not a libsvm svm-scale range file: {exc}") from exc
    fmin.flags.writeable = False
    fmax.flags.writeable = False
    return lower, upper, fmin, fmax


# ------------------------------------------------------------------------------------ helpers
def _work_device(x: torch.Tensor) -> torch.device:
    """float64 is required; MPS has none, so it falls back to the CPU."""
    return torch.device("cpu") if x.device.type == "mps" else x.device


def to_gray255(x: torch.Tensor) -> torch.Tensor:
    """MATLAB ``rgb2gray`` of the 8-bit version of ``x``.

    Args:
        x: ``(N, C, H, W)`` float in [0, 1], C in {1, 3} (RGB order).

    Returns:
        ``(N, 1, H, W)`` float64 with integer values in [0, 255].
    """
    v = torch.floor(x.to(_work_device(x), torch.float64).clamp(0.0, 1.0) * 255.0 + 0.5)
    if v.shape[1] == 3:
        r, g, b = RGB2GRAY
        v = torch.floor(r * v[:, 0:1] + g * v[:, 1:2] + b * v[:, 2:3] + 0.5)
    return v


@functools.lru_cache(maxsize=1)
def _gaussian_taps() -> tuple[float, ...]:
    """1-D taps whose outer product is ``fspecial('gaussian', 7, 7/6)`` normalised to sum 1."""
    g = np.exp(-(np.arange(-3, 4, dtype=np.float64) ** 2) / (2 * (7.0 / 6.0) ** 2))
    return tuple(float(v) for v in g / g.sum())


def gaussian_filter7(img: torch.Tensor, padding: str) -> torch.Tensor:
    """Same-size 7x7 Gaussian (sigma 7/6) filtering, separable, as 14 shifted multiply-adds.

    Args:
        img: ``(N, 1, H, W)`` float64.
        padding: ``"replicate"`` or ``"zeros"``.

    Returns:
        ``(N, 1, H, W)`` float64.
    """
    return separable_filter_same(img, _gaussian_taps(), padding)


def separable_filter_same(img: torch.Tensor, taps: tuple[float, ...], padding: str) -> torch.Tensor:
    """MATLAB ``imfilter(img, k' * k, padding)`` (correlation, same size) for odd or even ``len(k)``.

    Shifted multiply-adds, rows first; the window's centre is MATLAB's ``floor((K + 1) / 2)``.

    Args:
        img: ``(N, C, H, W)`` float64.
        taps: the 1-D kernel ``k``.
        padding: ``"replicate"`` or ``"zeros"``.

    Returns:
        ``(N, C, H, W)`` float64.
    """
    size = len(taps)
    before = (size - 1) // 2
    after = size - 1 - before
    h, w = img.shape[-2:]
    pads = (before, after, before, after)
    p = F.pad(img, pads, mode="replicate") if padding == "replicate" else F.pad(img, pads)
    rows = p[..., :, 0:w] * taps[0]
    for k in range(1, size):
        rows.add_(p[..., :, k : k + w], alpha=taps[k])
    out = rows[..., 0:h, :] * taps[0]
    for k in range(1, size):
        out.add_(rows[..., k : k + h, :], alpha=taps[k])
    return out


def mscn(img: torch.Tensor, padding: str, taps: tuple[float, ...] | None = None) -> torch.Tensor:
    """Mean-subtracted contrast-normalised coefficients ``(I - mu) / (sigma + 1)``.

    Args:
        img: ``(N, 1, H, W)`` float64, grey levels in [0, 255].
        padding: ``"replicate"`` (MATLAB ``imfilter(..., 'replicate')``, NIQE) or ``"zeros"``
            (``filter2(..., 'same')``, BRISQUE).
        taps: 1-D Gaussian window (normalised); None is ``fspecial('gaussian', 7, 7/6)``'s.

    Returns:
        ``(N, 1, H, W)`` float64.
    """
    taps = _gaussian_taps() if taps is None else taps
    mu = separable_filter_same(img, taps, padding)
    sigma = torch.sqrt(torch.abs(separable_filter_same(img * img, taps, padding) - mu * mu))
    out = (img - mu) / (sigma + 1.0)
    # Where the local mean equals the pixel in exact arithmetic (flat or symmetric neighbourhoods)
    # float rounding leaves +-1e-14 noise whose *sign* would enter the AGGD side counts; make it 0.
    return torch.where(out.abs() < MSCN_ZERO, torch.zeros_like(out), out)


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1) & (ax <= 2)
    )


@functools.lru_cache(maxsize=64)
def resize_matrix(in_len: int, out_len: int, scale: float) -> np.ndarray:
    """The ``(out_len, in_len)`` matrix of MATLAB bicubic ``imresize`` along one axis.

    Bicubic kernel (a = -0.5), widened by ``1 / scale`` for antialiasing when shrinking
    (``scale < 1``), weights normalised per output sample, out-of-range taps mirrored
    (``[1:n, n:-1:1]``), exactly as MATLAB's ``contributions``. ``scale`` is the one MATLAB uses:
    the factor given to ``imresize``, or ``out_len / in_len`` when a size is given.
    """
    shrink = scale < 1
    kernel_width = 4.0 / scale if shrink else 4.0
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2)
    taps = int(math.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    w = scale * _cubic(scale * (u[:, None] - idx)) if shrink else _cubic(u[:, None] - idx)
    w = w / w.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(1, in_len + 1), np.arange(in_len, 0, -1)])
    src = aux[np.mod(idx.astype(np.int64) - 1, aux.size)] - 1
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    rows = np.repeat(np.arange(out_len), taps)
    np.add.at(mat, (rows, src.reshape(-1)), w.reshape(-1))
    mat.flags.writeable = False
    return mat


def _half_resize_matrix(in_len: int) -> np.ndarray:
    """The ``(ceil(in_len / 2), in_len)`` matrix of MATLAB ``imresize(..., 0.5)`` along one axis."""
    return resize_matrix(in_len, math.ceil(in_len * 0.5), 0.5)


def imresize_half(img: torch.Tensor) -> torch.Tensor:
    """MATLAB ``imresize(img, 0.5)`` (bicubic, antialiased) of a float64 batch, no clipping/rounding.

    Args:
        img: ``(N, C, H, W)`` float64.

    Returns:
        ``(N, C, ceil(H/2), ceil(W/2))`` float64.
    """
    mh = torch.from_numpy(np.array(_half_resize_matrix(img.shape[-2]))).to(img.device)
    mw = torch.from_numpy(np.array(_half_resize_matrix(img.shape[-1]))).to(img.device)
    return torch.matmul(torch.matmul(mh, img), mw.T)  # rows first, like MATLAB


@functools.lru_cache(maxsize=8)
def _gam_tables(device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Grid ``0.2:0.001:10`` and its AGGD ratio ``G(2/g)^2/(G(1/g)G(3/g))`` and GGD ratio (inverse)."""
    gam = 0.2 + 0.001 * torch.arange(_GAM_GRID_SIZE, dtype=torch.float64, device=device)
    lg1, lg2, lg3 = torch.lgamma(1.0 / gam), torch.lgamma(2.0 / gam), torch.lgamma(3.0 / gam)
    r_aggd = torch.exp(2.0 * lg2 - lg1 - lg3)
    r_ggd = torch.exp(lg1 + lg3 - 2.0 * lg2)
    return gam, r_aggd, r_ggd


def _grid_argmin(values: torch.Tensor, table: torch.Tensor, gam: torch.Tensor) -> torch.Tensor:
    """``gam[argmin_k |table_k - v|]`` per value (first index on ties, like MATLAB ``min``); NaN stays NaN."""
    out = torch.empty_like(values)
    for start in range(0, values.numel(), _CHUNK_ROWS):
        v = values[start : start + _CHUNK_ROWS]
        idx = torch.argmin(torch.abs(table[None, :] - torch.nan_to_num(v)[:, None]), dim=1)
        out[start : start + _CHUNK_ROWS] = gam[idx]
    return torch.where(torch.isnan(values), torch.full_like(values, float("nan")), out)


def estimate_aggd(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Asymmetric generalised Gaussian fit (official ``estimateaggdparam``), one per row.

    Args:
        v: ``(M, n)`` float64 samples.

    Returns:
        ``(alpha, left_std, right_std)``, each ``(M,)``; NaN where a side has no samples.
    """
    gam, r_aggd, _ = _gam_tables(str(v.device))
    neg, pos = (v < 0).to(v.dtype), (v > 0).to(v.dtype)
    sq = v * v
    left_std = torch.sqrt((sq * neg).sum(1) / neg.sum(1))
    right_std = torch.sqrt((sq * pos).sum(1) / pos.sum(1))
    gammahat = left_std / right_std
    rhat = v.abs().mean(1) ** 2 / sq.mean(1)
    rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    return _grid_argmin(rhatnorm, r_aggd, gam), left_std, right_std


def estimate_ggd(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised Gaussian fit (official ``estimateggdparam``), one per row.

    Args:
        v: ``(M, n)`` float64 samples.

    Returns:
        ``(alpha, sigma)``, each ``(M,)``.
    """
    gam, _, r_ggd = _gam_tables(str(v.device))
    sigma_sq = (v * v).mean(1)
    rho = sigma_sq / v.abs().mean(1) ** 2
    return _grid_argmin(rho, r_ggd, gam), torch.sqrt(sigma_sq)


def _pair_products(m: torch.Tensor, shifts: tuple[tuple[int, int], ...]) -> torch.Tensor:
    """``m * circshift(m, s)`` for every shift, flattened: ``(len(shifts) * M, h * w)`` for ``m (M, h, w)``."""
    flat = [(m * torch.roll(m, shifts=s, dims=(-2, -1))).reshape(m.shape[0], -1) for s in shifts]
    return torch.cat(flat, 0)


# ------------------------------------------------------------------------------------ NIQE
_NIQE_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


def _niqe_block_features(structdis: torch.Tensor, block: int) -> torch.Tensor:
    """18 features per ``block x block`` tile (official ``computefeature``): ``(N, n_blocks, 18)``."""
    n, _, h, w = structdis.shape
    nh, nw = h // block, w // block
    tiles = structdis[:, 0, : nh * block, : nw * block].reshape(n, nh, block, nw, block)
    tiles = tiles.permute(0, 1, 3, 2, 4).reshape(n * nh * nw, block, block)
    m = tiles.shape[0]
    samples = torch.cat([tiles.reshape(m, -1), _pair_products(tiles, _NIQE_SHIFTS)], 0)
    alpha, lstd, rstd = estimate_aggd(samples)
    scale = torch.exp(0.5 * (torch.lgamma(1.0 / alpha) - torch.lgamma(3.0 / alpha)))
    betal, betar = lstd * scale, rstd * scale
    feats = [alpha[:m], (betal[:m] + betar[:m]) / 2]
    for k in range(1, len(_NIQE_SHIFTS) + 1):
        sl = slice(k * m, (k + 1) * m)
        a = alpha[sl]
        mean = (betar[sl] - betal[sl]) * torch.exp(torch.lgamma(2.0 / a) - torch.lgamma(1.0 / a))
        feats += [a, mean, betal[sl], betar[sl]]
    return torch.stack(feats, -1).reshape(n, nh * nw, 18)


def _nanmean_nancov(feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MATLAB ``nanmean`` (per column) and ``nancov`` (complete rows, N-1) over dim 1 of ``(N, B, D)``."""
    valid = ~torch.isnan(feat)
    zero = torch.zeros((), dtype=feat.dtype, device=feat.device)
    mu = torch.where(valid, feat, zero).sum(1) / valid.sum(1)
    complete = valid.all(-1, keepdim=True).to(feat.dtype)  # (N, B, 1)
    count = complete.sum(1, keepdim=True)  # (N, 1, 1)
    x = torch.where(complete.bool(), feat, zero)
    mean_c = x.sum(1, keepdim=True) / count
    d = (x - mean_c) * complete
    cov = d.transpose(1, 2) @ d / (count - 1).clamp(min=1)  # MATLAB: a single row normalises by 1
    return mu, cov


def niqe(x: torch.Tensor, params_path: PathLike | None = None) -> torch.Tensor:
    """NIQE (Mittal, Soundararajan & Bovik 2013), the official LIVE release, batched.

    Args:
        x: ``(N, C, H, W)`` float in [0, 1], C in {1, 3}; H and W at least 96 (one 96x96 block).
            RGB is converted with MATLAB ``rgb2gray`` after rounding to 8 bit.
        params_path: the pristine model npz (``mu_pris_param`` 1x36, ``cov_pris_param`` 36x36);
            None resolves ``niqe_pris_params`` through :func:`paradigm.weights.resolve` (the
            copy shipped inside the package, so it works offline).

    Returns:
        ``(N,)`` float64 on ``x``'s device, >= 0, lower is better (pristine natural images ~2-5;
        NaN for images without texture, e.g. constant ones).

    Raises:
        InputError: bad tensor, or an image smaller than 96x96.
        WeightsNotFoundError: the parameter file cannot be found.
    """
    check_image(x, "image")
    h, w = x.shape[-2:]
    if h < NIQE_BLOCK or w < NIQE_BLOCK:
        raise InputError(
            f"NIQE needs at least one {NIQE_BLOCK}x{NIQE_BLOCK} block, got an image of {h}x{w} px; "
            "upscale the image or use a metric without a minimum size"
        )
    mu_p_np, cov_p_np = _load_niqe_params(str(_resolve("niqe_pris_params", params_path)))
    img = to_gray255(x)
    dev = img.device
    nh, nw = h // NIQE_BLOCK, w // NIQE_BLOCK
    img = img[..., : nh * NIQE_BLOCK, : nw * NIQE_BLOCK]
    feats = []
    for scale in (1, 2):
        feats.append(_niqe_block_features(mscn(img, "replicate"), NIQE_BLOCK // scale))
        if scale == 1:
            img = imresize_half(img)
    feat = torch.cat(feats, -1)  # (N, blocks, 36)
    mu_d, cov_d = _nanmean_nancov(feat)
    mu_p = torch.from_numpy(np.array(mu_p_np)).to(dev)
    cov_p = torch.from_numpy(np.array(cov_p_np)).to(dev)
    cov = (cov_p[None] + cov_d) / 2
    ok = torch.isfinite(cov).flatten(1).all(1) & torch.isfinite(mu_d).all(1)  # False: no usable block
    inv = torch.linalg.pinv(torch.where(ok[:, None, None], cov, torch.zeros_like(cov)))
    diff = (mu_p[None] - mu_d)[:, None, :]  # (N, 1, 36)
    q = (diff @ inv @ diff.transpose(1, 2)).reshape(-1)
    q = torch.where(ok, q, torch.full_like(q, float("nan")))
    return torch.sqrt(q).to(x.device)


# ------------------------------------------------------------------------------------ BRISQUE
_BRISQUE_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))


def brisque_features(x: torch.Tensor) -> torch.Tensor:
    """The 36 BRISQUE features of the official ``brisque_feature.m`` (2 scales x 18).

    Args:
        x: ``(N, C, H, W)`` float in [0, 1], C in {1, 3}.

    Returns:
        ``(N, 36)`` float64: per scale GGD shape and variance, then for the 4 orientations
        AGGD shape, mean, left and right variance.
    """
    img = to_gray255(x)
    n = img.shape[0]
    feats: list[torch.Tensor] = []
    for scale in (1, 2):
        m = mscn(img, "zeros")[:, 0]
        alpha, sigma = estimate_ggd(m.reshape(n, -1))
        feats += [alpha, sigma**2]
        a, lstd, rstd = estimate_aggd(_pair_products(m, _BRISQUE_SHIFTS))
        for k in range(len(_BRISQUE_SHIFTS)):
            sl = slice(k * n, (k + 1) * n)
            ak = a[sl]
            const = torch.exp(0.5 * (torch.lgamma(1.0 / ak) - torch.lgamma(3.0 / ak)))
            mean = (rstd[sl] - lstd[sl]) * torch.exp(torch.lgamma(2.0 / ak) - torch.lgamma(1.0 / ak)) * const
            feats += [ak, mean, lstd[sl] ** 2, rstd[sl] ** 2]
        if scale == 1:
            img = imresize_half(img)
    return torch.stack(feats, -1)


def _round_sig(v: torch.Tensor, digits: int) -> torch.Tensor:
    """Round to ``digits`` significant digits, like C's ``%g`` (``digits=6``)."""
    a = v.abs()
    safe = torch.where(a > 0, a, torch.ones_like(a))
    exp = torch.floor(torch.log10(safe))
    step = torch.pow(10.0, exp - (digits - 1))
    out = torch.round(v / step) * step
    return torch.where(a > 0, out, v)


def brisque(
    x: torch.Tensor, model_path: PathLike | None = None, range_path: PathLike | None = None
) -> torch.Tensor:
    """BRISQUE (Mittal, Moorthy & Bovik 2012), the official LIVE release, batched.

    Features as :func:`brisque_features`, printed with ``%f`` (6 decimals) as the official script
    does, scaled to ``[-1, 1]`` with the ``allrange`` file and printed with ``%g`` as libsvm's
    ``svm-scale`` does, then scored by the official RBF epsilon-SVR.

    Args:
        x: ``(N, C, H, W)`` float in [0, 1], C in {1, 3}, sides at least 16 px.
        model_path: libsvm model file (``allmodel``); None resolves ``brisque_allmodel`` (shipped
            inside the package, so it works offline).
        range_path: libsvm range file (``allrange``); None resolves ``brisque_allrange`` (shipped).

    Returns:
        ``(N,)`` float64 on ``x``'s device, lower is better (roughly 0 = best to 100 = worst; values
        slightly outside occur).

    Raises:
        InputError: bad tensor, or a side below 16 px.
        WeightsNotFoundError: a model file cannot be found.
    """
    check_image(x, "image")
    h, w = x.shape[-2:]
    if h < BRISQUE_MIN_SIZE or w < BRISQUE_MIN_SIZE:
        raise InputError(f"BRISQUE needs images of at least {BRISQUE_MIN_SIZE}x{BRISQUE_MIN_SIZE} px, got {h}x{w}")
    sv_np, coef_np, gamma, rho = _load_brisque_model(str(_resolve("brisque_allmodel", model_path)))
    lower, upper, fmin_np, fmax_np = _load_brisque_range(str(_resolve("brisque_allrange", range_path)))
    if sv_np.shape[1] > fmin_np.size:
        raise WeightsError(
            f"BRISQUE model has {sv_np.shape[1]} features but the range file only {fmin_np.size}; "
            "use the allmodel/allrange pair of the same release"
        )
    feat = brisque_features(x)
    dev = feat.device
    d = feat.shape[1]
    if fmin_np.size != d:
        raise WeightsError(f"BRISQUE range file has {fmin_np.size} features, expected {d}")
    fmin = torch.from_numpy(np.array(fmin_np)).to(dev)
    fmax = torch.from_numpy(np.array(fmax_np)).to(dev)
    feat = torch.round(feat * 1e6) / 1e6  # fprintf('%f')
    scaled = lower + (upper - lower) * (feat - fmin) / (fmax - fmin)
    scaled = torch.where(feat == fmin, torch.full_like(scaled, lower), scaled)
    scaled = torch.where(feat == fmax, torch.full_like(scaled, upper), scaled)
    scaled = torch.where(fmax == fmin, torch.zeros_like(scaled), scaled)  # svm-scale drops such features
    scaled = _round_sig(scaled, 6)  # svm-scale's printf('%g')
    sv = torch.from_numpy(np.array(sv_np)).to(dev)
    if sv.shape[1] < d:
        sv = F.pad(sv, (0, d - sv.shape[1]))
    coef = torch.from_numpy(np.array(coef_np)).to(dev)
    dist = ((scaled[:, None, :] - sv[None]) ** 2).sum(-1)  # (N, n_sv)
    score = torch.exp(-gamma * dist) @ coef - rho
    return score.to(x.device)


# ------------------------------------------------------------------------------------ metrics
@register
class NIQE(Metric):
    """NIQE, official LIVE release (``niqe_pris_params``); lower is better."""

    name: ClassVar[str] = "niqe"
    version: ClassVar[str] = "1"
    kind: ClassVar[Kind] = "no-reference"
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float, float]] = (0.0, float("inf"))
    pillar: ClassVar[Pillar] = "perceptual"
    reference: ClassVar[Reference] = "none"
    weights: ClassVar[tuple[str, ...]] = ("niqe_pris_params",)
    supports_y_channel: ClassVar[bool] = False
    min_size: ClassVar[int] = NIQE_BLOCK
    defaults: ClassVar[dict[str, Any]] = {"params_path": None}
    description: ClassVar[str] = (
        "NIQE natural image quality evaluator (Mittal 2013), official MATLAB release on rgb2gray; lower is better"
    )

    def forward(
        self, x: torch.Tensor, ref: torch.Tensor | None = None
    ) -> torch.Tensor:
        return niqe(x, params_path=self.options["params_path"])


@register
class BRISQUE(Metric):
    """BRISQUE, official LIVE release (``allmodel``/``allrange``); lower is better."""

    name: ClassVar[str] = "brisque"
    version: ClassVar[str] = "1"
    kind: ClassVar[Kind] = "no-reference"
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float, float]] = (float("-inf"), float("inf"))
    pillar: ClassVar[Pillar] = "perceptual"
    reference: ClassVar[Reference] = "none"
    weights: ClassVar[tuple[str, ...]] = ("brisque_allmodel", "brisque_allrange")
    supports_y_channel: ClassVar[bool] = False
    min_size: ClassVar[int] = BRISQUE_MIN_SIZE
    defaults: ClassVar[dict[str, Any]] = {"model_path": None, "range_path": None}
    description: ClassVar[str] = (
        "BRISQUE spatial NSS + SVR (Mittal 2012), official LIVE model on rgb2gray; lower is better (~0-100)"
    )

    def forward(
        self, x: torch.Tensor, ref: torch.Tensor | None = None
    ) -> torch.Tensor:
        return brisque(x, model_path=self.options["model_path"], range_path=self.options["range_path"])
