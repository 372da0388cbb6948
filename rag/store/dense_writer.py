"""Writing the dense side of an index: vector ids (kept for unchanged passages, so an approximate index or
a Milvus collection is extended in place) and the FAISS file or Milvus collection itself."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.dense import HNSW_MAX, STALE_REBUILD, MilvusStore, add_faiss, build_faiss, choose_kind, collection_name
from rag.errors import IndexCorruptError, IndexNotFoundError
from rag.native import faiss as load_faiss
from rag.settings import Settings
from rag.store.chunks import ChunkStore
from rag.store.layout import BuildReport, Progress, read_params
from rag.store.swap import target_name
from rag.store.writer import Part

if TYPE_CHECKING:
    from rag.store.reader import StoredIndex


def milvus_uri(settings: Settings) -> str:
    """The Milvus URI an index records: a server URI as given, a Milvus Lite path made absolute."""
    uri = settings.milvus_address
    return uri if "://" in uri else str(Path(uri).resolve())


def write_dense(tmp: Path, vectors: np.ndarray, chunk_lang: np.ndarray, parts: list[Part], old: "StoredIndex | None",
                 settings: Settings, report: BuildReport, progress: Progress | None) -> tuple[dict, Callable | None]:
    """Vector ids and the dense index: kept and extended when the kind is unchanged, else rebuilt."""
    n, dim = vectors.shape
    backend = settings.backend
    # a Milvus server holds its HNSW graph in its own memory, and Milvus IVF_PQ has no exact re-ranking
    budget, hnsw_max = (settings.dense_memory_mb, HNSW_MAX) if backend == "faiss" else (float("inf"), float("inf"))
    kind = choose_kind(n, dim, settings.dense_index, budget, hnsw_max)
    od = old.params["dense"] if old else {}
    # FAISS flat has no index file to extend; a Milvus collection of any kind is extended in place
    same = bool(old) and od.get("backend") == backend and od.get("kind") == kind and (kind != "flat" or backend == "milvus")
    if backend == "milvus":
        same = same and old.params.get("milvus", {}).get("uri") == milvus_uri(settings)
    new_vids = np.zeros(n, np.int64)
    keep = np.zeros(n, bool)
    c = 0
    for p in parts:
        if p.old:
            new_vids[c : c + p.n_chunks] = old.vids[p.old[0] : p.old[1]]
            keep[c : c + p.n_chunks] = True
        c += p.n_chunks
    stored = od.get("stored", 0)
    added = int((~keep).sum())
    stale_after = stored + added - n
    if same and stored + added and stale_after / (stored + added) > STALE_REBUILD:
        same = False  # too many tombstones: rebuild compactly
    if same:
        next_vid = od["next_vid"]
        new_vids[~keep] = np.arange(next_vid, next_vid + added)
        next_vid += added
        stored += added
    else:
        new_vids = np.arange(n, dtype=np.int64)
        next_vid, stored = n, n
    np.save(tmp / "vector_ids.npy", new_vids)
    tick = (lambda d, t: progress("building dense index", d, t)) if progress else None
    dense = {"backend": backend, "requested": settings.dense_index, "kind": kind, "metric": "inner_product",
             "next_vid": int(next_vid), "stored": int(stored if kind != "flat" else n), "updated_in_place": bool(same)}
    report.dense = f"{backend}:{kind}"
    if backend == "faiss":
        if kind == "flat":
            return dense, None
        faiss = load_faiss()

        if same:
            index = faiss.read_index(str(old.path / "dense.faiss"))
            add_faiss(index, vectors[~keep], new_vids[~keep], tick)
        else:
            index = build_faiss(kind, vectors, new_vids, tick)
        faiss.write_index(index, str(tmp / "dense.faiss"))
        return dense, None
    # Milvus: extend the live collection in place (rows of other builds are ignored by vid), or fill a
    # new generation; superseded rows / collections are dropped only after the swap
    uri = milvus_uri(settings)
    gen = int(old.params["milvus"]["generation"]) if same else last_generation(tmp, target_name(tmp)) + 1
    name = old.params["milvus"]["collection"] if same else collection_name(target_name(tmp), gen)
    store = MilvusStore(uri, name, kind, dim, settings.hnsw_ef_search, settings.ivf_nprobe, settings.milvus_token)
    if not same and store.exists():
        store.drop()  # an orphan of a killed build
        store = MilvusStore(uri, name, kind, dim, settings.hnsw_ef_search, settings.ivf_nprobe, settings.milvus_token)
    rows = np.flatnonzero(~keep) if same else np.arange(n)  # a new collection needs every vector
    chunks = ChunkStore(tmp / "chunks.jsonl", np.load(tmp / "chunks.offsets.npy"))
    docs = [p.info.doc_id for p in parts]
    chunk_docs = np.load(tmp / "chunk_docs.npy")
    for i in range(0, len(rows), 20_000):
        sel = rows[i : i + 20_000]
        got = [chunks[int(j)] for j in sel]
        store.add(new_vids[sel], vectors[sel], [g.text for g in got], [docs[chunk_docs[j]] for j in sel],
                  [g.chunk_id for g in got], chunk_lang[sel],
                  progress=(lambda d, t, base=i: tick(base + d, len(rows))) if tick else None)
    chunks.close()
    stale = np.setdiff1d(old.vids, new_vids) if (same and old is not None) else np.zeros(0, np.int64)
    if old is not None and old.params.get("milvus", {}).get("stale_file") and same:
        stale = np.union1d(stale, np.load(old.path / "milvus_stale.npy"))
    if len(stale):
        np.save(tmp / "milvus_stale.npy", stale)
    dense["milvus"] = {"uri": uri, "collection": name, "generation": gen, "index_type": store.index_params["index_type"],
                       "stale_file": bool(len(stale))}

    def after_swap() -> None:
        # best effort: a failure here leaves rows/collections the index ignores; the next build retries
        with contextlib.suppress(Exception):
            if len(stale):
                store.delete(stale.tolist())
            for other in store.siblings():
                store.drop_collection(other)

    return dense, after_swap


def last_generation(tmp: Path, name: str) -> int:
    """Milvus generation of the index being replaced (also on a forced rebuild, which must not reuse it)."""
    try:
        return int(read_params(tmp.parent / name).get("milvus", {}).get("generation", 0))
    except (IndexNotFoundError, IndexCorruptError, ValueError, TypeError):
        return 0
