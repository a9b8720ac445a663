"""Leaderboards: merging, signature conflicts, ranking with ties, escaping, determinism, schema."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _synthetic_scores import default_signature, synthetic_scores, write_scores_folder
from click.testing import CliRunner

from paradigm.errors import InputError
from paradigm.leaderboard import build_leaderboard, load_run, merge_runs
from paradigm.leaderboard.markdown import md_escape
from paradigm.leaderboard.ranking import rank_methods, rng_for, significantly_worse

HOSTILE = "<script>alert(1)</script>"
ATTR_HOSTILE = "x\" onmouseover=\"alert(2)' |`md`"


def _cli(args: list[str]) -> tuple[int, str]:
    from paradigm.cli.leaderboard import leaderboard

    res = CliRunner().invoke(leaderboard, args, catch_exceptions=False)
    return res.exit_code, res.output


def _folder(tmp_path: Path, name: str, methods: dict[str, float], sig: dict | None = None, **kw) -> Path:
    return write_scores_folder(tmp_path / name, synthetic_scores(methods, **kw), sig)


def _json(out: Path) -> dict:
    return json.loads((out / "leaderboard.json").read_text(encoding="utf-8"))


def _ranks(data: dict, board: int = 0) -> dict[str, int]:
    return {r["method"]: r["rank"] for r in data["boards"][board]["rows"]}


# ------------------------------------------------------------------------------------------- merging


def test_merge_two_runs_with_disjoint_methods(tmp_path):
    a = _folder(tmp_path, "a", {"alpha": 0.8, "beta": 0.6})
    b = _folder(tmp_path, "b", {"gamma": 0.7}, sig=default_signature(device="cuda", seed=3))
    out = tmp_path / "lb"
    code, output = _cli([str(a), str(b), "-o", str(out), "--n-boot", "200"])
    assert code == 0, output
    data = _json(out)
    rows = {r["method"]: r for r in data["boards"][0]["rows"]}
    assert set(rows) == {"alpha", "beta", "gamma"}
    assert rows["alpha"]["runs"] == ["run1"] and rows["gamma"]["runs"] == ["run2"]
    # every row carries the signature line of the run that produced it (device/seed differ: no conflict)
    assert "device:cuda" in rows["gamma"]["signature_line"] and "device:cpu" in rows["alpha"]["signature_line"]
    assert data["conflicts"] == []
    assert [r["id"] for r in data["runs"]] == ["run1", "run2"]
    assert data["runs"][1]["signature"]["device"] == "cuda"
    assert _ranks(data) == {"alpha": 1, "gamma": 2, "beta": 3}
    table = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text(encoding="utf-8"))))
    assert all(r["signature"].startswith("paradigm:") for r in table)
    for name in ("index.html", "README.md", "leaderboard.csv", "leaderboard.json"):
        assert (out / name).is_file()


@pytest.mark.parametrize(
    ("field", "override", "shown"),
    [
        ("resize", {"resize": "none"}, ("'to-gt'", "'none'")),
        ("paradigm", {"paradigm": "0.2.0"}, ("'0.1'", "'0.2'")),
        ("metrics", {"metrics": [{"name": "psnr", "version": "2", "options": {}, "weights": []}]}, ("psnr.2",)),
        ("y_channel", {"y_channel": True}, ("false", "true")),
        ("composite", {"composite": "default-v2"}, ("default-v1", "default-v2")),
    ],
)
def test_signature_conflict_names_field_and_values(tmp_path, field, override, shown):
    a = _folder(tmp_path, "a", {"alpha": 0.8})
    b = _folder(tmp_path, "b", {"beta": 0.7}, sig=default_signature(**override))
    code, output = _cli([str(a), str(b), "-o", str(tmp_path / "lb")])
    assert code != 0
    assert f"'{field}'" in output and "--force" in output
    for text in shown:
        assert text in output
    assert not (tmp_path / "lb" / "index.html").exists()


def test_signature_fields_that_do_not_change_scores_merge(tmp_path):
    a = _folder(tmp_path, "a", {"alpha": 0.8})
    b = _folder(tmp_path, "b", {"beta": 0.7}, sig=default_signature(paradigm="0.1.7", device="cuda", seed=9))
    merged = merge_runs([load_run(a, "run1"), load_run(b, "run2")])
    assert merged.conflicts == []


def test_force_merges_and_marks_rows(tmp_path):
    a = _folder(tmp_path, "a", {"alpha": 0.8})
    b = _folder(tmp_path, "b", {"beta": 0.7}, sig=default_signature(resize="none", crop_border=4))
    out = tmp_path / "lb"
    code, output = _cli([str(a), str(b), "-o", str(out), "--force", "--n-boot", "100"])
    assert code == 0, output
    data = _json(out)
    rows = {r["method"]: r for r in data["boards"][0]["rows"]}
    assert rows["beta"]["signature_conflict"] == ["crop_border", "resize"]
    assert rows["alpha"]["signature_conflict"] == []
    assert {c["field"] for c in data["conflicts"]} == {"resize", "crop_border"}
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "signature conflict (crop_border,resize)" in page and 'class="banner"' in page
    md = (out / "README.md").read_text(encoding="utf-8")
    assert "\u26a0 conflict: crop\\_border,resize" in md
    table = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text(encoding="utf-8"))))
    assert {r["method"]: r["signature_conflict"] for r in table} == {"alpha": "", "beta": "crop_border,resize"}


def test_same_row_in_two_inputs(tmp_path):
    a = _folder(tmp_path, "a", {"alpha": 0.8})
    same = write_scores_folder(tmp_path / "copy", pd.read_parquet(a / "scores.parquet"))
    merged = merge_runs([load_run(a, "run1"), load_run(same, "run2")])
    assert len(merged.scores) == len(pd.read_parquet(a / "scores.parquet"))  # identical: kept once
    changed = pd.read_parquet(a / "scores.parquet")
    changed.loc[3, "composite"] = 0.01
    other = write_scores_folder(tmp_path / "other", changed)
    with pytest.raises(InputError, match="img003.png.*appears in 'a' and 'other'"):
        merge_runs([load_run(a, "run1"), load_run(other, "run2")])


def test_csv_only_folder_keeps_names_like_na(tmp_path):
    df = synthetic_scores({"NA": 0.8, "null": 0.5}, n_images=6, task="", dataset="")
    folder = write_scores_folder(tmp_path / "s", df, parquet=False)
    run = load_run(folder)
    assert set(run.scores["method"]) == {"NA", "null"}
    assert set(run.scores["task"]) == {""}
    assert run.scores["composite"].dtype == np.float64


def test_bad_inputs_raise_actionable_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="run.json"):
        load_run(empty)
    with pytest.raises(InputError, match="does not exist"):
        load_run(tmp_path / "nope")
    (empty / "run.json").write_text(json.dumps({"signature": default_signature()}), encoding="utf-8")
    with pytest.raises(InputError, match="no scores.parquet or scores.csv"):
        load_run(empty)
    no_comp = synthetic_scores({"a": 0.5}, n_images=3).drop(columns=["composite"])
    folder = write_scores_folder(tmp_path / "nocomp", no_comp)
    with pytest.raises(InputError, match="no composite"):
        build_leaderboard([folder], tmp_path / "lb")
    ok = _folder(tmp_path, "ok", {"a": 0.5}, n_images=3)
    with pytest.raises(InputError, match="'dino_sim' is not in the scores"):
        build_leaderboard([ok], tmp_path / "lb", metrics=["dino_sim"])
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine", encoding="utf-8")
    code, output = _cli([str(ok), "-o", str(busy)])
    assert code != 0 and "not empty" in output
    assert (busy / "notes.txt").read_text(encoding="utf-8") == "mine"


# ------------------------------------------------------------------------------------------- ranking


def test_identical_distributions_share_a_rank_and_a_clear_winner_is_alone():
    rng = np.random.default_rng(1)
    images = [f"i{k}" for k in range(40)]
    base = pd.Series(rng.uniform(0.4, 0.6, 40), index=images)
    shuffled = pd.Series(rng.permutation(base.to_numpy()), index=images)
    ranks = rank_methods({"a": base, "b": base.copy(), "c": shuffled, "best": base + 0.2}, n_boot=500, seed=0)
    assert ranks["best"].rank == 1
    assert {ranks[m].rank for m in ("a", "b", "c")} == {2}
    assert ranks["a"].group_top == ranks["b"].group_top


def test_competition_ranks_1_1_3():
    images = [f"i{k}" for k in range(30)]
    rng = np.random.default_rng(0)
    x = pd.Series(rng.uniform(0.5, 0.7, 30), index=images)
    noise = pd.Series(rng.normal(0, 0.001, 30), index=images)
    ranks = rank_methods({"a": x, "b": x + noise, "c": x - 0.3}, n_boot=500, seed=0)
    assert sorted(r.rank for r in ranks.values()) == [1, 1, 3]
    assert ranks["c"].rank == 3


def test_rank_group_is_anchored_at_its_top_method():
    # b is not significantly worse than a, c not than b, but c is significantly worse than a.
    images = [f"i{k}" for k in range(200)]
    rng = np.random.default_rng(3)
    x = pd.Series(rng.uniform(0.3, 0.7, 200), index=images)
    ranks = rank_methods(
        {"a": x, "b": x - 0.004 + pd.Series(rng.normal(0, 0.03, 200), index=images),
         "c": x - 0.008 + pd.Series(rng.normal(0, 0.005, 200), index=images)},
        n_boot=1000, seed=0,
    )
    assert ranks["a"].rank == 1
    assert ranks["c"].rank == 3 and ranks["c"].group_top == "c"


def test_significance_uses_only_shared_images_and_is_seeded():
    top = pd.Series([0.9, 0.8, 0.85, 0.95], index=["a", "b", "c", "d"])
    other = pd.Series([0.5, 0.4, 0.1], index=["a", "b", "x"])
    assert significantly_worse(top, other, 200, rng_for(0, "t"))
    assert not significantly_worse(top, pd.Series([0.1], index=["a"]), 200, rng_for(0, "t"))  # < 2 shared
    assert not significantly_worse(top, top.copy(), 200, rng_for(0, "t"))
    r1 = rank_methods({"p": top, "q": top - 0.01}, n_boot=100, seed=5)
    r2 = rank_methods({"q": top - 0.01, "p": top}, n_boot=100, seed=5)
    assert r1 == r2


def test_unranked_method_without_composite():
    s = pd.Series([0.5, 0.6], index=["a", "b"])
    ranks = rank_methods({"ok": s, "none": pd.Series([np.nan, np.nan], index=["a", "b"])}, n_boot=10)
    assert ranks["ok"].rank == 1 and ranks["none"].rank == 0


def test_rank_by_floor_uses_worst_sample(tmp_path):
    df = synthetic_scores({"steady": 0.7, "erratic": 0.75}, n_images=20, samples=3, noise=0.01)
    worst = (df["method"] == "erratic") & (df["sample"] == "2")
    df.loc[worst, "composite"] = 0.2  # one terrible sample per input
    folder = write_scores_folder(tmp_path / "s", df)
    mean_lb = build_leaderboard([folder], tmp_path / "mean", n_boot=200, thumbnails=False)
    floor_lb = build_leaderboard([folder], tmp_path / "floor", rank_by="floor", n_boot=200, thumbnails=False)
    assert [r.method for r in mean_lb.boards[0].rows] == ["steady", "erratic"]  # 0.7 vs (0.75*2+0.2)/3
    assert [r.method for r in floor_lb.boards[0].rows] == ["steady", "erratic"]
    rows = {r.method: r for r in floor_lb.boards[0].rows}
    assert rows["erratic"].floor is not None and rows["erratic"].floor.mean == pytest.approx(0.2)
    assert rows["steady"].n_images == 20 and rows["steady"].n_samples == 60
    data = _json(tmp_path / "floor")
    assert data["rank_by"] == "floor" and data["boards"][0]["has_samples"] is True
    # with the bad sample made mild, mean prefers erratic but floor prefers steady
    df.loc[worst, "composite"] = 0.6
    folder2 = write_scores_folder(tmp_path / "s2", df)
    m2 = build_leaderboard([folder2], tmp_path / "m2", n_boot=200, thumbnails=False)
    f2 = build_leaderboard([folder2], tmp_path / "f2", rank_by="floor", n_boot=200, thumbnails=False)
    assert m2.boards[0].rows[0].method == "erratic"
    assert f2.boards[0].rows[0].method == "steady"


def test_boards_per_task_and_dataset(tmp_path):
    df = pd.concat([
        synthetic_scores({"m1": 0.8, "m2": 0.5}, n_images=10, task="sr", dataset="set5"),
        synthetic_scores({"m1": 0.4, "m2": 0.9}, n_images=10, task="denoise", dataset="kodak"),
    ])
    lb = build_leaderboard([write_scores_folder(tmp_path / "s", df)], tmp_path / "lb", n_boot=200,
                           thumbnails=False)
    assert [(b.task, b.dataset) for b in lb.boards] == [("denoise", "kodak"), ("sr", "set5")]
    assert [r.method for r in lb.boards[0].rows] == ["m2", "m1"]
    assert [r.method for r in lb.boards[1].rows] == ["m1", "m2"]
    page = (tmp_path / "lb" / "index.html").read_text(encoding="utf-8")
    assert page.count('<table class="lb sortable">') == 2 and page.count('<svg class="scatter"') == 2


# ------------------------------------------------------------------------------------------- safety


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _hostile_build(tmp_path: Path) -> Path:
    df = synthetic_scores({HOSTILE: 0.8, ATTR_HOSTILE: 0.6, "plain": 0.5}, n_images=5,
                          task="<b>t</b>", dataset="d</svg><img src=x onerror=alert(3)>",
                          images=["<img src=x onerror=alert(4)>.png", "a|b`c.png", "ok.png", "q\".png", "z.png"])
    folder = write_scores_folder(tmp_path / "s", df)
    out = tmp_path / "lb"
    code, output = _cli([str(folder), "-o", str(out), "--title", "</title><script>alert(5)</script>",
                         "--n-boot", "100"])
    assert code == 0, output
    return out


def test_hostile_names_are_escaped_everywhere(tmp_path):
    out = _hostile_build(tmp_path)
    pages = [out / "index.html", *sorted((out / "methods").glob("*.html"))]
    assert len(pages) == 4
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<script>alert" not in text and "<img src=x" not in text
        parsed = _Collector()
        parsed.feed(text)
        tags = [t for t, _ in parsed.tags]
        assert tags.count("script") == 1  # only our sort script
        assert "img" not in tags or all((a.get("src") or "").startswith("../thumbs/") for t, a in parsed.tags
                                        if t == "img")
        for _, attrs in parsed.tags:
            assert not any(k.startswith("on") for k in attrs), attrs
    index = _Collector()
    index.feed((out / "index.html").read_text(encoding="utf-8"))
    visible = "".join(index.text)
    assert HOSTILE in visible and ATTR_HOSTILE in visible  # shown as text
    assert "d</svg><img src=x onerror=alert(3)>" in visible
    # page file names are slugs
    for page in (out / "methods").iterdir():
        assert re.fullmatch(r"[a-z0-9-]+\.html", page.name)


def test_markdown_escaping(tmp_path):
    out = _hostile_build(tmp_path)
    md = (out / "README.md").read_text(encoding="utf-8")
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert md_escape("a|b`c") == "a\\|b\\`c"
    header = next(line for line in md.splitlines() if line.startswith("| Rank"))
    n_cols = len(re.split(r"(?<!\\)\|", header))
    for line in md.splitlines():
        if line.startswith("| ") and not line.startswith("| Rank"):
            assert len(re.split(r"(?<!\\)\|", line)) == n_cols, line


def test_json_csv_round_trip_hostile_names(tmp_path):
    out = _hostile_build(tmp_path)
    data = _json(out)
    assert data["title"] == "</title><script>alert(5)</script>"
    assert {r["method"] for r in data["boards"][0]["rows"]} == {HOSTILE, ATTR_HOSTILE, "plain"}
    table = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text(encoding="utf-8"))))
    assert {r["method"] for r in table} == {HOSTILE, ATTR_HOSTILE, "plain"}


# ------------------------------------------------------------------------------------------- determinism


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _with_images(tmp_path: Path) -> Path:
    from PIL import Image

    df = synthetic_scores({"m1": 0.8, "m2": 0.6}, n_images=4, samples=2)
    folder = write_scores_folder(tmp_path / "scores", df, roots={"results": str(tmp_path / "scores" / "results"),
                                                                 "gt": str(tmp_path / "scores" / "gt")})
    rng = np.random.default_rng(0)
    for rel in set(df["output_path"]) | set(df["gt_path"]):
        p = tmp_path / "scores" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((200, 300, 3)) * 255).astype(np.uint8)).save(p)
    return folder


def test_rebuild_is_byte_identical(tmp_path):
    folder = _with_images(tmp_path)
    args = [str(folder), "--title", "T", "--n-boot", "300", "--seed", "7"]
    assert _cli([*args, "-o", str(tmp_path / "one")])[0] == 0
    assert _cli([*args, "-o", str(tmp_path / "two" / "deeper")])[0] == 0
    one, two = _tree(tmp_path / "one"), _tree(tmp_path / "two" / "deeper")
    assert one == two
    assert any(name.startswith("thumbs/") for name in one)
    assert _cli([*args, "-o", str(tmp_path / "one")])[0] == 0  # rebuilding in place
    assert _tree(tmp_path / "one") == one
    for name, content in one.items():
        if name.endswith((".html", ".md", ".csv", ".json")):
            text = content.decode("utf-8")
            assert str(tmp_path) not in text, name
    other_seed = tmp_path / "seed8"
    assert _cli([str(folder), "--title", "T", "--n-boot", "300", "--seed", "8", "-o", str(other_seed)])[0] == 0
    assert _tree(other_seed)["leaderboard.json"] != one["leaderboard.json"]


def test_thumbnails_copied_downscaled_or_reported_missing(tmp_path):
    from PIL import Image

    folder = _with_images(tmp_path)
    out = tmp_path / "lb"
    build_leaderboard([folder], out, n_boot=50)
    thumbs = sorted((out / "thumbs").iterdir())
    assert thumbs and all(max(Image.open(t).size) <= 160 for t in thumbs)
    page = next((out / "methods").glob("m1-*.html")).read_text(encoding="utf-8")
    assert page.count('src="../thumbs/') >= 2 and "not reachable" not in page
    # images gone: the page says so
    lonely = write_scores_folder(tmp_path / "lonely", synthetic_scores({"m1": 0.5}, n_images=2))
    out2 = tmp_path / "lb2"
    build_leaderboard([lonely], out2, n_boot=50)
    page2 = next((out2 / "methods").glob("m1-*.html")).read_text(encoding="utf-8")
    assert "not reachable" in page2 and "<img" not in page2
    out3 = tmp_path / "lb3"
    build_leaderboard([folder], out3, n_boot=50, thumbnails=False)
    assert not (out3 / "thumbs").exists()
    assert "Thumbnails are off" in next((out3 / "methods").glob("m1-*.html")).read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------- schema


def test_json_schema_fields(tmp_path):
    folder = _folder(tmp_path, "s", {"m1": 0.8, "m2": 0.3}, n_images=8)
    out = tmp_path / "lb"
    assert _cli([str(folder), "-o", str(out), "--metrics", "psnr,lpips", "--n-boot", "100"])[0] == 0
    data = _json(out)
    assert data["schema"] == "paradigm.leaderboard/1"
    assert set(data) == {"schema", "title", "generator", "rank_by", "ranking", "metrics", "runs", "conflicts",
                         "boards"}
    assert data["title"] == "lb" and data["metrics"] == ["psnr", "lpips"]
    assert data["ranking"] == {"test": "paired-bootstrap", "alpha": 0.05, "n_boot": 100, "seed": 0,
                               "ci": "percentile bootstrap over images", "rule": data["ranking"]["rule"]}
    run = data["runs"][0]
    assert set(run) == {"id", "name", "signature_line", "signature"} and run["name"] == "s"
    assert run["signature"] == default_signature()
    board = data["boards"][0]
    assert set(board) == {"task", "dataset", "has_samples", "rows"} and board["has_samples"] is False
    row = board["rows"][0]
    assert set(row) == {"rank", "method", "slug", "composite", "floor", "pillars", "metrics", "n_images",
                        "n_samples", "coverage", "errors", "complete", "runs", "signature_line",
                        "signature_conflict"}
    assert row["coverage"] == {"scored": 8, "expected": 8, "fraction": 1.0} and row["errors"] == 0
    assert row["rank"] == 1 and row["method"] == "m1" and row["floor"] is None
    c = row["composite"]
    assert 0 <= c["ci_low"] <= c["mean"] <= c["ci_high"] <= 1
    assert set(row["pillars"]) == {"perceptual", "stability", "fidelity"}
    assert set(row["metrics"]) == {"psnr", "lpips"}
    assert row["n_images"] == 8 and row["n_samples"] == 8
    csv_header = (out / "leaderboard.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert csv_header[:4] == ["task", "dataset", "rank", "method"] and "psnr" in csv_header
    assert "ssim" not in csv_header and csv_header[-1] == "signature"
