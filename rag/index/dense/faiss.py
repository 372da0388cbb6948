"""The FAISS backend: exact search straight over the memory-mapped passage vectors (flat), or an HNSW
or IVF-PQ index in the index directory's ``dense.faiss``.

Which kind a new index gets is decided by ``choose_kind`` (``RAG_DENSE_INDEX=auto``) from the passage
count and the memory budget; the numbers behind the rule are in bench/scale_report.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.errors import InvalidInputError
from rag.index.dense import base as dense  # the build parameters every backend shares
from rag.index.dense.base import DenseJob, Plan, Written, choose_kind, positions, vid_table
from rag.index.dense.registry import register
from rag.index.native import faiss as load_faiss
from rag.settings import Settings


def ivf_lists(n: int) -> int:
    """IVF list count: about 4 x sqrt(n), a power of two, at least 64 passages per list."""
    nlist = 1 << int(round(np.log2(max(4 * np.sqrt(max(n, 1)), 1))))
    return int(max(1, min(nlist, n // 64 or 1)))


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


class FaissAnn:
    """HNSW or IVF-PQ over vids, tombstones filtered inside the search; IVF-PQ candidates are
    re-ranked exactly against the memory-mapped float vectors."""

    exact = False

    def __init__(
        self,
        index,
        kind: str,
        vectors: np.ndarray,
        vids: np.ndarray,
        ef_search: int,
        nprobe: int,
        rerank: int,
        live: np.ndarray | None = None,
    ):
        faiss = load_faiss()

        self.index, self.kind, self.vectors = index, kind, vectors
        self.vid_to_pos = vid_table(vids)
        self.ntotal = len(vids)
        if live is not None:  # a segment's deleted rows: tombstoned like removed vector ids
            self.vid_to_pos[vids[~live]] = -1
            self.ntotal = int(live.sum())
        self.rerank = rerank
        stored = faiss.vector_to_array(index.id_map) if hasattr(index, "id_map") else np.zeros(0, np.int64)
        dead = stored[positions(self.vid_to_pos, stored) < 0]
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
        pos = positions(self.vid_to_pos, ids)
        if self.kind != "ivfpq":
            return sims, pos
        # PQ distances are approximate: re-rank the candidates with the exact vectors, each query's read
        # in one ascending pass over the memory map (a second query's overlapping rows are then in the
        # page cache: gathering them again costs less than merging the queries' candidates first)
        out_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out_p = np.full((len(queries), k), -1, dtype=np.int64)
        for qi, row in enumerate(pos):
            row = np.sort(row[row >= 0])
            if not len(row):
                continue
            exact = np.asarray(self.vectors[row]) @ queries[qi]
            best = top_stable(exact, k)
            out_s[qi, : len(best)] = exact[best]
            out_p[qi, : len(best)] = row[best]
        return out_s, out_p


def top_stable(scores: np.ndarray, k: int) -> np.ndarray:
    """``np.argsort(-scores, kind="stable")[:k]`` without sorting all of ``scores``: only the values at or
    above the k-th largest (ties included, in position order) are sorted."""
    if len(scores) <= k:
        return np.argsort(-scores, kind="stable")
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    cand = np.flatnonzero(scores >= kth)
    return cand[np.argsort(-scores[cand], kind="stable")][:k]


def build_faiss(kind: str, vectors: np.ndarray, vids: np.ndarray, progress=None):
    """A new HNSW or IVF-PQ index over ``vectors`` stored under ``vids``."""
    faiss = load_faiss()

    n, dim = vectors.shape
    if kind == "hnsw":
        base = faiss.IndexHNSWFlat(dim, dense.HNSW_M, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = dense.HNSW_EF_CONSTRUCTION
    elif kind == "ivfpq":
        quantizer = faiss.IndexFlatIP(dim)
        m = (
            dense.PQ_BYTES
            if dim % dense.PQ_BYTES == 0
            else next(d for d in (64, 32, 24, 16, 8, 4, 2, 1) if dim % d == 0)
        )
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
        index.add_with_ids(
            np.ascontiguousarray(vectors[i : i + batch], dtype=np.float32),
            np.ascontiguousarray(vids[i : i + batch], dtype=np.int64),
        )
        if progress:
            progress(min(i + batch, len(vids)), len(vids))


class FaissBackend:
    """Vectors searched in process: flat needs no file of its own, HNSW / IVF-PQ live in ``dense.faiss``."""

    def plan(self, n: int, dim: int, settings: Settings) -> Plan:
        """By size and ``RAG_DENSE_MEMORY_MB``; flat has no index file to extend."""
        kind = choose_kind(n, dim, settings.store.dense_index, settings.store.dense_memory_mb, dense.HNSW_MAX)
        return Plan(kind, extendable=kind != "flat")

    def same_place(self, params: dict, settings: Settings) -> bool:
        """Always: the vectors live in the index directory."""
        return True

    def keep_place(self, params: dict, settings: Settings) -> dict:
        """Nothing to keep: the vectors live in the index directory."""
        return {}

    def write(self, job: DenseJob) -> Written:
        """``dense.faiss`` for an approximate kind: the previous one extended, or a new one."""
        if job.kind == "flat":
            return Written()
        faiss = load_faiss()

        old = job.extended
        if old is not None:
            index = faiss.read_index(str(old.path / "dense.faiss"))
            add_faiss(index, job.vectors[job.fresh], job.vids[job.fresh], job.progress)
        else:
            index = build_faiss(job.kind, job.vectors, job.vids, job.progress)
        faiss.write_index(index, str(job.tmp / "dense.faiss"))
        return Written()

    def open(
        self, path: Path, params: dict, settings: Settings, vectors: np.ndarray, vids: np.ndarray
    ) -> FlatDense | FaissAnn:
        """Exact search over ``vectors``, or ``dense.faiss`` with tombstones filtered."""
        kind = params["dense"]["kind"]
        if kind == "flat":
            return FlatDense(vectors)
        faiss = load_faiss()

        index = faiss.read_index(str(path / "dense.faiss"))
        return FaissAnn(
            index,
            kind,
            vectors,
            vids,
            settings.store.hnsw_ef_search,
            settings.store.ivf_nprobe,
            settings.store.ivf_rerank,
        )

    def retry_cleanup(self, path: Path, params: dict, settings: Settings) -> None:
        """Nothing is left to clean up after a swap."""

    def describe(self, params: dict) -> tuple[dict, str]:
        """Nothing to add: the vectors are in the index directory."""
        return {}, ""


register("faiss", FaissBackend())
