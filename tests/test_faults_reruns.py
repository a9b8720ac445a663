"""Issue 16 item 4: what a cached rerun and a diagnostics-only run tell the user."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from _helpers import isolate_engine
from _helpers import save_random_png as save
from click.testing import CliRunner

from paradigm.cli import cli
from paradigm.engine import ScoreConfig, run_score
from paradigm.metrics.base import Metric


class TrMse(Metric):
    name = "tr_mse"
    higher_is_better = False

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        assert ref is not None
        return ((x - ref) ** 2).flatten(1).mean(1).double()


@pytest.fixture()
def small_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three 8x8 outputs for 16x16 ground truths: all resized."""
    isolate_engine(monkeypatch, [TrMse])
    for i in range(3):
        save(tmp_path / "gt" / f"im{i}.png", i, size=16)
        save(tmp_path / "res" / "m" / f"im{i}.png", 10 + i, size=8)
    return tmp_path


def test_cached_rerun_remembers_resizing(small_outputs: Path) -> None:
    said: list[str] = []
    cfg = ScoreConfig(results=small_outputs / "res", gt=small_outputs / "gt", metrics="tr_mse", workers=0)
    first = run_score(cfg, echo=said.append)
    assert first.run_info["counts"]["resized"] == 3
    said.clear()
    second = run_score(cfg, echo=said.append)
    c = second.run_info["counts"]
    assert c["decoded_pairs"] == 0 and c["cached"] == 3 and c["cached_pairs"] == 3
    assert c["resized"] == 3 and bool(second.scores["resized"].all())
    assert any("3 output(s) resized" in s for s in said), said


def test_terminal_says_how_much_came_from_the_cache(small_outputs: Path) -> None:
    args = ["score", str(small_outputs / "res"), "--gt", str(small_outputs / "gt"), "--metrics", "tr_mse", "-q"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "cache:" not in first.output
    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert "cache: 3 metric value(s) reused, 0 computed (3 of 3 scored pair(s) fully from the cache)" in second.output
    assert "3 output(s) resized" in second.output


def test_diagnostics_only_run_has_no_composite_alarm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(2):
        save(tmp_path / "gt" / f"im{i}.png", i, size=48)
        save(tmp_path / "res" / "m" / f"im{i}.png", 10 + i, size=48)
    with caplog.at_level(logging.INFO):
        r = run_score(ScoreConfig(results=tmp_path / "res", gt=tmp_path / "gt", metrics="geometry", workers=0,
                                  cache=None, n_boot=10))
    assert not [rec for rec in caplog.records if rec.levelno >= logging.WARNING and "renormalised" in rec.getMessage()]
    assert "composite" not in r.scores.columns or bool(np.isnan(r.scores["composite"]).all())
    assert r.run_info["composite_note"].startswith("no composite score: none of the metrics of composite default-v")
    assert r.run_info["signature"]["composite"] is None


def test_partial_composite_still_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    for i in range(2):
        save(tmp_path / "gt" / f"im{i}.png", i, size=48)
        save(tmp_path / "res" / "m" / f"im{i}.png", 10 + i, size=48)
    with caplog.at_level(logging.WARNING):
        r = run_score(ScoreConfig(results=tmp_path / "res", gt=tmp_path / "gt", metrics="psnr_ha", workers=0,
                                  cache=None, n_boot=10))
    assert any("renormalised" in rec.getMessage() for rec in caplog.records)
    assert r.run_info["composite_note"] is None and r.scores["composite"].notna().all()
