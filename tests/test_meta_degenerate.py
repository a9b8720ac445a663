"""Degenerate human data (issue 16 item 16): each becomes a clear error or a counted warning."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from meta_eval import fitting, human
from meta_eval.cli import meta_eval
from meta_eval.errors import InputError


def _scores(tmp: Path, n: int = 8) -> Path:
    f = tmp / "m.csv"
    pd.DataFrame({"item": [f"i{k}.png" for k in range(n)], "m1": np.arange(n, dtype=float),
                  "m2": np.arange(n, dtype=float) ** 2}).to_csv(f, index=False)
    return f


def _human(tmp: Path, scores: list[object], sep: str = ",") -> Path:
    f = tmp / "h.csv"
    pd.DataFrame({"item": [f"i{k}.png" for k in range(len(scores))], "score": scores,
                  "reference": [f"r{k % 2}" for k in range(len(scores))]}).to_csv(f, index=False, sep=sep)
    return f


def test_non_numeric_scores_name_the_rows(tmp_path: Path) -> None:
    f = _human(tmp_path, [1.0, "good", 3.0, "bad", 5.0])
    with pytest.raises(InputError, match=r"2 score value\(s\) are not numbers: row 2 \('i1.png': 'good'\), row 4"):
        human.load_human(f"csv:{f}")


def test_decimal_commas_are_parsed_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    f = _human(tmp_path, ["3,5", "4,25", "1", "2,0"], sep=";")
    with caplog.at_level(logging.WARNING):
        h = human.load_human(f"csv:{f}?sep=;&higher_is_better=1")
    np.testing.assert_array_equal(h.scores, [3.5, 4.25, 1.0, 2.0])
    assert "3 score value(s) with a decimal comma" in caplog.text


def test_infinite_scores_are_refused_with_counts(tmp_path: Path) -> None:
    f = _human(tmp_path, [1.0, np.inf, 2.0, -np.inf, np.inf])
    with pytest.raises(InputError, match=r"3 score value\(s\) are infinite \(2 \+inf, 1 -inf\)"):
        human.load_human(f"csv:{f}")


def test_empty_and_header_only_csv(tmp_path: Path) -> None:
    f = tmp_path / "empty.csv"
    f.write_text("")
    with pytest.raises(InputError, match="is empty"):
        human.load_human(f"csv:{f}")
    f.write_text("item,score\n")
    with pytest.raises(InputError, match="no rows"):
        human.load_human(f"csv:{f}")
    g = tmp_path / "dmos.csv"
    g.write_text("\n")
    with pytest.raises(InputError, match="is empty"):
        human.load_human(f"kadid:{g}")


def test_all_equal_scores_validate_is_an_error(tmp_path: Path) -> None:
    h, s = _human(tmp_path, [3.0] * 8), _scores(tmp_path)
    res = CliRunner().invoke(meta_eval, ["validate", "--human", f"csv:{h}?higher_is_better=1", "--scores",
                                         f"table:{s}?item=item", "--bootstrap", "10", "--no-progress"])
    assert res.exit_code != 0
    assert "all 8 human scores are equal" in res.output and "1.0000" not in res.output


def test_all_equal_scores_fit_writes_nothing(tmp_path: Path) -> None:
    h, s = _human(tmp_path, [3.0] * 8), _scores(tmp_path)
    out = tmp_path / "c.json"
    res = CliRunner().invoke(meta_eval, ["fit", "--human", f"csv:{h}?higher_is_better=1", "--scores",
                                         f"table:{s}?item=item", "--allow-unknown-metrics", "--folds", "2",
                                         "--bootstrap", "10", "--permutations", "10", "-o", str(out), "--no-progress"])
    assert res.exit_code != 0 and "equal" in res.output and "p =" not in res.output
    assert not out.exists()
    with pytest.raises(InputError, match="all equal"):
        fitting.fit_composite({"a": np.arange(8.0)}, np.full(8, 0.5), np.arange(8) % 2, {"a": True})


def test_non_finite_documents_are_refused() -> None:
    fitting.check_finite({"a": [1.0, {"b": 2}], "c": None})
    with pytest.raises(InputError, match=r"2 value\(s\) are not finite \(pillars.x.weight = nan; cal\[1\] = inf\)"):
        fitting.check_finite({"pillars": {"x": {"weight": float("nan")}}, "cal": [0.5, float("inf")]})


def test_missing_scores_are_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    f = _human(tmp_path, [1.0, None, 2.0, 3.0])
    with caplog.at_level(logging.WARNING):
        h = human.load_human(f"csv:{f}?higher_is_better=1")
    assert np.isnan(h.scores).sum() == 1 and "1 of 4 score value(s) are missing" in caplog.text


def test_fit_refusal_keeps_old_file(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    out.write_text(json.dumps({"keep": 1}))
    h, s = _human(tmp_path, [3.0] * 8), _scores(tmp_path)
    CliRunner().invoke(meta_eval, ["fit", "--human", f"csv:{h}", "--scores", f"table:{s}?item=item",
                                   "--allow-unknown-metrics", "-o", str(out), "--no-progress"])
    assert json.loads(out.read_text()) == {"keep": 1}
