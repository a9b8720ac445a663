"""Fast decoder for the common PNG: 8-bit, non-interlaced grey, grey+alpha, RGB or RGBA.

The IDAT stream is inflated with libdeflate (the ``deflate`` package; the standard ``zlib`` module
when it is not installed) and unfiltered straight into RGB float32 ``(3, H, W)`` by one compiled loop
(:mod:`._png_jit`). PNG is lossless, so the values are those of Pillow's decoder bit for bit (tested):
rule ``rgb-v1`` is unchanged. Less than half the CPU of Pillow plus the float conversion on a
512x384 photo (``python benchmarks/bench_decode.py``).

Anything else, and any file this decoder finds unusual (a bad CRC outside the image data, truncated
or non-consecutive IDAT chunks, an animated PNG, a stream that does not inflate to exactly the declared
size, an invalid row filter), gets ``None``: :mod:`.io` then decodes it with Pillow as before, so
errors and edge cases keep Pillow's behaviour. Like Pillow, the CRCs of IDAT chunks are not checked.
"""

from __future__ import annotations

import functools
import struct
import zlib
from typing import Any

import numpy as np

_MAGIC = b"\x89PNG\r\n\x1a\n"
#: Channels of the 8-bit colour types handled here (0 grey, 2 RGB, 4 grey+alpha, 6 RGBA).
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def _chunks(data: bytes) -> tuple[tuple[int, ...], bytes] | None:
    """(IHDR fields, joined IDAT data) of a well-formed PNG, else None."""
    pos, ihdr, idat, idat_done = 8, None, [], False
    while pos + 12 <= len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        kind = data[pos + 4: pos + 8]
        end = pos + 12 + n
        if end > len(data):
            return None
        if kind == b"IDAT":
            if idat_done:
                return None
            idat.append(data[pos + 8: pos + 8 + n])
        else:
            idat_done = idat_done or bool(idat)
            (crc,) = struct.unpack_from(">I", data, pos + 8 + n)
            if zlib.crc32(data[pos + 4: pos + 8 + n]) != crc:
                return None
            if kind == b"IHDR":
                if ihdr is not None or n != 13 or pos != 8:
                    return None
                ihdr = struct.unpack_from(">IIBBBBB", data, pos + 8)
            elif kind == b"acTL":
                return None
            elif kind == b"IEND":
                return (ihdr, b"".join(idat)) if ihdr is not None and idat else None
        pos = end
    return None


@functools.lru_cache(maxsize=1)
def _libdeflate() -> Any:
    """The ``deflate`` module (libdeflate), or None when it is not installed (looked up once)."""
    try:
        import deflate
    except ImportError:
        return None
    return deflate


def _inflate(stream: bytes, size: int) -> bytes | bytearray | None:
    """The zlib ``stream`` inflated, when it holds exactly ``size`` bytes; else None."""
    deflate = _libdeflate()
    if deflate is None:
        return _inflate_zlib(stream, size)
    try:
        out: bytearray = deflate.zlib_decompress(stream, size)
    except Exception:  # noqa: BLE001 - corrupt, short or long stream: Pillow decides
        return None
    return out if len(out) == size else None


def _inflate_zlib(stream: bytes, size: int) -> bytes | None:
    """:func:`_inflate` with the standard ``zlib`` module."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(stream, size)
        rest = d.decompress(d.unconsumed_tail, 1) if d.unconsumed_tail else b""
    except zlib.error:
        return None
    return out if len(out) == size and not rest and d.eof else None


def decode(data: bytes) -> np.ndarray | None:
    """RGB float32 ``(3, H, W)`` in [0, 1] of an 8-bit non-interlaced PNG held in ``data``, or None
    (not such a PNG, or anything unusual about it: the caller falls back to Pillow)."""
    if not data.startswith(_MAGIC):
        return None
    parsed = _chunks(data)
    if parsed is None:
        return None
    (w, h, depth, ctype, comp, filt, interlace), stream = parsed
    if depth != 8 or ctype not in _CHANNELS or comp or filt or interlace or not (0 < w < 1 << 31 and 0 < h < 1 << 31):
        return None
    ch = _CHANNELS[ctype]
    raw = _inflate(stream, h * (1 + w * ch))
    if raw is None:
        return None
    from ._png_jit import LEVELS, unfilter_to_rgb

    out = np.empty((3, h, w), dtype=np.float32)
    ok: Any = unfilter_to_rgb(np.frombuffer(raw, dtype=np.uint8), h, w, ch, LEVELS, out)
    return out if ok else None
