"""Scoring without ground truth (``--input`` only) and task profiles selecting the metric set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from paradigm.cli import cli
from paradigm.engine import ScoreConfig, run_score
from paradigm.errors import InputError


def _tree(root: Path) -> None:
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        img = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
        (root / "input").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / "input" / f"{name}.png")
        for m, k in (("m1", 0), ("m2", 40)):
            (root / "results" / m).mkdir(parents=True, exist_ok=True)
            out = np.clip(img.astype(int) + k, 0, 255).astype(np.uint8)
            Image.fromarray(out).save(root / "results" / m / f"{name}.png")


def test_input_only_runs_input_and_nr_metrics(tmp_path: Path) -> None:
    _tree(tmp_path)
    res = run_score(ScoreConfig(results=tmp_path / "results", gt=None, input=tmp_path / "input",
                                metrics="default", cache=None, progress=False))
    cols = set(res.scores.columns)
    assert "edge_f1_input" in cols
    assert "psnr" not in cols and "ssim" not in cols  # GT-referenced metrics cannot run
    assert len(res.scores) == 4


def test_explicit_gt_metric_without_gt_is_skipped_with_reason(tmp_path: Path) -> None:
    _tree(tmp_path)
    res = run_score(ScoreConfig(results=tmp_path / "results", gt=None, input=tmp_path / "input",
                                metrics="psnr,edge_f1_input", cache=None, progress=False))
    assert "pass --gt" in res.run_info["skipped_metrics"]["psnr"]


def test_neither_gt_nor_input_is_a_clear_error(tmp_path: Path) -> None:
    _tree(tmp_path)
    with pytest.raises(InputError, match="--gt GT, or --input LQ"):
        run_score(ScoreConfig(results=tmp_path / "results", gt=None, cache=None, progress=False))


def test_profile_selects_its_metrics_and_signature_names_it(tmp_path: Path) -> None:
    _tree(tmp_path)
    res = run_score(ScoreConfig(results=tmp_path / "results", gt=None, input=tmp_path / "input",
                                profile="underwater", cache=None, progress=False))
    cols = set(res.scores.columns)
    assert {"uiqm", "uciqe", "structure_consistency_input", "geo_drift_input"} <= cols  # profiles-v2
    assert res.run_info["signature"]["composite"].startswith("default-v2/underwater")


def test_cli_without_gt(tmp_path: Path) -> None:
    _tree(tmp_path)
    r = CliRunner().invoke(cli, ["score", str(tmp_path / "results"), "--input", str(tmp_path / "input"),
                                 "--no-cache", "-q", "--metrics", "edge_f1_input"])
    assert r.exit_code == 0, r.output
    assert "edge_f1_input" in r.output


def test_two_input_fusion_metrics(tmp_path: Path) -> None:
    """``--input A --input2 B``: fusion metrics get both sources; without B they are skipped."""
    from paradigm.metrics.task import fusion_qabf

    rng = np.random.default_rng(1)
    for d in ("A", "B", "results/fuse"):
        (tmp_path / d).mkdir(parents=True, exist_ok=True)
    a = (rng.random((48, 48, 3)) * 255).astype(np.uint8)
    b = (rng.random((48, 48, 3)) * 255).astype(np.uint8)
    f = ((a.astype(int) + b.astype(int)) // 2).astype(np.uint8)
    Image.fromarray(a).save(tmp_path / "A" / "x.png")
    Image.fromarray(b).save(tmp_path / "B" / "x.png")
    Image.fromarray(f).save(tmp_path / "results" / "fuse" / "x.png")
    res = run_score(ScoreConfig(results=tmp_path / "results", gt=None, input=tmp_path / "A", input2=tmp_path / "B",
                                metrics="fusion_qabf,fusion_mi,fusion_en", cache=None, progress=False))
    row = res.scores.iloc[0]
    import torch

    t = [torch.from_numpy(v).permute(2, 0, 1)[None].float() / 255 for v in (f, a, b)]
    assert abs(row["fusion_qabf"] - float(fusion_qabf(t[0], t[1], t[2])[0])) < 1e-6
    assert row["fusion_mi"] > 0
    res1 = run_score(ScoreConfig(results=tmp_path / "results", gt=None, input=tmp_path / "A",
                                 metrics="fusion_qabf,fusion_en", cache=None, progress=False))
    assert "--input2" in res1.run_info["skipped_metrics"]["fusion_qabf"]
