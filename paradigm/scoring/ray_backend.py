"""The Ray backend: score a plan's work units on a Ray cluster (``paradigm score --backend ray``).

The driver (this process) makes the plan exactly as a local run does (pairs, hashes, cache look-up),
cuts the remaining work into units of whole GT groups (:func:`paradigm.scoring.unit.split_units`)
and submits one Ray **task** per unit. A task runs the same worker function as the local backend
(:func:`paradigm.scoring.worker.score_unit`) and returns the unit's outcomes (plain floats and
strings); the driver consumes them as tasks finish, so it alone writes the SQLite cache and the
outputs. Tasks rather than actors: Ray retries a task whose worker process died
(``max_retries``), and it reuses worker processes between tasks, so each worker still builds its
metrics (and loads model weights) once, through a per-process cache keyed by the metric recipes.

Files must be readable at the same paths on every node (a shared file system): units carry paths,
not pixels.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..errors import InputError
from .collect import Collector
from .plan import Options, Plan, decode_policy
from .unit import WorkUnit, split_units

log = logging.getLogger(__name__)

INSTALL_HINT = 'the Ray backend needs Ray: pip install "paradigm-iqa[ray]" (or pip install "ray>=2.9")'


@dataclass(frozen=True)
class RayOptions:
    """Where and how to run: cluster address (None: start or join a local one), resources per task."""

    address: str | None = None
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    pairs_per_unit: int = 32
    max_retries: int = 3


@dataclass(frozen=True)
class MetricRecipe:
    """How to rebuild one metric on a worker: registry name and non-default options."""

    name: str
    options: tuple[tuple[str, Any], ...]


def recipes(plan: Plan) -> tuple[MetricRecipe, ...]:
    """Recipes of the plan's metrics that still run (options as instantiated on the driver)."""
    out = []
    for m in plan.metrics:
        if m.name in plan.skipped:
            continue
        changed = tuple(sorted((k, v) for k, v in m.options.items() if m.defaults.get(k) != v))
        out.append(MetricRecipe(m.name, changed))
    return tuple(out)


@lru_cache(maxsize=4)
def _worker_metrics(recipe: tuple[MetricRecipe, ...], device: str) -> dict[str, Any]:
    """The metrics of a recipe, built once per worker process (models load once)."""
    import torch

    from ..metrics.registry import create_metric

    out = {}
    for r in recipe:
        m = create_metric(r.name, **dict(r.options))
        m.to(torch.device(device))
        out[m.name] = m
    return out


def score_unit_task(unit: WorkUnit, recipe: tuple[MetricRecipe, ...], device: str, threads: int) -> list[Any]:
    """What one Ray task runs: the unit's outcomes, as a list (sent back to the driver).

    ``threads`` is the driver's torch thread count: float reductions split their sums by thread,
    so the worker uses the same count to give the driver's values to the last bit.
    """
    import torch

    from .execute import Runner
    from .worker import score_unit

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    metrics = _worker_metrics(recipe, device)
    return list(score_unit(unit, metrics, Runner(torch.device(device)), workers=0))


def import_ray() -> Any:
    """The ``ray`` module, or an :class:`InputError` with the install hint."""
    try:
        import ray
    except ImportError:
        raise InputError(INSTALL_HINT) from None
    return ray


def _connect(ray: Any, opts: RayOptions) -> None:
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False, "include_dashboard": False}
    if opts.address:
        kwargs["address"] = opts.address
        kwargs.pop("include_dashboard")
    ray.init(**kwargs)


def run_ray(plan: Plan, opts: Options, collector: Collector, ray_opts: RayOptions) -> None:
    """Submit one task per unit; consume outcomes on the driver as tasks complete (in any order)."""
    ray = import_ray()
    _connect(ray, ray_opts)
    device = "cuda" if ray_opts.gpus_per_worker > 0 else "cpu"
    units: Sequence[WorkUnit] = split_units(
        plan.groups, decode_policy(plan, opts), batch_size=opts.batch_size,
        pairs_per_unit=max(1, ray_opts.pairs_per_unit),
    )
    task = ray.remote(
        num_cpus=ray_opts.cpus_per_worker, num_gpus=ray_opts.gpus_per_worker, max_retries=ray_opts.max_retries
    )(score_unit_task)
    recipe = recipes(plan)
    import torch

    threads = torch.get_num_threads()
    pending = [task.remote(u, recipe, device, threads) for u in units]
    log.info("ray: %d unit(s) of work submitted", len(pending))
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for outcome in ray.get(done[0]):
            collector.consume(outcome)
