"""The study resize rules (paradigm.protocols.resize) against independent resamplers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from paradigm.errors import InputError
from paradigm.protocols.resize import resize


def _img(seed: int, h: int, w: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.astype(np.float32) / 255).permute(2, 0, 1)


def _u8(t: torch.Tensor) -> np.ndarray:
    return np.rint(t.permute(1, 2, 0).numpy() * 255).astype(np.int64)


def _keys(t: np.ndarray, a: float = -0.75) -> np.ndarray:
    t = np.abs(t)
    return np.where(t <= 1, (a + 2) * t**3 - (a + 3) * t**2 + 1,
                    np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, 0.0))


def _matrix(out_len: int, in_len: int, cubic: bool) -> np.ndarray:
    """Resampling matrix: half-pixel centres, replicated borders, Keys (a=-0.75) or linear kernel."""
    m = np.zeros((out_len, in_len))
    for d in range(out_len):
        x = (d + 0.5) * in_len / out_len - 0.5
        base = int(np.floor(x))
        taps = range(base - 1, base + 3) if cubic else range(base, base + 2)
        for s in taps:
            w = _keys(np.array(x - s))[()] if cubic else max(0.0, 1 - abs(x - s))
            m[d, min(max(s, 0), in_len - 1)] += w
    return m


def _separable(a: np.ndarray, h: int, w: int, cubic: bool) -> np.ndarray:
    mh, mw = _matrix(h, a.shape[0], cubic), _matrix(w, a.shape[1], cubic)
    return np.einsum("ij,jkc,lk->ilc", mh, a.astype(np.float64), mw)


def test_torch_bicubic_is_keys_without_antialias() -> None:
    a = _img(0, 12, 10)
    want = np.clip(_separable(a, 30, 17, cubic=True), 0, 255)
    got = resize("torch-bicubic", _t(a), 30, 17).permute(1, 2, 0).numpy() * 255
    np.testing.assert_allclose(got, want, atol=2e-3)


@pytest.mark.parametrize("shape", [(30, 17), (7, 5), (12, 10), (24, 20)])
def test_cv2_cubic_is_exact_keys_rounded(shape: tuple[int, int]) -> None:
    a = _img(1, 12, 10)
    want = np.clip(np.rint(_separable(a, *shape, cubic=True)), 0, 255)  # OpenCV through IPP
    np.testing.assert_array_equal(_u8(resize("cv2-cubic", _t(a), *shape)), want)


@pytest.mark.parametrize("shape", [(30, 17), (9, 7), (5, 4)])
def test_cv2_linear_fixed_point_within_one_level_of_exact(shape: tuple[int, int]) -> None:
    a = _img(1, 12, 10)
    want = np.clip(np.floor(_separable(a, *shape, cubic=False) + 0.5), 0, 255)
    diff = np.abs(_u8(resize("cv2-linear", _t(a), *shape)) - want)
    assert diff.max() <= 1  # weights in 1/2048 and OpenCV's >> 4 / >> 16 / >> 2 steps
    assert (diff == 0).mean() > 0.8


_CV2_CASES = [(37, 53, 64, 80), (64, 80, 37, 53), (100, 120, 50, 60), (101, 121, 50, 60), (50, 60, 100, 120),
              (33, 47, 99, 94), (120, 160, 97, 131), (300, 200, 61, 233), (16, 16, 160, 90), (9, 7, 3, 2)]


def test_cv2_rules_against_opencv_when_installed() -> None:
    cv2 = pytest.importorskip("cv2", reason="OpenCV is not a dependency; install opencv-python-headless to compare")
    rng = np.random.default_rng(2)
    n = bad_cubic = 0
    for h, w, hh, ww in _CV2_CASES:
        a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        lin = cv2.resize(a, (ww, hh), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_array_equal(_u8(resize("cv2-linear", _t(a), hh, ww)), lin)
        cub = cv2.resize(a, (ww, hh), interpolation=cv2.INTER_CUBIC)
        d = np.abs(_u8(resize("cv2-cubic", _t(a), hh, ww)) - cub)
        assert d.max() <= 1
        bad_cubic += int((d > 0).sum())
        n += d.size
    assert bad_cubic <= 1e-4 * n  # IPP's float32 rounding on a few values


def test_cv2_linear_exact_half_is_rounded_2x2_mean() -> None:
    a = _img(2, 8, 6).astype(np.int64)
    s = a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]
    got = _u8(resize("cv2-linear", _t(a.astype(np.uint8)), 4, 3))
    np.testing.assert_array_equal(got, (s + 2) >> 2)


def test_cv2_same_size_is_identity() -> None:
    a = _img(3, 9, 11)
    for rule in ("cv2-cubic", "cv2-linear"):
        np.testing.assert_array_equal(_u8(resize(rule, _t(a), 9, 11)), a)


@pytest.mark.parametrize("rule", ["pil-lanczos", "pil-bilinear"])
def test_pil_rules_equal_pillow(rule: str) -> None:
    from PIL import Image

    a = _img(4, 20, 24)
    method = Image.Resampling.LANCZOS if rule == "pil-lanczos" else Image.Resampling.BILINEAR
    want = np.asarray(Image.fromarray(a).resize((13, 9), method))
    np.testing.assert_array_equal(_u8(resize(rule, _t(a), 9, 13)), want)


def test_skimage_rule_truncates() -> None:
    from skimage.transform import resize as sk_resize

    a = _img(5, 20, 24)
    f = sk_resize(a, (9, 13), preserve_range=True, anti_aliasing=True)
    got = _u8(resize("skimage-aa-uint8", _t(a), 9, 13))
    np.testing.assert_array_equal(got, f.astype(np.uint8))
    assert (got != np.rint(f)).any()  # truncation, not rounding


def test_rules_that_do_not_resize() -> None:
    with pytest.raises(InputError, match="does not resize"):
        resize("native", _t(_img(6, 4, 4)), 2, 2)
