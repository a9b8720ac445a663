"""``paradigm demo``: the demo results tree."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from paradigm.cli import cli
from paradigm.demo import DEMO_IMAGES, SHIFT, make_demo
from paradigm.errors import InputError
from paradigm.layout import discover


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("demo") / "d"
    make_demo(d, size=64, seed=0)
    return d


def test_tree_layout(demo_dir: Path) -> None:
    n = len(DEMO_IMAGES)
    assert len(list((demo_dir / "gt" / "sr" / "demo").glob("*.png"))) == n
    assert len(list((demo_dir / "input" / "sr" / "demo").glob("*_x4.png"))) == n
    for m in ("bicubic", "denoise-classic", "sharp-cast"):
        assert len(list((demo_dir / "results" / m / "sr" / "demo").glob("*.png"))) == n
    assert len(list((demo_dir / "results" / "generative-k3" / "sr" / "demo").glob("*_s[0-2].png"))) == 3 * n
    with Image.open(demo_dir / "gt" / "sr" / "demo" / "astronaut.png") as im:
        assert im.size == (64, 64) and im.mode == "RGB"
    with Image.open(demo_dir / "input" / "sr" / "demo" / "astronaut_x4.png") as im:
        assert im.size == (16, 16)
    info = json.loads((demo_dir / "demo.json").read_text())
    assert info["methods"]["sharp-cast"]["shift"]["dx"] == SHIFT[0] == 6
    assert info["methods"]["sharp-cast"]["shift"]["dy"] == SHIFT[1] == 4
    assert "paradigm score" in (demo_dir / "README.txt").read_text()


def test_pairs_with_layout(demo_dir: Path) -> None:
    lay = discover(demo_dir / "results", demo_dir / "gt", demo_dir / "input")
    assert lay.form == "full" and lay.unpaired == []
    assert lay.methods == ["bicubic", "denoise-classic", "generative-k3", "sharp-cast"]
    assert len(lay.pairs) == 6 * len(DEMO_IMAGES)
    assert all(p.input_path is not None for p in lay.pairs)


def test_sharp_cast_is_shifted_and_cast(demo_dir: Path) -> None:
    def load(p: Path) -> np.ndarray:
        return np.asarray(Image.open(p), dtype=np.float64) / 255

    gt = load(demo_dir / "gt" / "sr" / "demo" / "astronaut.png")
    sc = load(demo_dir / "results" / "sharp-cast" / "sr" / "demo" / "astronaut.png")
    bic = load(demo_dir / "results" / "bicubic" / "sr" / "demo" / "astronaut.png")
    assert sc[..., 2].mean() > gt[..., 2].mean() + 0.05  # bluer
    assert np.abs(sc - gt).mean() > np.abs(bic - gt).mean()  # less faithful than bicubic
    dx, dy = SHIFT
    # the shift is the best integer alignment of sharp-cast's luma to bicubic's
    lum_s, lum_b = sc.mean(axis=2), bic.mean(axis=2)
    best = min(
        (np.abs(lum_s[dy + 8 : 56 + dy, dx + 8 : 56 + dx] - lum_b[8 + ddy : 56 + ddy, 8 + ddx : 56 + ddx]).mean(), (ddx, ddy))
         for ddx in range(0, 9) for ddy in range(0, 9)
    )
    assert best[1] == (0, 0)


def test_deterministic(tmp_path: Path, demo_dir: Path) -> None:
    make_demo(tmp_path / "again", size=64, seed=0)
    assert digest(tmp_path / "again") == digest(demo_dir)


def test_bad_size_and_non_empty_dir(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="multiple of 4"):
        make_demo(tmp_path / "x", size=66)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        make_demo(tmp_path / "busy", size=64)


def test_cli(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["demo", str(tmp_path / "d"), "--size", "32"], catch_exceptions=False)
    assert r.exit_code == 0 and "paradigm score" in r.stdout
    r2 = CliRunner().invoke(cli, ["demo", str(tmp_path / "e"), "--size", "30"])
    assert r2.exit_code == 1 and "multiple of 4" in r2.stderr
