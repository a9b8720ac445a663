"""``paradigm protocols``: list the study protocols and what each ``corrected`` flavour fixes."""

from __future__ import annotations

import click


@click.command("protocols")
@click.argument("name", required=False)
def protocols(name: str | None) -> None:
    """List the evaluation protocols (``paradigm score --protocol NAME``); with NAME, show one in full."""
    from ..errors import InputError
    from ..protocols import get_protocol, list_protocols

    if name:
        try:
            p = get_protocol(name)
        except InputError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{p.tag}\n  script:  {p.script}\n  reader:  {p.reader} (paradigm decodes: {p.decode})")
        click.echo(f"  resize:  {p.resize}  crop: {p.crop}")
        click.echo(f"  pairing: {p.pairing}" + (f"  suffixes: {', '.join(p.suffixes)}" if p.suffixes else ""))
        for s in p.metrics:
            opts = ", ".join(f"{k}={v}" for k, v in s.options)
            click.echo(f"  metric:  {s.label:<8} = {s.metric}" + (f" [{opts}]" if opts else ""))
        for b in p.bugs:
            state = "fixed" if p.flavour == "corrected" else ("reproduced" if b.reproduced else "not reproduced")
            click.echo(f"  bug {b.key} ({state}): {b.description}; effect: {b.effect}")
        if p.runnable and p.flavour == "as-published":
            click.echo(f"  cannot run: {p.runnable}")
        if p.notes:
            click.echo(f"  note: {p.notes}")
        return
    rows = list_protocols()
    width = max(len(p.tag) for p in rows)
    for p in rows:
        if p.flavour == "corrected":
            fixes = ", ".join(b.key for b in p.bugs if b.reproduced) or "nothing (no bug changes a number)"
            what = f"fixes: {fixes}"
        else:
            what = ", ".join(s.label for s in p.metrics) + f"; resize {p.resize}"
            if p.runnable:
                what += "; cannot run as published"
        click.echo(f"{p.tag:<{width}}  {what}")
    click.echo(f"{len(rows)} protocols; `paradigm protocols NAME` shows one; docs/protocols.md explains them.")
