"""The unit of work: GT groups of pairs with what each still needs, and how to decode them.

Everything here is plain, picklable data (paths, strings, numbers), so a unit can be sent to
another process or machine; :func:`paradigm.scoring.worker.score_unit` is what a worker runs on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..layout import Pair

if TYPE_CHECKING:
    from .decode import Fail
    from .execute import BatchResult


@dataclass(frozen=True)
class DecodePolicy:
    """How pairs are prepared before any metric (recorded in the signature by the engine)."""

    resize: str = "to-gt"  # to-gt, none, or a study protocol's rule (native, torch-bicubic, ...)
    crop: int = 0
    align: str = "none"
    max_pixels: int | None = None
    #: metrics that compare against the degraded input (their pairs decode the input too)
    input_metrics: frozenset[str] = frozenset()
    #: the file decoder: ``rgb`` (paradigm's rgb-v1) or a study protocol's (:mod:`paradigm.protocols.readers`)
    reader: str = "rgb"


@dataclass(frozen=True)
class WorkEntry:
    """One pair to compute: its index in the plan, files, needed metrics and content hashes."""

    idx: int
    pair: Pair
    needed: tuple[str, ...]
    hashes: tuple[str, str, str]  # (output, GT, input[+input2]) content hashes
    input2: Path | None = None


@dataclass(frozen=True)
class WorkGroup:
    """The entries that share one GT image (it is decoded once for all of them)."""

    gt_path: Path
    entries: tuple[WorkEntry, ...]


@dataclass(frozen=True)
class WorkUnit:
    """Groups to score together, with the decode policy and the batch size."""

    groups: tuple[WorkGroup, ...]
    policy: DecodePolicy
    batch_size: int = 8

    @property
    def n_pairs(self) -> int:
        return sum(len(g.entries) for g in self.groups)


@dataclass
class Outcomes:
    """What scoring a unit produced, for the driver to collect (picklable)."""

    fails: list[Fail] = field(default_factory=list)
    batches: list[BatchResult] = field(default_factory=list)



def split_units(
    groups: Sequence[WorkGroup], policy: DecodePolicy, *, batch_size: int, pairs_per_unit: int
) -> list[WorkUnit]:
    """Cut the groups (in order, never splitting a group) into units of about ``pairs_per_unit`` pairs.

    Batches never cross a unit's boundary, whichever backend runs the units, so a local and a
    distributed run form the same batches and give the same values to the last bit.
    """
    units: list[WorkUnit] = []
    cur: list[WorkGroup] = []
    n = 0
    for g in groups:
        cur.append(g)
        n += len(g.entries)
        if n >= pairs_per_unit:
            units.append(WorkUnit(tuple(cur), policy, batch_size))
            cur, n = [], 0
    if cur:
        units.append(WorkUnit(tuple(cur), policy, batch_size))
    return units
