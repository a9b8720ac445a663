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

__all__ = ["fit_calibration", "apply_calibration", "load_human", "load_scores", "Judgments", "benchmark"]

#: Entry-point group of scorers that compute metrics on a dataset's images (paradigm installs one).
SCORERS_GROUP = "meta_eval.scorers"


def benchmark(
    fn: Any = None,
    *,
    dataset: str,
    baselines: Any = ("psnr", "ssim"),
    scores: Any = (),
    out: Any = None,
    name: str = "candidate",
    higher_is_better: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """Validate a metric that is just a function against a human-judged dataset, next to baselines.

    ``meta_eval.benchmark(my_fn, dataset="kadid:/data/kadid10k", baselines=["psnr", "ssim", "fsim"])``
    pairs the dataset's images by its own naming, computes ``my_fn(x, ref) -> (N,)`` on
    ``(N, C, H, W)`` tensors in [0, 1] and the baselines, and returns ``validate``'s results (also
    written to ``out``, default ``./paradigm-benchmark/<kind>``, which keeps the scoring cache).

    The images are scored by a scorer installed under the ``meta_eval.scorers`` entry point (paradigm
    provides it); meta_eval itself never imports paradigm or torch.

    Raises:
        meta_eval.errors.InputError: no scorer is installed.
    """
    from importlib.metadata import entry_points
    from pathlib import Path

    from .errors import InputError

    found = sorted(entry_points(group=SCORERS_GROUP), key=lambda ep: ep.name)
    if not found:
        raise InputError("benchmark needs a scorer for the images: pip install paradigm-iqa (it provides one)")
    scorer = found[0].load()
    where = Path(out) if out is not None else Path("paradigm-benchmark") / dataset.split(":", 1)[0]
    return dict(scorer(dataset, out=where, metrics=list(baselines) or None, scores=tuple(scores), fn=fn,
                       fn_name=name, fn_higher_is_better=higher_is_better, **options))

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
