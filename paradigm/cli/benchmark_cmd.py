"""``paradigm meta-eval benchmark``: score a human-judged dataset's images and validate the metrics.

Installed as a ``meta-eval`` subcommand through the ``meta_eval.commands`` entry point, so
``meta_eval`` offers it without importing paradigm.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("benchmark")
@click.option("--dataset", required=True,
              help="KIND:ROOT of a human-judged dataset in its official layout, as --human takes it "
                   "(tid2013:/data/tid2013, kadid:/data/kadid10k/dmos.csv, csiq:..., live:..., pipal:..., "
                   "bapps:..., pieapp:..., sriqa:...). Images are found under the loader's folder.")
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder holding the dataset's images [default: found from the score file's folder].")
@click.option("--metrics", default="psnr,ssim,ms_ssim,gmsd", show_default=True,
              help="paradigm metrics to compute on the dataset's pairs (comma-separated; 'default', 'all').")
@click.option("--scores", "scores", multiple=True, help="Extra score table (repeatable), as validate --scores.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the engine's cache and linked tree (pairs/), scores.csv, errors.csv, report.*")
@click.option("--bootstrap", "n_boot", type=click.IntRange(0), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=None)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def benchmark(
    dataset: str, images: Path | None, metrics: str, scores: tuple[str, ...], out: Path, n_boot: int, seed: int, device: str,
    batch_size: int | None, quiet: bool,
) -> None:
    """Pair a dataset's images by its own naming, score them with the engine, validate against people.

    Reports SRCC/KRCC/PLCC with CIs over references, pairwise accuracy, significance clusters and a
    per-distortion breakdown (report.md, report.html, results.json), next to any extra --scores.
    """
    from ..errors import ParadigmError
    from ..human_bench import benchmark as run

    try:
        from meta_eval.errors import MetaEvalError
        from meta_eval.report import format_table

        res = run(dataset, out=out, images=images, metrics=metrics, scores=scores, n_boot=n_boot, seed=seed,
                  progress=False if quiet else None, device=device, batch_size=batch_size)
    except (ParadigmError, MetaEvalError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(format_table(res))
    p = res["pairing"]
    click.echo(f"paired {p['paired']} of {p['judged']} judged images; unpaired ones are in {out / 'errors.csv'}",
               err=True)
