"""Tests of MAD (Most Apparent Distortion, official MAD_index.m semantics).

The ``mad`` row of ``../shared/calibration/results_official.csv`` is not the official MATLAB's output
(it equals IQA-PyTorch's own implementation, see docs/metrics-fr-classic-2.md), so the expected
values here come from the definitions: the CSF formula at hand-picked frequencies, plain loops over
the mex files' block statistics (``ical_std.c``, ``ical_stat.c``), the blend formula, and the
properties every MAD must have (0 for identical images and for changes below the detection
threshold, monotone in noise).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data
from skimage.transform import resize

import paradigm
from paradigm.metrics.mad import (
    _moments,
    appearance_index,
    detection_index,
    ical_std,
    log_gabor_bank,
    mad,
    mad_csf,
)

CALIB = Path(__file__).resolve().parents[1].parent / "shared" / "calibration"


def _photo(h: int = 96, w: int = 128) -> torch.Tensor:
    img = resize(data.astronaut(), (h, w), anti_aliasing=True, preserve_range=True)
    a = np.clip(np.round(img), 0, 255) / 255.0
    return torch.from_numpy(a).permute(2, 0, 1)[None].float()


def _noisy(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.round((x + sigma / 255 * torch.randn(x.shape, generator=g)).clamp(0, 1) * 255) / 255


# -------------------------------------------------------------------------------- hand-worked parts


def _csf_value(xv: float, yv: float, cols: int) -> float:
    """make_csf at one grid point, from the published formula."""
    fx, fy = xv / cols * 64, yv / cols * 64
    r = math.hypot(fx, fy)
    s = 0.15 * math.cos(4 * math.atan2(fy, fx)) + 0.85
    r /= s
    return 0.9809 if r < 7.8909 else 2.6 * (0.0192 + 0.114 * r) * math.exp(-((0.114 * r) ** 1.1))


@pytest.mark.parametrize("r,c", [(0, 0), (3, 60), (20, 17), (31, 31), (47, 2)])
def test_csf_matches_formula(r: int, c: int) -> None:
    rows, cols = 48, 64
    want = _csf_value(r - rows / 2 + 0.5, c - cols / 2 + 0.5, cols)
    assert float(mad_csf(rows, cols)[r, c]) == pytest.approx(want, rel=1e-12)


def test_log_gabor_bank_peaks_at_its_centre_frequency() -> None:
    """Scale s (wavelength 3 * 3^s) peaks at radius 1/wavelength cycles/px along its orientation."""
    rows = cols = 256
    bank = log_gabor_bank(rows, cols)
    assert bank.shape == (20, rows, cols)
    for s in range(3):
        f = bank[4 * s]  # orientation 0: along +x
        u = int(round(cols / (3 * 3**s)))  # FFT bin of 1/wavelength
        row = f[0, : cols // 2]
        assert int(torch.argmax(row)) == pytest.approx(u, abs=1)
        assert float(f[0, 0]) == 0.0  # no DC


def _loop_ical_std(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ical_std.c as plain loops (rows/cols are symmetric in the mex file's conditions)."""
    h, w = x.shape
    std2, std1, mean = np.zeros((h, w)), np.zeros((h, w)), np.zeros((h, w))
    tmp = np.zeros((h, w))
    for i in range(0, h - 15, 4):
        for j in range(0, w - 15, 4):
            std2[i : i + 4, j : j + 4] = np.std(x[i : i + 16, j : j + 16], ddof=1)
            mean[i : i + 4, j : j + 4] = np.mean(y[i : i + 16, j : j + 16])
            tmp[i : i + 4, j : j + 4] = np.std(y[i : i + 8, j : j + 8], ddof=1)
    for i in range(0, h - 15, 4):
        for j in range(0, w - 15, 4):
            m = tmp[i, j]
            for ib in (i, i + 5):
                for jb in (j, j + 5):
                    if ib < h - 15 and jb < w - 15 and m > tmp[ib, jb]:
                        m = tmp[ib, jb]
            std1[i : i + 4, j : j + 4] = m
    return std2, std1, mean


def _loop_ical_stat(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = x.shape
    out = [np.zeros((h, w)) for _ in range(3)]
    for i in range(0, h - 15, 4):
        for j in range(0, w - 15, 4):
            b = x[i : i + 16, j : j + 16]
            d = b - b.mean()
            pop = math.sqrt(np.mean(d**2))
            vals = (np.std(b, ddof=1), np.mean(d**3) / pop**3, np.mean(d**4) / pop**4)
            for o, v in zip(out, vals, strict=True):
                o[i : i + 4, j : j + 4] = v
    return out[0], out[1], out[2]


def test_ical_std_matches_mex_loops() -> None:
    rng = np.random.default_rng(1)
    y = rng.uniform(0.5, 2.0, (41, 53)) + np.linspace(0, 1, 53)[None]
    x = rng.normal(0, 0.1, (41, 53))
    got = ical_std(torch.from_numpy(x)[None], torch.from_numpy(y)[None])
    for g, want in zip(got, _loop_ical_std(x, y), strict=True):
        np.testing.assert_allclose(g[0].numpy(), want, rtol=1e-9, atol=1e-12)


def test_ical_stat_matches_mex_loops() -> None:
    from paradigm.metrics.mad import _cells

    x = np.abs(np.random.default_rng(2).normal(3, 1, (37, 45)))
    got = [_cells(v, x.shape) for v in _moments(torch.from_numpy(x)[None])]
    for g, want in zip(got, _loop_ical_stat(x), strict=True):
        np.testing.assert_allclose(g[0].numpy(), want, rtol=1e-8, atol=1e-10)


def test_blend_formula() -> None:
    x, y = _noisy(_photo(), 12.0), _photo()
    from paradigm.metrics.fidelity import matlab_gray255

    a, b = matlab_gray255(y.double())[:, 0], matlab_gray255(x.double())[:, 0]
    hi, lo = float(detection_index(a, b)), float(appearance_index(a, b))
    sig = 1 / (1 + math.exp(-2.55 / 3.35) * hi ** (1 / (math.log(10) * 3.35)))
    assert float(mad(x, y)) == pytest.approx(lo ** (1 - sig) * hi**sig, rel=1e-12)
    assert 0.466 < math.exp(-2.55 / 3.35) < 0.468 and 0.129 < 1 / (math.log(10) * 3.35) < 0.131


def test_invisible_change_scores_zero() -> None:
    """Grey changes of one level are below the detection threshold (log contrast -5): HI = 0, so MAD = 0."""
    y = _photo()
    grey = torch.full_like(y[:, :1], 0.5)
    g = torch.Generator().manual_seed(0)
    x = (grey + torch.randint(-1, 2, grey.shape, generator=g) / 255).clamp(0, 1)
    assert float(mad(x, grey)) == 0.0


# --------------------------------------------------------------------------------------- contract


def test_identical_is_zero_and_declaration() -> None:
    y = _photo()
    assert float(paradigm.create_metric("mad")(y, y)) == 0.0
    info = paradigm.metric_info("mad")
    assert info["pillar"] == "perceptual" and info["higher_is_better"] is False
    assert info["range"] == [0.0, float("inf")]
    assert "mad" in paradigm.list_metrics(pillar="perceptual")


def test_batch_equals_singles() -> None:
    y = torch.cat([_photo(), _photo().flip(-1), _photo().flip(-2)])
    x = torch.cat([_noisy(y[i : i + 1], 4.0 + 6 * i, seed=i) for i in range(3)])
    batch = paradigm.create_metric("mad")(x, y)
    singles = torch.cat([mad(x[i : i + 1].clone(), y[i : i + 1].clone()) for i in range(3)])
    np.testing.assert_allclose(batch.numpy(), singles.numpy(), rtol=1e-6, atol=1e-6)


def test_monotone_under_noise() -> None:
    y = _photo()
    vals = [float(mad(_noisy(y, s), y)) for s in (3.0, 8.0, 16.0, 30.0)]
    assert all(a < b for a, b in zip(vals, vals[1:], strict=False)), vals


def test_too_small_is_an_input_error() -> None:
    with pytest.raises(paradigm.errors.InputError):
        mad(torch.rand(1, 3, 20, 64), torch.rand(1, 3, 20, 64))


def test_calibration_pairs_documented_difference() -> None:
    """The csv's mad row is IQA-PyTorch's output, not MAD_index.m's: on I04 and I06 (colour-only
    distortions, rgb2gray differs by at most one level) the official detection index is 0, so MAD = 0,
    while the row says 80.8 and 30.4. As in the row, the heavily distorted I03 and I19 score above I08."""
    if not (CALIB / "results_official.csv").is_file():
        pytest.skip(f"shared calibration data not found at {CALIB}")
    from PIL import Image

    def load(sub: str) -> torch.Tensor:
        arrs = [np.array(Image.open(CALIB / sub / f"I{i:02d}.bmp").convert("RGB")) for i in (3, 4, 6, 8, 19)]
        return torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).float() / 255.0

    with open(CALIB / "results_official.csv", newline="") as fh:
        row = next(r for r in csv.reader(fh) if r and r[0] == "mad")
    assert [float(v) for v in row[1:]] == [195.2796, 80.8379, 30.3918, 84.3542, 202.2371]
    v = mad(load("dist"), load("ref")).numpy()
    assert v[1] == 0.0 and v[2] == 0.0
    assert v[0] > v[3] and v[4] > v[3] and 50 < v[3] < 200
