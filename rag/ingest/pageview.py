"""A cited PDF page as an image with the quoted sentence highlighted: the page rendered with pypdfium2
(Apache-2.0/BSD), the boxes of the passage's lines that hold the quote taken from the index (boxes.json,
``rag.ingest.pdf.boxes``; OCR line boxes on a scanned page) or, for an index built before those were kept,
the quote found among the page's characters, and a translucent mark drawn over them with Pillow."""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.ingest.pdf.boxes import LineSpan, keyed, quote_lines
from rag.ingest.pdf_guard import PdfLimits, raster_scale

VIEW_SCALE = 2.0  # pixels per point: 144 dpi, sharp enough to read a paper's body text
MIN_MATCH = 6  # characters of the quote that must be found on a page to mark anything
_HIGHLIGHT = (255, 214, 0, 110)

Box = tuple[float, float, float, float]  # x0, top, x1, bottom in points


@dataclass(frozen=True)
class PageView:
    """A rendered page: the image, its page number, and how many of the quote's characters are marked."""

    image: Any  # PIL.Image
    page: int
    marked: int
    boxes: tuple[Box, ...] = ()
    stored: bool = False  # the boxes came from the index (boxes.json), not from searching the page


def _key(ch: str) -> str:
    """A character as compared: NFKC, no spaces, hyphens or footnote circles."""
    k = unicodedata.normalize("NFKC", ch)
    return "" if k.isspace() or k in "-\u00ad" or "\u2460" <= ch <= "\u24ff" else k


def _keyed(chars: list[tuple[str, Box]]) -> tuple[str, list[Box]]:
    text, boxes = [], []
    for ch, box in chars:
        for k in _key(ch):
            text.append(k)
            boxes.append(box)
    return "".join(text), boxes


def page_chars(pdf: Path, index: int) -> list[tuple[str, Box]]:
    """The characters of a page (from 0) with their boxes, in reading order; OCR'd when it has no text."""
    import pdfplumber

    with pdfplumber.open(pdf) as doc:
        chars = doc.pages[index].chars
        if any(c["text"].strip() for c in chars):
            return [(c["text"], (c["x0"], c["top"], c["x1"], c["bottom"])) for c in chars if c["text"].strip()]
    from rag.ingest.ocr import ocr_pages

    segs, _ = ocr_pages(pdf.read_bytes(), [index])[index]
    out: list[tuple[str, Box]] = []
    for s in segs:  # a line's box shared out evenly among its characters
        step = (s.x1 - s.x0) / max(1, len(s.text))
        out += [(ch, (s.x0 + i * step, s.top, s.x0 + (i + 1) * step, s.bottom)) for i, ch in enumerate(s.text)]
    return out


def find_quote(chars: list[tuple[str, Box]], quote: str) -> list[Box]:
    """Boxes of the longest start of ``quote`` found on the page (at least MIN_MATCH characters)."""
    text, boxes = _keyed(chars)
    target = "".join(_key(ch) for ch in quote)
    for n in range(len(target), MIN_MATCH - 1, -1):
        at = text.find(target[:n])
        if at >= 0:
            return boxes[at : at + n]
    return []


def _lines(boxes: list[Box]) -> list[Box]:
    """Character boxes merged into one rectangle per line."""
    out: list[list[float]] = []
    for x0, top, x1, bottom in boxes:
        last = out[-1] if out else None
        if last and abs(top - last[1]) < 0.5 * (bottom - top) and x0 >= last[0] - 1:
            last[2], last[3] = max(last[2], x1), max(last[3], bottom)
        else:
            out.append([x0, top, x1, bottom])
    return [(a, b, c, d) for a, b, c, d in out]


def stored_marks(text: str, quote: str, spans: list[LineSpan]) -> tuple[int, list[Box], int] | None:
    """From a passage's stored line boxes (boxes.json): the page holding most of the quote's lines, their
    boxes and how many of the quote's characters they hold; None when the quote is not in stored lines."""
    held = quote_lines(text, quote, spans)
    if not held:
        return None
    pages = Counter(s[0] for s in held)
    page = max(pages, key=lambda p: (pages[p], -p))
    qk = len(keyed(quote)[0])
    return page, [(s[1], s[2], s[3], s[4]) for s in held if s[0] == page], qk


def render_page(
    pdf: Path,
    pages: str,
    quote: str,
    scale: float = VIEW_SCALE,
    text: str = "",
    spans: list[LineSpan] | None = None,
) -> PageView:
    """The page of ``pages`` ("12" or "12-13") holding most of ``quote``, rendered with the quote marked:
    the boxes of the lines holding it from the index (``spans`` of the passage ``text``, boxes.json), or,
    for an index built before boxes were kept, the quote searched among the page's characters."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    marks = stored_marks(text, quote, spans) if spans and quote else None
    if marks is not None:
        page, rects, marked = marks
    else:
        lo, _, hi = pages.partition("-")
        first, last = int(lo), int(hi or lo)
        best: tuple[int, list[Box]] = (first, [])
        for p in range(first, last + 1):
            found = find_quote(page_chars(pdf, p - 1), quote) if quote else []
            if len(found) > len(best[1]):
                best = (p, found)
        page, boxes = best
        rects, marked = _lines(boxes), len(boxes)
    doc = pdfium.PdfDocument(str(pdf))
    try:
        w, h = doc[page - 1].get_size()
        # a huge page would take gigabytes at the usual scale: rendered under the OCR pixel cap
        scale = raster_scale(w, h, scale * 72, PdfLimits().ocr_max_pixels)
        image = doc[page - 1].render(scale=scale).to_pil().convert("RGBA")
    finally:
        doc.close()
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for x0, top, x1, bottom in rects:
        draw.rectangle([x0 * scale - 2, top * scale - 2, x1 * scale + 2, bottom * scale + 2], fill=_HIGHLIGHT)
    return PageView(Image.alpha_composite(image, overlay).convert("RGB"), page, marked, tuple(rects), marks is not None)
