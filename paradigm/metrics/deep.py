"""Model-backed metrics: LPIPS, DISTS (perceptual) and CLIP / DINOv2 embedding similarity (stability).

Every pretrained file comes through :func:`paradigm.weights.resolve` (sha256-verified, offline-safe);
nothing here downloads through torchvision, torch.hub, open_clip or timm.

Resize policies (recorded in :meth:`Metric.signature` as ``policy``):

* ``lpips`` / ``dists``: fully convolutional, run at native resolution. Above ``max_pixels`` (default
  1024×1024) both images are downscaled by the same factor ``sqrt(max_pixels / (H*W))`` (bilinear,
  antialiased) before scoring. ``dists`` additionally follows the official ``prepare_image``: when
  ``resize_256`` is on (default) and the short side exceeds 256 px, it is resized to 256 px first.
* ``clip_sim``: the standard open_clip preprocessing: resize the short side to the model's input size
  (224 for ViT-B-32) bicubic with antialiasing, then center crop, then CLIP mean/std.
* ``dino_sim`` / ``dino_patch_sim``: the whole image, no crop: resize so the short side is 224 px
  (bicubic, antialiased), keeping the aspect ratio, each side rounded to a multiple of the 14 px patch,
  the long side capped at 448 px; ImageNet mean/std; timm's ``dynamic_img_size`` interpolates the
  position embedding.

Models are built once per process and cached by (weights file, options, device, dtype); inference runs
under ``torch.inference_mode()``. ``precision`` ``fp16``/``bf16`` is honoured only on CUDA (fp32 on CPU).
"""

from __future__ import annotations

import logging
import math
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError, MetricUnavailableError, WeightsError
from .base import EmbeddingMetric, Metric, check_pair
from .registry import register

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "bf16")
DEFAULT_MAX_PIXELS = 1024 * 1024

_MODELS: dict[tuple[Any, ...], nn.Module] = {}
_MODELS_LOCK = threading.Lock()

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ------------------------------------------------------------------------------------------ helpers
def _cached_model(key: tuple[Any, ...], build: Callable[[], nn.Module]) -> nn.Module:
    """Build a model once per process per key (thread-safe)."""
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            model = build()
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            _MODELS[key] = model
        return model


def clear_model_cache() -> None:
    """Drop every cached model (tests, or to free memory)."""
    with _MODELS_LOCK:
        _MODELS.clear()


def _dtype_for(precision: str, device: torch.device) -> torch.dtype:
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if device.type != "cuda" or precision == "fp32":
        return torch.float32
    return torch.float16 if precision == "fp16" else torch.bfloat16


def _rgb(x: torch.Tensor) -> torch.Tensor:
    """Grey images become 3-channel (the models are RGB)."""
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def _limit_pixels(x: torch.Tensor, max_pixels: int | None) -> torch.Tensor:
    """Downscale so that H*W <= max_pixels (same factor on both axes, bilinear antialiased)."""
    h, w = x.shape[-2:]
    if not max_pixels or h * w <= max_pixels:
        return x
    s = math.sqrt(max_pixels / (h * w))
    size = (max(1, math.floor(h * s + 1e-9)), max(1, math.floor(w * s + 1e-9)))
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def _resize_short(x: torch.Tensor, short: int, mode: str = "bicubic") -> torch.Tensor:
    h, w = x.shape[-2:]
    if min(h, w) == short:
        return x
    s = short / min(h, w)
    size = (max(short, round(h * s)), max(short, round(w * s)))
    return F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=True)


def _center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return x[..., top : top + size, left : left + size]


def _normalise(x: torch.Tensor, mean: Any, std: Any) -> torch.Tensor:
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def _check_options(options: Mapping[str, Any]) -> None:
    if "precision" in options and options["precision"] not in PRECISIONS:
        raise InputError(f"precision must be one of {PRECISIONS}, got {options['precision']!r}")
    mp = options.get("max_pixels")
    if mp is not None and (not isinstance(mp, int) or mp < 64 * 64):
        raise InputError(f"max_pixels must be an int >= 4096 or None, got {mp!r}")


def _where(name: str, path: str | None) -> str:
    """The verified path of a weights file (hash cached in-process), used in model cache keys."""
    from ..weights import resolve

    return str(resolve(name, path))


def _load(name: str, path: str | None = None) -> dict[str, Any]:
    from ..weights import load_state_dict

    return load_state_dict(name, path)


def _features_only(sd: Mapping[str, torch.Tensor], prefix: str = "features.") -> dict[str, torch.Tensor]:
    out = {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)}
    if not out:
        raise WeightsError(
            f"the backbone checkpoint has no '{prefix}*' keys (found e.g. {list(sd)[:3]}); "
            "is it a torchvision classification checkpoint?"
        )
    return out


# ------------------------------------------------------------------------------------------ LPIPS
LPIPS_BACKBONES = {"alex": "alexnet", "vgg": "vgg16", "squeeze": "squeezenet1_1"}
#: smallest image side each backbone accepts (AlexNet's stride-4 stem and pools need 63 px)
LPIPS_MIN_SIZE = {"alex": 64, "vgg": 16, "squeeze": 32}


def _build_lpips(net: str, backbone_path: str | None, heads_path: str | None) -> nn.Module:
    try:
        import lpips as lpips_pkg
    except ImportError as exc:  # pragma: no cover - lpips is a core dependency
        raise MetricUnavailableError('lpips needs the `lpips` package: pip install "lpips>=0.1.4"') from exc
    with warnings.catch_warnings(), torch.device("meta"):
        # built on the meta device (no slow random init of torchvision's classifier); every tensor
        # is then loaded from verified files below
        warnings.simplefilter("ignore")
        model = lpips_pkg.LPIPS(pretrained=False, net=net, pnet_rand=True, verbose=False)
    model = model.to_empty(device="cpu")
    model.scaling_layer = lpips_pkg.ScalingLayer()
    feats = _features_only(_load(LPIPS_BACKBONES[net], backbone_path))
    mapped: dict[str, torch.Tensor] = {}
    for key in model.net.state_dict():
        # lpips keeps torchvision's module indices inside its slices: slice2.3.weight <- features.3.weight
        _, idx_param = key.split(".", 1)
        if idx_param not in feats:
            raise WeightsError(f"backbone checkpoint for lpips-{net} lacks features.{idx_param}")
        mapped[key] = feats[idx_param]
    model.net.load_state_dict(mapped, strict=True)
    heads = _load(f"lpips_{net}_v0.1", heads_path)
    lin_keys = {k for k in model.state_dict() if k.startswith("lin") and not k.startswith("lins.")}
    missing = sorted(lin_keys - set(heads))
    if missing:
        raise WeightsError(f"LPIPS head file lacks {missing[:3]}")
    model.load_state_dict({k: heads[k] for k in lin_keys}, strict=False)
    return model


def lpips(
    x: torch.Tensor,
    y: torch.Tensor,
    net: str = "alex",
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    precision: str = "fp32",
    backbone_path: str | None = None,
    heads_path: str | None = None,
) -> torch.Tensor:
    """LPIPS v0.1 distance (Zhang et al. 2018), the official ``lpips`` network with verified weights.

    Args:
        x: outputs ``(N, C, H, W)`` in [0, 1] (C = 1 or 3).
        y: references, same shape.
        net: backbone: ``alex`` (default, the paper's recommended metric), ``vgg`` or ``squeeze``.
        max_pixels: above this many pixels both images are downscaled by a common factor.
        precision: ``fp32``; ``fp16``/``bf16`` only on CUDA.
        backbone_path: explicit torchvision checkpoint (else resolved by name).
        heads_path: explicit LPIPS linear-head file (else the one bundled with ``lpips``).

    Returns:
        ``(N,)`` float64 distances, 0 for identical images, typically < 1; lower is better.
    """
    check_pair(x, y, LPIPS_MIN_SIZE[net] if net in LPIPS_MIN_SIZE else 64)
    if net not in LPIPS_BACKBONES:
        raise InputError(f"lpips net must be one of {sorted(LPIPS_BACKBONES)}, got {net!r}")
    dev = x.device
    dtype = _dtype_for(precision, dev)
    bb, hd = _where(LPIPS_BACKBONES[net], backbone_path), _where(f"lpips_{net}_v0.1", heads_path)
    key = ("lpips", net, bb, hd, str(dev), dtype)
    model = _cached_model(key, lambda: _build_lpips(net, bb, hd).to(dev, dtype))
    a = _limit_pixels(_rgb(x).float(), max_pixels) * 2 - 1
    b = _limit_pixels(_rgb(y).float(), max_pixels) * 2 - 1
    with torch.inference_mode():
        d = model(a.to(dtype), b.to(dtype))
    return d.reshape(x.shape[0]).to(torch.float64)


@register
class LPIPS(Metric):
    """LPIPS perceptual distance (lower is better)."""

    name: ClassVar[str] = "lpips"
    version: ClassVar[str] = "1"
    kind = "full-reference"
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    pillar = "perceptual"
    reference = "gt"
    weights: ClassVar[tuple[str, ...]] = ("alexnet", "lpips_alex_v0.1")
    min_size: ClassVar[int] = 64
    defaults: ClassVar[Mapping[str, Any]] = {
        "net": "alex",
        "max_pixels": DEFAULT_MAX_PIXELS,
        "precision": "fp32",
        "backbone_path": None,
        "heads_path": None,
    }
    description: ClassVar[str] = "LPIPS v0.1 (AlexNet default) learned perceptual distance; lower is better"

    def __init__(self, **overrides: Any) -> None:
        super().__init__(**overrides)
        _check_options(self.options)
        if self.options["net"] not in LPIPS_BACKBONES:
            raise InputError(f"lpips net must be one of {sorted(LPIPS_BACKBONES)}, got {self.options['net']!r}")

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        if ref is None:
            raise InputError("lpips needs a reference image")
        return lpips(x, ref, **self.options)

    def signature(self) -> dict[str, Any]:
        sig = super().signature()
        net = self.options["net"]
        sig["weights"] = [LPIPS_BACKBONES[net], f"lpips_{net}_v0.1"]
        sig["options"].pop("backbone_path", None)
        sig["options"].pop("heads_path", None)
        sig["policy"] = f"native;max_pixels={self.options['max_pixels']}:bilinear-aa;input=[-1,1]"
        return sig


# ------------------------------------------------------------------------------------------ DISTS
class _L2Pooling(nn.Module):
    """Hanning-window L2 pooling of DISTS (replaces VGG's max pooling)."""

    filter: torch.Tensor

    def __init__(self, channels: int, filter_size: int = 5, stride: int = 2) -> None:
        super().__init__()
        self.padding = (filter_size - 2) // 2
        self.stride = stride
        a = torch.hann_window(filter_size, periodic=False, dtype=torch.float64)[1:-1]
        g = a[:, None] * a[None, :]
        g = (g / g.sum()).float()
        self.register_buffer("filter", g[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x**2, self.filter, stride=self.stride, padding=self.padding, groups=x.shape[1])
        return (out + 1e-12).sqrt()


class DISTSNet(nn.Module):
    """The official DISTS architecture: VGG16 features with L2 pooling, alpha/beta heads."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import vgg16

        with torch.device("meta"):  # skip the slow random init; load_backbone fills every tensor
            feats = vgg16(weights=None).features
        feats = feats.to_empty(device="cpu")
        self.stage1 = nn.Sequential()
        self.stage2 = nn.Sequential()
        self.stage3 = nn.Sequential()
        self.stage4 = nn.Sequential()
        self.stage5 = nn.Sequential()
        for i in range(0, 4):
            self.stage1.add_module(str(i), feats[i])
        self.stage2.add_module("4", _L2Pooling(64))
        for i in range(5, 9):
            self.stage2.add_module(str(i), feats[i])
        self.stage3.add_module("9", _L2Pooling(128))
        for i in range(10, 16):
            self.stage3.add_module(str(i), feats[i])
        self.stage4.add_module("16", _L2Pooling(256))
        for i in range(17, 23):
            self.stage4.add_module(str(i), feats[i])
        self.stage5.add_module("23", _L2Pooling(512))
        for i in range(24, 30):
            self.stage5.add_module(str(i), feats[i])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, -1, 1, 1))
        self.chns = [3, 64, 128, 256, 512, 512]
        self.alpha = nn.Parameter(torch.full((1, sum(self.chns), 1, 1), 0.1))
        self.beta = nn.Parameter(torch.full((1, sum(self.chns), 1, 1), 0.1))

    def load_backbone(self, feats: Mapping[str, torch.Tensor]) -> None:
        """Load torchvision ``features.*`` tensors (prefix already stripped) into the stages."""
        own = self.state_dict()
        mapped = {}
        for key in own:
            if not key.startswith("stage") or key.endswith("filter"):
                continue
            idx_param = key.split(".", 1)[1]
            if idx_param not in feats:
                raise WeightsError(f"VGG16 checkpoint lacks features.{idx_param}")
            mapped[key] = feats[idx_param]
        missing, unexpected = self.load_state_dict(mapped, strict=False)
        bad = [k for k in missing if k.startswith("stage") and not k.endswith("filter")]
        if bad or unexpected:
            raise WeightsError(f"VGG16 checkpoint does not fit DISTS: missing {bad[:3]}, unexpected {unexpected[:3]}")

    def forward_once(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (x - self.mean) / self.std
        out = [x]
        for stage in (self.stage1, self.stage2, self.stage3, self.stage4, self.stage5):
            h = stage(h)
            out.append(h)
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        f0, f1 = self.forward_once(x), self.forward_once(y)
        c1 = c2 = 1e-6
        w_sum = self.alpha.sum() + self.beta.sum()
        alpha = torch.split(self.alpha / w_sum, self.chns, dim=1)
        beta = torch.split(self.beta / w_sum, self.chns, dim=1)
        dist1 = torch.zeros(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype)
        dist2 = torch.zeros_like(dist1)
        for k in range(len(self.chns)):
            xm = f0[k].mean([2, 3], keepdim=True)
            ym = f1[k].mean([2, 3], keepdim=True)
            s1 = (2 * xm * ym + c1) / (xm**2 + ym**2 + c1)
            dist1 = dist1 + (alpha[k] * s1).sum(1, keepdim=True)
            xv = ((f0[k] - xm) ** 2).mean([2, 3], keepdim=True)
            yv = ((f1[k] - ym) ** 2).mean([2, 3], keepdim=True)
            cov = (f0[k] * f1[k]).mean([2, 3], keepdim=True) - xm * ym
            s2 = (2 * cov + c2) / (xv + yv + c2)
            dist2 = dist2 + (beta[k] * s2).sum(1, keepdim=True)
        return 1 - (dist1 + dist2).reshape(x.shape[0])


def _build_dists(backbone_path: str | None, heads_path: str | None) -> nn.Module:
    model = DISTSNet()
    model.load_backbone(_features_only(_load("vgg16", backbone_path)))
    heads = _load("dists_heads", heads_path)
    for k in ("alpha", "beta"):
        if k not in heads or tuple(heads[k].shape) != tuple(getattr(model, k).shape):
            raise WeightsError(f"DISTS head file lacks a {k} tensor of shape {tuple(getattr(model, k).shape)}")
        getattr(model, k).data.copy_(heads[k])
    return model


def dists(
    x: torch.Tensor,
    y: torch.Tensor,
    resize_256: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    precision: str = "fp32",
    backbone_path: str | None = None,
    heads_path: str | None = None,
) -> torch.Tensor:
    """DISTS (Ding et al. 2020), structure and texture similarity distance.

    Args:
        x: outputs ``(N, C, H, W)`` in [0, 1].
        y: references, same shape.
        resize_256: the official ``prepare_image`` rule: short side > 256 px is resized to 256
            (bilinear, antialiased).
        max_pixels: further downscale above this many pixels.
        precision: ``fp32``; ``fp16``/``bf16`` only on CUDA.
        backbone_path: explicit torchvision VGG16 checkpoint.
        heads_path: explicit DISTS ``weights.pt`` (alpha, beta).

    Returns:
        ``(N,)`` float64, 0 for identical images; lower is better.
    """
    check_pair(x, y, 16)
    dev = x.device
    dtype = _dtype_for(precision, dev)
    bb, hd = _where("vgg16", backbone_path), _where("dists_heads", heads_path)
    key = ("dists", bb, hd, str(dev), dtype)
    model = _cached_model(key, lambda: _build_dists(bb, hd).to(dev, dtype))
    a, b = _rgb(x).float(), _rgb(y).float()
    if resize_256 and min(a.shape[-2:]) > 256:
        a, b = _resize_short(a, 256, "bilinear"), _resize_short(b, 256, "bilinear")
    a, b = _limit_pixels(a, max_pixels), _limit_pixels(b, max_pixels)
    with torch.inference_mode():
        d = model(a.to(dtype), b.to(dtype))
    return d.to(torch.float64).clamp_min(0.0)


@register
class DISTS(Metric):
    """DISTS perceptual distance (lower is better)."""

    name: ClassVar[str] = "dists"
    version: ClassVar[str] = "1"
    kind = "full-reference"
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    pillar = "perceptual"
    reference = "gt"
    weights: ClassVar[tuple[str, ...]] = ("vgg16", "dists_heads")
    min_size: ClassVar[int] = 16
    defaults: ClassVar[Mapping[str, Any]] = {
        "resize_256": True,
        "max_pixels": DEFAULT_MAX_PIXELS,
        "precision": "fp32",
        "backbone_path": None,
        "heads_path": None,
    }
    description: ClassVar[str] = "DISTS deep structure and texture similarity distance; lower is better"

    def __init__(self, **overrides: Any) -> None:
        super().__init__(**overrides)
        _check_options(self.options)

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        if ref is None:
            raise InputError("dists needs a reference image")
        return dists(x, ref, **self.options)

    def signature(self) -> dict[str, Any]:
        sig = super().signature()
        sig["options"].pop("backbone_path", None)
        sig["options"].pop("heads_path", None)
        rule = "short>256->256:bilinear-aa;" if self.options["resize_256"] else ""
        sig["policy"] = f"{rule}max_pixels={self.options['max_pixels']}:bilinear-aa"
        return sig


# ------------------------------------------------------------------------------------------ CLIP
DEFAULT_CLIP_MODEL = "ViT-B-32"
DEFAULT_CLIP_PRETRAINED = "laion2b_s34b_b79k"


def clip_entry_name(model: str, pretrained: str) -> str:
    """The weights-table name of an open_clip (model, pretrained tag) pair."""
    norm = f"{model}_{pretrained}".lower().replace("-", "_").replace("/", "_").replace(".", "_")
    return f"open_clip_{norm}"


def ensure_clip_entry(model: str, pretrained: str) -> str:
    """Make sure the table has an entry for (model, pretrained); add one from open_clip's config if not.

    Returns:
        The entry name.

    Raises:
        MetricUnavailableError: open_clip knows no such pretrained tag.
    """
    from ..weights import get_entry, register_entry

    name = clip_entry_name(model, pretrained)
    try:
        get_entry(name)
        return name
    except WeightsError:
        pass
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model, pretrained)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(model)
        raise MetricUnavailableError(
            f"open_clip has no pretrained weights {pretrained!r} for model {model!r}; "
            f"known tags: {tags or 'none (unknown model?)'}"
        )
    hub = (cfg.get("hf_hub") or "").strip("/")
    sha_source = None  # no digest known: the download follows the declared-hash rule (paradigm.weights.download)
    if hub:
        urls = [f"https://huggingface.co/{hub}/resolve/main/open_clip_model.safetensors"]
        fmt, sha = "safetensors", None
        filename = f"open_clip_{model}_{pretrained}.safetensors"
    else:
        url = cfg.get("url") or ""
        urls = [url] if url else []
        fmt = "torch"
        parts = url.split("/")
        sha = parts[-2] if len(parts) > 2 and len(parts[-2]) == 64 else None
        if sha:  # OpenAI's URLs carry the file's sha256 (openai/CLIP clip/clip.py checks downloads against it)
            sha_source = f"the sha256 embedded in the download URL path ({url})"
        filename = f"open_clip_{model}_{pretrained}.pt"
    register_entry(
        name,
        {
            "filename": filename.replace("/", "_"),
            "urls": urls,
            "sha256": sha,
            "sha256_source": sha_source,
            "size": None,
            "licence": "see the open_clip pretrained model card",
            "source": f"open_clip {model} pretrained={pretrained!r} (added at runtime from open_clip's config)",
            "format": fmt,
            "model": {"library": "open_clip", "name": model, "pretrained": pretrained,
                      "quick_gelu": bool(cfg.get("quick_gelu", False))},
            "preprocess": {
                "mean": list(cfg.get("mean") or (0.48145466, 0.4578275, 0.40821073)),
                "std": list(cfg.get("std") or (0.26862954, 0.26130258, 0.27577711)),
                "interpolation": cfg.get("interpolation", "bicubic"),
                "crop": "center",
            },
        },
        replace=False,
    )
    return name


def _build_clip(model: str, entry_name: str, path: str | None) -> nn.Module:
    import open_clip

    from ..weights import get_entry

    entry = get_entry(entry_name)
    spec = entry.get("model", {})
    sd = _load(entry_name, path)
    if "state_dict" in sd and isinstance(sd["state_dict"], dict):  # pragma: no cover - training ckpts
        sd = sd["state_dict"]
    sd = {k[len("module.") :] if k.startswith("module.") else k: v for k, v in sd.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = open_clip.create_model(model, pretrained=None, force_quick_gelu=bool(spec.get("quick_gelu")))
    missing, unexpected = net.load_state_dict(sd, strict=False)
    if missing:
        raise WeightsError(
            f"CLIP checkpoint {entry_name!r} does not fit open_clip model {model!r}: missing {missing[:3]}"
        )
    if unexpected:
        log.info("CLIP checkpoint %s: ignoring unexpected keys %s", entry_name, unexpected[:5])
    return net


class _ClipImageEncoder(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.encode_image(x)  # type: ignore[operator]


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a = F.normalize(a.double(), dim=-1)
    b = F.normalize(b.double(), dim=-1)
    return (a * b).sum(-1)


class _ClipBase(EmbeddingMetric):
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    pillar = "stability"
    min_size: ClassVar[int] = 8
    defaults: ClassVar[Mapping[str, Any]] = {
        "model": DEFAULT_CLIP_MODEL,
        "pretrained": DEFAULT_CLIP_PRETRAINED,
        "precision": "fp32",
        "weights_path": None,
    }

    def __init__(self, **overrides: Any) -> None:
        super().__init__(**overrides)
        _check_options(self.options)

    @property
    def entry_name(self) -> str:
        return ensure_clip_entry(self.options["model"], self.options["pretrained"])

    def _model(self, device: torch.device) -> tuple[nn.Module, dict[str, Any], torch.dtype]:
        from ..weights import get_entry

        entry_name = self.entry_name
        dtype = _dtype_for(self.options["precision"], device)
        path = _where(entry_name, self.options["weights_path"])
        key = ("clip", self.options["model"], entry_name, path, str(device), dtype)
        enc = _cached_model(
            key, lambda: _ClipImageEncoder(_build_clip(self.options["model"], entry_name, path)).to(device, dtype)
        )
        pre = dict(get_entry(entry_name).get("preprocess") or {})
        return enc, pre, dtype

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-norm CLIP image embeddings ``(N, D)`` float64 of images ``(N, C, H, W)`` in [0, 1]."""
        from .base import check_image

        check_image(x)
        enc, pre, dtype = self._model(x.device)
        size = getattr(getattr(enc.net, "visual", None), "image_size", 224)
        size = int(size[0] if isinstance(size, (tuple, list)) else size)
        h = _center_crop(_resize_short(_rgb(x).float(), size, "bicubic"), size).clamp(0, 1)
        h = _normalise(h, pre.get("mean", (0.48145466, 0.4578275, 0.40821073)),
                       pre.get("std", (0.26862954, 0.26130258, 0.27577711)))
        with torch.inference_mode():
            e = enc(h.to(dtype))
        return F.normalize(e.double(), dim=-1)

    def compare(self, ex: torch.Tensor, eref: torch.Tensor) -> torch.Tensor:
        return _cosine(ex, eref)

    def signature(self) -> dict[str, Any]:
        sig = super().signature()
        sig["options"].pop("weights_path", None)
        sig["weights"] = [clip_entry_name(self.options["model"], self.options["pretrained"])]
        sig["policy"] = "short-side->input:bicubic-aa;center-crop;clip-mean-std"
        return sig


@register
class ClipSim(_ClipBase):
    """Cosine similarity of CLIP image embeddings of output and ground truth."""

    name: ClassVar[str] = "clip_sim"
    reference = "gt"
    weights: ClassVar[tuple[str, ...]] = (clip_entry_name(DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED),)
    description: ClassVar[str] = "cosine of open_clip ViT-B-32 image embeddings, output vs ground truth"


@register
class ClipSimInput(_ClipBase):
    """Cosine similarity of CLIP image embeddings of output and degraded input (semantic drift)."""

    name: ClassVar[str] = "clip_sim_input"
    reference = "input"
    weights: ClassVar[tuple[str, ...]] = (clip_entry_name(DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED),)
    description: ClassVar[str] = "cosine of open_clip image embeddings, output vs degraded input"


# ------------------------------------------------------------------------------------------ DINOv2
DINO_SIZES = {"s": "small", "b": "base", "l": "large"}
DINO_SHORT_SIDE = 224
DINO_MAX_LONG = 448


def _build_dino(entry_name: str, path: str | None) -> nn.Module:
    import timm
    from timm.models.vision_transformer import checkpoint_filter_fn

    from ..weights import get_entry

    spec = get_entry(entry_name).get("model") or {}
    arch = spec.get("name")
    if not arch:
        raise WeightsError(f"weights entry {entry_name!r} does not name its timm architecture (model.name)")
    kwargs = dict(spec.get("kwargs") or {})
    sd = _load(entry_name, path)
    net = timm.create_model(
        arch, pretrained=False, img_size=DINO_SHORT_SIDE, dynamic_img_size=True, num_classes=0, **kwargs
    )
    sd = checkpoint_filter_fn(sd, net)  # type: ignore[arg-type]
    sd = {k: v for k, v in sd.items() if not k.startswith("head.")}
    missing, unexpected = net.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise WeightsError(
            f"DINOv2 checkpoint {entry_name!r} does not fit timm {arch!r}: "
            f"missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]}"
        )
    return net


def _dino_resize(x: torch.Tensor, patch: int = 14) -> torch.Tensor:
    h, w = x.shape[-2:]
    s = DINO_SHORT_SIDE / min(h, w)
    if max(h, w) * s > DINO_MAX_LONG:
        s = DINO_MAX_LONG / max(h, w)
    nh = max(patch, round(h * s / patch) * patch)
    nw = max(patch, round(w * s / patch) * patch)
    return F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)


class _DinoBase(EmbeddingMetric):
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    pillar = "stability"
    min_size: ClassVar[int] = 8
    weights: ClassVar[tuple[str, ...]] = ("dinov2_vits14",)
    defaults: ClassVar[Mapping[str, Any]] = {"size": "s", "precision": "fp32", "weights_path": None}

    def __init__(self, **overrides: Any) -> None:
        super().__init__(**overrides)
        _check_options(self.options)
        if self.options["size"] not in DINO_SIZES:
            raise InputError(f"DINOv2 size must be one of {sorted(DINO_SIZES)}, got {self.options['size']!r}")

    @property
    def entry_name(self) -> str:
        return f"dinov2_vit{self.options['size']}14"

    def _tokens(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        from .base import check_image

        check_image(x)
        from ..weights import get_entry

        entry_name = self.entry_name
        dtype = _dtype_for(self.options["precision"], x.device)
        path = _where(entry_name, self.options["weights_path"])
        key = ("dino", entry_name, path, str(x.device), dtype)
        net = _cached_model(key, lambda: _build_dino(entry_name, path).to(x.device, dtype))
        pre = get_entry(entry_name).get("preprocess") or {}
        patch = int(net.patch_embed.patch_size[0])  # type: ignore[union-attr,index]
        h = _normalise(_dino_resize(_rgb(x).float(), patch), pre.get("mean", IMAGENET_MEAN), pre.get("std", IMAGENET_STD))
        with torch.inference_mode():
            tokens = net.forward_features(h.to(dtype))  # type: ignore[operator]
        return tokens.double(), int(getattr(net, "num_prefix_tokens", 1))

    def signature(self) -> dict[str, Any]:
        sig = super().signature()
        sig["options"].pop("weights_path", None)
        sig["weights"] = [self.entry_name]
        sig["policy"] = f"short-side->{DINO_SHORT_SIDE}(long<={DINO_MAX_LONG}):bicubic-aa;multiple-of-14;no-crop;imagenet-mean-std"
        return sig


class _DinoCls(_DinoBase):
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-norm DINOv2 CLS tokens ``(N, D)`` float64."""
        tokens, _ = self._tokens(x)
        return F.normalize(tokens[:, 0], dim=-1)

    def compare(self, ex: torch.Tensor, eref: torch.Tensor) -> torch.Tensor:
        return _cosine(ex, eref)


@register
class DinoSim(_DinoCls):
    """Cosine similarity of DINOv2 CLS tokens, output vs ground truth."""

    name: ClassVar[str] = "dino_sim"
    reference = "gt"
    description: ClassVar[str] = "cosine of DINOv2 ViT-S/14 CLS embeddings, output vs ground truth"


@register
class DinoSimInput(_DinoCls):
    """Cosine similarity of DINOv2 CLS tokens, output vs degraded input."""

    name: ClassVar[str] = "dino_sim_input"
    reference = "input"
    description: ClassVar[str] = "cosine of DINOv2 ViT-S/14 CLS embeddings, output vs degraded input"


@register
class DinoPatchSim(_DinoBase):
    """Mean cosine of corresponding DINOv2 patch tokens (sensitive to local structure)."""

    name: ClassVar[str] = "dino_patch_sim"
    reference = "gt"
    description: ClassVar[str] = "mean cosine of corresponding DINOv2 ViT-S/14 patch tokens vs ground truth"

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-norm patch tokens ``(N, P, D)`` float64."""
        tokens, prefix = self._tokens(x)
        return F.normalize(tokens[:, prefix:], dim=-1)

    def compare(self, ex: torch.Tensor, eref: torch.Tensor) -> torch.Tensor:
        if ex.shape != eref.shape:
            raise InputError(f"patch embeddings differ in shape {tuple(ex.shape)} vs {tuple(eref.shape)}")
        return (F.normalize(ex, dim=-1) * F.normalize(eref, dim=-1)).sum(-1).mean(-1)


def clip_sim(x: torch.Tensor, y: torch.Tensor, **options: Any) -> torch.Tensor:
    """Cosine of CLIP image embeddings; ``(N,)`` float64 in [-1, 1], 1 for identical images."""
    m = ClipSim(**options)
    return m(x, y)


def dino_sim(x: torch.Tensor, y: torch.Tensor, **options: Any) -> torch.Tensor:
    """Cosine of DINOv2 CLS embeddings; ``(N,)`` float64 in [-1, 1], 1 for identical images."""
    m = DinoSim(**options)
    return m(x, y)


def dino_patch_sim(x: torch.Tensor, y: torch.Tensor, **options: Any) -> torch.Tensor:
    """Mean cosine of corresponding DINOv2 patch tokens; ``(N,)`` float64 in [-1, 1]."""
    m = DinoPatchSim(**options)
    return m(x, y)
