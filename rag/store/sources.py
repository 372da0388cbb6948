"""Which sources an index build reads: the files under the paths and a library's attachments, each with
its library record; files unchanged since the current index (same bytes, same record) are not read again."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from rag.cleaning import clean_document
from rag.library import Library, with_ids
from rag.loading import SkipFile, Skipped, SourceFile, discover, read_source, require_documents
from rag.metadata import describe
from rag.records import Bib, Document
from rag.store.layout import DocInfo, Progress

Found = tuple[str, str, SourceFile | str, Bib]  # (doc_id, absolute path, the source or, unchanged, its sha256,
# the library's record of it)


def scan(
    paths: Sequence[str | Path],
    old_docs: Sequence[DocInfo],
    ids_of: Sequence[DocInfo],
    library: Library,
    sticky: bool = True,
    progress: Progress | None = None,
) -> tuple[list[Found], list[Skipped]]:
    """(doc_id, absolute path, SourceFile or sha256, library record) per readable file of ``paths`` and of
    the library: a file whose bytes hash to the sha256 of a reusable document (``old_docs``) with the same
    library record is not decoded again (its sha256 string stands in for the source). Files of ``ids_of``
    keep their document ids, however the paths are given, and (``sticky``) their library record when no
    library names them now."""
    known = {d.doc_id: d for d in old_docs}
    before = {d.doc_id: d for d in ids_of}
    files, skipped = discover(paths, {d.path: d.doc_id for d in ids_of})
    skipped = [s for s in skipped if str(Path(s.path).resolve()) not in library.sources] + library.skipped
    library = with_ids(library, {doc_id for _, doc_id in files} - {d.doc_id for d in ids_of})
    listed = {str(p.resolve()) for p, _ in files}
    by_path = {d.path: d.doc_id for d in ids_of}
    for f in library.files:
        if str(f.path.resolve()) not in listed:
            files.append((f.path, by_path.get(str(f.path.resolve()), f.doc_id)))
    out: list[Found] = []
    for path, doc_id in files:
        prev = before.get(doc_id)
        lib = library.lookup(path, prev.bib.doi, prev.bib.title) if prev else library.lookup(path)
        if prev and sticky and not (lib.title or lib.authors or lib.doi):
            lib = prev.library  # a library's record stays with its document until a library says otherwise
        if doc_id in known and lib == known[doc_id].library:
            try:
                sha = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                sha = None
            if sha == known[doc_id].sha256:
                out.append((doc_id, str(path.resolve()), sha, lib))
                continue
        try:
            out.append((doc_id, str(path.resolve()), read_source(path, doc_id, progress), lib))
        except SkipFile as why:
            skipped.append(Skipped(str(path), str(why)))
    require_documents(paths or [str(f.path) for f in library.files], out, skipped)
    return out, skipped


def described(src: SourceFile, lib: Bib, library: Library) -> Document:
    """The cleaned document with its bibliographic record (a library entry matched by DOI or title when
    none names its file)."""
    doc = clean_document(src)
    if not (lib.title or lib.authors or lib.doi):
        own = describe(doc, src.text, src.pdf, layout=src.layout)
        lib = library.lookup(src.path, own.bib.doi, own.bib.title)
    return describe(doc, src.text, src.pdf, lib, src.layout)
