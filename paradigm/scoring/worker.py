"""What a worker runs on units of work: decode, batch, execute; outcomes streamed to the caller."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import torch

from ..batching import SizeBuckets
from ..metrics.base import EmbeddingMetric, Metric
from .decode import Fail, Item, iter_prepared, prepare_group
from .execute import BatchResult, Runner, execute_batch, is_model_metric
from .unit import WorkGroup, WorkUnit

Outcome = Fail | BatchResult


def score_units(
    units: Sequence[WorkUnit], metrics: Mapping[str, Metric], runner: Runner, *, workers: int = 0
) -> Iterator[Outcome]:
    """Decode, batch and execute units in order: yields each :class:`Fail` and each :class:`BatchResult`.

    Decoding runs ahead in ``workers`` threads across unit boundaries, but batches never cross a
    unit's boundary, so the batches (and hence the values) are those of :func:`score_unit` on each
    unit. On a CPU run of kernel metrics several batches compute at once (:func:`batch_parallelism`);
    the outcomes still come in order. ``metrics`` maps names to the instantiated metrics still
    active; a metric found unavailable in a batch is reported in that :class:`BatchResult` and not
    run again by this call (batches already computing may report it too).
    """
    active = dict(metrics)

    def run_one(batch: list[Item]) -> BatchResult:
        res = execute_batch(batch, dict(active), runner)  # a snapshot: another batch's thread may pop
        for name in res.unavailable:
            active.pop(name, None)
        return res

    width = batch_parallelism(runner, active)
    # with several batches computing at once, decode enough ahead to fill the next ones meanwhile
    stream = batch_stream(units, workers, ahead=(width + 1) * max((u.batch_size for u in units), default=1) if width > 1 else 0)
    if width > 1:
        order = InOrder(width, run_one)
        try:
            for x in stream:
                if x is not None:
                    yield from order.add(x)
            yield from order.drain()
        finally:
            order.close()
        return
    # on CUDA the next batch's host-to-device copies start before the current batch computes
    ahead: list[list[Item]] = []
    for x in stream:
        if isinstance(x, Fail):
            yield x
        elif x is not None and runner.copy_stream is None:
            yield run_one(x)
        else:
            if x is not None:
                runner.prefetch(x)
                ahead.append(x)
            while len(ahead) > (0 if x is None else 1):
                yield run_one(ahead.pop(0))


def batch_stream(units: Sequence[WorkUnit], workers: int, ahead: int = 0) -> Iterator[list[Item] | Fail | None]:
    """Each unit's batches (items of one size) and decoding failures, in order; ``None`` ends a unit.

    ``ahead``: how many groups (a GT and its outputs) the decoding threads may run ahead (at least
    ``2 * workers``)."""
    jobs: list[tuple[int, WorkGroup, WorkUnit]] = [(k, g, u) for k, u in enumerate(units) for g in u.groups]
    current = -1
    buckets: SizeBuckets[Item] = SizeBuckets(1, key=lambda it: 0)
    prepared_groups = iter_prepared(jobs, workers, lambda job: (job[0], prepare_group(job[1], job[2].policy)), ahead)
    for k, prepared in prepared_groups:
        if k != current:
            yield from buckets.drain()
            yield None
            current = k
            buckets = SizeBuckets(units[k].batch_size, key=lambda it: (int(it.out.shape[1]), int(it.out.shape[2])))
        for it in prepared:
            if isinstance(it, Fail):
                yield it
                continue
            yield from buckets.add(it)
    yield from buckets.drain()
    yield None


def batch_parallelism(runner: Runner, metrics: Mapping[str, Metric]) -> int:
    """How many batches compute at once: one per core on a CPU run of kernel metrics only, else 1.

    Only inside a run that already holds torch's kernels serial
    (:func:`paradigm.scoring.local.cpu_threads`): each batch then runs every metric on one core,
    and the kernels' own splitting (:func:`paradigm.metrics._filters.thread_map`) stays serial in
    the batch threads. Each batch is the same as in a serial run, so the values are too; model
    metrics, embedding metrics, CUDA runs and Ray workers (which keep torch's threads) run one batch
    at a time.
    """
    from ..metrics._filters import kernel_threads

    if runner.device.type != "cpu" or torch.get_num_threads() != 1:
        return 1
    if any(is_model_metric(m) or isinstance(m, EmbeddingMetric) for m in metrics.values()):
        return 1  # models scale with torch's threads; the reference-embedding cache is one per run
    return kernel_threads()


class InOrder:
    """Outcomes in the order they were added, with up to ``width`` batches computing in threads.

    A batch (a list of items) is submitted to the pool at once; a :class:`Fail` waits its turn.
    :meth:`add` yields every outcome at the front that is ready, and blocks on the front once more
    than ``width + 1`` batches are outstanding, which bounds the memory held by batches in flight.
    The threads are named ``paradigm-kernel-batch-*`` so that kernels splitting their own work
    (:func:`paradigm.metrics._filters.thread_map`) run serially inside them.
    """

    def __init__(self, width: int, fn: Callable[[list[Item]], BatchResult]) -> None:
        self.width = width
        self.fn = fn
        self.pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="paradigm-kernel-batch")
        self.queue: deque[Future[BatchResult] | Fail] = deque()

    def _outstanding(self) -> int:
        return sum(isinstance(q, Future) for q in self.queue)

    def add(self, x: list[Item] | Fail) -> Iterator[Outcome]:
        self.queue.append(x if isinstance(x, Fail) else self.pool.submit(self.fn, x))
        while self.queue:
            front = self.queue[0]
            if isinstance(front, Future) and not front.done() and self._outstanding() <= self.width + 1:
                return
            self.queue.popleft()
            yield front.result() if isinstance(front, Future) else front

    def drain(self) -> Iterator[Outcome]:
        """Every outcome still queued, in order (waits for the batches in flight)."""
        while self.queue:
            front = self.queue.popleft()
            yield front.result() if isinstance(front, Future) else front

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def score_unit(unit: WorkUnit, metrics: Mapping[str, Metric], runner: Runner, *, workers: int = 0) -> Iterator[Outcome]:
    """:func:`score_units` on one unit (what one distributed task runs)."""
    return score_units([unit], metrics, runner, workers=workers)
