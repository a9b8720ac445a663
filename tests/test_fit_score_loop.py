"""The fit -> score loop end to end (issue 14, item 4): `paradigm meta-eval fit` on TID2013's human
scores and official metric values, with the official columns mapped to registry names, writes a
composite that `paradigm score --composite FILE` applies to the bundled demo.

(A composite naming a metric paradigm does not know is refused by `paradigm score` with the names
listed: tests/test_faults_composite.py::test_cli_unknown_metric_exits_1_without_traceback; `fit`
refusing to write one: tests/test_meta_cli.py::test_fit_refuses_names_paradigm_cannot_compute.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from paradigm.cli import cli

TID = Path(__file__).resolve().parents[1].parent / "shared" / "human" / "tid2013"
MAPPING = {"FSIMc": "fsimc", "PSNR": "psnr", "NQM": "nqm", "VSNR": "vsnr"}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (TID / "mos_with_names.txt").is_file() or not (TID / "metrics_values" / "FSIMc.txt").is_file():
        pytest.skip(f"TID2013 human scores / official metric values not found at {TID} (../shared absent)")
    out = tmp_path_factory.mktemp("fit") / "tid2013-composite.json"
    args = ["meta-eval", "fit", "--human", f"tid2013:{TID}", "--scores", f"tid2013-metrics:{TID / 'metrics_values'}"]
    for col, name in MAPPING.items():
        args += ["--metric", f"{col}={name}"]
    args += ["--folds", "3", "--bootstrap", "20", "--permutations", "20", "-o", str(out), "--no-progress"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    return out


def test_fit_writes_registry_names_with_their_pillars(fitted: Path) -> None:
    doc = json.loads(fitted.read_text())
    assert doc["schema"] == "paradigm.composite/1"
    used = {m: p for p, v in doc["pillars"].items() for m in v["metrics"]}
    assert set(used) == set(MAPPING.values()) and set(doc["calibrations"]) == set(used)
    # pillars come from the metrics' declarations
    assert used == {"fsimc": "perceptual", "vsnr": "perceptual", "psnr": "fidelity", "nqm": "fidelity"}
    # TID2013's published SRCC of FSIMc (0.851) is reproduced by the fit's single-metric report
    assert doc["weights_provenance"]["results"]["single_srcc"]["fsimc"] == pytest.approx(0.8510, abs=1e-3)


def test_score_applies_the_fitted_composite_on_the_demo(fitted: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(cli, ["demo", "--size", "128", "demo"])
    assert res.exit_code == 0, res.output
    methods = sorted(p.name for p in (tmp_path / "demo" / "results").iterdir() if p.is_dir())
    assert len(methods) >= 2
    res = runner.invoke(cli, ["score", "demo/results", "--gt", "demo/gt", "--input", "demo/input", "--out", "scores",
                              "--composite", str(fitted), "--metrics", ",".join(MAPPING.values()),
                              "--no-cache", "-q"])
    assert res.exit_code == 0, res.output
    assert "renormalised" not in res.output
    df = pd.read_csv(tmp_path / "scores" / "scores.csv")
    assert sorted(df["method"].unique()) == methods
    for col in ("composite", "perceptual", "fidelity", *MAPPING.values()):
        assert col in df.columns, col
        assert df[col].map(lambda v: isinstance(v, float) and math.isfinite(v)).all(), (col, df[col].tolist())
    assert df["composite"].between(0, 1).all()
    if "composite_missing" in df.columns:
        assert df["composite_missing"].isna().all(), df["composite_missing"].tolist()
    run = json.loads((tmp_path / "scores" / "run.json").read_text())
    assert "composite:fitted-v1" in json.dumps(run)
