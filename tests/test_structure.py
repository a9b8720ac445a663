"""Tests of the edge-consistency metrics edge_f1 / edge_f1_input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data
from torchvision.transforms.functional import gaussian_blur

import paradigm
from paradigm.errors import InputError
from paradigm.metrics.structure import _hysteresis, canny_edges, edge_f1, edge_thresholds


@pytest.fixture(scope="module")
def astro() -> torch.Tensor:
    img = data.astronaut()[40:200, 150:310]
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255.0


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    k = int(2 * round(3 * sigma) + 1)
    return gaussian_blur(x, [k, k], [sigma, sigma])


def _noise(x: torch.Tensor, sigma: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(5)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1)


def test_identity_is_one(astro) -> None:
    for name in ("edge_f1", "edge_f1_input"):
        v = paradigm.create_metric(name)(astro, astro)
        assert v.dtype == torch.float64 and v.tolist() == [1.0]


def test_monotone_in_blur_and_noise(astro) -> None:
    m = paradigm.create_metric("edge_f1")
    for degrade, levels in ((_blur, [0.5, 1.0, 2.0, 3.0]), (_noise, [0.02, 0.05, 0.1, 0.2])):
        batch = torch.cat([degrade(astro, s) for s in levels])
        vals = m(batch, astro.expand_as(batch)).tolist()
        assert all(a > b for a, b in zip(vals, vals[1:], strict=False)), vals
        assert all(0.0 <= v <= 1.0 for v in vals)


def test_blur_lowers_recall_noise_lowers_precision(astro) -> None:
    _, p_blur, r_blur = edge_f1(_blur(astro, 2.5), astro, return_pr=True)  # type: ignore[misc]
    _, p_noise, r_noise = edge_f1(_noise(astro, 0.15), astro, return_pr=True)  # type: ignore[misc]
    assert r_blur.item() < p_blur.item()
    assert p_noise.item() < r_noise.item()


def test_tolerance(astro) -> None:
    shifted = torch.roll(astro, shifts=1, dims=-1)
    f0 = edge_f1(shifted, astro, tolerance=0).item()  # type: ignore[union-attr]
    f1 = edge_f1(shifted, astro, tolerance=1).item()  # type: ignore[union-attr]
    f2 = edge_f1(shifted, astro, tolerance=2).item()  # type: ignore[union-attr]
    assert f0 < 0.5 < f1 <= f2
    assert f2 > 0.9
    assert paradigm.create_metric("edge_f1", tolerance=0)(shifted, astro).item() == pytest.approx(f0)


def test_batch_equals_singles(astro) -> None:
    outs = torch.cat([_blur(astro, 1.0), _noise(astro, 0.05), astro.flip(-1)])
    refs = torch.cat([astro, astro, astro.flip(-2)])
    batch = edge_f1(outs, refs)
    singles = torch.cat([edge_f1(outs[i : i + 1], refs[i : i + 1]) for i in range(3)])  # type: ignore[misc]
    assert torch.equal(batch, singles)  # type: ignore[arg-type]


def test_flat_images() -> None:
    flat = torch.full((1, 3, 32, 32), 0.5)
    edges = torch.zeros(1, 3, 32, 32)
    edges[..., :, 16:] = 1.0
    assert edge_f1(flat, flat).item() == 1.0  # type: ignore[union-attr]  # no edges anywhere
    assert edge_f1(flat, edges).item() == 0.0  # type: ignore[union-attr]  # all reference edges missed
    assert edge_f1(edges, flat).item() == 0.0  # type: ignore[union-attr]  # only spurious edges
    # an absolute floor keeps faint sensor noise on a flat reference from counting as edges
    faint = _noise(flat, 0.002)
    assert edge_f1(faint, flat).item() == 1.0  # type: ignore[union-attr]


def test_step_edge_is_thin_and_located() -> None:
    img = torch.zeros(1, 1, 40, 40)
    img[..., :, 20:] = 1.0
    e = canny_edges(img)[0, 0]
    cols = torch.nonzero(e)[:, 1].unique().tolist()
    assert cols and set(cols) <= {19, 20}  # a one-pixel-wide line at the step
    assert e[1:-1].any(dim=1).all()  # continuous along the step


def test_thresholds_from_reference(astro) -> None:
    # the same output scored against a low-contrast reference uses lower thresholds
    hi, lo = edge_thresholds(torch.rand(2, 1, 16, 16))
    assert hi.shape == (2, 1, 1, 1) and torch.all(lo < hi) and torch.all(hi >= 0.02)


def test_hysteresis_paths_agree() -> None:
    g = torch.Generator().manual_seed(0)
    weak = torch.rand(3, 1, 60, 70, generator=g) > 0.45
    strong = torch.rand(3, 1, 60, 70, generator=g) > 0.98
    cpu = _hysteresis(strong, weak)
    cur = (strong & weak).float()
    while True:  # reference: plain iterative growth
        nxt = torch.nn.functional.max_pool2d(cur, 3, 1, 1) * weak.float()
        if torch.equal(nxt, cur):
            break
        cur = nxt
    assert torch.equal(cpu, cur > 0)


def test_declarations() -> None:
    a, b = paradigm.metric_info("edge_f1"), paradigm.metric_info("edge-f1-input")
    assert a["pillar"] == b["pillar"] == "stability"
    assert a["reference"] == "gt" and b["reference"] == "input"
    assert a["higher_is_better"] and a["range"] == [0.0, 1.0]
    assert a["defaults"] == {"tolerance": 2, "sigma": 1.0}


def test_bad_inputs_raise(astro) -> None:
    m = paradigm.create_metric("edge_f1")
    with pytest.raises(InputError):
        m(astro[0], astro[0])
    with pytest.raises(InputError):
        m(astro, astro[..., :-1])
    with pytest.raises(InputError):
        m(astro + 1, astro)
    with pytest.raises(InputError):
        m((astro * 255).byte(), (astro * 255).byte())
    with pytest.raises(InputError):
        m(astro, None)
    with pytest.raises(InputError):
        edge_f1(astro, astro, tolerance=-1)
    with pytest.raises(InputError):
        paradigm.create_metric("edge_f1", threshold=0.1)


def test_cuda_matches_cpu(astro) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x = _noise(_blur(astro, 1.0), 0.03)
    cpu = edge_f1(x, astro)
    gpu = edge_f1(x.cuda(), astro.cuda())
    assert gpu.device.type == "cuda"  # type: ignore[union-attr]
    np.testing.assert_allclose(gpu.cpu().numpy(), cpu.numpy(), atol=0.02)  # type: ignore[union-attr]


def _nms_reference(mag: torch.Tensor, gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
    """The angle-based formulation: round(atan2(gy, gx) / 45°) mod 4 and a gather of the neighbours."""
    import math

    n, _, h, w = mag.shape
    wp = w + 2
    mp = torch.nn.functional.pad(mag, (1, 1, 1, 1)).flatten(1)
    offsets = torch.tensor([1, wp + 1, wp, wp - 1])
    bins = torch.remainder(torch.round(torch.atan2(gy, gx) / (math.pi / 4)), 4).long()
    rows = torch.arange(1, h + 1).view(h, 1) * wp
    base = (rows + torch.arange(1, w + 1).view(1, w)).view(1, h * w)
    off = offsets[bins.view(n, h * w)]
    fwd = mp.gather(1, base + off).view(n, 1, h, w)
    bwd = mp.gather(1, base - off).view(n, 1, h, w)
    keep = (mag >= fwd) & (mag > bwd)
    keep[..., 0, :] = keep[..., -1, :] = False
    keep[..., :, 0] = keep[..., :, -1] = False
    return keep


def test_nms_matches_angle_formulation(astro) -> None:
    from paradigm.metrics._edge_jit import sobel_nms
    from paradigm.metrics.structure import _gray32, _non_max_suppression, _smooth, _sobel

    g = _smooth(torch.cat([_gray32(astro), _gray32(_noise(astro, 0.05))]), 1.0)
    gx, gy = _sobel(g)
    mag = torch.sqrt(gx * gx + gy * gy)
    ref = _nms_reference(mag, gx, gy)
    assert torch.equal(_non_max_suppression(mag, gx, gy), ref)
    per_image = [sobel_nms(np.ascontiguousarray(gi)) for gi in g[:, 0].numpy()]  # the compiled CPU path
    mag_np = torch.from_numpy(np.stack([m for m, _ in per_image]))[:, None]
    nms_np = torch.from_numpy(np.stack([k for _, k in per_image]))[:, None]
    np.testing.assert_allclose(mag_np.numpy(), mag.numpy(), atol=1e-6)
    assert (nms_np != ref).float().mean().item() < 1e-3  # differs at most at float ties


@pytest.mark.parametrize("radius", [1, 2, 3, 5])
def test_dilation_is_the_euclidean_disk(radius: int) -> None:
    from paradigm.metrics.structure import _dilate

    e = torch.rand(2, 1, 30, 40, generator=torch.Generator().manual_seed(radius)) > 0.97
    r = torch.arange(-radius, radius + 1, dtype=torch.float32)
    disk = ((r.view(-1, 1) ** 2 + r.view(1, -1) ** 2) <= radius * radius + 1e-6).float()
    expected = torch.nn.functional.conv2d(e.float(), disk[None, None], padding=radius) > 0.5
    assert torch.equal(_dilate(e, radius), expected)
    assert np.array_equal(_dilate(e[:, 0].numpy(), radius), expected[:, 0].numpy())


def test_cpu_path_equals_torch_path(astro) -> None:
    from paradigm.metrics.structure import _dilate, _edge_counts_np, _non_max_suppression, _sobel

    x = torch.cat([_blur(astro, 1.0), _noise(astro, 0.05)])
    ref = astro.expand_as(x)
    g = torch.cat([x, ref]).mean(1, keepdim=True).contiguous()
    gx, gy = _sobel(g)
    mag = torch.sqrt(gx * gx + gy * gy)
    high, low = edge_thresholds(mag[2:])
    high, low = high.repeat(2, 1, 1, 1), low.repeat(2, 1, 1, 1)
    nms = _non_max_suppression(mag, gx, gy)
    edges = _hysteresis(nms & (mag >= high), nms & (mag >= low))
    dil = _dilate(edges, 2)
    expected = [
        edges[:2].flatten(1).sum(1), edges[2:].flatten(1).sum(1),
        (edges[:2] & dil[2:]).flatten(1).sum(1), (edges[2:] & dil[:2]).flatten(1).sum(1),
    ]
    gn = g.numpy()[:, 0]
    got = _edge_counts_np(lambda i: (gn[i], gn[2 + i]), 2, 2)  # the compiled per-pair CPU path (its own Sobel/NMS)
    for a, b in zip(got, expected, strict=True):
        assert torch.equal(a, b.double())


@pytest.mark.parametrize("sigma", [1.0, 0.7, 2.0])
def test_compiled_grey_and_smoothing_equal_the_torch_steps(astro, sigma: float) -> None:
    """edge_f1's CPU loop for float32 RGB (grey + Gaussian in one pass) gives the torch steps' float32 values."""
    from paradigm.metrics.structure import _cpu_greys, _gray_pair32, _smooth

    x = torch.cat([_blur(astro, 1.0), _noise(astro, 0.05)]).float()
    ref = astro.expand_as(x).float()
    greys = _cpu_greys(x, ref, sigma)
    g = _smooth(_gray_pair32(x, ref), sigma).numpy()[:, 0]
    for i in range(2):
        out, gt = greys(i)
        np.testing.assert_array_equal(out, g[i])
        np.testing.assert_array_equal(gt, g[2 + i])
