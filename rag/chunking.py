"""Chunking: sentence-aware passages of at most ``size`` characters, overlapping by whole sentences."""

from __future__ import annotations

from rag.records import Chunk, Document
from rag.text import split_sentences


def _section_starts(doc: Document) -> list[int]:
    return sorted({s for s, _ in doc.sections if s > 0})


def pack(spans: list[tuple[int, int]], size: int, overlap: int, breaks: list[int] = ()) -> list[tuple[int, int]]:
    """Group sentence spans into chunk spans of at most ``size`` chars; never across a break offset.

    Consecutive chunks share their boundary sentences up to ``overlap`` characters.
    """
    chunks: list[tuple[int, int]] = []
    breaks = sorted(breaks)
    i, n = 0, len(spans)
    while i < n:
        start = spans[i][0]
        limit = next((b for b in breaks if b > start), None)
        j = i
        while j + 1 < n and spans[j + 1][1] - start <= size and (limit is None or spans[j + 1][0] < limit):
            j += 1
        chunks.append((start, spans[j][1]))
        if j + 1 >= n:
            break
        # step back over trailing sentences that fit in the overlap, but always move forward
        k = j + 1
        while k - 1 > i and spans[j][1] - spans[k - 1][0] <= overlap and (limit is None or spans[j + 1][0] < limit):
            k -= 1
        i = k
    return chunks


def chunk_document(doc: Document, size: int, overlap: int) -> list[Chunk]:
    """Body chunks (with section and span in the cleaned text), then one chunk per footnote piece."""
    spans = split_sentences(doc.text, max_len=size)
    out: list[Chunk] = []
    for n, (a, b) in enumerate(pack(spans, size, overlap, _section_starts(doc))):
        out.append(Chunk(f"{doc.doc_id}#{n}", doc.doc_id, doc.title, doc.section_at(a), doc.text[a:b], a, b))
    if doc.front_matter:
        fm = doc.front_matter[: max(size, 1) * 2]
        out.append(Chunk(f"{doc.doc_id}#meta", doc.doc_id, doc.title, "题名与作者信息", fm, 0, len(fm), kind="meta"))
    for m, note in enumerate(doc.footnotes):
        pieces = pack(split_sentences(note.text, max_len=size), size, overlap)
        for p, (a, b) in enumerate(pieces):
            suffix = f".{p}" if len(pieces) > 1 else ""
            out.append(
                Chunk(
                    f"{doc.doc_id}#n{m}{suffix}",
                    doc.doc_id,
                    doc.title,
                    f"{note.section} / 注{note.label}".strip(" /") if note.label else note.section,
                    note.text[a:b],
                    a,
                    b,
                    kind="footnote",
                )
            )
    return out


def chunk_sentences(chunk: Chunk) -> list[tuple[int, int]]:
    """Sentence spans inside a chunk's text (used for sentence vectors and extractive answers)."""
    return split_sentences(chunk.text)
