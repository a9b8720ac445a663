"""The committed demo leaderboard (``leaderboards/demo``) is present and not stale."""

from __future__ import annotations

import json
from pathlib import Path

import paradigm
from paradigm.metrics.registry import get_metric_class

DEMO = Path(__file__).resolve().parents[1] / "leaderboards" / "demo"


def test_demo_leaderboard_is_committed() -> None:
    for name in ("index.html", "README.md", "leaderboard.csv", "leaderboard.json"):
        assert (DEMO / name).is_file(), f"leaderboards/demo/{name} is missing (regenerate: docs/leaderboards.md)"


def test_demo_leaderboard_matches_current_metric_versions() -> None:
    board = json.loads((DEMO / "leaderboard.json").read_text(encoding="utf-8"))
    assert board["schema"] == "paradigm.leaderboard/1"
    assert board["generator"] == f"paradigm {paradigm.__version__}"
    for run in board["runs"]:
        for m in run["signature"]["metrics"]:
            current = get_metric_class(m["name"]).version
            assert m["version"] == current, (
                f"leaderboards/demo was made with {m['name']} v{m['version']}, the registry has v{current}: "
                "regenerate it with the command in docs/leaderboards.md"
            )
