"""``paradigm annotate`` storage, quality control and export (votes.csv / raters.csv), meta_eval round trip."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_annotate_helpers import METHODS, simulate

from paradigm.annotate.export import RATER_COLUMNS, VOTE_COLUMNS, export_votes, rater_report
from paradigm.annotate.schedule import CATCH_DEGRADED, CATCH_GT, Design, InputGroup, Scheduler, TrialSpec
from paradigm.annotate.store import Store, check_rater
from paradigm.cli import cli
from paradigm.errors import InputError

CONTRACT = ("reference", "item_a", "item_b", "winner", "rater", "time_ms")


def design(n_inputs: int = 6, methods=METHODS) -> Design:
    return Design(tuple(InputGroup(f"sr/tiny/img{k}", {m: ("",) for m in methods}) for k in range(n_inputs)))


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Five careful raters with a clear ordering alpha > beta > gamma and one careless rater."""
    root = tmp_path_factory.mktemp("study")
    store = Store(root / "annotate.sqlite")
    sch = Scheduler(design(6), repeat_rate=0.15, catch_rate=0.15, max_trials=20, seed=1)
    raters = {f"good{k}": 1.0 for k in range(5)}
    raters["sloppy"] = 0.0
    simulate(store, sch, raters, {"alpha": 20.0, "beta": 10.0, "gamma": 0.0})
    res = export_votes(root / "annotate.sqlite", root / "out" / "votes.csv")
    return root, store, res


# ------------------------------------------------------------------------------------ store
def test_answers_are_idempotent_and_checked(tmp_path):
    store = Store(tmp_path / "a.sqlite")
    sch = Scheduler(design(2), repeat_rate=0, catch_rate=0)
    rec = store.next_trial("alice", sch)
    assert rec is not None and rec.seq == 0
    assert store.next_trial("alice", sch) == rec  # pending trial is handed out again, not a new one
    first = store.answer("alice", rec.trial_id, "a", 812.4)
    assert not first.duplicate and first.winner == "a"
    again = store.answer("alice", rec.trial_id, "b", 900)  # double submit: the first answer stays
    assert again.duplicate and again.winner == "a"
    rows = store.answer_rows()
    assert len(rows) == 1 and rows[0]["winner"] == "a" and rows[0]["time_ms"] == 812
    with pytest.raises(InputError, match="no trial"):
        store.answer("bob", rec.trial_id, "a")  # someone else's trial
    with pytest.raises(InputError, match="no trial"):
        store.answer("alice", "deadbeef", "a")
    nxt = store.next_trial("alice", sch)
    assert nxt is not None and nxt.seq == 1
    with pytest.raises(InputError, match="choice must be"):
        store.answer("alice", nxt.trial_id, "left")
    for bad_time in ("soon", -5, 10**12, float("nan"), None):
        store2 = Store(tmp_path / f"t{abs(hash(str(bad_time)))}.sqlite")
        r = store2.next_trial("x", sch)
        store2.answer("x", r.trial_id, "tie", bad_time)
        assert store2.answer_rows()[0]["time_ms"] is None


def test_unique_constraint_in_schema(tmp_path):
    store = Store(tmp_path / "u.sqlite")
    rec = store.add_trial("r", TrialSpec("regular", "x", "alpha", "beta"))
    store.answer("r", rec.trial_id, "a")
    con = sqlite3.connect(tmp_path / "u.sqlite")
    with pytest.raises(sqlite3.IntegrityError):
        con.execute("INSERT INTO answers (rater, trial_id, winner, server_ts) VALUES ('r', ?, 'b', 0)", (rec.trial_id,))
    con.close()


@pytest.mark.parametrize("bad", ["", "   ", "x" * 65, "<script>", "a/b", "a;b", None])
def test_rater_ids_are_validated(bad):
    with pytest.raises(InputError, match="rater id"):
        check_rater(bad)


def test_rater_ids_accepted():
    assert check_rater("  alice ") == "alice"
    assert check_rater("r07.b@lab+1") == "r07.b@lab+1"
    assert check_rater("Zoë") == "Zoë"


def test_not_a_database(tmp_path):
    p = tmp_path / "x.sqlite"
    p.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError, match="not a usable SQLite"):
        Store(p)


# ------------------------------------------------------------------------------------ export
def test_votes_csv_layout(study):
    root, store, res = study
    rows = read_csv(res.votes_path)
    with open(res.votes_path, encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    assert tuple(header) == VOTE_COLUMNS and tuple(header[:6]) == CONTRACT
    assert len(rows) == res.n_votes == len(store.answer_rows()) == 6 * 20
    assert {r["winner"] for r in rows} <= {"a", "b", "tie"}
    for r in rows:
        ma, ref = r["item_a"].split("/", 1)
        mb, ref_b = r["item_b"].split("/", 1)
        assert ref == ref_b == r["reference"] and ref.startswith("sr/tiny/img")
        if r["is_catch"] == "1":
            assert {ma, mb} == {CATCH_GT, CATCH_DEGRADED}
            assert r["catch_correct"] == str(int((r["winner"] == "a") == (ma == CATCH_GT) and r["winner"] != "tie"))
        else:
            assert r["is_catch"] == "0" and ma in METHODS and mb in METHODS and ma != mb
            assert r["catch_correct"] == ""
        assert 300 <= int(r["time_ms"]) <= 5000
        assert r["timestamp"].endswith("Z")
    assert res.n_catch == sum(r["is_catch"] == "1" for r in rows) > 0
    assert sum(r["is_repeat"] == "1" for r in rows) > 0


def test_rater_report_flags_the_careless_rater(study):
    root, store, res = study
    raters = {r["rater"]: r for r in read_csv(res.raters_path)}
    assert res.raters_path == res.votes_path.with_name("raters.csv")
    with open(res.raters_path, encoding="utf-8") as fh:
        assert tuple(fh.readline().strip().split(",")) == RATER_COLUMNS
    assert set(raters) == {f"good{k}" for k in range(5)} | {"sloppy"}
    assert raters["sloppy"]["flagged"] == "1" and float(raters["sloppy"]["catch_pass_rate"]) == 0.0
    assert "catch pass rate" in raters["sloppy"]["flag_reason"]
    for k in range(5):
        g = raters[f"good{k}"]
        assert g["flagged"] == "0" and float(g["catch_pass_rate"]) == 1.0
        assert float(g["repeat_consistency"]) == 1.0  # deterministic preferences
        assert float(g["majority_agreement"]) == 1.0
        assert int(g["n_catch"]) == 3 and int(g["n_repeat"]) == 3
    assert float(raters["sloppy"]["majority_agreement"]) < 0.8
    # flagged, not dropped
    votes = read_csv(res.votes_path)
    sloppy = [v for v in votes if v["rater"] == "sloppy"]
    assert len(sloppy) == 20 and all(v["rater_flagged"] == "1" for v in sloppy)
    assert all(v["rater_flagged"] == "0" for v in votes if v["rater"] != "sloppy")


def test_drop_flagged_and_threshold(study, tmp_path):
    root, _, _ = study
    res = export_votes(root / "annotate.sqlite", tmp_path / "v.csv", tmp_path / "r.csv", drop_flagged=True)
    assert res.dropped == 20 and {v["rater"] for v in read_csv(tmp_path / "v.csv")} == {f"good{k}" for k in range(5)}
    assert len(read_csv(tmp_path / "r.csv")) == 6  # the report keeps everyone
    res0 = export_votes(root / "annotate.sqlite", tmp_path / "v0.csv", tmp_path / "r0.csv", catch_threshold=0.0)
    assert not any(s.flagged for s in res0.raters)
    with pytest.raises(InputError, match="between 0 and 1"):
        rater_report([], 1.5)
    with pytest.raises(InputError, match="does not exist"):
        export_votes(tmp_path / "missing.sqlite", tmp_path / "v.csv")
    with pytest.raises(InputError, match="folder"):
        export_votes(root / "annotate.sqlite", tmp_path)


def test_repeat_consistency_counts_flips(tmp_path):
    store = Store(tmp_path / "f.sqlite")
    orig = store.add_trial("r", TrialSpec("regular", "x", "alpha", "beta"))
    store.answer("r", orig.trial_id, "a")  # alpha preferred
    rep = store.add_trial("r", TrialSpec("repeat", "x", "beta", "alpha", repeat_of=orig.trial_id))
    store.answer("r", rep.trial_id, "a")  # beta preferred now: inconsistent
    orig2 = store.add_trial("r", TrialSpec("regular", "y", "alpha", "beta"))
    store.answer("r", orig2.trial_id, "tie")
    rep2 = store.add_trial("r", TrialSpec("repeat", "y", "beta", "alpha", repeat_of=orig2.trial_id))
    store.answer("r", rep2.trial_id, "tie")  # consistent tie
    (s,) = rater_report(store.answer_rows())
    assert s.n_repeat == 2 and s.repeat_consistency == 0.5
    assert s.n_catch == 0 and not s.flagged  # no catch trials: not flagged


# ------------------------------------------------------------------------------------ meta_eval
def test_meta_eval_reads_the_export_and_recovers_the_ordering(tmp_path):
    human = pytest.importorskip("meta_eval.human")
    store = Store(tmp_path / "bt.sqlite")
    sch = Scheduler(design(8, methods=("m1", "m2", "m3", "m4")), repeat_rate=0.1, catch_rate=0.1, max_trials=40)
    truth = {"m1": 1.5, "m2": 0.6, "m3": 0.0, "m4": -1.2}
    simulate(store, sch, {f"r{k}": 1.0 for k in range(6)} | {"noise": 0.0}, truth, seed=5)
    res = export_votes(tmp_path / "bt.sqlite", tmp_path / "votes.csv")
    votes = human.load_human(f"votes:{res.votes_path}")
    assert votes.attrs["kind"] == "pairwise" and len(votes) == res.n_votes
    assert int(votes["is_catch"].sum()) == res.n_catch
    clean = votes[votes["rater_flagged"] == 0]
    # method level: Bradley–Terry over systems recovers the simulated ordering
    sys_votes = human.scaling_votes(clean).assign(
        item_a=lambda t: t["item_a"].map(human.item_system), item_b=lambda t: t["item_b"].map(human.item_system)
    )
    bt = human.bradley_terry(sys_votes).set_index("item")["score"]
    assert list(bt.sort_values(ascending=False).index) == ["m1", "m2", "m3", "m4"]
    # item level: meta_eval's own scaling works on the file (catch trials excluded)
    op = human.votes_to_opinion(clean)
    assert not op["item"].str.startswith("_catch").any()
    per_system = op.groupby("system")["score"].mean().sort_values(ascending=False)
    assert list(per_system.index) == ["m1", "m2", "m3", "m4"]


def _validate_command():
    try:
        from meta_eval import cli as me_cli
    except ImportError:
        return None
    group = getattr(me_cli, "meta_eval", None)
    cmds = getattr(group, "commands", {}) or {}
    return cmds.get("validate")


@pytest.mark.slow  # imports meta_eval's full stack (metric registry): ~10 s on a 2-core CPU
def test_meta_eval_validate_accepts_the_export(tmp_path):
    if _validate_command() is None:
        pytest.skip("meta_eval has no `validate` command yet (paradigm meta-eval validate --human votes:FILE)")
    import pandas as pd

    store = Store(tmp_path / "v.sqlite")
    methods = ("m1", "m2", "m3")
    sch = Scheduler(design(6, methods=methods), max_trials=24)
    truth = {"m1": 1.0, "m2": 0.0, "m3": -1.0}
    simulate(store, sch, {f"r{k}": 1.0 for k in range(4)}, truth)
    res = export_votes(tmp_path / "v.sqlite", tmp_path / "votes.csv")
    rows = []
    for m in methods:
        for k in range(6):
            rows.append({"method": m, "task": "sr", "dataset": "tiny", "image": f"img{k}", "sample": "",
                         "output_path": f"{m}/sr/tiny/img{k}.png", "gt_path": f"sr/tiny/img{k}.png",
                         "input_path": "", "height": 16, "width": 16, "resized": False,
                         "psnr": 30.0 + 3 * truth[m] + 0.1 * k})
    scores = tmp_path / "scores"
    scores.mkdir()
    pd.DataFrame(rows).to_csv(scores / "scores.csv", index=False)
    out = tmp_path / "report"
    r = CliRunner().invoke(cli, ["meta-eval", "validate", "--human", f"votes:{res.votes_path}",
                                 "--scores", str(scores), "--out", str(out), "--bootstrap", "0",
                                 "--permutations", "0", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "matched 18/18 items" in r.output


# ------------------------------------------------------------------------------------ CLI
def test_cli_export_and_report(study, tmp_path):
    root, _, _ = study
    runner = CliRunner()
    r = runner.invoke(cli, ["annotate", "export", "--db", str(root / "annotate.sqlite"), "-o", str(tmp_path / "v.csv")])
    assert r.exit_code == 0, r.output
    assert "wrote 120 votes" in r.output and "1 rater(s) flagged" in r.output and "FLAGGED" in r.output
    assert (tmp_path / "raters.csv").is_file()
    r = runner.invoke(cli, ["annotate", "report", "--db", str(root / "annotate.sqlite")])
    assert r.exit_code == 0 and "sloppy" in r.output and "FLAGGED" in r.output
    r = runner.invoke(cli, ["annotate", "export", "--db", str(tmp_path / "nope.sqlite"), "-o", str(tmp_path / "v.csv")])
    assert r.exit_code != 0 and "does not exist" in r.output
