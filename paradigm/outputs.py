"""Writing ``paradigm score`` outputs (``docs/contracts.md`` §2) and the terminal summary.

Files under ``--out DIR``: ``scores.parquet`` + ``scores.csv`` (per image), ``summary.csv`` (per
method/task/dataset and metric: mean, std, count, bootstrap CI for pillars and composite),
``errors.csv``, ``run.json``, and ``samples.csv`` when several samples per input exist and
``paradigm.samples`` is available. The set is written as one unit (:func:`write_outputs`): a reader
never sees files of two runs side by side.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

#: Leading identification columns of ``scores.*`` (contracts §2).
ID_COLUMNS: tuple[str, ...] = (
    "method", "task", "dataset", "image", "sample", "output_path", "gt_path", "input_path",
    "height", "width", "resized",
)
#: Pillar and composite columns added by ``paradigm.composite``.
PILLAR_COLUMNS: tuple[str, ...] = ("perceptual", "stability", "fidelity", "composite")
#: Columns of ``errors.csv``.
ERROR_COLUMNS: tuple[str, ...] = ("method", "task", "dataset", "image", "path", "stage", "reason")
#: Columns of ``summary.csv``.
SUMMARY_COLUMNS: tuple[str, ...] = ("method", "task", "dataset", "metric", "mean", "std", "count", "ci_low", "ci_high")
GROUP = ["method", "task", "dataset"]


def bootstrap_mean_ci(
    values: Sequence[float] | np.ndarray, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean.

    Args:
        values: 1-D values; NaNs are ignored.
        n_boot: number of resamples.
        seed: seed of the resampling (numpy ``default_rng``).
        alpha: 0.05 for a 95% interval.

    Returns:
        ``(low, high)``; ``(nan, nan)`` with no finite value; ``(v, v)`` with one value.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (math.nan, math.nan)
    if v.size == 1:
        return (float(v[0]), float(v[0]))
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot, dtype=np.float64)
    chunk = max(1, 2_000_000 // v.size)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, v.size, size=(stop - start, v.size))
        means[start:stop] = v[idx].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Numeric score columns of a scores table (everything after the id columns)."""
    out = []
    for c in df.columns:
        if c in ID_COLUMNS or c == "composite_missing":
            continue
        if np.issubdtype(df[c].dtype, np.number) and df[c].dtype != bool:
            out.append(c)
    return out


def summarise(df: pd.DataFrame, seed: int = 0, n_boot: int = 1000) -> pd.DataFrame:
    """Long-form summary: per (method, task, dataset) and metric column: mean, std, count, CI.

    ``ci_low``/``ci_high`` are filled only for the pillar and composite columns (bootstrap 95% of
    the mean over rows, i.e. over images — and samples, for multi-sample methods).
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    cols = metric_columns(df)
    if df.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    for (method, task, dataset), g in df.groupby(GROUP, sort=True, dropna=False):
        for c in cols:
            v = g[c].to_numpy(dtype=np.float64)
            fin = v[np.isfinite(v)]
            lo = hi = math.nan
            if c in PILLAR_COLUMNS:
                lo, hi = bootstrap_mean_ci(fin, n_boot=n_boot, seed=seed)
            rows.append(
                {
                    "method": method, "task": task, "dataset": dataset, "metric": c,
                    "mean": float(fin.mean()) if fin.size else math.nan,
                    "std": float(fin.std(ddof=1)) if fin.size > 1 else (0.0 if fin.size == 1 else math.nan),
                    "count": int(fin.size), "ci_low": lo, "ci_high": hi,
                }
            )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


#: The files of one output set (a folder holds one set; other entries in it are left alone).
OUTPUT_FILES: tuple[str, ...] = ("scores.parquet", "scores.csv", "summary.csv", "errors.csv", "samples.csv", "run.json")
_NEW, _OLD = "paradigm-new", "paradigm-old"


def check_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Check that ``--out`` can receive the output set, before any work; returns it as given.

    Raises:
        InputError: it exists and is not a folder, a parent is a file, or it (or the folder it
            would be created in) is not writable. Messages name the path and what to do.
    """
    from .errors import InputError

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder; give a folder (it is created if missing)")
    probe = out
    while not probe.exists():
        if probe.is_symlink():
            raise InputError(f"--out {out}: {probe} is a broken symbolic link")
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise InputError(f"--out {out}: {probe} is a file, so the output folder cannot be created there")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        what = "the output folder" if probe == out else f"{probe} (where the output folder would be created)"
        raise InputError(f"--out {out}: {what} is not writable; choose another --out")
    return out


def _write_file(path: Path, name: str, payload: Any) -> None:
    """Write one output file (a separate function so tests can slow it down)."""
    if name.endswith(".parquet"):
        payload.to_parquet(path, index=False)
    else:
        path.write_text(payload, encoding="utf-8")


def _payloads(
    scores: pd.DataFrame, summary: pd.DataFrame, errors: pd.DataFrame, run_info: dict[str, Any],
    samples: pd.DataFrame | None,
) -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = [
        ("scores.parquet", scores),
        ("scores.csv", scores.to_csv(index=False)),
        ("summary.csv", summary.to_csv(index=False, float_format="%.6g")),
        ("errors.csv", errors.to_csv(index=False, float_format="%.6g")),
    ]
    if samples is not None:
        items.append(("samples.csv", samples.to_csv(index=False)))
    items.append(("run.json", json.dumps(run_info, indent=2, sort_keys=False, default=_json_default) + "\n"))
    return items


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _move_foreign(src: Path, dst: Path) -> None:
    """Move entries of ``src`` that are not output files into ``dst`` (unless ``dst`` has them)."""
    for e in sorted(os.listdir(src)):
        if e not in OUTPUT_FILES and not (dst / e).exists():
            os.rename(src / e, dst / e)


def recover_outputs(out: Path) -> None:
    """Finish or undo an output swap that a killed ``paradigm score`` left beside ``out``.

    A dead writer's new set (``.<name>.paradigm-new-<pid>-*``) is removed; its old set
    (``.<name>.paradigm-old-<pid>-*``) is put back when ``out`` is missing, else its non-output
    entries are moved back into ``out`` and the rest removed.
    """
    parent = out.parent
    if not parent.is_dir():
        return
    for entry in sorted(parent.iterdir()):
        for kind in (_OLD, _NEW):
            head = f".{out.name}.{kind}-"
            if not entry.name.startswith(head):
                continue
            try:
                pid = int(entry.name[len(head):].split("-", 1)[0])
            except ValueError:
                continue
            if pid != os.getpid() and _alive(pid):
                continue
            if kind == _OLD and not out.exists():
                os.rename(entry, out)
                continue
            if kind == _OLD and out.is_dir():
                _move_foreign(entry, out)
            shutil.rmtree(entry, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, exchange = -100, 2
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), exchange)
    return bool(rc == 0)


def _swap_in(new: Path, out: Path) -> None:
    """Make ``new`` (a complete set) be ``out``, as one rename where the system allows it."""
    if not out.exists():
        os.rename(new, out)
        return
    if _exchange(new, out):  # ``new`` now holds the previous set
        _move_foreign(new, out)
        shutil.rmtree(new, ignore_errors=True)
        return
    old = out.parent / f".{out.name}.{_OLD}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    os.rename(out, old)  # a kill between these two renames is undone by recover_outputs
    os.rename(new, out)
    _move_foreign(old, out)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM (main thread only) while the swap runs, so it is never cut in half."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While writing, SIGTERM raises KeyboardInterrupt so the temporary folder is removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        prev = signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, prev)


def _swappable(out: Path) -> bool:
    """Whether ``out`` can be replaced by a rename (not the working folder or above it, not a mount)."""
    real = Path(os.path.realpath(out))
    cwd = Path(os.getcwd())
    return not (real == cwd or real in cwd.parents or (real.exists() and os.path.ismount(real)))


def write_outputs(
    out_dir: str | os.PathLike[str],
    scores: pd.DataFrame,
    summary: pd.DataFrame,
    errors: pd.DataFrame,
    run_info: dict[str, Any],
    samples: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write the output set into ``out_dir`` (created) as one unit; returns name -> path.

    The files are written into a temporary folder beside ``out_dir`` which then replaces it in one
    atomic exchange (Linux ``renameat2``; elsewhere two renames, undone on the next run if killed
    between them). Entries of ``out_dir`` that are not output files are carried over. So a reader
    sees the previous set or the new one, never a mix; a killed run leaves the previous set (its
    temporary folder is removed at once on SIGINT/SIGTERM, or by the next run after SIGKILL).
    Where the folder cannot be renamed (it is the working folder, a mount point, or its parent is
    read-only) each file is replaced atomically on its own and a stale ``samples.csv`` is removed.

    Raises:
        InputError: ``out_dir`` is not usable (see :func:`check_out_dir`).
    """
    out = Path(os.path.realpath(check_out_dir(out_dir)))
    out.parent.mkdir(parents=True, exist_ok=True)
    items = _payloads(scores, summary, errors, run_info, samples)
    recover_outputs(out)
    new: Path | None = None
    if _swappable(out):
        try:
            new = Path(tempfile.mkdtemp(prefix=f".{out.name}.{_NEW}-{os.getpid()}-", dir=out.parent))
        except OSError:
            new = None
    if new is None:
        return _write_in_place(out, items)
    swapped = False
    try:
        with _terminate_as_interrupt():
            for name, payload in items:
                _write_file(new / name, name, payload)
            with _signals_deferred():
                _swap_in(new, out)
                swapped = True
    finally:
        if not swapped:
            shutil.rmtree(new, ignore_errors=True)
    return {name: out / name for name, _ in items}


def _write_in_place(out: Path, items: list[tuple[str, Any]]) -> dict[str, Path]:
    """Fallback: every file written to a temporary name in ``out`` and renamed over its target."""
    out.mkdir(parents=True, exist_ok=True)
    tmps: list[tuple[Path, Path]] = []
    try:
        for name, payload in items:
            tmp = out / f".{name}.{os.getpid()}.tmp"
            tmps.append((tmp, out / name))
            _write_file(tmp, name, payload)
        if not any(n == "samples.csv" for n, _ in items):
            (out / "samples.csv").unlink(missing_ok=True)
        for tmp, dst in tmps:
            os.replace(tmp, dst)
    finally:
        for tmp, _ in tmps:
            tmp.unlink(missing_ok=True)
    return {name: out / name for name, _ in items}


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], n_left: int = 1) -> str:
    """Plain-text table: the first ``n_left`` columns left-aligned, the others right-aligned."""
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < n_left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=False)))
    sep = "  ".join("-" * w for w in widths)
    return "\n".join(ln.rstrip() for ln in [line(headers), sep, *(line(r) for r in rows)])

