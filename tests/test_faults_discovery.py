"""Issue 16 items 8 and 9: symbolic-link loops and unreadable folders during discovery.

A loop is reported once (one ``discovery`` row) and never followed, so discovery always ends; an
unreadable folder is one ``discovery`` row and makes ``paradigm score`` exit non-zero.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _helpers import isolate_engine
from _helpers import save_random_png as save
from click.testing import CliRunner

from paradigm.cli import cli
from paradigm.engine import ScoreConfig, run_score
from paradigm.layout import discover, iter_images
from paradigm.metrics.base import Metric


class TwMse(Metric):
    name = "tw_mse"
    higher_is_better = False

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        assert ref is not None
        return ((x - ref) ** 2).flatten(1).mean(1).double()


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_engine(monkeypatch, [TwMse])


def tree(root: Path, methods: tuple[str, ...] = ("m1", "m2", "m3"), n: int = 4) -> None:
    for i in range(n):
        save(root / "gt" / f"im{i}.png", i)
        for j, m in enumerate(methods):
            save(root / "res" / m / f"im{i}.png", 100 * (j + 1) + i)


def test_one_loop_is_one_row_not_a_flood(tmp_path: Path) -> None:
    tree(tmp_path)
    os.symlink("..", tmp_path / "res" / "m1" / "loop")  # res/m1/loop -> res
    lay = discover(tmp_path / "res", tmp_path / "gt")
    assert len(lay.pairs) == 12
    assert [u.reason for u in lay.unpaired] == []
    assert len(lay.problems) == 1 and "symbolic link loop" in lay.problems[0].reason
    assert lay.problems[0].path == tmp_path / "res" / "m1" / "loop"


def test_two_loops_terminate(tmp_path: Path) -> None:
    """Before the fix this walk never ended (killed at 300 s, 2.4 GB): run it in a child with a timeout."""
    tree(tmp_path, n=2)
    os.symlink("..", tmp_path / "res" / "m1" / "a")
    os.symlink("..", tmp_path / "res" / "m1" / "b")
    code = (
        "import sys; from paradigm.layout import discover\n"
        f"lay = discover({str(tmp_path / 'res')!r}, {str(tmp_path / 'gt')!r})\n"
        "print(len(lay.pairs), len(lay.problems), len(lay.unpaired))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["6", "2", "0"]


def test_links_to_other_folders_are_still_followed(tmp_path: Path) -> None:
    tree(tmp_path, methods=("m1",), n=2)
    os.symlink(tmp_path / "res" / "m1", tmp_path / "res" / "m1_copy")  # a method that is a link: not a loop
    lay = discover(tmp_path / "res", tmp_path / "gt")
    assert lay.methods == ["m1", "m1_copy"] and len(lay.pairs) == 4 and lay.problems == []


def _deny(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make listing ``folder`` fail as on a chmod-000 folder (tests run as root, where chmod does not bite)."""
    real = os.scandir

    def scandir(path: str | os.PathLike[str] = ".") -> object:
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_unreadable_method_folder_is_a_row_and_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree(tmp_path, n=12)
    _deny(monkeypatch, tmp_path / "res" / "m3")
    r = run_score(ScoreConfig(results=tmp_path / "res", gt=tmp_path / "gt", metrics="tw_mse", workers=0, cache=None))
    assert len(r.scores) == 24
    rows = r.errors[r.errors["stage"] == "discovery"]
    assert len(rows) == 1 and rows.iloc[0]["path"] == str(tmp_path / "res" / "m3")
    assert "Permission denied" in rows.iloc[0]["reason"]
    res = CliRunner().invoke(
        cli, ["score", str(tmp_path / "res"), "--gt", str(tmp_path / "gt"), "--metrics", "tw_mse", "--no-cache", "-q"]
    )
    assert res.exit_code == 3, res.output
    assert "m3" in res.output and "Permission denied" in res.output


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads chmod-000 folders")
def test_unreadable_folder_for_real(tmp_path: Path) -> None:
    tree(tmp_path, n=2)
    (tmp_path / "res" / "m2").chmod(0)
    try:
        problems: list = []
        files = iter_images(tmp_path / "res", problems)
        assert len(files) == 4 and len(problems) == 1
    finally:
        (tmp_path / "res" / "m2").chmod(0o755)


def test_unreadable_gt_subfolder_is_reported_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(2):
        save(tmp_path / "gt" / "sr" / "a" / f"im{i}.png", i)
        save(tmp_path / "gt" / "sr" / "b" / f"im{i}.png", 10 + i)
        for ds in ("a", "b"):
            save(tmp_path / "res" / "m" / "sr" / ds / f"im{i}.png", 20 + i)
    _deny(monkeypatch, tmp_path / "gt" / "sr" / "b")
    lay = discover(tmp_path / "res", tmp_path / "gt")
    assert [p.path for p in lay.problems] == [tmp_path / "gt" / "sr" / "b"]
