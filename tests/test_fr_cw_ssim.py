"""CW-SSIM (paradigm.metrics.cw_ssim) against cwssim_index.m's official values and its definition."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _fr_helpers import assert_batch_equals_singles, listed_metric, load_calibration, noisy, photo

import paradigm
from paradigm.errors import InputError
from paradigm.metrics.cw_ssim import _rcos, cw_ssim, point_op
from paradigm.metrics.fidelity import ssim


@pytest.fixture(scope="module")
def calib():
    return load_calibration()


@pytest.fixture(scope="module")
def calib_scores(calib):
    dist, ref, _ = calib
    return cw_ssim(dist, ref).numpy()


def test_reproduces_official_row(calib, calib_scores) -> None:
    np.testing.assert_allclose(calib_scores, calib[2]["cw_ssim"], atol=1e-3, rtol=0)


def test_official_row_to_1e4(calib, calib_scores) -> None:
    # measured: 4.4e-5 (the official values have 4 decimals)
    np.testing.assert_allclose(calib_scores, calib[2]["cw_ssim"], atol=1e-4, rtol=0)


def test_identical_images_score_one() -> None:
    x = photo()
    assert cw_ssim(x, x).item() == pytest.approx(1.0, abs=1e-12)


def test_monotone_in_noise() -> None:
    x = photo()
    scores = [cw_ssim(noisy(x, s), x).item() for s in (0.02, 0.05, 0.1, 0.2)]
    assert all(a > b for a, b in zip(scores, scores[1:], strict=False)), scores


def test_tolerates_small_shifts_better_than_ssim() -> None:
    # the property CW-SSIM was designed for (and why it sits in the stability pillar)
    big = photo(200, 232)
    x, shifted = big[..., 4:196, 4:228], big[..., 5:197, 3:227]
    assert cw_ssim(shifted, x).item() > 0.9
    assert cw_ssim(shifted, x).item() - ssim(shifted, x).item() > 0.2


def test_point_op_interpolates_linearly() -> None:
    lut = torch.tensor([0.0, 1.0, 4.0, 9.0], dtype=torch.float64)
    got = point_op(torch.tensor([0.5, 1.25, 2.0, 3.5, -1.0], dtype=torch.float64), lut, 0.0, 1.0)
    # inside: linear between neighbours; outside: the end segments extended
    np.testing.assert_allclose(got.numpy(), [0.5, 1.75, 4.0, 11.5, -1.0])


def test_radial_masks_are_a_partition_of_unity() -> None:
    # rcosFn's sqrt(Y) (high-pass) and sqrt(1 - Y) (low-pass) square-sum to 1: a tight frame
    y, _, _ = _rcos()
    yi = torch.sqrt(1 - y**2)
    np.testing.assert_allclose((y**2 + yi**2).numpy(), 1.0, atol=1e-15)


def test_batch_equals_singles() -> None:
    x = torch.cat((photo(), photo().flip(-1), photo().flip(-2)))
    assert_batch_equals_singles(cw_ssim, noisy(x, 0.05), x)


def test_small_images_rejected() -> None:
    with pytest.raises(InputError):
        cw_ssim(torch.rand(1, 3, 40, 80), torch.rand(1, 3, 40, 80))


def test_listed_and_declared() -> None:
    info = listed_metric("cw_ssim")
    assert info["pillar"] == "stability" and info["kind"] == "full-reference" and info["higher_is_better"]
    x = photo()
    out = paradigm.create_metric("cw_ssim")(noisy(x, 0.05), x)
    assert out.shape == (1,) and out.dtype == torch.float64
