"""``validate`` with several score tables, headerless files, row-number keys, label tables (issue 19)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats as ss

from meta_eval.cli import meta_eval
from meta_eval.errors import InputError
from meta_eval.loaders import load_human
from meta_eval.scores import join_all, load_scores

FIX = Path(__file__).resolve().parent / "fixtures" / "meta_eval"


def _csiq_like(tmp: Path) -> dict[str, np.ndarray]:
    """A CSIQ-style set: headerless DMOS (lower is better), two metric tables, a reference-label file."""
    rng = np.random.default_rng(3)
    n_ref, per = 6, 5
    ref = np.repeat([f"img{k}" for k in range(n_ref)], per)
    dist = np.tile(["awgn", "jpeg", "blur", "fnoise", "contrast"], n_ref)
    quality = rng.uniform(0, 1, n_ref * per)
    dmos = 1.0 - quality + rng.normal(0, 0.02, quality.size)
    psnr = 20 + 20 * quality + rng.normal(0, 3, quality.size)
    ssim = 0.5 + 0.5 * quality + rng.normal(0, 0.05, quality.size)
    lpips = 0.6 - 0.5 * quality + rng.normal(0, 0.08, quality.size)
    (tmp / "csiq_dmos.txt").write_text("".join(f"{v:.6f}\n" for v in dmos))
    (tmp / "psnr.txt").write_text("".join(f"{v:.6f}\n" for v in psnr))
    (tmp / "others.csv").write_text("SSIM,LPIPS\n" + "".join(f"{a:.6f},{b:.6f}\n" for a, b in zip(ssim, lpips, strict=True)))
    (tmp / "labels.txt").write_text("".join(f"{r} {d}\n" for r, d in zip(ref, dist, strict=True)))
    return {"dmos": dmos, "PSNR": psnr, "SSIM": ssim, "LPIPS": lpips, "ref": ref}


def test_csiq_style_case_is_one_command(tmp_path: Path) -> None:
    d = _csiq_like(tmp_path)
    out = tmp_path / "rep"
    res = CliRunner().invoke(meta_eval, [
        "validate", "--human", f"csv:{tmp_path / 'csiq_dmos.txt'}?header=0&item=#row&score=#0",
        "--scores", f"table:{tmp_path / 'psnr.txt'}?header=0&item=#row&names=PSNR",
        "--scores", f"table:{tmp_path / 'others.csv'}?item=#row",
        "--scores", f"table:{tmp_path / 'labels.txt'}?header=0&sep= &item=#row&reference=#0&distortion=#1",
        "--bootstrap", "100", "--permutations", "100", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "results.json").read_text())
    assert data["human"]["higher_is_better"] is False  # "csiq" in the file name implies DMOS
    assert data["match"]["n_matched"] == 30 and len(data["match"]["tables"]) == 3
    assert data["settings"]["unit"] == "group"  # the label table gave the references
    by = {r["metric"]: r for r in data["metrics"]}
    assert set(by) == {"PSNR", "SSIM", "LPIPS"}
    assert by["LPIPS"]["higher_is_better"] is False  # external published name, lower is better
    for m in by:  # oriented: positive = agreement; expected values straight from scipy
        sign = 1 if m != "LPIPS" else -1
        assert by[m]["srcc"] == pytest.approx(ss.spearmanr(sign * d[m], -d["dmos"])[0], abs=1e-12)
    assert data["warnings"] == []
    assert "williams_p_vs_top" not in json.dumps(data)  # grouped data: Williams is not reported
    assert "not reported" in data["settings"]["williams"]


def test_join_all_rejects_a_metric_in_two_tables(tmp_path: Path) -> None:
    _csiq_like(tmp_path)
    h = load_human(f"csv:{tmp_path / 'csiq_dmos.txt'}?header=0&item=#row&score=#0")
    t = load_scores(f"table:{tmp_path / 'others.csv'}?item=#row")
    with pytest.raises(InputError, match="in two score tables"):
        join_all(h, [t, t])
    with pytest.raises(InputError, match="none of the score tables"):
        join_all(h, [t], ["SSIM", "VIF"])


def test_positional_columns_and_errors(tmp_path: Path) -> None:
    _csiq_like(tmp_path)
    with pytest.raises(InputError, match="#5 asked for"):
        load_human(f"csv:{tmp_path / 'csiq_dmos.txt'}?header=0&item=#row&score=#5")
    t = load_scores(f"table:{tmp_path / 'labels.txt'}?header=0&sep= &item=#row&reference=#0")
    assert t.attrs["labels"] == ["reference"] and t["key"].iloc[0] == "1"


def test_warnings_unstated_direction_and_sign_disagreement(tmp_path: Path) -> None:
    d = _csiq_like(tmp_path)
    f = tmp_path / "scores.txt"  # a neutral name: nothing implies the direction
    f.write_text("".join(f"{v:.6f}\n" for v in d["dmos"]))
    res = CliRunner().invoke(meta_eval, [
        "validate", "--human", f"csv:{f}?header=0&item=#row&score=#0",
        "--scores", f"table:{tmp_path / 'psnr.txt'}?header=0&item=#row&names=PSNR",
        "--bootstrap", "0", "--permutations", "0", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "direction of the human scores" in res.output and "was not stated" in res.output
    assert "disagree in sign" in res.output  # DMOS read as MOS: SRCC < 0 next to a positive fitted PLCC
    res = CliRunner().invoke(meta_eval, [
        "validate", "--human", f"csv:{f}?header=0&item=#row&score=#0&higher_is_better=0",
        "--scores", f"table:{tmp_path / 'psnr.txt'}?header=0&item=#row&names=PSNR",
        "--bootstrap", "0", "--permutations", "0", "--no-progress"])
    assert res.exit_code == 0 and "warning" not in res.output


def test_williams_reported_for_independent_items(tmp_path: Path) -> None:
    _csiq_like(tmp_path)
    res = CliRunner().invoke(meta_eval, [
        "validate", "--human", f"csv:{tmp_path / 'csiq_dmos.txt'}?header=0&item=#row&score=#0",
        "--scores", f"table:{tmp_path / 'psnr.txt'}?header=0&item=#row&names=PSNR",
        "--scores", f"table:{tmp_path / 'others.csv'}?item=#row",
        "--bootstrap", "20", "--permutations", "50", "--out", str(tmp_path / "o"), "--no-progress"])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "o" / "results.json").read_text())
    assert data["settings"]["unit"] == "item"
    assert sum("williams_p_vs_top" in r for r in data["metrics"]) == 2
