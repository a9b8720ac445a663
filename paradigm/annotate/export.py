"""Export of ``paradigm annotate`` judgments and the per-rater quality-control report.

``votes.csv`` follows the pairwise-votes layout of ``docs/contracts.md`` (§5), one row per answer:

``reference, item_a, item_b, winner, rater, time_ms, is_catch, is_repeat, catch_correct,
rater_flagged, trial_id, timestamp``

- ``item_*`` = ``<method>/<task>/<dataset>/<image>`` as shown (A, B); ``winner`` in ``a|b|tie``.
- catch trials (``is_catch = 1``) have the items ``_catch_gt/<reference>`` and
  ``_catch_degraded/<reference>``; ``catch_correct`` is 1 when the rater picked the GT.
- repeat trials (``is_repeat = 1``) are valid votes as well (A/B swapped against their original).
- ``rater_flagged`` is 1 for every row of a rater flagged by the report (nothing is dropped unless
  asked for).

``raters.csv``: one row per rater: ``rater, n_answers, n_catch, catch_pass_rate, n_repeat,
repeat_consistency, n_majority, majority_agreement, median_time_ms, flagged, flag_reason``.

- ``catch_pass_rate``: fraction of catch trials where the GT was preferred (a tie counts as a miss).
- ``repeat_consistency``: fraction of repeats whose preferred method (or tie) equals the original's.
- ``majority_agreement``: over the rater's non-catch votes on cells (input, method pair) that other
  raters also judged, the fraction agreeing with the others' majority (method 1, method 2 or tie;
  cells where the others are split evenly are skipped).
- ``flagged``: catch pass rate below the threshold (default 0.8) on at least one catch trial.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import InputError
from .schedule import CATCH_GT, TrialSpec, item_name, preferred
from .store import Store

log = logging.getLogger(__name__)

VOTE_COLUMNS = (
    "reference", "item_a", "item_b", "winner", "rater", "time_ms", "is_catch", "is_repeat", "catch_correct",
    "rater_flagged", "trial_id", "timestamp",
)
RATER_COLUMNS = (
    "rater", "n_answers", "n_catch", "catch_pass_rate", "n_repeat", "repeat_consistency", "n_majority",
    "majority_agreement", "median_time_ms", "flagged", "flag_reason",
)
#: Default minimum catch-trial pass rate.
CATCH_THRESHOLD = 0.8


@dataclass(frozen=True)
class RaterStats:
    """Quality-control numbers of one rater (see the module docstring). Rates are NaN when undefined."""

    rater: str
    n_answers: int
    n_catch: int
    catch_pass_rate: float
    n_repeat: int
    repeat_consistency: float
    n_majority: int
    majority_agreement: float
    median_time_ms: float
    flagged: bool
    flag_reason: str

    def row(self) -> dict[str, Any]:
        """The ``raters.csv`` row (rates rounded to 4 decimals, empty when undefined)."""
        def f(x: float, nd: int = 4) -> Any:
            return "" if math.isnan(x) else round(x, nd)

        return {
            "rater": self.rater, "n_answers": self.n_answers, "n_catch": self.n_catch,
            "catch_pass_rate": f(self.catch_pass_rate), "n_repeat": self.n_repeat,
            "repeat_consistency": f(self.repeat_consistency), "n_majority": self.n_majority,
            "majority_agreement": f(self.majority_agreement), "median_time_ms": f(self.median_time_ms, 1),
            "flagged": int(self.flagged), "flag_reason": self.flag_reason,
        }


def _spec(r: dict[str, Any]) -> TrialSpec:
    return TrialSpec(r["kind"], r["reference"], r["method_a"], r["method_b"], r["sample_a"], r["sample_b"],
                     r["repeat_of"])


def _ratio(k: int, n: int) -> float:
    return k / n if n else math.nan


def rater_report(rows: list[dict[str, Any]], catch_threshold: float = CATCH_THRESHOLD) -> list[RaterStats]:
    """Per-rater quality control from :meth:`Store.answer_rows` rows.

    Args:
        rows: answered trials (``kind, reference, method_a, method_b, winner, rater, trial_id, repeat_of, time_ms``).
        catch_threshold: raters whose catch pass rate is below this are flagged.

    Returns:
        One :class:`RaterStats` per rater, sorted by rater id.

    Raises:
        InputError: a threshold outside [0, 1].
    """
    if not (0.0 <= catch_threshold <= 1.0):
        raise InputError(f"catch threshold must be between 0 and 1, got {catch_threshold}")
    by_id = {r["trial_id"]: r for r in rows}
    by_rater: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_rater[r["rater"]].append(r)
    # cell -> rater -> preferred outcomes (method or "tie"), first judgment of each trial kind counted
    cell_votes: dict[tuple[str, tuple[str, str]], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["kind"] == "catch":
            continue
        pair = tuple(sorted((r["method_a"], r["method_b"])))
        pref = preferred(_spec(r), r["winner"])
        if pref is not None:
            cell_votes[(r["reference"], pair)][r["rater"]].append(pref)

    out: list[RaterStats] = []
    for rater in sorted(by_rater):
        mine = by_rater[rater]
        catches = [r for r in mine if r["kind"] == "catch"]
        n_ok = sum(1 for r in catches if r["winner"] == _spec(r).catch_answer)
        reps = [r for r in mine if r["kind"] == "repeat" and r["repeat_of"] in by_id]
        n_cons = sum(
            1 for r in reps
            if preferred(_spec(r), r["winner"]) == preferred(_spec(by_id[r["repeat_of"]]), by_id[r["repeat_of"]]["winner"])
        )
        n_maj = n_agree = 0
        for r in mine:
            if r["kind"] != "regular":
                continue
            pair = tuple(sorted((r["method_a"], r["method_b"])))
            others = Counter(
                p for who, prefs in cell_votes[(r["reference"], pair)].items() if who != rater for p in prefs
            )
            if not others:
                continue
            top = others.most_common(2)
            if len(top) > 1 and top[0][1] == top[1][1]:
                continue
            n_maj += 1
            n_agree += int(preferred(_spec(r), r["winner"]) == top[0][0])
        times = [float(r["time_ms"]) for r in mine if r["time_ms"] is not None]
        rate = _ratio(n_ok, len(catches))
        flagged = bool(catches) and rate < catch_threshold
        reason = f"catch pass rate {n_ok}/{len(catches)} < {catch_threshold:g}" if flagged else ""
        out.append(RaterStats(
            rater=rater, n_answers=len(mine), n_catch=len(catches), catch_pass_rate=rate, n_repeat=len(reps),
            repeat_consistency=_ratio(n_cons, len(reps)), n_majority=n_maj,
            majority_agreement=_ratio(n_agree, n_maj),
            median_time_ms=statistics.median(times) if times else math.nan, flagged=flagged, flag_reason=reason,
        ))
    return out


def vote_rows(rows: list[dict[str, Any]], flagged: set[str]) -> list[dict[str, Any]]:
    """The ``votes.csv`` rows (contracts §5 plus quality-control columns) of answered trials."""
    out = []
    for r in rows:
        spec = _spec(r)
        catch = spec.kind == "catch"
        ts = datetime.fromtimestamp(float(r["server_ts"]), tz=timezone.utc).isoformat(timespec="milliseconds")
        out.append({
            "reference": spec.reference,
            "item_a": item_name(spec.method_a, spec.reference),
            "item_b": item_name(spec.method_b, spec.reference),
            "winner": r["winner"],
            "rater": r["rater"],
            "time_ms": "" if r["time_ms"] is None else int(r["time_ms"]),
            "is_catch": int(catch),
            "is_repeat": int(spec.kind == "repeat"),
            "catch_correct": int(r["winner"] == spec.catch_answer) if catch else "",
            "rater_flagged": int(r["rater"] in flagged),
            "trial_id": r["trial_id"],
            "timestamp": ts.replace("+00:00", "Z"),
        })
    return out


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_votes` wrote."""

    votes_path: Path
    raters_path: Path
    n_votes: int
    n_catch: int
    raters: list[RaterStats]
    dropped: int


def export_votes(
    db: str | os.PathLike[str],
    out: str | os.PathLike[str],
    raters_out: str | os.PathLike[str] | None = None,
    *,
    catch_threshold: float = CATCH_THRESHOLD,
    drop_flagged: bool = False,
) -> ExportResult:
    """Write ``votes.csv`` (contracts §5) and ``raters.csv`` from an annotation database.

    Args:
        db: the annotation database.
        out: the votes CSV to write.
        raters_out: the rater report CSV (default ``raters.csv`` beside ``out``).
        catch_threshold: minimum catch pass rate; raters below it are flagged.
        drop_flagged: leave flagged raters' votes out of ``votes.csv`` (they stay in ``raters.csv``).

    Returns:
        :class:`ExportResult`.

    Raises:
        InputError: missing database, a bad threshold, or an output path that is a folder.
    """
    from .store import open_existing

    store: Store = open_existing(db)
    out_p = Path(out)
    raters_p = Path(raters_out) if raters_out is not None else out_p.with_name("raters.csv")
    for p in (out_p, raters_p):
        if p.is_dir():
            raise InputError(f"{p} is a folder; give a file name such as votes.csv")
    if out_p.resolve() == raters_p.resolve():
        raise InputError("the votes and raters files must differ")
    rows = store.answer_rows()
    stats = rater_report(rows, catch_threshold)
    flagged = {s.rater for s in stats if s.flagged}
    votes = vote_rows(rows, flagged)
    dropped = 0
    if drop_flagged:
        kept = [v for v in votes if not v["rater_flagged"]]
        dropped = len(votes) - len(kept)
        votes = kept
    _write_csv(out_p, VOTE_COLUMNS, votes)
    _write_csv(raters_p, RATER_COLUMNS, [s.row() for s in stats])
    if flagged:
        log.info("%d rater(s) flagged for failing catch trials: %s", len(flagged), ", ".join(sorted(flagged)))
    return ExportResult(out_p, raters_p, len(votes), sum(v["is_catch"] for v in votes), stats, dropped)


def format_report(stats: list[RaterStats]) -> str:
    """A plain-text table of the rater report."""
    head = ("rater", "answers", "catch", "catch ok", "repeats", "consistent", "majority", "median ms", "flag")
    lines = [head]
    for s in stats:
        def pct(x: float) -> str:
            return "-" if math.isnan(x) else f"{100 * x:.0f}%"

        lines.append((
            s.rater, str(s.n_answers), str(s.n_catch), pct(s.catch_pass_rate), str(s.n_repeat),
            pct(s.repeat_consistency), pct(s.majority_agreement),
            "-" if math.isnan(s.median_time_ms) else f"{s.median_time_ms:.0f}", "FLAGGED" if s.flagged else "",
        ))
    widths = [max(len(row[k]) for row in lines) for k in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in lines)


__all__ = [
    "CATCH_GT", "CATCH_THRESHOLD", "ExportResult", "RaterStats", "export_votes", "format_report", "rater_report",
    "vote_rows",
]
