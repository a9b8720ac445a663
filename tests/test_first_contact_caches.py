"""Tests never touch the user's caches (issue 16, item 6): private folders from collection time on,
and a guard that fails the session when something is created in ``~/.cache/torch`` & co."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REAL_HOME, cache_violation, snapshot_caches

#: The cache variables as they were when pytest imported (collected) this module.
AT_COLLECTION = {k: os.environ.get(k) for k in ("TORCH_HOME", "HF_HOME", "XDG_CACHE_HOME", "PARADIGM_CACHE_DIR")}
CONFTEST = Path(__file__).with_name("conftest.py")


def test_private_caches_are_set_before_collection():
    for k, v in AT_COLLECTION.items():
        assert v, f"{k} was not set while test modules were imported"
        assert not Path(v).resolve().is_relative_to(REAL_HOME / ".cache"), (k, v)
    import torch.hub

    assert not Path(torch.hub.get_dir()).resolve().is_relative_to(REAL_HOME), torch.hub.get_dir()


def test_snapshot_sees_a_new_checkpoints_folder(tmp_path):
    home = tmp_path / "home"
    (home / ".cache" / "pip").mkdir(parents=True)
    before = snapshot_caches(home)
    (home / ".cache" / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    new = snapshot_caches(home) - before
    assert ".cache/torch/hub/checkpoints" in new and ".cache/torch" in new


def test_audit_check_names_creations_in_guarded_caches(tmp_path):
    home = tmp_path / "home"
    hub = str(home / ".cache" / "torch" / "hub")
    assert cache_violation("os.mkdir", (hub, 0o777, -1), home=home) == hub
    assert cache_violation("open", (hub + "/x.pth", "wb", 0), home=home) == hub + "/x.pth"
    assert cache_violation("open", (hub + "/x.pth", "r", 0), home=home) is None  # reading is fine
    assert cache_violation("os.mkdir", (str(home / ".cache" / "pip" / "x"), 0o777, -1), home=home) is None
    assert cache_violation("os.mkdir", (str(tmp_path / "elsewhere"), 0o777, -1), home=home) is None


def test_guard_fails_a_session_that_creates_torch_hub_checkpoints(tmp_path):
    """End to end: a pytest session (with this conftest) whose test makes torch's hub folder in HOME fails."""
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy(CONFTEST, proj / "conftest.py")
    (proj / "test_leak.py").write_text(
        "import os\n"
        "def test_leak():\n"
        "    os.environ.pop('TORCH_HOME', None)\n"
        "    os.environ.pop('XDG_CACHE_HOME', None)\n"
        "    import torch.hub\n"
        "    os.makedirs(os.path.join(torch.hub.get_dir(), 'checkpoints'), exist_ok=True)\n",
        encoding="utf-8",
    )
    (proj / "test_clean.py").write_text("def test_clean():\n    assert True\n", encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    for k in ("TORCH_HOME", "XDG_CACHE_HOME", "HF_HOME"):
        env.pop(k, None)
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(proj)]
    clean = subprocess.run([*base, str(proj / "test_clean.py")], cwd=proj, env=env, capture_output=True, text=True,
                           timeout=300)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    leak = subprocess.run([*base, str(proj / "test_leak.py")], cwd=proj, env=env, capture_output=True, text=True,
                          timeout=300)
    out = leak.stdout + leak.stderr
    assert leak.returncode != 0, out
    assert "touched the user's caches" in out and ".cache/torch/hub/checkpoints" in out, out
