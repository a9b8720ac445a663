"""``geometry`` reports the scale of the output as delivered, in GT pixels (issue 16, item 5).

The engine resizes an output of another size to the GT size before any metric, so a 2x output of
the same view used to show ``scale = 1.000``. Expected values come from the construction of the
images (a 2x bicubic upscale is delivered at 2 output pixels per GT pixel), not from the code.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import paradigm
from paradigm.metrics.diagnostics import delivered_factor, geometry, scale_as_delivered


def _scene(size: int = 128) -> np.ndarray:
    """A smooth, textured test scene (uint8 RGB) with structure at several scales."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    r = 0.5 + 0.25 * np.sin(9 * xx + 3 * yy) + 0.2 * np.cos(17 * yy * xx)
    g = 0.5 + 0.3 * np.sin(5 * yy - 7 * xx)
    b = 0.5 + 0.3 * np.cos(11 * xx * yy + 2 * xx)
    blob = np.exp(-((xx - 0.3) ** 2 + (yy - 0.6) ** 2) / 0.01)
    img = np.stack([r + 0.3 * blob, g - 0.3 * blob, b], -1)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def test_delivered_factor_by_hand():
    assert delivered_factor((256, 256), (128, 128)) == 2.0
    assert delivered_factor((64, 64), (128, 128)) == 0.5
    assert delivered_factor((128, 128), (128, 128)) == 1.0
    assert delivered_factor((100, 400), (100, 100)) == 2.0  # sqrt(1 * 4)
    assert math.isnan(delivered_factor((0, 10), (10, 10)))


def test_geometry_delivered_size_option():
    ref = torch.from_numpy(_scene()).permute(2, 0, 1)[None].double() / 255
    g1 = geometry(ref, ref)
    g2 = geometry(ref, ref, delivered_size=(256, 256))
    assert float(g1["scale"][0]) == pytest.approx(1.0, abs=1e-3)
    assert float(g2["scale"][0]) == pytest.approx(2.0, abs=2e-3)
    assert float(g2["fov_flag"][0]) == 0.0  # same view: not a field-of-view change
    g3 = geometry(torch.cat([ref, ref]), torch.cat([ref, ref]), delivered_size=[[128, 128], [64, 64]])
    assert [round(float(v), 3) for v in g3["scale"]] == [1.0, 0.5]


def test_scale_as_delivered_reads_headers(tmp_path):
    for name, size in (("a.png", 256), ("b.png", 128)):
        Image.fromarray(np.zeros((size, size, 3), np.uint8)).save(tmp_path / name)
    df = pd.DataFrame({"output_path": [str(tmp_path / "a.png"), str(tmp_path / "b.png"), str(tmp_path / "gone.png")],
                       "height": [128, 128, 128], "width": [128, 128, 128], "scale": [1.0, 1.05, 1.0]})
    out = scale_as_delivered(df)
    assert out.iloc[0] == 2.0 and out.iloc[1] == 1.05 and math.isnan(out.iloc[2])


def test_score_reports_a_2x_output_at_scale_2(tmp_path):
    """End to end through ``paradigm score``: a 2x output of the same view reports scale 2, fov_flag 0."""
    gt = _scene(128)
    Path(tmp_path / "gt").mkdir()
    Image.fromarray(gt).save(tmp_path / "gt" / "a.png")
    for m, img in (("same", Image.fromarray(gt)),
                   ("twice", Image.fromarray(gt).resize((256, 256), Image.Resampling.BICUBIC)),
                   ("half", Image.fromarray(gt).resize((64, 64), Image.Resampling.BICUBIC))):
        (tmp_path / "res" / m).mkdir(parents=True)
        img.save(tmp_path / "res" / m / "a.png")
    from paradigm.engine import ScoreConfig, run_score

    cache = tmp_path / "cache.sqlite"
    for attempt in ("fresh", "cached"):
        res = run_score(ScoreConfig(results=tmp_path / "res", gt=tmp_path / "gt", metrics="geometry",
                                    cache=cache, progress=False))
        by = res.scores.set_index("method")
        assert by.loc["same", "scale"] == pytest.approx(1.0, abs=0.01), attempt
        assert by.loc["twice", "scale"] == pytest.approx(2.0, abs=0.02), attempt
        assert by.loc["half", "scale"] == pytest.approx(0.5, abs=0.01), attempt
        assert by.loc["twice", "fov_flag"] == 0.0
        assert abs(by.loc["twice", "shift_dx"]) < 1.0 and abs(by.loc["twice", "shift_dy"]) < 1.0


def test_units_are_documented():
    info = paradigm.metric_info("geometry")
    assert "GT px" in info["description"] and "as delivered" in info["description"]
    docs = (Path(__file__).resolve().parents[1] / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    assert "ground-truth pixels" in docs and "as delivered" in docs
