"""``paradigm metrics``: list the registered metrics and their declared properties."""

from __future__ import annotations

import json
import math

import click


def _rng(r: list[float]) -> str:
    def f(v: float) -> str:
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:g}"

    return f"[{f(r[0])}, {f(r[1])}]"


@click.command("metrics")
@click.option("--kind", type=click.Choice(["full-reference", "no-reference", "embedding"]), default=None)
@click.option("--pillar", type=click.Choice(["perceptual", "stability", "fidelity", "diagnostic"]), default=None)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def metrics(kind: str | None, pillar: str | None, as_json: bool) -> None:
    """List registered metrics: name, kind, pillar, direction, range, reference, weights."""
    from ..metrics.registry import list_metrics, metric_info
    from ..outputs import format_table

    infos = [metric_info(n) for n in list_metrics(kind=kind, pillar=pillar)]
    if as_json:
        click.echo(json.dumps(infos, indent=2, default=str))
        return
    if not infos:
        click.echo("no metrics registered (are the metric modules installed?)")
        return
    rows = [
        [
            i["name"], i["kind"], i["pillar"], "higher" if i["higher_is_better"] else "lower",
            _rng(i["range"]), i["reference"], ",".join(i["weights"]) or "-",
        ]
        for i in infos
    ]
    click.echo(format_table(["name", "kind", "pillar", "better", "range", "reference", "weights"], rows, n_left=7))
    click.echo(f"{len(infos)} metrics; `paradigm score --metrics a,b` selects them.")
    declared = [i["name"] for i in infos if "not checked here" in (i.get("description") or "")]
    if declared:
        click.echo(f"declared only (needs parameter file; not checked here; not computed): {', '.join(declared)}")
