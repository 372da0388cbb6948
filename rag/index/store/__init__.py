"""The on-disk index: passages, their vectors and sentences, BM25 and a dense index in one
self-describing directory, written atomically (build in a temp dir, then swap).

Builds are incremental: a document whose source bytes are unchanged keeps its passages, vectors,
sentences and BM25 tokens (copied from the current index, never re-cleaned, re-chunked, re-embedded
or re-tokenised); changed and new documents are processed; documents that are gone are dropped. The
arrays are laid out in the order a full build would produce, so an updated index answers exactly
like a rebuilt one. Large arrays are memory-mapped at load, so opening a million-passage index
takes a moment and little memory.

Layout (format 5): .rag-index (the marker), params.json (with every other file's size and checksum),
docs.json, chunks.jsonl (+ chunks.offsets.npy: random access), chunk_vectors.npy, vector_ids.npy,
chunk_docs.npy, sentences.npy, sentence_vectors.npy, languages.npz, tokens.npy + token_offsets.npy +
terms.json (BM25 tokens per passage), bm25/, glossary.json (the vocabulary's uncapped glossary
contribution, ``rag.lang.glossary``), references.json, boxes.json (each PDF passage's line boxes,
``rag.index.store.boxes``), and what the dense backend (``rag.index.dense``) keeps there: dense.faiss
for approximate FAISS kinds, milvus_stale.npy for Milvus rows still to delete.

Modules, one job each: ``layout`` (format, params, per-document records, checks on opening), ``swap``
(lock and atomic replacement), ``chunks`` (passages read on demand), ``writer`` (the arrays),
``builder`` (build, update, remove), ``dense_writer`` (vector ids, then the vectors through the backend),
``reader`` (open an index).
"""

from typing import TYPE_CHECKING

from rag.index.store.chunks import CHUNK_CACHE_SIZE, ChunkStore
from rag.index.store.layout import FORMAT_VERSION, BuildReport, DocInfo, chunking_params, passage_text, read_docs
from rag.index.store.reader import Index, load_index, verify_index
from rag.index.store.writer import Part, centroid, new_part, write_parts

if TYPE_CHECKING:
    from rag.index.store.builder import Precomputed, build_index, write_index
    from rag.index.store.edit import add_documents, remove_documents

_LAZY = {
    "Precomputed": "builder",
    "build_index": "builder",
    "write_index": "builder",
    "add_documents": "edit",
    "remove_documents": "edit",
}


def __getattr__(name: str):
    """The builder's and editor's names, imported on first use: opening an index to answer a question
    does not load the cleaning, chunking and index-writing code."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"rag.index.store.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'rag.index.store' has no attribute {name!r}")


__all__ = [
    "CHUNK_CACHE_SIZE",
    "FORMAT_VERSION",
    "BuildReport",
    "ChunkStore",
    "DocInfo",
    "Index",
    "Part",
    "Precomputed",
    "add_documents",
    "build_index",
    "centroid",
    "chunking_params",
    "load_index",
    "new_part",
    "passage_text",
    "read_docs",
    "remove_documents",
    "verify_index",
    "write_index",
    "write_parts",
]
