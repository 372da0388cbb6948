"""Benchmark the wall time of one `rag ask` process (start to printed answer, warm disk cache).

Each round starts fresh processes, interleaved so load on the machine hits all alike:
  - baseline `python -c pass` (interpreter start) and `python -c "import rag.cli.commands"` (the command line loaded);
  - `python -m rag.cli.commands ask QUESTION` and the `rag` console script, with this tree's code;
  - with ``--compare TREE`` the same two for another source tree (e.g. the main branch), whose answers
    must be identical.
Prints wall and CPU (user + system) p50 per row with the ratio to the interpreter start and to this
tree's `rag ask`, then where the time of importing goes (``python -X importtime``, by package).
Processes run from an empty directory with PYTHONPATH set to the tree, bytecode cached (in a
temporary PYTHONPYCACHEPREFIX, so no tree is written to) as an installed rag has it; one warm-up
round is not counted. The index (``--index-dir``, default: built once from ``--corpus`` into a
temporary folder and reused) is read as `rag ask` reads it.

    python bench/bench_ask.py [--rounds 7] [--compare /path/to/other/tree] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "世界互联网大会国际组织总部设在哪里？"


def _env(tree: Path, index_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "rag-bench-ask-pyc")
    return {**env, "PYTHONPATH": str(tree), "RAG_INDEX_DIR": str(index_dir), "TQDM_DISABLE": "1"}


def _timed(cmd: list[str], env: dict, cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and stdout of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} failed:\n{proc.stderr[-2000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, proc.stdout


def _index(args: argparse.Namespace) -> Path:
    index_dir = Path(args.index_dir) if args.index_dir else Path(tempfile.gettempdir()) / "rag-bench-ask-index"
    if not (index_dir / "default" / "params.json").exists():
        print(f"building the index of {args.corpus} into {index_dir} ...", flush=True)
        env = _env(ROOT, index_dir)
        subprocess.run([sys.executable, "-m", "rag.cli.commands", "index", args.corpus], env=env, cwd=ROOT, check=True)
    return index_dir


def import_breakdown(tree: Path, index_dir: Path, cwd: Path, question: str) -> list[tuple[str, float]]:
    """Milliseconds of importing per top-level package during one `rag ask` (``-X importtime``)."""
    cmd = [sys.executable, "-X", "importtime", "-m", "rag.cli.commands", "ask", question]
    proc = subprocess.run(cmd, env=_env(tree, index_dir), cwd=cwd, capture_output=True, text=True)
    per: dict[str, float] = defaultdict(float)
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if m:
            per[m.group(4).split(".")[0]] += int(m.group(1)) / 1000  # self time, summed per package
    return sorted(per.items(), key=lambda kv: -kv[1])


def main() -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--index-dir", default=None, help="RAG_INDEX_DIR holding index 'default' (built if missing)")
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--compare", default=None, help="another source tree to time the same way (e.g. main)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    index_dir = _index(args)
    py, script = sys.executable, str(Path(sys.executable).parent / "rag")
    ask = ["ask", args.question]
    trees = [("this tree", ROOT)] + ([("compare", Path(args.compare).resolve())] if args.compare else [])
    rows: list[tuple[str, list[str], Path]] = [
        ("python -c pass", [py, "-c", "pass"], ROOT),
        ("import rag.cli.commands", [py, "-c", "import rag.cli.commands"], ROOT),
    ]
    for name, tree in trees:
        rows.append((f"rag ask ({name}, python -m rag.cli.commands)", [py, "-m", "rag.cli.commands", *ask], tree))
        if Path(script).exists():
            rows.append((f"rag ask ({name}, rag script)", [script, *ask], tree))
    times: dict[str, list[tuple[float, float]]] = defaultdict(list)
    answers: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as cwd:
        for r in range(args.rounds + 1):
            for label, cmd, tree in rows:
                wall, cpu, out = _timed(cmd, _env(tree, index_dir), Path(cwd))
                if r:  # round 0 warms the disk cache and writes bytecode
                    times[label].append((wall, cpu))
                if "rag ask" in label:
                    answers[label] = out
        imports = import_breakdown(ROOT, index_dir, Path(cwd), args.question)
    p50 = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    base, mine = p50["python -c pass"], p50["rag ask (this tree, python -m rag.cli.commands)"]
    print(f"`rag ask` cold process, {args.rounds} rounds, p50 (index {index_dir / 'default'})\n")
    print("| process | wall s | CPU s | wall / interpreter start | wall / this tree's rag ask |")
    print("|---|---|---|---|---|")
    for label, (w, c) in p50.items():
        print(f"| {label} | {w:.2f} | {c:.2f} | {w / base[0]:.1f}x | {w / mine[0]:.2f}x |")
    same = len(set(answers.values())) == 1
    print(f"\nanswers identical across rows: {'yes' if same else 'NO'}")
    print("\nimport time of `rag ask` by package (self time summed, ms):")
    for pkg, ms in imports[:15]:
        print(f"  {pkg:24s} {ms:7.1f}")
    print(f"  {'(all imports)':24s} {sum(ms for _, ms in imports):7.1f}")
    if args.json:
        out = {"p50": {k: {"wall_s": w, "cpu_s": c} for k, (w, c) in p50.items()}, "answers_identical": same}
        Path(args.json).write_text(json.dumps({**out, "imports_ms": dict(imports)}, indent=2), "utf-8")
    if not same:
        sys.exit("answers differ between rows")


if __name__ == "__main__":
    main()
