"""Progress bars that are only drawn on a terminal.

Every progress bar of paradigm and meta_eval goes through :func:`progress_bar`: a ``tqdm`` on
``sys.stderr`` that is disabled unless stderr is a terminal, so logs, CI output and pipes never
receive carriage-return bar updates. ``enabled=False`` (e.g. ``--no-progress``, ``-q``) turns it off
on a terminal too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["progress_bar", "stderr_is_tty"]


def stderr_is_tty() -> bool:
    """Whether ``sys.stderr`` (as it is now) is a terminal."""
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # replaced by an object without isatty, or closed
        return False


def progress_bar(iterable: Iterable[Any] | None = None, *, enabled: bool = True, **kwargs: Any) -> Any:
    """A ``tqdm`` bar on stderr, drawn only when ``enabled`` and stderr is a terminal.

    Args:
        iterable: what to iterate over (None: a manual bar, use ``update``).
        enabled: False never draws (the bar still counts and can be used as a context manager).
        **kwargs: passed to ``tqdm`` (``desc``, ``total``, ``unit``, ``leave``…); ``file`` and
            ``disable`` are set here.

    Returns:
        The ``tqdm`` object.
    """
    from tqdm import tqdm

    kwargs.pop("file", None)
    kwargs.pop("disable", None)
    return tqdm(iterable, file=sys.stderr, disable=not (enabled and stderr_is_tty()), **kwargs)
