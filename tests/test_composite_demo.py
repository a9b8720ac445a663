"""The default composite on controlled damage (the issue's done-when, in miniature).

A crisp but unfaithful result (over-sharpened, colour cast, field of view shifted by 6 px) must score
lower than plain bicubic upscaling on fidelity and stability, while a faithful result scores highest.
Runs with the real registered metrics; skips while they are not available.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

import paradigm
from paradigm.composite import apply_composite

NEEDED = ("psnr", "ssim", "ms_ssim", "ciede2000", "edge_f1", "structure_consistency", "geo_drift", "hallucinated_area")


def _images() -> list[torch.Tensor]:
    data = pytest.importorskip("skimage.data")
    out = []
    for name, (r, c) in (("astronaut", (0, 100)), ("coffee", (100, 200)), ("chelsea", (50, 150))):
        a = np.asarray(getattr(data, name)(), dtype=np.float32)[r : r + 192, c : c + 192] / 255.0
        out.append(torch.from_numpy(a).permute(2, 0, 1)[None].contiguous())
    return out


def _bicubic(x: torch.Tensor) -> torch.Tensor:
    lo = F.interpolate(x, scale_factor=0.25, mode="bicubic", antialias=True, align_corners=False)
    return F.interpolate(lo, size=x.shape[-2:], mode="bicubic", align_corners=False).clamp(0, 1)


def _sharp_cast(x: torch.Tensor) -> torch.Tensor:
    b = _bicubic(x)
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16
    blur = F.conv2d(F.pad(b, (2, 2, 2, 2), mode="replicate"), k.view(1, 1, 1, 5).repeat(3, 1, 1, 1), groups=3)
    blur = F.conv2d(blur, k.view(1, 1, 5, 1).repeat(3, 1, 1, 1), groups=3)
    sharp = (b + 1.5 * (b - blur)).clamp(0, 1)
    cast = (sharp * torch.tensor([1.0, 1.02, 1.12]).view(1, 3, 1, 1) + torch.tensor([0.04, 0.04, 0.08]).view(1, 3, 1, 1))
    cast = cast.clamp(0, 1)
    return torch.cat([cast[..., :, :1].repeat(1, 1, 1, 6), cast[..., :, :-6]], dim=-1)  # shift right 6 px


def _faithful(x: torch.Tensor) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (x + 0.01 * torch.randn(x.shape, generator=g)).clamp(0, 1)


def test_default_composite_orders_visible_damage() -> None:
    available = set(paradigm.list_metrics())
    if not set(NEEDED) <= available:
        pytest.skip(f"metrics {sorted(set(NEEDED) - available)} not registered yet")
    metrics = {n: paradigm.create_metric(n) for n in NEEDED}
    rows = []
    for i, gt in enumerate(_images()):
        for method, fn in (("faithful", _faithful), ("bicubic", _bicubic), ("sharp-cast", _sharp_cast)):
            x = fn(gt)
            with torch.no_grad():
                rows.append({"method": method, "image": i, **{n: float(m(x, gt)[0]) for n, m in metrics.items()}})
    out, info = apply_composite(pd.DataFrame(rows), composite=None, profile=None, strict=False)
    mean = out.groupby("method")[["stability", "fidelity", "composite"]].mean()
    assert mean.loc["sharp-cast", "fidelity"] < mean.loc["bicubic", "fidelity"] < mean.loc["faithful", "fidelity"]
    assert mean.loc["sharp-cast", "stability"] < mean.loc["bicubic", "stability"] < mean.loc["faithful", "stability"]
    assert mean.loc["sharp-cast", "composite"] < mean.loc["bicubic", "composite"] < mean.loc["faithful", "composite"]
    assert info["renormalised"]  # no perceptual metric here: reported, not hidden
