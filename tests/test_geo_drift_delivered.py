"""geo_drift measures the scale of the output as delivered (before the engine's resize to the GT), in GT pixels.

Expected values come from the definition: a pixel at the corner of an ``H x W`` image scaled by ``s``
about the centre moves by ``|s - 1| * hypot(H, W) / 2``; an output delivered at 2x the GT size of the
same view has ``s = 2`` (two output pixels per GT pixel), so its drift is one half-diagonal.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import paradigm
from paradigm.engine import ScoreConfig, run_score
from paradigm.metrics.stability import geometric_drift


def _photo(size: int = 128) -> np.ndarray:
    data = pytest.importorskip("skimage.data")
    a = np.asarray(data.astronaut(), dtype=np.uint8)
    h, w = a.shape[:2]
    return a[(h - size) // 2 : (h - size) // 2 + size, (w - size) // 2 : (w - size) // 2 + size]


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.astype(np.float64) / 255.0).permute(2, 0, 1)[None]


def _save(path: Path, a: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8)).save(path)


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(a.astype(np.float64), sigma=(sigma, sigma, 0), mode="nearest")


def test_function_delivered_2x_is_half_diagonal() -> None:
    gt = _tensor(_photo(128))
    half_diag = math.hypot(128, 128) / 2  # 90.51 GT pixels
    same = geometric_drift(gt, gt)
    assert float(same[0]) == pytest.approx(0.0, abs=1e-9)
    # delivered at the GT size: the value of the metric without a delivered size
    assert float(geometric_drift(gt, gt, delivered_size=(128, 128))[0]) == float(same[0])
    # identical content, delivered at 2x: scale 2 -> one half-diagonal
    big = geometric_drift(gt, gt, delivered_size=(256, 256))
    assert float(big[0]) == pytest.approx(half_diag, rel=1e-9)
    # per-item sizes; a 0.5x output drifts by half a half-diagonal
    both = geometric_drift(torch.cat([gt, gt]), torch.cat([gt, gt]), delivered_size=[(256, 256), (64, 64)])
    assert both.tolist() == pytest.approx([half_diag, 0.5 * half_diag], rel=1e-9)


def test_function_bad_delivered_sizes() -> None:
    gt = _tensor(_photo(64))
    with pytest.raises(paradigm.errors.InputError, match="delivered_size"):
        geometric_drift(torch.cat([gt, gt]), torch.cat([gt, gt]), delivered_size=[(1, 1), (2, 2), (3, 3)])


def test_metric_declares_delivered_size() -> None:
    cls = paradigm.metrics.registry.get_metric_class("geo_drift")
    assert cls.uses_delivered_size and cls.version == "2"
    assert not paradigm.metrics.registry.get_metric_class("geo_drift_input").uses_delivered_size


def test_engine_measures_2x_delivered_output(tmp_path: Path) -> None:
    gt = _photo(128)
    _save(tmp_path / "gt" / "im.png", gt)
    _save(tmp_path / "res" / "same" / "im.png", gt)
    _save(tmp_path / "res" / "blur" / "im.png", _blur(gt, 1.0))
    big = Image.fromarray(gt).resize((256, 256), Image.Resampling.BICUBIC)  # same view, 2x the pixels
    (tmp_path / "res" / "big").mkdir(parents=True)
    big.save(tmp_path / "res" / "big" / "im.png")
    cfg = ScoreConfig(results=tmp_path / "res", gt=tmp_path / "gt", cache=None, workers=0,
                      metrics="geo_drift,geometry", progress=False)
    s = run_score(cfg).scores.set_index("method")
    half_diag = math.hypot(128, 128) / 2
    assert s.loc["big", "resized"] and not s.loc["blur", "resized"]
    # measured after the resize it would be ~0; as delivered it is one half-diagonal (scale 2)
    assert s.loc["big", "geo_drift"] == pytest.approx(half_diag, abs=2.0)
    assert s.loc["big", "geo_drift"] > 50 * max(s.loc["blur", "geo_drift"], 0.01)
    assert s.loc["blur", "geo_drift"] < 1.0 and s.loc["same", "geo_drift"] == pytest.approx(0.0, abs=1e-9)
    # the geometry diagnostic says the same: scale 2 as delivered
    assert s.loc["big", "scale"] == pytest.approx(2.0, abs=0.02)


def test_engine_crop_keeps_same_size_values(tmp_path: Path) -> None:
    """A border crop must not turn a same-size output into a scaled one (the factor is taken uncropped)."""
    gt = _photo(128)
    _save(tmp_path / "gt" / "im.png", gt)
    _save(tmp_path / "res" / "same" / "im.png", gt)
    big = Image.fromarray(gt).resize((256, 256), Image.Resampling.BICUBIC)
    (tmp_path / "res" / "big").mkdir(parents=True)
    big.save(tmp_path / "res" / "big" / "im.png")
    cfg = ScoreConfig(results=tmp_path / "res", gt=tmp_path / "gt", cache=None, workers=0,
                      metrics="geo_drift", crop_border=4, progress=False)
    s = run_score(cfg).scores.set_index("method")
    assert s.loc["same", "geo_drift"] == pytest.approx(0.0, abs=1e-9)
    assert s.loc["big", "geo_drift"] == pytest.approx(math.hypot(120, 120) / 2, abs=2.0)  # cropped GT pixels


def test_explain_passes_delivered_size(tmp_path: Path) -> None:
    from paradigm.cli.explain import _run_metrics

    gt = _tensor(_photo(128)).float()
    raw, skipped, _ = _run_metrics(["geo_drift"], gt, gt, None, (256, 256))
    assert not skipped and raw["geo_drift"] == pytest.approx(math.hypot(128, 128) / 2, rel=1e-6)
