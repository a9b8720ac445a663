"""Pair scheduling for ``paradigm annotate``: which comparison a rater sees next.

The scheduler is a pure function of the study design and the trials issued so far (all raters), so
it keeps no state of its own: a restarted server, or several server processes sharing one database,
continue the same schedule.

Trial kinds:

- ``regular``: two method outputs for the same input. Cells ``(input, method pair)`` are balanced:
  a rater first gets cells they have not seen, and among those the cells with the fewest judgments
  over all raters (ties broken by the fewest judgments of the method pair, then of the input, then
  at random). With ``active=True`` the method pair whose current Bradley–Terry ordering is most
  uncertain comes first (see :func:`pair_uncertainty`); balance then decides the input.
- ``repeat``: an earlier regular trial of the same rater shown again with A and B swapped (same
  samples), at ``repeat_rate``; measures rater consistency.
- ``catch``: the ground truth against a heavily degraded copy of it, at ``catch_rate``; the GT is
  the right answer, so a rater who misses catch trials is flagged in the export.

Catch and repeat trials take exact shares of each block of :data:`BLOCK` trials of a rater's
session (positions drawn at random per block), so the rates hold in every part of a session (a
repeat slot that comes before the rater has answered anything is made up at the next regular slot).
Sides (which method is A) and the sample shown for multi-sample methods are drawn at random from a
generator seeded by ``(seed, rater, position)``: the schedule is reproducible.
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from ..errors import InputError

log = logging.getLogger(__name__)

#: Trials per block: catch and repeat trials fill ``round(BLOCK * rate)`` positions of each block.
BLOCK = 20
#: A repeated trial comes at least this many trials after its original when possible.
MIN_REPEAT_GAP = 3
#: Pseudo "method" names of the two sides of a catch trial (never valid method names).
CATCH_GT = "_catch_gt"
CATCH_DEGRADED = "_catch_degraded"
KINDS = ("regular", "repeat", "catch")
WINNERS = ("a", "b", "tie")


@dataclass(frozen=True)
class InputGroup:
    """One input (a GT image) and the method outputs available for it.

    Attributes:
        reference: the input's name, ``<task>/<dataset>/<image>`` (empty parts dropped).
        samples: method -> sample labels (``("",)`` for single-sample methods, ``("0", "1", …)`` else).
    """

    reference: str
    samples: Mapping[str, tuple[str, ...]]

    @property
    def methods(self) -> tuple[str, ...]:
        """Methods with an output for this input, sorted."""
        return tuple(sorted(self.samples))


@dataclass(frozen=True)
class Design:
    """The set of inputs and methods of a study.

    Raises:
        InputError: (from :meth:`check`) when no input has outputs from two methods.
    """

    inputs: tuple[InputGroup, ...]
    methods: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.methods:
            ms = sorted({m for g in self.inputs for m in g.samples})
            object.__setattr__(self, "methods", tuple(ms))

    def check(self) -> None:
        """Raise :class:`InputError` when the design cannot produce a single comparison."""
        bad = [m for m in self.methods if m in (CATCH_GT, CATCH_DEGRADED) or "/" in m or not m]
        if bad:
            raise InputError(f"method name(s) {bad} are reserved or invalid; rename those result folders")
        if len(self.methods) < 2:
            raise InputError(
                f"pairwise annotation needs at least two methods, found {len(self.methods)} "
                f"({', '.join(self.methods) or 'none'}); put each method's outputs in RESULTS/<method>/"
            )
        if not self.cells():
            raise InputError("no input has outputs from two methods, so there is nothing to compare")

    def cells(self) -> list[tuple[int, tuple[str, str]]]:
        """All ``(input index, (method1, method2))`` cells, methods of a pair in sorted order."""
        return [(i, pair) for i, g in enumerate(self.inputs) for pair in combinations(g.methods, 2)]


@dataclass(frozen=True)
class TrialSpec:
    """A trial to show: what is on side A and side B of which input.

    For catch trials ``method_a``/``method_b`` are :data:`CATCH_GT` and :data:`CATCH_DEGRADED`
    (in the order shown); the correct answer is the side holding :data:`CATCH_GT`.
    """

    kind: str
    reference: str
    method_a: str
    method_b: str
    sample_a: str = ""
    sample_b: str = ""
    repeat_of: str | None = None

    @property
    def catch_answer(self) -> str | None:
        """``"a"``/``"b"`` for catch trials (the side with the undegraded GT), else None."""
        if self.kind != "catch":
            return None
        return "a" if self.method_a == CATCH_GT else "b"


@dataclass(frozen=True)
class Record(TrialSpec):
    """An issued trial, as stored: a :class:`TrialSpec` plus id, rater, position and answer.

    ``winner`` is None while the trial is unanswered.
    """

    trial_id: str = ""
    rater: str = ""
    seq: int = 0
    winner: str | None = None


def item_name(method: str, reference: str) -> str:
    """The judged item's name in the export: ``<method>/<reference>``."""
    return f"{method}/{reference}" if reference else method


def preferred(rec: TrialSpec, winner: str | None) -> str | None:
    """The method preferred by ``winner`` (``"tie"`` for a tie, None when unanswered)."""
    if winner is None:
        return None
    if winner == "tie":
        return "tie"
    return rec.method_a if winner == "a" else rec.method_b


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


# --------------------------------------------------------------------------- uncertainty
def _norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def pair_uncertainty(records: Iterable[Record], methods: Sequence[str]) -> dict[tuple[str, str], float]:
    """How uncertain the Bradley–Terry ordering of each method pair is, from the answered votes.

    A method-level Bradley–Terry model (:func:`meta_eval.human.bradley_terry`, ties as half wins,
    weak prior) is fitted on all answered non-catch trials. The uncertainty of a pair is the
    probability that its ordering is wrong under a normal approximation,
    ``Φ(-|s_i - s_j| / sqrt(se_i² + se_j²))``: 0.5 for an even pair, near 0 for a settled one.
    Pairs not connected by any chain of comparisons get 0.5.

    Args:
        records: trials (unanswered and catch trials are ignored).
        methods: the study's methods.

    Returns:
        ``{(m1, m2): uncertainty}`` for every pair with ``m1 < m2``, values in [0, 0.5].
    """
    import numpy as np
    import pandas as pd
    from scipy.sparse.csgraph import connected_components

    from meta_eval.human import bradley_terry

    ms = sorted(methods)
    out = {p: 0.5 for p in combinations(ms, 2)}
    rows = [(r.method_a, r.method_b, r.winner) for r in records
            if r.kind != "catch" and r.winner in WINNERS and r.method_a != r.method_b]
    index = {m: k for k, m in enumerate(ms)}
    rows = [t for t in rows if t[0] in index and t[1] in index]
    if not rows:
        return out
    votes = pd.DataFrame(rows, columns=["item_a", "item_b", "winner"])
    compared = np.zeros((len(ms), len(ms)), dtype=bool)
    ia = votes["item_a"].map(index).to_numpy()
    ib = votes["item_b"].map(index).to_numpy()
    compared[ia, ib] = compared[ib, ia] = True
    _, label = connected_components(compared, directed=False)
    for comp in set(label.tolist()):
        members = [ms[k] for k in np.flatnonzero(label == comp)]
        if len(members) < 2:
            continue
        sub = votes[votes["item_a"].isin(members)]
        fit = bradley_terry(sub, items=members, method="newton", tol=1e-8).set_index("item")
        for a, b in combinations(members, 2):
            d = abs(float(fit.at[a, "score"]) - float(fit.at[b, "score"]))
            sd = math.hypot(float(fit.at[a, "se"]), float(fit.at[b, "se"]))
            out[(a, b)] = 0.5 if not (sd > 0 and math.isfinite(sd)) else _norm_sf(d / sd)
    return out


# ----------------------------------------------------------------------------- scheduler
class Scheduler:
    """Decides the next trial of a rater from the design and all trials issued so far.

    Args:
        design: inputs and methods (:class:`Design`).
        seed: seed of all random choices (sides, samples, block positions, tie-breaks).
        repeat_rate: fraction of repeat trials (0 to disable).
        catch_rate: fraction of catch trials (0 to disable).
        active: prefer the method pair whose Bradley–Terry ordering is most uncertain.
        max_trials: trials per rater (all kinds); default: every cell once plus the catch and
            repeat trials on top.

    Raises:
        InputError: bad rates, a non-positive ``max_trials`` or a design without comparisons.
    """

    def __init__(
        self,
        design: Design,
        *,
        seed: int = 0,
        repeat_rate: float = 0.1,
        catch_rate: float = 0.1,
        active: bool = False,
        max_trials: int | None = None,
    ) -> None:
        design.check()
        for name, rate in (("repeat rate", repeat_rate), ("catch rate", catch_rate)):
            if not (0.0 <= rate <= 0.5) or not math.isfinite(rate):
                raise InputError(f"{name} must be between 0 and 0.5, got {rate}")
        if repeat_rate + catch_rate > 0.5:
            raise InputError(
                f"repeat rate + catch rate must be at most 0.5 (got {repeat_rate} + {catch_rate}); "
                "most trials must be real comparisons"
            )
        self.design = design
        self.seed = int(seed)
        self.repeat_rate = float(repeat_rate)
        self.catch_rate = float(catch_rate)
        self.active = bool(active)
        self._cells = design.cells()
        if max_trials is None:
            max_trials = math.ceil(len(self._cells) / (1.0 - repeat_rate - catch_rate))
        if max_trials < 1:
            raise InputError(f"--pairs must be at least 1, got {max_trials}")
        self.max_trials = int(max_trials)
        self._by_ref = {g.reference: g for g in design.inputs}

    # -- slots ------------------------------------------------------------------------------
    def slot_kind(self, rater: str, seq: int) -> str:
        """The kind planned for position ``seq`` (0-based) of ``rater``'s session.

        Each block of :data:`BLOCK` positions (the last one possibly shorter) holds
        ``round(len * catch_rate)`` catch and ``round(len * repeat_rate)`` repeat positions,
        drawn at random per block.
        """
        b, pos = divmod(seq, BLOCK)
        length = min(BLOCK, self.max_trials - b * BLOCK) if seq < self.max_trials else BLOCK
        length = max(length, 1)
        n_catch = _half_up(length * self.catch_rate)
        n_rep = _half_up(length * self.repeat_rate)
        if n_catch + n_rep > length:
            n_rep = max(0, length - n_catch)
        rng = random.Random(f"{self.seed}|{rater}|block|{b}")
        chosen = rng.sample(range(length), n_catch + n_rep)
        if pos in chosen[:n_catch]:
            return "catch"
        if pos in chosen[n_catch:]:
            return "repeat"
        return "regular"

    # -- main entry -------------------------------------------------------------------------
    def next_trial(self, rater: str, records: Sequence[Record]) -> TrialSpec | None:
        """The next trial for ``rater`` given every trial issued so far (all raters), or None when done.

        The caller stores the returned spec as the rater's next record (position ``len(mine)``).
        """
        mine = [r for r in records if r.rater == rater]
        seq = len(mine)
        if seq >= self.max_trials:
            return None
        rng = random.Random(f"{self.seed}|{rater}|{seq}")
        kind = self.slot_kind(rater, seq)
        if kind == "catch":
            return self._catch(mine, rng)
        if kind == "regular" and self.repeat_rate > 0:
            # a repeat slot that came before any answered trial is made up at the next regular slot
            planned = sum(1 for k in range(seq) if self.slot_kind(rater, k) == "repeat")
            if sum(1 for r in mine if r.kind == "repeat") < planned:
                kind = "repeat"
        if kind == "repeat":
            spec = self._repeat(mine, seq, rng)
            if spec is not None:
                return spec
        return self._regular(records, mine, rng)

    # -- kinds ------------------------------------------------------------------------------
    def _catch(self, mine: Sequence[Record], rng: random.Random) -> TrialSpec:
        used = Counter(r.reference for r in mine if r.kind == "catch")
        refs = [g.reference for g in self.design.inputs]
        low = min(used.get(r, 0) for r in refs)
        ref = rng.choice([r for r in refs if used.get(r, 0) == low])
        a, b = (CATCH_GT, CATCH_DEGRADED) if rng.random() < 0.5 else (CATCH_DEGRADED, CATCH_GT)
        return TrialSpec("catch", ref, a, b)

    def _repeat(self, mine: Sequence[Record], seq: int, rng: random.Random) -> TrialSpec | None:
        done = {r.repeat_of for r in mine if r.kind == "repeat"}
        cands = [r for r in mine if r.kind == "regular" and r.winner is not None and r.trial_id not in done]
        if not cands:
            return None
        far = [r for r in cands if r.seq <= seq - MIN_REPEAT_GAP]
        orig = rng.choice(far or cands)
        return TrialSpec("repeat", orig.reference, orig.method_b, orig.method_a, orig.sample_b, orig.sample_a,
                         repeat_of=orig.trial_id)

    def _regular(self, records: Sequence[Record], mine: Sequence[Record], rng: random.Random) -> TrialSpec:
        seen = Counter((r.reference, _pair(r.method_a, r.method_b)) for r in mine if r.kind != "catch")
        regular = [r for r in records if r.kind == "regular"]
        cell_n = Counter((r.reference, _pair(r.method_a, r.method_b)) for r in regular)
        pair_n = Counter(_pair(r.method_a, r.method_b) for r in regular)
        ref_n = Counter(r.reference for r in regular)
        unc: dict[tuple[str, str], float] = {}
        if self.active:
            unc = pair_uncertainty(records, self.design.methods)
        best: tuple[object, ...] | None = None
        choice: tuple[int, tuple[str, str]] | None = None
        for i, pair in self._cells:
            ref = self.design.inputs[i].reference
            key = (
                seen.get((ref, pair), 0),
                -round(unc.get(pair, 0.5), 3) if self.active else 0.0,
                cell_n.get((ref, pair), 0),
                pair_n.get(pair, 0),
                ref_n.get(ref, 0),
                rng.random(),
            )
            if best is None or key < best:
                best, choice = key, (i, pair)
        if choice is None:  # pragma: no cover - design.check() guarantees cells
            raise InputError("no comparison is possible in this design")
        i, (m1, m2) = choice
        g = self.design.inputs[i]
        if rng.random() < 0.5:
            m1, m2 = m2, m1
        return TrialSpec("regular", g.reference, m1, m2, rng.choice(g.samples[m1]), rng.choice(g.samples[m2]))

