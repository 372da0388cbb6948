"""In-text citations: the markers a passage carries ("[12]", "［12］", "[3-5]", "[1, 4]", "^12", "<sup>3</sup>", "(Wang, 2020)",
"(Wang et al., 2020; Li 2019)", "Wang (2020)", "王某某（2019）") and the entries of the document's own
reference list they point to."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.ingest.references.parse import YEAR, Reference, person

_NUMERIC = re.compile(r"[\[［]\s*(\d{1,4}(?:\s*[-–—~～,，、;]\s*\d{1,4})*)\s*[\]］]")
# superscript numbers where the text shows them: Markdown "^12" ("^[12]" is read as "[12]"), HTML "<sup>3,4</sup>"
_SUPER = re.compile(r"\^(\d{1,3}(?:\s*[-–,]\s*\d{1,3})*)|<sup>\s*(\d{1,3}(?:\s*[-–,]\s*\d{1,3})*)\s*</sup>")
_PAREN = re.compile(r"[(（]([^()（）]{3,200}?)[)）]")
_ONE_AY = re.compile(
    rf"([A-Z][A-Za-z'’\-]+|[\u3400-\u9fff·]{{1,8}})(?:\s+(?:et\s+al\.?|and\s+[A-Z][\w'’\-]+|&\s*[A-Z][\w'’\-]+)|等)?\s*[,，]?\s*({YEAR})[a-z]?"
)
_NARRATIVE = re.compile(
    rf"([A-Z][A-Za-z'’\-]+|[\u3400-\u9fff·]{{2,4}})(?:\s+et\s+al\.?|\s+and\s+[A-Z][\w'’\-]+|等(?:人)?)?\s*[(（]({YEAR})[a-z]?[)）]"
)


@dataclass(frozen=True)
class Marker:
    """One in-text citation: the numbers it names, or an (author, year) pair; its span in the text."""

    start: int
    end: int
    numbers: tuple[str, ...] = ()
    author: str = ""
    year: str = ""


def _expand(spec: str) -> tuple[str, ...]:
    """ "3-5, 8" -> ("3", "4", "5", "8"); ranges longer than 50 are not expanded."""
    out: list[str] = []
    for part in re.split(r"[,，、;]", spec):
        ends = [int(x) for x in re.findall(r"\d+", part)]
        if len(ends) == 2 and 0 < ends[1] - ends[0] <= 50:
            out += [str(i) for i in range(ends[0], ends[1] + 1)]
        else:
            out += [str(i) for i in ends]
    return tuple(out)


def markers(text: str) -> list[Marker]:
    """The in-text citation markers of a passage, in order."""
    out: list[Marker] = []
    for m in _NUMERIC.finditer(text):
        out.append(Marker(m.start(), m.end(), numbers=_expand(m.group(1))))
    for m in _SUPER.finditer(text):
        out.append(Marker(m.start(), m.end(), numbers=_expand(m.group(1) or m.group(2))))
    for m in _PAREN.finditer(text):
        inner = m.group(1)
        if not re.search(YEAR, inner):
            continue
        for a in _ONE_AY.finditer(inner):
            out.append(Marker(m.start(), m.end(), author=a.group(1), year=a.group(2)))
    for m in _NARRATIVE.finditer(text):
        out.append(Marker(m.start(), m.end(), author=m.group(1), year=m.group(2)))
    return sorted(set(out), key=lambda k: (k.start, k.numbers, k.author))


def _family(name: str) -> str:
    p = person(name)
    return p.family.lower()


def _author_matches(author: str, ref: Reference) -> bool:
    if not ref.authors:
        return False
    first = ref.authors[0]
    if any("\u3400" <= c <= "\u9fff" for c in author):
        # Han names: the marker names the whole name or its family name (the first character)
        return first.startswith(author) or author.startswith(first) or first.replace("·", "").startswith(author)
    fam = _family(first)
    return fam == author.lower() or fam.endswith(" " + author.lower()) or author.lower() == first.split()[0].lower()


def link(text: str, refs: Sequence[Reference], numbered: bool = True) -> list[Reference]:
    """The entries a passage's markers point to, each once, in the order first cited (``numbered``:
    whether the list's numbers are the document's own, so "[12]" may be read as its entry 12)."""
    by_n = {r.n: r for r in refs} if numbered else {}
    out: list[Reference] = []
    for mk in markers(text):
        found: list[Reference] = []
        if mk.numbers:
            found = [by_n[n] for n in mk.numbers if n in by_n]
        elif mk.author:
            cands = [r for r in refs if r.year == mk.year and _author_matches(mk.author, r)]
            found = cands[:1] if len(cands) == 1 else cands[:2]
        out += [r for r in found if r not in out]
    return out


def linked_entries(
    text: str, entries: Sequence[dict], edges: Sequence[dict] = (), marked: Sequence[str] = ()
) -> tuple[dict, ...]:
    """The stored entries (references.json form) a passage's citations point to (its markers, and the
    entries ``marked`` by note marks inside it), each with the fields a reader needs and, when the work
    is a document of the library, its doc id as ``target``."""
    if not entries or not (marked or markers(text)):
        return ()
    refs = [Reference.from_dict(e) for e in entries]
    by_n = {r.n: r for r in refs}
    internal = {str(e["n"]): e["target"] for e in edges if e.get("internal")}
    out = []
    found = [by_n[n] for n in marked if n in by_n]
    found += [r for r in link(text, refs) if r not in found]
    for r in found:
        d = {k: v for k, v in r.to_dict().items() if k in _SHOWN and v not in ("", [], ())}
        if r.n in internal:
            d["target"] = internal[r.n]
        out.append(d)
    return tuple(out)


_SHOWN = ("n", "key", "raw", "authors", "year", "title", "venue", "doi", "url")
