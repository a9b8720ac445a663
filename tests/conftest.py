"""Shared test configuration.

- ``shared_dir``: the ``../shared`` data folder beside the repository (tests skip when it is absent).
- Every test runs offline and with private cache/weights folders: the network guard refuses any
  connection that is not to the loopback interface, so no test can download anything.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
    elif isinstance(address, (str, bytes)):  # AF_UNIX
        return True
    else:
        return False
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise OSError(f"paradigm tests must not use the network (tried to connect to {address!r})")
    return _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise OSError(f"paradigm tests must not use the network (tried to connect to {address!r})")
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="session")
def _offline_and_private_caches(tmp_path_factory: pytest.TempPathFactory):
    """No network, and caches/weights folders that are private to the test session."""
    root = tmp_path_factory.mktemp("paradigm-home")
    env = {
        "PARADIGM_OFFLINE": "1",
        "PARADIGM_CACHE_DIR": str(root / "cache"),
        "TORCH_HOME": str(root / "torch"),
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(root / "hf"),
        "XDG_CACHE_HOME": str(root / "xdg"),
    }
    # Real-weight tests look in the user's PARADIGM_WEIGHTS_DIR when they set one; keep it.
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``../shared`` folder beside the repository; skips the test when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared test data not found at {SHARED} (clone the project beside its shared/ folder)")
    return SHARED


CHROMIUM = os.environ.get("PARADIGM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (no browser download); skips when absent."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        except Exception as exc:  # a browser that cannot start here is an environment problem
            pytest.skip(f"chromium at {CHROMIUM} does not start: {exc}")
        yield b
        b.close()
