"""Opening an index: the loaded, verified, memory-mapped ``Index`` the pipeline searches, and the
current index an incremental build copies unchanged documents from (``StoredIndex``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import cast

import numpy as np

from rag.errors import EmbedderMismatchError, IndexCorruptError, IndexNotFoundError
from rag.index.bm25 import Terms, load_bm25
from rag.index.dense import backend_of
from rag.index.embedding import (
    LANGS,
    embedder_id,
    make_embedder,
    same_embedder,
)
from rag.index.integrity import damaged, rebuilt_note
from rag.index.integrity import verify as verify_files
from rag.index.store.chunks import ChunkStore, Ranges, sentence_starts
from rag.index.store.handle import Index
from rag.index.store.layout import (
    FORMAT_VERSION,
    DocInfo,
    check_shapes,
    chunking_params,
    open_params,
    read_doc_entries,
    read_docs,
    read_params,
    readable_path,
)
from rag.index.store.lazy_vectors import LazySentenceVectors, WholeCentroids, passage_texts, sentence_texts
from rag.index.store.segments import open_segments, segment_layout
from rag.lang.glossary import MergedGlossary
from rag.records import Chunk
from rag.settings import Settings


class StoredIndex:
    """The current index's arrays, memory-mapped, for an incremental build to copy from."""

    def __init__(self, path: Path, params: dict):
        self.path, self.params = path, params
        entries, lines = read_doc_entries(path)
        self.docs = [DocInfo.from_json(d) for d in entries]
        # each record's docs.json text, which an update writes again as it was read
        kept: list[dict | str] = list(lines) if lines is not None else list(entries)
        self._entry_of = {id(d): (d, e) for d, e in zip(self.docs, kept)}
        self.segmented = "segments" in params
        self.segments = open_segments(path, params)
        self.terms = Terms.load(path / "terms.json")
        self.dim = int(params["embedder"]["dimension"])
        if self.segmented:
            _, locs = segment_layout(params)
            self._locs = [(s, a, b) for s, a, b in locs.tolist()]
        else:
            chunk_docs = np.load(path / "chunk_docs.npy")
            bounds = np.searchsorted(chunk_docs, np.arange(len(self.docs) + 1))
            edges = bounds.tolist()
            self._locs = [(0, a, b) for a, b in zip(edges[:-1], edges[1:])]
        self.vids = self.segments[0].vids  # vector ids of a one-segment index (extended in place)

    @classmethod
    def open(
        cls, path: Path, settings: Settings, strict: bool = False, notes: list[str] | None = None
    ) -> "StoredIndex | None":
        """The current index if an incremental build can reuse it (same format, embedder, chunking,
        every file as written); ``strict`` raises instead of returning None. Damage is noted: the
        build then starts from scratch rather than copying damaged data."""
        try:
            params = read_params(path)
            if params.get("format_version") == FORMAT_VERSION:
                verify_files(path, params)
        except IndexNotFoundError:
            if strict:
                raise
            return None
        except IndexCorruptError as exc:
            if strict:
                raise
            if notes is not None:
                notes.append(rebuilt_note(exc))
            return None
        ok = params.get("format_version") == FORMAT_VERSION and (
            strict
            or (
                same_embedder(params.get("embedder", {}).get("id", ""), settings.embedder)
                and params.get("chunking") == chunking_params(settings)
            )
        )
        if not ok:
            if strict:
                raise IndexCorruptError(
                    f"index at {path} has format {params.get('format_version')}, this rag reads "
                    f"{FORMAT_VERSION}; rebuild it with: rag index PATH --force --index {path.name}"
                )
            return None
        try:
            return cls(path, params)
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            err = damaged(path, f"a file cannot be read ({type(exc).__name__})")
            if strict:
                raise err from None
            if notes is not None:
                notes.append(rebuilt_note(err))
            return None

    def doc_entry(self, info: DocInfo) -> dict | str:
        """docs.json's entry for ``info``: as read (its JSON text, or the parsed entry) when it is one of
        this index's own records, which an update carries over unchanged; else ``info.to_json()``."""
        own, entry = self._entry_of.get(id(info), (None, None))
        return entry if own is info and entry is not None else info.to_json()

    def doc_range(self, i: int) -> tuple[int, int]:
        """Passage range of the i-th document in its segment (``doc_segment``)."""
        return self._locs[i][1], self._locs[i][2]

    def doc_segment(self, i: int) -> int:
        """The segment holding the i-th document's passages."""
        return self._locs[i][0]

    def close(self) -> None:
        """Release open files."""
        for seg in self.segments:
            seg.close()


def load_index(settings: Settings, check_embedder: bool = True) -> Index:
    """Load ``settings.index_path`` after checking it is whole (IndexCorruptError names a damaged
    file); refuse it if it was built with another embedder. Reading never changes the directory."""
    path = readable_path(settings.index_path)
    params = read_params(path)
    if params.get("format_version") != FORMAT_VERSION:
        raise IndexCorruptError(
            f"index at {path} has format {params.get('format_version')}, this rag reads "
            f"{FORMAT_VERSION}; rebuild it with: rag index PATH --force --index {path.name}"
        )
    built_with = params["embedder"]["id"]
    if check_embedder and not same_embedder(built_with, settings.embedder):
        raise EmbedderMismatchError(
            f"index '{path.name}' was built with embedder '{built_with}' but '{embedder_id(settings.embedder)}' is "
            f"configured; set RAG_EMBEDDER to match or rebuild with: rag index PATH --index {path.name}"
        )
    verify_files(path, params)
    if "segments" in params:
        from rag.index.store.segmented_index import load_segmented

        return lazy_whole(lazy_sentences(load_segmented(path, params, settings), settings), settings)
    try:
        doc_list = read_docs(path)
        docs = {d.doc_id: d for d in doc_list}
        offsets = np.load(path / "chunks.offsets.npy")
        arrays = {
            "chunks.offsets.npy": offsets,
            **{
                name: np.load(path / name, mmap_mode="r")
                for name in (
                    "chunk_vectors.npy",
                    "vector_ids.npy",
                    "chunk_docs.npy",
                    "sentence_vectors.npy",
                    "sentences.npy",
                    "tokens.npy",
                    "token_offsets.npy",
                )
            },
        }
        with np.load(path / "languages.npz") as z:
            arrays["chunk_lang"], arrays["sent_lang"] = z["chunk_lang"], z["sent_lang"]
            means = {lang: z[f"mean_{lang}"] for lang in LANGS}
            centroids = np.stack([z[f"centroid_{lang}"] for lang in LANGS])
        check_shapes(path, params, arrays, len(doc_list), (path / "chunks.jsonl").stat().st_size)
        chunks = ChunkStore(path / "chunks.jsonl", offsets)
        vectors, vids = arrays["chunk_vectors.npy"], np.asarray(arrays["vector_ids.npy"])
        bm25 = load_bm25(path / "bm25")
        glossary = MergedGlossary(
            [path / "glossary.json"], None, bool((arrays["chunk_lang"] == LANGS.index("zh")).any())
        )
        dense = backend_of(path, params).open(path, params, settings, vectors, vids)
        first = chunks[0] if len(chunks) else None  # a truncated chunk store fails here, not mid-question
        if first is not None and not isinstance(first, Chunk):
            raise ValueError("chunk store")
    except IndexCorruptError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError) as exc:
        raise damaged(path, f"a file cannot be read ({type(exc).__name__})") from None
    if dense.ntotal != len(chunks):
        raise damaged(path, f"the dense index holds {dense.ntotal} vectors for {len(chunks)} passages")
    sent_rows = arrays["sentences.npy"]
    ranges = Ranges(sentence_starts(sent_rows, len(chunks)))
    index = Index(
        path,
        params,
        docs,
        chunks,
        dense,
        arrays["sentence_vectors.npy"],
        sent_rows,
        bm25,
        arrays["chunk_lang"],
        arrays["sent_lang"],
        means,
        centroids,
        glossary,
        ranges,
        vectors,
        np.asarray(arrays["chunk_docs.npy"]),
        [d.doc_id for d in doc_list],
    )
    return lazy_whole(lazy_sentences(index, settings), settings)


CENTROID_SAMPLE = 64  # passages per language whose whole vectors correct a pooled index's centroids (16: eval/NOTES.md)


def lazy_whole(index: Index, settings: Settings) -> Index:
    """An index whose passage vectors are pooled from its sentences' (``sentence_vectors`` "pooled") gets
    whole-passage vectors embedded on first use (``Index.whole_vecs``, used by the retriever for its
    first candidates) and, unless those are off (``pooled_whole_passages`` 0), per-language centroids
    corrected towards whole-passage vectors' (``WholeCentroids``); any other index is returned as it is."""
    if index.params.get("chunking", {}).get("sentence_vectors") != "pooled":
        return index
    whole = cast(
        np.ndarray,
        LazySentenceVectors(
            passage_texts(index.chunks, index.params["chunking"].get("context", "section")),
            len(index.chunks),
            int(index.chunk_vecs.shape[1]),
            lambda: make_embedder(settings.embedder, settings.batch_size),
            settings.embedding_cache_dir,
        ),
    )
    index.whole_vecs = whole
    if settings.pooled_whole_passages:  # the baseline the answer model was fitted with (whole-passage vectors)
        index.centroids = cast(
            np.ndarray, WholeCentroids(index.centroids, index.chunk_vecs, index.chunk_lang, whole, CENTROID_SAMPLE)
        )
    return index


def lazy_sentences(index: Index, settings: Settings) -> Index:
    """An index built with ``sentence_vectors`` "lazy" gets sentence vectors embedded on first use (its
    stored ones are placeholders); any other index is returned as it is."""
    if index.params.get("chunking", {}).get("sentence_vectors") != "lazy":
        return index
    index.sent_vecs = cast(
        np.ndarray,
        LazySentenceVectors(
            sentence_texts(index.chunks, index.sent_rows),
            int(index.sent_vecs.shape[0]),
            int(index.sent_vecs.shape[1]),
            lambda: make_embedder(settings.embedder, settings.batch_size),
            settings.embedding_cache_dir,
        ),
    )
    return index


def verify_index(settings: Settings) -> dict:
    """Check every file of an index against the checksums written at build time (``rag verify``)."""
    path = readable_path(settings.index_path)
    t0 = time.perf_counter()
    params = open_params(path, full=True)
    index = load_index(settings, check_embedder=False)  # then the shapes and the loaders
    files = params["files"]
    index.chunks.close()
    return {
        "index": str(path),
        "ok": True,
        "files": len(files) + 1,
        "bytes": sum(m["size"] for m in files.values()),
        "seconds": round(time.perf_counter() - t0, 3),
    }
