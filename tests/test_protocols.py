"""Study protocols: the registry, the two flavours, and `paradigm score --protocol` on every task.

Each task gets a small synthetic results tree; the expected values are computed here from the
scripts' definitions (skimage / Pillow / torch where the scripts used them), never by the code under
test. Metrics that need model weights (LPIPS backbone, MUSIQ, CLIP-IQA, NIMA) are skipped by the
engine with a reason, which the tests check.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image

from paradigm.engine import ScoreConfig, run_score
from paradigm.errors import InputError
from paradigm.protocols import get_protocol, list_protocols

STUDY = "lowlevelbanana-2512.15110"
SHARED_WEIGHTS = Path(__file__).resolve().parents[1].parent / "shared" / "weights"
TASKS = (
    "super_resolution", "super_resolution-nr", "denoising", "low_light_enhance", "motion_deblurring",
    "defocus_deblurring", "dehazing", "deshadowing", "flare_removal", "hdr_imaging", "infrared_visible_fusion",
    "multi_focus_fusion", "reflection_removal", "underwater_enhancement", "deraining",
)


def _img(seed: int, h: int = 32, w: int = 40) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _noisy(g: np.ndarray, seed: int) -> np.ndarray:
    n = np.random.default_rng(seed).integers(-30, 31, g.shape)
    return np.clip(g.astype(np.int64) + n, 0, 255).astype(np.uint8)


def _save(path: Path, a: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)


def _run(name: str, results: Path, **kw: Any) -> tuple[Any, dict[str, Any]]:
    cfg = ScoreConfig(results=results, gt=kw.pop("gt", None), protocol=f"{STUDY}/{name}", cache=None, workers=0,
                      progress=False, n_boot=10, **kw)
    res = run_score(cfg)
    return res.scores.sort_values("image").reset_index(drop=True), res.run_info


def _psnr(o: np.ndarray, g: np.ndarray) -> float:
    return 10 * math.log10(255.0**2 / float(np.mean((o.astype(np.float64) - g) ** 2)))


def _sk_ssim(o: np.ndarray, g: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(g, o, data_range=255, channel_axis=-1))


# ---------------------------------------------------------------------------------------- registry


def test_every_task_has_both_flavours() -> None:
    names = {p.name for p in list_protocols()}
    assert len(names) == 2 * len(TASKS)
    for t in TASKS:
        assert {f"{STUDY}/{t}/as-published", f"{STUDY}/{t}/corrected"} <= names
    assert get_protocol(f"{STUDY}/dehazing").flavour == "as-published"
    with pytest.raises(InputError, match="unknown protocol"):
        get_protocol(f"{STUDY}/nope")


@pytest.mark.parametrize("task", TASKS)
def test_corrected_differs_only_where_a_documented_bug_applies(task: str) -> None:
    pub, cor = get_protocol(f"{STUDY}/{task}/as-published"), get_protocol(f"{STUDY}/{task}/corrected")
    differs = pub.metrics != cor.metrics or pub.pairing != cor.pairing or bool(pub.runnable)
    reproduced = [b for b in pub.bugs if b.reproduced]
    assert differs == bool(reproduced), (task, differs, reproduced)
    assert (pub.resize, pub.reader, pub.crop, pub.suffixes) == (cor.resize, cor.reader, cor.crop, cor.suffixes)
    assert cor.runnable is None


@pytest.mark.parametrize("proto", [p.name for p in list_protocols()])
def test_protocol_metrics_and_options_exist(proto: str) -> None:
    from paradigm.metrics.registry import get_metric_class

    for spec in get_protocol(proto).metrics:
        cls = get_metric_class(spec.metric)
        assert set(spec.kwargs()) <= set(cls.defaults), (spec, cls.defaults)


def test_cli_lists_protocols_and_fixes() -> None:
    from paradigm.cli import cli

    out = CliRunner().invoke(cli, ["protocols"])
    assert out.exit_code == 0, out.output
    assert f"{STUDY}/dehazing/corrected@v1" in out.output and "fixes: brisque_negated" in out.output
    one = CliRunner().invoke(cli, ["protocols", f"{STUDY}/hdr_imaging"])
    assert "lpips_unnormalised (reproduced)" in one.output and "cv2-linear" in one.output
    bad = CliRunner().invoke(cli, ["protocols", "nope"])
    assert bad.exit_code != 0 and "unknown protocol" in bad.output


# -------------------------------------------------------------------------------------- every task


def test_super_resolution(tmp_path: Path) -> None:
    g = _img(1, 32, 40)
    o = _img(2, 16, 20)
    _save(tmp_path / "gt" / "baby.png", g)
    _save(tmp_path / "res" / "m" / "baby_SR.png", o)
    scores, info = _run("super_resolution", tmp_path / "res", gt=tmp_path / "gt")
    up = F.interpolate(torch.from_numpy(o / 255.0).permute(2, 0, 1)[None], size=(32, 40), mode="bicubic",
                       align_corners=False).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    up8 = np.rint(up * 255)  # float32 [0,1] tensors of 8-bit values: identical up to 1e-6
    w = np.array([0.299, 0.587, 0.114])
    mse = float(np.mean((up8 / 255 @ w - g / 255 @ w) ** 2))
    assert scores.loc[0, "study_psnr"] == pytest.approx(10 * math.log10(1 / (mse + 1e-8)), abs=1e-3)
    assert bool(scores.loc[0, "resized"])
    assert "study_lpips" in info["skipped_metrics"] or "study_lpips" in scores
    assert "protocol:" + STUDY + "/super_resolution/as-published@v1" in info["signature_line"]
    assert info["signature"]["resize"] == "torch-bicubic" and info["signature"]["composite"] is None


def test_super_resolution_nr_runs_at_native_size(tmp_path: Path) -> None:
    _save(tmp_path / "gt" / "a.png", _img(3, 32, 40))
    _save(tmp_path / "res" / "m" / "a_SR.png", _img(4, 16, 20))
    scores, info = _run("super_resolution-nr", tmp_path / "res", gt=tmp_path / "gt")
    assert not bool(scores.loc[0, "resized"])
    for name in ("musiq", "clipiqa"):  # model weights are not available in tests
        assert name in info["skipped_metrics"]


def _denoise_tree(tmp_path: Path, suffix: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g1, g2 = _img(5), _img(6)
    o1 = _noisy(_img(5, 40, 50), 7)  # a different size: Lanczos-resized to the GT
    _save(tmp_path / "gt" / "1.png", g1)
    _save(tmp_path / "gt" / "2.png", g2)
    _save(tmp_path / "res" / "m" / f"1{suffix}.png", o1)
    _save(tmp_path / "res" / "m" / f"2{suffix}.png", g2)  # identical to its GT
    return g1, o1, g2


@pytest.mark.parametrize(("task", "suffix"), [("denoising", "_dehazed"), ("low_light_enhance", "_mean")])
def test_denoising_and_low_light(tmp_path: Path, task: str, suffix: str) -> None:
    g1, o1, _ = _denoise_tree(tmp_path, suffix)
    lanczos = np.asarray(Image.fromarray(o1).resize((40, 32), Image.Resampling.LANCZOS))
    pub, _ = _run(f"{task}/as-published", tmp_path / "res", gt=tmp_path / "gt")
    assert pub.loc[0, "study_psnr"] == pytest.approx(_psnr(lanczos, g1), abs=1e-9)
    assert pub.loc[0, "study_ssim"] == pytest.approx(_sk_ssim(lanczos, g1), abs=1e-9)
    assert math.isnan(pub.loc[1, "study_psnr"])  # inf: left out of the PSNR mean (bug psnr_inf_excluded)
    assert pub.loc[1, "study_ssim"] == pytest.approx(1.0)
    cor, _ = _run(f"{task}/corrected", tmp_path / "res", gt=tmp_path / "gt")
    assert cor.loc[1, "study_psnr"] == 100.0
    assert cor.loc[0, "study_psnr"] == pub.loc[0, "study_psnr"]


def _gauss_zero_ssim(o: np.ndarray, g: np.ndarray) -> float:
    t = torch.arange(11, dtype=torch.float64) - 5
    k = torch.exp(-(t**2) / 4.5)
    k = k / k.sum()
    win = (k[:, None] * k[None, :])[None, None].repeat(3, 1, 1, 1)
    a = torch.from_numpy(o / 255.0).permute(2, 0, 1)[None]
    b = torch.from_numpy(g / 255.0).permute(2, 0, 1)[None]

    def f(v: torch.Tensor) -> torch.Tensor:
        return F.conv2d(v, win, padding=5, groups=3)

    m1, m2 = f(a), f(b)
    s1, s2, s12 = f(a * a) - m1**2, f(b * b) - m2**2, f(a * b) - m1 * m2
    return float((((2 * m1 * m2 + 1e-4) * (2 * s12 + 9e-4)) / ((m1**2 + m2**2 + 1e-4) * (s1 + s2 + 9e-4))).mean())


def test_motion_deblurring(tmp_path: Path) -> None:
    g = _img(8)
    o = _noisy(_img(8, 36, 44), 9)
    _save(tmp_path / "gt" / "x.png", g)
    _save(tmp_path / "res" / "m" / "x.png", o)
    scores, _ = _run("motion_deblurring", tmp_path / "res", gt=tmp_path / "gt")
    bil = np.asarray(Image.fromarray(o).resize((40, 32), Image.Resampling.BILINEAR))
    assert scores.loc[0, "study_psnr"] == pytest.approx(_psnr(bil, g), abs=1e-9)
    # the protocol computes this SSIM in float32 as the script does (float64 reference here)
    assert scores.loc[0, "study_ssim"] == pytest.approx(_gauss_zero_ssim(bil, g), abs=1e-5)


def test_defocus_sorted_index_pairing_bug(tmp_path: Path) -> None:
    gts = {n: _img(10 + n) for n in (1, 2, 3)}
    for n, g in gts.items():
        _save(tmp_path / "gt" / f"1P0A{n:04d}.png", g)
    for n in (1, 3):  # output 2 is missing
        _save(tmp_path / "res" / "method" / f"1P0A{n:04d}.png", _noisy(gts[n], n))  # RESULTS/<method>/
    pub, _ = _run("defocus_deblurring/as-published", tmp_path / "res", gt=tmp_path / "gt")
    assert [Path(p).name for p in pub["gt_path"]] == ["1P0A0001.png", "1P0A0002.png"]  # 3 scored against 2
    cor, _ = _run("defocus_deblurring/corrected", tmp_path / "res", gt=tmp_path / "gt")
    assert sorted(Path(p).name for p in cor["gt_path"]) == ["1P0A0001.png", "1P0A0003.png"]
    assert cor.loc[1, "study_psnr"] == pytest.approx(_psnr(_noisy(gts[3], 3), gts[3]), abs=1e-9)


def test_dehazing_brisque_sign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = [SHARED_WEIGHTS / "niqe" / "niqe_pris_params.npz", SHARED_WEIGHTS / "brisque" / "allmodel",
             SHARED_WEIGHTS / "brisque" / "allrange"]
    if not all(f.is_file() for f in files):
        pytest.skip(f"NIQE/BRISQUE parameters not found under {SHARED_WEIGHTS}")
    wdir = tmp_path / "w"
    wdir.mkdir()
    for f in files:
        shutil.copy(f, wdir / f.name)
    monkeypatch.setenv("PARADIGM_WEIGHTS_DIR", str(wdir))
    from scipy.ndimage import gaussian_filter

    a = np.clip(gaussian_filter(np.random.default_rng(20).normal(120, 60, (100, 110, 3)), (1.5, 1.5, 0)), 0, 255)
    _save(tmp_path / "hazy" / "h.png", a.astype(np.uint8))
    _save(tmp_path / "res" / "m" / "h_dehazed.png", a.astype(np.uint8))
    pub, info = _run("dehazing/as-published", tmp_path / "res", input=tmp_path / "hazy")
    cor, _ = _run("dehazing/corrected", tmp_path / "res", input=tmp_path / "hazy")
    assert pub.loc[0, "study_brisque"] == pytest.approx(-cor.loc[0, "study_brisque"], abs=1e-12)
    assert pub.loc[0, "study_niqe"] == cor.loc[0, "study_niqe"] and np.isfinite(pub.loc[0, "study_niqe"])
    assert "nima" in info["skipped_metrics"]


def _basicsr_3d_ssim(o: np.ndarray, g: np.ndarray) -> float:
    t = torch.arange(11, dtype=torch.float64) - 5
    k = torch.exp(-(t**2) / 4.5)
    k = k / k.sum()
    k3 = (k[:, None, None] * k[None, :, None] * k[None, None, :])[None, None]

    def f(v: np.ndarray) -> torch.Tensor:
        return F.conv3d(F.pad(torch.from_numpy(v.astype(np.float64))[None, None], (5,) * 6, mode="replicate"), k3)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    a, b = o.astype(np.float64), g.astype(np.float64)
    m1, m2 = f(a), f(b)
    s1, s2, s12 = f(a * a) - m1**2, f(b * b) - m2**2, f(a * b) - m1 * m2
    return float((((2 * m1 * m2 + c1) * (2 * s12 + c2)) / ((m1**2 + m2**2 + c1) * (s1 + s2 + c2))).mean())


def test_deshadowing_rsplit_pairing_bug(tmp_path: Path) -> None:
    g1, g2 = _img(21), _img(22)
    _save(tmp_path / "gt" / "scene_1.png", g1)
    _save(tmp_path / "gt" / "scene_2.png", g2)  # same key 'scene' as scene_1: the later file wins
    o1 = _noisy(g1, 23)
    _save(tmp_path / "res" / "scene_1.png", o1)
    pub, _ = _run("deshadowing/as-published", tmp_path / "res", gt=tmp_path / "gt")
    assert Path(pub.loc[0, "gt_path"]).name == "scene_2.png"
    assert pub.loc[0, "study_psnr"] == pytest.approx(_psnr(o1, g2), abs=1e-9)
    cor, _ = _run("deshadowing/corrected", tmp_path / "res", gt=tmp_path / "gt")
    assert Path(cor.loc[0, "gt_path"]).name == "scene_1.png"
    assert cor.loc[0, "study_ssim"] == pytest.approx(_basicsr_3d_ssim(o1, g1), abs=1e-5)  # float32 as the script


def test_flare_scores_inputs_bug(tmp_path: Path) -> None:
    from skimage.transform import resize as sk_resize

    gts = [_img(30 + i) for i in range(2)]
    inputs = [_noisy(_img(30 + i, 40, 50), 40 + i) for i in range(2)]
    outs = [_noisy(g, 50 + i) for i, g in enumerate(gts)]
    for i in range(2):
        _save(tmp_path / "gt" / f"g{i}.png", gts[i])
        _save(tmp_path / "input" / f"in{i}.png", inputs[i])
        _save(tmp_path / "res" / "m" / f"g{i}.png", outs[i])
    pub, _ = _run("flare_removal/as-published", tmp_path / "res", gt=tmp_path / "gt", input=tmp_path / "input")
    small = sk_resize(inputs[0], (32, 40), preserve_range=True, anti_aliasing=True).astype(np.uint8)
    assert pub.loc[0, "study_psnr"] == pytest.approx(_psnr(small, gts[0]), abs=1e-9)
    assert pub.loc[0, "study_ssim"] == pytest.approx(_sk_ssim(small, gts[0]), abs=1e-9)
    cor, _ = _run("flare_removal/corrected", tmp_path / "res", gt=tmp_path / "gt", input=tmp_path / "input")
    assert cor.loc[0, "study_psnr"] == pytest.approx(_psnr(outs[0], gts[0]), abs=1e-9)


def test_hdr_imaging(tmp_path: Path) -> None:
    from skimage.color import deltaE_ciede94, rgb2lab

    g = _img(60)
    o = _noisy(_img(60, 64, 80), 61)  # exactly 2x: OpenCV INTER_LINEAR becomes a 2x2 average
    _save(tmp_path / "gt" / "h.png", g)
    _save(tmp_path / "res" / "m" / "h.png", o)
    scores, info = _run("hdr_imaging", tmp_path / "res", gt=tmp_path / "gt")
    a = o.astype(np.int64)
    half = ((a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2] + 2) >> 2).astype(np.uint8)
    assert scores.loc[0, "study_psnr"] == pytest.approx(_psnr(half, g), abs=1e-9)
    assert scores.loc[0, "study_ssim"] == pytest.approx(_sk_ssim(half, g), abs=1e-9)
    de = float(np.mean(deltaE_ciede94(rgb2lab(g), rgb2lab(half))))
    assert scores.loc[0, "study_delta_e94"] == pytest.approx(de, abs=1e-9)
    assert "study_lpips" in info["skipped_metrics"] or "study_lpips" in scores


def _grey(a: np.ndarray) -> np.ndarray:
    r, g, b = (a[..., i].astype(np.int64) for i in range(3))
    return np.where((r == g) & (r == b), r, (9797 * r + 19234 * g + 3737 * b) >> 15).astype(np.float64)


def test_infrared_visible_fusion(tmp_path: Path) -> None:
    ir, vi = _img(70), _img(71)
    fu = ((ir.astype(np.int64) + vi) // 2).astype(np.uint8)
    _save(tmp_path / "ir" / "00001.png", ir)
    _save(tmp_path / "vi" / "00001.png", vi)
    _save(tmp_path / "fus" / "m" / "00001_fusion.png", fu)
    scores, _ = _run("infrared_visible_fusion", tmp_path / "fus", input=tmp_path / "ir", input2=tmp_path / "vi")
    ga, gb, gf = _grey(ir), _grey(vi), _grey(fu)
    hist = np.histogram(gf, bins=256, range=(0, 256))[0] / gf.size
    hist = hist[hist > 0]
    assert scores.loc[0, "study_fusion_en"] == pytest.approx(-(hist * np.log2(hist)).sum(), abs=1e-12)
    assert scores.loc[0, "study_fusion_sd"] == pytest.approx(gf.std(), abs=1e-9)
    scd = np.corrcoef((gf - gb).ravel(), ga.ravel())[0, 1] + np.corrcoef((gf - ga).ravel(), gb.ravel())[0, 1]
    assert scores.loc[0, "study_fusion_scd"] == pytest.approx(scd, abs=1e-12)
    assert np.isfinite(scores.loc[0, "study_fusion_vif"])


def test_multi_focus_fusion(tmp_path: Path) -> None:
    a, b = _img(80), _img(81)
    fu = ((a.astype(np.int64) + b) // 2).astype(np.uint8)
    _save(tmp_path / "A" / "lytro-01.png", a)
    _save(tmp_path / "B" / "lytro-01.png", b)
    _save(tmp_path / "fus" / "m" / "lytro-01-Fused-SESF.png", fu)
    with pytest.raises(InputError, match="nan"):
        _run("multi_focus_fusion/as-published", tmp_path / "fus", input=tmp_path / "A", input2=tmp_path / "B")
    scores, _ = _run("multi_focus_fusion/corrected", tmp_path / "fus", input=tmp_path / "A", input2=tmp_path / "B")

    def h(x: np.ndarray) -> float:
        p = np.bincount(x.astype(int).ravel(), minlength=256) / x.size
        p = p[p > 0]
        return float(-(p * np.log2(p)).sum())

    def mi(x: np.ndarray, y: np.ndarray) -> float:
        return h(x) + h(y) - h(x * 256 + y)

    ga, gb, gf = _grey(a), _grey(b), _grey(fu)
    want = 2 * (mi(ga, gf) + mi(gb, gf)) / (h(ga) + h(gb) + 1e-10)
    assert scores.loc[0, "study_fusion_nmi"] == pytest.approx(want, abs=1e-12)
    for c in ("study_fusion_qy", "study_fusion_qcb", "study_fusion_en", "study_fusion_ag", "study_fusion_sf"):
        assert np.isfinite(scores.loc[0, c])


def test_reflection_removal(tmp_path: Path) -> None:
    g = _img(90)
    o = _noisy(_img(90, 30, 38), 91)
    _save(tmp_path / "gt" / "001.png", g)
    _save(tmp_path / "res" / "m" / "001_output.png", o)
    scores, info = _run("reflection_removal", tmp_path / "res", gt=tmp_path / "gt")
    lz = np.asarray(Image.fromarray(o).resize((40, 32), Image.Resampling.LANCZOS)).astype(np.float64)
    want = np.mean([10 * math.log10(255**2 / np.mean((lz[..., c] - g[..., c]) ** 2)) for c in range(3)])
    assert scores.loc[0, "study_psnr"] == pytest.approx(want, abs=1e-9)
    assert scores.loc[0, "study_ssim"] == pytest.approx(_sk_ssim(lz.astype(np.uint8), g), abs=1e-9)
    assert info["counts"]["errors_by_stage"].get("metric", 0) >= 1  # MS-SSIM needs 161 px: an error row


def test_underwater_bgr_bug(tmp_path: Path) -> None:
    ref = _img(100)
    out = _img(101)
    out[..., 0] = out[..., 0] // 2  # a colour cast, so the channel order matters
    _save(tmp_path / "ref" / "u.png", ref)
    _save(tmp_path / "res" / "m" / "u.png", out)
    pub, _ = _run("underwater_enhancement/as-published", tmp_path / "res", gt=tmp_path / "ref")
    cor, _ = _run("underwater_enhancement/corrected", tmp_path / "res", gt=tmp_path / "ref")
    assert pub.loc[0, "study_uciqe"] == cor.loc[0, "study_uciqe"]
    assert pub.loc[0, "study_uicm"] != pytest.approx(cor.loc[0, "study_uicm"], abs=1e-6)
    assert pub.loc[0, "study_uiconm"] == pytest.approx(cor.loc[0, "study_uiconm"], abs=1e-12)  # symmetric


def test_deraining_matlab_y(tmp_path: Path) -> None:
    g = _img(110)
    o = _noisy(g, 111)
    _save(tmp_path / "gt" / "r.png", g)
    _save(tmp_path / "res" / "m" / "r.png", o)
    _save(tmp_path / "gt" / "s.png", g)
    _save(tmp_path / "res" / "m" / "s.png", _img(112, 30, 40))  # size mismatch: MATLAB fails, an error row
    scores, info = _run("deraining", tmp_path / "res", gt=tmp_path / "gt")

    def y(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float64)
        return np.floor(16 + (65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]) / 255 + 0.5)

    assert scores.loc[0, "study_psnr"] == pytest.approx(10 * math.log10(255**2 / np.mean((y(o) - y(g)) ** 2)))
    assert info["counts"]["errors_by_stage"].get("resize") == 1


def test_protocol_refuses_conflicting_options(tmp_path: Path) -> None:
    _save(tmp_path / "gt" / "a.png", _img(120))
    _save(tmp_path / "res" / "m" / "a.png", _img(121))
    with pytest.raises(InputError, match="fixes the crop"):
        _run("denoising", tmp_path / "res", gt=tmp_path / "gt", crop_border=4)
    with pytest.raises(InputError, match="needs --input"):
        _run("dehazing", tmp_path / "res", gt=tmp_path / "gt")
    with pytest.raises(InputError, match="fixes the metric set"):
        _run("denoising", tmp_path / "res", gt=tmp_path / "gt", metrics="psnr")


def test_cli_score_with_protocol(tmp_path: Path) -> None:
    from paradigm.cli import cli

    g = _img(130)
    _save(tmp_path / "gt" / "a.png", g)
    _save(tmp_path / "res" / "m" / "a_dehazed.png", _noisy(g, 131))
    out = CliRunner().invoke(cli, ["score", str(tmp_path / "res"), "--gt", str(tmp_path / "gt"), "--no-cache", "-q",
                                   "--protocol", f"{STUDY}/denoising/corrected"])
    assert out.exit_code == 0, out.output
    assert f"protocol:{STUDY}/denoising/corrected@v1" in out.output and "resize:pil-lanczos" in out.output


def test_rsplit_pairing_reports_unmatched_outputs(tmp_path: Path) -> None:
    _save(tmp_path / "gt" / "a_1.png", _img(140))
    _save(tmp_path / "res" / "a_1.png", _img(141))
    _save(tmp_path / "res" / "b_1.png", _img(142))  # key 'b': no GT
    scores, info = _run("deshadowing", tmp_path / "res", gt=tmp_path / "gt")
    assert len(scores) == 1 and info["counts"]["unpaired"] == 1


def test_cv2_grey_reader(tmp_path: Path) -> None:
    from paradigm.protocols.readers import read_cv2_grey

    a = _img(150, 24, 30)
    _save(tmp_path / "a.png", a)
    Image.fromarray(a).save(tmp_path / "a.jpg", quality=85)
    png = np.rint(read_cv2_grey(tmp_path / "a.png").numpy() * 255)
    assert (png[0] == png[1]).all() and (png[0] == png[2]).all()
    np.testing.assert_array_equal(png[0], _grey(a))  # libpng's rgb_to_gray
    with Image.open(tmp_path / "a.jpg") as im:
        im.draft("L", im.size)  # libjpeg's own grey output (the JPEG's Y plane)
        y = np.asarray(im, dtype=np.float64)
    np.testing.assert_array_equal(np.rint(read_cv2_grey(tmp_path / "a.jpg").numpy()[0] * 255), y)
    try:
        import cv2
    except ImportError:
        return
    for name in ("a.png", "a.jpg"):
        want = cv2.imread(str(tmp_path / name), 0)
        np.testing.assert_array_equal(np.rint(read_cv2_grey(tmp_path / name).numpy()[0] * 255), want)
