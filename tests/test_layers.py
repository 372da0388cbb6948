"""The code's shape: imports flow one way (import-linter's layers contract in pyproject.toml), no module
outgrows one job, the linter finds nothing (pyflakes, import order, bugbear: [tool.ruff.lint]), the code is
formatted (ruff format) and type-checks (mypy)."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
from conftest import ROOT

BIN = Path(sys.executable).parent


@lru_cache(maxsize=None)
def parsed(path: Path) -> ast.Module:
    """A module's syntax tree, parsed once per session (the size and the cycle checks both read every module)."""
    return ast.parse(path.read_text(encoding="utf-8"))


def test_nothing_imports_upward():
    proc = subprocess.run([str(BIN / "lint-imports")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 kept, 0 broken" in proc.stdout


def test_lint_is_clean():
    """ruff with the rules chosen in pyproject.toml ([tool.ruff.lint])."""
    proc = subprocess.run(
        [str(BIN / "ruff"), "check", "rag", "app", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_code_is_formatted():
    proc = subprocess.run(
        [str(BIN / "ruff"), "format", "--check", "rag", "app", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + "\nrun: ruff format rag app tests bench"


@pytest.mark.slow  # a cold mypy run takes about a minute
def test_types_check():
    """mypy over rag/ and app/ as configured in pyproject.toml (libraries without types declared there)."""
    proc = subprocess.run(
        [str(BIN / "mypy"), "--no-incremental"], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Success: no issues found" in proc.stdout


def test_no_module_over_400_lines_and_every_public_function_documented():
    for path in sorted([*ROOT.glob("rag/**/*.py"), *ROOT.glob("app/*.py")]):
        text = path.read_text(encoding="utf-8")
        assert text.count("\n") <= 400, f"{path.relative_to(ROOT)} has {text.count(chr(10))} lines: split it by job"
        tree = parsed(path)
        methods = [m for c in tree.body if isinstance(c, ast.ClassDef) and not c.name.startswith("_") for m in c.body]
        for node in [*tree.body, *methods]:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
                assert ast.get_docstring(node), f"{path.relative_to(ROOT)}:{node.lineno} {node.name} has no docstring"


@pytest.mark.slow  # imports every module (gradio, torch, ...) in a fresh process: ~15 s
def test_every_module_imports():
    """A name moved by a refactor breaks its importers at import time; import each module in a fresh process."""
    names = sorted(
        {
            ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            for p in [*ROOT.glob("rag/**/*.py"), *ROOT.glob("app/*.py")]
        }
    )
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    proc = subprocess.run([sys.executable, "-c", code, *names], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def import_graph(root: Path, patterns: tuple[str, ...] = ("rag/**/*.py", "app/*.py")) -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere in its text: at the top, under ``if TYPE_CHECKING``
    or inside a function (lint-imports' layers allow an import that only a type hint needs; a cycle does not)."""
    paths = {
        ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
        for pattern in patterns
        for p in root.glob(pattern)
    }
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in paths}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from . import x / from ..a import b
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                for a in node.names:  # a submodule if it is one, else a name in the module
                    deps |= {f"{base}.{a.name}"} if f"{base}.{a.name}" in paths else {base} & paths.keys()
        graph[name] = deps - {name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    group.append(w)
                    if w == v:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
    return cycles


def test_no_import_cycles_even_through_type_hints():
    """0 cycles in the import graph of rag/ and app/, counting imports under TYPE_CHECKING and in functions."""
    assert import_cycles(import_graph(ROOT)) == []


def test_the_cycle_finder_sees_a_loop_closed_by_a_type_hint(tmp_path):
    """The check above can fail: a loop closed only under ``if TYPE_CHECKING`` (and a relative import) is found."""
    pkg = tmp_path / "rag" / "pkg"
    pkg.mkdir(parents=True)
    (tmp_path / "rag" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from rag.pkg.b import B\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nB = 1\nif TYPE_CHECKING:\n    from .c import C\n")
    (pkg / "c.py").write_text("def f():\n    from rag.pkg import a\n")
    (pkg / "d.py").write_text("import rag.pkg.a\n")
    graph = import_graph(tmp_path, ("rag/**/*.py",))
    assert graph["rag.pkg.b"] == {"rag.pkg.c"} and graph["rag.pkg.d"] == {"rag.pkg.a"}
    assert import_cycles(graph) == [["rag.pkg.a", "rag.pkg.b", "rag.pkg.c"]]
