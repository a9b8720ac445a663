"""Structural rules of the code base: small functions, no import cycles, meta_eval independent of paradigm."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("paradigm", "meta_eval")
MAX_FUNCTION_LINES = 120


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


MODULES = _modules()


def _resolve(mod: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    is_pkg = MODULES[mod].name == "__init__.py"
    base = mod.split(".")[: len(mod.split(".")) - node.level + (1 if is_pkg else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _module_level_imports(mod: str) -> set[str]:
    """Modules of ours that ``mod`` imports anywhere (functions included; ``if TYPE_CHECKING`` excluded).

    A cycle hidden behind a function-level import is still a cycle: the two modules cannot be
    understood, tested or moved apart.
    """
    tree = ast.parse(MODULES[mod].read_text(encoding="utf-8"))
    found: set[str] = set()
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack += node.orelse
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(mod, node)
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names}
        else:
            stack += list(ast.iter_child_nodes(node))
    return {m for m in found if m in MODULES and m != mod}


def _cycles() -> list[list[str]]:
    graph = {m: _module_level_imports(m) for m in MODULES}
    # a package's __init__ importing its own submodules is the normal re-export pattern, not a cycle
    graph = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for m in graph:
        if m not in index:
            visit(m)
    return out


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_meta_eval_never_imports_paradigm() -> None:
    offenders = defaultdict(list)
    for mod, path in MODULES.items():
        if not mod.startswith("meta_eval"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            offenders[mod] += [n for n in names if n == "paradigm" or n.startswith("paradigm.")]
    assert {m: v for m, v in offenders.items() if v} == {}


@pytest.mark.parametrize("mod", sorted(MODULES))
def test_functions_are_small(mod: str) -> None:
    tree = ast.parse(MODULES[mod].read_text(encoding="utf-8"))
    long = [
        (n.name, n.end_lineno - n.lineno + 1)
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == [], f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_run_score_is_a_short_pipeline() -> None:
    tree = ast.parse(MODULES["paradigm.engine"].read_text(encoding="utf-8"))
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "run_score")
    assert fn.end_lineno - fn.lineno + 1 < 80
