"""``paradigm score``: score a results tree against ground truth (see ``docs/scoring.md``).

Exit codes: 0 success; 1 bad usage or input (one clear message); 3 some pairs failed or some
folders could not be read (rows in ``errors.csv``; use ``--allow-errors`` to exit 0); 4 ``--strict``
and an explicitly requested metric was skipped.

``--out`` and ``--composite`` are checked before anything is decoded, so a typo costs no scoring time.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

log = logging.getLogger(__name__)

EXIT_PAIRS_FAILED = 3
EXIT_STRICT = 4


def _err(msg: str) -> None:
    click.echo(msg, err=True)


@click.command("score")
@click.argument("results", type=click.Path(path_type=Path))
@click.option("--gt", "gt", default=None, type=click.Path(path_type=Path),
              help="Ground-truth folder. Omit it (and give --input) for tasks without ground truth.")
@click.option("--input", "input_", type=click.Path(path_type=Path), default=None, help="Degraded-input (LQ) folder.")
@click.option("--input2", "input2", type=click.Path(path_type=Path), default=None,
              help="Second source folder for two-input fusion metrics (fusion_mi, fusion_qabf, fusion_vif).")
@click.option("--metrics", default="default", show_default=True, help="Comma-separated names, 'default' or 'all'.")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None, help="Write scores/summary/errors/run.json here.")
@click.option("--resize", type=click.Choice(["to-gt", "none"]), default="to-gt", show_default=True,
              help="Size-mismatch policy: resize outputs to GT size, or treat as an error.")
@click.option("--crop-border", type=click.IntRange(min=0), default=0, show_default=True,
              help="Pixels removed from every side before scoring.")
@click.option("--y-channel", is_flag=True, help="Score on BT.601 luma where metrics support it.")
@click.option("--y-rule", type=click.Choice(["float", "matlab"]), default=None,
              help="Y conversion (implies --y-channel): float = BasicSR, unrounded [default]; matlab = rgb2ycbcr "
                   "on uint8, Y rounded to 8 bits. See docs/colour.md.")
@click.option("--align", type=click.Choice(["none", "similarity"]), default="none", show_default=True,
              help="Register outputs to the GT (global shift + scale) before scoring; recorded in the signature.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:K.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Pairs per metric call [default: 8].")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Decoding threads [default: min(4, CPUs)]; 0 decodes in the main thread.")
@click.option("--cache", "cache", type=click.Path(path_type=Path), default=None,
              help="Cache database [default: RESULTS/.paradigm/cache.sqlite].")
@click.option("--no-cache", is_flag=True, help="Do not read or write the cache.")
@click.option("--allow-errors", is_flag=True, help="Exit 0 even when some pairs failed.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed (torch, bootstrap CIs).")
@click.option("--composite", default=None, help="Composite file or name (default: the bundled default).")
@click.option("--profile", default=None, help="Task profile of the composite.")
@click.option("--strict", is_flag=True, help="Fail when a requested metric or a composite part is missing.")
@click.option("--allow-missing", is_flag=True,
              help="Accept a composite that names metrics paradigm does not know (they count as missing).")
@click.option("--max-pixels", type=click.IntRange(min=0), default=None,
              help="Refuse images whose header declares more pixels (a decode error row) [default: 2**27 = "
                   "134217728]; 0: no limit. Recorded in the signature.")
@click.option("--trust-mtime", is_flag=True,
              help="Cache: reuse a file's hash while its size and modification time are unchanged instead of "
                   "re-hashing its bytes. Only for trees nothing rewrites in place (cp -p, rsync -t keep mtimes).")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32", show_default=True,
              help="Model metrics' precision (where they declare the option).")
@click.option("--protocol", default=None, help="A study protocol (see `paradigm protocols`): its metrics, resize and pairing.")
@click.option("--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where the work runs: this process, or a Ray cluster (pip install 'paradigm-iqa[ray]'; "
                   "docs/scale-out.md). Scores are the same.")
@click.option("--address", default=None, help="Ray cluster address (HEAD_IP:6379) [default: start or join a local one].")
@click.option("--cpus-per-worker", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Ray: CPUs reserved per task.")
@click.option("--gpus-per-worker", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Ray: GPUs per task (fractions share a GPU); > 0 runs the metrics on cuda.")
@click.option("--pairs-per-unit", type=click.IntRange(min=1), default=32, show_default=True,
              help="Pairs per unit of work (a Ray task; batches never cross a unit). Recorded when not the default.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def score(
    results: Path, gt: Path | None, input_: Path | None, input2: Path | None, metrics: str, out: Path | None, resize: str, crop_border: int,
    y_channel: bool, y_rule: str | None, align: str, device: str, batch_size: int | None, workers: int | None, cache: Path | None, no_cache: bool,
    allow_errors: bool, seed: int, composite: str | None, profile: str | None, strict: bool, allow_missing: bool,
    max_pixels: int | None, trust_mtime: bool, precision: str, quiet: bool, backend: str, address: str | None,
    cpus_per_worker: float, gpus_per_worker: float, pairs_per_unit: int, protocol: str | None = None,
) -> None:
    """Score RESULTS (RESULTS/<method>/[<task>/<dataset>/]<image>) against --gt GT.

    For tasks without ground truth (underwater, real-world enhancement, fusion), omit --gt and give
    --input LQ: outputs pair with the inputs, and only no-reference and input-referenced metrics run.

    Prints a per-method summary and the reproducibility signature; with --out writes scores.parquet,
    scores.csv, summary.csv, errors.csv and run.json.
    """
    from ..errors import MetricUnavailableError, ParadigmError
    from ..outputs import check_out_dir, write_outputs
    from ..terminal_table import render_summary

    if cache is not None and no_cache:
        raise click.UsageError("--cache and --no-cache are mutually exclusive")
    if out is not None:
        try:
            check_out_dir(out)  # before anything is imported or decoded: a bad --out costs nothing
        except ParadigmError as exc:
            raise click.ClickException(str(exc)) from None
    from ..engine import ScoreConfig, run_score
    from ..io import DEFAULT_MAX_PIXELS
    cfg = ScoreConfig(
        results=results, gt=gt, input=input_, metrics=metrics, resize=resize, crop_border=crop_border,
        y_channel="matlab" if y_rule == "matlab" else bool(y_channel or y_rule), device=device, batch_size=batch_size, workers=workers,
        cache=None if no_cache else (cache if cache is not None else "default"), seed=seed,
        composite=composite, profile=profile, strict=strict, precision=precision,
        progress=False if quiet else None, align=align, input2=input2, allow_missing=allow_missing,
        max_pixels=DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels, trust_mtime=trust_mtime,
        protocol=protocol, backend=backend, ray_address=address, cpus_per_worker=cpus_per_worker,
        gpus_per_worker=gpus_per_worker, pairs_per_unit=pairs_per_unit,
    )
    try:
        res = run_score(cfg, echo=lambda s: _err(f"warning: {s}"))
    except MetricUnavailableError as exc:
        raise click.ClickException(f"{exc}") from None
    except ParadigmError as exc:
        raise click.ClickException(str(exc)) from None

    info = res.run_info
    skipped = info.get("skipped_metrics", {})
    for name, why in skipped.items():
        if name in res.explicit_skipped:
            _err(f"WARNING: requested metric {name!r} was SKIPPED: {why}")
        else:
            _err(f"note: metric {name} skipped: {why.splitlines()[0] if why else ''}")
    if not res.run_info["metrics"]:
        _err("warning: no metric ran")
    click.echo(render_summary(res.summary))
    click.echo(info["signature_line"])
    c = info["counts"]
    if info.get("composite_note"):
        _err(f"note: {info['composite_note']}")
    if c["cached"]:
        _err(f"cache: {c['cached']} metric value(s) reused, {c['computed']} computed "
             f"({c['cached_pairs']} of {c['rows']} scored pair(s) fully from the cache)")
    if c["unpaired"]:
        _err(f"warning: {c['unpaired']} file(s) could not be paired (stage 'pairing' in errors.csv)")
    n_walk = int(c.get("errors_by_stage", {}).get("discovery", 0))
    if n_walk:
        _err(f"warning: {n_walk} folder(s) not scanned: unreadable, or a symbolic-link loop "
             "(stage 'discovery' in errors.csv)")
    n_other = c["errors"] - c["unpaired"] - n_walk
    if n_other:
        _err(f"warning: {n_other} error(s) while decoding or scoring (see errors.csv)")
    if c["errors"] and out is None:
        for _, r in res.errors.head(10).iterrows():
            _err(f"  {r['stage']}: {r['path']}: {r['reason']}")
        if c["errors"] > 10:
            _err(f"  ... and {c['errors'] - 10} more (use --out DIR to get errors.csv)")
    if out is not None:
        try:
            paths = write_outputs(out, res.scores, res.summary, res.errors, info, samples=res.samples)
        except ParadigmError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(f"cannot write the outputs to {out}: {exc}") from None
        _err(f"wrote {', '.join(sorted(paths))} to {out}")
    log.info("counts: %s", c)
    if strict and res.explicit_skipped:
        sys.exit(EXIT_STRICT)
    if res.failed and not allow_errors:
        _err(f"{res.failed} error row(s): exiting with status {EXIT_PAIRS_FAILED} (use --allow-errors to accept)")
        sys.exit(EXIT_PAIRS_FAILED)
