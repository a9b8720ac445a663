"""Tests of paradigm.samples: per-input sample statistics, method summaries and sample diversity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from paradigm.errors import InputError
from paradigm.samples import (
    Diversity,
    aggregate_samples,
    column_directions,
    rank_methods,
    sample_diversity,
    summarise_samples,
)


def _table(k: int = 5, n_images: int = 4, seed: int = 0) -> pd.DataFrame:
    """Method 'diff' has K noisy samples per input, method 'det' one deterministic output."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_images):
        base = 0.6 + 0.05 * i
        for s in range(k):
            c = base + 0.1 * rng.standard_normal()
            rows.append(
                {
                    "method": "diff",
                    "task": "sr",
                    "dataset": "set5",
                    "image": f"img{i}",
                    "sample": str(s),
                    "height": 64,
                    "width": 64,
                    "resized": False,
                    "psnr": 25 + 2 * rng.standard_normal(),
                    "lpips": 0.2 + 0.05 * rng.standard_normal(),
                    "shift_dx": rng.standard_normal(),
                    "composite": c,
                    "fidelity": c,
                }
            )
        rows.append(
            {
                "method": "det",
                "task": "sr",
                "dataset": "set5",
                "image": f"img{i}",
                "sample": "",
                "height": 64,
                "width": 64,
                "resized": False,
                "psnr": 27.0,
                "lpips": 0.3,
                "shift_dx": 0.0,
                "composite": base,
                "fidelity": base,
            }
        )
    return pd.DataFrame(rows)


def _row(agg: pd.DataFrame, method: str, image: str, metric: str) -> pd.Series:
    sel = agg[(agg["method"] == method) & (agg["image"] == image) & (agg["metric"] == metric)]
    assert len(sel) == 1
    return sel.iloc[0]


def test_aggregate_direction_aware_floor_ceiling() -> None:
    df = _table()
    agg = aggregate_samples(df, directions={"lpips": False})
    sub = df[(df["method"] == "diff") & (df["image"] == "img1")]
    r = _row(agg, "diff", "img1", "psnr")  # psnr direction from the default (see below)
    assert r["mean"] == pytest.approx(sub["psnr"].mean())
    assert r["count"] == 5
    assert r["spread"] == pytest.approx(sub["psnr"].std(ddof=0))
    lp = _row(agg, "diff", "img1", "lpips")
    assert lp["floor"] == pytest.approx(sub["lpips"].max())  # worst = largest distance
    assert lp["ceiling"] == pytest.approx(sub["lpips"].min())
    comp = _row(agg, "diff", "img1", "composite")
    assert comp["floor"] == pytest.approx(sub["composite"].min())
    assert comp["ceiling"] == pytest.approx(sub["composite"].max())
    assert comp["higher_is_better"] is True
    # metadata columns are never aggregated
    assert not {"height", "width", "resized", "sample"} & set(agg["metric"])
    # pillars first
    assert list(agg["metric"].unique()[:2]) == ["composite", "fidelity"]


def test_aggregate_spread_larger_for_stochastic_method() -> None:
    agg = aggregate_samples(_table(), directions={"psnr": True, "lpips": False})
    det = agg[(agg["method"] == "det") & (agg["metric"] == "composite")]
    sto = agg[(agg["method"] == "diff") & (agg["metric"] == "composite")]
    assert (det["spread"] == 0).all() and (det["count"] == 1).all()
    assert (det["floor"] == det["ceiling"]).all()
    assert (sto["spread"] > det["spread"].max()).all()
    assert (sto["floor"] <= sto["mean"]).all() and (sto["mean"] <= sto["ceiling"]).all()


def test_unknown_or_signed_direction_gives_nan_floor() -> None:
    agg = aggregate_samples(_table(), directions={"shift_dx": None})
    r = _row(agg, "diff", "img0", "shift_dx")
    assert math.isnan(r["floor"]) and math.isnan(r["ceiling"])
    assert not math.isnan(r["mean"]) and r["spread"] > 0


def test_directions_from_registry() -> None:
    pytest.importorskip("paradigm.metrics.diagnostics")
    d = column_directions(["composite", "hallucination", "deltaE00_mean", "shift_dx", "not_a_metric"])
    assert d["composite"] is True
    assert d["hallucination"] is False
    assert d["deltaE00_mean"] is False
    assert d["shift_dx"] is None
    assert d["not_a_metric"] is None


def test_nan_scores_ignored() -> None:
    df = _table(k=3, n_images=1)
    df.loc[df.index[0], "psnr"] = np.nan
    agg = aggregate_samples(df, directions={"psnr": True})
    r = _row(agg, "diff", "img0", "psnr")
    assert r["count"] == 2


def test_summary_and_ranking() -> None:
    agg = aggregate_samples(_table(k=8, seed=1), directions={"psnr": True, "lpips": False})
    summ = summarise_samples(agg)
    row = summ[(summ["method"] == "diff") & (summ["metric"] == "composite")].iloc[0]
    per_input = agg[(agg["method"] == "diff") & (agg["metric"] == "composite")]
    assert row["floor"] == pytest.approx(per_input["floor"].mean())
    assert row["spread"] == pytest.approx(per_input["spread"].mean())
    assert row["n_inputs"] == 4 and row["samples_per_input"] == 8
    by_floor = rank_methods(summ, "composite", by="floor")
    assert list(by_floor["rank"]) == [1, 2]
    # the deterministic method's floor equals its mean; the stochastic one's worst sample is lower
    assert by_floor.iloc[0]["method"] == "det"
    by_lpips = rank_methods(summ, "lpips", by="mean")
    assert by_lpips.iloc[0]["method"] == "diff"  # 0.2 < 0.3, lower is better
    with pytest.raises(InputError):
        rank_methods(summ, "composite", by="median")
    with pytest.raises(InputError):
        rank_methods(summ, "nope")


def test_aggregate_bad_input() -> None:
    with pytest.raises(InputError):
        aggregate_samples([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(InputError):
        aggregate_samples(_table(), columns=["missing"])
    with pytest.raises(InputError):
        aggregate_samples(_table(), columns=["method"])
    with pytest.raises(InputError):
        summarise_samples(pd.DataFrame({"a": [1]}))


def test_aggregate_missing_keys_and_empty() -> None:
    df = pd.DataFrame({"image": ["a", "a", "b"], "sample": ["0", "1", ""], "composite": [0.2, 0.4, 0.5]})
    agg = aggregate_samples(df)
    assert set(agg["method"]) == {""}
    r = agg[agg["image"] == "a"].iloc[0]
    assert r["mean"] == pytest.approx(0.3) and r["floor"] == pytest.approx(0.2)
    assert aggregate_samples(df.iloc[0:0]).empty


# ------------------------------------------------------------------ diversity


def test_diversity_identical_is_zero_and_records_metric() -> None:
    x = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
    d = sample_diversity([x, x.clone(), x.clone()], metric="1-ssim")
    assert isinstance(d, Diversity) and isinstance(d, float)
    assert float(d) == pytest.approx(0.0, abs=1e-9)
    assert d.metric == "1-ssim" and d.pairs == 3
    assert d.as_dict()["diversity_metric"] == "1-ssim"


def test_diversity_grows_with_sample_noise() -> None:
    g = torch.Generator().manual_seed(1)
    base = torch.rand(1, 3, 32, 32, generator=g) * 0.5 + 0.25
    small = [(base + 0.01 * torch.randn(base.shape, generator=g)).clamp(0, 1) for _ in range(4)]
    large = [(base + 0.1 * torch.randn(base.shape, generator=g)).clamp(0, 1) for _ in range(4)]
    ds, dl = sample_diversity(small), sample_diversity(large)
    assert ds.metric == dl.metric and ds.metric in ("lpips", "1-ssim")
    assert float(dl) > float(ds) > 0


def test_diversity_single_sample_nan_and_bad_input() -> None:
    x = torch.rand(3, 16, 16)
    assert math.isnan(sample_diversity([x], metric="1-ssim"))
    with pytest.raises(InputError):
        sample_diversity([x, torch.rand(3, 16, 15)])
    with pytest.raises(InputError):
        sample_diversity([x, x], metric="psnr")
    with pytest.raises(InputError):
        sample_diversity(x)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        sample_diversity([x, x * 3])
