"""pyiqa-backed NR-IQA metrics: optional dependency handling and weights wiring (no network, no pyiqa needed)."""
# ruff: noqa: F811  (fixtures imported from _tiny_weights are redefined as arguments)

from __future__ import annotations

import hashlib
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import torch
from _tiny_weights import offline_env  # noqa: F401  (fixture)

import paradigm
from paradigm.errors import InputError, MetricUnavailableError, WeightsNotFoundError
from paradigm.metrics import pyiqa_models
from paradigm.weights import get_entry, override_table

NAMES = ("musiq", "clipiqa", "topiq_nr", "maniqa", "nima")


def test_import_does_not_import_pyiqa() -> None:
    code = "import sys, paradigm.metrics.pyiqa_models; print('pyiqa' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_declarations() -> None:
    for name in NAMES:
        info = paradigm.metric_info(name)
        assert info["kind"] == "no-reference" and info["reference"] == "none"
        for w in info["weights"]:
            e = get_entry(w)
            assert e["urls"], w


@pytest.mark.parametrize("name", NAMES)
def test_missing_pyiqa_gives_install_hint(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pyiqa_models, "pyiqa_available", lambda: False)
    with pytest.raises(MetricUnavailableError, match=r'pip install "paradigm-iqa\[pyiqa\]"'):
        paradigm.create_metric(name)


def test_bad_variant() -> None:
    with pytest.raises(InputError, match="variant"):
        paradigm.create_metric("maniqa", variant="kadid")


class _FakeModel(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2, 3)).reshape(-1, 1) * 100


def _fake_pyiqa(calls: list[dict[str, Any]]) -> types.ModuleType:
    mod = types.ModuleType("pyiqa")

    def create_metric(name: str, as_loss: bool = False, device: Any = None, **kwargs: Any) -> torch.nn.Module:
        calls.append({"name": name, **kwargs})
        return _FakeModel()

    mod.create_metric = create_metric  # type: ignore[attr-defined]
    return mod


def test_weights_come_from_resolver(tmp_path: Path, offline_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a stand-in pyiqa module, the verified checkpoint path is what pyiqa receives."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setitem(sys.modules, "pyiqa", _fake_pyiqa(calls))
    monkeypatch.setattr(pyiqa_models, "pyiqa_available", lambda: True)
    monkeypatch.setattr(pyiqa_models, "_MODELS", {})
    data = b"fake maniqa checkpoint"
    (offline_env / "maniqa_pipal.pth").write_bytes(data)
    entry = {**get_entry("pyiqa_maniqa_pipal"), "filename": "maniqa_pipal.pth",
             "sha256": hashlib.sha256(data).hexdigest()}
    with override_table({"pyiqa_maniqa_pipal": entry}):
        m = paradigm.create_metric("maniqa", variant="pipal")
        x = torch.rand(3, 3, 40, 48)
        v = m(x)
        assert v.shape == (3,) and v.dtype == torch.float64
        assert torch.allclose(v, x.mean(dim=(1, 2, 3)).double() * 100, atol=1e-4)
        assert calls == [{"name": "maniqa-pipal", "pretrained_model_path": str((offline_env / "maniqa_pipal.pth").resolve())}]
        assert m.signature()["weights"] == ["pyiqa_maniqa_pipal"]
        with pytest.raises(InputError):
            m(torch.rand(1, 3, 16, 16))
    # the checkpoint missing offline: the resolver's actionable error, before pyiqa is touched
    monkeypatch.setattr(pyiqa_models, "_MODELS", {})
    with pytest.raises(WeightsNotFoundError, match="musiq_koniq_ckpt-e95806b9.pth"):
        paradigm.create_metric("musiq")(torch.rand(1, 3, 64, 64))


def test_clipiqa_prompts_loaded_from_resolver(offline_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    fake = _fake_pyiqa(calls)
    learner = types.SimpleNamespace(ctx=torch.nn.Parameter(torch.zeros(2, 16, 8)))

    def create_metric(name: str, as_loss: bool = False, device: Any = None, **kwargs: Any) -> torch.nn.Module:
        calls.append({"name": name, **kwargs})
        model = _FakeModel()
        model.net = types.SimpleNamespace(prompt_learner=learner)  # type: ignore[assignment]
        return model

    fake.create_metric = create_metric  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyiqa", fake)
    monkeypatch.setattr(pyiqa_models, "pyiqa_available", lambda: True)
    monkeypatch.setattr(pyiqa_models, "_MODELS", {})
    prompts = torch.randn(2, 16, 8)
    torch.save(prompts, offline_env / "prompts.pth")
    data = (offline_env / "prompts.pth").read_bytes()
    entry = {**get_entry("pyiqa_clipiqa_plus"), "filename": "prompts.pth", "sha256": hashlib.sha256(data).hexdigest()}
    with override_table({"pyiqa_clipiqa_plus": entry}):
        assert paradigm.create_metric("clipiqa")(torch.rand(2, 3, 64, 64)).shape == (2,)
    assert calls == [{"name": "clipiqa+", "pretrained": False}]
    assert torch.equal(learner.ctx.data, prompts)


def test_real_pyiqa_if_installed(offline_env: Path) -> None:
    if not pyiqa_models.pyiqa_available():
        pytest.skip(f"pyiqa is not installed (optional extra: {pyiqa_models.INSTALL_HINT})")
    with pytest.raises(MetricUnavailableError):  # offline and no checkpoint in the temporary dirs
        paradigm.create_metric("musiq")(torch.rand(1, 3, 64, 64))
