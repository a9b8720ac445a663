"""``python -m meta_eval``: the ``meta-eval`` commands without paradigm (same as ``paradigm meta-eval``)."""

from __future__ import annotations

from .cli import meta_eval

if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    meta_eval(prog_name="python -m meta_eval")
