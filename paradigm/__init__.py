"""paradigm: evaluate image restoration on perceptual quality, stability and fidelity.

``import paradigm`` is light: torch and every metric module are imported on first use.

Example:
    >>> import paradigm
    >>> m = paradigm.create_metric("psnr")          # doctest: +SKIP
    >>> m(output, gt)                                 # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["__version__", "create_metric", "list_metrics", "metric_info"]


def create_metric(name: str, **overrides: Any) -> Any:
    """Create a registered metric by name (see :func:`paradigm.metrics.registry.create_metric`)."""
    from .metrics.registry import create_metric as _create

    return _create(name, **overrides)


def list_metrics(**filters: Any) -> list[str]:
    """List registered metric names (see :func:`paradigm.metrics.registry.list_metrics`)."""
    from .metrics.registry import list_metrics as _list

    return _list(**filters)


def metric_info(name: str) -> dict[str, Any]:
    """Declared properties of a registered metric (direction, kind, range, pillar, weights)."""
    from .metrics.registry import metric_info as _info

    return _info(name)
