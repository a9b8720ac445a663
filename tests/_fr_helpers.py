"""Shared fixtures of the classical full-reference metric tests (tests/test_fr_*.py)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from skimage import data

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CALIB = SHARED / "calibration"
NAMES = ["I03", "I04", "I06", "I08", "I19"]


def load_calibration() -> tuple[torch.Tensor, torch.Tensor, dict[str, np.ndarray]]:
    """(distorted, reference, official rows) of the five 512x384 calibration pairs; skips without ../shared."""
    if not (CALIB / "results_official.csv").is_file():
        pytest.skip(f"shared calibration data not found at {CALIB} (../shared next to the repository)")
    from PIL import Image

    def load(sub: str) -> torch.Tensor:
        arrs = [np.array(Image.open(CALIB / sub / f"{n}.bmp").convert("RGB")) for n in NAMES]
        return torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).float() / 255.0

    with open(CALIB / "results_official.csv", newline="") as fh:
        rows = {r[0]: np.array([float(v) for v in r[1:]]) for r in csv.reader(fh) if r and r[0] != "Method"}
    return load("dist"), load("ref"), rows


def photo(h: int = 128, w: int = 160) -> torch.Tensor:
    """An RGB crop of skimage's astronaut (bundled with scikit-image), ``(1, 3, h, w)`` in [0, 1]."""
    img = data.astronaut()[40 : 40 + h, 150 : 150 + w]
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255.0


def noisy(x: torch.Tensor, sigma: float, seed: int = 123) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1)


def assert_batch_equals_singles(fn: Callable[..., torch.Tensor], *batches: torch.Tensor, atol: float = 1e-6) -> None:
    """``fn`` on a batch equals ``fn`` on each item alone."""
    whole = fn(*batches)
    singles = torch.cat([fn(*(b[i : i + 1] for b in batches)) for i in range(batches[0].shape[0])])
    assert whole.shape == (batches[0].shape[0],) and whole.dtype == torch.float64
    np.testing.assert_allclose(whole.numpy(), singles.numpy(), atol=atol, rtol=0)


def listed_metric(name: str) -> dict:
    """The entry of ``paradigm metrics --json`` for ``name`` (fails when it is not listed)."""
    from paradigm.cli import cli

    r = CliRunner().invoke(cli, ["metrics", "--json"], catch_exceptions=False)
    assert r.exit_code == 0
    infos = {i["name"]: i for i in json.loads(r.stdout)}
    assert name in infos, f"{name} missing from `paradigm metrics`"
    return infos[name]
