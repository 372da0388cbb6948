"""How an answer and its sources read as text, the same in every front-end (`rag ask`, the batch
outputs, the app's copy text and conversation export): one label per cited passage, one reference
list per set of answers, and the plain-text and Markdown forms built from them.

Answer text comes out exactly as the records hold it; labels, quotes in labels and reference fields
come out on one line without control characters (``one_line``: a title read from a hostile library
cannot start a new record or list item in any export). Each front-end adds its own safety on top: the
CLI strips terminal control characters, spreadsheet cells are neutralised against formulas, the app
escapes HTML."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace

from rag.errors import InvalidInputError
from rag.lang.text import one_line
from rag.records import Answer, Bib, Citation, Hit, Person
from rag.refs.styles import STYLES, format_reference

CLOSEST = 3  # passages offered with a refusal
CLOSEST_HEAD = "Closest passages (none answers the question):"
SNIPPET = 160  # characters of a closest passage shown in plain text


def check_style(style: str | None, default: str = "plain") -> str:
    """A citation style name (None: ``default``), or a one-line error naming the styles there are."""
    style = (style or default).strip().lower().replace("/", "").replace("-", "").replace(" ", "")
    style = {"gbt": "gbt7714", "gbt77142015": "gbt7714", "apa7": "apa"}.get(style, style)
    if style not in STYLES:
        raise InvalidInputError(f"unknown citation style '{style}'; use one of: {', '.join(STYLES)}")
    return style


def clean_bib(b: Bib) -> Bib:
    """A record with every field (and author name) on one line, without control characters."""
    changes: dict = {f.name: one_line(v) for f in fields(b) if isinstance(v := getattr(b, f.name), str)}
    changes["authors"] = tuple(Person(one_line(p.family), one_line(p.given)) for p in b.authors)
    changes["collections"] = tuple(one_line(c) for c in b.collections)
    return replace(b, **changes)


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
    return f"{one_line(title)}{section_mark(one_line(section))}{page_mark(one_line(page))} ({one_line(doc)})"


def citation_label(c: Citation) -> str:
    """A citation's marker and source: "[n] title — §section, p. 12 (doc)"."""
    return f"[{c.n}] {source_label(c.title, c.section, c.doc, c.page)}"


def citation_line(c: Citation) -> str:
    """A citation on one line with its quote: "[n] title — §section (doc): “quote”"."""
    return f"{citation_label(c)}: “{one_line(c.quote)}”"


def closest_label(h: Hit) -> str:
    """Where a retrieved passage offered with a refusal comes from."""
    return source_label(h.chunk.title, h.chunk.section, h.chunk.doc_id, h.chunk.page)


def cited_reference(c: Citation, style: str) -> str:
    """A citation's work as a reference in ``style`` ("plain": its label, "[n] title — §section (doc)")."""
    if style == "plain":
        return citation_label(c)
    return f"[{c.n}] {format_reference(clean_bib(c.bib), style, one_line(c.title))}"


def sources_lines(a: Answer, passages: bool = True, style: str = "plain") -> list[str]:
    """The plain-text list under an answer: each citation's label (or, in a citation ``style``, its work's
    reference and section) and quote (``passages``: and the whole passage); under a refusal the closest
    passages (``passages``: with their first characters)."""
    if a.abstained:
        return [CLOSEST_HEAD] + [
            f"  - {closest_label(h)}" + (f": {h.chunk.text[:SNIPPET]}" if passages else "")
            for h in a.retrieved[:CLOSEST]
        ]
    lines = ["Sources"]
    for c in a.citations:
        lines.append(cited_reference(c, style))
        if style != "plain" and c.section:
            lines.append(f"    section: {c.section}")
        lines += [f"    quote: “{c.quote}”"] + ([f"    passage: {c.text}"] if passages else [])
        # the entries of the paper's own reference list the passage cites ("[12]", "①")
        lines += [
            f"    rests on ref. {r.get('n', '')}: {r.get('raw', '')}" + (f" ({r['target']})" if r.get("target") else "")
            for r in c.refs
        ]
    return lines


def answer_text(a: Answer, passages: bool = True, style: str = "plain") -> str:
    """The answer in plain text, a blank line, then its sources (see ``sources_lines``)."""
    return "\n".join([a.answer, "", *sources_lines(a, passages, style)])


# --- reference lists -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A cited document in a reference list, numbered R1, R2, ... in order of first citation."""

    n: int
    doc: str
    title: str
    cited: tuple[tuple[int, int], ...] = ()  # (answer, citation number) of each citation of it; answers from 1
    bib: Bib = field(default_factory=Bib)  # the work's bibliographic record (from its citations)


def reference_list(cited: Iterable[Sequence[Citation]], first: Iterable[tuple[str, str]] = ()) -> list[Reference]:
    """Every document the answers cite, once, numbered in order of first citation; ``cited`` holds each
    answer's citations, ``first`` (doc, title) pairs listed ahead of them, cited or not."""
    titles = dict(first)
    where: dict[str, list[tuple[int, int]]] = {d: [] for d in titles}
    bibs: dict[str, Bib] = {}
    for i, cites in enumerate(cited, start=1):
        for c in cites:
            titles.setdefault(c.doc, one_line(c.title))
            where.setdefault(c.doc, []).append((i, c.n))
            if c.doc not in bibs or not bibs[c.doc].title:
                bibs[c.doc] = clean_bib(c.bib)
    return [Reference(n, d, t, tuple(where[d]), bibs.get(d, Bib())) for n, (d, t) in enumerate(titles.items(), start=1)]


def md_citation(c: Citation, ref: int) -> str:
    """A citation as a Markdown list item pointing into the reference list:
    "- [n] *title* — §section, p. 12 (Rref): “quote”"."""
    return (
        f"- [{c.n}] *{one_line(c.title)}*{section_mark(one_line(c.section))}{page_mark(one_line(c.page))} (R{ref}): "
        f"“{one_line(c.quote)}”"
    )


def reference_entry(r: Reference, style: str, markdown: bool = False) -> str:
    """A reference list entry's text in a citation style (GB/T 7714, APA; see rag/refs/styles.py)."""
    return format_reference(r.bib, style, r.title, markdown)


def md_reference(r: Reference, authors: Sequence[str] = (), style: str = "plain") -> str:
    """A reference list entry in Markdown: "- Rn. authors. title. `doc`", or in a citation ``style``
    "- Rn. <the entry>"."""
    if style != "plain":
        return f"- R{r.n}. {reference_entry(r, style, markdown=True)}"
    by = f"{', '.join(map(one_line, authors))}. " if authors else ""
    return f"- R{r.n}. {by}{one_line(r.title)}. `{one_line(r.doc)}`"


# --- chat messages (the OpenAI-compatible API) ---------------------------------------------------

SOURCES_HEAD = "**Sources**"
REFERENCES_HEAD = "**References**"


def md_sources(a: Answer, authors: Mapping[str, Sequence[str]] | None = None) -> str:
    """The Markdown a chat client shows under an answer: each citation with its quote, then the reference
    list (``authors`` by document id); under a refusal the closest passages."""
    if a.abstained:
        return "\n".join([f"*{CLOSEST_HEAD}*", ""] + [f"- {closest_label(h)}" for h in a.retrieved[:CLOSEST]])
    refs = reference_list([a.citations])
    ref_of = {r.doc: r.n for r in refs}
    by = authors or {}
    return "\n".join(
        [SOURCES_HEAD, ""]
        + [md_citation(c, ref_of[c.doc]) for c in a.citations]
        + ["", REFERENCES_HEAD, ""]
        + [md_reference(r, by.get(r.doc, ())) for r in refs]
    )


def md_answer(a: Answer, authors: Mapping[str, Sequence[str]] | None = None) -> str:
    """An answer as one chat message: the text with its [n] markers, a blank line, ``md_sources``."""
    return f"{a.answer}\n\n{md_sources(a, authors)}"


def md_answer_text(message: str) -> tuple[str, bool]:
    """The answer text of a chat message written by ``md_answer`` (the sources cut off), and whether it
    was a refusal; any other message is returned whole."""
    for head, refused in ((f"\n\n{SOURCES_HEAD}\n", False), (f"\n\n*{CLOSEST_HEAD}*\n", True)):
        at = message.find(head)
        if at >= 0:
            return message[:at], refused
    return message, False
