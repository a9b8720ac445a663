"""Tests of paradigm.metrics.task: UIQM, UCIQE, fusion metrics and PSNR-mu.

Reference values: the official ``entropy`` row of ``shared/calibration`` (MATLAB ``entropy`` of
``rgb2gray``) for fusion EN, ``piq.vif_p`` for VIF, and independent plain-loop ports of the reference
code (FUnIE-GAN ``uqim_utils.py``, TongJiayan UCIQE, VIFB MATLAB metrics) on tiny images.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import paradigm
from paradigm.errors import InputError, MetricUnavailableError
from paradigm.metrics.task import (
    fusion_ag,
    fusion_en,
    fusion_mi,
    fusion_qabf,
    fusion_sd,
    fusion_sf,
    fusion_vif,
    mu_law,
    psnr_mu,
    split_pair,
    uciqe,
    uiqm,
)


def _rand(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g, dtype=torch.float64)


def _smooth_rgb(seed: int, h: int = 23, w: int = 31) -> torch.Tensor:
    """A small quantised image with structure (gradients + noise), 8-bit values / 255."""
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    base = np.stack([0.2 + 0.5 * xx / w, 0.3 + 0.4 * yy / h, 0.6 - 0.3 * xx / w], axis=0)
    a = np.clip(base + 0.08 * rng.standard_normal((3, h, w)), 0, 1)
    return torch.from_numpy(np.round(a * 255) / 255)[None]


# ------------------------------------------------------------------ UIQM: loop port of uqim_utils.py


def _ref_mu_a(x: list[float], alpha_l: float = 0.1, alpha_r: float = 0.1) -> float:
    x = sorted(x)
    k = len(x)
    t_l = math.ceil(alpha_l * k)
    t_r = math.floor(alpha_r * k)
    total = 0.0
    for i in range(int(t_l + 1), int(k - t_r)):
        total += x[i]
    return total / (k - t_l - t_r)


def _ref_s_a(x: list[float], mu: float) -> float:
    return sum((p - mu) ** 2 for p in x) / len(x)


def _ref_sobel(ch: np.ndarray) -> np.ndarray:
    """scipy.ndimage.sobel(axis 0) and (axis 1) with 'reflect' borders, by loops; then scaled."""
    h, w = ch.shape

    def px(i: int, j: int) -> float:  # 'reflect' (half-sample symmetric)
        i = -i - 1 if i < 0 else (2 * h - i - 1 if i >= h else i)
        j = -j - 1 if j < 0 else (2 * w - j - 1 if j >= w else j)
        return float(ch[i, j])

    mag = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            d0 = sum((px(i + 1, j + k) - px(i - 1, j + k)) * (2 if k == 0 else 1) for k in (-1, 0, 1))
            d1 = sum((px(i + k, j + 1) - px(i + k, j - 1)) * (2 if k == 0 else 1) for k in (-1, 0, 1))
            mag[i, j] = math.hypot(d0, d1)
    return mag * (255.0 / mag.max())


def _ref_eme(x: np.ndarray, ws: int) -> float:
    k1, k2 = x.shape[1] // ws, x.shape[0] // ws
    val = 0.0
    for bx in range(k1):
        for by in range(k2):
            block = x[by * ws : (by + 1) * ws, bx * ws : (bx + 1) * ws]
            mx, mn = block.max(), block.min()
            if mn != 0 and mx != 0:
                val += math.log(mx / mn)
    return 2.0 / (k1 * k2) * val


def _ref_uiconm(x: np.ndarray, ws: int) -> float:
    k1, k2 = x.shape[1] // ws, x.shape[0] // ws
    val = 0.0
    for bx in range(k1):
        for by in range(k2):
            block = x[by * ws : (by + 1) * ws, bx * ws : (bx + 1) * ws, :]
            mx, mn = block.max(), block.min()
            top, bot = mx - mn, mx + mn
            if top != 0 and bot != 0:
                val += (top / bot) * math.log(top / bot)
    return -1.0 / (k1 * k2) * val


def _ref_uiqm(rgb: np.ndarray, ws: int = 10) -> float:
    r, g, b = (rgb[..., c].ravel().tolist() for c in range(3))
    rg = [p - q for p, q in zip(r, g, strict=True)]
    yb = [(p + q) / 2 - s for p, q, s in zip(r, g, b, strict=True)]
    mu_rg, mu_yb = _ref_mu_a(rg), _ref_mu_a(yb)
    uicm = -0.0268 * math.sqrt(mu_rg**2 + mu_yb**2) + 0.1586 * math.sqrt(_ref_s_a(rg, mu_rg) + _ref_s_a(yb, mu_yb))
    lam = (0.299, 0.587, 0.144)
    uism = sum(lam[c] * _ref_eme(_ref_sobel(rgb[..., c]) * rgb[..., c], ws) for c in range(3))
    uiconm = _ref_uiconm(rgb, ws)
    return 0.0282 * uicm + 0.2953 * uism + 3.5753 * uiconm


def test_uiqm_matches_reference_loops() -> None:
    for seed in (0, 1):
        x = _smooth_rgb(seed)
        rgb = x[0].permute(1, 2, 0).numpy() * 255.0
        assert float(uiqm(x)[0]) == pytest.approx(_ref_uiqm(rgb), rel=1e-9, abs=1e-9)
    x = _smooth_rgb(3, 24, 24)
    rgb = x[0].permute(1, 2, 0).numpy() * 255.0
    assert float(uiqm(x, block_size=8)[0]) == pytest.approx(_ref_uiqm(rgb, 8), rel=1e-9)


def test_uiqm_components_and_properties() -> None:
    x = _smooth_rgb(0, 40, 40)
    comp = uiqm(x, components=True)
    assert isinstance(comp, dict)
    total = 0.0282 * comp["uicm"] + 0.2953 * comp["uism"] + 3.5753 * comp["uiconm"]
    assert float(total[0]) == pytest.approx(float(comp["uiqm"][0]))
    # a grey image has no colourfulness: UICM = 0
    grey = x.mean(dim=1, keepdim=True)
    gcomp = uiqm(grey, components=True)
    assert isinstance(gcomp, dict)
    assert float(gcomp["uicm"][0]) == pytest.approx(0.0, abs=1e-12)
    m = paradigm.create_metric("uiqm")
    assert m.kind == "no-reference" and m.higher_is_better
    assert m(torch.cat([x, grey.expand(-1, 3, -1, -1)])).shape == (2,)


def test_uiqm_bad_input() -> None:
    with pytest.raises(InputError):
        uiqm(torch.rand(1, 3, 8, 8))  # smaller than one 10x10 block
    with pytest.raises(InputError):
        uiqm(torch.rand(3, 16, 16))
    with pytest.raises(InputError):
        uiqm(torch.rand(1, 3, 16, 16) + 1)


# ------------------------------------------------------------------ UCIQE: loop port


def _ref_uciqe(x: torch.Tensor) -> float:
    from skimage.color import rgb2lab

    lab = rgb2lab(x[0].permute(1, 2, 0).numpy())
    lum = (lab[..., 0] / 100.0).ravel().tolist()
    chroma = [math.hypot(a / 255.0, b / 255.0) for a, b in zip(lab[..., 1].ravel(), lab[..., 2].ravel(), strict=True)]
    k = len(lum)
    mean_c = sum(chroma) / k
    sigma_c = math.sqrt(sum((c - mean_c) ** 2 for c in chroma) / k)
    srt = sorted(lum)
    con_l = srt[int(k * 0.99)] - srt[int(k * 0.01)]
    sat = [c / lv if lv != 0 else 0.0 for c, lv in zip(chroma, lum, strict=True)]
    return 0.4680 * sigma_c + 0.2745 * con_l + 0.2576 * sum(sat) / k


def test_uciqe_matches_reference_loops() -> None:
    for seed in (0, 5):
        x = _smooth_rgb(seed)
        assert float(uciqe(x)[0]) == pytest.approx(_ref_uciqe(x), rel=1e-6)


def test_uciqe_properties() -> None:
    x = _smooth_rgb(0, 32, 32)
    grey = x.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    assert float(uciqe(grey)[0]) < float(uciqe(x)[0])  # no chroma, no saturation
    assert float(uciqe(torch.full((1, 3, 8, 8), 0.5))[0]) == pytest.approx(0.0, abs=1e-4)
    assert paradigm.create_metric("uciqe")(x).shape == (1,)
    with pytest.raises(InputError):
        uciqe(torch.rand(1, 2, 8, 8))


# ------------------------------------------------------------------ fusion


def _matlab_gray(rgb8: np.ndarray) -> np.ndarray:
    """MATLAB rgb2gray of a uint8 image (exact coefficients, rounded), as 8-bit values."""
    w = np.array([0.298936021293776, 0.587043074451121, 0.114020904255103])
    return np.floor(rgb8.astype(np.float64) @ w + 0.5)


def test_fusion_en_matches_official_entropy(shared_dir: Path) -> None:
    cal = shared_dir / "calibration"
    with open(cal / "results_official.csv") as fh:
        rows = {r["Method"]: r for r in csv.DictReader(fh)}
    official = rows["entropy"]
    for name in ("I03.bmp", "I04.bmp", "I06.bmp", "I08.bmp", "I19.bmp"):
        g = _matlab_gray(np.array(Image.open(cal / "dist" / name).convert("RGB")))
        t = torch.from_numpy(g / 255.0)[None, None]
        assert float(fusion_en(t)[0]) == pytest.approx(float(official[name]), abs=1e-4)


def _ref_sf(f: np.ndarray) -> float:
    m, n = f.shape
    rf = sum((f[i, j] - f[i, j - 1]) ** 2 for i in range(m) for j in range(1, n)) / (m * n)
    cf = sum((f[i, j] - f[i - 1, j]) ** 2 for j in range(n) for i in range(1, m)) / (m * n)
    return math.sqrt(rf + cf)


def _ref_ag(f: np.ndarray) -> float:
    r, c = f.shape

    def d(a: np.ndarray, i: int, n: int) -> float:  # MATLAB gradient along one axis
        if i == 0:
            return a[1] - a[0]
        if i == n - 1:
            return a[n - 1] - a[n - 2]
        return (a[i + 1] - a[i - 1]) / 2

    total = 0.0
    for i in range(r):
        for j in range(c):
            gx = d(f[i, :], j, c)
            gy = d(f[:, j], i, r)
            total += math.sqrt((gx**2 + gy**2) / 2)
    return total / ((r - 1) * (c - 1))


def test_fusion_single_image_metrics_match_loops() -> None:
    x = _smooth_rgb(2, 13, 17)
    f = x[0].numpy() * 255.0
    assert float(fusion_sf(x)[0]) == pytest.approx(np.mean([_ref_sf(c) for c in f]), rel=1e-12)
    assert float(fusion_ag(x)[0]) == pytest.approx(np.mean([_ref_ag(c) for c in f]), rel=1e-12)
    sd = np.mean([math.sqrt(((c - c.mean()) ** 2).mean()) for c in f])
    assert float(fusion_sd(x)[0]) == pytest.approx(sd, rel=1e-12)
    # entropy of a two-level image is 1 bit; of a constant image 0
    half = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    half[..., :2, :] = 1.0
    assert float(fusion_en(half)[0]) == pytest.approx(1.0)
    assert float(fusion_en(torch.zeros(1, 1, 4, 4))[0]) == 0.0
    for name in ("fusion_en", "fusion_sd", "fusion_sf", "fusion_ag"):
        m = paradigm.create_metric(name)
        assert m.kind == "no-reference" and m.pillar == "diagnostic"
        assert m(torch.cat([x, x])).shape == (2,)


def _ref_mutinf(a: np.ndarray, b: np.ndarray) -> float:
    def norm(v: np.ndarray) -> np.ndarray:
        lo, hi = v.min(), v.max()
        z = (v - lo) / (hi - lo) if hi != lo else np.zeros_like(v)
        return np.array([[int(math.floor(p * 255 + 0.5)) + 1 for p in row] for row in z])

    ia, ib = norm(a), norm(b)
    hab = np.zeros((257, 257))
    ha = np.zeros(257)
    hb = np.zeros(257)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            hab[ia[i, j], ib[i, j]] += 1
            ha[ia[i, j]] += 1
            hb[ib[i, j]] += 1

    def ent(h: np.ndarray) -> float:
        p = h[h > 0] / h.sum()
        return float(-(p * np.log(p)).sum())

    return ent(ha) + ent(hb) - ent(hab)


def _conv2_same(p: np.ndarray, k: np.ndarray) -> np.ndarray:
    """MATLAB conv2(p, k, 'same') for a 3x3 kernel, by loops (zero padding, flipped kernel)."""
    h, w = p.shape
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            s = 0.0
            for u in range(3):
                for v in range(3):
                    ii, jj = i + 1 - u, j + 1 - v
                    if 0 <= ii < h and 0 <= jj < w:
                        s += k[u, v] * p[ii, jj]
            out[i, j] = s
    return out


def _ref_qabf(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    tg, kg, dg, ta, ka, da = 0.9994, -15, 0.5, 0.9879, -22, 0.8
    h1 = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=float)
    h3 = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)

    def ga(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sx, sy = _conv2_same(255 * p, h3), _conv2_same(255 * p, h1)
        g = np.sqrt(sx**2 + sy**2)
        ang = np.zeros_like(g)
        for i in range(g.shape[0]):
            for j in range(g.shape[1]):
                ang[i, j] = math.pi / 2 if sx[i, j] == 0 else math.atan(sy[i, j] / sx[i, j])
        return g, ang

    (g_a, a_a), (g_b, a_b), (g_f, a_f) = ga(a), ga(b), ga(f)

    def q(gs: np.ndarray, as_: np.ndarray) -> np.ndarray:
        out = np.zeros_like(gs)
        for i in range(gs.shape[0]):
            for j in range(gs.shape[1]):
                if gs[i, j] > g_f[i, j]:
                    g = g_f[i, j] / gs[i, j]
                elif gs[i, j] == g_f[i, j]:
                    g = g_f[i, j]
                else:
                    g = gs[i, j] / g_f[i, j]
                aa = 1 - abs(as_[i, j] - a_f[i, j]) / (math.pi / 2)
                out[i, j] = tg / (1 + math.exp(kg * (g - dg))) * ta / (1 + math.exp(ka * (aa - da)))
        return out

    return float((q(g_a, a_a) * g_a + q(g_b, a_b) * g_b).sum() / (g_a + g_b).sum())


def _sources(h: int = 12, w: int = 14) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    a = torch.round(_rand(10, (1, 1, h, w)) * 255) / 255
    b = torch.round(_rand(11, (1, 1, h, w)) * 255) / 255
    f = torch.round((0.6 * a + 0.4 * b) * 255) / 255
    f[..., 3, 4] = b[..., 3, 4]  # an exactly-equal edge case or two
    return f, a, b


def test_fusion_mi_matches_loops() -> None:
    f, a, b = _sources()
    fa, aa, ba = (t[0, 0].numpy() * 255 for t in (f, a, b))
    expected = _ref_mutinf(aa, fa) + _ref_mutinf(ba, fa)
    assert float(fusion_mi(f, a, b)[0]) == pytest.approx(expected, rel=1e-12)


def test_fusion_qabf_matches_loops() -> None:
    f, a, b = _sources()
    fa, aa, ba = (t[0, 0].numpy() * 255 for t in (f, a, b))
    assert float(fusion_qabf(f, a, b)[0]) == pytest.approx(_ref_qabf(aa, ba, fa), rel=1e-10)
    # F equal to A transfers A's edges nearly perfectly; Q is in [0, 1]
    q = float(fusion_qabf(a, a, b)[0])
    assert 0 <= float(fusion_qabf(f, a, b)[0]) <= 1 and 0 <= q <= 1


def test_fusion_vif_reference() -> None:
    g = torch.Generator().manual_seed(3)
    a = torch.rand(1, 1, 48, 48, generator=g, dtype=torch.float64)
    b = torch.rand(1, 1, 48, 48, generator=g, dtype=torch.float64)
    f = 0.5 * a + 0.5 * b
    # piq 0.8.0: piq.vif_p(f, a, data_range=1.0) + piq.vif_p(f, b, data_range=1.0)
    expected = 0.09339244977425228 + 0.09034711886319917
    assert float(fusion_vif(f, a, b)[0]) == pytest.approx(expected, rel=1e-6)


def test_fusion_vif_identity() -> None:
    a = _rand(4, (1, 1, 40, 40))
    assert float(fusion_vif(a, a, a)[0]) == pytest.approx(2.0, rel=1e-9)


def test_fusion_pair_classes_and_bad_input() -> None:
    f, a, b = _sources(20, 20)
    ref = torch.cat([a, b], dim=1)
    assert split_pair(ref)[0].equal(a)
    for name, fn in (("fusion_mi", fusion_mi), ("fusion_qabf", fusion_qabf), ("fusion_vif", fusion_vif)):
        m = paradigm.create_metric(name)
        assert m.reference == "input" and m.pillar == "diagnostic"
        assert float(m(f, ref)[0]) == pytest.approx(float(fn(f, a, b)[0]))
        with pytest.raises(InputError):
            m(f)
        with pytest.raises(MetricUnavailableError):
            m(f, a)  # one ordinary input image: the engine skips the metric
        with pytest.raises(InputError):
            m(f, torch.cat([a, b, a, b], dim=1))  # not a pair
    with pytest.raises(InputError):
        fusion_mi(f, a[..., :-1], b)
    with pytest.raises(InputError):
        fusion_qabf(torch.rand(1, 3, 20, 20), torch.rand(1, 3, 20, 20), torch.rand(1, 3, 20, 21))
    # RGB fused with grey sources: each band against the grey source, averaged (VIFB rule)
    rgb = f.expand(-1, 3, -1, -1)
    assert float(fusion_qabf(rgb, a, b)[0]) == pytest.approx(float(fusion_qabf(f, a, b)[0]))


# ------------------------------------------------------------------ PSNR-mu


def test_mu_law_values() -> None:
    x = torch.tensor([0.0, 1.0, 0.01], dtype=torch.float64)
    t = mu_law(x)
    assert float(t[0]) == 0.0 and float(t[1]) == pytest.approx(1.0)
    assert float(t[2]) == pytest.approx(math.log(1 + 50) / math.log(5001))


def test_psnr_mu_reference_value() -> None:
    gt = _rand(7, (1, 3, 8, 8)) ** 3  # HDR-like: mostly dark linear values
    x = (gt * 1.1).clamp(0, 1)
    tx = np.log1p(5000 * x.numpy()) / np.log1p(5000)
    tg = np.log1p(5000 * gt.numpy()) / np.log1p(5000)
    expected = 10 * math.log10(1.0 / float(((tx - tg) ** 2).mean()))
    assert float(psnr_mu(x, gt)[0]) == pytest.approx(expected, rel=1e-9)
    m = paradigm.create_metric("psnr_mu")
    assert m.pillar == "fidelity" and m.higher_is_better
    assert float(m(x, gt)[0]) == pytest.approx(expected, rel=1e-9)
    assert float(psnr_mu(gt, gt)[0]) == pytest.approx(100.0)  # capped like fidelity.psnr
    with pytest.raises(InputError):
        psnr_mu(x, gt[..., :4])
    with pytest.raises(InputError):
        m(x)
