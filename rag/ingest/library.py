"""Libraries a scholar already keeps: a Zotero data directory (rag/ingest/zotero.py reads it) and BibTeX/BibLaTeX
or CSL-JSON files that map documents to bibliographic records; and the lookup of a document's record."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.errors import InvalidInputError
from rag.ingest.bibtex import Failed, read_entries, split_names
from rag.ingest.loading import Skipped
from rag.ingest.metadata import clean_doi
from rag.ingest.zotero import read_items, year_of
from rag.records import Bib, Person

BibProgress = Callable[[str, int, int], None]  # (stage, done, total)

BIBTEX_TYPES = {
    "article": "article-journal",
    "book": "book",
    "inbook": "chapter",
    "incollection": "chapter",
    "inproceedings": "paper-conference",
    "conference": "paper-conference",
    "phdthesis": "thesis",
    "mastersthesis": "thesis",
    "thesis": "thesis",
    "techreport": "report",
    "report": "report",
    "online": "webpage",
}


@dataclass(frozen=True)
class LibraryFile:
    """An attachment a library points at: the file, the document id it gets, and the item's record."""

    path: Path
    doc_id: str
    bib: Bib


@dataclass
class Library:
    """What libraries add to an index: files to index (Zotero attachments), records for files found in
    folders (matched by path, citation key = file name, DOI or title), and the library files themselves."""

    files: list[LibraryFile] = field(default_factory=list)
    entries: list[tuple[Bib, tuple[str, ...]]] = field(default_factory=list)  # (record, file paths it names)
    sources: set[str] = field(default_factory=set)  # .bib / .json files read (not documents to index)
    skipped: list[Skipped] = field(default_factory=list)

    def lookup(self, path: str | Path, doi: str = "", title: str = "") -> Bib:
        """The record for a document: the library file's own, an entry naming the file (or its name),
        one whose key is the file name, else one with the same DOI or title; the empty record if none."""
        p = Path(path)
        for f in self.files:
            if str(f.path.resolve()) == str(p.resolve()):
                return f.bib
        for how in (
            lambda b, fs: str(p.resolve()) in fs,
            lambda b, fs: p.name in {Path(f).name for f in fs},
            lambda b, fs: bool(b.key) and b.key == p.stem,
            lambda b, fs: bool(doi) and b.doi.lower() == doi.lower(),
            lambda b, fs: bool(title) and _norm(b.title) == _norm(title),
        ):
            for bib, files in self.entries:
                if how(bib, files):
                    return bib
        return Bib()


def _norm(title: str) -> str:
    return re.sub(r"\W+", "", title).casefold()


def read_zotero(data_dir: str | Path, collection: str | None = None) -> Library:
    """Every item of a Zotero data directory with a readable attachment, with its metadata and collections
    (see rag/ingest/zotero.py); ``collection`` (a name, its subcollections included) narrows it."""
    files, skipped = read_items(data_dir, collection)
    return Library(files=[LibraryFile(p, doc_id, bib) for p, doc_id, bib in files], skipped=skipped)


# --- BibTeX / BibLaTeX and CSL-JSON ------------------------------------------------------------------


def read_bib_file(path: str | Path, progress: BibProgress | None = None) -> Library:
    """The entries of a .bib (BibTeX or BibLaTeX; ``file`` fields as Zotero, Better BibTeX and JabRef write
    them) or CSL-JSON file; an entry that cannot be parsed is reported, the rest are read.
    ``progress(stage, done, total)`` follows a large .bib (characters read)."""
    p = Path(path)
    try:
        text = p.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {p} ({exc}); give a UTF-8 .bib or CSL-JSON file") from None
    lib = Library(sources={str(p.resolve())})
    if p.suffix.lower() == ".json":
        lib.entries, lib.skipped = _csl_entries(p, text)
        return lib
    tick = (lambda done, total: progress(f"reading {p.name}", done, total)) if progress else None
    base = p.parent.resolve()
    for e in read_entries(text, tick):
        if isinstance(e, Failed):
            lib.skipped.append(Skipped(f"{p} line {e.line}", "BibTeX entry cannot be parsed; fix it"))
            continue
        f = e.fields
        names = f.get("author") or f.get("editor") or ""
        bib = Bib(
            type=BIBTEX_TYPES.get(e.type, "webpage" if f.get("url") else "document"),
            title=_s(f.get("title")),
            authors=split_names(names),
            year=year_of(_s(f.get("year") or f.get("date"))),
            journal=_s(f.get("journal") or f.get("journaltitle") or f.get("booktitle")),
            volume=_s(f.get("volume")),
            issue=_s(f.get("number") or f.get("issue")),
            pages=_s(f.get("pages")).replace("--", "-").replace("–", "-"),
            doi=clean_doi(_s(f.get("doi"))),
            url=_s(f.get("url")),
            publisher=_s(f.get("publisher") or f.get("school") or f.get("institution")),
            place=_s(f.get("address") or f.get("location")),
            key=e.key,
            source="bibtex",
        )
        lib.entries.append((bib, tuple(_bib_files(_s(f.get("file")), base)) if f.get("file") else ()))
    return lib


def _s(v: object) -> str:
    """A field as one line of text: a list's items joined (CSL-JSON titles are sometimes lists), an object
    (not text) as nothing."""
    if isinstance(v, (list, tuple)):
        v = " ".join(_s(x) for x in v)
    if isinstance(v, dict) or isinstance(v, bool):
        return ""
    return " ".join(str(v).split()) if v else ""


def _bib_files(value: str, base: Path) -> list[str]:
    """Paths in a ``file`` field: "a.pdf", "desc:path:mime" (Zotero/JabRef), several joined by ';'
    (made absolute against ``base``, which the caller resolved: no file-system call per entry)."""
    out = []
    for part in re.split(r"(?<!\\);", value):
        bits = re.split(r"(?<!\\):", part.strip())
        if len(bits) >= 3 and not re.fullmatch(r"[A-Za-z]", bits[0]):
            bits = bits[1:-1]
        raw = ":".join(bits).replace("\\:", ":").replace("\\\\", "\\").strip()
        if raw:
            out.append(os.path.normpath(os.path.join(base, os.path.expanduser(raw))))
    return out


def _csl_entries(p: Path, text: str) -> tuple[list[tuple[Bib, tuple[str, ...]]], list[Skipped]]:
    """The records of a CSL-JSON file, read leniently (a year given as text, an author as a string); an
    item that still cannot be read is reported and left out, never the rest."""
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(f"{p} is not valid JSON ({exc}); give a CSL-JSON list of items") from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise InvalidInputError(f"{p} is not CSL-JSON (a list of items); export it again as CSL JSON")
    out, skipped = [], []
    for n, it in enumerate(items, start=1):
        try:
            if not isinstance(it, dict):
                raise TypeError("not an object")
            out.append(_csl_item(p, it))
        except (TypeError, ValueError, AttributeError, IndexError, KeyError) as exc:
            label = f"{p} item {n}" + (f" ({_s(it.get('id'))})" if isinstance(it, dict) and it.get("id") else "")
            skipped.append(Skipped(label, f"CSL-JSON item cannot be read ({exc}); fix it"))
    return out, skipped


def _csl_year(issued: object) -> str:
    """The year of a CSL date: {"date-parts": [[2020, 3]]}, {"raw": ...}, {"literal": ...}, or (lenient)
    a string or number."""
    if isinstance(issued, dict):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            return year_of(str(parts[0][0]))
        text = " ".join(str(issued.get(k) or "") for k in ("raw", "literal", "season")).strip()
        return year_of(text or str(parts or ""))
    if isinstance(issued, list):
        return year_of(" ".join(map(str, issued)))
    return year_of(str(issued or ""))


def _csl_person(a: object) -> Person | None:
    if isinstance(a, str):
        return Person(_s(a)) if a.strip() else None
    if not isinstance(a, dict):
        return None
    if a.get("literal"):
        return Person(_s(a["literal"]))
    family, given = _s(a.get("family")), _s(a.get("given"))
    return Person(family, given) if family or given else None


def _csl_item(p: Path, it: dict) -> tuple[Bib, tuple[str, ...]]:
    names = it.get("author") or it.get("editor") or []
    names = names if isinstance(names, list) else [names]
    bib = Bib(
        type=_s(it.get("type")),
        title=_s(it.get("title")),
        authors=tuple(a for a in map(_csl_person, names) if a),
        year=_csl_year(it.get("issued")),
        journal=_s(it.get("container-title")),
        volume=_s(it.get("volume")),
        issue=_s(it.get("issue")),
        pages=_s(it.get("page")).replace("–", "-"),
        doi=clean_doi(_s(it.get("DOI"))),
        url=_s(it.get("URL")),
        publisher=_s(it.get("publisher")),
        place=_s(it.get("publisher-place")),
        key=_s(it.get("id")),
        source="csl-json",
    )
    files = it.get("file") or []
    files = [files] if isinstance(files, str) else files if isinstance(files, list) else []
    return bib, tuple(str((p.parent / f).resolve()) for f in files if isinstance(f, str))


def _is_csl(path: Path) -> bool:
    try:
        data = json.loads(path.read_text("utf-8-sig"))
    except (OSError, ValueError):
        return False
    # CSL-JSON as Zotero and Better BibTeX export it: a list of items with ids (a malformed item among
    # them is reported when read, the file is still a library)
    return (
        isinstance(data, list) and bool(data) and sum(isinstance(i, dict) and "id" in i for i in data) > len(data) / 2
    )


def open_library(
    paths: Sequence[str | Path],
    bib: Sequence[str | Path] = (),
    zotero: str | Path | None = None,
    collection: str | None = None,
    progress: BibProgress | None = None,
) -> Library:
    """Everything the libraries say: a Zotero data directory (``collection`` narrowing it), the .bib and
    CSL-JSON files given, and those at the top of each folder in ``paths``; ``progress`` follows large .bib
    files."""
    if collection is not None and zotero is None:
        raise InvalidInputError("--collection narrows a Zotero library; give it with --zotero DIR")
    lib = read_zotero(zotero, collection) if zotero is not None else Library()
    found = [Path(b) for b in bib]
    for raw in paths:
        folder = Path(raw)
        if folder.is_dir():
            found += sorted(f for f in folder.iterdir() if f.suffix.lower() == ".bib" and f.is_file())
            found += sorted(f for f in folder.iterdir() if f.suffix.lower() == ".json" and f.is_file() and _is_csl(f))
    for f in found:
        if not f.is_file():
            raise InvalidInputError(f"no bibliography file {f}; give a .bib or CSL-JSON .json file")
        got = read_bib_file(f, progress)
        lib.entries += got.entries
        lib.sources |= got.sources
        lib.skipped += got.skipped
    return lib


def with_ids(lib: Library, taken: set[str]) -> Library:
    """The library with its files' document ids made unique against ``taken`` (ids already in use)."""
    files = []
    for f in lib.files:
        doc_id, n = f.doc_id, 2
        while doc_id in taken:
            doc_id = f"{f.doc_id}~{n}"
            n += 1
        taken.add(doc_id)
        files.append(replace(f, doc_id=doc_id))
    return replace(lib, files=files)
