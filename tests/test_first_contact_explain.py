"""``paradigm explain``: a colour bar under the heat map, and a pointer to the diagnostic that explains
the largest contributor (issue 16, item 5). Images are constructed so the cause is known: a shifted
copy of the GT (misregistration) and a globally tinted copy (colour cast)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from paradigm.cli import cli
from paradigm.composite.explain import _CMAP, colorize, with_colour_bar


def _scene(size: int = 96) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    r = 0.5 + 0.25 * np.sin(9 * xx + 3 * yy) + 0.2 * np.cos(17 * yy * xx)
    g = 0.5 + 0.3 * np.sin(5 * yy - 7 * xx)
    b = 0.5 + 0.3 * np.cos(11 * xx * yy + 2 * xx)
    blob = np.exp(-((xx - 0.3) ** 2 + (yy - 0.6) ** 2) / 0.01)
    return np.clip(np.stack([r + 0.3 * blob, g - 0.3 * blob, b], -1), 0, 1)


def _save(path: Path, a: np.ndarray) -> Path:
    Image.fromarray((np.clip(a, 0, 1) * 255).round().astype(np.uint8)).save(path)
    return path


@pytest.fixture()
def pair(tmp_path: Path) -> dict[str, Path]:
    big = _scene(128)
    gt = big[16:112, 16:112]
    shifted = big[12:108, 10:106]  # content moved right by 6 px and down by 4 px
    tinted = gt * np.array([0.85, 0.9, 1.0]) + np.array([0.0, 0.0, 0.12])
    return {"gt": _save(tmp_path / "gt.png", gt), "shifted": _save(tmp_path / "shifted.png", shifted),
            "tinted": _save(tmp_path / "tinted.png", tinted)}


def _explain(out: Path, gt: Path, *extra: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["explain", str(out), "--gt", str(gt), "--metrics", "psnr,ssim,ciede2000",
                                 "--composite", "default-v1", *extra])
    return r.exit_code, r.output


def test_misregistration_points_to_geometry(pair, tmp_path):
    code, text = _explain(pair["shifted"], pair["gt"], "--heatmap", str(tmp_path / "h.png"))
    assert code == 0, text
    line = next(ln for ln in text.splitlines() if ln.startswith("largest contributor"))
    assert "explained by geometry" in line and "GT px" in line
    dx, dy = (float(v) for v in re.search(r"displaced by \(([-+\d.]+), ([-+\d.]+)\)", line).groups())
    assert abs(dx - 6) < 0.6 and abs(dy - 4) < 0.6  # the constructed shift
    assert "--align similarity" in line


def test_colour_cast_points_to_colour_cast(pair):
    code, text = _explain(pair["tinted"], pair["gt"], "--json")
    assert code == 0, text
    d = json.loads(text)["diagnosis"]
    assert d["diagnostic"] == "colour_cast" and d["readings"]["colour_cast"]["colour_share"] > 0.5
    assert d["largest"] in ("psnr", "ssim", "ciede2000")


def test_identical_result_has_nothing_to_point_to_or_says_local(pair):
    code, text = _explain(pair["gt"], pair["gt"])
    assert code == 0, text
    assert "explained by" not in text


def test_heatmap_has_a_colour_bar(pair, tmp_path):
    heat = tmp_path / "h.png"
    code, text = _explain(pair["shifted"], pair["gt"], "--heatmap", str(heat))
    assert code == 0, text
    img = np.asarray(Image.open(heat).convert("RGB"))
    assert img.shape[0] > 96 + 20 and img.shape[1] >= 96
    bar = img[96 + 8].astype(int)  # a row through the bar
    # its ends are the colour map's ends (anchors of _CMAP: 0 -> (0, 0, 4), 1 -> (252, 255, 164))
    assert np.abs(bar[8] - _CMAP[0, 1:]).max() <= 2 and np.abs(bar[img.shape[1] - 9] - _CMAP[-1, 1:]).max() <= 2
    luma = bar[8 : img.shape[1] - 8] @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(luma) >= -1.0)  # dark to bright
    assert (img[96 + 18 :] < 100).any()  # tick labels and caption drawn in black


def test_with_colour_bar_keeps_the_map_pixels():
    m = np.linspace(0, 1, 40 * 30).reshape(30, 40)
    rgb = colorize(m)
    out = with_colour_bar(rgb, "squared error")
    assert out.shape == (30 + 46, 360, 3)
    assert np.array_equal(out[:30, :40], rgb)
