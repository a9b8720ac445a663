"""Issue 16 item 14: composite files with unknown metric names, absurd weights or absurd nesting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from _helpers import isolate_engine
from _helpers import save_random_png as save
from click.testing import CliRunner

from paradigm.cli import cli
from paradigm.composite.schema import DATA_DIR, load_composite
from paradigm.engine import ScoreConfig, run_score
from paradigm.errors import CompositeSchemaError, InputError
from paradigm.metrics.base import Metric


def default_obj() -> dict[str, Any]:
    return json.loads((DATA_DIR / "default-v1.json").read_text(encoding="utf-8"))


def write(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj))
    return path


def with_metric(obj: dict[str, Any], pillar: str, old: str, new: str) -> dict[str, Any]:
    """Rename a metric of a pillar (and its calibration), as a typo in a hand-edited file would."""
    ms = obj["pillars"][pillar]["metrics"]
    ms[new] = ms.pop(old)
    obj["calibrations"][new] = obj["calibrations"].pop(old)
    return obj


class TpPsnr(Metric):
    name = "tp_psnr"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return torch.ones(x.shape[0], dtype=torch.float64)


@pytest.fixture()
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_engine(monkeypatch, [TpPsnr])
    for i in range(2):
        save(tmp_path / "gt" / f"im{i}.png", i)
        save(tmp_path / "res" / "m" / f"im{i}.png", 10 + i)
    return tmp_path


def test_unknown_metric_names_are_an_error_with_suggestions(tree: Path) -> None:
    comp = write(tree / "typo.json", with_metric(default_obj(), "perceptual", "lpips", "lpipss"))
    with pytest.raises(InputError) as info:
        run_score(ScoreConfig(results=tree / "res", gt=tree / "gt", metrics="tp_psnr", composite=str(comp),
                              workers=0, cache=None))
    msg = str(info.value)
    assert "'lpipss'" in msg and "did you mean 'lpips'" in msg and "--allow-missing" in msg


def test_allow_missing_accepts_them(tree: Path) -> None:
    comp = write(tree / "typo.json", with_metric(default_obj(), "perceptual", "lpips", "lpipss"))
    r = run_score(ScoreConfig(results=tree / "res", gt=tree / "gt", metrics="tp_psnr", composite=str(comp),
                              workers=0, cache=None, allow_missing=True))
    assert len(r.scores) == 2


def test_cli_unknown_metric_exits_1_without_traceback(tree: Path) -> None:
    comp = write(tree / "typo.json", with_metric(default_obj(), "fidelity", "psnr", "psnrr"))
    res = CliRunner().invoke(cli, ["score", str(tree / "res"), "--gt", str(tree / "gt"), "--metrics", "tp_psnr",
                                   "--composite", str(comp), "--no-cache", "-q"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "'psnrr' (did you mean 'psnr'" in res.output


@pytest.mark.parametrize("weight", [1e308, 1e7, -1.0, 1e-320])
def test_absurd_metric_weights_are_refused(tmp_path: Path, weight: float) -> None:
    obj = default_obj()
    pillar = next(iter(obj["pillars"]))
    metric = next(iter(obj["pillars"][pillar]["metrics"]))
    obj["pillars"][pillar]["metrics"][metric] = weight
    with pytest.raises(CompositeSchemaError, match=f"pillars.{pillar}.metrics.{metric}: weight"):
        load_composite(write(tmp_path / "w.json", obj))


def test_integer_weight_too_large_for_a_float_is_a_schema_error(tmp_path: Path) -> None:
    obj = default_obj()
    pillar = next(iter(obj["pillars"]))
    metric = next(iter(obj["pillars"][pillar]["metrics"]))
    text = json.dumps(obj).replace(f'"{metric}": {json.dumps(obj["pillars"][pillar]["metrics"][metric])}',
                                   f'"{metric}": 1{"0" * 400}', 1)
    (tmp_path / "big.json").write_text(text)
    with pytest.raises(CompositeSchemaError, match="finite number"):
        load_composite(tmp_path / "big.json")


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_200000_levels_of_nesting_is_a_schema_error(tmp_path: Path, opener: str) -> None:
    n = 200_000
    closer = "]" if opener == "[" else "}"
    (tmp_path / "deep.json").write_text(opener * n + ("1" if opener != "[" else "") + closer * n)
    with pytest.raises(CompositeSchemaError, match="nested too deeply"):
        load_composite(tmp_path / "deep.json")


def test_moderate_nesting_beyond_any_composite_is_refused(tmp_path: Path) -> None:
    obj = default_obj()
    deep: Any = 1
    for _ in range(100):
        deep = [deep]
    obj["notes"] = deep
    with pytest.raises(CompositeSchemaError, match="deeper than 64 levels"):
        load_composite(write(tmp_path / "d.json", obj))


def test_nan_literal_and_non_utf8_are_schema_errors(tmp_path: Path) -> None:
    (tmp_path / "nan.json").write_text(json.dumps(default_obj()).replace('"version": 1', '"version": NaN'))
    with pytest.raises(CompositeSchemaError, match="NaN is not allowed"):
        load_composite(tmp_path / "nan.json")
    (tmp_path / "bin.json").write_bytes(b'{"schema": "\xff\xfe"}')
    with pytest.raises(CompositeSchemaError, match="not UTF-8"):
        load_composite(tmp_path / "bin.json")
