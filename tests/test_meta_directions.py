"""Metric directions and pillars from run.json, paradigm's manifest (read as JSON) and external names."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from meta_eval import directions, scores
from meta_eval.errors import InputError

MANIFEST = {
    "schema": "paradigm.metrics-manifest/1",
    "metrics": {
        "psnr": {"pillar": "fidelity", "higher_is_better": True},
        "lpips": {"pillar": "perceptual", "higher_is_better": False, "aliases": ["lpips_alex"]},
        "fsimc": {"pillar": "perceptual", "higher_is_better": True},
        "geometry": {"pillar": "diagnostic"},
    },
    "columns": {
        "psnr": {"metric": "psnr", "higher_is_better": True, "pillar": "fidelity", "range": [0, "inf"]},
        "lpips": {"metric": "lpips", "higher_is_better": False, "pillar": "perceptual", "range": [0, 1]},
        "geometry_shift": {"metric": "geometry", "higher_is_better": False, "pillar": "diagnostic",
                           "range": [0, "inf"]},
        "geometry_scale": {"metric": "geometry", "higher_is_better": True, "pillar": "diagnostic",
                           "range": ["-inf", "inf"]},
    },
}


@pytest.fixture
def manifest_file(tmp_path: Path) -> Path:
    f = tmp_path / "manifest.json"
    f.write_text(json.dumps(MANIFEST))
    return f


def test_manifest_read_as_json(manifest_file: Path) -> None:
    m = directions.load_manifest(manifest_file)
    assert m is not None and m.path == manifest_file
    assert m.columns["psnr"]["range"] == [0.0, float("inf")]
    assert m.columns["geometry_scale"]["range"] == [float("-inf"), float("inf")]
    assert m.direction("lpips") is False and m.direction("LPIPS") is False
    assert m.direction("lpips_alex") is False  # an alias
    assert m.direction("geometry_shift") is False and m.direction("geometry_scale") is True  # per column
    assert m.direction("psnr_y") is True  # <metric>_<suffix>
    assert m.direction("nope") is None
    assert m.pillar("fsimc") == "perceptual" and m.metric_name("FSIMc") == "fsimc"


def test_bad_manifest_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "m.json"
    f.write_text(json.dumps({"schema": "something/else"}))
    with pytest.raises(InputError, match="metrics-manifest"):
        directions.load_manifest(f)
    with pytest.raises(InputError, match="not found"):
        directions.load_manifest(tmp_path / "absent.json")


def test_locator_uses_find_spec_without_importing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "site" / "paradigm"
    (pkg / "metrics").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('paradigm must not be executed')\n")
    (pkg / "metrics" / "manifest.json").write_text(json.dumps(MANIFEST))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    import importlib
    import sys

    for k in [k for k in sys.modules if k.split(".")[0] == "paradigm"]:
        monkeypatch.delitem(sys.modules, k)
    importlib.invalidate_caches()
    assert directions.find_manifest() == pkg / "metrics" / "manifest.json"
    assert directions.load_manifest() is not None


def test_direction_precedence(manifest_file: Path) -> None:
    m = directions.load_manifest(manifest_file)
    d = directions.metric_direction
    assert d("lpips", {}, ["LPIPS"], [], m) == (False, "option")
    assert d("lpips", {}, [], ["lpips"], m) == (True, "option")
    assert d("lpips", {"lpips": True}, [], [], m) == (True, "table")
    assert d("lpips", {}, [], [], m) == (False, "manifest")
    assert d("composite", {}, [], [], m) == (True, "composite")
    # external published names are meta_eval's own knowledge
    assert d("NLPD", {}, [], [], None) == (False, "external")
    assert d("MAD", {}, [], [], None) == (False, "external")
    assert d("NQM", {}, [], [], None) == (True, "default")  # an SNR in dB: higher is better
    assert d("lpips", {}, [], [], None) == (False, "external")


def test_run_json_directions(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    pd.DataFrame({"method": ["a", "b"], "image": ["x.png", "x.png"], "output_path": ["a/x.png", "b/x.png"],
                  "mystery": [1.0, 2.0], "composite": [0.3, 0.4]}).to_csv(run / "scores.csv", index=False)
    t = scores.load_scores(f"paradigm:{run}")
    assert t.attrs["higher_is_better"] == {}  # no run.json: the manifest decides
    (run / "run.json").write_text(json.dumps({"columns": {"mystery": {"higher_is_better": False}}}))
    t = scores.load_scores(f"paradigm:{run}")
    assert scores.metric_direction("mystery", t) == (False, "table")
    assert scores.metric_direction("composite", t) == (True, "table")
