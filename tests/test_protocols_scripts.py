"""`paradigm score --protocol` against the study's own scripts, where they can run here.

Skipped unless ``PARADIGM_LLB_EVAL`` points to the ``eval/`` folder of ``Zplusdragon/LowLevelBanana``
(a checkout of the study's repository; nothing is downloaded). The scripts that need only numpy,
Pillow, scikit-image, torch and piq run here (denoising / low-light, motion and defocus deblurring,
reflection removal and flare removal with LPIPS stubbed out: its AlexNet backbone is not available
offline). OpenCV, pyiqa, kornia and MATLAB scripts cannot run here; see docs/protocols.md.

    PARADIGM_LLB_EVAL=/path/to/LowLevelBanana/eval pytest tests/test_protocols_scripts.py
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from paradigm.engine import ScoreConfig, run_score

EVAL = os.environ.get("PARADIGM_LLB_EVAL")
pytestmark = pytest.mark.skipif(not EVAL, reason="set PARADIGM_LLB_EVAL to the study's eval/ folder to compare")
STUDY = "lowlevelbanana-2512.15110"


def _load(rel: str, name: str) -> ModuleType:
    path = Path(str(EVAL)) / rel
    if not path.is_file():
        pytest.skip(f"{path} not found")
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(path.parent))
    return mod


def _photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return np.clip(gaussian_filter(rng.normal(128, 60, (h, w, 3)), (1.5, 1.5, 0)), 0, 255).astype(np.uint8)


def _noisy(rng: np.random.Generator, g: np.ndarray, amp: int = 25) -> np.ndarray:
    return np.clip(g.astype(np.int64) + rng.integers(-amp, amp + 1, g.shape), 0, 255).astype(np.uint8)


def _save(p: Path, a: np.ndarray) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(p)


def _score(name: str, results: Path, **kw: Any) -> Any:
    cfg = ScoreConfig(results=results, gt=kw.pop("gt", None), protocol=f"{STUDY}/{name}", cache=None, workers=0,
                      progress=False, n_boot=10, **kw)
    return run_score(cfg).scores


def test_denoising_script(tmp_path: Path) -> None:
    mod = _load("denoising/eval.py", "llb_denoise")
    rng = np.random.default_rng(0)
    for i in range(5):
        g = _photo(rng, 48 + 8 * i, 64 + 4 * i)
        o = g if i == 4 else _noisy(rng, g)
        if i % 2 == 0 and i != 4:
            o = np.asarray(Image.fromarray(o).resize((o.shape[1] + 7, o.shape[0] + 5)))
        _save(tmp_path / "gt" / f"{i}.png", g)
        _save(tmp_path / "res" / "m" / f"{i}_dehazed.png", o)
    s = _score("denoising/as-published", tmp_path / "res", gt=tmp_path / "gt")
    for _, r in s.iterrows():
        with contextlib.redirect_stdout(io.StringIO()):
            p, q = mod.calculate_psnr_ssim(mod.load_image(r.gt_path), mod.load_image(r.output_path))
        assert q == pytest.approx(r.study_ssim, abs=1e-6)
        assert (math.isinf(p) and math.isnan(r.study_psnr)) or p == pytest.approx(r.study_psnr, rel=1e-6)


@pytest.mark.parametrize(("script", "proto"), [("metrics_dpdd.py", "as-published"), ("metrics_batch.py", "corrected")])
def test_defocus_scripts(tmp_path: Path, script: str, proto: str) -> None:
    mod = _load(f"defocus_deblurring/{script}", f"llb_{script[:-3]}")
    rng = np.random.default_rng(1)
    for i in range(5):
        g = _photo(rng, 48 + 8 * i, 64 + 4 * i)
        _save(tmp_path / "gt" / f"1P0A{i:04d}.png", g)
        if i != 2:  # a missing output: the DPDD script shifts every later pair
            o = g if i == 4 else _noisy(rng, g)
            _save(tmp_path / "res" / f"1P0A{i:04d}.png", o if i % 2 else np.asarray(Image.fromarray(o).resize((70, 50))))
    with contextlib.redirect_stdout(io.StringIO()):
        want = mod.compute_metrics_for_pairs(str(tmp_path / "res"), str(tmp_path / "gt"), device="cpu")
    s = _score(f"defocus_deblurring/{proto}", tmp_path / "res", gt=tmp_path / "gt")
    got = {(Path(r.output_path).name, Path(r.gt_path).name): r for _, r in s.iterrows()}
    assert len(got) == len(want)
    for w in want:
        r = got[(Path(w["result_file"]).name, Path(w["target_file"]).name)]
        assert r.study_ssim == pytest.approx(w["ssim"], abs=1e-6)
        assert r.study_psnr == pytest.approx(w["psnr"], rel=1e-6)


def _stub_lpips(monkeypatch: pytest.MonkeyPatch) -> None:
    lp = pytest.importorskip("lpips", reason="the scripts import lpips")

    class Stub(torch.nn.Module):
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def forward(self, a: torch.Tensor, b: torch.Tensor, *x: Any, **k: Any) -> torch.Tensor:
            return torch.zeros(1)

    monkeypatch.setattr(lp, "LPIPS", Stub)


def _reflection_tree(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    for i in range(3):
        g = _photo(rng, 170 + 3 * i, 180 + 5 * i)
        o = _noisy(rng, g)
        if i % 2:
            o = np.asarray(Image.fromarray(o).resize((o.shape[1] + 9, o.shape[0] + 4)))
        inp = np.asarray(Image.fromarray(_noisy(rng, g, 60)).resize((g.shape[1] * 2, g.shape[0] * 2)))
        _save(tmp_path / "gt" / f"{i:03d}.png", g)
        _save(tmp_path / "res" / "m" / f"{i:03d}_output.png", o)
        _save(tmp_path / "in" / f"{i:03d}_in.png", inp)


def test_reflection_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("piq", reason="the reflection script uses piq")
    _stub_lpips(monkeypatch)
    mod = _load("reflection_removal/eval.py", "llb_reflection")
    _reflection_tree(tmp_path)
    s = _score("reflection_removal", tmp_path / "res", gt=tmp_path / "gt")
    for _, r in s.iterrows():
        g, o = mod.load_image(r.gt_path), mod.load_image(r.output_path)
        if o.shape != g.shape:
            o = mod.resize_image(o, g.shape)
        assert r.study_psnr == pytest.approx(mod.calculate_psnr_single(g, o), rel=1e-6)
        assert r.study_ssim == pytest.approx(mod.calculate_ssim_single(g, o), abs=1e-6)
        assert r.study_ms_ssim == pytest.approx(mod.calculate_ms_ssim_single(g, o), abs=2e-5)  # piq runs in float32


def test_flare_script_scores_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stub_lpips(monkeypatch)
    mod = _load("flare_removal/evaluate.py", "llb_flare")
    _reflection_tree(tmp_path)
    monkeypatch.setitem(mod.datasets, "probe", {"input": str(tmp_path / "in"), "gt": str(tmp_path / "gt"),
                                                 "output": str(tmp_path / "res" / "m")})
    (tmp_path / "o").mkdir()
    with contextlib.redirect_stdout(io.StringIO()):
        mod.calculate_metrics("probe", str(tmp_path / "o"))
    import pandas as pd

    want = pd.read_csv(tmp_path / "o" / "probe_evaluate_result.csv")
    s = _score("flare_removal/as-published", tmp_path / "res", gt=tmp_path / "gt", input=tmp_path / "in")
    np.testing.assert_allclose(s["study_psnr"].to_numpy(), want["PSNR"].to_numpy(), atol=5e-5)  # CSV: 4 decimals
    np.testing.assert_allclose(s["study_ssim"].to_numpy(), want["SSIM"].to_numpy(), atol=5e-5)
    assert [Path(p).name for p in s["output_path"]] == [Path(p).name for p in want["output_path"]]


def test_deshadowing_basicsr_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    """BasicSR's calculate_psnr / calculate_ssim (``_ssim_3d``) from the study's copy, run on CPU.

    OpenCV and kornia are not installed: ``cv2.getGaussianKernel`` is replaced by its documented
    formula, kornia by an empty module (unused by these two functions), ``.cuda()`` by a no-op.
    """
    import types

    path = Path(str(EVAL)) / "deshadowing" / "basicsr" / "metrics" / "psnr_ssim.py"
    if not path.is_file():
        pytest.skip(f"{path} not found")

    def gaussian_kernel(k: int, s: float) -> np.ndarray:
        t = np.arange(k) - (k - 1) / 2
        g = np.exp(-(t**2) / (2 * s * s))
        return (g / g.sum())[:, None]

    class Registry:
        def register(self) -> Any:
            return lambda f: f

    fakes = {"cv2": types.SimpleNamespace(getGaussianKernel=gaussian_kernel), "kornia": types.ModuleType("kornia"),
             "basicsr": types.ModuleType("basicsr"), "basicsr.metrics": types.ModuleType("basicsr.metrics"),
             "basicsr.utils": types.ModuleType("basicsr.utils"),
             "basicsr.metrics.metric_util": types.SimpleNamespace(reorder_image=lambda img, input_order="HWC": img,
                                                                   to_y_channel=None),
             "basicsr.utils.registry": types.SimpleNamespace(METRIC_REGISTRY=Registry())}
    for k, v in fakes.items():
        monkeypatch.setitem(sys.modules, k, v)
    monkeypatch.setattr(torch.Tensor, "cuda", lambda self, *a, **k: self)
    monkeypatch.setattr(torch.nn.Module, "cuda", lambda self, *a, **k: self)
    ns: dict[str, Any] = {}
    exec(compile(path.read_text(), str(path), "exec"), ns)  # noqa: S102 - the study's file, read locally
    from paradigm.metrics.registry import create_metric

    rng = np.random.default_rng(3)
    for i in range(3):
        g = rng.integers(0, 256, (40 + 7 * i, 50 + 3 * i, 3), dtype=np.uint8)
        o = _noisy(rng, g, 30)
        if i == 2:
            o = (o > 250).astype(np.uint8)  # maximum <= 1: BasicSR's peak becomes 1

        def t(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a.astype(np.float32) / 255).permute(2, 0, 1)[None]

        bo, bg = o[..., ::-1].copy(), g[..., ::-1].copy()  # cv2.imread order
        psnr = float(create_metric("study_psnr", variant="rgb-basicsr")(t(o), t(g))[0])
        ssim = float(create_metric("study_ssim", variant="basicsr-3d", float32=True)(t(o), t(g))[0])
        assert psnr == pytest.approx(ns["calculate_psnr"](bo, bg, 0), rel=1e-12)
        assert ssim == pytest.approx(ns["calculate_ssim"](bo, bg, 0), abs=1e-6)


def _exec_with_cv2_stub(rel: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Execute a study script whose metric functions do not use OpenCV (cv2 replaced by an empty module)."""
    import types

    path = Path(str(EVAL)) / rel
    if not path.is_file():
        pytest.skip(f"{path} not found")
    monkeypatch.setitem(sys.modules, "cv2", types.ModuleType("cv2"))
    ns: dict[str, Any] = {"__name__": "llb_probe"}
    exec(compile(path.read_text(), str(path), "exec"), ns)  # noqa: S102 - the study's file, read locally
    return ns


def test_fusion_metric_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fusion scripts' torch metric functions on the same grey images (float32 there: rel <= 1e-5)."""
    from scipy.ndimage import gaussian_filter

    from paradigm.metrics.registry import create_metric
    from paradigm.metrics.study_fusion import grey_cv2

    iv = _exec_with_cv2_stub("infrared_visible_fusion/metric_ivif.py", monkeypatch)
    mf = _exec_with_cv2_stub("multi_focus_fusion/metric_mfif.py", monkeypatch)
    rng = np.random.default_rng(5)
    a, b = (np.clip(gaussian_filter(rng.normal(128, 70, (60, 72, 3)), (1.2, 1.2, 0)), 0, 255).astype(np.uint8)
            for _ in range(2))
    a[:8] = 255
    f = ((a.astype(np.int64) + b) // 2).astype(np.uint8)
    f[:4] = 128  # exercises the merged histc bin (255, 128)

    def t(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x.astype(np.float32) / 255).permute(2, 0, 1)[None]

    ga, gb, gf = (torch.from_numpy(grey_cv2(x.astype(np.float64))).float() for x in (a, b, f))
    ref = torch.cat([t(a), t(b)], 1)
    cases = [("study_fusion_en", {}, iv["EN_function"](gf)), ("study_fusion_sd", {}, iv["SD_function"](gf)),
             ("study_fusion_sf", {}, iv["SF_function"](gf)), ("study_fusion_ag", {}, iv["AG_function"](gf)),
             ("study_fusion_scd", {}, iv["SCD_function"](ga, gb, gf)), ("study_fusion_vif", {}, iv["VIF_function"](ga, gb, gf)),
             ("study_fusion_nmi", {"histc_float32": True}, mf["NMI_function"](ga, gb, gf)),
             ("study_fusion_qcb", {}, mf["Qcb_function"](ga, gb, gf))]
    for name, opts, want in cases:
        m = create_metric(name, **opts)
        got = m(t(f)) if m.reference == "none" else m(t(f), ref)
        assert float(got[0]) == pytest.approx(float(want), rel=1e-5), name
    with pytest.raises(RuntimeError):  # bug qy_dtype_mix: float64 images, float32 window
        mf["Qy_function"](ga, gb, gf)


def test_underwater_uiqm_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """The underwater script's calculate_uiqm (numpy/scipy/skimage only) on a BGR array, as cv2.imread gives."""
    from paradigm.metrics.registry import create_metric

    ns = _exec_with_cv2_stub("underwater_enhancement/uie_evl_withoutgt.py", monkeypatch)
    rng = np.random.default_rng(6)
    for h, w in ((40, 45), (37, 52)):  # 37 x 52: not multiples of 5, the script resizes its blocks
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        rgb[..., 0] //= 2
        want = ns["calculate_uiqm"](rgb[..., ::-1].copy(), return_submetrics=True)
        got = create_metric("study_uiqm", bgr=True)(torch.from_numpy(rgb / 255.0).permute(2, 0, 1)[None])
        for key, w_ in zip(("study_uiqm", "study_uicm", "study_uism", "study_uiconm"), want, strict=True):
            assert float(got[key][0]) == pytest.approx(float(w_), rel=1e-9), key


def test_dehazing_basicsr_niqe(monkeypatch: pytest.MonkeyPatch) -> None:
    """BasicSR calculate_niqe of the dehazing script, with cv2.resize of an exact half as OpenCV's 2x2 mean."""
    import types

    root = Path(str(EVAL)) / "dehazing"
    if not (root / "basicsr" / "metrics" / "niqe.py").is_file():
        pytest.skip(f"{root} has no basicsr/metrics/niqe.py")

    def half(img: np.ndarray, size: tuple[int, int], interpolation: int = 1) -> np.ndarray:
        w, h = size
        assert img.shape[0] == 2 * h and img.shape[1] == 2 * w  # the only resize NIQE makes
        return (img[0::2, 0::2] + img[1::2, 0::2] + img[0::2, 1::2] + img[1::2, 1::2]) / 4

    monkeypatch.setitem(sys.modules, "cv2", types.SimpleNamespace(resize=half, INTER_LINEAR=1))
    mods: dict[str, Any] = {}
    for name, rel in (("basicsr.utils.matlab_functions", "utils/matlab_functions.py"),
                      ("basicsr.metrics.metric_util", "metrics/metric_util.py"), ("llb_niqe", "metrics/niqe.py")):
        for parent in ("basicsr", "basicsr.utils", "basicsr.metrics"):
            monkeypatch.setitem(sys.modules, parent, sys.modules.get(parent) or types.ModuleType(parent))
        mod = types.ModuleType(name)
        exec(compile((root / "basicsr" / rel).read_text(), rel, "exec"), mod.__dict__)  # noqa: S102
        monkeypatch.setitem(sys.modules, name, mod)
        mods[name] = mod
    monkeypatch.chdir(root)  # the script loads basicsr/metrics/niqe_pris_params.npz relative to the cwd
    from scipy.ndimage import gaussian_filter

    from paradigm.metrics.registry import create_metric

    rng = np.random.default_rng(7)
    rgb = np.clip(gaussian_filter(rng.normal(120, 60, (200, 290, 3)), (1.5, 1.5, 0)) + rng.normal(0, 6, (200, 290, 3)),
                  0, 255).astype(np.uint8)
    want = float(np.asarray(mods["llb_niqe"].calculate_niqe(rgb[..., ::-1].copy(), 0, "HWC", "y")).squeeze())
    got = create_metric("study_niqe", params_path=str(root / "basicsr" / "metrics" / "niqe_pris_params.npz"))
    val = float(got(torch.from_numpy(rgb / 255.0).permute(2, 0, 1)[None])[0])
    print(f"NIQE script {want!r} paradigm {val!r}")
    assert val == pytest.approx(want, rel=1e-5)


def test_hdr_quality_assess(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HDR script's quality_assess (skimage PSNR, SSIM, CIE94 ΔE) on the resized output."""
    from paradigm.metrics.registry import create_metric

    pytest.importorskip("lpips", reason="the HDR script imports lpips")
    ns = _exec_with_cv2_stub("hdr_imaging/hdr_evl.py", monkeypatch)
    rng = np.random.default_rng(8)
    g = rng.integers(0, 256, (36, 44, 3), dtype=np.uint8)
    o = _noisy(rng, g, 40)
    want = ns["quality_assess"](o, g, data_range=255)

    def t(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x / 255.0).permute(2, 0, 1)[None]

    assert float(create_metric("study_psnr")(t(o), t(g))[0]) == pytest.approx(want["PSNR"], rel=1e-12)
    assert float(create_metric("study_ssim")(t(o), t(g))[0]) == pytest.approx(want["SSIM"], abs=1e-10)
    assert float(create_metric("study_delta_e94")(t(o), t(g))[0]) == pytest.approx(want["DeltaE"], abs=1e-9)


# ---- with OpenCV installed (not a dependency: pip install opencv-python-headless), whole scripts


def _exec_script(rel: str) -> dict[str, Any]:
    pytest.importorskip("cv2", reason="OpenCV is not installed (the script needs it)")
    path = Path(str(EVAL)) / rel
    if not path.is_file():
        pytest.skip(f"{path} not found")
    ns: dict[str, Any] = {"__name__": "llb_probe"}
    exec(compile(path.read_text(), str(path), "exec"), ns)  # noqa: S102 - the study's file, read locally
    return ns


def test_ivif_script_with_opencv(tmp_path: Path) -> None:
    ns = _exec_script("infrared_visible_fusion/metric_ivif.py")
    rng = np.random.default_rng(9)
    for i in range(3):
        ir = _photo(rng, 60, 80)
        ir[..., 1] = ir[..., 2] = ir[..., 0]
        vi = _photo(rng, 60, 80)
        _save(tmp_path / "ir" / f"{i:05d}.png", ir)
        _save(tmp_path / "vi" / f"{i:05d}.png", vi)
        _save(tmp_path / "fus" / "m" / f"{i:05d}_fusion.png", ((ir.astype(np.int64) + vi) // 2).astype(np.uint8))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        want = ns["evaluate_dataset"]({"name": "M3FD", "ir_dir": str(tmp_path / "ir"), "vi_dir": str(tmp_path / "vi"),
                                       "fus_dir": str(tmp_path / "fus" / "m"), "source_ext": ".png"})
    s = _score("infrared_visible_fusion", tmp_path / "fus", input=tmp_path / "ir", input2=tmp_path / "vi")
    for k, v in want.items():
        assert float(s[f"study_fusion_{k.lower()}"].mean()) == pytest.approx(float(v), rel=1e-5), k


def test_underwater_script_with_opencv(tmp_path: Path) -> None:
    ns = _exec_script("underwater_enhancement/uie_evl_withoutgt.py")
    rng = np.random.default_rng(10)
    for i in range(3):
        out = _photo(rng, 40 + 9 * i, 50 + 11 * i)
        out[..., 0] //= 2
        _save(tmp_path / "ref" / f"u{i}.png", _photo(rng, 52, 67))
        _save(tmp_path / "out" / "m" / f"u{i}.png", out)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        want = ns["calculate_average_metrics"](str(tmp_path / "out" / "m"), str(tmp_path / "ref"))
    s = _score("underwater_enhancement/as-published", tmp_path / "out", gt=tmp_path / "ref")
    for key, col in (("UCIQE", "study_uciqe"), ("UIQM", "study_uiqm"), ("UICM", "study_uicm"), ("UISM", "study_uism"),
                     ("UICONM", "study_uiconm")):
        label = next(k for k in want if k.endswith(key) and k.startswith("平均"))
        # printed to 4 decimals; OpenCV's IPP cubic resize may round a few pixels differently (1e-5)
        assert float(s[col].mean()) == pytest.approx(float(want[label]), abs=1e-4), key


def test_hdr_script_with_opencv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stub_lpips(monkeypatch)
    ns = _exec_script("hdr_imaging/hdr_evl.py")
    rng = np.random.default_rng(11)
    for i in range(3):
        g = _photo(rng, 48, 64)
        o = _noisy(rng, g, 20)
        if i:  # an exact 2x output (OpenCV's INTER_AREA route) and a fractional one
            o = np.asarray(Image.fromarray(o).resize((128, 96) if i == 1 else (67, 53)))
        _save(tmp_path / "gt" / f"h{i}.png", g)
        _save(tmp_path / "res" / "m" / f"h{i}.png", o)
    import lpips

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        want = ns["evaluate_dataset"](str(tmp_path / "res" / "m"), str(tmp_path / "gt"), torch.device("cpu"),
                                      lpips.LPIPS())
    s = _score("hdr_imaging", tmp_path / "res", gt=tmp_path / "gt")
    got = {Path(r.output_path).name: r for _, r in s.iterrows()}
    for w in want:
        r = got[w["name"]]
        assert r.study_psnr == pytest.approx(w["PSNR"], abs=1e-9)
        assert r.study_ssim == pytest.approx(w["SSIM"], abs=1e-9)
        assert r.study_delta_e94 == pytest.approx(w["DeltaE"], abs=1e-9)


def test_deshadow_script_with_opencv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """deshadow.py itself: name cut at the last '_', cv2 cubic resize, BasicSR PSNR / 3-D SSIM."""
    import types

    pytest.importorskip("cv2", reason="OpenCV is not installed (the script needs it)")
    root = Path(str(EVAL)) / "deshadowing"
    if not (root / "deshadow.py").is_file():
        pytest.skip(f"{root} has no deshadow.py")
    for name, sub in (("basicsr", ""), ("basicsr.utils", "utils"), ("basicsr.metrics", "metrics")):
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(root / "basicsr" / sub)] if sub else [str(root / "basicsr")]
        monkeypatch.setitem(sys.modules, name, pkg)  # package folders without their heavy __init__
    monkeypatch.setitem(sys.modules, "kornia", types.ModuleType("kornia"))
    monkeypatch.setattr(torch.Tensor, "cuda", lambda self, *a, **k: self)
    monkeypatch.setattr(torch.nn.Module, "cuda", lambda self, *a, **k: self)
    ns = _exec_script("deshadowing/deshadow.py")
    rng = np.random.default_rng(12)
    gts = {n: _photo(rng, 48, 64) for n in ("scene_1", "scene_2", "other")}
    for n, g in gts.items():
        _save(tmp_path / "gt" / f"{n}.png", g)
    _save(tmp_path / "res" / "scene_1.png", np.asarray(Image.fromarray(_noisy(rng, gts["scene_1"])).resize((70, 50))))
    _save(tmp_path / "res" / "other_x.png", _noisy(rng, gts["other"]))
    ns["PRED_DIR"], ns["GT_DIR"] = tmp_path / "res", tmp_path / "gt"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ns["main"]()
    lines = {ln.split(":")[0]: float(ln.split(":")[1]) for ln in buf.getvalue().splitlines() if ln.startswith("Average")}
    s = _score("deshadowing/as-published", tmp_path / "res", gt=tmp_path / "gt")
    assert sorted(Path(p).name for p in s["gt_path"]) == ["other.png", "scene_2.png"]  # scene_1 -> scene_2 (bug)
    assert float(s["study_psnr"].mean()) == pytest.approx(lines["Average PSNR"], abs=5e-5)  # printed to 4 decimals
    assert float(s["study_ssim"].mean()) == pytest.approx(lines["Average SSIM"], abs=5e-5)
