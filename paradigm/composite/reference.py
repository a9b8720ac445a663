"""No-reference metrics measured on the ground truth: the ``<metric>_ref`` columns of the composite.

With a ground truth, a no-reference metric (NIQE, BRISQUE, MUSIQ...) enters the composite relative to
the ground truth's own value (``docs/composite.md`` §2): an exact copy of the ground truth then scores
1 whatever the ground truth's naturalness. :func:`add_reference_values` computes those values once
per distinct ground-truth image, with the same metric objects (hence the same ``--y-channel`` and
options) and the same border crop as the outputs, and adds one column ``<metric>_ref`` per metric.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .aggregate import REF_SUFFIX

log = logging.getLogger(__name__)


def _device(m: Any) -> Any:
    """Where a metric's tensors live (its first parameter or buffer; CPU for parameter-free metrics)."""
    for t in (*m.parameters(), *m.buffers()):
        return t.device
    return "cpu"


def reference_metrics(metrics: Sequence[Any]) -> list[Any]:
    """The metrics whose value on the ground truth the composite uses: no-reference, not diagnostic."""
    return [
        m for m in metrics
        if getattr(m, "kind", "") == "no-reference" and getattr(m, "reference", "") == "none"
        and getattr(m, "pillar", "") != "diagnostic" and not getattr(m, "two_inputs", False)
    ]


def add_reference_values(
    scores: pd.DataFrame,
    metrics: Sequence[Any],
    crop_border: int = 0,
    known: Mapping[str, Mapping[str, float]] | None = None,
) -> pd.DataFrame:
    """Add ``<metric>_ref`` columns: each no-reference metric on each row's ground truth (``gt_path``).

    Args:
        scores: the engine's wide score table (column ``gt_path``).
        metrics: the metric objects that ran (only no-reference, non-diagnostic ones are used).
        crop_border: pixels cropped from each side, as for the outputs.
        known: values already known (the engine's cache), ``{metric: {gt_path: value}}``; a ground
            truth whose every value is known is not decoded.

    Returns:
        A copy of ``scores`` with the new columns (NaN where a ground truth could not be read or the
        metric failed on it; the failure is logged, never fatal: the metric then enters absolutely).
    """
    import torch

    from ..io import read_image

    use = [m for m in reference_metrics(metrics) if m.name in scores.columns]
    out = scores.copy()
    if not use or "gt_path" not in out.columns or out.empty:
        return out
    values: dict[str, dict[str, float]] = {m.name: dict((known or {}).get(m.name, {})) for m in use}
    for path in pd.unique(out["gt_path"].astype(str)):
        todo = [m for m in use if path not in values[m.name]]
        if not todo:
            continue
        try:
            x = read_image(path)
        except Exception as exc:  # noqa: BLE001 - one unreadable GT must not lose the run
            log.warning("reference values: cannot read %s: %s", path, exc)
            continue
        if crop_border > 0:
            x = x[:, crop_border : x.shape[1] - crop_border, crop_border : x.shape[2] - crop_border]
        for m in todo:
            try:
                with torch.no_grad():
                    v = m(x[None].to(_device(m)))
                values[m.name][path] = float(torch.as_tensor(v).reshape(-1)[0])
            except Exception as exc:  # noqa: BLE001 - a metric failing on one GT leaves NaN
                log.warning("reference values: %s failed on %s: %s", m.name, path, exc)
    for m in use:
        out[m.name + REF_SUFFIX] = out["gt_path"].astype(str).map(values[m.name]).astype(np.float64)
    return out
