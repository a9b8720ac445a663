"""Load ``paradigm score --out DIR`` folders and merge them into one table.

A scores folder holds ``scores.parquet`` (or ``scores.csv``) and ``run.json`` (contracts §2).
Merging checks that every run was scored under the same settings: the signature fields that change
scores (contracts §3) must agree. Rows of the same (method, task, dataset, image, sample) found in
two inputs must carry identical values.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..signature import SCORE_FIELDS as _SIGNATURE_SCORE_FIELDS

log = logging.getLogger(__name__)

#: Row identity columns (contracts §2).
KEY_COLUMNS: tuple[str, ...] = ("method", "task", "dataset", "image", "sample")
#: String columns that are not scores.
META_COLUMNS: tuple[str, ...] = (
    *KEY_COLUMNS,
    "output_path",
    "gt_path",
    "input_path",
    "height",
    "width",
    "resized",
)
#: Pillar and composite columns, all in [0, 1], higher is better.
PILLARS: tuple[str, ...] = ("perceptual", "stability", "fidelity")
COMPOSITE = "composite"
#: Signature fields that change scores (contracts §3), in the order they are checked.
SCORE_FIELDS: tuple[str, ...] = _SIGNATURE_SCORE_FIELDS
_STRING_COLUMNS = ("method", "task", "dataset", "image", "sample", "output_path", "gt_path", "input_path")
#: Columns of ``errors.csv`` (contracts §2).
ERROR_COLUMNS: tuple[str, ...] = ("method", "task", "dataset", "image", "path", "stage", "reason")
#: Slack allowed around [0, 1] for pillars and the composite (float rounding of a weighted mean).
_UNIT_SLACK = 1e-9


@dataclass
class Run:
    """One loaded scores folder.

    Attributes:
        run_id: ``"run1"``, ``"run2"``… in command-line order.
        name: the folder's base name (never an absolute path: it ends up in the outputs).
        folder: where the folder is, used to resolve relative image paths.
        scores: the per-image table (contracts §2), identity columns as str (``""`` when empty).
        signature: the reproducibility signature dict from ``run.json``.
        signature_line: its one-line rendering.
        errors: the run's ``errors.csv`` (contracts §2; empty when absent), identity columns as str.
        roots: the folders the run scored (``run.json`` ``roots``: results, gt, input…, resolved);
            None when the run did not record them. Thumbnails are only made from files under them.
    """

    run_id: str
    name: str
    folder: Path
    scores: pd.DataFrame
    signature: dict[str, Any]
    signature_line: str
    errors: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(ERROR_COLUMNS)))
    roots: list[Path] | None = None


@dataclass
class Conflict:
    """A score-changing signature field on which a run differs from the first run."""

    run_id: str
    field: str
    reference: str
    value: str


@dataclass
class Merged:
    """The merged table and what was found while merging.

    ``scores`` has the columns of the inputs plus ``run_id``, ``signature_line`` and
    ``signature_conflict`` (``""`` or the comma-separated conflicting fields).
    """

    scores: pd.DataFrame
    runs: list[Run]
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def errors(self) -> pd.DataFrame:
        """Every run's ``errors.csv`` rows, with a ``run_id`` column."""
        frames = [r.errors.assign(run_id=r.run_id) for r in self.runs if len(r.errors)]
        if not frames:
            return pd.DataFrame(columns=[*ERROR_COLUMNS, "run_id"])
        # the same errors.csv given twice (or two runs of one folder) counts once
        return pd.concat(frames, ignore_index=True).drop_duplicates(list(ERROR_COLUMNS), ignore_index=True)


def _read_table(folder: Path) -> pd.DataFrame:
    parquet, csv = folder / "scores.parquet", folder / "scores.csv"
    if parquet.is_file():
        try:
            df = pd.read_parquet(parquet)
        except ImportError as exc:  # pragma: no cover - pyarrow is a hard dependency
            if not csv.is_file():
                raise InputError(f"cannot read {parquet}: {exc}; install pyarrow") from exc
            df = None
        except Exception as exc:
            raise InputError(f"cannot read {parquet}: {exc}; rerun `paradigm score --out {folder}`") from exc
        if df is not None:
            check_unit_columns(df, parquet)
            return df
    if csv.is_file():
        try:
            # Everything as text first so that names like "NA" or "null" stay names.
            df = pd.read_csv(csv, dtype=str, keep_default_na=False)
        except Exception as exc:
            raise InputError(f"cannot read {csv}: {exc}; rerun `paradigm score --out {folder}`") from exc
        check_unit_columns(df, csv)
        for col in df.columns:
            if col not in _STRING_COLUMNS:
                df[col] = pd.to_numeric(df[col].replace("", math.nan), errors="coerce")
        return df
    raise InputError(
        f"{folder} has no scores.parquet or scores.csv; pass folders written by `paradigm score --out DIR`"
    )


def check_unit_columns(df: pd.DataFrame, source: Path) -> None:
    """Refuse a table whose composite or pillar values are not numbers in [0, 1].

    A blank cell (CSV) or a null (parquet) is a value that could not be computed and is allowed;
    anything else must be a finite number in [0, 1]: text such as ``inf``, ``nan`` or ``good``, or a
    value outside the range, could only come from an edited or forged file and would rank it first.

    Raises:
        InputError: naming the file, the column, the first bad row and how many there are.
    """
    for col in (COMPOSITE, *PILLARS):
        if col not in df.columns:
            continue
        raw = df[col]
        blank = raw.isna() | raw.astype(str).str.strip().eq("")
        num = pd.to_numeric(raw.where(~blank), errors="coerce").astype("float64")
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(num) & (num >= -_UNIT_SLACK) & (num <= 1 + _UNIT_SLACK)
        bad = ~blank & ~ok
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            row = df.iloc[i]
            where = ", ".join(f"{k} {str(row[k])!r}" for k in ("method", "image") if k in df.columns)
            raise InputError(
                f"{source}: column {col!r} has {int(bad.sum())} value(s) that are not numbers in [0, 1] "
                f"(first: row {i + 2}{', ' + where if where else ''}: {str(raw.iloc[i])!r}); pillars and the "
                "composite are qualities in [0, 1]. Rescore with `paradigm score`, or leave the cell empty "
                "when no value could be computed"
            )


def _read_errors(folder: Path) -> pd.DataFrame:
    path = folder / "errors.csv"
    if not path.is_file():
        return pd.DataFrame(columns=list(ERROR_COLUMNS))
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:
        log.warning("cannot read %s (%s): error counts of this run are left out", path, exc)
        return pd.DataFrame(columns=list(ERROR_COLUMNS))
    for col in ERROR_COLUMNS:
        if col not in df.columns:
            df[col] = ""
    return df[list(ERROR_COLUMNS)].astype(str)


def _read_roots(meta: dict[str, Any]) -> list[Path] | None:
    roots = meta.get("roots")
    if not isinstance(roots, dict):
        return None
    return [Path(v) for v in roots.values() if isinstance(v, str) and v and Path(v).is_absolute()]


def load_run(path: str | Path, run_id: str = "run1") -> Run:
    """Load one scores folder.

    Args:
        path: a folder written by ``paradigm score --out DIR`` (or a file inside it).
        run_id: identifier of the run in the merged outputs.

    Returns:
        The loaded :class:`Run`.

    Raises:
        InputError: when the folder, its table or its ``run.json`` is missing or malformed.
    """
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(f"scores folder {str(path)!r} does not exist; pass the --out folder of `paradigm score`")
    run_json = folder / "run.json"
    if not run_json.is_file():
        raise InputError(
            f"{folder} has no run.json, so its reproducibility signature is unknown; "
            "pass folders written by `paradigm score --out DIR`"
        )
    try:
        meta = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {run_json}: {exc}") from exc
    signature = meta.get("signature") if isinstance(meta, dict) else None
    if not isinstance(signature, dict):
        raise InputError(f"{run_json} has no 'signature' object; rerun `paradigm score --out {folder}`")
    line = meta.get("signature_line")
    if not isinstance(line, str):
        line = render_signature_line(signature)
    df = _read_table(folder)
    missing = [c for c in ("method", "image") if c not in df.columns]
    if missing:
        raise InputError(f"{folder}: the scores table lacks column(s) {missing}; it is not a `paradigm score` table")
    df = df.copy()
    for col in KEY_COLUMNS:
        if col not in df.columns:
            df[col] = ""
        df[col] = df[col].map(_as_name)
    for col in (*PILLARS, COMPOSITE):
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return Run(run_id=run_id, name=folder.resolve().name, folder=folder, scores=df, signature=signature,
               signature_line=line.replace("\n", " ").strip(), errors=_read_errors(folder),
               roots=_read_roots(meta))


def _as_name(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def render_signature_line(sig: dict[str, Any]) -> str:
    """A fallback one-line rendering of a signature without ``signature_line`` (contracts §3)."""
    metrics = "+".join(f"{m.get('name')}.{m.get('version')}" for m in sig.get("metrics") or [] if isinstance(m, dict))
    return (
        f"paradigm:{sig.get('paradigm')}|metrics:{metrics}|resize:{sig.get('resize')}|crop:{sig.get('crop_border')}"
        f"|composite:{sig.get('composite')}|seed:{sig.get('seed')}|device:{sig.get('device')}"
    )


def _field_value(sig: dict[str, Any], name: str) -> Any:
    value = sig.get(name)
    if name == "paradigm" and isinstance(value, str):
        return ".".join(value.split(".")[:2])  # major.minor
    if name == "metrics" and isinstance(value, list):
        return sorted(json.dumps(m, sort_keys=True) for m in value)
    return value


def _describe(sig: dict[str, Any], name: str) -> str:
    value = sig.get(name)
    if name == "paradigm" and isinstance(value, str):
        return ".".join(value.split(".")[:2])
    if name == "metrics" and isinstance(value, list):
        parts = []
        for m in sorted(value, key=lambda m: json.dumps(m, sort_keys=True)):
            if not isinstance(m, dict):
                parts.append(str(m))
                continue
            text = f"{m.get('name')}.{m.get('version')}"
            if m.get("options"):
                text += "(" + ",".join(f"{k}={v}" for k, v in sorted(m["options"].items())) + ")"
            parts.append(text)
        return "+".join(parts)
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else value


def signature_conflicts(reference: Run, other: Run) -> list[Conflict]:
    """Score-changing fields on which ``other`` differs from ``reference`` (contracts §3 list)."""
    out = []
    for name in SCORE_FIELDS:
        if _field_value(reference.signature, name) != _field_value(other.signature, name):
            out.append(Conflict(other.run_id, name, _describe(reference.signature, name),
                                _describe(other.signature, name)))
    return out


def _value_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in META_COLUMNS and c not in ("run_id", "signature_line", "signature_conflict")]


def _same_values(a: pd.Series, b: pd.Series, columns: list[str]) -> bool:
    for col in columns:
        va, vb = a.get(col, math.nan), b.get(col, math.nan)
        na_a = va is None or (isinstance(va, float) and math.isnan(va))
        na_b = vb is None or (isinstance(vb, float) and math.isnan(vb))
        if na_a and na_b:
            continue
        if na_a != na_b:
            return False
        try:
            if not math.isclose(float(va), float(vb), rel_tol=1e-9, abs_tol=1e-12):
                return False
        except (TypeError, ValueError):
            if str(va) != str(vb):
                return False
    return True


def merge_runs(runs: list[Run], force: bool = False) -> Merged:
    """Merge loaded runs into one table.

    Args:
        runs: loaded runs, in command-line order; the first one is the reference signature.
        force: merge even when score-changing signature fields disagree; the rows of runs that
            differ get ``signature_conflict`` set to the differing fields.

    Returns:
        The :class:`Merged` table.

    Raises:
        InputError: when signatures disagree (without ``force``; the message names the field and
            both values) or when the same row appears twice with different values.
    """
    if not runs:
        raise InputError("no scores folders given; pass at least one `paradigm score --out` folder")
    conflicts: list[Conflict] = []
    frames = []
    for run in runs:
        found = signature_conflicts(runs[0], run) if run is not runs[0] else []
        if found and not force:
            c = found[0]
            more = f" (and {', '.join(x.field for x in found[1:])})" if len(found) > 1 else ""
            raise InputError(
                f"cannot merge {runs[0].name!r} and {run.name!r}: signature field {c.field!r} differs{more}: "
                f"{c.reference!r} vs {c.value!r}. Their scores are not comparable; rescore with the same "
                "settings, or pass --force to merge anyway (the affected rows are marked)."
            )
        conflicts.extend(found)
        df = run.scores.copy()
        df["run_id"] = run.run_id
        df["signature_line"] = run.signature_line
        df["signature_conflict"] = ",".join(c.field for c in found)
        frames.append(df)
    merged = pd.concat(frames, ignore_index=True, sort=False)
    values = _value_columns(merged)
    dup = merged.duplicated(list(KEY_COLUMNS), keep=False)
    if dup.any():
        drop: list[int] = []
        for _, group in merged[dup].groupby(list(KEY_COLUMNS), sort=True):
            first = group.iloc[0]
            for idx, row in group.iloc[1:].iterrows():
                if not _same_values(first, row, values):
                    where = "twice in " + repr(_run_name(runs, row["run_id"])) if row["run_id"] == first["run_id"] \
                        else f"in {_run_name(runs, first['run_id'])!r} and {_run_name(runs, row['run_id'])!r}"
                    key = ", ".join(f"{k}={first[k]!r}" for k in KEY_COLUMNS if first[k] != "" or k in ("method", "image"))
                    raise InputError(
                        f"the row ({key}) appears {where} with different values; "
                        "remove one of the inputs or rescore so that each result is scored once"
                    )
                drop.append(int(idx))
        log.info("dropped %d duplicate rows with identical values", len(drop))
        merged = merged.drop(index=drop).reset_index(drop=True)
    return Merged(scores=merged, runs=runs, conflicts=conflicts)


def _run_name(runs: list[Run], run_id: str) -> str:
    for r in runs:
        if r.run_id == run_id:
            return r.name
    return run_id
