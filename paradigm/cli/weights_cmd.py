"""``paradigm weights``: list, fetch, verify, import and locate pretrained files of the weights table."""

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


RULES = (
    "check: pinned = the table holds the file's full sha256 (its public source is shown below); "
    "declared-hash = no public digest could be established, so a download must match the sha256 the server "
    "declares (Hugging Face X-Linked-Etag, or an ETag that is a sha256), and that digest is recorded on first "
    "use in weights-lock.json beside the cache; later files must match the record."
)


def _digest_line(r: dict) -> str:
    if r["sha256"]:
        return f"  {r['name']}: sha256 {r['sha256']}\n      source: {r['sha256_source'] or '(not recorded)'}"
    rec = f"recorded {r['recorded_sha256']}" if r.get("recorded_sha256") else "nothing recorded yet"
    prefix = f"; must also start with {r['sha256_prefix']}, the prefix in its file name" if r.get("sha256_prefix") else ""
    return f"  {r['name']}: declared-hash rule ({rec}{prefix})"


@weights.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--no-verify", is_flag=True, help="Do not hash files (state 'present' instead of 'verified').")
@click.option("--brief", is_flag=True, help="Only the table, without the digests and their sources.")
def list_cmd(as_json: bool, no_verify: bool, brief: bool) -> None:
    """Table of weights: name, file, size, state, where, check (pinned/declared-hash), licence;
    then each entry's full sha256 and where it came from."""
    from ..weights import cache_dir, names, status, weights_dir

    rows = [status(n, verify=not no_verify) for n in names()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    headers = ("name", "file", "size", "state", "where", "check", "licence")
    table = [
        (r["name"], r["filename"], _human_size(r["size"]), r["state"], r["where"] or "-", r["verification"],
         r["licence"] or "")
        for r in rows
    ]
    widths = [max(len(h), *(len(str(row[i])) for row in table)) for i, h in enumerate(headers[:-1])]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    click.echo(fmt.format(*headers))
    for row in table:
        click.echo(fmt.format(*row))
    wdir = weights_dir()
    click.echo(f"\nPARADIGM_WEIGHTS_DIR: {wdir if wdir else '(unset)'}   cache: {cache_dir()}")
    if brief:
        return
    import textwrap

    click.echo("\n" + textwrap.fill(RULES, width=100, break_on_hyphens=False) + "\n\ndigests:")
    for r in rows:
        click.echo(_digest_line(r))


@weights.command("fetch")
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every entry of the table.")
@click.option("--metrics", default=None, metavar="A,B", help="The weights these metrics need ('default' = the default set).")
@click.option("--dest", default=None, type=click.Path(file_okay=False),
              help="Folder to fill (default: the cache dir); later use it as PARADIGM_WEIGHTS_DIR.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def fetch_cmd(names: tuple[str, ...], all_: bool, metrics: str | None, dest: str | None, as_json: bool) -> None:
    """Download (and verify) the weights a metric set needs, e.g. to prepare an air-gapped machine.

    With no NAMES, --all or --metrics: what the default metric set needs. Progress bars appear
    when stderr is a terminal. Exits non-zero when any file could not be fetched.
    """
    from ..weights import manage

    try:
        chosen = manage.select(names, all_, manage.parse_metrics(metrics))
        folder = manage.dest_folder(dest)
    except ParadigmError as exc:
        raise click.ClickException(str(exc)) from exc
    results = [manage.fetch_one(n, folder) for n in chosen]
    if as_json:
        click.echo(json.dumps(manage.as_rows(results), indent=2))
    else:
        for r in results:
            detail = r.path if r.state != "failed" else r.message
            click.echo(f"{r.state:<10}  {r.name}  {detail}")
        if folder is not None:
            click.echo(f"\nuse it with: PARADIGM_WEIGHTS_DIR={folder} (or `paradigm weights import`)")
    failed = [r.name for r in results if r.state == "failed"]
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(results)} file(s) could not be fetched: {', '.join(failed)}")


@weights.command("verify")
@click.argument("names", nargs=-1)
@click.option("--dir", "folder", default=None, type=click.Path(file_okay=False, exists=True),
              help="Check the files in this folder instead of where the resolver finds them.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify_cmd(names: tuple[str, ...], folder: str | None, as_json: bool) -> None:
    """Re-hash every present weights file; report ok / mismatch / missing. Exit 1 on any mismatch."""
    from pathlib import Path

    from ..weights import manage
    from ..weights import names as all_names

    try:
        chosen = list(names) or all_names()
        results = [manage.verify_one(n, Path(folder) if folder else None) for n in chosen]
    except ParadigmError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(manage.as_rows(results), indent=2))
    else:
        for r in results:
            line = f"{r.state:<9}  {r.name}  {r.path or '-'}"
            if r.state == "mismatch":
                line += f"\n           expected {r.expected} ({r.how}), got {r.actual}"
            click.echo(line)
    bad = [r.name for r in results if r.state == "mismatch"]
    counts = {s: sum(r.state == s for r in results) for s in ("ok", "unchecked", "missing", "mismatch")}
    click.echo(", ".join(f"{v} {k}" for k, v in counts.items()), err=True)
    if bad:
        raise click.ClickException(f"sha256 mismatch: {', '.join(bad)} (delete and fetch again)")


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
