"""The metric contract shared by every paradigm metric.

A metric is (1) a pure function over ``(N, C, H, W)`` float tensors in ``[0, 1]`` and (2) a thin
:class:`Metric` subclass registered with :func:`paradigm.metrics.registry.register` that declares
direction, kind, range and pillar. The engine, the composite and the leaderboards read only these
declarations, never metric-specific code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch

from ..errors import InputError
from .spec import ColumnSpec, MetricSpec

Kind = Literal["full-reference", "no-reference", "embedding"]
Pillar = Literal["perceptual", "stability", "fidelity", "diagnostic"]
Reference = Literal["gt", "input", "two-inputs", "none"]

#: Absolute slack allowed outside [0, 1] (float rounding from resampling).
RANGE_SLACK = 1e-3


def check_image(x: torch.Tensor, name: str = "image") -> torch.Tensor:
    """Validate one batch of images.

    Args:
        x: tensor of shape ``(N, C, H, W)``, floating point, values in ``[0, 1]``, C in {1, 3}.
        name: how the tensor is called in error messages.

    Returns:
        The same tensor.

    Raises:
        InputError: with an actionable message when the shape, dtype or range is wrong.
    """
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor of shape (N,C,H,W), got {type(x).__name__}")
    if x.ndim != 4:
        raise InputError(
            f"{name} must have shape (N,C,H,W), got {tuple(x.shape)}; add a batch dimension with x[None]"
        )
    if x.shape[1] not in (1, 3):
        raise InputError(f"{name} must have 1 or 3 channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    if not x.is_floating_point():
        raise InputError(f"{name} must be a float tensor in [0,1], got dtype {x.dtype}; divide by 255 first")
    if x.numel() and (torch.isnan(x).any() or x.min() < -RANGE_SLACK or x.max() > 1 + RANGE_SLACK):
        lo, hi = float(torch.nan_to_num(x).min()), float(torch.nan_to_num(x).max())
        raise InputError(
            f"{name} values must be in [0,1] without NaN, got range [{lo:.4g}, {hi:.4g}]; "
            "scale 8-bit images by 1/255 and 16-bit by 1/65535"
        )
    return x


def check_pair(x: torch.Tensor, ref: torch.Tensor, min_size: int = 1) -> None:
    """Validate an output/reference pair: both valid images of equal shape, at least ``min_size`` px."""
    check_image(x, "output")
    check_image(ref, "reference")
    if x.shape != ref.shape:
        raise InputError(
            f"output {tuple(x.shape)} and reference {tuple(ref.shape)} differ in shape; "
            "resize the output to the reference first (paradigm score --resize to-gt does)"
        )
    if min(x.shape[-2:]) < min_size:
        raise InputError(f"images of {tuple(x.shape[-2:])} px are too small for this metric (min {min_size} px)")


class Metric(torch.nn.Module):
    """Base class of registered metrics.

    Subclasses set the class attributes below and implement :meth:`forward`. Options are declared
    in ``defaults``; ``create_metric(name, **overrides)`` validates override names against it.

    Class attributes:
        name: registry name, lower case with underscores (``"ms_ssim"``).
        version: bump whenever values change; it is part of cache keys and signatures.
        kind: ``"full-reference"``, ``"no-reference"`` or ``"embedding"`` (compares embeddings).
        higher_is_better: direction of the raw value.
        value_range: (low, high) of the raw value; ``float("inf")`` allowed.
        pillar: ``"perceptual"``, ``"stability"``, ``"fidelity"`` or ``"diagnostic"`` (not in the composite).
        reference: what the metric compares against: ``"gt"``, ``"input"`` (the degraded input),
            ``"two-inputs"`` (two fusion sources, passed stacked as ``torch.cat([A, B], dim=1)``) or ``"none"``.
        aliases: alternative registry names.
        weights: names of entries in the weights table that the metric needs (empty for none).
        supports_y_channel: honours the engine's ``--y-channel`` policy (ITU-R BT.601 luma).
        min_size: smallest image side the metric accepts.
        outputs: column names when :meth:`forward` returns several values (a dict); empty for one value.
        column_higher_is_better: direction per output column where it differs from ``higher_is_better``
            (``None``: a signed or informational column with no better/worse).
        column_ranges: value range per output column where it differs from ``value_range``.
        ideal: the value of identical inputs when it is not the better end of ``value_range`` (e.g.
            VIF: 1, while contrast enhancement can exceed it); None: that end.
        defaults: option name -> default value.
        uses_delivered_size: :meth:`forward` takes ``delivered_size=`` (each output's size before the
            engine resized it to the reference; see ``paradigm.metrics.stability.geometric_drift``).
        description: one line for ``paradigm metrics`` and docs.
        error_map_kind: what :meth:`error_map` shows (the caption of ``paradigm explain --heatmap``);
            empty when the metric has no spatial map.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    kind: ClassVar[Kind] = "full-reference"
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    pillar: ClassVar[Pillar] = "fidelity"
    reference: ClassVar[Reference] = "gt"
    aliases: ClassVar[tuple[str, ...]] = ()
    weights: ClassVar[tuple[str, ...]] = ()
    supports_y_channel: ClassVar[bool] = False
    min_size: ClassVar[int] = 1
    outputs: ClassVar[tuple[str, ...]] = ()
    column_higher_is_better: ClassVar[Mapping[str, bool | None]] = {}
    column_ranges: ClassVar[Mapping[str, tuple[float, float]]] = {}
    ideal: ClassVar[float | None] = None
    defaults: ClassVar[Mapping[str, Any]] = {}
    uses_delivered_size: ClassVar[bool] = False
    description: ClassVar[str] = ""
    error_map_kind: ClassVar[str] = ""

    def __init__(self, **overrides: Any) -> None:
        super().__init__()
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            valid = ", ".join(sorted(self.defaults)) or "none"
            raise InputError(f"metric {self.name!r} has no option(s) {unknown}; valid options: {valid}")
        self.options: dict[str, Any] = {**self.defaults, **overrides}

    @property
    def columns(self) -> tuple[str, ...]:
        """Output column names: ``outputs`` or just ``(name,)``."""
        return self.outputs or (self.name,)

    def forward(
        self, x: torch.Tensor, ref: torch.Tensor | None = None
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        """Score a batch.

        Args:
            x: outputs, ``(N, C, H, W)`` float in [0, 1].
            ref: references of the same shape (ground truth or input, per ``reference``), or None
                for no-reference metrics.

        Returns:
            ``(N,)`` float64 tensor of raw values, or a dict ``column -> (N,)`` when ``outputs`` is set.
        """
        raise NotImplementedError

    def error_map(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor | None:
        """Where ``x`` differs from ``ref`` in this metric's sense, pixel by pixel (for heat maps).

        Metrics with a spatial map override this (and set ``error_map_kind``), computing the map with
        their own kernels and options.

        Args:
            x: outputs ``(N, C, H, W)`` float in [0, 1].
            ref: references of the same shape.

        Returns:
            ``(N, H, W)`` float64 in [0, 1]: 0 = no error (identical inputs give all zeros), 1 = the
            map's full scale (``error_map_kind`` says what it is); None (the default): no spatial map.
        """
        return None

    def signature(self) -> dict[str, Any]:
        """What identifies this metric's values: name, version, non-default options, weights tags."""
        changed = {k: v for k, v in self.options.items() if self.defaults.get(k) != v}
        return {"name": self.name, "version": self.version, "options": changed, "weights": list(self.weights)}

    @classmethod
    def spec(cls) -> MetricSpec:
        """Every declared fact about this metric as a frozen, torch-free :class:`MetricSpec`."""
        columns = tuple(
            ColumnSpec(
                col,
                cls.column_higher_is_better.get(col, cls.higher_is_better),
                tuple(cls.column_ranges.get(col, cls.value_range)),  # type: ignore[arg-type]
            )
            for col in (cls.outputs or (cls.name,))
        )
        return MetricSpec(
            name=cls.name,
            version=cls.version,
            kind=cls.kind,
            pillar=cls.pillar,
            reference="two-inputs" if getattr(cls, "two_inputs", False) else cls.reference,
            columns=columns,
            module=cls.__module__,
            aliases=tuple(cls.aliases),
            weights=tuple(cls.weights),
            min_size=cls.min_size,
            supports_y_channel=cls.supports_y_channel,
            defaults=dict(cls.defaults),
            description=cls.description,
            ideal=cls.ideal,
            error_map_kind=cls.error_map_kind,
        )

    @classmethod
    def info(cls) -> dict[str, Any]:
        """Declared properties, as a plain dict (the :class:`MetricSpec`, with ``range`` and ``outputs``)."""
        spec = cls.spec()
        return {
            "name": spec.name,
            "version": spec.version,
            "kind": spec.kind,
            "higher_is_better": spec.higher_is_better,
            "range": list(spec.value_range),
            "pillar": spec.pillar,
            "reference": spec.reference,
            "composable": spec.composable,
            "weights": list(spec.weights),
            "supports_y_channel": spec.supports_y_channel,
            "min_size": spec.min_size,
            "outputs": list(spec.column_names),
            "column_higher_is_better": {c.name: c.higher_is_better for c in spec.columns},
            "defaults": dict(spec.defaults),
            "description": spec.description,
            "error_map_kind": spec.error_map_kind,
        }


class FullReferenceMetric(Metric):
    """A metric that is one function of (output, reference): subclasses implement :meth:`_fn`.

    The shared :meth:`forward` refuses a missing reference and returns float64.
    """

    def _fn(self, x: torch.Tensor, ref: torch.Tensor, **options: Any) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        if ref is None:
            raise InputError(f"metric {self.name!r} is full-reference: pass the reference image as ref")
        return self._fn(x, ref, **self.options).to(torch.float64)


class EmbeddingMetric(Metric):
    """A metric that compares embeddings; the engine can cache reference embeddings per image.

    Subclasses implement :meth:`embed` and :meth:`compare`; :meth:`forward` composes them.
    """

    kind: ClassVar[Kind] = "embedding"
    pillar: ClassVar[Pillar] = "stability"

    def embed(self, x: torch.Tensor) -> Any:
        """Embed a batch ``(N, C, H, W)`` in [0,1]; returns a tensor (or tuple of tensors) with leading N."""
        raise NotImplementedError

    def compare(self, ex: Any, eref: Any) -> torch.Tensor:
        """Similarity ``(N,)`` between two batches of embeddings from :meth:`embed`."""
        raise NotImplementedError

    def forward(
        self, x: torch.Tensor, ref: torch.Tensor | None = None
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        if ref is None:
            raise InputError(f"metric {self.name!r} needs a reference image")
        check_pair(x, ref, self.min_size)
        return self.compare(self.embed(x), self.embed(ref))
