"""A small mutation pass: does the fast test tier notice when a core module's code is changed?

    python bench/mutation.py rag/answer/citations.py tests/test_verify.py tests/test_generation.py [--limit N]

Each mutant changes one operator or constant of the module (< <= > >= == != in is, + - * /, and/or,
not, True/False, an integer +1), served by an import hook in a forked child that runs the given test
files (`-m "not slow" -x`, or `--tier "slow or not slow"`); the source file on disk is never touched. A mutant is killed when a test
fails. Prints the score and every surviving mutant (line and change) to read: some are equivalent
(the change cannot alter behaviour), the rest are gaps in the tests. mutmut (PyPI) needs its own copy of
the tree per run; forking one warm interpreter runs a mutant in about a second here.
"""

from __future__ import annotations

import argparse
import ast
import importlib.abc
import importlib.util
import os
import sys
import time
from pathlib import Path

SWAPS: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.Div: ast.Mult,
    ast.And: ast.Or,
    ast.Or: ast.And,
}


def docstring_nodes(tree: ast.AST) -> set[int]:
    """ids of the docstring constants (never mutated)."""
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            out.add(id(body[0].value))
    return out


def sites(tree: ast.AST) -> list[tuple[int, str]]:
    """Every place one mutation can be made: (position in the walk, description)."""
    skip = docstring_nodes(tree)
    out = []
    for i, node in enumerate(ast.walk(tree)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Compare) and type(node.ops[0]) in SWAPS:
            out.append((i, f"line {line}: {type(node.ops[0]).__name__} -> {SWAPS[type(node.ops[0])].__name__}"))
        elif isinstance(node, ast.BinOp | ast.BoolOp) and type(node.op) in SWAPS:
            out.append((i, f"line {line}: {type(node.op).__name__} -> {SWAPS[type(node.op)].__name__}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out.append((i, f"line {line}: not removed"))
        elif isinstance(node, ast.Constant) and id(node) not in skip:
            if isinstance(node.value, bool):
                out.append((i, f"line {line}: {node.value} -> {not node.value}"))
            elif isinstance(node.value, int):
                out.append((i, f"line {line}: {node.value} -> {node.value + 1}"))
    return out


def mutate(source: str, position: int) -> str:
    """The module's source with the mutation at walk position ``position`` applied."""
    tree = ast.parse(source)
    for i, node in enumerate(ast.walk(tree)):
        if i != position:
            continue
        if isinstance(node, ast.Compare):
            node.ops[0] = SWAPS[type(node.ops[0])]()
        elif isinstance(node, ast.BinOp | ast.BoolOp):
            node.op = SWAPS[type(node.op)]()
        elif isinstance(node, ast.UnaryOp):
            node.op = ast.UAdd()  # +x of a bool is an int of the same truth: "not" removed
            return ast.unparse(ast.fix_missing_locations(_strip_not(tree, node)))
        elif isinstance(node, ast.Constant):
            node.value = (not node.value) if isinstance(node.value, bool) else node.value + 1
        break
    return ast.unparse(tree)


def _strip_not(tree: ast.AST, target: ast.UnaryOp) -> ast.AST:
    """Replace ``not x`` (marked) by ``x``."""

    class Strip(ast.NodeTransformer):
        def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
            self.generic_visit(node)
            return node.operand if node is target else node

    return Strip().visit(tree)


def run_mutant(module: str, path: Path, source: str, tests: list[str], tier: str = "not slow") -> bool:
    """True when the tests fail with this source served for ``module`` (the mutant is killed)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            compiled = compile(source, str(path), "exec")

            class Serve(importlib.abc.MetaPathFinder, importlib.abc.Loader):
                def find_spec(self, name, target_path=None, target=None):  # noqa: ARG002
                    return importlib.util.spec_from_loader(name, self, origin=str(path)) if name == module else None

                def create_module(self, spec):  # noqa: ARG002
                    return None

                def exec_module(self, mod):
                    mod.__file__ = str(path)
                    exec(compiled, mod.__dict__)

            sys.meta_path.insert(0, Serve())
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            import pytest

            # --assert=plain: the rewriting hook would load rag.* (the plugin's package) from disk, not the mutant
            code = pytest.main(["-q", "-x", "-m", tier, "-p", "no:cacheprovider", "--assert=plain", *tests])
        finally:
            os._exit(int(code))
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) != 0


def main() -> None:
    """Mutate one module, run the tests against each mutant, print the score."""
    ap = argparse.ArgumentParser()
    ap.add_argument("module_file")
    ap.add_argument("tests", nargs="+")
    ap.add_argument("--limit", type=int, default=0, help="at most this many mutants (evenly spread)")
    ap.add_argument(
        "--tier", default="not slow", help='pytest -m expression: "not slow" (default) or "slow or not slow"'
    )
    args = ap.parse_args()
    path = Path(args.module_file).resolve()
    module = ".".join(Path(args.module_file).with_suffix("").parts)
    source = path.read_text(encoding="utf-8")
    all_sites = sites(ast.parse(source))
    chosen = all_sites
    if args.limit and len(all_sites) > args.limit:
        step = len(all_sites) / args.limit
        chosen = [all_sites[int(k * step)] for k in range(args.limit)]
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import numpy  # noqa: F401 - warm the parent: children fork with it loaded
    import pytest  # noqa: F401

    if run_mutant(module, path, source, args.tests, args.tier):
        sys.exit("the tests fail on the unmutated module: fix them first")
    start, survived = time.monotonic(), []
    for position, what in chosen:
        if not run_mutant(module, path, mutate(source, position), args.tests, args.tier):
            survived.append(what)
    killed = len(chosen) - len(survived)
    print(
        f"{args.module_file}: {killed}/{len(chosen)} mutants killed ({killed / max(len(chosen), 1):.0%}) "
        f"of {len(all_sites)} sites, {time.monotonic() - start:.0f} s; tests ({args.tier}): {' '.join(args.tests)}"
    )
    for what in survived:
        print("  survived:", what)


if __name__ == "__main__":
    main()
