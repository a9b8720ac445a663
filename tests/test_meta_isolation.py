"""meta_eval stands on its own: no paradigm, no torch (issue 13 item 4).

Each check runs in a fresh interpreter where a meta-path finder refuses ``torch``, ``torchvision`` and
every ``paradigm`` module, so an import of either anywhere in meta_eval fails the test. (Setting
``sys.modules['torch'] = None`` instead breaks scipy, whose array-API helpers look torch up in
``sys.modules``; the finder blocks the import just as well.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIX = Path(__file__).resolve().parent / "fixtures" / "meta_eval"
REPO = Path(__file__).resolve().parents[1]

PRELUDE = """
import sys, importlib.abc
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('paradigm', 'torch', 'torchvision'):
            raise ImportError('blocked by the isolation test: ' + name)
        return None
sys.meta_path.insert(0, _Block())
"""


def _run(code: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PRELUDE + code], cwd=tmp, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp)},
    )


def test_every_module_imports_without_paradigm_or_torch(tmp_path: Path) -> None:
    code = """
import importlib, pkgutil, meta_eval
names = [m.name for m in pkgutil.walk_packages(meta_eval.__path__, 'meta_eval.') if m.name != 'meta_eval.__main__']
for n in names:
    importlib.import_module(n)
bad = sorted(k for k in sys.modules if k.split('.')[0] in ('paradigm', 'torch') and sys.modules[k] is not None)
print(len(names), bad)
assert not bad, bad
"""
    r = _run(code, tmp_path)
    assert r.returncode == 0, r.stderr
    n = int(r.stdout.split()[0])
    assert n >= 20  # every module and every loader was imported


def test_validate_and_fit_run_without_paradigm(tmp_path: Path) -> None:
    tid = FIX / "tid2013"
    out = tmp_path / "c.json"
    code = f"""
from meta_eval.cli import meta_eval
for args in (["validate", "--human", "tid2013:{tid}", "--scores", "tid2013-metrics:{tid / 'metrics_values'}",
              "--bootstrap", "20", "--permutations", "20", "--no-progress"],
             ["fit", "--human", "tid2013:{tid}", "--scores", "tid2013-metrics:{tid / 'metrics_values'}",
              "--metric", "PSNR", "--metric", "SSIM", "--folds", "3", "--bootstrap", "20", "--permutations", "20",
              "-o", "{out}", "--no-progress"]):
    try:
        meta_eval.main(args=args, standalone_mode=False)
    except SystemExit as e:
        assert not e.code, e.code
assert not [k for k in sys.modules if k.split('.')[0] in ('paradigm', 'torch') and sys.modules[k] is not None]
"""
    r = _run(code, tmp_path)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "SRCC" in r.stdout and "out-of-fold SRCC" in r.stdout
    assert json.loads(out.read_text())["schema"] == "paradigm.composite/1"


def test_python_dash_m_meta_eval(tmp_path: Path) -> None:
    r = _run("import runpy; sys.argv = ['meta_eval', '--help']; runpy.run_module('meta_eval', run_name='__main__')",
             tmp_path)
    assert "validate" in r.stdout and "calibrate" in r.stdout, r.stderr


def test_paradigm_meta_eval_runs_without_torch(tmp_path: Path) -> None:
    """``paradigm meta-eval`` (the lazy root CLI) works where only torch is missing (docs/meta-eval.md)."""
    tid = FIX / "tid2013"
    code = f"""
import sys, importlib.abc
class _NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'torchvision'):
            raise ImportError('blocked by the isolation test: ' + name)
        return None
sys.meta_path.insert(0, _NoTorch())
from paradigm.cli import cli
try:
    cli.main(args=["meta-eval", "validate", "--human", "tid2013:{tid}", "--scores",
                   "tid2013-metrics:{tid / 'metrics_values'}", "--bootstrap", "10", "--permutations", "10",
                   "--no-progress"], standalone_mode=False)
except SystemExit as e:
    assert not e.code, e.code
assert not [k for k in sys.modules if k.split('.')[0] == 'torch']
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert "SRCC" in r.stdout
