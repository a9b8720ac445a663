"""meta_eval: validate image-quality metrics against human judgments and fit paradigm's composite.

Modules:
    judgments: the typed :class:`~meta_eval.judgments.Judgments` every loader returns.
    loaders: one module per human-data layout (TID, KADID, CSIQ, LIVE, PIPAL, BAPPS, ...) behind ``Loader``.
    scaling: Bradley–Terry and Thurstone scaling of pairwise votes, vote agreement, split-half ceiling.
    human: compatibility façade re-exporting the three modules above.
    scores: metric values (``paradigm score`` outputs or precomputed tables) joined to human items.
    directions: metric directions and pillars from run.json, paradigm's manifest (read as JSON) and
        published external names — without importing paradigm.
    stats: direction-aware correlations, logistic fits, bootstrap, permutation and Williams tests.
    fitting: per-metric calibrations (contracts §4), composite weight fitting with grouped CV, transfer.
    report: ``validate``; tables, ``report.md``/``report.html``/``results.json``.
    cli: the ``meta-eval`` click group (``paradigm meta-eval`` or ``python -m meta_eval``).
    errors: meta_eval's exceptions.

meta_eval never imports paradigm or torch. ``import meta_eval`` is light: submodules are imported on
first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["fit_calibration", "apply_calibration", "load_human", "load_scores", "Judgments"]

_LAZY = {
    "fit_calibration": "meta_eval.fitting",
    "apply_calibration": "meta_eval.fitting",
    "load_human": "meta_eval.loaders",
    "load_scores": "meta_eval.scores",
    "Judgments": "meta_eval.judgments",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'meta_eval' has no attribute {name!r}")
