"""Issue 16 items 10 and 11: damaged cache databases, stale values, batch-size dependence."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
from _helpers import isolate_engine
from PIL import Image

from paradigm.engine import ScoreConfig, run_score
from paradigm.metrics.base import Metric


class TkMse(Metric):
    name = "tk_mse"
    higher_is_better = False

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        assert ref is not None
        return ((x.double() - ref.double()) ** 2).flatten(1).mean(1)


@pytest.fixture()
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_engine(monkeypatch, [TkMse])


def bmp_tree(root: Path, n: int = 3, size: int = 16) -> None:
    """BMP files: uncompressed, so a changed picture keeps its exact byte size."""
    rng = np.random.default_rng(0)
    for i in range(n):
        (root / "gt").mkdir(parents=True, exist_ok=True)
        (root / "res" / "m").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / "gt" / f"im{i}.bmp")
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / "res" / "m" / f"im{i}.bmp")


def mse_of(a: Path, b: Path) -> float:
    """Expected value from the definition, on the decoded 8-bit samples (float64; paradigm decodes to float32)."""
    x = np.asarray(Image.open(a), dtype=np.float64) / 255.0
    y = np.asarray(Image.open(b), dtype=np.float64) / 255.0
    return float(((x - y) ** 2).mean())


def run(root: Path, **kw: object):
    return run_score(ScoreConfig(results=root / "res", gt=root / "gt", metrics="tk_mse", workers=0, **kw))


# ------------------------------------------------------------------ item 11: content-keyed cache


def test_content_change_with_same_size_and_mtime_is_recomputed(tmp_path: Path, isolated: None) -> None:
    bmp_tree(tmp_path)
    run(tmp_path)
    out = tmp_path / "res" / "m" / "im1.bmp"
    st = out.stat()
    shutil.copy(tmp_path / "gt" / "im1.bmp", out)  # now identical to its GT: MSE 0 ...
    os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))  # ... with the old size and mtime (cp -p / rsync -t)
    assert out.stat().st_size == st.st_size and out.stat().st_mtime_ns == st.st_mtime_ns
    r = run(tmp_path)
    got = r.scores.set_index("image")["tk_mse"]
    assert got["im1"] == 0.0
    assert got["im0"] == pytest.approx(mse_of(tmp_path / "res" / "m" / "im0.bmp", tmp_path / "gt" / "im0.bmp"), abs=1e-6)
    assert r.run_info["cache_keys"] == "sha256 of file bytes"


def test_trust_mtime_is_an_explicit_opt_in(tmp_path: Path, isolated: None) -> None:
    bmp_tree(tmp_path)
    first = run(tmp_path, trust_mtime=True).scores.set_index("image")["tk_mse"]
    out = tmp_path / "res" / "m" / "im1.bmp"
    st = out.stat()
    shutil.copy(tmp_path / "gt" / "im1.bmp", out)
    os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
    r = run(tmp_path, trust_mtime=True)  # the documented trade-off: the stored hash is trusted
    assert r.scores.set_index("image")["tk_mse"]["im1"] == first["im1"]
    assert r.run_info["cache_keys"].startswith("size+mtime")
    assert run(tmp_path).scores.set_index("image")["tk_mse"]["im1"] == 0.0  # default run: correct again


# ------------------------------------------------------------------ item 10: damaged pages


def damage_middle_pages(db: Path) -> None:
    """Overwrite every page but the first (the header and schema stay valid) with garbage."""
    con = sqlite3.connect(db)
    page = con.execute("PRAGMA page_size").fetchone()[0]
    n = con.execute("PRAGMA page_count").fetchone()[0]
    con.close()
    assert n >= 3, "fixture needs a cache of several pages"
    data = bytearray(db.read_bytes())
    rng = np.random.default_rng(10)
    for k in range(1, n):
        data[k * page + 8 : (k + 1) * page - 8] = rng.bytes(page - 16)
    db.write_bytes(bytes(data))


def test_damaged_pages_are_quarantined_and_the_run_goes_on(
    tmp_path: Path, isolated: None, caplog: pytest.LogCaptureFixture
) -> None:
    bmp_tree(tmp_path, n=40)
    first = run(tmp_path).scores
    db = tmp_path / "res" / ".paradigm" / "cache.sqlite"
    assert not (db.parent / "cache.sqlite-wal").exists() or (db.parent / "cache.sqlite-wal").stat().st_size == 0
    damage_middle_pages(db)
    with sqlite3.connect(db) as con, pytest.raises(sqlite3.DatabaseError):  # the header is valid, the pages not
        con.execute("SELECT COUNT(*) FROM scores").fetchone()
    with caplog.at_level(logging.WARNING, logger="paradigm.cache"):
        r = run(tmp_path)
    assert r.scores["tk_mse"].tolist() == first["tk_mse"].tolist()
    assert r.run_info["counts"]["computed"] == 40
    moved = sorted(db.parent.glob("cache.sqlite.corrupt-*"))
    assert [m.name for m in moved if not m.name.endswith(("-wal", "-shm"))] == [Path(r.run_info["cache_quarantined"][0]).name]
    warnings = [rec for rec in caplog.records if "damaged" in rec.getMessage()]
    assert len(warnings) == 1 and "corrupt-" in warnings[0].getMessage()
    again = run(tmp_path)  # the fresh cache works: everything from it now
    assert again.run_info["counts"]["cached"] == 40 and again.run_info["cache_quarantined"] == []


def test_truncated_cache_is_quarantined_too(tmp_path: Path, isolated: None) -> None:
    bmp_tree(tmp_path)
    run(tmp_path)
    db = tmp_path / "res" / ".paradigm" / "cache.sqlite"
    db.write_bytes(db.read_bytes()[:1000])
    r = run(tmp_path)
    assert len(r.scores) == 3 and len(r.run_info["cache_quarantined"]) == 1
    assert run(tmp_path).run_info["counts"]["cached"] == 3


# ------------------------------------------------------------------ item 11: batch size


def _pairs(root: Path, n: int = 8, size: tuple[int, int] = (168, 176)) -> None:
    rng = np.random.default_rng(3)
    (root / "gt").mkdir(exist_ok=True)
    (root / "res" / "m").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        g = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        o = np.clip(g.astype(int) + rng.integers(-25, 26, g.shape), 0, 255).astype(np.uint8)
        Image.fromarray(g).save(root / "gt" / f"im{i}.png")
        Image.fromarray(o).save(root / "res" / "m" / f"im{i}.png")


def test_batch_size_is_in_the_signature_and_the_cache_key(tmp_path: Path, isolated: None) -> None:
    bmp_tree(tmp_path, n=4)
    a = run(tmp_path, batch_size=8)
    assert a.run_info["signature"]["batch_size"] == 8 and "|batch:8|" in a.run_info["signature_line"]
    b = run(tmp_path, batch_size=3)  # values of another batch size are not served
    assert b.run_info["counts"]["cached"] == 0 and b.run_info["counts"]["computed"] == 4
    assert "|batch:3|" in b.run_info["signature_line"]
    assert run(tmp_path, batch_size=3).run_info["counts"]["cached"] == 4


@pytest.mark.slow
def test_batch_size_changes_real_metrics_only_in_the_last_bits(tmp_path: Path) -> None:
    """Documents the size of the effect that made batch size part of the signature (CPU)."""
    _pairs(tmp_path)
    metrics = "psnr,ssim,ms_ssim,gmsd,ciede2000"
    tables = {
        bs: run_score(ScoreConfig(results=tmp_path / "res", gt=tmp_path / "gt", metrics=metrics, batch_size=bs,
                                  cache=None, workers=0, device="cpu", n_boot=10)).scores
        for bs in (1, 3, 8)
    }
    cols = ["psnr", "ssim", "ms_ssim", "gmsd", "ciede2000"]
    assert all(c in tables[1].columns for c in cols)
    for bs in (3, 8):
        for c in cols:
            np.testing.assert_allclose(tables[bs][c].to_numpy(), tables[1][c].to_numpy(), rtol=1e-7, atol=1e-12)
