"""The SQLite score cache (paradigm.cache) and its use by the engine."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from _helpers import COUNT_LOCK, isolate_engine
from _helpers import save_random_png as save

from paradigm.cache import NullCache, ScoreCache, open_cache, sha256_file
from paradigm.engine import ScoreConfig, run_score
from paradigm.metrics.base import Metric

REPO = Path(__file__).resolve().parents[1]


class TcCount(Metric):
    name = "tc_count"
    calls: ClassVar[int] = 0

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        assert ref is not None
        with COUNT_LOCK:
            TcCount.calls += int(x.shape[0])
        return (x - ref).abs().flatten(1).mean(1).double()


class TcNr(Metric):
    name = "tc_nr"
    kind = "no-reference"
    reference = "none"
    calls: ClassVar[int] = 0

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        with COUNT_LOCK:
            TcNr.calls += int(x.shape[0])
        return x.mean(dim=(1, 2, 3)).double()


class TcSlow(Metric):
    """Same name/version/options as the subprocess's slow metric, so cache keys match."""

    name = "tc_slow"
    calls: ClassVar[int] = 0

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        assert ref is not None
        with COUNT_LOCK:
            TcSlow.calls += int(x.shape[0])
        return (x - ref).abs().flatten(1).mean(1).double()


#: Registered only while each test runs (see ``_register_test_metrics``), so other test modules never see them.
TEST_METRICS: tuple[type[Metric], ...] = (TcCount, TcNr, TcSlow)


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_engine(monkeypatch, TEST_METRICS)


def make_tree(root: Path, methods: list[str], n: int = 3) -> None:
    for i in range(n):
        save(root / "gt" / f"im{i}.png", i)
        for j, m in enumerate(methods):
            save(root / "res" / m / f"im{i}.png", 1000 + 10 * i + j)


def run(root: Path, **kw: Any):
    kw.setdefault("metrics", "tc_count,tc_nr")
    kw.setdefault("workers", 0)
    return run_score(ScoreConfig(results=root / "res", gt=root / "gt", **kw))


def reset() -> None:
    TcCount.calls = 0
    TcNr.calls = 0


def test_second_run_computes_and_decodes_nothing(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a", "b"])
    reset()
    r1 = run(tmp_path)
    assert TcCount.calls == 6 and TcNr.calls == 6
    assert (tmp_path / "res" / ".paradigm" / "cache.sqlite").exists()
    reset()
    r2 = run(tmp_path)
    assert TcCount.calls == 0 and TcNr.calls == 0
    c = r2.run_info["counts"]
    # keyed by content: every file (6 outputs, 3 GT) is re-hashed, none is decoded
    assert c["computed"] == 0 and c["cached"] == 12 and c["decoded_pairs"] == 0 and c["hashed_files"] == 9
    cols = ["method", "image", "tc_count", "tc_nr", "height", "width", "resized"]
    assert r1.scores[cols].equals(r2.scores[cols])
    r3 = run(tmp_path, trust_mtime=True)  # opt-in: unchanged (path, size, mtime) files are not re-hashed
    assert r3.run_info["counts"]["hashed_files"] == 0 and r3.run_info["counts"]["cached"] == 12


def test_adding_a_method_computes_only_it(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a", "b"])
    run(tmp_path)
    make_tree(tmp_path, ["a", "b", "c"])  # rewrites a/b with identical bytes, adds c
    reset()
    r = run(tmp_path)
    assert TcCount.calls == 3 and TcNr.calls == 3
    assert r.run_info["counts"]["decoded_pairs"] == 3


def test_changed_file_and_policy_recomputed(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a"])
    run(tmp_path)
    save(tmp_path / "res" / "a" / "im0.png", 777)
    reset()
    run(tmp_path)
    assert TcCount.calls == 1
    reset()
    run(tmp_path, crop_border=2)  # another policy: everything again
    assert TcCount.calls == 3


def test_no_cache_and_explicit_path(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a"])
    reset()
    run(tmp_path, cache=None)
    run(tmp_path, cache=None)
    assert TcCount.calls == 6
    assert not (tmp_path / "res" / ".paradigm").exists()
    db = tmp_path / "elsewhere" / "c.sqlite"
    reset()
    run(tmp_path, cache=db)
    run(tmp_path, cache=db)
    assert TcCount.calls == 3 and db.exists()


def test_cache_unit(tmp_path: Path) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"hello")
    c = ScoreCache(tmp_path / "c.sqlite")
    assert c._con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    sha = c.file_sha(f)
    assert sha == sha256_file(f) and c.hashed == 1
    key = (sha, "r", "m", "{}", "p")
    c.put([(key, {"m": 1.5, "inf": float("inf")})], [((sha, "r", "p"), (4, 5, True))])
    assert c.get_scores([key, (sha, "r", "m", "{}", "other")]) == {key: {"m": 1.5, "inf": float("inf")}}
    assert c.get_geometry([(sha, "r", "p")]) == {(sha, "r", "p"): (4, 5, True)}
    c.close()
    c2 = ScoreCache(tmp_path / "c.sqlite")
    assert c2.file_sha(f) == sha and c2.hashed == 1  # default: always re-hashed (content key)
    c2.close()
    c2 = ScoreCache(tmp_path / "c.sqlite", trust_mtime=True)
    assert c2.file_sha(f) == sha and c2.hashed == 0  # --trust-mtime: from the files table
    os.utime(f, ns=(1, 1))
    assert c2.file_sha(f) == sha and c2.hashed == 1  # mtime changed: re-hashed
    assert c2.count_scores() == 1
    c2.close()
    assert isinstance(open_cache(None), NullCache)
    bad = tmp_path / "notadb.sqlite"
    bad.write_text("garbage" * 100)
    got = open_cache(bad)  # garbage: moved aside, fresh cache, no crash
    assert isinstance(got, ScoreCache) and got.count_scores() == 0 and len(got.quarantined) == 1
    got.close()


def test_two_writers_share_the_cache(tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite"
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            c = ScoreCache(db)
            for i in range(40):
                c.put([((f"o{k}-{i}", "r", "m", "{}", "p"), {"m": float(i)})])
            c.close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    ts = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 160
    con.close()


_SLOW_SCRIPT = """
import sys, time, json, torch
from pathlib import Path
from paradigm.metrics.base import Metric
from paradigm.metrics.registry import register
import paradigm.engine as engine

@register
class TcSlow(Metric):
    name = "tc_slow"
    def forward(self, x, ref=None):
        time.sleep(float(sys.argv[2]))
        return (x - ref).abs().flatten(1).mean(1).double()

root = Path(sys.argv[1])
res = engine.run_score(engine.ScoreConfig(results=root / "res", gt=root / "gt", metrics="tc_slow",
                                          batch_size=1, workers=1))
print(json.dumps(res.run_info["counts"]))
"""


def test_killed_run_leaves_a_usable_cache(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a", "b"], n=10)  # 20 pairs
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent(_SLOW_SCRIPT))
    db = tmp_path / "res" / ".paradigm" / "cache.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path), "0.25"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 90
    done = 0
    try:
        while time.time() < deadline:
            if db.exists():
                try:
                    con = sqlite3.connect(db, timeout=5)
                    done = con.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
                    con.close()
                except sqlite3.Error:
                    done = 0
                if done >= 3:
                    break
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode() if proc.stderr else ""
    assert 3 <= done < 20
    TcSlow.calls = 0
    res = run(tmp_path, metrics="tc_slow", batch_size=1)
    counts = res.run_info["counts"]
    assert counts["rows"] == 20 and counts["errors"] == 0
    assert counts["cached"] >= done and counts["computed"] == 20 - counts["cached"] == TcSlow.calls
    assert res.scores["tc_slow"].notna().all()
