"""The local backend: score a plan's work in this process (decoding in threads, metrics here)."""

from __future__ import annotations

import sys
from typing import Any

from .collect import Collector
from .execute import Runner
from .plan import Options, Plan, decode_policy
from .unit import WorkUnit
from .worker import score_unit


def progress_bar(total: int, show: bool | None) -> Any:
    """A tqdm bar on stderr, shown when asked or, by default, only when stderr is a terminal."""
    from tqdm import tqdm

    on = show if show is not None else sys.stderr.isatty()
    return tqdm(total=total, desc="scoring", unit="pair", file=sys.stderr, disable=not on or total == 0)


def run_local(plan: Plan, opts: Options, collector: Collector, runner: Runner) -> None:
    """Decode, batch and execute every work group of the plan, streaming outcomes to the collector."""
    unit = WorkUnit(tuple(plan.groups), decode_policy(plan, opts), opts.batch_size, opts.pad_singletons)
    active = {m.name: m for m in plan.metrics if m.name not in plan.skipped}
    for outcome in score_unit(unit, active, runner, workers=opts.workers):
        collector.consume(outcome)
