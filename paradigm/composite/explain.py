"""Explain one result's composite: per-metric raw and calibrated values, weights, contributions, heat maps.

Contribution is reported as each metric's **share of the shortfall** of the composite from 1 (the
perfect score), so the shares sum to 100% and the largest share is what costs the result most:

- ``weighted_arithmetic``: ``1 - C = sum_m W_p w_m (1 - q_m)``; a metric's share is its term.
- ``weighted_geometric``: ``-log C = sum_p W_p (-log P_p)`` (the *log-share* of each pillar); a
  pillar's term is split among its metrics in proportion to ``w_m (1 - q_m)``, their part of ``1 - P_p``.
- ``min_penalty``: the arithmetic terms, plus the penalty split among the metrics of the worst pillar.

``W_p`` and ``w_m`` are the *effective* weights: renormalised over the pillars/metrics that ran.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .aggregate import GEOMETRIC_FLOOR, REF_SUFFIX, score_table
from .calibration import calibrate, describe
from .schema import CompositeSpec

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


@dataclass
class MetricPart:
    """One metric's line of the explanation."""

    metric: str
    pillar: str
    raw: float
    calibrated: float
    weight: float  # effective weight in the composite (pillar weight x metric weight, renormalised)
    weight_in_pillar: float
    share: float  # share of the composite's shortfall from 1, in [0, 1]
    calibration: str


@dataclass
class Explanation:
    """The explanation of one result."""

    parts: list[MetricPart]
    pillars: dict[str, float]
    pillar_weights: dict[str, float]
    pillar_shares: dict[str, float]
    composite: float
    aggregation: str
    tag: str
    profile: str | None
    skipped: dict[str, str] = field(default_factory=dict)
    unsupported: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""

        def f(v: float) -> float | None:
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

        return {
            "composite": self.tag,
            "profile": self.profile,
            "aggregation": self.aggregation,
            "score": f(self.composite),
            "pillars": {
                p: {"score": f(v), "weight": f(self.pillar_weights.get(p, float("nan"))), "share": f(self.pillar_shares.get(p, 0.0))}
                for p, v in self.pillars.items()
            },
            "metrics": [
                {
                    "metric": m.metric,
                    "pillar": m.pillar,
                    "raw": f(m.raw),
                    "calibrated": f(m.calibrated),
                    "weight": f(m.weight),
                    "weight_in_pillar": f(m.weight_in_pillar),
                    "share": f(m.share),
                    "calibration": m.calibration,
                }
                for m in self.parts
            ],
            "skipped": dict(self.skipped),
            "unsupported": list(self.unsupported),
        }


def _nan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def explain_values(
    raw: Mapping[str, float], spec: CompositeSpec, skipped: Mapping[str, str] | None = None
) -> Explanation:
    """Explain the composite of one result from its raw metric values.

    Args:
        raw: metric column -> raw value (NaN or absent = did not run).
        spec: the composite (profile applied).
        skipped: metric -> reason it did not run (shown to the user).

    Returns:
        The :class:`Explanation`; its numbers equal :func:`paradigm.composite.apply_composite` on a
        one-row table with the same values.
    """
    keep = set(spec.calibrations) | {m + REF_SUFFIX for m in spec.calibrations}
    row = pd.DataFrame({m: [float(v)] for m, v in raw.items() if m in keep})
    _, pil, comp = score_table(row, spec)
    composite = float(comp["composite"].iloc[0])
    skipped_out = dict(skipped or {})
    parts: list[MetricPart] = []
    pillar_scores = {p: float(pil[p].iloc[0]) for p in spec.pillars}
    present_p = {p: s for p, s in pillar_scores.items() if not math.isnan(s)}
    wp_total = sum(spec.pillars[p].weight for p in present_p)
    pillar_weights = {p: (spec.pillars[p].weight / wp_total if p in present_p and wp_total > 0 else 0.0) for p in spec.pillars}
    # shortfall terms per pillar
    agg = spec.aggregation
    p_loss: dict[str, float] = {}
    for p, s in present_p.items():
        if agg == "weighted_geometric":
            p_loss[p] = pillar_weights[p] * -math.log(max(s, GEOMETRIC_FLOOR))
        else:
            p_loss[p] = pillar_weights[p] * (1.0 - s)
    if agg == "min_penalty" and present_p:
        used = {p: s for p, s in present_p.items() if pillar_weights[p] > 0}
        if used:
            gap = max(used.values()) - min(used.values())
            pen = spec.aggregation_params["penalty"] * max(0.0, gap - spec.aggregation_params["threshold"])
            worst = min(used, key=lambda k: used[k])
            p_loss[worst] += pen
    total = sum(p_loss.values())
    pillar_shares = {p: (p_loss.get(p, 0.0) / total if total > 0 else 0.0) for p in spec.pillars}
    for p, pillar in spec.pillars.items():
        ran = {m: w for m, w in pillar.metrics.items() if not _nan(raw.get(m, float("nan")))}
        wsum = sum(ran.values())
        cal = {
            m: float(calibrate(np.array([float(raw[m])]), spec.calibrations[m],
                               np.array([float(raw.get(m + REF_SUFFIX, float("nan")))]))[0])
            for m in ran
        }
        p_short = sum((w / wsum) * (1.0 - cal[m]) for m, w in ran.items()) if wsum > 0 else 0.0
        for m, w in pillar.metrics.items():
            if m not in ran:
                skipped_out.setdefault(m, "not computed")
                parts.append(
                    MetricPart(m, p, float("nan"), float("nan"), 0.0, 0.0, 0.0, describe(spec.calibrations[m]))
                )
                continue
            win = w / wsum if wsum > 0 else 0.0
            share = pillar_shares[p] * (win * (1.0 - cal[m]) / p_short) if p_short > 0 else 0.0
            parts.append(
                MetricPart(
                    metric=m,
                    pillar=p,
                    raw=float(raw[m]),
                    calibrated=cal[m],
                    weight=pillar_weights[p] * win,
                    weight_in_pillar=win,
                    share=share,
                    calibration=describe(spec.calibrations[m]),
                )
            )
    return Explanation(
        parts=parts,
        pillars=pillar_scores,
        pillar_weights=pillar_weights,
        pillar_shares=pillar_shares,
        composite=composite,
        aggregation=agg,
        tag=spec.tag,
        profile=spec.profile,
        skipped=skipped_out,
        unsupported=list(spec.missing_metrics),
    )


def _fmt(v: float, digits: int = 4) -> str:
    if _nan(v):
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.{digits}g}" if abs(v) >= 1e4 or (v != 0 and abs(v) < 1e-3) else f"{v:.{digits}f}"


def render(expl: Explanation) -> str:
    """Plain-text table of an explanation (what ``paradigm explain`` prints)."""
    head = ("metric", "raw", "calibrated", "pillar", "weight", "share")
    rows = [
        (m.metric, _fmt(m.raw), _fmt(m.calibrated, 3), m.pillar, _fmt(m.weight, 3), f"{100 * m.share:.1f}%")
        for m in expl.parts
        if not _nan(m.raw)
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines = [
        f"composite {expl.tag}" + (f", profile {expl.profile}" if expl.profile else "") + f", aggregation {expl.aggregation}",
        "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.append("")
    for p, s in expl.pillars.items():
        lines.append(
            f"{p:<11} {_fmt(s, 3):>6}  weight {_fmt(expl.pillar_weights.get(p, 0.0), 3)}  share {100 * expl.pillar_shares.get(p, 0.0):.1f}%"
        )
    ran = [p for p, v in expl.pillars.items() if not _nan(v)]
    absent = [p for p, v in expl.pillars.items() if _nan(v)]
    note = f"  (over {', '.join(ran)} only; nothing ran for {', '.join(absent)})" if absent and ran else ""
    lines.append(f"{'composite':<11} {_fmt(expl.composite, 3):>6}{note}")
    lines.append(
        "share = part of the composite's shortfall from 1"
        + (" (log-share of -log composite)" if expl.aggregation == "weighted_geometric" else "")
        + "; weight = effective weight after renormalising over what ran"
    )
    if expl.skipped:
        lines.append("")
        lines.append("skipped (weights renormalised over the rest):")
        lines += [f"  {m}: {why.strip().splitlines()[0] if why.strip() else 'not computed'}" for m, why in expl.skipped.items()]
    if expl.unsupported:
        lines.append("")
        lines.append("needed by the task but not available in paradigm:")
        lines += [f"  {u['name']}: {u['why']}" for u in expl.unsupported]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- #
# heat maps

#: Anchors of a dark-to-bright "inferno"-like colour map (position, RGB 0-255).
_CMAP = np.array(
    [
        [0.0, 0, 0, 4],
        [0.25, 87, 16, 110],
        [0.5, 188, 55, 84],
        [0.75, 249, 142, 9],
        [1.0, 252, 255, 164],
    ],
    dtype=np.float64,
)


def colorize(m: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Map a ``(H, W)`` array in [0, 1] to ``(H, W, 3)`` uint8 with a dark-to-bright colour map."""
    t = np.clip(np.nan_to_num(np.asarray(m, dtype=np.float64)), 0.0, 1.0)
    out = np.stack([np.interp(t, _CMAP[:, 0], _CMAP[:, c]) for c in (1, 2, 3)], axis=-1)
    return np.asarray(np.round(out), dtype=np.uint8)


def heatmap_kind(metric: str) -> str | None:
    """What ``metric``'s heat map shows (its declared ``error_map_kind``), or None when it has no map.

    Looked up in the metric registry (imported lazily); unknown metrics have no map.
    """
    from ..errors import UnknownMetricError
    from ..metrics.base import Metric
    from ..metrics.registry import get_metric_class

    try:
        cls = get_metric_class(metric)
    except UnknownMetricError:
        return None
    return cls.error_map_kind if cls.error_map_kind and cls.error_map is not Metric.error_map else None


def heatmap(metric: str, x: torch.Tensor, ref: torch.Tensor) -> NDArray[np.float64] | None:
    """A ``(H, W)`` map in [0, 1] of where ``x`` differs from ``ref`` in the sense of ``metric``.

    The map is the metric's own :meth:`paradigm.metrics.base.Metric.error_map` (default options),
    computed with the metric's kernels; :func:`heatmap_kind` says what it shows.

    Args:
        metric: registered metric name or alias.
        x, ref: ``(1, C, H, W)`` float tensors in [0, 1] of equal shape.

    Returns:
        The map (brighter = worse), or None when ``metric`` has no spatial map.
    """
    import torch

    from ..metrics.registry import create_metric

    if heatmap_kind(metric) is None:
        return None
    with torch.no_grad():
        m = create_metric(metric).error_map(x, ref)
    return None if m is None else np.asarray(m[0].detach().to(torch.float64).cpu().numpy(), dtype=np.float64)


def pick_heatmap_metric(expl: Explanation, available: set[str]) -> str | None:
    """The metric with the largest share of the shortfall that has a heat map and ran."""
    ranked = sorted((m for m in expl.parts if not _nan(m.raw)), key=lambda m: -m.share)
    for m in ranked:
        if m.metric in available and heatmap_kind(m.metric) is not None:
            return m.metric
    return None


# --------------------------------------------------------------------------------------------- #
# colour bar


def with_colour_bar(rgb: NDArray[np.uint8], label: str, min_width: int = 360) -> NDArray[np.uint8]:
    """The heat map with a colour bar and a caption under it.

    The bar runs through :func:`colorize`'s colour map from 0 (left, dark) to 1 (right, bright), with
    tick labels 0, 0.5 and 1 ("brighter = worse") and ``label`` (what the map shows). The canvas is at
    least ``min_width`` px wide so that the text fits under small images; the heat map keeps its pixels
    (top left, 1:1).

    Args:
        rgb: ``(H, W, 3)`` uint8 heat map from :func:`colorize`.
        label: what the map shows (e.g. :func:`heatmap_kind` of the metric).
        min_width: smallest canvas width in pixels.

    Returns:
        ``(H + 46, max(W, min_width), 3)`` uint8.
    """
    from PIL import Image, ImageDraw

    h, w = int(rgb.shape[0]), int(rgb.shape[1])
    width = max(w, min_width)
    canvas = Image.new("RGB", (width, h + 46), (255, 255, 255))
    canvas.paste(Image.fromarray(np.ascontiguousarray(rgb[..., :3])), (0, 0))
    pad = 8
    bar_w = width - 2 * pad
    ramp = colorize(np.tile(np.linspace(0.0, 1.0, bar_w), (10, 1)))
    canvas.paste(Image.fromarray(ramp), (pad, h + 4))
    draw = ImageDraw.Draw(canvas)
    for t, text in ((0.0, "0"), (0.5, "0.5"), (1.0, "1 (worse)")):
        x = pad + int(round(t * (bar_w - 1)))
        draw.line([(x, h + 14), (x, h + 17)], fill=(0, 0, 0))
        tw = draw.textlength(text)
        draw.text((min(max(0, x - tw / 2), width - tw), h + 18), text, fill=(0, 0, 0))
    draw.text((pad, h + 31), label[: max(8, width // 6)], fill=(0, 0, 0))
    return np.asarray(canvas, dtype=np.uint8)


# --------------------------------------------------------------------------------------------- #
# which diagnostic explains the largest contributor

#: Diagnostics that can explain a loss in each metric, most likely first (others are tried after).
DIAGNOSTIC_FOR: dict[str, tuple[str, ...]] = {
    "psnr": ("geometry", "colour_cast", "hallucination"),
    "psnr_y": ("geometry", "colour_cast", "hallucination"),
    "ssim": ("geometry", "hallucination", "colour_cast"),
    "ms_ssim": ("geometry", "hallucination", "colour_cast"),
    "gmsd": ("geometry", "hallucination", "colour_cast"),
    "ciede2000": ("colour_cast", "geometry"),
    "lpips": ("hallucination", "geometry", "colour_cast"),
    "dists": ("hallucination", "geometry", "colour_cast"),
    "edge_f1": ("geometry", "hallucination"),
    "dino_sim": ("geometry", "hallucination"),
    "dino_patch_sim": ("geometry", "hallucination"),
    "clip_sim": ("hallucination", "geometry"),
}
_ALL_DIAGNOSTICS = ("geometry", "colour_cast", "hallucination")
#: A diagnostic "explains" a loss when its reading passes these thresholds.
COLOUR_SHARE_MIN = 0.5
HALLUCINATION_MIN = 0.05


@dataclass
class Diagnosis:
    """Which diagnostic explains the largest contributor to the shortfall (``diagnostic`` None: none does)."""

    metric: str
    share: float
    diagnostic: str | None
    text: str
    readings: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        def f(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {"largest": self.metric, "share": f(self.share), "diagnostic": self.diagnostic, "text": self.text,
                "readings": {d: {k: f(v) for k, v in r.items()} for d, r in self.readings.items()}}


def _read_diagnostics(x: torch.Tensor, ref: torch.Tensor, delivered_size: Any) -> dict[str, dict[str, float]]:
    import torch

    from ..metrics.diagnostics import colour_cast, geometry, hallucination

    out: dict[str, dict[str, float]] = {}
    x, ref = x.double(), ref.double()
    with torch.no_grad():
        for name, fn in (("geometry", lambda: geometry(x, ref, delivered_size=delivered_size)),
                         ("colour_cast", lambda: colour_cast(x, ref)),
                         ("hallucination", lambda: {"hallucination": hallucination(x, ref)})):
            try:
                res = fn()
            except Exception as exc:  # a diagnostic that cannot run here (tiny image…) says nothing
                log.debug("diagnostic %s did not run: %s", name, exc)
                continue
            out[name] = {k: float(v.reshape(-1)[0]) for k, v in res.items()}
    return out


def _finding(name: str, r: dict[str, float]) -> str | None:
    if name == "geometry" and r.get("fov_flag", 0.0) >= 0.5:
        return (f"geometry: the content is displaced by ({r['shift_dx']:+.1f}, {r['shift_dy']:+.1f}) GT px"
                f" at scale {r['scale']:.3f} (output px per GT px) — a misregistration, which pixel metrics "
                "punish everywhere; `paradigm score --align similarity` scores it after registration")
    if name == "colour_cast" and r.get("colour_share", 0.0) >= COLOUR_SHARE_MIN:
        return (f"colour_cast: a global colour/exposure offset (ΔL {r['delta_L']:+.1f}, Δa {r['delta_a']:+.1f}, "
                f"Δb {r['delta_b']:+.1f}) explains {100 * r['colour_share']:.0f}% of the pixel error "
                f"(PSNR after a global colour fix: {r['psnr_colour_corrected']:.1f} dB)")
    if name == "hallucination" and r.get("hallucination", 0.0) >= HALLUCINATION_MIN:
        return (f"hallucination: {100 * r['hallucination']:.0f}% of the area has detail the ground truth does "
                "not support (invented texture)")
    return None


def diagnose(expl: Explanation, x: torch.Tensor, ref: torch.Tensor, delivered_size: Any = None) -> Diagnosis | None:
    """Point from the largest contributor to the shortfall to the diagnostic that explains it.

    Runs ``geometry``, ``colour_cast`` and ``hallucination`` (``paradigm.metrics.diagnostics``) on the
    pair and reports the first one that flags the result, in the order :data:`DIAGNOSTIC_FOR` gives
    for the largest contributor: ``geometry`` when ``fov_flag`` is set (shift > 1 GT px or content
    scale off by > 1 %), ``colour_cast`` when ``colour_share >=`` :data:`COLOUR_SHARE_MIN`,
    ``hallucination`` when its area fraction is ``>=`` :data:`HALLUCINATION_MIN`.

    Args:
        expl: the explanation.
        x, ref: ``(1, C, H, W)`` output (at the GT size) and ground truth.
        delivered_size: the output's ``(H, W)`` before it was resized to the GT (for ``scale``).

    Returns:
        The :class:`Diagnosis`, or None when no metric has a share (nothing to explain).
    """
    ranked = sorted((m for m in expl.parts if not _nan(m.raw)), key=lambda m: -m.share)
    if not ranked or ranked[0].share <= 0:
        return None
    top = ranked[0]
    readings = _read_diagnostics(x, ref, delivered_size)
    order = DIAGNOSTIC_FOR.get(top.metric, _ALL_DIAGNOSTICS)
    order = (*order, *(d for d in _ALL_DIAGNOSTICS if d not in order))
    head = f"largest contributor: {top.metric} ({100 * top.share:.1f}% of the shortfall)"
    for name in order:
        found = _finding(name, readings.get(name, {}))
        if found is not None:
            return Diagnosis(top.metric, top.share, name, f"{head}; explained by {found}", readings)
    ran = ", ".join(n for n in order if n in readings) or "no diagnostic"
    return Diagnosis(top.metric, top.share, None,
                     f"{head}; {ran} flag nothing: no global misregistration, colour cast or invented texture, "
                     "so the loss is local (see the heat map)", readings)
