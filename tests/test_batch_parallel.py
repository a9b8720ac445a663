"""Issue 20: a CPU run of kernel metrics computes several batches at once, hashes files in threads,
and filters with shifted multiply-adds — none of which may change a value, a row or its order."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from _helpers import save_random_png

from paradigm import cache as cache_mod
from paradigm.engine import ScoreConfig, run_score
from paradigm.metrics._filters import (
    gaussian_kernel1d,
    kernel_threads,
    separable_filter_valid,
    serial_torch_ops,
)
from paradigm.metrics.base import EmbeddingMetric, Metric
from paradigm.scoring import worker
from paradigm.scoring.execute import Runner
from paradigm.scoring.worker import InOrder, batch_parallelism

METRICS = "psnr,ssim,ms_ssim,gmsd,ciede2000,edge_f1"


class _Model(Metric):
    """Not registered: declares a precision option, as the deep metrics do."""

    name = "bp_model"
    defaults: ClassVar[dict[str, Any]] = {"precision": "fp32"}


class _Kernel(Metric):
    name = "bp_kernel"


class _Embedding(EmbeddingMetric):
    """Reference embeddings are cached once per run: such runs keep one batch at a time."""

    name = "bp_embedding"

    def embed(self, x: torch.Tensor) -> Any:
        return x.mean(dim=(2, 3))

    def compare(self, ex: Any, eref: Any) -> torch.Tensor:
        return (ex - eref).abs().sum(1).double()


def _tree(root: Path, n: int = 11) -> None:
    """``n`` pairs of 176 px (MS-SSIM's minimum is 161), one undecodable output and one size mismatch."""
    for i in range(n):
        save_random_png(root / "gt" / f"im{i:02d}.png", seed=i, size=176)
        save_random_png(root / "res" / "m" / f"im{i:02d}.png", seed=100 + i, size=176)
    (root / "res" / "m" / "im03.png").write_bytes(b"not a png")
    save_random_png(root / "res" / "m" / "im07.png", seed=7, size=192)  # resized to the GT


def _score(root: Path) -> Any:
    return run_score(ScoreConfig(results=root / "res", gt=root / "gt", metrics=METRICS, cache=None,
                                 progress=False, batch_size=2, workers=2))


def test_parallel_batches_give_the_serial_run_to_the_last_bit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path)
    widths: list[int] = []
    real = worker.batch_parallelism

    def spy(runner: Runner, metrics: Any) -> int:
        widths.append(real(runner, metrics))
        return widths[-1]

    monkeypatch.setattr(worker, "batch_parallelism", spy)
    parallel = _score(tmp_path)
    monkeypatch.setattr(worker, "batch_parallelism", lambda runner, metrics: 1)
    serial = _score(tmp_path)
    if widths and widths[0] < 2:
        pytest.skip(f"this machine gives torch {torch.get_num_threads()} thread(s): nothing runs in parallel")
    pd.testing.assert_frame_equal(parallel.scores, serial.scores, check_exact=True)
    pd.testing.assert_frame_equal(parallel.errors, serial.errors, check_exact=True)
    assert (parallel.errors["stage"] == "decode").sum() == 1


def test_batch_parallelism_only_for_serial_cpu_runs_of_kernel_metrics() -> None:
    cpu = Runner(torch.device("cpu"))
    kernels = {"k": _Kernel()}
    with serial_torch_ops():
        assert batch_parallelism(cpu, kernels) == kernel_threads()
        assert batch_parallelism(cpu, {**kernels, "m": _Model()}) == 1
        assert batch_parallelism(cpu, {**kernels, "e": _Embedding()}) == 1
    if torch.get_num_threads() > 1:  # torch's own threads are in use (a Ray worker): one batch at a time
        assert batch_parallelism(cpu, kernels) == 1


def test_in_order_keeps_the_order_of_batches_and_failures() -> None:
    from paradigm.scoring.decode import Fail

    def slow_first(batch: list[Any]) -> Any:
        if batch[0] == 0:
            import time

            time.sleep(0.05)  # the first batch finishes last
        return batch[0]

    order = InOrder(2, slow_first)  # type: ignore[arg-type]
    fail = Fail.__new__(Fail)
    got: list[Any] = []
    try:
        for x in ([0], [1], fail, [2], [3]):
            got.extend(order.add(x))  # type: ignore[arg-type]
        got.extend(order.drain())
    finally:
        order.close()
    assert got == [0, 1, fail, 2, 3]


def test_hash_ahead_gives_the_same_hashes_and_leaves_unreadable_files_to_file_sha(tmp_path: Path) -> None:
    import hashlib

    files = []
    for i in range(6):
        save_random_png(tmp_path / f"f{i}.png", seed=i)
        files.append(tmp_path / f"f{i}.png")
    cache = cache_mod.NullCache()
    cache.hash_ahead([*files, tmp_path / "missing.png"], workers=2)
    for f in files:
        assert cache.file_sha(f) == hashlib.sha256(f.read_bytes()).hexdigest()
    assert cache.hashed == len(files)
    with pytest.raises(OSError):
        cache.file_sha(tmp_path / "missing.png")


def test_hash_ahead_rechecks_a_file_changed_in_between(tmp_path: Path) -> None:
    import hashlib
    import os

    f = tmp_path / "a.png"
    save_random_png(f, seed=1)
    cache = cache_mod.NullCache()
    cache.hash_ahead([f, tmp_path / "b.png"], workers=2)
    save_random_png(f, seed=2, size=20)  # new size: a new (path, size, mtime) key
    os.utime(f, ns=(1, 1))
    assert cache.file_sha(f) == hashlib.sha256(f.read_bytes()).hexdigest()


@pytest.mark.parametrize("shape", [(1, 5, 40, 57), (3, 2, 33, 31)])
def test_shifted_filter_equals_the_depthwise_convolution(shape: tuple[int, ...]) -> None:
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(3))
    k = gaussian_kernel1d(11, 1.5, dtype=torch.float32)
    planes = shape[0] * shape[1]
    xf = x.reshape(1, planes, *shape[2:])
    conv = F.conv2d(F.conv2d(xf, k.view(1, 1, 11, 1).expand(planes, 1, 11, 1).contiguous(), groups=planes),
                    k.view(1, 1, 1, 11).expand(planes, 1, 1, 11).contiguous(), groups=planes)
    got = separable_filter_valid(x, k)
    assert got.shape == (*shape[:2], shape[2] - 10, shape[3] - 10)
    torch.testing.assert_close(got, conv.reshape(got.shape), rtol=0, atol=2e-7)


def test_srgb_lookup_of_8bit_levels_equals_the_formula_bit_for_bit() -> None:
    from paradigm.metrics.colour import _srgb_linear, _srgb_linear_rgb

    g = torch.Generator().manual_seed(11)
    levels = torch.randint(0, 256, (3, 5000), generator=g).to(torch.float32) / 255.0  # as the decoder divides
    looked_up = torch.stack(_srgb_linear_rgb(levels))
    assert torch.equal(looked_up, torch.stack([_srgb_linear(levels[c]) for c in range(3)]))
    off_grid = levels.clone()
    off_grid[1, 7] += 1e-4  # one value that is no 8-bit level: the whole chunk takes the formula
    assert torch.equal(torch.stack(_srgb_linear_rgb(off_grid)), torch.stack([_srgb_linear(off_grid[c]) for c in range(3)]))


@pytest.mark.parametrize("kind", ["uniform", "ties", "mostly_zero", "sorted"])
def test_kth_smallest_equals_a_full_partition(kind: str) -> None:
    import numpy as np

    from paradigm.metrics.structure import kth_smallest

    rng = np.random.default_rng(len(kind))
    for _ in range(40):
        n = int(rng.integers(1, 250_000))
        if kind == "uniform":
            a = rng.random(n, dtype=np.float32)
        elif kind == "ties":
            a = rng.integers(0, 5, n).astype(np.float32)
        elif kind == "mostly_zero":
            a = np.zeros(n, np.float32)
            a[rng.integers(0, n, n // 10)] = rng.random(n // 10, dtype=np.float32)
        else:
            a = np.sort(rng.random(n, dtype=np.float32))
        for k in (1, n, int(rng.integers(1, n + 1)), max(1, int(np.ceil(0.7 * n)))):
            assert kth_smallest(a, k) == np.partition(a, k - 1)[k - 1]


def test_srgb_lookup_takes_grey_and_strided_chunks() -> None:
    """A grey image is expanded to three channels (stride 0) and chunks are strided views: both work."""
    from paradigm.metrics.colour import _srgb_linear, _srgb_linear_rgb, mean_ciede2000

    g = torch.Generator().manual_seed(12)
    grey = torch.randint(0, 256, (2, 1, 40, 50), generator=g).to(torch.float32) / 255.0
    rgb3 = grey.expand(-1, 3, -1, -1).reshape(2, 3, -1)[1, :, 7:1500]
    want = torch.stack([_srgb_linear(rgb3[c].contiguous()) for c in range(3)])
    assert torch.equal(torch.stack(_srgb_linear_rgb(rgb3)), want)
    other = torch.randint(0, 256, (2, 1, 40, 50), generator=g).to(torch.float32) / 255.0
    assert torch.isfinite(mean_ciede2000(grey, other)).all()
