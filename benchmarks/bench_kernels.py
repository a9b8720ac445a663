"""Per-metric kernel cost on one batch of realistic image pairs (no decoding, no engine).

Prints wall and CPU milliseconds per pair for each metric's registered class, on ``--batch``
pairs of ``--size`` made like ``bench_score.py``'s folders (scikit-image photos and their blurred,
noisy, down-up-sampled or colour-cast versions). Each metric gets fresh tensors, so nothing is shared
between metrics (in ``paradigm score`` SSIM and MS-SSIM share their first scale). Use it to
compare commits::

    python benchmarks/bench_kernels.py --size 512x384 --batch 8 --repeat 5

``--decode`` includes decoding (issue 14's measure): the batch is written as 8-bit PNG files and every
timed call decodes them first, paradigm with its reader (``paradigm.io.read_image``, the engine's)
and pyiqa with its own (``imread2tensor``, what its file-path API calls); the report goes to
``kernels-FAMILY-decode-CPU.json``. ``--rounds K`` alternates the peer's and paradigm's timings K
times and keeps each side's fastest, so that a machine whose speed drifts favours neither::

    python benchmarks/bench_kernels.py --metrics classic --repeat 5 --rounds 3 --decode --peer-python PY --out auto

``--metrics nr_params`` times IL-NIQE, NRQM and PI, whose parameter files are not bundled: it writes
*synthetic* files in the official layouts and sizes (``tests/tools/make_ilniqe_fixture.py``,
``tests/tools/make_nrqm_fixture.py``) to a temporary folder and gives the same files to paradigm and to
pyiqa. The timings stand; the scores made with such files mean nothing. These metrics take seconds per
image, so this family defaults to ``--batch 2 --repeat 1``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

DEFAULT_METRICS = "psnr,ssim,ms_ssim,gmsd,ciede2000,edge_f1"
#: The classical perceptual metrics (issue 14): ``--metrics classic``.
CLASSIC_METRICS = "fsim,fsimc,vif,vifp,vsi,nlpd,cw_ssim,piqe"
#: classical full-reference metrics of docs/metrics-fr-classic-2.md (DCT PSNRs, WSNR, MAD, NQM, VSNR): ``--metrics classic2``
CLASSIC2_METRICS = "psnr_hvs,psnr_hvs_m,psnr_ha,psnr_hma,psnrc,wsnr,mad,nqm,vsnr"
#: no-reference metrics whose parameter files are not bundled (timed on synthetic files): ``--metrics nr_params``
NR_PARAMS_METRICS = "ilniqe,nrqm,pi"
FAMILIES = {"default": DEFAULT_METRICS, "classic": CLASSIC_METRICS, "classic2": CLASSIC2_METRICS,
            "nr_params": NR_PARAMS_METRICS}
#: ``(--batch, --repeat)`` when not given: the nr_params metrics take seconds per image.
BATCH_REPEAT = {"nr_params": (2, 1)}
DEFAULT_BATCH_REPEAT = (8, 5)
#: Sizes of the official parameter files that the synthetic ones copy, because the cost depends on them:
#: IL-NIQE's template has D = 430 principal directions (docs/metrics-nr.md); each of NRQM's three
#: forests was trained with 2000 trees (``regRF_train(X, Y, 2000)`` in chaoma99/sr-metric's
#: train_regression/train_RF_regression.m). The synthetic trees are full binary trees of depth 8 (511
#: nodes, the most randomForest allows for 1440 training images at node size 5 is 577); the official
#: trees are unbalanced, so their paths may be longer than 8 splits.
ILNIQE_DIM = 430
NRQM_TREES, NRQM_DEPTH = 2000, 8
#: Metrics warmed up on the first pair only (seconds per image: a whole-batch warm-up would double the run).
ONE_PAIR_WARMUP = frozenset(NR_PARAMS_METRICS.split(","))
#: pyiqa's name (and options) for the same computation; pyiqa's ``fsim`` is chromatic (FSIMc) by default.
#: Metrics not listed here have no pyiqa implementation (vifp, the DCT PSNRs, WSNR, NQM, VSNR, ...).
PYIQA_NAMES: dict[str, tuple[str, dict[str, object]]] = {
    "psnr": ("psnr", {}), "ssim": ("ssim", {}), "ms_ssim": ("ms_ssim", {}), "gmsd": ("gmsd", {}),
    "fsim": ("fsim", {"chromatic": False}), "fsimc": ("fsim", {}), "vif": ("vif", {}), "vsi": ("vsi", {}),
    "nlpd": ("nlpd", {}), "cw_ssim": ("cw_ssim", {}), "piqe": ("piqe", {}), "mad": ("mad", {}),
    # given the local files through ``pretrained_model_path``; pyiqa's ``pi`` has no such option, so the
    # peer child assembles it from pyiqa's ``nrqm`` and ``niqe`` as pyiqa's PI does (Y of YCbCr, 4 px shaved)
    "ilniqe": ("ilniqe", {}), "nrqm": ("nrqm", {}), "pi": ("pi", {}),
}
NO_REFERENCE = {"piqe", "ilniqe", "nrqm", "pi"}
#: pyiqa's PI: NRQM and NIQE with these options, ``((10 - NRQM) + NIQE) / 2``.
PYIQA_PI_OPTIONS: dict[str, object] = {"color_space": "ycbcr", "crop_border": 4}


def _best_ms(call: Callable[[], object], n: int, repeat: int) -> tuple[float, float]:
    """Fastest wall and CPU ms per pair of ``repeat`` calls of ``call()`` on a batch of ``n``."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        call()
        best_wall = min(best_wall, (time.perf_counter() - t) / n * 1000)
        best_cpu = min(best_cpu, (time.process_time() - c) / n * 1000)
    return best_wall, best_cpu


def _pyiqa_metric(pyiqa: Any, name: str, files: dict[str, str]) -> Callable[..., torch.Tensor]:
    """pyiqa's ``name``; ``files`` gives local parameter files (``pretrained_model_path``; PI: ``nrqm``, ``niqe``)."""
    pname, opts = PYIQA_NAMES[name]
    if name == "pi" and files:
        ma = pyiqa.create_metric("nrqm", device="cpu", pretrained_model_path=files["nrqm"], **PYIQA_PI_OPTIONS)
        nq = pyiqa.create_metric("niqe", device="cpu", pretrained_model_path=files["niqe"], **PYIQA_PI_OPTIONS)
        return lambda x: (10.0 - ma(x) + nq(x)) / 2.0
    return pyiqa.create_metric(pname, device="cpu", **opts, **files)


def time_pyiqa(
    name: str, x: torch.Tensor, ref: torch.Tensor, repeat: int, files: dict[str, str] | None = None,
    decode_dir: str | None = None,
) -> tuple[float, float] | None:
    """Best (wall, CPU) ms per pair of pyiqa's implementation of ``name``, or None (no pyiqa / no such metric).

    ``files``: local parameter files for pyiqa (see :func:`_pyiqa_metric`), instead of its downloads.
    ``decode_dir``: decode the batch from its PNG files there (``--decode``) with pyiqa's own reader
    (``imread2tensor``, what its file-path API calls) inside every timed call.
    """
    try:
        import pyiqa
    except ImportError:
        return None
    if name not in PYIQA_NAMES:
        return None
    m = _pyiqa_metric(pyiqa, name, files or {})
    if decode_dir is not None:
        from pyiqa.utils.img_util import imread2tensor

        def load(kind: str) -> torch.Tensor:
            return torch.stack([imread2tensor(str(p), rgb=True) for p in _png_paths(decode_dir, kind, x.shape[0])])

        call = (lambda: m(load("out"))) if name in NO_REFERENCE else (lambda: m(load("out"), load("ref")))
    else:
        call = (lambda: m(x)) if name in NO_REFERENCE else (lambda: m(x, ref))
    with torch.no_grad():
        if name in ONE_PAIR_WARMUP:
            m(x[:1])  # warm-up (NO_REFERENCE, all of them)
        else:
            call()  # warm-up
        return _best_ms(call, x.shape[0], repeat)


def peer_child(path: str, metrics: list[str], repeat: int, files: dict[str, dict[str, str]] | None = None,
               decode_dir: str | None = None) -> None:
    """``--peer-child``: time pyiqa on the tensors saved in ``path``; print one JSON object (no paradigm import).

    ``files``: per metric, local parameter files for pyiqa (``--peer-files``, JSON).
    """
    import json

    x, ref = torch.load(path)
    out: dict[str, object] = {}
    for name in metrics:
        try:
            got = time_pyiqa(name, x, ref, repeat, (files or {}).get(name), decode_dir)
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


def run_peer(
    peer_python: str, x: torch.Tensor, ref: torch.Tensor, metrics: list[str], repeat: int,
    files: dict[str, dict[str, str]] | None = None, decode_dir: str | None = None,
) -> dict:
    """Run :func:`peer_child` in ``peer_python`` (a venv with pyiqa) on the same tensors (and parameter ``files``)."""
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
        if files:
            cmd += ["--peer-files", json.dumps(files)]
        if decode_dir:
            cmd += ["--decode-dir", decode_dir]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("PEER-JSON ")), None)
    if line is None:
        sys.stderr.write(f"peer run failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}\n")
        return {}
    return dict(json.loads(line[len("PEER-JSON "):]))


def _fixture_tool(name: str) -> Any:
    """``tests/tools/<name>.py`` loaded by path (tests/tools is not a package), as tests/_tiny_weights.py does."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "tests" / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise SystemExit(f"{path} is missing: --metrics nr_params writes its synthetic files with it (a source checkout)")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    """Set environment variables for the block, then restore them."""
    import os

    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _write_parameter_files(folder: Path) -> dict[str, Any]:
    """Synthetic IL-NIQE template and NRQM model (official layouts and sizes) in ``folder``, plus PI's
    NIQE model (the real, bundled one) as the .mat pyiqa reads; returns the options of both sides."""
    import scipy.io

    from paradigm.weights import resolve

    ilniqe_mat = _fixture_tool("make_ilniqe_fixture").write_template(folder / "ILNIQE_templateModel.mat", dim=ILNIQE_DIM)
    nrqm_mat = _fixture_tool("make_nrqm_fixture").write_nrqm_model(
        folder / "NRQM_model.mat", trees=NRQM_TREES, depth=NRQM_DEPTH)
    niqe_npz = resolve("niqe_pris_params")
    niqe_mat = folder / "niqe_modelparameters.mat"
    with np.load(niqe_npz) as npz:
        scipy.io.savemat(str(niqe_mat), {"mu_prisparam": npz["mu_pris_param"], "cov_prisparam": npz["cov_pris_param"]})
    note = (f"SYNTHETIC parameter files in the official layouts and sizes (the real ones are not available): "
            f"timing only, the scores mean nothing. IL-NIQE template D = {ILNIQE_DIM} (official: 430); NRQM: 3 "
            f"forests of {NRQM_TREES} full trees of depth {NRQM_DEPTH} (official: {NRQM_TREES} trees each, "
            "unbalanced, so paths may be longer; the tests' file has 8 shallow trees; either way the forests "
            "take under 0.1 s per image in both, measured: the features dominate). PI's NIQE model is the "
            "real one (paradigm reads the npz, pyiqa the same arrays as .mat).")
    return {
        "paradigm": {"ilniqe": {"params_path": str(ilniqe_mat)}, "nrqm": {"params_path": str(nrqm_mat)},
                     "pi": {"params_path": str(nrqm_mat), "niqe_params_path": str(niqe_npz)}},
        "pyiqa": {"ilniqe": {"pretrained_model_path": str(ilniqe_mat)},
                  "nrqm": {"pretrained_model_path": str(nrqm_mat)}, "pi": {"nrqm": str(nrqm_mat), "niqe": str(niqe_mat)}},
        "report": {"synthetic": True, "note": note, "ilniqe_templates": {"dim": ILNIQE_DIM, "official_dim": 430},
                   "nrqm_model": {"trees_per_forest": NRQM_TREES, "tree_depth": NRQM_DEPTH,
                                  "official_trees_per_forest": 2000, "tests_fixture_trees_per_forest": 8},
                   "niqe_pris_params": "real (bundled)"},
    }


@contextlib.contextmanager
def parameter_files(metrics: list[str]) -> Iterator[dict[str, Any]]:
    """Synthetic parameter files for those of ``metrics`` in :data:`NR_PARAMS_METRICS` (see
    :func:`_write_parameter_files`; ``{}`` when none needs one), in a temporary folder.

    While open, ``PARADIGM_OFFLINE=1`` and ``PARADIGM_CACHE_DIR`` is a temporary folder: paradigm takes
    the explicit files as given and records their digests there, not in the user's lock file (where a
    digest recorded for a real file would refuse them); its "no pinned sha256" warnings are muted (the
    printed note says what the files are).
    """
    import logging
    import tempfile

    if not set(metrics) & set(NR_PARAMS_METRICS.split(",")):
        yield {}
        return
    resolver_log = logging.getLogger("paradigm.weights.resolver")
    level = resolver_log.level
    resolver_log.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory(prefix="paradigm-nr-params-") as tmp:
            with _environ(PARADIGM_OFFLINE="1", PARADIGM_CACHE_DIR=str(Path(tmp) / "cache")):
                yield _write_parameter_files(Path(tmp))
    finally:
        resolver_log.setLevel(level)


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


def _png_paths(folder: str, kind: str, n: int) -> list[Path]:
    """The PNG files of ``--decode``: ``<folder>/<kind>_<i>.png`` for the outputs (``out``) or references (``ref``)."""
    return [Path(folder) / f"{kind}_{i}.png" for i in range(n)]


def write_pngs(folder: str, x: torch.Tensor, ref: torch.Tensor) -> None:
    """Write the 8-bit batch as the PNG files of :func:`_png_paths` (the tensors hold exact 8-bit levels)."""
    from PIL import Image

    for kind, t in (("out", x), ("ref", ref)):
        for path, img in zip(_png_paths(folder, kind, t.shape[0]), t, strict=True):
            arr = (img.permute(1, 2, 0) * 255.0).round().to(torch.uint8).numpy()
            Image.fromarray(arr).save(path)


def _paradigm_decoded(folder: str, n: int, reference: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The batch decoded by paradigm's reader (``paradigm.io.read_image``, the engine's), for ``--decode``."""
    from paradigm.io import read_image

    x = torch.stack([read_image(p) for p in _png_paths(folder, "out", n)])
    return x, (torch.stack([read_image(p) for p in _png_paths(folder, "ref", n)]) if reference else None)


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="512x384", help="WxH")
    ap.add_argument("--batch", type=int, default=None, help="pairs per batch (default 8; nr_params: 2)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="timed calls per metric, the fastest is kept (default 5; nr_params: 1)")
    ap.add_argument("--metrics", default=DEFAULT_METRICS,
                    help="comma list, or 'classic' / 'classic2' for the classical FR sets of docs/metrics-fr-classic*.md, "
                         "or 'nr_params' for IL-NIQE, NRQM and PI (on synthetic parameter files: timing only)")
    ap.add_argument("--pyiqa", action="store_true", help="also time pyiqa's implementation when it is importable")
    ap.add_argument("--peer-python", default=None,
                    help="python of a separate venv with pyiqa: time pyiqa there on the same tensors (saved to a temp .pt)")
    ap.add_argument("--decode", action="store_true",
                    help="include decoding: the batch is written as 8-bit PNG files and every timed call decodes "
                         "them, paradigm with its reader, pyiqa with its own (imread2tensor)")
    ap.add_argument("--decode-dir", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternate peer and paradigm timings this many times and keep each side's fastest "
                         "(evens out a machine whose speed drifts during the run)")
    ap.add_argument("--out", default=None, help="write a JSON report here ('auto': benchmarks/results/kernels-FAMILY-CPU.json)")
    ap.add_argument("--peer-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--peer-files", default=None, help=argparse.SUPPRESS)
    return ap.parse_args()


def _report(args: argparse.Namespace, family: str, rows: list[dict], peer: dict, start: dict,
            parameter_note: dict | None = None) -> None:
    import json
    import os
    import platform
    import sys
    from pathlib import Path

    from bench_score import _cpu_flags, _cpu_model, machine_slug

    slug = machine_slug({"cpu_model": _cpu_model(), "cpu_flags": _cpu_flags()}, "cpu")
    out = args.out
    if out == "auto":
        suffix = "-decode" if args.decode else ""
        out = str(Path(__file__).resolve().parent / "results" / f"kernels-{family}{suffix}-{slug}.json")
    report = {
        "command": " ".join(sys.argv), **start, "ended_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpu": slug, "cpu_model": _cpu_model(), "cpu_flags": _cpu_flags(),
                    "cpus": os.cpu_count(), "platform": platform.platform(),
                    "torch_threads": torch.get_num_threads(), "loadavg_1min_at_end": round(os.getloadavg()[0], 2)},
        "versions": {"torch": torch.__version__, "peer": peer.get("_versions")},
        "timing": ("8-bit PNG files decoded inside every timed call, each tool with its own reader"
                   if args.decode else "in-memory batch (no decoding)")
                  + "; best of --repeat (and of --rounds alternating rounds); ratio = pyiqa ms / paradigm ms (CPU and wall)",
        "decoding_included": bool(args.decode),
        "rounds": args.rounds,
        "size": args.size, "batch": args.batch, "repeat": args.repeat, "rows": rows,
    }
    if parameter_note:
        report["parameter_files"] = parameter_note
    Path(out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


def _time_metrics(args: argparse.Namespace, metrics: list[str], x: torch.Tensor, ref: torch.Tensor,
                  peer: dict, files: dict[str, Any]) -> list[dict]:
    """Time paradigm's ``metrics`` (with the parameter ``files`` of :func:`parameter_files`), print one
    line each; the report rows."""
    import paradigm

    options: dict[str, dict[str, Any]] = files.get("paradigm", {})

    print(f"{args.batch} pairs of {x.shape[-1]}x{x.shape[-2]}, torch threads {torch.get_num_threads()}, best of {args.repeat}")
    print(f"{'metric':12s} {'wall ms/pair':>13s} {'cpu ms/pair':>12s}   pyiqa cpu ms/pair (ratio)")
    rows: list[dict] = []
    for name in metrics:
        m = paradigm.create_metric(name, **options.get(name, {}))
        k = 1 if name in ONE_PAIR_WARMUP else x.shape[0]
        m(x[:k].clone(), ref[:k].clone())  # warm-up (lazy loads, allocator)
        if args.decode_dir:  # decoding inside every timed call (a fresh batch each time: no memo carries over)
            wants_ref = name not in NO_REFERENCE

            def decoded_call(metric: Any = m, wants_ref: bool = wants_ref) -> object:
                a, b = _paradigm_decoded(args.decode_dir, args.batch, wants_ref)
                return metric(a, b)

            wall, cpu = _best_ms(decoded_call, args.batch, args.repeat)
        else:
            pairs = [(x.clone(), ref.clone()) for _ in range(args.repeat)]  # fresh tensors: no memo carries over
            wall, cpu = _best_ms(functools.partial(_call_next, m, iter(pairs)), args.batch, args.repeat)
        row: dict = {"metric": name, "paradigm_wall_ms": round(wall, 2), "paradigm_cpu_ms": round(cpu, 2)}
        if name in options:
            row["parameter_files"] = "synthetic"
        got = peer.get(name)
        if args.pyiqa and not args.peer_python:
            t = time_pyiqa(name, x, ref, args.repeat, files.get("pyiqa", {}).get(name), args.decode_dir)
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
    return rows


def merge_rounds(rounds: list[list[dict]]) -> list[dict]:
    """One row per metric from several rounds: each side's fastest wall and CPU ms, ratios recomputed.

    Alternating rounds (peer, then paradigm, again) spread both sides over the same stretch of time,
    so a machine that speeds up or slows down between them does not favour either.
    """
    merged = []
    for group in zip(*rounds, strict=True):
        row = dict(group[0])
        for key in ("paradigm_wall_ms", "paradigm_cpu_ms", "pyiqa_wall_ms", "pyiqa_cpu_ms"):
            vals = [g[key] for g in group if key in g]
            if vals:
                row[key] = min(vals)
        if "pyiqa_cpu_ms" in row:
            row["ratio_cpu"] = round(row["pyiqa_cpu_ms"] / row["paradigm_cpu_ms"], 2)
            row["ratio_wall"] = round(row["pyiqa_wall_ms"] / row["paradigm_wall_ms"], 2)
        if len(rounds) > 1:
            row["rounds"] = len(rounds)
            row["ratio_cpu_per_round"] = [g.get("ratio_cpu") for g in group]
        merged.append(row)
    return merged


def main() -> None:
    import json
    import os

    args = _parse()
    family = args.metrics if args.metrics in FAMILIES else "custom"
    metrics = [m.strip() for m in FAMILIES.get(args.metrics, args.metrics).split(",") if m.strip()]
    batch, repeat = BATCH_REPEAT.get(family, DEFAULT_BATCH_REPEAT)
    args.batch = batch if args.batch is None else args.batch
    args.repeat = repeat if args.repeat is None else args.repeat
    if args.peer_child:
        peer_child(args.peer_child, metrics, args.repeat, json.loads(args.peer_files) if args.peer_files else None,
                   args.decode_dir)
        return
    start = {"started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "loadavg_1min_at_start": round(os.getloadavg()[0], 2)}
    w, h = (int(v) for v in args.size.lower().split("x"))
    x, ref = make_batch(args.batch, w, h)
    rounds: list[list[dict]] = []
    with parameter_files(metrics) as files, tempfile.TemporaryDirectory(prefix="paradigm-kernels-png-") as png:
        if files:
            print("NOTE: " + files["report"]["note"])
        if args.decode:
            write_pngs(png, x, ref)
            args.decode_dir = png
        for r in range(args.rounds):
            if args.rounds > 1:
                print(f"round {r + 1} of {args.rounds}")
            peer = (run_peer(args.peer_python, x, ref, metrics, args.repeat, files.get("pyiqa"), args.decode_dir)
                    if args.peer_python else {})
            rounds.append(_time_metrics(args, metrics, x, ref, peer, files))
    rows = merge_rounds(rounds)
    if args.rounds > 1:
        print(f"best of {args.rounds} rounds (each side's fastest, ratios recomputed):")
        for row in rows:
            extra = f"   pyiqa {row['pyiqa_cpu_ms']:.2f} ({row['ratio_cpu']:.1f}x)" if "ratio_cpu" in row else ""
            print(f"{row['metric']:12s} {row['paradigm_wall_ms']:13.2f} {row['paradigm_cpu_ms']:12.2f}{extra}")
    if args.out:
        _report(args, family, rows, peer, start, files.get("report"))


if __name__ == "__main__":
    main()
