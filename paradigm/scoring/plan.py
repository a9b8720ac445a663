"""Plan stage: validate options, select and build metrics, pair files, hash them, look up the cache.

The plan says, for every pair, which metric values are already cached and which must be computed,
grouped by GT image into :class:`~paradigm.scoring.unit.WorkGroup` s. Nothing is decoded here.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .. import cache as cache_mod
from ..errors import InputError, MetricUnavailableError
from ..io import COLOUR_RULE
from ..layout import Layout, Pair, discover
from ..metrics.base import Metric
from ..metrics.registry import get_metric_class, list_metrics, try_create_metric
from ..signature import policy_string
from .unit import DecodePolicy, WorkEntry, WorkGroup

if TYPE_CHECKING:
    from ..engine import ScoreConfig

log = logging.getLogger(__name__)

#: ``--metrics default``: these, when registered; model-backed ones only when their weights resolve;
#: input-referenced ones only with ``--input``.
DEFAULT_METRICS: tuple[str, ...] = (
    "psnr", "ssim", "ms_ssim", "gmsd", "ciede2000", "edge_f1", "edge_f1_input",
    "lpips", "dists", "clip_sim", "dino_sim", "niqe", "brisque",
    "structure_consistency", "geo_drift", "hallucinated_area", "fsimc", "psnr_ha", "psnr_hma",  # default-v2
)
RESIZE_POLICIES = ("to-gt", "none")
ALIGN_POLICIES = {"none": "none", "similarity": "similarity-v1"}
PRECISIONS = ("fp32", "bf16", "fp16")


# ------------------------------------------------------------------------------------- options


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


@dataclass(frozen=True)
class Options:
    """Validated run options derived from a :class:`paradigm.engine.ScoreConfig`."""

    batch_size: int
    workers: int
    device: torch.device
    align_tag: str
    policy: str  # the preprocessing policy string (part of every cache key)
    decode: DecodePolicy
    protocol: str | None = None  # ``name@vK`` of a study protocol


def check_options(cfg: ScoreConfig) -> Options:
    """Validate every option before any work.

    Raises:
        InputError: with the option's name and the accepted values.
    """
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
    if cfg.max_pixels is not None and cfg.max_pixels < 0:
        raise InputError(f"--max-pixels must be >= 0 (0: no limit), got {cfg.max_pixels}")
    if cfg.align not in ALIGN_POLICIES:
        raise InputError(f"--align must be one of {', '.join(ALIGN_POLICIES)}, got {cfg.align!r}")
    align_tag = ALIGN_POLICIES[cfg.align]
    resize, reader, proto_tag = cfg.resize, "rgb", None
    if cfg.protocol:  # a study protocol fixes the resize rule and the reader (paradigm.protocols)
        from ..protocols import get_protocol

        proto = get_protocol(str(cfg.protocol))
        resize, reader, proto_tag = proto.resize, proto.decode, proto.tag
    decode = DecodePolicy(resize, cfg.crop_border, cfg.align, cfg.max_pixels, reader=reader)
    if cfg.pairs_per_unit < 1:
        raise InputError(f"--pairs-per-unit must be >= 1, got {cfg.pairs_per_unit}")
    policy = policy_string(resize, cfg.crop_border, COLOUR_RULE, align=align_tag, batch_size=batch_size,
                           pairs_per_unit=cfg.pairs_per_unit) + (f"|protocol:{proto_tag}" if proto_tag else "")
    return Options(batch_size, workers, resolve_device(cfg.device), align_tag, policy, decode, proto_tag)


# ------------------------------------------------------------------------------------- metrics


def _reference_ok(name: str, has_input: bool, has_gt: bool) -> str | None:
    """Why a metric cannot run with the given folders (None when it can)."""
    spec = get_metric_class(name).spec()
    if spec.needs_input and not has_input:
        return "needs the degraded input: pass --input LQ"
    if spec.reference == "gt" and not has_gt:
        return "needs ground truth: pass --gt GT (this run scores against --input only)"
    return None


def _group_names(group: str, has_input: bool, has_gt: bool = True) -> list[str]:
    """Names of ``default`` or ``all`` that can run with/without ``--input``/``--gt`` (registered only)."""
    registered = list_metrics()
    names = registered if group == "all" else [n for n in DEFAULT_METRICS if n in set(registered)]
    out = []
    for n in names:
        why = _reference_ok(n, has_input, has_gt)
        if why is None:
            out.append(get_metric_class(n).name)
        else:
            log.debug("metric %s left out: %s", n, why)
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
        why = _reference_ok(cls.name, has_input, has_gt)
        if why is not None:
            skipped[cls.name] = why
        elif cls.name not in names:
            names.append(cls.name)
    return names, explicit, skipped


def _profile_names(profile: str, has_input: bool, has_gt: bool, skipped: dict[str, str]) -> list[str]:
    """A task profile replaces the default set by the metrics its composite uses (and reports)."""
    from ..composite import load_profile

    prof = load_profile(profile)  # the metrics its pillars weight, then those it only reports
    wanted = [m for pil in prof.get("pillars", {}).values() for m in pil.get("metrics", {})] + prof.get("reported", [])
    known = set(list_metrics())
    names = []
    for n in dict.fromkeys(wanted):
        if n not in known:
            skipped[n] = "not implemented in this paradigm version (named by the profile)"
            continue
        why = _reference_ok(n, has_input, has_gt)
        if why is None:
            names.append(get_metric_class(n).name)
        else:
            skipped[n] = why
    return names


def choose_metrics(cfg: ScoreConfig) -> tuple[list[str], set[str], dict[str, str]]:
    """Metric names for a run: ``--metrics`` (or the profile's set), less those the folders cannot feed."""
    has_input, has_gt = cfg.input is not None, cfg.gt is not None
    names, explicit, skipped = select_metrics(cfg.metrics, has_input, has_gt)
    if cfg.profile and isinstance(cfg.metrics, str) and cfg.metrics.strip().lower() == "default":
        names = _profile_names(cfg.profile, has_input, has_gt, skipped)
    if cfg.input2 is None:
        for n in list(names):
            if get_metric_class(n).spec().reference == "two-inputs":
                names.remove(n)
                if n in explicit:
                    skipped[n] = "needs two fusion sources: pass --input A --input2 B"
    return names, explicit, skipped


def instantiate_metrics(
    names: Sequence[str], *, y_channel: bool | str, precision: str, device: torch.device
) -> tuple[list[Metric], dict[str, str]]:
    """Create the metrics; those raising :class:`MetricUnavailableError` (or failing to build) are skipped."""
    metrics: list[Metric] = []
    skipped: dict[str, str] = {}
    for n in names:
        cls = get_metric_class(n)
        opts: dict[str, Any] = {}
        if y_channel and cls.supports_y_channel and "y_channel" in cls.defaults:
            opts["y_channel"] = y_channel  # True (float Y, BasicSR) or "matlab" (Y rounded to 8 bits)
        if "precision" in cls.defaults:
            opts["precision"] = precision
        m = try_create_metric(n, device, **opts)
        if isinstance(m, str):
            skipped[cls.name] = m
            continue
        metrics.append(m)
    return metrics, skipped


def probe(m: Metric, device: torch.device) -> str | None:
    """Run ``m`` once on a small random pair; the reason when it raises :class:`MetricUnavailableError`.

    Used for metrics that declare ``weights``: lazily loaded weights are thus found missing before
    any image is decoded. Other exceptions are ignored here (real images will show them as error rows).
    """
    side = max(int(m.min_size), 64)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, side, side, generator=g).to(device)
    kind = type(m).spec().reference
    ch = 6 if kind == "two-inputs" else 3
    ref = None if kind == "none" else torch.rand(1, ch, side, side, generator=g).to(device)
    try:
        with torch.inference_mode():
            m(x, ref)
    except MetricUnavailableError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - only availability matters here
        log.debug("probe of %s raised %s: %s", m.name, type(exc).__name__, exc)
    return None


# ------------------------------------------------------------------------------------- the plan


def _error(p: Any, path: Path | str, stage: str, reason: str) -> dict[str, Any]:
    return {"method": p.method, "task": p.task, "dataset": p.dataset, "image": p.image,
            "path": str(path), "stage": stage, "reason": reason}


@dataclass
class Plan:
    """What a run will do: pairs, metrics, cached values and the work still to compute."""

    layout: Layout
    metrics: list[Metric]
    explicit: set[str]
    skipped: dict[str, str]
    policy: str
    hashes: list[tuple[str, str, str]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    groups: list[WorkGroup] = field(default_factory=list)
    input2: dict[int, Path] = field(default_factory=dict)
    n_cached: int = 0
    sigs: dict[str, str] = field(default_factory=dict)
    input_metrics: frozenset[str] = frozenset()  # metrics compared with the degraded input

    @property
    def pairs(self) -> list[Pair]:
        return self.layout.pairs

    @property
    def n_work(self) -> int:
        return sum(len(g.entries) for g in self.groups)

    def key(self, name: str, idx: int) -> cache_mod.ScoreKey:
        """Cache key of one metric's values on one pair (content hashes, metric signature, policy)."""
        h = self.hashes[idx]
        ref = f"{h[2]}:{h[1]}" if name in self.input_metrics else h[1]
        return (h[0], ref, name, self.sigs[name], self.policy)

    def geometry_key(self, idx: int) -> tuple[str, str, str]:
        h = self.hashes[idx]
        return (h[0], h[1], self.policy)


def _pair_input2(cfg: ScoreConfig, anchor: Path, layout: Layout) -> dict[int, Path]:
    if cfg.input2 is None:
        return {}
    by_key = {(q.method, q.task, q.dataset, q.image, q.sample): q.input_path
              for q in discover(cfg.results, anchor, cfg.input2).pairs}
    out = {}
    for j, q in enumerate(layout.pairs):
        p2 = by_key.get((q.method, q.task, q.dataset, q.image, q.sample))
        if p2 is not None:
            out[j] = p2
    return out


def _layout_errors(plan: Plan, with_input2: bool) -> None:
    for pr in plan.layout.problems:  # unreadable folders, symbolic-link loops: their images are missing
        plan.errors.append({"method": "", "task": "", "dataset": "", "image": "", "path": str(pr.path),
                            "stage": "discovery", "reason": pr.reason})
    for u in plan.layout.unpaired:
        plan.errors.append(_error(u, u.path, "pairing", u.reason))
    if with_input2:
        for j, q in enumerate(plan.pairs):
            if j not in plan.input2:
                plan.errors.append(_error(q, q.output_path, "pairing",
                                          "no --input2 image matches this output (two-input fusion metrics "
                                          "not computed)"))


def _hash_rows(plan: Plan, cache: cache_mod.NullCache) -> None:
    paths = [q for p in plan.pairs for q in (p.output_path, p.gt_path, p.input_path) if q is not None]
    cache.hash_ahead(dict.fromkeys([*paths, *plan.input2.values()]), workers=os.cpu_count() or 1)
    for i, p in enumerate(plan.pairs):
        try:
            o_sha, g_sha = cache.file_sha(p.output_path), cache.file_sha(p.gt_path)
            i_sha = cache.file_sha(p.input_path) if p.input_path is not None else ""
            if i in plan.input2:  # the second fusion source is part of the input's identity
                i_sha = f"{i_sha}+{cache.file_sha(plan.input2[i])}"
        except OSError as exc:
            o_sha = g_sha = i_sha = f"unreadable:{i}"
            log.debug("cannot hash %s: %s", p.output_path, exc)
        plan.hashes.append((o_sha, g_sha, i_sha))
        plan.rows.append(
            {"method": p.method, "task": p.task, "dataset": p.dataset, "image": p.image, "sample": p.sample,
             "output_path": str(p.output_path), "gt_path": str(p.gt_path),
             "input_path": "" if p.input_path is None else str(p.input_path),
             "height": -1, "width": -1, "resized": False}
        )


def _look_up(plan: Plan, cache: cache_mod.NullCache) -> dict[Path, list[WorkEntry]]:
    """Fill rows from the cache; the entries that still need work, by GT path."""
    names = [m.name for m in plan.metrics]
    cached = cache.get_scores([plan.key(n, i) for i in range(len(plan.pairs)) for n in names])
    geom = cache.get_geometry([plan.geometry_key(i) for i in range(len(plan.pairs))])
    work: dict[Path, list[WorkEntry]] = defaultdict(list)
    for i, p in enumerate(plan.pairs):
        needed = []
        for m in plan.metrics:
            if m.name in plan.input_metrics and p.input_path is None:
                continue  # listed as a pairing error
            got = cached.get(plan.key(m.name, i))
            if got is None:
                needed.append(m.name)
            else:
                plan.n_cached += 1
                plan.rows[i].update(got)
        g = geom.get(plan.geometry_key(i))
        if g is not None:
            plan.rows[i]["height"], plan.rows[i]["width"], plan.rows[i]["resized"] = g[0], g[1], g[2]
        if needed or g is None:
            work[p.gt_path].append(WorkEntry(i, p, tuple(needed), plan.hashes[i], plan.input2.get(i)))
    return work


def _probe_and_prune(plan: Plan, work: dict[Path, list[WorkEntry]], device: torch.device) -> None:
    """Metrics with weights and work are probed; unavailable ones leave every entry's needs."""
    with_work = {n for entries in work.values() for e in entries for n in e.needed}
    for m in plan.metrics:
        if m.weights and m.name in with_work and m.name not in plan.skipped:
            why = probe(m, device)
            if why is not None:
                plan.skipped[m.name] = why
    for gpath, entries in work.items():
        kept = []
        for e in entries:
            needed = tuple(n for n in e.needed if n not in plan.skipped)
            if needed or plan.rows[e.idx]["height"] < 0:
                kept.append(WorkEntry(e.idx, e.pair, needed, e.hashes, e.input2))
        if kept:
            plan.groups.append(WorkGroup(gpath, tuple(kept)))


def make_plan(cfg: ScoreConfig, opts: Options, cache: cache_mod.NullCache) -> Plan:
    """Discover and pair the files, build the metrics, hash, look up the cache, group the work.

    Raises:
        InputError: neither ``--gt`` nor ``--input``; missing or empty folders.
        UnknownMetricError: a named metric is not registered.
    """
    anchor = cfg.gt if cfg.gt is not None else cfg.input
    if anchor is None:
        raise InputError(
            "give --gt GT, or --input LQ alone for tasks without ground truth (outputs are then paired "
            "with, and compared against, the input)"
        )
    layout = discover(cfg.results, anchor, cfg.input)
    if cfg.protocol:  # a study protocol: its metric set and pairing (paradigm.protocols.hook)
        from ..protocols.hook import engine_plan

        proto = engine_plan(cfg, layout, opts.device)
        layout, metrics, explicit, skipped = proto.layout, proto.metrics, proto.names, dict(proto.skipped)
    else:
        names, explicit, skipped = choose_metrics(cfg)
        metrics, unavailable = instantiate_metrics(names, y_channel=cfg.y_channel, precision=cfg.precision,
                                                   device=opts.device)
        skipped.update(unavailable)
    plan = Plan(layout, metrics, explicit, skipped, opts.policy, input2=_pair_input2(cfg, anchor, layout))
    plan.sigs = {m.name: cache_mod.metric_sig(m.signature()) for m in metrics}
    plan.input_metrics = frozenset(m.name for m in metrics if type(m).spec().needs_input)
    _layout_errors(plan, cfg.input2 is not None)
    _hash_rows(plan, cache)
    _probe_and_prune(plan, _look_up(plan, cache), opts.device)
    return plan


def decode_policy(plan: Plan, opts: Options) -> DecodePolicy:
    """The options' decode policy, with the plan's input-referenced metrics filled in."""
    d = opts.decode
    return DecodePolicy(d.resize, d.crop, d.align, d.max_pixels, plan.input_metrics, d.reader)
