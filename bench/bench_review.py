"""Time `rag review` against `rag batch --by-doc` on the same questions and papers.

Builds (or reuses) an index over the corpus (default ../shared/corpus), then for the first N review
questions of a review gold file (default eval/review/gold_zh.jsonl, N=14 padded by repeating with
another id) times, in one process with the models warm:
  - `rag batch QUESTIONS --by-doc --out answers.jsonl` (run_batch, 2 workers, as the CLI runs it);
  - `rag review QUESTIONS --out review.jsonl` (run_review);
  - both as CLI processes end to end (start-up and index loading included).

    python bench/bench_review.py [--corpus ../shared/corpus] [--gold eval/review/gold_zh.jsonl] [-n 14] [--index-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RAG = str(Path(sys.executable).parent / "rag")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--gold", type=Path, default=ROOT / "eval" / "review" / "gold_zh.jsonl")
    ap.add_argument("-n", type=int, default=14)
    ap.add_argument("--index-dir", type=Path, default=None, help="Keep the index here (default: a temp dir).")
    args = ap.parse_args()
    from rag.answer.pipeline import Assistant
    from rag.index.store import build_index
    from rag.review.batch import read_questions, run_batch
    from rag.review.run import run_review
    from rag.settings import load_settings

    gold = [json.loads(x) for x in args.gold.read_text("utf-8").splitlines() if x.strip()]
    qs = [gold[i % len(gold)]["question"] for i in range(args.n)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        index_dir = args.index_dir or work / "index"
        s = load_settings(index_dir=index_dir, cache_dir=work / "cache", index="bench-review")
        build_index([args.corpus], s)
        qfile = work / "q.jsonl"
        qfile.write_text(
            "".join(json.dumps({"id": f"q{i}", "question": q}, ensure_ascii=False) + "\n" for i, q in enumerate(qs)),
            "utf-8",
        )
        a = Assistant.open(s)
        a.ask("预热")  # the model and the segmenter loaded before either side is timed
        questions = read_questions(qfile)
        t = time.perf_counter()
        run_batch(a, questions, work / "bydoc.jsonl", workers=2, by_doc=True)
        bydoc = time.perf_counter() - t
        t = time.perf_counter()
        rep = run_review(a.retriever, questions, work / "review.jsonl")
        review = time.perf_counter() - t
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
        env |= {"RAG_INDEX_DIR": str(index_dir), "RAG_CACHE_DIR": str(work / "cache"), "RAG_INDEX": "bench-review"}
        cli = {}
        for name, cmd in {
            "batch --by-doc": ["batch", str(qfile), "--by-doc", "--out", str(work / "c1.jsonl"), "--json"],
            "review": ["review", str(qfile), "--out", str(work / "c2.jsonl"), "--json"],
        }.items():
            t = time.perf_counter()
            proc = subprocess.run([RAG, *cmd], env=env, capture_output=True, text=True)
            cli[name] = time.perf_counter() - t
            if proc.returncode:
                sys.exit(proc.stderr[-2000:])
    docs = len(rep.docs)
    print(f"{args.n} questions x {docs} papers, {os.cpu_count()} CPUs")
    print(f"in process: rag batch --by-doc {bydoc:.2f} s, rag review {review:.2f} s")
    print(f"CLI end to end: rag batch --by-doc {cli['batch --by-doc']:.2f} s, rag review {cli['review']:.2f} s")


if __name__ == "__main__":
    main()
