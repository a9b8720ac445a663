"""``paradigm demo DIR``: write a small demo results tree (see :mod:`paradigm.demo`)."""

from __future__ import annotations

import time
from pathlib import Path

import click


@click.command("demo")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--size", type=int, default=256, show_default=True, help="Side of the square GT crops (multiple of 4).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of crops, noise and textures.")
@click.option("--force", is_flag=True, help="Write into a non-empty folder.")
def demo(directory: Path, size: int, seed: int, force: bool) -> None:
    """Write a demo results tree into DIRECTORY (GT, degraded input and four methods)."""
    from ..demo import make_demo
    from ..errors import ParadigmError

    t0 = time.perf_counter()
    try:
        info = make_demo(directory, size=size, seed=seed, force=force)
    except ParadigmError as exc:
        raise click.ClickException(str(exc)) from None
    d = directory.as_posix()
    click.echo(
        f"wrote {len(info['images'])} images x {len(info['methods'])} methods to {d} "
        f"in {time.perf_counter() - t0:.1f} s (see {d}/README.txt)"
    )
    click.echo(f"next: paradigm score {d}/results --gt {d}/gt --input {d}/input --out {d}/scores")
