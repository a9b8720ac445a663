"""The typed human-judgments object every loader returns.

A :class:`Judgments` holds one table (``frame``) and, as typed fields, what used to travel in
``DataFrame.attrs``: the kind of judgment, the dataset's name and source, the direction and range of
the opinion scale. Kinds (contracts §5):

* ``opinion``: columns ``item, reference, distortion, score`` (+ ``std``, ``level``, ``system`` and any
  extra columns);
* ``2afc``: ``reference, item_a, item_b, frac_b`` (fraction of people preferring B) (+ ``distortion``,
  ``split``);
* ``pairwise``: ``reference, item_a, item_b, winner, rater, time_ms, is_catch``, one row per vote.

:func:`opinion` and :func:`twoafc` build them and refuse degenerate input with a message naming the
rows: non-numeric scores (decimal commas such as ``"3,5"`` are read as ``3.5`` with a warning),
infinite scores, an empty table, duplicate items.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .errors import InputError

log = logging.getLogger(__name__)

Kind = Literal["opinion", "2afc", "pairwise"]

OPINION_COLUMNS = ("item", "reference", "distortion", "score")
TWOAFC_COLUMNS = ("reference", "item_a", "item_b", "frac_b")
VOTE_COLUMNS = ("reference", "item_a", "item_b", "winner", "rater", "time_ms")
_STANDARD = {*OPINION_COLUMNS, *TWOAFC_COLUMNS, *VOTE_COLUMNS, "std", "level", "system", "split", "is_catch"}


@dataclass(frozen=True)
class Judgments:
    """Human judgments of one dataset.

    Attributes:
        frame: the table (columns by ``kind``, see the module docstring).
        kind: ``opinion``, ``2afc`` or ``pairwise``.
        name: dataset name (``tid2013``, ``csiq``...); source: the file or folder read; spec: the
            ``--human`` spec.
        higher_is_better: direction of ``score`` (False for DMOS-like scales).
        direction_stated: False when the direction is a default nobody stated (a generic CSV without
            ``higher_is_better``): ``validate`` then warns.
        score_range: ``(lo, hi)`` of the opinion scale (:func:`quality01` maps it to [0, 1]).
        scaling: for votes, the scaling to use (``bt``/``thurstone``); for opinion scores scaled from
            votes, the scaling used (``bradley-terry``/``thurstone-case-v``).
        scaled_from: ``pairwise`` when the opinion scores were scaled from votes.
        metrics: metric columns a join (:func:`meta_eval.scores.join`) added to ``frame``.
    """

    frame: pd.DataFrame
    kind: Kind = "opinion"
    name: str = ""
    source: str = ""
    spec: str = ""
    higher_is_better: bool = True
    direction_stated: bool = True
    score_range: tuple[float, float] | None = None
    scaling: str | None = None
    scaled_from: str | None = None
    metrics: tuple[str, ...] = ()

    # -- convenience views --------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, column: str) -> pd.Series:
        return self.frame[column]

    def __contains__(self, column: object) -> bool:
        return column in self.frame.columns

    def __getattr__(self, name: str) -> Any:
        """Read-only pandas access for code written against the former DataFrame API (``j.groupby``)."""
        if name.startswith("_") or name == "frame":
            raise AttributeError(name)
        return getattr(self.frame, name)

    @property
    def attrs(self) -> dict[str, Any]:
        """The typed fields as the former ``DataFrame.attrs`` dict (compatibility; a copy)."""
        return {"kind": self.kind, "higher_is_better": self.higher_is_better, "score_range": self.score_range,
                "name": self.name, "source": self.source, "spec": self.spec, "scaling": self.scaling,
                "scaled_from": self.scaled_from}

    @property
    def items(self) -> list[str]:
        """Item ids (opinion) or the union of both sides' items (2AFC, votes)."""
        if self.kind == "opinion":
            return self.frame["item"].tolist()
        return sorted(set(self.frame["item_a"]) | set(self.frame["item_b"]))

    @property
    def scores(self) -> NDArray[np.float64]:
        """Opinion scores as given (``frac_b`` for 2AFC)."""
        col = "score" if self.kind == "opinion" else "frac_b"
        return self.frame[col].to_numpy(np.float64)

    @property
    def references(self) -> NDArray[Any]:
        """Reference (content) id per row."""
        return self.frame["reference"].to_numpy()

    @property
    def distortions(self) -> NDArray[Any] | None:
        """Distortion type (or system) per row, None when unknown."""
        return self.frame["distortion"].to_numpy() if "distortion" in self.frame else None

    @property
    def extra_columns(self) -> list[str]:
        """Columns beyond the standard ones of the kind and the joined metrics (e.g. ``ci_low``)."""
        return [c for c in self.frame.columns if c not in _STANDARD and c not in self.metrics]

    def with_frame(self, frame: pd.DataFrame, **changes: Any) -> Judgments:
        """A copy with another table (and optionally other fields)."""
        return dataclasses.replace(self, frame=frame, **changes)

    def describe(self) -> dict[str, Any]:
        """The JSON-ready identity of the data (for ``results.json``)."""
        return {"spec": self.spec, "name": self.name, "kind": self.kind,
                "higher_is_better": self.higher_is_better, "source": self.source, "n": len(self)}


# ------------------------------------------------------------------------------- parsing
def _rows(mask: NDArray[np.bool_], labels: pd.Series, values: pd.Series, limit: int = 5) -> str:
    idx = np.flatnonzero(mask)[:limit]
    return ", ".join(f"row {i + 1} ({labels.iloc[i]!r}: {values.iloc[i]!r})" for i in idx)


_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


def _parse_text(s: pd.Series, lab: pd.Series, source: str, what: str) -> NDArray[np.float64]:
    """Numbers from text cells: decimal commas read with a warning, anything else not a number refused."""
    text = s.map(lambda v: v.strip() if isinstance(v, str) else v)
    blank = text.map(lambda v: v is None or (isinstance(v, str) and v == "") or (isinstance(v, float) and np.isnan(v)))
    comma = text.map(lambda v: isinstance(v, str) and bool(_DECIMAL_COMMA.match(v))).to_numpy(bool)
    if comma.any():
        text = text.where(~comma, text[comma].str.replace(",", ".", regex=False))
        log.warning("%s: read %d %s value(s) with a decimal comma as decimals (e.g. %s)",
                    source, int(comma.sum()), what, _rows(comma, lab, s, 2))
    num = pd.to_numeric(text, errors="coerce").to_numpy(np.float64)
    bad = np.isnan(num) & ~blank.to_numpy(bool)
    if bad.any():
        raise InputError(
            f"{source}: {int(bad.sum())} {what} value(s) are not numbers: {_rows(bad, lab, s)}; "
            "fix or remove those rows"
        )
    return np.asarray(num)


def parse_scores(values: Any, labels: Any, source: str, what: str = "score") -> NDArray[np.float64]:
    """Human scores as floats, refusing what is not a number.

    Numbers pass; strings are stripped and parsed; decimal commas (``"3,5"``) are read as ``3.5``
    with a warning that counts them; empty cells become NaN (missing, counted in a warning).

    Raises:
        InputError: naming the first offending rows when a value is not a number (``"good"``) or is
            infinite.
    """
    lab = pd.Series(labels).reset_index(drop=True).astype(str)
    raw = (values if isinstance(values, pd.Series) else pd.Series(values)).reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        num = raw.to_numpy(np.float64)  # fast path: already numbers
    else:
        num = _parse_text(raw, lab, source, what)
    inf = np.isinf(num)
    if inf.any():
        raise InputError(
            f"{source}: {int(inf.sum())} {what} value(s) are infinite ({int(np.isposinf(num).sum())} +inf, "
            f"{int(np.isneginf(num).sum())} -inf): {_rows(inf, lab, raw)}; human scores must be finite"
        )
    missing = int(np.isnan(num).sum())
    if missing == num.size and num.size:
        raise InputError(f"{source}: the {what} column is empty")
    if missing:
        log.warning("%s: %d of %d %s value(s) are missing; those rows are left out of the statistics",
                    source, missing, num.size, what)
    return num


def opinion(
    item: Any,
    score: Any,
    *,
    reference: Any = None,
    distortion: Any = None,
    std: Any = None,
    system: Any = None,
    level: Any = None,
    extra: dict[str, Any] | None = None,
    higher_is_better: bool = True,
    direction_stated: bool = True,
    score_range: tuple[float, float] | None = None,
    name: str = "",
    source: str = "",
) -> Judgments:
    """Build opinion-score judgments (contracts §5).

    Args:
        item: item ids (image names/paths), ``(n,)``.
        score: MOS/DMOS, ``(n,)`` (numbers or numeric strings; see :func:`parse_scores`).
        reference: reference (content) per item; default: the item itself.
        distortion: distortion type / system per item; default ``""``.
        std: per-item standard deviation of opinions, optional.
        system: system (method) per item, optional.
        level: distortion level, optional.
        extra: further columns to carry (name -> values).
        higher_is_better: False for DMOS-like scales; direction_stated: False when nobody stated it.
        score_range: ``(lo, hi)`` of the scale; default: the observed min/max.
        name: dataset name; source: where it was read from.

    Raises:
        InputError: on empty data, duplicate items, non-numeric or infinite scores.
    """
    where = source or name or "the input"
    df = pd.DataFrame({"item": pd.Series(item, dtype=str).to_numpy()})
    n = len(df)
    if n == 0:
        raise InputError(f"no human scores found in {where}")
    df["reference"] = df["item"] if reference is None else pd.Series(reference, dtype=str).to_numpy()
    df["distortion"] = "" if distortion is None else pd.Series(distortion, dtype=str).to_numpy()
    df["score"] = parse_scores(score, df["item"], where)
    if std is not None:
        df["std"] = pd.to_numeric(pd.Series(np.asarray(std)), errors="coerce").to_numpy(np.float64)
    if system is not None:
        df["system"] = pd.Series(system, dtype=str).to_numpy()
    if level is not None:
        df["level"] = np.asarray(level)
    for k, v in (extra or {}).items():
        df[k] = np.asarray(v)
    dup = df["item"].str.lower().duplicated()
    if dup.any():
        raise InputError(
            f"{int(dup.sum())} duplicate item names in {where} (e.g. {df['item'][dup].iloc[0]!r}); "
            "items must be unique (case-insensitive)"
        )
    fin = df["score"].dropna()
    if fin.size > 1 and np.ptp(fin.to_numpy()) == 0:
        log.warning("%s: all %d human scores are equal (%g); nothing can be correlated with them", where,
                    fin.size, float(fin.iloc[0]))
    lo, hi = score_range if score_range is not None else (float(fin.min()), float(fin.max()))
    return Judgments(
        frame=df, kind="opinion", name=name, source=str(source), higher_is_better=bool(higher_is_better),
        direction_stated=direction_stated, score_range=(float(lo), float(hi)),
    )


def twoafc(
    reference: Any,
    item_a: Any,
    item_b: Any,
    frac_b: Any,
    *,
    distortion: Any = None,
    split: Any = None,
    name: str = "",
    source: str = "",
) -> Judgments:
    """Build 2AFC judgments (``reference, item_a, item_b, frac_b``); ``frac_b`` in [0, 1]."""
    where = source or name or "the input"
    ref = pd.Series(reference, dtype=str).to_numpy()
    if len(ref) == 0:
        raise InputError(f"no 2AFC judgments found in {where}")
    df = pd.DataFrame(
        {
            "reference": ref,
            "item_a": pd.Series(item_a, dtype=str).to_numpy(),
            "item_b": pd.Series(item_b, dtype=str).to_numpy(),
        }
    )
    df["frac_b"] = parse_scores(frac_b, df["item_b"], where, "2AFC fraction")
    fb = df["frac_b"].dropna()
    if fb.min() < 0 or fb.max() > 1:
        raise InputError(f"2AFC fractions must lie in [0, 1], got [{fb.min()}, {fb.max()}] in {where}")
    if distortion is not None:
        df["distortion"] = pd.Series(distortion, dtype=str).to_numpy()
    if split is not None:
        df["split"] = pd.Series(split, dtype=str).to_numpy()
    return Judgments(frame=df, kind="2afc", name=name, source=str(source))


# ----------------------------------------------------------------------------- scales
def quality01(h: Judgments, frame: pd.DataFrame | None = None) -> NDArray[np.float64]:
    """Opinion scores mapped linearly to [0, 1], higher is better (contracts §4's human scale).

    Uses ``h.score_range``; DMOS (``higher_is_better=False``) is flipped. Values are clipped.
    ``frame`` (default ``h.frame``) may be a joined table with the same ``score`` column.
    """
    f = h.frame if frame is None else frame
    s = f["score"].to_numpy(np.float64)
    lo, hi = h.score_range if h.score_range is not None else (float(np.nanmin(s)), float(np.nanmax(s)))
    span = (hi - lo) or 1.0
    q = (s - lo) / span
    if not h.higher_is_better:
        q = 1.0 - q
    return np.asarray(np.clip(q, 0.0, 1.0))


def oriented_score(h: Judgments, frame: pd.DataFrame | None = None) -> NDArray[np.float64]:
    """Opinion scores oriented so that higher is better (DMOS negated); for correlations."""
    s = (h.frame if frame is None else frame)["score"].to_numpy(np.float64)
    return s if h.higher_is_better else -s


def require_spread(y: NDArray[np.float64], where: str) -> None:
    """Refuse human scores that cannot be correlated with anything (fewer than 3, or all equal).

    Raises:
        InputError: with the counts.
    """
    fin = y[np.isfinite(y)]
    if fin.size < 3:
        raise InputError(f"{where}: only {fin.size} human score(s) with metric values; at least 3 are needed")
    if np.ptp(fin) == 0:
        raise InputError(
            f"{where}: all {fin.size} human scores are equal ({fin[0]:g}); correlations, accuracies and fits are "
            "undefined. Check the score column (?score=COL) of the human data"
        )
