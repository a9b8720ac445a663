"""Per-metric kernel cost on one batch of realistic image pairs (no decoding, no engine).

Prints wall and CPU milliseconds per pair for each metric's registered class, on ``--batch``
pairs of ``--size`` made from scikit-image sample photos (the reference) and a blurred, noisy,
colour-shifted version (the output). Each metric gets fresh tensors, so nothing is shared
between metrics (in ``paradigm score`` SSIM and MS-SSIM share their first scale). Use it to
compare commits::

    python benchmarks/bench_kernels.py --size 512x384 --batch 8 --repeat 5
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

DEFAULT_METRICS = "psnr,ssim,ms_ssim,gmsd,ciede2000,edge_f1"


def make_batch(n: int, w: int, h: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` reference/output pairs, ``(n, 3, h, w)`` float32 in [0, 1], 8-bit quantised."""
    from skimage import data
    from skimage.transform import resize

    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    rng = np.random.default_rng(seed)
    refs, outs = [], []
    for i in range(n):
        img = resize(photos[i % len(photos)], (h, w), anti_aliasing=True).astype(np.float32)
        ref = torch.from_numpy(img).permute(2, 0, 1)
        blurred = torch.nn.functional.avg_pool2d(ref[None], 3, 1, 1)[0]
        noise = torch.from_numpy(rng.normal(0, 0.03, ref.shape).astype(np.float32))
        out = (blurred + noise + torch.tensor([0.03, 0.0, -0.03]).view(3, 1, 1)).clamp(0, 1)
        refs.append(torch.round(ref * 255) / 255)
        outs.append(torch.round(out * 255) / 255)
    return torch.stack(outs), torch.stack(refs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="512x384", help="WxH")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per metric (the fastest is kept)")
    ap.add_argument("--metrics", default=DEFAULT_METRICS)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    import paradigm

    x, ref = make_batch(args.batch, w, h)
    print(f"{args.batch} pairs of {w}x{h}, torch threads {torch.get_num_threads()}, best of {args.repeat}")
    print(f"{'metric':12s} {'wall ms/pair':>13s} {'cpu ms/pair':>12s}")
    total_wall = total_cpu = 0.0
    for name in args.metrics.split(","):
        m = paradigm.create_metric(name.strip())
        m(x.clone(), ref.clone())  # warm-up (lazy loads, allocator)
        best_wall = best_cpu = float("inf")
        for _ in range(args.repeat):
            xi, ri = x.clone(), ref.clone()  # fresh tensors: no per-batch memo carries over
            t, c = time.perf_counter(), time.process_time()
            m(xi, ri)
            best_wall = min(best_wall, (time.perf_counter() - t) / args.batch * 1000)
            best_cpu = min(best_cpu, (time.process_time() - c) / args.batch * 1000)
        total_wall += best_wall
        total_cpu += best_cpu
        print(f"{name:12s} {best_wall:13.2f} {best_cpu:12.2f}")
    print(f"{'total':12s} {total_wall:13.2f} {total_cpu:12.2f}")


if __name__ == "__main__":
    main()
