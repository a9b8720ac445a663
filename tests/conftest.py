"""Shared test configuration.

- ``shared_dir``: the ``../shared`` data folder beside the repository (tests skip when it is absent).
- Every test runs offline and with private cache/weights folders: the network guard refuses any
  connection that is not to the loopback interface, so no test can download anything.
- The private cache folders (``TORCH_HOME``, ``HF_HOME``, ``XDG_CACHE_HOME``, ``PARADIGM_CACHE_DIR``)
  are set when this file is imported, i.e. before any test module is collected, so nothing that runs
  at import or collection time (or in a subprocess) can reach the user's ``~/.cache`` either.
- The home-cache guard: the user's cache folders (``~/.cache/torch``, ``~/.cache/huggingface``…) are
  listed before the session and compared after it, and an audit hook records every directory or
  file a test process creates there; either makes the session fail with the paths and where they
  were created.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import sys
import tempfile
import traceback
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"

# ----------------------------------------------------------------------------- user caches
#: The user's home, resolved before any variable is changed.
REAL_HOME = Path(os.path.expanduser("~")).resolve()
#: Cache folders of the user that no test may create or change (relative to the home).
GUARDED_CACHES: tuple[str, ...] = (
    ".cache/torch", ".cache/huggingface", ".cache/paradigm", ".cache/pyiqa", ".cache/clip", ".cache/open_clip",
    ".cache/timm", ".torch",
)
#: Largest number of entries listed per guarded folder (a huge cache is compared by its first entries).
_SNAPSHOT_LIMIT = 20_000


def snapshot_caches(home: Path, guarded: Iterable[str] = GUARDED_CACHES) -> set[str]:
    """Relative paths of every entry under the guarded cache folders of ``home`` (and those folders)."""
    out: set[str] = set()
    for rel in guarded:
        root = home / rel
        if not root.exists():
            continue
        out.add(rel)
        n = 0
        for dirpath, dirnames, filenames in os.walk(root):
            for name in (*dirnames, *filenames):
                out.add(str(Path(dirpath, name).relative_to(home)))
                n += 1
            if n > _SNAPSHOT_LIMIT:
                break
    return out


def cache_violation(event: str, args: tuple[object, ...], home: Path = REAL_HOME,
                    guarded: Iterable[str] = GUARDED_CACHES) -> str | None:
    """The path when an audit ``event`` creates a directory or writes a file in a guarded cache of ``home``."""
    if event == "os.mkdir":
        pass
    elif event == "open" and len(args) > 1 and isinstance(args[1], str) and any(c in args[1] for c in "wax+"):
        pass
    else:
        return None
    if not args or not isinstance(args[0], (str, bytes, os.PathLike)):
        return None
    path = os.path.abspath(os.fsdecode(args[0]))
    for rel in guarded:
        root = str(home / rel)
        if path == root or path.startswith(root + os.sep):
            return path
    return None


_VIOLATIONS: list[str] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event not in ("os.mkdir", "open"):
        return
    path = cache_violation(event, args)
    if path is not None and len(_VIOLATIONS) < 20:
        where = "".join(traceback.format_stack(limit=12)[:-2])
        _VIOLATIONS.append(f"{event} {path}\n{where}")


_SNAPSHOT_BEFORE = snapshot_caches(REAL_HOME)
_PRIVATE_ROOT = Path(tempfile.mkdtemp(prefix="paradigm-test-home-"))
PRIVATE_ENV = {
    "PARADIGM_OFFLINE": "1",
    "PARADIGM_CACHE_DIR": str(_PRIVATE_ROOT / "cache"),
    "TORCH_HOME": str(_PRIVATE_ROOT / "torch"),
    "HF_HUB_OFFLINE": "1",
    "HF_HOME": str(_PRIVATE_ROOT / "hf"),
    "XDG_CACHE_HOME": str(_PRIVATE_ROOT / "xdg"),
}
_SAVED_ENV = {k: os.environ.get(k) for k in PRIVATE_ENV}
os.environ.update(PRIVATE_ENV)  # now, before test modules are imported: collection-time code is covered too
sys.addaudithook(_audit)


def pytest_unconfigure(config: pytest.Config) -> None:
    for k, v in _SAVED_ENV.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    shutil.rmtree(_PRIVATE_ROOT, ignore_errors=True)


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
def _offline_and_private_caches():
    """No network, private caches/weights folders, and the user's caches untouched (checked at the end)."""
    # Real-weight tests look in the user's PARADIGM_WEIGHTS_DIR when they set one; keep it.
    os.environ.update(PRIVATE_ENV)
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    new = sorted(snapshot_caches(REAL_HOME) - _SNAPSHOT_BEFORE)
    if new or _VIOLATIONS:
        pytest.fail(
            "the tests touched the user's caches (they must only use the private folders set in tests/conftest.py):\n"
            + "".join(f"  created {REAL_HOME / p}\n" for p in new[:20])
            + "".join(f"  {v}\n" for v in _VIOLATIONS),
            pytrace=False,
        )


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
