"""NLPD (paradigm.metrics.nlpd) against NLP_dist.m's official values and a hand-worked case."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _fr_helpers import assert_batch_equals_singles, listed_metric, load_calibration, noisy, photo

import paradigm
from paradigm.errors import InputError
from paradigm.metrics.nlpd import dn_filter, nlp_transform, nlpd


@pytest.fixture(scope="module")
def calib():
    return load_calibration()


@pytest.fixture(scope="module")
def calib_scores(calib):
    dist, ref, _ = calib
    return nlpd(dist, ref).numpy()


def test_reproduces_official_row(calib, calib_scores) -> None:
    np.testing.assert_allclose(calib_scores, calib[2]["nlpd"], atol=1e-3, rtol=0)


def test_official_row_to_1e6(calib, calib_scores) -> None:
    # the official row has 15 digits; measured agreement 5e-8 (float32) and 4e-16 (float64)
    np.testing.assert_allclose(calib_scores, calib[2]["nlpd"], atol=1e-6, rtol=0)


def test_identical_images_score_zero() -> None:
    x = photo()
    assert nlpd(x, x).item() == 0.0


def test_monotone_in_noise() -> None:
    x = photo()
    scores = [nlpd(noisy(x, s), x).item() for s in (0.01, 0.03, 0.06, 0.12)]
    assert all(a < b for a, b in zip(scores, scores[1:], strict=False)), scores


def test_dn_filters_as_published() -> None:
    # DN_filters of NLP_dist.m: level 1 has the extra 0.0072 tap; levels 4-6 are horizontal only
    f1 = dn_filter(0)
    assert f1.shape == (5, 5) and f1[2, 4].item() == 0.0072 and f1.sum().item() == pytest.approx(0.5051)
    assert dn_filter(5).sum().item() == pytest.approx(0.2215 + 0.0717)


def test_constant_images_hand_worked() -> None:
    # A constant image has zero Laplacian bands (the 5-tap filter sums to 1 on both polyphase
    # components); only the 2x3 residual of a 64x96 image is left, normalised by
    # sigma_6 + conv2(|c|, F_6, 'same') = 0.2782 + c * {0.2215, 0.2932, 0.0717} for the left, middle
    # and right column (zero borders drop the missing neighbour).
    a, b = 100, 160  # 8-bit grey levels: rgb2gray of (k, k, k) is exactly k
    x = torch.full((1, 3, 64, 96), a / 255.0)
    y = torch.full((1, 3, 64, 96), b / 255.0)
    coefs = np.array([0.2215, 0.2932, 0.0717])
    ya = (a / 255) / (0.2782 + (a / 255) * coefs)
    yb = (b / 255) / (0.2782 + (b / 255) * coefs)
    expected = math.sqrt(np.mean((ya - yb) ** 2)) / 6
    assert nlpd(x, y).item() == pytest.approx(expected, rel=1e-6)
    bands = nlp_transform(torch.full((1, 1, 64, 96), 0.4, dtype=torch.float64))
    assert [tuple(t.shape[-2:]) for t in bands] == [(64, 96), (32, 48), (16, 24), (8, 12), (4, 6), (2, 3)]
    assert all(t.abs().max().item() < 1e-12 for t in bands[:5])


def test_batch_equals_singles() -> None:
    x = torch.cat((photo(), photo().flip(-1), photo().flip(-2)))
    assert_batch_equals_singles(nlpd, noisy(x, 0.05), x)


def test_small_images_rejected() -> None:
    with pytest.raises(InputError):
        nlpd(torch.rand(1, 3, 20, 80), torch.rand(1, 3, 20, 80))


def test_listed_and_declared() -> None:
    info = listed_metric("nlpd")
    assert info["pillar"] == "perceptual" and info["kind"] == "full-reference" and not info["higher_is_better"]
    x = photo()
    out = paradigm.create_metric("nlpd")(noisy(x, 0.05), x)
    assert out.shape == (1,) and out.dtype == torch.float64


@pytest.mark.parametrize("shape", [(2, 3, 384, 512), (2, 3, 33, 47), (1, 1, 64, 65), (1, 3, 100, 101)])
def test_compiled_cpu_path_equals_the_torch_transform(shape: tuple[int, ...]) -> None:
    """NLPD's CPU loops (metrics/_nlpd_jit.py) against nlp_transform, the torch steps of other devices."""
    from paradigm.metrics.nlpd import NLPD_LEVELS, nlp_transform
    from paradigm.metrics.vif import _grey

    g = torch.Generator().manual_seed(sum(shape))
    x, ref = torch.rand(*shape, generator=g), torch.rand(*shape, generator=g)
    n = shape[0]
    both = (torch.cat((_grey(ref), _grey(x))) / 255.0).float()
    expected = torch.zeros(n, dtype=torch.float64)
    for band in nlp_transform(both):
        d = band[:n] - band[n:]
        expected += torch.sqrt((d * d).flatten(1).sum(1).double() / d[0].numel())
    torch.testing.assert_close(nlpd(x, ref), expected / NLPD_LEVELS, rtol=1e-6, atol=0)


def test_compiled_grey_equals_matlab_gray255() -> None:
    """The grey image shared by NLPD, VIF, VIFP, CW-SSIM and PIQE: the compiled CPU pass gives the float64
    values of matlab_gray255, bit for bit."""
    from paradigm.metrics.fidelity import matlab_gray255
    from paradigm.metrics.vif import _grey

    g = torch.Generator().manual_seed(1)
    for x in (torch.rand(2, 3, 77, 91, generator=g), (torch.rand(1, 3, 40, 40, generator=g) * 255).round() / 255,
              torch.rand(1, 3, 30, 20, generator=g, dtype=torch.float64)):
        want = torch.cat([matlab_gray255(x[i : i + 1].double(), quantize=True) for i in range(x.shape[0])])
        assert torch.equal(_grey(x), want)
