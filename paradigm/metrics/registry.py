"""The one metric registry: ``register``, ``create_metric``, ``list_metrics``, ``metric_info``.

Metric modules are imported lazily the first time the registry is queried, so ``import paradigm``
stays light. A module that is not installed yet (optional extra) is skipped.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, TypeVar

from ..errors import UnknownMetricError
from .base import Metric

#: Modules of this package that hold no metric declarations (everything else is scanned).
_INFRASTRUCTURE = frozenset({"base", "registry", "spec", "manifest", "colour"})
#: Entry-point group through which other distributions add metric modules.
ENTRY_POINT_GROUP = "paradigm.metrics"


def metric_modules() -> tuple[str, ...]:
    """Modules that may declare metrics: every public module of ``paradigm.metrics``, sorted.

    Adding a metric is writing one module here (or, outside paradigm, one module named by an
    entry point in the ``paradigm.metrics`` group); no list needs editing.
    """
    import pkgutil

    from .. import metrics as pkg

    names = [m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
    return tuple(f"{pkg.__name__}.{n}" for n in sorted(names) if n not in _INFRASTRUCTURE)


def _plugin_modules() -> tuple[str, ...]:
    from importlib.metadata import entry_points

    return tuple(ep.value.split(":")[0] for ep in entry_points(group=ENTRY_POINT_GROUP))


_REGISTRY: dict[str, type[Metric]] = {}
_ALIASES: dict[str, str] = {}
_loaded = False

M = TypeVar("M", bound=type[Metric])


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def register(cls: M) -> M:
    """Class decorator: add a :class:`Metric` subclass to the registry under ``cls.name``.

    Optional class attribute ``aliases`` (tuple of str) adds alternative names.
    """
    if not cls.name:
        raise TypeError(f"{cls.__qualname__} has no name")
    key = _normalise(cls.name)
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise TypeError(f"metric name {key!r} registered twice ({_REGISTRY[key].__qualname__}, {cls.__qualname__})")
    _REGISTRY[key] = cls
    for alias in getattr(cls, "aliases", ()):
        _ALIASES[_normalise(alias)] = key
    return cls


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in metric_modules() + _plugin_modules():
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:  # a module of ours not written / an optional extra missing
            if exc.name != mod:
                raise


def get_metric_class(name: str) -> type[Metric]:
    """The registered class for ``name`` (case- and dash-insensitive, aliases allowed).

    Raises:
        UnknownMetricError: with "did you mean" suggestions.
    """
    _load_all()
    key = _normalise(name)
    key = _ALIASES.get(key, key)
    if key in _REGISTRY:
        return _REGISTRY[key]
    names = sorted(set(_REGISTRY) | set(_ALIASES))
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownMetricError(
        f"unknown metric {name!r}.{hint} Run `paradigm metrics` to list all {len(_REGISTRY)} metrics."
    )


def create_metric(name: str, **overrides: Any) -> Metric:
    """Instantiate a registered metric.

    Args:
        name: registry name or alias, e.g. ``"psnr"``, ``"MS-SSIM"``.
        **overrides: options declared in the metric's ``defaults``.

    Returns:
        The metric module, in eval mode.

    Example:
        >>> import torch, paradigm
        >>> m = paradigm.create_metric("psnr")
        >>> x = torch.rand(2, 3, 32, 32)
        >>> m(x, x).shape
        torch.Size([2])
    """
    metric = get_metric_class(name)(**overrides)
    metric.eval()
    return metric


def try_create_metric(name: str, device: Any, **overrides: Any) -> Metric | str:
    """:func:`create_metric` moved to ``device``, or the reason it cannot run here (missing weights or
    optional package, an unreadable or unloadable file) — for engines that skip and list such metrics."""
    from ..errors import MetricUnavailableError

    try:
        m = create_metric(name, **overrides)
        m.to(device)
    except MetricUnavailableError as exc:
        return str(exc)
    except (ImportError, OSError, RuntimeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return m


def list_metrics(
    kind: str | None = None, pillar: str | None = None, reference: str | None = None
) -> list[str]:
    """Sorted names of registered metrics, optionally filtered by kind, pillar or reference."""
    _load_all()
    out = []
    for key, cls in _REGISTRY.items():
        if kind is not None and cls.kind != kind:
            continue
        if pillar is not None and cls.pillar != pillar:
            continue
        if reference is not None and cls.reference != reference:
            continue
        out.append(key)
    return sorted(out)


def metric_info(name: str) -> dict[str, Any]:
    """Declared properties of a metric as a dict (see :meth:`Metric.info`)."""
    return get_metric_class(name).info()
