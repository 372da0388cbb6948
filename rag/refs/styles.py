"""Reference list entries in a citation style: GB/T 7714-2015 (the sequential-numbering entries Chinese
journals require: ``作者. 题名[J]. 刊名, 年, 卷(期): 起止页. DOI:...``) and APA 7; ``plain`` is rag's own
short form (authors. title)."""

from __future__ import annotations

import re

from rag.ingest.metadata import real_authors
from rag.records import Bib, Person

STYLES = ("plain", "gbt7714", "apa")
_CJK = re.compile(r"[\u3400-\u9fff]")
# GB/T 7714-2015 document type codes (its table B.1) for CSL types
GBT_CODES = {
    "article-journal": "J",
    "article-magazine": "J",
    "article-newspaper": "N",
    "book": "M",
    "chapter": "M",
    "paper-conference": "C",
    "thesis": "D",
    "report": "R",
    "webpage": "EB/OL",
    "patent": "P",
    "dataset": "DS",
}


def is_cjk(text: str) -> bool:
    """Whether the text is written in Chinese (holds a Han character)."""
    return bool(_CJK.search(text))


def _pages(pages: str, dash: str) -> str:
    return re.sub(r"\s*(?:--|–|—|-|~)\s*", dash, pages.strip())


def _end(text: str) -> str:
    """Text without a closing full stop (the style adds its own)."""
    return text.strip().rstrip(".。")


# --- GB/T 7714-2015 -------------------------------------------------------------------------------


def gbt_name(p: Person) -> str:
    """A name as GB/T 7714 writes it: Chinese names whole; others family name first in capitals, given
    names as initials without full stops ("SMITH J A")."""
    if p.cjk or not p.given:
        return p.full()
    initials = " ".join(
        "-".join(part[:1].upper() for part in w.split("-") if part) for w in p.given.replace(".", " ").split()
    )
    return f"{p.family.upper()} {initials}".strip()


def gbt_authors(authors: tuple[Person, ...], chinese: bool) -> str:
    """Up to three authors in full; beyond three the first three and ", 等" (Chinese) or ", et al."."""
    names = [gbt_name(p) for p in real_authors(authors)]
    if len(names) > 3:
        return ", ".join(names[:3]) + (", 等" if chinese else ", et al")
    return ", ".join(names)


def gbt7714(bib: Bib) -> str:
    """The GB/T 7714-2015 entry (without its sequence number). A work without a known author starts with
    its title: the sequential-numbering system has no author to sort by, so nothing stands in for one
    ("佚名"/"Anon" belong to the author-year system, where the name is the sort key)."""
    chinese = is_cjk(bib.title) or any(p.cjk for p in bib.authors)
    code = GBT_CODES.get(bib.type, "Z")
    head = gbt_authors(bib.authors, chinese)
    out = (f"{head}. " if head else "") + f"{_end(bib.title)}[{code}]"
    pages = _pages(bib.pages, "-")
    if code in ("J", "N"):
        where = f"{bib.journal}, {bib.year}" if bib.journal else bib.year
        if code == "J" and bib.volume:
            where += f", {bib.volume}"
        if bib.issue:
            where += f"({bib.issue})"
        out += f". {where}".rstrip(", ") + (f": {pages}" if pages else "")
    else:
        if code == "C" and bib.journal:
            out += f"//{bib.journal}"
        pub = f"{bib.place}: {bib.publisher}" if bib.place and bib.publisher else bib.publisher or bib.place
        rest = ", ".join(x for x in (pub, bib.year) if x)
        out += (f". {rest}" if rest else "") + (f": {pages}" if pages and rest else "")
        if bib.url and code == "EB/OL":
            out += f". {bib.url}"
    if bib.doi:
        out += f". DOI:{bib.doi}"
    return out + "."


# --- APA 7 ------------------------------------------------------------------------------------------


def apa_name(p: Person) -> str:
    """A name as APA writes it: "Family, G. G." (Chinese names and organisations whole)."""
    if p.cjk or not p.given:
        return p.full()
    initials = " ".join(
        "-".join(f"{part[0].upper()}." for part in w.split("-") if part) for w in p.given.replace(".", ". ").split()
    )
    return f"{p.family}, {initials}"


def apa_authors(authors: tuple[Person, ...]) -> str:
    """APA 7 author list: up to 20 names, "&" before the last; 21 or more: the first 19, ". . .", the last.
    Names written in Chinese are joined by commas without "&"."""
    names = [apa_name(p) for p in real_authors(authors)]
    if not names:
        return ""
    if all(is_cjk(n) for n in names):
        return ", ".join(names)
    if len(names) > 20:
        return ", ".join(names[:19]) + ", . . . " + names[-1]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + ", & " + names[-1]


def _apa_serial(bib: Bib, pages: str, it) -> str:
    """The source part of an APA 7 periodical reference (APA 9.25): "*Journal*, *vol*(issue), pages."
    Missing elements are left out with their punctuation; an issue without a volume stands alone in
    parentheses after the journal ("*Journal*, (6), 48–61", as the CSL APA style writes it); without a
    journal name, volume, issue and pages locate nothing and are left out (never a bare "(6), 48–61")."""
    if not bib.journal:
        return ""
    src = it(f"{bib.journal}, {bib.volume}" if bib.volume else bib.journal)  # journal and volume: one italic run
    if bib.issue:
        src += f"{'' if bib.volume else ', '}({bib.issue})"
    return f" {src}{', ' + pages if pages else ''}."


def apa(bib: Bib, markdown: bool = False) -> str:
    """The APA 7 reference (journal, volume and book titles in italics with ``markdown``)."""

    def it(text: str) -> str:
        return f"*{text}*" if markdown and text else text

    who = apa_authors(bib.authors)
    year = f"({bib.year or 'n.d.'})."
    title = bib.title.strip()
    title_s = title if title.endswith(("?", "!", ".", "。", "？", "！")) else f"{title}."
    pages = _pages(bib.pages, "–")
    italic_title = bib.type not in (
        "article-journal",
        "article-magazine",
        "article-newspaper",
        "chapter",
        "paper-conference",
    )
    shown_title = (it(title_s[:-1]) + title_s[-1]) if italic_title and title else title_s
    head = f"{who if who.endswith('.') else who + '.'} {year} {shown_title}" if who else f"{shown_title} {year}"
    if bib.type in ("article-journal", "article-magazine", "article-newspaper"):
        tail = _apa_serial(bib, pages, it)
    elif bib.type in ("chapter", "paper-conference") and bib.journal:
        tail = f" In {it(bib.journal)}" + (f" (pp. {pages})" if pages else "") + "."
        tail += f" {bib.publisher}." if bib.publisher else ""
    else:
        tail = f" {bib.publisher}." if bib.publisher else ""
    link = f" https://doi.org/{bib.doi}" if bib.doi else f" {bib.url}" if bib.url else ""
    return head + tail + link


def format_reference(bib: Bib, style: str, title: str = "", markdown: bool = False) -> str:
    """A work's reference list entry in ``style`` (``title`` stands in for a record without one)."""
    if not bib.title and title:
        from dataclasses import replace

        bib = replace(bib, title=title)
    if style == "gbt7714":
        return gbt7714(bib)
    if style == "apa":
        return apa(bib, markdown)
    names = ", ".join(p.full() for p in real_authors(bib.authors))
    return f"{names}. {bib.title}" if names else bib.title
