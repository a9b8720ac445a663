"""Issue 16 items 12 and 13: the output set is written as one unit; bad --out/--composite fail first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest
import torch
from _helpers import COUNT_LOCK, isolate_engine
from _helpers import save_random_png as save
from click.testing import CliRunner

from paradigm.cli import cli
from paradigm.metrics.base import Metric
from paradigm.outputs import write_outputs

CHILD = r"""
import sys, time
from pathlib import Path
import pandas as pd
import paradigm.outputs as po

out, tag, slow = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
frame = pd.DataFrame({"run": [tag] * 3, "v": [1.0, 2.0, 3.0]})
real_text, real_parquet = Path.write_text, pd.DataFrame.to_parquet

def write_text(self, *a, **k):  # every output file is written through one of these two
    n = real_text(self, *a, **k)
    print("wrote", self.name, flush=True)
    time.sleep(slow)
    return n

def to_parquet(self, path, *a, **k):
    real_parquet(self, path, *a, **k)
    print("wrote parquet", flush=True)
    time.sleep(slow)

Path.write_text, pd.DataFrame.to_parquet = write_text, to_parquet
po.write_outputs(out, frame, frame, frame, {"run": tag})
print("done", flush=True)
"""


def _child(out: Path, tag: str, slow: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(out), tag, str(slow)], stdout=subprocess.PIPE, text=True)


def _tags(out: Path) -> dict[str, str]:
    """The run tag found in each output file present."""
    tags = {}
    if (out / "scores.parquet").exists():
        tags["scores.parquet"] = str(pd.read_parquet(out / "scores.parquet")["run"].iloc[0])
    for name in ("scores.csv", "summary.csv", "errors.csv"):
        if (out / name).exists():
            tags[name] = str(pd.read_csv(out / name)["run"].iloc[0])
    if (out / "run.json").exists():
        tags["run.json"] = json.loads((out / "run.json").read_text())["run"]
    return tags


def _leftovers(out: Path) -> list[str]:
    inside = [p.name for p in out.iterdir() if p.name.startswith(".")] if out.is_dir() else []
    beside = [p.name for p in out.parent.iterdir() if p.name != out.name]
    return inside + beside


FULL = {"scores.parquet", "scores.csv", "summary.csv", "errors.csv", "run.json"}


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_write_leaves_the_previous_set_whole(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "sets" / "out"
    first = _child(out, "A", 0.0)
    assert first.wait(60) == 0
    assert _tags(out) == dict.fromkeys(FULL, "A")
    for after in (1, 3, 5):  # kill after 1, 3 and 5 of the 5 files were written
        proc = _child(out, "B", 0.5)
        assert proc.stdout is not None
        for _ in range(after):
            assert proc.stdout.readline().startswith("wrote")
        proc.send_signal(sig)
        proc.wait(60)
        tags = _tags(out)
        assert set(tags.values()) == {"A"} and set(tags) == FULL, f"killed after {after} files: {tags}"
        if sig == signal.SIGTERM:  # handled: the temporary folder is gone at once
            assert _leftovers(out) == [], _leftovers(out)
    write_outputs(out, *[pd.DataFrame({"run": ["C"]})] * 3, {"run": "C"})  # the next run cleans up after SIGKILL
    assert _tags(out) == dict.fromkeys(FULL, "C") and _leftovers(out) == []


def test_a_new_set_replaces_the_old_one_whole_and_keeps_other_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    frame = pd.DataFrame({"run": ["A"]})
    write_outputs(out, frame, frame, frame, {"run": "A"}, samples=frame)
    (out / "notes.txt").write_text("mine")
    (out / "plots").mkdir()
    frame = pd.DataFrame({"run": ["B"]})
    paths = write_outputs(out, frame, frame, frame, {"run": "B"})
    assert not (out / "samples.csv").exists()  # a stale samples.csv of run A would mix the two runs
    assert _tags(out) == dict.fromkeys(FULL, "B") and set(paths) == FULL
    assert (out / "notes.txt").read_text() == "mine" and (out / "plots").is_dir()
    assert _leftovers(out) == []


def test_writing_into_the_working_folder_falls_back_to_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    frame = pd.DataFrame({"run": ["A"]})
    write_outputs(".", frame, frame, frame, {"run": "A"})
    assert _tags(tmp_path) == dict.fromkeys(FULL, "A")
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


# ------------------------------------------------------------------ item 13: checked before any work


class TxSlow(Metric):
    name = "tx_slow"
    higher_is_better = False
    calls: ClassVar[int] = 0

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        with COUNT_LOCK:
            TxSlow.calls += 1
        time.sleep(0.5)
        return torch.zeros(x.shape[0], dtype=torch.float64)


@pytest.fixture()
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_engine(monkeypatch, [TxSlow])
    TxSlow.calls = 0
    for i in range(3):
        save(tmp_path / "gt" / f"im{i}.png", i)
        save(tmp_path / "res" / "m" / f"im{i}.png", 10 + i)
    return tmp_path


def _score(tree: Path, *extra: str) -> tuple[object, float]:
    t0 = time.perf_counter()
    res = CliRunner().invoke(
        cli, ["score", str(tree / "res"), "--gt", str(tree / "gt"), "--metrics", "tx_slow", "--no-cache", "-q", *extra]
    )
    return res, time.perf_counter() - t0


def _is_clean_failure(res: object) -> None:
    assert res.exit_code == 1, res.output  # type: ignore[attr-defined]
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception  # type: ignore[attr-defined]
    assert "Traceback" not in res.output and "Error:" in res.output  # type: ignore[attr-defined]


def test_out_that_is_a_file_fails_at_once(tree: Path) -> None:
    (tree / "taken").write_text("x")
    res, took = _score(tree, "--out", str(tree / "taken"))
    _is_clean_failure(res)
    assert "exists and is not a folder" in res.output and TxSlow.calls == 0 and took < 1.0


def test_out_below_a_file_fails_at_once(tree: Path) -> None:
    (tree / "taken").write_text("x")
    res, took = _score(tree, "--out", str(tree / "taken" / "sub" / "out"))
    _is_clean_failure(res)
    assert "is a file" in res.output and TxSlow.calls == 0 and took < 1.0


def test_unwritable_out_fails_at_once(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "ro").mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False if Path(p) == tree / "ro" else real(p, mode, **k))
    res, took = _score(tree, "--out", str(tree / "ro" / "out"))
    _is_clean_failure(res)
    assert "not writable" in res.output and TxSlow.calls == 0 and took < 1.0


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (None, "not found"),
        ("{not json", "not valid JSON"),
        ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
        ('{"schema": "paradigm.composite/1"}', "name"),
    ],
)
def test_bad_composite_fails_before_any_metric(
    tree: Path, monkeypatch: pytest.MonkeyPatch, content: str | None, expect: str
) -> None:
    comp = tree / "comp.json"
    if content is not None:
        comp.write_text(content)
    res, took = _score(tree, "--composite", str(comp), "--out", str(tree / "out"))
    _is_clean_failure(res)
    assert expect in res.output and TxSlow.calls == 0
    assert not (tree / "out").exists()


def test_two_rename_fallback_and_its_recovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where renameat2 is missing: a set is still swapped whole, and a kill between the two renames
    (out moved aside, new set not yet in place) is undone by the next write."""
    import paradigm.outputs as po

    monkeypatch.setattr(po, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    for tag in ("A", "B"):
        frame = pd.DataFrame({"run": [tag]})
        write_outputs(out, frame, frame, frame, {"run": tag})
        assert _tags(out) == dict.fromkeys(FULL, tag) and _leftovers(out) == []
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (out / "notes.txt").write_text("mine")
    os.rename(out, tmp_path / f".out.paradigm-old-{pid}-x")  # the state a kill between the renames leaves
    (tmp_path / f".out.paradigm-new-{pid}-y").mkdir()
    po.recover_outputs(out)
    assert _tags(out) == dict.fromkeys(FULL, "B") and (out / "notes.txt").read_text() == "mine"
    assert _leftovers(out) == []
