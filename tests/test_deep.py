"""LPIPS, DISTS, CLIP and DINOv2 metrics through the real loading code with tiny offline checkpoints."""
# ruff: noqa: F811  (fixtures imported from _tiny_weights are redefined as arguments)

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from _tiny_weights import TINY_CLIP, TINY_CLIP_TAG, offline_env, tiny_env, tiny_files  # noqa: F401

import paradigm
from paradigm.errors import InputError, MetricUnavailableError, WeightsHashError, WeightsNotFoundError
from paradigm.metrics.base import EmbeddingMetric
from paradigm.weights import get_entry, override_table

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CLIP_OPTS = {"model": TINY_CLIP, "pretrained": TINY_CLIP_TAG}

# (metric, options, ideal value for identical images, lower_is_better)
CASES: list[tuple[str, dict[str, Any], float]] = [
    ("lpips", {}, 0.0),
    ("lpips", {"net": "squeeze"}, 0.0),
    ("dists", {}, 0.0),
    ("clip_sim", CLIP_OPTS, 1.0),
    ("clip_sim_input", CLIP_OPTS, 1.0),
    ("dino_sim", {}, 1.0),
    ("dino_sim_input", {}, 1.0),
    ("dino_patch_sim", {}, 1.0),
]
SIZE = {"lpips": (64, 64), "lpipssqueeze": (32, 40)}
IDS = [f"{n}-{o.get('net', '')}" for n, o, _ in CASES]


def _pair(n: int = 8, h: int = 24, w: int = 32, noise: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ref = torch.rand(n, 3, h, w, generator=g)
    ref = F.avg_pool2d(ref, 3, 1, 1)  # a little spatial structure
    x = (ref + noise * torch.randn(n, 3, h, w, generator=g)).clamp(0, 1)
    return x, ref


@pytest.mark.parametrize(("name", "opts", "ideal"), CASES, ids=IDS)
def test_shapes_ideal_batch_independence(name: str, opts: dict[str, Any], ideal: float, tiny_env: Any) -> None:
    m = paradigm.create_metric(name, **opts)
    x, ref = _pair(8, *SIZE.get(name + opts.get("net", ""), (24, 32)))
    v8 = m(x, ref)
    assert v8.shape == (8,) and v8.dtype == torch.float64
    lo, hi = m.value_range
    assert ((v8 >= lo - 1e-6) & (v8 <= hi + 1e-6)).all()
    v1 = torch.cat([m(x[i : i + 1], ref[i : i + 1]) for i in range(8)])
    assert torch.allclose(v8, v1, atol=1e-5, rtol=0), (v8 - v1).abs().max()
    assert torch.equal(m(x, ref), v8), "not deterministic"
    same = m(ref[:3], ref[:3])
    assert torch.allclose(same, torch.full_like(same, ideal), atol=1e-5)
    # different from the ideal for a distorted image
    assert ((v8 - ideal).abs() > 1e-7).all()


@pytest.mark.parametrize(("name", "opts"), [("lpips", {}), ("dists", {}), ("dino_patch_sim", {})])
def test_monotone_in_noise(name: str, opts: dict[str, Any], tiny_env: Any) -> None:
    m = paradigm.create_metric(name, **opts)
    sign = 1.0 if m.higher_is_better else -1.0
    h, w = SIZE.get(name, (24, 32))
    quality = [sign * float(m(*_pair(4, h, w, noise=s)).mean()) for s in (0.02, 0.1, 0.4)]
    assert quality[0] > quality[1] > quality[2], quality


def test_grey_images_and_bad_input(tiny_env: Any) -> None:
    m = paradigm.create_metric("lpips")
    x, ref = _pair(2, 64, 64)
    grey = m(x[:, :1], ref[:, :1])
    assert grey.shape == (2,)
    with pytest.raises(InputError):
        m(x, ref[:, :, :48])
    with pytest.raises(InputError):
        m(x * 3, ref)
    with pytest.raises(InputError):
        m(x[0], ref[0])
    with pytest.raises(InputError):
        m(x[:, :, :32, :32], ref[:, :, :32, :32])  # below min_size
    with pytest.raises(InputError):
        paradigm.create_metric("lpips", net="resnet")
    with pytest.raises(InputError):
        paradigm.create_metric("dino_sim", size="xl")
    with pytest.raises(InputError):
        paradigm.create_metric("dists", precision="fp8")
    with pytest.raises(InputError, match="reference"):
        paradigm.create_metric("clip_sim", **CLIP_OPTS)(x, None)


def test_lpips_matches_lpips_package(tiny_env: Any, tiny_files: Any) -> None:
    """Same backbone and heads: our loader/mapping gives exactly the lpips package's own forward."""
    import warnings

    import lpips as lpips_pkg

    root, _ = tiny_files
    feats = torch.load(root / "tiny_alexnet.pth", weights_only=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_model = lpips_pkg.LPIPS(pretrained=True, net="alex", pnet_rand=True, verbose=False)
    with torch.no_grad():
        for k, v in ref_model.net.state_dict().items():
            v.copy_(feats["features." + k.split(".", 1)[1]])
    x, ref = _pair(2, 64, 72)
    want = ref_model(x, ref, normalize=True).flatten().double()
    assert torch.allclose(paradigm.create_metric("lpips")(x, ref), want, atol=1e-6)


def test_max_pixels_downscale_rule(tiny_env: Any) -> None:
    m = paradigm.create_metric("lpips", max_pixels=64 * 64)
    x, ref = _pair(2, 96, 96)
    small = [F.interpolate(t, size=(64, 64), mode="bilinear", align_corners=False, antialias=True) for t in (x, ref)]
    direct = paradigm.create_metric("lpips")(*small)
    assert torch.allclose(m(x, ref), direct, atol=1e-6)
    assert "max_pixels=4096" in m.signature()["policy"]
    assert m.signature()["options"] == {"max_pixels": 4096}


def test_embed_compare_matches_forward(tiny_env: Any) -> None:
    for name, opts in (("clip_sim", CLIP_OPTS), ("dino_sim", {}), ("dino_patch_sim", {})):
        m = paradigm.create_metric(name, **opts)
        assert isinstance(m, EmbeddingMetric)
        x, ref = _pair(3)
        e_ref = m.embed(ref)
        assert torch.allclose(m.compare(m.embed(x), e_ref), m(x, ref), atol=1e-12)


def test_declarations_and_signatures() -> None:
    info = {n: paradigm.metric_info(n) for n in ("lpips", "dists", "clip_sim", "clip_sim_input", "dino_sim",
                                                   "dino_sim_input", "dino_patch_sim")}
    assert info["lpips"]["higher_is_better"] is False and info["lpips"]["pillar"] == "perceptual"
    assert info["dists"]["weights"] == ["vgg16", "dists_heads"]
    assert info["clip_sim"]["kind"] == "embedding" and info["clip_sim"]["pillar"] == "stability"
    assert info["clip_sim_input"]["reference"] == "input" and info["dino_sim_input"]["reference"] == "input"
    assert info["dino_patch_sim"]["range"] == [-1.0, 1.0]
    for i in info.values():
        for w in i["weights"]:
            get_entry(w)  # every declared weights name is in the table
    sig = paradigm.create_metric("dino_sim").signature()
    assert sig["weights"] == ["dinov2_vits14"] and "no-crop" in sig["policy"]
    sig = paradigm.create_metric("clip_sim").signature()
    assert sig["weights"] == ["open_clip_vit_b_32_laion2b_s34b_b79k"] and "center-crop" in sig["policy"]
    assert paradigm.create_metric("dino_sim", size="b").signature()["weights"] == ["dinov2_vitb14"]


def test_missing_weights_message(tiny_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PARADIGM_WEIGHTS_DIR", str(empty))
    entry = get_entry("dinov2_vits14")
    with pytest.raises(WeightsNotFoundError) as info:
        paradigm.create_metric("dino_sim")(*_pair(1))
    msg = str(info.value)
    assert entry["filename"] in msg and entry["sha256"] in msg and entry["urls"][0] in msg
    assert str(empty) in msg and "paradigm weights import" in msg
    assert isinstance(info.value, MetricUnavailableError)
    with pytest.raises(WeightsNotFoundError, match="alexnet"):
        paradigm.create_metric("lpips")(*_pair(1, 64, 64))


def test_wrong_hash_refused(tiny_env: Any) -> None:
    entry = {**get_entry("dists_heads"), "sha256": "0" * 64}
    with override_table({"dists_heads": entry}), pytest.raises(WeightsHashError, match="0" * 64):
        paradigm.create_metric("dists")(*_pair(1))


def test_real_table_offline_without_files(offline_env: Path) -> None:
    """With the shipped table and nothing on disk every model metric fails with an actionable error."""
    x, ref = _pair(1, 64, 64)
    for name in ("lpips", "dists", "dino_sim"):
        with pytest.raises(MetricUnavailableError, match="paradigm weights import"):
            paradigm.create_metric(name)(x, ref)
    with pytest.raises(MetricUnavailableError, match="laion2b_s34b_b79k"):
        paradigm.create_metric("clip_sim")(x, ref)
    with pytest.raises(MetricUnavailableError, match="known tags"):
        paradigm.create_metric("clip_sim", pretrained="no-such-tag")(x, ref)


def test_runtime_clip_entry(offline_env: Path) -> None:
    from paradigm.metrics.deep import ensure_clip_entry

    with override_table({}):
        name = ensure_clip_entry("ViT-B-16", "laion2b_s34b_b88k")
        e = get_entry(name)
        assert e["format"] == "safetensors" and e["sha256"] is None
        assert e["urls"][0].startswith("https://huggingface.co/laion/CLIP-ViT-B-16-laion2B-s34B-b88K/")


# ------------------------------------------------------------------------------------------ real weights
def _calibration() -> tuple[list[str], dict[str, list[float]]]:
    path = SHARED / "calibration" / "results_official.csv"
    if not path.exists():
        pytest.skip(f"shared calibration data absent: {path}")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    images = rows[0][1:]
    return images, {r[0]: [float(v) for v in r[1:]] for r in rows[1:]}


def _load_pair(image: str) -> tuple[torch.Tensor, torch.Tensor]:
    import numpy as np
    from PIL import Image

    def load(p: Path) -> torch.Tensor:
        a = np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255.0
        return torch.from_numpy(a).permute(2, 0, 1)[None]

    return load(SHARED / "calibration" / "dist" / image), load(SHARED / "calibration" / "ref" / image)


def _need(*names: str) -> None:
    """Skip (naming the file and where to put it) unless every weights file resolves offline."""
    from paradigm.errors import WeightsError
    from paradigm.weights import resolve

    for n in names:
        try:
            resolve(n)
        except WeightsError as exc:
            e = get_entry(n)
            pytest.skip(
                f"real weights {n!r} ({e['filename']}, from {e['urls'][0]}) not available offline; put it in "
                f"$PARADIGM_WEIGHTS_DIR ({str(exc).splitlines()[0]})"
            )


@pytest.fixture
def real_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Real files come from the user's $PARADIGM_WEIGHTS_DIR (or $PARADIGM_CACHE_DIR); never the home cache."""
    monkeypatch.setenv("PARADIGM_OFFLINE", "1")
    import os

    if not os.environ.get("PARADIGM_CACHE_DIR"):
        monkeypatch.setenv("PARADIGM_CACHE_DIR", str(tmp_path / "cache"))
    from paradigm.metrics import deep

    deep.clear_model_cache()


@pytest.mark.realweights
def test_lpips_alex_official_values(real_offline: None) -> None:
    images, rows = _calibration()
    _need("alexnet", "lpips_alex_v0.1")
    m = paradigm.create_metric("lpips")
    for image, want in zip(images, rows["lpips"], strict=True):
        x, ref = _load_pair(image)
        assert abs(float(m(x, ref)[0]) - want) < 1e-3, image


@pytest.mark.realweights
def test_dists_official_values(real_offline: None) -> None:
    images, rows = _calibration()
    heads = SHARED / "weights" / "dists" / "weights.pt"
    _need("vgg16")
    m = paradigm.create_metric("dists", heads_path=str(heads) if heads.exists() else None)
    for image, want in zip(images, rows["dists"], strict=True):
        x, ref = _load_pair(image)
        assert abs(float(m(x, ref)[0]) - want) < 2e-3, image
