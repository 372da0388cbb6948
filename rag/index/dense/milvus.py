"""The Milvus backend: passage vectors in a Milvus collection behind langchain's ``VectorStore``
interface (a Milvus Lite file or a Milvus server URI, same code).

Rows are stored under stable vector ids, so an incremental build extends the live collection in place
and deletes superseded rows after the swap; a full rebuild fills a new generation of the collection and
drops the older ones after the swap. Rows of other builds are never returned: a search maps ids to the
current passages and skips the rest.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.errors import BackendUnavailableError, IndexCorruptError
from rag.index.dense import base as dense  # the build parameters every backend shares
from rag.index.dense.base import DenseJob, Plan, Written, choose_kind, positions, vid_table
from rag.index.dense.registry import register
from rag.settings import Settings

MILVUS_INDEX = {"flat": "FLAT", "hnsw": "HNSW", "ivfpq": "IVF_PQ"}
MILVUS_SEARCH_LIMIT = 16_384  # Milvus caps topk


class _QuietAllocTimestamp(logging.Filter):
    """Milvus Lite's server lacks AllocTimestamp; pymilvus falls back, but grpc logs a traceback first."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and "Method not implemented" in str(record.exc_info[1]))


logging.getLogger("grpc._server").addFilter(_QuietAllocTimestamp())


def _given_vectors():
    """langchain needs an ``Embeddings``; rag passes vectors it computed itself (langchain is imported
    only when a Milvus collection is opened)."""
    from langchain_core.embeddings import Embeddings

    class GivenVectors(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            """Not used: passages arrive with their vectors."""
            raise NotImplementedError("rag adds passages to Milvus with precomputed vectors")

        def embed_query(self, text: str) -> list[float]:
            """Not used: queries arrive as vectors."""
            raise NotImplementedError("rag searches Milvus with precomputed query vectors")

    return GivenVectors()


def collection_name(index_name: str, generation: int) -> str:
    """Milvus collection of one generation of an index (letters, digits and underscores only)."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", index_name) or "index"
    return f"rag_{base}_g{generation}"


class MilvusStore:
    """One Milvus collection of passage vectors, through ``langchain_milvus.Milvus`` (a VectorStore).

    ``uri`` is a local path (Milvus Lite, embedded) or ``http(s)://host:port`` (standalone/cluster).
    Rows: pk = vid (string), text = passage text, metadata doc / chunk_id / lang.
    """

    def __init__(
        self,
        uri: str,
        collection: str,
        kind: str,
        dim: int,
        ef_search: int = 128,
        nprobe: int = 32,
        token: str | None = None,
        consistency: str = "Bounded",
    ):
        self.uri, self.collection, self.kind, self.dim, self.token = uri, collection, kind, dim, token
        self.consistency = consistency  # of every search (RAG_MILVUS_CONSISTENCY)
        self.index_params = {
            "index_type": MILVUS_INDEX[kind],
            "metric_type": "IP",
            "params": _milvus_build_params(kind, dim),
        }
        search = {"hnsw": {"ef": ef_search}, "ivfpq": {"nprobe": nprobe}}.get(kind, {})
        self.search_params = {"metric_type": "IP", "params": search}
        self.store = self._open()

    def _open(self):
        try:
            from langchain_milvus import Milvus
        except ImportError:  # an optional part: the default install leaves Milvus (and pyarrow, gRPC) out
            raise BackendUnavailableError(
                "the Milvus backend is not installed; install it with: pip install -e '.[milvus]' "
                "(the README's setup, with the test extra, has it)"
            ) from None
        if "://" not in self.uri:
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            return Milvus(
                embedding_function=_given_vectors(),
                collection_name=self.collection,
                connection_args={"uri": self.uri, "timeout": 10, **({"token": self.token} if self.token else {})},
                consistency_level="Strong",
                index_params=self.index_params,
                search_params=self.search_params,
                auto_id=False,
                metadata_schema={
                    "lang": {"dtype": _dtype("INT64")},
                    "doc": {"dtype": _dtype("VARCHAR"), "kwargs": {"max_length": 4096}},
                    "chunk_id": {"dtype": _dtype("VARCHAR"), "kwargs": {"max_length": 4096}},
                },
            )
        except Exception as exc:  # grpc / MilvusException: cannot reach or open the server
            raise BackendUnavailableError(
                f"cannot open Milvus at {self.uri} ({_why(exc)}); check RAG_MILVUS_URI"
            ) from None

    def exists(self) -> bool:
        """Whether the collection exists on the server."""
        return bool(self.store.client.has_collection(self.collection))

    def add(
        self,
        vids: np.ndarray,
        vectors: np.ndarray,
        texts: Sequence[str],
        docs: Sequence[str],
        chunk_ids: Sequence[str],
        langs: np.ndarray,
        progress=None,
        batch: int = 2000,
    ) -> None:
        """Insert passages (batches of 2000 rows: bigger gRPC messages hit a slow path)."""
        try:
            self._add(vids, vectors, texts, docs, chunk_ids, langs, progress, batch)
        except Exception as exc:  # MilvusException, grpc errors: e.g. an index type this server lacks
            raise BackendUnavailableError(
                f"Milvus at {self.uri} refused the passages of '{self.collection}' "
                f"({_why(exc)}); check RAG_MILVUS_URI and RAG_DENSE_INDEX"
            ) from None

    def _add(self, vids, vectors, texts, docs, chunk_ids, langs, progress, batch) -> None:
        for i in range(0, len(vids), batch):
            j = min(i + batch, len(vids))
            self.store.add_embeddings(
                texts=[t[:16000] for t in texts[i:j]],
                embeddings=np.asarray(vectors[i:j], dtype=np.float32).tolist(),
                metadatas=[
                    {"doc": d, "chunk_id": c, "lang": int(g)} for d, c, g in zip(docs[i:j], chunk_ids[i:j], langs[i:j])
                ],
                ids=[str(int(v)) for v in vids[i:j]],
                batch_size=batch,
            )
            if progress:
                progress(j, len(vids))

    def settle(self) -> int:
        """Wait until the server has applied every write made so far (one Strong count query), so that later
        searches at any consistency level see them; the number of rows (0: no collection yet)."""
        try:
            if not self.exists():
                return 0
            res = self.store.client.query(
                self.collection, filter="", output_fields=["count(*)"], consistency_level="Strong"
            )
        except Exception as exc:
            raise BackendUnavailableError(
                f"Milvus at {self.uri} did not confirm the rows of '{self.collection}' ({_why(exc)}); check the server"
            ) from None
        return int(res[0]["count(*)"])

    def delete(self, vids: Sequence[int]) -> None:
        """Remove rows by vid (idempotent)."""
        keys = [str(int(v)) for v in vids]
        for i in range(0, len(keys), 5000):
            self.store.delete(ids=keys[i : i + 5000])

    def drop(self) -> None:
        """Drop the whole collection."""
        self.store.drop()

    def search(self, vec: np.ndarray, k: int, expr: str | None = None) -> list[tuple[int, float]]:
        """(vid, inner product) of the k nearest rows."""
        try:
            res = self.store.similarity_search_with_score_by_vector(
                np.asarray(vec, dtype=np.float32).tolist(),
                k=min(k, MILVUS_SEARCH_LIMIT),
                param=self.search_params,
                expr=expr,
                consistency_level=self.consistency,
            )
        except Exception as exc:
            raise BackendUnavailableError(
                f"Milvus search failed at {self.uri} ({_why(exc)}); check the server"
            ) from None
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
        return {"M": dense.HNSW_M, "efConstruction": dense.HNSW_EF_CONSTRUCTION}
    if kind == "ivfpq":
        return {"nlist": 1024, "m": dense.PQ_BYTES if dim % dense.PQ_BYTES == 0 else 8, "nbits": 8}
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
            found = [
                (p, s)
                for p, s in ((positions(self.vid_to_pos, np.array([v]))[0], s) for v, s in self.store.search(q, k + 16))
                if p >= 0
            ][:k]
            for j, (p, s) in enumerate(found):
                sims[qi, j], pos[qi, j] = s, p
        return sims, pos


def _store(uri: str, collection: str, kind: str, dim: int, settings: Settings) -> MilvusStore:
    """A collection with the search settings of ``settings``."""
    return MilvusStore(
        uri,
        collection,
        kind,
        dim,
        settings.store.hnsw_ef_search,
        settings.store.ivf_nprobe,
        settings.store.milvus_token,
        settings.store.milvus_consistency,
    )


def milvus_uri(settings: Settings) -> str:
    """The Milvus URI an index records: a server URI as given, a Milvus Lite path made absolute."""
    uri = settings.milvus_address
    return uri if "://" in uri else str(Path(uri).resolve())


def _generation(params: dict) -> int:
    """Milvus generation of the index being replaced (also on a forced rebuild, which must not reuse it)."""
    try:
        return int(params.get("milvus", {}).get("generation", 0))
    except (ValueError, TypeError):
        return 0


class MilvusBackend:
    """Vectors in a Milvus collection, one generation per full build."""

    def plan(self, n: int, dim: int, settings: Settings) -> Plan:
        """By size alone: the server holds HNSW in its own memory, and its IVF_PQ has no exact re-ranking."""
        return Plan(choose_kind(n, dim, settings.store.dense_index, float("inf"), float("inf")), extendable=True)

    def same_place(self, params: dict, settings: Settings) -> bool:
        """Whether the index's collection is on the Milvus ``settings`` name."""
        return params.get("milvus", {}).get("uri") == milvus_uri(settings)

    def keep_place(self, params: dict, settings: Settings) -> dict:
        """The index's own Milvus URI."""
        return {"milvus_uri": params.get("milvus", {}).get("uri", settings.store.milvus_uri)}

    def write(self, job: DenseJob) -> Written:
        """Extend the live collection in place (rows of other builds are ignored by vid), or fill a new
        generation; superseded rows and collections are dropped only after the swap."""
        s, old = job.settings, job.extended
        uri, dim = milvus_uri(s), job.vectors.shape[1]
        gen = int(old.params["milvus"]["generation"]) if old is not None else _generation(job.replaced) + 1
        name = old.params["milvus"]["collection"] if old is not None else collection_name(job.name, gen)
        store = _store(uri, name, job.kind, dim, s)
        if old is None and store.exists():
            store.drop()  # an orphan of a killed build
            store = _store(uri, name, job.kind, dim, s)
        rows = np.flatnonzero(job.fresh)
        tick = job.progress
        for i in range(0, len(rows), 20_000):
            sel = rows[i : i + 20_000]
            got = [job.passages[int(j)] for j in sel]
            docs = [job.doc_ids[job.chunk_docs[j]] for j in sel]
            store.add(
                job.vids[sel],
                job.vectors[sel],
                [g.text for g in got],
                docs,
                [g.chunk_id for g in got],
                job.langs[sel],
                progress=(lambda d, t, base=i: tick(base + d, len(rows))) if tick else None,
            )
        store.settle()  # readers switch to these rows after the swap, at RAG_MILVUS_CONSISTENCY
        stale = np.setdiff1d(old.vids, job.vids) if old is not None else np.zeros(0, np.int64)
        if old is not None and old.params.get("milvus", {}).get("stale_file"):
            stale = np.union1d(stale, np.load(old.path / "milvus_stale.npy"))
        if len(stale):
            np.save(job.tmp / "milvus_stale.npy", stale)
        section = {
            "uri": uri,
            "collection": name,
            "generation": gen,
            "index_type": store.index_params["index_type"],
            "stale_file": bool(len(stale)),
        }

        def after_swap() -> None:
            # best effort: a failure here leaves rows/collections the index ignores; the next build retries
            with contextlib.suppress(Exception):
                if len(stale):
                    store.delete(stale.tolist())
                    store.settle()
                for other in store.siblings():
                    store.drop_collection(other)

        return Written({"milvus": section}, after_swap)

    def open(self, path: Path, params: dict, settings: Settings, vectors: np.ndarray, vids: np.ndarray) -> MilvusDense:
        """The index's collection (on ``RAG_MILVUS_URI`` if set, else where it was built)."""
        m = params["milvus"]
        uri = settings.store.milvus_uri or m["uri"]
        store = _store(uri, m["collection"], params["dense"]["kind"], int(params["embedder"]["dimension"]), settings)
        if not store.exists():
            raise IndexCorruptError(
                f"Milvus collection '{m['collection']}' is missing at {uri}; rebuild the index with: "
                f"rag index PATH --force --index {path.name}"
            )
        return MilvusDense(store, vids)

    def retry_cleanup(self, path: Path, params: dict, settings: Settings) -> None:
        """Rows superseded by the last build but not yet deleted (it was interrupted): delete them now."""
        m = params.get("milvus", {})
        if m.get("stale_file") and (path / "milvus_stale.npy").exists():
            with contextlib.suppress(Exception):
                store = _store(
                    m["uri"], m["collection"], params["dense"]["kind"], int(params["embedder"]["dimension"]), settings
                )
                store.delete(np.load(path / "milvus_stale.npy").tolist())
                store.settle()

    def describe(self, params: dict) -> tuple[dict, str]:
        """The Milvus URI and collection."""
        m = params["milvus"]
        return {"milvus": m["uri"], "collection": m["collection"]}, f"{m['uri']}, collection {m['collection']}"


register("milvus", MilvusBackend())
