"""Reproducibility signature of a ``paradigm score`` run (``docs/contracts.md`` §3).

:func:`build_signature` makes the dict stored in ``run.json``; :func:`signature_line` renders the
one-line form printed by ``paradigm score``, in the style of sacrebleu::

    paradigm:0.1.0|metrics:psnr.2+ssim.1|resize:to-gt|crop:0|y:no|colour:rgb-v1|batch:8|composite:default-v1|seed:0|device:cpu

Metric tokens are ``name.version``, with non-default options in brackets
(``lpips.1[net=vgg]``). The fields in :data:`SCORE_FIELDS` change scores: runs can be merged into
one leaderboard only when they agree on all of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ._version import __version__
from .io import DEFAULT_MAX_PIXELS

#: Signature fields that change scores (leaderboard merging refuses differing values).
SCORE_FIELDS: tuple[str, ...] = (
    "paradigm", "metrics", "composite", "resize", "crop_border", "y_channel", "align", "colour",
    "embedding_policy", "precision", "protocol",
)

#: How reference embeddings are reused (recorded for leaderboards).
EMBEDDING_POLICY = "ref-once-v1"


#: Pairs per unit of work (``--pairs-per-unit``); recorded in signatures and cache keys when not this.
DEFAULT_PAIRS_PER_UNIT = 32


def build_signature(
    metrics: Sequence[dict[str, Any]],
    *,
    composite: str | None = None,
    resize: str = "to-gt",
    crop_border: int = 0,
    y_channel: bool | str = False,
    align: str = "none",
    colour: str = "rgb-v1",
    embedding_policy: str = EMBEDDING_POLICY,
    precision: str = "fp32",
    device: str = "cpu",
    seed: int = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    batch_size: int | None = None,
    backend: str = "local",
    pairs_per_unit: int = DEFAULT_PAIRS_PER_UNIT,
    protocol: str | None = None,
) -> dict[str, Any]:
    """The signature dict (keys of contracts §3).

    Args:
        metrics: ``Metric.signature()`` of every metric that ran, in order.
        composite: ``"<name>-v<k>"`` (optionally ``+sha256``) of the composite, or None.
        resize, crop_border, y_channel, align, colour, embedding_policy, precision: the policy.
        device: where metrics ran (``cpu``, ``cuda:0``…); informative only.
        seed: the run's seed.
        max_pixels: the ``--max-pixels`` decoding limit (0: none). It decides which images are
            scored, not their values, so it is not a score field; shown on the line when not the default.
        batch_size: pairs per metric call. It changes values in the last bits (float sums over an
            image are split differently by torch when fewer images than threads share a call:
            up to ~1e-8 relative, e.g. 1e-6 dB of PSNR), so it is recorded here and in every cache
            key (:func:`policy_string`); shown on the line as ``batch:N``.
        pairs_per_unit: pairs per unit of work; batches never cross a unit, so a non-default value
            can change values in the last bits like the batch size (recorded only when not the default).
        backend: where the work ran (``local`` or ``ray``); informative (scores are the same), so
            it appears only when not local.
        protocol: ``name@vK`` of a study protocol (``paradigm score --protocol``), or None.

    Returns:
        A JSON-serialisable dict.
    """
    sig: dict[str, Any] = {
        "paradigm": __version__,
        "metrics": [dict(m) for m in metrics],
        "composite": composite,
        "resize": resize,
        "crop_border": int(crop_border),
        "y_channel": "matlab" if y_channel == "matlab" else bool(y_channel),  # True: float Y rule
        "align": align,
        "colour": colour,
        "embedding_policy": embedding_policy,
        "precision": precision,
        "device": device,
        "seed": int(seed),
        "max_pixels": int(max_pixels),
        "batch_size": batch_size,
    }
    if backend != "local":
        sig["backend"] = backend
    if pairs_per_unit != DEFAULT_PAIRS_PER_UNIT:
        sig["pairs_per_unit"] = int(pairs_per_unit)
    if protocol is not None:  # only protocol runs carry the key, so older signatures stay equal
        sig["protocol"] = protocol
    return sig


def _metric_token(m: dict[str, Any]) -> str:
    tok = f"{m.get('name', '?')}.{m.get('version', '?')}"
    opts = m.get("options") or {}
    if opts:
        inner = ",".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in sorted(opts.items()))
        tok += f"[{inner}]"
    return tok


def signature_line(sig: dict[str, Any]) -> str:
    """One-line rendering of a signature dict (see the module docstring)."""
    metrics = "+".join(_metric_token(m) for m in sig.get("metrics", [])) or "none"
    comp = sig.get("composite")
    if isinstance(comp, str) and "+" in comp:  # "name-vK+sha256" -> short form on the line
        comp = comp.split("+", 1)[0]
    parts = [
        f"paradigm:{sig.get('paradigm')}",
        f"metrics:{metrics}",
        f"resize:{sig.get('resize')}",
        f"crop:{sig.get('crop_border')}",
        f"y:{'matlab' if sig.get('y_channel') == 'matlab' else 'yes' if sig.get('y_channel') else 'no'}",
        f"colour:{sig.get('colour')}",
    ]
    if sig.get("align") not in (None, "none"):
        parts.append(f"align:{sig.get('align')}")
    if sig.get("protocol"):
        parts.append(f"protocol:{sig['protocol']}")
    if sig.get("precision") not in (None, "fp32"):
        parts.append(f"precision:{sig.get('precision')}")
    if sig.get("max_pixels") not in (None, DEFAULT_MAX_PIXELS):
        parts.append(f"max-pixels:{sig.get('max_pixels')}")
    if sig.get("batch_size") is not None:
        parts.append(f"batch:{sig.get('batch_size')}")
    if sig.get("pairs_per_unit") is not None:
        parts.append(f"unit:{sig.get('pairs_per_unit')}")
    parts += [f"composite:{comp or 'none'}", f"seed:{sig.get('seed')}", f"device:{sig.get('device')}"]
    if sig.get("backend") not in (None, "local"):
        parts.append(f"backend:{sig.get('backend')}")
    return "|".join(parts)


def policy_string(
    resize: str, crop_border: int, colour: str, align: str = "none", batch_size: int | None = None,
    pairs_per_unit: int = DEFAULT_PAIRS_PER_UNIT,
) -> str:
    """The preprocessing-policy string that is part of every cache key (with the batch size when given:
    values computed with another ``--batch-size`` may differ in their last bits, so they are not reused;
    likewise a non-default number of pairs per unit of work, since batches never cross a unit)."""
    base = f"resize:{resize}|crop:{int(crop_border)}|colour:{colour}|align:{align}"
    if batch_size is not None:
        base += f"|batch:{int(batch_size)}"
    if pairs_per_unit != DEFAULT_PAIRS_PER_UNIT:
        base += f"|unit:{int(pairs_per_unit)}"
    return base
