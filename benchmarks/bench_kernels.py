"""Per-metric kernel cost on one batch of realistic image pairs (no decoding, no engine).

Prints wall and CPU milliseconds per pair for each metric's registered class, on ``--batch``
pairs of ``--size`` made like ``bench_score.py``'s folders (scikit-image photos and their blurred,
noisy, down-up-sampled or colour-cast versions). Each metric gets fresh tensors, so nothing is shared
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
#: The classical perceptual metrics (issue 14): ``--metrics classic``.
CLASSIC_METRICS = "fsim,fsimc,vif,vifp,vsi,nlpd,cw_ssim,piqe"
#: pyiqa's name for the same computation (its ``fsim`` is chromatic, i.e. FSIMc).
PYIQA_NAMES = {"fsimc": "fsim", "vif": "vif", "vsi": "vsi", "nlpd": "nlpd", "cw_ssim": "cw_ssim", "piqe": "piqe"}


def time_pyiqa(name: str, x: torch.Tensor, ref: torch.Tensor, repeat: int) -> float | None:
    """Best wall ms per pair of pyiqa's implementation of ``name``, or None (no pyiqa / no such metric)."""
    try:
        import pyiqa  # type: ignore[import-not-found]
    except ImportError:
        return None
    if name not in PYIQA_NAMES:
        return None
    m = pyiqa.create_metric(PYIQA_NAMES[name], device="cpu")
    call = (lambda: m(x)) if name == "piqe" else (lambda: m(x, ref))
    with torch.no_grad():
        call()
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            call()
            best = min(best, (time.perf_counter() - t) / x.shape[0] * 1000)
    return best
#: classical full-reference metrics of docs/metrics-fr-classic-2.md (DCT PSNRs, WSNR, MAD): ``--metrics classic2``
CLASSIC2_METRICS = "psnr_hvs,psnr_hvs_m,psnr_ha,psnr_hma,psnrc,wsnr,mad"


def make_batch(n: int, w: int, h: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` output/reference pairs, ``(n, 3, h, w)`` float32 in [0, 1]: the same photos and
    degradations as ``bench_score.py`` (one method), kept in memory instead of written as PNG."""
    from bench_score import make_pairs

    outs, refs = [], []
    for gt, (out,) in make_pairs(n, (w, h), seed=seed):
        refs.append(torch.from_numpy(np.array(gt)).permute(2, 0, 1))
        outs.append(torch.from_numpy(np.array(out)).permute(2, 0, 1))
    return torch.stack(outs).float() / 255.0, torch.stack(refs).float() / 255.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="512x384", help="WxH")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per metric (the fastest is kept)")
    ap.add_argument("--metrics", default=DEFAULT_METRICS,
                    help="comma list, or 'classic' / 'classic2' for the classical FR sets of docs/metrics-fr-classic*.md")
    ap.add_argument("--pyiqa", action="store_true", help="also time pyiqa's implementation when it is importable")
    args = ap.parse_args()
    if args.metrics == "classic":
        args.metrics = CLASSIC_METRICS
    elif args.metrics == "classic2":
        args.metrics = CLASSIC2_METRICS
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
        ref_ms = time_pyiqa(name.strip(), x, ref, args.repeat) if args.pyiqa else None
        extra = f"   pyiqa {ref_ms:.2f} ms/pair ({ref_ms / best_wall:.1f}x)" if ref_ms is not None else ""
        print(f"{name:12s} {best_wall:13.2f} {best_cpu:12.2f}{extra}")
    print(f"{'total':12s} {total_wall:13.2f} {total_cpu:12.2f}")


if __name__ == "__main__":
    main()
