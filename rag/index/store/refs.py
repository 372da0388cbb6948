"""references.json: every document's parsed reference entries and the citation graph's edges, written
with each generation of the index (new documents' entries from their text, unchanged ones' carried
over), so the graph is current after every build, update and removal; recorded in params.json's
manifest like the other files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import InvalidInputError
from rag.index.store.layout import DocInfo
from rag.ingest.references.graph import Work, build_edges, graph, outside_key
from rag.ingest.references.parse import Reference
from rag.ingest.references.record import is_work
from rag.records import Bib

if TYPE_CHECKING:
    from rag.index.store.writer import Part

REFERENCES = "references.json"


def read_references(path: Path) -> dict:
    """{"docs": {doc_id: [entry dicts]}, "marks": {doc_id: [[offset, n]]}, "edges": [...]} of the index at
    ``path`` (empty when it has none: indexes written before references were kept)."""
    f = path / REFERENCES
    if not f.is_file():
        return {"docs": {}, "marks": {}, "edges": []}
    return json.loads(f.read_text("utf-8"))


def work_of(info: DocInfo) -> Work:
    """What the citation graph knows of a document: title, authors, year, DOI."""
    authors = info.authors or tuple(p.full() for p in info.bib.authors)
    return Work(info.doc_id, info.bib.title or info.title, tuple(authors), info.bib.year, info.bib.doi)


def write_references(directory: Path, parts: list["Part"], old_path: Path | None) -> dict:
    """Write references.json for ``parts`` into ``directory``; returns its content."""
    old = read_references(old_path) if old_path is not None else {}
    docs: dict[str, list[dict]] = {}
    marks: dict[str, list] = {}
    for p in parts:
        d = p.info.doc_id
        if p.old is not None:
            entries, at = old.get("docs", {}).get(d, []), old.get("marks", {}).get(d, [])
        else:
            entries, at = [r.to_dict() for r in (p.refs or [])], [list(m) for m in p.ref_marks]
        if entries:
            docs[d] = entries
        if at:
            marks[d] = at
    refs = {d: [Reference.from_dict(e) for e in es] for d, es in docs.items()}
    edges = build_edges([work_of(p.info) for p in parts], refs)
    content = {"docs": docs, "marks": marks, "edges": edges}
    (directory / REFERENCES).write_text(json.dumps(content, ensure_ascii=False), "utf-8")
    return content


def reference_counts(content: dict) -> dict:
    """Counts for `rag info`: entries, documents with a list, edges inside the library and outside."""
    edges = content.get("edges", [])
    return {
        "entries": sum(len(v) for v in content.get("docs", {}).values()),
        "documents_with_references": len(content.get("docs", {})),
        "citations_within_library": sum(1 for e in edges if e.get("internal")),
        "citations_outside": sum(1 for e in edges if not e.get("internal")),
    }


def document_references(content: dict, docs: Mapping[str, DocInfo], doc: str) -> list[dict]:
    """The parsed entries of one document's reference list, each with ``target`` (the library document
    it names) when it names one; InvalidInputError naming the fix for a document not in the index."""
    if doc not in docs:
        raise InvalidInputError(f"no document {doc!r} in the index; `rag info` lists the documents")
    targets = {str(e["n"]): e["target"] for e in content.get("edges", []) if e["source"] == doc and e["internal"]}
    out = []
    for e in content.get("docs", {}).get(doc, []):
        d = dict(e)
        if str(e.get("n")) in targets:
            d["target"] = targets[str(e["n"])]
        out.append(d)
    return out


def citation_graph(content: dict, docs: Mapping[str, DocInfo]) -> dict:
    """{"nodes": [...], "edges": [...]} of the whole index (rag.ingest.references.graph.graph)."""
    refs = {d: [Reference.from_dict(e) for e in es] for d, es in content.get("docs", {}).items()}
    return graph([work_of(i) for i in docs.values()], refs, content.get("edges", []))


def cited_works(content: dict, doc: str | None = None) -> list[tuple[str, Bib]]:
    """The works one document's list (or every list, each work once) names, as records for the exporters."""
    seen: set[str] = set()
    out: list[tuple[str, Bib]] = []
    for d, entries in content.get("docs", {}).items():
        if doc is not None and d != doc:
            continue
        for e in entries:
            r = Reference.from_dict(e)
            key = outside_key(r)
            if key not in seen and is_work(bib := r.to_bib()):
                seen.add(key)
                out.append((d, bib))
    return out
