"""Tiny, randomly initialised checkpoints with the real key layouts, for offline tests.

Import the fixtures into a test module::

    from _tiny_weights import tiny_env, tiny_files  # noqa: F401

``tiny_files`` (session scope) writes the files once; ``tiny_env`` (function scope) sets
``PARADIGM_OFFLINE=1``, ``PARADIGM_WEIGHTS_DIR`` and ``PARADIGM_CACHE_DIR`` to temporary folders and
registers the files' sha256 in the weights table with ``override_table``, so metrics load them through
the real resolver and the real loading code. Nothing touches the network or the home cache.
``nrqm_model`` is the synthetic NRQM model of ``tools/make_nrqm_fixture.py`` (the real one is not
available offline), so the contract harness runs NRQM and PI on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

TINY_CLIP = "paradigm-tiny-clip"
TINY_CLIP_TAG = "tiny"
TINY_CLIP_CFG: dict[str, Any] = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1},
}
TINY_DINO_KWARGS = {"embed_dim": 48, "depth": 2, "num_heads": 2}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def register_tiny_clip_config() -> None:
    """Make open_clip know the tiny architecture (idempotent)."""
    from open_clip import factory

    factory._MODEL_CONFIGS[TINY_CLIP] = TINY_CLIP_CFG  # noqa: SLF001


def _write(sd: dict[str, torch.Tensor], path: Path, fmt: str = "torch") -> Path:
    sd = {k: v.detach().clone().contiguous() for k, v in sd.items()}
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(sd, str(path))
    else:
        torch.save(sd, path)
    return path


def build_files(root: Path) -> dict[str, dict[str, Any]]:
    """Write every tiny checkpoint into ``root``; returns table entries name -> entry."""
    import open_clip
    import timm
    from torchvision.models import alexnet, squeezenet1_1, vgg16

    from paradigm.metrics.deep import clip_entry_name
    from paradigm.weights import get_entry

    torch.manual_seed(0)
    root.mkdir(parents=True, exist_ok=True)
    entries: dict[str, dict[str, Any]] = {}

    def add(name: str, path: Path, **extra: Any) -> None:
        try:
            base = get_entry(name)
        except Exception:
            base = {"urls": ["https://example.invalid/" + path.name], "format": "torch", "licence": "test"}
        entries[name] = {
            **base,
            "filename": path.name,
            "sha256": sha256(path),
            "size": path.stat().st_size,
            **extra,
        }
        entries[name].pop("sha256_prefix", None)

    # torchvision backbones: only the features.* tensors are read by LPIPS/DISTS, so write just those
    # (built on the meta device: initialising the big classifiers would take seconds)
    for name, ctor in (("alexnet", alexnet), ("vgg16", vgg16), ("squeezenet1_1", squeezenet1_1)):
        with torch.device("meta"):
            features = ctor(weights=None).features
        features = features.to_empty(device="cpu")
        sd = {}
        for k, v in features.state_dict().items():
            fan_in = max(1, v[0].numel()) if v.ndim > 1 else 1
            sd["features." + k] = torch.randn(v.shape) * (2.0 / fan_in) ** 0.5 if v.ndim > 1 else torch.zeros(v.shape)
        add(name, _write(sd, root / f"tiny_{name}.pth"))
    heads = {"alpha": torch.rand(1, 1475, 1, 1) * 0.1 + 0.01, "beta": torch.rand(1, 1475, 1, 1) * 0.1 + 0.01}
    add("dists_heads", _write(heads, root / "tiny_dists_heads.pt"))

    register_tiny_clip_config()
    clip = open_clip.create_model(TINY_CLIP, pretrained=None)
    name = clip_entry_name(TINY_CLIP, TINY_CLIP_TAG)
    add(
        name,
        _write(clip.state_dict(), root / "tiny_clip.safetensors", "safetensors"),
        format="safetensors",
        model={"library": "open_clip", "name": TINY_CLIP, "pretrained": TINY_CLIP_TAG},
        preprocess={"mean": [0.48, 0.46, 0.41], "std": [0.27, 0.26, 0.28], "interpolation": "bicubic"},
    )

    dino = timm.create_model("vit_small_patch14_dinov2", pretrained=False, img_size=518, **TINY_DINO_KWARGS)
    # DINOv2 initialises its layer scales at 1e-5, which would make a random CLS token image-blind
    dino_sd = {k: (torch.ones_like(v) if k.endswith(".gamma") else v) for k, v in dino.state_dict().items()}
    # IL-NIQE: the synthetic template of tests/tools/make_ilniqe_fixture.py (official layout, D = 32)
    add("ilniqe_templates", ilniqe_fixture_tool().write_template(root / "tiny_ilniqe_templates.mat"))

    add(
        "dinov2_vits14",
        _write(dino_sd, root / "tiny_dinov2.safetensors", "safetensors"),
        format="safetensors",
        model={"library": "timm", "name": "vit_small_patch14_dinov2", "kwargs": TINY_DINO_KWARGS},
    )
    add("nrqm_model", _nrqm_fixture().write_nrqm_model(root / "NRQM_model.mat", seed=0))
    return entries


def _tool(name: str) -> Any:
    """``tests/tools/<name>.py``, loaded by path (tests/tools is not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parent / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def ilniqe_fixture_tool() -> Any:
    """``tests/tools/make_ilniqe_fixture.py`` (the synthetic IL-NIQE template in the official layout)."""
    return _tool("make_ilniqe_fixture")


def _nrqm_fixture() -> Any:
    """``tests/tools/make_nrqm_fixture.py`` (the synthetic NRQM model in the official layout)."""
    return _tool("make_nrqm_fixture")


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("tiny_weights")
    return root, build_files(root)


@pytest.fixture
def tiny_env(
    tiny_files: tuple[Path, dict[str, dict[str, Any]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, dict[str, Any]]]:
    from paradigm.metrics import deep
    from paradigm.weights import clear_hash_cache, override_table

    root, entries = tiny_files
    monkeypatch.setenv("PARADIGM_OFFLINE", "1")
    monkeypatch.setenv("PARADIGM_WEIGHTS_DIR", str(root))
    monkeypatch.setenv("PARADIGM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PARADIGM_ALLOW_UNVERIFIED", raising=False)
    register_tiny_clip_config()
    clear_hash_cache()
    deep.clear_model_cache()
    with override_table(entries):
        yield entries
    deep.clear_model_cache()


@pytest.fixture
def offline_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Offline, with empty temporary weights and cache dirs; returns the weights dir."""
    wdir = tmp_path / "weights"
    wdir.mkdir()
    monkeypatch.setenv("PARADIGM_OFFLINE", "1")
    monkeypatch.setenv("PARADIGM_WEIGHTS_DIR", str(wdir))
    monkeypatch.setenv("PARADIGM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PARADIGM_ALLOW_UNVERIFIED", raising=False)
    return wdir
