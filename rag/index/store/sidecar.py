"""Metadata the user edited (title, authors, year per document), kept in a JSON file beside the index
(``index/NAME.metadata.json``), outside the directory a build swaps, so an update or a ``--force``
rebuild keeps it, and applied to the document at every build.

Which record wins, field by field: the user's edit, then a library's record (Zotero, .bib, CSL-JSON),
then the PDF's own metadata, then what the first page says, then what the cleaner found. So a library
record overrides the PDF's metadata only where the user did not edit the field."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from rag.errors import InvalidInputError
from rag.ingest.metadata import parse_name, split_names
from rag.records import Bib
from rag.settings import Settings

EDIT_SOURCE = "edit"


def sidecar_path(settings: Settings) -> Path:
    """The edits file of the configured index: beside its directory, named after it."""
    index = settings.index_path
    return index.parent / f"{index.name}.metadata.json"


def read_edits(settings: Settings) -> dict[str, Bib]:
    """The edited records by document id ({} when there is no edits file; an unreadable one is an error
    naming it, never silently ignored)."""
    path = sidecar_path(settings)
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {doc: _record(entry) for doc, entry in raw.items()}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidInputError(
            f"the metadata edits file {path} cannot be read ({type(exc).__name__}); fix or delete it"
        ) from None


def _record(entry: dict) -> Bib:
    authors = tuple(parse_name(a) for a in entry.get("authors", []) if str(a).strip())
    return Bib(
        title=str(entry.get("title", "")).strip(),
        authors=authors,
        year=str(entry.get("year", "")).strip(),
        source=EDIT_SOURCE,
    )


def save_edit(settings: Settings, doc_id: str, title: str, authors: str, year: str) -> Bib:
    """Record the user's title, authors (one string: "A; B", "张三，李四") and year for a document,
    atomically; empty fields are not edits (the other records give them). Returns the edit."""
    year = year.strip()
    if year and not (year.isdigit() and len(year) == 4):
        raise InvalidInputError(f"the year must be four digits, like 2021, not {year!r}")
    names = split_names(authors)
    path = sidecar_path(settings)
    current: dict = {}
    if path.is_file():
        read_edits(settings)  # an unreadable file is an error, not overwritten
        current = json.loads(path.read_text(encoding="utf-8"))
    entry = {k: v for k, v in (("title", " ".join(title.split())), ("authors", names), ("year", year)) if v}
    if entry:
        current[doc_id] = entry
    else:
        current.pop(doc_id, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(current, fh, ensure_ascii=False, indent=1)
    os.replace(tmp, path)
    return _record(entry)


def with_edit(edit: Bib | None, lib: Bib) -> Bib:
    """A library record with the user's edited fields put first (the library's source kept when it has
    one, so the document still shows where its record came from)."""
    if edit is None:
        return lib
    from dataclasses import fields

    out = {f.name: getattr(lib, f.name) for f in fields(Bib)}
    for name in ("title", "authors", "year"):
        if getattr(edit, name):
            out[name] = getattr(edit, name)
    out["source"] = lib.source or EDIT_SOURCE
    return Bib(**out)
