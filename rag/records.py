"""Small frozen records passed between pipeline stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Footnote:
    """A footnote or endnote, kept out of the body text but searchable."""

    label: str
    text: str
    section: str = ""
    page: int = 0  # page of a PDF where the note is printed (0: not a PDF)


@dataclass(frozen=True)
class Aside:
    """A line of a document's apparatus kept out of the body: a table-of-contents entry or a line of the
    first page's front matter (kind as the Chunk.kind of its passage: "contents" or "front")."""

    kind: str
    text: str
    page: int = 0


@dataclass(frozen=True)
class Table:
    """A table of a PDF page: its label ("Table 2", "表2"), caption, rows of cells (the header row first) and
    the page it is printed on."""

    label: str
    caption: str
    rows: tuple[tuple[str, ...], ...]
    page: int = 0


@dataclass(frozen=True)
class Person:
    """An author: family and given names, or one literal name in ``family`` (Chinese names, organisations)."""

    family: str
    given: str = ""

    @property
    def cjk(self) -> bool:
        """Whether the name is written in Chinese (family name first, no space: 李明)."""
        return any("\u3400" <= ch <= "\u9fff" for ch in self.family + self.given)

    def full(self) -> str:
        """The name as written in running text: "李明", "John A. Smith"."""
        if self.cjk:
            return self.family + self.given
        return f"{self.given} {self.family}".strip()


@dataclass(frozen=True)
class Bib:
    """A work's bibliographic record (CSL-like fields; empty strings where unknown) and where it came from."""

    type: str = ""  # CSL type: article-journal, book, chapter, paper-conference, thesis, report, webpage, ...
    title: str = ""
    authors: tuple[Person, ...] = ()
    year: str = ""
    journal: str = ""  # container: journal, book or proceedings title
    volume: str = ""
    issue: str = ""
    pages: str = ""  # "45-67"
    doi: str = ""
    url: str = ""
    publisher: str = ""
    place: str = ""
    key: str = ""  # citation key (BibTeX) or library item key
    collections: tuple[str, ...] = ()
    source: str = ""  # zotero | bibtex | csl-json | pdf | layout | text
    origin: tuple[tuple[str, str], ...] = ()  # (field, source) of each field of a merged record

    def to_dict(self) -> dict[str, Any]:
        """JSON form with only the known fields (authors as [family, given] pairs)."""
        # getattr, not dataclasses.asdict: asdict deep-copies every value (seconds over a large index's docs)
        d = {k: v for k in self.__dataclass_fields__ if (v := getattr(self, k)) not in ("", (), [])}
        if self.authors:
            d["authors"] = [[p.family, p.given] for p in self.authors]
        if self.collections:
            d["collections"] = list(self.collections)
        if self.origin:
            d["origin"] = dict(self.origin)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Bib":
        """The record back from ``to_dict``'s JSON (unknown keys ignored; None or {} is the empty record)."""
        if not d:
            return _NO_BIB
        known: dict[str, Any] = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["authors"] = tuple(Person(*(list(a) + [""])[:2]) for a in d.get("authors", ()))
        known["collections"] = tuple(d.get("collections", ()))
        known["origin"] = tuple((str(k), str(v)) for k, v in dict(d.get("origin") or {}).items())
        out: dict[str, Any] = {k: (str(v) if isinstance(v, (int, float)) else v) for k, v in known.items()}
        return cls(**out)


_NO_BIB = Bib()  # records are frozen: every empty one can be this one (a large index has thousands)


@dataclass(frozen=True)
class PageLine:
    """A line of a PDF page as the reader kept it: its text and box in points from the top-left corner."""

    page: int  # from 1
    text: str
    x0: float
    top: float
    x1: float
    bottom: float


@dataclass(frozen=True)
class Document:
    """A cleaned source document with the metadata citations need."""

    doc_id: str
    path: str
    title: str
    authors: tuple[str, ...]
    text: str
    sections: tuple[tuple[int, str], ...] = ()  # (start offset in text, heading path)
    footnotes: tuple[Footnote, ...] = ()
    sha256: str = ""
    front_matter: str = ""  # title, authors, affiliations, keywords, funding (not in the body text)
    source_chars: int = 0  # characters of the source's lines, before cleaning
    dropped_chars: int = 0  # of those, left out as page furniture (page numbers, running headers, repeated lines)
    bib: Bib = field(default_factory=Bib)  # bibliographic record (library, PDF metadata, front matter)
    library: Bib = field(default_factory=Bib)  # what a library (Zotero, .bib, CSL-JSON) said, as given
    pages: tuple[tuple[int, int], ...] = ()  # PDFs: (offset in text where a page's text starts, page from 1)
    front_pages: str = ""  # PDFs: the pages the front matter comes from ("1")
    ocr: tuple[tuple[int, float], ...] = ()  # PDFs: (page, mean OCR confidence) of each page read by OCR
    marks: tuple[tuple[int, str], ...] = ()  # (offset in text, label) of each note mark ("①") the text had
    furniture_lines: int = 0  # PDFs: running header, footer and page-number lines the reader left out
    tables: tuple[Table, ...] = ()  # PDFs: tables found on text pages, kept out of ``text`` (their own passages)
    lines: tuple[PageLine, ...] = ()  # PDFs: the reader's lines with their boxes, in reading order
    asides: tuple[Aside, ...] = ()  # contents lines and page-1 front matter, out of ``text`` (own passages)

    def page_at(self, offset: int) -> int:
        """The PDF page a character offset of the cleaned text is on (0 when not a PDF)."""
        current = 0
        for start, page in self.pages:
            if start > offset:
                break
            current = page
        return current

    def page_range(self, a: int, b: int) -> str:
        """Pages of the span text[a:b]: "12", "12-13", or "" when not a PDF."""
        return page_label(self.page_at(a), self.page_at(max(a, b - 1)))

    def ocr_confidence(self, pages: str) -> float | None:
        """Mean OCR confidence over the OCR'd pages of a page label (None: no page of it was OCR'd)."""
        if not self.ocr or not pages:
            return None
        lo, _, hi = pages.partition("-")
        scores = [c for p, c in self.ocr if int(lo) <= p <= int(hi or lo)]
        return round(sum(scores) / len(scores), 4) if scores else None

    def section_at(self, offset: int) -> str:
        """Heading path in force at a character offset of the cleaned text."""
        current = ""
        for start, heading in self.sections:
            if start > offset:
                break
            current = heading
        return current


def page_label(first: int, last: int) -> str:
    """ "12" for one page, "12-13" for a range, "" for none."""
    if first <= 0:
        return ""
    return str(first) if last <= first else f"{first}-{last}"


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: a span of a document's cleaned text, or one footnote."""

    chunk_id: str
    doc_id: str
    title: str
    section: str
    text: str
    start: int  # character span in the cleaned document text (footnotes: in the note)
    end: int
    kind: str = "body"  # "body" | "footnote" | "meta" (front matter) | "reference" (a reference entry) | "table"
    # | "contents" (table-of-contents lines) | "front" (page-1 front matter: affiliations, dates, licence, ...)
    page: str = ""  # PDFs: the page or pages the passage is printed on, "12" or "12-13"
    ocr: float | None = None  # the mean OCR confidence when the passage was read from scanned pages


@dataclass(frozen=True)
class Hit:
    """A chunk returned by retrieval, with its fused score and the scores behind it."""

    chunk: Chunk
    score: float
    rank: int
    dense: float | None = None
    bm25: float | None = None
    position: int = -1  # the passage's row in its index (-1: unknown), so answering never searches for it


@dataclass(frozen=True)
class Citation:
    """A numbered source behind one or more answer sentences."""

    n: int
    doc: str
    title: str
    section: str
    chunk_id: str
    text: str
    quote: str
    score: float
    page: str = ""  # PDFs: the page or pages of the passage, "12" or "12-13"
    bib: Bib = field(default_factory=Bib)  # the cited work's bibliographic record
    # entries of the document's own reference list the passage's in-text citations point to ("[12]")
    refs: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Citation":
        """A citation back from its JSON record (``bib`` as written by ``Answer.to_dict``)."""
        return cls(
            **{
                **{k: v for k, v in d.items() if k in cls.__dataclass_fields__},
                "bib": Bib.from_dict(d.get("bib")),
                "refs": tuple(d.get("refs", ())),
            }
        )


@dataclass(frozen=True)
class Support:
    """How well the passages an answer sentence cites back it up (quoted sentences score 1.0)."""

    sentence: str
    citations: tuple[int, ...]
    score: float
    supported: bool


@dataclass(frozen=True)
class Answer:
    """The answer record; ``to_dict`` gives the JSON shape other tools read."""

    question: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...]
    retrieved: tuple[Hit, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
    generator: str = "extractive"
    support: tuple[Support, ...] = ()  # one entry per answer sentence
    confidence: float = 0.0  # the answer model's probability that the best quoted span answers
    draft: str = field(default="", repr=False)  # a refused answer's best spans (evaluation only, not in to_dict)

    def to_dict(self) -> dict[str, Any]:
        """The fixed JSON record of ``rag ask --json``."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [
                {**asdict(c), "bib": c.bib.to_dict(), "refs": [dict(r) for r in c.refs]} for c in self.citations
            ],
            "retrieved": [
                {
                    "rank": h.rank,
                    "doc": h.chunk.doc_id,
                    "chunk_id": h.chunk.chunk_id,
                    "text": h.chunk.text,
                    "score": round(h.score, 6),
                }
                for h in self.retrieved
            ],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "generator": self.generator,
            "confidence": round(self.confidence, 4),
            "support": [
                {
                    "sentence": s.sentence,
                    "citations": list(s.citations),
                    "score": round(s.score, 4),
                    "supported": s.supported,
                }
                for s in self.support
            ],
        }
