"""Update benchmark: add one document, then remove one, on a 100k / 1M passage index, as a segment
update (rag's default at this size) next to the full rewrite (the baseline: RAG_MERGE_MIN_PASSAGES above
the index size), both in the same run on hard-linked copies of the same base index.

The base is bench_scale's synthetic index (bench/synth.py, precomputed vectors, dense kind flat). Each
update runs in a fresh process; the copy is re-stamped first (a hard-linked copy changes every file's
inode change time, which would make the first open re-hash gigabytes: an index at rest has no such
cost). After the updates, both copies must retrieve the same passages with the same scores (full
retrieval, dense + sentences + BM25 + fusion) for the synthetic questions.

    nice -n 5 python bench/bench_update.py --data /tmp/seg-bench --scales 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

MODES = {"segments": None, "rewrite": 10**12}  # RAG_MERGE_MIN_PASSAGES (None: the default)


def _settings(idx_dir: Path, name: str, mode: str):
    from rag.settings import load_settings

    kw = {} if MODES[mode] is None else {"merge_min_passages": MODES[mode]}
    return load_settings(index_dir=idx_dir, index=name, cache_dir=idx_dir / ".cache", dense_index="flat", **kw)


def _copy(src: Path, dst: Path) -> None:
    """A hard-linked copy of an index, re-stamped as a writer leaves its index."""
    from rag.index.integrity import params_text, restamp

    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, copy_function=os.link)
    (dst / "params.json").unlink()
    params = json.loads((src / "params.json").read_text("utf-8"))
    params["files"] = restamp(dst, params["files"])
    (dst / "params.json").write_text(params_text(params), "utf-8")


def _new_part(s, doc_index: int):
    """A new document made of an existing one's passages (renamed), with its vectors and tokens."""
    from dataclasses import replace

    from rag.index.store.reader import StoredIndex
    from rag.index.store.writer import Part
    from rag.records import Chunk

    old = StoredIndex.open(s.index_path, s, strict=True)
    assert old is not None
    seg, (a, b) = old.segments[old.doc_segment(doc_index)], old.doc_range(doc_index)
    info = old.docs[doc_index]
    doc_id = f"added-{info.doc_id}"
    chunks = [replace(seg.store[i], chunk_id=f"{doc_id}#{i - a}", doc_id=doc_id) for i in range(a, b)]
    assert all(isinstance(c, Chunk) for c in chunks)
    sa, sb = int(seg.sent_starts[a]), int(seg.sent_starts[b])
    rows = np.asarray(seg.sent_rows[sa:sb]) - np.array([a, 0, 0], np.int32)
    tokens = [
        [old.terms.terms[t] for t in seg.tokens[seg.tok_offsets[i] : seg.tok_offsets[i + 1]]] for i in range(a, b)
    ]
    tokens = [[] if t == [""] else t for t in tokens]
    part = Part(
        replace(info, doc_id=doc_id, sha256=f"{doc_index:064x}"),
        chunks,
        np.array(seg.vectors[a:b]),
        rows,
        np.array(seg.sent_vecs[sa:sb]),
        tokens,
        np.array(seg.chunk_lang[a:b]),
        np.array(seg.sent_lang[sa:sb]),
    )
    old.close()
    return part


def child_updates(idx_dir: str, mode: str) -> dict:
    """Copy the base, then time: add one document, remove one, open the result."""
    from rag.index.store import Precomputed, add_documents, load_index, remove_documents

    idx_dir = Path(idx_dir)
    name = f"update-{mode}"
    _copy(idx_dir / "flat", idx_dir / name)
    s = _settings(idx_dir, name, mode)
    part = _new_part(s, 0)
    with np.load(idx_dir / name / "languages.npz") as z:
        means = {k[5:]: z[k] for k in z.files if k.startswith("mean_")}
    t, c = time.perf_counter(), time.process_time()
    add_documents([part], s, Precomputed("synthetic:unit-vectors", 384, means))
    add_s, add_cpu = time.perf_counter() - t, time.process_time() - c
    doc = json.loads((idx_dir / name / "docs.json").read_text("utf-8"))[1]["doc_id"]
    t, c = time.perf_counter(), time.process_time()
    remove_documents([doc], s)
    remove_s, remove_cpu = time.perf_counter() - t, time.process_time() - c
    t = time.perf_counter()
    index = load_index(s, check_embedder=False)
    load_s = time.perf_counter() - t
    params = index.params
    return {
        "add_s": add_s,
        "remove_s": remove_s,
        "add_cpu_s": add_cpu,  # CPU time of this process: less sensitive to a busy machine than wall time
        "remove_cpu_s": remove_cpu,
        "load_s": load_s,
        "segments": params.get("segments", {}).get("names", ["(one)"]),
        "chunks": len(index.chunks),
    }


def child_compare(data: str, idx_dir: str, limit: int) -> dict:
    """Retrieve the synthetic questions on both updated copies: the same passages and scores?"""
    from bench_scale import _queries

    from rag.answer.retrieval import Query, Retriever, align, normalize_query
    from rag.index.embedding import LANGS
    from rag.index.store import load_index
    from rag.lang.text import detect_lang, tokenize

    qs, qv = _queries(Path(data), limit)
    out = {}
    for mode in MODES:
        s = _settings(Path(idx_dir), f"update-{mode}", mode)
        index = load_index(s, check_embedder=False)
        r = Retriever(index, None, s)
        got, ms = [], []
        for q, v in zip(qs, qv):
            text = normalize_query(q["question"])
            lang = detect_lang(text)
            query = Query(
                q["question"],
                text,
                v,
                tokenize(text),
                lang,
                align(v, lang, index.lang_means, s.retrieval.align_strength),
            )
            t = time.perf_counter()
            hits = r.retrieve(query, 10)
            ms.append((time.perf_counter() - t) * 1000)
            got.append([(h.chunk.chunk_id, h.score, h.dense, h.bm25) for h in hits])
        out[mode] = {
            "hits": got,
            "p50_ms": float(np.median(ms)),
            "langs": [LANGS[i] for i in np.unique(index.chunk_lang)],
        }
    same = out["segments"]["hits"] == out["rewrite"]["hits"]
    return {"same": same, "queries": len(qs), **{f"{m}_p50_ms": out[m]["p50_ms"] for m in MODES}}


def _child(fn: str, *args) -> dict:
    code = (
        f"import sys, json; sys.path.insert(0, {str(ROOT / 'bench')!r}); import bench_update as b; "
        f"print(json.dumps(b.{fn}(*{args!r})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{fn}{args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="folder of bench/synth.py corpora (sN)")
    ap.add_argument("--scales", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "update_results.json")
    args = ap.parse_args()
    from bench_scale import _child as scale_child
    from synth import generate

    results = json.loads(args.out.read_text("utf-8")) if args.out.exists() else {}
    for n in args.scales:
        data = generate(args.data / f"s{n}", n)
        idx_dir = data / "idx"
        if not (idx_dir / "flat" / "params.json").exists():
            print(f"[{n}] building the base index", flush=True)
            results.setdefault(str(n), {})["build"] = scale_child("child_build_base", str(data), str(idx_dir))
        res = results.setdefault(str(n), {})
        for mode in MODES:
            print(f"[{n}] {mode}: add one document, remove one", flush=True)
            res[mode] = _child("child_updates", str(idx_dir), mode)
        res["compare"] = _child("child_compare", str(data), str(idx_dir), args.queries)
        args.out.write_text(json.dumps(results, indent=1), "utf-8")
    print(
        f"{'passages':>10} {'operation':>10} {'rewrite s':>10} {'segments s':>11} {'ratio':>7}  (CPU s: rewrite, segments)"
    )
    for n, res in results.items():
        if not all(m in res for m in MODES) or "compare" not in res:
            continue  # a scale whose run did not finish
        for op in ("add", "remove"):
            rw, sg = res["rewrite"][f"{op}_s"], res["segments"][f"{op}_s"]
            cpu = [res[m].get(f"{op}_cpu_s", float("nan")) for m in ("rewrite", "segments")]
            print(f"{int(n):>10,} {op:>10} {rw:>10.2f} {sg:>11.2f} {rw / sg:>6.1f}x  ({cpu[0]:.2f}, {cpu[1]:.2f})")
        c = res["compare"]
        print(f"{int(n):>10,} {'same hits':>10} {str(c['same']):>10} ({c['queries']} questions, top 10 with scores)")


if __name__ == "__main__":
    main()
