"""Probe: the measurements behind the priors of composite v2's stability metrics (docs/composite.md §2).

Applies controlled distortions to seven scikit-image photographs (256 px centre crops) and prints the
median over the images of ``structure_consistency``, ``geo_drift``, ``hallucinated_area`` and
``edge_f1`` for each distortion. Run from the repository root::

    python docs/probes/stability_priors.py

Takes a few minutes on a CPU (the geometric-drift scale search dominates).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

import paradigm
from paradigm.metrics.diagnostics import warp_similarity

NAMES = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "immunohistochemistry")
METRICS = ("structure_consistency", "geo_drift", "hallucinated_area", "edge_f1")


def photos(size: int = 256) -> list[torch.Tensor]:
    from skimage import data

    out = []
    for n in NAMES:
        a = np.asarray(getattr(data, n)(), dtype=np.float32) / 255
        if a.ndim == 2:
            a = np.stack([a] * 3, -1)
        h, w = a.shape[:2]
        a = a[(h - size) // 2 : (h - size) // 2 + size, (w - size) // 2 : (w - size) // 2 + size]
        out.append(torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None])
    return out


def blur(x: torch.Tensor, s: float) -> torch.Tensor:
    r = int(3 * s) + 1
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * s * s))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).repeat(3, 1, 1, 1), groups=3)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).repeat(3, 1, 1, 1), groups=3)


def bicubic(x: torch.Tensor, f: int) -> torch.Tensor:
    lo = F.interpolate(x, scale_factor=1 / f, mode="bicubic", antialias=True)
    return F.interpolate(lo, size=x.shape[-2:], mode="bicubic").clamp(0, 1)


def noise(x: torch.Tensor, s: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (x + s * torch.randn(x.shape, generator=g)).clamp(0, 1)


def shift(x: torch.Tensor, d: int) -> torch.Tensor:
    return torch.cat([x[..., :, :1].repeat(1, 1, 1, d), x[..., :, :-d]], -1)


def zoom(x: torch.Tensor, s: float) -> torch.Tensor:
    return warp_similarity(x.double(), 1 / s, 0.0, 0.0).float().clamp(0, 1)


def sharpen(x: torch.Tensor, a: float) -> torch.Tensor:
    return (x + a * (x - blur(x, 1.0))).clamp(0, 1)


DISTORTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "copy": lambda x: x,
    "noise 0.02": lambda x: noise(x, 0.02), "noise 0.05": lambda x: noise(x, 0.05), "noise 0.1": lambda x: noise(x, 0.1),
    "blur 1": lambda x: blur(x, 1), "blur 2": lambda x: blur(x, 2), "blur 4": lambda x: blur(x, 4),
    "bicubic x2": lambda x: bicubic(x, 2), "bicubic x4": lambda x: bicubic(x, 4), "bicubic x8": lambda x: bicubic(x, 8),
    "shift 1": lambda x: shift(x, 1), "shift 3": lambda x: shift(x, 3), "shift 6": lambda x: shift(x, 6),
    "shift 12": lambda x: shift(x, 12), "zoom 1.05": lambda x: zoom(x, 1.05), "zoom 2": lambda x: zoom(x, 2.0),
    "sharpen 1.5": lambda x: sharpen(x, 1.5), "sharpen 3": lambda x: sharpen(x, 3),
}


def main() -> None:
    metrics = {n: paradigm.create_metric(n) for n in METRICS}
    imgs = photos()
    print(f"{'distortion':<12}" + "".join(f"{n:>24}" for n in METRICS))
    for name, fn in DISTORTIONS.items():
        vals: dict[str, list[float]] = {n: [] for n in METRICS}
        for x in imgs:
            y = fn(x)
            with torch.no_grad():
                for n, m in metrics.items():
                    vals[n].append(float(m(y, x)[0]))
        print(f"{name:<12}" + "".join(f"{np.median(vals[n]):>24.3f}" for n in METRICS))


if __name__ == "__main__":
    main()
