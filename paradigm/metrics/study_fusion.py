"""Image-fusion metrics as the study's fusion scripts compute them (``metric_ivif.py``, ``metric_mfif.py``).

Both scripts read every image with ``cv2.imread(path, 0)`` and work on the 0..255 grey values as
float32 torch tensors. Differences from paradigm's VIFB-style ``fusion_*`` metrics
(:mod:`paradigm.metrics.task`):

* grey conversion of OpenCV's decoder (``grey`` option): ``cv2-png`` is libpng's
  ``png_set_rgb_to_gray(0.299, 0.587)``: ``(9797 R + 19234 G + 3737 B) >> 15`` (truncated; grey
  pixels kept); ``cv2-cvtcolor`` is ``cv2.cvtColor(BGR2GRAY)``: ``(9798 R + 19235 G + 3735 B + 16384) >> 15``
  (both identical to OpenCV 5.1 on every colour). JPEG files decoded to grey by libjpeg give the
  JPEG's own Y plane, which decoded RGB cannot reproduce: protocols decode such sources with the
  ``cv2-grey`` reader of :mod:`paradigm.protocols.readers`, whose grey images pass through unchanged.
* SF: ``sqrt(mean(dRow^2) + mean(dCol^2))`` with the means over the ``(H-1) W`` and ``H (W-1)``
  differences (VIFB divides both sums by ``H W``).
* AG: mean over all ``H W`` pixels of ``sqrt((gx^2 + gy^2) / 2)`` with ``torch.gradient``
  (central differences, one-sided at the borders); VIFB divides by ``(H-1)(W-1)``.
* VIF: the multi-scale pixel VIF with **zero-padded 'same'** filtering (VIFB: 'valid').
* SCD (Aslantas & Bendes 2015): ``corr2(F - B, A) + corr2(F - A, B)`` (0 when a denominator < 1e-10).
* NMI: ``2 (MI(A,F) + MI(B,F)) / (H(A) + H(B) + 1e-10)`` in bits, from the 65 536-bin joint
  histogram of ``256 a + f``. The script builds it with float32 ``torch.histc``, whose bin index
  ``floor(float32(v * 65536) / 65535)`` puts value 65 408 (a = 255, f = 128) into the next bin; the
  ``histc_float32`` option reproduces that merge (verified against ``torch.histc`` on CPU; the CUDA
  kernel's source evaluates the same float32 expression), False counts every pair in its own bin.
* Q_Y (Yang et al. 2008): 7x7 Gaussian (sigma 1.5) zero-padded SSIM maps on [0, 1] with
  ``C1 = 1e-4``, ``C2 = 9e-4``; where ``SSIM(A, B) >= 0.75`` the map is
  ``lambda SSIM(A,F) + (1 - lambda) SSIM(B,F)`` with ``lambda = s_A^2 / (s_A^2 + s_B^2 + 1e-10)``,
  elsewhere ``max(SSIM(A,F), SSIM(B,F))``; the mean. (The script mixes a float32 window with float64
  images, which PyTorch refuses: as published, Q_Y raises an error.)
* Q_CB (Chen & Blum 2009) as the script's FFT version: min-max normalised images; the contrast
  sensitivity filter ``exp(-(r/f0)^2) - a exp(-(r/f1)^2)`` (f0 = 15.3870, f1 = 1.3456, a = 0.7622)
  with ``r = sqrt((u H/30)^2 + (v W/30)^2)`` over ``fftfreq`` grids; local contrast
  ``G_2 * I / (G_4 * I + 1e-10) - 1`` with 31x31 Gaussians (sigma 2 and 4, zero padding 15);
  masked contrast ``|C|^3 / (|C|^2 + 1e-4)``; preservation ``min/max`` ratio; saliency weights
  ``C_A^2 / (C_A^2 + C_B^2 + 1e-10)``; the mean.

The fused image is the output ``x``; the two sources come stacked as ``ref = cat([A, B], dim=1)``
(``paradigm score --input A --input2 B``), as for paradigm's other two-input fusion metrics.
All values are float64 (the script computes EN/SD/SF/AG/SCD/VIF in float32: differences ~1e-6 relative).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch

from ..errors import InputError, MetricUnavailableError
from .base import Metric, check_image
from .registry import register
from .study import to_u8
from .task import vif_log_terms

__all__ = ["grey_cv2", "fusion_stats", "scd", "vif_same", "nmi", "q_y", "q_cb", "histc_index"]

GREY_RULES = ("cv2-png", "cv2-cvtcolor")


def grey_cv2(rgb: np.ndarray, rule: str = "cv2-png") -> np.ndarray:
    """OpenCV's grey decoding of 8-bit RGB ``(..., 3)`` (see the module docstring), float64 0..255."""
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    if rule == "cv2-png":
        y = (9797 * r + 19234 * g + 3737 * b) >> 15
        return np.where((r == g) & (r == b), r, y).astype(np.float64)
    if rule == "cv2-cvtcolor":
        return ((9798 * r + 19235 * g + 3735 * b + 16384) >> 15).astype(np.float64)
    raise InputError(f"grey must be one of {', '.join(GREY_RULES)}, got {rule!r}")


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def fusion_stats(f: np.ndarray) -> dict[str, float]:
    """EN (bits, 256 bins), SD (population), mean-based SF and AG of one 0..255 grey image."""
    en = _entropy(np.bincount(f.astype(np.int64).ravel(), minlength=256).astype(np.float64))
    rf = math.sqrt(float(np.mean((f[1:, :] - f[:-1, :]) ** 2)))
    cf = math.sqrt(float(np.mean((f[:, 1:] - f[:, :-1]) ** 2)))
    gy, gx = np.gradient(f)
    ag = float(np.mean(np.sqrt((gx**2 + gy**2) / 2.0)))
    return {"en": en, "sd": float(f.std()), "sf": math.sqrt(rf**2 + cf**2), "ag": ag}


def _corr2(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return 0.0 if den < 1e-10 else float((a * b).sum() / den)


def scd(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """Sum of correlations of differences: ``corr2(F - B, A) + corr2(F - A, B)``."""
    return _corr2(f - b, a) + _corr2(f - a, b)


def _conv_same(img: np.ndarray, win: np.ndarray) -> np.ndarray:
    from scipy.ndimage import correlate

    return np.asarray(correlate(img, win, mode="constant", cval=0.0))


def _fspecial(n: int, sigma: float) -> np.ndarray:
    t = np.linspace(-n // 2 + 1, n // 2, n)
    w = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * sigma**2))
    return np.asarray(w / w.sum())


def _vif_terms(ref: np.ndarray, dist: np.ndarray, win: np.ndarray) -> tuple[float, float]:
    mu1, mu2 = _conv_same(ref, win), _conv_same(dist, win)
    s1 = np.maximum(_conv_same(ref * ref, win) - mu1 * mu1, 0)
    s2 = np.maximum(_conv_same(dist * dist, win) - mu2 * mu2, 0)
    s12 = _conv_same(ref * dist, win) - mu1 * mu2
    return vif_log_terms(s1, s2, s12, sigma_nsq=2.0)


def vif_same(ref: np.ndarray, dist: np.ndarray) -> float:
    """Multi-scale pixel VIF (4 scales, ``N = 2^(5-s) + 1``, sigma ``N/5``) with zero-padded 'same' filtering."""
    num = den = 0.0
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        win = _fspecial(n, n / 5.0)
        if scale > 1:
            ref = _conv_same(ref, win)[::2, ::2]
            dist = _conv_same(dist, win)[::2, ::2]
        nu, de = _vif_terms(ref, dist, win)
        num += nu
        den += de
    return num / (den + 1e-10)


def histc_index(v: np.ndarray, nbins: int, hi: float) -> np.ndarray:
    """Bin of ``torch.histc(v, nbins, min=0, max=hi)`` on CPU float32: ``floor(float32(v * nbins) / hi)``."""
    f32 = np.float32
    pos = np.floor((v.astype(f32) * f32(nbins)) / f32(hi)).astype(np.int64)
    return np.minimum(pos, nbins - 1)


def _mi(a: np.ndarray, f: np.ndarray, histc_float32: bool) -> float:
    idx = a.astype(np.int64).ravel() * 256 + f.astype(np.int64).ravel()
    if histc_float32:
        idx = histc_index(idx.astype(np.float64), 65536, 65535.0)
    h = np.bincount(idx, minlength=65536).astype(np.float64).reshape(256, 256)
    return _entropy(h.sum(1)) + _entropy(h.sum(0)) - _entropy(h.ravel())


def nmi(a: np.ndarray, b: np.ndarray, f: np.ndarray, histc_float32: bool = False) -> float:
    """``2 (MI(A,F) + MI(B,F)) / (H(A) + H(B) + 1e-10)``, bits (see the module docstring)."""
    ha = _entropy(np.bincount(a.astype(np.int64).ravel(), minlength=256).astype(np.float64))
    hb = _entropy(np.bincount(b.astype(np.int64).ravel(), minlength=256).astype(np.float64))
    return 2 * (_mi(a, f, histc_float32) + _mi(b, f, histc_float32)) / (ha + hb + 1e-10)


def _ssim_yang(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.arange(7) - 3
    g = np.exp(-(t**2) / (2 * 1.5**2))
    g = g / g.sum()
    win = np.outer(g, g)
    mu1, mu2 = _conv_same(x, win), _conv_same(y, win)
    s1 = _conv_same(x * x, win) - mu1**2
    s2 = _conv_same(y * y, win) - mu2**2
    s12 = _conv_same(x * y, win) - mu1 * mu2
    c1, c2 = 0.01**2, 0.03**2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s1 + s2 + c2))
    return m, s1, s2


def q_y(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """Yang's SSIM-based fusion metric Q_Y on [0, 1] images (see the module docstring)."""
    a, b, f = a / 255.0, b / 255.0, f / 255.0
    sab, s1, s2 = _ssim_yang(a, b)
    saf = _ssim_yang(a, f)[0]
    sbf = _ssim_yang(b, f)[0]
    lam = s1 / (s1 + s2 + 1e-10)
    return float(np.where(sab >= 0.75, lam * saf + (1 - lam) * sbf, np.maximum(saf, sbf)).mean())


def _contrast(img: np.ndarray) -> np.ndarray:
    t = np.arange(-15, 16)
    r2 = t[:, None] ** 2 + t[None, :] ** 2

    def g2d(s: float) -> np.ndarray:  # built in float32 as the script, then used in float64
        e = np.exp(-(r2 / (2 * s**2)).astype(np.float32))
        return (e / e.sum()).astype(np.float64)

    return _conv_same(img, g2d(2)) / (_conv_same(img, g2d(4)) + 1e-10) - 1


def q_cb(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """Chen-Blum Q_CB as the script's FFT version (see the module docstring)."""

    def norm(v: np.ndarray) -> np.ndarray:
        return (v - v.min()) / (v.max() - v.min() + 1e-10)

    h, w = a.shape
    u, v = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    r = np.sqrt((u * (h / 30)) ** 2 + (v * (w / 30)) ** 2)
    sd = np.exp(-((r / 15.3870) ** 2)) - 0.7622 * np.exp(-((r / 1.3456) ** 2))

    def csf(img: np.ndarray) -> np.ndarray:
        return np.real(np.fft.ifft2(np.fft.fft2(norm(img)) * sd))

    def mask(c: np.ndarray) -> np.ndarray:
        return np.abs(c) ** 3 / (np.abs(c) ** 2 + 1e-4)

    c1p, c2p, cfp = (mask(_contrast(csf(i))) for i in (a, b, f))
    q1 = np.where(c1p < cfp, c1p / (cfp + 1e-10), cfp / (c1p + 1e-10))
    q2 = np.where(c2p < cfp, c2p / (cfp + 1e-10), cfp / (c2p + 1e-10))
    den = c1p**2 + c2p**2 + 1e-10
    return float(((c1p**2 / den) * q1 + (c2p**2 / den) * q2).mean())


# ------------------------------------------------------------------------------ registered classes


def _grey_batch(x: torch.Tensor, rule: str) -> list[np.ndarray]:
    return [grey_cv2(img, rule) for img in to_u8(x)]


class _StudyFusionNR(Metric):
    kind = "no-reference"
    reference = "none"
    pillar = "diagnostic"
    version = "1"
    value_range = (0.0, float("inf"))
    min_size = 2
    defaults: ClassVar[dict[str, Any]] = {"grey": "cv2-png"}
    stat: ClassVar[str] = ""

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        check_image(x, "fused")
        vals = [fusion_stats(g)[self.stat] for g in _grey_batch(x, self.options["grey"])]
        return torch.tensor(vals, dtype=torch.float64)


@register
class StudyFusionEN(_StudyFusionNR):
    name = "study_fusion_en"
    stat = "en"
    description = "Fusion scripts' EN: entropy (bits) of the cv2 grey fused image"


@register
class StudyFusionSD(_StudyFusionNR):
    name = "study_fusion_sd"
    stat = "sd"
    description = "Fusion scripts' SD: population std of the cv2 grey fused image"


@register
class StudyFusionSF(_StudyFusionNR):
    name = "study_fusion_sf"
    stat = "sf"
    description = "Fusion scripts' SF: sqrt(mean(dRow^2) + mean(dCol^2)) of the cv2 grey fused image"


@register
class StudyFusionAG(_StudyFusionNR):
    name = "study_fusion_ag"
    stat = "ag"
    description = "Fusion scripts' AG: mean of sqrt((gx^2+gy^2)/2), torch.gradient, cv2 grey"


class _StudyFusionPair(Metric):
    kind = "full-reference"
    reference = "input"
    pillar = "diagnostic"
    version = "1"
    value_range = (-float("inf"), float("inf"))
    two_inputs: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {"grey": "cv2-png"}

    def _score(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        from .task import split_pair

        if ref is None or (ref.ndim == 4 and ref.shape[1] in (1, 3)):
            raise MetricUnavailableError(
                f"metric {self.name!r} needs the two fusion sources (paradigm score --input A --input2 B)"
            )
        a, b = split_pair(ref)
        check_image(x, "fused")
        if a.shape[-2:] != x.shape[-2:] or a.shape[0] != x.shape[0]:
            raise InputError(
                f"fused image {tuple(x.shape)} and sources {tuple(ref.shape)} differ in size; "
                "resize the fused output to the sources first"
            )
        rule = self.options["grey"]
        fs, as_, bs = _grey_batch(x, rule), _grey_batch(a, rule), _grey_batch(b, rule)
        return torch.tensor([self._score(as_[i], bs[i], fs[i]) for i in range(len(fs))], dtype=torch.float64)


@register
class StudyFusionSCD(_StudyFusionPair):
    name = "study_fusion_scd"
    description = "Fusion: SCD = corr2(F-B, A) + corr2(F-A, B) (infrared-visible script)"

    def _score(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        return scd(a, b, f)


@register
class StudyFusionVIF(_StudyFusionPair):
    name = "study_fusion_vif"
    min_size = 17
    description = "Fusion: VIFp(A,F) + VIFp(B,F) with zero-padded 'same' filtering (infrared-visible script)"

    def _score(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        return vif_same(a, f) + vif_same(b, f)


@register
class StudyFusionNMI(_StudyFusionPair):
    name = "study_fusion_nmi"
    defaults: ClassVar[dict[str, Any]] = {"grey": "cv2-png", "histc_float32": False}
    description = "Fusion: NMI = 2(MI_AF+MI_BF)/(H_A+H_B), bits; histc_float32: the script's merged bin"

    def _score(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        return nmi(a, b, f, bool(self.options["histc_float32"]))


@register
class StudyFusionQY(_StudyFusionPair):
    name = "study_fusion_qy"
    description = "Fusion: Yang's Q_Y (7x7 Gaussian SSIM maps, threshold 0.75; multi-focus script)"

    def _score(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        return q_y(a, b, f)


@register
class StudyFusionQCB(_StudyFusionPair):
    name = "study_fusion_qcb"
    description = "Fusion: Chen-Blum Q_CB (FFT CSF, 31x31 contrast pyramid; multi-focus script)"

    def _score(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        return q_cb(a, b, f)
