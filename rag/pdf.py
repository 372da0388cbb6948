"""Page-aware PDF reading: each page's lines in reading order, with page furniture removed by position.

Text pages are read with pdfplumber (pdfminer.six, MIT licence): every character comes with its box,
so lines are rebuilt from the boxes — Han characters joined without spaces, words spaced by their gaps,
two-column pages read column by column (a full-width line such as a title or a footnote closes the
columns above it), raised small digits turned into footnote markers, blank lines kept where the layout
leaves a paragraph gap. Lines at the top or bottom edge of many pages at the same height (running
headers, journal names, page numbers) are dropped; small-type lines at the bottom of a page are moved
after its body as footnotes. Pages without a text layer are OCR'd (``rag.ocr``) and then read the same way.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from rag.text import is_cjk

EDGE = 0.09  # share of the page height at the top and at the bottom where running headers and footers sit
RUNNING_SHARE = 0.3  # a line at the same place on at least this share of the pages (and on 2+) is furniture
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_PAGE_NUMBER = re.compile(r"^[-–—\s]*(\d{1,4}|[ivxlc]{1,6}|第\s*\d{1,4}\s*页)[-–—\s]*$", re.I)
_NOTE_LABEL = re.compile(r"^(\[(\d{1,2})\]|(\d{1,2})[.)]?\s)")

Progress = Callable[[int, int], None]  # (pages OCR'd, pages to OCR)


@dataclass(frozen=True)
class Segment:
    """A run of text on one line of a page, with its box in points from the top-left corner."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float


@dataclass(frozen=True)
class PdfPage:
    """One page's text lines in reading order ('' where the layout leaves a gap), footnotes last;
    ``ocr`` is the mean recognition confidence when the text came from OCR."""

    number: int
    lines: tuple[str, ...]
    ocr: float | None = None


def _row_text(chars: list[dict]) -> str:
    """The text of one line's characters, left to right: a space where a gap of a fifth of the type
    size separates two characters (cleaning drops those between Han characters; a spaced byline
    keeps its names apart), raised small digits as a circled footnote marker."""
    chars = sorted(chars, key=lambda c: c["x0"])
    size = sorted(c["size"] for c in chars)[len(chars) // 2]
    base = max(c["bottom"] for c in chars if c["size"] >= 0.9 * size)
    out: list[str] = []
    prev: dict | None = None
    sup = ""
    for c in chars:
        raised = c["size"] < 0.8 * size and c["bottom"] < base - 0.15 * size
        if raised and c["text"].isdigit():
            sup += c["text"]
            prev = c
            continue
        if sup:
            out.append(_circled(sup))
            sup = ""
        if prev is not None and out:
            gap = c["x0"] - prev["x1"]
            a = out[-1][-1:]
            if gap > 0.2 * size and a != " ":
                out.append(" ")
        out.append(c["text"])
        prev = c
    if sup:
        out.append(_circled(sup))
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def _circled(digits: str) -> str:
    n = int(digits)
    return _CIRCLED[n - 1] if 1 <= n <= len(_CIRCLED) else f"[{digits}]"


def char_segments(chars: list[dict]) -> list[Segment]:
    """pdfplumber characters grouped into segments: same line (overlapping heights), no wide gap."""
    chars = [c for c in chars if c.get("upright", True) and c["text"].strip()]
    chars.sort(key=lambda c: ((c["top"] + c["bottom"]) / 2, c["x0"]))
    rows: list[list[dict]] = []
    for c in chars:
        mid = (c["top"] + c["bottom"]) / 2
        for row in reversed(rows[-3:]):
            top, bottom = min(r["top"] for r in row[:8]), max(r["bottom"] for r in row[:8])
            if top - 0.1 * c["size"] <= mid <= bottom + 0.1 * c["size"]:
                row.append(c)
                break
        else:
            rows.append([c])
    out: list[Segment] = []
    for row in rows:
        row.sort(key=lambda c: c["x0"])
        size = sorted(c["size"] for c in row)[len(row) // 2]
        run = [row[0]]
        for c in row[1:]:
            if c["x0"] - run[-1]["x1"] > 1.2 * size:  # a column gutter (or a table gap)
                out.append(_segment(run))
                run = []
            run.append(c)
        out.append(_segment(run))
    return [s for s in out if s.text]


def _segment(chars: list[dict]) -> Segment:
    size = sorted(c["size"] for c in chars)[len(chars) // 2]
    body = [c for c in chars if c["size"] >= 0.8 * size] or chars
    return Segment(
        _row_text(chars),
        min(c["x0"] for c in chars),
        max(c["x1"] for c in chars),
        min(c["top"] for c in body),
        max(c["bottom"] for c in body),
        size,
    )


def _gutter(segs: list[Segment], width: float) -> float | None:
    """The x of a gutter between two columns, when most lines keep to one side of it."""
    if len(segs) < 6:
        return None
    best: tuple[int, float] | None = None
    for i in range(int(width * 0.35), int(width * 0.65) + 1, 2):
        x = float(i)
        left = sum(1 for s in segs if s.x1 < x)
        right = sum(1 for s in segs if s.x0 > x)
        cross = len(segs) - left - right
        if left >= 3 and right >= 3 and cross <= 0.25 * len(segs) and (best is None or cross < best[0]):
            best = (cross, x)
    return best[1] if best else None


def reading_order(segs: list[Segment], width: float) -> list[Segment]:
    """Segments in reading order: with two columns, the left column then the right one between
    full-width lines; merged into one segment per line of a column."""
    segs = sorted(segs, key=lambda s: (s.top, s.x0))
    gutter = _gutter(segs, width)
    if gutter is None:
        return _merge_lines(segs)
    out: list[Segment] = []
    left: list[Segment] = []
    right: list[Segment] = []
    for s in segs:
        if s.x0 < gutter < s.x1:  # a full-width line closes the columns above it
            out += _merge_lines(left) + _merge_lines(right) + [s]
            left, right = [], []
        else:
            (left if s.x1 <= gutter else right).append(s)
    return out + _merge_lines(left) + _merge_lines(right)


def _merge_lines(segs: list[Segment]) -> list[Segment]:
    """Segments of one column on the same line joined, top to bottom."""
    out: list[Segment] = []
    for s in sorted(segs, key=lambda s: (s.top, s.x0)):
        last = out[-1] if out else None
        if last and abs((s.top + s.bottom) - (last.top + last.bottom)) / 2 < 0.4 * min(s.size, last.size):
            glue = "" if is_cjk(last.text[-1:]) and is_cjk(s.text[:1]) else " "
            out[-1] = Segment(
                last.text + glue + s.text,
                last.x0,
                max(last.x1, s.x1),
                min(last.top, s.top),
                max(last.bottom, s.bottom),
                last.size,
            )
        else:
            out.append(s)
    return out


def _key(s: Segment) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", s.text))


def running_furniture(pages: list[list[Segment]], heights: list[float]) -> list[set[int]]:
    """Per page, the indexes of its running headers and footers: lines near the top or bottom edge
    whose text (numbers aside) recurs at the same height on many pages, and bare page numbers there."""

    def where(s: Segment, h: float) -> str:
        return "top" if s.bottom < EDGE * h else "bottom" if s.top > (1 - EDGE) * h else ""

    seen: Counter[tuple[str, str, int]] = Counter()
    for segs, h in zip(pages, heights):
        seen.update({(z, _key(s), round(s.top / 6)) for s in segs if (z := where(s, h))})
    need = max(2, RUNNING_SHARE * len(pages))
    out: list[set[int]] = []
    for segs, h in zip(pages, heights):
        drop = set()
        for i, s in enumerate(segs):
            z = where(s, h)
            if not z:
                continue
            slot = round(s.top / 6)
            count = max(seen[(z, _key(s), slot + d)] for d in (-1, 0, 1))
            if _PAGE_NUMBER.match(s.text) or (count >= need and len(pages) >= 3):
                drop.add(i)
        out.append(drop)
    return out


def page_lines(segs: list[Segment]) -> list[str]:
    """A page's lines in order ('' where the vertical gap is a paragraph break), then its footnotes:
    small-type lines below the last body line, a numeric label turned into a circled marker."""
    if not segs:
        return []
    sizes = Counter(round(s.size, 1) for s in segs for _ in s.text)
    body_size = sizes.most_common(1)[0][0]
    last_body = max((s.bottom for s in segs if s.size >= 0.9 * body_size), default=0.0)
    notes = [s for s in segs if s.top >= last_body - 0.5 and s.size < 0.9 * body_size]
    body = [s for s in segs if s not in notes]
    steps = [b.top - a.top for a, b in zip(body, body[1:]) if 0 < b.top - a.top < 3 * a.size]
    leading = sorted(steps)[len(steps) // 2] if steps else body_size * 1.4
    lines: list[str] = []
    for i, s in enumerate(body):
        if i:
            gap = s.top - body[i - 1].top
            if gap > 1.6 * leading:
                lines += [""] * min(3, round(gap / leading) - 1)
        lines.append(s.text)
    for s in notes:
        m = _NOTE_LABEL.match(s.text)
        note = _circled(m.group(2) or m.group(3)) + s.text[m.end() :].lstrip() if m else s.text
        # an empty line before a note's first line: normalisation folds one line break before a circled marker
        lines += ["", note] if note[:1] in _CIRCLED else [note]
    return lines


def read_pdf(
    data: bytes, progress: Progress | None = None, max_pixels: int | None = None, notes: list[str] | None = None
) -> list[PdfPage]:
    """Every page of a PDF as lines in reading order; pages without a text layer are OCR'd (rendered under
    ``max_pixels``; a page rendered smaller is told in ``notes``)."""
    import pdfplumber

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        pages = [char_segments(p.chars) for p in pdf.pages]
        sizes = [(float(p.width), float(p.height)) for p in pdf.pages]
    conf: dict[int, float] = {}
    blank = [i for i, segs in enumerate(pages) if not segs]
    if blank:
        from rag.ocr import ocr_pages

        for i, (segs, score) in ocr_pages(data, blank, progress, max_pixels, notes).items():
            pages[i], conf[i] = segs, score
    ordered = [reading_order(segs, w) for segs, (w, _) in zip(pages, sizes)]
    furniture = running_furniture(ordered, [h for _, h in sizes])
    out = []
    for i, (segs, drop) in enumerate(zip(ordered, furniture)):
        kept = [s for j, s in enumerate(segs) if j not in drop]
        out.append(PdfPage(i + 1, tuple(page_lines(kept)), conf.get(i)))
    return out
