"""The glibc allocator tuning used by CPU scoring runs (``paradigm._alloc``)."""

from __future__ import annotations

import platform
import sys

import pytest

from paradigm import _alloc


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_alloc, "_done", None)


def test_opt_out_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARADIGM_MALLOC_TUNING", "0")
    assert _alloc.tune_malloc() is False


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_tuning_applies_once_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARADIGM_MALLOC_TUNING", raising=False)
    assert _alloc.tune_malloc() is True
    assert _alloc.tune_malloc() is True  # idempotent, no second mallopt call needed


def test_other_platforms_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARADIGM_MALLOC_TUNING", raising=False)
    monkeypatch.setattr(_alloc.sys, "platform", "darwin")
    assert _alloc.tune_malloc() is False
