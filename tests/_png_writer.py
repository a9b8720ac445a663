"""PNG files written from the PNG specification for the decoder tests (Pillow cannot write 16-bit
colour, chosen row filters, split IDAT chunks or invalid files)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import numpy as np

#: PNG colour type of each channel count (grey, grey+alpha, RGB, RGBA).
COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}


def chunk(kind: bytes, body: bytes, crc: int | None = None) -> bytes:
    """One chunk; ``crc`` overrides the correct CRC (to write a corrupt one)."""
    value = zlib.crc32(kind + body) & 0xFFFFFFFF if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", value)


def filtered_rows(a: np.ndarray, filters: Sequence[int]) -> bytes:
    """The filtered scanlines of ``a`` (H, W, C) uint8/uint16 (big-endian samples), row ``y`` with PNG
    filter ``filters[y % len(filters)]`` (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth)."""
    h, _, c = a.shape
    bpp = c * a.dtype.itemsize
    big = a.astype(">u2") if a.dtype == np.uint16 else a
    rows = [np.frombuffer(big[y].tobytes(), np.uint8).astype(np.int64) for y in range(h)]
    prev = np.zeros_like(rows[0])
    raw = b""
    for y, r in enumerate(rows):
        filt = filters[y % len(filters)]
        left = np.concatenate([np.zeros(bpp, np.int64), r[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int64), prev[:-bpp]])
        if filt == 0:
            pred = np.zeros_like(r)
        elif filt == 1:
            pred = left
        elif filt == 2:
            pred = prev
        elif filt == 3:
            pred = (left + prev) // 2
        else:
            pa, pb, pc = np.abs(prev - upleft), np.abs(left - upleft), np.abs(left + prev - 2 * upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        raw += bytes([filt]) + ((r - pred) & 255).astype(np.uint8).tobytes()
        prev = r
    return raw


def png_bytes(a: np.ndarray, filters: Sequence[int] = (0,), pieces: int = 1, extra: bytes = b"") -> bytes:
    """A PNG of ``a`` ((H, W) or (H, W, C) uint8 or uint16), its image data split over ``pieces`` IDAT
    chunks; ``extra`` (whole chunks) is written before the first IDAT."""
    if a.ndim == 2:
        a = a[:, :, None]
    h, w, c = a.shape
    stream = zlib.compress(filtered_rows(a, filters))
    step = -(-len(stream) // pieces)
    idat = b"".join(chunk(b"IDAT", stream[i: i + step]) for i in range(0, len(stream), step))
    ihdr = struct.pack(">IIBBBBB", w, h, 8 * a.dtype.itemsize, COLOUR_TYPE[c], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + idat + chunk(b"IEND", b"")
