"""``paradigm annotate``: a local web page to collect pairwise human judgments, and their export.

Forms::

    paradigm annotate RESULTS --gt GT [options]          # = paradigm annotate serve RESULTS --gt GT
    paradigm annotate serve RESULTS --gt GT [options]
    paradigm annotate export --db PATH -o votes.csv [--raters raters.csv]
    paradigm annotate report --db PATH
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from ..errors import ParadigmError

log = logging.getLogger(__name__)


class _DefaultGroup(click.Group):
    """A group that runs ``serve`` when the first argument is not a subcommand name."""

    default_command = "serve"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[serve] RESULTS --gt GT [OPTIONS] | COMMAND [ARGS]...")


@click.group("annotate", cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
def annotate() -> None:
    """Collect pairwise human judgments of restoration results in the browser.

    `paradigm annotate RESULTS --gt GT` (same as `paradigm annotate serve ...`) starts a local web
    page showing raters the ground truth and two methods' outputs; `paradigm annotate export` writes
    the votes for `paradigm meta-eval --human votes:votes.csv`. See docs/annotate.md.
    """


@annotate.command("serve")
@click.argument("results", type=click.Path(exists=True, file_okay=False, path_type=Path, resolve_path=True))
@click.option("--gt", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path, resolve_path=True),
              help="Ground-truth folder (flat or <task>/<dataset>/, as for `paradigm score`).")
@click.option("--pairs", type=click.IntRange(min=1), default=None,
              help="Trials per rater session [default: every input x method pair once, plus catch/repeat trials].")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback exposes the page to your network: use --token.")
@click.option("--token", default=None,
              help="Access token every request must carry ('auto': generate one). The printed link includes it.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path, resolve_path=True), default=None,
              help="Answers database [default: RESULTS/.paradigm/annotate.sqlite].")
@click.option("--active", is_flag=True,
              help="Prefer method pairs whose Bradley-Terry ordering is most uncertain (instead of plain balance).")
@click.option("--repeat-rate", type=click.FloatRange(0, 0.5), default=0.1, show_default=True,
              help="Fraction of trials repeating an earlier pair with A/B swapped (rater consistency).")
@click.option("--catch-rate", type=click.FloatRange(0, 0.5), default=0.1, show_default=True,
              help="Fraction of catch trials (GT against a heavily degraded GT).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the schedule's random choices.")
@click.option("--title", default="paradigm annotate", show_default=True, help="Page title.")
@click.option("--follow-symlinks", is_flag=True,
              help="Also serve images whose real path is outside RESULTS/GT (symlinked trees you trust).")
def serve(
    results: Path, gt: Path, pairs: int | None, port: int, host: str, token: str | None, db: Path | None,
    active: bool, repeat_rate: float, catch_rate: float, seed: int, title: str, follow_symlinks: bool,
) -> None:
    """Serve the annotation page for RESULTS (RESULTS/<method>/[<task>/<dataset>/]<image>) against --gt."""
    from ..annotate.app import StudyConfig, is_loopback, make_server, new_token, open_study, study_url

    try:
        import flask  # noqa: F401
    except ImportError:
        raise click.ClickException("the annotation page needs Flask: pip install 'flask>=3'") from None
    if token is not None and token.strip().lower() == "auto":
        token = new_token()
    if token is not None and not token.strip():
        raise click.BadParameter("the token must not be empty", param_hint="--token")
    if not is_loopback(host) and not token:
        click.echo(
            f"warning: listening on {host} without --token: anyone who can reach this machine can open the "
            "page and submit answers; add --token auto", err=True,
        )
    cfg = StudyConfig(
        results=results, gt=gt, db=db, pairs=pairs, seed=seed, repeat_rate=repeat_rate, catch_rate=catch_rate,
        active=active, token=token, title=title, host=host, follow_symlinks=follow_symlinks,
    )
    try:
        study = open_study(cfg)
        server = make_server(study, host, port)
    except ParadigmError as exc:
        raise click.ClickException(str(exc)) from None
    d = study.scheduler.design
    click.echo(
        f"{len(d.inputs)} inputs, {len(d.methods)} methods ({len(d.cells())} input x pair cells); "
        f"{study.scheduler.max_trials} trials per rater; answers in {study.store.path}"
    )
    if study.unpaired:
        click.echo(f"note: {study.unpaired} pairing issue(s) (outputs without a GT image, GT images without an "
                   "output...) left out; `paradigm score` lists them in errors.csv", err=True)
    for s in study.skipped[:5]:
        click.echo(f"warning: not served: {s}", err=True)
    if len(study.skipped) > 5:
        click.echo(f"warning: ... and {len(study.skipped) - 5} more not served", err=True)
    click.echo(f"open {study_url(study, host, server.server_port)}   (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    click.echo(f"stopped. export with: paradigm annotate export --db {study.store.path} -o votes.csv")


@annotate.command("export")
@click.option("--db", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The answers database (RESULTS/.paradigm/annotate.sqlite by default when serving).")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Votes CSV to write (contracts §5 layout).")
@click.option("--raters", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Rater report CSV [default: raters.csv beside --out].")
@click.option("--catch-threshold", type=click.FloatRange(0, 1), default=0.8, show_default=True,
              help="Raters passing fewer catch trials than this are flagged.")
@click.option("--drop-flagged", is_flag=True, help="Leave flagged raters' votes out of the votes file.")
def export(db: Path, out: Path, raters: Path | None, catch_threshold: float, drop_flagged: bool) -> None:
    """Write the judgments as votes.csv (+ raters.csv) for `paradigm meta-eval --human votes:FILE`."""
    from ..annotate.export import export_votes, format_report

    try:
        res = export_votes(db, out, raters, catch_threshold=catch_threshold, drop_flagged=drop_flagged)
    except ParadigmError as exc:
        raise click.ClickException(str(exc)) from None
    n_flag = sum(s.flagged for s in res.raters)
    click.echo(
        f"wrote {res.n_votes} votes ({res.n_catch} catch trials) from {len(res.raters)} rater(s) to {res.votes_path}"
        + (f" ({res.dropped} votes of flagged raters dropped)" if res.dropped else "")
    )
    click.echo(f"wrote the rater report to {res.raters_path}" + (f"; {n_flag} rater(s) flagged" if n_flag else ""))
    if res.raters:
        click.echo(format_report(res.raters))


@annotate.command("report")
@click.option("--db", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The answers database.")
@click.option("--catch-threshold", type=click.FloatRange(0, 1), default=0.8, show_default=True,
              help="Raters passing fewer catch trials than this are flagged.")
def report(db: Path, catch_threshold: float) -> None:
    """Print the per-rater quality-control report (catch trials, repeat consistency, majority agreement)."""
    from ..annotate.export import format_report, rater_report
    from ..annotate.store import open_existing

    try:
        rows: list[dict[str, Any]] = open_existing(db).answer_rows()
        stats = rater_report(rows, catch_threshold)
    except ParadigmError as exc:
        raise click.ClickException(str(exc)) from None
    if not stats:
        click.echo("no answers yet")
        return
    click.echo(format_report(stats))
