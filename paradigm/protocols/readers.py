"""Decoders of the study's scripts that cannot be expressed on decoded RGB.

``cv2-grey`` is ``cv2.imread(path, 0)`` (the fusion scripts): for JPEG files libjpeg outputs the
file's own luma plane (Pillow's ``draft('L')`` asks libjpeg for exactly that), for other files the
colour image is converted as libpng's ``png_set_rgb_to_gray(0.299, 0.587)`` does
(:func:`paradigm.metrics.study_fusion.grey_cv2`, rule ``cv2-png``). The grey image is returned
replicated to three channels, so every metric still sees RGB and the study's grey rule keeps it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..io import DecodeError, read_image


def read_cv2_grey(path: str | os.PathLike[str]) -> torch.Tensor:
    """``cv2.imread(path, 0)`` as a ``(3, H, W)`` float32 tensor in [0, 1] (three equal channels).

    Raises:
        DecodeError: the file cannot be decoded.
    """
    from ..metrics.study_fusion import grey_cv2

    p = Path(path)
    if p.suffix.lower() in (".jpg", ".jpeg"):
        from PIL import Image

        try:
            with Image.open(p) as im:
                im.draft("L", im.size)  # libjpeg's grey output: the JPEG's Y plane
                grey = np.asarray(im.convert("L"), dtype=np.float64)
        except Exception as exc:  # noqa: BLE001 - any decoder failure is a decode error
            raise DecodeError(f"cannot decode {p}: {exc}") from exc
    else:
        rgb = torch.round(read_image(p) * 255).permute(1, 2, 0).numpy().astype(np.float64)
        grey = grey_cv2(rgb, "cv2-png")
    t = torch.from_numpy((grey / 255.0).astype(np.float32))
    return t[None].expand(3, -1, -1).contiguous()


READERS: dict[str, Callable[[str | os.PathLike[str]], torch.Tensor]] = {"rgb": read_image, "cv2-grey": read_cv2_grey}


def reader(name: str) -> Callable[[str | os.PathLike[str]], torch.Tensor]:
    """The decoder called ``name`` (``rgb``: paradigm's ``rgb-v1``; ``cv2-grey``)."""
    if name not in READERS:
        raise InputError(f"unknown reader {name!r}; known: {', '.join(READERS)}")
    return READERS[name]
