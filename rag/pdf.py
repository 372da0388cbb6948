"""Page-aware PDF reading: kept as the old import path of ``rag.ingest.pdf`` (read_pdf, PdfPage, Segment)."""

from __future__ import annotations

from rag.ingest.pdf import PdfPage, Segment, read_pdf
from rag.ingest.pdf.reader import Progress

__all__ = ["PdfPage", "Progress", "Segment", "read_pdf"]
