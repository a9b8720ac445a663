"""Scheduling of ``paradigm annotate``: balance, repeats, catch trials, active mode, reproducibility."""

from __future__ import annotations

from collections import Counter

import pytest
from test_annotate_helpers import METHODS, simulate

from paradigm.annotate.schedule import (
    BLOCK,
    CATCH_DEGRADED,
    CATCH_GT,
    MIN_REPEAT_GAP,
    Design,
    InputGroup,
    Record,
    Scheduler,
    pair_uncertainty,
)
from paradigm.annotate.store import Store
from paradigm.errors import InputError


def design(n_inputs: int = 4, methods=METHODS, samples=None) -> Design:
    samples = samples or {}
    return Design(tuple(
        InputGroup(f"sr/set/img{k}", {m: tuple(str(s) for s in range(samples[m])) if m in samples else ("",)
                                     for m in methods})
        for k in range(n_inputs)
    ))


def pair(r: Record) -> tuple[str, str]:
    return tuple(sorted((r.method_a, r.method_b)))  # type: ignore[return-value]


def test_one_rater_sees_every_cell_once(tmp_path):
    d = design(4)
    sch = Scheduler(d, repeat_rate=0, catch_rate=0)
    assert sch.max_trials == len(d.cells()) == 12
    store = Store(tmp_path / "a.sqlite")
    simulate(store, sch, {"r1": 1.0}, {m: 0.0 for m in METHODS})
    recs = store.records()
    assert len(recs) == 12
    cells = Counter((r.reference, pair(r)) for r in recs)
    assert set(cells.values()) == {1}
    assert len(cells) == 12
    # both display orders occur
    assert len({(r.method_a, r.method_b) for r in recs}) > 3


def test_balance_over_inputs_and_pairs_across_raters(tmp_path):
    d = design(5, methods=("m1", "m2", "m3", "m4"))  # 5 inputs x 6 pairs = 30 cells
    sch = Scheduler(d, repeat_rate=0, catch_rate=0, max_trials=7)
    store = Store(tmp_path / "b.sqlite")
    simulate(store, sch, {f"r{k}": 1.0 for k in range(6)}, {"m1": 1, "m2": 0, "m3": 0, "m4": -1})
    recs = store.records()
    assert len(recs) == 42
    cells = Counter((r.reference, pair(r)) for r in recs)
    pairs = Counter(pair(r) for r in recs)
    inputs = Counter(r.reference for r in recs)
    assert len(cells) == 30 and max(cells.values()) - min(cells.values()) <= 1
    assert max(pairs.values()) - min(pairs.values()) <= 1
    assert max(inputs.values()) - min(inputs.values()) <= 1
    for rater in {r.rater for r in recs}:  # no rater sees a cell twice while unseen cells remain
        mine = Counter((r.reference, pair(r)) for r in recs if r.rater == rater)
        assert set(mine.values()) == {1}


def test_repeat_and_catch_rates_and_form(tmp_path):
    d = design(8)  # 24 cells
    sch = Scheduler(d, repeat_rate=0.1, catch_rate=0.15, max_trials=2 * BLOCK)
    store = Store(tmp_path / "c.sqlite")
    simulate(store, sch, {"r1": 1.0, "r2": 1.0}, {m: 0.0 for m in METHODS})
    recs = store.records()
    by_id = {r.trial_id: r for r in recs}
    for rater in ("r1", "r2"):
        mine = [r for r in recs if r.rater == rater]
        kinds = Counter(r.kind for r in mine)
        assert len(mine) == 2 * BLOCK
        assert kinds["catch"] == 2 * 3  # round(20 * 0.15) per block
        assert kinds["repeat"] == 2 * 2  # round(20 * 0.1) per block (first block: an earlier trial exists)
        reps = [r for r in mine if r.kind == "repeat"]
        assert len({r.repeat_of for r in reps}) == len(reps)  # nothing repeated twice
        for r in reps:
            o = by_id[r.repeat_of]
            assert o.rater == rater and o.kind == "regular" and o.seq < r.seq
            assert (r.method_a, r.method_b, r.sample_a, r.sample_b) == (o.method_b, o.method_a, o.sample_b, o.sample_a)
            assert r.reference == o.reference
            if r.seq >= MIN_REPEAT_GAP + 1:
                assert r.seq - o.seq >= MIN_REPEAT_GAP or r.seq < 6
        catches = [r for r in mine if r.kind == "catch"]
        for r in catches:
            assert {r.method_a, r.method_b} == {CATCH_GT, CATCH_DEGRADED}
            assert r.catch_answer == ("a" if r.method_a == CATCH_GT else "b")
        assert len({r.reference for r in catches}) == len(catches)  # spread over inputs
    all_catch = [r for r in recs if r.kind == "catch"]
    assert {r.catch_answer for r in all_catch} == {"a", "b"}  # GT on both sides


def test_short_session_still_has_a_catch_trial():
    sch = Scheduler(design(2), catch_rate=0.1, repeat_rate=0.0, max_trials=6)
    kinds = [sch.slot_kind("x", k) for k in range(6)]
    assert kinds.count("catch") == 1  # round-half-up(0.6)


def test_schedule_is_reproducible(tmp_path):
    def run(path, seed):
        store = Store(path)
        simulate(store, Scheduler(design(4), seed=seed, max_trials=15), {"r1": 1.0, "r2": 1.0},
                 {m: 0.0 for m in METHODS}, interleave=False)
        return [(r.rater, r.kind, r.reference, r.method_a, r.method_b) for r in store.records()]

    a = run(tmp_path / "1.sqlite", 3)
    assert a == run(tmp_path / "2.sqlite", 3)
    assert a != run(tmp_path / "3.sqlite", 4)
    assert [x[1:] for x in a if x[0] == "r1"] != [x[1:] for x in a if x[0] == "r2"]


def test_samples_of_multi_sample_methods_are_all_used(tmp_path):
    d = design(6, samples={"gamma": 3})
    store = Store(tmp_path / "s.sqlite")
    simulate(store, Scheduler(d, repeat_rate=0, catch_rate=0), {"r1": 1.0, "r2": 1.0}, {m: 0.0 for m in METHODS})
    used = Counter(s for r in store.records() for m, s in ((r.method_a, r.sample_a), (r.method_b, r.sample_b))
                   if m == "gamma")
    assert set(used) == {"0", "1", "2"}
    other = {s for r in store.records() for m, s in ((r.method_a, r.sample_a), (r.method_b, r.sample_b))
             if m != "gamma"}
    assert other == {""}


def _rec(i: int, a: str, b: str, winner: str) -> Record:
    return Record(kind="regular", reference=f"img{i % 5}", method_a=a, method_b=b, trial_id=f"t{i}", rater="x",
                  seq=i, winner=winner)


def test_pair_uncertainty_and_active_choice():
    methods = ("m1", "m2", "m3", "m4")
    recs: list[Record] = []
    i = 0
    for other in ("m2", "m3", "m4"):  # m1 beats everyone, clearly
        for _ in range(30):
            recs.append(_rec(i, "m1", other, "a"))
            i += 1
    for w in ("a", "b"):  # m2 vs m3: even, few votes
        recs.append(_rec(i, "m2", "m3", w))
        i += 1
    for _ in range(30):  # m2, m3 both clearly beat m4
        recs.append(_rec(i, "m2", "m4", "a"))
        recs.append(_rec(i + 1, "m3", "m4", "a"))
        i += 2
    unc = pair_uncertainty(recs, methods)
    assert set(unc) == {("m1", "m2"), ("m1", "m3"), ("m1", "m4"), ("m2", "m3"), ("m2", "m4"), ("m3", "m4")}
    assert max(unc, key=unc.get) == ("m2", "m3")
    assert unc[("m2", "m3")] > 0.3 and unc[("m1", "m4")] < 0.01
    # catch and unanswered trials are ignored; no votes at all: everything maximally uncertain
    assert set(pair_uncertainty([], methods).values()) == {0.5}

    d = design(5, methods=methods)
    sch = Scheduler(d, active=True, repeat_rate=0, catch_rate=0)
    for rater in ("new1", "new2", "new3"):
        spec = sch.next_trial(rater, recs)
        assert spec is not None and {spec.method_a, spec.method_b} == {"m2", "m3"}
    plain = Scheduler(d, active=False, repeat_rate=0, catch_rate=0)
    spec = plain.next_trial("new1", recs)  # balance: the pair judged least (m2-m3 has 2 votes) ...
    assert spec is not None and {spec.method_a, spec.method_b} == {"m2", "m3"}


def test_pair_uncertainty_disconnected_is_maximal():
    recs = [_rec(k, "m1", "m2", "a") for k in range(20)] + [_rec(20 + k, "m3", "m4", "b") for k in range(20)]
    unc = pair_uncertainty(recs, ("m1", "m2", "m3", "m4"))
    assert unc[("m1", "m3")] == 0.5 and unc[("m2", "m4")] == 0.5
    assert unc[("m1", "m2")] < 0.1 and unc[("m3", "m4")] < 0.1


def test_active_mode_concentrates_on_the_uncertain_pair(tmp_path):
    strengths = {"alpha": 4.0, "beta": 0.1, "gamma": 0.0}
    counts = {}
    for active in (False, True):
        store = Store(tmp_path / f"{active}.sqlite")
        sch = Scheduler(design(10), active=active, repeat_rate=0, catch_rate=0, max_trials=12)
        simulate(store, sch, {f"r{k}": 1.0 for k in range(6)}, strengths)
        counts[active] = Counter(pair(r) for r in store.records())
    assert max(counts[False].values()) - min(counts[False].values()) <= 1
    assert counts[True][("beta", "gamma")] > 1.5 * counts[False][("beta", "gamma")]
    assert counts[True][("beta", "gamma")] == max(counts[True].values())


def test_bad_designs_and_options():
    with pytest.raises(InputError, match="at least two methods"):
        Scheduler(design(3, methods=("only",)))
    with pytest.raises(InputError, match="reserved"):
        Scheduler(design(3, methods=("a", CATCH_GT)))
    with pytest.raises(InputError, match="at most 0.5"):
        Scheduler(design(3), repeat_rate=0.3, catch_rate=0.3)
    with pytest.raises(InputError, match="between 0 and 0.5"):
        Scheduler(design(3), catch_rate=-0.1)
    with pytest.raises(InputError, match="at least 1"):
        Scheduler(design(3), max_trials=0)
    lonely = Design((InputGroup("x", {"a": ("",)}), InputGroup("y", {"b": ("",)})))
    with pytest.raises(InputError, match="no input has outputs from two methods"):
        Scheduler(lonely)


def test_inputs_with_missing_methods_only_pair_available_ones(tmp_path):
    d = Design((InputGroup("x", {"a": ("",), "b": ("",), "c": ("",)}), InputGroup("y", {"a": ("",), "b": ("",)})))
    assert len(d.cells()) == 4
    store = Store(tmp_path / "m.sqlite")
    simulate(store, Scheduler(d, repeat_rate=0, catch_rate=0), {"r": 1.0}, {"a": 0, "b": 0, "c": 0})
    assert all("c" not in pair(r) for r in store.records() if r.reference == "y")
    assert len(store.records()) == 4


@pytest.mark.parametrize("seed", range(6))
def test_repeat_count_is_exact_even_when_a_slot_comes_first(tmp_path, seed):
    sch = Scheduler(design(6), repeat_rate=0.2, catch_rate=0.1, max_trials=10, seed=seed)
    store = Store(tmp_path / "r.sqlite")
    simulate(store, sch, {"r1": 1.0, "r2": 1.0, "r3": 1.0}, {m: 0.0 for m in METHODS})
    for rater in ("r1", "r2", "r3"):
        kinds = Counter(r.kind for r in store.records() if r.rater == rater)
        assert kinds == {"regular": 7, "repeat": 2, "catch": 1}
