"""The works cited by a set of answers (a `rag batch` .jsonl output or its partial journal, or an app
conversation saved as .jsonl), exported for a reference manager: BibTeX (bibtexparser), RIS (rispy) or
CSL-JSON (plain JSON)."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import replace
from pathlib import Path

from rag.errors import InvalidInputError
from rag.lang.text import one_line
from rag.records import Bib, Citation
from rag.refs.render import reference_list

FORMATS = {".bib": "BibTeX", ".ris": "RIS", ".json": "CSL-JSON"}
BIBTEX_TYPES = {
    "article-journal": "article",
    "article-magazine": "article",
    "article-newspaper": "article",
    "book": "book",
    "chapter": "incollection",
    "paper-conference": "inproceedings",
    "thesis": "phdthesis",
    "report": "techreport",
    "webpage": "online",
}
RIS_TYPES = {
    "article-journal": "JOUR",
    "article-magazine": "MGZN",
    "article-newspaper": "NEWS",
    "book": "BOOK",
    "chapter": "CHAP",
    "paper-conference": "CPAPER",
    "thesis": "THES",
    "report": "RPRT",
    "webpage": "ELEC",
}


def read_answers(path: Path) -> list[list[Citation]]:
    """Each answer's citations from a .jsonl of answer records (`rag ask --json` objects, one a line);
    a line that is not one is a one-line error naming it."""
    try:
        lines = path.read_text("utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"cannot read {path} ({exc}); give a `rag batch` .jsonl output or a saved conversation"
        ) from None
    out = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            cites = [Citation.from_dict(c) for c in rec.get("citations", [])] if not rec.get("abstained") else []
        except (ValueError, TypeError, AttributeError):
            raise InvalidInputError(
                f"{path} line {i} is not an answer record; give a `rag batch` .jsonl output (or its .partial.jsonl) "
                "or a conversation saved from the app"
            ) from None
        out.append(cites)
    return out


def cited_works(answers: list[list[Citation]]) -> list[tuple[str, Bib]]:
    """(document, record) of every cited work, once, in order of first citation (a record without a title
    gets the document's)."""
    works = []
    for r in reference_list(answers):
        bib = r.bib if r.bib.title else replace(r.bib, title=r.title)
        works.append((r.doc, bib))
    return works


def _ascii(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode())


def cite_keys(works: list[tuple[str, Bib]]) -> list[str]:
    """A unique citation key per work: the key of its .bib or CSL-JSON entry, else the first author's family
    name and year (in ASCII), else the library's item key, else the document's name; repeats get a, b, c ..."""
    keys: list[str] = []
    for doc, bib in works:
        own = bib.key if bib.key and re.fullmatch(r"[\w:.-]+", bib.key) else ""
        fam = _ascii(bib.authors[0].family).lower() if bib.authors else ""
        if own and bib.source in ("bibtex", "csl-json"):
            base = own
        else:
            base = f"{fam}{bib.year}" if fam else own or _ascii(Path(doc).stem) or "ref"
        key, n = base, 0
        while key in keys:
            key = f"{base}{chr(ord('a') + n)}"
            n += 1
        keys.append(key)
    return keys


def _name(p) -> str:
    return f"{p.family}, {p.given}" if p.given else p.family


_TEX = {
    "\\": r"\textbackslash{}",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "_": r"\_",
    "$": r"\$",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def tex_escape(text: str) -> str:
    r"""A field value for a braced BibTeX field: one line, LaTeX's specials escaped; braces escaped as
    ``\{``/``\}`` when they pair up, else as ``\textbraceleft{}``/``\textbraceright{}`` (BibTeX counts
    every brace, escaped or not: a stray one would end the field early)."""
    text = one_line(text)
    paired = _balanced(text)
    out = []
    for ch in text:
        if ch in "{}":
            out.append("\\" + ch if paired else r"\textbraceleft{}" if ch == "{" else r"\textbraceright{}")
        else:
            out.append(_TEX.get(ch, ch))
    return "".join(out)


def _verbatim(text: str) -> str:
    """A URL or DOI for BibTeX (read verbatim by biblatex): one line, braces percent-encoded."""
    return one_line(text).replace("{", "%7B").replace("}", "%7D")


def _bib_name(p) -> str:
    """A name for an author field: "Family, Given", or a one-part name (an organisation, a Chinese name);
    a family name of several words braced whole, so BibTeX does not split it ("{World Bank}", not Bank, World)."""
    family = tex_escape(p.family)
    if " " in family or "," in family:
        family = "{" + family + "}"
    return f"{family}, {tex_escape(p.given)}" if p.given else family


def to_bibtex(works: list[tuple[str, Bib]]) -> str:
    """BibTeX entries (UTF-8) for the works."""
    import bibtexparser
    from bibtexparser.model import Entry, Field

    lib = bibtexparser.Library()
    for (_, b), key in zip(works, cite_keys(works)):
        container = {"article-journal": "journal", "article-magazine": "journal", "article-newspaper": "journal"}
        pairs = [
            ("title", tex_escape(b.title)),
            ("author", " and ".join(_bib_name(p) for p in b.authors if p.family or p.given)),
            ("year", tex_escape(b.year)),
            (
                container.get(b.type, "booktitle" if b.type in ("chapter", "paper-conference") else "journal"),
                tex_escape(b.journal),
            ),
            ("volume", tex_escape(b.volume)),
            ("number", tex_escape(b.issue)),
            ("pages", tex_escape(b.pages).replace("-", "--")),
            ("doi", _verbatim(b.doi)),
            ("url", _verbatim(b.url)),
            ("publisher", tex_escape(b.publisher)),
            ("address", tex_escape(b.place)),
        ]
        # the writer encloses each value in braces; every value is escaped, so its braces balance
        fields = [Field(k, v) for k, v in pairs if v]
        lib.add(Entry(BIBTEX_TYPES.get(b.type, "misc"), key, fields))
    return bibtexparser.write_string(lib)


def to_ris(works: list[tuple[str, Bib]]) -> str:
    """RIS records for the works."""
    import rispy

    entries = []
    for (_, b), key in zip(works, cite_keys(works)):
        start, _, end = b.pages.partition("-")
        e = {
            "type_of_reference": RIS_TYPES.get(b.type, "GEN"),
            "id": key,
            "title": b.title,
            "authors": [_name(p) for p in b.authors],
            "year": b.year,
            "secondary_title": b.journal,
            "volume": b.volume,
            "number": b.issue,
            "start_page": start,
            "end_page": end,
            "doi": b.doi,
            "urls": [b.url] if b.url else [],
            "publisher": b.publisher,
            "place_published": b.place,
        }
        entries.append({k: v for k, v in e.items() if v})
    return rispy.dumps(entries)


def to_csl(works: list[tuple[str, Bib]]) -> list[dict]:
    """CSL-JSON items for the works."""
    items = []
    for (_, b), key in zip(works, cite_keys(works)):
        item = {
            "id": key,
            "type": b.type or "document",
            "title": b.title,
            "author": [{"family": p.family, "given": p.given} if p.given else {"literal": p.family} for p in b.authors],
            "issued": {"date-parts": [[int(b.year)]]} if b.year.isdigit() else None,
            "container-title": b.journal,
            "volume": b.volume,
            "issue": b.issue,
            "page": b.pages,
            "DOI": b.doi,
            "URL": b.url,
            "publisher": b.publisher,
            "publisher-place": b.place,
        }
        items.append({k: v for k, v in item.items() if v})
    return items


def export_refs(answers_path: Path, out: Path) -> int:
    """Write the works cited in ``answers_path`` to ``out`` (.bib, .ris or .json); returns how many."""
    fmt = out.suffix.lower()
    if fmt not in FORMATS:
        raise InvalidInputError(
            f"cannot tell the format of {out.name}; name it .bib (BibTeX), .ris (RIS) or .json (CSL-JSON)"
        )
    works = cited_works(read_answers(answers_path))
    if not works:
        raise InvalidInputError(
            f"no answer in {answers_path} cites a source (all refused or none yet); nothing to export"
        )
    if fmt == ".bib":
        text = to_bibtex(works)
    elif fmt == ".ris":
        text = to_ris(works)
    else:
        text = json.dumps(to_csl(works), ensure_ascii=False, indent=1) + "\n"
    out.write_text(text, encoding="utf-8")
    return len(works)


EXPORT_FORMATS = ("bibtex", "ris", "csl-json", "gbt7714", "apa")


def export_text(works: list[tuple[str, Bib]], fmt: str) -> str:
    """The works as BibTeX, RIS, CSL-JSON, or a GB/T 7714 / APA reference list (one numbered line each)."""
    from rag.refs.styles import format_reference

    if fmt == "bibtex":
        return to_bibtex(works)
    if fmt == "ris":
        return to_ris(works)
    if fmt == "csl-json":
        return json.dumps(to_csl(works), ensure_ascii=False, indent=1) + "\n"
    if fmt in ("gbt7714", "apa"):
        return "".join(f"[{i}] {format_reference(b, fmt)}\n" for i, (_, b) in enumerate(works, 1))
    raise InvalidInputError(f"unknown format {fmt!r}; use one of: {', '.join(EXPORT_FORMATS)}")
