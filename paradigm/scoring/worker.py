"""What a worker runs on a unit of work: decode, batch, execute; outcomes streamed to the caller."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..batching import SizeBuckets
from ..metrics.base import Metric
from .decode import Fail, Item, iter_prepared, prepare_group
from .execute import BatchResult, Runner, execute_batch
from .unit import WorkUnit

Outcome = Fail | BatchResult


def score_unit(
    unit: WorkUnit, metrics: Mapping[str, Metric], runner: Runner, *, workers: int = 0
) -> Iterator[Outcome]:
    """Decode, batch and execute one unit: yields each :class:`Fail` and each :class:`BatchResult`.

    ``metrics`` maps names to the instantiated metrics still active; a metric found unavailable in
    a batch is reported in that :class:`BatchResult` and not run again by this call.
    """
    active = dict(metrics)
    buckets: SizeBuckets[Item] = SizeBuckets(unit.batch_size, key=lambda it: (int(it.out.shape[1]), int(it.out.shape[2])))

    def run(batch: list[Item]) -> BatchResult:
        res = execute_batch(batch, active, runner, pad_singletons=unit.pad_singletons)
        for name in res.unavailable:
            active.pop(name, None)
        return res

    for prepared in iter_prepared(unit.groups, workers, lambda g: prepare_group(g, unit.policy)):
        for it in prepared:
            if isinstance(it, Fail):
                yield it
                continue
            for ready in buckets.add(it):
                yield run(ready)
    for rest in buckets.drain():
        yield run(rest)
