"""Execute stage: run the needed metrics on a batch of decoded pairs, dispatching by reference kind.

Reference kinds (the metric's declaration): ``gt`` compares with the ground truth, ``input`` with
the degraded input, ``two-inputs`` with both fusion sources stacked as ``torch.cat([A, B], dim=1)``,
``none`` with nothing. Embedding metrics reuse reference embeddings across batches. A batch that
raises is retried one pair at a time, so one bad pair costs one error row.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import MetricUnavailableError, ParadigmError
from ..metrics.base import EmbeddingMetric, Metric, check_image
from .decode import Item

log = logging.getLogger(__name__)


def reference_kind(m: Metric) -> str:
    """The declared reference kind of a metric instance (``gt``, ``input``, ``two-inputs``, ``none``)."""
    return type(m).spec().reference


def _emb_index(e: Any, i: int) -> Any:
    if isinstance(e, torch.Tensor):
        return e[i].clone()  # do not keep the whole batch alive
    if isinstance(e, (tuple, list)):
        return type(e)(_emb_index(t, i) for t in e)
    if isinstance(e, dict):
        return {k: _emb_index(v, i) for k, v in e.items()}
    raise TypeError(f"unsupported embedding type {type(e).__name__}")


def _emb_stack(es: Sequence[Any]) -> Any:
    first = es[0]
    if isinstance(first, torch.Tensor):
        return torch.stack(list(es))
    if isinstance(first, (tuple, list)):
        return type(first)(_emb_stack([e[j] for e in es]) for j in range(len(first)))
    if isinstance(first, dict):
        return {k: _emb_stack([e[k] for e in es]) for k in first}
    raise TypeError(f"unsupported embedding type {type(first).__name__}")


class EmbeddingCache:
    """Reference embeddings per (metric, reference key), least-recently-used, bounded."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._d: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self.hits = 0

    def get(self, key: tuple[str, str]) -> Any:
        if key in self._d:
            self._d.move_to_end(key)
            self.hits += 1
            return self._d[key]
        return None

    def put(self, key: tuple[str, str], value: Any) -> None:
        self._d[key] = value
        self._d.move_to_end(key)
        while len(self._d) > self.size:
            self._d.popitem(last=False)


def to_columns(metric: Metric, res: torch.Tensor | dict[str, torch.Tensor], n: int) -> dict[str, np.ndarray]:
    """A metric's result as ``column -> (n,) float64`` arrays, checked against its declared columns."""
    if isinstance(res, dict):
        cols = {}
        for c in metric.columns:
            if c not in res:
                raise RuntimeError(f"metric {metric.name!r} did not return its declared column {c!r}")
            cols[c] = res[c].detach().to("cpu", torch.float64).reshape(-1).numpy()
    else:
        cols = {metric.columns[0]: res.detach().to("cpu", torch.float64).reshape(-1).numpy()}
    for c, v in cols.items():
        if v.shape[0] != n:
            raise RuntimeError(f"metric {metric.name!r} returned {v.shape[0]} values for column {c!r}, expected {n}")
    return cols


# ------------------------------------------------------------------------------- device transfers


def wants_pinned(device: torch.device) -> bool:
    """Whether host batches for ``device`` go through pinned (page-locked) memory: only for CUDA.

    Pinned memory makes host-to-device copies asynchronous (``non_blocking=True``); on CPU it would
    only cost page-locking, so CPU runs never pin.
    """
    return device.type == "cuda"


def transfer(t: torch.Tensor, device: torch.device, stream: Any = None, events: list[Any] | None = None) -> torch.Tensor:
    """``t`` on ``device``: on CPU ``t`` itself (no copy); on CUDA an asynchronous copy.

    The copy is issued with ``non_blocking=True``; with ``stream`` (a side CUDA stream) it runs
    there, concurrently with the kernels queued on the compute stream, and an event recorded after
    it is appended to ``events`` (the consumer makes its stream wait on it just before use: see
    :meth:`BatchContext.ready`; without ``events`` the current stream waits at once). The result is
    marked as used by the current stream, so the caching allocator does not hand its memory back to
    the side stream early. ``t`` should be pinned (:func:`stack_batch`), else the copy is synchronous.
    """
    if device.type != "cuda" or stream is None:
        return t.to(device, non_blocking=True)  # same device: returns t itself
    current = torch.cuda.current_stream(device)
    with torch.cuda.stream(stream):
        out = t.to(device, non_blocking=True)
        event = torch.cuda.Event()
        event.record(stream)
    out.record_stream(current)
    if events is None:
        current.wait_event(event)
    else:
        events.append(event)
    return out


def stack_batch(tensors: Sequence[torch.Tensor], device: torch.device) -> torch.Tensor:
    """``torch.stack(tensors)`` on the host, in pinned memory when :func:`wants_pinned` (CUDA)."""
    if not wants_pinned(device):
        return torch.stack(list(tensors))
    first = tensors[0]
    host = torch.empty((len(tensors), *first.shape), dtype=first.dtype, pin_memory=True)
    return torch.stack(list(tensors), out=host)


def autocast_dtype(m: Metric, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for running ``m`` on ``device``, or None (no autocast).

    Only model metrics that declare a ``precision`` option get autocast, and only on CUDA with
    ``precision`` ``bf16``/``fp16``; the fidelity kernels (no such option) always run in float32.
    """
    precision = m.options.get("precision") if "precision" in m.defaults else None
    if device.type != "cuda" or precision in (None, "fp32"):
        return None
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(str(precision))


def is_model_metric(m: Metric) -> bool:
    """A metric built on a neural network (it names weights or declares a precision option)."""
    return bool(m.weights) or "precision" in m.defaults


def cpu_threads_context(m: Metric, device: torch.device) -> Any:
    """How ``m`` uses the cores of a CPU run: kernel metrics run torch serially and split their own
    work over all cores (:func:`paradigm.metrics._filters.serial_torch_ops`); model metrics keep
    torch's intra-op threads (large convolutions scale well). A no-op context on other devices.

    Besides using less CPU next to the decoding threads, this makes the kernel metrics' values
    independent of the machine's core count (torch splits reductions by thread).
    """
    if device.type != "cpu" or is_model_metric(m):
        return contextlib.nullcontext()
    from ..metrics._filters import serial_torch_ops

    return serial_torch_ops()


def autocast_context(m: Metric, device: torch.device) -> Any:
    """``torch.autocast`` for :func:`autocast_dtype`, or a no-op context."""
    dtype = autocast_dtype(m, device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


class Runner:
    """Runs metrics on batches, with reference-embedding reuse and per-item fallback on errors.

    On CUDA, host batches are staged in pinned memory and copied on a side stream
    (:func:`transfer`); :meth:`prefetch` starts the copies of the next batch while the current one
    computes.
    """

    def __init__(self, device: torch.device, emb: EmbeddingCache | None = None) -> None:
        self.device = device
        self.emb = emb if emb is not None else EmbeddingCache()
        self.copy_stream: Any = torch.cuda.Stream(device) if device.type == "cuda" else None
        self._prefetched: list[tuple[list[Item], BatchContext]] = []

    def to_device(self, tensors: Sequence[torch.Tensor], events: list[Any] | None = None) -> torch.Tensor:
        """Stack host tensors (pinned on CUDA) and move them to the runner's device (see :func:`transfer`)."""
        return transfer(stack_batch(tensors, self.device), self.device, self.copy_stream, events)

    def prefetch(self, items: list[Item]) -> None:
        """Start the host-to-device copies of a batch that :func:`execute_batch` will run next (CUDA only).

        The copies run on the side stream while the compute stream still works on the batch before;
        the compute stream waits for them only when this batch's tensors are first used.
        """
        if self.copy_stream is None or not items:
            return
        ctx = BatchContext(items, self.device, runner=self)
        ctx.stage_all()
        self._prefetched = [*self._prefetched[-1:], (items, ctx)]  # at most two batches in flight

    def context(self, items: list[Item]) -> BatchContext:
        """The batch's tensors: the prefetched ones for this very list of items, else a new context."""
        for k, (got, ctx) in enumerate(self._prefetched):
            if got is items:
                del self._prefetched[k]
                return ctx
        return BatchContext(items, self.device, runner=self)

    def _embedded(self, m: EmbeddingMetric, x: torch.Tensor, ref: torch.Tensor, keys: list[str]) -> Any:
        check_image(x, "output")
        check_image(ref, "reference")
        cached = [self.emb.get((m.name, k)) for k in keys]
        miss = [j for j, c in enumerate(cached) if c is None]
        if miss:
            uniq: dict[str, int] = {}  # unique references among the misses
            for j in miss:
                uniq.setdefault(keys[j], j)
            order = list(uniq.items())
            e = m.embed(ref[[j for _, j in order]])
            for pos, (k, _) in enumerate(order):
                self.emb.put((m.name, k), _emb_index(e, pos))
            cached = [self.emb.get((m.name, k)) for k in keys]
        return m.compare(m.embed(x), _emb_stack(cached))

    def _forward(self, m: Metric, x: torch.Tensor, ref: torch.Tensor | None, keys: list[str], sizes: Any = None) -> Any:
        if isinstance(m, EmbeddingMetric) and ref is not None:
            return self._embedded(m, x, ref, keys)
        return m(x, ref) if sizes is None else m(x, ref, delivered_size=sizes)

    def run(
        self, m: Metric, x: torch.Tensor, ref: torch.Tensor | None, keys: list[str], sizes: list[Any] | None = None
    ) -> list[dict[str, float] | Exception]:
        """Per-item column values or the exception for that item (``sizes``: delivered sizes, for
        metrics that declare ``uses_delivered_size``).

        Raises:
            MetricUnavailableError: the metric cannot run at all (missing weights, extra not installed).
        """
        n = int(x.shape[0])
        try:
            with torch.inference_mode(), autocast_context(m, self.device), cpu_threads_context(m, self.device):
                cols = to_columns(m, self._forward(m, x, ref, keys, sizes), n)
            return [{c: float(v[j]) for c, v in cols.items()} for j in range(n)]
        except MetricUnavailableError:
            raise
        except Exception as exc:
            if n == 1:
                return [exc]
            log.debug("metric %s failed on a batch of %d (%s); retrying one by one", m.name, n, exc)
        out: list[dict[str, float] | Exception] = []
        for j in range(n):
            try:
                with torch.inference_mode(), autocast_context(m, self.device), cpu_threads_context(m, self.device):
                    one = self._forward(m, x[j : j + 1], None if ref is None else ref[j : j + 1], keys[j : j + 1],
                                        None if sizes is None else sizes[j : j + 1])
                out.append({c: float(v[0]) for c, v in to_columns(m, one, 1).items()})
            except MetricUnavailableError:
                raise
            except Exception as exc:
                out.append(exc)
        return out


@dataclass
class ItemResult:
    """What one pair of a batch produced (plain floats and strings: picklable)."""

    idx: int
    height: int
    width: int
    resized: bool
    values: dict[str, dict[str, float]] = field(default_factory=dict)  # metric -> column -> value
    cacheable: list[str] = field(default_factory=list)  # metrics whose values may be cached
    errors: list[tuple[str, str]] = field(default_factory=list)  # (stage, reason)


@dataclass
class BatchResult:
    """What one batch produced; ``unavailable`` names metrics that cannot run at all (with why)."""

    items: list[ItemResult]
    unavailable: dict[str, str] = field(default_factory=dict)
    computed: int = 0


@dataclass
class BatchContext:
    """Tensors of one batch, built once and shared by every metric run on it.

    Values can differ in their last bits with the batch's make-up (torch splits the float sums of
    a lone image across threads; some metrics use batched matrix products), so the engine records
    the batch size and forms the same batches whichever backend runs them (see ``worker``).
    """

    items: list[Item]
    device: torch.device
    _x: torch.Tensor | None = None
    _gt: torch.Tensor | None = None
    runner: Runner | None = None
    _events: list[Any] = field(default_factory=list)

    def _stage(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        if self.runner is not None:
            return self.runner.to_device(tensors, self._events)
        return transfer(stack_batch(tensors, self.device), self.device)

    def stage_all(self) -> None:
        """Start the copies of the outputs and the GTs without waiting for them."""
        if self._x is None:
            self._x = self._stage([it.out for it in self.items])
        if self._gt is None:
            self._gt = self._stage([it.gt for it in self.items])

    def ready(self) -> None:
        """Make the compute stream wait for this batch's pending copies (CUDA; a no-op otherwise)."""
        while self._events:
            torch.cuda.current_stream(self.device).wait_event(self._events.pop())

    def _select(self, t: torch.Tensor, sub: Sequence[Item]) -> torch.Tensor:
        if len(sub) == len(self.items):
            return t
        pos = {id(it): j for j, it in enumerate(self.items)}
        return t.index_select(0, torch.tensor([pos[id(it)] for it in sub], device=t.device))

    def outputs(self, sub: Sequence[Item]) -> torch.Tensor:
        if self._x is None:
            self._x = self._stage([it.out for it in self.items])
        self.ready()
        return self._select(self._x, sub)

    def gts(self, sub: Sequence[Item]) -> torch.Tensor:
        if self._gt is None:
            self._gt = self._stage([it.gt for it in self.items])
        self.ready()
        return self._select(self._gt, sub)



def _reference(kind: str, sub: Sequence[Item], ctx: BatchContext) -> tuple[torch.Tensor | None, list[str]]:
    """The reference batch for a metric of this reference kind, and the embedding-reuse keys."""
    if kind == "gt":
        return ctx.gts(sub), [it.gt_key for it in sub]
    if kind == "none":
        return None, ["" for _ in sub]
    if kind == "two-inputs":
        refs = [torch.cat([it.inp, it.inp2], dim=0) for it in sub if it.inp is not None and it.inp2 is not None]
    else:
        refs = [it.inp for it in sub if it.inp is not None]
    ref = ctx._stage(refs)
    ctx.ready()
    return ref, [it.input_key for it in sub]


def _runnable(m: Metric, kind: str, items: Sequence[Item]) -> list[Item]:
    sub = [it for it in items if m.name in it.needed]
    if kind == "input":
        return [it for it in sub if it.inp is not None]
    if kind == "two-inputs":
        return [it for it in sub if it.inp is not None and it.inp2 is not None]
    return sub


def _run_metric(m: Metric, kind: str, sub: list[Item], ctx: BatchContext, runner: Runner) -> list[Any]:
    ref, keys = _reference(kind, sub, ctx)
    sizes = [it.delivered or tuple(it.out.shape[1:]) for it in sub] if type(m).uses_delivered_size else None
    return runner.run(m, ctx.outputs(sub), ref, keys, sizes)


def _record(res: ItemResult, m: Metric, r: dict[str, float] | Exception) -> None:
    if isinstance(r, Exception):
        msg = str(r) if isinstance(r, ParadigmError) else f"{type(r).__name__}: {r}"
        res.errors.append((f"metric:{m.name}", msg))
        return
    res.values[m.name] = r
    bad = [c for c, v in r.items() if math.isnan(v)]
    if bad:
        res.errors.append((f"metric:{m.name}", f"result is NaN ({', '.join(bad)})"))
    else:
        res.cacheable.append(m.name)


def execute_batch(items: list[Item], metrics: Mapping[str, Metric], runner: Runner) -> BatchResult:
    """Run every metric each item still needs; one :class:`ItemResult` per item, in order."""
    results = {it.idx: ItemResult(it.idx, it.height, it.width, it.resized) for it in items}
    out = BatchResult([results[it.idx] for it in items])
    if not items:
        return out
    ctx = runner.context(items)
    hh, ww = int(items[0].out.shape[1]), int(items[0].out.shape[2])
    for m in metrics.values():
        kind = reference_kind(m)
        sub = _runnable(m, kind, items)
        if not sub:
            continue
        if min(hh, ww) < m.min_size:
            for it in sub:
                results[it.idx].errors.append((f"metric:{m.name}", f"image of {hh}x{ww} px (after cropping) is "
                                               f"smaller than the metric's minimum {m.min_size} px"))
            continue
        try:
            got = _run_metric(m, kind, sub, ctx, runner)
        except MetricUnavailableError as exc:
            out.unavailable[m.name] = str(exc)
            log.info("metric %s skipped for this run: %s", m.name, exc)
            continue
        for it, r in zip(sub, got, strict=True):
            out.computed += 1
            _record(results[it.idx], m, r)
    return out
