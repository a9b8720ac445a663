"""The scoring engine (paradigm.engine) with small metrics registered by this test module."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import COUNT_LOCK, isolate_engine
from PIL import Image

import paradigm.engine as engine
from paradigm import __version__
from paradigm.engine import ScoreConfig, run_score, select_metrics
from paradigm.errors import InputError, MetricUnavailableError, UnknownMetricError
from paradigm.metrics.base import EmbeddingMetric, Metric
from paradigm.outputs import ERROR_COLUMNS, ID_COLUMNS, bootstrap_mean_ci, summarise
from paradigm.signature import build_signature, signature_line

# ---------------------------------------------------------------- test metrics


class TeMse(Metric):
    name = "te_mse"
    higher_is_better = False
    calls: ClassVar[int] = 0

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        assert ref is not None
        with COUNT_LOCK:
            TeMse.calls += int(x.shape[0])
        return ((x - ref) ** 2).flatten(1).mean(1).double()


class TeNr(Metric):
    name = "te_nr"
    kind = "no-reference"
    reference = "none"
    pillar = "perceptual"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        assert ref is None
        return x.mean(dim=(1, 2, 3)).double()


class TeEmb(EmbeddingMetric):
    name = "te_emb"
    value_range = (-1.0, 1.0)
    embedded: ClassVar[int] = 0

    def embed(self, x: torch.Tensor) -> Any:
        with COUNT_LOCK:
            TeEmb.embedded += int(x.shape[0])
        return (x.mean(dim=(2, 3)), x.std(dim=(2, 3)))

    def compare(self, ex: Any, eref: Any) -> torch.Tensor:
        return torch.nn.functional.cosine_similarity(ex[0], eref[0], dim=1).double()


class TeSize(Metric):
    name = "te_size"
    outputs = ("te_h", "te_w")
    pillar = "diagnostic"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        n = x.shape[0]
        return {"te_h": torch.full((n,), float(x.shape[2]), dtype=torch.float64),
                "te_w": torch.full((n,), float(x.shape[3]), dtype=torch.float64)}


class TeBig(Metric):
    name = "te_big"
    min_size = 32

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return torch.zeros(x.shape[0], dtype=torch.float64)


class TeNan(Metric):
    """NaN for very dark images, raises for very bright ones."""

    name = "te_nan"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        m = x.mean(dim=(1, 2, 3)).double()
        if (m > 0.9).any():
            raise RuntimeError("too bright")
        return torch.where(m < 0.1, torch.full_like(m, math.nan), m)


class TeUnavailable(Metric):
    name = "te_unavailable"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        raise MetricUnavailableError("te_unavailable needs weights file foo.pth (put it in $PARADIGM_WEIGHTS_DIR)")


class TeLateUnavailable(Metric):
    """Weights checked lazily (found missing by the engine's probe, before decoding)."""

    name = "te_late"
    weights = ("te_late_file",)

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        raise MetricUnavailableError("te_late: weights missing")


class TeMidRun(Metric):
    """No weights declared; unavailable only on real (16 px) images: skipped mid-run."""

    name = "te_midrun"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        if x.shape[-1] == 16:
            raise MetricUnavailableError("te_midrun: optional package missing")
        return torch.zeros(x.shape[0], dtype=torch.float64)


class TeInput(Metric):
    name = "te_input"
    reference = "input"
    pillar = "stability"

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        assert ref is not None and ref.shape == x.shape
        return (x - ref).abs().flatten(1).mean(1).double()


class TeY(Metric):
    name = "te_y"
    supports_y_channel = True
    defaults: ClassVar[dict[str, Any]] = {"y_channel": False, "precision": "fp32"}

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return torch.full((x.shape[0],), 1.0 if self.options["y_channel"] else 0.0, dtype=torch.float64)


# ---------------------------------------------------------------- fixtures


def save(path: Path, a: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(path)
    return path


def rand_img(seed: int, h: int = 16, w: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(30, 220, (h, w, 3)).astype(np.float64)


def make_tree(root: Path, methods: dict[str, float], n: int = 3, size: int = 16, lq: bool = False) -> Path:
    """GT images 0..n-1 and one folder per method with GT + noise of the given sigma."""
    for i in range(n):
        gt = rand_img(i, size, size)
        save(root / "gt" / f"im{i}.png", gt)
        if lq:
            save(root / "lq" / f"im{i}_x2.png", gt[::2, ::2])
        for j, (m, sigma) in enumerate(methods.items()):
            noise = np.random.default_rng(100 + 10 * i + j).normal(0, sigma, gt.shape) if sigma else 0
            save(root / "res" / m / f"im{i}.png", gt + noise)
    return root


#: Registered only while each test runs (see ``_register_test_metrics``), so other test modules never see them.
TEST_METRICS: tuple[type[Metric], ...] = (TeMse, TeNr, TeEmb, TeSize, TeBig, TeNan, TeUnavailable, TeLateUnavailable, TeMidRun, TeInput, TeY)


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_engine(monkeypatch, TEST_METRICS)


def cfg(root: Path, metrics: str, **kw: Any) -> ScoreConfig:
    kw.setdefault("cache", None)
    kw.setdefault("workers", 0)
    return ScoreConfig(results=root / "res", gt=root / "gt", metrics=metrics, **kw)


# ---------------------------------------------------------------- tests


def test_basic_run_columns_and_values(tmp_path: Path) -> None:
    make_tree(tmp_path, {"clean": 0.0, "noisy": 20.0})
    res = run_score(cfg(tmp_path, "te_mse,te_nr,te_size"))
    s = res.scores
    assert list(s.columns) == list(ID_COLUMNS) + ["te_mse", "te_nr", "te_h", "te_w"]
    assert len(s) == 6 and res.failed == 0
    clean = s[s.method == "clean"]
    assert (clean.te_mse == 0).all()
    assert (s[s.method == "noisy"].te_mse > 0).all()
    assert (s.te_h == 16).all() and (s.height == 16).all() and (~s.resized).all()
    assert set(res.summary.columns) == {"method", "task", "dataset", "metric", "mean", "std", "count", "ci_low", "ci_high"}
    assert list(res.errors.columns) == list(ERROR_COLUMNS)
    info = res.run_info
    assert info["signature_line"].startswith("paradigm:") and "te_mse.1+te_nr.1+te_size.1" in info["signature_line"]
    assert info["counts"]["pairs"] == 6 and info["counts"]["computed"] == 18
    assert info["skipped_metrics"] == {}


def test_monotone_worsening(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a": 5.0, "b": 15.0, "c": 40.0})
    s = run_score(cfg(tmp_path, "te_mse")).summary
    means = s.set_index("method")["mean"]
    assert means["a"] < means["b"] < means["c"]


def test_embedding_reference_computed_once(tmp_path: Path) -> None:
    make_tree(tmp_path, {"m1": 5.0, "m2": 10.0, "m3": 20.0}, n=2)
    TeEmb.embedded = 0
    res = run_score(cfg(tmp_path, "te_emb", batch_size=2))
    assert len(res.scores) == 6
    assert TeEmb.embedded == 6 + 2  # 6 outputs + 2 GT images, each GT once
    # identical -> ideal value
    make_tree(tmp_path / "same", {"id": 0.0}, n=2)
    r2 = run_score(cfg(tmp_path / "same", "te_emb"))
    np.testing.assert_allclose(r2.scores["te_emb"], 1.0, atol=1e-6)


def test_batch_size_and_workers_do_not_change_values(tmp_path: Path) -> None:
    make_tree(tmp_path, {"m1": 5.0, "m2": 10.0}, n=4)
    a = run_score(cfg(tmp_path, "te_mse,te_emb,te_nr", batch_size=1, workers=0)).scores
    b = run_score(cfg(tmp_path, "te_mse,te_emb,te_nr", batch_size=8, workers=2)).scores
    pd.testing.assert_frame_equal(a, b)


def test_resize_to_gt_warns_and_counts(tmp_path: Path) -> None:
    make_tree(tmp_path, {"m": 5.0}, n=2)
    save(tmp_path / "res" / "m" / "im0.png", rand_img(0, 8, 8))
    said: list[str] = []
    res = run_score(cfg(tmp_path, "te_mse,te_size"), echo=said.append)
    assert res.run_info["counts"]["resized"] == 1
    assert any("1 output(s) resized" in s for s in said)
    row = res.scores.set_index("image").loc["im0"]
    assert bool(row.resized) and row.te_h == 16 and row.height == 16
    assert res.failed == 0


def test_resize_none_is_an_error_row(tmp_path: Path) -> None:
    make_tree(tmp_path, {"m": 5.0}, n=2)
    save(tmp_path / "res" / "m" / "im0.png", rand_img(0, 8, 8))
    res = run_score(cfg(tmp_path, "te_mse", resize="none"))
    assert list(res.scores.image) == ["im1"]
    e = res.errors
    assert len(e) == 1 and e.stage.iloc[0] == "resize" and "8x8" in e.reason.iloc[0]


def test_bad_inputs_become_error_rows(tmp_path: Path) -> None:
    make_tree(tmp_path, {"m": 5.0, "other": 5.0}, n=5)
    (tmp_path / "res" / "m" / "im0.png").write_bytes(b"")  # zero-byte
    data = (tmp_path / "res" / "m" / "im1.png").read_bytes()
    (tmp_path / "res" / "m" / "im1.png").write_bytes(data[: len(data) // 2])  # truncated
    save(tmp_path / "res" / "m" / "im2.png", np.full((16, 16, 3), 5.0))  # dark -> NaN
    save(tmp_path / "res" / "m" / "im3.png", np.full((16, 16, 3), 250.0))  # bright -> raises
    save(tmp_path / "res" / "m" / "orphan.png", rand_img(9))  # no GT
    (tmp_path / "gt" / "im4.png").unlink()  # missing GT for im4 (both methods)
    res = run_score(cfg(tmp_path, "te_mse,te_big,te_nan", batch_size=4))
    e = res.errors
    stages = e.groupby("stage").size().to_dict()
    assert stages["decode"] == 2
    assert stages["pairing"] == 3  # orphan + im4 of both methods
    assert stages["metric:te_big"] == 6  # 16 px < min 32 for every decoded pair
    nan_rows = e[e.stage == "metric:te_nan"]
    assert set(nan_rows.image) == {"im2", "im3"}
    assert any("NaN" in r for r in nan_rows.reason) and any("too bright" in r for r in nan_rows.reason)
    assert any("smaller than the metric's minimum 32" in r for r in e.reason)
    # the rest completed
    s = res.scores.set_index(["method", "image"])
    assert len(s) == 6  # 2 decode failures dropped
    assert np.isfinite(s.loc[("other", "im3"), "te_mse"]) and np.isfinite(s.loc[("m", "im3"), "te_mse"])
    assert math.isnan(s.loc[("m", "im2"), "te_nan"])
    assert res.failed == len(e) > 0


def test_unavailable_metrics_are_skipped(tmp_path: Path) -> None:
    make_tree(tmp_path, {"m": 5.0}, n=2)
    res = run_score(cfg(tmp_path, "te_mse,te_unavailable,te_late,te_midrun"))
    sk = res.run_info["skipped_metrics"]
    assert set(sk) == {"te_unavailable", "te_late", "te_midrun"}
    assert "PARADIGM_WEIGHTS_DIR" in sk["te_unavailable"]
    assert set(res.explicit_skipped) == {"te_unavailable", "te_late", "te_midrun"}
    assert "te_late" not in res.scores.columns and "te_midrun" not in res.scores.columns
    assert "te_mse" in res.scores.columns
    assert res.run_info["metrics"] == ["te_mse"]
    assert res.failed == 0
    # fully cached except the unavailable metric: nothing is decoded
    c = tmp_path / "c.sqlite"
    run_score(cfg(tmp_path, "te_mse", cache=c))
    again = run_score(cfg(tmp_path, "te_mse,te_late", cache=c))
    assert again.run_info["counts"]["decoded_pairs"] == 0 and "te_late" in again.run_info["skipped_metrics"]


def test_select_metrics() -> None:
    names, explicit, skipped = select_metrics("te_mse, TE-NR", has_input=False)
    assert names == ["te_mse", "te_nr"] and explicit == {"te_mse", "te_nr"} and not skipped
    names, explicit, _ = select_metrics("all,te_mse", has_input=False)
    assert names.count("te_mse") == 1 and "te_nr" in names and explicit == {"te_mse"}
    names, _, skipped = select_metrics("te_mse,te_input", has_input=False)
    assert names == ["te_mse"] and "--input" in skipped["te_input"]
    with pytest.raises(UnknownMetricError, match="te_mse"):
        select_metrics("te_mze", has_input=False)
    allnames, explicit, _ = select_metrics("all", has_input=False)
    assert "te_mse" in allnames and "te_input" not in allnames and explicit == set()
    assert "te_input" in select_metrics("all", has_input=True)[0]
    with pytest.raises(InputError):
        select_metrics(" , ", has_input=False)


def test_input_referenced_metric(tmp_path: Path) -> None:
    make_tree(tmp_path, {"m": 5.0}, n=2, lq=True)
    res = run_score(cfg(tmp_path, "te_input,te_mse", input=tmp_path / "lq"))
    assert res.failed == 0
    assert res.scores["te_input"].notna().all()
    assert all(p.endswith(".png") and "_x2" in p for p in res.scores.input_path)


def test_crop_border(tmp_path: Path) -> None:
    make_tree(tmp_path, {"m": 5.0}, n=1)
    res = run_score(cfg(tmp_path, "te_size", crop_border=3))
    assert res.scores.te_h.iloc[0] == 10 and res.scores.height.iloc[0] == 16
    assert res.run_info["signature"]["crop_border"] == 3
    bad = run_score(cfg(tmp_path, "te_size", crop_border=8))
    assert bad.errors.stage.tolist() == ["crop"]


def test_y_channel_and_precision_options(tmp_path: Path) -> None:
    make_tree(tmp_path, {"m": 5.0}, n=1)
    r0 = run_score(cfg(tmp_path, "te_y,te_mse"))
    r1 = run_score(cfg(tmp_path, "te_y,te_mse", y_channel=True, precision="bf16"))
    assert r0.scores.te_y.iloc[0] == 0 and r1.scores.te_y.iloc[0] == 1
    sig = r1.run_info["signature"]
    opts = {m["name"]: m["options"] for m in sig["metrics"]}
    assert opts["te_y"] == {"y_channel": True, "precision": "bf16"} and opts["te_mse"] == {}
    assert sig["y_channel"] is True and "y:yes" in r1.run_info["signature_line"]


def test_bad_options(tmp_path: Path) -> None:
    make_tree(tmp_path, {"m": 5.0}, n=1)
    for kw in ({"resize": "stretch"}, {"precision": "int8"}, {"crop_border": -1}, {"batch_size": 0}, {"device": "tpu"}):
        with pytest.raises(InputError):
            run_score(cfg(tmp_path, "te_mse", **kw))


def test_samples_rows_and_hooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(tmp_path, {"m": 5.0}, n=2)
    for i in range(2):
        for k in range(3):
            save(tmp_path / "res" / "gen" / f"im{i}_s{k}.png", rand_img(i) + k)
    calls: dict[str, Any] = {}

    def apply_composite(df: pd.DataFrame, *, composite: str | None, profile: str | None, strict: bool):
        calls["composite"] = (composite, profile, strict)
        df = df.copy()
        for c in ("perceptual", "stability", "fidelity", "composite"):
            df[c] = 1.0 - df["te_mse"].clip(0, 1)
        return df, {"composite": "fake-v1", "sha256": "abc", "missing": {}}

    def aggregate_samples(df: pd.DataFrame) -> pd.DataFrame:
        calls["samples"] = len(df)
        return df.groupby(["method", "image"]).size().reset_index(name="n")

    import paradigm.composite
    import paradigm.samples

    monkeypatch.setattr(engine, "check_composite", lambda cfg: None)  # "x.json" is not a real file
    monkeypatch.setattr(paradigm.composite, "apply_composite", apply_composite)
    monkeypatch.setattr(paradigm.samples, "aggregate_samples", aggregate_samples)
    res = run_score(cfg(tmp_path, "te_mse", composite="x.json", profile="sr", strict=True))
    s = res.scores
    assert sorted(s[s.method == "gen"]["sample"].unique()) == ["0", "1", "2"]
    assert (s[s.method == "m"]["sample"] == "").all()
    assert calls["composite"] == ("x.json", "sr", True) and calls["samples"] == 8
    assert res.samples is not None
    assert res.run_info["signature"]["composite"] == "fake-v1+abc"
    assert "composite:fake-v1|" in res.run_info["signature_line"]
    summ = res.summary[res.summary.metric == "composite"]
    assert summ.ci_low.notna().all() and (summ.ci_low <= summ["mean"]).all() and (summ["mean"] <= summ.ci_high).all()
    assert res.summary[res.summary.metric == "te_mse"].ci_low.isna().all()


def test_no_composite_without_its_metrics_and_no_alarm(tmp_path: Path) -> None:
    make_tree(tmp_path, {"m": 5.0}, n=1)
    said: list[str] = []
    for extra in ({}, {"profile": "super-resolution"}):
        res = run_score(cfg(tmp_path, "te_mse", **extra), echo=said.append)
        assert "composite" not in res.scores.columns and not said
        assert "none of the metrics of composite" in res.run_info["composite_note"]


def test_bootstrap_and_summary() -> None:
    lo, hi = bootstrap_mean_ci([1.0, 2.0, 3.0, 4.0, np.nan], n_boot=1000, seed=0)
    assert 1.0 <= lo < 2.5 < hi <= 4.0
    assert bootstrap_mean_ci([1.0, 2.0, 3.0, 4.0], seed=1) == bootstrap_mean_ci([1.0, 2.0, 3.0, 4.0], seed=1)
    assert bootstrap_mean_ci([2.0]) == (2.0, 2.0)
    assert all(math.isnan(v) for v in bootstrap_mean_ci([]))
    df = pd.DataFrame({"method": ["a", "a", "b"], "task": "", "dataset": "", "image": ["x", "y", "x"],
                       "composite": [0.2, 0.4, 0.9], "psnr": [20.0, 30.0, 40.0]})
    s = summarise(df, seed=0)
    a = s[(s.method == "a") & (s.metric == "psnr")].iloc[0]
    assert a["mean"] == 25 and a["count"] == 2 and math.isnan(a["ci_low"])
    c = s[(s.method == "a") & (s.metric == "composite")].iloc[0]
    assert 0.2 <= c["ci_low"] <= c["ci_high"] <= 0.4


def test_signature_line_format() -> None:
    sig = build_signature([{"name": "psnr", "version": "1", "options": {}, "weights": []},
                           {"name": "ssim", "version": "1", "options": {}, "weights": []}],
                          composite="default-v1+0123", device="cpu", seed=0)
    assert signature_line(sig) == (
        f"paradigm:{__version__}|metrics:psnr.1+ssim.1|resize:to-gt|crop:0|y:no|colour:rgb-v1|composite:default-v1|seed:0|device:cpu"
    )
    assert set(sig) >= {"paradigm", "metrics", "composite", "resize", "crop_border", "y_channel", "align", "colour",
                        "embedding_policy", "precision", "device", "seed"}


def test_many_sizes_bounded_buckets(tmp_path: Path) -> None:
    """Pairs of many different sizes: every pair scored at its own size (oldest buckets flushed)."""
    for i in range(9):
        side = 12 + 2 * i
        save(tmp_path / "gt" / f"im{i}.png", rand_img(i, side, side + 1))
        for m in ("a", "b"):
            save(tmp_path / "res" / m / f"im{i}.png", rand_img(50 + i, side, side + 1))
    res = run_score(cfg(tmp_path, "te_size,te_mse", batch_size=2, workers=2))
    s = res.scores
    assert len(s) == 18 and res.failed == 0
    assert (s.te_h == s.height).all() and (s.te_w == s.width).all() and (s.width == s.height + 1).all()
