"""The resize rules of the study's scripts, each applied to an output before full-reference metrics.

Every function takes a ``(C, H, W)`` float tensor in [0, 1] holding 8-bit values (``k / 255``) and
returns ``(C, h, w)`` float32 in [0, 1]:

* ``torch-bicubic``: ``F.interpolate(mode='bicubic', align_corners=False)`` without antialiasing,
  clamped to [0, 1], on the float image (super-resolution, pyiqa path);
* ``pil-lanczos`` / ``pil-bilinear``: Pillow ``Image.resize`` of the uint8 image (Pillow widens
  the kernel when downscaling);
* ``cv2-cubic``: ``cv2.resize(INTER_CUBIC)`` of the uint8 image as the ``opencv-python`` wheels
  compute it (through Intel IPP): the exact separable Keys kernel (``a = -0.75``) at half-pixel
  centres ``(d + 0.5) s - 0.5`` with replicated borders, rounded to the nearest integer (ties to
  even) and saturated. (OpenCV builds without IPP use 1/2048 fixed-point weights instead: one level apart on
  ~4 % of pixels.)
* ``cv2-linear``: ``cv2.resize(INTER_LINEAR)`` of the uint8 image, OpenCV's fixed-point path:
  weights rounded to 1/2048, horizontal sums ``S`` exact, vertical step as its SIMD code
  ``(((S0 >> 4) b0 >> 16) + ((S1 >> 4) b1 >> 16) + 2) >> 2``; an exact 2x reduction is routed to
  ``INTER_AREA``: ``(a + b + c + d + 2) >> 2``.

Both ``cv2-*`` rules were compared with ``opencv-python-headless`` 5.1 (installed outside the
project, not a dependency; ``tests/test_protocols_resize.py`` runs the comparison when ``cv2`` can
be imported): ``cv2-linear`` identical, ``cv2-cubic`` identical except a few values in 10^5 that
IPP's float32 arithmetic rounds the other way (one level).
* ``skimage-aa-uint8``: ``skimage.transform.resize(img, shape, preserve_range=True,
  anti_aliasing=True).astype(uint8)``: Gaussian pre-filter when downscaling, bilinear, and a
  *truncating* cast to uint8 (flare removal).
* ``native``: no resize (no-reference metrics on the file as it is); ``none``: sizes must match.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from ..errors import InputError

RULES = ("torch-bicubic", "pil-lanczos", "pil-bilinear", "cv2-cubic", "cv2-linear", "skimage-aa-uint8", "native", "none")


def _to_u8_hwc(x: torch.Tensor) -> np.ndarray:
    return np.asarray(torch.round(x.detach().cpu().float() * 255).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy())


def _from_u8_hwc(a: np.ndarray) -> torch.Tensor:
    if a.ndim == 2:
        a = a[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(a.astype(np.float32) / 255.0)).permute(2, 0, 1).contiguous()


def torch_bicubic(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``F.interpolate`` bicubic, no antialias, clamped (the SR script)."""
    y = torch.nn.functional.interpolate(x[None].float(), size=(h, w), mode="bicubic", align_corners=False)
    return y[0].clamp(0.0, 1.0)


def _pil(x: torch.Tensor, h: int, w: int, method: str) -> torch.Tensor:
    from PIL import Image

    img = Image.fromarray(_to_u8_hwc(x).squeeze(-1) if x.shape[0] == 1 else _to_u8_hwc(x))
    resample = Image.Resampling.LANCZOS if method == "lanczos" else Image.Resampling.BILINEAR
    return _from_u8_hwc(np.asarray(img.resize((w, h), resample=resample)))


def _cv2_linear_taps(out_len: int, in_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices ``(out_len, 2)`` and fixed-point weights (x 2048) of OpenCV's linear resize along one axis."""
    f32 = np.float32
    fx = ((np.arange(out_len) + 0.5) * (in_len / out_len) - 0.5).astype(f32)
    sx = np.floor(fx).astype(np.int64)
    t = (fx - sx.astype(f32)).astype(f32)
    w = np.stack([1 - t, t], 1).astype(f32)
    idx = np.clip(sx[:, None] + np.arange(0, 2)[None, :], 0, in_len - 1)
    return idx, np.rint(w * f32(2048)).astype(np.int64)


def _keys_matrix(out_len: int, in_len: int) -> np.ndarray:
    """``(out_len, in_len)`` exact Keys (a = -0.75) resampling matrix, half-pixel centres, replicated borders."""
    a = -0.75
    m = np.zeros((out_len, in_len))
    x = (np.arange(out_len) + 0.5) * (in_len / out_len) - 0.5
    base = np.floor(x).astype(np.int64)
    for k in range(-1, 3):
        t = np.abs(x - (base + k))
        wk = np.where(t <= 1, (a + 2) * t**3 - (a + 3) * t**2 + 1, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a)
        np.add.at(m, (np.arange(out_len), np.clip(base + k, 0, in_len - 1)), wk)
    return m


def _cv2_cubic(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    src = _to_u8_hwc(x).astype(np.float64)
    out = np.einsum("ij,jkc,lk->ilc", _keys_matrix(h, src.shape[0]), src, _keys_matrix(w, src.shape[1]))
    return _from_u8_hwc(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def _cv2_linear(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    src = _to_u8_hwc(x).astype(np.int64)
    hh, ww = src.shape[:2]
    if hh == 2 * h and ww == 2 * w:  # OpenCV: exact 2x INTER_LINEAR -> INTER_AREA
        s = src[0::2, 0::2] + src[1::2, 0::2] + src[0::2, 1::2] + src[1::2, 1::2]
        return _from_u8_hwc(((s + 2) >> 2).astype(np.uint8))
    xi, xw = _cv2_linear_taps(w, ww)
    yi, yw = _cv2_linear_taps(h, hh)
    rows = (src[:, xi, :] * xw[None, :, :, None]).sum(2)  # (H, w, C), scale 2^11
    s0, s1 = rows[yi[:, 0]] >> 4, rows[yi[:, 1]] >> 4
    b0, b1 = yw[:, 0][:, None, None], yw[:, 1][:, None, None]
    out = (((s0 * b0) >> 16) + ((s1 * b1) >> 16) + 2) >> 2
    return _from_u8_hwc(np.clip(out, 0, 255).astype(np.uint8))


def skimage_aa_uint8(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``skimage.transform.resize(..., preserve_range=True, anti_aliasing=True).astype(uint8)`` (flare script)."""
    from skimage.transform import resize

    a = _to_u8_hwc(x)
    out = resize(a, (h, w), preserve_range=True, anti_aliasing=True)
    return _from_u8_hwc(np.asarray(out).astype(np.uint8))


_FUNCS: dict[str, Callable[[torch.Tensor, int, int], torch.Tensor]] = {
    "torch-bicubic": torch_bicubic,
    "pil-lanczos": lambda x, h, w: _pil(x, h, w, "lanczos"),
    "pil-bilinear": lambda x, h, w: _pil(x, h, w, "bilinear"),
    "cv2-cubic": _cv2_cubic,
    "cv2-linear": _cv2_linear,
    "skimage-aa-uint8": skimage_aa_uint8,
}


def resize(rule: str, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Resize ``x`` ``(C, H, W)`` to ``(C, h, w)`` with a study rule (see the module docstring).

    Raises:
        InputError: unknown rule, or ``native``/``none`` (which never resize).
    """
    fn = _FUNCS.get(rule)
    if fn is None:
        raise InputError(f"resize rule {rule!r} does not resize; rules that do: {', '.join(_FUNCS)}")
    if min(h, w) < 1 or not math.isfinite(h * w):
        raise InputError(f"cannot resize to {h}x{w}")
    return fn(x, h, w)
