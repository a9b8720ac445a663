"""The CPU steps of issue 20, each next to what it replaced, measured in one run.

1. SSIM's five 512x384 maps of one image through ``separable_filter_valid`` (shifted multiply-adds)
   against the depthwise ``conv2d`` pair it replaced (same float32 sums);
2. CIEDE2000's sRGB linearisation of one 30,720-pixel chunk of 8-bit levels: table lookup
   against the formula (same bits);
3. edge F1's 70th-percentile threshold of one image's gradient magnitudes: ``kth_smallest``
   against ``np.partition`` (same value);
4. the compiled loops (numba), one 512x384 image pair each, against the torch/numpy steps they
   replaced on CPU, which the other devices still use: CIEDE2000's mean (``_ciede_jit`` against
   ``colour._lab_fast``/``_de00_fast``), SSIM's map means (``_ssim_jit`` against
   ``fidelity._ssim_means``) and edge F1 from the grey pair to the counts (``_edge_jit`` against the
   torch grey/smoothing/Sobel/suppression, ``scipy.ndimage.label`` hysteresis and the dilation);
5. the six fidelity/structure metrics through ``run_score`` on N generated pairs, one batch per
   core (the default) against one batch at a time (``batch_parallelism`` forced to 1).

Steps 1-4 run torch on one thread and report the fastest of many timed repeats (CPU ms, thread
time); step 4 reports pairs/s, best of ``--repeat`` alternating runs. Example:
    python benchmarks/bench_cpu_steps.py --pairs 120 --repeat 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

FID_SET = "psnr,ssim,ms_ssim,gmsd,ciede2000,edge_f1"


def best_ms(fn: Callable[[], object], n: int = 3, reps: int = 40) -> float:
    """Fastest mean thread-CPU ms of ``n`` calls, over ``reps`` repeats."""
    fn()
    best = float("inf")
    for _ in range(reps):
        t = time.thread_time()
        for _ in range(n):
            fn()
        best = min(best, (time.thread_time() - t) / n * 1000)
    return best


def kernel_steps(root: Path) -> list[tuple[str, float, float]]:
    from paradigm.io import read_image
    from paradigm.metrics import _edge_jit, colour, structure
    from paradigm.metrics._filters import gaussian_kernel1d, separable_filter_valid

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    k = gaussian_kernel1d(11, 1.5, dtype=torch.float32)
    maps = torch.rand(1, 5, 384, 512, generator=torch.Generator().manual_seed(0))
    wv = k.view(1, 1, 11, 1).expand(5, 1, 11, 1).contiguous()
    wh = k.view(1, 1, 1, 11).expand(5, 1, 1, 11).contiguous()
    rows = [("SSIM filter, 5 maps of 512x384", best_ms(lambda: separable_filter_valid(maps, k)),
             best_ms(lambda: F.conv2d(F.conv2d(maps, wv, groups=5), wh, groups=5)))]
    outs = sorted((root / "results" / "m0").glob("*.png"))
    gts = sorted((root / "gt").glob("*.png"))
    chunk = read_image(outs[0]).reshape(3, -1)[:, :30720].contiguous()
    rows.append(("sRGB linearisation, 30,720 px", best_ms(lambda: colour._srgb_linear_rgb(chunk)),
                 best_ms(lambda: [colour._srgb_linear(chunk[c]) for c in range(3)])))
    g = structure._smooth(structure._gray_pair32(read_image(gts[0])[None], read_image(gts[1])[None]), 1.0)
    flat = _edge_jit.sobel_nms(g.numpy()[0, 0].copy())[0].reshape(-1)
    rank = structure._high_rank(flat.size)
    rows.append(("edge threshold, 512x384 magnitudes", best_ms(lambda: structure.kth_smallest(flat, rank)),
                 best_ms(lambda: np.partition(flat, rank - 1))))
    rows += compiled_loops(read_image(outs[0])[None], read_image(gts[0])[None])
    torch.set_num_threads(threads)  # the engine run below uses the machine's threads again
    return rows


def _edge_torch_steps(x: torch.Tensor, ref: torch.Tensor) -> object:
    """edge F1's former CPU steps for one pair: the torch detector of other devices
    (``structure._edges_and_dilated``: its suppression in numpy and ``scipy.ndimage.label`` hysteresis
    on CPU) and the counts."""
    from paradigm.metrics import structure as s

    edges, dil = s._edges_and_dilated(x, ref, 1.0, 2)
    return int((edges[0] & dil[1]).sum()), int((edges[1] & dil[0]).sum())


def compiled_loops(x: torch.Tensor, ref: torch.Tensor) -> list[tuple[str, float, float]]:
    """Step 4: each compiled loop on one image pair against the torch/numpy steps it replaced."""
    from paradigm.metrics import colour, fidelity, structure
    from paradigm.metrics._ciede_jit import de00_sum
    from paradigm.metrics._filters import gaussian_kernel1d
    from paradigm.metrics._ssim_jit import ssim_means

    xs, ys = x[0].reshape(3, -1).contiguous(), ref[0].reshape(3, -1).contiguous()
    rows = [("CIEDE2000 mean, one 512x384 pair", best_ms(lambda: de00_sum(xs.numpy(), ys.numpy())),
             best_ms(lambda: colour._de00_fast(colour._lab_fast(xs), colour._lab_fast(ys)).sum()))]
    a, b = fidelity.matlab_gray255(x), fidelity.matlab_gray255(ref)
    win = gaussian_kernel1d(11, 1.5)
    c1, c2 = fidelity._ssim_constants(0.01, 0.03)
    an, bn = a.numpy()[0, 0], b.numpy()[0, 0]
    rows.append(("SSIM map means, one 512x384 pair", best_ms(lambda: ssim_means(an, bn, win.numpy(), c1, c2)),
                 best_ms(lambda: fidelity._ssim_means(a, b, c1=c1, c2=c2, win=win))))
    rows.append(("edge F1 counts, one 512x384 pair",
                 best_ms(lambda: structure._edge_counts_np(structure._cpu_greys(x, ref, 1.0), 1, 2)),
                 best_ms(lambda: _edge_torch_steps(x, ref))))
    return rows


def engine_ab(root: Path, repeat: int) -> tuple[float, float]:
    """Best pairs/s of the six metrics with one batch per core, and with one batch at a time."""
    from paradigm.engine import ScoreConfig, run_score
    from paradigm.scoring import worker

    real = worker.batch_parallelism
    n = len(list((root / "results" / "m0").glob("*.png")))
    best = {True: 0.0, False: 0.0}
    run_score(ScoreConfig(results=root / "results", gt=root / "gt", metrics="psnr", cache=None, progress=False))
    for _ in range(repeat):
        for parallel in (True, False):
            worker.batch_parallelism = real if parallel else (lambda runner, metrics: 1)
            t = time.perf_counter()
            run_score(ScoreConfig(results=root / "results", gt=root / "gt", metrics=FID_SET, cache=None, progress=False))
            best[parallel] = max(best[parallel], n / (time.perf_counter() - t))
    worker.batch_parallelism = real
    return best[True], best[False]


def main() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_score import _cpu_flags, _cpu_model, make_folder

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=120)
    ap.add_argument("--size", default="512x384")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    print(f"machine: {_cpu_model()} ({', '.join(_cpu_flags())})")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_folder(root, args.pairs, (w, h))
        for name, new, old in kernel_steps(root):
            print(f"{name:38s} {new:7.2f} ms (was {old:7.2f} ms, {old / new:.1f}x)")
        on, off = engine_ab(root, args.repeat)
        print(f"six metrics, {args.pairs} pairs of {args.size}: one batch per core {on:.1f} pairs/s, "
              f"one batch at a time {off:.1f} pairs/s ({on / off:.2f}x)")


if __name__ == "__main__":
    main()
