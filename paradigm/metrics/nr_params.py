"""ILNIQE: a no-reference metric whose official parameter file is not available here; the shared
parameter-file resolver of the no-reference metrics with such files (ILNIQE, and NRQM/PI of
:mod:`paradigm.metrics.nrqm`).

Status (read before use): ILNIQE is **declared but not computed** in this version. Its parameter file
(``templateModel.mat`` of Zhang, Zhang & Bovik 2015) could not be obtained with a verifiable digest
for this project, and neither could NRQM's ``model.mat`` (Ma, Yang, Yang & Yang 2017, which PI =
((10 - NRQM) + NIQE) / 2 of the PIRM 2018 challenge also needs; NRQM and PI are computed, see
:mod:`paradigm.metrics.nrqm`), so

* the weights table lists them (``ilniqe_templates``, ``nrqm_model``) with public URLs and **no
  pinned sha256**: a download is checked against the server's declared content hash and recorded on
  first use (the declared-hash rule of ``paradigm weights list``);
* creating and calling one of these metrics resolves its files through the weights resolver (never a
  network access when ``PARADIGM_OFFLINE=1``) and raises :class:`~paradigm.errors.WeightsNotFoundError`
  naming ``paradigm weights fetch NAME`` when a file is missing; when ILNIQE's file is present it raises
  :class:`~paradigm.errors.MetricUnavailableError` saying the computation is not implemented yet.

They are registered so that ``paradigm metrics`` and ``paradigm weights fetch --metrics ilniqe`` know
them; they are in no default metric set and never reach a composite unless asked for by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from ..errors import MetricUnavailableError, WeightsNotFoundError
from .base import Kind, Metric, Pillar, Reference, check_image
from .registry import register

#: The one line every "declared, not computed" metric adds to its description.
NOT_CHECKED = "needs parameter file; not checked here; computation not implemented in this version"


def require_parameter_file(name: str, path: str | Path | None = None) -> Path:
    """Resolve weights-table entry ``name`` (offline-safe) or raise an actionable error.

    Raises:
        WeightsNotFoundError: the file is missing; the message names ``paradigm weights fetch NAME``.
    """
    from .nr_classic import _resolve

    try:
        return _resolve(name, path)
    except WeightsNotFoundError as exc:
        raise WeightsNotFoundError(
            f"{exc}\n  or, on a machine with a network: `paradigm weights fetch {name}` "
            f"(add `--dest DIR` to prepare an offline weights folder)"
        ) from exc


class _DeclaredNR(Metric):
    """A no-reference metric whose parameters resolve but whose computation is not implemented."""

    kind: ClassVar[Kind] = "no-reference"
    pillar: ClassVar[Pillar] = "perceptual"
    reference: ClassVar[Reference] = "none"
    version: ClassVar[str] = "0"
    defaults: ClassVar[dict[str, Any]] = {"params_path": None}

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        check_image(x, "output")
        found = [require_parameter_file(w, self.options["params_path"] if k == 0 else None)
                 for k, w in enumerate(self.weights)]
        raise MetricUnavailableError(
            f"metric {self.name!r}: its parameter files are present ({', '.join(map(str, found))}) but "
            f"the computation is not implemented in this version of paradigm; see docs/metrics-nr.md"
        )


@register
class ILNIQE(_DeclaredNR):
    """IL-NIQE (Zhang, Zhang & Bovik 2015), declared only: needs ``ilniqe_templates``."""

    name: ClassVar[str] = "ilniqe"
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float, float]] = (0.0, float("inf"))
    weights: ClassVar[tuple[str, ...]] = ("ilniqe_templates",)
    min_size: ClassVar[int] = 84
    description: ClassVar[str] = f"integrated local NIQE (Zhang et al. 2015), lower is better; {NOT_CHECKED}"


__all__ = ["ILNIQE", "NOT_CHECKED", "require_parameter_file"]
