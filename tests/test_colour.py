"""Tests of paradigm.metrics.colour against skimage and the BasicSR / MATLAB formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.color import deltaE_ciede2000, rgb2gray, rgb2lab

from paradigm.errors import InputError
from paradigm.metrics.colour import ciede2000_map, rgb_to_gray, rgb_to_lab, rgb_to_y


def _rand(seed: int, shape: tuple[int, ...] = (2, 3, 19, 23)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g, dtype=torch.float64)
    # include exact black/white/grey pixels (zero chroma edge cases of CIEDE2000)
    x[0, :, 0, 0] = 0.0
    x[0, :, 0, 1] = 1.0
    x[-1, :, 0, 0] = 0.5
    return x


def _sk_lab(x: torch.Tensor) -> np.ndarray:
    return np.stack([rgb2lab(a.permute(1, 2, 0).numpy()) for a in x])  # N,H,W,3


def test_lab_matches_skimage() -> None:
    x = _rand(0)
    ours = rgb_to_lab(x).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(ours, _sk_lab(x), atol=1e-4)
    ours32 = rgb_to_lab(x.float()).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(ours32, _sk_lab(x.float().double()), atol=1e-4)


def test_lab_grey_input_replicated() -> None:
    x = _rand(1, (1, 1, 8, 8))
    np.testing.assert_allclose(rgb_to_lab(x).numpy(), rgb_to_lab(x.expand(-1, 3, -1, -1)).numpy())


def test_ciede2000_matches_skimage() -> None:
    x, y = _rand(2), _rand(3)
    y[0, :, 0, 0] = 0.0  # identical black pixel: both chromas zero
    y[-1, :, 0, 0] = 0.5  # identical grey pixel
    ours = ciede2000_map(rgb_to_lab(x), rgb_to_lab(y)).numpy()
    ref = deltaE_ciede2000(_sk_lab(x), _sk_lab(y))
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    assert ours[0, 0, 0] == 0.0
    # symmetry
    np.testing.assert_allclose(ciede2000_map(rgb_to_lab(y), rgb_to_lab(x)).numpy(), ours, atol=1e-9)


def test_ciede2000_sharma_reference_pairs() -> None:
    # First rows of Sharma, Wu & Dalal (2005) test data: (L1,a1,b1,L2,a2,b2, dE00)
    rows = [
        (50.0, 2.6772, -79.7751, 50.0, 0.0, -82.7485, 2.0425),
        (50.0, 3.1571, -77.2803, 50.0, 0.0, -82.7485, 2.8615),
        (50.0, 2.8361, -74.0200, 50.0, 0.0, -82.7485, 3.4412),
        (50.0, -1.3802, -84.2814, 50.0, 0.0, -82.7485, 1.0),
        (50.0, 0.0, 0.0, 50.0, -1.0, 2.0, 2.3669),
        (50.0, 2.49, -0.001, 50.0, -2.49, 0.0009, 7.1792),
        (60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644),
    ]
    t = torch.tensor(rows, dtype=torch.float64)
    lab1 = t[:, 0:3].T.reshape(1, 3, 1, -1)
    lab2 = t[:, 3:6].T.reshape(1, 3, 1, -1)
    np.testing.assert_allclose(ciede2000_map(lab1, lab2).flatten().numpy(), t[:, 6].numpy(), atol=1e-4)


def test_y_matches_basicsr_formula() -> None:
    x = _rand(4)
    img = x.permute(0, 2, 3, 1).numpy()  # BasicSR: RGB in [0,1] -> Y in [16,235] / 255
    ref = (np.dot(img, [65.481, 128.553, 24.966]) + 16.0) / 255.0
    np.testing.assert_allclose(rgb_to_y(x)[:, 0].numpy(), ref, atol=1e-12)
    assert rgb_to_y(torch.zeros(1, 3, 2, 2)).max().item() == pytest.approx(16 / 255)
    assert rgb_to_y(torch.ones(1, 3, 2, 2)).min().item() == pytest.approx(235 / 255, abs=1e-6)
    full = rgb_to_y(x, y_range="full")[:, 0].numpy()
    np.testing.assert_allclose(full, np.dot(img, [0.299, 0.587, 0.114]), atol=1e-12)
    assert rgb_to_y(x).shape == (2, 1, 19, 23)


def test_gray_matches_matlab_weights() -> None:
    x = _rand(5)
    img = x.permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(rgb_to_gray(x)[:, 0].numpy(), np.dot(img, [0.2989, 0.5870, 0.1140]), atol=1e-12)
    # skimage's rgb2gray uses Rec.709 weights: close but different, so only loosely equal
    assert np.abs(rgb_to_gray(x)[0, 0].numpy() - rgb2gray(img[0])).max() < 0.2


def test_grey_passthrough_and_errors() -> None:
    g = torch.rand(1, 1, 4, 4)
    assert rgb_to_y(g) is g and rgb_to_gray(g) is g
    with pytest.raises(InputError):
        rgb_to_y(torch.rand(3, 4, 4))
    with pytest.raises(InputError):
        rgb_to_y(torch.zeros(1, 3, 4, 4, dtype=torch.uint8))
    with pytest.raises(InputError):
        rgb_to_y(torch.rand(1, 2, 4, 4))
    with pytest.raises(InputError):
        rgb_to_y(torch.rand(1, 3, 4, 4), y_range="bt709")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        ciede2000_map(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5))


def test_mean_ciede2000_blocked_equals_map() -> None:
    from paradigm.metrics import _ciede_jit, colour

    g = torch.Generator().manual_seed(11)
    x = torch.rand(2, 3, 300, 250, generator=g, dtype=torch.float64)  # > one block per image
    y = (x + 0.1 * torch.rand(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    assert x.shape[-1] * x.shape[-2] > 2 * _ciede_jit.BLOCK
    full = ciede2000_map(rgb_to_lab(x), rgb_to_lab(y)).flatten(1).mean(1)
    np.testing.assert_allclose(colour.mean_ciede2000(x, y, dtype=torch.float64).numpy(), full.numpy(), atol=1e-9)
    np.testing.assert_allclose(colour.mean_ciede2000(x.float(), y.float()).numpy(), full.numpy(), atol=1e-4)
    grey = x[:, :1]
    np.testing.assert_allclose(
        colour.mean_ciede2000(grey, y[:, :1], dtype=torch.float64).numpy(),
        ciede2000_map(rgb_to_lab(grey), rgb_to_lab(y[:, :1])).flatten(1).mean(1).numpy(),
        atol=1e-9,
    )
