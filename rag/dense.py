"""Dense passage search backends: exact FAISS (flat), FAISS HNSW or IVF-PQ, or a Milvus collection
behind langchain's ``VectorStore`` interface (Milvus Lite file or a Milvus server URI, same code).

Every backend answers ``search(queries, k) -> (similarities, positions)`` like a FAISS index, where
positions index the index's passages (-1 pads). Approximate backends store each passage under a
stable vector id (``vid``), so an incremental update only adds the new passages' vectors and
tombstones the removed ones; ``vid_to_pos`` maps ids back to the current passage order.

Which kind a new index gets is decided by ``choose_kind`` (``RAG_DENSE_INDEX=auto``) from the passage
count and the memory budget; the numbers behind the rule are in bench/scale_report.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import BackendUnavailableError, InvalidInputError
from rag.native import faiss as load_faiss

# auto rule (bench/scale_report.md): exact search while the brute-force scan of passages *and* their
# sentences stays within ~20 ms; then HNSW while it keeps its recall (measured on the synthetic corpus:
# 0.99 against exact k-NN at 100k passages, 0.72 at 1M with efSearch 128, 0.88 even at 1024) and fits
# the memory budget; beyond, IVF-PQ (compressed codes, exact re-ranking of 64 candidates per result
# from the memory-mapped vectors: 0.99 at 1M, and a fifth of HNSW's private memory)
FLAT_MAX = 20_000
HNSW_MAX = 200_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 64
PQ_BYTES = 48  # sub-quantizers of 8 bits: 48 bytes per 384-d vector (32x smaller than float32)
STALE_REBUILD = 0.2  # rebuild an approximate index once this share of its vectors is tombstoned


def hnsw_bytes(n: int, dim: int, m: int = HNSW_M) -> int:
    """Resident size of an HNSW index over ``n`` float vectors: vectors, level-0 links, ids."""
    return n * (4 * dim + 2 * m * 4 + 8) + n * m * 4 // 8  # upper levels add ~1/M of level 0


def choose_kind(n: int, dim: int, requested: str, budget_mb: float, hnsw_max: float = HNSW_MAX) -> str:
    """The dense index kind for ``n`` passages: the requested one, or by size when 'auto'."""
    if requested != "auto":
        return requested
    if n <= FLAT_MAX:
        return "flat"
    if n <= hnsw_max and hnsw_bytes(n, dim) <= budget_mb * 2**20:
        return "hnsw"
    return "ivfpq"


def ivf_lists(n: int) -> int:
    """IVF list count: about 4 x sqrt(n), a power of two, at least 64 passages per list."""
    nlist = 1 << int(round(np.log2(max(4 * np.sqrt(max(n, 1)), 1))))
    return int(max(1, min(nlist, n // 64 or 1)))


class DenseIndex(Protocol):
    """What retrieval needs from a dense backend."""

    kind: str
    exact: bool
    ntotal: int

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Similarities and passage positions of the k nearest vectors, per query."""
        ...


class FlatDense:
    """Exact inner-product search straight over the memory-mapped passage vectors (faiss.knn: the
    same kernel as IndexFlatIP, so results are bit-identical to it, without copying into RAM)."""

    kind = "flat"
    exact = True

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors
        self.ntotal = len(vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k similarities and passage positions per query."""
        faiss = load_faiss()

        if not self.ntotal or k <= 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        return faiss.knn(queries, self.vectors, min(k, self.ntotal), metric=faiss.METRIC_INNER_PRODUCT)


def _lookup(vid_to_pos: np.ndarray, ids: np.ndarray) -> np.ndarray:
    ok = (ids >= 0) & (ids < len(vid_to_pos))
    out = np.full(ids.shape, -1, dtype=np.int64)
    out[ok] = vid_to_pos[ids[ok]]
    return out


def vid_table(vids: np.ndarray) -> np.ndarray:
    """vid -> passage position (-1 for ids no longer in the index)."""
    table = np.full(int(vids.max()) + 1 if len(vids) else 0, -1, dtype=np.int64)
    table[vids] = np.arange(len(vids))
    return table


class FaissAnn:
    """HNSW or IVF-PQ over vids, tombstones filtered inside the search; IVF-PQ candidates are
    re-ranked exactly against the memory-mapped float vectors."""

    exact = False

    def __init__(self, index, kind: str, vectors: np.ndarray, vids: np.ndarray, ef_search: int, nprobe: int,
                 rerank: int):
        faiss = load_faiss()

        self.index, self.kind, self.vectors = index, kind, vectors
        self.vid_to_pos = vid_table(vids)
        self.ntotal = len(vids)
        self.rerank = rerank
        stored = faiss.vector_to_array(index.id_map) if hasattr(index, "id_map") else np.zeros(0, np.int64)
        dead = stored[_lookup(self.vid_to_pos, stored) < 0]
        self.stale = len(dead)
        self._sel = None
        if len(dead):
            self._batch = faiss.IDSelectorBatch(dead.astype(np.int64))  # kept alive with the selector
            self._sel = faiss.IDSelectorNot(self._batch)
        if kind == "hnsw":
            self.params = faiss.SearchParametersHNSW(efSearch=ef_search)
        else:
            self.params = faiss.SearchParametersIVF(nprobe=nprobe)
        if self._sel is not None:
            self.params.sel = self._sel

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Approximate top-k similarities and passage positions per query."""
        k = min(k, self.ntotal)
        if k <= 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        if self.kind == "hnsw" and self.params.efSearch < k:
            self.params.efSearch = k  # HNSW returns at most efSearch results
        fetch = min(self.ntotal, k * self.rerank) if self.kind == "ivfpq" else k
        sims, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), fetch, params=self.params)
        pos = _lookup(self.vid_to_pos, ids)
        if self.kind != "ivfpq":
            return sims, pos
        # PQ distances are approximate: re-rank the candidates with the exact vectors
        out_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out_p = np.full((len(queries), k), -1, dtype=np.int64)
        for qi, row in enumerate(pos):
            row = row[row >= 0]
            if not len(row):
                continue
            order = np.argsort(row)  # sorted reads from the memory map
            exact = np.asarray(self.vectors[row[order]]) @ queries[qi]
            best = np.argsort(-exact, kind="stable")[:k]
            out_s[qi, : len(best)] = exact[best]
            out_p[qi, : len(best)] = row[order][best]
        return out_s, out_p


def build_faiss(kind: str, vectors: np.ndarray, vids: np.ndarray, progress=None):
    """A new HNSW or IVF-PQ index over ``vectors`` stored under ``vids``."""
    faiss = load_faiss()

    n, dim = vectors.shape
    if kind == "hnsw":
        base = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    elif kind == "ivfpq":
        quantizer = faiss.IndexFlatIP(dim)
        m = PQ_BYTES if dim % PQ_BYTES == 0 else next(d for d in (64, 32, 24, 16, 8, 4, 2, 1) if dim % d == 0)
        # 2^nbits codewords per sub-quantizer; faiss wants ~39 training points per codeword
        nbits = max(1, min(8, int(np.log2(max(n // 39, 2)))))
        base = faiss.IndexIVFPQ(quantizer, dim, ivf_lists(n), m, nbits, faiss.METRIC_INNER_PRODUCT)
        base.own_fields = True
        quantizer.this.disown()
        rng = np.random.default_rng(0)
        sample = np.sort(rng.choice(n, size=min(n, max(256 * 40, 40 * base.nlist)), replace=False))
        base.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    else:
        raise InvalidInputError(f"unknown dense index kind '{kind}': use auto, flat, hnsw or ivfpq")
    index = faiss.IndexIDMap2(base)
    add_faiss(index, vectors, vids, progress)
    return index


def add_faiss(index, vectors: np.ndarray, vids: np.ndarray, progress=None, batch: int = 50_000) -> None:
    """Add vectors to an approximate index in batches (with progress)."""
    for i in range(0, len(vids), batch):
        index.add_with_ids(np.ascontiguousarray(vectors[i : i + batch], dtype=np.float32),
                           np.ascontiguousarray(vids[i : i + batch], dtype=np.int64))
        if progress:
            progress(min(i + batch, len(vids)), len(vids))


# --- Milvus ---------------------------------------------------------------------------------------

MILVUS_INDEX = {"flat": "FLAT", "hnsw": "HNSW", "ivfpq": "IVF_PQ"}
MILVUS_SEARCH_LIMIT = 16_384  # Milvus caps topk


class _QuietAllocTimestamp(logging.Filter):
    """Milvus Lite's server lacks AllocTimestamp; pymilvus falls back, but grpc logs a traceback first."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and "Method not implemented" in str(record.exc_info[1]))


logging.getLogger("grpc._server").addFilter(_QuietAllocTimestamp())


class _GivenVectors(Embeddings):
    """langchain needs an ``Embeddings``; rag passes vectors it computed itself."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Not used: passages arrive with their vectors."""
        raise NotImplementedError("rag adds passages to Milvus with precomputed vectors")

    def embed_query(self, text: str) -> list[float]:
        """Not used: queries arrive as vectors."""
        raise NotImplementedError("rag searches Milvus with precomputed query vectors")


def collection_name(index_name: str, generation: int) -> str:
    """Milvus collection of one generation of an index (letters, digits and underscores only)."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", index_name) or "index"
    return f"rag_{base}_g{generation}"


class MilvusStore:
    """One Milvus collection of passage vectors, through ``langchain_milvus.Milvus`` (a VectorStore).

    ``uri`` is a local path (Milvus Lite, embedded) or ``http(s)://host:port`` (standalone/cluster).
    Rows: pk = vid (string), text = passage text, metadata doc / chunk_id / lang.
    """

    def __init__(self, uri: str, collection: str, kind: str, dim: int, ef_search: int = 128, nprobe: int = 32,
                 token: str | None = None):
        self.uri, self.collection, self.kind, self.dim, self.token = uri, collection, kind, dim, token
        self.index_params = {"index_type": MILVUS_INDEX[kind], "metric_type": "IP", "params": _milvus_build_params(kind, dim)}
        search = {"hnsw": {"ef": ef_search}, "ivfpq": {"nprobe": nprobe}}.get(kind, {})
        self.search_params = {"metric_type": "IP", "params": search}
        self.store = self._open()

    def _open(self):
        try:
            from langchain_milvus import Milvus
        except ImportError as exc:  # pragma: no cover - a broken install
            raise InvalidInputError(f"the Milvus backend needs langchain-milvus ({exc}); reinstall with the README setup") from None
        if "://" not in self.uri:
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            return Milvus(
                embedding_function=_GivenVectors(),
                collection_name=self.collection,
                connection_args={"uri": self.uri, "timeout": 10, **({"token": self.token} if self.token else {})},
                consistency_level="Strong",
                index_params=self.index_params,
                search_params=self.search_params,
                auto_id=False,
                metadata_schema={"lang": {"dtype": _dtype("INT64")}, "doc": {"dtype": _dtype("VARCHAR"), "kwargs": {"max_length": 4096}},
                                 "chunk_id": {"dtype": _dtype("VARCHAR"), "kwargs": {"max_length": 4096}}},
            )
        except Exception as exc:  # grpc / MilvusException: cannot reach or open the server
            raise BackendUnavailableError(f"cannot open Milvus at {self.uri} ({_why(exc)}); check RAG_MILVUS_URI") from None

    def exists(self) -> bool:
        """Whether the collection exists on the server."""
        return bool(self.store.client.has_collection(self.collection))

    def add(self, vids: np.ndarray, vectors: np.ndarray, texts: Sequence[str], docs: Sequence[str],
            chunk_ids: Sequence[str], langs: np.ndarray, progress=None, batch: int = 2000) -> None:
        """Insert passages (batches of 2000 rows: bigger gRPC messages hit a slow path)."""
        try:
            self._add(vids, vectors, texts, docs, chunk_ids, langs, progress, batch)
        except Exception as exc:  # MilvusException, grpc errors: e.g. an index type this server lacks
            raise BackendUnavailableError(f"Milvus at {self.uri} refused the passages of '{self.collection}' "
                                          f"({_why(exc)}); check RAG_MILVUS_URI and RAG_DENSE_INDEX") from None

    def _add(self, vids, vectors, texts, docs, chunk_ids, langs, progress, batch) -> None:
        for i in range(0, len(vids), batch):
            j = min(i + batch, len(vids))
            self.store.add_embeddings(
                texts=[t[:16000] for t in texts[i:j]],
                embeddings=np.asarray(vectors[i:j], dtype=np.float32).tolist(),
                metadatas=[{"doc": d, "chunk_id": c, "lang": int(g)} for d, c, g in zip(docs[i:j], chunk_ids[i:j], langs[i:j])],
                ids=[str(int(v)) for v in vids[i:j]],
                batch_size=batch,
            )
            if progress:
                progress(j, len(vids))

    def delete(self, vids: Sequence[int]) -> None:
        """Remove rows by vid (idempotent)."""
        vids = [str(int(v)) for v in vids]
        for i in range(0, len(vids), 5000):
            self.store.delete(ids=vids[i : i + 5000])

    def drop(self) -> None:
        """Drop the whole collection."""
        self.store.drop()

    def search(self, vec: np.ndarray, k: int, expr: str | None = None) -> list[tuple[int, float]]:
        """(vid, inner product) of the k nearest rows."""
        try:
            res = self.store.similarity_search_with_score_by_vector(
                np.asarray(vec, dtype=np.float32).tolist(), k=min(k, MILVUS_SEARCH_LIMIT), param=self.search_params, expr=expr)
        except Exception as exc:
            raise BackendUnavailableError(f"Milvus search failed at {self.uri} ({_why(exc)}); check the server") from None
        return [(int(doc.metadata["pk"]), float(score)) for doc, score in res]

    def siblings(self) -> list[str]:
        """Other generations of this index's collection on the server."""
        prefix = self.collection.rsplit("_g", 1)[0] + "_g"
        return [c for c in self.store.client.list_collections() if c.startswith(prefix) and c != self.collection]

    def drop_collection(self, name: str) -> None:
        """Drop another collection (an old generation)."""
        self.store.client.drop_collection(name)


def _why(exc: Exception) -> str:
    """A one-line reason from a Milvus / gRPC exception."""
    msg = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(msg).split())[:200]


def _dtype(name: str):
    from pymilvus import DataType

    return getattr(DataType, name)


def _milvus_build_params(kind: str, dim: int) -> dict:
    if kind == "hnsw":
        return {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}
    if kind == "ivfpq":
        return {"nlist": 1024, "m": PQ_BYTES if dim % PQ_BYTES == 0 else 8, "nbits": 8}
    return {}


class MilvusDense:
    """Dense search served by a Milvus collection; Milvus FLAT is exact."""

    def __init__(self, store: MilvusStore, vids: np.ndarray):
        self.store = store
        self.kind = store.kind
        self.exact = store.kind == "flat"
        self.vid_to_pos = vid_table(vids)
        self.ntotal = len(vids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k similarities and passage positions per query (rows of other builds are skipped)."""
        k = min(k, self.ntotal)
        sims = np.full((len(queries), k), -np.inf, dtype=np.float32)
        pos = np.full((len(queries), k), -1, dtype=np.int64)
        for qi, q in enumerate(queries):
            found = [(p, s) for p, s in ((_lookup(self.vid_to_pos, np.array([v]))[0], s) for v, s in self.store.search(q, k + 16))
                     if p >= 0][:k]
            for j, (p, s) in enumerate(found):
                sims[qi, j], pos[qi, j] = s, p
        return sims, pos
