"""Chunking: sentence-aware passages of at most ``size`` units, overlapping by whole sentences.

A unit is one Han character or three characters of any other script: a passage then holds about
as much text in English as in Chinese (the embedding model reads about 0.57 tokens per character
of Chinese papers and 0.26 per character of English articles, measured on the shared corpora), and
an English passage is a paragraph rather than two sentences.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import accumulate

from rag.ingest.pdf.apparatus import CONTENTS_KIND, FRONT_KIND
from rag.ingest.pdf.tables import table_passages
from rag.ingest.references.detect import REFERENCE_KIND, is_reference_note
from rag.lang.text import cut_long, is_cjk, split_sentences
from rag.records import Chunk, Document, page_label

OTHER_SCRIPT_WEIGHT = 1 / 3  # units per non-Han character

Measure = Callable[[int, int], float]


def measure(text: str) -> Measure:
    """Units of ``text[a:b]``, in O(1) per call after one pass over the text."""
    cum = [0.0, *accumulate(1.0 if is_cjk(ch) else OTHER_SCRIPT_WEIGHT for ch in text)]
    return lambda a, b: cum[b] - cum[a]


def sentence_spans(text: str, size: int) -> list[tuple[int, int]]:
    """Sentence spans of ``text``, a sentence longer than ``size`` units cut at a semicolon, comma or space."""
    units = measure(text)
    out: list[tuple[int, int]] = []
    for a, b in split_sentences(text):
        u = units(a, b)
        out += [(a, b)] if u <= size else cut_long(text, (a, b), max(1, int(size * (b - a) / u)))
    return out


def _section_starts(doc: Document) -> list[int]:
    return sorted({s for s, _ in doc.sections if s > 0})


def pack(
    spans: list[tuple[int, int]], size: int, overlap: int, breaks: Sequence[int] = (), units: Measure | None = None
) -> list[tuple[int, int]]:
    """Group sentence spans into chunk spans of at most ``size`` units (default: characters); never
    across a break offset. Consecutive chunks share their boundary sentences up to ``overlap`` units.
    """
    units = units or (lambda a, b: b - a)
    chunks: list[tuple[int, int]] = []
    breaks = sorted(breaks)
    i, n = 0, len(spans)
    while i < n:
        start = spans[i][0]
        limit = next((b for b in breaks if b > start), None)
        j = i
        while j + 1 < n and units(start, spans[j + 1][1]) <= size and (limit is None or spans[j + 1][0] < limit):
            j += 1
        chunks.append((start, spans[j][1]))
        if j + 1 >= n:
            break
        # step back over trailing sentences that fit in the overlap, but always move forward
        k = j + 1
        while (
            k - 1 > i and units(spans[k - 1][0], spans[j][1]) <= overlap and (limit is None or spans[j + 1][0] < limit)
        ):
            k -= 1
        i = k
    return chunks


def chunk_document(doc: Document, size: int, overlap: int) -> list[Chunk]:
    """Body chunks (with section and span in the cleaned text), the front matter, one chunk per block of a
    table's rows (kind "table", span in its own text), then one chunk per footnote piece."""
    spans = sentence_spans(doc.text, size)
    out: list[Chunk] = []
    for n, (a, b) in enumerate(pack(spans, size, overlap, _section_starts(doc), measure(doc.text))):
        page = doc.page_range(a, b)
        out.append(
            Chunk(
                f"{doc.doc_id}#{n}",
                doc.doc_id,
                doc.title,
                doc.section_at(a),
                doc.text[a:b],
                a,
                b,
                page=page,
                ocr=doc.ocr_confidence(page),
            )
        )
    if doc.front_matter:
        fm = doc.front_matter[: max(size, 1) * 2]  # characters: front matter is mostly Han text
        page = doc.front_pages
        out.append(
            Chunk(
                f"{doc.doc_id}#meta",
                doc.doc_id,
                doc.title,
                "题名与作者信息",
                fm,
                0,
                len(fm),
                kind="meta",
                page=page,
                ocr=doc.ocr_confidence(page),
            )
        )
    for m, table in enumerate(doc.tables):
        page = page_label(table.page, table.page)
        for p, text in enumerate(table_passages(table, size)):
            out.append(
                Chunk(f"{doc.doc_id}#t{m}.{p}", doc.doc_id, doc.title, table.label, text, 0, len(text), "table", page)
            )
    for m, note in enumerate(doc.footnotes):
        # entries of a reference list and citation notes are searchable but kept out of answer evidence
        kind = REFERENCE_KIND if is_reference_note(note) else "footnote"
        pieces = pack(sentence_spans(note.text, size), size, overlap, units=measure(note.text))
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
                    kind=kind,
                    page=page_label(note.page, note.page),
                    ocr=doc.ocr_confidence(page_label(note.page, note.page)),
                )
            )
    out += aside_chunks(doc, size)
    return out


APPARATUS_SECTION = {CONTENTS_KIND: "Contents / 目录", FRONT_KIND: "Front matter / 首页信息"}


def aside_chunks(doc: Document, size: int) -> list[Chunk]:
    """The contents lines and page-1 front matter as passages of their kind: consecutive lines of one kind
    and page, one per line, up to ``size`` units a passage (a longer line is a passage of its own)."""
    groups: list[tuple[str, int, list[str]]] = []
    for a in doc.asides:
        if groups and groups[-1][:2] == (a.kind, a.page) and _units("\n".join([*groups[-1][2], a.text])) <= size:
            groups[-1][2].append(a.text)
        else:
            groups.append((a.kind, a.page, [a.text]))
    out = []
    for m, (kind, page, lines) in enumerate(groups):
        text = "\n".join(lines)
        label = page_label(page, page)
        out.append(
            Chunk(
                f"{doc.doc_id}#a{m}",
                doc.doc_id,
                doc.title,
                APPARATUS_SECTION[kind],
                text,
                0,
                len(text),
                kind=kind,
                page=label,
                ocr=doc.ocr_confidence(label),
            )
        )
    return out


def _units(text: str) -> float:
    """Units of a whole text."""
    return measure(text)(0, len(text))


def chunk_sentences(chunk: Chunk) -> list[tuple[int, int]]:
    """Sentence spans inside a chunk's text (used for sentence vectors and extractive answers)."""
    return split_sentences(chunk.text)
