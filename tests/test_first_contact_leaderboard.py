"""Leaderboards on incomplete, invalid and hostile inputs (issue 16, items 2 and 15).

- A method missing images is flagged (coverage and error count in every table) and ranked after the
  methods that scored every image of the task x dataset.
- A composite (or pillar) that is not a number in [0, 1] in a submitted ``scores.csv`` is refused.
- Thumbnails only come from files under the run's recorded results/GT roots (``run.json``).
"""

from __future__ import annotations

import csv
import html
import io
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _synthetic_scores import synthetic_scores, write_scores_folder
from click.testing import CliRunner

from paradigm.errors import InputError
from paradigm.leaderboard import build_leaderboard, load_run


def _cli(args: list[str]) -> tuple[int, str]:
    from paradigm.cli.leaderboard import leaderboard

    res = CliRunner().invoke(leaderboard, args, catch_exceptions=False)
    return res.exit_code, res.output


def _incomplete_folder(tmp_path: Path) -> Path:
    """``full`` scored all 8 images (composite ~0.5); ``partial`` lost img003 to a decode error (~0.9)."""
    df = synthetic_scores({"full": 0.5, "partial": 0.9, "also-full": 0.45}, n_images=8, noise=0.02)
    df = df[~((df["method"] == "partial") & (df["image"] == "img003.png"))].reset_index(drop=True)
    folder = write_scores_folder(tmp_path / "scores", df)
    (folder / "errors.csv").write_text(
        "method,task,dataset,image,path,stage,reason\n"
        "partial,sr,set5,img003.png,results/partial/img003.png,decode,cannot identify image file\n",
        encoding="utf-8",
    )
    return folder


def test_incomplete_method_is_flagged_and_ranked_after_complete_ones(tmp_path):
    out = tmp_path / "lb"
    code, output = _cli([str(_incomplete_folder(tmp_path)), "-o", str(out), "--n-boot", "200"])
    assert code == 0, output
    data = json.loads((out / "leaderboard.json").read_text(encoding="utf-8"))
    rows = {r["method"]: r for r in data["boards"][0]["rows"]}
    # the partial method has the best mean, but it is ranked after both complete methods
    assert rows["partial"]["composite"]["mean"] > rows["full"]["composite"]["mean"]
    assert rows["full"]["rank"] == 1 and rows["also-full"]["rank"] == 2 and rows["partial"]["rank"] == 3
    assert [r["method"] for r in data["boards"][0]["rows"]] == ["full", "also-full", "partial"]
    assert rows["partial"]["coverage"] == {"scored": 7, "expected": 8, "fraction": 0.875}
    assert rows["partial"]["errors"] == 1 and rows["partial"]["complete"] is False
    assert rows["full"]["coverage"] == {"scored": 8, "expected": 8, "fraction": 1.0}
    assert rows["full"]["errors"] == 0 and rows["full"]["complete"] is True
    assert "incomplete" in data["ranking"]["rule"]

    table = {r["method"]: r for r in csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text("utf-8")))}
    assert table["partial"]["coverage"] == "7/8" and table["partial"]["errors"] == "1"
    assert table["partial"]["rank"] == "3" and table["full"]["coverage"] == "8/8"

    md = (out / "README.md").read_text(encoding="utf-8")
    line = next(ln for ln in md.splitlines() if "partial" in ln and ln.startswith("|"))
    assert "7/8" in line and "incomplete" in line
    assert "| Coverage |" in md and "| Errors |" in md
    page = (out / "index.html").read_text(encoding="utf-8")
    assert ">Coverage<" in page and ">Errors<" in page and "7/8" in page and "incomplete" in page
    method_page = next((out / "methods").glob("partial-*.html")).read_text(encoding="utf-8")
    assert "7 of 8 images" in method_page and "1 error" in method_page


def test_complete_methods_keep_their_order_when_nothing_is_missing(tmp_path):
    df = synthetic_scores({"a": 0.8, "b": 0.3}, n_images=6)
    lb = build_leaderboard([write_scores_folder(tmp_path / "s", df)], tmp_path / "lb", n_boot=100,
                           thumbnails=False)
    rows = lb.boards[0].rows
    assert [(r.method, r.rank, r.n_scored, r.n_expected, r.n_errors) for r in rows] == [
        ("a", 1, 6, 6, 0), ("b", 2, 6, 6, 0)]


def test_gt_without_output_counts_in_the_denominator(tmp_path):
    """An image no method delivered (only 'GT image has no output' rows) still belongs to the board."""
    df = synthetic_scores({"a": 0.8, "b": 0.3}, n_images=4)
    df = df[df["image"] != "img000.png"]
    folder = write_scores_folder(tmp_path / "s", df)
    (folder / "errors.csv").write_text(
        "method,task,dataset,image,path,stage,reason\n"
        "a,sr,set5,img000.png,gt/img000.png,pairing,GT image has no output from this method\n"
        "b,sr,set5,img000.png,gt/img000.png,pairing,GT image has no output from this method\n"
        ",,,stray,x/stray.png,pairing,GT image at an unexpected depth for a nested GT layout\n",
        encoding="utf-8",
    )
    lb = build_leaderboard([folder], tmp_path / "lb", n_boot=50, thumbnails=False)
    assert {(r.method, r.n_scored, r.n_expected, r.n_errors) for r in lb.boards[0].rows} == {
        ("a", 3, 4, 1), ("b", 3, 4, 1)}


@pytest.mark.parametrize("bad", ["inf", "-inf", "nan", "1.5", "-0.2", "good", "1e309"])
@pytest.mark.parametrize("column", ["composite", "fidelity"])
def test_bad_composite_in_submitted_csv_is_refused(tmp_path, bad, column):
    df = synthetic_scores({"a": 0.8, "b": 0.3}, n_images=4)
    folder = write_scores_folder(tmp_path / "s", df, parquet=False)
    text = (folder / "scores.csv").read_text(encoding="utf-8").splitlines()
    header = text[0].split(",")
    cells = text[2].split(",")
    cells[header.index(column)] = bad
    text[2] = ",".join(cells)
    (folder / "scores.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_run(folder)
    msg = str(exc.value)
    assert column in msg and "[0, 1]" in msg and "scores.csv" in msg and bad in msg
    code, output = _cli([str(folder), "-o", str(tmp_path / "lb")])
    assert code != 0 and column in output and not (tmp_path / "lb" / "index.html").exists()


def test_bad_composite_in_parquet_is_refused_and_missing_values_are_allowed(tmp_path):
    df = synthetic_scores({"a": 0.8, "b": 0.3}, n_images=4)
    df.loc[1, "composite"] = np.inf
    with pytest.raises(InputError, match="composite"):
        load_run(write_scores_folder(tmp_path / "inf", df))
    df.loc[1, "composite"] = np.nan  # a composite that could not be computed: missing, allowed
    assert load_run(write_scores_folder(tmp_path / "nan", df)).scores["composite"].isna().sum() == 1
    df2 = synthetic_scores({"a": 0.8}, n_images=3)
    folder = write_scores_folder(tmp_path / "blank", df2, parquet=False)
    text = (folder / "scores.csv").read_text(encoding="utf-8").replace(",0.", ",0.", 1)
    (folder / "scores.csv").write_text(text, encoding="utf-8")
    assert len(load_run(folder).scores) == 3


# ---------------------------------------------------------------------------------- item 15


def _tree_with_secret(tmp_path: Path, roots: bool = True) -> tuple[Path, Path]:
    from PIL import Image

    base = tmp_path / "work"
    df = synthetic_scores({"m1": 0.8, "m2": 0.6}, n_images=2)
    rng = np.random.default_rng(0)
    for rel in set(df["output_path"]) | set(df["gt_path"]):
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(p)
    secret = tmp_path / "private" / "secret.png"
    secret.parent.mkdir()
    Image.fromarray(np.full((40, 40, 3), 200, np.uint8)).save(secret)
    df["output_path"] = [str(base / p) for p in df["output_path"]]
    df["gt_path"] = [str(base / p) for p in df["gt_path"]]
    df.loc[df["method"] == "m2", "output_path"] = str(secret)  # a hostile submission
    folder = write_scores_folder(
        base / "scores", df,
        roots={"results": str(base / "results"), "gt": str(base / "gt")} if roots else None,
    )
    return folder, secret


def _thumb_sources(out: Path) -> int:
    return len(list((out / "thumbs").glob("*.jpg"))) if (out / "thumbs").is_dir() else 0


def test_thumbnails_only_from_recorded_roots(tmp_path, caplog):
    folder, secret = _tree_with_secret(tmp_path)
    out = tmp_path / "lb"
    with caplog.at_level(logging.WARNING):
        build_leaderboard([folder], out, n_boot=20)
    # m1: 2 outputs + 2 GT; m2: only its 2 GT (its outputs point outside the roots)
    assert _thumb_sources(out) == 4
    page = html.unescape(next((out / "methods").glob("m2-*.html")).read_text(encoding="utf-8"))
    assert "outside the run's results and ground-truth folders" in page
    assert str(secret) not in page
    assert any("outside" in r.getMessage() and "--allow-outside" in r.getMessage() for r in caplog.records)
    # the thumbnails written are not the secret image (uniform grey 200)
    from PIL import Image

    for t in (out / "thumbs").glob("*.jpg"):
        assert np.asarray(Image.open(t)).std() > 5

    out2 = tmp_path / "lb2"
    code, output = _cli([str(folder), "-o", str(out2), "--n-boot", "20", "--allow-outside"])
    assert code == 0, output
    assert _thumb_sources(out2) == 6


def test_symlink_inside_a_root_pointing_outside_is_refused(tmp_path):
    folder, secret = _tree_with_secret(tmp_path)
    df = pd.read_parquet(folder / "scores.parquet")
    link = tmp_path / "work" / "results" / "m2" / "link.png"
    link.symlink_to(secret)
    df.loc[df["method"] == "m2", "output_path"] = str(link)
    write_scores_folder(folder, df, roots={"results": str(tmp_path / "work" / "results"),
                                           "gt": str(tmp_path / "work" / "gt")})
    build_leaderboard([folder], tmp_path / "lb", n_boot=20)
    assert _thumb_sources(tmp_path / "lb") == 4


def test_run_without_recorded_roots_makes_no_thumbnails(tmp_path, caplog):
    folder, _ = _tree_with_secret(tmp_path, roots=False)
    with caplog.at_level(logging.WARNING):
        build_leaderboard([folder], tmp_path / "lb", n_boot=20)
    assert _thumb_sources(tmp_path / "lb") == 0
    assert any("run.json" in r.getMessage() and "--allow-outside" in r.getMessage() for r in caplog.records)
    build_leaderboard([folder], tmp_path / "lb2", n_boot=20, allow_outside=True)
    assert _thumb_sources(tmp_path / "lb2") == 6


def test_score_records_its_roots_in_run_json(tmp_path, monkeypatch):
    """``paradigm score`` writes the resolved RESULTS/GT folders into run.json (the thumbnail roots)."""
    from PIL import Image

    from paradigm.engine import ScoreConfig, run_score

    rng = np.random.default_rng(0)
    for d in ("data/gt", "data/res/m"):
        (tmp_path / d).mkdir(parents=True)
    img = (rng.random((24, 24, 3)) * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "data/gt/a.png")
    Image.fromarray(img).save(tmp_path / "data/res/m/a.png")
    monkeypatch.chdir(tmp_path)
    res = run_score(ScoreConfig(results=Path("data/res"), gt=Path("data/gt"), metrics="psnr", cache=None,
                                progress=False))
    assert res.run_info["roots"] == {"results": str(tmp_path / "data/res"), "gt": str(tmp_path / "data/gt")}
