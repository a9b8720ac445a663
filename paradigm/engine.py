"""The scoring engine behind ``paradigm score``.

:func:`run_score` discovers and pairs the results (:mod:`paradigm.layout`), hashes the files, looks
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

import concurrent.futures as cf
import importlib
import logging
import math
import os
import sys
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import cache as cache_mod
from .errors import InputError, MetricUnavailableError, ParadigmError, UnknownMetricError
from .io import COLOUR_RULE, DecodeError, read_image
from .layout import Layout, Pair, discover
from .metrics.base import EmbeddingMetric, Metric, check_image
from .metrics.registry import create_metric, get_metric_class, list_metrics
from .outputs import ERROR_COLUMNS, ID_COLUMNS, summarise
from .signature import build_signature, policy_string, signature_line

log = logging.getLogger(__name__)

#: ``--metrics default``: these, when registered; model-backed ones only when their weights resolve;
#: input-referenced ones only with ``--input``.
DEFAULT_METRICS: tuple[str, ...] = (
    "psnr", "ssim", "ms_ssim", "gmsd", "ciede2000", "edge_f1", "edge_f1_input",
    "lpips", "dists", "clip_sim", "dino_sim", "niqe", "brisque",
)

RESIZE_POLICIES = ("to-gt", "none")
ALIGN_POLICIES = {"none": "none", "similarity": "similarity-v1"}
PRECISIONS = ("fp32", "bf16", "fp16")


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
        protocol: a study protocol (``paradigm protocols``): it replaces the metric set, the resize
            rule and the pairing, and is recorded in the signature (see :mod:`paradigm.protocols`).
    """

    results: Path
    gt: Path | None
    input: Path | None = None
    metrics: str | Sequence[str] = "default"
    resize: str = "to-gt"
    crop_border: int = 0
    y_channel: bool = False
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


# --------------------------------------------------------------------------------------------
# metric selection


def resolve_device(device: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; validates ``cuda[:k]``."""
    d = (device or "auto").strip().lower()
    if d == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(d)
    except RuntimeError as exc:
        raise InputError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:K") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but CUDA is not available here; use --device cpu")
    return dev


def _group_names(group: str, has_input: bool, has_gt: bool = True) -> list[str]:
    """Names of ``default`` or ``all`` that can run with/without ``--input``/``--gt`` (registered only)."""
    registered = list_metrics()
    if group == "all":
        names = registered
    else:
        names = [n for n in DEFAULT_METRICS if n in set(registered)]
        for n in DEFAULT_METRICS:
            if n not in registered:
                log.debug("default metric %s is not registered (module not installed)", n)
    out = []
    for n in names:
        cls = get_metric_class(n)
        if cls.reference == "input" and not has_input:
            log.debug("metric %s needs --input; left out", n)
            continue
        if cls.reference == "gt" and not has_gt:
            log.debug("metric %s needs --gt; left out", n)
            continue
        out.append(cls.name)
    return out


def select_metrics(
    spec: str | Sequence[str], has_input: bool, has_gt: bool = True
) -> tuple[list[str], set[str], dict[str, str]]:
    """Resolve ``--metrics`` to registry names.

    ``spec`` is a comma-separated string (or a list) of metric names and the keywords ``default``
    and ``all``, e.g. ``"default,niqe"``.

    Returns:
        ``(names, explicit, skipped)``: names to try in order, the subset the user named
        explicitly (skipping those is reported loudly), and metrics left out up front with the
        reason (an explicitly named input-referenced metric without ``--input``).

    Raises:
        UnknownMetricError: an explicitly named metric is not registered.
        InputError: an empty list.
    """
    skipped: dict[str, str] = {}
    items = [x for x in (t.strip() for t in spec.split(",")) if x] if isinstance(spec, str) else [
        str(x).strip() for x in spec if str(x).strip()
    ]
    if not items:
        raise InputError("--metrics is empty; give names (comma-separated), 'default' or 'all'")
    names: list[str] = []
    explicit: set[str] = set()
    for item in items:
        if item.lower() in ("default", "all"):
            names += [n for n in _group_names(item.lower(), has_input, has_gt) if n not in names]
            continue
        cls = get_metric_class(item)  # raises UnknownMetricError with suggestions
        explicit.add(cls.name)
        if cls.reference == "input" and not has_input:
            skipped[cls.name] = "needs the degraded input: pass --input LQ"
            continue
        if cls.reference == "gt" and not has_gt:
            skipped[cls.name] = "needs ground truth: pass --gt GT (this run scores against --input only)"
            continue
        if cls.name not in names:
            names.append(cls.name)
    return names, explicit, skipped


def instantiate_metrics(
    names: Sequence[str], *, y_channel: bool, precision: str, device: torch.device
) -> tuple[list[Metric], dict[str, str]]:
    """Create the metrics; those raising :class:`MetricUnavailableError` (or failing to build) are skipped."""
    metrics: list[Metric] = []
    skipped: dict[str, str] = {}
    for n in names:
        cls = get_metric_class(n)
        opts: dict[str, Any] = {}
        if y_channel and cls.supports_y_channel and "y_channel" in cls.defaults:
            opts["y_channel"] = True
        if "precision" in cls.defaults:
            opts["precision"] = precision
        try:
            m = create_metric(n, **opts)
            m.to(device)
        except MetricUnavailableError as exc:
            skipped[cls.name] = str(exc)
            continue
        except (ImportError, OSError, RuntimeError) as exc:
            skipped[cls.name] = f"{type(exc).__name__}: {exc}"
            continue
        metrics.append(m)
    return metrics, skipped


# --------------------------------------------------------------------------------------------
# decoding / preprocessing


@dataclass
class _Item:
    idx: int
    out: torch.Tensor
    gt: torch.Tensor
    inp: torch.Tensor | None
    needed: list[str]
    height: int
    width: int
    resized: bool
    inp2: torch.Tensor | None = None


@dataclass
class _Fail:
    idx: int
    stage: str
    reason: str
    path: Path


def _resize(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Antialiased bicubic resize of ``(3, H, W)`` to ``(3, h, w)``, clamped to [0, 1]."""
    y = torch.nn.functional.interpolate(x[None], size=(h, w), mode="bicubic", antialias=True, align_corners=False)
    return y[0].clamp_(0.0, 1.0)


def _protocol_resize(rule: str, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """A study protocol's resize rule (:mod:`paradigm.protocols.resize`)."""
    from .protocols.hook import resize_output

    return resize_output(rule, x, h, w)


def _crop(x: torch.Tensor, n: int) -> torch.Tensor:
    return x[:, n : x.shape[1] - n, n : x.shape[2] - n] if n > 0 else x


def _prepare_group(
    gt_path: Path,
    work: list[tuple[int, Pair, list[str]]],
    resize: str,
    crop: int,
    input_metrics: set[str],
    align: str = "none",
    input2: dict[int, Path] | None = None,
    reader: Callable[[Path], torch.Tensor] = read_image,
) -> list[_Item | _Fail]:
    """Decode one GT image and every output paired with it (with ``reader``); resize/crop them."""
    out: list[_Item | _Fail] = []
    try:
        gt = reader(gt_path)
    except DecodeError as exc:
        return [_Fail(i, "decode", f"GT: {exc}", gt_path) for i, _, _ in work]
    h, w = int(gt.shape[1]), int(gt.shape[2])
    if crop > 0 and (h <= 2 * crop or w <= 2 * crop):
        return [
            _Fail(i, "crop", f"--crop-border {crop} removes the whole {h}x{w} image", p.output_path)
            for i, p, _ in work
        ]
    gtc = _crop(gt, crop)
    inputs: dict[Path, torch.Tensor | _Fail] = {}
    for i, pair, needed in work:
        try:
            o = reader(pair.output_path)
        except DecodeError as exc:
            out.append(_Fail(i, "decode", str(exc), pair.output_path))
            continue
        resized = tuple(o.shape[1:]) != (h, w) and resize != "native"
        if resized:
            if resize == "none":
                out.append(
                    _Fail(i, "resize", f"output is {o.shape[1]}x{o.shape[2]} but GT is {h}x{w} "
                          "(--resize none); resize it or use --resize to-gt", pair.output_path)
                )
                continue
            o = _resize(o, h, w) if resize in RESIZE_POLICIES else _protocol_resize(resize, o, h, w)
        if align != "none":
            from .metrics.diagnostics import align_to

            o = align_to(o[None], gt[None])[0].clamp_(0.0, 1.0)
        inp_t: torch.Tensor | None = None
        if pair.input_path is not None and any(n in input_metrics for n in needed):
            got = inputs.get(pair.input_path)
            if got is None:
                try:
                    t = reader(pair.input_path)
                    if tuple(t.shape[1:]) != (h, w):
                        t = _resize(t, h, w)
                    got = _crop(t, crop)
                except DecodeError as exc:
                    got = _Fail(i, "decode", f"input: {exc}", pair.input_path)
                inputs[pair.input_path] = got
            if isinstance(got, _Fail):
                out.append(_Fail(i, got.stage, got.reason, got.path))
                needed = [n for n in needed if n not in input_metrics]
            else:
                inp_t = got
        inp2_t: torch.Tensor | None = None
        p2 = (input2 or {}).get(i)
        if inp_t is not None and p2 is not None:
            got2 = inputs.get(p2)
            if got2 is None:
                try:
                    t2 = reader(p2)
                    if tuple(t2.shape[1:]) != (h, w):
                        t2 = _resize(t2, h, w)
                    got2 = _crop(t2, crop)
                except DecodeError as exc:
                    got2 = _Fail(i, "decode", f"input2: {exc}", p2)
                inputs[p2] = got2
            if isinstance(got2, _Fail):
                out.append(_Fail(i, got2.stage, got2.reason, got2.path))
            else:
                inp2_t = got2
        out.append(_Item(i, _crop(o, crop), gtc, inp_t, needed, h, w, resized, inp2_t))
    return out


def _iter_prepared(
    groups: list[tuple[Path, list[tuple[int, Pair, list[str]]]]],
    workers: int,
    fn: Callable[[Path, list[tuple[int, Pair, list[str]]]], list[_Item | _Fail]],
) -> Iterator[list[_Item | _Fail]]:
    """Prepared groups in order; with workers > 0, decoded in threads with bounded look-ahead."""
    if workers <= 0:
        for g, work in groups:
            yield fn(g, work)
        return
    ahead = max(2, 2 * workers)
    with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="paradigm-decode") as ex:
        pending: list[cf.Future[list[_Item | _Fail]]] = []
        it = iter(groups)
        for g, work in it:
            pending.append(ex.submit(fn, g, work))
            if len(pending) >= ahead:
                break
        while pending:
            fut = pending.pop(0)
            nxt = next(it, None)
            if nxt is not None:
                pending.append(ex.submit(fn, nxt[0], nxt[1]))
            yield fut.result()


# --------------------------------------------------------------------------------------------
# running metrics


def _emb_index(e: Any, i: int) -> Any:
    if isinstance(e, torch.Tensor):
        return e[i].clone()  # do not keep the whole batch alive
    if isinstance(e, (tuple, list)):
        return type(e)(_emb_index(t, i) for t in e)
    if isinstance(e, dict):
        return {k: _emb_index(v, i) for k, v in e.items()}
    raise TypeError(f"unsupported embedding type {type(e).__name__}")


def _emb_stack(es: Sequence[Any]) -> Any:
    first = es[0]
    if isinstance(first, torch.Tensor):
        return torch.stack(list(es))
    if isinstance(first, (tuple, list)):
        return type(first)(_emb_stack([e[j] for e in es]) for j in range(len(first)))
    if isinstance(first, dict):
        return {k: _emb_stack([e[k] for e in es]) for k in first}
    raise TypeError(f"unsupported embedding type {type(first).__name__}")


class _EmbeddingCache:
    """Reference embeddings per (metric, reference key), least-recently-used, bounded."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._d: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, str]) -> Any:
        if key in self._d:
            self._d.move_to_end(key)
            self.hits += 1
            return self._d[key]
        return None

    def put(self, key: tuple[str, str], value: Any) -> None:
        self._d[key] = value
        self._d.move_to_end(key)
        while len(self._d) > self.size:
            self._d.popitem(last=False)


def _to_columns(metric: Metric, res: torch.Tensor | dict[str, torch.Tensor], n: int) -> dict[str, np.ndarray]:
    if isinstance(res, dict):
        cols = {}
        for c in metric.columns:
            if c not in res:
                raise RuntimeError(f"metric {metric.name!r} did not return its declared column {c!r}")
            cols[c] = res[c].detach().to("cpu", torch.float64).reshape(-1).numpy()
    else:
        cols = {metric.columns[0]: res.detach().to("cpu", torch.float64).reshape(-1).numpy()}
    for c, v in cols.items():
        if v.shape[0] != n:
            raise RuntimeError(f"metric {metric.name!r} returned {v.shape[0]} values for column {c!r}, expected {n}")
    return cols


class _Runner:
    """Runs metrics on batches, with reference-embedding reuse and per-item fallback on errors."""

    def __init__(self, metrics: list[Metric], device: torch.device, emb: _EmbeddingCache) -> None:
        self.metrics = metrics
        self.device = device
        self.emb = emb
        self.unavailable: dict[str, str] = {}
        self.calls: dict[str, int] = defaultdict(int)

    def _forward(self, m: Metric, x: torch.Tensor, ref: torch.Tensor | None, ref_keys: list[str]) -> Any:
        self.calls[m.name] += int(x.shape[0])
        if isinstance(m, EmbeddingMetric) and ref is not None:
            check_image(x, "output")
            check_image(ref, "reference")
            cached = [self.emb.get((m.name, k)) for k in ref_keys]
            miss = [j for j, c in enumerate(cached) if c is None]
            if miss:
                # unique references among the misses
                uniq: dict[str, int] = {}
                for j in miss:
                    uniq.setdefault(ref_keys[j], j)
                order = list(uniq.items())
                e = m.embed(ref[[j for _, j in order]])
                self.emb.misses += len(order)
                for pos, (k, _) in enumerate(order):
                    self.emb.put((m.name, k), _emb_index(e, pos))
                cached = [self.emb.get((m.name, k)) for k in ref_keys]
            eref = _emb_stack(cached)
            return m.compare(m.embed(x), eref)
        return m(x, ref)

    def run(
        self, m: Metric, x: torch.Tensor, ref: torch.Tensor | None, ref_keys: list[str]
    ) -> list[dict[str, float] | Exception]:
        """Per-item column values or the exception for that item."""
        n = int(x.shape[0])
        try:
            with torch.inference_mode():
                res = self._forward(m, x, ref, ref_keys)
            cols = _to_columns(m, res, n)
            return [{c: float(v[j]) for c, v in cols.items()} for j in range(n)]
        except MetricUnavailableError:
            raise
        except Exception as exc:
            if n == 1:
                return [exc]
            log.debug("metric %s failed on a batch of %d (%s); retrying one by one", m.name, n, exc)
        out: list[dict[str, float] | Exception] = []
        for j in range(n):
            try:
                with torch.inference_mode():
                    res = self._forward(m, x[j : j + 1], None if ref is None else ref[j : j + 1], ref_keys[j : j + 1])
                cols = _to_columns(m, res, 1)
                out.append({c: float(v[0]) for c, v in cols.items()})
            except MetricUnavailableError:
                raise
            except Exception as exc:
                out.append(exc)
        return out


# --------------------------------------------------------------------------------------------
# hooks


def _probe(m: Metric, device: torch.device) -> str | None:
    """Run ``m`` once on a small random pair; the reason when it raises :class:`MetricUnavailableError`.

    Used for metrics that declare ``weights``: lazily loaded weights are thus found missing before
    any image is decoded. Other exceptions are
    ignored here (real images will show them as error rows).
    """
    side = max(int(m.min_size), 64)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, side, side, generator=g).to(device)
    ref = None if m.reference == "none" else torch.rand(1, 3, side, side, generator=g).to(device)
    try:
        with torch.inference_mode():
            m(x, ref)
    except MetricUnavailableError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - only availability matters here
        log.debug("probe of %s raised %s: %s", m.name, type(exc).__name__, exc)
    return None


def _optional_attr(module: str, attr: str) -> Callable[..., Any] | None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == module or module.startswith(exc.name + ".")):
            log.debug("%s not available: %s", module, exc)
            return None
        raise
    fn = getattr(mod, attr, None)
    if fn is None:
        log.debug("%s has no %s", module, attr)
    return fn


# --------------------------------------------------------------------------------------------
# main entry


def default_cache_path(results: Path) -> Path:
    """``RESULTS/.paradigm/cache.sqlite``."""
    return Path(results) / ".paradigm" / "cache.sqlite"


def run_score(cfg: ScoreConfig, echo: Callable[[str], None] | None = None) -> ScoreResult:
    """Score a results tree (see the module docstring).

    Args:
        cfg: the options.
        echo: where to send user-facing warnings (the CLI passes a stderr writer); logging otherwise.

    Returns:
        A :class:`ScoreResult`.

    Raises:
        InputError: missing/empty folders, bad options.
        UnknownMetricError: a named metric is not registered.
        MetricUnavailableError: ``strict`` and the composite misses parts (raised by the composite).
    """
    import pandas as pd

    t0 = time.perf_counter()
    say = echo or (lambda s: log.warning("%s", s))
    if cfg.resize not in RESIZE_POLICIES:
        raise InputError(f"--resize must be one of {', '.join(RESIZE_POLICIES)}, got {cfg.resize!r}")
    if cfg.precision not in PRECISIONS:
        raise InputError(f"--precision must be one of {', '.join(PRECISIONS)}, got {cfg.precision!r}")
    if cfg.crop_border < 0:
        raise InputError(f"--crop-border must be >= 0, got {cfg.crop_border}")
    batch_size = cfg.batch_size if cfg.batch_size is not None else 8
    if batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {batch_size}")
    workers = cfg.workers if cfg.workers is not None else min(4, os.cpu_count() or 1)
    if workers < 0:
        raise InputError(f"--workers must be >= 0, got {workers}")
    device = resolve_device(cfg.device)
    if device.type == "cpu":
        from ._alloc import tune_malloc

        tune_malloc()  # reuse freed tensor memory instead of fresh mmap pages (glibc; no effect on values)
    torch.manual_seed(cfg.seed)

    # Without ground truth the input folder is the pairing anchor (and the size reference).
    anchor = cfg.gt if cfg.gt is not None else cfg.input
    if anchor is None:
        raise InputError(
            "give --gt GT, or --input LQ alone for tasks without ground truth (outputs are then paired "
            "with, and compared against, the input)"
        )
    has_gt = cfg.gt is not None
    layout = discover(cfg.results, anchor, cfg.input)
    has_input = cfg.input is not None
    names, explicit, skipped = select_metrics(cfg.metrics, has_input, has_gt)
    if cfg.profile and isinstance(cfg.metrics, str) and cfg.metrics.strip().lower() == "default":
        # a task profile replaces the default set by the metrics its composite uses
        from .composite import load_profile

        wanted = [m for pil in load_profile(cfg.profile).get("pillars", {}).values() for m in pil.get("metrics", {})]
        known = set(list_metrics())
        names = []
        for n in dict.fromkeys(wanted):
            if n not in known:
                skipped[n] = "not implemented in this paradigm version (named by the profile)"
                continue
            ref = get_metric_class(n).reference
            if (ref == "input" and not has_input) or (ref == "gt" and not has_gt):
                skipped[n] = "needs --input LQ" if ref == "input" else "needs --gt GT"
                continue
            names.append(get_metric_class(n).name)
    if cfg.input2 is None:
        for n in list(names):
            if getattr(get_metric_class(n), "two_inputs", False):
                names.remove(n)
                if n in explicit:
                    skipped[n] = "needs two fusion sources: pass --input A --input2 B"
    plan = None
    if cfg.protocol:  # a study protocol: its metric set, resize rule and pairing (paradigm.protocols)
        from .protocols.hook import engine_plan

        plan = engine_plan(cfg, layout, device)
        layout, names, explicit, skipped = plan.layout, [], plan.names, dict(plan.skipped)
    metrics, unavailable = instantiate_metrics(names, y_channel=cfg.y_channel, precision=cfg.precision, device=device)
    if plan is not None:
        metrics = plan.metrics
    resize_rule = cfg.resize if plan is None else plan.protocol.resize
    skipped.update(unavailable)
    if cfg.align not in ALIGN_POLICIES:
        raise InputError(f"--align must be one of {', '.join(ALIGN_POLICIES)}, got {cfg.align!r}")
    align_tag = ALIGN_POLICIES[cfg.align]
    policy = policy_string(resize_rule, cfg.crop_border, COLOUR_RULE, align=align_tag)
    if plan is not None:
        policy += f"|protocol:{plan.protocol.tag}"
    input_metrics = {m.name for m in metrics if m.reference == "input"}
    input2_paths: dict[int, Path] = {}
    if cfg.input2 is not None:
        by_key = {
            (q.method, q.task, q.dataset, q.image, q.sample): q.input_path
            for q in discover(cfg.results, anchor, cfg.input2).pairs
        }
        for j, q in enumerate(layout.pairs):
            p2 = by_key.get((q.method, q.task, q.dataset, q.image, q.sample))
            if p2 is not None:
                input2_paths[j] = p2

    # ---- cache lookups
    if cfg.cache is None:
        cache: cache_mod.NullCache = cache_mod.NullCache()
    else:
        cpath = default_cache_path(Path(cfg.results)) if str(cfg.cache) == "default" else Path(cfg.cache)
        cache = cache_mod.open_cache(cpath)
    errors: list[dict[str, Any]] = []
    for u in layout.unpaired:
        errors.append(
            {"method": u.method, "task": u.task, "dataset": u.dataset, "image": u.image,
             "path": str(u.path), "stage": "pairing", "reason": u.reason}
        )

    if cfg.input2 is not None:
        for j, q in enumerate(layout.pairs):
            if j not in input2_paths:
                errors.append(
                    {"method": q.method, "task": q.task, "dataset": q.dataset, "image": q.image,
                     "path": str(q.output_path), "stage": "pairing",
                     "reason": "no --input2 image matches this output (two-input fusion metrics not computed)"}
                )

    pairs = layout.pairs
    sigs = {m.name: cache_mod.metric_sig(m.signature()) for m in metrics}
    rows: list[dict[str, Any]] = []
    hashes: list[tuple[str, str, str]] = []
    for i, p in enumerate(pairs):
        try:
            o_sha = cache.file_sha(p.output_path)
            g_sha = cache.file_sha(p.gt_path)
            i_sha = cache.file_sha(p.input_path) if p.input_path is not None else ""
            if i in input2_paths:  # the second fusion source is part of the input's identity
                i_sha = f"{i_sha}+{cache.file_sha(input2_paths[i])}"
        except OSError as exc:
            o_sha = g_sha = i_sha = f"unreadable:{i}"
            log.debug("cannot hash %s: %s", p.output_path, exc)
        hashes.append((o_sha, g_sha, i_sha))
        rows.append(
            {"method": p.method, "task": p.task, "dataset": p.dataset, "image": p.image, "sample": p.sample,
             "output_path": str(p.output_path), "gt_path": str(p.gt_path),
             "input_path": "" if p.input_path is None else str(p.input_path),
             "height": -1, "width": -1, "resized": False}
        )

    def ref_sha(m: Metric, h: tuple[str, str, str]) -> str:
        if m.reference == "input":
            return f"{h[2]}:{h[1]}"
        return h[1]

    def key(m: Metric, h: tuple[str, str, str]) -> cache_mod.ScoreKey:
        return (h[0], ref_sha(m, h), m.name, sigs[m.name], policy)

    all_keys = [key(m, h) for h in hashes for m in metrics]
    cached = cache.get_scores(all_keys)
    geom = cache.get_geometry([(h[0], h[1], policy) for h in hashes])
    n_cached = 0
    work_by_gt: dict[Path, list[tuple[int, Pair, list[str]]]] = defaultdict(list)
    for i, (p, h) in enumerate(zip(pairs, hashes, strict=True)):
        needed = []
        for m in metrics:
            if m.reference == "input" and p.input_path is None:
                continue  # listed as a pairing error
            got = cached.get(key(m, h))
            if got is None:
                needed.append(m.name)
            else:
                n_cached += 1
                rows[i].update(got)
        g = geom.get((h[0], h[1], policy))
        if g is not None:
            rows[i]["height"], rows[i]["width"], rows[i]["resized"] = g[0], g[1], g[2]
        if needed or g is None:
            work_by_gt[p.gt_path].append((i, p, needed))

    # ---- probe metrics that have work: a metric whose weights are missing says so before any decoding
    with_work = {n for w in work_by_gt.values() for _, _, needed in w for n in needed}
    for m in list(metrics):
        if m.weights and m.name in with_work and m.name not in skipped:
            why = _probe(m, device)
            if why is not None:
                skipped[m.name] = why
    if any(m.name in skipped for m in metrics):
        for gpath in list(work_by_gt):
            kept_work = []
            for i, p, needed in work_by_gt[gpath]:
                needed = [n for n in needed if n not in skipped]
                if needed or rows[i]["height"] < 0:
                    kept_work.append((i, p, needed))
            if kept_work:
                work_by_gt[gpath] = kept_work
            else:
                del work_by_gt[gpath]
    metrics_run = [m for m in metrics if m.name not in skipped]

    # ---- compute
    groups = list(work_by_gt.items())
    n_work = sum(len(w) for _, w in groups)
    show = cfg.progress if cfg.progress is not None else sys.stderr.isatty()
    from tqdm import tqdm

    bar = tqdm(total=n_work, desc="scoring", unit="pair", file=sys.stderr, disable=not show or n_work == 0)
    emb = _EmbeddingCache()
    runner = _Runner(metrics, device, emb)
    active = {m.name: m for m in metrics_run}
    failed_pairs: set[int] = set()
    n_computed = 0
    n_decoded_pairs = 0
    n_resized = 0

    def add_error(i: int, stage: str, reason: str, path: Path | str) -> None:
        p = pairs[i]
        errors.append(
            {"method": p.method, "task": p.task, "dataset": p.dataset,
             "image": p.image + (f"_s{p.sample}" if p.sample else ""),
             "path": str(path), "stage": stage, "reason": reason}
        )

    def flush(items: list[_Item]) -> None:
        nonlocal n_computed
        if not items:
            return
        to_store: list[tuple[cache_mod.ScoreKey, dict[str, float]]] = []
        geo_store = []
        for it in items:
            h = hashes[it.idx]
            geo_store.append(((h[0], h[1], policy), (it.height, it.width, it.resized)))
        hh, ww = int(items[0].out.shape[1]), int(items[0].out.shape[2])
        pos = {it.idx: j for j, it in enumerate(items)}
        x_all = torch.stack([it.out for it in items]).to(runner.device)
        gt_all: torch.Tensor | None = None
        for m in list(active.values()):
            sub = [it for it in items if m.name in it.needed]
            if not sub:
                continue
            two = bool(getattr(m, "two_inputs", False))
            if m.reference == "input":
                sub = [it for it in sub if it.inp is not None and (not two or it.inp2 is not None)]
                if not sub:
                    continue
            if min(hh, ww) < m.min_size:
                for it in sub:
                    add_error(it.idx, f"metric:{m.name}",
                              f"image of {hh}x{ww} px (after cropping) is smaller than the metric's minimum "
                              f"{m.min_size} px", pairs[it.idx].output_path)
                continue
            whole = len(sub) == len(items)
            sel = None if whole else torch.tensor([pos[it.idx] for it in sub], device=x_all.device)
            x = x_all if sel is None else x_all.index_select(0, sel)
            ref: torch.Tensor | None
            if m.reference == "gt":
                if gt_all is None:
                    gt_all = torch.stack([it.gt for it in items]).to(runner.device)
                ref = gt_all if sel is None else gt_all.index_select(0, sel)
                rkeys = [hashes[it.idx][1] for it in sub]
            elif m.reference == "input" and two:
                ref = torch.stack(
                    [torch.cat([it.inp, it.inp2], dim=0) for it in sub if it.inp is not None and it.inp2 is not None]
                ).to(runner.device)
                rkeys = [f"{hashes[it.idx][2]}:{hashes[it.idx][1]}" for it in sub]
            elif m.reference == "input":
                ref = torch.stack([it.inp for it in sub if it.inp is not None]).to(runner.device)
                rkeys = [f"{hashes[it.idx][2]}:{hashes[it.idx][1]}" for it in sub]
            else:
                ref = None
                rkeys = ["" for _ in sub]
            try:
                res = runner.run(m, x, ref, rkeys)
            except MetricUnavailableError as exc:
                skipped[m.name] = str(exc)
                del active[m.name]
                log.info("metric %s skipped for this run: %s", m.name, exc)
                continue
            for it, r in zip(sub, res, strict=True):
                n_computed += 1
                if isinstance(r, Exception):
                    msg = str(r) if isinstance(r, ParadigmError) else f"{type(r).__name__}: {r}"
                    add_error(it.idx, f"metric:{m.name}", msg, pairs[it.idx].output_path)
                    continue
                bad = [c for c, v in r.items() if math.isnan(v)]
                rows[it.idx].update(r)
                if bad:
                    add_error(it.idx, f"metric:{m.name}", f"result is NaN ({', '.join(bad)})", pairs[it.idx].output_path)
                    continue
                to_store.append((key(m, hashes[it.idx]), r))
        cache.put(to_store, geo_store)
        bar.update(len(items))

    buckets: dict[tuple[int, int], list[_Item]] = OrderedDict()
    buffered = 0

    def prep(g: Path, work: list[tuple[int, Pair, list[str]]]) -> list[_Item | _Fail]:
        reader = read_image if plan is None else plan.reader
        return _prepare_group(g, work, resize_rule, cfg.crop_border, input_metrics, cfg.align, input2_paths, reader)

    try:
        for prepared in _iter_prepared(groups, workers, prep):
            for it in prepared:
                if isinstance(it, _Fail):
                    add_error(it.idx, it.stage, it.reason, it.path)
                    if it.stage != "decode" or not it.reason.startswith(("input:", "input2:")):
                        failed_pairs.add(it.idx)
                        bar.update(1)
                    continue
                n_decoded_pairs += 1
                n_resized += int(it.resized)
                rows[it.idx]["height"], rows[it.idx]["width"], rows[it.idx]["resized"] = it.height, it.width, it.resized
                k = (int(it.out.shape[1]), int(it.out.shape[2]))
                buckets.setdefault(k, []).append(it)
                buffered += 1
                if len(buckets[k]) >= batch_size:
                    flush(buckets.pop(k))
                    buffered -= batch_size
                while buffered > 2 * batch_size:  # many distinct sizes: flush the oldest bucket
                    k0 = next(iter(buckets))
                    b = buckets.pop(k0)
                    buffered -= len(b)
                    flush(b)
        for b in list(buckets.values()):
            flush(b)
        buckets.clear()
    finally:
        bar.close()
        cache.close()

    for m_name in list(skipped):
        for c in _columns_of(m_name):
            for r in rows:
                r.pop(c, None)

    # ---- tables
    metric_cols: list[str] = []
    for m in metrics:
        if m.name in skipped:
            continue
        for c in m.columns:
            if c not in metric_cols:
                metric_cols.append(c)
    kept = [r for i, r in enumerate(rows) if i not in failed_pairs]
    scores = pd.DataFrame(kept, columns=list(ID_COLUMNS) + metric_cols)
    for c in metric_cols:
        scores[c] = pd.to_numeric(scores[c], errors="coerce").astype("float64")
    scores["height"] = scores["height"].astype("int64")
    scores["width"] = scores["width"].astype("int64")
    scores["resized"] = scores["resized"].astype(bool)

    composite_info: dict[str, Any] | None = None
    apply_composite = _optional_attr("paradigm.composite", "apply_composite")
    if apply_composite is not None and len(scores) and plan is None:  # a protocol reports the study's view
        try:
            scores, composite_info = apply_composite(
                scores, composite=cfg.composite, profile=cfg.profile, strict=cfg.strict
            )
        except (MetricUnavailableError, InputError, UnknownMetricError):
            raise
        except ParadigmError as exc:
            raise InputError(f"composite: {exc}") from exc
    elif apply_composite is None and (cfg.composite or cfg.profile):
        say("--composite/--profile ignored: paradigm.composite is not available in this installation")

    samples_df = None
    if len(scores) and (scores["sample"] != "").any():
        aggregate_samples = _optional_attr("paradigm.samples", "aggregate_samples")
        if aggregate_samples is not None:
            samples_df = aggregate_samples(scores)

    summary = summarise(scores, seed=cfg.seed, n_boot=cfg.n_boot)
    errors_df = pd.DataFrame(errors, columns=list(ERROR_COLUMNS))

    comp_id = None
    if composite_info:
        comp_id = composite_info.get("composite")
        if comp_id and composite_info.get("profile"):
            comp_id = f"{comp_id}/{composite_info['profile']}"
        if comp_id and composite_info.get("sha256"):
            comp_id = f"{comp_id}+{composite_info['sha256']}"
    ran = [m for m in metrics if m.name not in skipped]
    sig = build_signature(
        [m.signature() for m in ran], composite=comp_id, resize=resize_rule, crop_border=cfg.crop_border,
        y_channel=cfg.y_channel, colour=COLOUR_RULE, precision=cfg.precision, device=str(device), seed=cfg.seed,
        align=align_tag, protocol=None if plan is None else plan.protocol.tag,
    )
    stage_counts: dict[str, int] = defaultdict(int)
    for e in errors:
        stage_counts[e["stage"].split(":")[0]] += 1
    counts = {
        "pairs": len(pairs),
        "rows": int(len(scores)),
        "methods": len(layout.methods),
        "gt_images": len({p.gt_path for p in pairs}),
        "unpaired": len(layout.unpaired),
        "errors": len(errors),
        "errors_by_stage": dict(sorted(stage_counts.items())),
        "failed_pairs": len(failed_pairs),
        "resized": n_resized,
        "decoded_pairs": n_decoded_pairs,
        "computed": n_computed,
        "cached": n_cached,
        "hashed_files": cache.hashed,
        "embedding_reuse": emb.hits,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    run_info: dict[str, Any] = {
        "signature": sig,
        "signature_line": signature_line(sig),
        "counts": counts,
        "skipped_metrics": dict(sorted(skipped.items())),
        "metrics": [m.name for m in ran],
        "layout": {"form": layout.form, "single_method": layout.single_method, "methods": layout.methods},
        "policy": policy,
        "cache": None if cache.path is None else str(cache.path),
        "composite": composite_info,
    }
    explicit_skipped = {k: v for k, v in skipped.items() if k in explicit}
    if n_resized:
        how = "--resize to-gt, antialiased bicubic" if plan is None else f"protocol rule {resize_rule}"
        say(f"{n_resized} output(s) resized to their GT size ({how})")
    return ScoreResult(
        scores=scores, summary=summary, errors=errors_df, run_info=run_info, layout=layout,
        samples=samples_df, explicit_skipped=explicit_skipped,
    )


def _columns_of(name: str) -> tuple[str, ...]:
    try:
        cls = get_metric_class(name)
    except UnknownMetricError:
        return (name,)
    return tuple(cls.outputs) or (cls.name,)
