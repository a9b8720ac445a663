"""The ``paradigm`` command line. Subcommands live in their own modules and are imported lazily."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from typing import Any

import click

from .._version import __version__

#: command name -> "module:attribute" of a click command.
SUBCOMMANDS: dict[str, str] = {
    "score": "paradigm.cli.score:score",
    "demo": "paradigm.cli.demo:demo",
    "metrics": "paradigm.cli.metrics_cmd:metrics",
    "weights": "paradigm.cli.weights_cmd:weights",
    "explain": "paradigm.cli.explain:explain",
    "meta-eval": "meta_eval.cli:meta_eval",
    "leaderboard": "paradigm.cli.leaderboard:leaderboard",
    "annotate": "paradigm.cli.annotate:annotate",
    "protocols": "paradigm.cli.protocols_cmd:protocols",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        out = []
        for name, target in SUBCOMMANDS.items():
            mod = target.split(":")[0]
            try:
                found = importlib.util.find_spec(mod) is not None
            except ModuleNotFoundError:  # parent package absent
                found = False
            if found:
                out.append(name)
        return sorted(out)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        mod_name, attr = target.split(":")
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name == mod_name:
                return None
            raise
        cmd: click.Command = getattr(mod, attr)
        return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="paradigm")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """paradigm: score image restoration results on perceptual quality, stability and fidelity."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main(argv: Any = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="paradigm")
