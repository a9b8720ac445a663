"""Progress bars are drawn only when stderr is a terminal (issue 16, item 6)."""

from __future__ import annotations

import http.server
import io
import sys
import threading
from pathlib import Path

import pytest

from paradigm._progress import progress_bar, stderr_is_tty


class _FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_helper_draws_only_on_a_terminal(monkeypatch):
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    assert not stderr_is_tty()
    assert list(progress_bar(range(50), desc="x")) == list(range(50))
    assert pipe.getvalue() == ""
    tty = _FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    list(progress_bar(range(50), desc="drawn"))
    assert "drawn" in tty.getvalue()
    tty2 = _FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty2)
    list(progress_bar(range(50), desc="off", enabled=False))  # --no-progress on a terminal
    assert tty2.getvalue() == ""


def test_meta_eval_bars_are_silent_off_a_terminal(capsys):
    from meta_eval.report import _progress

    assert list(_progress(range(30), "metrics", show=True)) == list(range(30))
    assert capsys.readouterr().err == ""


def test_meta_eval_fit_folds_are_silent_off_a_terminal(capsys):
    np = pytest.importorskip("numpy")
    from meta_eval import fitting

    rng = np.random.default_rng(0)
    x = rng.random((60, 2))
    y = x @ np.array([1.0, 0.5]) + rng.normal(0, 0.1, 60)
    groups = np.repeat(np.arange(12), 5)
    fitting.fit_composite({"a": x[:, 0], "b": x[:, 1]}, (y - y.min()) / (y.max() - y.min()), groups,
                          {"a": True, "b": True}, n_folds=3, n_boot=10, n_perm=10, progress=True)
    assert "folds" not in capsys.readouterr().err


def test_weights_download_bar_is_silent_off_a_terminal(tmp_path, capsys):
    from paradigm.weights.download import fetch

    payload = b"x" * 200_000
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "w.bin").write_bytes(payload)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(tmp_path / "srv"), **k)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        dest = tmp_path / "dest"
        dest.mkdir()
        got = fetch(f"http://127.0.0.1:{srv.server_port}/w.bin", dest, "w.bin").path
    finally:
        srv.shutdown()
        srv.server_close()
    assert Path(got).read_bytes() == payload
    assert capsys.readouterr().err == ""
