"""Throughput paths (issue 20): device transfers, precision, and the fused CPU kernels' values.

The CUDA-only behaviour (pinned host batches, copies on a side stream, autocast) is checked on CPU
through the decisions it is built from; the checks that need a GPU skip with a reason.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from _helpers import save_random_png
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab

from paradigm.engine import ScoreConfig, run_score
from paradigm.errors import InputError
from paradigm.metrics.base import Metric
from paradigm.scoring.execute import (
    Runner,
    autocast_context,
    autocast_dtype,
    stack_batch,
    transfer,
    wants_pinned,
)
from paradigm.scoring.plan import check_options, resolve_device

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA device here: the GPU path is checked on a lent GPU")


class _ModelLike(Metric):
    """Not registered: a metric that declares a precision option, like the deep metrics."""

    name = "tp_model_like"
    defaults: ClassVar[dict[str, Any]] = {"precision": "fp32"}


class _KernelLike(Metric):
    name = "tp_kernel_like"


# ------------------------------------------------------------------------------- device decisions


def test_pinned_memory_only_for_cuda() -> None:
    assert wants_pinned(torch.device("cuda")) is True
    assert wants_pinned(torch.device("cuda:1")) is True
    assert wants_pinned(torch.device("cpu")) is False


def test_transfer_on_cpu_is_a_no_op() -> None:
    t = torch.rand(2, 3, 4, 4)
    assert transfer(t, torch.device("cpu")) is t


def test_stack_batch_on_cpu_is_a_plain_stack() -> None:
    ts = [torch.rand(3, 5, 6) for _ in range(3)]
    out = stack_batch(ts, torch.device("cpu"))
    assert not out.is_pinned()
    assert torch.equal(out, torch.stack(ts))


def test_runner_on_cpu_has_no_copy_stream_and_prefetch_is_a_no_op() -> None:
    r = Runner(torch.device("cpu"))
    assert r.copy_stream is None
    r.prefetch([])
    x = [torch.rand(3, 4, 4), torch.rand(3, 4, 4)]
    assert torch.equal(r.to_device(x), torch.stack(x))


def test_autocast_only_for_model_metrics_on_cuda_below_fp32() -> None:
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert autocast_dtype(_ModelLike(precision="bf16"), cuda) is torch.bfloat16
    assert autocast_dtype(_ModelLike(precision="fp16"), cuda) is torch.float16
    assert autocast_dtype(_ModelLike(precision="fp32"), cuda) is None
    assert autocast_dtype(_ModelLike(precision="bf16"), cpu) is None  # CPU stays fp32
    assert autocast_dtype(_KernelLike(), cuda) is None  # fidelity kernels stay fp32
    assert isinstance(autocast_context(_ModelLike(precision="bf16"), cpu), contextlib.nullcontext)
    assert isinstance(autocast_context(_KernelLike(), cuda), contextlib.nullcontext)


def test_precision_and_device_are_validated(tmp_path: Path) -> None:
    cfg = ScoreConfig(results=tmp_path, gt=tmp_path, precision="fp8")
    with pytest.raises(InputError, match="--precision must be one of fp32, bf16, fp16"):
        check_options(cfg)
    with pytest.raises(InputError, match="unknown device"):
        resolve_device("tpu:0:1")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(CUDA, reason="checks the error raised where CUDA is absent")
def test_cuda_requested_without_cuda_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")


def test_cli_rejects_unknown_precision(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from paradigm.cli import cli

    r = CliRunner().invoke(cli, ["score", str(tmp_path), "--gt", str(tmp_path), "--precision", "fp8"])
    assert r.exit_code != 0
    assert "fp8" in r.output and "fp32" in r.output


# --------------------------------------------------------------------- scores unchanged on CPU


def _tree(root: Path, n: int = 3, size: int = 40) -> None:
    for i in range(n):
        save_random_png(root / "gt" / f"im{i}.png", seed=i, size=size)
        gt = np.asarray(Image.open(root / "gt" / f"im{i}.png"), dtype=np.int16)
        noisy = np.clip(gt + np.random.default_rng(100 + i).integers(-20, 21, gt.shape), 0, 255).astype(np.uint8)
        (root / "res" / "m").mkdir(parents=True, exist_ok=True)
        Image.fromarray(noisy).save(root / "res" / "m" / f"im{i}.png")


def _direct_psnr(out: Path, gt: Path) -> float:
    """PSNR from its definition on the 8-bit files (independent of the engine and the metric code)."""
    a = np.asarray(Image.open(out), dtype=np.float64) / 255.0
    b = np.asarray(Image.open(gt), dtype=np.float64) / 255.0
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


def test_cpu_device_scores_equal_definitions(tmp_path: Path) -> None:
    _tree(tmp_path)
    res = run_score(ScoreConfig(results=tmp_path / "res", gt=tmp_path / "gt", metrics="psnr,ciede2000",
                                device="cpu", cache=None, progress=False))
    s = res.scores.set_index("image")
    for i in range(3):
        row = s.loc[f"im{i}"]
        assert row["psnr"] == pytest.approx(_direct_psnr(tmp_path / "res" / "m" / f"im{i}.png",
                                                         tmp_path / "gt" / f"im{i}.png"), abs=1e-5)
        a = np.asarray(Image.open(tmp_path / "res" / "m" / f"im{i}.png"), dtype=np.float64) / 255.0
        b = np.asarray(Image.open(tmp_path / "gt" / f"im{i}.png"), dtype=np.float64) / 255.0
        assert row["ciede2000"] == pytest.approx(deltaE_ciede2000(rgb2lab(a), rgb2lab(b)).mean(), abs=1e-4)


# ------------------------------------------------------------------------ fused CIEDE2000 kernel


def _colours(n: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Random sRGB pairs plus the hard cases: identical, grey (zero chroma), black, very dark, near pairs."""
    g = torch.Generator().manual_seed(5)
    x = torch.rand(3, n, generator=g, dtype=torch.float64)
    y = torch.rand(3, n, generator=g, dtype=torch.float64)
    y[:, :50] = x[:, :50]  # identical colours
    x[:, 50:100] = x[0:1, 50:100]  # grey output, coloured reference
    x[:, 100:150] = 0.0
    y[:, 100:125] = 0.0  # black on both sides
    x[:, 150:200] *= 0.02  # below the sRGB and Lab linear thresholds
    y[:, 200:260] = (x[:, 200:260] + 0.01 * torch.rand(3, 60, generator=g, dtype=torch.float64)).clamp(0, 1)
    return x.to(dtype), y.to(dtype)


def _skimage_de(x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    a = x.double().numpy().T[None]
    b = y.double().numpy().T[None]
    return np.asarray(deltaE_ciede2000(rgb2lab(a), rgb2lab(b)))[0]


@pytest.mark.parametrize(("dtype", "atol", "rtol"), [(torch.float64, 1e-6, 0.0), (torch.float32, 1e-3, 1e-4)])
def test_fused_ciede2000_matches_skimage_per_pixel(dtype: torch.dtype, atol: float, rtol: float) -> None:
    from paradigm.metrics.colour import _de00_fast, _lab_fast

    x, y = _colours(4000, dtype)
    ours = _de00_fast(_lab_fast(x.clone()), _lab_fast(y.clone())).double().numpy()
    ref = _skimage_de(x, y)
    np.testing.assert_allclose(ours, ref, atol=atol, rtol=rtol)
    assert np.all(ours[:50] == 0.0)  # identical colours give exactly 0
    # symmetric in its arguments
    swapped = _de00_fast(_lab_fast(y.clone()), _lab_fast(x.clone())).double().numpy()
    np.testing.assert_allclose(swapped, ours, atol=atol, rtol=rtol)


def test_mean_ciede2000_float32_close_to_float64_on_several_blocks() -> None:
    from paradigm.metrics import _ciede_jit, colour

    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, 220, 300, generator=g)
    y = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    assert 220 * 300 > 2 * _ciede_jit.BLOCK
    for a, b in ((x, y), ((x * 255).round() / 255, (y * 255).round() / 255)):  # any value; 8-bit levels
        f64 = colour.mean_ciede2000(a.double(), b.double(), dtype=torch.float64)
        np.testing.assert_allclose(colour.mean_ciede2000(a, b).numpy(), f64.numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("levels", [False, True])
def test_compiled_ciede2000_matches_skimage_per_pixel(levels: bool) -> None:
    """The numba loop of the CPU path (8-bit levels looked up, or any value by the formula)."""
    from paradigm.metrics._ciede_jit import _all_levels, de00_map

    x, y = _colours(4000, torch.float32)
    if levels:
        x, y = (x * 255).round() / 255, (y * 255).round() / 255
    xs, ys = x.numpy().copy(), y.numpy().copy()
    assert bool(_all_levels(xs)) == levels
    ours = de00_map(xs, ys).astype(np.float64)
    np.testing.assert_allclose(ours, _skimage_de(x, y), atol=1e-3, rtol=1e-4)
    assert np.all(ours[:50] == 0.0)  # identical colours give exactly 0
    np.testing.assert_array_equal(de00_map(ys, xs), ours.astype(np.float32))  # symmetric, bit for bit


def test_compiled_ciede2000_does_not_depend_on_the_threads() -> None:
    from paradigm.metrics import colour
    from paradigm.metrics._filters import serial_torch_ops

    g = torch.Generator().manual_seed(4)
    x, y = torch.rand(3, 3, 40, 50, generator=g), torch.rand(3, 3, 40, 50, generator=g)
    many = colour.mean_ciede2000(x, y)
    with serial_torch_ops():
        one = colour.mean_ciede2000(x, y)
    assert torch.equal(many, one)
    assert torch.equal(colour.mean_ciede2000(x[1:2], y[1:2]), many[1:2])


# ------------------------------------------------------------------------------------ CUDA only


@needs_cuda
def test_cuda_batches_are_pinned_and_copied_asynchronously() -> None:
    dev = torch.device("cuda")
    ts = [torch.rand(3, 8, 8) for _ in range(2)]
    host = stack_batch(ts, dev)
    assert host.is_pinned()
    r = Runner(dev)
    out = r.to_device(ts)
    assert out.device.type == "cuda"
    assert torch.equal(out.cpu(), torch.stack(ts))


@needs_cuda
def test_cuda_scores_match_cpu(tmp_path: Path) -> None:
    _tree(tmp_path)
    common: dict[str, Any] = {"results": tmp_path / "res", "gt": tmp_path / "gt", "cache": None, "progress": False,
                              "metrics": "psnr,ssim,gmsd,ciede2000"}  # 40 px: too small for MS-SSIM
    cpu = run_score(ScoreConfig(device="cpu", **common)).scores.set_index("image")
    gpu = run_score(ScoreConfig(device="cuda", **common)).scores.set_index("image")
    for col in ("psnr", "ssim", "gmsd", "ciede2000"):
        np.testing.assert_allclose(gpu[col].to_numpy(), cpu[col].to_numpy(), atol=1e-4)


# ------------------------------------------------------------------------- CPU threading of kernels


def test_serial_torch_ops_keeps_kernel_threads_and_restores() -> None:
    from paradigm.metrics._filters import kernel_threads, serial_torch_ops

    before = torch.get_num_threads()
    with serial_torch_ops():
        assert torch.get_num_threads() == 1
        assert kernel_threads() == before
        with serial_torch_ops():  # nesting keeps the outer count
            assert kernel_threads() == before
    assert torch.get_num_threads() == before


def test_cpu_threads_context_only_for_kernel_metrics_on_cpu() -> None:
    from paradigm.scoring.execute import cpu_threads_context, is_model_metric

    assert is_model_metric(_ModelLike()) and not is_model_metric(_KernelLike())
    assert isinstance(cpu_threads_context(_ModelLike(), torch.device("cpu")), contextlib.nullcontext)
    assert isinstance(cpu_threads_context(_KernelLike(), torch.device("cuda")), contextlib.nullcontext)
    assert not isinstance(cpu_threads_context(_KernelLike(), torch.device("cpu")), contextlib.nullcontext)


def test_ssim_per_image_split_gives_the_batched_values() -> None:
    from paradigm.metrics._filters import serial_torch_ops
    from paradigm.metrics.fidelity import ms_ssim, ssim

    g = torch.Generator().manual_seed(2)
    x = torch.rand(3, 3, 170, 180, generator=g)
    y = (x + 0.1 * torch.rand(x.shape, generator=g)).clamp(0, 1)
    batched = (ssim(x, y), ms_ssim(x, y))
    with serial_torch_ops():
        split = (ssim(x.clone(), y.clone()), ms_ssim(x.clone(), y.clone()))
    for a, b in zip(batched, split, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-6)


def test_kernels_compile_without_a_disk_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where numba finds no writable cache folder (read-only installation and home) a kernel still
    compiles, without the disk cache."""
    import numba

    from paradigm.metrics import _jit

    real = numba.njit
    asked: list[bool] = []

    def njit(*args: object, cache: bool = False, **kwargs: object) -> object:
        asked.append(cache)
        if cache:
            raise RuntimeError("cannot cache function 'add_one': no locator available for file '<ro>'")
        return real(*args, cache=cache, **kwargs)

    monkeypatch.setattr(numba, "njit", njit)

    def add_one(v):  # type: ignore[no-untyped-def]
        return v + 1

    assert _jit.kernel(add_one)(1) == 2
    assert asked[:2] == [True, False]  # refused with the cache, then compiled without (numba calls njit itself too)
