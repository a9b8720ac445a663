"""The engine's batching strategy, tested without images."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paradigm.batching import SizeBuckets


def test_full_batches_are_emitted_at_once_and_drain_keeps_arrival_order() -> None:
    b: SizeBuckets[tuple[str, int]] = SizeBuckets(3, key=lambda it: it[0])
    assert b.add(("a", 1)) == [] and b.add(("b", 1)) == [] and b.add(("a", 2)) == []
    assert b.add(("a", 3)) == [[("a", 1), ("a", 2), ("a", 3)]]
    assert len(b) == 1
    assert list(b.drain()) == [[("b", 1)]]
    assert len(b) == 0 and list(b.drain()) == []


def test_many_distinct_sizes_flush_the_oldest_bucket() -> None:
    b: SizeBuckets[int] = SizeBuckets(2, key=lambda i: i)  # every item its own size
    out = [batch for i in range(10) for batch in b.add(i)]
    assert len(b) <= 4  # never more than 2 * batch_size waiting
    assert [x for batch in out for x in batch] == list(range(10 - len(b)))  # oldest first


def test_bad_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        SizeBuckets(0, key=id)


@given(st.lists(st.integers(0, 4), max_size=60), st.integers(1, 6))
def test_every_item_once_same_key_per_batch_bounded(keys: list[int], size: int) -> None:
    b: SizeBuckets[tuple[int, int]] = SizeBuckets(size, key=lambda it: it[0])
    batches = []
    for j, k in enumerate(keys):
        batches += b.add((k, j))
        assert len(b) <= 2 * size
    batches += list(b.drain())
    seen = [it for batch in batches for it in batch]
    assert sorted(seen) == sorted((k, j) for j, k in enumerate(keys))
    for batch in batches:
        assert 1 <= len(batch) <= size and len({k for k, _ in batch}) == 1
        assert [j for _, j in batch] == sorted(j for _, j in batch)
