"""Decoding benchmark: paradigm's reader against Pillow and torchvision on the same 8-bit PNG files.

Writes ``bench_kernels.py``'s batch (photos with varied degradations, 512x384 by default) as 8-bit PNG
files with Pillow, then times, on one thread, the CPU per image of

* ``paradigm``: ``paradigm.io.read_image`` (the engine's reader; its fast 8-bit PNG path);
* ``pillow``: ``Image.open(p).convert("RGB")``, ``numpy.asarray``, then float32 / 255 as a tensor
  (what Pillow-based readers such as pyiqa's ``imread2tensor`` do);
* ``torchvision``: ``torchvision.io.decode_png`` of the file's bytes, then float32 / 255.

Every reader returns the same float32 ``(3, H, W)`` values (checked before timing). Each figure is the
fastest of ``--repeat`` passes over all files; the ratios are taken inside this run. Usage::

    python benchmarks/bench_decode.py [--size 512x384] [--files 16] [--repeat 20] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import make_batch, write_pngs  # noqa: E402
from bench_score import _cpu_flags, _cpu_model  # noqa: E402


def readers() -> dict[str, Callable[[Path], torch.Tensor]]:
    """The timed readers, each ``path -> (3, H, W)`` float32 tensor in [0, 1]."""
    from PIL import Image

    from paradigm.io import read_image

    def pillow(p: Path) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a read-only array: .float() copies it anyway
            return torch.from_numpy(np.asarray(Image.open(p).convert("RGB"))).permute(2, 0, 1).float() / 255

    def torchvision(p: Path) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from torchvision.io import decode_png, read_file

            return decode_png(read_file(str(p))).float() / 255

    return {"paradigm": read_image, "pillow": pillow, "torchvision": torchvision}


def best_cpu_ms(read: Callable[[Path], torch.Tensor], files: list[Path], repeat: int) -> float:
    """Fastest pass over ``files`` (thread CPU time), in ms per file."""
    for p in files:
        read(p)  # warm: imports, compiled loops
    best = float("inf")
    for _ in range(repeat):
        t0 = time.thread_time()
        for p in files:
            read(p)
        best = min(best, time.thread_time() - t0)
    return 1e3 * best / len(files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="512x384", help="WxH")
    ap.add_argument("--files", type=int, default=16, help="PNG files (half outputs, half references)")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--out", default=None, help="write a JSON report here")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    torch.set_num_threads(1)
    x, ref = make_batch(max(1, args.files // 2), w, h)
    with tempfile.TemporaryDirectory(prefix="paradigm-decode-") as folder:
        write_pngs(folder, x, ref)
        files = sorted(Path(folder).glob("*.png"))
        fns = readers()
        first = fns["paradigm"](files[0])
        for name, read in fns.items():
            if not torch.equal(read(files[0]), first):
                raise SystemExit(f"{name} decodes {files[0].name} to other values than paradigm")
        ms = {name: best_cpu_ms(read, files, args.repeat) for name, read in fns.items()}
    print(f"{len(files)} PNG files of {w}x{h}, one thread, best of {args.repeat}; {_cpu_model()}")
    for name, v in ms.items():
        ratio = "" if name == "paradigm" else f"   paradigm is {v / ms['paradigm']:.2f}x faster"
        print(f"{name:12s} {v:7.2f} ms per image{ratio}")
    if args.out:
        report: dict[str, Any] = {
            "command": " ".join(["benchmarks/bench_decode.py", *sys.argv[1:]]),
            "machine": {"cpu_model": _cpu_model(), "cpu_flags": _cpu_flags(), "cpus": os.cpu_count()},
            "files": len(files), "size": [w, h], "repeat": args.repeat, "cpu_ms_per_image": ms,
            "ratios": {f"{name}/paradigm": ms[name] / ms["paradigm"] for name in ms if name != "paradigm"},
        }
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
