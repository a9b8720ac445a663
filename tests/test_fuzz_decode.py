"""Fuzz (issue 16): a few hundred generated malformed image files fed to the decoder.

Every file must come back as a valid ``(3, H, W)`` float32 array in [0, 1] or raise
:class:`paradigm.io.DecodeError` (one ``decode`` row in a run) — never another exception, never a
crash of the process, within a time bound per file and a bounded growth of peak memory. The files
are derived (truncated, bytes flipped, declared sizes patched, magic bytes over random data, wrong
extensions) from small valid PNG (8/16-bit, palette, interlaced), JPEG, TIFF, BMP and WebP files.
"""

from __future__ import annotations

import io
import resource
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paradigm.io import DecodeError, read_array

N_FILES = 320
#: Decoding limit used here, so that no mutated header can make a file allocate much.
MAX_PIXELS = 1 << 22
SECONDS_PER_FILE = 10.0
MAX_RSS_GROWTH_MIB = 1024


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png16(arr: np.ndarray, interlace: bool = False) -> bytes:
    """A 16-bit PNG of ``arr`` (H, W, C uint16), written from the PNG specification (filter 0)."""
    h, w, c = arr.shape
    be = arr.astype(">u2")
    passes = [(0, 0, 1, 1)] if not interlace else [
        (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)
    ]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = be[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + sub[y].tobytes() for y in range(sub.shape[0]))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, {1: 0, 2: 4, 3: 2, 4: 6}[c], 0, 0, int(interlace))
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def _pil(arr: np.ndarray, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kw)
    return buf.getvalue()


def _png_palette(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).convert("P").save(buf, format="PNG", interlace=1)
    return buf.getvalue()


def _tiff(arr: np.ndarray) -> bytes:
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, arr)
    return buf.getvalue()


def seeds(rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """Small valid files of every supported kind: (extension, bytes)."""
    rgb = rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)
    u16 = rng.integers(0, 65536, (9, 14, 3), dtype=np.uint16)
    return [
        (".png", _pil(rgb, "PNG")),
        (".png", _pil(rgb[..., 0], "PNG")),
        (".png", _png_palette(rgb)),
        (".png", png16(u16)),
        (".png", png16(u16[..., :1], interlace=True)),
        (".png", png16(np.concatenate([u16, u16[..., :1]], axis=2))),
        (".jpg", _pil(rgb, "JPEG", quality=90)),
        (".bmp", _pil(rgb, "BMP")),
        (".webp", _pil(rgb, "WEBP")),
        (".tif", _tiff(rgb)),
        (".tif", _tiff(u16)),
        (".tif", _tiff(rng.random((8, 8), dtype=np.float32))),
    ]


def _patch_png_size(data: bytes, w: int, h: int) -> bytes:
    if not data.startswith(b"\x89PNG") or data[12:16] != b"IHDR":
        return data
    body = struct.pack(">II", w, h) + data[24:29]
    return data[:8] + _chunk(b"IHDR", body) + data[33:]


def _patch_bmp_size(data: bytes, w: int, h: int) -> bytes:
    return data[:18] + struct.pack("<ii", w, h) + data[26:] if data[:2] == b"BM" else data


def _patch_jpeg_size(data: bytes, w: int, h: int) -> bytes:
    i = data.find(b"\xff\xc0")
    if i < 0:
        return data
    return data[: i + 5] + struct.pack(">HH", min(h, 65535), min(w, 65535)) + data[i + 9 :]


def mutations(rng: np.random.Generator) -> list[Callable[[str, bytes], tuple[str, bytes]]]:
    def truncate(ext: str, d: bytes) -> tuple[str, bytes]:
        return ext, d[: int(rng.integers(0, len(d)))]

    def flip(ext: str, d: bytes) -> tuple[str, bytes]:
        b = bytearray(d)
        for _ in range(int(rng.integers(1, 9))):
            b[int(rng.integers(0, len(b)))] = int(rng.integers(0, 256))
        return ext, bytes(b)

    def flip_body(ext: str, d: bytes) -> tuple[str, bytes]:  # keep the header: errors deep in the data
        b = bytearray(d)
        for _ in range(int(rng.integers(1, 5))):
            b[int(rng.integers(min(40, len(b) - 1), len(b)))] ^= 1 << int(rng.integers(0, 8))
        return ext, bytes(b)

    def huge(ext: str, d: bytes) -> tuple[str, bytes]:
        w, h = (int(v) for v in rng.integers(1, 70000, 2))
        return ext, _patch_bmp_size(_patch_jpeg_size(_patch_png_size(d, w, h), w, h), w, h)

    def magic_garbage(ext: str, d: bytes) -> tuple[str, bytes]:
        return ext, d[: int(rng.integers(2, 40))] + rng.bytes(int(rng.integers(0, 4000)))

    def wrong_ext(ext: str, d: bytes) -> tuple[str, bytes]:
        return str(rng.choice([".png", ".jpg", ".tif", ".bmp", ".webp"])), d

    def random_bytes(ext: str, d: bytes) -> tuple[str, bytes]:
        return ext, rng.bytes(int(rng.integers(1, 3000)))

    return [truncate, flip, flip_body, huge, magic_garbage, wrong_ext, random_bytes]


def generate(folder: Path, n: int = N_FILES, seed: int = 16) -> list[Path]:
    rng = np.random.default_rng(seed)
    base = seeds(rng)
    muts = mutations(rng)
    files = []
    for i in range(n):
        ext, data = base[i % len(base)]
        for _ in range(1 + int(rng.integers(0, 2))):  # one or two mutations
            ext, data = muts[int(rng.integers(0, len(muts)))](ext, data)
        p = folder / f"f{i:03d}{ext}"
        p.write_bytes(data)
        files.append(p)
    return files


@pytest.mark.slow
def test_every_malformed_image_is_an_array_or_a_decode_error(tmp_path: Path) -> None:
    files = generate(tmp_path)
    assert len(files) >= 300
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    outcomes = {"array": 0, "decode_error": 0}
    for p in files:
        t0 = time.perf_counter()
        try:
            arr = read_array(p, max_pixels=MAX_PIXELS)
        except DecodeError as exc:
            assert str(p) in str(exc), f"{p.name}: the message must name the file: {exc}"
            outcomes["decode_error"] += 1
        except BaseException as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{p.name} ({p.stat().st_size} bytes) raised {type(exc).__name__}: {exc}")
        else:
            assert arr.dtype == np.float32 and arr.ndim == 3 and arr.shape[0] == 3, p.name
            assert np.isfinite(arr).all() and arr.min() >= 0 and arr.max() <= 1, p.name
            assert arr.shape[1] * arr.shape[2] <= MAX_PIXELS
            outcomes["array"] += 1
        took = time.perf_counter() - t0
        assert took < SECONDS_PER_FILE, f"{p.name} took {took:.1f} s to decode or refuse"
    growth_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    assert growth_mib < MAX_RSS_GROWTH_MIB, f"peak memory grew by {growth_mib:.0f} MiB"
    # the generator must exercise both outcomes substantially
    assert outcomes["decode_error"] >= 100 and outcomes["array"] >= 10, outcomes
