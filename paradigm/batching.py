"""Batching strategy of the scoring engine: group decoded pairs into same-size batches.

:class:`SizeBuckets` is the one place that decides which pairs are scored together. It knows
nothing about images: it receives items with a size key and hands back lists of items, so it is
tested without decoding anything and a distributed backend can reuse it on each worker.

Rule: items are bucketed by their key (the ``(H, W)`` of the decoded pair); a bucket is emitted as
soon as it holds ``batch_size`` items; when more than ``2 * batch_size`` items wait in partial
buckets (many distinct sizes), the oldest bucket is emitted early, so memory stays bounded however
the sizes are mixed. :meth:`SizeBuckets.drain` emits what is left, oldest first. Order within a
batch is arrival order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class SizeBuckets(Generic[T]):
    """Same-key batches of at most ``batch_size`` items, with bounded buffering.

    Example:
        >>> b = SizeBuckets(2, key=len)
        >>> b.add("ab"), b.add("cd"), b.add("x")
        ([], [['ab', 'cd']], [])
        >>> list(b.drain())
        [['x']]
    """

    def __init__(self, batch_size: int, key: Callable[[T], Hashable]) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.key = key
        self._buckets: OrderedDict[Hashable, list[T]] = OrderedDict()
        self._buffered = 0

    def __len__(self) -> int:
        """Items waiting in partial buckets."""
        return self._buffered

    def add(self, item: T) -> list[list[T]]:
        """Add one item; returns the batches that are ready now (possibly none)."""
        k = self.key(item)
        bucket = self._buckets.setdefault(k, [])
        bucket.append(item)
        self._buffered += 1
        ready: list[list[T]] = []
        if len(bucket) >= self.batch_size:
            ready.append(self._pop(k))
        while self._buffered > 2 * self.batch_size:  # many distinct sizes: emit the oldest bucket
            ready.append(self._pop(next(iter(self._buckets))))
        return ready

    def drain(self) -> Iterator[list[T]]:
        """Every waiting partial batch, oldest bucket first; leaves the strategy empty."""
        while self._buckets:
            yield self._pop(next(iter(self._buckets)))

    def _pop(self, k: Hashable) -> list[T]:
        batch = self._buckets.pop(k)
        self._buffered -= len(batch)
        return batch
