"""Writing an index's arrays: one document's share of it (``Part``), streamed into the temporary
directory in order, new documents from their arrays and unchanged ones copied from the current index."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.index.bm25 import Terms
from rag.index.embedding import (
    LANGS,
)
from rag.index.store.chunks import chunk_record
from rag.index.store.layout import DocInfo
from rag.index.store.segments import Segment
from rag.ingest.references.parse import Reference
from rag.lang.text import detect_lang
from rag.records import Chunk, Document


class CurrentIndex(Protocol):
    """What writing reads of the current index (a ``reader.StoredIndex``): its vocabulary and segments.

    A protocol, not the reader's class: the reader imports the handle, whose box and reference readers
    sit beside the writers that take a ``Part``; naming the reader here closed an import loop."""

    terms: Terms
    segments: list[Segment]


@dataclass
class Part:
    """Everything the index keeps for one document: either new arrays, or a range of the old index."""

    info: DocInfo
    chunks: list[Chunk] = field(default_factory=list)  # new documents only
    chunk_vecs: np.ndarray | None = None
    sent_rows: np.ndarray | None = None  # (local chunk, start, end)
    sent_vecs: np.ndarray | None = None
    tokens: list[list[str]] = field(default_factory=list)
    chunk_lang: np.ndarray | None = None
    sent_lang: np.ndarray | None = None
    old: tuple[int, int] | None = None  # chunk range in the current index (reused documents)
    seg: int = 0  # the current index's segment that range is in (rag.index.store.segments)
    refs: list[Reference] | None = None  # new documents: the entries of their reference list (rag.ingest.references)
    ref_marks: list[tuple[int, str]] = field(default_factory=list)  # (offset in text, entry n) of note marks
    boxes: dict[str, list[list]] = field(default_factory=dict)  # new PDFs: chunk_id -> its lines' boxes (boxes.json)

    @property
    def n_chunks(self) -> int:
        """How many passages this document has."""
        return self.old[1] - self.old[0] if self.old else len(self.chunks)


def new_part(
    doc: Document,
    chunks: list[Chunk],
    chunk_vecs: np.ndarray,
    sent_rows: list[tuple[int, int, int]],
    sent_vecs: np.ndarray,
    tokens: list[list[str]],
    sent_texts: list[str] | None = None,
) -> Part:
    """A document processed now: its chunks with vectors, sentences and BM25 tokens."""
    texts = sent_texts if sent_texts is not None else [chunks[i].text[a:b] for i, a, b in sent_rows]
    info = DocInfo(
        doc.doc_id,
        doc.path,
        doc.title,
        doc.authors,
        doc.sha256,
        len(doc.text),
        len(chunks),
        len(doc.footnotes),
        doc.source_chars,
        doc.dropped_chars,
        doc.bib,
        doc.library,
    )
    return Part(
        info,
        chunks,
        chunk_vecs,
        np.asarray(sent_rows, dtype=np.int32).reshape(-1, 3),
        sent_vecs,
        tokens,
        np.array([LANGS.index(detect_lang(c.text)) for c in chunks], dtype=np.uint8),
        np.array([LANGS.index(detect_lang(t)) for t in texts], dtype=np.uint8),
    )


def write_parts(tmp: Path, parts: list[Part], old: CurrentIndex | None, dim: int) -> dict:
    """Stream the documents' arrays into ``tmp`` in order: chunk store, vectors, sentences, tokens."""
    from numpy.lib.format import open_memmap

    n = sum(p.n_chunks for p in parts)
    m = sum(_n_sentences(p, old) for p in parts)
    cvec = open_memmap(tmp / "chunk_vectors.npy", mode="w+", dtype=np.float32, shape=(n, dim))
    svec = open_memmap(tmp / "sentence_vectors.npy", mode="w+", dtype=np.float32, shape=(m, dim))
    srows = open_memmap(tmp / "sentences.npy", mode="w+", dtype=np.int32, shape=(m, 3))
    chunk_lang = np.zeros(n, np.uint8)
    sent_lang = np.zeros(m, np.uint8)
    chunk_docs = np.zeros(n, np.int32)
    offsets = np.zeros(n + 1, np.int64)
    tok_offsets = np.zeros(n + 1, np.int64)
    terms = Terms(old.terms.terms) if old else Terms()
    tok_parts: list[np.ndarray] = []
    c = s = 0
    with open(tmp / "chunks.jsonl", "wb") as fh:
        for di, p in enumerate(parts):
            k = p.n_chunks
            if p.old:
                assert old is not None  # a part carried over comes from the current index
                a, b = p.old
                src = old.segments[p.seg]
                sa, sb = int(src.sent_starts[a]), int(src.sent_starts[b])
                blob = src.chunk_bytes(a, b)
                fh.write(blob)
                offsets[c + 1 : c + k + 1] = offsets[c] + (src.offsets[a + 1 : b + 1] - src.offsets[a])
                cvec[c : c + k] = src.vectors[a:b]
                chunk_lang[c : c + k] = src.chunk_lang[a:b]
                rows = np.asarray(src.sent_rows[sa:sb])
                srows[s : s + sb - sa] = rows - np.array([a - c, 0, 0], np.int32)
                svec[s : s + sb - sa] = src.sent_vecs[sa:sb]
                sent_lang[s : s + sb - sa] = src.sent_lang[sa:sb]
                ta, tb = int(src.tok_offsets[a]), int(src.tok_offsets[b])
                tok_parts.append(np.asarray(src.tokens[ta:tb]))
                tok_offsets[c + 1 : c + k + 1] = tok_offsets[c] + (src.tok_offsets[a + 1 : b + 1] - ta)
                ns = sb - sa
            else:
                # a new document: new_part (or an importer, e.g. bench_scale) gave it all its arrays
                assert p.chunk_vecs is not None and p.chunk_lang is not None and p.sent_rows is not None
                pos = offsets[c]
                for i, ch in enumerate(p.chunks):
                    line = (json.dumps(chunk_record(ch), ensure_ascii=False) + "\n").encode("utf-8")
                    fh.write(line)
                    pos += len(line)
                    offsets[c + i + 1] = pos
                cvec[c : c + k] = p.chunk_vecs
                chunk_lang[c : c + k] = p.chunk_lang
                ns = len(p.sent_rows)
                if ns:
                    assert p.sent_vecs is not None and p.sent_lang is not None  # given with its sentence rows
                    srows[s : s + ns] = p.sent_rows + np.array([c, 0, 0], np.int32)
                    svec[s : s + ns] = p.sent_vecs
                    sent_lang[s : s + ns] = p.sent_lang
                ids = [terms.encode(t) for t in p.tokens]
                tok_parts.extend(ids)
                tok_offsets[c + 1 : c + k + 1] = tok_offsets[c] + np.cumsum([len(x) for x in ids], dtype=np.int64)
            chunk_docs[c : c + k] = di
            c, s = c + k, s + ns
    for arr in (cvec, svec, srows):
        arr.flush()
    del cvec, svec, srows
    np.save(tmp / "chunks.offsets.npy", offsets)
    np.save(tmp / "chunk_docs.npy", chunk_docs)
    np.save(tmp / "chunk_lang.npy", chunk_lang)
    np.save(tmp / "sent_lang.npy", sent_lang)
    np.save(tmp / "tokens.npy", np.concatenate(tok_parts).astype(np.int32) if tok_parts else np.zeros(0, np.int32))
    np.save(tmp / "token_offsets.npy", tok_offsets)
    return {"chunks": int(n), "sentences": int(m), "terms": terms}


def _n_sentences(p: Part, old: CurrentIndex | None) -> int:
    """How many sentences a document has (one carried over: as many as in the current index)."""
    if p.old:
        assert old is not None  # a part carried over comes from the current index
        starts = old.segments[p.seg].sent_starts
        return int(starts[p.old[1]] - starts[p.old[0]])
    assert p.sent_rows is not None  # a new document has its sentence rows
    return len(p.sent_rows)


FIXED_POINT = 2.0**40  # vector sums in fixed point: exact integers, the same in any order or grouping


def fixed_sum(vectors: np.ndarray, rows: np.ndarray, block: int = 65_536) -> np.ndarray:
    """Sum of the given rows in fixed point (int64): exact, so the sum of the live passages can be kept
    up to date by adding and subtracting documents and still equals a sum computed from scratch."""
    acc = np.zeros(vectors.shape[1], np.int64)
    for i in range(0, len(rows), block):
        acc += np.rint(np.asarray(vectors[rows[i : i + block]], np.float64) * FIXED_POINT).astype(np.int64).sum(axis=0)
    return acc


def mean_of(acc: np.ndarray, count: int) -> np.ndarray:
    """The mean vector (float32) a fixed-point sum of ``count`` rows stands for (zeros when there are none)."""
    if not count:
        return np.zeros(len(acc), np.float32)
    return (acc.astype(np.float64) / FIXED_POINT / count).astype(np.float32)


def centroid(vectors: np.ndarray, mask: np.ndarray, dim: int, block: int = 65_536) -> np.ndarray:
    """Mean of the masked rows, summed exactly in fixed point (order-independent) in bounded memory."""
    rows = np.flatnonzero(mask)
    return mean_of(fixed_sum(vectors, rows, block), len(rows)) if len(rows) else np.zeros(dim, np.float32)


def lang_sums(vectors: np.ndarray, chunk_lang: np.ndarray) -> dict[str, np.ndarray]:
    """languages.npz entries per language: fixed-point sum and count of its passage vectors, and their
    centroid (kept up to date by a segment update without reading the unchanged passages)."""
    out: dict[str, np.ndarray] = {}
    for i, k in enumerate(LANGS):
        rows = np.flatnonzero(chunk_lang == i)
        out[f"sum_{k}"] = fixed_sum(vectors, rows)
        out[f"count_{k}"] = np.array(len(rows), np.int64)
        out[f"centroid_{k}"] = mean_of(out[f"sum_{k}"], len(rows))
    return out
