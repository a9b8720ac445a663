"""The CPU fast paths of the classical metrics against the straightforward computations they replace.

Each fast helper (strided block means, polyphase upsampling, sparse divisive-normalisation taps,
periodic resize taps, sliding-window std, numpy median, cumulative-sum window sums) is compared on
random data with the plain torch/MATLAB-semantics computation it stands for.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from paradigm.metrics._filters import conv2_same, matlab_average_downsample, separable_filter_valid
from paradigm.metrics.fidelity import matlab_gray255
from paradigm.metrics.fsim import (
    _median_nonneg_f32,
    downsample_zeros,
    gradient_magnitude,
    matlab_median,
    scharr_kernels,
)
from paradigm.metrics.nlpd import BURT_ADELSON, _dn_conv, _downsample, _pad_symmetric2, _upsample, dn_filter
from paradigm.metrics.piqe import _sliding_std
from paradigm.metrics.vif import _box_sum_sampled, _grey
from paradigm.metrics.vsi import _resize_axis, _resize_axis_gather


def _rand(*shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(sum(shape)), dtype=torch.float64)


@pytest.mark.parametrize(("h", "w", "f"), [(384, 512, 2), (385, 511, 2), (300, 301, 3), (100, 97, 4), (40, 41, 5)])
def test_downsample_zeros_matches_conv2_then_subsample(h: int, w: int, f: int) -> None:
    x = _rand(2, 3, h, w)
    got = downsample_zeros(x, f)
    want = matlab_average_downsample(x, f, padding="zeros")
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=0, atol=1e-13)


@pytest.mark.parametrize("n", [1, 2, 7, 8, 49152])
def test_matlab_median_cpu_path_matches_kthvalue(n: int) -> None:
    x = _rand(4, n)
    k = n // 2
    lo, hi = x.kthvalue(max(k, 1), dim=-1).values, x.kthvalue(k + 1, dim=-1).values
    want = hi if n % 2 else 0.5 * (lo + hi)
    torch.testing.assert_close(matlab_median(x), want, rtol=0, atol=0)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 100, 49152, 49153])
@pytest.mark.parametrize("kind", ["uniform", "ties", "zeros", "wide"])
def test_matlab_median_float32_histogram_path_is_exact(n: int, kind: str) -> None:
    # non-negative float32 rows take the radix-histogram selection; it must equal kthvalue exactly
    x = _rand(4, n).float()
    if kind == "ties":
        x = (x * 4).floor()
    elif kind == "zeros":
        x[:, : n // 2 + 1] = 0.0
    elif kind == "wide":
        x = x**12 * 1e6
    k = n // 2
    lo, hi = x.kthvalue(max(k, 1), dim=-1).values, x.kthvalue(k + 1, dim=-1).values
    want = hi if n % 2 else 0.5 * (lo + hi)
    torch.testing.assert_close(matlab_median(x), want, rtol=0, atol=0)
    torch.testing.assert_close(_median_nonneg_f32(x), want, rtol=0, atol=0)


def _upsample_reference(x: torch.Tensor, odd: tuple[int, int], k: torch.Tensor) -> torch.Tensor:
    """laplacian_pyramid_s ``upsample``: replicate-pad, zero-insert x4, filter with zero borders, crop."""
    xp = F.pad(x, (1, 1, 1, 1), mode="replicate")
    n, c, h, w = xp.shape
    r = torch.zeros(n, c, 2 * h, 2 * w, dtype=x.dtype)
    r[..., ::2, ::2] = 4.0 * xp
    r = separable_filter_valid(F.pad(r, (2, 2, 2, 2)), k)
    return r[..., 2 : 2 * h - 2 - odd[0], 2 : 2 * w - 2 - odd[1]]


@pytest.mark.parametrize(("h", "w"), [(3, 4), (5, 7), (6, 6), (17, 32)])
def test_nlpd_polyphase_up_and_strided_down_sampling(h: int, w: int) -> None:
    k = torch.tensor(BURT_ADELSON, dtype=torch.float64)
    x = _rand(2, 1, h, w)
    for odd in [(0, 0), (1, 0), (0, 1), (1, 1)]:
        torch.testing.assert_close(_upsample(x, odd, k), _upsample_reference(x, odd, k), rtol=0, atol=1e-13)
    for size in [(2 * h, 2 * w), (2 * h - 1, 2 * w - 1)]:
        y = _rand(2, 1, *size)
        want = separable_filter_valid(_pad_symmetric2(y), k)[..., ::2, ::2]
        torch.testing.assert_close(_downsample(y, k), want, rtol=0, atol=1e-13)


@pytest.mark.parametrize("level", range(6))
def test_nlpd_dn_taps_match_the_5x5_conv2(level: int) -> None:
    a = _rand(2, 1, 13, 17)
    torch.testing.assert_close(_dn_conv(a, level), conv2_same(a, dn_filter(level)), rtol=0, atol=1e-14)


@pytest.mark.parametrize(("n", "m"), [(384, 256), (512, 256), (256, 384), (256, 512), (1024, 256), (640, 256), (301, 256), (6, 256), (256, 7)])
def test_vsi_periodic_resize_matches_the_gather(n: int, m: int) -> None:
    for dim in (-2, -1):
        shape = [2, 3, 5, 5]
        shape[dim] = n
        x = _rand(*shape)
        torch.testing.assert_close(_resize_axis(x, m, dim), _resize_axis_gather(x, m, dim), rtol=0, atol=1e-12)


def test_piqe_sliding_std_matches_unfold_std() -> None:
    x = _rand(3, 40, 4, 16) * 3.0 - 1.0
    torch.testing.assert_close(_sliding_std(x, 6), x.unfold(-1, 6, 1).std(dim=-1), rtol=0, atol=1e-13)


@pytest.mark.parametrize("winsize", [3, 5, 9, 17])
def test_vif_window_sums_match_box_pooling(winsize: int) -> None:
    y = _rand(2, 5, 61, 70) * 100.0
    r = (winsize - 1) // 2
    yp = F.pad(y, (r, r, r, r), mode="reflect")[..., 1:, 1:]
    want = F.avg_pool2d(yp, winsize, stride=3) * float(winsize * winsize)
    torch.testing.assert_close(_box_sum_sampled(y, winsize), want, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_vif_grey_equals_matlab_gray255(channels: int, dtype: torch.dtype) -> None:
    # 8-bit levels (where rounding ties matter) and random values, both dtypes: the same values exactly
    levels = torch.arange(256, dtype=dtype).view(1, 1, 16, 16).expand(2, channels, 16, 16) / 255.0
    x = torch.cat((levels, _rand(2, channels, 16, 16).to(dtype)))
    want = matlab_gray255(x.to(torch.float64), quantize=True, y_channel=False)
    got = _grey(x)
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_scharr_gradient_from_shifts_matches_conv2_same() -> None:
    x = _rand(2, 3, 37, 52) * 255.0
    dx, dy = scharr_kernels()
    want = torch.sqrt(conv2_same(x, dx) ** 2 + conv2_same(x, dy) ** 2)
    torch.testing.assert_close(gradient_magnitude(x), want, rtol=1e-12, atol=1e-10)
