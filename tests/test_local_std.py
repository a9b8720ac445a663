"""CCSR's L-STD per input in a run with several samples per input (paradigm.samples.local_std_table).

Expected values are computed here with numpy from the files written: the pixel-wise population std
over an input's K samples (in [0, 1] units), averaged over pixels and channels (Sun et al., arXiv
2401.00877, "L-STD").
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import spy_reads
from PIL import Image

from paradigm.engine import ScoreConfig, run_score
from paradigm.outputs import ERROR_COLUMNS, write_outputs
from paradigm.samples import local_std, local_std_table

H, W, K = 20, 24, 3


def _img(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _save(path: Path, a: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)


def _expected(arrays: list[np.ndarray]) -> float:
    x = np.stack([a.astype(np.float64) / 255.0 for a in arrays])
    return float(x.std(axis=0, ddof=0).mean())


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, dict[str, float]]:
    """GT im0, im1; method ``gen`` with K = 3 samples per input (GT + growing noise); ``det`` one output."""
    want: dict[str, float] = {}
    for i in range(2):
        gt = _img(100 + i)
        _save(tmp_path / "gt" / f"im{i}.png", gt)
        _save(tmp_path / "res" / "det" / f"im{i}.png", gt)
        samples = []
        for k in range(K):
            noise = np.random.default_rng(10 * i + k).normal(0, 8 * (i + 1), gt.shape)
            s = np.clip(np.round(gt + noise), 0, 255).astype(np.uint8)
            _save(tmp_path / "res" / "gen" / f"im{i}_s{k}.png", s)
            samples.append(s)
        want[f"im{i}"] = _expected(samples)
    return tmp_path, want


def _run(root: Path) -> object:
    cfg = ScoreConfig(results=root / "res", gt=root / "gt", metrics="psnr,ciede2000", cache=None, workers=0, progress=False)
    return run_score(cfg)


def test_local_std_matches_numpy_by_construction(tree: tuple[Path, dict[str, float]]) -> None:
    root, want = tree
    res = _run(root)
    samples = res.samples  # type: ignore[attr-defined]
    rows = samples[samples["metric"] == "l_std"].set_index("image")
    assert set(rows["method"]) == {"gen"}  # det has one output per input: no L-STD
    for image, v in want.items():
        assert rows.loc[image, "mean"] == pytest.approx(v, rel=1e-6)  # rgb-v1 decodes to float32
        assert rows.loc[image, "count"] == K
    assert want["im1"] > want["im0"] > 0
    # beside the composite: summary.csv row and run.json's run_spread
    summ = res.summary[(res.summary["metric"] == "l_std")]  # type: ignore[attr-defined]
    assert list(summ["method"]) == ["gen"]
    assert summ["mean"].iloc[0] == pytest.approx(np.mean(list(want.values())), rel=1e-6)
    assert summ["count"].iloc[0] == 2
    spread = {r["method"]: r for r in res.run_info["run_spread"]}  # type: ignore[attr-defined]
    assert set(spread) == {"gen"}
    g = spread["gen"]
    assert g["l_std"] == pytest.approx(np.mean(list(want.values())), rel=1e-6)
    assert g["n_inputs"] == 2 and g["samples_per_input"] == K
    # G-STD of the composite: population std over each input's samples, averaged over inputs
    sc = res.scores[res.scores["method"] == "gen"]  # type: ignore[attr-defined]
    gstd = np.mean([np.std(sc[sc["image"] == im]["composite"].to_numpy(), ddof=0) for im in want])
    assert g["g_std"]["composite"] == pytest.approx(gstd, rel=1e-9, abs=1e-15)
    assert res.errors.empty  # type: ignore[attr-defined]


def test_outputs_carry_l_std(tree: tuple[Path, dict[str, float]], tmp_path: Path) -> None:
    root, want = tree
    res = _run(root)
    out = tmp_path / "out"
    write_outputs(out, res.scores, res.summary, res.errors, res.run_info, samples=res.samples)  # type: ignore[attr-defined]
    csv = pd.read_csv(out / "samples.csv")
    got = csv[csv["metric"] == "l_std"].set_index("image")["mean"]
    assert got.to_dict() == pytest.approx(want, rel=1e-6)
    run = json.loads((out / "run.json").read_text())
    assert run["run_spread"][0]["method"] == "gen"
    summ = pd.read_csv(out / "summary.csv")
    assert (summ["metric"] == "l_std").sum() == 1


def test_undecodable_and_mismatched_samples_are_error_rows(tree: tuple[Path, dict[str, float]]) -> None:
    root, _ = tree
    scores = _run(root).scores  # type: ignore[attr-defined]
    gen = root / "res" / "gen"
    (gen / "im0_s1.png").write_bytes(b"not a png")  # broken after scoring
    _save(gen / "im1_s2.png", _img(7)[:10])  # another size
    table, errors = local_std_table(scores, progress=False)
    assert list(errors.columns) == list(ERROR_COLUMNS)
    assert len(errors) == 2 and (errors["stage"] == "l_std").all()
    by = errors.set_index("image")
    assert "not decodable" in by.loc["im0", "reason"] and "im0_s1" in by.loc["im0", "path"]
    assert "one size" in by.loc["im1", "reason"]
    t = table.set_index("image")
    # the rest is still measured: L-STD over the two samples left of each input
    left0 = [np.asarray(Image.open(gen / f"im0_s{k}.png")) for k in (0, 2)]
    left1 = [np.asarray(Image.open(gen / f"im1_s{k}.png")) for k in (0, 1)]
    assert t.loc["im0", "l_std"] == pytest.approx(_expected(left0), rel=1e-6)
    assert t.loc["im1", "l_std"] == pytest.approx(_expected(left1), rel=1e-6)
    assert t.loc["im0", "l_std_samples"] == 2
    # a single sample left: NaN, not a crash
    (gen / "im0_s2.png").write_bytes(b"")
    table2, errors2 = local_std_table(scores, progress=False)
    assert math.isnan(table2.set_index("image").loc["im0", "l_std"]) and len(errors2) == 3


def test_streaming_equals_local_std_on_floats() -> None:
    """The streamed (one sample at a time) value equals local_std over the stacked samples, and numpy's."""
    rng = np.random.default_rng(3)
    arrays = [rng.random((3, 9, 7)) for _ in range(5)]
    paths = [f"s{k}" for k in range(5)]
    scores = pd.DataFrame({"method": "m", "task": "", "dataset": "", "image": "a", "sample": [str(k) for k in range(5)],
                           "output_path": paths})
    table, errors = local_std_table(scores, read=lambda p: torch.from_numpy(arrays[paths.index(p)]), progress=False)
    want = float(np.stack(arrays).std(axis=0, ddof=0).mean())
    assert errors.empty and table["l_std"].iloc[0] == pytest.approx(want, rel=1e-12)
    assert local_std([torch.from_numpy(a) for a in arrays]) == pytest.approx(want, rel=1e-12)


def test_no_samples_no_rows() -> None:
    scores = pd.DataFrame({"method": ["m"], "task": [""], "dataset": [""], "image": ["a"], "sample": [""],
                           "output_path": ["x.png"]})
    table, errors = local_std_table(scores, progress=False)
    assert table.empty and errors.empty


def test_a_cached_rerun_decodes_no_sample_for_l_std(
    tree: tuple[Path, dict[str, float]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, want = tree
    cfg = ScoreConfig(results=root / "res", gt=root / "gt", metrics="psnr", cache=str(root / "c.sqlite"),
                      workers=0, progress=False)
    first = run_score(cfg)

    read = spy_reads(monkeypatch)
    second = run_score(cfg)
    assert not read  # every value, L-STD included, came from the cache
    a, b = first.samples, second.samples  # type: ignore[attr-defined]
    got = b[b["metric"] == "l_std"].set_index("image")["mean"]
    for image, value in want.items():
        assert math.isclose(got[image], value, rel_tol=1e-6)
    pd.testing.assert_frame_equal(a, b)
