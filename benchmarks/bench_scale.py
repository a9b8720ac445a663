"""Local vs Ray: the same folder scored in this process and on a local Ray cluster of 1 and 2 worker nodes.

The script starts the clusters itself on this machine (a head node with no CPUs, so tasks run only on
the worker raylets), scores the same generated folder with the same metrics and no cache, checks the
scores are identical to the local run, and stops every Ray process at the end. It reports pairs/s,
the scaling ratio (2 workers vs 1) and the driver's CPU seconds per pair (planning, collecting and
waiting; the workers are other processes). Results go to a JSON file with the machine's CPU model.

    python benchmarks/bench_scale.py --pairs 96 --size 384x256 --out benchmarks/results/scale-cpu-amd-epyc.json

On this project's 2-core machines two worker raylets already use every core, so the figures show
the backend's overhead and that scores do not change, not a cluster's speed-up.

Ray advertises the machine's interface address for its nodes even with ``--node-ip-address``; so
that nothing leaves the machine, the script re-runs itself in a fresh network namespace whose only
interface is loopback (``unshare --net``; root or unprivileged user namespaces) when it can, and
records whether it did (``--no-netns`` runs it in place).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_score import _cpu_model, make_folder  # noqa: E402

METRICS = "psnr,ssim,ms_ssim,gmsd,ciede2000,edge_f1"
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}


def _ray(*args: str) -> None:
    exe = Path(sys.executable).with_name("ray")
    subprocess.run([str(exe), *args], check=True, env=ENV, capture_output=True, timeout=300)


def _ray_version() -> str:
    import ray

    return str(ray.__version__)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _score(root: Path, metrics: str, **kw: Any) -> tuple[Any, float, float]:
    from paradigm.engine import ScoreConfig, run_score

    cfg = ScoreConfig(results=root / "results", gt=root / "gt", metrics=metrics, cache=None, progress=False, **kw)
    w0, c0 = time.perf_counter(), time.process_time()
    res = run_score(cfg)
    return res, time.perf_counter() - w0, time.process_time() - c0


def _cluster_run(root: Path, metrics: str, workers: int, pairs_per_unit: int, tmp: Path) -> dict[str, Any]:
    import ray

    port = _port()
    common = ["--object-store-memory=100000000", "--node-ip-address=127.0.0.1"]
    _ray("start", "--head", f"--port={port}", "--num-cpus=0", "--include-dashboard=false",
         "--disable-usage-stats", f"--temp-dir={tmp / f'ray{workers}'}", *common)
    try:
        for _ in range(workers):
            _ray("start", f"--address=127.0.0.1:{port}", "--num-cpus=1", *common)
        kw = {"backend": "ray", "ray_address": f"127.0.0.1:{port}", "pairs_per_unit": pairs_per_unit}
        _score(root, metrics, **kw)  # warm: workers import paradigm and build the metrics once
        res, wall, cpu = _score(root, metrics, **kw)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        _ray("stop", "--force")
    n = int(res.run_info["counts"]["rows"])
    return {"workers": workers, "pairs": n, "seconds": round(wall, 3), "pairs_per_s": round(n / wall, 2),
            "driver_cpu_ms_per_pair": round(1000 * cpu / n, 2), "scores": res.scores}


def _loopback_only() -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # routing only: a UDP connect sends nothing
        except OSError:
            return True
    return False


def _reexec_in_netns() -> None:
    """Replace this process by itself inside a loopback-only network namespace, when one can be made."""
    for prefix in (["unshare", "--net"], ["unshare", "--user", "--map-root-user", "--net"]):
        try:
            ok = subprocess.run([*prefix, "true"], capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            cmd = " ".join(["exec", sys.executable, *map(shlex.quote, sys.argv)])
            os.execvp(prefix[0], [*prefix, "sh", "-c", f"ip link set lo up 2>/dev/null || true; {cmd}"])
    print("warning: no network namespace could be made; Ray may advertise the interface address", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=96)
    ap.add_argument("--size", default="384x256")
    ap.add_argument("--metrics", default=METRICS)
    ap.add_argument("--pairs-per-unit", type=int, default=8)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--no-netns", action="store_true", help="do not re-run in a loopback-only network namespace")
    args = ap.parse_args()
    if not args.no_netns and not _loopback_only():
        _reexec_in_netns()
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        make_folder(tmp, args.pairs, (w, h), methods=("m0", "m1"))
        _score(tmp, args.metrics)  # warm imports and allocator
        local, wall, _ = _score(tmp, args.metrics)
        runs = [_cluster_run(tmp, args.metrics, k, args.pairs_per_unit, tmp) for k in (1, 2)]
    n = int(local.run_info["counts"]["rows"])
    same = all(r.pop("scores").equals(local.scores) for r in runs)
    doc = {
        "machine": {"cpu_model": _cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "ray": _ray_version(), "loopback_only_namespace": _loopback_only()},
        "command": "python benchmarks/bench_scale.py " + " ".join(sys.argv[1:]),
        "metrics": args.metrics, "size": args.size,
        "local": {"pairs": n, "seconds": round(wall, 3), "pairs_per_s": round(n / wall, 2)},
        "ray": runs,
        "scaling_2_vs_1_worker": round(runs[1]["pairs_per_s"] / runs[0]["pairs_per_s"], 2),
        "ray2_vs_local": round(runs[1]["pairs_per_s"] / (n / wall), 2),
        "scores_identical_to_local": same,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
