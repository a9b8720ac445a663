"""Write a small synthetic IL-NIQE template in the official ``ILNIQE_templateModel.mat`` layout.

The official file cannot be obtained here, so the tests use this stand-in. It has the layout the
official release saves (``save('templateModel.mat', 'templateModel')``): one variable
``templateModel``, a 1x4 cell ``{mu_prisparam (1xD), cov_prisparam (DxD), meanOfSampleData (468x1),
principleVectors (468xD)}``, here with D = 32. It is deterministic (numpy ``default_rng(seed)``):

* ``meanOfSampleData``: typical values of the 468 patch features (hand-set per feature group,
  close to what natural images give), so that centred features are O(spread);
* ``principleVectors``: orthonormal random columns divided row-wise by a typical spread of each
  feature, so that every feature group weighs on the score (a PCA of raw features would let the
  large-valued gradient features dominate);
* ``mu_prisparam``: small random values; ``cov_prisparam``: a random symmetric positive-definite
  matrix ``B B' / D + I / 2``.

It is *not* a model of pristine images: scores made with it only serve to compare implementations.

Usage::

    python tests/tools/make_ilniqe_fixture.py OUT.mat [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

N_FEATURES = 468
DIM = 32


def _group_stats() -> tuple[np.ndarray, np.ndarray]:
    """Typical value and spread of each of the 234 features of one scale (the release's order)."""
    centre: list[float] = [2.0, 0.8]
    spread: list[float] = [0.5, 0.2]
    for _ in range(4):  # paired products: shape, mean, left and right scale
        centre += [1.1, -0.05, 0.3, 0.3]
        spread += [0.2, 0.05, 0.1, 0.1]
    centre += [300.0, 2.0] * 3  # Weibull scale/shape of the colour gradient magnitudes
    spread += [100.0, 0.3] * 3
    centre += [0.0, 0.4] * 3  # mean/variance of the log-opponent channels
    spread += [0.05, 0.2] * 3
    for beta, beta_spread in [(300.0, 100.0)] * 6 + [(3.0, 2.0)] * 24 + [(6.0, 4.0)] * 48:
        centre += [1.8, beta]  # AGGD shape and scale of derivative / log-Gabor / log-Gabor-derivative maps
        spread += [0.3, beta_spread]
    centre += [6.0, 1.7] * 24  # Weibull scale/shape of the log-Gabor gradient magnitudes
    spread += [4.0, 0.2] * 24
    return np.asarray(centre), np.asarray(spread)


def template_arrays(seed: int = 0, dim: int = DIM) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(mu (1, dim), cov (dim, dim), meanOfSampleData (468, 1), principleVectors (468, dim))``."""
    rng = np.random.default_rng(seed)
    centre, spread = _group_stats()
    centre, spread = np.tile(centre, 2), np.tile(spread, 2)
    assert centre.size == N_FEATURES
    q, _ = np.linalg.qr(rng.standard_normal((N_FEATURES, dim)))
    vectors = q / spread[:, None]
    mu = 0.5 * rng.standard_normal((1, dim))
    b = rng.standard_normal((dim, dim))
    cov = b @ b.T / dim + 0.5 * np.eye(dim)
    return mu, cov, centre.reshape(-1, 1), vectors


def write_template(path: str | Path, seed: int = 0, dim: int = DIM) -> Path:
    """Write the synthetic template to ``path`` (a .mat file, MATLAB 5 format) and return the path."""
    from scipy.io import savemat

    cell = np.empty((1, 4), dtype=object)
    for i, a in enumerate(template_arrays(seed, dim)):
        cell[0, i] = a
    path = Path(path)
    savemat(str(path), {"templateModel": cell})
    # the 116-byte text header holds a creation time: fix it so that the bytes (and sha256) are reproducible
    data = bytearray(path.read_bytes())
    data[:116] = b"MATLAB 5.0 MAT-file, synthetic IL-NIQE template (tests/tools/make_ilniqe_fixture.py)".ljust(116)
    path.write_bytes(bytes(data))
    return path


def synthetic_image(seed: int = 7, size: int = 524) -> np.ndarray:
    """A deterministic ``(size, size, 3)`` uint8 RGB test image: smooth colour blobs, edges and noise.

    numpy only (no resampling library), so every environment makes the same pixels.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(size, dtype=np.float64) / size
    yy, xx = np.meshgrid(t, t, indexing="ij")
    img = np.zeros((size, size, 3))
    for c in range(3):
        for _ in range(6):
            fy, fx, phase = rng.uniform(1.0, 12.0), rng.uniform(1.0, 12.0), rng.uniform(0.0, 2 * np.pi)
            img[..., c] += np.sin(2 * np.pi * (fy * yy + fx * xx) + phase)
    img = img / 12.0 + 0.5
    img[size // 3 : size // 2, size // 4 : 3 * size // 4] *= 0.6  # a darker rectangle: sharp edges
    img += 0.04 * rng.standard_normal(img.shape)
    return np.clip(np.floor(img * 255.0 + 0.5), 0, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(write_template(args.out, args.seed))


if __name__ == "__main__":
    main()
