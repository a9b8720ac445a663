"""Parameter files of the no-reference metrics that are not bundled: ILNIQE, NRQM and PI.

Their official parameter files (ILNIQE's ``templateModel.mat`` of Zhang, Zhang & Bovik 2015; NRQM's
``model.mat`` of Ma, Yang, Yang & Yang 2017, which PI = ((10 - NRQM) + NIQE) / 2 of the PIRM 2018
challenge also needs) could not be obtained with a verifiable digest for this project, so

* the weights table lists them (``ilniqe_templates``, ``nrqm_model``) with public URLs and **no
  pinned sha256**: a download is checked against the server's declared content hash and recorded on
  first use (the declared-hash rule of ``paradigm weights list``);
* the metrics (:mod:`paradigm.metrics.ilniqe`, :mod:`paradigm.metrics.nrqm`) resolve their files
  through :func:`require_parameter_file` (never a network access when ``PARADIGM_OFFLINE=1``), which
  raises :class:`~paradigm.errors.WeightsNotFoundError` naming ``paradigm weights fetch NAME`` when a
  file is missing.

They are in no default metric set and never reach a composite unless asked for by name.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import WeightsNotFoundError


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


__all__ = ["require_parameter_file"]
