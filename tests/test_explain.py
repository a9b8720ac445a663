"""``paradigm explain`` and the explanation maths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import paradigm
from paradigm.cli import cli
from paradigm.composite import apply_composite, validate
from paradigm.composite.explain import colorize, explain_values, heatmap, heatmap_kind
from paradigm.errors import MetricUnavailableError
from paradigm.metrics import registry
from paradigm.metrics.base import Metric, check_pair


class _Psnr(Metric):
    name = "psnr"
    higher_is_better = True
    value_range = (0.0, float("inf"))

    def forward(self, x, ref=None):  # type: ignore[override]
        check_pair(x, ref)
        mse = ((x.double() - ref.double()) ** 2).flatten(1).mean(1)
        return 10 * torch.log10(1.0 / mse.clamp_min(1e-12))

    error_map_kind = "absolute error"

    def error_map(self, x, ref):  # type: ignore[no-untyped-def]
        return (x.double() - ref.double()).abs().mean(dim=1)


class _Mae(Metric):  # stands in for "ssim" as 1 - MAE
    name = "ssim"

    def forward(self, x, ref=None):  # type: ignore[override]
        check_pair(x, ref)
        return 1 - (x.double() - ref.double()).abs().flatten(1).mean(1)


class _EdgeIn(Metric):
    name = "edge_f1_input"
    reference: ClassVar = "input"
    pillar: ClassVar = "stability"

    def forward(self, x, ref=None):  # type: ignore[override]
        check_pair(x, ref)
        return 1 - (x.double() - ref.double()).abs().flatten(1).mean(1)


class _NoWeights(Metric):
    name = "lpips"
    higher_is_better = False

    def __init__(self, **kw):
        raise MetricUnavailableError("lpips weights not found; run `paradigm weights fetch lpips`")


def _prior(center: float, scale: float) -> dict:
    return {"type": "logistic4", "lo": 0.0, "hi": 1.0, "center": center, "scale": scale,
            "provenance": {"kind": "prior", "description": "test"}}


COMPOSITE = {
    "schema": "paradigm.composite/1",
    "name": "testexplain",
    "version": 1,
    "aggregation": "weighted_geometric",
    "pillars": {
        "perceptual": {"weight": 0.2, "metrics": {"lpips": 1.0}},
        "stability": {"weight": 0.3, "metrics": {"edge_f1_input": 1.0}},
        "fidelity": {"weight": 0.5, "metrics": {"psnr": 0.5, "ssim": 0.5}},
    },
    "weights_provenance": {"kind": "prior", "description": "test"},
    "calibrations": {
        "lpips": _prior(0.3, -0.08),
        "edge_f1_input": _prior(0.9, 0.03),
        "psnr": _prior(25.0, 3.0),
        "ssim": _prior(0.9, 0.03),
    },
}


@pytest.fixture()
def metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    paradigm.list_metrics()  # load the real registry first
    for cls in (_Psnr, _Mae, _EdgeIn, _NoWeights):
        monkeypatch.setitem(registry._REGISTRY, cls.name, cls)


@pytest.fixture()
def images(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    gt = (rng.uniform(0, 1, (40, 48, 3)) * 255).astype(np.uint8)
    out = np.clip(gt.astype(int) + rng.integers(-20, 21, gt.shape), 0, 255).astype(np.uint8)
    out[:, :10] = 0  # a damaged strip
    lq = np.clip(gt.astype(int) + rng.integers(-40, 41, gt.shape), 0, 255).astype(np.uint8)
    paths = {}
    for k, a in {"gt": gt, "out": out, "lq": lq}.items():
        paths[k] = tmp_path / f"{k}.png"
        Image.fromarray(a).save(paths[k])
    comp = tmp_path / "comp.json"
    comp.write_text(json.dumps(COMPOSITE))
    paths["comp"] = comp
    return paths


def test_explain_table(metrics: None, images: dict[str, Path]) -> None:
    res = CliRunner().invoke(
        cli, ["explain", str(images["out"]), "--gt", str(images["gt"]), "--input", str(images["lq"]),
              "--composite", str(images["comp"])],
    )
    assert res.exit_code == 0, res.output
    text = res.output
    for word in ("psnr", "ssim", "edge_f1_input", "fidelity", "stability", "composite testexplain-v1",
                 "skipped", "lpips weights not found", "log-share"):
        assert word in text, word


def test_explain_json_matches_apply_composite(metrics: None, images: dict[str, Path], tmp_path: Path) -> None:
    heat = tmp_path / "heat.png"
    res = CliRunner().invoke(
        cli, ["explain", str(images["out"]), "--gt", str(images["gt"]), "--input", str(images["lq"]),
              "--composite", str(images["comp"]), "--json", "--heatmap", str(heat)],
    )
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    raw = {m["metric"]: m["raw"] for m in d["metrics"] if m["raw"] is not None}
    assert set(raw) == {"psnr", "ssim", "edge_f1_input"}
    out, _ = apply_composite(pd.DataFrame({k: [v] for k, v in raw.items()}), composite=str(images["comp"]),
                             profile=None, strict=False)
    assert d["score"] == pytest.approx(out["composite"][0])
    for p in ("fidelity", "stability"):
        assert d["pillars"][p]["score"] == pytest.approx(out[p][0])
    assert d["pillars"]["perceptual"]["score"] is None
    # effective weights renormalised over the pillars that ran (0.3 + 0.5)
    assert d["pillars"]["fidelity"]["weight"] == pytest.approx(0.5 / 0.8)
    assert sum(m["share"] for m in d["metrics"]) == pytest.approx(1.0)
    assert "lpips" in d["skipped"]
    assert heat.is_file() and Image.open(heat).size == (360, 40 + 46)  # the 48x40 map plus its colour bar
    assert "heat map of" in d["heatmap"]


def test_explain_without_input_skips_input_metric(metrics: None, images: dict[str, Path]) -> None:
    res = CliRunner().invoke(
        cli, ["explain", str(images["out"]), "--gt", str(images["gt"]), "--composite", str(images["comp"])]
    )
    assert res.exit_code == 0, res.output
    assert "edge_f1_input: needs --input" in res.output


def test_explain_bad_options(metrics: None, images: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    obj = json.loads(json.dumps(COMPOSITE))
    obj["pillars"]["fidelity"]["weight"] = 0.9
    bad.write_text(json.dumps(obj))
    r = CliRunner().invoke(cli, ["explain", str(images["out"]), "--gt", str(images["gt"]), "--composite", str(bad)])
    assert r.exit_code != 0 and "pillar weights must sum to 1" in r.output
    r = CliRunner().invoke(cli, ["explain", str(images["out"]), "--gt", str(images["gt"]),
                                 "--composite", str(images["comp"]), "--metrics", "psnr,nope"])
    assert r.exit_code != 0 and "nope" in r.output
    r = CliRunner().invoke(cli, ["explain", str(images["out"]), "--gt", str(images["gt"]), "--profile", "dehazeing"])
    assert r.exit_code != 0 and "Did you mean 'dehazing'" in r.output


@pytest.mark.parametrize("agg", ["weighted_geometric", "weighted_arithmetic", "min_penalty"])
def test_shares_sum_to_one_and_rank_the_worst(agg: str) -> None:
    obj = json.loads(json.dumps(COMPOSITE))
    obj["aggregation"] = agg
    spec = validate(obj)
    raw = {"psnr": 35.0, "ssim": 0.6, "edge_f1_input": 0.95, "lpips": 0.1}
    ex = explain_values(raw, spec)
    assert sum(p.share for p in ex.parts) == pytest.approx(1.0)
    assert max(ex.parts, key=lambda p: p.share).metric == "ssim"
    assert 0 <= ex.composite <= 1
    perfect = explain_values({"psnr": 1e9, "ssim": 10.0, "edge_f1_input": 10.0, "lpips": -10.0}, spec)
    assert perfect.composite == pytest.approx(1.0) and all(p.share == 0 for p in perfect.parts)


@pytest.mark.parametrize(
    "metric",
    ["psnr", "psnr_y", "psnr_mu", "ssim", "ms_ssim", "gmsd", "ciede2000", "edge_f1", "structure_consistency"],
)
def test_heatmaps(metric: str) -> None:
    torch.manual_seed(0)
    ref = torch.rand(1, 3, 32, 32)
    x = ref.clone()
    x[..., :, :8] = 0.5
    m = heatmap(metric, x, ref)
    assert m is not None and m.shape == (32, 32)
    assert 0 <= m.min() and m.max() <= 1
    assert m[:, :6].mean() > m[:, 20:].mean()  # brighter where damaged
    assert colorize(m).shape == (32, 32, 3)
    assert heatmap_kind(metric)


@pytest.mark.parametrize("metric", ["lpips", "dino_sim", "niqe", "no_such_metric"])
def test_no_heatmap_without_a_spatial_map(metric: str) -> None:
    x = torch.rand(1, 3, 32, 32)
    assert heatmap(metric, x, x.clone()) is None and heatmap_kind(metric) is None


def _mild_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """A textured reference and a mildly noisy output (local SSIM > 0, ΔE00 < 20 everywhere)."""
    g = torch.Generator().manual_seed(3)
    base = torch.rand(1, 3, 6, 6, generator=g, dtype=torch.float64)
    ref = torch.nn.functional.interpolate(base, size=(48, 40), mode="bilinear", align_corners=False)
    x = (ref + 0.02 * torch.randn(ref.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return x, ref


def test_heatmaps_are_the_metrics_own_maps() -> None:
    """Each map pools to its metric's value, by the metric's definition (mean, std, ...)."""
    x, ref = _mild_pair()
    # SSIM: the mean of the local SSIM over the 'valid' windows (5 px border lost to the 11x11 window)
    ssim_map = 1.0 - heatmap("ssim", x, ref)[5:-5, 5:-5]  # type: ignore[index]
    assert float(ssim_map.mean()) == pytest.approx(float(paradigm.create_metric("ssim")(x, ref)[0]), abs=1e-9)
    # GMSD: the (N - 1) standard deviation of GMS on the half-resolution grid
    gms = 1.0 - heatmap("gmsd", x, ref)[::2, ::2]  # type: ignore[index]
    assert float(gms.std(ddof=1)) == pytest.approx(float(paradigm.create_metric("gmsd")(x, ref)[0]), abs=1e-9)
    # CIEDE2000: the mean ΔE00 (the map is ΔE00 / 20 and no pixel reaches 20 here)
    de = heatmap("ciede2000", x, ref)
    assert de is not None and de.max() < 1
    assert float(20 * de.mean()) == pytest.approx(float(paradigm.create_metric("ciede2000")(x, ref)[0]), abs=1e-6)
    # PSNR: squared error averaged over channels, relative to its largest value
    e = ((x - ref) ** 2).mean(dim=1)[0].numpy()
    np.testing.assert_allclose(heatmap("psnr", x, ref), e / e.max(), rtol=1e-12)
