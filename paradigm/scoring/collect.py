"""Collect stage: rows, errors, counts and cache writes from the outcomes; then tables and run info.

Only the driver collects: it alone writes the cache (one transaction per batch) and the outputs.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import cache as cache_mod
from ..errors import InputError, MetricUnavailableError, ParadigmError, UnknownMetricError
from ..io import COLOUR_RULE
from ..metrics.registry import get_metric_class
from ..outputs import ERROR_COLUMNS, ID_COLUMNS, summarise
from ..signature import build_signature, signature_line
from .decode import Fail
from .execute import BatchResult
from .plan import Options, Plan

if TYPE_CHECKING:
    from ..engine import ScoreConfig

log = logging.getLogger(__name__)


class Collector:
    """Accumulates what the workers produce into the plan's rows and errors, and the cache."""

    def __init__(self, plan: Plan, cache: cache_mod.NullCache, progress: Callable[[int], Any] | None = None) -> None:
        self.plan = plan
        self.cache = cache
        self.progress = progress or (lambda n: None)
        self.failed: set[int] = set()
        self.decoded: set[int] = set()
        self.computed = 0

    def error(self, idx: int, stage: str, reason: str, path: Any = None) -> None:
        p = self.plan.pairs[idx]
        self.plan.errors.append(
            {"method": p.method, "task": p.task, "dataset": p.dataset,
             "image": p.image + (f"_s{p.sample}" if p.sample else ""),
             "path": str(p.output_path if path is None else path), "stage": stage, "reason": reason}
        )

    def fail(self, f: Fail) -> None:
        """A pair (or one of its inputs) that could not be prepared."""
        self.error(f.idx, f.stage, f.reason, f.path)
        if f.loses_pair:
            self.failed.add(f.idx)
            self.progress(1)

    def batch(self, res: BatchResult) -> None:
        """One batch's values: into the rows, errors listed, the cacheable ones stored."""
        plan = self.plan
        for name, why in res.unavailable.items():
            plan.skipped[name] = why
        self.computed += res.computed
        store: list[tuple[cache_mod.ScoreKey, dict[str, float]]] = []
        geo = []
        for r in res.items:
            self.decoded.add(r.idx)
            row = plan.rows[r.idx]
            row["height"], row["width"], row["resized"] = r.height, r.width, r.resized
            geo.append((plan.geometry_key(r.idx), (r.height, r.width, r.resized)))
            for values in r.values.values():
                row.update(values)
            for stage, reason in r.errors:
                self.error(r.idx, stage, reason)
            store += [(plan.key(name, r.idx), r.values[name]) for name in r.cacheable]
        self.cache.put(store, geo)
        self.progress(len(res.items))

    def consume(self, outcome: Fail | BatchResult) -> None:
        if isinstance(outcome, Fail):
            self.fail(outcome)
        else:
            self.batch(outcome)


def _columns_of(name: str) -> tuple[str, ...]:
    try:
        return get_metric_class(name).spec().column_names
    except UnknownMetricError:
        return (name,)


def build_scores(plan: Plan, col: Collector) -> Any:
    """The per-image table (contracts §2): kept rows, columns of the metrics that ran."""
    import pandas as pd

    for name in plan.skipped:
        for c in _columns_of(name):
            for r in plan.rows:
                r.pop(c, None)
    metric_cols: list[str] = []
    for m in plan.metrics:
        if m.name not in plan.skipped:
            metric_cols += [c for c in m.columns if c not in metric_cols]
    kept = [r for i, r in enumerate(plan.rows) if i not in col.failed]
    scores = pd.DataFrame(kept, columns=list(ID_COLUMNS) + metric_cols)
    for c in metric_cols:
        scores[c] = pd.to_numeric(scores[c], errors="coerce").astype("float64")
    scores["height"] = scores["height"].astype("int64")
    scores["width"] = scores["width"].astype("int64")
    scores["resized"] = scores["resized"].astype(bool)
    if "scale" in scores.columns and len(scores):  # geometry: scale of the output as delivered (issue 16.5)
        from ..metrics.diagnostics import scale_as_delivered

        scores["scale"] = scale_as_delivered(scores)
    return scores


def reference_stage(
    scores: Any, plan: Plan, cfg: ScoreConfig, spec: Any, cache: cache_mod.NullCache | None = None
) -> Any:
    """With a ground truth, the no-reference metrics that the composite scores relative to the GT's own
    value are also computed on each GT: the ``<metric>_ref`` columns. Cached like every value, keyed
    by the GT's content hash (as both output and reference), ``<metric>_ref``, the metric's signature
    and the policy, so a rerun decodes no ground truth again."""
    if cfg.gt is None or not len(scores) or spec is None:
        return scores
    from ..composite.reference import REF_SUFFIX, add_reference_values, reference_metrics

    relative = {n for n, cal in spec.calibrations.items() if cal.get("relative_to_reference")}
    ran = [m for m in reference_metrics(plan.metrics) if m.name not in plan.skipped and m.name in relative]
    if not ran:
        return scores
    cache = cache or cache_mod.NullCache()
    gt_sha = {str(p.gt_path): h[1] for p, h in zip(plan.pairs, plan.hashes, strict=False)}
    keys = {(path, m.name): (sha, sha, m.name + REF_SUFFIX, plan.sigs[m.name], plan.policy)
            for path, sha in gt_sha.items() if not sha.startswith("unreadable:") for m in ran}
    hit = cache.get_scores(list(keys.values()))
    known: dict[str, dict[str, float]] = defaultdict(dict)
    for (path, name), k in keys.items():
        if k in hit:
            known[name][path] = float(hit[k][name + REF_SUFFIX])
    out = add_reference_values(scores, ran, cfg.crop_border, known=known)
    first = out.assign(_gt=out["gt_path"].astype(str)).drop_duplicates("_gt").set_index("_gt")
    new = []
    for (path, name), k in keys.items():
        col = name + REF_SUFFIX
        v = first[col].get(path) if col in first.columns else None
        if k not in hit and v is not None and math.isfinite(v):
            new.append((k, {col: float(v)}))
    cache.put(new)
    return out


def apply_composite_stage(scores: Any, cfg: ScoreConfig, spec: Any) -> tuple[Any, dict[str, Any] | None, str | None]:
    """Add pillar and composite columns (``paradigm.composite.apply_composite``), when any part ran.

    Returns:
        ``(scores, composite information or None, note or None)``; the note says why no composite
        was computed (e.g. a diagnostics-only run: nothing to renormalise, and no alarm about it;
        ``--strict`` refuses partial composites, not runs that compute none).
    """
    from .. import composite

    if not len(scores) or cfg.protocol:  # a study protocol reports the study's view, not a composite
        return scores, None, None
    if spec is not None and not any(
        c in scores.columns and scores[c].notna().any() for c in spec.metrics()
    ):
        return scores, None, f"no composite score: none of the metrics of composite {spec.tag} ran in this run"
    try:
        out, info = composite.apply_composite(scores, composite=cfg.composite, profile=cfg.profile, strict=cfg.strict)
    except (MetricUnavailableError, InputError, UnknownMetricError):
        raise
    except ParadigmError as exc:
        raise InputError(f"composite: {exc}") from exc
    return out, info, None


def composite_id(info: dict[str, Any] | None) -> str | None:
    """The composite's signature field: ``name[/profile][+sha256]``."""
    if not info or not info.get("composite"):
        return None
    cid = str(info["composite"])
    if info.get("profile"):
        cid = f"{cid}/{info['profile']}"
    if info.get("sha256"):
        cid = f"{cid}+{info['sha256']}"
    return cid


def counts(plan: Plan, col: Collector, scores: Any, hashed: int, emb_hits: int, t0: float) -> dict[str, Any]:
    """The ``counts`` block of run.json."""
    stage_counts: dict[str, int] = defaultdict(int)
    for e in plan.errors:
        stage_counts[e["stage"].split(":")[0]] += 1
    kept = [r for i, r in enumerate(plan.rows) if i not in col.failed]
    return {
        "pairs": len(plan.pairs),
        "rows": int(len(scores)),
        "methods": len(plan.layout.methods),
        "gt_images": len({p.gt_path for p in plan.pairs}),
        "unpaired": len(plan.layout.unpaired),
        "errors": len(plan.errors),
        "errors_by_stage": dict(sorted(stage_counts.items())),
        "failed_pairs": len(col.failed),
        # every scored row, computed now or served from the cache (its geometry row says it was resized)
        "resized": sum(1 for r in kept if r["resized"]),
        "cached_pairs": sum(1 for i in range(len(plan.rows)) if i not in col.failed and i not in col.decoded),
        "decoded_pairs": len(col.decoded),
        "computed": col.computed,
        "cached": plan.n_cached,
        "hashed_files": hashed,
        "embedding_reuse": emb_hits,
        "seconds": round(time.perf_counter() - t0, 3),
    }


def signature(cfg: ScoreConfig, plan: Plan, opts: Options, comp_id: str | None, backend: str) -> dict[str, Any]:
    """The reproducibility signature of the run (metrics that ran, policy, composite, device)."""
    ran = [m for m in plan.metrics if m.name not in plan.skipped]
    return build_signature(
        [m.signature() for m in ran], composite=comp_id, resize=opts.decode.resize, crop_border=cfg.crop_border,
        y_channel=cfg.y_channel, colour=COLOUR_RULE, precision=cfg.precision, device=str(opts.device),
        seed=cfg.seed, align=opts.align_tag, max_pixels=cfg.max_pixels or 0,
        batch_size=opts.batch_size, backend=backend, pairs_per_unit=cfg.pairs_per_unit,
        protocol=opts.protocol,
    )


def _column_facts(plan: Plan) -> dict[str, dict[str, Any]]:
    """Each score column's metric, direction and pillar (read by ``meta_eval`` without paradigm)."""
    out: dict[str, dict[str, Any]] = {}
    for m in plan.metrics:
        if m.name in plan.skipped:
            continue
        spec = type(m).spec()
        for c in spec.columns:
            out[c.name] = {"metric": spec.name, "higher_is_better": c.higher_is_better, "pillar": spec.pillar}
    return out


def run_info(
    cfg: ScoreConfig, plan: Plan, opts: Options, cache: cache_mod.NullCache, composite: tuple[dict[str, Any] | None, str | None],
    count: dict[str, Any], backend: str = "local",
) -> dict[str, Any]:
    """The ``run.json`` content."""
    info, note = composite
    sig = signature(cfg, plan, opts, composite_id(info), backend)
    return {
        "signature": sig,
        "signature_line": signature_line(sig),
        "counts": count,
        "skipped_metrics": dict(sorted(plan.skipped.items())),
        "metrics": [m.name for m in plan.metrics if m.name not in plan.skipped],
        "columns": _column_facts(plan),
        "layout": {"form": plan.layout.form, "single_method": plan.layout.single_method,
                   "methods": plan.layout.methods},
        "policy": plan.policy,
        "cache": None if cache.path is None else str(cache.path),
        "cache_keys": "size+mtime (--trust-mtime)" if cache.trust_mtime else "sha256 of file bytes",
        "cache_quarantined": [str(q) for q in cache.quarantined],
        "composite": info,
        "composite_note": note,
        # the scored folders, resolved: `paradigm leaderboard` makes thumbnails only of files under them
        "roots": {k: str(Path(v).resolve()) for k, v in (("results", cfg.results), ("gt", cfg.gt),
                                                           ("input", cfg.input), ("input2", cfg.input2)) if v},
    }


class LocalStdMemo:
    """L-STD values in the score cache, keyed by the content hashes of an input's sample files (in
    order) and the decoding rule, so a rerun decodes no sample again for L-STD."""

    METRIC, SIG = "l_std", "l_std/1:as-delivered,float64"

    def __init__(self, plan: Plan, cache: cache_mod.NullCache) -> None:
        self.cache = cache
        self.sha = {str(p.output_path): h[0] for p, h in zip(plan.pairs, plan.hashes, strict=False)}

    def _key(self, paths: list[str]) -> cache_mod.ScoreKey | None:
        shas = [self.sha.get(p, "unreadable:") for p in paths]
        if any(s.startswith("unreadable:") for s in shas):
            return None
        return (hashlib.sha256("\n".join(shas).encode()).hexdigest(), "", self.METRIC, self.SIG, "samples")

    def get(self, paths: list[str]) -> tuple[float, int] | None:
        key = self._key(paths)
        got = self.cache.get_scores([key]).get(key) if key is not None else None
        return (float(got["l_std"]), int(got["l_std_samples"])) if got else None

    def put(self, paths: list[str], value: float, k: int) -> None:
        key = self._key(paths)
        if key is not None and math.isfinite(value):
            self.cache.put([(key, {"l_std": value, "l_std_samples": float(k)})])


def tables(
    scores: Any, plan: Plan, seed: int, n_boot: int, progress: bool | None = None,
    cache: cache_mod.NullCache | None = None,
) -> tuple[Any, Any, Any]:
    """``(summary, errors, samples)`` tables of a run; with several samples per input, CCSR's L-STD of
    each input (its samples decoded once more, or found in ``cache``) joins ``samples`` and ``summary``
    as metric ``l_std``."""
    import pandas as pd

    samples, lstd, l_errors = None, None, None
    summary = summarise(scores, seed=seed, n_boot=n_boot)
    if len(scores) and (scores["sample"] != "").any():
        from .. import samples as smp

        memo = LocalStdMemo(plan, cache) if cache is not None else None
        lstd, l_errors = smp.local_std_table(scores, progress=progress, memo=memo)
        samples = smp.with_local_std(smp.aggregate_samples(scores), lstd)
        if len(lstd):
            summary = pd.concat([summary, smp.local_std_summary(lstd)], ignore_index=True)
    errors = pd.DataFrame(plan.errors, columns=list(ERROR_COLUMNS))
    if l_errors is not None and len(l_errors):
        errors = pd.concat([errors, l_errors[list(ERROR_COLUMNS)]], ignore_index=True)
    # one order whatever order batches finished in (local threads or cluster tasks)
    errors = errors.sort_values(["method", "task", "dataset", "image", "stage", "path"], kind="stable")
    return summary, errors.reset_index(drop=True), samples
