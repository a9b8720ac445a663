"""Fuzz (issue 16): a few hundred malformed composite files fed to the composite parser.

Each file, derived from the shipped ``default-v1.json`` (truncated, bytes flipped, values replaced by
hostile ones at random JSON paths, keys deleted or added, deep nesting, non-UTF-8 bytes), must load
as a valid :class:`CompositeSpec` or raise :class:`CompositeSchemaError` — no other exception.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from paradigm.composite.schema import DATA_DIR, CompositeSpec, load_composite, unknown_metrics
from paradigm.errors import CompositeSchemaError

N_FILES = 300
HOSTILE: list[Any] = [
    None, True, False, -1, 0, 1, 2.5, 1e308, -1e308, 1e-320, 10**400, "", "x" * 10_000, "psnr", [], {},
    [1, 2], {"a": 1}, {"weight": 1, "metrics": {"nope": 1}}, {"type": "linear", "a": 0, "b": 0},
]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = obj
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = value
    return obj


def _delete(obj: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return obj
    parent = obj
    for k in path[:-1]:
        parent = parent[k]
    del parent[path[-1]]
    return obj


def _dump(obj: Any) -> str:
    return json.dumps(obj, allow_nan=True)


def generate(folder: Path, n: int = N_FILES, seed: int = 14) -> list[Path]:
    rng = np.random.default_rng(seed)
    text = (DATA_DIR / "default-v1.json").read_text(encoding="utf-8")
    base = json.loads(text)
    paths = _paths(base)
    files = []
    for i in range(n):
        kind = i % 9
        if kind == 0:
            data = text.encode()[: int(rng.integers(0, len(text)))]
        elif kind == 1:
            b = bytearray(text.encode())
            for _ in range(int(rng.integers(1, 6))):
                b[int(rng.integers(0, len(b)))] = int(rng.integers(0, 256))
            data = bytes(b)
        elif kind in (2, 3, 4):
            obj = copy.deepcopy(base)
            for _ in range(int(rng.integers(1, 3))):
                p = paths[int(rng.integers(0, len(paths)))]
                try:
                    obj = _set(obj, p, copy.deepcopy(HOSTILE[int(rng.integers(0, len(HOSTILE)))]))
                except (KeyError, IndexError, TypeError):
                    pass
            data = _dump(obj).encode()
        elif kind == 5:
            obj = copy.deepcopy(base)
            try:
                obj = _delete(obj, paths[int(rng.integers(1, len(paths)))])
            except (KeyError, IndexError, TypeError):
                pass
            data = _dump(obj).encode()
        elif kind == 6:
            depth = int(rng.choice([50, 65, 1000, 200_000]))
            data = ("[" * depth + "]" * depth).encode() if rng.random() < 0.5 else (
                '{"a":' * depth + "1" + "}" * depth
            ).encode()
        elif kind == 7:
            obj = copy.deepcopy(base)
            pillar = str(rng.choice(list(obj["pillars"])))
            name = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz_"), int(rng.integers(1, 12))))
            obj["pillars"][pillar]["metrics"][name] = float(rng.choice([1.0, 1e308, -1.0, float("nan")]))
            data = _dump(obj).encode()
        else:
            data = rng.bytes(int(rng.integers(0, 2000)))
        p = folder / f"c{i:03d}.json"
        p.write_bytes(data)
        files.append(p)
    return files


@pytest.mark.slow
def test_every_malformed_composite_is_a_spec_or_a_schema_error(tmp_path: Path) -> None:
    files = generate(tmp_path)
    assert len(files) >= 300
    load_composite("default")  # first use imports the metric registry (seconds): not part of the bound
    n_err = 0
    for p in files:
        t0 = time.perf_counter()
        try:
            spec = load_composite(p)
        except CompositeSchemaError as exc:
            msg = str(exc)
            assert msg and len(msg) < 5000, f"{p.name}: message of {len(msg)} characters"
            n_err += 1
        except BaseException as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{p.name} raised {type(exc).__name__}: {str(exc)[:300]}")
        else:
            assert isinstance(spec, CompositeSpec)
            unknown_metrics(spec)  # never raises
            for pil in spec.pillars.values():
                assert 0 <= pil.weight <= 1e6 and all(0 <= w <= 1e6 for w in pil.metrics.values())
        assert time.perf_counter() - t0 < 5.0, p.name
    assert n_err >= 200
