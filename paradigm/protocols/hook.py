"""How ``paradigm score --protocol NAME`` applies a :class:`~paradigm.protocols.Protocol` in the engine.

The engine calls :func:`engine_plan` once (metric set, pairing) and :func:`resize_output` for each
output whose size differs from its reference. Pairing rules other than ``name`` reproduce the
scripts' order-based pairing and need a flat GT folder with one method's outputs:

* ``sorted-inputs`` (flare removal, as published): the **input** files, sorted by name, are paired by
  position with the sorted GT files (the script scores its input folder);
* ``sorted-last-number`` (DPDD defocus deblurring): outputs and GT files sorted by the last number in
  their names, paired by position;
* ``rsplit-underscore`` (deshadowing): both names are cut at their last ``_``; GT names that collide
  keep the last file in sorted order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError
from ..layout import Layout, Pair, Unpaired, iter_images
from ..metrics.base import Metric
from . import Protocol, get_protocol
from .resize import resize


@dataclass
class Plan:
    """What the engine needs from a protocol."""

    protocol: Protocol
    layout: Layout
    metrics: list[Metric] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def reader(self) -> Callable[[str | os.PathLike[str]], torch.Tensor]:
        """The file decoder of the protocol (:mod:`paradigm.protocols.readers`)."""
        from .readers import reader

        return reader(self.protocol.decode)

    @property
    def names(self) -> set[str]:
        return {s.metric for s in self.protocol.metrics}


def resize_output(rule: str, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Resize one ``(C, H, W)`` output with the protocol's rule (``native`` keeps it as it is)."""
    if rule == "native":
        return x
    return resize(rule, x, h, w)


def _metrics(proto: Protocol, device: torch.device, has_input2: bool) -> tuple[list[Metric], dict[str, str]]:
    from ..metrics.registry import get_metric_class, try_create_metric

    out: list[Metric] = []
    skipped: dict[str, str] = {}
    for spec in proto.metrics:
        cls = get_metric_class(spec.metric)
        if getattr(cls, "two_inputs", False) and not has_input2:
            skipped[cls.name] = "needs two fusion sources: pass --input A --input2 B"
            continue
        m = try_create_metric(spec.metric, device, **spec.kwargs())
        if isinstance(m, str):
            skipped[cls.name] = m
            continue
        out.append(m)
    return out, skipped


def _flat_files(folder: Path | None, what: str) -> list[Path]:
    """Images directly in ``folder``, or in its only sub-folder (``RESULTS/<method>/``), sorted by name."""
    if folder is None:
        raise InputError(f"this protocol's pairing needs {what}")
    everything = iter_images(folder)
    files = [p for p in everything if p.parent == Path(folder)]
    parents = {p.parent for p in everything}
    if not files and len(parents) == 1 and next(iter(parents)).parent == Path(folder):
        files = everything
    if not files:
        raise InputError(f"this protocol's pairing needs a flat folder of images for {what} ({folder})")
    return sorted(files, key=lambda p: p.name)


def _last_number(p: Path) -> int | None:
    nums = re.findall(r"\d+", p.stem)
    return int(nums[-1]) if nums else None


def _cut(stem: str) -> str:
    return stem.rsplit("_", 1)[0] if "_" in stem else stem


def _order_pairs(rule: str, cfg: Any, method: str) -> tuple[list[Pair], list[Unpaired]]:
    gts = _flat_files(cfg.gt, "--gt GT")
    unpaired: list[Unpaired] = []
    if rule == "sorted-inputs":
        inputs = _flat_files(cfg.input, "--input (the script scores the input folder)")
        if len(inputs) != len(gts):
            raise InputError(f"the flare script asserts equal counts: {len(inputs)} inputs, {len(gts)} GT files")
        return [Pair(method, "", "", g.stem, "", i, g, i) for i, g in zip(inputs, gts, strict=True)], unpaired
    outs = _flat_files(cfg.results, "RESULTS (one method's outputs)")
    if rule == "sorted-last-number":
        on = sorted((n, p.name, p) for p in outs if (n := _last_number(p)) is not None)
        gn = sorted((n, p.name, p) for p in gts if (n := _last_number(p)) is not None)
        k = min(len(on), len(gn))
        return [Pair(method, "", "", g[2].stem, "", o[2], g[2]) for o, g in zip(on[:k], gn[:k], strict=True)], unpaired
    if rule == "rsplit-underscore":
        gt_map = {_cut(p.stem): p for p in gts}
        pairs = []
        for o in outs:
            g = gt_map.get(_cut(o.stem))
            if g is None:
                unpaired.append(Unpaired(method, "", "", o.stem, o, "no GT match (name cut at its last '_')"))
            else:
                pairs.append(Pair(method, "", "", g.stem, "", o, g))
        return pairs, unpaired
    raise InputError(f"unknown pairing rule {rule!r}")


def engine_plan(cfg: Any, layout: Layout, device: torch.device) -> Plan:
    """Resolve ``cfg.protocol`` for :func:`paradigm.engine.run_score`.

    Raises:
        InputError: unknown protocol, a protocol whose script cannot run as published, or a layout
            the protocol's pairing rule does not support.
    """
    proto = get_protocol(str(cfg.protocol))
    if proto.runnable:
        raise InputError(f"protocol {proto.name}: {proto.runnable}")
    if not (isinstance(cfg.metrics, str) and cfg.metrics.strip().lower() == "default"):
        raise InputError(f"protocol {proto.name} fixes the metric set: drop --metrics")
    if int(cfg.crop_border) != proto.crop or cfg.align != "none" or cfg.y_channel:
        raise InputError(
            f"protocol {proto.name} fixes the crop ({proto.crop} px), the colour rule and alignment: "
            "drop --crop-border, --y-channel and --align"
        )
    if "gt" in proto.needs and cfg.gt is None:
        raise InputError(f"protocol {proto.name} needs --gt GT")
    for need, val in (("input", cfg.input), ("input2", getattr(cfg, "input2", None))):
        if need in proto.needs and val is None:
            raise InputError(f"protocol {proto.name} needs --{need}")
    if proto.pairing != "name":
        method = (_flat_files(cfg.results, "RESULTS")[0].parent if proto.pairing != "sorted-inputs" else Path(cfg.input)).name
        pairs, unpaired = _order_pairs(proto.pairing, cfg, method)
        layout = Layout(form="flat", single_method=True, pairs=pairs, unpaired=unpaired, methods=[method])
    metrics, skipped = _metrics(proto, device, getattr(cfg, "input2", None) is not None)
    return Plan(protocol=proto, layout=layout, metrics=metrics, skipped=skipped)
