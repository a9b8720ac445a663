"""Calibrations: raw metric value -> quality in [0, 1], increasing with quality for every metric.

``logistic4`` (contracts §4)::

    q(x) = lo + (hi - lo) / (1 + exp(-(x - center) / scale)),   0 <= lo < hi <= 1

with ``scale < 0`` for lower-is-better metrics. ``linear`` (for simple priors)::

    q(x) = lo + (hi - lo) * clip((x - a) / (b - a), 0, 1)

where ``a`` is the raw value of the worst quality and ``b`` the value of the best (``b < a`` for
lower-is-better metrics). Both are vectorised over numpy arrays and pandas Series; NaN stays NaN,
``+inf``/``-inf`` go to the asymptotes (an infinite PSNR of identical images gives ``hi``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ..errors import CompositeSchemaError


def logistic4(x: ArrayLike, lo: float, hi: float, center: float, scale: float) -> NDArray[np.float64]:
    """The 4-parameter logistic of contracts §4.

    Args:
        x: raw values, any shape.
        lo, hi: asymptotes, ``0 <= lo < hi <= 1``.
        center: raw value mapped to ``(lo + hi) / 2``.
        scale: width; negative for lower-is-better metrics.

    Returns:
        float64 array of the shape of ``x`` with values in ``[lo, hi]``.
    """
    from scipy.special import expit

    xa = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.asarray(lo + (hi - lo) * expit((xa - center) / scale), dtype=np.float64)


def linear(x: ArrayLike, a: float, b: float, lo: float = 0.0, hi: float = 1.0) -> NDArray[np.float64]:
    """Clipped linear map: ``a`` (worst) -> ``lo``, ``b`` (best) -> ``hi``.

    Args:
        x: raw values, any shape.
        a: raw value of the worst quality.
        b: raw value of the best quality (``b < a`` for lower-is-better metrics).
        lo, hi: output range.

    Returns:
        float64 array of the shape of ``x`` with values in ``[lo, hi]``.
    """
    xa = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        t = np.clip((xa - a) / (b - a), 0.0, 1.0)
    return np.asarray(lo + (hi - lo) * t, dtype=np.float64)


def calibrate(x: ArrayLike | pd.Series, cal: Mapping[str, Any]) -> NDArray[np.float64]:
    """Apply a calibration dict (``{"type": "logistic4"|"linear", ...}``) to raw values.

    Args:
        x: raw values (array or Series); NaN stays NaN.
        cal: a validated calibration (see :func:`paradigm.composite.schema.validate_calibration`).

    Returns:
        Calibrated values in [0, 1], float64 array.

    Raises:
        CompositeSchemaError: for an unknown calibration type.
    """
    xa = np.asarray(x.to_numpy(dtype=np.float64) if isinstance(x, pd.Series) else x, dtype=np.float64)
    kind = cal.get("type")
    lo, hi = float(cal.get("lo", 0.0)), float(cal.get("hi", 1.0))
    if kind == "logistic4":
        return logistic4(xa, lo, hi, float(cal["center"]), float(cal["scale"]))
    if kind == "linear":
        return linear(xa, float(cal["a"]), float(cal["b"]), lo, hi)
    raise CompositeSchemaError(f"unknown calibration type {kind!r}; use 'logistic4' or 'linear'")


def describe(cal: Mapping[str, Any]) -> str:
    """One-line human-readable form of a calibration, e.g. ``logistic4(c=25, s=3) [fitted]``."""
    kind = cal.get("type")
    prov = cal.get("provenance", {}).get("kind", "?")
    if kind == "logistic4":
        body = f"c={float(cal['center']):g}, s={float(cal['scale']):g}"
    else:
        body = f"a={float(cal['a']):g}, b={float(cal['b']):g}"
    return f"{kind}({body}) [{prov}]"
