"""ILNIQE, NRQM and PI get their parameter files through the weights resolver only (no verifiable
official files here): a missing file gives an actionable error naming `paradigm weights fetch`, offline
and without touching the network; the table marks them with the declared-hash rule. All three compute
(tests/test_ilniqe.py and tests/test_nrqm.py check them on synthetic files in the official layouts)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import paradigm
from paradigm.errors import MetricUnavailableError, WeightsError, WeightsNotFoundError
from paradigm.weights.table import get_entry

TOOLS = Path(__file__).resolve().parent / "tools"
CASES = [("ilniqe", "ilniqe_templates", False), ("nrqm", "nrqm_model", True), ("pi", "nrqm_model", False)]


@pytest.fixture()
def empty_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PARADIGM_OFFLINE", "1")
    monkeypatch.setenv("PARADIGM_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("PARADIGM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize("name,weight,higher", CASES)
def test_missing_file_is_actionable(empty_weights: Path, name: str, weight: str, higher: bool) -> None:
    m = paradigm.create_metric(name)
    x = torch.rand(1, 3, 128, 128)
    with pytest.raises(WeightsNotFoundError) as err:
        m(x)
    msg = str(err.value)
    assert f"paradigm weights fetch {weight}" in msg
    assert "PARADIGM_OFFLINE=1" in msg and get_entry(weight)["filename"] in msg
    assert isinstance(err.value, MetricUnavailableError)  # the engine reports it and goes on
    info = paradigm.metric_info(name)
    assert info["higher_is_better"] is higher and info["pillar"] == "perceptual"
    assert "not implemented" not in info["description"] and "not checked here" not in info["description"]


def test_present_ilniqe_file_is_read_not_refused(empty_weights: Path) -> None:
    """With a file in place (user-supplied path), IL-NIQE reads it: a malformed one is named as such."""
    f = empty_weights / "ILNIQE_templateModel.mat"
    f.write_bytes(b"not a real mat file")
    with pytest.raises(WeightsError, match="cannot be read as a .mat file") as err:
        paradigm.create_metric("ilniqe", params_path=str(f))(torch.rand(1, 3, 96, 96))
    assert "not implemented" not in str(err.value)


@pytest.mark.parametrize("name", ["nrqm", "pi"])
def test_present_malformed_file_is_actionable(empty_weights: Path, name: str) -> None:
    """NRQM and PI no longer say "not implemented": a malformed file gives an actionable WeightsError
    (and one in the official layout gives scores, below)."""
    f = empty_weights / "NRQM_model.mat"
    f.write_bytes(b"not a real mat file")
    with pytest.raises(WeightsError, match="paradigm weights fetch nrqm_model") as err:
        paradigm.create_metric(name, params_path=str(f))(torch.rand(1, 3, 112, 112))
    assert "not implemented" not in str(err.value)


@pytest.mark.parametrize("name", ["nrqm", "pi"])
def test_file_in_official_layout_gives_scores(empty_weights: Path, name: str) -> None:
    spec = importlib.util.spec_from_file_location("make_nrqm_fixture", TOOLS / "make_nrqm_fixture.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    good = tool.write_nrqm_model(empty_weights / "good.mat")
    out = paradigm.create_metric(name, params_path=str(good))(torch.rand(1, 3, 112, 112))
    assert out.shape == (1,) and torch.isfinite(out).all()


def test_table_marks_declared_hash_rule() -> None:
    for weight in ("ilniqe_templates", "nrqm_model"):
        entry = get_entry(weight)
        assert entry["sha256"] is None and entry["urls"] and all(u.startswith("https://") for u in entry["urls"])
    out = subprocess.run([sys.executable, "-c", "from paradigm.cli import main; main()", "weights", "list", "--json", "--no-verify"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    rows = {r["name"]: r for r in json.loads(out)}
    for weight in ("ilniqe_templates", "nrqm_model"):
        assert "declared" in json.dumps(rows[weight]).lower(), rows[weight]


def test_listed_in_paradigm_metrics() -> None:
    from click.testing import CliRunner

    from paradigm.cli import cli

    names = paradigm.list_metrics(kind="no-reference")
    assert {"ilniqe", "nrqm", "pi"} <= set(names)
    out = CliRunner().invoke(cli, ["metrics", "--kind", "no-reference"], catch_exceptions=False).output
    line = next((ln for ln in out.splitlines() if ln.startswith("declared only")), "")
    assert not {"ilniqe", "nrqm", "pi", "niqe", "brisque"} & set(line.replace(",", " ").split())  # these compute
