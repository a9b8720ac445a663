"""The local backend: score a plan's work in this process (decoding in threads, metrics here)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable
from typing import Any

import torch

from ..metrics.base import Metric
from .collect import Collector
from .execute import Runner, is_model_metric
from .plan import Options, Plan, decode_policy
from .unit import split_units
from .worker import score_units


def progress_bar(total: int, show: bool | None) -> Any:
    """A tqdm bar on stderr, shown when asked or, by default, only when stderr is a terminal."""
    from tqdm import tqdm

    on = show if show is not None else sys.stderr.isatty()
    return tqdm(total=total, desc="scoring", unit="pair", file=sys.stderr, disable=not on or total == 0)


def run_local(plan: Plan, opts: Options, collector: Collector, runner: Runner, pairs_per_unit: int) -> None:
    """Decode, batch and execute every work group of the plan, streaming outcomes to the collector.

    The work is cut into the same units as a distributed run would (batches never cross a unit's
    boundary), so both give the same values to the last bit.
    """
    units = split_units(plan.groups, decode_policy(plan, opts), batch_size=opts.batch_size,
                        pairs_per_unit=pairs_per_unit)
    active = {m.name: m for m in plan.metrics if m.name not in plan.skipped}
    with cpu_threads(active.values(), runner.device):
        for outcome in score_units(units, active, runner, workers=opts.workers):
            collector.consume(outcome)


def cpu_threads(metrics: Iterable[Metric], device: torch.device) -> Any:
    """The whole run with serial torch kernels when it is a CPU run of kernel metrics only.

    Kernel metrics always run torch serially on CPU (:func:`paradigm.scoring.execute.cpu_threads_context`);
    holding that for the whole run also keeps the decoding threads and the batch stacking off
    torch's OpenMP teams, whose spinning next to the decoders cost ~15% more CPU per pair on 2
    cores. Runs with a model metric keep torch's threads between metrics (models scale with them).
    """
    if device.type != "cpu" or any(is_model_metric(m) for m in metrics):
        return contextlib.nullcontext()
    from ..metrics._filters import serial_torch_ops

    return serial_torch_ops()
