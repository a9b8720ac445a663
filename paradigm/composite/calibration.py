"""Calibrations: raw metric value -> quality in [0, 1], increasing with quality for every metric.

``logistic4`` (contracts §4)::

    q(x) = lo + (hi - lo) / (1 + exp(-(x - center) / scale)),   0 <= lo < hi <= 1

with ``scale < 0`` for lower-is-better metrics. ``linear`` (for simple priors)::

    q(x) = lo + (hi - lo) * clip((x - a) / (b - a), 0, 1)

where ``a`` is the raw value of the worst quality and ``b`` the value of the best (``b < a`` for
lower-is-better metrics). Both are vectorised over numpy arrays and pandas Series; NaN stays NaN,
``+inf``/``-inf`` go to the asymptotes (an infinite PSNR of identical images gives ``hi``).

``anchored`` (composite v2, the one scale of ``docs/composite.md`` §2)::

    S(v) = sigmoid((v - center) / scale)
    q(x) = clip((S(x) - S(worst)) / (S(ideal) - S(worst)), 0, 1)

so ``q = 1`` at the metric's ideal value (identical to the reference) and ``q = 0`` at ``worst`` (the
worst quality of the fitting data, or a documented floor), whatever the fitted curve's asymptotes:
the affine rescaling of a fitted ``lo + (hi - lo) S`` between those two anchors does not depend on
``lo`` and ``hi``. ``ideal: null`` means the asymptote in the quality direction (``S = 1``, e.g.
PSNR's ``+inf``). With ``relative_to_reference: true`` (no-reference metrics) and a per-row value
of the metric on the reference (column ``<metric>_ref``), the raw value enters through its
difference from the reference's: ``q(ideal + (x - x_ref))``, clipped at 1, so a result exactly as
natural as its reference scores 1 and one *more* natural than its reference does not score above
it (see ``docs/composite.md`` §2 for why).
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


def anchored(
    x: ArrayLike,
    center: float,
    scale: float,
    worst: float,
    ideal: float | None = None,
    ref: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """The ``anchored`` calibration: a logistic rescaled so that ``worst -> 0`` and ``ideal -> 1``.

    Args:
        x: raw values, any shape; NaN stays NaN, ``±inf`` go to the ends.
        center, scale: the logistic (``scale < 0`` for lower-is-better metrics).
        worst: raw value mapped to 0 (values beyond it are clipped to 0).
        ideal: raw value mapped to 1; None = the asymptote (``S = 1``).
        ref: optional per-item raw value of the metric on the reference (no-reference metrics):
            ``x`` is replaced by ``ideal + (x - ref)`` where ``ref`` is finite (``ideal`` must then be
            finite); NaN ``ref`` leaves ``x`` absolute.

    Returns:
        float64 array of the shape of ``x`` with values in [0, 1].

    Example:
        >>> anchored([0.0, 0.3, 1.0], 0.3, -0.08, worst=1.0, ideal=0.0).round(3).tolist()
        [1.0, 0.512, 0.0]
    """
    from scipy.special import expit

    xa = np.asarray(x, dtype=np.float64)
    if ref is not None and ideal is not None:
        ra = np.broadcast_to(np.asarray(ref, dtype=np.float64), xa.shape)
        with np.errstate(invalid="ignore"):
            xa = np.where(np.isfinite(ra), ideal + (xa - ra), xa)
    s_w = float(expit((worst - center) / scale))
    s_i = 1.0 if ideal is None else float(expit((ideal - center) / scale))
    den = s_i - s_w
    if not den > 0:
        raise CompositeSchemaError(
            f"anchored calibration: the curve must rise from worst={worst:g} to ideal={ideal} (center={center:g}, "
            f"scale={scale:g}); check the sign of scale"
        )
    with np.errstate(invalid="ignore", over="ignore"):
        q = (expit((xa - center) / scale) - s_w) / den
        return np.asarray(np.where(np.isnan(q), np.nan, np.clip(q, 0.0, 1.0)), dtype=np.float64)


def calibrate(
    x: ArrayLike | pd.Series, cal: Mapping[str, Any], ref: ArrayLike | pd.Series | None = None
) -> NDArray[np.float64]:
    """Apply a calibration dict (``{"type": "logistic4"|"linear"|"anchored", ...}``) to raw values.

    Args:
        x: raw values (array or Series); NaN stays NaN.
        cal: a validated calibration (see :func:`paradigm.composite.schema.validate_calibration`).
        ref: the metric's values on the references (column ``<metric>_ref``), used only by an
            ``anchored`` calibration with ``relative_to_reference: true``.

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
    if kind == "anchored":
        ideal = cal.get("ideal")
        rel = None
        if ref is not None and cal.get("relative_to_reference"):
            rel = np.asarray(ref.to_numpy(dtype=np.float64) if isinstance(ref, pd.Series) else ref, dtype=np.float64)
        return anchored(
            xa, float(cal["center"]), float(cal["scale"]), float(cal["worst"]),
            None if ideal is None else float(ideal), rel,
        )
    raise CompositeSchemaError(f"unknown calibration type {kind!r}; use 'logistic4', 'linear' or 'anchored'")


def describe(cal: Mapping[str, Any]) -> str:
    """One-line human-readable form of a calibration, e.g. ``logistic4(c=25, s=3) [fitted]``."""
    kind = cal.get("type")
    prov = cal.get("provenance", {}).get("kind", "?")
    if kind == "logistic4":
        body = f"c={float(cal['center']):g}, s={float(cal['scale']):g}"
    elif kind == "anchored":
        ideal = cal.get("ideal")
        body = f"c={float(cal['center']):g}, s={float(cal['scale']):g}, 0 at {float(cal['worst']):g}, 1 at " + (
            "the asymptote" if ideal is None else f"{float(ideal):g}"
        ) + (" (relative to the reference)" if cal.get("relative_to_reference") else "")
    else:
        body = f"a={float(cal['a']):g}, b={float(cal['b']):g}"
    return f"{kind}({body}) [{prov}]"
