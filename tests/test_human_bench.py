"""Pairing a human-judged dataset's own images (official layouts) and scoring them with the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paradigm.human_bench import ImageIndex, judged_items, pair_images, score_function, score_pairs


def _img(path: Path, seed: int, size: tuple[int, int] = (48, 40)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)
    return a


# (layout name, reference files, distorted files, (item, reference) names as the score files give them)
LAYOUTS = {
    "tid2013": (
        ["reference_images/I01.BMP", "reference_images/I02.BMP"],
        ["distorted_images/i01_01_1.bmp", "distorted_images/I02_03_5.bmp"],
        [("I01_01_1.bmp", "i01"), ("i02_03_5.bmp", "i02")],
    ),
    "kadid": (
        ["images/I01.png"],
        ["images/I01_01_01.png", "images/I01_25_05.png"],
        [("I01_01_01.png", "I01.png"), ("I01_25_05.png", "I01.png")],
    ),
    "csiq": (
        ["src_imgs/1600.png", "src_imgs/fisher.png"],
        ["dst_imgs/awgn/1600.AWGN.1.png", "dst_imgs/jpeg2000/fisher.jpeg2000.3.png"],
        [("1600.AWGN.1.png", "1600"), ("fisher.jpeg2000.3.png", "fisher")],
    ),
    "live": (
        ["refimgs/womanhat.bmp"],
        ["jp2k/img1.bmp", "jpeg/img1.bmp"],
        [("LIVE/jp2k/img1.bmp", "LIVE/refimgs/womanhat.bmp"), ("LIVE/jpeg/img1.bmp", "LIVE/refimgs/womanhat.bmp")],
    ),
    "pipal": (
        ["Train_Ref/A0001.bmp"],
        ["Train_Dist/A0001_00_00.bmp", "Train_Dist/A0001_10_02.bmp"],
        [("A0001_00_00.bmp", "A0001.bmp"), ("A0001_10_02.bmp", "A0001.bmp")],
    ),
    "bapps": (
        ["val/cnn/ref/000000.png"],
        ["val/cnn/p0/000000.png", "val/cnn/p1/000000.png"],
        [("BAPPS/dataset/2afc/val/cnn/p0/000000.png", "BAPPS/dataset/2afc/val/cnn/ref/000000.png"),
         ("BAPPS/dataset/2afc/val/cnn/p1/000000.png", "BAPPS/dataset/2afc/val/cnn/ref/000000.png")],
    ),
    "sriqa": (
        ["online15_Original.png"],
        ["online15_HGGTx4.png"],
        [("online15_HGGTx4.png", "online15_Original.png"), ("online15_Original.png", "online15_Original.png")],
    ),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_official_layout_pairs(tmp_path: Path, layout: str) -> None:
    refs, dists, names = LAYOUTS[layout]
    for k, f in enumerate(refs + dists):
        _img(tmp_path / f, k)
    pairs, bad = pair_images(tmp_path, names)
    assert not bad, bad
    got = {(p.item, p.distorted.relative_to(tmp_path).as_posix(), p.reference.relative_to(tmp_path).as_posix())
           for p in pairs}
    by_item = {item: ref for item, ref in names}
    for item, dist_rel, ref_rel in got:
        assert Path(dist_rel).name.lower() == Path(item).name.lower()
        assert Path(ref_rel).stem.lower() == Path(by_item[item]).stem.lower()


def test_ambiguous_and_missing_names_are_rows_not_guesses(tmp_path: Path) -> None:
    _img(tmp_path / "jp2k/img1.bmp", 0)
    _img(tmp_path / "jpeg/img1.bmp", 1)
    _img(tmp_path / "refimgs/a.bmp", 2)
    pairs, bad = pair_images(tmp_path, [("img1.bmp", "a"), ("jp2k/img9.bmp", "a"), ("jp2k/img1.bmp", "b")])
    assert pairs == []
    reasons = [b.reason for b in bad]
    assert "matches 2 files" in reasons[0]
    assert "no image" in reasons[1] and "reference image" in reasons[2]


def test_index_survives_a_symlink_loop(tmp_path: Path) -> None:
    _img(tmp_path / "a/x.png", 0)
    (tmp_path / "a/loop").symlink_to(tmp_path / "a")
    index = ImageIndex(tmp_path)  # terminates; the looped folder is indexed once
    assert index.resolve("a/x.png") == tmp_path / "a/x.png"


def test_judged_items_from_opinion_and_2afc_tables() -> None:
    import pandas as pd

    op = pd.DataFrame({"item": ["a", "b", "a"], "reference": ["r", "r", "r"], "score": [1, 2, 3]})
    assert judged_items(op) == [("a", "r"), ("b", "r")]
    two = pd.DataFrame({"reference": ["r"], "item_a": ["p0"], "item_b": ["p1"], "frac_b": [0.5]})
    assert judged_items(two) == [("p0", "r"), ("p1", "r")]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / mse)


def test_engine_scores_the_pairs_by_item(tmp_path: Path) -> None:
    root = tmp_path / "tid"
    ref = _img(root / "reference_images/I01.BMP", 0)
    rng = np.random.default_rng(5)
    items = []
    want = {}
    for k in range(1, 4):
        noisy = np.clip(ref.astype(int) + rng.integers(-8 * k, 8 * k + 1, ref.shape), 0, 255).astype(np.uint8)
        name = f"i01_01_{k}.bmp"
        (root / "distorted_images").mkdir(exist_ok=True)
        Image.fromarray(noisy).save(root / "distorted_images" / name)
        items.append((name, "i01"))
        want[name] = _psnr(noisy, ref)
    pairs, bad = pair_images(root, items)
    assert not bad
    scores, errors, info = score_pairs(pairs, tmp_path / "work", method="tid2013", metrics="psnr", workers=0)
    assert len(errors) == 0 and info["counts"]["rows"] == 3
    got = dict(zip(scores["item"], scores["psnr"], strict=True))
    for name, v in want.items():
        assert got[name] == pytest.approx(v, abs=1e-6)
    again, _, info2 = score_pairs(pairs, tmp_path / "work", method="tid2013", metrics="psnr", workers=0)
    assert info2["counts"]["computed"] == 0 and info2["counts"]["cached"] == 3  # the same cache


def test_plain_function_is_scored_per_item(tmp_path: Path) -> None:
    import torch

    _img(tmp_path / "ref/a.png", 0)
    _img(tmp_path / "dist/a_1.png", 1)
    _img(tmp_path / "dist/a_2.png", 2, size=(24, 20))  # resized to the reference
    pairs, _ = pair_images(tmp_path, [("a_1.png", "a"), ("a_2.png", "a")])

    def mae(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return (x - ref).abs().flatten(1).mean(1)

    values, bad = score_function(mae, pairs, name="mae")
    assert not bad and set(values) == {"a_1.png", "a_2.png"}

    def broken(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")

    values, bad = score_function(broken, pairs, name="broken")
    assert values == {} and len(bad) == 2 and "boom" in bad[0].reason
