"""``paradigm explain``: why one result got its composite score."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import InputError, MetricUnavailableError, ParadigmError, UnknownMetricError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


def _read_image(path: Path) -> torch.Tensor:
    """Decode an image to ``(1, 3, H, W)`` float32 in [0, 1] (``paradigm.io`` when present, else Pillow)."""
    try:
        from ..io import read_image
    except ImportError:  # paradigm.io not installed: minimal Pillow decoder (8-bit only)
        import numpy as np
        import torch
        from PIL import Image

        try:
            with Image.open(path) as im:
                arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        except OSError as exc:
            raise InputError(f"cannot decode image {str(path)!r}: {exc}") from exc
        return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()
    return read_image(path)[None]


def _resize_to(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    import torch

    y = torch.nn.functional.interpolate(x, size=hw, mode="bicubic", align_corners=False, antialias=True)
    return y.clamp(0.0, 1.0)


def _metric_for_column(column: str) -> tuple[str, str]:
    """(registered metric name, output column) for a composite column name."""
    from .. import list_metrics, metric_info
    from ..metrics.registry import get_metric_class

    try:
        cls = get_metric_class(column)
        return cls.name, column if column in (cls.outputs or (cls.name,)) else (cls.outputs or (cls.name,))[0]
    except UnknownMetricError:
        for name in list_metrics():
            if column in metric_info(name)["outputs"]:
                return name, column
        raise


def _run_metrics(
    names: list[str], out: torch.Tensor, gt: torch.Tensor | None, inp: torch.Tensor | None,
    delivered: tuple[int, int] | None = None,
) -> tuple[dict[str, float], dict[str, str], dict[str, str]]:
    """Run composite metrics; returns (raw values, skipped reasons, reference used per metric).

    ``delivered``: the result's size before its resize to the GT (for ``uses_delivered_size`` metrics)."""
    import torch

    from .. import create_metric

    raw: dict[str, float] = {}
    skipped: dict[str, str] = {}
    refs: dict[str, str] = {}
    for col in names:
        try:
            mname, outcol = _metric_for_column(col)
            metric = create_metric(mname)
        except UnknownMetricError:
            skipped[col] = "not registered in this installation (`paradigm metrics` lists what is)"
            continue
        except MetricUnavailableError as exc:
            skipped[col] = str(exc)
            continue
        reference = type(metric).reference
        ref = {"gt": gt, "input": inp, "none": None}[reference]
        if reference != "none" and ref is None:
            skipped[col] = f"needs {'--gt' if reference == 'gt' else '--input'}"
            continue
        try:
            with torch.no_grad():
                val = metric(out, ref, delivered_size=delivered) if metric.uses_delivered_size else metric(out, ref)
        except (MetricUnavailableError, InputError) as exc:
            skipped[col] = str(exc)
            continue
        v = val[outcol] if isinstance(val, dict) else val
        raw[col] = float(v.reshape(-1)[0])
        refs[col] = reference
        if reference == "none" and gt is not None:  # NR metrics enter relative to the GT's value (composite v2)
            with torch.no_grad():
                raw[col + "_ref"] = float(torch.as_tensor(metric(gt, None)).reshape(-1)[0])
    return raw, skipped, refs


def _write_heatmap(
    path: Path, expl: Any, refs: dict[str, str], out: torch.Tensor, gt: torch.Tensor | None, inp: torch.Tensor | None
) -> str:
    """Write the heat map (with its colour bar) of the costliest metric that has one; the note to print."""
    from PIL import Image

    from ..composite.explain import colorize, heatmap, heatmap_kind, pick_heatmap_metric, with_colour_bar

    chosen = pick_heatmap_metric(expl, set(refs))
    if chosen is None:
        return "no heat map: none of the metrics that ran has a spatial map"
    ref = gt if refs[chosen] == "gt" else inp
    m = heatmap(chosen, out, ref) if ref is not None else None
    kind = heatmap_kind(chosen)
    if m is None or kind is None:  # pragma: no cover - the manifest and error_map() agree
        return f"no heat map for {chosen}"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(with_colour_bar(colorize(m), f"{chosen}: {kind}")).save(path)
    top = max(expl.parts, key=lambda p: p.share)
    extra = "" if top.metric == chosen else f" ({top.metric} costs more but has no spatial map)"
    return (f"heat map of {chosen}: {kind} -> {path}{extra} "
            "(colour bar: dark 0 to bright 1 = worse)")


@click.command("explain")
@click.argument("result_image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--gt", "gt_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Ground-truth image.")
@click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Degraded input (LQ) image.")
@click.option("--metrics", "metrics_opt", default=None, help="Comma-separated subset of the composite's metrics to run.")
@click.option("--composite", "composite", default=None, help="Composite name (default) or JSON file.")
@click.option("--profile", "profile", default=None, help="Task profile (see docs/composite.md).")
@click.option("--heatmap", "heatmap_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a heat map PNG for the metric that costs the most.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
def explain(
    result_image: Path,
    gt_path: Path | None,
    input_path: Path | None,
    metrics_opt: str | None,
    composite: str | None,
    profile: str | None,
    heatmap_path: Path | None,
    as_json: bool,
) -> None:
    """Explain the composite score of RESULT_IMAGE: each metric's raw and calibrated value, pillar,
    effective weight and share of the shortfall from a perfect score; then pillars and composite."""
    from ..composite.aggregate import resolve_spec
    from ..composite.explain import diagnose, explain_values, render

    try:
        spec = resolve_spec(composite, profile)
        names = spec.metrics()
        deselected: dict[str, str] = {}
        if metrics_opt:
            wanted = [m.strip().lower().replace("-", "_") for m in metrics_opt.split(",") if m.strip()]
            unknown = [m for m in wanted if m not in names]
            if unknown:
                raise InputError(f"--metrics {unknown} not in composite {spec.tag}; its metrics: {', '.join(names)}")
            deselected = {m: "not selected (--metrics)" for m in names if m not in wanted}
            names = [m for m in names if m in wanted]
        out = _read_image(result_image)
        delivered = (int(out.shape[-2]), int(out.shape[-1]))
        gt = _read_image(gt_path) if gt_path else None
        inp = _read_image(input_path) if input_path else None
        if gt is not None and out.shape[-2:] != gt.shape[-2:]:
            click.echo(f"note: resized the result {tuple(out.shape[-2:])} to the ground truth {tuple(gt.shape[-2:])} (bicubic)", err=True)
            out = _resize_to(out, (int(gt.shape[-2]), int(gt.shape[-1])))
        if inp is not None and inp.shape[-2:] != out.shape[-2:]:
            click.echo(f"note: resized the input {tuple(inp.shape[-2:])} to the result {tuple(out.shape[-2:])} (bicubic)", err=True)
            inp = _resize_to(inp, (int(out.shape[-2]), int(out.shape[-1])))
        raw, skipped, refs = _run_metrics(names, out, gt, inp, delivered)
        skipped.update(deselected)
        expl = explain_values(raw, spec, skipped)
        heat_note = _write_heatmap(heatmap_path, expl, refs, out, gt, inp) if heatmap_path is not None else ""
        diagnosis = diagnose(expl, out, gt, delivered) if gt is not None else None
    except ParadigmError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        d: dict[str, Any] = expl.to_dict()
        if heatmap_path is not None:
            d["heatmap"] = heat_note
        if diagnosis is not None:
            d["diagnosis"] = diagnosis.to_dict()
        click.echo(json.dumps(d, indent=2, sort_keys=True, allow_nan=False))
        return
    click.echo(render(expl))
    if heat_note:
        click.echo("")
        click.echo(heat_note)
    if diagnosis is not None:
        click.echo("")
        click.echo(diagnosis.text)
    if math.isnan(expl.composite):
        click.echo("no composite: none of its metrics ran", err=True)
