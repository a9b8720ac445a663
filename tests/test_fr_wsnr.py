"""Tests of WSNR (Damera-Venkata's wsnr.m). No official values exist for the calibration pairs:
expected values are hand-worked from the definition (a mean shift, a single spatial frequency) and
checked against the TID2013 official WSNR values per distortion type (docs/metrics-fr-classic-2.md)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from skimage import data
from skimage.transform import resize
from torchvision.transforms.functional import gaussian_blur

import paradigm
from paradigm.metrics.wsnr import wsnr

TID = Path(__file__).resolve().parents[1].parent / "shared" / "human" / "tid2013"


def _csf(f: float, angle: float) -> float:
    f = f / (0.15 * math.cos(4 * angle) + 0.85)
    return 0.9809 if f < 7.8909 else 2.6 * (0.0192 + 0.114 * f) * math.exp(-((0.114 * f) ** 1.1))


def _grey(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a / 255.0)[None, None]


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    img = resize(data.astronaut(), (384, 512), anti_aliasing=True, preserve_range=True)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def test_mean_shift_hand_worked(photo: np.ndarray) -> None:
    """A constant error d lives in the DC bin, weighted 0.9809: WSNR = 10 log10(mean(A^2) / (0.9809 d)^2)."""
    a = photo[..., 1].astype(np.float64) * 0.8 + 20
    d = 6.0
    want = 10 * math.log10(np.mean(a**2) / (0.9809 * d) ** 2)
    assert float(wsnr(_grey(a + d), _grey(a), quantize=False)) == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("ku,kv", [(0, 10), (12, 0), (20, 25), (30, 40)])
def test_single_frequency_hand_worked(ku: int, kv: int) -> None:
    """An error cos(2 pi (ku r / H + kv c / W)) puts power in bins +-(ku, kv); the CSF is read at the
    half-bin-offset grid point of each (fftshift layout), radial frequency scaled by 120 / H."""
    h, w = 128, 192
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    a = np.full((h, w), 100.0) + 20 * np.sin(2 * np.pi * r / h * 3)
    e = 5 * np.cos(2 * np.pi * (ku * r / h + kv * c / w))
    # bin k of the fftshift-ed spectrum (index k + size/2) has grid value (k + size/2) - size/2 + 0.5 = k + 0.5
    weights = [_csf(math.hypot(su + 0.5, sv + 0.5) * 120 / h, math.atan2(sv + 0.5, su + 0.5)) ** 2
               for su, sv in ((ku, kv), (-ku, -kv))]
    mse = (h * w) ** 2 * (5 / 2) ** 2 * sum(weights)
    mss = h * w * np.sum(a**2)
    want = 10 * math.log10(mss / mse)
    assert float(wsnr(_grey(a - e), _grey(a), quantize=False)) == pytest.approx(want, abs=1e-8)


def test_identical_and_declaration(photo: np.ndarray) -> None:
    y = _grey(photo[..., 0].astype(np.float64))
    assert float(paradigm.create_metric("wsnr")(y, y)) == 100.0
    black = torch.zeros(1, 3, 16, 16)
    assert float(wsnr(black, black)) == 100.0
    info = paradigm.metric_info("wsnr")
    assert info["pillar"] == "fidelity" and info["higher_is_better"] is True
    assert "wsnr" in paradigm.list_metrics(pillar="fidelity")


def _noisy(rgb: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    n = np.random.default_rng(seed).normal(0, sigma, rgb.shape)
    return np.clip(np.round(rgb + n), 0, 255).astype(np.uint8)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float() / 255.0


def test_batch_equals_singles(photo: np.ndarray) -> None:
    ref = torch.cat([_t(photo[i * 50 : i * 50 + 100, :120]) for i in range(3)])
    out = torch.cat([_t(_noisy(photo[i * 50 : i * 50 + 100, :120], 2 + 5 * i, i)) for i in range(3)])
    batch = paradigm.create_metric("wsnr")(out, ref)
    singles = torch.cat([wsnr(out[i : i + 1], ref[i : i + 1]) for i in range(3)])
    np.testing.assert_allclose(batch.numpy(), singles.numpy(), rtol=0, atol=1e-6)


def test_monotone_under_noise(photo: np.ndarray) -> None:
    ref = _t(photo)
    vals = [float(wsnr(_t(_noisy(photo, s)), ref)) for s in (2.0, 5.0, 10.0, 20.0)]
    assert all(a > b for a, b in zip(vals, vals[1:], strict=False)), vals


@pytest.fixture(scope="module")
def tid() -> dict[str, np.ndarray]:
    if not (TID / "metrics_values" / "WSNR.txt").is_file():
        pytest.skip(f"TID2013 official values not found at {TID}")
    names = [line.split()[1].lower() for line in (TID / "mos_with_names.txt").read_text().splitlines() if line]
    return {
        "PSNR": np.loadtxt(TID / "metrics_values" / "PSNR.txt"),
        "WSNR": np.loadtxt(TID / "metrics_values" / "WSNR.txt"),
        "type": np.array([int(n.split("_")[1]) for n in names]),
    }


def _synthetic(photo: np.ndarray) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    f = photo.astype(np.float64)
    ref = _t(photo)
    noise = torch.cat([_t(_noisy(photo, s, i)) for i, s in enumerate((3.0, 6.0, 10.0, 16.0))])
    blur = torch.cat([torch.round(gaussian_blur(ref * 255, [2 * math.ceil(3 * s) + 1] * 2, [s, s])) / 255
                      for s in (0.6, 1.0, 1.6, 2.5)])
    base = np.round(f * 0.85 + 10)
    shift = torch.cat([_t((base + d).astype(np.uint8)) for d in (4.0, 8.0, 12.0, 18.0)])
    return {"noise": (noise, ref.expand(4, -1, -1, -1)), "blur": (blur, ref.expand(4, -1, -1, -1)),
            "shift": (shift, _t(base.astype(np.uint8)).expand(4, -1, -1, -1))}


def test_offsets_and_ordering_match_tid2013(tid, photo: np.ndarray) -> None:
    """(WSNR - PSNR_Y) of our noise / blur / mean-shift images lies within 3 sd of TID2013's median
    for types 1 / 8 / 16; within each kind the order of the levels is PSNR_Y's; TID2013's Spearman of
    WSNR with PSNR is 0.81 and ours over noise + blur is >= 0.6."""
    ok = (tid["WSNR"] < 1000) & (tid["PSNR"] < 1000)
    assert spearmanr(tid["PSNR"][ok], tid["WSNR"][ok])[0] > 0.8
    pooled_w, pooled_p = [], []
    for kind, tid_type in (("noise", 1), ("blur", 8), ("shift", 16)):
        x, y = _synthetic(photo)[kind]
        w, p = wsnr(x, y).numpy(), paradigm.create_metric("psnr_y")(x, y).numpy()
        m = tid["type"] == tid_type
        off = tid["WSNR"][m] - tid["PSNR"][m]
        assert np.all(np.abs((w - p) - np.median(off)) <= 3 * off.std()), (kind, w - p, np.median(off))
        assert spearmanr(p, w)[0] == pytest.approx(1.0) or kind == "shift"
        if kind != "shift":
            pooled_w.append(w)
            pooled_p.append(p)
    assert spearmanr(np.concatenate(pooled_p), np.concatenate(pooled_w))[0] >= 0.6
