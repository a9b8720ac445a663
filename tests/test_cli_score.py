"""``paradigm score`` and ``paradigm metrics`` through the CLI (CliRunner + one real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from _helpers import isolate_engine
from _helpers import save_random_png as save
from click.testing import CliRunner

from paradigm.cli import cli
from paradigm.errors import MetricUnavailableError
from paradigm.metrics.base import Metric
from paradigm.outputs import ERROR_COLUMNS, ID_COLUMNS, SUMMARY_COLUMNS

REPO = Path(__file__).resolve().parents[1]


class TcliMse(Metric):
    name = "tcli_mse"
    higher_is_better = False
    description = "test-only mean squared error"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        assert ref is not None
        return ((x - ref) ** 2).flatten(1).mean(1).double()


class TcliGone(Metric):
    name = "tcli_gone"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        raise MetricUnavailableError("tcli_gone: weights file gone.pth not found")


#: Registered only while each test runs (see ``_register_test_metrics``), so other test modules never see them.
TEST_METRICS: tuple[type[Metric], ...] = (TcliMse, TcliGone)


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_engine(monkeypatch, TEST_METRICS)


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    for i in range(3):
        save(tmp_path / "gt" / "sr" / "set" / f"im{i}.png", i)
        save(tmp_path / "res" / "m1" / "sr" / "set" / f"im{i}.png", 100 + i)
        save(tmp_path / "res" / "m2" / "sr" / "set" / f"im{i}_x4_SR.png", 200 + i)
    return tmp_path


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, ["score", *args], catch_exceptions=False)


def test_outputs_exist_with_documented_columns(tree: Path) -> None:
    out = tree / "out"
    r = invoke(str(tree / "res"), "--gt", str(tree / "gt"), "--metrics", "tcli_mse", "--out", str(out), "-q")
    assert r.exit_code == 0, r.output
    assert "paradigm:" in r.stdout and "metrics:tcli_mse.1" in r.stdout
    assert "m1" in r.stdout and "m2" in r.stdout and "tcli_mse" in r.stdout
    for name in ("scores.parquet", "scores.csv", "summary.csv", "errors.csv", "run.json"):
        assert (out / name).exists(), name
    s = pd.read_parquet(out / "scores.parquet")
    assert list(s.columns) == list(ID_COLUMNS) + ["tcli_mse"]
    assert len(s) == 6 and set(s.method) == {"m1", "m2"} and set(s.task) == {"sr"}
    assert list(pd.read_csv(out / "scores.csv").columns) == list(s.columns)
    assert list(pd.read_csv(out / "summary.csv").columns) == list(SUMMARY_COLUMNS)
    assert list(pd.read_csv(out / "errors.csv").columns) == list(ERROR_COLUMNS)
    run = json.loads((out / "run.json").read_text())
    assert set(run) >= {"signature", "signature_line", "counts", "skipped_metrics"}
    assert run["signature_line"] in r.stdout


def test_summary_only_without_out(tree: Path) -> None:
    r = invoke(str(tree / "res"), "--gt", str(tree / "gt"), "--metrics", "tcli_mse", "--no-cache")
    assert r.exit_code == 0
    assert "tcli_mse" in r.stdout and not (tree / "res" / ".paradigm").exists()


def test_errors_exit_code_and_allow_errors(tree: Path) -> None:
    (tree / "res" / "m1" / "sr" / "set" / "im0.png").write_bytes(b"")
    save(tree / "res" / "m1" / "sr" / "set" / "stray.png", 9)
    args = [str(tree / "res"), "--gt", str(tree / "gt"), "--metrics", "tcli_mse", "--out", str(tree / "o")]
    r = invoke(*args)
    assert r.exit_code == 3
    assert "errors.csv" in r.stderr and "--allow-errors" in r.stderr
    e = pd.read_csv(tree / "o" / "errors.csv")
    assert set(e.stage) == {"decode", "pairing"}
    assert len(pd.read_csv(tree / "o" / "scores.csv")) == 5
    r2 = invoke(*args, "--allow-errors")
    assert r2.exit_code == 0


@pytest.mark.parametrize("case", ["missing-results", "empty-results", "missing-gt", "empty-gt"])
def test_missing_or_empty_folder_clear_message(tree: Path, case: str) -> None:
    (tree / "empty").mkdir()
    res = {"missing-results": tree / "nope", "empty-results": tree / "empty"}.get(case, tree / "res")
    gt = {"missing-gt": tree / "nogt", "empty-gt": tree / "empty"}.get(case, tree / "gt")
    r = CliRunner().invoke(cli, ["score", str(res), "--gt", str(gt), "--metrics", "tcli_mse"])
    assert r.exit_code == 1
    assert "Error:" in r.stderr and ("does not exist" in r.stderr or "no images" in r.stderr)
    assert "Traceback" not in r.output and r.exception is None or isinstance(r.exception, SystemExit)


def test_unknown_metric_suggests(tree: Path) -> None:
    r = CliRunner().invoke(cli, ["score", str(tree / "res"), "--gt", str(tree / "gt"), "--metrics", "tcli_mes"])
    assert r.exit_code == 1 and "Did you mean 'tcli_mse'" in r.stderr


def test_explicit_unavailable_metric_loud_and_strict(tree: Path) -> None:
    args = [str(tree / "res"), "--gt", str(tree / "gt"), "--metrics", "tcli_mse,tcli_gone", "--no-cache"]
    r = invoke(*args)
    assert r.exit_code == 0
    assert "WARNING: requested metric 'tcli_gone' was SKIPPED" in r.stderr and "gone.pth" in r.stderr
    r2 = invoke(*args, "--strict")
    assert r2.exit_code == 4


def test_resize_none_via_cli(tree: Path) -> None:
    save(tree / "res" / "m1" / "sr" / "set" / "im1.png", 5, size=8)
    base = [str(tree / "res"), "--gt", str(tree / "gt"), "--metrics", "tcli_mse", "--no-cache", "--out", str(tree / "o")]
    r = invoke(*base, "--resize", "none")
    assert r.exit_code == 3
    assert pd.read_csv(tree / "o" / "errors.csv").stage.tolist() == ["resize"]
    r2 = invoke(*base)
    assert r2.exit_code == 0 and "1 output(s) resized" in r2.stderr


def test_cache_and_no_cache_exclusive(tree: Path) -> None:
    r = CliRunner().invoke(cli, ["score", str(tree / "res"), "--gt", str(tree / "gt"), "--cache", "x", "--no-cache"])
    assert r.exit_code == 2 and "mutually exclusive" in r.stderr


def test_metrics_command() -> None:
    r = CliRunner().invoke(cli, ["metrics"], catch_exceptions=False)
    assert r.exit_code == 0
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("tcli_mse "))
    assert "full-reference" in line and "fidelity" in line and "lower" in line and "[0, 1]" in line
    j = CliRunner().invoke(cli, ["metrics", "--json", "--pillar", "fidelity"], catch_exceptions=False)
    infos = json.loads(j.stdout)
    assert any(i["name"] == "tcli_mse" for i in infos) and all(i["pillar"] == "fidelity" for i in infos)


@pytest.mark.slow
def test_real_subprocess_on_tiny_demo(tmp_path: Path) -> None:
    """`paradigm demo` + `paradigm score` as a user runs them (default metrics, whatever is installed)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    exe = [sys.executable, "-c", "from paradigm.cli import main; main()"]
    d = tmp_path / "demo"
    r = subprocess.run([*exe, "demo", str(d), "--size", "64"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "scores"
    r = subprocess.run(
        [*exe, "score", str(d / "results"), "--gt", str(d / "gt"), "--input", str(d / "input"), "--out", str(out),
         "--allow-errors", "--workers", "1"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "paradigm:" in r.stdout
    s = pd.read_parquet(out / "scores.parquet")
    assert len(s) == 7 * 3 + 7 * 3  # 3 single-sample methods + generative-k3 with 3 samples
    assert set(s[s.method == "generative-k3"]["sample"]) == {"0", "1", "2"}
    run = json.loads((out / "run.json").read_text())
    assert run["counts"]["unpaired"] == 0
