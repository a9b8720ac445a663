"""The summary ``paradigm score`` prints shows every requested metric (issue 16, item 3).

The table used to stop after eight columns: the default run hid ``edge_f1`` and ``--metrics all``
hid PSNR, SSIM, MS-SSIM and GMSD, without saying so.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _helpers import save_random_png as save
from click.testing import CliRunner

from paradigm.cli import cli
from paradigm.terminal_table import render_summary

METRICS = ["composite", "perceptual", "stability", "fidelity", "lpips", "dists", "niqe", "brisque",
           "dino_sim", "clip_sim", "edge_f1", "psnr", "psnr_y", "ssim", "ms_ssim", "gmsd", "ciede2000",
           "shift_dx", "scale", "unknown_col"]


def _summary(methods=("bicubic", "generative-k3"), metrics=METRICS) -> pd.DataFrame:
    rows = []
    for i, m in enumerate(methods):
        for j, c in enumerate(metrics):
            rows.append({"method": m, "task": "sr", "dataset": "demo", "metric": c, "mean": 10.0 * i + j + 0.25,
                         "std": 1.5, "count": 7, "ci_low": float("nan"), "ci_high": float("nan")})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("width", [60, 80, 120, 400])
def test_every_metric_is_shown_within_the_width(width):
    text = render_summary(_summary(), width=width)
    header_words = {w for ln in text.splitlines() for w in ln.split()}
    for c in METRICS:
        assert c in header_words, (c, text)
    assert max(len(ln) for ln in text.splitlines()) <= width
    # every value is there: generative-k3's psnr is 10 + 11 + 0.25 (hand-computed from _summary)
    assert "21.25 ± 1.50" in text and "0.250 ± 1.50" in text


def test_wide_tables_are_split_into_pillar_blocks():
    text = render_summary(_summary(), width=80)
    titles = [ln for ln in text.splitlines() if ln.startswith("[")]
    names = [t.strip("[]").split(" (")[0] for t in titles]
    assert names[0] == "overall" and "fidelity" in names and "perceptual" in names and "stability" in names
    assert "diagnostic" in names and names[-1] == "other"
    fid = text[text.index("[fidelity"):]
    assert "psnr" in fid and "ms_ssim" in fid
    # each block repeats the method column
    assert text.count("generative-k3") == len(titles)


def test_a_table_that_fits_is_one_table():
    text = render_summary(_summary(metrics=["composite", "psnr"]), width=200)
    assert "[" not in text and len(text.splitlines()) == 4


def test_cli_shows_all_requested_metrics(tmp_path, monkeypatch):
    for i in range(2):
        save(tmp_path / "gt" / f"im{i}.png", i, size=176)
        save(tmp_path / "res" / "m1" / f"im{i}.png", 100 + i, size=176)
        save(tmp_path / "res" / "m2" / f"im{i}.png", 200 + i, size=176)
    monkeypatch.setenv("COLUMNS", "80")
    wanted = ["psnr", "psnr_y", "ssim", "ms_ssim", "gmsd", "ciede2000", "edge_f1"]
    r = CliRunner().invoke(cli, ["score", str(tmp_path / "res"), "--gt", str(tmp_path / "gt"), "--metrics",
                                 ",".join(wanted), "--no-cache", "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    words = set(r.stdout.split())
    for c in ["composite", "fidelity", *wanted]:
        assert c in words, (c, r.stdout)
    table = r.stdout.split("paradigm:")[0]
    assert max(len(ln) for ln in table.splitlines()) <= 80


def test_call_site_uses_the_new_renderer():
    src = (Path(__file__).resolve().parents[1] / "paradigm" / "cli" / "score.py").read_text(encoding="utf-8")
    assert "render_summary(" in src
