"""One contract for every registered metric (after torchmetrics' ``MetricTester``).

Parametrised over ``list_metrics()``, so a new metric gets these tests by being registered:

- its spec validates and the committed manifest is in sync with the classes;
- outputs are ``(N,)`` float64 per declared column, inside the declared range;
- identical inputs give the ideal value (the better end of a full-reference column's range) where
  the range has one;
- a batch of 8 equals 8 single-image calls within 1e-6, and two calls agree exactly;
- bad input (no batch dimension, mismatched shapes) raises :class:`paradigm.errors.InputError`;
- the signature is stable across instances;
- an ``error_map()`` (heat map) is declared iff implemented, is ``(N, H, W)`` float64 in [0, 1] and
  finite, all zeros for identical inputs, and per image (a batch equals its singles).

Metrics whose weights are not available offline are skipped with the resolver's reason.
"""

from __future__ import annotations

import math

import pytest
import torch
from _tiny_weights import TINY_CLIP, TINY_CLIP_TAG, tiny_env, tiny_files  # noqa: F401

import paradigm
from paradigm.errors import InputError, MetricUnavailableError, ParadigmError
from paradigm.metrics.base import Metric
from paradigm.metrics.manifest import registered_manifest
from paradigm.metrics.registry import get_metric_class, list_metrics
from paradigm.metrics.spec import MANIFEST_PATH, load_manifest, manifest_text

NAMES = list_metrics()
SLACK = 1e-6
#: Options that point model metrics at the tiny, randomly initialised checkpoints of _tiny_weights.
TINY_OPTIONS = {
    "clip_sim": {"model": TINY_CLIP, "pretrained": TINY_CLIP_TAG},
    "clip_sim_input": {"model": TINY_CLIP, "pretrained": TINY_CLIP_TAG},
}


@pytest.fixture(autouse=True)
def _weights(request: pytest.FixtureRequest) -> None:
    """Metrics that need model weights run on tiny checkpoints through the real resolver (offline)."""
    name = request.node.callspec.params.get("name") if hasattr(request.node, "callspec") else None
    if name is not None and get_metric_class(name).weights:
        request.getfixturevalue("tiny_env")


def _texture(n: int, size: int, seed: int, channels: int = 3) -> torch.Tensor:
    """Smooth random texture in [0, 1] with edges at several scales (deterministic)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, channels, size // 8, size // 8, generator=g, dtype=torch.float64)
    coarse = torch.nn.functional.interpolate(base, size=(size, size), mode="bicubic", align_corners=False)
    fine = torch.rand(n, channels, size, size, generator=g, dtype=torch.float64)
    return (0.8 * coarse + 0.2 * fine).clamp(0, 1).float()


def _size(cls: type) -> int:
    return max(64, int(math.ceil(cls.min_size / 8) * 8))


def _inputs(name: str, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    cls = get_metric_class(name)
    spec = cls.spec()
    size = _size(cls)
    ref = _texture(n, size, seed=1)
    g = torch.Generator().manual_seed(2)
    x = (ref + 0.05 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
    if spec.reference == "none":
        return x, None
    if spec.reference == "two-inputs":
        other = _texture(n, size, seed=3)
        return x, torch.cat([ref, other], dim=1)
    return x, ref


def _metric(name: str) -> paradigm.metrics.base.Metric:
    try:
        return paradigm.create_metric(name, **TINY_OPTIONS.get(name, {}))
    except MetricUnavailableError as exc:
        pytest.skip(f"{name}: {exc}")


def _call(m, x, ref):  # type: ignore[no-untyped-def]
    try:
        with torch.no_grad():
            out = m(x, ref)
    except MetricUnavailableError as exc:
        pytest.skip(f"{m.name}: {exc}")
    return out if isinstance(out, dict) else {m.name: out}


def test_manifest_in_sync_with_registered_classes() -> None:
    assert MANIFEST_PATH.read_text(encoding="utf-8") == manifest_text(registered_manifest()), (
        "paradigm/metrics/manifest.json is stale: run `python -m paradigm.metrics.manifest --write`"
    )
    assert set(load_manifest().names()) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_spec_is_complete(name: str) -> None:
    spec = get_metric_class(name).spec()
    assert spec.name == name and spec.version and spec.description
    lo, hi = spec.value_range
    assert lo < hi
    for c in spec.columns:
        assert c.value_range[0] < c.value_range[1], c
    if spec.pillar == "diagnostic":
        assert not spec.composable


@pytest.mark.parametrize("name", NAMES)
def test_output_shape_dtype_range_and_columns(name: str) -> None:
    m = _metric(name)
    x, ref = _inputs(name, 2)
    out = _call(m, x, ref)
    spec = m.spec()
    assert set(out) == set(spec.column_names)
    for c in spec.columns:
        v = out[c.name]
        assert isinstance(v, torch.Tensor) and v.shape == (2,) and v.dtype == torch.float64, (c.name, v)
        lo, hi = c.value_range
        finite = v[torch.isfinite(v)]
        assert bool(((finite >= lo - 1e-3) & (finite <= hi + 1e-3)).all()), (c.name, v, c.value_range)


@pytest.mark.parametrize("name", NAMES)
def test_identical_inputs_give_the_ideal_value(name: str) -> None:
    spec = get_metric_class(name).spec()
    if spec.kind == "no-reference" or spec.reference in ("none", "two-inputs"):
        pytest.skip("no ideal value: not a full-reference comparison")
    m = _metric(name)
    x, _ = _inputs(name, 2)
    out = _call(m, x, x.clone())
    for k, c in enumerate(spec.columns):
        if c.higher_is_better is None:
            continue
        ideal = spec.ideal_value if k == 0 else (c.value_range[1] if c.higher_is_better else c.value_range[0])
        assert ideal is not None
        v = out[c.name]
        if math.isinf(ideal):
            assert bool(torch.isinf(v).all() or (v.abs() > 60).all()), (c.name, v)
        else:
            assert torch.allclose(v, torch.full_like(v, ideal), atol=1e-4), (c.name, v, ideal)


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_singles_and_is_deterministic(name: str) -> None:
    m = _metric(name)
    x, ref = _inputs(name, 8)
    batch = _call(m, x, ref)
    again = _call(m, x, ref)
    for col, v in batch.items():
        assert torch.equal(torch.nan_to_num(v), torch.nan_to_num(again[col])), col
    for i in range(8):
        one = _call(m, x[i : i + 1], None if ref is None else ref[i : i + 1])
        for col, v in one.items():
            a, b = float(v[0]), float(batch[col][i])
            if math.isinf(a) or math.isinf(b):
                assert a == b, (col, i, a, b)
            else:
                assert abs(a - b) <= SLACK * max(1.0, abs(a)), (col, i, a, b)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_raises_input_error(name: str) -> None:
    m = _metric(name)
    x, ref = _inputs(name, 1)
    with pytest.raises((InputError, MetricUnavailableError)):
        m(x[0], None if ref is None else ref[0])  # no batch dimension
    if ref is not None:
        with pytest.raises((InputError, MetricUnavailableError)):
            m(x, ref[..., :-8, :])  # shapes differ
    with pytest.raises(ParadigmError):
        m((x * 255).to(torch.uint8), ref)  # not float in [0,1]


@pytest.mark.parametrize("name", NAMES)
def test_signature_is_stable(name: str) -> None:
    a, b = _metric(name), _metric(name)
    assert a.signature() == b.signature()
    assert a.signature()["version"] == get_metric_class(name).spec().version


@pytest.mark.parametrize("name", NAMES)
def test_error_map_contract(name: str) -> None:
    cls = get_metric_class(name)
    implemented = cls.error_map is not Metric.error_map
    assert implemented == cls.spec().has_error_map, "set error_map_kind exactly when error_map() is overridden"
    if not implemented:
        return
    assert cls.spec().reference in ("gt", "input"), "error maps compare an output with one reference"
    m = _metric(name)
    x, ref = _inputs(name, 3)
    assert ref is not None
    with torch.no_grad():
        em = m.error_map(x, ref)
        zero = m.error_map(x, x.clone())
        one = m.error_map(x[1:2], ref[1:2])
    assert isinstance(em, torch.Tensor) and em.shape == (3, *x.shape[-2:]) and em.dtype == torch.float64
    assert bool(torch.isfinite(em).all()) and float(em.min()) >= 0.0 and float(em.max()) <= 1.0
    assert float(em.max()) > 0.0  # the noisy output differs somewhere
    assert zero is not None and float(zero.abs().max()) <= SLACK  # identical inputs: no error anywhere
    assert one is not None and torch.allclose(one[0], em[1], atol=SLACK)
