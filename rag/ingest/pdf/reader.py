"""Reading a PDF page by page: characters and boxes from pypdfium2, lines in reading order (columns,
full-width lines, table rows), running headers and footers removed by fuzzy repetition across pages,
footnotes moved after the body; pages without a text layer, or whose fonts map much of their text to
nothing readable, are OCR'd (by the function ``rag.ingest.pages`` passes in: ``rag.ingest.ocr``) and read the same way.
Library warnings (pdfminer's, pypdf's) are kept off stderr while a PDF is read."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.ingest.pdf.chars import _circled, page_chars, segments
from rag.ingest.pdf.figures import find_figures
from rag.ingest.pdf.furniture import running_furniture
from rag.ingest.pdf.headings import body_type, heading_levels, numbered
from rag.ingest.pdf.layout import body_size, order, rows
from rag.ingest.pdf.records import PdfPage, Segment
from rag.ingest.pdf.relayer import prefer_layer
from rag.ingest.pdf.tables import find_tables
from rag.ingest.pdf_guard import quiet
from rag.records import Table

Progress = Callable[[int, int], None]  # (pages OCR'd, pages to OCR)
# (data, page indexes from 0, progress, pixel cap, notes) -> {index: (segments in points, confidence)}
OcrPages = Callable[
    [bytes, Sequence[int], Progress | None, int | None, list[str] | None], dict[int, tuple[list[Segment], float]]
]
_NOTE_LABEL = re.compile(r"^(\[(\d{1,2})\]|(\d{1,2})[.)]?\s)")
BOLD_WEIGHT = 600  # a heading over a page's foot notes is set at least this heavy (or larger than the body)
UNMAPPED_MIN = 20  # a page with at least this many characters its fonts map to no text ...
UNMAPPED_SHARE = 0.3  # ... making up this share of its characters is OCR'd instead


def page_lines(segs: list[Segment], headings: dict[int, int] | None = None) -> list[str]:
    """A page's lines in order ('' where the vertical gap is a paragraph break), then its footnotes:
    small-type lines below the last body line, a numeric label turned into a circled marker; the lines
    ``headings`` names (index: level) written as Markdown headings."""
    if not segs:
        return []
    size = body_size(segs)
    heads = {j for j in range(len(segs) - 1) if _notes_heading(segs[j], segs[j + 1], size)}
    last_body = max((s.bottom for j, s in enumerate(segs) if s.size >= 0.9 * size and j not in heads), default=0.0)
    foot = {j for j, s in enumerate(segs) if s.top >= last_body - 0.5 and s.size < 0.9 * size}
    # a heading over a block set small at the page's foot (a reference list under the columns) is read with it
    foot |= {j for j in heads if segs[j].top >= last_body - 0.5 and j + 1 in foot}
    notes = [s for j, s in enumerate(segs) if j in foot]
    body = [s for j, s in enumerate(segs) if j not in foot]
    pos = {id(s): j for j, s in enumerate(segs)}
    steps = [b.top - a.top for a, b in zip(body, body[1:]) if 0 < b.top - a.top < 3 * a.size]
    leading = sorted(steps)[len(steps) // 2] if steps else size * 1.4
    lines: list[str] = []
    for i, s in enumerate(body):
        if i:
            gap = s.top - body[i - 1].top
            if gap > 1.6 * leading:
                lines += [""] * min(3, round(gap / leading) - 1)
        level = (headings or {}).get(pos[id(s)], 0)
        lines.append(f"{'#' * level} {s.text}" if level else s.text)
    for s in notes:
        if s.size >= 0.9 * size:  # the notes block's heading
            level = (headings or {}).get(pos[id(s)], 0)
            lines += ["", f"{'#' * level} {s.text}" if level else s.text]
            continue
        m = _NOTE_LABEL.match(s.text)
        note = _circled(m.group(2) or m.group(3)) + s.text[m.end() :].lstrip() if m else s.text
        # an empty line before a note's first line: normalisation folds one line break before a circled marker
        lines += ["", note] if note[:1] in "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳" else [note]
    return lines


def _notes_heading(s: Segment, nxt: Segment, size: float) -> bool:
    """Whether a line is a heading set over small type that follows it (a reference list at a page's foot):
    short, in bold or larger type than the page's body, without a closing stop, the next line smaller."""
    heading = s.size >= 1.04 * size or (s.weight >= BOLD_WEIGHT > nxt.weight and s.size >= 0.9 * size)
    small = nxt.size < 0.9 * size and nxt.top > s.top
    return heading and small and len(s.text.strip()) <= 40 and s.text.rstrip()[-1:] not in ".。:：;；,，"


def read_pdf(
    data: bytes,
    progress: Progress | None = None,
    max_pixels: int | None = None,
    notes: list[str] | None = None,
    ocr: OcrPages | None = None,
) -> list[PdfPage]:
    """Every page of a PDF as lines in reading order; pages without a usable text layer are read by
    ``ocr`` (``rag.ingest.ocr.ocr_pages``: the OCR stage is wired in by ``rag.ingest.pages``, this package stays below
    it), rendered under ``max_pixels``, a page rendered smaller told in ``notes``."""
    import pypdfium2 as pdfium

    with quiet():
        doc = pdfium.PdfDocument(data)
        try:
            pages: list[list[Segment]] = []
            sizes: list[tuple[float, float]] = []
            garbled: set[int] = set()
            for i in range(len(doc)):
                page = doc[i]
                try:
                    sizes.append((float(page.get_width()), float(page.get_height())))
                    chars, unmapped = page_chars(page)
                    pages.append(segments(chars))
                    if unmapped >= UNMAPPED_MIN and unmapped > UNMAPPED_SHARE * (unmapped + len(chars)):
                        garbled.add(i)  # the text layer cannot be read: the page is read from its image
                finally:
                    page.close()
        finally:
            doc.close()
        conf: dict[int, float] = {}
        blank = [i for i, segs in enumerate(pages) if not segs or i in garbled]
        if blank and ocr is not None:
            for i, (segs, score) in ocr(data, blank, progress, max_pixels, notes).items():
                # a garbled page's readable lines are kept as its fonts spell them
                pages[i], conf[i] = (prefer_layer(segs, pages[i]) if i in garbled else segs), score
    tables: list[list[Table]] = []
    table_rows: list[list[Segment]] = []
    for i, segs in enumerate(pages):
        found, taken = find_tables(segs, i + 1) if i not in conf else ([], set())
        rest = [s for j, s in enumerate(segs) if j not in taken]
        # a figure's labels and caption leave the body text too, read as the figure's passage
        figures, drawn, boxes = find_figures(rest, i + 1) if i not in conf else ([], set(), [])
        tables.append(found + figures)  # a table's caption and rows leave the body text: they are read as its passage
        table_rows.append((rows([s for j, s in enumerate(segs) if j in taken]) if taken else []) + boxes)
        pages[i] = [s for j, s in enumerate(rest) if j not in drawn]
    ordered = [order(segs) for segs in pages]
    furniture = running_furniture(ordered, [h for _, h in sizes])
    out = []
    size, weight = body_type([segs for i, segs in enumerate(ordered) if i not in conf])
    heads: list[dict[int, int]] = []
    for i, (segs, drop) in enumerate(zip(ordered, furniture)):
        kept = [s for j, s in enumerate(segs) if j not in drop]
        heads.append(heading_levels(kept, size, weight, i == 0) if i not in conf else {})
        pages[i] = kept
    flat = not any(level == 1 and not numbered(pages[i][j].text) for i, h in enumerate(heads) for j, level in h.items())
    for i, (segs, drop) in enumerate(zip(ordered, furniture)):
        gone = tuple(s.text for j, s in enumerate(segs) if j in drop)
        # no unnumbered heading set larger than the body: those in bold are the top level
        h = {j: 1 if flat and not numbered(pages[i][j].text) else level for j, level in heads[i].items()}
        lines = tuple(page_lines(pages[i], h))
        out.append(
            PdfPage(i + 1, lines, conf.get(i), gone, tuple(pages[i]), sizes[i], tuple(tables[i]), tuple(table_rows[i]))
        )
    return out
