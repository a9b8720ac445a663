"""Decode stage: read one GT image and every output (and input) paired with it; resize, align, crop."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch

from ..io import DEFAULT_MAX_PIXELS, DecodeError, read_image
from .unit import DecodePolicy, WorkEntry, WorkGroup


@dataclass
class Item:
    """A decoded pair ready for the metrics (tensors ``(C, H, W)`` in [0, 1], cropped)."""

    idx: int
    out: torch.Tensor
    gt: torch.Tensor
    inp: torch.Tensor | None
    needed: list[str]
    height: int
    width: int
    resized: bool
    inp2: torch.Tensor | None = None
    gt_key: str = ""  # content hash of the GT (reference-embedding reuse)
    input_key: str = ""  # content hash of the input(s) and GT
    #: the output's size before its resize to the GT, in the frame of the cropped GT (None: ``out``'s size)
    delivered: tuple[float, float] | None = None


@dataclass(frozen=True)
class Fail:
    """A pair (or, for ``input:``/``input2:`` reasons, one of its inputs) that could not be prepared."""

    idx: int
    stage: str
    reason: str
    path: Path

    @property
    def loses_pair(self) -> bool:
        """Whether the whole pair is lost (a missing input only loses the input-referenced metrics)."""
        return self.stage != "decode" or not self.reason.startswith(("input:", "input2:"))


def read(path: Path, policy: DecodePolicy) -> torch.Tensor:
    """Decode one file with the policy's reader (``rgb``: paradigm's, with the ``--max-pixels`` check)."""
    if policy.reader == "rgb":
        return read_image(path, policy.max_pixels)
    from ..protocols.readers import reader

    return reader(policy.reader)(path)


def fit_output(x: torch.Tensor, h: int, w: int, rule: str) -> torch.Tensor:
    """An output at the GT size: paradigm's antialiased bicubic, or a study protocol's rule."""
    if rule in ("to-gt", "none"):
        return resize_to(x, h, w)
    from ..protocols.hook import resize_output

    return resize_output(rule, x, h, w)


def resize_to(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Antialiased bicubic resize of ``(C, H, W)`` to ``(C, h, w)``, clamped to [0, 1]."""
    y = torch.nn.functional.interpolate(x[None], size=(h, w), mode="bicubic", antialias=True, align_corners=False)
    return y[0].clamp_(0.0, 1.0)


def crop(x: torch.Tensor, n: int) -> torch.Tensor:
    """Remove ``n`` pixels from every side of ``(C, H, W)``."""
    return x[:, n : x.shape[1] - n, n : x.shape[2] - n] if n > 0 else x


class _Inputs:
    """Degraded inputs of one group, each decoded once (resized to the GT size, cropped)."""

    def __init__(self, policy: DecodePolicy, h: int, w: int) -> None:
        self.policy, self.h, self.w = policy, h, w
        self._got: dict[Path, torch.Tensor | Fail] = {}

    def get(self, idx: int, path: Path, label: str) -> torch.Tensor | Fail:
        got = self._got.get(path)
        if got is None:
            try:
                t = read(path, self.policy)
                if tuple(t.shape[1:]) != (self.h, self.w):
                    t = resize_to(t, self.h, self.w)
                got = crop(t, self.policy.crop)
            except DecodeError as exc:
                got = Fail(idx, "decode", f"{label}: {exc}", path)
            self._got[path] = got
        return got if isinstance(got, torch.Tensor) else Fail(idx, got.stage, got.reason, got.path)


def _output(entry: WorkEntry, gt: torch.Tensor, policy: DecodePolicy) -> tuple[torch.Tensor, bool, tuple[int, int]] | Fail:
    """The output of one pair at the GT size (resized/aligned per policy, not yet cropped)."""
    path = entry.pair.output_path
    try:
        o = read(path, policy)
    except DecodeError as exc:
        return Fail(entry.idx, "decode", str(exc), path)
    h, w = int(gt.shape[1]), int(gt.shape[2])
    delivered = (int(o.shape[1]), int(o.shape[2]))
    resized = tuple(o.shape[1:]) != (h, w) and policy.resize != "native"
    if resized:
        if policy.resize == "none":
            return Fail(entry.idx, "resize", f"output is {o.shape[1]}x{o.shape[2]} but GT is {h}x{w} "
                        "(--resize none); resize it or use --resize to-gt", path)
        o = fit_output(o, h, w, policy.resize)
    if policy.align != "none":
        from ..metrics.diagnostics import align_to

        o = align_to(o[None], gt[None])[0].clamp_(0.0, 1.0)
    return o, resized, delivered


def prepare_group(group: WorkGroup, policy: DecodePolicy) -> list[Item | Fail]:
    """Decode one GT image and every output paired with it; resize/align/crop them.

    An input is decoded only when one of the entry's needed metrics is in ``policy.input_metrics``.
    """
    try:
        gt = read(group.gt_path, policy)
    except DecodeError as exc:
        return [Fail(e.idx, "decode", f"GT: {exc}", group.gt_path) for e in group.entries]
    h, w = int(gt.shape[1]), int(gt.shape[2])
    n = policy.crop
    if n > 0 and (h <= 2 * n or w <= 2 * n):
        return [Fail(e.idx, "crop", f"--crop-border {n} removes the whole {h}x{w} image", e.pair.output_path)
                for e in group.entries]
    gtc, inputs = crop(gt, n), _Inputs(policy, h, w)
    out: list[Item | Fail] = []
    for e in group.entries:
        got = _output(e, gt, policy)
        if isinstance(got, Fail):
            out.append(got)
            continue
        needed = list(e.needed)
        inp: torch.Tensor | None = None
        if e.pair.input_path is not None and any(m in policy.input_metrics for m in needed):
            t = inputs.get(e.idx, e.pair.input_path, "input")
            if isinstance(t, Fail):
                out.append(t)
                needed = [m for m in needed if m not in policy.input_metrics]
            else:
                inp = t
        inp2: torch.Tensor | None = None
        if inp is not None and e.input2 is not None:
            t2 = inputs.get(e.idx, e.input2, "input2")
            if isinstance(t2, Fail):
                out.append(t2)
            else:
                inp2 = t2
        o, resized, (hd, wd) = got
        out.append(Item(e.idx, crop(o, n), gtc, inp, needed, h, w, resized, inp2,
                        gt_key=e.hashes[1], input_key=f"{e.hashes[2]}:{e.hashes[1]}",
                        delivered=(hd * (h - 2 * n) / h, wd * (w - 2 * n) / w)))
    return out


G = TypeVar("G")
R = TypeVar("R")


def iter_prepared(groups: Sequence[G], workers: int, fn: Callable[[G], R], ahead: int = 0) -> Iterator[R]:
    """``fn(group)`` for every group, in order; with workers > 0 in threads, at most
    ``max(ahead, 2 * workers, 2)`` groups ahead of the consumer."""
    if workers <= 0:
        for g in groups:
            yield fn(g)
        return
    ahead = max(2, 2 * workers, ahead)
    with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="paradigm-decode") as ex:
        pending: list[cf.Future[R]] = []
        it = iter(groups)
        for g in it:
            pending.append(ex.submit(fn, g))
            if len(pending) >= ahead:
                break
        while pending:
            fut = pending.pop(0)
            nxt = next(it, None)
            if nxt is not None:
                pending.append(ex.submit(fn, nxt))
            yield fut.result()


__all__ = ["DEFAULT_MAX_PIXELS", "Fail", "Item", "crop", "iter_prepared", "prepare_group", "resize_to"]
