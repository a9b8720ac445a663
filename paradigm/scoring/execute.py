"""Execute stage: run the needed metrics on a batch of decoded pairs, dispatching by reference kind.

Reference kinds (the metric's declaration): ``gt`` compares with the ground truth, ``input`` with
the degraded input, ``two-inputs`` with both fusion sources stacked as ``torch.cat([A, B], dim=1)``,
``none`` with nothing. Embedding metrics reuse reference embeddings across batches. A batch that
raises is retried one pair at a time, so one bad pair costs one error row.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict, defaultdict
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


class Runner:
    """Runs metrics on batches, with reference-embedding reuse and per-item fallback on errors."""

    def __init__(self, device: torch.device, emb: EmbeddingCache | None = None) -> None:
        self.device = device
        self.emb = emb if emb is not None else EmbeddingCache()
        self.calls: dict[str, int] = defaultdict(int)

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
        self.calls[m.name] += int(x.shape[0])
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
            with torch.inference_mode():
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
                with torch.inference_mode():
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

    def _select(self, t: torch.Tensor, sub: Sequence[Item]) -> torch.Tensor:
        if len(sub) == len(self.items):
            return t
        pos = {id(it): j for j, it in enumerate(self.items)}
        return t.index_select(0, torch.tensor([pos[id(it)] for it in sub], device=t.device))

    def outputs(self, sub: Sequence[Item]) -> torch.Tensor:
        if self._x is None:
            self._x = torch.stack([it.out for it in self.items]).to(self.device)
        return self._select(self._x, sub)

    def gts(self, sub: Sequence[Item]) -> torch.Tensor:
        if self._gt is None:
            self._gt = torch.stack([it.gt for it in self.items]).to(self.device)
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
    return torch.stack(refs).to(ctx.device), [it.input_key for it in sub]


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
    ctx = BatchContext(items, runner.device)
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
