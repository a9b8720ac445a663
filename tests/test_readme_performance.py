"""The README's performance table and the benchmark JSON it is made from must agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _row(readme: str, start: str) -> str:
    for line in readme.splitlines():
        if line.startswith(start):
            return line
    raise AssertionError(f"README performance table has no row starting with {start!r}")


def test_readme_table_matches_benchmark_json() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    res = json.loads((ROOT / "benchmarks/results/cpu-amd-epyc-avx512-120x512x384.json").read_text(encoding="utf-8"))
    st, ratio = res["stages"], res["ratios"]

    def rate(stage: str) -> float:
        return float(st[stage]["pairs_per_s"])

    fid = _row(readme, "| paradigm, 6 fidelity/structure metrics")
    assert f"| {rate('paradigm-fid'):.1f} |" in fid
    assert f"| {rate('paradigm-fid4'):.1f} |" in _row(readme, "| paradigm, the 4 metrics shared")
    pyiqa = _row(readme, "| pyiqa")
    assert f"| {rate('pyiqa'):.2f} |" in pyiqa and f"{ratio['paradigm-fid/pyiqa']:.1f}× faster" in pyiqa
    piq = _row(readme, "| piq")
    assert f"| {rate('piq'):.2f} |" in piq and f"{ratio['paradigm-fid/piq']:.2f}× faster" in piq
    tm = _row(readme, "| torchmetrics")
    assert f"| {rate('torchmetrics'):.2f} |" in tm and f"{ratio['paradigm-fid4/torchmetrics']:.1f}× faster" in tm
    dec = _row(readme, "| decoding alone")
    assert f"| {rate('decode'):.1f} |" in dec and f"{ratio['paradigm-fid/decode']:.2f}× of it" in dec
    pillow = _row(readme, "| decoding alone with Pillow")
    assert f"| {rate('decode-pillow'):.1f} |" in pillow and f"{ratio['paradigm-fid/decode-pillow']:.2f}× of it" in pillow
    cached = _row(readme, "| cached rerun")
    assert f"| {rate('paradigm-cached'):.0f} |" in cached
    assert f"{ratio['paradigm-cached/paradigm-fid']:.0f}× the cold run" in cached


def test_readme_memory_sentence_matches_json() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    mem = json.loads((ROOT / "benchmarks/results/memory-200-2000.json").read_text(encoding="utf-8"))
    sizes = mem["memory_check_pairs"]
    peaks = [mem["stages"][f"paradigm-fid@{n}"]["peak_rss_mb"] for n in sizes]
    m = re.search(r"Peak memory is flat: (\d+) MB at ([\d,]+) pairs, (\d+) MB at ([\d,]+)", readme)
    assert m, "README lost its peak-memory sentence"
    assert [int(m.group(1)), int(m.group(3))] == [round(p) for p in peaks]
    assert [int(m.group(2).replace(",", "")), int(m.group(4).replace(",", ""))] == sizes


def test_readme_ray_figures_match_scale_json() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    run = json.loads((ROOT / "benchmarks/results/scale-cpu-amd-epyc.json").read_text(encoding="utf-8"))
    text = " ".join(readme[readme.index("## Scaling out"):].split())
    one, two = run["ray"]
    assert f"local {run['local']['pairs_per_s']:.1f} pairs/s" in text
    assert f"1 worker {one['pairs_per_s']:.1f} pairs/s, with 2 workers {two['pairs_per_s']:.1f}" in text
    assert f"({run['scaling_2_vs_1_worker']:.1f}× the single worker, {run['ray2_vs_local']:.2f}× local" in text
    assert run["scores_identical_to_local"] and run["machine"]["loopback_only_namespace"]
