"""Results discovery and pairing (paradigm.layout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paradigm.errors import InputError
from paradigm.layout import canonical_key, discover, iter_images, split_sample


def img(path: Path, size: int = 8, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(a).save(path)
    return path


def keyset(layout) -> set[tuple[str, str, str, str, str]]:
    return {(p.method, p.task, p.dataset, p.image, p.sample) for p in layout.pairs}


@pytest.mark.parametrize(
    "stem,key",
    [
        ("Baby", "baby"),
        ("baby_x4_SR", "baby"),
        ("baby_SR_x4", "baby"),
        ("0801x4", "0801"),
        ("img_001_out", "img_001"),
        ("img-rlt", "img"),
        ("butterfly_LR", "butterfly"),
        ("butterfly_lq", "butterfly"),
        ("box4", "box4"),  # no digit before x4: kept
        ("sr", "sr"),  # nothing left to strip to
        ("a_restored_pred_fake", "a"),
        ("comic_x2_output", "comic"),
    ],
)
def test_canonical_key(stem: str, key: str) -> None:
    assert canonical_key(stem) == key


def test_split_sample() -> None:
    assert split_sample("img_s0") == ("img", "0")
    assert split_sample("img_S12") == ("img", "12")
    assert split_sample("img") == ("img", "")
    assert split_sample("bus") == ("bus", "")


def test_full_form(tmp_path: Path) -> None:
    for name in ("a", "b"):
        img(tmp_path / "gt" / "sr" / "set5" / f"{name}.png")
        img(tmp_path / "gt" / "dn" / "kodak" / f"{name}.png")
    for m in ("m1", "m2"):
        for name in ("a", "b"):
            img(tmp_path / "res" / m / "sr" / "set5" / f"{name}.png")
    img(tmp_path / "res" / "m1" / "dn" / "kodak" / "a.png")
    lay = discover(tmp_path / "res", tmp_path / "gt")
    assert lay.form == "full" and not lay.single_method
    assert lay.methods == ["m1", "m2"]
    assert ("m1", "dn", "kodak", "a", "") in keyset(lay)
    assert len(lay.pairs) == 5
    reasons = {(u.method, u.task, u.dataset, u.image): u.reason for u in lay.unpaired}
    # m1 misses dn/kodak/b; m2 has nothing in dn/kodak: one summary row
    assert ("m1", "dn", "kodak", "b") in reasons
    assert any(k[0] == "m2" and k[1] == "dn" and "no outputs" in v for k, v in reasons.items())


def test_flat_form_and_suffixes(tmp_path: Path) -> None:
    img(tmp_path / "gt" / "Baby.PNG")
    img(tmp_path / "gt" / "0801.png")
    img(tmp_path / "gt" / "bird_HR.png")
    img(tmp_path / "res" / "edsr" / "baby_x4_SR.jpg")
    img(tmp_path / "res" / "edsr" / "0801x4.png")
    img(tmp_path / "res" / "edsr" / "bird_x4.bmp")
    lay = discover(tmp_path / "res", tmp_path / "gt")
    assert lay.form == "flat" and not lay.single_method
    assert keyset(lay) == {("edsr", "", "", "Baby", ""), ("edsr", "", "", "0801", ""), ("edsr", "", "", "bird_HR", "")}
    assert lay.unpaired == []


def test_single_method_flat(tmp_path: Path) -> None:
    img(tmp_path / "gt" / "a.png")
    img(tmp_path / "gt" / "b.png")
    img(tmp_path / "mymethod" / "a_out.png")
    img(tmp_path / "mymethod" / "b_out.png")
    lay = discover(tmp_path / "mymethod", tmp_path / "gt")
    assert lay.single_method
    assert lay.methods == ["mymethod"]
    assert {p.image for p in lay.pairs} == {"a", "b"}


def test_single_method_full(tmp_path: Path) -> None:
    img(tmp_path / "gt" / "sr" / "set5" / "a.png")
    img(tmp_path / "swinir" / "sr" / "set5" / "a.png")
    lay = discover(tmp_path / "swinir", tmp_path / "gt")
    assert lay.form == "full" and lay.single_method
    assert keyset(lay) == {("swinir", "sr", "set5", "a", "")}


def test_unpaired_listed_never_dropped(tmp_path: Path) -> None:
    img(tmp_path / "gt" / "a.png")
    img(tmp_path / "gt" / "b.png")
    img(tmp_path / "res" / "m" / "a.png")
    img(tmp_path / "res" / "m" / "zebra.png")  # no GT
    img(tmp_path / "res" / "m" / "deep" / "er" / "x.png")  # unexpected location
    lay = discover(tmp_path / "res", tmp_path / "gt")
    assert keyset(lay) == {("m", "", "", "a", "")}
    reasons = sorted(u.reason for u in lay.unpaired)
    assert any("no GT image" in r for r in reasons)
    assert any("no output" in r for r in reasons)
    assert any("unexpected location" in r for r in reasons)
    assert len(lay.unpaired) == 3


def test_duplicate_output_listed(tmp_path: Path) -> None:
    img(tmp_path / "gt" / "a.png")
    img(tmp_path / "res" / "m" / "a_SR.png")
    img(tmp_path / "res" / "m" / "a_x4.png")
    lay = discover(tmp_path / "res", tmp_path / "gt")
    assert len(lay.pairs) == 1
    assert len(lay.unpaired) == 1 and "duplicate" in lay.unpaired[0].reason


def test_ambiguous_gt(tmp_path: Path) -> None:
    img(tmp_path / "gt" / "a.png")
    img(tmp_path / "gt" / "a.jpg")
    img(tmp_path / "res" / "m" / "a.png")
    lay = discover(tmp_path / "res", tmp_path / "gt")
    assert not lay.pairs
    assert any("ambiguous" in u.reason for u in lay.unpaired)


def test_samples_suffix_and_seed_dirs(tmp_path: Path) -> None:
    img(tmp_path / "gt" / "a.png")
    img(tmp_path / "gt" / "b.png")
    img(tmp_path / "gt" / "bus_s1.png")  # a GT name that looks like a sample suffix
    for k in range(3):
        img(tmp_path / "res" / "gen" / f"a_s{k}.png")
        img(tmp_path / "res" / "gen" / f"b_s{k}.png")
        img(tmp_path / "res" / "gen" / f"bus_s1_s{k}.png")
    for k in range(2):
        for n in ("a", "b", "bus_s1"):
            img(tmp_path / "res" / "seeded" / f"seed_{k}" / f"{n}.png")
    img(tmp_path / "res" / "plain" / "a.png")
    img(tmp_path / "res" / "plain" / "b.png")
    img(tmp_path / "res" / "plain" / "bus_s1.png")
    lay = discover(tmp_path / "res", tmp_path / "gt")
    ks = keyset(lay)
    assert {("gen", "", "", "a", str(k)) for k in range(3)} <= ks
    assert {("gen", "", "", "bus_s1", str(k)) for k in range(3)} <= ks
    assert {("seeded", "", "", "b", str(k)) for k in range(2)} <= ks
    assert ("plain", "", "", "bus_s1", "") in ks
    assert len(lay.pairs) == 9 + 6 + 3
    assert lay.unpaired == []


def test_input_pairing(tmp_path: Path) -> None:
    img(tmp_path / "gt" / "sr" / "d" / "a.png")
    img(tmp_path / "gt" / "sr" / "d" / "b.png")
    img(tmp_path / "lq" / "sr" / "d" / "a_LR.png", size=4)
    img(tmp_path / "lq" / "sr" / "d" / "bx4.png", size=4)
    img(tmp_path / "res" / "m" / "sr" / "d" / "a.png")
    img(tmp_path / "res" / "m" / "sr" / "d" / "b.png")
    lay = discover(tmp_path / "res", tmp_path / "gt", tmp_path / "lq")
    got = {p.image: p.input_path.name if p.input_path else None for p in lay.pairs}
    assert got == {"a": "a_LR.png", "b": "bx4.png"}
    # flat input folder beside a full GT: matched by name
    img(tmp_path / "lqflat" / "a_lq.png", size=4)
    lay2 = discover(tmp_path / "res", tmp_path / "gt", tmp_path / "lqflat")
    got2 = {p.image: p.input_path for p in lay2.pairs}
    assert got2["a"] is not None and got2["b"] is None
    assert any("no input image" in u.reason for u in lay2.unpaired)


def test_ignored_files(tmp_path: Path) -> None:
    img(tmp_path / "gt" / "a.png")
    img(tmp_path / "res" / "m" / "a.png")
    img(tmp_path / "res" / "m" / ".hidden.png")
    img(tmp_path / "res" / ".paradigm" / "x.png")
    img(tmp_path / "res" / ".git" / "y.png")
    (tmp_path / "res" / "m" / "log.txt").write_text("hi")
    (tmp_path / "gt" / "Thumbs.db").write_bytes(b"x")
    lay = discover(tmp_path / "res", tmp_path / "gt")
    assert len(lay.pairs) == 1 and lay.unpaired == []
    assert [p.name for p in iter_images(tmp_path / "res")] == ["a.png"]


def test_missing_or_empty_folders(tmp_path: Path) -> None:
    img(tmp_path / "gt" / "a.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="does not exist"):
        discover(tmp_path / "nope", tmp_path / "gt")
    with pytest.raises(InputError, match="no images"):
        discover(tmp_path / "empty", tmp_path / "gt")
    img(tmp_path / "res" / "m" / "a.png")
    with pytest.raises(InputError, match="GT folder .* does not exist"):
        discover(tmp_path / "res", tmp_path / "nogt")
    with pytest.raises(InputError, match="GT folder .* no images"):
        discover(tmp_path / "res", tmp_path / "empty")
    with pytest.raises(InputError, match="not a folder"):
        discover(tmp_path / "res", tmp_path / "gt" / "a.png")


def test_gt_inside_results_is_not_a_method(tmp_path: Path) -> None:
    img(tmp_path / "res" / "GT" / "a.png")
    img(tmp_path / "res" / "m" / "a.png")
    lay = discover(tmp_path / "res", tmp_path / "res" / "GT")
    assert lay.methods == ["m"] and len(lay.pairs) == 1 and lay.unpaired == []
