"""Records of a read PDF page: positioned text segments and the page's lines in reading order."""

from __future__ import annotations

from dataclasses import dataclass

from rag.records import Table


@dataclass(frozen=True)
class Segment:
    """A run of text on one line of a page, with its box in points from the top-left corner;
    ``weight`` is the font weight (700 bold, 400 regular, 0 unknown)."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    weight: int = 0


@dataclass(frozen=True)
class PdfPage:
    """One page's text lines in reading order ('' where the layout leaves a gap), footnotes last;
    ``ocr`` is the mean recognition confidence when the text came from OCR; ``furniture`` the lines
    removed as running headers, footers and page numbers; ``segments`` the page's lines with their
    boxes and type (for titles and headings), in reading order; ``tables`` its captioned tables."""

    number: int
    lines: tuple[str, ...]
    ocr: float | None = None
    furniture: tuple[str, ...] = ()
    segments: tuple[Segment, ...] = ()
    size: tuple[float, float] = (0.0, 0.0)  # width and height in points
    tables: tuple[Table, ...] = ()  # captioned tables found on the page, their text not in ``lines``
    table_rows: tuple[Segment, ...] = ()  # the tables' lines (caption, rows), one segment per row, top to bottom
