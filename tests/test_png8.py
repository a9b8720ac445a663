"""The fast 8-bit PNG decoder (paradigm._png8): the same values as Pillow, and Pillow for everything else.

Expected values are the source arrays divided by 255 in numpy (and Pillow's decoding of the same file),
never the decoder under test.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np
import pytest
from _png_writer import chunk, filtered_rows, png_bytes
from PIL import Image

from paradigm import _png8
from paradigm.io import DecodeError, _decode_pillow, _to_rgb_float, read_array


def _source(channels: int, h: int = 13, w: int = 17, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed + channels)
    a = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    a[0, 0] = 0
    a[-1, -1] = 255
    a[h // 2] = a[h // 2 - 1]  # repeated rows and smooth runs make every predictor matter
    a[:, 3] = a[:, 2]
    return a


def _expected(a: np.ndarray) -> np.ndarray:
    """RGB float32 (3, H, W) of ``a``: grey repeated, alpha dropped, divided by 255 in float32."""
    rgb = np.repeat(a[..., :1], 3, axis=2) if a.shape[2] <= 2 else a[..., :3]
    return (rgb.astype(np.float32) / np.float32(255.0)).transpose(2, 0, 1)


def _pillow(path: Path) -> np.ndarray:
    return _to_rgb_float(_decode_pillow(path), path)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("filters", [(0,), (1,), (2,), (3,), (4,), (4, 1, 3, 2, 0)])
def test_every_filter_and_colour_type_matches_pillow_bit_for_bit(tmp_path: Path, channels: int, filters: tuple[int, ...]) -> None:
    a = _source(channels)
    p = tmp_path / "a.png"
    p.write_bytes(png_bytes(a, filters))
    got = _png8.decode(p.read_bytes())
    assert got is not None and got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got.view(np.uint32), _expected(a).view(np.uint32))
    np.testing.assert_array_equal(read_array(p).view(np.uint32), _pillow(p).view(np.uint32))


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_pillow_written_files(tmp_path: Path, mode: str) -> None:
    """Files from Pillow's own encoder (its adaptive filter choice, several IDAT chunks when large)."""
    y, x = np.mgrid[0:300, 0:420]
    rgba = np.stack([(x * 255) // 419, (y * 255) // 299, (x + y) % 256, (x * y) % 256], axis=-1).astype(np.uint8)
    img = Image.fromarray(rgba, "RGBA").convert(mode)
    p = tmp_path / "p.png"
    img.save(p, compress_level=9)
    assert _png8.decode(p.read_bytes()) is not None
    np.testing.assert_array_equal(read_array(p), _pillow(p))


def test_split_image_data_and_ancillary_chunks(tmp_path: Path) -> None:
    a = _source(3)
    p = tmp_path / "s.png"
    p.write_bytes(png_bytes(a, (4, 1), pieces=5, extra=chunk(b"gAMA", b"\x00\x00\xb1\x8f") + chunk(b"tEXt", b"k\x00v")))
    np.testing.assert_array_equal(read_array(p), _expected(a))


def test_the_zlib_module_when_libdeflate_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = _source(4)
    data = png_bytes(a, (4, 3))
    monkeypatch.setattr(_png8, "_libdeflate", lambda: None)  # as when the package is not installed
    got = _png8.decode(data)
    assert got is not None
    np.testing.assert_array_equal(got, _expected(a))
    assert _png8._inflate(zlib.compress(b"x" * 10), 9) is None  # longer than declared
    assert _png8._inflate(zlib.compress(b"x" * 10), 11) is None  # shorter


def _ihdr_patched(data: bytes, **fields: int) -> bytes:
    import struct

    w, h, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", data[16:29])
    values = {"depth": depth, "ctype": ctype, "interlace": interlace, **fields}
    body = struct.pack(">IIBBBBB", w, h, values["depth"], values["ctype"], comp, filt, values["interlace"])
    return data[:8] + chunk(b"IHDR", body) + data[33:]


def test_unusual_files_go_to_pillow(tmp_path: Path) -> None:
    """None (Pillow decides) for other kinds and for anything unusual; read_array keeps Pillow's result."""
    a = _source(3)
    good = png_bytes(a, (4,))
    palette = io.BytesIO()
    Image.fromarray(a).convert("P").save(palette, format="PNG")
    cases = {
        "palette": palette.getvalue(),
        "interlaced": _ihdr_patched(good, interlace=1),
        "2-bit": _ihdr_patched(good, depth=2, ctype=0),
        "16-bit": png_bytes(a.astype(np.uint16) * 257),
        "truncated": good[:-20],
        "no IEND": good[:-12],
        "bad IHDR CRC": good[:29] + b"\x00\x00\x00\x00" + good[33:],
        "animated": good[:33] + chunk(b"acTL", b"\x00\x00\x00\x01\x00\x00\x00\x00") + good[33:],
        "not a PNG": b"GIF89a" + good[6:],
    }
    split = png_bytes(a, (4,), pieces=2)
    second = split.index(b"IDAT", split.index(b"IDAT") + 4) - 4
    cases["IDAT after another chunk after IDAT"] = split[:second] + chunk(b"tEXt", b"k\x00v") + split[second:]
    for name, data in cases.items():
        assert _png8.decode(data) is None, name
    rows = bytearray(filtered_rows(a, (0,)))
    rows[(1 + a.shape[1] * 3) * 5] = 7  # row 5's filter byte
    assert _png8.decode(good[:33] + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b"")) is None
    for name in ("palette", "bad IHDR CRC"):
        p = tmp_path / f"{name}.png"
        p.write_bytes(cases[name])
        if name == "bad IHDR CRC":
            with pytest.raises(DecodeError):
                read_array(p)
        else:
            np.testing.assert_array_equal(read_array(p), _pillow(p))


def test_corrupt_image_data_is_still_a_decode_error(tmp_path: Path) -> None:
    a = _source(3, 40, 40)
    data = bytearray(png_bytes(a, (4,)))
    idat = data.index(b"IDAT") + 4
    data[idat + 10: idat + 30] = bytes(20)
    p = tmp_path / "c.png"
    p.write_bytes(bytes(data))
    with pytest.raises(DecodeError, match=str(p.name)):
        read_array(p)


def test_an_image_data_crc_is_ignored_as_pillow_does(tmp_path: Path) -> None:
    a = _source(3)
    data = png_bytes(a, (4,))
    at = data.index(b"IEND") - 8  # the IDAT's CRC
    p = tmp_path / "crc.png"
    p.write_bytes(data[:at] + b"\x00\x00\x00\x00" + data[at + 4:])
    np.testing.assert_array_equal(read_array(p), _expected(a))
    np.testing.assert_array_equal(_pillow(p), _expected(a))


def test_libdeflate_lookup_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "deflate", None)  # ``import deflate`` raises ImportError
    assert _png8._libdeflate.__wrapped__() is None
