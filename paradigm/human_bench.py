"""Score a human-judged dataset's own images with paradigm's engine (``paradigm meta-eval benchmark``).

Human-judged IQA datasets name their pairs by their own rules (``i01_01_1.bmp`` -> ``I01.BMP`` in
TID2013, ``I01_01_01.png`` -> ``I01.png`` in KADID-10k, ``1600.AWGN.1.png`` -> ``1600.png`` in CSIQ,
``jp2k/img2.bmp`` -> ``refimgs/studentsculpture.bmp`` in LIVE, BAPPS triplets), which paradigm's
stem pairing does not follow. The score files already say, per judged item, which reference it
belongs to (the ``meta_eval`` loaders read them); this module finds both image files under the
dataset's root, lays the pairs out as a flat results tree of symbolic links (one method named after
the dataset, one ground-truth link per item), scores that tree with the ordinary engine (cache,
batching, progress bar, error rows) and maps the rows back to the dataset's item names.

File resolution, one rule for every layout: each image under the root is indexed by every suffix of
its relative path (``a/b/c.png``, ``b/c.png``, ``c.png``, case-insensitive). A name from the score
file resolves to the file matched by its longest suffix that matches exactly one file; a name without
a match resolves by stem (extension-less reference ids such as TID2013's ``i01``). Ambiguous or
missing names become error rows, never guesses.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .io import is_image_path

log = logging.getLogger(__name__)

#: Folder (under ``--out``) that holds the linked results/GT trees and the engine's cache.
LAYOUT_DIR = "pairs"


@dataclass(frozen=True)
class HumanPair:
    """One judged image and its reference, resolved to files."""

    item: str
    distorted: Path
    reference: Path


@dataclass(frozen=True)
class Unresolved:
    """A judged item whose image or reference could not be found (an error row)."""

    item: str
    reason: str


class ImageIndex:
    """Image files under a root, looked up by path suffix or stem (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"dataset root {self.root} is not a folder; give the folder that holds its images")
        self._suffix: dict[str, list[Path]] = defaultdict(list)
        self._stem: dict[str, list[Path]] = defaultdict(list)
        for path in self._walk():
            parts = path.relative_to(self.root).as_posix().lower().split("/")
            for k in range(len(parts)):
                self._suffix["/".join(parts[k:])].append(path)
            self._stem[path.stem.lower()].append(path)

    def _walk(self) -> Iterable[Path]:
        seen: set[tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=True):
            st = os.stat(dirpath)
            if (st.st_dev, st.st_ino) in seen:  # a symlink loop: do not descend again
                dirnames[:] = []
                continue
            seen.add((st.st_dev, st.st_ino))
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in sorted(filenames):
                p = Path(dirpath) / f
                if is_image_path(p):
                    yield p

    def __len__(self) -> int:
        return sum(len(v) for v in self._stem.values())

    def resolve(self, name: str) -> Path | str:
        """The file a score file's name refers to, or the reason it cannot be resolved."""
        parts = [p for p in name.replace("\\", "/").lower().split("/") if p not in ("", ".")]
        if not parts:
            return "empty name"
        for k in range(len(parts)):
            found = self._suffix.get("/".join(parts[k:]))
            if found:
                if len(found) == 1:
                    return found[0]
                shown = ", ".join(str(p.relative_to(self.root)) for p in found[:3])
                return f"{name!r} matches {len(found)} files ({shown}…); give a more specific path"
        stem = Path(parts[-1]).stem if "." in parts[-1] else parts[-1]
        found = self._stem.get(stem, [])
        if len(found) == 1:
            return found[0]
        if found:
            return f"{name!r} matches {len(found)} files by stem; give a more specific path"
        return f"no image for {name!r} under {self.root}"


def judged_items(judgments: Any) -> list[tuple[str, str]]:
    """``(item, reference)`` of every judged image of an opinion or 2AFC table (pandas DataFrame)."""
    cols = set(judgments.columns)
    if {"item", "reference"} <= cols:
        return list(dict.fromkeys(zip(judgments["item"].astype(str), judgments["reference"].astype(str), strict=True)))
    if {"item_a", "item_b", "reference"} <= cols:
        ref = judgments["reference"].astype(str)
        a = zip(judgments["item_a"].astype(str), ref, strict=True)
        b = zip(judgments["item_b"].astype(str), ref, strict=True)
        return list(dict.fromkeys([*a, *b]))
    raise InputError(
        f"human table has columns {sorted(cols)}; need item+reference (opinion) or item_a+item_b+reference (2AFC)"
    )


def pair_images(root: Path, items: Sequence[tuple[str, str]]) -> tuple[list[HumanPair], list[Unresolved]]:
    """Resolve every ``(item, reference)`` name pair to files under ``root``."""
    index = ImageIndex(root)
    pairs: list[HumanPair] = []
    bad: list[Unresolved] = []
    for item, ref in items:
        d, r = index.resolve(item), index.resolve(ref)
        if isinstance(d, str):
            bad.append(Unresolved(item, f"distorted image: {d}"))
        elif isinstance(r, str):
            bad.append(Unresolved(item, f"reference image: {r}"))
        else:
            pairs.append(HumanPair(item, d, r))
    return pairs, bad


def _link(target: Path, link: Path) -> None:
    if link.is_symlink() or link.exists():
        if link.is_symlink() and Path(os.readlink(link)) == target.resolve():
            return
        link.unlink()
    try:
        link.symlink_to(target.resolve())
    except OSError:  # file systems without symbolic links
        shutil.copyfile(target, link)


def materialise(pairs: Sequence[HumanPair], workdir: Path, method: str) -> tuple[Path, Path, dict[str, str]]:
    """Lay pairs out as ``results/<method>/p<k>.<ext>`` beside ``gt/p<k>.<ext>`` (symbolic links).

    Neutral names (``p000001``) keep paradigm's suffix and sample rules out of the way.

    Returns:
        ``(results_dir, gt_dir, stem -> item)``.
    """
    results = workdir / "results"
    out_dir = results / method
    gt = workdir / "gt"
    out_dir.mkdir(parents=True, exist_ok=True)
    gt.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    for k, p in enumerate(pairs, start=1):
        stem = f"p{k:06d}"
        _link(p.distorted, out_dir / f"{stem}{p.distorted.suffix.lower()}")
        _link(p.reference, gt / f"{stem}{p.reference.suffix.lower()}")
        names[stem] = p.item
    return results, gt, names


def score_pairs(
    pairs: Sequence[HumanPair],
    workdir: Path,
    *,
    method: str,
    metrics: str | Sequence[str] = "default",
    progress: bool | None = None,
    **config: Any,
) -> tuple[Any, Any, dict[str, Any]]:
    """Score resolved pairs with the engine; returns ``(scores by item, errors, run_info)``.

    ``config`` holds further :class:`paradigm.engine.ScoreConfig` options (``batch_size``,
    ``device``, ``y_channel``, …). The engine's cache lives in ``workdir/results/.paradigm``, so a
    rerun with the same ``workdir`` computes only what is new.
    """
    from .engine import ScoreConfig, run_score

    if not pairs:
        raise InputError("no judged image could be paired with its reference; see the error rows")
    results, gt, names = materialise(pairs, workdir, method)
    cfg = ScoreConfig(results=results, gt=gt, metrics=metrics, progress=progress, **config)
    res = run_score(cfg)
    scores = res.scores.copy()
    scores.insert(0, "item", scores["image"].map(names))
    errors = res.errors.copy()
    errors["item"] = errors["image"].map(lambda s: names.get(str(s).split("_s")[0], str(s)))
    return scores, errors, res.run_info


def score_function(
    fn: Callable[..., Any], pairs: Sequence[HumanPair], *, name: str, batch_size: int = 8
) -> tuple[dict[str, float], list[Unresolved]]:
    """Values of a plain metric function ``fn(x, ref) -> (N,)`` on resolved pairs, by item.

    Images are decoded with paradigm's reader; an output whose size differs from its reference is
    resized to it as ``paradigm score --resize to-gt`` does. A pair whose call fails becomes an
    :class:`Unresolved` row with the exception text.
    """
    import torch

    from .io import read_image
    from .scoring.decode import resize_to

    values: dict[str, float] = {}
    bad: list[Unresolved] = []
    by_shape: dict[tuple[int, ...], list[tuple[str, Any, Any]]] = defaultdict(list)
    for p in pairs:
        try:
            x, r = read_image(p.distorted), read_image(p.reference)
        except Exception as exc:  # noqa: BLE001 - every failure is one row
            bad.append(Unresolved(p.item, f"{name}: decode: {exc}"))
            continue
        if x.shape != r.shape:
            x = resize_to(x, int(r.shape[1]), int(r.shape[2]))
        by_shape[tuple(r.shape)].append((p.item, x, r))
    for group in by_shape.values():
        for s in range(0, len(group), batch_size):
            chunk = group[s : s + batch_size]
            try:
                with torch.inference_mode():
                    out = fn(torch.stack([c[1] for c in chunk]), torch.stack([c[2] for c in chunk]))
                vals = torch.as_tensor(out, dtype=torch.float64).reshape(-1).tolist()
                if len(vals) != len(chunk):
                    raise InputError(f"{name} returned {len(vals)} values for a batch of {len(chunk)}")
            except Exception as exc:  # noqa: BLE001
                bad.extend(Unresolved(c[0], f"{name}: {type(exc).__name__}: {exc}") for c in chunk)
                continue
            values.update({c[0]: v for c, v in zip(chunk, vals, strict=True)})
    return values, bad


# ------------------------------------------------------------------------------------ benchmark


def dataset_root(human: Any, items: Sequence[tuple[str, str]], images: str | Path | None = None) -> Path:
    """The folder holding the dataset's images.

    ``images`` when given; else the loader's source folder (the score file's folder) or one of its
    two parents, the first under which the first judged item resolves (PIPAL keeps its labels in
    ``Train_Label/`` beside ``Train_Dist/`` and ``Train_Ref/``).
    """
    if images is not None:
        return Path(images)
    src = Path(str(human.source or ""))
    if not str(src):
        raise InputError("the human data names no source to find its images under; pass the images folder")
    start = src if src.is_dir() else src.parent
    for cand in (start, start.parent, start.parent.parent):
        if items and isinstance(ImageIndex(cand).resolve(items[0][0]), Path):
            return cand
    return start


def _score_table(values: Any, columns: Sequence[str], directions: dict[str, bool], source: str) -> Any:
    """A metric table as ``meta_eval.scores`` returns it (``key`` = the dataset's item name)."""
    import pandas as pd

    table = pd.DataFrame({"key": values["item"].astype(str).to_numpy()})
    for c in columns:
        table[c] = pd.to_numeric(values[c], errors="coerce").to_numpy()
    table.attrs.update(kind="table", source=source, higher_is_better=directions, labels=[])
    return table


def _engine_table(scores: Any, info: dict[str, Any]) -> Any:
    facts = info.get("columns", {})
    cols = [c for c in facts if c in scores.columns and scores[c].notna().any()]
    dirs = {c: bool(facts[c]["higher_is_better"]) for c in cols if facts[c]["higher_is_better"] is not None}
    return _score_table(scores, cols, dirs, "paradigm score")


def benchmark(
    dataset: str,
    *,
    out: str | Path,
    metrics: str | Sequence[str] | None = "default",
    scores: Sequence[str] = (),
    fn: Callable[..., Any] | None = None,
    fn_name: str = "candidate",
    fn_higher_is_better: bool = True,
    images: str | Path | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    progress: bool | None = None,
    **engine: Any,
) -> dict[str, Any]:
    """Score a human-judged dataset's images and validate the metrics against its judgments.

    Args:
        dataset: ``KIND:ROOT`` as ``meta-eval validate --human`` takes it (``tid2013:/data/tid2013``);
            the images are found under the loader's source folder.
        out: folder for ``pairs/`` (linked tree and engine cache), ``scores.csv``, ``errors.csv`` and
            the ``report.*`` files.
        metrics: paradigm metrics to compute (None: none).
        scores: extra ``--scores`` specs (e.g. a metric author's precomputed table).
        fn: a plain metric function ``fn(x, ref) -> (N,)`` on ``(N, C, H, W)`` tensors in [0, 1].
        fn_name, fn_higher_is_better: its column name and direction.
        images: the folder holding the dataset's images (default: found from the score file's folder).
        n_boot, seed, progress: passed to ``meta_eval.report.validate``.
        **engine: further :class:`paradigm.engine.ScoreConfig` options.

    Returns:
        ``meta_eval``'s results dict (also written under ``out``).
    """
    import pandas as pd

    from meta_eval.loaders import load_human
    from meta_eval.report import validate, write_reports
    from meta_eval.scores import load_scores

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    human = load_human(dataset)
    items = judged_items(human.frame)
    pairs, bad = pair_images(dataset_root(human, items, images), items)
    tables, errors = [], [{"item": b.item, "stage": "pairing", "reason": b.reason} for b in bad]
    if metrics:
        got, errs, info = score_pairs(pairs, out / LAYOUT_DIR, method=human.name or "dataset", metrics=metrics,
                                      progress=progress, **engine)
        got.to_csv(out / "scores.csv", index=False)
        errors += [{"item": r.item, "stage": r.stage, "reason": r.reason} for r in errs.itertuples()]
        tables.append(_engine_table(got, info))
    if fn is not None:
        values, fbad = score_function(fn, pairs, name=fn_name)
        errors += [{"item": b.item, "stage": f"function:{fn_name}", "reason": b.reason} for b in fbad]
        frame = pd.DataFrame({"item": list(values), fn_name: list(values.values())})
        tables.append(_score_table(frame, [fn_name], {fn_name: fn_higher_is_better}, fn_name))
    tables += [load_scores(s) for s in scores]
    if not tables:
        raise InputError("nothing to validate: give paradigm metrics, a function or --scores tables")
    pd.DataFrame(errors, columns=["item", "stage", "reason"]).to_csv(out / "errors.csv", index=False)
    res = validate(human, tables, n_boot=n_boot, seed=seed, progress=bool(progress))
    res["pairing"] = {"judged": len(pairs) + len(bad), "paired": len(pairs), "unpaired": len(bad)}
    write_reports(res, out)
    return res
