"""Which sources an index build reads: the files under the paths and a library's attachments, each with
its library record; files unchanged since the current index (same bytes, same record) are not read again."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.index.store.layout import DocInfo, Progress
from rag.index.store.sidecar import with_edit
from rag.ingest.cleaning import clean_document
from rag.ingest.dedupe import NEAR_TEXT, Duplicate, Fingerprint, find_duplicate, fingerprint
from rag.ingest.library import Library, with_ids
from rag.ingest.loading import SkipFile, Skipped, SourceFile, discover, read_source, require_documents
from rag.ingest.metadata import describe, merge
from rag.ingest.pdf_guard import PdfLimits
from rag.records import Bib, Document

if TYPE_CHECKING:
    from rag.index.store.reader import StoredIndex

Found = tuple[str, str, SourceFile | str, Bib]  # (doc_id, absolute path, the source or, unchanged, its sha256,
# the library's record of it)


def scan(
    paths: Sequence[str | Path],
    old_docs: Sequence[DocInfo],
    ids_of: Sequence[DocInfo],
    library: Library,
    sticky: bool = True,
    progress: Progress | None = None,
    limits: PdfLimits = PdfLimits(),
    edits: dict[str, Bib] | None = None,
    refresh: Collection[str] = (),
) -> tuple[list[Found], list[Skipped]]:
    """(doc_id, absolute path, SourceFile or sha256, library record) per readable file of ``paths`` and of
    the library: a file whose bytes hash to the sha256 of a reusable document (``old_docs``) with the same
    library record is not decoded again (its sha256 string stands in for the source). Files of ``ids_of``
    keep their document ids, however the paths are given, and (``sticky``) their library record when no
    library names them now. The user's ``edits`` (rag/index/store/sidecar.py) go over the library record; the
    documents of ``refresh`` are read again even when unchanged; ``limits`` bound what a PDF may cost."""
    edits = edits or {}
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
        lib = with_edit(edits.get(doc_id), lib)
        if doc_id in known and lib == known[doc_id].library and doc_id not in refresh:
            try:
                sha = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                sha = None
            if sha == known[doc_id].sha256:
                out.append((doc_id, str(path.resolve()), sha, lib))
                continue
        try:
            out.append((doc_id, str(path.resolve()), read_source(path, doc_id, progress, limits), lib))
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
        lib = merge(lib, library.lookup(src.path, own.bib.doi, own.bib.title))  # an edited year stays
    return describe(doc, src.text, src.pdf, lib, src.layout)


def _old_fingerprint(old: "StoredIndex", i: int, read_text: bool = True) -> Fingerprint:
    """A stored document's fingerprint: its record, and (``read_text``) its text from its passages (their
    overlaps add no new shingles; the length compared is the cleaned text's, from docs.json)."""
    info = old.docs[i]
    seg = old.segments[old.doc_segment(i)]
    a, b = old.doc_range(i)
    text = "\n".join(seg.store[j].text for j in range(a, b)) if read_text else ""
    fp = fingerprint(info.bib.doi, info.bib.title or info.title, info.bib.year, text)
    return Fingerprint(fp.doi, fp.title, fp.year, fp.signature, info.n_chars)


def duplicates(found: list[Found], cleaned: dict[str, Document], old: "StoredIndex | None") -> list[Duplicate]:
    """New documents of this build (not in ``old``) that are the same work as a document kept before them:
    one of ``old`` still found, or one earlier in ``found`` (same DOI, same title and year, or
    near-identical text)."""
    old_pos = {d.doc_id: i for i, d in enumerate(old.docs)} if old else {}
    new = [d for d in cleaned if d not in old_pos]
    if not new:
        return []
    known: list[tuple[str, Fingerprint]] = []
    out: list[Duplicate] = []
    sizes = [len(cleaned[d].text) for d in new]
    # documents already indexed first: a new copy never pushes out the document it copies
    for doc_id, where, _, _ in sorted(found, key=lambda f: f[0] in new):
        if doc_id in cleaned:
            d = cleaned[doc_id]
            fp = fingerprint(d.bib.doi, d.bib.title or d.title, d.bib.year, d.text)
        elif old is not None and doc_id in old_pos:
            # only a document about as long as a new one can have near-identical text: read no other
            n = old.docs[old_pos[doc_id]].n_chars
            fp = _old_fingerprint(old, old_pos[doc_id], any(NEAR_TEXT * n <= m and NEAR_TEXT * m <= n for m in sizes))
        else:
            continue
        hit = find_duplicate(fp, known) if doc_id in new else None
        if hit:
            out.append(Duplicate(doc_id, *hit, path=where))
        else:
            known.append((doc_id, fp))
    return out
