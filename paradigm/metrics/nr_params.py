"""NRQM and PI: no-reference metrics whose official parameter files are not available here.

Status (read before use): these two are **declared but not computed** in this version. Their
parameter file (NRQM's ``model.mat`` of Ma, Yang, Yang & Yang 2017, which PI = ((10 - NRQM) + NIQE) / 2
of the PIRM 2018 challenge also needs) could not be obtained with a verifiable digest for this
project, so

* the weights table lists it (``nrqm_model``) with public URLs and **no pinned sha256**: a download
  is checked against the server's declared content hash and recorded on first use (the
  declared-hash rule of ``paradigm weights list``);
* creating and calling one of these metrics resolves its files through the weights resolver (never a
  network access when ``PARADIGM_OFFLINE=1``) and raises :class:`~paradigm.errors.WeightsNotFoundError`
  naming ``paradigm weights fetch NAME`` when a file is missing; when the files are present it raises
  :class:`~paradigm.errors.MetricUnavailableError` saying the computation is not implemented yet.

They are registered so that ``paradigm metrics`` and ``paradigm weights fetch --metrics nrqm`` know
them; they are in no default metric set and never reach a composite unless asked for by name.
IL-NIQE, whose template (``ilniqe_templates``) follows the same rule, is computed: see
:mod:`paradigm.metrics.ilniqe`, which uses :func:`require_parameter_file` from here.
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
class NRQM(_DeclaredNR):
    """NRQM / Ma's score (Ma et al. 2017), declared only: needs ``nrqm_model``."""

    name: ClassVar[str] = "nrqm"
    aliases: ClassVar[tuple[str, ...]] = ("ma",)
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float, float]] = (0.0, 10.0)
    weights: ClassVar[tuple[str, ...]] = ("nrqm_model",)
    min_size: ClassVar[int] = 64
    description: ClassVar[str] = f"no-reference SR quality (Ma et al. 2017), 0-10, higher is better; {NOT_CHECKED}"


@register
class PI(_DeclaredNR):
    """Perceptual index of PIRM 2018, ``((10 - NRQM) + NIQE) / 2``, declared only: needs ``nrqm_model``."""

    name: ClassVar[str] = "pi"
    aliases: ClassVar[tuple[str, ...]] = ("perceptual_index",)
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float, float]] = (float("-inf"), float("inf"))
    weights: ClassVar[tuple[str, ...]] = ("nrqm_model", "niqe_pris_params")
    min_size: ClassVar[int] = 96
    description: ClassVar[str] = f"perceptual index ((10 - NRQM) + NIQE) / 2 (Blau et al. 2018), lower is better; {NOT_CHECKED}"


__all__ = ["NOT_CHECKED", "NRQM", "PI", "require_parameter_file"]
