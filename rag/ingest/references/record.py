"""The record of one parsed reference entry, and names as family and given parts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.records import Bib, Person


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
    if parts[0].isupper() and len(parts[0]) > 1 and all(len(p.strip(".")) <= 2 for p in parts[1:]):
        return Person(parts[0].title(), " ".join(parts[1:]))  # GB/T 7714: "BAKER S K"
    if all(len(p.strip(".")) <= 2 and p.strip(".").isupper() for p in parts[1:]) and not parts[0].endswith("."):
        return Person(parts[0], " ".join(parts[1:]))  # Vancouver "Karpukhin V"
    return Person(parts[-1], " ".join(parts[:-1]))
