"""A page's characters with their boxes, read by pypdfium2 (PDFium, Apache-2.0/BSD), grouped into line
segments: runs of characters drawn one after another on one baseline, split where a wide gap (a column
gutter, a table gap) separates them.

PDFium gives each character its loose box (font ascent to descent), font size and weight, and marks the
spaces it infers from glyph positions; those spaces, or a gap of a fifth of the type size, separate
words, so English words drawn without space characters do not run together. Text drawn at an angle
(a rotated side stamp) is left out; a hyphen PDFium marks as a line-end break (U+FFFE or U+0002) is
kept as '-' so the cleaner can rejoin the word."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rag.ingest.pdf.records import Segment

_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
RUN_GAP = 1.0  # a gap wider than this many type sizes ends a run (column gutters, table cells)
WORD_GAP = 0.2  # a gap wider than this many type sizes is a word space
SPLIT_GAP = 0.6  # a gap this wide (in type sizes), and 2.5 times the run's typical word space, ends a run
_BREAK_HYPHENS = {0x02, 0xFFFE}


@dataclass(frozen=True)
class Char:
    """One drawn character: its text, loose box (points from the top-left), size, weight, and whether a
    space (drawn or inferred) precedes it in the content stream."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    weight: int
    space: bool


def page_chars(page: Any) -> tuple[list[Char], int]:
    """The upright, visible characters of a pypdfium2 page in content-stream order, and how many
    characters were left out because the font maps them to no known text (a broken ToUnicode map gives
    letters of unrelated scripts, never the words drawn)."""
    import pypdfium2.raw as raw

    tp = page.get_textpage()
    try:
        h = page.get_height()
        n = raw.FPDFText_CountChars(tp)
        rect = raw.FS_RECTF()
        out: list[Char] = []
        unmapped = 0
        space = False
        for i in range(n):
            u = raw.FPDFText_GetUnicode(tp, i)
            if u in _BREAK_HYPHENS:
                u = 0x2D
            ch = chr(u) if 0 < u < 0x110000 else ""
            if not ch or ch.isspace() or 0xD800 <= u <= 0xDFFF:
                space = True  # drawn or inferred space, line end
                continue
            if raw.FPDFText_HasUnicodeMapError(tp, i):
                unmapped += 1
                continue
            if abs(raw.FPDFText_GetCharAngle(tp, i)) > 0.05 and abs(raw.FPDFText_GetCharAngle(tp, i) - 6.2832) > 0.05:
                continue  # rotated text: side stamps, axis labels
            if not raw.FPDFText_GetLooseCharBox(tp, i, rect):
                continue
            size = float(raw.FPDFText_GetFontSize(tp, i))
            top, bottom = h - rect.top, h - rect.bottom
            if rect.right <= rect.left and bottom <= top:
                continue
            if not 0.6 * (bottom - top) <= size <= 2.5 * (bottom - top):
                size = max(1.0, bottom - top)  # text scaled by its matrix: PDFium reports the unscaled size
            weight = int(raw.FPDFText_GetFontWeight(tp, i))
            out.append(Char(ch, float(rect.left), float(rect.right), top, bottom, size, max(0, weight), space))
            space = False
        return out, unmapped
    finally:
        tp.close()


def _mid(c: Char) -> float:
    return (c.top + c.bottom) / 2


def runs(chars: list[Char]) -> list[list[Char]]:
    """Characters grouped into runs: consecutive in the stream, on one line, no wide gap between them."""
    out: list[list[Char]] = []
    run: list[Char] = []
    top = bottom = 0.0
    for c in chars:
        if run:
            prev = run[-1]
            size = max(prev.size, c.size) if c.size < 3 * prev.size else c.size
            same_line = top - 0.15 * size <= _mid(c) <= bottom + 0.15 * size
            gap = c.x0 - prev.x1
            # a ligature's letters share one box: a character may start where the previous one starts
            if same_line and prev.x0 - 0.1 * size <= c.x0 and gap <= RUN_GAP * size:
                run.append(c)
                if c.size >= 0.8 * prev.size:
                    top, bottom = min(top, c.top), max(bottom, c.bottom)
                continue
            out.append(run)
        run = [c]
        top, bottom = c.top, c.bottom
    if run:
        out.append(run)
    return [piece for r in out for piece in _split_wide(r)]


def _split_wide(run: list[Char]) -> list[list[Char]]:
    """A run cut where one gap is far wider than its word spaces: a narrow gutter between two columns
    drawn line by line across the page."""
    if len(run) < 8:
        return [run]
    size = sorted(c.size for c in run)[len(run) // 2]
    gaps = [(b.x0 - a.x1, i) for i, (a, b) in enumerate(zip(run, run[1:]), 1)]
    words = sorted(g for g, _ in gaps if g > WORD_GAP * size)
    if len(words) < 3:
        return [run]
    typical = words[len(words) // 2]
    wide = [i for g, i in gaps if g > max(SPLIT_GAP * size, 2.5 * typical)]
    if not wide:
        return [run]
    cuts = [0, *wide, len(run)]
    return [run[a:b] for a, b in zip(cuts, cuts[1:])]


def merge_runs(rs: list[list[Char]]) -> list[list[Char]]:
    """Runs on one line that touch (drawn out of order, or in pieces) joined, left to right."""
    rs = sorted(rs, key=lambda r: (round(_body(r)[1]), r[0].x0))
    out: list[list[Char]] = []
    for r in rs:
        _, mid, size = _body(r)
        for o in reversed(out[-6:]):
            _, omid, osize = _body(o)
            s = max(size, osize)
            if abs(mid - omid) < 0.3 * s and -0.5 * s <= r[0].x0 - o[-1].x1 <= 0.5 * s:
                o.extend(r)
                break
        else:
            out.append(list(r))
    return out


def _body(run: list[Char]) -> tuple[float, float, float]:
    """The run's main type size, the vertical middle of its main-size characters, and that size."""
    size = sorted(c.size for c in run)[len(run) // 2]
    body = [c for c in run if c.size >= 0.8 * size] or run
    return size, sum(_mid(c) for c in body) / len(body), size


def run_text(chars: list[Char]) -> str:
    """The text of a run, left to right: a space where the stream had one or a gap of a fifth of the
    type size separates two characters (the cleaner drops those between Han characters; a spaced byline
    keeps its names apart), raised small digits turned into a
    circled footnote marker."""
    size = sorted(c.size for c in chars)[len(chars) // 2]
    base = max(c.bottom for c in chars if c.size >= 0.9 * size)
    out: list[str] = []
    prev: Char | None = None
    sup = ""
    for c in chars:
        raised = c.size < 0.8 * size and c.bottom < base - 0.15 * size
        if raised and c.text.isdigit():
            sup += c.text
            prev = c
            continue
        if sup:
            out.append(_circled(sup))
            sup = ""
        if prev is not None and out and out[-1][-1:] != " ":
            gap = c.x0 - prev.x1
            if (gap > WORD_GAP * size or (c.space and gap > -0.05 * size)) and c.x0 > prev.x0:
                out.append(" ")
        out.append(c.text)
        prev = c
    if sup:
        out.append(_circled(sup))
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def _circled(digits: str) -> str:
    n = int(digits)
    return _CIRCLED[n - 1] if 1 <= n <= len(_CIRCLED) else f"[{digits}]"


def to_segment(run: list[Char]) -> Segment:
    """A run as a segment: its text, box (main-size characters' heights), type size and weight."""
    size = sorted(c.size for c in run)[len(run) // 2]
    body = [c for c in run if c.size >= 0.8 * size] or run
    weights = sorted(c.weight for c in body)
    return Segment(
        run_text(run),
        min(c.x0 for c in run),
        max(c.x1 for c in run),
        min(c.top for c in body),
        max(c.bottom for c in body),
        size,
        weights[len(weights) // 2],
    )


def segments(chars: list[Char]) -> list[Segment]:
    """A page's characters as line segments (see the module docstring)."""
    return [s for s in map(to_segment, merge_runs(runs(chars))) if s.text]
