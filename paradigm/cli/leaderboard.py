"""``paradigm leaderboard``: build a static leaderboard site from ``paradigm score`` folders."""

from __future__ import annotations

import click

from ..errors import ParadigmError


@click.command("leaderboard")
@click.argument("scores", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False),
              help="Leaderboard folder to write (e.g. leaderboards/NAME); rebuilt if it holds a leaderboard.")
@click.option("--title", default=None, help="Page title [default: the output folder's name].")
@click.option("--rank-by", type=click.Choice(["composite", "floor"]), default="composite", show_default=True,
              help="Mean composite, or the floor: mean of the worst sample per input (multi-sample runs).")
@click.option("--force", is_flag=True,
              help="Merge runs whose signatures disagree on score-changing fields; their rows are marked.")
@click.option("--metrics", default=None, metavar="LIST",
              help="Comma-separated metric columns to show [default: PSNR, SSIM, LPIPS, DISTS, DINO… present].")
@click.option("--thumbnails/--no-thumbnails", default=True, show_default=True,
              help="Copy downscaled worst-case images next to the method pages.")
@click.option("--allow-outside", is_flag=True,
              help="Also make thumbnails of image paths outside the folders each run scored (run.json roots); "
                   "only for scores files you trust.")
@click.option("--seed", default=0, show_default=True, type=int, help="Bootstrap seed.")
@click.option("--n-boot", default=1000, show_default=True, type=click.IntRange(min=0),
              help="Bootstrap resamples for intervals and rank tests.")
def leaderboard(
    scores: tuple[str, ...], out: str, title: str | None, rank_by: str, force: bool, metrics: str | None,
    thumbnails: bool, seed: int, n_boot: int, allow_outside: bool,
) -> None:
    """Rank the methods in SCORES (folders from `paradigm score --out`) and write a leaderboard.

    Writes OUT/index.html (static, works offline), OUT/methods/*.html, OUT/README.md,
    OUT/leaderboard.csv and OUT/leaderboard.json. Several SCORES folders are merged when their
    reproducibility signatures agree on every field that changes scores.
    """
    from pathlib import Path

    from ..leaderboard.build import build_leaderboard

    out_path = Path(out)
    try:
        lb = build_leaderboard(
            list(scores), out_path, title=title or out_path.resolve().name, rank_by=rank_by,  # type: ignore[arg-type]
            force=force, metrics=metrics.split(",") if metrics is not None else None, thumbnails=thumbnails,
            seed=seed, n_boot=n_boot, allow_outside=allow_outside,
        )
    except ParadigmError as exc:
        raise click.ClickException(str(exc)) from exc
    n_methods = len(lb.methods)
    click.echo(f"wrote {out_path / 'index.html'} ({len(lb.boards)} board(s), {n_methods} method(s))")
    for c in lb.conflicts:
        click.echo(f"warning: merged despite differing signature field {c.field!r} ({c.reference!r} vs {c.value!r})",
                   err=True)
