"""Issue 16 item 7: an oversized or undecodable image is one ``decode`` row, never the end of the run.

The hostile files are built byte by byte here (headers that declare huge sizes over a few bytes of
data), so the tests cost no memory: the point is that nothing is allocated for them.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import isolate_engine
from _helpers import save_random_png as save
from click.testing import CliRunner
from PIL import Image

import paradigm.io as pio
from paradigm.cli import cli
from paradigm.engine import ScoreConfig, run_score
from paradigm.io import DecodeError, read_array
from paradigm.metrics.base import Metric
from paradigm.signature import build_signature, signature_line


class TdMse(Metric):
    name = "td_mse"
    higher_is_better = False

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        assert ref is not None
        return ((x - ref) ** 2).flatten(1).mean(1).double()


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_engine(monkeypatch, [TdMse])


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_claiming(width: int, height: int, depth: int = 8) -> bytes:
    """A PNG whose IHDR declares ``width`` x ``height`` RGB, with only a few compressed rows of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * (3 * width * depth // 8)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(row * 4))
        + _chunk(b"IEND", b"")
    )


def bmp_claiming(width: int, height: int) -> bytes:
    """A 24-bit BMP header declaring ``width`` x ``height``, followed by 64 bytes of pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    body = info + b"\x00" * 64
    return b"BM" + struct.pack("<IHHI", 14 + len(body), 0, 0, 54) + body


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real 16x16 JPEG whose SOF0 segment is patched to declare ``width`` x ``height``."""
    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(buf, format="JPEG")
    data = bytearray(buf.getvalue())
    i = data.index(b"\xff\xc0")
    data[i + 5 : i + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def tiff_claiming(path: Path, width: int, height: int) -> None:
    """A real 16x16 TIFF whose ImageWidth/ImageLength tags are patched to ``width`` x ``height``."""
    import tifffile

    tifffile.imwrite(path, np.zeros((16, 16, 3), np.uint8), photometric="rgb")
    with tifffile.TiffFile(path) as tf:
        tags = {t.code: (t.valueoffset, t.dtype) for t in tf.pages[0].tags.values()}
    data = bytearray(path.read_bytes())
    for code, value in ((256, width), (257, height)):
        off, dtype = tags[code]
        fmt = "<H" if int(dtype) == 3 else "<I"
        data[off : off + struct.calcsize(fmt)] = struct.pack(fmt, value)
    path.write_bytes(bytes(data))


def test_png_declaring_40000_squared_is_a_decode_error(tmp_path: Path) -> None:
    p = tmp_path / "bomb.png"
    p.write_bytes(png_claiming(40000, 40000))
    with pytest.raises(DecodeError, match="40000x40000 = 1,600,000,000 pixels.*--max-pixels"):
        read_array(p)


def test_16bit_png_bomb_is_refused_before_torchvision(tmp_path: Path) -> None:
    p = tmp_path / "bomb16.png"
    p.write_bytes(png_claiming(40000, 40000, depth=16))
    with pytest.raises(DecodeError, match="--max-pixels"):
        read_array(p)


@pytest.mark.parametrize("kind", ["bmp", "jpg"])
def test_bmp_and_jpeg_bombs_are_ours_not_pillows(tmp_path: Path, kind: str) -> None:
    p = tmp_path / f"bomb.{kind}"
    p.write_bytes(bmp_claiming(40000, 40000) if kind == "bmp" else jpeg_claiming(60000, 60000))
    with pytest.raises(DecodeError, match="--max-pixels"):
        read_array(p)


def test_tiff_declaring_20000_squared_is_refused_from_its_tags(tmp_path: Path) -> None:
    p = tmp_path / "bomb.tif"
    tiff_claiming(p, 20000, 20000)
    with pytest.raises(DecodeError, match="20000x20000 = 400,000,000 pixels"):
        read_array(p)


def test_limit_is_adjustable_and_zero_means_none(tmp_path: Path) -> None:
    p = tmp_path / "small.png"
    save(p, 0, size=40)  # 1600 pixels
    assert read_array(p, max_pixels=1600).shape == (3, 40, 40)
    with pytest.raises(DecodeError, match="1,599"):
        read_array(p, max_pixels=1599)
    assert read_array(p, max_pixels=0).shape == (3, 40, 40)


def test_memory_error_in_a_decoder_is_a_decode_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "x.png"
    save(p, 1)

    def boom(path: Path) -> np.ndarray:
        raise MemoryError()

    monkeypatch.setattr(pio, "_decode_pillow", boom)
    monkeypatch.setattr(pio, "_decode_png8", boom)  # the fast 8-bit PNG decoder too
    with pytest.raises(DecodeError, match="out of memory"):
        read_array(p)


def _tree(root: Path) -> None:
    for i in range(3):
        save(root / "gt" / f"im{i}.png", i)
        save(root / "res" / "m" / f"im{i}.png", 10 + i)
    (root / "res" / "m" / "im1.png").write_bytes(png_claiming(40000, 40000))


def test_one_bomb_is_one_decode_row_and_the_run_goes_on(tmp_path: Path) -> None:
    _tree(tmp_path)
    r = run_score(ScoreConfig(results=tmp_path / "res", gt=tmp_path / "gt", metrics="td_mse", workers=0, cache=None))
    assert sorted(r.scores["image"]) == ["im0", "im2"]
    rows = r.errors[r.errors["stage"] == "decode"]
    assert len(rows) == 1 and rows.iloc[0]["path"].endswith("im1.png")
    assert "--max-pixels" in rows.iloc[0]["reason"]
    assert r.run_info["signature"]["max_pixels"] == pio.DEFAULT_MAX_PIXELS


def test_memory_error_mid_run_is_a_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path)
    save(tmp_path / "res" / "m" / "im1.png", 11)
    real = pio._decode_pillow

    def flaky(path: Path) -> np.ndarray:
        if path.name == "im2.png" and "res" in path.parts:
            raise MemoryError()
        return real(path)

    monkeypatch.setattr(pio, "_decode_pillow", flaky)
    monkeypatch.setattr(pio, "_decode_png8", lambda data: None)  # every PNG through Pillow
    r = run_score(ScoreConfig(results=tmp_path / "res", gt=tmp_path / "gt", metrics="td_mse", workers=2, cache=None))
    assert sorted(r.scores["image"]) == ["im0", "im1"]
    assert list(r.errors["stage"]) == ["decode"] and "out of memory" in r.errors.iloc[0]["reason"]


def test_cli_bomb_exits_3_with_outputs_and_the_limit_in_the_signature(tmp_path: Path) -> None:
    _tree(tmp_path)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["score", str(tmp_path / "res"), "--gt", str(tmp_path / "gt"), "--metrics", "td_mse",
              "--no-cache", "-q", "--out", str(out), "--max-pixels", "1000000"],
    )
    assert res.exit_code == 3, res.output
    assert "Traceback" not in res.output
    assert (out / "scores.csv").is_file()
    assert list(pd.read_csv(out / "errors.csv")["stage"]) == ["decode"]
    assert "max-pixels:1000000" in res.output


def test_signature_line_shows_only_a_non_default_limit() -> None:
    assert "max-pixels" not in signature_line(build_signature([]))
    assert "max-pixels:0" in signature_line(build_signature([], max_pixels=0))
