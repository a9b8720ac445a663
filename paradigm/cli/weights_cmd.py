"""``paradigm weights``: list, import and locate pretrained files of the weights table."""

from __future__ import annotations

import json

import click

from ..errors import ParadigmError


def _human_size(n: int | None) -> str:
    if not n:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


@click.group("weights")
def weights() -> None:
    """Pretrained files: where they are, whether they verify, and how to add them offline."""


@weights.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--no-verify", is_flag=True, help="Do not hash files (state 'present' instead of 'verified').")
def list_cmd(as_json: bool, no_verify: bool) -> None:
    """Table of weights: name, file, size, state (verified/missing/hash-mismatch/...), where, licence."""
    from ..weights import cache_dir, names, status, weights_dir

    rows = [status(n, verify=not no_verify) for n in names()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    headers = ("name", "file", "size", "state", "where", "licence")
    table = [
        (r["name"], r["filename"], _human_size(r["size"]), r["state"], r["where"] or "-", r["licence"] or "")
        for r in rows
    ]
    widths = [max(len(h), *(len(str(row[i])) for row in table)) for i, h in enumerate(headers[:-1])]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    click.echo(fmt.format(*headers))
    for row in table:
        click.echo(fmt.format(*row))
    wdir = weights_dir()
    click.echo(f"\nPARADIGM_WEIGHTS_DIR: {wdir if wdir else '(unset)'}   cache: {cache_dir()}")


@weights.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", default=None, help="Table entry; default: identified by sha256.")
def import_cmd(path: str, name: str | None) -> None:
    """Verify a file you downloaded yourself and copy it into the cache dir."""
    from ..weights import import_file

    try:
        got, dest = import_file(path, name)
    except ParadigmError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"imported {got}: {dest}")


@weights.command("path")
@click.argument("name")
def path_cmd(name: str) -> None:
    """Print the verified local path of NAME (never downloads when PARADIGM_OFFLINE=1)."""
    from ..weights import resolve

    try:
        p = resolve(name)
    except ParadigmError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(p))
