"""Learned no-reference IQA models through the optional ``pyiqa`` package (``paradigm[pyiqa]``).

Importing this module never imports pyiqa; creating one of these metrics without pyiqa installed raises
:class:`~paradigm.errors.MetricUnavailableError` with the install hint. The models' own checkpoints come
from paradigm's weights resolver and are handed to ``pyiqa.create_metric(..., pretrained_model_path=...)``.

Limitation: pyiqa still builds its *backbones* (timm/CLIP ImageNet weights) itself; offline, those must
already be in pyiqa's/timm's caches. With ``PARADIGM_OFFLINE=1`` the Hugging Face hub is put in offline
mode while the model is built, so nothing is downloaded and a missing backbone becomes a
``MetricUnavailableError``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

import torch

from ..errors import InputError, MetricUnavailableError, ParadigmError
from .base import Metric, check_image
from .registry import register

log = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "paradigm-iqa[pyiqa]"'

_MODELS: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def pyiqa_available() -> bool:
    """True when the optional ``pyiqa`` package can be imported."""
    try:
        return importlib.util.find_spec("pyiqa") is not None
    except (ImportError, ValueError):
        return False


def _require_pyiqa(metric: str) -> None:
    if not pyiqa_available():
        raise MetricUnavailableError(
            f"metric {metric!r} needs the optional package pyiqa, which is not installed; "
            f"install it with: {INSTALL_HINT}"
        )


@contextmanager
def _hub_offline_if_requested() -> Iterator[None]:
    """While building a pyiqa model, honour PARADIGM_OFFLINE for the HF hub too."""
    from ..weights import is_offline

    if not is_offline():
        yield
        return
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _build(pyiqa_name: str, weights_name: str, weights_path: str | None, device: torch.device) -> Any:
    from ..weights import resolve

    path = resolve(weights_name, weights_path)
    try:
        import pyiqa
    except ImportError as exc:
        raise MetricUnavailableError(f"pyiqa cannot be imported ({exc}); install it with: {INSTALL_HINT}") from exc
    try:
        with _hub_offline_if_requested():
            try:
                if pyiqa_name == "clipiqa+":
                    # CLIPIQA takes no checkpoint path: build it without its prompts, then load the
                    # learned prompt context (a plain tensor) from the verified file ourselves
                    model = pyiqa.create_metric(pyiqa_name, as_loss=False, device=device, pretrained=False)
                    ctx = torch.load(path, map_location="cpu", weights_only=True)
                    learner = model.net.prompt_learner
                    learner.ctx.data = ctx.to(learner.ctx.device, learner.ctx.dtype)
                else:
                    model = pyiqa.create_metric(
                        pyiqa_name, as_loss=False, device=device, pretrained_model_path=str(path)
                    )
            except TypeError:  # an architecture without that argument in this pyiqa version
                raise MetricUnavailableError(
                    f"this pyiqa version cannot load {pyiqa_name!r} from a given file; upgrade pyiqa "
                    f"({INSTALL_HINT}) or use another metric"
                ) from None
    except ParadigmError:
        raise
    except Exception as exc:  # network / missing backbone inside pyiqa
        raise MetricUnavailableError(
            f"pyiqa could not build {pyiqa_name!r} ({type(exc).__name__}: {exc}). Its checkpoint {path} is "
            "verified, but pyiqa also needs its ImageNet/CLIP backbone weights in pyiqa's or timm's cache; "
            "run once with network access (without PARADIGM_OFFLINE) to fill those caches"
        ) from exc
    model.eval()
    return model


class _PyiqaMetric(Metric):
    """A pyiqa model as a paradigm no-reference metric; subclasses set ``variants``."""

    kind = "no-reference"
    pillar = "perceptual"
    reference = "none"
    higher_is_better: ClassVar[bool] = True
    min_size: ClassVar[int] = 32
    #: variant -> (pyiqa metric name, weights-table entry)
    variants: ClassVar[Mapping[str, tuple[str, str]]] = {}
    defaults: ClassVar[Mapping[str, Any]] = {"variant": "koniq", "weights_path": None}

    def __init__(self, **overrides: Any) -> None:
        super().__init__(**overrides)
        if self.options["variant"] not in self.variants:
            raise InputError(
                f"metric {self.name!r}: variant must be one of {sorted(self.variants)}, "
                f"got {self.options['variant']!r}"
            )
        _require_pyiqa(self.name)

    @property
    def pyiqa_name(self) -> str:
        return self.variants[self.options["variant"]][0]

    @property
    def weights_name(self) -> str:
        return self.variants[self.options["variant"]][1]

    def _model(self, device: torch.device) -> Any:
        key = (self.pyiqa_name, self.weights_name, self.options["weights_path"], str(device))
        with _LOCK:
            if key not in _MODELS:
                _MODELS[key] = _build(self.pyiqa_name, self.weights_name, self.options["weights_path"], device)
            return _MODELS[key]

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        """Score ``(N, C, H, W)`` images in [0, 1]; ``ref`` is ignored. Returns ``(N,)`` float64."""
        check_image(x, "output")
        if min(x.shape[-2:]) < self.min_size:
            raise InputError(f"images of {tuple(x.shape[-2:])} px are too small for {self.name} (min {self.min_size})")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        model = self._model(x.device)
        with torch.inference_mode():
            scores = [model(x[i : i + 1].float()).reshape(-1)[0] for i in range(x.shape[0])]
        return torch.stack(scores).to(torch.float64)

    def signature(self) -> dict[str, Any]:
        sig = super().signature()
        sig["options"].pop("weights_path", None)
        sig["weights"] = [self.weights_name]
        sig["policy"] = f"pyiqa:{self.pyiqa_name};native-resolution;per-image"
        return sig


@register
class Musiq(_PyiqaMetric):
    """MUSIQ multi-scale image quality transformer (KonIQ-10k), via pyiqa."""

    name: ClassVar[str] = "musiq"
    value_range: ClassVar[tuple[float, float]] = (0.0, 100.0)
    weights: ClassVar[tuple[str, ...]] = ("pyiqa_musiq_koniq",)
    variants: ClassVar[Mapping[str, tuple[str, str]]] = {"koniq": ("musiq", "pyiqa_musiq_koniq")}
    description: ClassVar[str] = "MUSIQ (KonIQ-10k) no-reference quality, 0-100, via pyiqa"


@register
class ClipIqa(_PyiqaMetric):
    """CLIP-IQA+ (learned prompts), via pyiqa."""

    name: ClassVar[str] = "clipiqa"
    weights: ClassVar[tuple[str, ...]] = ("pyiqa_clipiqa_plus",)
    variants: ClassVar[Mapping[str, tuple[str, str]]] = {"koniq": ("clipiqa+", "pyiqa_clipiqa_plus")}
    description: ClassVar[str] = "CLIP-IQA+ no-reference quality, 0-1, via pyiqa"


@register
class TopiqNr(_PyiqaMetric):
    """TOPIQ no-reference (CFANet ResNet50, KonIQ-10k), via pyiqa."""

    name: ClassVar[str] = "topiq_nr"
    weights: ClassVar[tuple[str, ...]] = ("pyiqa_topiq_nr_koniq",)
    variants: ClassVar[Mapping[str, tuple[str, str]]] = {"koniq": ("topiq_nr", "pyiqa_topiq_nr_koniq")}
    description: ClassVar[str] = "TOPIQ-NR (KonIQ-10k) no-reference quality, 0-1, via pyiqa"


@register
class Maniqa(_PyiqaMetric):
    """MANIQA multi-dimension attention network (KonIQ-10k or PIPAL), via pyiqa."""

    name: ClassVar[str] = "maniqa"
    weights: ClassVar[tuple[str, ...]] = ("pyiqa_maniqa_koniq",)
    variants: ClassVar[Mapping[str, tuple[str, str]]] = {
        "koniq": ("maniqa", "pyiqa_maniqa_koniq"),
        "pipal": ("maniqa-pipal", "pyiqa_maniqa_pipal"),
    }
    description: ClassVar[str] = "MANIQA no-reference quality (KonIQ default, PIPAL option), via pyiqa"


@register
class Nima(_PyiqaMetric):
    """NIMA aesthetic/technical score (VGG16, AVA), via pyiqa."""

    name: ClassVar[str] = "nima"
    value_range: ClassVar[tuple[float, float]] = (1.0, 10.0)
    weights: ClassVar[tuple[str, ...]] = ("pyiqa_nima_vgg16_ava",)
    variants: ClassVar[Mapping[str, tuple[str, str]]] = {"ava": ("nima-vgg16-ava", "pyiqa_nima_vgg16_ava")}
    defaults: ClassVar[Mapping[str, Any]] = {"variant": "ava", "weights_path": None}
    description: ClassVar[str] = "NIMA (VGG16, AVA) mean opinion score 1-10, via pyiqa"
