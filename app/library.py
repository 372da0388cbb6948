"""The library manager of the Documents tab: one row per indexed document (title, authors, year, pages,
passages, what reading it noticed, where its record came from) and the records the edit form starts from."""

from __future__ import annotations

from dataclasses import dataclass

from rag.index.store import DocInfo

SOURCES = {"zotero": "Zotero", "bibtex": ".bib", "csl-json": "CSL-JSON"}


@dataclass(frozen=True)
class DocRow:
    """What the library table shows of one document."""

    doc_id: str
    title: str
    authors: str
    year: str
    pages: int  # 0: not a PDF
    passages: int
    warnings: tuple[tuple[str, int], ...]  # keys of app/i18n.py with their numbers, e.g. ("ocr", 3)
    source: str  # "PDF", "text", "Zotero", ".bib", "CSL-JSON" (+ " · uploaded", " · edited")


def _last_page(label: str) -> int:
    tail = label.rpartition("-")[2]
    return int(tail) if tail.isdigit() else 0


def doc_row(doc: DocInfo, chunks, uploaded: bool, edited: bool) -> DocRow:
    """The library row of ``doc`` from its record and its passages (``chunks``: the index's passages of it)."""
    pages = max((_last_page(c.page) for c in chunks), default=0)
    ocr = sum(1 for c in chunks if c.ocr is not None)
    warnings: list[tuple[str, int]] = []
    if doc.n_source_chars and doc.n_dropped_chars:
        warnings.append(("dropped", round(100 * doc.n_dropped_chars / doc.n_source_chars)))
    if ocr:
        warnings.append(("ocr", ocr))
    if doc.n_footnotes:
        warnings.append(("footnotes", doc.n_footnotes))
    source = SOURCES.get(doc.library.source, "PDF" if doc.path.lower().endswith(".pdf") else "text")
    source += " · uploaded" if uploaded else ""
    source += " · edited" if edited else ""
    return DocRow(
        doc.doc_id,
        doc.title,
        ", ".join(doc.authors),
        doc.bib.year,
        pages,
        doc.n_chunks,
        tuple(warnings),
        source,
    )
