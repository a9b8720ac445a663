"""The scoring engine behind ``paradigm score``.

:func:`run_score` strings the stages of :mod:`paradigm.scoring` together. It discovers and pairs the results (:mod:`paradigm.layout`), hashes the files, looks
every (file, reference, metric, policy) up in the cache (:mod:`paradigm.cache`), decodes only the
pairs that still need work (each GT image once, in worker threads that overlap with compute),
batches same-sized pairs, runs every requested metric on each batch, streams the values to the
cache (one transaction per batch) and returns the per-image table, the summary, the error rows and
the run information. Any registered metric works: the engine reads only the declarations of
:class:`paradigm.metrics.base.Metric`.

Preprocessing policy (recorded in the signature and in every cache key):

- ``resize="to-gt"``: an output whose size differs from its GT is resized to the GT size with
  antialiased bicubic interpolation (then clamped to [0, 1]); the number of resized pairs is
  reported. ``resize="none"``: a size mismatch is an error row for that pair.
- The degraded input (``--input``), used by metrics with ``reference == "input"``, is always
  resized to the GT size the same way (it is usually smaller by design).
- ``crop_border=N`` removes N pixels from every side of output, GT and input before **every**
  metric (as BasicSR does for PSNR/SSIM and NIQE alike).
- ``y_channel=True`` sets the ``y_channel`` option of metrics that declare ``supports_y_channel``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import cache as cache_mod
from .errors import InputError, ParadigmError
from .io import DEFAULT_MAX_PIXELS
from .layout import Layout
from .scoring.collect import (
    Collector,
    apply_composite_stage,
    build_scores,
    counts,
    reference_stage,
    run_info,
    tables,
)
from .scoring.execute import Runner
from .scoring.local import progress_bar, run_local
from .scoring.plan import (
    ALIGN_POLICIES,
    DEFAULT_METRICS,
    PRECISIONS,
    RESIZE_POLICIES,
    Options,
    Plan,
    check_options,
    instantiate_metrics,
    make_plan,
    resolve_device,
    select_metrics,
)
from .signature import DEFAULT_PAIRS_PER_UNIT

log = logging.getLogger(__name__)

__all__ = [
    "ALIGN_POLICIES", "DEFAULT_METRICS", "PRECISIONS", "RESIZE_POLICIES", "ScoreConfig", "ScoreResult",
    "default_cache_path", "instantiate_metrics", "resolve_device", "run_score", "select_metrics",
]


@dataclass
class ScoreConfig:
    """Options of one scoring run (the ``paradigm score`` options).

    Attributes:
        results, gt, input: folders (see :mod:`paradigm.layout`).
        metrics: ``"default"``, ``"all"``, a comma-separated string or a list of names.
        resize: ``"to-gt"`` or ``"none"``.
        crop_border: pixels removed from every side before scoring.
        y_channel: score on BT.601 luma where metrics support it.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:k"``.
        batch_size: pairs per metric call (default 8).
        workers: decoding threads (default ``min(4, cpu count)``; 0 decodes in the main thread).
        cache: SQLite path, ``"default"`` (``RESULTS/.paradigm/cache.sqlite``) or None (no cache).
        seed: seeds torch and the bootstrap.
        composite, profile, strict: passed to ``paradigm.composite.apply_composite``.
        precision: passed to metrics that declare a ``precision`` option.
        input2: second source folder for two-input fusion metrics (``fusion_mi``, ``fusion_qabf``,
            ``fusion_vif``), paired like ``input``; those metrics get ``torch.cat([A, B], dim=1)``.
        align: ``"none"`` or ``"similarity"``: register each output to its GT (global translation and
            scale, :func:`paradigm.metrics.diagnostics.align_to`) after resizing, before any metric.
        progress: show a progress bar (None: only when stderr is a terminal).
        max_pixels: refuse (one ``decode`` error row) images whose header declares more pixels
            (``--max-pixels``; None or 0: no limit); recorded in the signature.
        trust_mtime: let the cache reuse a file's hash while its (path, size, mtime) is unchanged
            (``--trust-mtime``); by default every file's bytes are hashed on every run.
        allow_missing: accept a composite that names metrics paradigm does not know (they then
            count as missing); by default that is an error raised before any image is decoded.
        backend: ``"local"`` (this process) or ``"ray"`` (a Ray cluster, :mod:`paradigm.scoring.ray_backend`);
            recorded in the signature when not local. Scores are the same on either.
        ray_address, cpus_per_worker, gpus_per_worker: the Ray cluster (None: start or join a local
            one) and the resources of each task.
        protocol: a study protocol (``paradigm protocols``): it replaces the metric set, the resize
            rule, the reader and the pairing, and is recorded in the signature (:mod:`paradigm.protocols`).
        pairs_per_unit: pairs per unit of work (whole GT groups): a Ray task, the unit of retry on
            worker failure; batches never cross a unit, on any backend (so values match across backends).
    """

    results: Path
    gt: Path | None
    input: Path | None = None
    metrics: str | Sequence[str] = "default"
    resize: str = "to-gt"
    crop_border: int = 0
    y_channel: bool | str = False  # True: float Y (BasicSR); "matlab": rgb2ycbcr on uint8 (docs/colour.md)
    device: str = "auto"
    batch_size: int | None = None
    workers: int | None = None
    cache: str | os.PathLike[str] | None = "default"
    seed: int = 0
    composite: str | None = None
    profile: str | None = None
    strict: bool = False
    precision: str = "fp32"
    progress: bool | None = None
    align: str = "none"
    input2: Path | None = None
    n_boot: int = 1000
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    trust_mtime: bool = False
    allow_missing: bool = False
    backend: str = "local"
    ray_address: str | None = None
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    pairs_per_unit: int = DEFAULT_PAIRS_PER_UNIT
    protocol: str | None = None


@dataclass
class ScoreResult:
    """What :func:`run_score` returns.

    Attributes:
        scores: per-image table (contracts §2).
        summary: long-form summary (contracts §2).
        errors: error rows (``method, task, dataset, image, path, stage, reason``).
        run_info: the ``run.json`` content (signature, counts, skipped metrics, …).
        samples: ``paradigm.samples.aggregate_samples`` output, or None.
        explicit_skipped: metrics the user named explicitly that were skipped.
    """

    scores: Any
    summary: Any
    errors: Any
    run_info: dict[str, Any]
    layout: Layout
    samples: Any = None
    explicit_skipped: dict[str, str] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, Any]:
        return dict(self.run_info.get("counts", {}))

    @property
    def failed(self) -> int:
        """Number of error rows (pairing, decoding, resizing, metric)."""
        return int(len(self.errors))


def default_cache_path(results: Path) -> Path:
    """``RESULTS/.paradigm/cache.sqlite``."""
    return Path(results) / ".paradigm" / "cache.sqlite"


def check_composite(cfg: ScoreConfig) -> Any:
    """Load and validate the composite (file, profile, metric names) before any work.

    Raises:
        InputError: unreadable or invalid composite file, unknown profile, or metric names paradigm
            does not know (unless ``cfg.allow_missing``).
    """
    from .composite import resolve_spec
    from .composite.schema import unknown_metrics, unknown_metrics_message

    try:
        spec = resolve_spec(cfg.composite, cfg.profile)
    except ParadigmError as exc:
        raise InputError(f"composite: {exc}") from None
    unknown = unknown_metrics(spec)
    if unknown:
        if not cfg.allow_missing:
            raise InputError(unknown_metrics_message(spec, unknown))
        log.info("composite %s: unknown metric(s) %s accepted (--allow-missing)", spec.tag, sorted(unknown))
    return spec


def _open_cache(cfg: ScoreConfig) -> cache_mod.NullCache:
    if cfg.cache is None:
        return cache_mod.NullCache()
    path = default_cache_path(Path(cfg.results)) if str(cfg.cache) == "default" else Path(cfg.cache)
    return cache_mod.open_cache(path, trust_mtime=cfg.trust_mtime)


BACKENDS = ("local", "ray")


def _run_backend(cfg: ScoreConfig, plan: Plan, opts: Options, collector: Collector, runner: Runner) -> None:
    if cfg.backend == "ray":
        from .scoring.ray_backend import RayOptions, run_ray

        ray_opts = RayOptions(cfg.ray_address, cfg.cpus_per_worker, cfg.gpus_per_worker, cfg.pairs_per_unit)
        run_ray(plan, opts, collector, ray_opts)
    else:
        run_local(plan, opts, collector, runner, cfg.pairs_per_unit)


def _check_backend(cfg: ScoreConfig) -> None:
    if cfg.backend not in BACKENDS:
        raise InputError(f"--backend must be one of {', '.join(BACKENDS)}, got {cfg.backend!r}")
    if cfg.backend == "ray":
        from .scoring.ray_backend import import_ray

        import_ray()  # the install hint, before any work
        if cfg.cpus_per_worker <= 0 or cfg.gpus_per_worker < 0:
            raise InputError("--cpus-per-worker must be > 0 and --gpus-per-worker >= 0")


def run_score(cfg: ScoreConfig, echo: Callable[[str], None] | None = None) -> ScoreResult:
    """Score a results tree: plan -> decode -> batch -> execute -> collect -> composite.

    Args:
        cfg: the options.
        echo: where to send user-facing warnings (the CLI passes a stderr writer); logging otherwise.

    Returns:
        A :class:`ScoreResult`.

    Raises:
        InputError: missing/empty folders, bad options, a bad composite (all before any decoding).
        UnknownMetricError: a named metric is not registered.
        MetricUnavailableError: ``strict`` and the composite misses parts (raised by the composite).
    """
    t0 = time.perf_counter()
    say = echo or (lambda s: log.warning("%s", s))
    opts = check_options(cfg)
    _check_backend(cfg)
    spec = check_composite(cfg)  # a bad composite file fails here, before any image is decoded
    if opts.device.type == "cpu":
        from ._alloc import tune_malloc

        tune_malloc()  # reuse freed tensor memory instead of fresh mmap pages (glibc; no effect on values)
    torch.manual_seed(cfg.seed)
    cache = _open_cache(cfg)
    runner = Runner(opts.device)
    try:
        plan = make_plan(cfg, opts, cache)
        with progress_bar(plan.n_work, cfg.progress) as bar:
            collector = Collector(plan, cache, bar.update)
            _run_backend(cfg, plan, opts, collector, runner)
        scores = reference_stage(build_scores(plan, collector), plan, cfg, spec, cache)
        scores, info, note = apply_composite_stage(scores, cfg, spec)
        summary, errors, samples = tables(scores, plan, cfg.seed, cfg.n_boot, cfg.progress, cache)
    finally:
        cache.close()
    count = counts(plan, collector, scores, cache.hashed, runner.emb.hits, t0)
    run = run_info(cfg, plan, opts, cache, (info, note), count, backend=cfg.backend)
    if samples is not None:
        from .samples import spread_report

        run["run_spread"] = spread_report(samples)  # CCSR's G-STD and L-STD per method
    if note:
        log.info("%s", note)
    if count["resized"]:
        how = "--resize to-gt, antialiased bicubic" if not cfg.protocol else f"protocol rule {opts.decode.resize}"
        say(f"{count['resized']} output(s) resized to their GT size ({how})")
    return ScoreResult(
        scores=scores, summary=summary, errors=errors, run_info=run, layout=plan.layout, samples=samples,
        explicit_skipped={k: v for k, v in plan.skipped.items() if k in plan.explicit},
    )
