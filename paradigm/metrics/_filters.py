"""Shared filtering helpers reproducing MATLAB semantics with batched torch ``conv2d``.

Everything works on ``(B, 1, H, W)`` or ``(N, C, H, W)`` tensors (channels are folded into the batch),
on any device and dtype. Gaussian windows are applied separably (two 1-D convolutions).
"""

from __future__ import annotations

import contextlib
import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import torch
import torch.nn.functional as F

from .base import RANGE_SLACK, check_pair

T = TypeVar("T")


def gaussian_kernel1d(
    size: int = 11, sigma: float = 1.5, *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """Normalised 1-D Gaussian; its outer product with itself is MATLAB ``fspecial('gaussian', size, sigma)``.

    Args:
        size: number of taps (odd or even, as fspecial).
        sigma: standard deviation in pixels.

    Returns:
        ``(size,)`` tensor summing to 1.
    """
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(coords**2) / (2.0 * sigma**2))
    return (g / g.sum()).to(dtype=dtype, device=device)


def separable_filter_valid(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Correlate every channel with the separable window ``k ⊗ k``, keeping only the 'valid' part.

    Equals MATLAB ``filter2(k' * k, img, 'valid')`` for a symmetric ``k``. Vertical pass first (it
    shortens the planes before the horizontal pass). On CPU each pass is ``K`` shifted
    multiply-adds over whole planes (:func:`_shifted_filter`), which gives the same float32 sums
    as oneDNN's depthwise convolution (tap by tap, in order) at 2.5-7x less CPU with torch's
    kernels serial (AMD EPYC, issue 20); float64 has no fast oneDNN depthwise path at all. Other
    devices use one depthwise (grouped) convolution per direction over all ``N * C`` planes.

    Args:
        x: ``(N, C, H, W)``.
        k: ``(K,)`` 1-D kernel.

    Returns:
        ``(N, C, H - K + 1, W - K + 1)``.
    """
    n, c, h, w = x.shape
    planes = n * c
    k = k.to(dtype=x.dtype, device=x.device)
    size = k.numel()
    if x.device.type == "cpu":
        return _shifted_filter(_shifted_filter(x, k, -2), k, -1)
    xf = x.reshape(1, planes, h, w)
    wh = k.view(1, 1, 1, size).expand(planes, 1, 1, size).contiguous()
    wv = k.view(1, 1, size, 1).expand(planes, 1, size, 1).contiguous()
    y = F.conv2d(F.conv2d(xf, wv, groups=planes), wh, groups=planes)
    return y.reshape(n, c, h - size + 1, w - size + 1)


def _shifted_filter(x: torch.Tensor, k: torch.Tensor, dim: int) -> torch.Tensor:
    """'valid' correlation with the 1-D kernel ``k`` along ``dim`` via shifted multiply-adds."""
    size = k.numel()
    out_len = x.shape[dim] - size + 1
    taps = [float(v) for v in k.tolist()]
    acc = x.narrow(dim, 0, out_len) * taps[0]
    for i in range(1, size):
        acc.add_(x.narrow(dim, i, out_len), alpha=taps[i])
    return acc


def conv2_same(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """MATLAB ``conv2(img, kernel, 'same')`` (true convolution, zero padding) for every channel.

    Args:
        x: ``(N, C, H, W)``.
        kernel: ``(kh, kw)`` 2-D kernel.

    Returns:
        ``(N, C, H, W)``.
    """
    kh, kw = kernel.shape
    kflip = torch.flip(kernel, dims=(0, 1)).to(dtype=x.dtype, device=x.device)
    # conv2 'same' keeps full-convolution rows starting at floor(k/2) (0-based)
    top, left = (kh - 1) - kh // 2, (kw - 1) - kw // 2
    bottom, right = kh - 1 - top, kw - 1 - left
    n, c, h, w = x.shape
    planes = n * c
    xf = F.pad(x.reshape(1, planes, h, w), (left, right, top, bottom))
    weight = kflip.view(1, 1, kh, kw).expand(planes, 1, kh, kw).contiguous()
    return F.conv2d(xf, weight, groups=planes).reshape(n, c, h, w)


def symmetric_index(n: int, before: int, after: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Indices of a length-``n`` axis padded MATLAB-'symmetric' style (mirror including the edge).

    Negative ``after`` crops instead of padding.
    """
    idx = torch.arange(-before, n + after, device=device)
    period = 2 * n
    idx = torch.remainder(idx, period)
    return torch.where(idx >= n, period - 1 - idx, idx)


def matlab_average_downsample(x: torch.Tensor, f: int, *, padding: str = "symmetric") -> torch.Tensor:
    """``imfilter(img, ones(f)/f^2, padding, 'same')`` followed by ``img(1:f:end, 1:f:end)``.

    This is the downsampling step of the official SSIM (``ssim.m``, ``'symmetric'``) and MS-SSIM
    (``msssim.m``) releases; GMSD's ``conv2(img, ones(2)/4, 'same')`` is ``padding="zeros"``.

    Args:
        x: ``(N, C, H, W)``.
        f: block size (>= 1; 1 returns ``x``).
        padding: ``"symmetric"`` (MATLAB imfilter 'symmetric') or ``"zeros"``.

    Returns:
        ``(N, C, ceil(H / f), ceil(W / f))``.
    """
    if f <= 1:
        return x
    h, w = x.shape[-2:]
    centre = (f + 1) // 2  # MATLAB kernel centre, 1-based: floor((f + 1) / 2)
    before = centre - 1
    out_h, out_w = math.ceil(h / f), math.ceil(w / f)
    after_h = out_h * f - h - before
    after_w = out_w * f - w - before
    if padding == "symmetric" and before == 0 and after_h in (0, 1) and after_w in (0, 1):
        # the usual f = 2 case: nothing (even side) or one repeated edge row/column (odd side)
        xp = x
        if after_h:
            xp = torch.cat((xp, xp[..., -1:, :]), dim=-2)
        if after_w:
            xp = torch.cat((xp, xp[..., :, -1:]), dim=-1)
    elif padding == "symmetric":
        ih = symmetric_index(h, before, after_h, x.device)
        iw = symmetric_index(w, before, after_w, x.device)
        xp = x.index_select(-2, ih).index_select(-1, iw)
    elif padding == "zeros":
        xp = F.pad(x, (before, max(after_w, 0), before, max(after_h, 0)))
        xp = xp[..., : out_h * f, : out_w * f]
    else:
        raise ValueError(f"padding must be 'symmetric' or 'zeros', got {padding!r}")
    if f == 2 and xp.shape[-2] % 2 == 0 and xp.shape[-1] % 2 == 0:
        return _box2(xp)
    return F.avg_pool2d(xp, kernel_size=f, stride=f)


def _box2(x: torch.Tensor) -> torch.Tensor:
    """``avg_pool2d(x, 2)`` of even-sized planes as two pairwise sums of strided slices.

    Several times faster than ``avg_pool2d`` on CPU, with its exact arithmetic: the window is
    summed in the same order, ``((x00 + x01) + x10) + x11``, then divided by 4.
    """
    top, bottom = x[..., 0::2, :], x[..., 1::2, :]
    s = torch.add(top[..., 0::2], top[..., 1::2])
    return s.add_(bottom[..., 0::2]).add_(bottom[..., 1::2]).div_(4.0)


# ---------------------------------------------------------------------------------------------
# per-batch memo: work shared by several metrics on the same tensors


class _TensorMemo:
    """A small LRU memo of values derived from tensors, keyed by the tensors' identity.

    Several metrics of one run receive the *same* output and reference tensors (the engine stacks a
    batch once and hands it to every metric). Their common preprocessing — input validation, the
    8-bit MATLAB grey image, the first SSIM scale — is computed once and reused through this memo.

    A key is ``(tag, tensors...)``; a hit requires every tensor to be the very same object (checked
    through a weak reference), with the same storage pointer, shape, strides and in-place version
    counter, so an in-place change of an input (or of a view of it) invalidates its entries.
    Inference-mode tensors carry no version counter and are memoised only inside
    :meth:`frozen_inputs`. Entries vanish when a
    key tensor is garbage collected, and at most ``capacity`` entries are kept, so the memo never
    holds more than a few batches of derived data.
    """

    def __init__(self, capacity: int = 24) -> None:
        self.capacity = capacity
        self._d: OrderedDict[tuple[Any, ...], tuple[tuple[weakref.ref[torch.Tensor], ...], Any]] = OrderedDict()
        self._lock = threading.RLock()  # re-entrant: a weakref callback may fire inside the lock
        self._local = threading.local()
        self.hits = 0
        self.misses = 0

    def _ident(self, t: torch.Tensor) -> tuple[Any, ...] | None:
        if t.is_inference():
            if not getattr(self._local, "frozen", False):
                return None
            version = -1
        else:
            version = t._version
        return (id(t), t.data_ptr(), tuple(t.shape), t.stride(), t.dtype, t.device, version)

    @contextlib.contextmanager
    def frozen_inputs(self) -> Iterator[None]:
        """Within this block (this thread), inference-mode tensors are memoised too.

        Inference tensors have no version counter, so the memo cannot see in-place changes to
        them; a caller that does not modify its batches (the engine) can promise that here.
        """
        before = getattr(self._local, "frozen", False)
        self._local.frozen = True
        try:
            yield
        finally:
            self._local.frozen = before

    def get_or_compute(self, tag: Hashable, tensors: tuple[torch.Tensor, ...], fn: Callable[[], T]) -> T:
        """``fn()``, or its earlier result for the same ``tag`` and the same (unchanged) ``tensors``."""
        idents = []
        for t in tensors:
            ident = self._ident(t)
            if ident is None:
                return fn()
            idents.append(ident)
        key = (tag, *idents)
        with self._lock:
            got = self._d.get(key)
            if got is not None and all(r() is t for r, t in zip(got[0], tensors, strict=True)):
                self._d.move_to_end(key)
                self.hits += 1
                return cast(T, got[1])
        value = fn()
        self.misses += 1

        def drop(_: object, key: tuple[Any, ...] = key) -> None:
            with self._lock:
                self._d.pop(key, None)

        refs = tuple(weakref.ref(t, drop) for t in tensors)
        with self._lock:
            self._d[key] = (refs, value)
            while len(self._d) > self.capacity:
                self._d.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every entry and reset the hit/miss counters."""
        with self._lock:
            self._d.clear()
            self.hits = self.misses = 0


#: The process-wide memo used by the fidelity and structure metrics.
MEMO = _TensorMemo()


def _values_ok(x: torch.Tensor) -> bool:
    """One pass: finite-or-not and range, via min/max (NaN propagates through both)."""
    if x.numel() == 0:
        return True
    lo, hi = torch.aminmax(x)
    return bool((lo >= -RANGE_SLACK) & (hi <= 1 + RANGE_SLACK))


def fast_check_pair(x: torch.Tensor, ref: torch.Tensor, min_size: int = 1) -> None:
    """:func:`paradigm.metrics.base.check_pair`, with the value scan of each tensor done once per batch.

    Shapes and dtypes are checked on every call; the range/NaN scan (a full pass over the data) is
    memoised per tensor, so six metrics on one batch scan it once. Any failure is re-checked by
    ``check_pair`` itself, so the error messages are exactly the contract's.

    Raises:
        InputError: as ``check_pair``.
    """
    if (
        isinstance(x, torch.Tensor)
        and isinstance(ref, torch.Tensor)
        and x.ndim == 4
        and x.shape == ref.shape
        and x.shape[1] in (1, 3)
        and x.is_floating_point()
        and ref.is_floating_point()
        and min(x.shape[-2:]) >= min_size
        and MEMO.get_or_compute("valid", (x,), lambda: _values_ok(x))
        and MEMO.get_or_compute("valid", (ref,), lambda: _values_ok(ref))
    ):
        return
    check_pair(x, ref, min_size)


# ---------------------------------------------------------------------------------------------
# threads for the numpy parts of CPU kernels

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
#: the thread count of :func:`thread_map` while :func:`serial_torch_ops` holds torch at one thread
_KERNEL_THREADS = [0]


def kernel_threads() -> int:
    """Threads :func:`thread_map` spreads work over: torch's intra-op count, or the count saved by
    :func:`serial_torch_ops`."""
    return max(torch.get_num_threads(), _KERNEL_THREADS[0])


@contextlib.contextmanager
def serial_torch_ops() -> Iterator[None]:
    """Run torch's CPU kernels on one thread inside this block; :func:`thread_map` keeps all cores.

    On a CPU run the engine decodes in worker threads while the metrics compute: torch's OpenMP
    teams then compete with those threads (and with other processes) for the cores and spin at
    their barriers, which cost more CPU than the parallel kernels saved (issue 20: 72 instead of
    104 ms of CPU per pair on 2 cores). Inside the block each torch kernel is serial and the
    kernels that split their work themselves (CIEDE2000, edge F1, SSIM per image) use
    :func:`thread_map` over the former thread count. Restores the thread count on exit.
    """
    before = torch.get_num_threads()
    if before == 1:  # already serial (a whole-run block, or one thread): nothing to change, nothing shared written
        yield
        return
    saved = _KERNEL_THREADS[0]
    _KERNEL_THREADS[0] = max(before, saved)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        _KERNEL_THREADS[0] = saved


def thread_map(fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
    """``[fn(i) for i in items]``, spread over ``torch.get_num_threads()`` threads.

    For numpy work on CPU, which releases the GIL inside its array loops but, unlike torch's
    kernels, runs each call on one core. Falls back to a plain loop for one item or one thread,
    and when called from one of the pool's own threads (no nesting).
    """
    global _POOL
    workers = min(kernel_threads(), len(items))
    if workers <= 1 or threading.current_thread().name.startswith("paradigm-kernel"):
        return [fn(i) for i in items]
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < workers:  # noqa: SLF001 - grow only
            _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="paradigm-kernel")
        pool = _POOL
    return list(pool.map(fn, items))
