"""The resize rules of the study's scripts, each applied to an output before full-reference metrics.

Every function takes a ``(C, H, W)`` float tensor in [0, 1] holding 8-bit values (``k / 255``) and
returns ``(C, h, w)`` float32 in [0, 1]:

* ``torch-bicubic``: ``F.interpolate(mode='bicubic', align_corners=False)`` without antialiasing,
  clamped to [0, 1], on the float image (super-resolution, pyiqa path);
* ``pil-lanczos`` / ``pil-bilinear``: Pillow ``Image.resize`` of the uint8 image (Pillow widens
  the kernel when downscaling);
* ``cv2-cubic`` / ``cv2-linear``: OpenCV ``cv2.resize`` of the uint8 image, implemented from its
  documented fixed-point algorithm: half-pixel centres ``(d + 0.5) s - 0.5``, replicated borders,
  Keys cubic with ``a = -0.75`` (or linear) weights rounded to 1/2048, separable sums rounded as
  ``(sum + 2^21) >> 22`` and saturated to 0..255. An exact 2x ``INTER_LINEAR`` downscale is a 2x2
  average with rounding, as OpenCV routes it to ``INTER_AREA``. (OpenCV is not a dependency; its
  SIMD code paths may round a few values differently by one level.)
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


def _cv2_taps(out_len: int, in_len: int, cubic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Source indices ``(out_len, k)`` and fixed-point weights (x 2048) of OpenCV's resize along one axis."""
    scale = in_len / out_len
    f32 = np.float32
    fx = ((np.arange(out_len) + 0.5) * scale - 0.5).astype(f32)
    sx = np.floor(fx).astype(np.int64)
    t = (fx - sx.astype(f32)).astype(f32)
    if cubic:
        a = f32(-0.75)
        c0 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
        c1 = ((a + 2) * t - (a + 3)) * t * t + 1
        c2 = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
        w = np.stack([c0, c1, c2, 1 - c0 - c1 - c2], 1).astype(f32)
        offs = np.arange(-1, 3)
    else:
        w = np.stack([1 - t, t], 1).astype(f32)
        offs = np.arange(0, 2)
    idx = np.clip(sx[:, None] + offs[None, :], 0, in_len - 1)
    return idx, np.rint(w * f32(2048)).astype(np.int64)


def _cv2(x: torch.Tensor, h: int, w: int, cubic: bool) -> torch.Tensor:
    src = _to_u8_hwc(x).astype(np.int64)
    hh, ww = src.shape[:2]
    if not cubic and hh == 2 * h and ww == 2 * w:  # OpenCV: exact 2x INTER_LINEAR -> INTER_AREA
        s = src[0::2, 0::2] + src[1::2, 0::2] + src[0::2, 1::2] + src[1::2, 1::2]
        return _from_u8_hwc(((s + 2) >> 2).astype(np.uint8))
    xi, xw = _cv2_taps(w, ww, cubic)
    yi, yw = _cv2_taps(h, hh, cubic)
    rows = (src[:, xi, :] * xw[None, :, :, None]).sum(2)  # (H, w, C), scale 2^11
    out = (rows[yi, :, :] * yw[:, :, None, None]).sum(1)  # (h, w, C), scale 2^22
    return _from_u8_hwc(np.clip((out + (1 << 21)) >> 22, 0, 255).astype(np.uint8))


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
    "cv2-cubic": lambda x, h, w: _cv2(x, h, w, cubic=True),
    "cv2-linear": lambda x, h, w: _cv2(x, h, w, cubic=False),
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
