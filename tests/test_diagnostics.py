"""Tests of paradigm.metrics.diagnostics: geometry, alignment, colour cast, hallucination."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage
from skimage.data import astronaut

import paradigm
from paradigm.errors import InputError
from paradigm.metrics.diagnostics import (
    align_to,
    border_fraction,
    colour_cast,
    estimate_geometry,
    geometry,
    hallucination,
    hallucination_map,
    save_heatmap,
)

CENTRE = 255.5  # centre of the 512x512 astronaut image
N = 128  # crop side: rows/cols 192..319, centred on CENTRE


@pytest.fixture(scope="module")
def img() -> np.ndarray:
    return astronaut().astype(np.float64) / 255.0


def _crop(a: np.ndarray, n: int = N) -> torch.Tensor:
    s = (a.shape[0] - n) // 2
    return torch.from_numpy(np.ascontiguousarray(a[s : s + n, s : s + n].transpose(2, 0, 1)))[None].clamp(0, 1)


def _per_channel(a: np.ndarray, fn) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.stack([fn(a[..., c]) for c in range(a.shape[-1])], axis=-1)


def _shifted(a: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Content displaced by (+dx, +dy), edges replicated."""
    return _per_channel(a, lambda c: ndimage.shift(c, (dy, dx), order=3, mode="nearest"))


def _zoomed(a: np.ndarray, s: float, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """x(p) = a((p - c - t)/s + c) about the image centre."""
    c = np.array([CENTRE, CENTRE])
    t = np.array([dy, dx])
    return _per_channel(
        a, lambda ch: ndimage.affine_transform(ch, np.eye(2) / s, offset=c - (c + t) / s, order=3, mode="nearest")
    )


# ------------------------------------------------------------------ geometry


@pytest.mark.parametrize("dx,dy", [(3.0, -2.0), (-5.0, 4.0), (1.5, 0.5), (-2.25, -0.75)])
def test_shift_recovered(img: np.ndarray, dx: float, dy: float) -> None:
    ref = _crop(img)
    x = _crop(_shifted(img, dx, dy))
    g = geometry(x, ref)
    assert abs(float(g["shift_dx"][0]) - dx) < 1.0
    assert abs(float(g["shift_dy"][0]) - dy) < 1.0
    assert abs(float(g["scale"][0]) - 1.0) < 0.01
    assert float(g["fov_flag"][0]) == 1.0
    assert float(g["border_frac"][0]) == 0.0


def test_integer_shift_precise(img: np.ndarray) -> None:
    ref = _crop(img)
    x = _crop(_shifted(img, 4.0, -3.0))
    scale, dx, dy = estimate_geometry(x, ref)
    assert abs(float(dx[0]) - 4.0) < 0.1 and abs(float(dy[0]) + 3.0) < 0.1


def test_identity(img: np.ndarray) -> None:
    ref = _crop(img)
    g = geometry(ref, ref)
    assert abs(float(g["shift_dx"][0])) < 1e-6 and abs(float(g["shift_dy"][0])) < 1e-6
    assert float(g["scale"][0]) == pytest.approx(1.0, abs=1e-3)
    assert float(g["fov_flag"][0]) == 0.0
    assert float(g["border_frac"][0]) == 0.0


@pytest.mark.parametrize("s", [1.05, 0.95, 1.12])
def test_scale_recovered(img: np.ndarray, s: float) -> None:
    ref = _crop(img)
    x = _crop(_zoomed(img, s))
    g = geometry(x, ref)
    assert abs(float(g["scale"][0]) / s - 1) < 0.01
    assert abs(float(g["shift_dx"][0])) < 1.0 and abs(float(g["shift_dy"][0])) < 1.0
    assert float(g["fov_flag"][0]) == 1.0


def test_scale_and_shift_recovered_and_aligned(img: np.ndarray) -> None:
    ref = _crop(img)
    x = _crop(_zoomed(img, 1.06, dx=3.0, dy=-2.0))
    scale, dx, dy = estimate_geometry(x, ref)
    assert abs(float(scale[0]) / 1.06 - 1) < 0.01
    assert abs(float(dx[0]) - 3.0) < 1.0 and abs(float(dy[0]) + 2.0) < 1.0
    aligned = align_to(x, ref)
    assert aligned.shape == x.shape and aligned.dtype == x.dtype
    err_before = float(((x - ref) ** 2)[..., 8:-8, 8:-8].mean())
    err_after = float(((aligned - ref) ** 2)[..., 8:-8, 8:-8].mean())
    assert err_after < 0.1 * err_before


def test_batch_and_small_shift_not_flagged(img: np.ndarray) -> None:
    ref = torch.cat([_crop(img), _crop(img)])
    x = torch.cat([_crop(_shifted(img, 0.3, 0.0)), _crop(_shifted(img, 6.0, 0.0))])
    g = geometry(x, ref)
    assert g["fov_flag"].tolist() == [0.0, 1.0]
    assert all(v.shape == (2,) and v.dtype == torch.float64 for v in g.values())


def test_added_border_detected(img: np.ndarray) -> None:
    ref = _crop(img)
    x = ref.clone()
    x[..., :8, :] = 0.0  # black bar on top
    x[..., :, -6:] = x[..., :, -7:-6]  # replicated right edge
    frac = float(border_fraction(x, ref)[0])
    expected = 1 - (N - 8) * (N - 6) / (N * N)
    assert frac == pytest.approx(expected, abs=1e-9)
    assert float(geometry(x, ref)["border_frac"][0]) == pytest.approx(expected, abs=1e-9)
    # a border the ground truth has as well is not "added"
    assert float(border_fraction(x, x)[0]) == 0.0
    assert float(border_fraction(ref)[0]) == 0.0


def test_flat_image_is_identity() -> None:
    x = torch.full((1, 3, 32, 32), 0.5)
    g = geometry(x, x)
    assert float(g["scale"][0]) == 1.0 and float(g["shift_dx"][0]) == 0.0 and float(g["fov_flag"][0]) == 0.0
    assert torch.equal(align_to(x, x), x)


def test_geometry_registered(img: np.ndarray) -> None:
    m = paradigm.create_metric("geometry")
    assert m.pillar == "diagnostic"
    ref = _crop(img)
    out = m(_crop(_shifted(img, 2.0, 0.0)), ref)
    assert set(out) == set(m.columns)


def test_geometry_bad_input() -> None:
    with pytest.raises(InputError):
        geometry(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 30))
    with pytest.raises(InputError):
        geometry(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))  # too small
    with pytest.raises(InputError):
        geometry(torch.rand(3, 32, 32), torch.rand(3, 32, 32))
    with pytest.raises(InputError):
        paradigm.create_metric("geometry")(torch.rand(1, 3, 32, 32))


# ------------------------------------------------------------------ colour


def test_colour_cast_pure_cast(img: np.ndarray) -> None:
    ref = _crop(img)
    # warmer and brighter: R up, B down, global gain
    x = ref.clone()
    x[:, 0] = x[:, 0] * 0.9 + 0.08
    x[:, 2] = x[:, 2] * 0.85
    x = x.clamp(0, 1)
    out = colour_cast(x, ref)
    assert float(out["delta_a"][0]) > 2.0  # redder
    assert float(out["delta_b"][0]) > 2.0  # yellower
    assert float(out["deltaE00_mean"][0]) > 2.0
    raw = 10 * np.log10(1 / float(((x - ref) ** 2).mean()))
    assert float(out["psnr_colour_corrected"][0]) > raw + 15
    assert float(out["colour_share"][0]) > 0.95


def test_colour_cast_exposure_sign_and_magnitude(img: np.ndarray) -> None:
    from paradigm.metrics.colour import rgb_to_lab

    ref = _crop(img) * 0.8
    lab = rgb_to_lab(ref)
    x = (ref + 0.1).clamp(0, 1)
    out = colour_cast(x, ref)
    expect_dl = float((rgb_to_lab(x)[:, 0] - lab[:, 0]).mean())
    assert float(out["delta_L"][0]) == pytest.approx(expect_dl, rel=1e-9)
    assert float(out["delta_L"][0]) > 5.0
    assert abs(float(out["delta_a"][0])) < 2.0
    # darker output -> negative delta_L
    assert float(colour_cast((ref - 0.1).clamp(0, 1), ref)["delta_L"][0]) < -5.0


def test_colour_cast_pure_noise(img: np.ndarray) -> None:
    ref = _crop(img)
    g = torch.Generator().manual_seed(0)
    x = (ref + 0.05 * torch.randn(ref.shape, generator=g, dtype=ref.dtype)).clamp(0, 1)
    out = colour_cast(x, ref)
    assert float(out["colour_share"][0]) < 0.1
    assert abs(float(out["delta_L"][0])) < 1.0
    raw = 10 * np.log10(1 / float(((x - ref) ** 2).mean()))
    assert float(out["psnr_colour_corrected"][0]) == pytest.approx(raw, abs=0.5)


def test_colour_cast_identity_and_registered(img: np.ndarray) -> None:
    ref = _crop(img)
    out = paradigm.create_metric("colour_cast")(ref, ref)
    assert float(out["deltaE00_mean"][0]) == pytest.approx(0.0, abs=1e-9)
    assert float(out["colour_share"][0]) == 0.0
    assert float(out["delta_L"][0]) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(InputError):
        colour_cast(ref, ref[..., :-1])
    with pytest.raises(InputError):
        colour_cast(ref * 2, ref)


# ------------------------------------------------------------------ hallucination


def _blurred(t: torch.Tensor, sigma: float) -> torch.Tensor:
    a = t[0].numpy()
    return torch.from_numpy(np.stack([ndimage.gaussian_filter(c, sigma) for c in a]))[None]


def test_hallucination_identity_zero(img: np.ndarray) -> None:
    ref = _crop(img)
    assert float(hallucination(ref, ref)[0]) == 0.0
    assert float(hallucination_map(ref, ref).max()) == 0.0


def test_hallucination_sharp_output_on_blurred_gt(img: np.ndarray) -> None:
    sharp = _crop(img, 160)
    vals = [float(hallucination(sharp, _blurred(sharp, s))[0]) for s in (0.5, 1.5, 2.0, 3.0)]
    assert vals[0] < 0.01
    assert vals == sorted(vals)  # monotone in the detail the GT lacks
    assert vals[-1] > 0.2
    # the other way round (blurry output, sharp GT) is no hallucination
    assert float(hallucination(_blurred(sharp, 3.0), sharp)[0]) < 1e-3


def test_hallucination_noise_floor(img: np.ndarray) -> None:
    gt = _blurred(_crop(img, 160), 2.0)
    g = torch.Generator().manual_seed(1)
    mild = (gt + 0.01 * torch.randn(gt.shape, generator=g, dtype=gt.dtype)).clamp(0, 1)
    strong = (gt + 0.15 * torch.randn(gt.shape, generator=g, dtype=gt.dtype)).clamp(0, 1)
    assert float(hallucination(mild, gt)[0]) < 0.02
    assert float(hallucination(strong, gt)[0]) > float(hallucination(mild, gt)[0]) + 0.1


def test_hallucination_map_shape_and_heatmap(img: np.ndarray, tmp_path: Path) -> None:
    sharp = _crop(img)
    m = hallucination_map(sharp, _blurred(sharp, 3.0))
    assert m.shape == (1, 1, N, N) and float(m.min()) >= 0 and float(m.max()) <= 1
    p = save_heatmap(m[0], tmp_path / "h.png")
    im = np.array(Image.open(p))
    assert im.shape == (N, N, 3) and im.dtype == np.uint8
    assert im.reshape(-1, 3).std(axis=0).max() > 0
    with pytest.raises(InputError):
        save_heatmap(torch.rand(2, 1, 4, 4), tmp_path / "bad.png")


def test_hallucination_registered_and_bad_input() -> None:
    m = paradigm.create_metric("hallucination")
    assert m.pillar == "diagnostic" and m.higher_is_better is False
    x = torch.rand(2, 3, 32, 32)
    assert m(x, x).shape == (2,)
    with pytest.raises(InputError):
        hallucination(x, x, ratio=0.5)
    with pytest.raises(InputError):
        m(x)
    with pytest.raises(InputError):
        hallucination(x.to(torch.uint8), x.to(torch.uint8))
