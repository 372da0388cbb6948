"""The opened index (``Index``): what ``reader`` and ``segmented_index`` both return, here so that
neither imports the other for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.dense.base import DenseIndex
from rag.index.embedding import (
    LANGS,
)
from rag.index.store.boxes import read_boxes
from rag.index.store.chunks import ChunkStore, Ranges
from rag.index.store.layout import (
    DocInfo,
)
from rag.index.store.refs import read_references


@dataclass
class Index:
    """A loaded index (read-only): chunks, vectors, BM25 and metadata; large arrays memory-mapped."""

    path: Path
    params: dict
    docs: dict[str, DocInfo]
    chunks: ChunkStore
    dense: DenseIndex  # .search(queries, k) -> (similarities, positions), .ntotal, .exact (rag.index.dense.base)
    sent_vecs: np.ndarray
    sent_rows: np.ndarray  # (chunk index, start, end) per sentence
    bm25: Any  # rag.index.bm25.StoredBM25 (memory-mapped) or a bm25s.BM25
    chunk_lang: np.ndarray  # per chunk: index into LANGS
    sent_lang: np.ndarray  # per sentence: index into LANGS
    lang_means: dict[str, np.ndarray]  # mean anchor query vector per language
    centroids: np.ndarray  # (len(LANGS), dim) mean passage vector per language
    glossary: Mapping[str, list[str]]  # English -> Chinese terms of this index (query translation, lazy)
    chunk_sentences: Ranges  # per chunk: the range of its sentence rows
    chunk_vecs: np.ndarray  # (chunks, dim) float32
    chunk_docs: np.ndarray  # per chunk: position of its document in ``doc_order``
    doc_order: list[str]
    _doc_pos: dict[str, int] = field(default_factory=dict, repr=False)
    # whole-passage vectors embedded on first use when chunk_vecs are pooled from sentences (else None)
    whole_vecs: np.ndarray | None = field(default=None, repr=False)

    @cached_property
    def references(self) -> dict:
        """references.json: each document's reference entries and the citation graph's edges."""
        return read_references(self.path)

    @cached_property
    def boxes(self) -> dict[str, dict[str, list[list]]] | None:
        """boxes.json: each PDF passage's line boxes (None for an index built before they were kept)."""
        return read_boxes(self.path)

    @property
    def embedder_id(self) -> str:
        """Id of the embedder the index was built with."""
        return self.params["embedder"]["id"]

    @property
    def sentence_search(self) -> str:
        """'exhaustive' (every sentence scored: exact) or 'candidates' (sentences of candidate passages)."""
        return self.params.get("sentences", {}).get("search", "exhaustive")

    def size_bytes(self) -> int:
        """Bytes on disk."""
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    def doc_range(self, doc_id: str) -> range:
        """Positions of a document's passages (contiguous)."""
        if len(self._doc_pos) != len(self.doc_order):
            self._doc_pos = {d: i for i, d in enumerate(self.doc_order)}
        i = self._doc_pos[doc_id]
        a, b = np.searchsorted(self.chunk_docs, [i, i + 1])
        return range(int(a), int(b))

    def position(self, chunk_id: str) -> int:
        """Position of a passage by id, looking only at its document's passages (a passage id starts
        with its document's id and '#': an id of no indexed document is in none of them)."""
        doc_id = chunk_id.rsplit("#", 1)[0]
        for i in self.doc_range(doc_id) if doc_id in self.docs else range(0):
            if self.chunks[i].chunk_id == chunk_id:
                return i
        raise KeyError(chunk_id)

    @cached_property
    def lang_counts(self) -> np.ndarray:
        """Passages per language (indexed as LANGS), counted once rather than on every question."""
        return np.bincount(np.asarray(self.chunk_lang, dtype=np.int64), minlength=len(LANGS))
