"""Editing an index by document: remove documents, or add documents that arrive with their vectors and
tokens (importers, benchmarks); written as a segment update when it fits (``rag.index.store.update``), else in
full, atomically either way."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rag.errors import InvalidInputError
from rag.index.dense import backend_for, backend_of
from rag.index.store.builder import Precomputed, _assemble, _updating
from rag.index.store.layout import BuildReport, Progress
from rag.index.store.reader import StoredIndex
from rag.index.store.update import segment_fits, write_generation
from rag.index.store.writer import Part
from rag.settings import Settings


def remove_documents(doc_ids: Sequence[str], settings: Settings, progress: Progress | None = None) -> BuildReport:
    """Drop documents from ``settings.index_path`` (atomically, nothing else recomputed)."""
    t0 = time.perf_counter()
    target = settings.index_path
    report = BuildReport(path=target)
    with _updating(target, settings, strict=True) as old:
        assert old is not None  # strict: an index that cannot be reused raises instead
        _remove(doc_ids, old, settings, report, progress)
    report.seconds = time.perf_counter() - t0
    return report


def _remove(
    doc_ids: Sequence[str], old: "StoredIndex", settings: Settings, report: BuildReport, progress: Progress | None
) -> None:
    target = settings.index_path
    d = old.params["dense"]  # removing keeps the index's own dense configuration
    settings = settings.model_copy(
        update={
            "backend": d["backend"],
            "dense_index": d.get("requested", d["kind"]),
            **backend_of(target, old.params).keep_place(old.params, settings),
        }
    )
    known = {d.doc_id: i for i, d in enumerate(old.docs)}
    unknown = [d for d in doc_ids if d not in known]
    if unknown:
        sample = ", ".join(list(known)[:3])
        raise InvalidInputError(
            f"no document '{unknown[0]}' in index '{target.name}' (it has e.g. {sample}); "
            f"list them with: rag info --index {target.name}"
        )
    gone = set(doc_ids)
    if gone >= set(known):
        raise InvalidInputError(
            f"removing every document would leave index '{target.name}' empty; delete the folder {target} instead"
        )
    parts = [
        Part(d, old=old.doc_range(i), seg=old.doc_segment(i)) for i, d in enumerate(old.docs) if d.doc_id not in gone
    ]
    report.removed = [d for d in known if d in gone]
    report.documents, report.reused = len(parts), len(parts)
    report.chunks = sum(p.n_chunks for p in parts)
    if segment_fits(old, parts, settings):
        write_generation(target, parts, old, settings, report, progress)
        return
    _assemble(target, parts, old, settings, None, report, progress)


def add_documents(
    new: list[Part], settings: Settings, embedder: Precomputed, progress: Progress | None = None
) -> BuildReport:
    """Add documents given with their vectors and tokens to ``settings.index_path`` (a document whose id
    is already there is replaced in its place; new ones come last), atomically."""
    backend_for(settings)
    t0 = time.perf_counter()
    target = settings.index_path
    report = BuildReport(path=target)
    with _updating(target, settings, strict=True) as old:
        assert old is not None  # strict: an index that cannot be reused raises instead
        by_id = {p.info.doc_id: p for p in new}
        parts = [
            by_id.pop(d.doc_id) if d.doc_id in by_id else Part(d, old=old.doc_range(i), seg=old.doc_segment(i))
            for i, d in enumerate(old.docs)
        ]
        parts += list(by_id.values())
        report.added = [p.info.doc_id for p in new if p.info.doc_id not in {d.doc_id for d in old.docs}]
        report.updated = [p.info.doc_id for p in new if p.info.doc_id not in report.added]
        report.documents, report.chunks = len(parts), sum(p.n_chunks for p in parts)
        if segment_fits(old, parts, settings):
            write_generation(target, parts, old, settings, report, progress)
        else:
            _assemble(target, parts, old, settings, embedder, report, progress)
    report.seconds = time.perf_counter() - t0
    return report
