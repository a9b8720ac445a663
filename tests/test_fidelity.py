"""Tests of the pixel-fidelity metrics (PSNR, PSNR-Y, SSIM, MS-SSIM, GMSD, CIEDE2000)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torchvision.transforms.functional import gaussian_blur

import paradigm
from paradigm.errors import InputError
from paradigm.metrics.fidelity import ciede2000, gmsd, matlab_gray255, ms_ssim, ms_ssim_min_size, psnr, ssim

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CALIB = SHARED / "calibration"
NAMES = ["I03", "I04", "I06", "I08", "I19"]
ALL = ["psnr", "psnr_y", "ssim", "ms_ssim", "gmsd", "ciede2000"]
HIGHER = {"psnr": True, "psnr_y": True, "ssim": True, "ms_ssim": True, "gmsd": False, "ciede2000": False}
IDEAL = {"psnr": 100.0, "psnr_y": 100.0, "ssim": 1.0, "ms_ssim": 1.0, "gmsd": 0.0, "ciede2000": 0.0}


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def calib() -> tuple[torch.Tensor, torch.Tensor, dict[str, list[float]]]:
    if not (CALIB / "results_official.csv").is_file():
        pytest.skip(f"shared calibration data not found at {CALIB} (../shared next to the repository)")
    from PIL import Image

    def load(sub: str) -> torch.Tensor:
        arrs = [np.array(Image.open(CALIB / sub / f"{n}.bmp").convert("RGB")) for n in NAMES]
        return torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).float() / 255.0

    with open(CALIB / "results_official.csv", newline="") as fh:
        rows = {r[0]: [float(v) for v in r[1:]] for r in csv.reader(fh) if r and r[0] != "Method"}
    return load("dist"), load("ref"), rows


@pytest.fixture(scope="module")
def astro() -> torch.Tensor:
    """A 192x192 RGB crop of skimage's astronaut (bundled with scikit-image), (1,3,H,W) in [0,1]."""
    img = data.astronaut()[40:232, 150:342]
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255.0


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    k = int(2 * round(3 * sigma) + 1)
    return gaussian_blur(x, [k, k], [sigma, sigma])


def _noise(x: torch.Tensor, sigma: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(123)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1)


# ----------------------------------------------------------------------------- official reference values


@pytest.fixture(scope="module")
def calib_scores(calib) -> dict[str, np.ndarray]:
    """Default-option values of the registered metrics on the five calibration pairs (float32)."""
    dist, ref, _ = calib
    return {n: paradigm.create_metric(n)(dist, ref).numpy() for n in ("psnr", "ssim", "ms_ssim", "gmsd")}


@pytest.mark.parametrize("name,tol", [("psnr", 0.006), ("ssim", 0.001), ("gmsd", 0.001)])
def test_official_values(calib, calib_scores, name: str, tol: float) -> None:
    np.testing.assert_allclose(calib_scores[name], calib[2][name], atol=tol, rtol=0)


def test_ssim_official_values_to_4_decimals(calib, calib_scores) -> None:
    np.testing.assert_allclose(calib_scores["ssim"], calib[2]["ssim"], atol=1e-4, rtol=0)


def test_gmsd_matches_official_matlab_exactly(calib, calib_scores) -> None:
    # the CSV has full double precision for GMSD: the MATLAB pipeline is reproduced exactly
    dist, ref, rows = calib
    np.testing.assert_allclose(calib_scores["gmsd"], rows["gmsd"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(gmsd(dist.double(), ref.double()).numpy(), rows["gmsd"], atol=1e-12, rtol=0)


def test_ms_ssim_matches_matlab_msssim_on_ycbcr(calib) -> None:
    # IQA-PyTorch ResultsCalibra/ms_ssim_org_result.txt: the official msssim.m run on the MATLAB
    # rgb2ycbcr Y channel of the same five pairs (4 decimals).
    dist, ref, _ = calib
    matlab_y = [0.6981, 0.9998, 0.9999, 0.9570, 0.8547]
    got = ms_ssim(dist, ref, y_channel=True).numpy()
    np.testing.assert_allclose(got, matlab_y, atol=1e-4, rtol=0)


def test_ms_ssim_official_row_close(calib, calib_scores) -> None:
    # The rgb2gray row of results_official.csv is reproduced to 0.0045 (pyiqa 0.1.16: 0.0044); see
    # docs/metrics-fidelity.md for the analysis of the remaining gap.
    np.testing.assert_allclose(calib_scores["ms_ssim"], calib[2]["ms_ssim"], atol=0.005, rtol=0)


@pytest.mark.xfail(reason="rgb2gray MS-SSIM row differs by up to 0.0044 (I19); preprocessing unidentified", strict=False)
def test_ms_ssim_official_row_within_1e3(calib, calib_scores) -> None:
    np.testing.assert_allclose(calib_scores["ms_ssim"], calib[2]["ms_ssim"], atol=0.001, rtol=0)


# --------------------------------------------------------------------------- independent implementations


def test_psnr_matches_skimage(astro) -> None:
    out = _noise(astro, 0.05)
    a = (out[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    b = (astro[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    expected = peak_signal_noise_ratio(b, a, data_range=255)
    ta = torch.from_numpy(a).permute(2, 0, 1)[None].double() / 255.0
    tb = torch.from_numpy(b).permute(2, 0, 1)[None].double() / 255.0
    got = psnr(ta, tb)
    assert got.item() == pytest.approx(expected, abs=1e-9)


def test_psnr_y_matches_basicsr_formula(astro) -> None:
    out = _noise(astro, 0.05).double()
    def y(t: torch.Tensor) -> np.ndarray:
        img = t[0].permute(1, 2, 0).numpy()
        return np.dot(img, [65.481, 128.553, 24.966]) + 16.0  # BasicSR rgb2ycbcr y_only, [16, 235]

    mse = np.mean((y(out) - y(astro.double())) ** 2)
    expected = 10 * np.log10(255.0**2 / mse)
    assert paradigm.create_metric("psnr_y")(out, astro.double()).item() == pytest.approx(expected, abs=1e-9)
    assert paradigm.create_metric("psnr", y_channel=True)(out, astro.double()).item() == pytest.approx(expected, abs=1e-9)


def test_psnr_cap() -> None:
    x = torch.rand(2, 3, 8, 8)
    assert psnr(x, x).tolist() == [100.0, 100.0]
    assert psnr(x, x, max_db=60.0).tolist() == [60.0, 60.0]


def test_ssim_matches_skimage_gaussian(astro) -> None:
    # skimage with the Wang et al. settings equals ssim_index.m on the same (unquantised) grey image
    out = _blur(astro, 1.5).double()
    a = matlab_gray255(out, quantize=False)[0, 0].numpy()
    b = matlab_gray255(astro.double(), quantize=False)[0, 0].numpy()
    expected = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    got = ssim(out, astro.double(), quantize=False).item()
    assert got == pytest.approx(expected, abs=1e-6)


def test_ssim_downsample_option(astro) -> None:
    big = torch.nn.functional.interpolate(astro, scale_factor=2, mode="bilinear", align_corners=False).clamp(0, 1)
    out = _blur(big, 2.0)
    plain = ssim(out, big).item()
    down = ssim(out, big, downsample=True).item()  # f = round(384 / 256) = 2
    assert down > plain  # blur is much less visible after 2x averaging
    # downsampling by hand then ssim without downsampling gives the same value
    from paradigm.metrics._filters import matlab_average_downsample

    g_out = matlab_average_downsample(matlab_gray255(out), 2) / 255.0
    g_ref = matlab_average_downsample(matlab_gray255(big), 2) / 255.0
    assert ssim(g_out, g_ref, quantize=False).item() == pytest.approx(down, abs=1e-5)


def test_ciede2000_matches_skimage() -> None:
    g = torch.Generator().manual_seed(7)
    x = torch.rand(3, 3, 16, 20, generator=g, dtype=torch.float64)
    y = torch.rand(3, 3, 16, 20, generator=g, dtype=torch.float64)
    expected = [
        deltaE_ciede2000(rgb2lab(x[i].permute(1, 2, 0).numpy()), rgb2lab(y[i].permute(1, 2, 0).numpy())).mean()
        for i in range(3)
    ]
    np.testing.assert_allclose(ciede2000(x, y).numpy(), expected, atol=1e-4, rtol=0)
    np.testing.assert_allclose(ciede2000(x.float(), y.float()).numpy(), expected, atol=1e-4, rtol=0)


# ---------------------------------------------------------------------------------------- properties


@pytest.mark.parametrize("name", ALL)
def test_identity_gives_ideal(astro, name: str) -> None:
    m = paradigm.create_metric(name)
    v = m(astro, astro)
    assert v.dtype == torch.float64 and v.shape == (1,)
    assert v.item() == pytest.approx(IDEAL[name], abs=1e-9)
    lo, hi = m.value_range
    assert lo <= v.item() <= hi


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("kind", ["blur", "noise"])
def test_monotone_worsening(astro, name: str, kind: str) -> None:
    m = paradigm.create_metric(name)
    levels = [0.5, 1.0, 2.0, 3.0] if kind == "blur" else [0.01, 0.03, 0.08, 0.2]
    degrade = _blur if kind == "blur" else _noise
    batch = torch.cat([degrade(astro, s) for s in levels])
    vals = m(batch, astro.expand_as(batch)).tolist()
    quality = vals if HIGHER[name] else [-v for v in vals]
    assert all(a > b for a, b in zip(quality, quality[1:], strict=False)), (name, kind, vals)


@pytest.mark.parametrize("name", ALL)
def test_symmetry(astro, name: str) -> None:
    m = paradigm.create_metric(name)
    other = _noise(_blur(astro, 1.0), 0.03)
    np.testing.assert_allclose(m(other, astro).numpy(), m(astro, other).numpy(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ALL)
def test_batch_equals_singles(astro, name: str) -> None:
    m = paradigm.create_metric(name)
    outs = torch.cat([_blur(astro, 1.0), _noise(astro, 0.05), astro.flip(-1)])
    refs = astro.expand_as(outs)
    batch = m(outs, refs)
    singles = torch.cat([m(outs[i : i + 1], refs[i : i + 1]) for i in range(3)])
    np.testing.assert_allclose(batch.numpy(), singles.numpy(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ALL)
def test_grey_input(astro, name: str) -> None:
    m = paradigm.create_metric(name)
    g = astro.mean(1, keepdim=True)
    v = m(_blur(g, 1.0), g)
    assert torch.isfinite(v).all()


def test_float64_agrees_with_float32(calib) -> None:
    dist, ref = calib[0][:2, :, :192, :256], calib[1][:2, :, :192, :256]
    for fn in (ssim, ms_ssim, gmsd):
        np.testing.assert_allclose(fn(dist, ref).numpy(), fn(dist.double(), ref.double()).numpy(), atol=2e-6)


@pytest.mark.parametrize("name", ALL)
def test_bad_inputs_raise(name: str) -> None:
    m = paradigm.create_metric(name)
    x = torch.rand(1, 3, 200, 200)
    with pytest.raises(InputError):
        m(x[0], x[0])  # no batch dimension
    with pytest.raises(InputError):
        m(x, x[..., :199])  # shape mismatch
    with pytest.raises(InputError):
        m(x * 2, x)  # out of range
    with pytest.raises(InputError):
        m((x * 255).to(torch.uint8), (x * 255).to(torch.uint8))  # int dtype
    with pytest.raises(InputError):
        m(torch.rand(1, 4, 200, 200), torch.rand(1, 4, 200, 200))  # channels
    with pytest.raises(InputError):
        m(x, None)  # missing reference
    with pytest.raises(InputError):
        m(x.clone().fill_(float("nan")), x)


def test_too_small_raises() -> None:
    assert ms_ssim_min_size() == 161
    x = torch.rand(1, 3, 160, 300)
    with pytest.raises(InputError, match="too small for MS-SSIM"):
        paradigm.create_metric("ms_ssim")(x, x)
    ok = torch.rand(1, 3, 161, 161)
    assert paradigm.create_metric("ms_ssim")(ok, ok).item() == pytest.approx(1.0)
    with pytest.raises(InputError):
        paradigm.create_metric("ssim")(torch.rand(1, 3, 10, 30), torch.rand(1, 3, 10, 30))
    with pytest.raises(InputError):
        paradigm.create_metric("psnr", no_such_option=1)


def test_registry_declarations() -> None:
    info = paradigm.metric_info("MS-SSIM")
    assert info["name"] == "ms_ssim" and info["min_size"] == 161 and info["pillar"] == "fidelity"
    assert paradigm.metric_info("gmsd")["higher_is_better"] is False
    assert paradigm.metric_info("ciede2000")["higher_is_better"] is False
    assert paradigm.metric_info("psnr")["supports_y_channel"] is True
    assert paradigm.metric_info("psnr")["range"] == [0.0, 100.0]
    assert set(ALL) <= set(paradigm.list_metrics(pillar="fidelity"))


@pytest.mark.slow
def test_create_ms_ssim_in_fresh_interpreter() -> None:
    code = "import paradigm; print(paradigm.create_metric('ms-ssim'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert "MSSSIM" in out.stdout


def test_cuda_if_available(astro) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x, y = _blur(astro, 1.0), astro
    for name in ALL:
        m = paradigm.create_metric(name)
        cpu = m(x, y)
        gpu = m(x.cuda(), y.cuda())
        assert gpu.device.type == "cuda"
        np.testing.assert_allclose(gpu.cpu().numpy(), cpu.numpy(), rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------ shared work (the memo)


def test_memo_shares_work_and_sees_in_place_changes(astro) -> None:
    from paradigm.metrics._filters import MEMO

    x, y = _noise(astro, 0.05), astro.clone()
    MEMO.clear()
    s1 = ssim(x, y)
    hits = MEMO.hits
    m1 = ms_ssim(x, y)  # reuses the grey images and the first SSIM scale
    assert MEMO.hits > hits
    MEMO.clear()
    np.testing.assert_array_equal(ms_ssim(x, y).numpy(), m1.numpy())
    x.mul_(0.5)  # in-place change: the version counter invalidates every memoised value of x
    s2 = ssim(x, y)
    MEMO.clear()
    np.testing.assert_array_equal(ssim(x, y).numpy(), s2.numpy())
    assert s2.item() != s1.item()


def test_memo_skips_inference_tensors_unless_frozen(astro) -> None:
    from paradigm.metrics._filters import MEMO

    MEMO.clear()
    with torch.inference_mode():
        x, y = _noise(astro, 0.05), astro.clone()
        a = ssim(x, y)
        assert MEMO.hits == MEMO.misses == 0
        with MEMO.frozen_inputs():
            b = ssim(x, y)
            c = ms_ssim(x, y)
        assert MEMO.hits > 0
    assert a.item() == b.item() and c.item() <= 1.0


def test_validation_still_raises_after_memo(astro) -> None:
    x = astro.clone()
    psnr(x, astro)
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        psnr(x, astro)
    with pytest.raises(InputError, match="shape"):
        ssim(astro, astro[..., :100])


def test_ciede2000_float32_matches_float64_on_photo(astro) -> None:
    out = _noise(_blur(astro, 1.0), 0.03)
    f32 = ciede2000(out, astro)
    f64 = ciede2000(out, astro, float64=True)
    expected = deltaE_ciede2000(
        rgb2lab(out[0].permute(1, 2, 0).double().numpy()), rgb2lab(astro[0].permute(1, 2, 0).double().numpy())
    ).mean()
    assert f64.item() == pytest.approx(expected, abs=1e-9)
    assert f32.item() == pytest.approx(expected, abs=1e-3)
    assert paradigm.create_metric("ciede2000", float64=True)(out, astro).item() == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("shape", [(2, 1, 20, 24), (2, 1, 21, 25), (1, 2, 7, 6)])
def test_downsample_fast_path_equals_index_path(shape) -> None:
    from paradigm.metrics._filters import matlab_average_downsample, symmetric_index

    x = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    h, w = shape[-2:]
    out_h, out_w = -(-h // 2), -(-w // 2)
    ih = symmetric_index(h, 0, out_h * 2 - h)
    iw = symmetric_index(w, 0, out_w * 2 - w)
    expected = torch.nn.functional.avg_pool2d(x.index_select(-2, ih).index_select(-1, iw), 2, 2)
    assert torch.equal(matlab_average_downsample(x, 2), expected)
