"""``--backend ray`` on a local two-node Ray cluster (head + one worker raylet, loopback only).

Not collected by a plain ``pytest`` run: ``tests/test_ray_backend.py`` runs this file in a fresh
network namespace whose only interface is loopback (``unshare --net``), because Ray 2.x advertises
the machine's interface address for its nodes even when asked for 127.0.0.1, and this project's
tests may only address 127.0.0.1. To run it directly (a developer machine where that is fine)::

    PARADIGM_RAY_TESTS=1 python -m pytest tests/ray_cluster_cases.py

The cluster is started once per module and stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image


def _loopback_only() -> bool:
    """True when no route leaves the machine (inside ``unshare --net`` with only ``lo`` up)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: connect() on UDP sends nothing, it only routes
        except OSError:
            return True
    return False


if not (os.environ.get("PARADIGM_RAY_TESTS") or _loopback_only()):
    pytest.skip(
        "run through tests/test_ray_backend.py (a loopback-only network namespace) or with PARADIGM_RAY_TESTS=1",
        allow_module_level=True,
    )
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'paradigm-iqa[ray]')")

pytestmark = pytest.mark.ray

from paradigm.engine import ScoreConfig, run_score  # noqa: E402

METRICS = "psnr,ssim,ciede2000,edge_f1"
RAY_ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_DISABLE_DOCKER_CPU_WARNING": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray(*args: str, timeout: int = 180) -> None:
    exe = Path(sys.executable).with_name("ray")
    proc = subprocess.run([str(exe), *args], env=RAY_ENV, timeout=timeout, capture_output=True, text=True)
    assert proc.returncode == 0, f"ray {' '.join(args)} failed:\n{(proc.stdout + proc.stderr)[-3000:]}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    port = _free_port()
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    common = ["--num-cpus=1", "--object-store-memory=80000000", "--node-ip-address=127.0.0.1"]
    _ray("start", "--head", f"--port={port}", "--include-dashboard=false", "--disable-usage-stats",
         f"--temp-dir={temp}", *common)
    address = f"127.0.0.1:{port}"
    try:
        _ray("start", f"--address={address}", *common)
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        _ray("stop", "--force", timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def _tree(root: Path, n: int = 6, size: int = 96) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        gt = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        (root / "gt").mkdir(parents=True, exist_ok=True)
        Image.fromarray(gt).save(root / "gt" / f"im{i}.png")
        for m, noise in (("a", 4), ("b", 12)):
            out = np.clip(gt.astype(int) + rng.integers(-noise, noise + 1, gt.shape), 0, 255).astype(np.uint8)
            (root / "res" / m).mkdir(parents=True, exist_ok=True)
            Image.fromarray(out).save(root / "res" / m / f"im{i}.png")
    (root / "res" / "b" / "im0.png").write_bytes(b"not a png")  # one bad file: one error row on a worker


def _cfg(root: Path, **kw: object) -> ScoreConfig:
    return ScoreConfig(results=root / "res", gt=root / "gt", metrics=METRICS, cache=None, progress=False, **kw)


def _same(a: object, b: object) -> None:
    pd.testing.assert_frame_equal(a.scores, b.scores, check_exact=True)  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(a.errors, b.errors)  # type: ignore[attr-defined]
    sa, sb = dict(a.run_info["signature"]), dict(b.run_info["signature"])  # type: ignore[attr-defined]
    assert sb.pop("backend") == "ray" and "backend" not in sa
    assert sa == sb


def test_ray_equals_local_bit_for_bit(cluster: str, tmp_path: Path) -> None:
    _tree(tmp_path)
    local = run_score(_cfg(tmp_path, pairs_per_unit=2))
    remote = run_score(_cfg(tmp_path, backend="ray", ray_address=cluster, pairs_per_unit=2))
    _same(local, remote)
    assert remote.errors.stage.tolist() == ["decode"]
    assert "backend:ray" in remote.run_info["signature_line"]


def _worker_pids() -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "ray::score_unit_task" in line]


def test_a_worker_killed_mid_run_is_retried(cluster: str, tmp_path: Path) -> None:
    _tree(tmp_path, n=12, size=256)
    local = run_score(_cfg(tmp_path, pairs_per_unit=2))
    import threading

    killed: list[int] = []

    def killer() -> None:
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            for pid in _worker_pids():
                try:
                    os.kill(pid, 9)
                    killed.append(pid)
                except ProcessLookupError:
                    continue
                break
            time.sleep(0.02)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    remote = run_score(_cfg(tmp_path, backend="ray", ray_address=cluster, pairs_per_unit=2))
    t.join(timeout=1)
    assert killed, "no running task was found to kill"
    _same(local, remote)


DRIVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from paradigm.engine import ScoreConfig, run_score
    root = Path(sys.argv[1])
    res = run_score(ScoreConfig(results=root / "res", gt=root / "gt", metrics=sys.argv[3], cache=str(root / "c.sqlite"),
                                progress=False, backend="ray", ray_address=sys.argv[2], pairs_per_unit=2))
    print(res.run_info["counts"]["cached"], res.run_info["counts"]["computed"])
    """
)


def _cached_rows(db: Path) -> int:
    try:
        with sqlite3.connect(db) as con:
            return int(con.execute("SELECT COUNT(*) FROM scores").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_a_killed_driver_resumes_from_the_cache(cluster: str, tmp_path: Path) -> None:
    _tree(tmp_path, n=12, size=256)
    args = [sys.executable, "-c", DRIVER, str(tmp_path), cluster, METRICS]
    proc = subprocess.Popen(args, env=RAY_ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and _cached_rows(tmp_path / "c.sqlite") == 0:
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=60)
    done_before = _cached_rows(tmp_path / "c.sqlite")
    assert done_before > 0
    out = subprocess.run(args, env=RAY_ENV, capture_output=True, text=True, timeout=600, check=True).stdout
    cached, computed = (int(v) for v in out.split()[-2:])
    assert cached >= done_before and computed > 0
    local = run_score(_cfg(tmp_path, pairs_per_unit=2))
    resumed = run_score(ScoreConfig(results=tmp_path / "res", gt=tmp_path / "gt", metrics=METRICS,
                                    cache=str(tmp_path / "c.sqlite"), progress=False, pairs_per_unit=2))
    assert resumed.run_info["counts"]["computed"] == 0  # everything was stored by the two driver runs
    pd.testing.assert_frame_equal(local.scores, resumed.scores, check_exact=True)
