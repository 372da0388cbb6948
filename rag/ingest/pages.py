"""Reading a PDF page by page: ``rag.ingest.pdf``'s layout-aware reader with the OCR of pages without
a usable text layer (``rag.ingest.ocr``) wired in; also the old import path of PdfPage and Segment."""

from __future__ import annotations

from rag.ingest.pdf import PdfPage, Segment
from rag.ingest.pdf import read_pdf as _read_pdf
from rag.ingest.pdf.reader import Progress

__all__ = ["PdfPage", "Progress", "Segment", "read_pdf"]


def read_pdf(
    data: bytes, progress: Progress | None = None, max_pixels: int | None = None, notes: list[str] | None = None
) -> list[PdfPage]:
    """Every page of a PDF as lines in reading order; pages without a text layer are OCR'd (rendered under
    ``max_pixels``; a page rendered smaller is told in ``notes``)."""
    from rag.ingest.ocr import ocr_pages

    return _read_pdf(data, progress, max_pixels, notes, ocr_pages)
