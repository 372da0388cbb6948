"""boxes.json: for each passage of a PDF, the page boxes of the lines its text came from (matched by
``rag.ingest.pdf.boxes``), so a cited quote is marked on its page from the index, not by searching the
page. Written with each generation of the index (new documents' boxes from their reader lines, unchanged
ones' carried over, removed ones dropped) and recorded in params.json's manifest like the other files.

Layout: {"version": 1, "docs": {doc_id: {chunk_id: [[page, x0, top, x1, bottom, start, end], ...]}}}:
boxes in points from the page's top-left corner (0.1 pt), start/end the line's span in the passage text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from rag.ingest.pdf.boxes import LineSpan, passage_lines
from rag.records import Chunk, Document

if TYPE_CHECKING:
    from rag.index.store.writer import Part

BOXES = "boxes.json"
VERSION = 1


def document_boxes(doc: Document, chunks: list[Chunk]) -> dict[str, list[list]]:
    """chunk_id -> its lines' [page, x0, top, x1, bottom, start, end] for a PDF's passages with pages."""
    out: dict[str, list[list]] = {}
    if not doc.lines:
        return out
    for c in chunks:
        spans = passage_lines(c.text, c.page, doc.lines)
        if spans:
            out[c.chunk_id] = [_compact(s) for s in spans]
    return out


def _compact(s: LineSpan) -> list:
    page, x0, top, x1, bottom, a, b = s
    return [page, round(x0, 1), round(top, 1), round(x1, 1), round(bottom, 1), a, b]


def read_boxes(path: Path) -> dict[str, dict[str, list[list]]] | None:
    """doc_id -> chunk_id -> line entries of the index at ``path``; None when it has no boxes.json (built
    before boxes were kept: the page view then searches the page)."""
    f = path / BOXES
    if not f.is_file():
        return None
    return json.loads(f.read_text("utf-8"))["docs"]


def passage_boxes(stored: dict[str, dict[str, list[list]]], chunk_id: str) -> list[LineSpan]:
    """The stored lines of one passage (empty when none were kept for it)."""
    doc = chunk_id.rsplit("#", 1)[0]
    return [tuple(e) for e in stored.get(doc, {}).get(chunk_id, [])]


def write_boxes(directory: Path, parts: list["Part"], old_path: Path | None) -> None:
    """Write boxes.json for ``parts`` into ``directory``: new documents' boxes, carried ones' from the
    index at ``old_path``."""
    old = (read_boxes(old_path) if old_path is not None else None) or {}
    docs: dict[str, dict[str, list[list]]] = {}
    for p in parts:
        d = p.info.doc_id
        boxes = old.get(d, {}) if p.old is not None else p.boxes
        if boxes:
            docs[d] = boxes
    text = json.dumps({"version": VERSION, "docs": docs}, ensure_ascii=False, separators=(",", ":"))
    (directory / BOXES).write_text(text, "utf-8")
