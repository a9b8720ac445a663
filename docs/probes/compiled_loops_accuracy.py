"""Probe: how far the compiled CPU loops (numba) are from the torch steps they replaced, and from float64.

On 16 of ``benchmarks/bench_kernels.py``'s 512x384 pairs (seed 3) this prints, per metric, the
largest difference between

* the CPU value (the compiled loops) and the torch steps that other devices still run in float32
  (the CPU values of the previous metric version), and
* the CPU value and the float64 computation,

so the figures quoted in docs/metrics-fidelity.md, docs/metrics-fr-classic.md and the metric
version comments can be rerun. Run from the repository root::

    python docs/probes/compiled_loops_accuracy.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_kernels import make_batch  # noqa: E402

from paradigm.metrics import colour, fidelity, fsim, nlpd, piqe, vif, vsi  # noqa: E402
from paradigm.metrics._filters import gaussian_kernel1d  # noqa: E402


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a.double() - b.double()).abs() / b.double().abs().clamp_min(1e-30)).max())


def absd(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max())


def ciede(x: torch.Tensor, ref: torch.Tensor) -> None:
    n, _, h, w = x.shape
    x3, y3 = (t.reshape(n, 3, h * w).permute(1, 0, 2).reshape(3, -1) for t in (x, ref))
    torch_path = colour._de00_fast(colour._lab_fast(x3), colour._lab_fast(y3)).view(n, -1).double().mean(1)
    cpu = colour.mean_ciede2000(x, ref)
    f64 = colour.mean_ciede2000(x.double(), ref.double(), dtype=torch.float64)
    print(f"ciede2000   vs torch float32 {absd(cpu, torch_path):.2g} ΔE   vs float64 {absd(cpu, f64):.2g} ΔE"
          f"   (torch float32 vs float64 {absd(torch_path, f64):.2g})")


def ssim(x: torch.Tensor, ref: torch.Tensor) -> None:
    a, b = fidelity.matlab_gray255(x), fidelity.matlab_gray255(ref)
    win = gaussian_kernel1d(11, 1.5)
    c1, c2 = fidelity._ssim_constants(0.01, 0.03)
    cpu = fidelity._ssim_means_split(a, b, c1=c1, c2=c2, win=win)
    torch_path = fidelity._ssim_means(a, b, c1=c1, c2=c2, win=win)
    f64 = fidelity._ssim_means(a.double(), b.double(), c1=c1, c2=c2, win=win.double())
    for k, name in enumerate(("ssim", "ms-ssim cs")):
        print(f"{name:11s} vs torch float32 {absd(cpu[k], torch_path[k]):.2g}   vs float64 {absd(cpu[k], f64[k]):.2g}")


def fsim_pair(x: torch.Tensor, ref: torch.Tensor) -> None:
    cpu = fsim._fsim_both(x, ref)
    f64 = fsim._fsim_both(x.double(), ref.double())
    print(f"fsim        vs float64 {absd(cpu[0], f64[0]):.2g}   fsimc vs float64 {absd(cpu[1], f64[1]):.2g}")


def nlpd_pair(x: torch.Tensor, ref: torch.Tensor) -> None:
    n = x.shape[0]
    both = (torch.cat((vif._grey(ref), vif._grey(x))) / 255.0).float()
    torch_path = torch.zeros(n, dtype=torch.float64)
    for band in nlpd.nlp_transform(both):
        d = band[:n] - band[n:]
        torch_path += torch.sqrt((d * d).flatten(1).sum(1).double() / d[0].numel())
    print(f"nlpd        vs torch float32 {rel(nlpd.nlpd(x, ref), torch_path / nlpd.NLPD_LEVELS):.2g} relative")


def piqe_images(x: torch.Tensor) -> None:
    g = vif._grey(x)
    peak = g.flatten(1).amax(dim=1).view(-1, 1, 1, 1)
    g = torch.where(peak == 255.0, g, torch.floor(255.0 * g / peak + 0.5))
    var, art, noisy = piqe._block_stats(piqe._mscn(piqe._pad_post_symmetric(g, piqe.PIQE_BLOCK)))
    active = var > piqe.PIQE_ACTIVITY_THRESHOLD
    torch_path = 100.0 * ((active * (art * (1 - var) + noisy * var)).sum(1) + 1.0) / (active.sum(1) + 1.0)
    print(f"piqe        vs torch float64 {rel(piqe.piqe(x), torch_path):.2g} relative")


def vsi_resize(x: torch.Tensor) -> None:
    worst = 0.0
    for oh, ow in ((256, 256), (100, 77), (150, 97)):
        cpu = vsi.imresize_bilinear(x, oh, ow)
        worst = max(worst, absd(cpu, vsi._resize_axis(vsi._resize_axis(x, oh, -2), ow, -1)))
    print(f"vsi imresize vs torch float32 {worst:.2g} (values in [0, 1])")


def main() -> None:
    x, ref = make_batch(16, 512, 384, seed=3)
    ciede(x, ref)
    ssim(x, ref)
    fsim_pair(x, ref)
    nlpd_pair(x, ref)
    piqe_images(x)
    vsi_resize(x)


if __name__ == "__main__":
    main()
