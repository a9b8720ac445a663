"""``--backend ray``: the install hint, and the cluster cases run in a loopback-only network namespace.

Ray 2.x advertises the machine's interface address for its nodes even with
``--node-ip-address=127.0.0.1``, and this project's tests may address only 127.0.0.1. So the
cluster cases (``tests/ray_cluster_cases.py``: Ray equals local bit for bit, a killed worker is
retried, a killed driver resumes from the cache) run in a child ``pytest`` inside a fresh network
namespace (``unshare --net``) whose only interface is ``lo``: nothing there can leave the machine.
They run whenever Ray is installed (the ``dev`` extra installs it) and the namespace can be made
(root, or unprivileged user namespaces); otherwise they skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paradigm.engine import ScoreConfig, run_score
from paradigm.errors import InputError

CASES = Path(__file__).with_name("ray_cluster_cases.py")


def _netns_prefix() -> list[str] | None:
    """``unshare`` arguments that give a loopback-only network namespace here, or None."""
    exe = shutil.which("unshare")
    if exe is None:
        return None
    for prefix in ([exe, "--net"], [exe, "--user", "--map-root-user", "--net"]):
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return prefix
    return None


def test_ray_cluster_cases_on_loopback_only(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[dev]' or 'paradigm-iqa[ray]')")
    prefix = _netns_prefix()
    if prefix is None:
        pytest.skip("cannot create a network namespace here (unshare --net refused); run "
                    "PARADIGM_RAY_TESTS=1 pytest tests/ray_cluster_cases.py where Ray may use the interface")
    up = "ip link set lo up 2>/dev/null || ifconfig lo up 2>/dev/null || true"
    inner = (f"{up}; exec {sys.executable} -m pytest -q -p no:cacheprovider --basetemp={tmp_path / 'inner'} "
             f"{CASES}")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PARADIGM_RAY_TESTS", None)
    proc = subprocess.run([*prefix, "sh", "-c", inner], capture_output=True, text=True, timeout=900, env=env,
                          cwd=Path(__file__).resolve().parents[1])
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, tail
    assert " passed" in tail and "skipped" not in tail.splitlines()[-1], tail  # the cases ran, not skipped


def test_install_hint_without_ray(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for sub in ("gt", "res/a"):
        (tmp_path / sub).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / sub / "im0.png")
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InputError, match=r"paradigm-iqa\[ray\]"):
        run_score(ScoreConfig(results=tmp_path / "res", gt=tmp_path / "gt", metrics="psnr", cache=None,
                              progress=False, backend="ray"))
