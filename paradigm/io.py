"""Image decoding for ``paradigm score``: every supported file becomes RGB float32 ``(3, H, W)`` in [0, 1].

Colour rule ``rgb-v1`` (recorded in every signature as ``colour:rgb-v1``):

- 8-bit samples are divided by 255, 16-bit samples by 65535 (16-bit PNG is decoded with
  torchvision, whose libpng decoder keeps all 16 bits; Pillow would truncate colour PNGs to 8 bits).
- Floating-point TIFFs are taken as they are and clipped to [0, 1]; non-finite values are an error.
- Grayscale images are replicated to three channels, so every metric always sees RGB.
- Palette images are expanded to RGB through their palette.
- An alpha channel is **dropped** (the colour values are kept as stored), as in the common SR
  evaluation scripts. Pre-multiplied or transparent regions are therefore scored as their stored colour.
- EXIF orientation is **not** applied: restoration outputs are written by programs that do not
  rotate, and applying the tag to only one of a pair would misalign it.
- Colour profiles (ICC) are ignored: values are treated as sRGB.

Decoders: 8-bit non-interlaced PNG (the common case) by paradigm's own decoder (:mod:`._png8`:
libdeflate and one compiled loop; the same values as Pillow, bit for bit, at less than half the CPU);
16-bit PNG by torchvision; everything else, and any PNG the fast decoder finds unusual, by Pillow.

Supported: PNG (8/16-bit, gray, gray+alpha, RGB, RGBA, palette), JPEG, BMP, TIFF (8/16-bit integer,
32/64-bit float; via ``tifffile``, a dependency of scikit-image, with Pillow as a fallback), WebP.
Anything that cannot be decoded (zero-byte, truncated, not an image) raises :class:`DecodeError`.

Size limit: before any pixel is decoded, the dimensions the file *declares* (PNG ``IHDR``, the TIFF
page tags via ``tifffile``, the JPEG/BMP/WebP header via Pillow's lazy ``Image.open``) are checked
against ``max_pixels`` (``--max-pixels``, default :data:`DEFAULT_MAX_PIXELS` = 2**27 ≈ 134 Mpx, e.g.
16384 x 8192; its float32 RGB copy alone is 1.5 GiB). A larger image is a :class:`DecodeError`,
not an allocation: a 4.6 MB PNG that claims 40000 x 40000 costs nothing. Pillow's own
decompression-bomb check is replaced by this one (it would otherwise refuse images above ~179 Mpx
whatever the limit, with its own exception). Any other decoder failure, ``MemoryError`` included,
is also a :class:`DecodeError` (one ``decode`` row in ``errors.csv``; the run goes on).
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

#: Identifier of the decoding rule above; part of every signature and cache key.
COLOUR_RULE = "rgb-v1"

#: File extensions (lower case) that paradigm treats as images.
IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: Default ``--max-pixels``: 2**27 = 134,217,728 pixels (16384 x 8192), recorded in the signature.
DEFAULT_MAX_PIXELS = 1 << 27

# Pillow's decompression-bomb check reads the module global ``Image.MAX_IMAGE_PIXELS`` inside
# ``Image.open``; paradigm switches it off only around its own ``Image.open`` calls (serialised by
# this lock, so concurrent decoder threads never see a half-restored value).
_PIL_OPEN_LOCK = threading.Lock()


class DecodeError(InputError):
    """An image file that cannot be decoded (zero-byte, truncated, corrupt or unsupported)."""


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` has an image extension that paradigm decodes (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


@contextmanager
def _pil_open(path: Path) -> Iterator[Any]:
    """``PIL.Image.open(path)`` (lazy: header only) without Pillow's decompression-bomb check."""
    from PIL import Image

    with _PIL_OPEN_LOCK:
        old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            src = Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = old
    with src:
        yield src


def _png_size(head: bytes) -> tuple[int, int] | None:
    """(height, width) from a PNG's IHDR chunk, or None when the header is not a PNG's."""
    if len(head) < 24 or not head.startswith(_PNG_MAGIC) or head[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", head[16:24])
    return int(h), int(w)


def declared_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(height, width) an image file declares in its header, without decoding pixels.

    Returns None when the header does not say (the decoder will then fail or find out).

    Raises:
        DecodeError: unreadable file.
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(32)
    except OSError as exc:
        raise DecodeError(f"{p}: cannot read ({exc.strerror or exc})") from exc
    png = _png_size(head)
    if png is not None:
        return png
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        try:
            import tifffile

            with tifffile.TiffFile(p) as tf:
                page = tf.pages[0]
                return int(page.imagelength), int(page.imagewidth)  # type: ignore[union-attr]
        except ImportError:  # pragma: no cover - tifffile ships with scikit-image
            pass
        except Exception as exc:  # noqa: BLE001 - any parse failure of a hostile header
            raise DecodeError(f"{p}: cannot read TIFF header ({type(exc).__name__}: {exc})") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with _pil_open(p) as im:
                return int(im.height), int(im.width)
    except Exception:  # noqa: BLE001 - not identifiable here: the decoder gives the real message
        return None


def check_pixels(path: str | os.PathLike[str], max_pixels: int | None) -> None:
    """Refuse a file whose declared size exceeds ``max_pixels`` (None or <= 0: no limit).

    Raises:
        DecodeError: naming the declared size and the limit (``--max-pixels``).
    """
    if max_pixels is None or max_pixels <= 0:
        return
    size = declared_size(path)
    if size is None:
        return
    h, w = size
    if h * w > max_pixels:
        raise DecodeError(
            f"{path}: declares {w}x{h} = {h * w:,} pixels, above the limit of {max_pixels:,} "
            "(--max-pixels); not decoded. Raise --max-pixels if the image is genuine"
        )


def _to_rgb_float(arr: np.ndarray, path: Path) -> np.ndarray:
    """Convert an ``(H, W)``, ``(H, W, C)`` integer or float array to RGB float32 ``(3, H, W)``."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise DecodeError(f"{path}: unsupported image array of shape {arr.shape} (multi-page or volume?)")
    c = arr.shape[2]
    if c in (2, 4):  # gray+alpha, RGBA: drop alpha
        arr = arr[:, :, : c - 1]
    elif c > 4:
        raise DecodeError(f"{path}: {c} channels are not supported (expected gray, RGB or RGBA)")
    if arr.dtype in (np.uint8, np.uint16) and arr.shape[2] == 3 and arr.shape[0] and arr.shape[1]:
        # fast path (the common case): one pass, straight into the (3, H, W) float32 layout;
        # bit-identical to ``arr.astype(np.float32) / 255.0`` (the division is done in float32)
        scale = np.float32(255.0 if arr.dtype == np.uint8 else 65535.0)
        chw = np.empty((3, arr.shape[0], arr.shape[1]), dtype=np.float32)
        np.divide(arr.transpose(2, 0, 1), scale, out=chw, dtype=np.float32)
        return chw
    if arr.dtype == np.uint8:
        out = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        out = arr.astype(np.float32) / 65535.0
    elif arr.dtype == bool:
        out = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32)
        if not np.isfinite(out).all():
            raise DecodeError(f"{path}: floating-point image contains NaN or infinite values")
        out = np.clip(out, 0.0, 1.0)
    elif np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        if info.min < 0:
            raise DecodeError(f"{path}: signed integer images ({arr.dtype}) are not supported")
        out = (arr.astype(np.float64) / float(info.max)).astype(np.float32)
    else:
        raise DecodeError(f"{path}: unsupported sample type {arr.dtype}")
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    if out.shape[0] == 0 or out.shape[1] == 0:
        raise DecodeError(f"{path}: image has zero size {out.shape[:2]}")
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def _png16_numpy(data: bytes, path: Path) -> np.ndarray:
    """Pure-numpy decoder for non-interlaced 16-bit PNGs (fallback when torchvision cannot decode)."""
    import struct
    import zlib

    pos, idat, ihdr = 8, [], None
    try:
        while pos + 8 <= len(data):
            (n,) = struct.unpack(">I", data[pos : pos + 4])
            kind = data[pos + 4 : pos + 8]
            body = data[pos + 8 : pos + 8 + n]
            if kind == b"IHDR":
                ihdr = struct.unpack(">IIBBBBB", body)
            elif kind == b"IDAT":
                idat.append(body)
            elif kind == b"IEND":
                break
            pos += 12 + n
        if ihdr is None:
            raise ValueError("no IHDR chunk")
        w, h, depth, ctype, _, _, interlace = ihdr
        if interlace:
            raise ValueError("interlaced 16-bit PNG is not supported by the fallback decoder")
        ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
        bpp, stride = 2 * ch, w * 2 * ch
        raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8)
        raw = raw[: h * (stride + 1)].reshape(h, stride + 1)
    except (ValueError, KeyError, zlib.error, struct.error) as exc:
        raise DecodeError(f"{path}: cannot decode 16-bit PNG ({exc}); the file may be truncated") from exc
    out = np.zeros((h, stride), np.int64)
    prev = np.zeros(stride, np.int64)
    for y in range(h):
        f, line = int(raw[y, 0]), raw[y, 1:].astype(np.int64)
        if f == 0:
            cur = line
        elif f == 1:
            cur = np.cumsum(line.reshape(w, bpp), axis=0).reshape(-1) & 255
        elif f == 2:
            cur = (line + prev) & 255
        elif f in (3, 4):
            cur = line.copy()
            left = np.zeros(bpp, np.int64)
            upleft = np.zeros(bpp, np.int64)
            for j in range(0, stride, bpp):
                up = prev[j : j + bpp]
                if f == 3:
                    pred = (left + up) // 2
                else:
                    pa, pb, pc = np.abs(up - upleft), np.abs(left - upleft), np.abs(left + up - 2 * upleft)
                    pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
                cur[j : j + bpp] = (line[j : j + bpp] + pred) & 255
                left, upleft = cur[j : j + bpp], up
        else:
            raise DecodeError(f"{path}: corrupt PNG (unknown row filter {f})")
        out[y] = cur
        prev = cur
    b = out.astype(np.uint8).reshape(h, w, ch, 2)
    return ((b[..., 0].astype(np.uint16) << 8) | b[..., 1]).astype(np.uint16)


_PNG16_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
#: Adam7 passes: (x start, y start, x step, y step).
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _png16_rows(w: int, h: int, interlace: int) -> list[tuple[int, int]]:
    """(row count, pixels per row) of each reduced image of a PNG (one for non-interlaced)."""
    if not interlace:
        return [(h, w)]
    out = []
    for x0, y0, dx, dy in _ADAM7:
        pw, ph = (w - x0 + dx - 1) // dx if w > x0 else 0, (h - y0 + dy - 1) // dy if h > y0 else 0
        if pw and ph:
            out.append((ph, pw))
    return out


def _png16_check(data: bytes, path: Path) -> None:
    """Check a 16-bit PNG completely before libpng sees it.

    torchvision's ``decode_png`` crashes the whole process (segmentation fault) on any libpng error
    (truncated data, bad CRC, bad filter byte), so every such error is looked for here first: chunk
    lengths and CRCs, the IHDR fields, the IDAT stream inflated (in pieces, bounded memory) to
    exactly the expected size, and a valid filter byte (0-4) at the start of every row.

    Raises:
        DecodeError: naming the first problem.
    """
    pos, ihdr, idat_at, ended = 8, None, [], False
    while pos + 12 <= len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if n > len(data) - pos - 12:
            raise DecodeError(f"{path}: truncated PNG ({kind!r} chunk runs past the end of the file)")
        (crc,) = struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])
        if zlib.crc32(data[pos + 4 : pos + 8 + n]) & 0xFFFFFFFF != crc:
            raise DecodeError(f"{path}: corrupt PNG (CRC error in a {kind!r} chunk)")
        if kind == b"IHDR" and n == 13:
            ihdr = struct.unpack(">IIBBBBB", data[pos + 8 : pos + 21])
        elif kind == b"IDAT":
            idat_at.append((pos + 8, n))
        elif kind == b"IEND":
            ended = True
            break
        pos += 12 + n
    if ihdr is None or not idat_at or not ended:
        what = "IHDR" if ihdr is None else ("IDAT" if not idat_at else "IEND")
        raise DecodeError(f"{path}: truncated or corrupt PNG (no valid {what} chunk)")
    w, h, _, ctype, comp, filt, interlace = ihdr
    if not (0 < w < 1 << 31 and 0 < h < 1 << 31) or ctype not in _PNG16_CHANNELS or comp or filt or interlace > 1:
        raise DecodeError(f"{path}: corrupt PNG header (size {w}x{h}, colour type {ctype}, interlace {interlace})")
    bpp = 2 * _PNG16_CHANNELS[ctype]
    total = sum(rows * (1 + pw * bpp) for rows, pw in _png16_rows(w, h, interlace))
    _png16_inflate_check(data, idat_at, total, _png16_row_offsets(w, h, interlace, bpp), path)


def _png16_row_offsets(w: int, h: int, interlace: int, bpp: int) -> Iterator[int]:
    """Offsets of every row's filter byte in the inflated stream, in increasing order."""
    off = 0
    for rows, pw in _png16_rows(w, h, interlace):
        stride = 1 + pw * bpp
        for _ in range(rows):
            yield off
            off += stride


def _png16_inflate_check(data: bytes, idat_at: list[tuple[int, int]], total: int, rows: Iterator[int], path: Path) -> None:
    d = zlib.decompressobj()
    got = 0
    nxt = next(rows, None)
    try:
        for start, n in idat_at:
            buf = d.decompress(data[start : start + n], 1 << 22)
            while True:
                while nxt is not None and nxt < got + len(buf):
                    if buf[nxt - got] > 4:
                        raise DecodeError(f"{path}: corrupt PNG (invalid row filter {buf[nxt - got]})")
                    nxt = next(rows, None)
                got += len(buf)
                if got > total:
                    raise DecodeError(f"{path}: corrupt PNG (more image data than its size declares)")
                if not d.unconsumed_tail:
                    break
                buf = d.decompress(d.unconsumed_tail, 1 << 22)
        got += len(d.flush())
    except zlib.error as exc:
        raise DecodeError(f"{path}: corrupt PNG data ({exc})") from exc
    if got != total or not d.eof:
        raise DecodeError(f"{path}: truncated PNG ({got:,} of {total:,} bytes of image data)")


def _decode_png16(data: bytes, path: Path) -> np.ndarray | None:
    """Decode a 16-bit PNG keeping 16 bits (torchvision's libpng, else a numpy fallback); None if not 16-bit."""
    if len(data) < 26 or not data.startswith(_PNG_MAGIC) or data[12:16] != b"IHDR" or data[24] != 16:
        return None
    _png16_check(data, path)
    try:
        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torchvision >= 0.29 points to torchcodec
            from torchvision.io import ImageReadMode, decode_png

            t = decode_png(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.UNCHANGED)
    except ImportError:
        return _png16_numpy(data, path)
    except Exception as exc:  # torchvision raises RuntimeError for corrupt data
        raise DecodeError(f"{path}: cannot decode 16-bit PNG ({exc})") from exc
    arr = t.permute(1, 2, 0).numpy()
    if arr.dtype != np.uint16:  # older torchvision returned int32 holding 16-bit values
        arr = arr.astype(np.uint16)
    return arr


def _decode_png8(data: bytes) -> np.ndarray | None:
    """RGB float32 ``(3, H, W)`` of the bytes of an 8-bit non-interlaced PNG by the fast decoder
    (:mod:`._png8`), or None (Pillow then decodes it: other kinds, and anything unusual, keep Pillow's
    behaviour)."""
    from . import _png8

    return _png8.decode(data)


def _decode_tiff(path: Path) -> np.ndarray | None:
    """Decode a TIFF with tifffile; None when tifffile is not installed."""
    try:
        import tifffile
    except ImportError:  # pragma: no cover - tifffile ships with scikit-image
        return None
    try:
        arr = tifffile.imread(path, key=0)
    except Exception as exc:
        raise DecodeError(f"{path}: cannot decode TIFF ({type(exc).__name__}: {exc})") from exc
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[2] not in (1, 2, 3, 4):
        arr = arr.transpose(1, 2, 0)  # planar (C, H, W) storage
    return arr


def _decode_pillow(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBomb / palette transparency warnings
            with _pil_open(path) as src:
                src.load()
                mode = src.mode
                img: Image.Image = src
                if mode in ("P", "PA"):
                    img = src.convert("RGBA" if ("transparency" in src.info or mode == "PA") else "RGB")
                elif mode == "I":
                    arr32 = np.asarray(src)
                    if arr32.min() < 0 or arr32.max() > 65535:
                        raise DecodeError(f"{path}: 32-bit integer image values outside 0..65535")
                    return arr32.astype(np.uint16)
                elif mode not in ("1", "L", "LA", "RGB", "RGBA", "I;16", "I;16B", "I;16L", "F"):
                    img = src.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, ...
                arr = np.asarray(img)
    except DecodeError:
        raise
    except UnidentifiedImageError as exc:
        raise DecodeError(f"{path}: not a readable image ({exc})") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise DecodeError(f"{path}: cannot decode ({exc}); the file may be truncated or corrupt") from exc
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    if mode in ("I;16", "I;16B", "I;16L"):
        arr = arr.astype(np.uint16)
    return arr


def read_array(path: str | os.PathLike[str], max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an image file to RGB float32 ``(3, H, W)`` in [0, 1] following rule ``rgb-v1``.

    Args:
        path: image file (PNG, JPEG, BMP, TIFF, WebP).
        max_pixels: refuse files whose header declares more pixels (None or 0: no limit).

    Returns:
        ``numpy.ndarray`` of shape ``(3, H, W)``, dtype float32, values in [0, 1].

    Raises:
        DecodeError: zero-byte, truncated, corrupt, missing, unsupported or too large file, or any
            decoder failure including ``MemoryError`` (the message names the file).
    """
    p = Path(path)
    try:
        return _read_array(p, max_pixels)
    except DecodeError:
        raise
    except MemoryError as exc:
        raise DecodeError(f"{p}: out of memory while decoding (lower --max-pixels or --workers)") from exc
    except Exception as exc:  # noqa: BLE001 - any decoder failure is one decode row, never a crashed run
        raise DecodeError(f"{p}: decoder failed ({type(exc).__name__}: {exc})") from exc


def _read_array(p: Path, max_pixels: int | None) -> np.ndarray:
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise DecodeError(f"{p}: cannot read ({exc.strerror or exc})") from exc
    if size == 0:
        raise DecodeError(f"{p}: file is empty (0 bytes)")
    check_pixels(p, max_pixels)
    suffix = p.suffix.lower()
    arr: np.ndarray | None = None
    if suffix == ".png":
        try:
            data = p.read_bytes()  # read once: both PNG decoders work on the bytes
        except OSError as exc:
            raise DecodeError(f"{p}: cannot read ({exc})") from exc
        if len(data) >= 25 and data.startswith(_PNG_MAGIC) and data[24] == 16:
            arr = _decode_png16(data, p)
        elif len(data) >= 25 and data.startswith(_PNG_MAGIC) and data[24] == 8:
            fast = _decode_png8(data)
            if fast is not None:
                return fast
    elif suffix in (".tif", ".tiff"):
        arr = _decode_tiff(p)
    if arr is None:
        arr = _decode_pillow(p)
    return _to_rgb_float(arr, p)


def read_image(path: str | os.PathLike[str], max_pixels: int | None = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    """Decode an image file to a float32 tensor ``(3, H, W)`` in [0, 1] (rule ``rgb-v1``).

    Args:
        path: image file.
        max_pixels: as :func:`read_array`.

    Returns:
        ``torch.Tensor`` of shape ``(3, H, W)``, dtype float32, values in [0, 1].

    Raises:
        DecodeError: when the file cannot be decoded.
    """
    import torch

    return torch.from_numpy(read_array(path, max_pixels))


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(height, width)`` of an image, read from its header when possible.

    Raises:
        DecodeError: when the file cannot be read.
    """
    p = Path(path)
    size = declared_size(p)
    if size is not None:
        return size
    arr = read_array(p)
    return int(arr.shape[1]), int(arr.shape[2])


def write_png(path: str | os.PathLike[str], img: np.ndarray) -> None:
    """Write an RGB float image ``(3, H, W)`` or ``(H, W, 3)`` in [0, 1] as an 8-bit PNG (rounded)."""
    from PIL import Image

    a = np.asarray(img, dtype=np.float64)
    if a.ndim == 3 and a.shape[0] == 3 and a.shape[2] != 3:
        a = a.transpose(1, 2, 0)
    u8 = np.clip(np.round(a * 255.0), 0, 255).astype(np.uint8)
    Image.fromarray(u8).save(path, format="PNG")

