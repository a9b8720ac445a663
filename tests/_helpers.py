"""Helpers shared by several test modules (imported as ``from _helpers import ...``)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

#: Guards the call counters of test metrics: a CPU run computes several batches at once in threads.
COUNT_LOCK = threading.Lock()


def isolate_engine(monkeypatch: pytest.MonkeyPatch, metrics: Iterable[type]) -> None:
    """Register test-only metrics for one test (a composite then has none of its metrics: none is computed)."""
    from paradigm.metrics import registry

    registry._load_all()
    for cls in metrics:
        monkeypatch.setitem(registry._REGISTRY, cls.name, cls)  # type: ignore[attr-defined]


def spy_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every path :func:`paradigm.io.read_image` decodes from now on (for "a rerun decodes nothing")."""
    import paradigm.io

    read: list[str] = []
    real = paradigm.io.read_image

    def spy(path: object, *a: object, **k: object) -> object:
        read.append(str(path))
        return real(path, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(paradigm.io, "read_image", spy)
    return read


def save_random_png(path: Path, seed: int, size: int = 16) -> None:
    """Write a seeded random RGB PNG of ``size`` x ``size`` px."""
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(a).save(path)


def screenshot(page: Any, tmp_path: Path, name: str) -> None:
    """Full-page screenshot into ``tmp_path`` (and ``$PARADIGM_SCREENSHOT_DIR`` when set)."""
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    keep = os.environ.get("PARADIGM_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / name)
