"""The composite score: calibrated metrics -> three pillars -> one weighted composite, explained.

Public API:

- :func:`apply_composite` — the engine's hook: add ``perceptual, stability, fidelity, composite``
  (and ``composite_missing``) to a per-image score table and describe what was used.
- :func:`aggregate` — combine pillar scores with a named rule (for ``meta_eval`` comparisons).
- :func:`load_composite`, :func:`list_profiles`, :func:`load_profile`, :func:`resolve_spec`.

See ``docs/composite.md`` for the file format, the calibrations and the choice of aggregation.
"""

from __future__ import annotations

from .aggregate import aggregate, apply_composite, resolve_spec, score_table
from .calibration import anchored, calibrate, linear, logistic4
from .profiles import apply_profile, list_profiles, load_profile
from .schema import (
    AGGREGATIONS,
    PILLARS,
    CompositeSpec,
    load_composite,
    sha256_of,
    validate,
)

__all__ = [
    "AGGREGATIONS",
    "PILLARS",
    "CompositeSpec",
    "aggregate",
    "anchored",
    "apply_composite",
    "apply_profile",
    "calibrate",
    "linear",
    "list_profiles",
    "load_composite",
    "load_profile",
    "logistic4",
    "resolve_spec",
    "score_table",
    "sha256_of",
    "validate",
]
