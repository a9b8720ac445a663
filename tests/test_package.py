"""Package-level checks: light import, registry errors, CLI root."""

from __future__ import annotations

import subprocess
import sys

import pytest

import paradigm
from paradigm.errors import UnknownMetricError


def test_import_is_light() -> None:
    code = "import sys, paradigm; bad = [m for m in ('torch', 'open_clip', 'lpips', 'pyiqa', 'pandas', 'numba') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_metric_suggests() -> None:
    with pytest.raises(UnknownMetricError, match="Did you mean"):
        paradigm.create_metric("psnrr")


def test_cli_version() -> None:
    from click.testing import CliRunner

    from paradigm.cli import cli

    res = CliRunner().invoke(cli, ["--version"])
    assert res.exit_code == 0 and paradigm.__version__ in res.output


def test_network_is_blocked() -> None:
    import socket

    s = socket.socket()
    try:
        with pytest.raises(OSError, match="must not use the network"):
            s.connect(("203.0.113.1", 80))
    finally:
        s.close()
