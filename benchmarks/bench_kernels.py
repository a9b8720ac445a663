"""Per-metric kernel cost on one batch of realistic image pairs (no decoding, no engine).

Prints wall and CPU milliseconds per pair for each metric's registered class, on ``--batch``
pairs of ``--size`` made like ``bench_score.py``'s folders (scikit-image photos and their blurred,
noisy, down-up-sampled or colour-cast versions). Each metric gets fresh tensors, so nothing is shared
between metrics (in ``paradigm score`` SSIM and MS-SSIM share their first scale). Use it to
compare commits::

    python benchmarks/bench_kernels.py --size 512x384 --batch 8 --repeat 5
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch

DEFAULT_METRICS = "psnr,ssim,ms_ssim,gmsd,ciede2000,edge_f1"
#: The classical perceptual metrics (issue 14): ``--metrics classic``.
CLASSIC_METRICS = "fsim,fsimc,vif,vifp,vsi,nlpd,cw_ssim,piqe"
#: classical full-reference metrics of docs/metrics-fr-classic-2.md (DCT PSNRs, WSNR, MAD, NQM, VSNR): ``--metrics classic2``
CLASSIC2_METRICS = "psnr_hvs,psnr_hvs_m,psnr_ha,psnr_hma,psnrc,wsnr,mad,nqm,vsnr"
FAMILIES = {"default": DEFAULT_METRICS, "classic": CLASSIC_METRICS, "classic2": CLASSIC2_METRICS}
#: pyiqa's name (and options) for the same computation; pyiqa's ``fsim`` is chromatic (FSIMc) by default.
#: Metrics not listed here have no pyiqa implementation (vifp, the DCT PSNRs, WSNR, NQM, VSNR, ...).
PYIQA_NAMES: dict[str, tuple[str, dict[str, object]]] = {
    "psnr": ("psnr", {}), "ssim": ("ssim", {}), "ms_ssim": ("ms_ssim", {}), "gmsd": ("gmsd", {}),
    "fsim": ("fsim", {"chromatic": False}), "fsimc": ("fsim", {}), "vif": ("vif", {}), "vsi": ("vsi", {}),
    "nlpd": ("nlpd", {}), "cw_ssim": ("cw_ssim", {}), "piqe": ("piqe", {}), "mad": ("mad", {}),
}
NO_REFERENCE = {"piqe"}


def _best_ms(call: Callable[[], object], n: int, repeat: int) -> tuple[float, float]:
    """Fastest wall and CPU ms per pair of ``repeat`` calls of ``call()`` on a batch of ``n``."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        call()
        best_wall = min(best_wall, (time.perf_counter() - t) / n * 1000)
        best_cpu = min(best_cpu, (time.process_time() - c) / n * 1000)
    return best_wall, best_cpu


def time_pyiqa(name: str, x: torch.Tensor, ref: torch.Tensor, repeat: int) -> tuple[float, float] | None:
    """Best (wall, CPU) ms per pair of pyiqa's implementation of ``name``, or None (no pyiqa / no such metric)."""
    try:
        import pyiqa
    except ImportError:
        return None
    if name not in PYIQA_NAMES:
        return None
    pname, opts = PYIQA_NAMES[name]
    m = pyiqa.create_metric(pname, device="cpu", **opts)
    call = (lambda: m(x)) if name in NO_REFERENCE else (lambda: m(x, ref))
    with torch.no_grad():
        call()  # warm-up
        return _best_ms(call, x.shape[0], repeat)


def peer_child(path: str, metrics: list[str], repeat: int) -> None:
    """``--peer-child``: time pyiqa on the tensors saved in ``path``; print one JSON object (no paradigm import)."""
    import json

    x, ref = torch.load(path)
    out: dict[str, object] = {}
    for name in metrics:
        try:
            got = time_pyiqa(name, x, ref, repeat)
        except Exception as exc:  # noqa: BLE001 - report, go on with the next metric
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        out[name] = None if got is None else {"wall_ms": got[0], "cpu_ms": got[1]}
    try:
        import pyiqa

        out["_versions"] = {"pyiqa": pyiqa.__version__, "torch": torch.__version__}
    except ImportError:
        out["_versions"] = {"pyiqa": None, "torch": torch.__version__}
    print("PEER-JSON " + json.dumps(out))


def run_peer(peer_python: str, x: torch.Tensor, ref: torch.Tensor, metrics: list[str], repeat: int) -> dict:
    """Run :func:`peer_child` in ``peer_python`` (a venv with pyiqa) on the same tensors."""
    import json
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    wanted = [m for m in metrics if m in PYIQA_NAMES]
    if not wanted:
        return {}
    with tempfile.TemporaryDirectory(prefix="paradigm-kernels-") as tmp:
        f = Path(tmp) / "batch.pt"
        torch.save((x, ref), f)
        cmd = [peer_python, str(Path(__file__).resolve()), "--peer-child", str(f),
               "--metrics", ",".join(wanted), "--repeat", str(repeat)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("PEER-JSON ")), None)
    if line is None:
        sys.stderr.write(f"peer run failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}\n")
        return {}
    return dict(json.loads(line[len("PEER-JSON "):]))


def make_batch(n: int, w: int, h: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` output/reference pairs, ``(n, 3, h, w)`` float32 in [0, 1]: the same photos and
    degradations as ``bench_score.py`` (one method), kept in memory instead of written as PNG."""
    from bench_score import make_pairs

    outs, refs = [], []
    for gt, (out,) in make_pairs(n, (w, h), seed=seed):
        refs.append(torch.from_numpy(np.array(gt)).permute(2, 0, 1))
        outs.append(torch.from_numpy(np.array(out)).permute(2, 0, 1))
    return torch.stack(outs).float() / 255.0, torch.stack(refs).float() / 255.0


def _call_next(m: Callable[..., object], it: Iterator[tuple[torch.Tensor, torch.Tensor]]) -> object:
    return m(*next(it))


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="512x384", help="WxH")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per metric (the fastest is kept)")
    ap.add_argument("--metrics", default=DEFAULT_METRICS,
                    help="comma list, or 'classic' / 'classic2' for the classical FR sets of docs/metrics-fr-classic*.md")
    ap.add_argument("--pyiqa", action="store_true", help="also time pyiqa's implementation when it is importable")
    ap.add_argument("--peer-python", default=None,
                    help="python of a separate venv with pyiqa: time pyiqa there on the same tensors (saved to a temp .pt)")
    ap.add_argument("--out", default=None, help="write a JSON report here ('auto': benchmarks/results/kernels-FAMILY-CPU.json)")
    ap.add_argument("--peer-child", default=None, help=argparse.SUPPRESS)
    return ap.parse_args()


def _report(args: argparse.Namespace, family: str, rows: list[dict], peer: dict, start: dict) -> None:
    import json
    import os
    import platform
    import sys
    from pathlib import Path

    from bench_score import _cpu_flags, _cpu_model, machine_slug

    slug = machine_slug({"cpu_model": _cpu_model(), "cpu_flags": _cpu_flags()}, "cpu")
    out = args.out
    if out == "auto":
        out = str(Path(__file__).resolve().parent / "results" / f"kernels-{family}-{slug}.json")
    report = {
        "command": " ".join(sys.argv), **start, "ended_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpu": slug, "cpu_model": _cpu_model(), "cpu_flags": _cpu_flags(),
                    "cpus": os.cpu_count(), "platform": platform.platform(),
                    "torch_threads": torch.get_num_threads(), "loadavg_1min_at_end": round(os.getloadavg()[0], 2)},
        "versions": {"torch": torch.__version__, "peer": peer.get("_versions")},
        "timing": "in-memory batch (no decoding); best of --repeat; ratio = pyiqa ms / paradigm ms (CPU and wall)",
        "size": args.size, "batch": args.batch, "repeat": args.repeat, "rows": rows,
    }
    Path(out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


def main() -> None:
    args = _parse()
    family = args.metrics if args.metrics in FAMILIES else "custom"
    metrics = [m.strip() for m in FAMILIES.get(args.metrics, args.metrics).split(",") if m.strip()]
    if args.peer_child:
        peer_child(args.peer_child, metrics, args.repeat)
        return
    import os

    start = {"started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "loadavg_1min_at_start": round(os.getloadavg()[0], 2)}
    w, h = (int(v) for v in args.size.lower().split("x"))
    import paradigm

    x, ref = make_batch(args.batch, w, h)
    peer = run_peer(args.peer_python, x, ref, metrics, args.repeat) if args.peer_python else {}
    print(f"{args.batch} pairs of {w}x{h}, torch threads {torch.get_num_threads()}, best of {args.repeat}")
    print(f"{'metric':12s} {'wall ms/pair':>13s} {'cpu ms/pair':>12s}   pyiqa cpu ms/pair (ratio)")
    rows: list[dict] = []
    for name in metrics:
        m = paradigm.create_metric(name)
        m(x.clone(), ref.clone())  # warm-up (lazy loads, allocator)
        pairs = [(x.clone(), ref.clone()) for _ in range(args.repeat)]  # fresh tensors: no memo carries over
        wall, cpu = _best_ms(functools.partial(_call_next, m, iter(pairs)), args.batch, args.repeat)
        row: dict = {"metric": name, "paradigm_wall_ms": round(wall, 2), "paradigm_cpu_ms": round(cpu, 2)}
        got = peer.get(name)
        if args.pyiqa and not args.peer_python:
            t = time_pyiqa(name, x, ref, args.repeat)
            got = None if t is None else {"wall_ms": t[0], "cpu_ms": t[1]}
        if isinstance(got, dict) and "cpu_ms" in got:
            row.update(pyiqa_wall_ms=round(got["wall_ms"], 2), pyiqa_cpu_ms=round(got["cpu_ms"], 2),
                       ratio_cpu=round(got["cpu_ms"] / cpu, 2), ratio_wall=round(got["wall_ms"] / wall, 2))
            extra = f"   pyiqa {got['cpu_ms']:.2f} ({got['cpu_ms'] / cpu:.1f}x)"
        elif isinstance(got, dict):
            row["pyiqa_error"] = got.get("error")
            extra = f"   pyiqa failed: {got.get('error')}"
        else:
            row["pyiqa"] = "no pyiqa implementation" if name not in PYIQA_NAMES else "not timed"
            extra = "   pyiqa n/a"
        rows.append(row)
        print(f"{name:12s} {wall:13.2f} {cpu:12.2f}{extra}", flush=True)
    if args.out:
        _report(args, family, rows, peer, start)


if __name__ == "__main__":
    main()
