"""Build a leaderboard from scores folders: compute boards, write HTML, Markdown, CSV and JSON.

The computation (:func:`compute_leaderboard`) is separate from writing (:func:`write_leaderboard`);
:func:`build_leaderboard` does both. Output is deterministic: stable ordering, fixed float
formatting, seeded bootstrap, no timestamps and no absolute paths, so a rerun gives identical bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._version import __version__
from ..errors import InputError
from .merge import COMPOSITE, PILLARS, Merged, Run, load_run, merge_runs
from .model import (
    NO_ROOTS_NOTE,
    OUTSIDE_NOTE,
    Board,
    Case,
    Interval,
    Leaderboard,
    RankBy,
    Row,
    Thumb,
    slugify,
)
from .ranking import RankResult, bootstrap_ci, rank_methods, rng_for

log = logging.getLogger(__name__)

SCHEMA = "paradigm.leaderboard/1"
#: Metric columns shown by default, in this order, when present.
KEY_METRICS: tuple[str, ...] = (
    "psnr", "ssim", "ms_ssim", "lpips", "dists", "dino", "dino_sim", "dinov2_sim", "clip_sim", "edge_f1",
    "ciede2000",
)
#: Longest side of a thumbnail, in pixels.
THUMB_SIZE = 160
#: Files and folders a leaderboard folder consists of (a rebuild replaces exactly these).
OUTPUT_FILES: tuple[str, ...] = ("index.html", "README.md", "leaderboard.csv", "leaderboard.json")
OUTPUT_DIRS: tuple[str, ...] = ("methods", "thumbs")


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float, np.floating)) and math.isfinite(float(x))


def _pick_metrics(df: pd.DataFrame, requested: Sequence[str] | None) -> list[str]:
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    skip = {*PILLARS, COMPOSITE, "height", "width", "resized"}
    available = [c for c in numeric if c not in skip]
    if requested is None:
        return [m for m in KEY_METRICS if m in available]
    out = []
    for name in requested:
        name = name.strip()
        if not name:
            continue
        if name not in available:
            raise InputError(
                f"metric column {name!r} is not in the scores; available: {', '.join(sorted(available)) or 'none'}"
            )
        if name not in out:
            out.append(name)
    return out


def _resolve_image(path: str, run: Run | None) -> Path | None:
    if not path:
        return None
    p = Path(path)
    candidates = [p] if p.is_absolute() else [Path.cwd() / p]
    if run is not None and not p.is_absolute():
        candidates += [run.folder / p, run.folder.parent / p]
    for c in candidates:
        if c.is_file():
            return c
    return None


#: ``errors.csv`` reason of a GT image that a method did not deliver (layout's pairing stage).
_GT_WITHOUT_OUTPUT = "GT image has no output"


def board_images(df: pd.DataFrame, errors: pd.DataFrame) -> set[str]:
    """The images of one task x dataset: every image in the scores, plus every image a method lost.

    A method loses an image to an error row of a later stage (decode, metric…) or to a pairing row
    saying that a GT image has no output from it; other pairing rows (an output without a GT image,
    a file at an unexpected depth) name no image of the dataset and are not counted.
    """
    images = set(df["image"].astype(str))
    if len(errors):
        lost = errors[(errors["method"] != "") & (errors["image"] != "")
                      & ((errors["stage"] != "pairing") | errors["reason"].str.startswith(_GT_WITHOUT_OUTPUT))]
        images |= set(lost["image"])
    return images


def _rank_complete_first(
    per_key: dict[str, pd.Series], complete: set[str], n_boot: int, seed: int, alpha: float, context: tuple[str, ...],
) -> dict[str, RankResult]:
    """Rank complete methods, then incomplete ones after them (ranks continue where the first part ends)."""
    first = rank_methods({m: s for m, s in per_key.items() if m in complete},
                         n_boot=n_boot, seed=seed, alpha=alpha, context=context)
    rest = rank_methods({m: s for m, s in per_key.items() if m not in complete},
                        n_boot=n_boot, seed=seed, alpha=alpha, context=context)
    offset = sum(1 for r in first.values() if r.rank)
    for m, r in rest.items():
        first[m] = RankResult(rank=r.rank + offset, score=r.score, group_top=r.group_top) if r.rank else r
    return first


def _board_rows(
    df: pd.DataFrame, task: str, dataset: str, metrics: list[str], rank_by: RankBy,
    n_boot: int, seed: int, alpha: float, slugs: dict[str, str], run_order: dict[str, int],
    errors: pd.DataFrame | None = None,
) -> tuple[list[Row], bool]:
    has_samples = bool((df["sample"] != "").any())
    per_image: dict[str, pd.DataFrame] = {}
    value_cols = [c for c in (COMPOSITE, *PILLARS, *metrics) if c in df.columns]
    for method, g in df.groupby("method", sort=True):
        means = g.groupby("image", sort=True)[value_cols].mean()
        if COMPOSITE in g.columns:
            means["__floor"] = g.groupby("image", sort=True)[COMPOSITE].min()
        else:
            means["__floor"] = math.nan
        per_image[str(method)] = means
    key = "__floor" if rank_by == "floor" else COMPOSITE
    errors = errors if errors is not None else pd.DataFrame(columns=["method", "image", "stage", "reason"])
    expected = board_images(df, errors)
    n_scored = {m: int(t[COMPOSITE].notna().sum()) if COMPOSITE in t.columns else 0 for m, t in per_image.items()}
    n_errors = errors["method"].value_counts().to_dict() if len(errors) else {}
    ranks = _rank_complete_first(
        {m: (t[key] if key in t.columns else pd.Series(dtype=float)) for m, t in per_image.items()},
        {m for m in per_image if n_scored[m] >= len(expected)},
        n_boot=n_boot, seed=seed, alpha=alpha, context=(task, dataset, rank_by),
    )
    rows = []
    for method, t in per_image.items():
        g = df[df["method"] == method]
        comp = t[COMPOSITE].dropna().to_numpy(np.float64) if COMPOSITE in t.columns else np.array([])
        ci = bootstrap_ci(comp, n_boot, rng_for(seed, task, dataset, method, "composite"), alpha)
        composite = Interval(float(comp.mean()) if len(comp) else math.nan, *ci)
        floor = None
        if has_samples:
            fl = t["__floor"].dropna().to_numpy(np.float64)
            if np.array_equal(fl, comp):  # one sample per input: the floor is the composite
                fci = ci
            else:
                fci = bootstrap_ci(fl, n_boot, rng_for(seed, task, dataset, method, "floor"), alpha)
            floor = Interval(float(fl.mean()) if len(fl) else math.nan, *fci)
        run_ids = sorted(set(g["run_id"]), key=lambda r: run_order[r])
        lines = list(dict.fromkeys(g.sort_values("run_id", key=lambda s: s.map(run_order))["signature_line"]))
        conflict_fields = sorted({f for v in g["signature_conflict"] if v for f in v.split(",")})
        rows.append(Row(
            method=method,
            slug=slugs[method],
            rank=ranks[method].rank,
            composite=composite,
            floor=floor,
            pillars={p: float(t[p].mean()) if p in t.columns else math.nan for p in PILLARS},
            metrics={m: float(t[m].mean()) if m in t.columns else math.nan for m in metrics},
            n_images=int(t.shape[0]),
            n_samples=int(g.shape[0]),
            runs=run_ids,
            signature_line=" ; ".join(lines),
            signature_conflict=",".join(conflict_fields),
            n_scored=n_scored[method],
            n_expected=len(expected),
            n_errors=int(n_errors.get(method, 0)),
        ))
    rows.sort(key=lambda r: (r.rank == 0, r.rank, -ranks[r.method].score if r.rank else 0.0, r.method))
    return rows, has_samples


def compute_leaderboard(
    merged: Merged,
    title: str = "Leaderboard",
    rank_by: RankBy = "composite",
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    alpha: float = 0.05,
    thumbnails: bool = True,
) -> Leaderboard:
    """Rank every method in every task x dataset of a merged table.

    Args:
        merged: output of :func:`paradigm.leaderboard.merge.merge_runs`.
        title: page title.
        rank_by: ``"composite"`` (mean composite over images; samples of an input are averaged) or
            ``"floor"`` (mean over images of the worst sample's composite).
        metrics: metric columns to show; None shows the key metrics present (``KEY_METRICS``).
        seed: bootstrap seed.
        n_boot: bootstrap resamples (for intervals and rank tests).
        alpha: significance level of the rank test and 1 - coverage of intervals.
        thumbnails: whether the writer copies worst-case thumbnails.

    Returns:
        The :class:`Leaderboard`.

    Raises:
        InputError: when there is no composite column or a requested metric is missing.
    """
    if rank_by not in ("composite", "floor"):
        raise InputError(f"rank_by must be 'composite' or 'floor', got {rank_by!r}")
    if n_boot < 0:
        raise InputError(f"n_boot must be >= 0, got {n_boot}")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha}")
    df = merged.scores
    if COMPOSITE not in df.columns or not df[COMPOSITE].notna().any():
        raise InputError(
            "the scores have no composite values to rank by; run `paradigm score` with a composite "
            "(the default) so that the perceptual, stability, fidelity and composite columns are filled"
        )
    shown = _pick_metrics(df, metrics)
    methods = sorted(set(df["method"]))
    slugs = {m: slugify(m) for m in methods}
    run_order = {r.run_id: i for i, r in enumerate(merged.runs)}
    boards = []
    errors = merged.errors
    for (task, dataset), g in df.groupby(["task", "dataset"], sort=True):
        errs = errors[(errors["task"] == task) & (errors["dataset"] == dataset)] if len(errors) else None
        rows, has_samples = _board_rows(
            g, str(task), str(dataset), shown, rank_by, n_boot, seed, alpha, slugs, run_order, errs
        )
        boards.append(Board(task=str(task), dataset=str(dataset), rows=rows, has_samples=has_samples))
    return Leaderboard(
        title=title, rank_by=rank_by, seed=seed, n_boot=n_boot, alpha=alpha, metrics=shown, boards=boards,
        runs=merged.runs, conflicts=merged.conflicts, methods=slugs, thumbnails=thumbnails,
    )


def _thumb_name(*parts: str) -> str:
    return "thumbs/" + hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()[:20] + ".jpg"


def _make_thumb(src: Path, dest: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(src) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64)
                scale = 65535.0 if arr.max() > 255 else 255.0
                im2 = Image.fromarray(np.clip(arr / scale * 255 + 0.5, 0, 255).astype(np.uint8))
            else:
                im2 = im.convert("RGB")
            im2.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
            dest.parent.mkdir(parents=True, exist_ok=True)
            im2.convert("RGB").save(dest, "JPEG", quality=85)
        return True
    except Exception as exc:  # any unreadable or hostile file: no thumbnail, say so on the page
        log.warning("cannot make a thumbnail of %s: %s", src, exc)
        return False


#: Page notes of images that were found but not used (see :func:`_allowed`).


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    try:
        real = path.resolve(strict=True)
    except OSError:
        return False
    for r in roots:
        try:
            root = r.resolve(strict=True)
        except OSError:
            continue
        if real == root or real.is_relative_to(root):
            return True
    return False


def _allowed(src: Path, run: Run | None, allow_outside: bool) -> str:
    """``""`` when a thumbnail may be made of ``src``, else the reason (a page note).

    A scores table is input from whoever submitted it: its paths may name any file on this machine.
    Only files whose real path (symlinks resolved) lies under the folders the run recorded in
    ``run.json`` (``roots``: results, GT, input) are used, unless ``allow_outside``.
    """
    if allow_outside:
        return ""
    if run is None or run.roots is None:
        return NO_ROOTS_NOTE
    return "" if _inside(src, run.roots) else OUTSIDE_NOTE


def _warn_refused(refused: dict[tuple[str, str], int], runs: dict[str, Run]) -> None:
    for (run_id, why), n in sorted(refused.items()):
        name = runs[run_id].name if run_id in runs else run_id
        if why == NO_ROOTS_NOTE:
            log.warning("run %s: run.json records no results/GT folders (scored by an older paradigm), so no "
                        "thumbnails are made of its %d image path(s); rescore, or pass --allow-outside if you "
                        "trust its paths", name, n)
        else:
            log.warning("run %s: %d image path(s) point outside the results and ground-truth folders the run "
                        "scored; no thumbnails made of them (pass --allow-outside to override)", name, n)


def collect_worst(
    lb: Leaderboard, merged: Merged, out: Path | None, n_worst: int = 8, allow_outside: bool = False,
) -> None:
    """Fill ``board.worst`` with each method's lowest-composite results; copy thumbnails into ``out``.

    Args:
        lb: the computed leaderboard (modified in place).
        merged: the merged table it was computed from.
        out: leaderboard folder to copy thumbnails into; None (or ``lb.thumbnails`` False) copies none.
        n_worst: results per method and board.
        allow_outside: also make thumbnails of files outside the run's recorded folders (trusted input).
    """
    runs = {r.run_id: r for r in merged.runs}
    df = merged.scores
    made: dict[str, str] = {}  # thumbnail name -> "" (made) or why not
    refused: dict[tuple[str, str], int] = {}

    def make(path: str, run: Run | None, name: str) -> str:
        assert out is not None
        src = _resolve_image(path, run)
        if src is None:
            return "image file not reachable"
        why = _allowed(src, run, allow_outside)
        if why:
            k = (run.run_id if run else "", why)
            refused[k] = refused.get(k, 0) + 1
            return why
        return "" if _make_thumb(src, out / name) else "image file not reachable or unreadable"

    def thumb(path: str, run: Run | None, key: tuple[str, ...]) -> Thumb:
        if out is None or not lb.thumbnails:
            return Thumb(None, "thumbnails off")
        if not path:
            return Thumb(None, "no path in the scores")
        name = _thumb_name(*key)
        if name not in made:
            made[name] = make(path, run, name)
        return Thumb(None, made[name]) if made[name] else Thumb(name, "")

    for board in lb.boards:
        g = df[(df["task"] == board.task) & (df["dataset"] == board.dataset)]
        for row in board.rows:
            m = g[(g["method"] == row.method) & g[COMPOSITE].notna()]
            m = m.sort_values([COMPOSITE, "image", "sample"], kind="mergesort").head(n_worst)
            cases = []
            for _, r in m.iterrows():
                run = runs.get(str(r["run_id"]))
                out_path = str(r.get("output_path", "") or "") if "output_path" in r else ""
                gt_path = str(r.get("gt_path", "") or "") if "gt_path" in r else ""
                cases.append(Case(
                    image=str(r["image"]),
                    sample=str(r["sample"]),
                    composite=float(r[COMPOSITE]),
                    pillars={p: float(r[p]) if p in r and _finite(r[p]) else math.nan for p in PILLARS},
                    output=thumb(out_path, run, ("output", row.method, board.task, board.dataset,
                                                 str(r["image"]), str(r["sample"]))),
                    gt=thumb(gt_path, run, ("gt", board.task, board.dataset, str(r["image"]))),
                ))
            board.worst[row.method] = cases
    _warn_refused(refused, runs)


# ---------------------------------------------------------------------------- CSV and JSON


def fmt(x: Any, digits: int = 6) -> str:
    """Fixed float formatting for machine outputs (``""`` for NaN/None)."""
    if x is None or not _finite(x):
        return ""
    return f"{float(x):.{digits}f}"


def _num(x: Any) -> float | None:
    return round(float(x), 6) if x is not None and _finite(x) else None


def to_csv(lb: Leaderboard) -> str:
    """The leaderboard as CSV text: one row per board x method."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = ["task", "dataset", "rank", "method", "composite", "composite_ci_low", "composite_ci_high",
              "floor", "floor_ci_low", "floor_ci_high", *PILLARS, *lb.metrics, "n_images", "n_samples",
              "coverage", "coverage_fraction", "errors", "runs", "signature_conflict", "signature"]
    w.writerow(header)
    for b in lb.boards:
        for r in b.rows:
            fl = r.floor
            w.writerow([
                b.task, b.dataset, r.rank or "", r.method, fmt(r.composite.mean), fmt(r.composite.ci_low),
                fmt(r.composite.ci_high), fmt(fl.mean if fl else None), fmt(fl.ci_low if fl else None),
                fmt(fl.ci_high if fl else None), *(fmt(r.pillars[p]) for p in PILLARS),
                *(fmt(r.metrics[m]) for m in lb.metrics), r.n_images, r.n_samples, r.coverage_text,
                fmt(r.coverage), r.n_errors, " ".join(r.runs),
                r.signature_conflict, r.signature_line,
            ])
    return buf.getvalue()


def to_json_obj(lb: Leaderboard) -> dict[str, Any]:
    """The leaderboard as a JSON-ready dict following schema ``paradigm.leaderboard/1``."""

    def interval(iv: Interval | None) -> dict[str, float | None] | None:
        if iv is None:
            return None
        return {"mean": _num(iv.mean), "ci_low": _num(iv.ci_low), "ci_high": _num(iv.ci_high)}

    return {
        "schema": SCHEMA,
        "title": lb.title,
        "generator": f"paradigm {__version__}",
        "rank_by": lb.rank_by,
        "ranking": {
            "test": "paired-bootstrap",
            "alpha": lb.alpha,
            "n_boot": lb.n_boot,
            "seed": lb.seed,
            "ci": "percentile bootstrap over images",
            "rule": "a method joins the current rank group while it is not significantly worse than the "
                    "group's top method; competition ranks (1, 1, 3); methods with incomplete coverage "
                    "(fewer images scored than the task x dataset has) are ranked after every complete method",
        },
        "metrics": list(lb.metrics),
        "runs": [
            {"id": r.run_id, "name": r.name, "signature_line": r.signature_line, "signature": r.signature}
            for r in lb.runs
        ],
        "conflicts": [
            {"run": c.run_id, "field": c.field, "reference": c.reference, "value": c.value} for c in lb.conflicts
        ],
        "boards": [
            {
                "task": b.task,
                "dataset": b.dataset,
                "has_samples": b.has_samples,
                "rows": [
                    {
                        "rank": r.rank or None,
                        "method": r.method,
                        "slug": r.slug,
                        "composite": interval(r.composite),
                        "floor": interval(r.floor),
                        "pillars": {p: _num(r.pillars[p]) for p in PILLARS},
                        "metrics": {m: _num(r.metrics[m]) for m in lb.metrics},
                        "n_images": r.n_images,
                        "n_samples": r.n_samples,
                        "coverage": {"scored": r.n_scored, "expected": r.n_expected, "fraction": _num(r.coverage)},
                        "errors": r.n_errors,
                        "complete": r.complete,
                        "runs": r.runs,
                        "signature_line": r.signature_line,
                        "signature_conflict": r.signature_conflict.split(",") if r.signature_conflict else [],
                    }
                    for r in b.rows
                ],
            }
            for b in lb.boards
        ],
    }


def to_json(lb: Leaderboard) -> str:
    """:func:`to_json_obj` serialised (sorted inner keys of signatures, 2-space indent, UTF-8)."""
    return json.dumps(to_json_obj(lb), indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n"


# ---------------------------------------------------------------------------- writing


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"output {out} exists and is not a folder; choose another -o")
    if out.is_dir() and any(out.iterdir()):
        ours = set(OUTPUT_FILES) | set(OUTPUT_DIRS)
        if not (out / "leaderboard.json").is_file():
            raise InputError(
                f"output folder {out} is not empty and holds no leaderboard; choose a new or empty folder for -o"
            )
        for entry in out.iterdir():
            if entry.name in OUTPUT_DIRS and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            elif entry.name in ours:
                entry.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def write_leaderboard(
    lb: Leaderboard, merged: Merged, out: str | Path, n_worst: int = 8, allow_outside: bool = False,
) -> list[Path]:
    """Write ``index.html``, ``methods/*.html``, ``README.md``, ``leaderboard.csv``/``.json``, ``thumbs/``.

    Args:
        lb: the computed leaderboard.
        merged: the merged table (for the worst cases and image paths).
        out: leaderboard folder; created, or rebuilt when it holds a previous leaderboard.
        n_worst: worst results per method and board on the method pages.
        allow_outside: make thumbnails of image files outside the runs' recorded folders too.

    Returns:
        The written files (relative order is stable).
    """
    from .html import render_index, render_method_page
    from .markdown import render_markdown

    out = Path(out)
    _prepare_out(out)
    collect_worst(lb, merged, out, n_worst, allow_outside=allow_outside)
    files = {
        "index.html": render_index(lb),
        "README.md": render_markdown(lb),
        "leaderboard.csv": to_csv(lb),
        "leaderboard.json": to_json(lb),
    }
    for method, slug in sorted(lb.methods.items(), key=lambda kv: kv[1]):
        files[f"methods/{slug}.html"] = render_method_page(lb, method)
    for name, text in files.items():
        _write(out / name, text)
    written = [out / n for n in files]
    thumbs = out / "thumbs"
    if thumbs.is_dir():
        written += sorted(thumbs.iterdir())
    return written


def build_leaderboard(
    inputs: Sequence[str | Path],
    out: str | Path,
    title: str = "Leaderboard",
    rank_by: RankBy = "composite",
    force: bool = False,
    metrics: Sequence[str] | None = None,
    thumbnails: bool = True,
    seed: int = 0,
    n_boot: int = 1000,
    n_worst: int = 8,
    allow_outside: bool = False,
) -> Leaderboard:
    """Load, merge, rank and write: the whole ``paradigm leaderboard`` command as a function.

    Args:
        inputs: ``paradigm score --out`` folders.
        out: leaderboard folder to write.
        title: page title.
        rank_by: ``"composite"`` or ``"floor"``.
        force: merge runs whose signatures disagree (rows are marked).
        metrics: metric columns to show (None: key metrics present).
        thumbnails: copy worst-case thumbnails next to the pages.
        seed: bootstrap seed.
        n_boot: bootstrap resamples.
        n_worst: worst results per method and board.
        allow_outside: make thumbnails of image files outside the runs' recorded results/GT folders
            (by default a path in a scores table that points elsewhere is skipped with a warning).

    Returns:
        The :class:`Leaderboard` that was written.

    Raises:
        InputError: on unreadable inputs, signature conflicts without ``force``, conflicting
            duplicate rows, or a bad output folder.
    """
    runs = [load_run(p, f"run{i}") for i, p in enumerate(inputs, start=1)]
    merged = merge_runs(runs, force=force)
    lb = compute_leaderboard(merged, title=title, rank_by=rank_by, metrics=metrics, seed=seed, n_boot=n_boot,
                             thumbnails=thumbnails)
    write_leaderboard(lb, merged, out, n_worst=n_worst, allow_outside=allow_outside)
    return lb
