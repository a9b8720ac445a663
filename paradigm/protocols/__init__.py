"""Versioned evaluation protocols: the exact evaluation of a published study, declared.

A :class:`Protocol` fixes everything a study's script does to turn files into numbers: the reader
and colour rule, the resize rule, the crop, the metric variants with their options, the pairing
rule and suffixes, and the script's bugs. Each study task comes in two flavours:
``<study>/<task>/as-published`` (the script, bugs included where a bug changes a number) and
``<study>/<task>/corrected`` (the same protocol with each bug fixed). ``paradigm score --protocol
NAME`` applies one and records ``NAME@vK`` in the signature; ``paradigm protocols`` lists them.

The study protocols (``lowlevelbanana-2512.15110/...``) are defined in
:mod:`paradigm.protocols.lowlevelbanana`; ``docs/protocols.md`` explains them task by task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError

__all__ = ["Bug", "MetricSpec", "Protocol", "get_protocol", "list_protocols"]


@dataclass(frozen=True)
class Bug:
    """A defect of a study script.

    Attributes:
        key: short identifier (``brisque_negated``).
        description: what the script does wrong.
        effect: how it changes the published numbers (or ``"none"``).
        reproduced: whether the ``as-published`` flavour reproduces it.
    """

    key: str
    description: str
    effect: str
    reproduced: bool = True


@dataclass(frozen=True)
class MetricSpec:
    """One metric of a protocol: registry name, options, and the script's column label."""

    metric: str
    options: tuple[tuple[str, Any], ...] = ()
    label: str = ""

    def kwargs(self) -> dict[str, Any]:
        return dict(self.options)


@dataclass(frozen=True)
class Protocol:
    """A declared evaluation protocol (see the module docstring).

    Attributes:
        name: ``<study>/<task>/<flavour>``.
        version: bump when any value it produces changes.
        task, flavour: parts of the name (flavour ``as-published`` or ``corrected``).
        script: the study's script(s) it reproduces.
        reader: how the script decodes files (description; the metrics apply its colour rule).
        decode: paradigm's decoder for the files: ``rgb`` (rule ``rgb-v1``) or ``cv2-grey``
            (:mod:`paradigm.protocols.readers`).
        resize: a rule of :mod:`paradigm.protocols.resize` (``native``: no resize; ``none``: sizes must match).
        crop: pixels removed from every side.
        metrics: the metric set.
        pairing: pairing rule (``name`` or the scripts' order-based rules, see ``docs/protocols.md``).
        suffixes: output-name suffixes the script strips to pair.
        bugs: the script's defects; in ``corrected`` they are fixed.
        runnable: None, or why the script cannot produce numbers as published.
        notes: anything else a user must know.
    """

    name: str
    version: int
    task: str
    flavour: str
    script: str
    reader: str
    resize: str
    metrics: tuple[MetricSpec, ...]
    crop: int = 0
    pairing: str = "name"
    suffixes: tuple[str, ...] = ()
    bugs: tuple[Bug, ...] = ()
    runnable: str | None = None
    notes: str = ""
    needs: tuple[str, ...] = field(default=("gt",))
    decode: str = "rgb"

    @property
    def tag(self) -> str:
        """``name@vK``: what the signature records."""
        return f"{self.name}@v{self.version}"


def _all() -> dict[str, Protocol]:
    from .lowlevelbanana import PROTOCOLS

    return {p.name: p for p in PROTOCOLS}


def list_protocols() -> list[Protocol]:
    """Every protocol, sorted by name."""
    return [p for _, p in sorted(_all().items())]


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name`` (``.../as-published`` is assumed when the flavour is omitted).

    Raises:
        InputError: unknown name, with the list of known ones.
    """
    known = _all()
    key = name.strip().strip("/")
    if key not in known and f"{key}/as-published" in known:
        key = f"{key}/as-published"
    if key not in known:
        raise InputError(f"unknown protocol {name!r}; run `paradigm protocols` to list the {len(known)} protocols")
    return known[key]
