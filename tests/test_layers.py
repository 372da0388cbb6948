"""The code's shape: imports flow one way (import-linter's layers contract in pyproject.toml), no module
outgrows one job, the linter finds nothing (pyflakes, import order, bugbear: [tool.ruff.lint]), the code is
formatted (ruff format) and type-checks (mypy)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

BIN = Path(sys.executable).parent


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
    import ast

    for path in sorted([*ROOT.glob("rag/**/*.py"), *ROOT.glob("app/*.py")]):
        text = path.read_text(encoding="utf-8")
        assert text.count("\n") <= 400, f"{path.relative_to(ROOT)} has {text.count(chr(10))} lines: split it by job"
        tree = ast.parse(text)
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
