"""The ``<metric>_ref`` values (no-reference metrics on the ground truth) are cached like every value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _helpers import spy_reads
from PIL import Image

from paradigm.engine import ScoreConfig, run_score


def _tree(root: Path) -> None:
    rng = np.random.default_rng(3)
    for i in range(2):
        gt = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
        (root / "gt").mkdir(parents=True, exist_ok=True)
        Image.fromarray(gt).save(root / "gt" / f"im{i}.png")
        for m, noise in (("a", 4), ("b", 16)):
            out = np.clip(gt.astype(int) + rng.integers(-noise, noise + 1, gt.shape), 0, 255).astype(np.uint8)
            (root / "res" / m).mkdir(parents=True, exist_ok=True)
            Image.fromarray(out).save(root / "res" / m / f"im{i}.png")


def _cfg(root: Path) -> ScoreConfig:
    return ScoreConfig(results=root / "res", gt=root / "gt", metrics="psnr,niqe", cache=str(root / "c.sqlite"),
                       progress=False)


def test_reference_values_come_from_the_cache_on_a_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path)
    first = run_score(_cfg(tmp_path))
    assert "niqe_ref" in first.scores.columns and first.scores["niqe_ref"].notna().all()
    # the same GT gives the same reference value on every row that shares it
    assert first.scores.groupby("gt_path")["niqe_ref"].nunique().eq(1).all()

    read = spy_reads(monkeypatch)
    second = run_score(_cfg(tmp_path))
    assert second.run_info["counts"]["computed"] == 0
    assert not [p for p in read if "/gt/" in p]  # no ground truth decoded again for niqe_ref
    pd.testing.assert_series_equal(first.scores["niqe_ref"], second.scores["niqe_ref"], check_exact=True)
    pd.testing.assert_series_equal(first.scores["composite"], second.scores["composite"], check_exact=True)


def test_reference_values_without_a_cache(tmp_path: Path) -> None:
    _tree(tmp_path)
    a = run_score(ScoreConfig(results=tmp_path / "res", gt=tmp_path / "gt", metrics="psnr,niqe", cache=None,
                              progress=False))
    b = run_score(_cfg(tmp_path))
    pd.testing.assert_series_equal(a.scores["niqe_ref"], b.scores["niqe_ref"], check_exact=True)
