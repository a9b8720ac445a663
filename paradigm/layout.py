"""Results discovery and pairing: which output file goes with which ground truth (and input) image.

Public API (stable; also used by ``paradigm annotate``):

- :func:`discover` ``(results, gt, input=None) -> Layout``: find every output, pair it with its GT
  (and degraded input), and list everything that could not be paired.
- :class:`Layout`, :class:`Pair`, :class:`Unpaired`: the result.
- :func:`canonical_key` ``(stem) -> str``: the pairing key of a file stem.
- :func:`split_sample` ``(stem) -> (stem, sample)``: split a ``_s<k>`` sample suffix.
- :func:`iter_images` ``(root, problems=None) -> list[Path]``: image files under a folder (hidden
  entries, ``.paradigm/`` and non-image files ignored; symbolic-link loops are not followed, and
  loops and unreadable folders are reported as :class:`WalkProblem`).

Layout forms (detected automatically from the GT folder, then from where outputs sit):

- **full**: ``GT/<task>/<dataset>/<image>`` and ``RESULTS/<method>/<task>/<dataset>/<image>``;
- **flat**: ``GT/<image>`` and ``RESULTS/<method>/<image>``;
- **single method**: ``RESULTS/<image>`` (flat GT) or ``RESULTS/<task>/<dataset>/<image>`` (full GT) —
  used when no output sits deeper than that; the method is the RESULTS folder's name.

Rule: the GT folder is *flat* when it holds image files directly, *full* when its images are
exactly two folders deep. Each output's folder path below RESULTS (with ``seed_<k>`` folders removed)
must then be ``<method>`` or nothing (flat) / ``<method>/<task>/<dataset>`` or ``<task>/<dataset>``
(full); anything else is reported as unpaired ("unexpected location").

Pairing is by file stem, case-insensitive, ignoring the extension and the usual suffixes
(:data:`SUFFIXES`: ``_x4``, ``_SR``, ``_out``, ``_LR``, ``_lq``… in any combination, e.g. ``_x4_SR``;
``x4`` directly after a digit, as in DIV2K's ``0801x4``; in the input folder also after a letter,
as in ``babyx4``). An exact (case-insensitive) stem match is
tried before the suffix-stripped key.

Several samples per input (generative methods): ``<image>_s<k>.<ext>`` files, or
``<method>/seed_<k>/…`` folders, give a ``sample`` value ``"<k>"``. A method with one file per input
has ``sample == ""``. ``_s<k>`` is only read as a sample suffix when the full stem does not itself
match a GT image.
"""

from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .io import is_image_path

log = logging.getLogger(__name__)

#: Suffixes stripped (case-insensitive, repeatedly, from the end of a stem) to build the pairing key.
SUFFIXES: tuple[str, ...] = (
    "x2", "x3", "x4", "x8", "sr", "out", "output", "result", "restored", "pred", "fake", "rlt",
    "lr", "lq", "hr", "gt", "input", "bicubic",
    "dehazed", "mean", "fusion", "fused", "sesf",  # the study's scripts (paradigm.protocols)
)

_SUFFIX_RE = re.compile(r"(?:[_\-.](?:" + "|".join(SUFFIXES) + r"))$", re.IGNORECASE)
_DIGIT_SCALE_RE = re.compile(r"(?<=\d)x[2348]$", re.IGNORECASE)
_BARE_SCALE_RE = re.compile(r"x[2348]$", re.IGNORECASE)
_SAMPLE_RE = re.compile(r"^(?P<base>.+?)[_\-]s(?P<k>\d+)$", re.IGNORECASE)
_SEED_DIR_RE = re.compile(r"^seed[_\-]?(?P<k>\d+)$", re.IGNORECASE)

#: Folder names skipped everywhere (besides hidden entries).
IGNORED_DIRS: frozenset[str] = frozenset({".paradigm", "__pycache__", "__MACOSX"})


@dataclass(frozen=True)
class Pair:
    """One output image paired with its ground truth (and input).

    Attributes:
        method, task, dataset: from the folder layout (``task``/``dataset`` are ``""`` when flat).
        image: the GT file's stem (the common name of the input).
        sample: ``""`` for single-sample methods, else the sample id (``"0"``, ``"1"``…).
        output_path, gt_path: the files; ``input_path`` is None without ``--input`` or when missing.
    """

    method: str
    task: str
    dataset: str
    image: str
    sample: str
    output_path: Path
    gt_path: Path
    input_path: Path | None = None


@dataclass(frozen=True)
class Unpaired:
    """A file that could not be paired, with the reason (becomes an ``errors.csv`` row, stage ``pairing``)."""

    method: str
    task: str
    dataset: str
    image: str
    path: Path
    reason: str


@dataclass(frozen=True)
class WalkProblem:
    """A folder that could not be walked: unreadable, or a symbolic-link loop (not followed)."""

    path: Path
    reason: str


@dataclass
class Layout:
    """The result of :func:`discover`.

    Attributes:
        form: ``"full"`` or ``"flat"`` (from the GT folder).
        single_method: True when RESULTS itself is one method's folder.
        pairs: paired outputs, sorted by (method, task, dataset, image, sample).
        unpaired: everything that could not be paired (outputs without GT, GT without output, …).
        methods: method names found, sorted.
        problems: folders that could not be walked (unreadable, symbolic-link loops), one each;
            ``paradigm score`` turns each into an ``errors.csv`` row (stage ``discovery``).
    """

    form: str
    single_method: bool
    pairs: list[Pair] = field(default_factory=list)
    unpaired: list[Unpaired] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    problems: list[WalkProblem] = field(default_factory=list)


def _hidden(name: str) -> bool:
    return name.startswith(".") or name in IGNORED_DIRS


def iter_images(root: str | os.PathLike[str], problems: list[WalkProblem] | None = None) -> list[Path]:
    """All image files under ``root`` (recursive, sorted), skipping hidden files/folders and ``.paradigm/``.

    Symbolic links to folders are followed, except a link back to one of its own ancestors (a loop):
    that one is not entered and is reported once. A folder that cannot be listed (permissions,
    I/O error) is reported too. Non-image files are logged at debug level and skipped.

    Args:
        root: the folder.
        problems: when given, every loop and unreadable folder is appended to it as a
            :class:`WalkProblem` (else they are logged as warnings).
    """
    out: list[Path] = []
    found: list[WalkProblem] = [] if problems is None else problems
    n_before = len(found)
    base = Path(root)
    try:
        st = base.stat()
        top: tuple[tuple[int, int], ...] = ((st.st_dev, st.st_ino),)
    except OSError as exc:
        found.append(WalkProblem(base, f"cannot read folder ({exc.strerror or exc})"))
        top = ()
    # depth-first, files of a folder before its subfolders, both sorted (as os.walk top-down)
    stack: list[tuple[Path, tuple[tuple[int, int], ...]]] = [(base, top)] if top else []
    while stack:
        folder, ancestors = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            found.append(WalkProblem(folder, f"cannot read folder ({exc.strerror or exc}); its images are not scored"))
            continue
        subdirs: list[tuple[Path, tuple[tuple[int, int], ...]]] = []
        for e in entries:
            if _hidden(e.name):
                continue
            p = Path(folder) / e.name
            try:
                is_dir = e.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if not is_dir:
                if is_image_path(p):
                    out.append(p)
                else:
                    log.debug("ignoring non-image file %s", p)
                continue
            try:
                dst = p.stat()
            except OSError as exc:
                found.append(WalkProblem(p, f"cannot read folder ({exc.strerror or exc}); its images are not scored"))
                continue
            ident = (dst.st_dev, dst.st_ino)
            if ident in ancestors:
                found.append(
                    WalkProblem(p, f"symbolic link loop: {p} leads back to its ancestor folder "
                                f"{os.path.realpath(p)}; not followed")
                )
                continue
            subdirs.append((p, (*ancestors, ident)))
        stack.extend(reversed(subdirs))
    if problems is None:
        for pr in found[n_before:]:
            log.warning("%s: %s", pr.path, pr.reason)
    return out


def canonical_key(stem: str) -> str:
    """Pairing key of a file stem: lower case, known suffixes (:data:`SUFFIXES`) stripped repeatedly.

    Example:
        >>> canonical_key("Baby_x4_SR")
        'baby'
        >>> canonical_key("0801x4")
        '0801'
    """
    key = stem.strip()
    while True:
        new = _SUFFIX_RE.sub("", key)
        new = _DIGIT_SCALE_RE.sub("", new)
        if new == key or not new:
            break
        key = new
    return key.lower()


def split_sample(stem: str) -> tuple[str, str]:
    """Split a ``_s<k>`` sample suffix: ``"img_s2" -> ("img", "2")``; ``("img", "")`` when absent."""
    m = _SAMPLE_RE.match(stem)
    if not m:
        return stem, ""
    return m.group("base"), str(int(m.group("k")))


class _Index:
    """GT or input images indexed by (task, dataset) and key (exact lower stem and canonical key)."""

    def __init__(self, loose: bool = False) -> None:
        self.loose = loose  # inputs: also strip a bare trailing x2/x3/x4/x8 ("babyx4")
        self.exact: dict[tuple[str, str, str], list[Path]] = defaultdict(list)
        self.canon: dict[tuple[str, str, str], list[Path]] = defaultdict(list)
        self.groups: dict[tuple[str, str], list[Path]] = defaultdict(list)

    def add(self, task: str, dataset: str, path: Path) -> None:
        self.exact[(task, dataset, path.stem.lower())].append(path)
        key = canonical_key(path.stem)
        self.canon[(task, dataset, key)].append(path)
        if self.loose:
            bare = _BARE_SCALE_RE.sub("", key)
            if bare and bare != key:
                self.canon[(task, dataset, bare)].append(path)
        self.groups[(task, dataset)].append(path)

    def find(self, task: str, dataset: str, stem: str) -> list[Path]:
        hit = self.exact.get((task, dataset, stem.lower()))
        if hit:
            return list(hit)
        return list(self.canon.get((task, dataset, canonical_key(stem)), []))


def _index_tree(
    root: Path, what: str, loose: bool = False, problems: list[WalkProblem] | None = None
) -> tuple[str, _Index, list[Path]]:
    """Index a GT/input tree; returns (form, index, stray files)."""
    files = iter_images(root, problems)
    if not files:
        raise InputError(f"{what} folder {root} contains no images (png, jpg, bmp, tif, webp)")
    depths = defaultdict(list)
    for f in files:
        depths[len(f.relative_to(root).parts) - 1].append(f)
    idx = _Index(loose)
    stray: list[Path] = []
    form = "flat" if depths.get(0) else "full"
    for depth, fs in depths.items():
        for f in fs:
            parts = f.relative_to(root).parts
            if form == "flat" and depth == 0:
                idx.add("", "", f)
            elif form == "full" and depth == 2:
                idx.add(parts[0], parts[1], f)
            else:
                stray.append(f)
    if form == "full" and not idx.groups:
        raise InputError(
            f"{what} folder {root}: images must be either directly in it (flat layout) or in "
            f"<task>/<dataset>/ subfolders (full layout); found them at depth(s) {sorted(depths)}"
        )
    return form, idx, stray


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _check_dir(path: str | os.PathLike[str], what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} folder {p} does not exist")
    if not p.is_dir():
        raise InputError(f"{what} path {p} is not a folder")
    return p


def discover(
    results: str | os.PathLike[str],
    gt: str | os.PathLike[str],
    input: str | os.PathLike[str] | None = None,  # noqa: A002 - mirrors the CLI option
) -> Layout:
    """Find and pair every output under ``results`` with its ground truth (and degraded input).

    Args:
        results: the results folder (see the module docstring for the accepted forms).
        gt: the ground-truth folder (flat or ``<task>/<dataset>/``).
        input: optional degraded-input (LQ) folder, flat or in the GT's form.

    Returns:
        A :class:`Layout` with ``pairs`` and ``unpaired`` (never silently dropped).

    Raises:
        InputError: a folder is missing, not a folder, or holds no images.
    """
    res_root = _check_dir(results, "RESULTS")
    gt_root = _check_dir(gt, "GT")
    problems: list[WalkProblem] = []
    form, gt_idx, gt_stray = _index_tree(gt_root, "GT", problems=problems)
    in_idx: _Index | None = None
    in_stray: list[Path] = []
    if input is not None:
        in_root = _check_dir(input, "input (LQ)")
        _, in_idx, in_stray = _index_tree(in_root, "input (LQ)", loose=True, problems=problems)
    outputs = iter_images(res_root, problems)
    # GT/input folders inside RESULTS (e.g. RESULTS/GT) are not methods
    others = [gt_root.resolve()] + ([Path(input).resolve()] if input is not None else [])
    outputs = [f for f in outputs if not any(_is_within(f.resolve(), o) for o in others)]
    if not outputs:
        raise InputError(f"RESULTS folder {res_root} contains no images (png, jpg, bmp, tif, webp)")

    unpaired: list[Unpaired] = []
    for f in gt_stray:
        unpaired.append(Unpaired("", "", "", f.stem, f, f"GT image at an unexpected depth for a {form} GT layout"))
    for f in in_stray:
        unpaired.append(Unpaired("", "", "", f.stem, f, "input image at an unexpected depth"))

    placed, single = _place_outputs(outputs, res_root, form, gt_idx)
    found, methods = _match_outputs(placed, single, res_root, form, gt_idx, unpaired)
    pairs = _make_pairs(found, in_idx, unpaired)
    _report_missing(pairs, methods, gt_idx, form, res_root, unpaired)
    pairs.sort(key=lambda p: (p.method, p.task, p.dataset, p.image.lower(), _sample_order(p.sample)))
    unpaired.sort(key=lambda u: (u.method, u.task, u.dataset, u.image.lower(), str(u.path)))
    return Layout(
        form=form, single_method=single, pairs=pairs, unpaired=unpaired, methods=sorted(methods),
        problems=_dedupe(problems),
    )


def _place_outputs(
    outputs: list[Path], res_root: Path, form: str, gt_idx: _Index
) -> tuple[list[tuple[tuple[str, ...], str, Path]], bool]:
    """Where each output sits (folders without seed folders, seed sample) and whether RESULTS is one method."""
    # where each output sits: (dir parts without seed folders, seed sample)
    placed: list[tuple[tuple[str, ...], str, Path]] = []
    for f in outputs:
        parts = f.relative_to(res_root).parts[:-1]
        seed = ""
        dirs: list[str] = []
        for part in parts:
            m = _SEED_DIR_RE.match(part)
            if m:
                seed = str(int(m.group("k")))
            else:
                dirs.append(part)
        placed.append((tuple(dirs), seed, f))
    want = 0 if form == "flat" else 2  # folder depth of a single-method tree
    single = all(len(k) == want for k, _, _ in placed)
    if form == "full" and single:
        single = any((k[0], k[1]) in gt_idx.groups for k, _, _ in placed)

    return placed, single


def _match_outputs(
    placed: list[tuple[tuple[str, ...], str, Path]], single: bool, res_root: Path, form: str, gt_idx: _Index,
    unpaired: list[Unpaired],
) -> tuple[dict[tuple[str, str, str, Path], list[tuple[str, Path]]], set[str]]:
    """Each output's GT image, by (method, task, dataset, GT path); what matches none is unpaired."""
    want = 0 if form == "flat" else 2  # folder depth of a single-method tree
    # (method, task, dataset, gt_path) -> list of (sample, output_path)
    found: dict[tuple[str, str, str, Path], list[tuple[str, Path]]] = defaultdict(list)
    methods: set[str] = set()
    for kept, seed, f in placed:
        rest: tuple[str, ...]
        if single:
            method, rest = res_root.resolve().name, kept
        elif len(kept) == want + 1:
            method, rest = kept[0], kept[1:]
        else:
            unpaired.append(
                Unpaired(kept[0] if kept else "", "", "", f.stem, f,
                         f"unexpected location for a {form} layout (expected "
                         + ("RESULTS/<method>/<image>" if form == "flat" else "RESULTS/<method>/<task>/<dataset>/<image>")
                         + ")")
            )
            continue
        methods.add(method)
        task, dataset = (rest[0], rest[1]) if form == "full" else ("", "")
        stem, sample = f.stem, seed
        hits = gt_idx.find(task, dataset, stem)
        if not hits:
            base, s = split_sample(stem)
            if s:
                hits = gt_idx.find(task, dataset, base)
                if hits:
                    sample = s if not seed else f"{seed}.{s}"
        if not hits:
            where = f" in {task}/{dataset}" if form == "full" else ""
            unpaired.append(Unpaired(method, task, dataset, f.stem, f, f"no GT image{where} matches this output"))
            continue
        if len(hits) > 1:
            names = ", ".join(h.name for h in hits)
            unpaired.append(Unpaired(method, task, dataset, f.stem, f, f"ambiguous: several GT images match ({names})"))
            continue
        found[(method, task, dataset, hits[0])].append((sample, f))

    return found, methods


def _make_pairs(
    found: dict[tuple[str, str, str, Path], list[tuple[str, Path]]], in_idx: _Index | None,
    unpaired: list[Unpaired],
) -> list[Pair]:
    """Pairs from the matches (duplicates and inputs that cannot be found are unpaired)."""
    pairs: list[Pair] = []
    multi_methods = {k[0] for k, v in found.items() if len(v) > 1 or any(s for s, _ in v)}
    covered: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for (method, task, dataset, gpath), outs in found.items():
        covered[method].add((task, dataset))
        seen: dict[str, Path] = {}
        for sample, opath in sorted(outs, key=lambda t: (t[0], str(t[1]))):
            if sample in seen:
                unpaired.append(
                    Unpaired(method, task, dataset, gpath.stem, opath,
                             f"duplicate output for GT {gpath.name} (already paired with {seen[sample].name})")
                )
                continue
            seen[sample] = opath
        inp: Path | None = None
        if in_idx is not None:
            ih = in_idx.find(task, dataset, gpath.stem) or in_idx.find("", "", gpath.stem)
            if len(ih) == 1:
                inp = ih[0]
            else:
                why = "no input image matches" if not ih else "several input images match"
                unpaired.append(Unpaired(method, task, dataset, gpath.stem, gpath, f"{why} GT {gpath.name}"))
        for sample, opath in seen.items():
            pairs.append(
                Pair(method, task, dataset, gpath.stem, sample if method in multi_methods else "", opath, gpath, inp)
            )

    return pairs


def _report_missing(
    pairs: list[Pair], methods: set[str], gt_idx: _Index, form: str, res_root: Path, unpaired: list[Unpaired]
) -> None:
    """GT images (or whole task/dataset folders) without an output, per method."""
    covered: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for p in pairs:
        covered[p.method].add((p.task, p.dataset))
    # GT images without output, per method
    paired_gt: dict[str, set[Path]] = defaultdict(set)
    for p in pairs:
        paired_gt[p.method].add(p.gt_path)
    for method in sorted(methods):
        for (task, dataset), gfiles in sorted(gt_idx.groups.items()):
            if (task, dataset) not in covered[method]:
                if form == "full":
                    unpaired.append(
                        Unpaired(method, task, dataset, "", res_root / method / task / dataset,
                                 f"method has no outputs for {task}/{dataset} ({len(gfiles)} GT images)")
                    )
                    continue
            for g in gfiles:
                if g not in paired_gt[method]:
                    unpaired.append(Unpaired(method, task, dataset, g.stem, g, "GT image has no output from this method"))



def _dedupe(problems: list[WalkProblem]) -> list[WalkProblem]:
    """One problem per folder (a tree walked twice, e.g. RESULTS containing GT, reports once)."""
    seen: dict[Path, WalkProblem] = {}
    for pr in problems:
        seen.setdefault(pr.path, pr)
    return list(seen.values())


def _sample_order(s: str) -> tuple[int, ...]:
    if not s:
        return ()
    try:
        return tuple(int(x) for x in s.split("."))
    except ValueError:
        return (1 << 30,)

