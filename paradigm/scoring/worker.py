"""What a worker runs on units of work: decode, batch, execute; outcomes streamed to the caller."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from ..batching import SizeBuckets
from ..metrics.base import Metric
from .decode import Fail, Item, iter_prepared, prepare_group
from .execute import BatchResult, Runner, execute_batch
from .unit import WorkGroup, WorkUnit

Outcome = Fail | BatchResult


def score_units(
    units: Sequence[WorkUnit], metrics: Mapping[str, Metric], runner: Runner, *, workers: int = 0
) -> Iterator[Outcome]:
    """Decode, batch and execute units in order: yields each :class:`Fail` and each :class:`BatchResult`.

    Decoding runs ahead in ``workers`` threads across unit boundaries, but batches are drained at
    each boundary, so the batches (and hence the values) are those of :func:`score_unit` on each unit.
    ``metrics`` maps names to the instantiated metrics still active; a metric found unavailable in a
    batch is reported in that :class:`BatchResult` and not run again by this call.
    """
    active = dict(metrics)
    jobs: list[tuple[int, WorkGroup, WorkUnit]] = [(k, g, u) for k, u in enumerate(units) for g in u.groups]
    current = -1
    buckets: SizeBuckets[Item] = SizeBuckets(1, key=lambda it: 0)

    def run_one(batch: list[Item]) -> BatchResult:
        res = execute_batch(batch, active, runner)
        for name in res.unavailable:
            active.pop(name, None)
        return res

    # on CUDA the next batch's host-to-device copies start before the current batch computes
    ahead: list[list[Item]] = []

    def run(batch: list[Item] | None) -> Iterator[BatchResult]:
        if batch is not None and runner.copy_stream is None:
            yield run_one(batch)
            return
        if batch is not None:
            runner.prefetch(batch)
            ahead.append(batch)
        while len(ahead) > (0 if batch is None else 1):
            yield run_one(ahead.pop(0))

    for k, prepared in iter_prepared(jobs, workers, lambda job: (job[0], prepare_group(job[1], job[2].policy))):
        if k != current:
            for rest in buckets.drain():
                yield from run(rest)
            yield from run(None)
            current = k
            buckets = SizeBuckets(units[k].batch_size, key=lambda it: (int(it.out.shape[1]), int(it.out.shape[2])))
        for it in prepared:
            if isinstance(it, Fail):
                yield it
                continue
            for ready in buckets.add(it):
                yield from run(ready)
    for rest in buckets.drain():
        yield from run(rest)
    yield from run(None)


def score_unit(unit: WorkUnit, metrics: Mapping[str, Metric], runner: Runner, *, workers: int = 0) -> Iterator[Outcome]:
    """:func:`score_units` on one unit (what one distributed task runs)."""
    return score_units([unit], metrics, runner, workers=workers)
