"""meta_eval: validate image-quality metrics against human judgments and fit paradigm's composite.

Modules:
    human: human judgments (opinion scores, 2AFC, pairwise votes) and their loaders.
    scores: metric values (``paradigm score`` outputs or precomputed tables) joined to human items.
    stats: direction-aware correlations, logistic fits, bootstrap, permutation and Williams tests.
    fitting: per-metric calibrations (contracts §4) and composite weight fitting with grouped CV.
    report: tables, ``report.md``/``report.html``/``results.json``.
    cli: the ``paradigm meta-eval`` click group.

``import meta_eval`` is light: submodules are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["fit_calibration", "apply_calibration", "load_human", "load_scores"]

_LAZY = {
    "fit_calibration": "meta_eval.fitting",
    "apply_calibration": "meta_eval.fitting",
    "load_human": "meta_eval.human",
    "load_scores": "meta_eval.scores",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'meta_eval' has no attribute {name!r}")
