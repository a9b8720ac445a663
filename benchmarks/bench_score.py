"""Throughput and memory benchmark: paradigm against the tools users would otherwise run.

Generates a results folder of N pairs (PNG, scikit-image sample content with varied degradations),
then measures, in one run and on the same files, each stage in its own child process (so peak
memory is per stage):

1. ``paradigm-fid``: paradigm's fidelity/structure set (psnr, ssim, ms_ssim, gmsd, ciede2000, edge_f1), cold cache;
2. ``paradigm-fid4``: paradigm on the four metrics shared with the peers (psnr, ssim, ms_ssim, gmsd), cold cache;
3. ``pyiqa``: the same four metrics computed by pyiqa one metric at a time through its file-path API;
4. ``piq`` / ``torchmetrics``: the same four on tensors decoded in advance (decoding not timed);
5. ``decode``: decoding alone (paradigm's decoder, one thread) — the floor for any tool;
   ``decode-pillow``: decoding alone as Pillow-based readers do it (``Image.open().convert("RGB")``, then float);
6. ``paradigm-models``: LPIPS, DISTS, CLIP, DINOv2 with randomly initialised weights of the real architectures;
   ``paradigm-default``: the full default metric set the same way (not in the default ``--stages``);
7. ``paradigm-cached``: a second run on the unchanged folder; ``paradigm-add-method``: a run after adding one method.

It prints pairs/s, wall time and peak RSS per stage and the ratios paradigm/peer, and writes them to JSON.
Timings exclude interpreter start-up, imports and one-time runtime set-up (CUDA context, numba CPU target; each
child times only the work), which is stated in the JSON.

The JSON records the machine (CPU model and SIMD flags, cores, torch threads, GPU) and by default
is written to ``benchmarks/results/<device>-<cpu or gpu slug>-<pairs>x<W>x<H>.json``, one file per
machine and run; ``benchmarks/render_table.py`` renders them, one block per machine.

Example:
    python benchmarks/bench_score.py --pairs 200 --size 512x384 --peer-python /path/to/venv-with-pyiqa/bin/python
    python benchmarks/bench_score.py --memory-check 200,2000 --size 512x384 --stages paradigm-fid
    python benchmarks/bench_score.py --device cuda --stages gpu --pairs 2000 --size 512x512 --precision bf16
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FID_SET = "psnr,ssim,ms_ssim,gmsd,ciede2000,edge_f1"
SHARED4 = "psnr,ssim,ms_ssim,gmsd"
MODEL_SET = "lpips,dists,clip_sim,dino_sim"
ALL_STAGES = (
    "decode",
    "decode-pillow",
    "paradigm-fid",
    "paradigm-fid4",
    "paradigm-cached",
    "paradigm-add-method",
    "pyiqa",
    "piq",
    "torchmetrics",
    "paradigm-models",
)
#: stages run by ``--stages gpu`` (``--device cuda``): every paradigm stage of issue 20's GPU record
GPU_STAGES = ("decode", "paradigm-fid", "paradigm-models", "paradigm-default")
#: /proc/cpuinfo flags recorded with every result (what the CPU kernels can use)
CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile")

# ----------------------------------------------------------------------------------------------
# data


def _samples() -> list[Any]:
    import numpy as np
    from skimage import data

    imgs = []
    for name in ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "retina", "camera", "page"):
        a = getattr(data, name)()
        if a.ndim == 2:
            a = np.stack([a] * 3, -1)
        imgs.append(a[..., :3])
    return imgs


def _degrade(img: Any, kind: int, rng: Any) -> Any:
    import numpy as np
    from PIL import Image, ImageFilter

    im = Image.fromarray(img)
    if kind == 0:  # blur
        im = im.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.8, 2.0))))
    elif kind == 1:  # noise
        a = img.astype(np.float32) + rng.normal(0, rng.uniform(5, 15), img.shape)
        im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    elif kind == 2:  # down-up (super-resolution-like)
        w, h = im.size
        im = im.resize((w // 4, h // 4), Image.Resampling.BICUBIC).resize((w, h), Image.Resampling.BICUBIC)
    else:  # colour cast + sharpening
        a = img.astype(np.float32) * np.array([0.95, 1.0, 1.08]) + 6
        im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).filter(ImageFilter.UnsharpMask(2, 120))
    return np.asarray(im)


def make_pairs(n: int, size: tuple[int, int], methods: tuple[str, ...] = ("m0",), seed: int = 0) -> Iterator[tuple[Any, list[Any]]]:
    """Yield ``(gt, [output per method])`` uint8 ``(H, W, 3)`` arrays for n pairs: random crops of
    the sample photos, each output one of the four degradations."""
    import numpy as np
    from PIL import Image

    w, h = size
    rng = np.random.default_rng(seed)
    srcs = _samples()
    for i in range(n):
        src = srcs[i % len(srcs)]
        scale = max(w / src.shape[1], h / src.shape[0]) * rng.uniform(1.0, 1.4)
        im = Image.fromarray(src).resize((int(src.shape[1] * scale) + 1, int(src.shape[0] * scale) + 1), Image.Resampling.BICUBIC)
        x0 = int(rng.integers(0, im.size[0] - w + 1))
        y0 = int(rng.integers(0, im.size[1] - h + 1))
        gt = np.asarray(im.crop((x0, y0, x0 + w, y0 + h)))
        yield gt, [_degrade(gt, (i + j) % 4, rng) for j in range(len(methods))]


def make_folder(root: Path, n: int, size: tuple[int, int], methods: tuple[str, ...] = ("m0",), seed: int = 0) -> None:
    """Write ``root/gt/img_XXXXX.png`` and ``root/results/<method>/img_XXXXX.png`` for n pairs."""
    from PIL import Image

    (root / "gt").mkdir(parents=True, exist_ok=True)
    for m in methods:
        (root / "results" / m).mkdir(parents=True, exist_ok=True)
    for i, (gt, outs) in enumerate(make_pairs(n, size, methods, seed)):
        Image.fromarray(gt).save(root / "gt" / f"img_{i:05d}.png")
        for m, out in zip(methods, outs, strict=True):
            Image.fromarray(out).save(root / "results" / m / f"img_{i:05d}.png")


def add_method(root: Path, name: str, seed: int = 1) -> int:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    out = root / "results" / name
    out.mkdir(parents=True, exist_ok=True)
    gts = sorted((root / "gt").glob("*.png"))
    for i, g in enumerate(gts):
        Image.fromarray(_degrade(np.asarray(Image.open(g).convert("RGB")), (i + 2) % 4, rng)).save(out / g.name)
    return len(gts)


def _subset(src: Path, dst: Path, n: int) -> None:
    """Copy the first n pairs of ``src`` (method m0 only) into ``dst``."""
    if dst.exists():
        shutil.rmtree(dst)
    (dst / "gt").mkdir(parents=True)
    names = [p.name for p in sorted((src / "gt").glob("*.png"))[:n]]
    for name in names:
        shutil.copy2(src / "gt" / name, dst / "gt" / name)
    for mdir in [src / "results" / "m0"]:
        (dst / "results" / mdir.name).mkdir(parents=True)
        for name in names:
            if (mdir / name).exists():
                shutil.copy2(mdir / name, dst / "results" / mdir.name / name)


def _pairs(root: Path, method: str = "m0") -> list[tuple[Path, Path]]:
    return [(p, root / "gt" / p.name) for p in sorted((root / "results" / method).glob("*.png"))]


# ----------------------------------------------------------------------------------------------
# child stages (each prints one JSON line: {"seconds": ..., "pairs": ...})


def _warm_imports() -> None:
    """Import what the timed work would otherwise import lazily (timings exclude imports)."""
    import numba  # noqa: F401
    import pandas  # noqa: F401
    import scipy.ndimage  # noqa: F401
    import torch  # noqa: F401

    # the compiled-loop modules (importing them compiles nothing: each loop is loaded from numba's
    # disk cache, or compiled, on its first call, inside the timing); numba's CPU target is set up
    # once per process on the first compiled call (~0.5 s), start-up like a CUDA context
    import paradigm.metrics._ciede_jit  # noqa: F401
    import paradigm.metrics._edge_jit  # noqa: F401
    import paradigm.metrics._fsim_jit  # noqa: F401
    import paradigm.metrics._gray_jit  # noqa: F401
    import paradigm.metrics._nlpd_jit  # noqa: F401
    import paradigm.metrics._piqe_jit  # noqa: F401
    import paradigm.metrics._resize_jit  # noqa: F401
    import paradigm.metrics._ssim_jit  # noqa: F401

    numba.njit(lambda: 0)()
    from paradigm.metrics.registry import list_metrics

    list_metrics()
    try:
        import paradigm.composite  # noqa: F401
    except ImportError:
        pass


def _child_paradigm(root: Path, metrics: str, cache: Path | None, device: str, extra: dict[str, Any]) -> dict[str, Any]:
    from paradigm.engine import ScoreConfig, run_score

    _warm_imports()
    if device.startswith("cuda"):
        import torch

        torch.zeros(1, device=device)  # CUDA context creation is start-up, not scoring

    cfg = ScoreConfig(
        results=root / "results", gt=root / "gt", metrics=metrics, cache=str(cache) if cache else None,
        device=device, progress=False, **extra,
    )
    t0 = time.perf_counter()
    res = run_score(cfg)
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    counts = res.counts
    return {"seconds": dt, "counts": counts, "errors": int(res.failed)}


def _time_decoding(root: Path, read: Any) -> dict[str, Any]:
    """Seconds to decode both images of every pair with ``read`` (one thread; one file read first, untimed)."""
    pairs = _pairs(root)
    read(pairs[0][0])
    t0 = time.perf_counter()
    for o, g in pairs:
        read(o)
        read(g)
    return {"seconds": time.perf_counter() - t0, "pairs": len(pairs)}


def _child_decode(root: Path) -> dict[str, Any]:
    import torch  # noqa: F401  (read_image imports it lazily: keep the import out of the timing)

    from paradigm.io import read_image

    return _time_decoding(root, read_image)


def _child_decode_pillow(root: Path) -> dict[str, Any]:
    """Decoding alone as a Pillow-based reader does it (``Image.open().convert("RGB")``, then float), one thread."""
    import numpy as np
    import torch
    from PIL import Image

    def read(p: Path) -> Any:
        return torch.from_numpy(np.asarray(Image.open(p).convert("RGB"))).permute(2, 0, 1).float() / 255

    return _time_decoding(root, read)


def _child_pyiqa(root: Path, device: str) -> dict[str, Any]:
    import pyiqa
    import torch

    pairs = _pairs(root)
    dev = torch.device("cpu" if device == "auto" else device)
    per: dict[str, float] = {}
    for name in SHARED4.split(","):
        m = pyiqa.create_metric(name, device=dev)
        t0 = time.perf_counter()
        with torch.inference_mode():
            for o, g in pairs:
                m(str(o), str(g))
        per[name] = time.perf_counter() - t0
    return {"seconds": sum(per.values()), "pairs": len(pairs), "per_metric_seconds": per, "version": pyiqa.__version__}


def _decode_all(root: Path) -> list[tuple[Any, Any]]:
    import numpy as np
    import torch
    from PIL import Image

    def t(p: Path) -> Any:
        return torch.from_numpy(np.asarray(Image.open(p).convert("RGB"))).permute(2, 0, 1)[None].float() / 255

    return [(t(o), t(g)) for o, g in _pairs(root)]


def _child_piq(root: Path) -> dict[str, Any]:
    import piq
    import torch

    data = _decode_all(root)
    fns = {
        "psnr": lambda x, y: piq.psnr(x, y, data_range=1.0),
        "ssim": lambda x, y: piq.ssim(x, y, data_range=1.0),
        "ms_ssim": lambda x, y: piq.multi_scale_ssim(x, y, data_range=1.0),
        "gmsd": lambda x, y: piq.gmsd(x, y, data_range=1.0),
    }
    per = {}
    with torch.inference_mode():
        for name, f in fns.items():
            t0 = time.perf_counter()
            for x, y in data:
                f(x, y)
            per[name] = time.perf_counter() - t0
    return {"seconds": sum(per.values()), "pairs": len(data), "per_metric_seconds": per, "version": piq.__version__}


def _child_torchmetrics(root: Path) -> dict[str, Any]:
    import torch
    import torchmetrics
    from torchmetrics.functional.image import (
        multiscale_structural_similarity_index_measure as msssim,
    )
    from torchmetrics.functional.image import peak_signal_noise_ratio as psnr
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

    data = _decode_all(root)
    fns = {
        "psnr": lambda x, y: psnr(x, y, data_range=1.0),
        "ssim": lambda x, y: ssim(x, y, data_range=1.0),
        "ms_ssim": lambda x, y: msssim(x, y, data_range=1.0),
    }
    per = {}
    with torch.inference_mode():
        for name, f in fns.items():
            t0 = time.perf_counter()
            for x, y in data:
                f(x, y)
            per[name] = time.perf_counter() - t0
    return {
        "seconds": sum(per.values()), "pairs": len(data), "per_metric_seconds": per,
        "version": torchmetrics.__version__, "note": "torchmetrics has no GMSD: three metrics only",
    }


def _child_models(root: Path, device: str, weights_dir: Path, metrics: str = MODEL_SET,
                  precision: str = "fp32") -> dict[str, Any]:
    import torch
    from benchmarks_random_weights import install_random_weights  # type: ignore[import-not-found]

    from paradigm.engine import select_metrics
    from paradigm.metrics.registry import create_metric, get_metric_class

    with install_random_weights(weights_dir):
        # load the models before timing (their caches keep them for the timed run)
        dev = torch.device("cpu" if device == "auto" else device)
        x = torch.rand(1, 3, 224, 224, device=dev)
        names = metrics.split(",") if metrics != "default" else list(select_metrics("default", has_input=False)[0])
        for name in names:
            opts = {"precision": precision} if "precision" in get_metric_class(name).defaults else {}
            try:
                with torch.inference_mode():
                    create_metric(name, **opts).to(dev)(x, x)
            except Exception:  # a metric that cannot run here is reported by the timed run itself
                pass
        return _child_paradigm(root, metrics, None, device, {"precision": precision})


def run_child(args: argparse.Namespace) -> None:
    root = Path(args.data)
    stage = args.child
    if stage in ("paradigm-fid", "paradigm-cached", "paradigm-add-method"):
        out = _child_paradigm(root, FID_SET, Path(args.cache), args.device, {})
    elif stage == "paradigm-fid4":
        out = _child_paradigm(root, SHARED4, Path(args.cache), args.device, {})
    elif stage == "decode":
        out = _child_decode(root)
    elif stage == "decode-pillow":
        out = _child_decode_pillow(root)
    elif stage == "pyiqa":
        out = _child_pyiqa(root, args.device)
    elif stage == "piq":
        out = _child_piq(root)
    elif stage == "torchmetrics":
        out = _child_torchmetrics(root)
    elif stage in ("paradigm-models", "paradigm-default"):
        sys.path.insert(0, str(Path(__file__).parent))
        metrics = MODEL_SET if stage == "paradigm-models" else "default"
        out = _child_models(root, args.device, Path(args.cache).parent / "random-weights", metrics, args.precision)
    else:
        raise SystemExit(f"unknown stage {stage}")
    sys.stdout.write("BENCH_RESULT " + json.dumps(out) + "\n")


# ----------------------------------------------------------------------------------------------
# parent


def _spawn(python: str, stage: str, data: Path, cache: Path, device: str, precision: str = "fp32") -> dict[str, Any]:
    cmd = [python, str(Path(__file__).resolve()), "--child", stage, "--data", str(data), "--cache", str(cache),
           "--device", device, "--precision", precision]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    load_before = os.getloadavg()
    # output goes to files, not pipes: a chatty child must never block on a full pipe
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, text=True, env=env)
        _, status, rusage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    code = proc.returncode
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if code != 0 or line is None:
        tail = (err or out).strip().splitlines()[-3:]
        return {"error": f"exit {code}: " + " | ".join(tail)}
    res: dict[str, Any] = json.loads(line[len("BENCH_RESULT "):])
    res["process_wall_seconds"] = wall
    res["peak_rss_mb"] = rusage.ru_maxrss / 1024.0
    res["loadavg_1min_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    return res


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    """The :data:`CPU_FLAGS` this CPU has (from /proc/cpuinfo; empty where it cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in CPU_FLAGS if f in have]
    except OSError:
        pass
    return []


def _gpu(device: str) -> str | None:
    """The GPU's name for a CUDA device, else None."""
    if not device.startswith("cuda"):
        return None
    try:
        import torch

        return str(torch.cuda.get_device_name(torch.device(device)))
    except (ImportError, RuntimeError, AssertionError):
        return None


def machine_slug(machine: dict[str, Any], device: str) -> str:
    """A short file-name-safe name of the machine: the GPU's name on CUDA, else the CPU model, with
    ``-avx512`` when the CPU has AVX-512 (the same model string covers CPU generations with and
    without it, whose kernels differ: their files must not overwrite each other)."""
    import re

    gpu = device.startswith("cuda") and machine.get("gpu")
    name = machine.get("gpu") if gpu else machine.get("cpu_model", "")
    name = re.sub(r"\((R|TM)\)|\b(Processor|CPU|Core|with|Radeon Graphics)\b|@.*$", " ", str(name), flags=re.I)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown"
    if not gpu and "avx512f" in machine.get("cpu_flags", []):
        slug += "-avx512"
    return slug


def _torch_threads() -> int | None:
    try:
        import torch

        return int(torch.get_num_threads())
    except ImportError:
        return None


def _versions(python: str) -> dict[str, str]:
    code = (
        "import json, importlib\n"
        "out = {}\n"
        "for m in ('torch', 'numpy', 'PIL', 'scipy', 'pyiqa', 'piq', 'torchmetrics', 'paradigm'):\n"
        "    try:\n"
        "        out[m] = getattr(importlib.import_module(m), '__version__', '?')\n"
        "    except Exception:\n"
        "        pass\n"
        "print(json.dumps(out))\n"
    )
    r = subprocess.run([python, "-c", code], capture_output=True, text=True)
    try:
        return dict(json.loads(r.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return {}


def _has(python: str, module: str) -> bool:
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def render_markdown(report: dict[str, Any]) -> str:
    """A markdown table of a results JSON written by this script (stages, pairs/s, ratios)."""
    m = report.get("machine", {})
    flags = f" ({', '.join(m['cpu_flags'])})" if m.get("cpu_flags") else ""
    gpu = f", GPU {m['gpu']}" if m.get("gpu") else ""
    lines = [
        f"Machine: {m.get('cpu_model', m.get('processor', '?'))}{flags}, {m.get('cpus', '?')} CPUs{gpu}, "
        f"Python {m.get('python', '?')}, torch threads {m.get('torch_threads', '?')}; "
        f"device {report.get('device', 'cpu')}, precision {report.get('precision', 'fp32')}; "
        f"load average at start {report.get('loadavg_at_start', '?')}; "
        f"{report.get('pairs', '?')} pairs of {'x'.join(str(v) for v in report.get('size', []))} PNG; "
        f"{report.get('started_utc', '')}",
        "",
        "| stage | pairs | pairs/s | seconds | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in report.get("stages", {}).items():
        if "pairs_per_s" in r:
            lines.append(
                f"| {name} | {r.get('pairs', '')} | {r['pairs_per_s']:.2f} | {r['seconds']:.2f} | {r.get('peak_rss_mb', 0):.0f} |"
            )
        elif "peak_rss_mb" in r:
            lines.append(f"| {name} | | | {r.get('seconds', 0):.2f} | {r['peak_rss_mb']:.0f} |")
        else:
            lines.append(f"| {name} | | {r.get('skipped') or r.get('error', '')} | | |")
    if report.get("ratios"):
        lines += ["", "| ratio | value |", "|---|---:|"]
        lines += [f"| {k} | {v:.2f}x |" for k, v in report["ratios"].items()]
    if "memory_growth" in report:
        lines += ["", f"Peak-memory growth: {100 * report['memory_growth']:+.1f}%"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--size", default="512x384", help="WxH of the generated images")
    ap.add_argument("--stages", default=",".join(ALL_STAGES),
                    help=f"comma list of stages, or 'gpu' for {','.join(GPU_STAGES)}")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda[:k]; decoding stays on the CPU")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"),
                    help="model metrics' precision in the model/default stages (CUDA only; fidelity stays fp32)")
    ap.add_argument("--peer-python", default=sys.executable, help="python with pyiqa/piq/torchmetrics installed")
    ap.add_argument("--workdir", default=None, help="keep generated data here (default: a temp dir, removed)")
    ap.add_argument("--out", default=None,
                    help="JSON path (default benchmarks/results/<device>-<machine>-<pairs>x<W>x<H>.json)")
    ap.add_argument("--memory-check", default=None, help="e.g. 200,2000: peak memory of paradigm-fid at both sizes")
    ap.add_argument("--model-pairs", type=int, default=16,
                    help="pairs for the paradigm-models stage (CPU model inference is slow; 0: all)")
    ap.add_argument("--peer-pairs", type=int, default=0,
                    help="pairs for the pyiqa/piq/torchmetrics stages (0: all); rates are per pair either way")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each timed stage this many times and keep the fastest (noisy shared machines)")
    ap.add_argument("--render", default=None, help="print the markdown table of an existing results JSON and exit")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--data", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--cache", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run_child(args)
        return
    if args.render:
        print(render_markdown(json.loads(Path(args.render).read_text())))
        return

    w, h = (int(v) for v in args.size.lower().split("x"))
    if args.stages == "gpu":
        args.stages = ",".join(GPU_STAGES)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise SystemExit(f"--device {args.device}: CUDA is not available here (use --device cpu for a dry run)")
    machine = {
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "cpu_model": _cpu_model(), "cpu_flags": _cpu_flags(), "torch_threads": _torch_threads(),
        "gpu": _gpu(args.device),
    }
    if args.out is None:
        what = f"{args.memory_check.replace(',', '-')}mem" if args.memory_check else str(args.pairs)
        dev = "cuda" if args.device.startswith("cuda") else "cpu"
        args.out = f"benchmarks/results/{dev}-{machine_slug(machine, args.device)}-{what}x{w}x{h}.json"
    tmp = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="paradigm-bench-"))
    report: dict[str, Any] = {
        "machine": machine,
        "precision": args.precision,
        "loadavg_at_start": [round(v, 2) for v in os.getloadavg()],
        "command": " ".join(sys.argv),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "size": [w, h], "device": args.device,
        "timing": "each stage in its own process; seconds exclude interpreter start-up, imports, model loading and "
                  "one-time runtime set-up (CUDA context, numba CPU target); numba kernels load from its disk cache",
        "stages": {},
    }
    try:
        report["versions"] = {"paradigm_python": _versions(sys.executable)}
        if args.peer_python != sys.executable:
            report["versions"]["peer_python"] = _versions(args.peer_python)
        if args.memory_check:
            sizes = [int(v) for v in args.memory_check.split(",")]
            report["memory_check_pairs"] = sizes
            for n in sizes:
                d = tmp / f"mem{n}"
                make_folder(d, n, (w, h))
                r = _spawn(sys.executable, "paradigm-fid", d, d / "cache.sqlite", args.device, args.precision)
                report["stages"][f"paradigm-fid@{n}"] = r
                print(f"paradigm-fid @ {n} pairs: peak {r.get('peak_rss_mb', float('nan')):.0f} MB, {r.get('seconds', float('nan')):.1f} s", flush=True)
            peaks = [report["stages"][f"paradigm-fid@{n}"].get("peak_rss_mb") for n in sizes]
            if all(peaks):
                report["memory_growth"] = peaks[-1] / peaks[0] - 1
                print(f"peak memory growth {sizes[0]} -> {sizes[-1]} pairs: {100 * report['memory_growth']:+.1f}%")
        else:
            data = tmp / "data"
            t0 = time.perf_counter()
            make_folder(data, args.pairs, (w, h))
            report["generate_seconds"] = time.perf_counter() - t0
            report["pairs"] = args.pairs
            cache = tmp / "cache.sqlite"
            for stage in args.stages.split(","):
                python = sys.executable
                if stage in ("pyiqa", "piq", "torchmetrics"):
                    python = args.peer_python
                    if not _has(python, stage):
                        print(f"{stage:20s} skipped: not importable by {python} (pass --peer-python)", flush=True)
                        report["stages"][stage] = {"skipped": f"{stage} not installed for {python}"}
                        continue
                if stage in ("paradigm-fid", "paradigm-fid4"):
                    c = tmp / f"{stage}.sqlite"
                    if c.exists():
                        c.unlink()
                elif stage in ("paradigm-cached", "paradigm-add-method"):
                    c = tmp / "paradigm-fid.sqlite"
                    if stage == "paradigm-add-method":
                        add_method(data, "m1")
                else:
                    c = cache
                n = args.pairs
                stage_data = data
                if stage in ("paradigm-models", "paradigm-default") and 0 < args.model_pairs < args.pairs:
                    n = args.model_pairs
                    stage_data = tmp / "models-data"
                    if not stage_data.exists():
                        _subset(data, stage_data, n)
                elif stage in ("pyiqa", "piq", "torchmetrics") and 0 < args.peer_pairs < args.pairs:
                    n = args.peer_pairs
                    stage_data = tmp / "peer-data"
                    if not stage_data.exists():
                        _subset(data, stage_data, n)
                runs = []
                once = ("paradigm-add-method", "paradigm-models", "paradigm-default")
                for _k in range(max(1, args.repeat) if stage not in once else 1):
                    if stage in ("paradigm-fid", "paradigm-fid4") and c.exists():
                        c.unlink()  # every repetition of a cold stage starts from an empty cache
                    runs.append(_spawn(python, stage, stage_data, c, args.device, args.precision))
                ok = [x for x in runs if "seconds" in x]
                r = min(ok, key=lambda x: x["seconds"]) if ok else runs[-1]
                if len(ok) > 1:
                    r["all_seconds"] = [x["seconds"] for x in ok]
                if "seconds" in r:
                    r.setdefault("pairs", n)
                    r["pairs_per_s"] = r["pairs"] / r["seconds"] if r["seconds"] > 0 else float("inf")
                report["stages"][stage] = r
                if "error" in r:
                    print(f"{stage:20s} FAILED: {r['error']}", flush=True)
                else:
                    print(f"{stage:20s} {r['pairs_per_s']:9.2f} pairs/s  {r['seconds']:8.2f} s  peak {r['peak_rss_mb']:7.0f} MB", flush=True)
            st = report["stages"]

            def rate(s: str) -> float | None:
                v = st.get(s, {}).get("pairs_per_s")
                return float(v) if v else None

            ratios = {}
            for a, b in (("paradigm-fid4", "pyiqa"), ("paradigm-fid", "pyiqa"), ("paradigm-fid4", "piq"),
                         ("paradigm-fid", "piq"), ("paradigm-fid4", "torchmetrics"), ("paradigm-fid", "decode"),
                         ("paradigm-fid", "decode-pillow"), ("paradigm-cached", "paradigm-fid")):
                ra, rb = rate(a), rate(b)
                if ra and rb:
                    ratios[f"{a}/{b}"] = ra / rb
            report["ratios"] = ratios
            for k, v in ratios.items():
                print(f"ratio {k:32s} {v:8.2f}x")
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
        print(f"wrote {out}")
        print(render_markdown(report))
    finally:
        if not args.workdir:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
