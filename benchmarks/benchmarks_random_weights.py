"""Randomly initialised checkpoints of the *real* model architectures, for timing model-backed metrics.

No model weights can be downloaded where the benchmark runs, but the cost of LPIPS, DISTS, CLIP and
DINOv2 depends only on the architecture, not on the values of the weights. This module writes
checkpoints with the real shapes and key layouts (torchvision AlexNet/VGG16 features, the DISTS
alpha/beta heads, open_clip ViT-B-32, timm ``vit_small_patch14_dinov2``) and registers them under
the real weights-table names, so the metrics load them through the normal resolver and loading code
(``paradigm.weights``) and run exactly the computation they run with trained weights. The scores
themselves are meaningless; only the timings are.

Example:
    >>> from benchmarks_random_weights import install_random_weights
    >>> with install_random_weights(Path("/tmp/rw")):          # doctest: +SKIP
    ...     run_score(ScoreConfig(..., metrics="lpips,dists,clip_sim,dino_sim"))
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

#: Environment variables set inside :func:`install_random_weights` (restored afterwards).
_ENV = ("PARADIGM_OFFLINE", "PARADIGM_WEIGHTS_DIR", "PARADIGM_CACHE_DIR", "PARADIGM_ALLOW_UNVERIFIED")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _save(sd: dict[str, torch.Tensor], path: Path, fmt: str) -> None:
    sd = {k: v.detach().contiguous().clone() for k, v in sd.items()}
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(sd, str(path))
    else:
        torch.save(sd, path)


def _he(shape: torch.Size) -> torch.Tensor:
    """He-normal weights for conv/linear tensors, zeros for biases."""
    if len(shape) <= 1:
        return torch.zeros(shape)
    fan_in = max(1, int(torch.Size(shape[1:]).numel()))
    return torch.randn(shape) * (2.0 / fan_in) ** 0.5


def write_random_checkpoints(root: Path, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Write the random checkpoints into ``root`` (once; reused when present).

    Returns:
        Weights-table entries ``name -> entry`` (the real entries with ``filename``, ``sha256`` and
        ``size`` replaced), ready for :func:`paradigm.weights.override_table`.
    """
    import open_clip
    import timm
    from torchvision.models import alexnet, vgg16

    from paradigm.metrics.deep import DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED, ensure_clip_entry
    from paradigm.weights import get_entry

    torch.manual_seed(seed)
    root.mkdir(parents=True, exist_ok=True)
    entries: dict[str, dict[str, Any]] = {}

    def add(name: str, filename: str, build: Any, fmt: str = "torch") -> None:
        path = root / filename
        if not path.exists():
            tmp = path.with_suffix(path.suffix + ".part")
            _save(build(), tmp, fmt)
            os.replace(tmp, path)
        entry = dict(get_entry(name))
        entry.pop("sha256_prefix", None)
        entry.pop("bundled", None)
        entry.pop("alt_filenames", None)
        entry.update(filename=filename, sha256=_sha256(path), size=path.stat().st_size, format=fmt)
        entries[name] = entry

    # torchvision backbones: LPIPS and DISTS read only features.*; built on the meta device and
    # filled with He-normal values (initialising the classifiers for real takes seconds)
    for name, ctor in (("alexnet", alexnet), ("vgg16", vgg16)):

        def build_features(ctor: Any = ctor) -> dict[str, torch.Tensor]:
            with torch.device("meta"):
                features = ctor(weights=None).features
            return {"features." + k: _he(v.shape) for k, v in features.state_dict().items()}

        add(name, f"random_{name}_features.pth", build_features)

    add(
        "dists_heads",
        "random_dists_heads.pt",
        lambda: {"alpha": torch.rand(1, 1475, 1, 1) * 0.1 + 0.01, "beta": torch.rand(1, 1475, 1, 1) * 0.1 + 0.01},
    )

    clip_name = ensure_clip_entry(DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED)
    add(
        clip_name,
        "random_open_clip_vit_b_32.safetensors",
        lambda: open_clip.create_model(DEFAULT_CLIP_MODEL, pretrained=None).state_dict(),
        "safetensors",
    )

    def build_dino() -> dict[str, torch.Tensor]:
        net = timm.create_model("vit_small_patch14_dinov2", pretrained=False, img_size=518)
        # DINOv2 initialises its layer scales at 1e-5, which would make a random CLS token image-blind
        return {k: (torch.ones_like(v) if k.endswith(".gamma") else v) for k, v in net.state_dict().items()}

    add("dinov2_vits14", "random_dinov2_vits14.safetensors", build_dino, "safetensors")
    return entries


@contextmanager
def install_random_weights(root: Path, seed: int = 0) -> Iterator[dict[str, dict[str, Any]]]:
    """Within the block, LPIPS/DISTS/CLIP/DINOv2 resolve to random checkpoints of the real architectures.

    Writes the files into ``root`` (see :func:`write_random_checkpoints`), sets
    ``PARADIGM_OFFLINE=1``, ``PARADIGM_WEIGHTS_DIR=root`` and ``PARADIGM_CACHE_DIR=root/cache``
    (so nothing is downloaded and the user's cache is untouched) and registers the files in the
    weights table with :func:`paradigm.weights.override_table`. Everything is restored on exit.

    Yields:
        The registered entries.
    """
    from paradigm.metrics import deep
    from paradigm.weights import clear_hash_cache, override_table

    root = Path(root)
    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ["PARADIGM_OFFLINE"] = "1"
    os.environ["PARADIGM_WEIGHTS_DIR"] = str(root)
    os.environ["PARADIGM_CACHE_DIR"] = str(root / "cache")
    os.environ.pop("PARADIGM_ALLOW_UNVERIFIED", None)
    try:
        entries = write_random_checkpoints(root, seed)
        clear_hash_cache()
        deep.clear_model_cache()
        with override_table(entries):
            yield entries
    finally:
        deep.clear_model_cache()
        clear_hash_cache()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


__all__ = ["install_random_weights", "write_random_checkpoints"]
