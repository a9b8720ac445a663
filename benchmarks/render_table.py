"""Render the README's performance tables from ``benchmarks/results/*.json``, one block per machine.

Every ratio is taken inside one results file (one run on one machine): files from different
machines are never combined. Files written by ``bench_score.py --memory-check`` are listed as
memory rows. Usage::

    python benchmarks/render_table.py                      # every results/*.json
    python benchmarks/render_table.py benchmarks/results/cpu-amd-epyc-120x512x384.json
"""

from __future__ import annotations

import argparse
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"

#: README wording of each stage (stages not listed keep their own name)
STAGE_LABELS = {
    "paradigm-fid": "paradigm, 6 fidelity/structure metrics (PSNR, SSIM, MS-SSIM, GMSD, ΔE00, edge F1), decoding included, cold cache",
    "paradigm-fid4": "paradigm, the 4 metrics shared with the peers",
    "pyiqa": "pyiqa{v}, the 4 metrics one at a time from file paths",
    "piq": "piq{v}, the 4 metrics on tensors decoded in advance",
    "torchmetrics": "torchmetrics{v}, 3 metrics (no GMSD) on pre-decoded tensors",
    "decode": "decoding alone (the floor, one thread)",
    "decode-pillow": "decoding alone with Pillow, as the peers' file readers do (one thread)",
    "paradigm-cached": "cached rerun of the same folder",
    "paradigm-add-method": "a rerun after adding one method (only it is computed)",
    "paradigm-models": "paradigm, model metrics (LPIPS, DISTS, CLIP, DINOv2; random weights)",
    "paradigm-default": "paradigm, the full default metric set (random model weights)",
}
#: (stage, against, wording) of the "vs paradigm" column, all within one file
COMPARISONS = (
    ("pyiqa", "paradigm-fid", "paradigm 6 metrics: {r:.1f}× faster"),
    ("piq", "paradigm-fid", "paradigm 6 metrics incl. decoding: {r:.2f}× faster"),
    ("torchmetrics", "paradigm-fid4", "paradigm 4 metrics: {r:.1f}× faster"),
    ("decode", "paradigm-fid", "paradigm 6 metrics reach {r:.2f}× of it"),
    ("decode-pillow", "paradigm-fid", "paradigm 6 metrics reach {r:.2f}× of it"),
    ("paradigm-cached", "paradigm-fid", "{inv:.0f}× the cold run"),
)


def machine_key(report: dict[str, Any]) -> str:
    """One line naming the machine a result was measured on (files with equal keys share a block)."""
    m = report.get("machine", {})
    cpu = m.get("cpu_model") or m.get("processor") or "unknown CPU"
    flags = f" [{' '.join(m['cpu_flags'])}]" if m.get("cpu_flags") else ""
    gpu = f", GPU {m['gpu']}" if m.get("gpu") else ", no GPU"
    return f"{cpu}{flags}, {m.get('cpus', '?')} cores{gpu}"


def _version(report: dict[str, Any], module: str) -> str:
    v = report.get("versions", {}).get("peer_python", {}).get(module) or report.get("versions", {}).get(
        "paradigm_python", {}).get(module)
    return f" {v}" if v else ""


def _fmt(v: float) -> str:
    return f"{v:.0f}" if v >= 1000 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def _ordered(stages: dict[str, Any]) -> list[str]:
    """The README's stage order, then any other stage in file order."""
    known = [s for s in STAGE_LABELS if s in stages]
    return known + [s for s in stages if s not in STAGE_LABELS]


def _rate(stages: dict[str, Any], name: str) -> float | None:
    v = stages.get(name, {}).get("pairs_per_s")
    return float(v) if v else None


def render_report(report: dict[str, Any], name: str) -> list[str]:
    """Markdown lines for one results file: its command, then stage | pairs/s | vs paradigm."""
    stages = report.get("stages", {})
    size = "x".join(str(v) for v in report.get("size", []))
    pairs = report.get("pairs") or "/".join(str(n) for n in report.get("memory_check_pairs", [])) or "?"
    lines = [
        f"`{name}`: {pairs} pairs of {size} PNG, device {report.get('device', 'cpu')}, "
        f"precision {report.get('precision', 'fp32')}, torch threads {report.get('machine', {}).get('torch_threads', '?')}, "
        f"load average at start {report.get('loadavg_at_start', '?')}, {report.get('started_utc', '')}",
        "",
        f"Command: `python {report.get('command', '?')}`",
        "",
    ]
    if any("pairs_per_s" in r for r in stages.values()):
        lines += ["| stage | pairs/s | vs paradigm |", "|---|---:|---|"]
        for stage in _ordered(stages):
            r = stages[stage]
            label = STAGE_LABELS.get(stage, stage).format(v=_version(report, stage))
            if "pairs_per_s" not in r:
                why = r.get("skipped") or r.get("error") or "not measured"
                lines.append(f"| {label} | — | absent: {why} |")
                continue
            note = ""
            for a, b, text in COMPARISONS:
                ra, rb = _rate(stages, a), _rate(stages, b)
                if stage == a and ra and rb:
                    note = text.format(r=rb / ra, inv=ra / rb)
            lines.append(f"| {label} | {_fmt(r['pairs_per_s'])} | {note} |")
    mem = {k: v for k, v in stages.items() if "peak_rss_mb" in v and "pairs_per_s" not in v}
    if mem:
        lines += ["", "| run | peak RSS (MB) |", "|---|---:|"]
        lines += [f"| {k} | {v['peak_rss_mb']:.0f} |" for k, v in mem.items()]
        if "memory_growth" in report:
            lines.append(f"\nPeak-memory growth: {100 * report['memory_growth']:+.1f}%")
    return lines


def render_kernels(report: dict[str, Any], name: str) -> list[str]:
    """Markdown lines for one ``bench_kernels.py`` file: metric | paradigm | pyiqa | ratio (CPU ms/pair)."""
    peer = (report.get("versions", {}).get("peer") or {}).get("pyiqa")
    lines = [
        f"`{name}`: in-memory batches of {report.get('batch', '?')} pairs of {report.get('size', '?')} (no "
        f"decoding), CPU ms per pair, best of {report.get('repeat', '?')}, torch threads "
        f"{report.get('machine', {}).get('torch_threads', '?')}, {report.get('ended_utc', '')}",
        "",
        f"Command: `python {report.get('command', '?')}`",
        "",
        f"| metric | paradigm | pyiqa{' ' + peer if peer else ''} | paradigm is |",
        "|---|---:|---:|---|",
    ]
    if report.get("parameter_files"):  # --metrics nr_params: timed on synthetic parameter files
        lines[1:1] = ["", f"Parameter files: {report['parameter_files'].get('note', 'synthetic')}"]
    for r in report["rows"]:
        if "pyiqa_cpu_ms" in r:
            lines.append(f"| {r['metric']} | {_fmt(r['paradigm_cpu_ms'])} | {_fmt(r['pyiqa_cpu_ms'])} | "
                         f"{r['ratio_cpu']:.1f}× faster |")
        else:
            lines.append(f"| {r['metric']} | {_fmt(r['paradigm_cpu_ms'])} | — | {r.get('pyiqa', '')} |")
    return lines


def render_decode(report: dict[str, Any], name: str) -> list[str]:
    """Markdown lines for one ``bench_decode.py`` file: reader | CPU ms per image | ratio."""
    w, h = report.get("size", ["?", "?"])
    lines = [f"`{name}`: {report.get('files', '?')} 8-bit PNG files of {w}x{h}, one thread, best of "
             f"{report.get('repeat', '?')}", "", f"Command: `python {report.get('command', '?')}`", "",
             "| reader | CPU ms per image | paradigm is |", "|---|---:|---|"]
    ms = report["cpu_ms_per_image"]
    for reader, v in ms.items():
        note = "—" if reader == "paradigm" else f"{v / ms['paradigm']:.2f}× faster"
        lines.append(f"| {reader} | {_fmt(v)} | {note} |")
    return lines


def render(paths: list[Path]) -> str:
    """Markdown of every results file, grouped under one heading per machine."""
    blocks: OrderedDict[str, list[tuple[str, dict[str, Any]]]] = OrderedDict()
    for p in sorted(paths):
        report = json.loads(p.read_text(encoding="utf-8"))
        blocks.setdefault(machine_key(report), []).append((p.name, report))
    out: list[str] = []
    for key, reports in blocks.items():
        out += [f"### {key}", ""]
        for name, report in reports:
            show = (render_kernels if "rows" in report else render_decode if "cpu_ms_per_image" in report
                    else render_report)
            out += [*show(report, f"benchmarks/results/{name}"), ""]
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path, help="results JSON files (default: benchmarks/results/*.json)")
    args = ap.parse_args()
    paths = list(args.files) or sorted(RESULTS.glob("*.json"))
    print(render(paths), end="")


if __name__ == "__main__":
    main()
