"""The record of one parsed reference entry, and names as family and given parts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.records import Bib, Person

_WORD = re.compile(r"[^\W\d_]{2}")  # two letters in a row, of any script
# what a program's text has and a title does not: braces, comparisons, arrows, calls, statement ends
_CODE = re.compile(r"[{}]|[=!<>]=|->|=>|\+\+|::|\w\(\)|;\s*$|^\s*(?:#include|import|def|return)\b")


@dataclass(frozen=True)
class Reference:
    """One parsed entry of a reference list (strings empty where not found)."""

    raw: str
    n: str = ""  # its number or mark in the list ("12", "①" as "1"), "" for author-year lists
    authors: tuple[str, ...] = ()
    year: str = ""
    title: str = ""
    venue: str = ""  # journal, proceedings, book series or newspaper
    volume: str = ""
    issue: str = ""
    pages: str = ""
    doi: str = ""
    arxiv: str = ""
    url: str = ""
    publisher: str = ""
    place: str = ""
    type: str = ""  # CSL type where the style says it (GB/T 7714 [J], [M], ...)
    key: str = field(default="")  # author-year key ("Wang 2020") for author-year citations

    def to_dict(self) -> dict:
        """JSON form: every field, authors as a list."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["authors"] = list(self.authors)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Reference":
        """The record back from ``to_dict``."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["authors"] = tuple(d.get("authors", ()))
        return cls(**known)

    def to_bib(self) -> Bib:
        """The entry as a bibliographic record (for the BibTeX, RIS, CSL-JSON and style exporters)."""
        return Bib(
            type=self.type or _guess_type(self),
            title=self.title,
            authors=tuple(person(a) for a in self.authors),
            year=self.year,
            journal=self.venue,
            volume=self.volume,
            issue=self.issue,
            pages=self.pages,
            doi=self.doi,
            url=self.url or (f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else ""),
            publisher=self.publisher,
            place=self.place,
            key=self.key,
            source="reference-list",
        )


def _guess_type(ref: Reference) -> str:
    """A CSL type from the fields a style left: proceedings, journal (volume or issue), chapter, book."""
    if re.search(r"\b(proc\.|proceedings|conference|symposium|workshop)|会议|论文集", ref.venue, re.I):
        return "paper-conference"
    if ref.venue and (ref.volume or ref.issue):
        return "article-journal"
    if ref.venue:
        return "chapter"
    return "book" if ref.publisher else ""


def _initials(part: str) -> bool:
    return len(part.strip(".")) <= 2 and part.strip(".").isupper()


def is_work(bib: Bib) -> bool:
    """Whether a parsed entry names a work one can export: a title with a word in it, not a code listing,
    and something besides the title (author, year, venue, DOI, address or publisher); a lone number, a
    template's instructions or a listing caught in the list are not references."""
    if not _WORD.search(bib.title) or _CODE.search(bib.title):
        return False
    return bool(bib.year or bib.journal or bib.doi or bib.url or bib.publisher or any(p.family for p in bib.authors))


def person(name: str) -> Person:
    """A name as a Person: Han names whole; "Smith, J." and "J. Smith" split into family and given."""
    name = name.strip()
    if any("\u3400" <= c <= "\u9fff" for c in name) or not name:
        return Person(name)
    if "," in name:
        fam, _, given = name.partition(",")
        return Person(fam.strip(), given.strip())
    parts = name.split()
    if len(parts) == 1:
        return Person(parts[0])
    # an initial first ("W. Yu", "J. Lu") is a given name, not a family name in capitals
    if parts[0].isupper() and len(parts[0].strip(".")) > 1 and all(_initials(p) for p in parts[1:]):
        return Person(parts[0].title(), " ".join(parts[1:]))  # GB/T 7714: "BAKER S K"
    if all(len(p.strip(".")) <= 2 and p.strip(".").isupper() for p in parts[1:]) and not parts[0].endswith("."):
        return Person(parts[0], " ".join(parts[1:]))  # Vancouver "Karpukhin V"
    return Person(parts[-1], " ".join(parts[:-1]))
