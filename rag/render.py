"""How an answer and its sources read as text, the same in every front-end (`rag ask`, the batch
outputs, the app's copy text and conversation export): one label per cited passage, one reference
list per set of answers, and the plain-text and Markdown forms built from them.

Text comes out exactly as the records hold it. Each front-end adds its own safety on top: the CLI
strips terminal control characters, spreadsheet cells are neutralised against formulas, the app
escapes HTML."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rag.records import Answer, Citation, Hit

CLOSEST = 3  # passages offered with a refusal
CLOSEST_HEAD = "Closest passages (none answers the question):"
SNIPPET = 160  # characters of a closest passage shown in plain text


def section_mark(section: str) -> str:
    """The " — §section" that follows a title, or nothing when the passage has no section."""
    return f" — §{section}" if section else ""


def page_mark(page: str) -> str:
    """The ", p. 12" (", pp. 12-13") of a passage of a PDF, or nothing for other files."""
    if not page:
        return ""
    return f", pp. {page}" if "-" in page else f", p. {page}"


def source_label(title: str, section: str, doc: str, page: str = "") -> str:
    """Where a passage comes from: "title — §section, p. 12 (doc)" (the page for PDFs only)."""
    return f"{title}{section_mark(section)}{page_mark(page)} ({doc})"


def citation_label(c: Citation) -> str:
    """A citation's marker and source: "[n] title — §section, p. 12 (doc)"."""
    return f"[{c.n}] {source_label(c.title, c.section, c.doc, c.page)}"


def citation_line(c: Citation) -> str:
    """A citation on one line with its quote: "[n] title — §section (doc): “quote”"."""
    return f"{citation_label(c)}: “{c.quote}”"


def closest_label(h: Hit) -> str:
    """Where a retrieved passage offered with a refusal comes from."""
    return source_label(h.chunk.title, h.chunk.section, h.chunk.doc_id, h.chunk.page)


def sources_lines(a: Answer, passages: bool = True) -> list[str]:
    """The plain-text list under an answer: each citation's label and quote (``passages``: and the
    whole passage); under a refusal the closest passages (``passages``: with their first characters)."""
    if a.abstained:
        return [CLOSEST_HEAD] + [
            f"  - {closest_label(h)}" + (f": {h.chunk.text[:SNIPPET]}" if passages else "")
            for h in a.retrieved[:CLOSEST]
        ]
    lines = ["Sources"]
    for c in a.citations:
        lines += [citation_label(c), f"    quote: “{c.quote}”"] + ([f"    passage: {c.text}"] if passages else [])
    return lines


def answer_text(a: Answer, passages: bool = True) -> str:
    """The answer in plain text, a blank line, then its sources (see ``sources_lines``)."""
    return "\n".join([a.answer, "", *sources_lines(a, passages)])


# --- reference lists -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A cited document in a reference list, numbered R1, R2, ... in order of first citation."""

    n: int
    doc: str
    title: str
    cited: tuple[tuple[int, int], ...] = ()  # (answer, citation number) of each citation of it; answers from 1


def reference_list(cited: Iterable[Sequence[Citation]], first: Iterable[tuple[str, str]] = ()) -> list[Reference]:
    """Every document the answers cite, once, numbered in order of first citation; ``cited`` holds each
    answer's citations, ``first`` (doc, title) pairs listed ahead of them, cited or not."""
    titles = dict(first)
    where: dict[str, list[tuple[int, int]]] = {d: [] for d in titles}
    for i, cites in enumerate(cited, start=1):
        for c in cites:
            titles.setdefault(c.doc, c.title)
            where.setdefault(c.doc, []).append((i, c.n))
    return [Reference(n, d, t, tuple(where[d])) for n, (d, t) in enumerate(titles.items(), start=1)]


def md_citation(c: Citation, ref: int) -> str:
    """A citation as a Markdown list item pointing into the reference list:
    "- [n] *title* — §section, p. 12 (Rref): “quote”"."""
    return f"- [{c.n}] *{c.title}*{section_mark(c.section)}{page_mark(c.page)} (R{ref}): “{c.quote}”"


def md_reference(r: Reference, authors: Sequence[str] = ()) -> str:
    """A reference list entry in Markdown: "- Rn. authors. title. `doc`"."""
    by = f"{', '.join(authors)}. " if authors else ""
    return f"- R{r.n}. {by}{r.title}. `{r.doc}`"
