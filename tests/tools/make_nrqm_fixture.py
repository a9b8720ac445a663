"""A small, deterministic, synthetic NRQM model file in the layout of the official ``NRQM_model.mat``.

The real parameter file cannot be downloaded here, so tests of :mod:`paradigm.metrics.nrqm` run on
this stand-in: a MATLAB struct ``model`` with ``linear`` (4x1) and ``rf`` (1x3 cell of
``randomforest-matlab`` regression forests: ``lDau``, ``rDau``, ``nodestatus``, ``nrnodes``, ``upper``,
``avnode``, ``mbest``, ``ndtree``, ``ntree``; node arrays nodes x trees, indices 1-based). Each forest
has eight shallow trees (depth 2-3) whose splits use features and thresholds chosen (seeded) around
the values of natural images, so that the predictions depend on the features.
``write_nrqm_model(path, trees=2000, depth=8)`` writes bigger forests of full trees instead (for timing:
the official model's forests were trained with 2000 trees each); the default file is unchanged.

Usage (also imported by tests and by ``pyiqa_nrqm_reference.py``)::

    python tests/tools/make_nrqm_fixture.py OUT.mat [SEED]

Only numpy and scipy are needed (it runs in paradigm's environment and in the peer one).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

#: Per forest, (1-based feature index, typical threshold) pairs the splits draw from: local frequency
#: (18 features), global frequency (45), spatial (75); values lie between those of the calibration images.
SPLITS: tuple[tuple[tuple[int, float], ...], ...] = (
    ((6, 0.3), (12, 0.4), (5, 1.0), (11, 1.2), (18, 0.3), (10, 2.0), (4, 2.0), (1, 0.3)),
    ((10, 1.2), (7, 1.5), (16, 0.5), (29, 0.85), (25, 0.85), (4, 1.6), (9, 1.4), (40, 0.93)),
    ((7, 1.5), (42, 0.5), (40, 1.1), (41, 0.2), (39, 0.8), (13, 2.0), (38, 1.3), (1, 900.0)),
)
#: The linear model ``[1 s1 s2 s3] @ LINEAR``: keeps the score inside 0-10 for leaf values in 0-10.
LINEAR = (0.4, 0.35, 0.3, 0.29)
TREES = 8


def _tree(rng: np.random.Generator, splits: tuple[tuple[int, float], ...]) -> dict[str, list[Any]]:
    """A full binary tree of depth 2-3, nodes numbered breadth first from 1."""
    depth = int(rng.integers(2, 4))
    n_nodes = 2 ** (depth + 1) - 1
    out: dict[str, list[Any]] = {k: [] for k in ("lDau", "rDau", "nodestatus", "upper", "avnode", "mbest")}
    for k in range(1, n_nodes + 1):
        leaf = k >= 2**depth
        feat, thr = splits[int(rng.integers(len(splits)))]
        out["lDau"].append(0 if leaf else 2 * k)
        out["rDau"].append(0 if leaf else 2 * k + 1)
        out["nodestatus"].append(-1 if leaf else -3)
        out["upper"].append(0.0 if leaf else round(thr * float(rng.uniform(0.75, 1.25)), 4))
        out["mbest"].append(0 if leaf else feat)
        out["avnode"].append(round(float(rng.uniform(0.0, 10.0)), 3))
    return out


def _forest(rng: np.random.Generator, splits: tuple[tuple[int, float], ...]) -> dict[str, Any]:
    trees = [_tree(rng, splits) for _ in range(TREES)]
    nodes = max(len(t["lDau"]) for t in trees)

    def table(key: str, dtype: Any) -> np.ndarray:
        arr = np.zeros((nodes, TREES), dtype=dtype)
        for j, t in enumerate(trees):
            arr[: len(t[key]), j] = t[key]
        return arr

    return {
        "lDau": table("lDau", np.int32), "rDau": table("rDau", np.int32),
        "nodestatus": table("nodestatus", np.int32), "nrnodes": np.array([[nodes]], dtype=np.float64),
        "upper": table("upper", np.float64), "avnode": table("avnode", np.float64),
        "mbest": table("mbest", np.int32),
        "ndtree": np.array([[len(t["lDau"])] for t in trees], dtype=np.float64),
        "ntree": np.array([[TREES]], dtype=np.float64),
    }


def _full_forest(rng: np.random.Generator, splits: tuple[tuple[int, float], ...], trees: int, depth: int) -> dict[str, Any]:
    """``trees`` full binary trees of depth ``depth`` (every path is ``depth`` splits long), vectorised."""
    nodes = 2 ** (depth + 1) - 1
    k = np.arange(1, nodes + 1)[:, None].repeat(trees, 1)
    split = k < 2**depth
    pick = rng.integers(len(splits), size=(nodes, trees))
    feat = np.array([f for f, _ in splits])[pick]
    thr = np.round(np.array([t for _, t in splits])[pick] * rng.uniform(0.75, 1.25, (nodes, trees)), 4)
    return {
        "lDau": np.where(split, 2 * k, 0).astype(np.int32), "rDau": np.where(split, 2 * k + 1, 0).astype(np.int32),
        "nodestatus": np.where(split, -3, -1).astype(np.int32), "nrnodes": np.array([[nodes]], dtype=np.float64),
        "upper": np.where(split, thr, 0.0), "avnode": np.round(rng.uniform(0.0, 10.0, (nodes, trees)), 3),
        "mbest": np.where(split, feat, 0).astype(np.int32),
        "ndtree": np.full((trees, 1), nodes, dtype=np.float64), "ntree": np.array([[trees]], dtype=np.float64),
    }


def write_nrqm_model(path: str | Path, seed: int = 0, trees: int = TREES, depth: int | None = None) -> Path:
    """Write the synthetic model (deterministic for a seed) to ``path``; returns the path.

    With the defaults, each forest has ``TREES`` shallow trees (the file the tests use). Given a
    ``depth``, each forest has ``trees`` full trees of that depth instead (a file for timing).
    """
    import scipy.io

    rng = np.random.default_rng(seed)
    rf = np.empty((1, 3), dtype=object)
    for k in range(3):
        rf[0, k] = _forest(rng, SPLITS[k]) if depth is None and trees == TREES else _full_forest(rng, SPLITS[k], trees, depth or 3)
    model = {"linear": np.array(LINEAR, dtype=np.float64).reshape(4, 1), "rf": rf}
    path = Path(path)
    scipy.io.savemat(str(path), {"model": model})
    return path


def synthetic_image(height: int = 112, width: int = 137, seed: int = 7) -> np.ndarray:
    """A deterministic 8-bit RGB test image ``(height, width, 3)``: blocky gradients plus noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (height // 10 + 1, width // 10 + 1, 3))
    smooth = np.kron(coarse, np.ones((10, 10, 1)))[:height, :width]
    ramp = np.linspace(0, 60, width)[None, :, None]
    img = 0.7 * smooth + ramp + rng.normal(0, 12, (height, width, 3))
    return np.clip(np.floor(img + 0.5), 0, 255).astype(np.uint8)


def rgb2gray8(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray`` of a uint8 ``(H, W, 3)`` image, as float64 grey levels (rounded)."""
    w = (0.298936021293775, 0.587043074451121, 0.114020904255103)
    x = rgb.astype(np.float64)
    return np.floor(w[0] * x[..., 0] + w[1] * x[..., 1] + w[2] * x[..., 2] + 0.5)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: make_nrqm_fixture.py OUT.mat [SEED]")
    print(write_nrqm_model(sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 0))
