"""Scale benchmark: rag's retrieval at 10k / 100k / 1M passages, per dense index choice.

For each scale it generates (once) a synthetic corpus with planted facts and precomputed unit vectors
(bench/synth.py: embedding a million passages would take days here), writes one real rag index with
rag.index.store.write_index, then measures, each in a fresh process (so memory is per configuration):

  flat / hnsw / ivfpq   rag's FAISS kinds (hnsw and ivfpq share the base files, hard-linked)
  milvus-hnsw           rag on Milvus Lite (the embedded milvus-lite package), HNSW
  milvus-flat           rag on Milvus Lite, FLAT (10k only: the exactness reference on Milvus)
  langchain-faiss       the vanilla LangChain recipe (langchain_community FAISS.from_embeddings,
                        IndexFlatL2 + in-memory docstore, save_local/load_local), dense only

Figures: build time and size on disk, start-up time, resident memory (VmRSS after the queries, and
peak), query latency p50/p95 of the full retrieval (dense chunks + sentences + BM25 + translated BM25
+ fusion + de-duplication; query vectors precomputed), recall@10 of the retrieved passages against
the exact (flat) pipeline, dense recall@10 against exact k-NN, and planted-fact hit@10.

    python bench/bench_scale.py --scales 10000 100000 1000000 --data /work/benchdata --out bench/scale_results.json
    python bench/bench_scale.py --report bench/scale_results.json      # writes bench/scale_report.md + PNGs
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

FAISS_KINDS = ("flat", "hnsw", "ivfpq")


def _mem() -> dict:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, val = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = int(val.split()[0]) / 1024  # MiB
    return out


def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _settings(idx_dir: Path, name: str, **kw):
    from rag.settings import load_settings

    return load_settings(index_dir=idx_dir, index=name, cache_dir=idx_dir / ".cache", **kw)


# --- build phases -------------------------------------------------------------------------------------


def _parts(data: Path):
    """rag.index.store Parts straight from the synthetic corpus (vectors are memory-mapped slices)."""
    from rag.index.embedding import LANGS
    from rag.index.store import DocInfo, Part
    from rag.records import Chunk

    docs = json.loads((data / "docs.json").read_text("utf-8"))
    cvec = np.load(data / "chunk_vectors.npy", mmap_mode="r")
    svec = np.load(data / "sentence_vectors.npy", mmap_mode="r")
    terms = json.loads((data / "terms.json").read_text("utf-8"))
    tok, toff = np.load(data / "tokens.npy", mmap_mode="r"), np.load(data / "token_offsets.npy")
    parts, c0 = [], 0
    with open(data / "chunks.jsonl", encoding="utf-8") as fh:
        for d in docs:
            rows = [json.loads(fh.readline()) for _ in range(d["chunks"])]
            chunks = [
                Chunk(f"{d['doc_id']}#{i}", d["doc_id"], d["title"], r["section"], r["text"], 0, len(r["text"]))
                for i, r in enumerate(rows)
            ]
            sent_rows = np.array([(i, a, b) for i, r in enumerate(rows) for a, b in r["spans"]], dtype=np.int32)
            tokens = [[terms[t] for t in tok[toff[c0 + i] : toff[c0 + i + 1]]] for i in range(len(rows))]
            tokens = [[] if t == [""] else t for t in tokens]
            n = len(rows)
            lang = np.uint8(LANGS.index(d["lang"]))
            info = DocInfo(
                d["doc_id"],
                str(data / d["doc_id"]),
                d["title"],
                (),
                f"{c0:064x}",
                sum(len(r["text"]) for r in rows),
                n,
                0,
            )
            ns = len(sent_rows)
            parts.append(
                Part(
                    info,
                    chunks,
                    cvec[c0 : c0 + n],
                    sent_rows,
                    svec[c0 * 3 : c0 * 3 + ns],
                    tokens,
                    np.full(n, lang, np.uint8),
                    np.full(ns, lang, np.uint8),
                )
            )
            c0 += n
    return parts


def child_build_base(data: str, idx_dir: str) -> dict:
    from rag.index.store import Precomputed, write_index

    data, idx_dir = Path(data), Path(idx_dir)
    t = time.perf_counter()
    parts = _parts(data)
    prep_s = time.perf_counter() - t
    with np.load(data / "lang_means.npz") as z:
        means = {k: z[k] for k in z.files}
    stages: dict[str, float] = {}
    t0 = time.perf_counter()

    def progress(stage, done, total):
        stages.setdefault(stage, time.perf_counter() - t0)

    s = _settings(idx_dir, "flat", dense_index="flat")
    report = write_index(parts, s, Precomputed("synthetic:unit-vectors", 384, means), progress)
    total = time.perf_counter() - t0
    bm25_s = stages.get("building dense index", total) - stages.get("indexing BM25", total)
    return {
        "seconds": total,
        "prepare_parts_s": prep_s,
        "write_arrays_s": stages.get("indexing BM25", total) - stages.get("writing index", 0),
        "bm25_glossary_s": bm25_s,
        "chunks": report.chunks,
        "sentences": report.sentences,
        "size_bytes": _du(s.index_path),
        "mem": _mem(),
    }


def _link_copy(src: Path, dst: Path) -> None:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, copy_function=os.link)
    (dst / "params.json").unlink()
    shutil.copy2(src / "params.json", dst / "params.json")


def _set_params(path: Path, **dense) -> None:
    p = json.loads((path / "params.json").read_text("utf-8"))
    p["dense"].update(dense)
    milvus = p["dense"].pop("milvus", None)
    if milvus:
        p["milvus"] = milvus
    p["sentences"] = {"search": "exhaustive" if p["dense"]["kind"] == "flat" else "candidates"}
    _write_params(path, p)


def _write_params(path: Path, p: dict) -> None:
    """params.json as a build writes it: the dense index file listed in the manifest, checksum sealed."""
    from rag.index.integrity import _stamp, digest, params_text

    f = path / "dense.faiss"
    if f.exists():
        p["files"] = {**p.get("files", {}), "dense.faiss": {"size": f.stat().st_size, "blake2b": digest(f)}}
    for name, entry in p.get("files", {}).items():  # hard links changed the files' ctime, not their content
        entry["stamp"] = _stamp((path / name).stat())
    (path / "params.json").write_text(params_text(p), "utf-8")


def child_build_faiss(idx_dir: str, kind: str) -> dict:
    import faiss

    from rag.index.dense.faiss import build_faiss

    idx_dir = Path(idx_dir)
    base, path = idx_dir / "flat", idx_dir / kind
    _link_copy(base, path)
    vectors = np.load(base / "chunk_vectors.npy", mmap_mode="r")
    vids = np.load(base / "vector_ids.npy")
    t = time.perf_counter()
    index = build_faiss(kind, vectors, vids)
    faiss.write_index(index, str(path / "dense.faiss"))
    seconds = time.perf_counter() - t
    _set_params(path, kind=kind, requested=kind)
    return {"seconds": seconds, "dense_bytes": _du(path / "dense.faiss"), "mem": _mem()}


def child_build_flat_candidates(idx_dir: str) -> dict:
    """Exact dense search with the sentence pass the approximate kinds use (sentences of candidate
    passages only): the reference that isolates the effect of approximate search itself."""
    idx_dir = Path(idx_dir)
    path = idx_dir / "flat-candidates"
    _link_copy(idx_dir / "flat", path)
    p = json.loads((path / "params.json").read_text("utf-8"))
    p["sentences"] = {"search": "candidates"}
    _write_params(path, p)
    return {"seconds": 0.0, "mem": _mem()}


def milvus_fill(base: Path, ms) -> np.ndarray:
    """Insert the passages of the base index at ``base`` (vector, text, doc, chunk id, language; 20k rows a
    call) into the ``MilvusStore`` ``ms`` and flush; the vectors (memory-mapped)."""
    from rag.index.store import ChunkStore

    vectors = np.load(base / "chunk_vectors.npy", mmap_mode="r")
    vids = np.load(base / "vector_ids.npy")
    chunk_docs = np.load(base / "chunk_docs.npy")
    docs = [d["doc_id"] for d in json.loads((base / "docs.json").read_text("utf-8"))]
    with np.load(base / "languages.npz") as z:
        lang = z["chunk_lang"]
    store = ChunkStore(base / "chunks.jsonl", np.load(base / "chunks.offsets.npy"))
    step = 20_000
    for i in range(0, len(vids), step):
        sel = np.arange(i, min(i + step, len(vids)))
        got = [store[int(j)] for j in sel]
        ms.add(
            vids[sel],
            vectors[sel],
            [g.text for g in got],
            [docs[chunk_docs[j]] for j in sel],
            [g.chunk_id for g in got],
            lang[sel],
        )
    ms.store.client.flush(ms.collection)
    return vectors


def milvus_params(ms) -> dict:
    """The params.json dense entries of an index whose vectors are the ``MilvusStore`` ``ms`` (generation 1)."""
    milvus = {"uri": ms.uri, "collection": ms.collection, "generation": 1, "index_type": ms.index_params["index_type"]}
    return {"backend": "milvus", "kind": ms.kind, "requested": ms.kind, "milvus": milvus | {"stale_file": False}}


def child_build_milvus(idx_dir: str, kind: str) -> dict:
    from rag.index.dense.milvus import MilvusStore, collection_name

    idx_dir = Path(idx_dir)
    base, path = idx_dir / "flat", idx_dir / f"milvus-{kind}"
    _link_copy(base, path)
    uri = str((idx_dir / f"milvus-{kind}.db").resolve())
    shutil.rmtree(uri, ignore_errors=True)
    name = collection_name(f"milvus-{kind}", 1)
    t = time.perf_counter()
    ms = MilvusStore(uri, name, kind, int(np.load(base / "chunk_vectors.npy", mmap_mode="r").shape[1]))
    vectors = milvus_fill(base, ms)
    # search once so the index is built and loaded before the clock stops
    ms.search(np.asarray(vectors[0]), 10)
    seconds = time.perf_counter() - t
    _set_params(path, **milvus_params(ms))
    return {"seconds": seconds, "dense_bytes": _du(Path(uri)), "mem": _mem()}


def child_build_langchain(data: str, idx_dir: str) -> dict:
    from langchain_community.vectorstores import FAISS
    from langchain_core.embeddings import Embeddings

    class Given(Embeddings):
        def embed_documents(self, texts):
            raise NotImplementedError

        def embed_query(self, text):
            raise NotImplementedError

    data, path = Path(data), Path(idx_dir) / "langchain-faiss"
    shutil.rmtree(path, ignore_errors=True)
    cvec = np.load(data / "chunk_vectors.npy", mmap_mode="r")
    t = time.perf_counter()
    texts, metas = [], []
    docs = json.loads((data / "docs.json").read_text("utf-8"))
    with open(data / "chunks.jsonl", encoding="utf-8") as fh:
        for d in docs:
            for i in range(d["chunks"]):
                texts.append(json.loads(fh.readline())["text"])
                metas.append({"doc": d["doc_id"], "chunk_id": f"{d['doc_id']}#{i}"})
    # the recipe: FAISS.from_embeddings(zip(texts, vectors), embedding, metadatas) then save_local
    store = FAISS.from_embeddings(list(zip(texts, np.asarray(cvec).tolist())), Given(), metadatas=metas)
    store.save_local(str(path))
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "dense_bytes": _du(path), "size_bytes": _du(path), "mem": _mem()}


# --- query phase --------------------------------------------------------------------------------------


def _queries(data: Path, limit: int):
    qs = [json.loads(line) for line in (data / "queries.jsonl").read_text("utf-8").splitlines()][:limit]
    return qs, np.load(data / "query_vectors.npy")[:limit]


def child_query(data: str, idx_dir: str, config: str, limit: int) -> dict:
    data, idx_dir = Path(data), Path(idx_dir)
    qs, qv = _queries(data, limit)
    if config == "langchain-faiss":
        return _query_langchain(idx_dir, qs, qv)
    from rag.answer.retrieval import Query, Retriever, align, normalize_query
    from rag.index.embedding import LANGS
    from rag.index.store import load_index
    from rag.lang.text import detect_lang, tokenize

    s = _settings(idx_dir, config)
    t = time.perf_counter()
    index = load_index(s, check_embedder=False)
    load_s = time.perf_counter() - t
    mem_load = _mem()
    r = Retriever(index, None, s)
    queries = []
    for q, v in zip(qs, qv):
        text = normalize_query(q["question"])
        lang = detect_lang(text)
        queries.append(
            Query(
                q["question"],
                text,
                v,
                tokenize(text),
                lang,
                align(v, lang, index.lang_means, s.retrieval.align_strength),
            )
        )
    for q in queries[:20]:  # warm-up
        r.retrieve(q, 10)
    present = np.unique(index.chunk_lang)
    ms, dense_ms, top, dense_top = [], [], [], []
    for q in queries:
        t = time.perf_counter()
        hits = r.retrieve(q, 10)
        ms.append((time.perf_counter() - t) * 1000)
        top.append([index.position(h.chunk.chunk_id) for h in hits])
        t = time.perf_counter()
        _, ids = index.dense.search(q.aligned[present], 10)
        dense_ms.append((time.perf_counter() - t) * 1000)
        dense_top.append([[int(i) for i in row] for row in ids])
    return {
        "load_s": load_s,
        "mem_after_load": mem_load,
        "mem": _mem(),
        "ms": ms,
        "dense_ms": dense_ms,
        "top": top,
        "dense_top": dense_top,
        "targets": [q["chunk"] for q in qs],
        "langs": [q["lang"] for q in qs],
        "present": [LANGS[i] for i in present],
    }


def _query_langchain(idx_dir: Path, qs, qv) -> dict:
    from langchain_community.vectorstores import FAISS
    from langchain_core.embeddings import Embeddings

    class Given(Embeddings):
        def embed_documents(self, texts):
            raise NotImplementedError

        def embed_query(self, text):
            raise NotImplementedError

    t = time.perf_counter()
    store = FAISS.load_local(str(idx_dir / "langchain-faiss"), Given(), allow_dangerous_deserialization=True)
    load_s = time.perf_counter() - t
    mem_load = _mem()
    docs = json.loads((idx_dir / "flat" / "docs.json").read_text("utf-8"))
    start, pos = 0, {}
    for d in docs:
        pos[d["doc_id"]] = start
        start += d["n_chunks"]

    def position(meta):
        doc, i = meta["chunk_id"].rsplit("#", 1)
        return pos[doc] + int(i)

    for v in qv[:20]:
        store.similarity_search_with_score_by_vector(v.tolist(), k=10)
    ms, top = [], []
    for v in qv:
        t = time.perf_counter()
        res = store.similarity_search_with_score_by_vector(v.tolist(), k=10)
        ms.append((time.perf_counter() - t) * 1000)
        top.append([position(d.metadata) for d, _ in res])
    return {
        "load_s": load_s,
        "mem_after_load": mem_load,
        "mem": _mem(),
        "ms": ms,
        "dense_ms": ms,
        "top": top,
        "dense_top": None,
        "targets": [q["chunk"] for q in qs],
    }


def child_update(idx_dir: str, config: str) -> dict:
    """Time removing one document from an index (no recomputation, arrays rewritten) on a copy."""
    from rag.index.store import remove_documents

    idx_dir = Path(idx_dir)
    name = f"{config}-update"
    _link_copy(idx_dir / config, idx_dir / name)
    s = _settings(idx_dir, name)
    doc = json.loads((idx_dir / name / "docs.json").read_text("utf-8"))[1]["doc_id"]
    t = time.perf_counter()
    remove_documents([doc], s)
    seconds = time.perf_counter() - t
    shutil.rmtree(idx_dir / name, ignore_errors=True)
    return {"seconds": seconds, "mem": _mem()}


# --- driver ---------------------------------------------------------------------------------------------


def _child(fn: str, *args) -> dict:
    """Run one phase in a fresh interpreter; its JSON result is the last stdout line."""
    mod = "scale_answer" if fn == "child_answer" else "bench_scale"
    code = f"import sys, json; sys.path.insert(0, {str(ROOT / 'bench')!r}); import {mod} as b; print(json.dumps(b.{fn}(*{args!r})))"
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{fn}{args} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.perf_counter() - t
    return out


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def _recall(found: list[list[int]], exact: list[list[int]]) -> float:
    return float(np.mean([len(set(f) & set(e)) / max(1, len(e)) for f, e in zip(found, exact)]))


def summarize(q: dict, exact: dict, same_pass: dict | None = None) -> dict:
    """Per-configuration figures from a query phase and the exact (flat) phase."""
    out = {
        "p50_ms": statistics.median(q["ms"]),
        "p95_ms": _pct(q["ms"], 0.95),
        "dense_p50_ms": statistics.median(q["dense_ms"]),
        "load_s": q["load_s"],
        "rss_mb": q["mem"]["VmRSS"],
        "peak_rss_mb": q["mem"]["VmHWM"],
        "rss_anon_mb": q["mem"].get("RssAnon"),
        "rss_file_mb": q["mem"].get("RssFile"),
        "rss_after_load_mb": q["mem_after_load"]["VmRSS"],
        "hit_at_10": float(np.mean([t in top for t, top in zip(q["targets"], q["top"])])),
        "recall_at_10_vs_exact": _recall(q["top"], exact["top"]),
    }
    if same_pass is not None:
        out["recall_at_10_vs_exact_same_pass"] = _recall(q["top"], same_pass["top"])
    if q.get("dense_top") and exact.get("dense_top"):
        flat = lambda rows: [sorted({i for row in r for i in row}) for r in rows]  # noqa: E731
        # per language the 10 nearest: compare the union over the two aligned queries
        out["dense_recall_at_10"] = _recall(flat(q["dense_top"]), flat(exact["dense_top"]))
        if q.get("present"):
            # the query's own-language vector has real neighbours; the vector shifted into the other
            # language's region has none in this synthetic corpus (only same-topic passages at nearly
            # equal similarity), so which of those near-ties an ANN returns is arbitrary: reported apart
            for name, same in (("dense_recall_at_10_same_lang", True), ("dense_recall_at_10_cross_lang", False)):

                def pick(rows, same=same):
                    return [
                        r[j]
                        for r, lang in zip(rows, q["langs"])
                        for j, p in enumerate(q["present"])
                        if (p == lang) == same
                    ]

                found, want = pick(q["dense_top"]), pick(exact["dense_top"])
                if want:
                    out[name] = _recall(found, want)
    return out


def run(
    scales: list[int], data_root: Path, out: Path, configs: list[str], queries: int, milvus_max: int = 1_000_000
) -> None:
    from synth import generate

    results = json.loads(out.read_text()) if out.exists() else {}
    for n in scales:
        key = str(n)
        res = results.setdefault(key, {"builds": {}, "queries": {}, "summary": {}, "updates": {}})
        data = data_root / f"s{n}"
        t = time.perf_counter()
        generate(data, n, workers=os.cpu_count() or 2)
        res["corpus"] = json.loads((data / "meta.json").read_text())
        idx_dir = data / "idx"
        limit = queries if n < 1_000_000 else min(queries, 200)
        if "flat" not in res["builds"]:
            res["builds"]["flat"] = _child("child_build_base", str(data), str(idx_dir))
            _save(results, out)
        for cfg in configs:
            if (cfg == "milvus-flat" and n > 10_000) or (cfg.startswith("milvus-") and n > milvus_max):
                continue
            if cfg not in res["builds"]:
                print(f"[{n}] build {cfg}", flush=True)
                if cfg in ("hnsw", "ivfpq"):
                    res["builds"][cfg] = _child("child_build_faiss", str(idx_dir), cfg)
                elif cfg.startswith("milvus-"):
                    res["builds"][cfg] = _child("child_build_milvus", str(idx_dir), cfg.split("-", 1)[1])
                elif cfg == "langchain-faiss":
                    res["builds"][cfg] = _child("child_build_langchain", str(data), str(idx_dir))
                elif cfg == "flat-candidates":
                    res["builds"][cfg] = _child("child_build_flat_candidates", str(idx_dir))
                _save(results, out)
            if cfg not in res["queries"]:
                print(f"[{n}] query {cfg}", flush=True)
                q = _child("child_query", str(data), str(idx_dir), cfg, limit)
                (data / f"q-{cfg}.json").write_text(json.dumps(q))
                res["queries"][cfg] = {
                    k: v for k, v in q.items() if k not in ("ms", "dense_ms", "top", "dense_top", "targets")
                }
                _save(results, out)
        exact = json.loads((data / "q-flat.json").read_text())
        cand = data / "q-flat-candidates.json"
        same_pass = json.loads(cand.read_text()) if cand.exists() else None
        for cfg in configs:
            f = data / f"q-{cfg}.json"
            if f.exists():
                exhaustive = cfg in ("flat", "milvus-flat")
                res["summary"][cfg] = summarize(json.loads(f.read_text()), exact, None if exhaustive else same_pass)
        for cfg in ("flat", "hnsw"):
            if cfg in configs and cfg not in res["updates"] and n <= 1_000_000:
                print(f"[{n}] update {cfg}", flush=True)
                res["updates"][cfg] = _child("child_update", str(idx_dir), cfg)
        res["disk"] = {cfg: _du(idx_dir / cfg) for cfg in configs if (idx_dir / cfg).exists()}
        for cfg in configs:
            if cfg.startswith("milvus-") and (idx_dir / f"{cfg}.db").exists():
                res["disk"][cfg] = _du(idx_dir / cfg) + _du(idx_dir / f"{cfg}.db")
        res["wall_s"] = res.get("wall_s", 0) + time.perf_counter() - t
        res["load_average"] = os.getloadavg()
        _save(results, out)


def run_answer(
    scales: list[int], data_root: Path, out: Path, queries: int, kinds: list[str], tile_from: int = 0
) -> None:
    """The whole answer (bench/scale_answer.py) at each scale, each dense kind (``auto``: what rag picks
    for that size) in a fresh process; the table printed with ratios to the smallest scale of this run."""
    from scale_answer import answer_table, summarize_answer
    from synth import generate, tile

    from rag.index.dense.base import HNSW_MAX, choose_kind

    results = json.loads(out.read_text()) if out.exists() else {}
    for n in scales:
        key = str(n)
        res = results.setdefault(key, {"builds": {}, "queries": {}, "summary": {}, "updates": {}})
        res["answer"] = {}  # a new run: the ratios compare figures of one run only
        data = data_root / f"s{n}"
        if tile_from and n > tile_from and n % tile_from == 0:
            tile(generate(data_root / f"s{tile_from}", tile_from, workers=os.cpu_count() or 2), data, n // tile_from)
        else:
            generate(data, n, workers=os.cpu_count() or 2)
        res["corpus"] = json.loads((data / "meta.json").read_text())
        idx_dir = data / "idx"
        if not (idx_dir / "flat" / "params.json").exists():
            res["builds"]["flat"] = _child("child_build_base", str(data), str(idx_dir))
        for kind in dict.fromkeys(choose_kind(n, 384, k, 3072, HNSW_MAX) for k in kinds):
            if kind != "flat" and not (idx_dir / kind / "dense.faiss").exists():
                res["builds"][kind] = _child("child_build_faiss", str(idx_dir), kind)
            print(f"[{n}] answer {kind}", flush=True)
            got = _child("child_answer", str(data), str(idx_dir), kind, min(queries, res["corpus"]["queries"]))
            (data / f"answer-{kind}.json").write_text(json.dumps(got))
            res["answer"][kind] = {**summarize_answer(got), "load_average": os.getloadavg()}
            _save(results, out)
    print(answer_table(results))


def _save(results: dict, out: Path) -> None:
    out.write_text(json.dumps(results, indent=1))


def real_check(corpus: Path, gold: Path, work: Path) -> dict:
    """On the real papers (real embeddings): the approximate kinds' retrieval against exact, per question."""
    from rag.answer.pipeline import Assistant
    from rag.index.store import build_index
    from rag.settings import load_settings

    qs = [json.loads(line)["question"] for line in gold.read_text("utf-8").splitlines() if line.strip()]
    own = ROOT / "eval" / "gold_own.jsonl"
    qs += [json.loads(line)["question"] for line in own.read_text("utf-8").splitlines() if line.strip()]
    tops = {}
    for kind in FAISS_KINDS:
        s = load_settings(index_dir=work / "index", index=kind, cache_dir=work / "cache", dense_index=kind)
        build_index([corpus], s)
        a = Assistant.open(s)
        tops[kind] = [[h.chunk.chunk_id for h in a.retriever.retrieve(q, 10)] for q in qs]
    return {
        k: {
            "questions": len(qs),
            "recall_at_10_vs_exact": _recall(v, tops["flat"]),
            "top5_identical": float(np.mean([a[:5] == b[:5] for a, b in zip(v, tops["flat"])])),
        }
        for k, v in tops.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--data", type=Path, default=Path("/tmp/rag-bench"))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "scale_results.json")
    ap.add_argument(
        "--configs",
        nargs="+",
        default=["flat", "flat-candidates", "hnsw", "ivfpq", "milvus-hnsw", "milvus-flat", "langchain-faiss"],
    )
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--milvus-max", type=int, default=1_000_000, help="skip Milvus Lite above this many passages")
    ap.add_argument("--real", action="store_true", help="also compare kinds on the real papers (../shared)")
    ap.add_argument("--report", type=Path, help="write the Markdown report and plots from a results file")
    ap.add_argument("--answer", action="store_true", help="time the whole answer (bench/scale_answer.py) only")
    ap.add_argument("--kinds", nargs="+", default=["auto"], help="dense kinds for --answer (auto: rag's choice)")
    ap.add_argument(
        "--tile", type=int, default=0, help="--answer: larger scales repeat this generated one (synth.tile)"
    )
    a = ap.parse_args()
    if a.answer:
        run_answer(a.scales, a.data, a.out, a.queries, a.kinds, a.tile)
        return
    if a.report:
        from scale_report import write_report

        print(write_report(json.loads(a.report.read_text()), ROOT / "bench"))
        return
    if a.real:
        res = json.loads(a.out.read_text()) if a.out.exists() else {}
        res["real"] = real_check(
            ROOT.parent / "shared" / "corpus", ROOT.parent / "shared" / "eval" / "gold_dev.jsonl", a.data / "real"
        )
        _save(res, a.out)
        print(json.dumps(res["real"], indent=1))
    run(a.scales, a.data, a.out, a.configs, a.queries, a.milvus_max)


if __name__ == "__main__":
    main()
