"""Acceptance test of the diagnostics issue on the bundled demo.

The demo's ``sharp-cast`` method is shifted by a known (dx, dy) and given a bright blue cast
(recorded in ``demo.json``); ``generative-k3`` has three samples per input.
"""

from __future__ import annotations

import json

import pytest

from paradigm.demo import make_demo
from paradigm.engine import ScoreConfig, run_score


@pytest.fixture(scope="module")
def demo_scores(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, object]:
    root = tmp_path_factory.mktemp("demo")
    make_demo(root, size=192)
    info = json.loads((root / "demo.json").read_text())
    res = run_score(
        ScoreConfig(
            results=root / "results", gt=root / "gt", metrics="geometry,colour_cast,psnr,ssim",
            cache=None, progress=False,
        )
    )
    return info, res


def test_shifted_method_is_flagged_with_the_applied_shift(demo_scores: tuple[dict, object]) -> None:
    info, res = demo_scores
    shift = info["methods"]["sharp-cast"]["shift"]
    df = res.scores  # type: ignore[attr-defined]
    sc = df[df.method == "sharp-cast"]
    assert (sc.fov_flag == 1).all()
    assert (abs(sc.shift_dx - shift["dx"]) <= 1.0).all(), sc.shift_dx.tolist()
    assert (abs(sc.shift_dy - shift["dy"]) <= 1.0).all(), sc.shift_dy.tolist()
    others = df[df.method.isin(["bicubic", "denoise-classic"])]
    assert (others.fov_flag == 0).all()


def test_colour_cast_is_reported(demo_scores: tuple[dict, object]) -> None:
    _, res = demo_scores
    df = res.scores  # type: ignore[attr-defined]
    means = df.groupby("method")[["delta_L", "delta_b", "colour_share"]].mean()
    # brighter and bluer (b* down) than the GT, by several Lab units; the others stay near 0
    assert means.loc["sharp-cast", "delta_L"] > 3 and means.loc["sharp-cast", "delta_b"] < -5
    for m in ("bicubic", "denoise-classic"):
        assert abs(means.loc[m, "delta_L"]) < 1.5 and abs(means.loc[m, "delta_b"]) < 1.5


def test_multi_sample_method_has_larger_spread(demo_scores: tuple[dict, object]) -> None:
    _, res = demo_scores
    s = res.samples  # type: ignore[attr-defined]
    assert s is not None
    spread = s[s.metric == "psnr"].groupby("method").spread.mean()
    assert spread["generative-k3"] > 0
    for m in ("bicubic", "denoise-classic", "sharp-cast"):
        assert spread[m] == 0 or spread[m] != spread[m]  # one sample: zero (or undefined) spread
        assert spread["generative-k3"] > (0 if spread[m] != spread[m] else spread[m])
