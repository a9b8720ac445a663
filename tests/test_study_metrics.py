"""The study-script metric variants (paradigm.metrics.study, study_fusion) against independent values.

Expected values come from the libraries the scripts used (skimage, piq, torch), from the scripts'
definitions re-written here in a different form (torch convolutions where the code uses scipy,
numpy histograms where it uses bincount, ...), or from hand-worked numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from paradigm.metrics.registry import create_metric

SHARED_NIQE = __import__("pathlib").Path(__file__).resolve().parents[1].parent / "shared" / "weights" / "niqe"


def _u8(seed: int, h: int = 40, w: int = 48) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _pair(seed: int = 0, h: int = 40, w: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """A ground truth and a correlated output (so SSIM is far from 0 and 1)."""
    g = _u8(seed, h, w)
    noise = np.random.default_rng(seed + 100).integers(-40, 41, g.shape)
    o = np.clip(g.astype(np.int64) + noise, 0, 255).astype(np.uint8)
    return o, g


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.astype(np.float32) / 255.0).permute(2, 0, 1)[None]


def _val(name: str, o: np.ndarray, g: np.ndarray | None = None, **opts: object) -> float:
    m = create_metric(name, **opts)
    res = m(_t(o)) if g is None else m(_t(o), _t(g))
    return float(res[0])


# ------------------------------------------------------------------------------------------ PSNR


def test_psnr_rgb_equals_skimage() -> None:
    from skimage.metrics import peak_signal_noise_ratio

    o, g = _pair()
    assert _val("study_psnr", o, g) == pytest.approx(peak_signal_noise_ratio(g, o, data_range=255), abs=1e-10)


def test_psnr_per_channel_mean() -> None:
    o, g = _pair(1)
    d = (o.astype(np.float64) - g) ** 2
    want = np.mean([10 * np.log10(255.0**2 / d[..., c].mean()) for c in range(3)])
    assert _val("study_psnr", o, g, variant="rgb-per-channel") == pytest.approx(want, abs=1e-10)
    assert _val("study_psnr", o, g, variant="rgb-per-channel") != pytest.approx(_val("study_psnr", o, g), abs=1e-6)


def test_psnr_y_pyiqa_full_range_unrounded() -> None:
    o, g = _pair(2)
    w = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64)
    yo = (torch.from_numpy(o / 255.0) * w).sum(-1)
    yg = (torch.from_numpy(g / 255.0) * w).sum(-1)
    want = 10 * math.log10(1 / (float(((yo - yg) ** 2).mean()) + 1e-8))
    assert _val("study_psnr", o, g, variant="y-pyiqa") == pytest.approx(want, abs=1e-9)


def test_psnr_y_matlab_uint8_hand_worked() -> None:
    white = np.full((8, 8, 3), 255, np.uint8)
    black = np.zeros((8, 8, 3), np.uint8)
    # rgb2ycbcr on uint8: white -> Y 235, black -> Y 16
    assert _val("study_psnr", white, black, variant="y-matlab-uint8") == pytest.approx(20 * math.log10(255 / 219))


def test_psnr_basicsr_peak_from_output_bug() -> None:
    o = np.zeros((8, 8, 3), np.uint8)
    o[0, 0, 0] = 1  # the output's maximum is 1 -> BasicSR takes peak 1
    g = np.full((8, 8, 3), 2, np.uint8)
    mse = ((o.astype(float) - g) ** 2).mean()
    assert _val("study_psnr", o, g, variant="rgb-basicsr") == pytest.approx(10 * math.log10(1 / mse))
    assert _val("study_psnr", o, g, variant="rgb") == pytest.approx(10 * math.log10(255**2 / mse))


def test_psnr_identical_value() -> None:
    o, _ = _pair(3)
    assert _val("study_psnr", o, o) == 100.0
    assert math.isnan(_val("study_psnr", o, o, identical=float("nan")))


# ------------------------------------------------------------------------------------------ SSIM


def test_ssim_skimage_equals_skimage() -> None:
    from skimage.metrics import structural_similarity

    o, g = _pair(4)
    want = structural_similarity(g, o, data_range=255, channel_axis=-1)
    assert _val("study_ssim", o, g, variant="skimage") == pytest.approx(want, abs=1e-10)
    # the flare script's window on a tiny image (min side 5 -> 5x5 window)
    o5, g5 = _pair(5, 5, 9)
    want5 = structural_similarity(g5, o5, data_range=255, channel_axis=-1, win_size=5)
    assert _val("study_ssim", o5, g5, variant="skimage") == pytest.approx(want5, abs=1e-10)


def _gauss_t(n: int = 11, s: float = 1.5) -> torch.Tensor:
    g = torch.tensor([math.exp(-((x - n // 2) ** 2) / (2 * s * s)) for x in range(n)], dtype=torch.float64)
    return g / g.sum()


def _ssim_torch(a: torch.Tensor, b: torch.Tensor, pad: str, c1: float, c2: float, relu: bool = False) -> float:
    """Reference SSIM on (1, C, H, W) float64 with an 11x11 Gaussian via conv2d (pad: zeros/replicate/valid)."""
    g = _gauss_t()
    win = (g[:, None] * g[None, :])[None, None].repeat(a.shape[1], 1, 1, 1)

    def f(v: torch.Tensor) -> torch.Tensor:
        if pad == "replicate":
            v = F.pad(v, (5, 5, 5, 5), mode="replicate")
            return F.conv2d(v, win, groups=a.shape[1])
        return F.conv2d(v, win, padding=5 if pad == "zeros" else 0, groups=a.shape[1])

    mu1, mu2 = f(a), f(b)
    s11, s22, s12 = f(a * a) - mu1**2, f(b * b) - mu2**2, f(a * b) - mu1 * mu2
    cs = (2 * s12 + c2) / (s11 + s22 + c2)
    if relu:
        cs = cs.clamp_min(0)
    return float(((2 * mu1 * mu2 + c1) / (mu1**2 + mu2**2 + c1) * cs).mean())


def test_ssim_gauss_zero_padded_per_channel() -> None:
    o, g = _pair(6)
    want = _ssim_torch(_t(o).double(), _t(g).double(), "zeros", 1e-4, 9e-4)
    assert _val("study_ssim", o, g, variant="gauss-zero") == pytest.approx(want, abs=1e-9)


def test_ssim_basicsr_3d() -> None:
    o, g = _pair(7)
    g1 = _gauss_t()
    k3 = (g1[:, None, None] * g1[None, :, None] * g1[None, None, :])[None, None]

    def f(v: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(v.astype(np.float64))[None, None]  # (1, 1, H, W, C)
        return F.conv3d(F.pad(t, (5, 5, 5, 5, 5, 5), mode="replicate"), k3)

    a, b = o.astype(np.float64), g.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu1, mu2 = f(a), f(b)
    s11, s22, s12 = f(a * a) - mu1**2, f(b * b) - mu2**2, f(a * b) - mu1 * mu2
    want = float((((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))).mean())
    assert _val("study_ssim", o, g, variant="basicsr-3d") == pytest.approx(want, abs=1e-9)


def _y_studio(a: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(a.astype(np.float64))
    return (16 + (65.481 * t[..., 0] + 128.553 * t[..., 1] + 24.966 * t[..., 2]) / 255)[None, None]


def test_ssim_y_same_replicate() -> None:
    o, g = _pair(8)
    want = _ssim_torch(_y_studio(o), _y_studio(g), "replicate", (0.01 * 255) ** 2, (0.03 * 255) ** 2)
    assert _val("study_ssim", o, g, variant="y-same-replicate") == pytest.approx(want, abs=1e-9)


def test_ssim_pyiqa_y_rounded_relu() -> None:
    o, g = _pair(9)

    def y(a: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(a.astype(np.float32) / 255)
        return torch.round((0.299 * t[..., 0] + 0.587 * t[..., 1] + 0.114 * t[..., 2]) * 255).double()[None, None]

    want = _ssim_torch(y(o), y(g), "valid", (0.01 * 255) ** 2, (0.03 * 255) ** 2, relu=True)
    assert _val("study_ssim", o, g, variant="pyiqa-y") == pytest.approx(want, abs=1e-9)


def test_ssim_matlab_y_uint8() -> None:
    o, g = _pair(10)
    want = _ssim_torch(torch.floor(_y_studio(o) + 0.5), torch.floor(_y_studio(g) + 0.5), "valid",
                       (0.01 * 255) ** 2, (0.03 * 255) ** 2)
    assert _val("study_ssim", o, g, variant="matlab-y-uint8") == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("variant", ["skimage", "gauss-zero", "basicsr-3d", "y-same-replicate", "pyiqa-y", "matlab-y-uint8"])
def test_ssim_identical_is_one(variant: str) -> None:
    o, _ = _pair(11)
    assert _val("study_ssim", o, o, variant=variant) == pytest.approx(1.0, abs=1e-12)


def test_ms_ssim_equals_piq() -> None:
    piq = pytest.importorskip("piq", reason="piq (dev extra) is the library the reflection script used")
    o, g = _pair(12, 170, 181)
    want = float(piq.multi_scale_ssim(_t(o).double(), _t(g).double(), data_range=1.0))
    assert _val("study_ms_ssim", o, g) == pytest.approx(want, abs=1e-7)


def test_delta_e94_equals_skimage() -> None:
    from skimage.color import deltaE_ciede94, rgb2lab

    o, g = _pair(13)
    want = float(np.mean(deltaE_ciede94(rgb2lab(g), rgb2lab(o))))
    assert _val("study_delta_e94", o, g) == pytest.approx(want, abs=1e-9)


# ------------------------------------------------------------------------------------ NR wrappers


def test_brisque_sign_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    import paradigm.metrics.nr_classic as nc

    monkeypatch.setattr(nc, "brisque", lambda x, model_path=None, range_path=None: torch.full((x.shape[0],), 12.5))
    o, _ = _pair(14)
    assert _val("study_brisque", o, sign=-1.0) == -12.5
    assert _val("study_brisque", o) == 12.5


def test_lpips_unnormalised_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HDR bug: the network must see the [0,1] values as if they were [-1,1] (LPIPS weights: skipped)."""
    import paradigm.metrics.deep as deep

    seen: list[torch.Tensor] = []
    monkeypatch.setattr(deep, "lpips", lambda x, y, **kw: seen.append(2 * x - 1) or torch.zeros(x.shape[0]))
    o, g = _pair(15)
    _val("study_lpips", o, g, unnormalised=True)
    torch.testing.assert_close(seen[-1], _t(o), rtol=0, atol=1e-6)
    _val("study_lpips", o, g)
    torch.testing.assert_close(seen[-1], _t(o) * 2 - 1, rtol=0, atol=1e-6)


def _aggd(v: np.ndarray) -> tuple[float, float, float]:
    from scipy.special import gamma

    gam = np.arange(0.2, 10.001, 0.001)
    r_gam = gamma(2 / gam) ** 2 / (gamma(1 / gam) * gamma(3 / gam))
    v = v.ravel()
    ls, rs = np.sqrt(np.mean(v[v < 0] ** 2)), np.sqrt(np.mean(v[v > 0] ** 2))
    gh = ls / rs
    rhat = np.mean(np.abs(v)) ** 2 / np.mean(v**2)
    rn = rhat * (gh**3 + 1) * (gh + 1) / (gh**2 + 1) ** 2
    a = gam[np.argmin((r_gam - rn) ** 2)]
    s = np.sqrt(gamma(1 / a) / gamma(3 / a))
    return a, ls * s, rs * s


def _niqe_ref(y: np.ndarray, params: np.lib.npyio.NpzFile) -> float:
    """BasicSR calculate_niqe from its definition (numpy/scipy), on a 0..255 Y image."""
    from scipy.ndimage import convolve
    from scipy.special import gamma

    win = params["gaussian_window"]
    h, w = y.shape[0] // 96 * 96, y.shape[1] // 96 * 96
    img = y[:h, :w]
    feats = []
    for scale in (1, 2):
        mu = convolve(img, win, mode="nearest")
        sig = np.sqrt(np.abs(convolve(img * img, win, mode="nearest") - mu * mu))
        n = (img - mu) / (sig + 1)
        bs = 96 // scale
        rows = []
        for i in range(h // 96):
            for j in range(w // 96):
                blk = n[i * bs:(i + 1) * bs, j * bs:(j + 1) * bs]
                a, bl, br = _aggd(blk)
                f = [a, (bl + br) / 2]
                for sh in ((0, 1), (1, 0), (1, 1), (1, -1)):
                    a2, bl2, br2 = _aggd(blk * np.roll(blk, sh, axis=(0, 1)))
                    f += [a2, (br2 - bl2) * gamma(2 / a2) / gamma(1 / a2), bl2, br2]
                rows.append(f)
        feats.append(np.array(rows))
        img = (img[0::2, 0::2] + img[1::2, 0::2] + img[0::2, 1::2] + img[1::2, 1::2]) / 4
    d = np.concatenate(feats, 1)
    mu_d, cov_d = d.mean(0), np.cov(d, rowvar=False)
    diff = params["mu_pris_param"] - mu_d
    return float(np.sqrt(diff @ np.linalg.pinv((params["cov_pris_param"] + cov_d) / 2) @ diff.T).squeeze())


def test_niqe_basicsr() -> None:
    path = SHARED_NIQE / "niqe_pris_params.npz"
    if not path.is_file():
        pytest.skip(f"NIQE parameters not found at {path}")
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(16)
    base = gaussian_filter(rng.normal(128, 50, (192, 200, 3)), (2, 2, 0)) + rng.normal(0, 8, (192, 200, 3))
    img = np.clip(np.round(base), 0, 255).astype(np.uint8)
    want = _niqe_ref(_y_studio(img)[0, 0].numpy(), np.load(path))
    assert _val("study_niqe", img, params_path=str(path)) == pytest.approx(want, rel=1e-9)


# ------------------------------------------------------------------------------------- underwater


def test_uiqm_constant_image_hand_worked() -> None:
    img = np.zeros((5, 5, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 200, 100, 40
    # K = 25: start = int(3.5) = 3, end = int(22.5) = 22 -> 19 samples, N = 20
    def uicm(r: float, g: float, b: float) -> float:
        out = []
        for c in (r - g, (r + g) / 2 - b):
            m = 19 * c / 20
            out.append((m, math.sqrt(19 * (c - m) ** 2 / 20)))
        (mrg, drg), (myb, dyb) = out
        return -0.0268 * math.hypot(mrg, myb) + 0.1586 * math.hypot(dyb, drg)

    got = create_metric("study_uiqm")(_t(img))
    assert float(got["study_uicm"][0]) == pytest.approx(uicm(200, 100, 40))
    assert float(got["study_uism"][0]) == 0.0 and float(got["study_uiconm"][0]) == 0.0
    bgr = create_metric("study_uiqm", bgr=True)(_t(img))
    assert float(bgr["study_uicm"][0]) == pytest.approx(uicm(40, 100, 200))
    assert float(bgr["study_uiqm"][0]) == pytest.approx(0.0282 * uicm(40, 100, 200))


def test_uism_and_uiconm_on_texture() -> None:
    from scipy import ndimage

    img = _u8(17, 10, 15)
    hx = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
    hy = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    uism = 0.0
    uiconm = 0.0
    for c, lam in enumerate((0.299, 0.587, 0.114)):
        ch = img[..., c].astype(np.float64)
        sob = np.abs(ndimage.convolve(ch, hx, mode="nearest") + ndimage.convolve(ch, hy, mode="nearest"))
        eme = amee = 0.0
        for i in range(0, 10, 5):
            for j in range(0, 15, 5):
                p = sob[i:i + 5, j:j + 5]
                if p.max() > 0 and p.min() > 0:
                    eme += math.log(p.max() / p.min())
                q = ch[i:i + 5, j:j + 5]
                if q.max() != q.min():
                    r = (q.max() - q.min()) / (q.max() + q.min())
                    amee += math.log(r) * r
        uism += lam * 2 * abs(eme) / 6
        uiconm += abs(amee) / 6
    got = create_metric("study_uiqm")(_t(img))
    assert float(got["study_uism"][0]) == pytest.approx(uism, rel=1e-12)
    assert float(got["study_uiconm"][0]) == pytest.approx(uiconm, rel=1e-12)


def _uciqe_from_lab8(enc: np.ndarray) -> float:
    """The underwater script's UCIQE formula on an OpenCV-encoded 8-bit Lab image."""
    enc = enc / 255
    chroma = np.hypot(enc[..., 1], enc[..., 2])
    sat = chroma / (np.hypot(chroma, enc[..., 0]) + 1e-8)
    var = math.sqrt(np.mean(np.abs(1 - (chroma.mean() / (chroma + 1e-8)) ** 2)))
    hist, _ = np.histogram(enc[..., 0], 65536)
    cdf = np.cumsum(hist) / hist.sum()
    con = (np.argmax(cdf >= 0.99) - np.argmax(cdf > 0.01)) / 65535
    return float(0.4680 * var + 0.2745 * con + 0.2576 * sat.mean())


def test_uciqe_close_to_exact_lab_encoding() -> None:
    """OpenCV's fixed-point Lab is within a level of exact CIELAB (skimage) encoded the same way."""
    from skimage.color import rgb2lab

    img = _u8(18, 30, 30)
    lab = rgb2lab(img)
    enc = np.floor(np.stack([lab[..., 0] * 255 / 100, lab[..., 1] + 128, lab[..., 2] + 128], -1) + 0.5)
    assert _val("study_uciqe", img) == pytest.approx(_uciqe_from_lab8(enc), abs=2e-3)


def test_uciqe_and_lab_equal_opencv_when_installed() -> None:
    cv2 = pytest.importorskip("cv2", reason="OpenCV is not a dependency; install opencv-python-headless to compare")
    from paradigm.metrics.study import lab_cv2_u8

    img = _u8(19, 64, 80)
    enc = cv2.cvtColor(img[..., ::-1].copy(), cv2.COLOR_BGR2LAB).astype(np.float64)
    assert (lab_cv2_u8(img) != enc).mean() < 1e-3
    grid = np.stack(np.meshgrid(np.arange(0, 256, 5), np.arange(0, 256, 5), np.arange(256), indexing="ij"), -1)
    grid = grid.reshape(-1, 256, 3).astype(np.uint8)
    ref = cv2.cvtColor(grid[..., ::-1].copy(), cv2.COLOR_BGR2LAB).astype(np.float64)
    assert np.abs(lab_cv2_u8(grid) - ref).max() <= 1
    assert _val("study_uciqe", img) == pytest.approx(_uciqe_from_lab8(enc), abs=1e-4)


# ------------------------------------------------------------------------------------------ fusion


def test_grey_rules_hand_worked() -> None:
    from paradigm.metrics.study_fusion import grey_cv2

    px = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [77, 77, 77]]], dtype=np.float64)
    assert grey_cv2(px, "cv2-png").tolist() == [[76, 149, 29, 77]]  # (9797R+19234G+3737B)>>15, grey kept
    assert grey_cv2(px, "cv2-cvtcolor").tolist() == [[76, 150, 29, 77]]  # (4899R+9617G+1868B+8192)>>14


def _grey(a: np.ndarray) -> np.ndarray:
    from paradigm.metrics.study_fusion import grey_cv2

    return grey_cv2(a.astype(np.float64))


def test_fusion_en_sd_sf_ag_torch_definitions() -> None:
    f = _u8(19)
    t = torch.from_numpy(_grey(f)).float()
    hist = torch.histc(t, bins=256, min=0, max=255)
    p = hist[hist > 0] / hist.sum()
    en = float(-(p * torch.log2(p)).sum())
    sf = float(torch.sqrt(((t[1:] - t[:-1]) ** 2).mean() + ((t[:, 1:] - t[:, :-1]) ** 2).mean()))
    gy, gx = torch.gradient(t)
    ag = float(torch.sqrt((gx**2 + gy**2) / 2).mean())
    assert _val("study_fusion_en", f) == pytest.approx(en, rel=1e-6)
    assert _val("study_fusion_sd", f) == pytest.approx(float(torch.std(t, unbiased=False)), rel=1e-6)
    assert _val("study_fusion_sf", f) == pytest.approx(sf, rel=1e-6)
    assert _val("study_fusion_ag", f) == pytest.approx(ag, rel=1e-6)


def _pair_metric(name: str, a: np.ndarray, b: np.ndarray, f: np.ndarray, **opts: object) -> float:
    return float(create_metric(name, **opts)(_t(f), torch.cat([_t(a), _t(b)], 1))[0])


def _sources(seed: int, h: int = 40, w: int = 48) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b = _u8(seed, h, w), _u8(seed + 1, h, w)
    f = ((a.astype(np.int64) + b) // 2).astype(np.uint8)
    return a, b, f


def test_scd_numpy_corrcoef() -> None:
    a, b, f = _sources(20)
    ga, gb, gf = _grey(a), _grey(b), _grey(f)
    want = np.corrcoef((gf - gb).ravel(), ga.ravel())[0, 1] + np.corrcoef((gf - ga).ravel(), gb.ravel())[0, 1]
    assert _pair_metric("study_fusion_scd", a, b, f) == pytest.approx(want, abs=1e-12)


def _vif_torch(ref: torch.Tensor, dist: torch.Tensor) -> float:
    num = den = 0.0
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        t = torch.linspace(-(n // 2), n // 2, n, dtype=torch.float64)
        win = torch.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * (n / 5) ** 2))
        win = (win / win.sum())[None, None]

        def c(v: torch.Tensor, win: torch.Tensor = win, n: int = n) -> torch.Tensor:
            return F.conv2d(v[None, None], win, padding=n // 2)[0, 0]

        if scale > 1:
            ref, dist = c(ref)[::2, ::2], c(dist)[::2, ::2]
        mu1, mu2 = c(ref), c(dist)
        s1 = (c(ref * ref) - mu1**2).clamp_min(0)
        s2 = (c(dist * dist) - mu2**2).clamp_min(0)
        s12 = c(ref * dist) - mu1 * mu2
        g = s12 / (s1 + 1e-10)
        sv = s2 - g * s12
        m = s1 < 1e-10
        g[m], sv[m], s1[m] = 0, s2[m], 0
        m = s2 < 1e-10
        g[m], sv[m] = 0, 0
        m = g < 0
        sv[m], g[m] = s2[m], 0
        sv = sv.clamp_min(1e-10)
        num += float(torch.log10(1 + g**2 * s1 / (sv + 2)).sum())
        den += float(torch.log10(1 + s1 / 2).sum())
    return num / (den + 1e-10)


def test_vif_same_padded() -> None:
    a, b, f = _sources(21)
    ga, gb, gf = (torch.from_numpy(_grey(v)) for v in (a, b, f))
    want = _vif_torch(ga, gf) + _vif_torch(gb, gf)
    assert _pair_metric("study_fusion_vif", a, b, f) == pytest.approx(want, rel=1e-9)


def _nmi_torch(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor) -> float:
    """The multi-focus script's NMI, with torch.histc in float32 as it runs."""

    def ent(p: torch.Tensor) -> torch.Tensor:
        p = p[p > 0]
        return -(p * torch.log2(p)).sum()

    def hab(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = torch.histc((x.long() * 256 + y.long()).float(), bins=65536, min=0, max=65535).double().view(256, 256)
        h = h / h.sum()
        return ent(h.sum(1)) + ent(h.sum(0)) - ent(h.flatten())

    def marg(x: torch.Tensor) -> torch.Tensor:
        hist = torch.histc(x.float(), bins=256, min=0, max=255).double()
        return ent(hist / hist.sum())

    return float(2 * (hab(a, f) + hab(b, f)) / (marg(a) + marg(b) + 1e-10))


def test_nmi_histc_float32_bug() -> None:
    a, b, f = _sources(22)
    a[:10, :, :] = 255  # saturated source rows ...
    f[:5, :, :] = 128  # ... against F = 128: the pair (255, 128) is the bin torch.histc merges
    ga, gb, gf = (torch.from_numpy(_grey(v)) for v in (a, b, f))
    buggy = _pair_metric("study_fusion_nmi", a, b, f, histc_float32=True)
    fixed = _pair_metric("study_fusion_nmi", a, b, f)
    assert buggy == pytest.approx(_nmi_torch(ga, gb, gf), rel=1e-9)
    # exact joint histogram with numpy
    def mi(x: np.ndarray, y: np.ndarray) -> float:
        h, _, _ = np.histogram2d(x.ravel(), y.ravel(), bins=256, range=[[0, 256], [0, 256]])
        p = h / h.sum()
        px, py = p.sum(1), p.sum(0)
        nz = p > 0
        return float((p[nz] * np.log2(p[nz] / (px[:, None] * py[None, :])[nz])).sum())

    def ent(x: np.ndarray) -> float:
        p = np.bincount(x.astype(int).ravel(), minlength=256) / x.size
        p = p[p > 0]
        return float(-(p * np.log2(p)).sum())

    g_a, g_b, g_f = _grey(a), _grey(b), _grey(f)
    want = 2 * (mi(g_a, g_f) + mi(g_b, g_f)) / (ent(g_a) + ent(g_b) + 1e-10)
    assert fixed == pytest.approx(want, rel=1e-9)
    assert abs(buggy - fixed) > 1e-6


def test_qy_float64_definition() -> None:
    a, b, f = _sources(23)
    g = _gauss_t(7, 1.5)
    win = (g[:, None] * g[None, :])[None, None]

    def ssim_map(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        def c(v: torch.Tensor) -> torch.Tensor:
            return F.conv2d(v, win, padding=3)

        mu1, mu2 = c(x), c(y)
        s1, s2, s12 = c(x * x) - mu1**2, c(y * y) - mu2**2, c(x * y) - mu1 * mu2
        m = ((2 * mu1 * mu2 + 1e-4) * (2 * s12 + 9e-4)) / ((mu1**2 + mu2**2 + 1e-4) * (s1 + s2 + 9e-4))
        return m, s1, s2

    ta, tb, tf = (torch.from_numpy(_grey(v) / 255)[None, None] for v in (a, b, f))
    sab, s1, s2 = ssim_map(ta, tb)
    saf, sbf = ssim_map(ta, tf)[0], ssim_map(tb, tf)[0]
    lam = s1 / (s1 + s2 + 1e-10)
    binm = (sab >= 0.75).double()
    want = float(((lam * saf + (1 - lam) * sbf) * binm + torch.max(saf, sbf) * (1 - binm)).mean())
    assert _pair_metric("study_fusion_qy", a, b, f) == pytest.approx(want, abs=1e-12)
    assert _pair_metric("study_fusion_qy", a, a, a) == pytest.approx(1.0, abs=1e-12)


def test_qcb_torch_fft_definition() -> None:
    a, b, f = _sources(24, 36, 44)
    ta, tb, tf = (torch.from_numpy(_grey(v)) for v in (a, b, f))

    def norm(v: torch.Tensor) -> torch.Tensor:
        return (v - v.min()) / (v.max() - v.min() + 1e-10)

    h, w = ta.shape
    u, v = torch.meshgrid(torch.fft.fftfreq(h, dtype=torch.float64), torch.fft.fftfreq(w, dtype=torch.float64),
                          indexing="ij")
    r = torch.sqrt((u * (h / 30)) ** 2 + (v * (w / 30)) ** 2)
    sd = torch.exp(-((r / 15.3870) ** 2)) - 0.7622 * torch.exp(-((r / 1.3456) ** 2))
    x, y = torch.meshgrid(torch.arange(-15, 16), torch.arange(-15, 16), indexing="ij")

    def g2d(s: float) -> torch.Tensor:
        e = torch.exp(-(x**2 + y**2) / (2 * s**2))
        return (e / e.sum())[None, None].double()

    def contrast(img: torch.Tensor) -> torch.Tensor:
        i = img[None, None]
        return F.conv2d(i, g2d(2), padding=15) / (F.conv2d(i, g2d(4), padding=15) + 1e-10) - 1

    def cp(img: torch.Tensor) -> torch.Tensor:
        c = contrast(torch.fft.ifft2(torch.fft.fft2(norm(img)) * sd).real)
        return c.abs() ** 3 / (c.abs() ** 2 + 1e-4)

    c1, c2, cf = cp(ta), cp(tb), cp(tf)
    q1 = torch.where(c1 < cf, c1 / (cf + 1e-10), cf / (c1 + 1e-10))
    q2 = torch.where(c2 < cf, c2 / (cf + 1e-10), cf / (c2 + 1e-10))
    den = c1**2 + c2**2 + 1e-10
    want = float(((c1**2 / den) * q1 + (c2**2 / den) * q2).mean())
    assert _pair_metric("study_fusion_qcb", a, b, f) == pytest.approx(want, rel=1e-6)


def test_fusion_pair_needs_two_sources() -> None:
    from paradigm.errors import MetricUnavailableError

    o, g = _pair(25)
    with pytest.raises(MetricUnavailableError, match="two fusion sources"):
        create_metric("study_fusion_scd")(_t(o), _t(g))


@pytest.mark.parametrize("variant", ["gauss-zero", "basicsr-3d"])
def test_ssim_float32_path_matches_float64_closely(variant: str) -> None:
    o, g = _pair(26, 48, 56)
    v64 = _val("study_ssim", o, g, variant=variant)
    v32 = _val("study_ssim", o, g, variant=variant, float32=True)
    assert v32 == pytest.approx(v64, abs=1e-4) and v32 != v64
    assert _val("study_ssim", o, o, variant=variant, float32=True) == pytest.approx(1.0, abs=1e-6)
