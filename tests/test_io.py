"""Decoding rule rgb-v1 (paradigm.io): formats, bit depths, gray/palette/alpha, broken files."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from _png_writer import png_bytes
from PIL import Image

from paradigm.errors import InputError
from paradigm.io import COLOUR_RULE, DecodeError, image_size, is_image_path, read_array, read_image


def _rgb8(h: int = 12, w: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def png16(a: np.ndarray, filter_type: int = 0) -> bytes:
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit RGB); filter 0 (None) or 2 (Up)."""
    if a.ndim == 2:
        a = a[:, :, None]
    h, w, c = a.shape
    ct = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    rows = [a[y].astype(">u2").tobytes() for y in range(h)]
    raw = b""
    prev = bytes(len(rows[0]))
    for r in rows:
        if filter_type == 2:
            r2 = bytes((x - p) & 0xFF for x, p in zip(r, prev, strict=True))
            raw += b"\x02" + r2
        else:
            raw += b"\x00" + r
        prev = r

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, ct, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_png8_rgb_exact(tmp_path: Path) -> None:
    a = _rgb8()
    p = tmp_path / "a.png"
    Image.fromarray(a).save(p)
    x = read_array(p)
    assert x.shape == (3, 12, 10) and x.dtype == np.float32
    np.testing.assert_allclose(x, a.transpose(2, 0, 1) / 255.0, atol=1e-7)
    t = read_image(p)
    assert tuple(t.shape) == (3, 12, 10) and str(t.dtype) == "torch.float32"
    assert COLOUR_RULE == "rgb-v1"


@pytest.mark.parametrize("filt", [0, 2])
def test_png16_rgb_keeps_16_bits(tmp_path: Path, filt: int) -> None:
    a = np.random.default_rng(1).integers(0, 65536, (7, 9, 3)).astype(np.uint16)
    p = tmp_path / "a16.png"
    p.write_bytes(png16(a, filt))
    x = read_array(p)
    np.testing.assert_allclose(x, a.transpose(2, 0, 1) / 65535.0, atol=1e-7)


@pytest.mark.parametrize("shape", [(6, 7, 3), (5, 4, 4), (4, 5)])
def test_png16_numpy_fallback_all_filters(tmp_path: Path, shape: tuple[int, ...]) -> None:
    from paradigm.io import _png16_numpy

    a = np.random.default_rng(7).integers(0, 65536, shape).astype(np.uint16)
    for filt in (0, 1, 2, 3, 4):
        data = _png16_filtered(a, filt)
        got = _png16_numpy(data, tmp_path / "x.png")
        expect = a if a.ndim == 3 else a[:, :, None]
        np.testing.assert_array_equal(got, expect)


def _png16_filtered(a: np.ndarray, filt: int) -> bytes:
    """16-bit PNG with every row encoded with PNG filter ``filt`` (0..4)."""
    return png_bytes(a.astype(np.uint16), filters=(filt,))


@pytest.mark.parametrize("filt", [1, 3, 4])
def test_png16_filters_via_default_decoder(tmp_path: Path, filt: int) -> None:
    a = np.random.default_rng(8).integers(0, 65536, (6, 7, 3)).astype(np.uint16)
    p = tmp_path / "f.png"
    p.write_bytes(_png16_filtered(a, filt))
    np.testing.assert_allclose(read_array(p), a.transpose(2, 0, 1) / 65535.0, atol=1e-7)


def test_png16_rgba_drops_alpha(tmp_path: Path) -> None:
    a = np.random.default_rng(2).integers(0, 65536, (5, 6, 4)).astype(np.uint16)
    p = tmp_path / "a16a.png"
    p.write_bytes(png16(a))
    np.testing.assert_allclose(read_array(p), a[:, :, :3].transpose(2, 0, 1) / 65535.0, atol=1e-7)


def test_png16_gray(tmp_path: Path) -> None:
    g = np.random.default_rng(3).integers(0, 65536, (6, 5)).astype(np.uint16)
    p = tmp_path / "g16.png"
    p.write_bytes(png16(g))
    x = read_array(p)
    assert x.shape == (3, 6, 5)
    for c in range(3):
        np.testing.assert_allclose(x[c], g / 65535.0, atol=1e-7)


def test_gray8_replicated(tmp_path: Path) -> None:
    g = _rgb8()[:, :, 0]
    p = tmp_path / "g.png"
    Image.fromarray(g, mode="L").save(p)
    x = read_array(p)
    assert x.shape == (3, 12, 10)
    assert np.array_equal(x[0], x[1]) and np.array_equal(x[1], x[2])
    np.testing.assert_allclose(x[0], g / 255.0, atol=1e-7)


def test_palette_to_rgb(tmp_path: Path) -> None:
    a = _rgb8()
    im = Image.fromarray(a).quantize(colors=16)
    p = tmp_path / "p.png"
    im.save(p)
    x = read_array(p)
    expect = np.asarray(im.convert("RGB")).transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(x, expect, atol=1e-7)


def test_palette_with_transparency(tmp_path: Path) -> None:
    im = Image.fromarray(_rgb8()).quantize(colors=8)
    p = tmp_path / "pt.png"
    im.save(p, transparency=0)
    x = read_array(p)
    expect = np.asarray(im.convert("RGB")).transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(x, expect, atol=1e-7)


def test_alpha_dropped(tmp_path: Path) -> None:
    a = _rgb8()
    alpha = np.zeros(a.shape[:2], np.uint8)  # fully transparent: colour kept as stored
    p = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([a, alpha]), mode="RGBA").save(p)
    np.testing.assert_allclose(read_array(p), a.transpose(2, 0, 1) / 255.0, atol=1e-7)
    la = tmp_path / "la.png"
    Image.fromarray(np.dstack([a[:, :, 0], alpha]), mode="LA").save(la)
    x = read_array(la)
    np.testing.assert_allclose(x[2], a[:, :, 0] / 255.0, atol=1e-7)


def test_jpeg_bmp_webp(tmp_path: Path) -> None:
    a = _rgb8(16, 16)
    Image.fromarray(a).save(tmp_path / "a.bmp")
    np.testing.assert_allclose(read_array(tmp_path / "a.bmp"), a.transpose(2, 0, 1) / 255.0, atol=1e-7)
    Image.fromarray(a).save(tmp_path / "a.webp", lossless=True)
    np.testing.assert_allclose(read_array(tmp_path / "a.webp"), a.transpose(2, 0, 1) / 255.0, atol=1e-7)
    smooth = np.tile(np.linspace(0, 255, 16, dtype=np.uint8)[None, :, None], (16, 1, 3))
    Image.fromarray(smooth).save(tmp_path / "a.jpg", quality=95)
    x = read_array(tmp_path / "a.JPG" if (tmp_path / "a.JPG").exists() else tmp_path / "a.jpg")
    assert x.shape == (3, 16, 16)
    assert np.abs(x - smooth.transpose(2, 0, 1) / 255.0).max() < 0.05


def test_tiff_8_16_float(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    a8 = _rgb8()
    tifffile.imwrite(tmp_path / "a8.tif", a8)
    np.testing.assert_allclose(read_array(tmp_path / "a8.tif"), a8.transpose(2, 0, 1) / 255.0, atol=1e-7)
    a16 = np.random.default_rng(4).integers(0, 65536, (8, 7, 3)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "a16.tiff", a16)
    np.testing.assert_allclose(read_array(tmp_path / "a16.tiff"), a16.transpose(2, 0, 1) / 65535.0, atol=1e-7)
    f = np.random.default_rng(5).uniform(-0.1, 1.1, (8, 7, 3)).astype(np.float32)
    tifffile.imwrite(tmp_path / "f.tif", f, photometric="rgb")
    x = read_array(tmp_path / "f.tif")
    np.testing.assert_allclose(x, np.clip(f, 0, 1).transpose(2, 0, 1), atol=1e-7)
    g16 = a16[:, :, 0]
    tifffile.imwrite(tmp_path / "g16.tif", g16)
    np.testing.assert_allclose(read_array(tmp_path / "g16.tif")[1], g16 / 65535.0, atol=1e-7)
    nan = f.copy()
    nan[0, 0, 0] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", nan, photometric="rgb")
    with pytest.raises(DecodeError, match="NaN"):
        read_array(tmp_path / "nan.tif")


def test_exif_orientation_not_applied(tmp_path: Path) -> None:
    a = _rgb8(8, 16)
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 CW on display
    im.save(tmp_path / "o.jpg", exif=exif.tobytes())
    assert read_array(tmp_path / "o.jpg").shape == (3, 8, 16)


def test_zero_byte_truncated_garbage_missing(tmp_path: Path) -> None:
    z = tmp_path / "zero.png"
    z.write_bytes(b"")
    with pytest.raises(DecodeError, match="empty"):
        read_array(z)
    buf = io.BytesIO()
    Image.fromarray(_rgb8(64, 64)).save(buf, format="PNG")
    t = tmp_path / "trunc.png"
    t.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(DecodeError, match="trunc"):
        read_array(t)
    g = tmp_path / "text.png"
    g.write_text("not an image")
    with pytest.raises(DecodeError):
        read_array(g)
    with pytest.raises(DecodeError, match="cannot read"):
        read_array(tmp_path / "missing.png")
    t16 = tmp_path / "t16.png"
    t16.write_bytes(png16(np.ones((20, 20, 3), np.uint16))[:60])
    with pytest.raises(DecodeError):
        read_array(t16)
    assert issubclass(DecodeError, InputError)


def test_truncated_jpeg(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(_rgb8(64, 64)).save(buf, format="JPEG")
    t = tmp_path / "trunc.jpg"
    t.write_bytes(buf.getvalue()[:200])
    with pytest.raises(DecodeError):
        read_array(t)


def test_helpers(tmp_path: Path) -> None:
    assert is_image_path("a/B.PNG") and is_image_path("x.tiff") and not is_image_path("notes.txt")
    Image.fromarray(_rgb8(9, 11)).save(tmp_path / "s.png")
    assert image_size(tmp_path / "s.png") == (9, 11)
