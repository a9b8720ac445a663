"""VSI (paradigm.metrics.vsi) against VSI.m's official values and hand-worked properties.

Our VSI follows the published VSI.m step by step (and agrees with IQA-PyTorch's port to 2.5e-4 on
four of the five pairs) but misses the official row by up to 0.0123, because that row was made by
another PyTorch port (full-resolution saliency; docs/probes/vsi_row_source.py reproduces it to
7e-5). The row is held to the measured gap, and the 1e-3 bar is an expected failure (strict); see
docs/metrics-fr-classic.md.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _fr_helpers import assert_batch_equals_singles, listed_metric, load_calibration, noisy, photo

import paradigm
from paradigm.errors import InputError
from paradigm.metrics.vsi import imresize_bilinear, sdsp, vsi

#: The gap to the official row reached today (max |diff| measured 0.01231).
VSI_REACHED_TOL = 0.0125


@pytest.fixture(scope="module")
def calib():
    return load_calibration()


@pytest.fixture(scope="module")
def calib_scores(calib):
    dist, ref, _ = calib
    return vsi(dist, ref).numpy()


def test_official_row_within_reached_tolerance(calib, calib_scores) -> None:
    np.testing.assert_allclose(calib_scores, calib[2]["vsi"], atol=VSI_REACHED_TOL, rtol=0)


@pytest.mark.xfail(strict=True, reason="the vsi row comes from a port, not VSI.m (docs/probes/vsi_row_source.py)")
def test_official_row_within_1e3(calib, calib_scores) -> None:
    np.testing.assert_allclose(calib_scores, calib[2]["vsi"], atol=1e-3, rtol=0)


def test_imresize_bilinear_matches_matlab_hand_value() -> None:
    # MATLAB: imresize([1 2 3 4], [1 2], 'bilinear') = [1.625 3.375] (antialiased triangle of
    # width 4: weights 1/8, 3/8, 3/8, 1/8 with the symmetric border)
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=torch.float64).view(1, 1, 1, 4)
    np.testing.assert_allclose(imresize_bilinear(x, 1, 2).flatten().numpy(), [1.625, 3.375])
    # upsampling by 2 (no antialiasing): u = x/2 + 1/4
    y = imresize_bilinear(torch.tensor([1.0, 3.0], dtype=torch.float64).view(1, 1, 1, 2), 1, 4)
    np.testing.assert_allclose(y.flatten().numpy(), [1.0, 1.5, 2.5, 3.0])


def test_saliency_is_normalised() -> None:
    s = sdsp(photo().double() * 255)
    assert s.shape == (1, 1, 128, 160)
    assert s.min().item() == pytest.approx(0.0, abs=1e-12) and s.max().item() == pytest.approx(1.0)


def test_identical_images_score_one() -> None:
    x = photo()
    assert vsi(x, x).item() == pytest.approx(1.0, abs=1e-6)


def test_symmetric() -> None:
    x = photo()
    y = noisy(x, 0.05)
    assert vsi(x, y).item() == pytest.approx(vsi(y, x).item(), abs=1e-12)


def test_monotone_in_noise() -> None:
    x = photo()
    scores = [vsi(noisy(x, s), x).item() for s in (0.02, 0.05, 0.1, 0.2)]
    assert all(a > b for a, b in zip(scores, scores[1:], strict=False)), scores


def test_grey_input_accepted() -> None:
    x = photo().mean(dim=1, keepdim=True)
    v = vsi(noisy(x, 0.05), x).item()
    assert 0 < v < 1


def test_batch_equals_singles() -> None:
    x = torch.cat((photo(), photo().flip(-1), photo().flip(-2)))
    assert_batch_equals_singles(vsi, noisy(x, 0.05), x)


def test_small_images_rejected() -> None:
    with pytest.raises(InputError):
        vsi(torch.rand(1, 3, 6, 40), torch.rand(1, 3, 6, 40))


def test_listed_and_declared() -> None:
    info = listed_metric("vsi")
    assert info["pillar"] == "perceptual" and info["kind"] == "full-reference" and info["higher_is_better"]
    x = photo()
    out = paradigm.create_metric("vsi")(noisy(x, 0.05), x)
    assert out.shape == (1,) and out.dtype == torch.float64


def test_mat2gray_one_pass_equals_the_formula() -> None:
    """VSI's CPU ``mat2gray`` (one aminmax pass, in-place divide) gives the bits of the written-out formula."""
    from paradigm.metrics.vsi import _minmax

    x = torch.rand(3, 1, 40, 50, generator=torch.Generator().manual_seed(2)) * 7 - 2
    x[2] = 0.5  # a constant image: all zeros
    lo = x.flatten(1).min(dim=1).values.view(-1, 1, 1, 1)
    span = x.flatten(1).max(dim=1).values.view(-1, 1, 1, 1) - lo
    expected = torch.where(span > 0, (x - lo) / torch.where(span > 0, span, 1.0), 0.0)
    assert torch.equal(_minmax(x), expected)
