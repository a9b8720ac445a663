"""Task metrics of the study for tasks without (or with unusual) ground truth.

* Underwater enhancement (no reference): :func:`uiqm` (Panetta et al. 2016) and :func:`uciqe`
  (Yang & Sowmya 2015). Declared ``pillar="perceptual"``: they are the no-reference quality scores
  of their task (the composite only uses metrics its file names, so they enter it only on request).
* Image fusion (two sources A, B and the fused image F): :func:`fusion_en`, :func:`fusion_sd`,
  :func:`fusion_sf`, :func:`fusion_ag` (of F alone) and :func:`fusion_mi`, :func:`fusion_qabf`,
  :func:`fusion_vif` (F against A and B), following the VIFB benchmark's MATLAB code
  (Zhang et al. 2020). Declared ``pillar="diagnostic"``: EN/SD/SF/AG reward any added detail or
  noise, so they must not enter a composite.
* HDR: :func:`psnr_mu`, PSNR after mu-law tonemapping (Kalantari & Ramamoorthi 2017),
  ``pillar="fidelity"``.

All functions take ``(N, C, H, W)`` float tensors in [0, 1] and return ``(N,)`` float64. The fusion
and UIQM/UCIQE formulas work on the 8-bit scale (values multiplied by 255) as their reference code
does. See ``docs/diagnostics.md`` for the exact conventions and deviations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar, cast

import numpy as np
import torch

from ..errors import InputError, MetricUnavailableError
from .base import Metric, check_image, check_pair
from .colour import rgb_to_lab
from .registry import register

__all__ = [
    "uiqm",
    "uciqe",
    "fusion_en",
    "fusion_sd",
    "fusion_sf",
    "fusion_ag",
    "fusion_mi",
    "fusion_qabf",
    "fusion_vif",
    "psnr_mu",
    "mu_law",
    "split_pair",
]

# --------------------------------------------------------------------------------------------
# UIQM
# --------------------------------------------------------------------------------------------

UIQM_C = (0.0282, 0.2953, 3.5753)
UCIQE_C = (0.4680, 0.2745, 0.2576)


def _mu_alpha(v: np.ndarray, alpha_l: float = 0.1, alpha_r: float = 0.1) -> float:
    """Asymmetric alpha-trimmed mean, as the reference code (which also skips one extra low sample)."""
    s = np.sort(v.ravel())
    k = s.size
    t_l = math.ceil(alpha_l * k)
    t_r = math.floor(alpha_r * k)
    return float(s[t_l + 1 : k - t_r].sum() / (k - t_l - t_r))


def _uicm(rgb: np.ndarray) -> float:
    r, g, b = rgb[..., 0].ravel(), rgb[..., 1].ravel(), rgb[..., 2].ravel()
    rg = r - g
    yb = (r + g) / 2 - b
    mu_rg, mu_yb = _mu_alpha(rg), _mu_alpha(yb)
    s_rg = float(np.mean((rg - mu_rg) ** 2))
    s_yb = float(np.mean((yb - mu_yb) ** 2))
    return -0.0268 * math.sqrt(mu_rg**2 + mu_yb**2) + 0.1586 * math.sqrt(s_rg + s_yb)


def _sobel_mag(ch: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    mag = np.hypot(ndimage.sobel(ch, 0), ndimage.sobel(ch, 1))
    top = mag.max()
    return mag * (255.0 / top) if top > 0 else mag


def _blocks(x: np.ndarray, ws: int) -> np.ndarray:
    """``(k2, k1, ws*ws*C)`` non-overlapping blocks of the top-left ``k2*ws x k1*ws`` region."""
    k1, k2 = x.shape[1] // ws, x.shape[0] // ws
    x = x[: k2 * ws, : k1 * ws]
    c = 1 if x.ndim == 2 else x.shape[2]
    b = x.reshape(k2, ws, k1, ws, c).transpose(0, 2, 1, 3, 4)
    return b.reshape(k2, k1, ws * ws * c)


def _eme(x: np.ndarray, ws: int) -> float:
    b = _blocks(x, ws)
    mx, mn = b.max(-1), b.min(-1)
    ok = (mn != 0) & (mx != 0)
    val = np.where(ok, np.log(np.where(ok, mx, 1.0) / np.where(ok, mn, 1.0)), 0.0).sum()
    return float(2.0 / (b.shape[0] * b.shape[1]) * val)


def _uism(rgb: np.ndarray, ws: int) -> float:
    lam = (0.299, 0.587, 0.144)  # 0.144 (sic): the reference implementation's blue weight
    return float(sum(lam[i] * _eme(_sobel_mag(rgb[..., i]) * rgb[..., i], ws) for i in range(3)))


def _uiconm(rgb: np.ndarray, ws: int) -> float:
    b = _blocks(rgb, ws)
    mx, mn = b.max(-1), b.min(-1)
    top, bot = mx - mn, mx + mn
    ok = (top != 0) & (bot != 0)
    ratio = np.where(ok, top / np.where(ok, bot, 1.0), 1.0)
    val = np.where(ok, ratio * np.log(ratio), 0.0).sum()
    return float(-1.0 / (b.shape[0] * b.shape[1]) * val)


def _uiqm_one(rgb: np.ndarray, block_size: int) -> tuple[float, float, float, float]:
    uicm, uism, uiconm = _uicm(rgb), _uism(rgb, block_size), _uiconm(rgb, block_size)
    c1, c2, c3 = UIQM_C
    return c1 * uicm + c2 * uism + c3 * uiconm, uicm, uism, uiconm


def _to_hwc255(x: torch.Tensor) -> list[np.ndarray]:
    a = x.detach().cpu().to(torch.float64)
    if a.shape[1] == 1:
        a = a.expand(-1, 3, -1, -1)
    return [img.permute(1, 2, 0).numpy() * 255.0 for img in a]


def uiqm(x: torch.Tensor, *, block_size: int = 10, components: bool = False) -> torch.Tensor | dict[str, torch.Tensor]:
    """Underwater Image Quality Measure (Panetta, Gao & Agaian 2016), no reference.

    ``UIQM = 0.0282 UICM + 0.2953 UISM + 3.5753 UIConM`` computed on the 8-bit scale exactly as the
    widely used Python reference (FUnIE-GAN ``uqim_utils.py``): UICM from asymmetric alpha-trimmed
    (alpha_L = alpha_R = 0.1) mean and variance of RG and YB opponent channels; UISM = weighted
    EME of Sobel-magnitude (scaled to max 255) times channel, weights (0.299, 0.587, 0.144);
    UIConM = -mean over blocks of ``r log r`` with ``r = (max-min)/(max+min)`` over the block's
    three channels. Blocks are ``block_size`` x ``block_size`` (default 10, as the reference code;
    the paper leaves it open; remaining edge pixels are dropped).

    Args:
        x: ``(N, C, H, W)`` float RGB in [0, 1] (grey C=1 is replicated to RGB).
        block_size: EME / UIConM block side in pixels.
        components: also return ``uicm``, ``uism``, ``uiconm``.

    Returns:
        ``(N,)`` float64 UIQM (higher is better), or a dict with keys ``uiqm, uicm, uism, uiconm``.

    Raises:
        InputError: bad input or an image smaller than one block.
    """
    check_image(x, "image")
    if block_size < 2 or min(x.shape[-2:]) < block_size:
        raise InputError(f"UIQM needs images of at least block_size={block_size} px, got {tuple(x.shape[-2:])}")
    vals = torch.tensor([_uiqm_one(a, block_size) for a in _to_hwc255(x)], dtype=torch.float64).reshape(-1, 4)
    if components:
        return {"uiqm": vals[:, 0], "uicm": vals[:, 1], "uism": vals[:, 2], "uiconm": vals[:, 3]}
    return vals[:, 0]


def uciqe(x: torch.Tensor) -> torch.Tensor:
    """Underwater Colour Image Quality Evaluation (Yang & Sowmya 2015), no reference.

    ``UCIQE = 0.4680 sigma_c + 0.2745 con_l + 0.2576 mu_s`` in CIELAB (``skimage.color.rgb2lab``)
    with OpenCV's 8-bit Lab scaling (``L/100``, ``a/255``, ``b/255``) as the widely used Python
    code (TongJiayan/UCIQE-python), but without OpenCV's +128 offset of ``a, b`` (so chroma is
    the distance from grey, as in the paper): ``sigma_c`` = standard deviation of chroma
    ``sqrt(a^2 + b^2)``; ``con_l`` = ``L`` at the 99th minus the 1st percentile (order statistics
    ``sorted[int(0.99 K)] - sorted[int(0.01 K)]``); ``mu_s`` = mean of ``chroma / L`` (0 where L = 0).

    Args:
        x: ``(N, C, H, W)`` float RGB in [0, 1].

    Returns:
        ``(N,)`` float64 UCIQE (higher is better, typically 0.3-0.7 on natural photos).
    """
    check_image(x, "image")
    lab = rgb_to_lab(x.detach().cpu())
    out = []
    for img in lab.numpy():
        lum = img[0].ravel() / 100.0
        a, b = img[1].ravel() / 255.0, img[2].ravel() / 255.0
        chroma = np.sqrt(a**2 + b**2)
        sigma_c = float(np.std(chroma))
        srt = np.sort(lum)
        k = srt.size
        con_l = float(srt[int(k * 0.99)] - srt[int(k * 0.01)])
        sat = np.divide(chroma, lum, out=np.zeros_like(chroma), where=lum != 0)
        c1, c2, c3 = UCIQE_C
        out.append(c1 * sigma_c + c2 * con_l + c3 * float(sat.mean()))
    return torch.tensor(out, dtype=torch.float64)


# --------------------------------------------------------------------------------------------
# fusion (VIFB conventions: 8-bit scale, per channel, averaged over channels)
# --------------------------------------------------------------------------------------------


def _channels255(x: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` float64 numpy on the 8-bit scale."""
    return x.detach().cpu().to(torch.float64).numpy() * 255.0


def _per_channel(x: torch.Tensor, fn: Callable[[np.ndarray], float]) -> torch.Tensor:
    arr = _channels255(x)
    return torch.tensor([np.mean([fn(ch) for ch in img]) for img in arr], dtype=torch.float64)


def _quantise(ch: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(ch + 0.5), 0, 255).astype(np.int64)


def _entropy_bits(ch: np.ndarray) -> float:
    p = np.bincount(_quantise(ch).ravel(), minlength=256) / ch.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def fusion_en(fused: torch.Tensor) -> torch.Tensor:
    """Entropy (bits) of the fused image's 256-bin 8-bit histogram, per channel, averaged (VIFB EN).

    Args:
        fused: ``(N, C, H, W)`` float in [0, 1]; values are rounded to 8 bit.

    Returns:
        ``(N,)`` float64 in [0, 8], higher means more information (or more noise).
    """
    check_image(fused, "fused")
    return _per_channel(fused, _entropy_bits)


def fusion_sd(fused: torch.Tensor) -> torch.Tensor:
    """Standard deviation (population) on the 8-bit scale, per channel, averaged (VIFB SD).

    Returns:
        ``(N,)`` float64 in [0, 127.5].
    """
    check_image(fused, "fused")
    return _per_channel(fused, lambda c: float(np.sqrt(np.mean((c - c.mean()) ** 2))))


def _sf(c: np.ndarray) -> float:
    m, n = c.shape
    rf = float(np.sum(np.diff(c, axis=1) ** 2)) / (m * n)
    cf = float(np.sum(np.diff(c, axis=0) ** 2)) / (m * n)
    return math.sqrt(rf + cf)


def fusion_sf(fused: torch.Tensor) -> torch.Tensor:
    """Spatial frequency ``sqrt(RF^2 + CF^2)`` on the 8-bit scale (Eskicioglu & Fisher 1995; VIFB).

    ``RF^2 = sum (F[i,j] - F[i,j-1])^2 / (M N)``, ``CF^2`` likewise along columns; per channel, averaged.

    Returns:
        ``(N,)`` float64 >= 0.
    """
    check_image(fused, "fused")
    return _per_channel(fused, _sf)


def _ag(c: np.ndarray) -> float:
    r, k = c.shape
    gy, gx = np.gradient(c)  # MATLAB gradient(): central differences, one-sided at the borders
    return float(np.sum(np.sqrt((gx**2 + gy**2) / 2)) / ((r - 1) * (k - 1)))


def fusion_ag(fused: torch.Tensor) -> torch.Tensor:
    """Average gradient ``sum sqrt((Fx^2 + Fy^2)/2) / ((M-1)(N-1))`` on the 8-bit scale (VIFB AG).

    Returns:
        ``(N,)`` float64 >= 0.
    """
    check_image(fused, "fused")
    if min(fused.shape[-2:]) < 2:
        raise InputError(f"fusion_ag needs images of at least 2x2 px, got {tuple(fused.shape[-2:])}")
    return _per_channel(fused, _ag)


def _check_sources(fused: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> None:
    check_image(fused, "fused")
    for name, s in (("source A", a), ("source B", b)):
        check_image(s, name)
        if s.shape[0] != fused.shape[0] or s.shape[-2:] != fused.shape[-2:]:
            raise InputError(
                f"{name} {tuple(s.shape)} and fused {tuple(fused.shape)} differ in batch or size; "
                "register and resize the sources to the fused image first"
            )
        if s.shape[1] not in (1, fused.shape[1]):
            raise InputError(f"{name} has {s.shape[1]} channels, fused has {fused.shape[1]}; use 1 or the same")


def _pairwise(
    fused: torch.Tensor, a: torch.Tensor, b: torch.Tensor, fn: Callable[[np.ndarray, np.ndarray, np.ndarray], float]
) -> torch.Tensor:
    """VIFB multi-band rule: per channel of F (a 1-channel source is reused), averaged."""
    _check_sources(fused, a, b)
    f_, a_, b_ = _channels255(fused), _channels255(a), _channels255(b)
    out = []
    for i in range(f_.shape[0]):
        vals = []
        for k in range(f_.shape[1]):
            ak = a_[i, k if a_.shape[1] > 1 else 0]
            bk = b_[i, k if b_.shape[1] > 1 else 0]
            vals.append(fn(f_[i, k], ak, bk))
        out.append(float(np.mean(vals)))
    return torch.tensor(out, dtype=torch.float64)


def _mutinf(a: np.ndarray, b: np.ndarray) -> float:
    def norm(v: np.ndarray) -> np.ndarray:
        lo, hi = v.min(), v.max()
        z = (v - lo) / (hi - lo) if hi != lo else np.zeros_like(v)
        return np.floor(z * 255 + 0.5).astype(np.int64)  # MATLAB int16(): round half away from zero

    ia, ib = norm(a).ravel(), norm(b).ravel()
    hab = np.bincount(ia * 256 + ib, minlength=256 * 256).astype(np.float64)
    p_ab = hab[hab > 0] / ia.size
    pa = np.bincount(ia, minlength=256) / ia.size
    pb = np.bincount(ib, minlength=256) / ib.size
    pa, pb = pa[pa > 0], pb[pb > 0]
    h_ab = -(p_ab * np.log(p_ab)).sum()
    h_a = -(pa * np.log(pa)).sum()
    h_b = -(pb * np.log(pb)).sum()
    return float(h_a + h_b - h_ab)


def fusion_mi(fused: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mutual information ``MI(A, F) + MI(B, F)`` (Qu et al. 2002) as in VIFB ``metricsMutinf``.

    Each image is min-max normalised and rounded to 256 levels; entropies use the natural log (nats),
    as the VIFB code does.

    Args:
        fused: ``(N, C, H, W)`` fused images in [0, 1].
        a: first sources, ``(N, C or 1, H, W)``.
        b: second sources, ``(N, C or 1, H, W)``.

    Returns:
        ``(N,)`` float64 >= 0 (nats), higher is better.
    """
    return _pairwise(fused, a, b, lambda f, x, y: _mutinf(x, f) + _mutinf(y, f))


# Sobel kernels of VIFB metricsQabf, applied with conv2(..., 'same') (zero padding, flipped kernel)
_H1 = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float64)
_H3 = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)


def _grad_angle(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.ndimage import convolve

    sx = convolve(p, _H3, mode="constant", cval=0.0)
    sy = convolve(p, _H1, mode="constant", cval=0.0)
    g = np.sqrt(sx**2 + sy**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ang = np.where(sx == 0, np.pi / 2, np.arctan(sy / np.where(sx == 0, 1.0, sx)))
    return g, ang


def _q_edge(g_src: np.ndarray, a_src: np.ndarray, g_f: np.ndarray, a_f: np.ndarray) -> np.ndarray:
    tg, kg, dg, ta, ka, da = 0.9994, -15.0, 0.5, 0.9879, -22.0, 0.8
    with np.errstate(divide="ignore", invalid="ignore"):
        gaf = np.where(
            g_src > g_f,
            g_f / np.where(g_src == 0, 1.0, g_src),
            np.where(g_src == g_f, g_f, g_src / np.where(g_f == 0, 1.0, g_f)),
        )
    aaf = 1 - np.abs(a_src - a_f) / (np.pi / 2)
    qg = tg / (1 + np.exp(kg * (gaf - dg)))
    qa = ta / (1 + np.exp(ka * (aaf - da)))
    return np.asarray(qg * qa)


def _qabf(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    # VIFB scales the 0..255 doubles by 255 once more (255 * im2double of a double image)
    ga, aa = _grad_angle(255.0 * a)
    gb, ab = _grad_angle(255.0 * b)
    gf, af = _grad_angle(255.0 * f)
    qaf = _q_edge(ga, aa, gf, af)
    qbf = _q_edge(gb, ab, gf, af)
    deno = float(np.sum(ga + gb))
    if deno == 0:
        return 0.0
    return float(np.sum(qaf * ga + qbf * gb) / deno)


def fusion_qabf(fused: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Edge-information transfer Q^AB/F (Xydeas & Petrovic 2000), as VIFB ``metricsQabf``.

    Sobel strength and orientation of A, B and F; sigmoid preservation with
    ``Gamma_g=0.9994, kappa_g=-15, sigma_g=0.5, Gamma_a=0.9879, kappa_a=-22, sigma_a=0.8`` and
    edge-strength weights (L = 1). VIFB's quirks are kept (zero-padded borders; equal strengths give
    ``G = g_F`` on its 255^2 scale).

    Args:
        fused: ``(N, C, H, W)`` fused images in [0, 1].
        a: first sources ``(N, C or 1, H, W)``.
        b: second sources ``(N, C or 1, H, W)``.

    Returns:
        ``(N,)`` float64 in [0, 1], higher is better.
    """
    return _pairwise(fused, a, b, _qabf)


def _gauss_win(n: int, sigma: float) -> np.ndarray:
    r = (n - 1) / 2
    t = np.arange(n) - r
    w = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * sigma**2))
    return w / w.sum()


def _vifp(ref: np.ndarray, dist: np.ndarray) -> float:
    """Pixel-domain multi-scale VIF (``vifp_mscale.m`` of LIVE) on the 8-bit scale."""
    from scipy.ndimage import correlate

    def correlate2d(img: np.ndarray, win: np.ndarray, mode: str = "valid") -> np.ndarray:
        r = win.shape[0] // 2  # odd square window: 'valid' part of a same-size correlation
        full = correlate(img, win, mode="constant", cval=0.0)
        return np.asarray(full[r : img.shape[0] - r, r : img.shape[1] - r])

    sigma_nsq = 2.0
    num = den = 0.0
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        win = _gauss_win(n, n / 5.0)
        if scale > 1:
            ref = correlate2d(ref, win, mode="valid")[::2, ::2]
            dist = correlate2d(dist, win, mode="valid")[::2, ::2]
        if min(ref.shape) < n:
            break
        mu1 = correlate2d(ref, win, mode="valid")
        mu2 = correlate2d(dist, win, mode="valid")
        s1 = correlate2d(ref * ref, win, mode="valid") - mu1 * mu1
        s2 = correlate2d(dist * dist, win, mode="valid") - mu2 * mu2
        s12 = correlate2d(ref * dist, win, mode="valid") - mu1 * mu2
        n_s, d_s = vif_log_terms(np.maximum(s1, 0), np.maximum(s2, 0), s12, sigma_nsq)
        num += n_s
        den += d_s
    return num / den if den > 0 else 1.0


def vif_log_terms(s1: np.ndarray, s2: np.ndarray, s12: np.ndarray, sigma_nsq: float = 2.0) -> tuple[float, float]:
    """One scale of pixel-domain VIF (``vifvec.m``'s rules): ``(sum log10(1 + g^2 s1 / (sv + n)),
    sum log10(1 + s1 / n))`` from the local variances ``s1``, ``s2`` (already >= 0) and covariance ``s12``,
    with the gain ``g`` and residual variance ``sv`` clamped as the official code does."""
    s1 = s1.copy()
    g = s12 / (s1 + 1e-10)
    sv = s2 - g * s12
    low1 = s1 < 1e-10
    g[low1] = 0
    sv[low1] = s2[low1]
    s1[low1] = 0
    low2 = s2 < 1e-10
    g[low2] = 0
    sv[low2] = 0
    neg = g < 0
    sv[neg] = s2[neg]
    g[neg] = 0
    sv = np.maximum(sv, 1e-10)
    return float(np.sum(np.log10(1 + g**2 * s1 / (sv + sigma_nsq)))), float(np.sum(np.log10(1 + s1 / sigma_nsq)))


def fusion_vif(fused: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``VIF(A, F) + VIF(B, F)`` with the pixel-domain multi-scale VIF (Sheikh & Bovik 2006).

    This is the VIF of recent infrared/visible fusion papers (sources as references, the fused
    image as the distorted one, summed), not the VIFF of Han et al. 2013.

    Args:
        fused: ``(N, C, H, W)`` fused images in [0, 1] (at least 33 px for all four scales).
        a: first sources ``(N, C or 1, H, W)``.
        b: second sources ``(N, C or 1, H, W)``.

    Returns:
        ``(N,)`` float64 >= 0 (2.0 when F equals both sources), higher is better.
    """
    if min(fused.shape[-2:]) < 17:
        raise InputError(f"fusion_vif needs images of at least 17 px, got {tuple(fused.shape[-2:])}")
    return _pairwise(fused, a, b, lambda f, x, y: _vifp(x, f) + _vifp(y, f))


def split_pair(ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a stacked source pair ``cat([A, B], dim=1)`` (C = 2 grey or 6 RGB) into A and B.

    Raises:
        InputError: the channel count is not 2 or 6.
    """
    if not isinstance(ref, torch.Tensor) or ref.ndim != 4 or ref.shape[1] not in (2, 6):
        shape = tuple(ref.shape) if isinstance(ref, torch.Tensor) else type(ref).__name__
        raise InputError(
            f"fusion metrics need the two sources stacked along channels, shape (N, 2 or 6, H, W), got {shape}; "
            "pass torch.cat([a, b], dim=1)"
        )
    c = ref.shape[1] // 2
    return ref[:, :c], ref[:, c:]


# --------------------------------------------------------------------------------------------
# HDR
# --------------------------------------------------------------------------------------------


def mu_law(x: torch.Tensor, mu: float = 5000.0) -> torch.Tensor:
    """mu-law tonemapping ``log(1 + mu x) / log(1 + mu)`` of linear values in [0, 1]."""
    return torch.log1p(mu * x.clamp_min(0)) / math.log1p(mu)


def psnr_mu(x: torch.Tensor, ref: torch.Tensor, *, mu: float = 5000.0) -> torch.Tensor:
    """PSNR after mu-law tonemapping (Kalantari & Ramamoorthi 2017), mu = 5000.

    Args:
        x: ``(N, C, H, W)`` linear HDR outputs normalised to [0, 1].
        ref: ``(N, C, H, W)`` linear HDR ground truth normalised the same way.
        mu: compression parameter.

    Returns:
        ``(N,)`` float64 dB, higher is better; capped at 100 dB (identical images) like
        :func:`paradigm.metrics.fidelity.psnr`.
    """
    check_pair(x, ref)
    if mu <= 0:
        raise InputError(f"mu must be > 0, got {mu}")
    from .fidelity import psnr

    tx = mu_law(x.detach().to(torch.float64), mu)
    tr = mu_law(ref.detach().to(torch.float64), mu)
    return torch.as_tensor(psnr(tx, tr), dtype=torch.float64).reshape(-1).cpu()


# --------------------------------------------------------------------------------------------
# registered metrics
# --------------------------------------------------------------------------------------------


@register
class UIQM(Metric):
    """Underwater Image Quality Measure (no reference)."""

    name = "uiqm"
    version = "1"
    kind = "no-reference"
    higher_is_better = True
    value_range = (-float("inf"), float("inf"))
    pillar = "perceptual"
    reference = "none"
    min_size = 10
    defaults = {"block_size": 10}
    description = "Underwater Image Quality Measure (Panetta 2016; FUnIE-GAN reference code, 10x10 blocks)"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return cast(torch.Tensor, uiqm(x, block_size=int(self.options["block_size"])))


@register
class UCIQE(Metric):
    """Underwater Colour Image Quality Evaluation (no reference)."""

    name = "uciqe"
    version = "1"
    kind = "no-reference"
    higher_is_better = True
    value_range = (0.0, float("inf"))
    pillar = "perceptual"
    reference = "none"
    description = "Underwater Colour Image Quality Evaluation (Yang & Sowmya 2015), CIELAB"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return uciqe(x)


_NR_FUNCS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "fusion_en": fusion_en,
    "fusion_sd": fusion_sd,
    "fusion_sf": fusion_sf,
    "fusion_ag": fusion_ag,
}
_PAIR_FUNCS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "fusion_mi": fusion_mi,
    "fusion_qabf": fusion_qabf,
    "fusion_vif": fusion_vif,
}


class _FusionNR(Metric):
    kind = "no-reference"
    higher_is_better = True
    pillar = "diagnostic"
    reference = "none"
    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return _NR_FUNCS[self.name](x)


@register
class FusionEN(_FusionNR):
    name = "fusion_en"
    value_range = (0.0, 8.0)
    description = "Fusion: entropy of the fused image (bits, 256 bins; VIFB)"


@register
class FusionSD(_FusionNR):
    name = "fusion_sd"
    value_range = (0.0, 127.5)
    description = "Fusion: standard deviation of the fused image (8-bit scale; VIFB)"


@register
class FusionSF(_FusionNR):
    name = "fusion_sf"
    value_range = (0.0, float("inf"))
    description = "Fusion: spatial frequency of the fused image (8-bit scale; VIFB)"


@register
class FusionAG(_FusionNR):
    name = "fusion_ag"
    min_size = 2
    value_range = (0.0, float("inf"))
    description = "Fusion: average gradient of the fused image (8-bit scale; VIFB)"


class _FusionPair(Metric):
    """Two-source fusion metric; ``ref`` is ``torch.cat([A, B], dim=1)`` (2 or 6 channels)."""

    kind = "full-reference"
    higher_is_better = True
    pillar = "diagnostic"
    reference = "input"
    #: the engine passes ``torch.cat([A, B], dim=1)`` from ``--input A --input2 B``
    two_inputs: ClassVar[bool] = True

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        if ref is None:
            raise InputError(f"metric {self.name!r} needs the two fusion sources stacked as ref (N, 2 or 6, H, W)")
        if isinstance(ref, torch.Tensor) and ref.ndim == 4 and ref.shape[1] in (1, 3):
            # one ordinary input image (what `paradigm score --input` passes today): skip the metric
            raise MetricUnavailableError(
                f"metric {self.name!r} needs two fusion sources, stacked as torch.cat([A, B], dim=1); "
                "got a single input image (pass both sources: paradigm score --input A --input2 B)"
            )
        a, b = split_pair(ref)
        return _PAIR_FUNCS[self.name](x, a, b)


@register
class FusionMI(_FusionPair):
    name = "fusion_mi"
    value_range = (0.0, float("inf"))
    description = "Fusion: MI(A,F) + MI(B,F) in nats (VIFB); ref = cat([A, B], dim=1)"


@register
class FusionQabf(_FusionPair):
    name = "fusion_qabf"
    aliases = ("qabf",)
    value_range = (0.0, 1.0)
    description = "Fusion: Xydeas-Petrovic edge transfer Q^AB/F (VIFB); ref = cat([A, B], dim=1)"


@register
class FusionVIF(_FusionPair):
    name = "fusion_vif"
    min_size = 17
    value_range = (0.0, float("inf"))
    description = "Fusion: VIFp(A,F) + VIFp(B,F), pixel-domain multi-scale VIF; ref = cat([A, B], dim=1)"


@register
class PSNRMu(Metric):
    """PSNR after mu-law tonemapping, for HDR reconstruction."""

    name = "psnr_mu"
    version = "1"
    kind = "full-reference"
    higher_is_better = True
    value_range = (0.0, float("inf"))
    pillar = "fidelity"
    reference = "gt"
    defaults = {"mu": 5000.0}
    description = "PSNR after mu-law tonemapping (mu=5000; Kalantari & Ramamoorthi 2017), linear HDR in [0,1]"
    error_map_kind = "squared error after mu-law tonemapping / its largest value in the image"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        if ref is None:
            raise InputError("metric 'psnr_mu' needs the HDR ground truth as reference")
        return psnr_mu(x, ref, mu=float(self.options["mu"]))

    def error_map(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        from .fidelity import squared_error_map

        check_pair(x, ref)
        mu = float(self.options["mu"])
        return squared_error_map(mu_law(x.detach().to(torch.float64), mu), mu_law(ref.detach().to(torch.float64), mu))
