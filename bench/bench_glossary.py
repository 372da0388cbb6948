"""Benchmark the glossary part of adding one document: its words' contribution (``rag.lang.glossary``, read
from the SQLite copy of CC-CEDICT) next to ``build_glossary`` of the same words (the whole dictionary
loaded), each in a fresh process as an update runs, the same words, alternated over several rounds.

The words are a document's BM25 vocabulary (``rag.lang.text.tokenize`` of each corpus file, default
../shared/corpus). The SQLite file is written first if this machine has none (not timed). Prints the
wall and CPU seconds (median over rounds) of each way and their ratio; both must give the same words.

    python bench/bench_glossary.py [--corpus ../shared/corpus] [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
t, c = time.perf_counter(), time.process_time()
from rag.lang import glossary
from rag.lang import translation
vocab = set(json.loads(open(sys.argv[2], encoding="utf-8").read()))
if sys.argv[1] == "contribution":
    out = glossary.contribution(vocab)
    words = sorted({w for ws in out.values() for w in ws})
else:
    out = translation.build_glossary(vocab)
    words = None
print(json.dumps({"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c, "keys": len(out),
                  "dictionary_loaded": translation._entries.cache_info().currsize, "words": words}))
"""


def _run(way: str, vocab_file: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, way, str(vocab_file)], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return json.loads(proc.stdout.splitlines()[-1])


def main() -> None:
    """Time one document's glossary contribution against build_glossary, per corpus file."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from rag.lang.glossary import _database, contribution
    from rag.lang.text import tokenize

    _database()  # written once per machine (not timed)
    results = {}
    for f in sorted(Path(args.corpus).iterdir()):
        vocab = sorted(set(tokenize(f.read_text("utf-8", errors="replace"))))
        vocab_file = Path("/tmp") / f"rag-bench-glossary-{f.stem}.json"
        vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), "utf-8")
        runs: dict[str, list[dict]] = {"contribution": [], "build_glossary": []}
        for _ in range(args.rounds):
            for way in runs:
                runs[way].append(_run(way, vocab_file))
        want = sorted({w for ws in contribution(vocab, use_database=False).values() for w in ws})
        assert all(r["words"] == want for r in runs["contribution"]), "the SQLite path gave other words"
        assert all(r["dictionary_loaded"] == 0 for r in runs["contribution"]), "the dictionary was loaded"
        row = {"words": len(vocab)}
        for way, rs in runs.items():
            row[f"{way}_wall_s"] = statistics.median(r["wall_s"] for r in rs)
            row[f"{way}_cpu_s"] = statistics.median(r["cpu_s"] for r in rs)
        row["cpu_ratio"] = row["build_glossary_cpu_s"] / row["contribution_cpu_s"]
        results[f.name] = row
        print(
            f"{f.name}: {len(vocab)} words; contribution (SQLite) {row['contribution_wall_s']:.3f} s wall "
            f"{row['contribution_cpu_s']:.3f} s CPU; build_glossary {row['build_glossary_wall_s']:.3f} s wall "
            f"{row['build_glossary_cpu_s']:.3f} s CPU ({row['cpu_ratio']:.1f}x the CPU)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), "utf-8")


if __name__ == "__main__":
    main()
