"""Layout-aware PDF reading (see ``reader``): line segments from character boxes, columns and reading
order, running headers and footers found by fuzzy repetition, footnotes, OCR of pages without text."""

from rag.ingest.pdf.reader import read_pdf
from rag.ingest.pdf.records import PdfPage, Segment

__all__ = ["PdfPage", "Segment", "read_pdf"]
