"""Tables on a text page, found from the positions of its line segments and anchored on their captions.

A caption is a line opening with "Table 2", "TABLE II", "Tab. 3" or "表 2" (a number — or a chapter's number
and the table's, "Table 2-1", "表 3.2" — a roman numeral or a Chinese numeral after it, then a stop, a colon,
a space or the end), with its wrapped lines and a second caption line in the other language. The table is
the run of rows next to it — below it, or above it when nothing tabular stands below — in the caption's
column (the page's gutter, when it has one, decides which side), where a row is the segments standing at one
height: it belongs to the table when it holds two or more cells (the reader cuts a line at gaps wider than
the type size) or is a short label; the run ends at a line of prose (one segment filling most of the column
with many characters), another caption or a figure caption, or a vertical gap of several lines. A caption
without at least MIN_ROWS rows of cells next to it is prose that happens to start with "Table 2" and stays
in the body.

The table's segments (caption included) leave the page's body text; the table comes out as its caption and
its rows of cells (``rag.records.Table``), one passage per block of rows (``table_passages``), so a
question about a value finds the row with its header and caption, and the citation names the table."""

from __future__ import annotations

import re

from rag.ingest.pdf.layout import _gutter, _units
from rag.ingest.pdf.records import Segment
from rag.lang.normalize import normalize
from rag.lang.text import is_cjk
from rag.records import Table

CAPTION = re.compile(
    r"^\s*(?:(Table|TABLE|Tab\.)\s*([0-9]{1,3}(?:[-–.][0-9]{1,3})?|[IVXL]{1,6})"
    r"|(表)\s*([0-9]{1,3}(?:[-–.][0-9]{1,3})?|[一二三四五六七八九十]{1,3}))"
    r"(?=$|[\s.:：．。、,，]|[\u4e00-\u9fff])"
)
OTHER_CAPTION = re.compile(r"^\s*(?:Fig(?:ure|\.)?|FIGURE|图|Scheme|Algorithm)\s*[0-9IVX一二三四五六七八九十]", re.I)
MIN_ROWS = 2  # rows of two or more cells a table has at least
MAX_GAP = 2.5  # a vertical gap of this many type sizes ends a table
PROSE_WIDTH = 0.6  # a single segment this wide (share of the column) ...
PROSE_UNITS = 40  # ... with this many units (a Han character 2) is a line of prose
LABEL_UNITS = 40  # a single segment shorter than this is a label row (a wrapped header, a group name)
SEP = "\t\t"  # between the rows of a table passage: whitespace, so a quoted row reads as the row
CAPTION_LINES = 4  # a caption wraps onto at most this many more lines


def _rows(segs: list[Segment]) -> list[list[Segment]]:
    """Segments grouped by height (middles within 0.4 type sizes), each row left to right, top to bottom."""
    groups: list[list[Segment]] = []
    for s in sorted(segs, key=lambda s: (s.top, s.x0)):
        mid = (s.top + s.bottom) / 2
        for g in reversed(groups[-3:]):
            o = g[0]
            if abs((o.top + o.bottom) / 2 - mid) < 0.4 * min(s.size, o.size):
                g.append(s)
                break
        else:
            groups.append([s])
    return [sorted(g, key=lambda s: s.x0) for g in groups]


def _label(m: re.Match) -> str:
    """'Table 2' / '表2' from a caption match."""
    return f"Table {m.group(2)}" if m.group(1) else f"表{m.group(4)}"


def _prose(row: list[Segment], width: float) -> bool:
    return len(row) == 1 and row[0].x1 - row[0].x0 >= PROSE_WIDTH * width and _units(row[0].text) >= PROSE_UNITS


def _tabular(row: list[Segment], width: float, cells: tuple[float, float] | None = None) -> bool:
    """Whether a row can stand in a table: two or more cells, none of them a line of prose of a column
    beside the table, or one short label. ``cells`` (the start of the table's second column and its right
    edge, from its rows so far) admits a line of prose that starts within them: a wrapped description in a
    table's last column, not a column of prose beside the table (it starts right of the table) or the body
    under it (it starts at the margin, under the first column)."""
    if OTHER_CAPTION.match(row[0].text) or CAPTION.match(row[0].text):
        return False
    inside = (lambda s: cells[0] - 1 <= s.x0 < cells[1]) if cells else (lambda s: False)
    if len(row) >= 2:
        return not any(_column_prose(s, width) and not inside(s) for s in row)
    return (_units(row[0].text) < LABEL_UNITS and not _prose(row, width)) or inside(row[0])


def _cells(rows: list[list[Segment]]) -> tuple[float, float] | None:
    """The start of a table's second column and its right edge, from its rows of two or more cells."""
    full = [r for r in rows if len(r) >= 2]
    if not full:
        return None
    return min(r[1].x0 for r in full), max(s.x1 for r in full for s in r)


def _column_prose(s: Segment, width: float) -> bool:
    """A segment that reads as a line of a column of prose beside a table: wide, long, and broken
    mid-sentence (a hyphen, a comma or a lowercase word at its end) or of many words."""
    if s.x1 - s.x0 < 0.4 * width or _units(s.text) < PROSE_UNITS:
        return False
    return bool(re.search(r"(-|,|\b[a-z]+)$", s.text)) or len(s.text.split()) >= 7 or is_cjk(s.text[-1:])


def _rule(row: list[Segment]) -> bool:
    """A row drawn of dots or dashes only: a ruling inside a table."""
    return all(not re.search(r"\w", s.text) for s in row)


def _top(row: list[Segment]) -> float:
    return min(s.top for s in row)


def _bottom(row: list[Segment]) -> float:
    return max(s.bottom for s in row)


def _size(row: list[Segment]) -> float:
    return max(s.size for s in row)


def _run(rows: list[list[Segment]], start: int, step: int, width: float) -> list[int]:
    """Indexes of the table rows from ``start`` going down (step 1) or up (step -1); [] if too few cells."""
    out: list[int] = []
    i = start
    while 0 <= i < len(rows):
        row = rows[i]
        if out or i != start:
            near = rows[out[-1]] if out else rows[i - step]
            gap = _top(row) - _bottom(near) if step > 0 else _top(near) - _bottom(row)
            if gap > MAX_GAP * _size(row):
                break
        if _rule(row):
            i += step
            continue
        if not _tabular(row, width, _cells([rows[j] for j in out])):
            break
        out.append(i)
        i += step
    # a table's own lines: trailing labels (a note under it, a heading above it) are not rows
    while out and len(rows[out[-1]]) < 2:
        out.pop()
    return sorted(out) if sum(len(rows[i]) >= 2 for i in out) >= MIN_ROWS else []


def _caption_end(rows: list[list[Segment]], at: int, width: float) -> int:
    """The last row of a caption starting at row ``at``: its wrapped lines and a caption in the other language."""
    end = at
    for j in range(at + 1, min(len(rows), at + 1 + CAPTION_LINES)):
        row, prev = rows[j], rows[end]
        if _top(row) - _bottom(prev) > 0.8 * _size(prev):
            break
        text = row[0].text
        wrapped = len(row) == 1 and prev[-1].x1 - prev[0].x0 >= 0.6 * width and not OTHER_CAPTION.match(text)
        if CAPTION.match(text) or wrapped:
            end = j
        else:
            break
    return end


def _side(segs: list[Segment], caption: Segment) -> list[Segment]:
    """The segments in the caption's column: one side of the page's gutter, or the whole page."""
    g = _gutter(segs)
    if g is None or caption.x0 < g < caption.x1:
        return segs
    left = caption.x1 <= g
    return [s for s in segs if (s.x1 <= g + 1 if left else s.x0 >= g - 1)]


def find_tables(segs: list[Segment], page: int) -> tuple[list[Table], set[int]]:
    """The captioned tables of a page's segments (see the module docstring) and the indexes of the
    segments they take (caption and rows), which leave the body text."""
    tables: list[Table] = []
    taken: set[int] = set()
    index = {id(s): i for i, s in enumerate(segs)}
    for c in segs:
        m = CAPTION.match(c.text)
        if m is None or index[id(c)] in taken:
            continue
        side = [s for s in _side(segs, c) if index[id(s)] not in taken]
        if c not in side:
            continue
        rows = _rows(side)
        width = max(s.x1 for s in side) - min(s.x0 for s in side)
        at = next(i for i, r in enumerate(rows) if any(s is c for s in r))
        end = _caption_end(rows, at, width)
        body = _run(rows, end + 1, 1, width) or _run(rows, at - 1, -1, width)
        if not body:
            continue
        caption = _join_lines([" ".join(s.text for s in rows[j]) for j in range(at, end + 1)])
        cells = tuple(tuple(s.text for s in rows[i]) for i in body)
        tables.append(Table(_label(m), caption, cells, page))
        taken |= {index[id(s)] for j in [*range(at, end + 1), *body] for s in rows[j]}
    return tables, taken


def _join_lines(lines: list[str]) -> str:
    out = lines[0]
    for t in lines[1:]:
        if out.endswith("-") and out[-2:-1].islower() and t[:1].islower():
            out = out[:-1] + t  # a word hyphenated at the line end
        elif is_cjk(out[-1:]) and is_cjk(t[:1]):
            out += t
        else:
            out += " " + t
    return out


def table_passages(table: Table, size: int) -> list[str]:
    """A table as passages of at most ``size`` units (a Han character 1, three other characters 1): the
    header row, as many rows as fit and the caption, cells separated by a tab and rows by two (whitespace,
    so a quoted row still reads as the row), the header and caption repeated on each block of rows."""

    def units(text: str) -> float:
        return sum(1 if is_cjk(ch) else 1 / 3 for ch in text)

    def text(rows: list[str]) -> str:
        # rows, then the caption, as one run of text without a sentence break: the answer quotes the rows
        # with the caption, as the sentence that matches the question best (a row alone never does)
        return SEP.join(head + rows + [table.caption])

    lines = ["\t".join(r) for r in table.rows]
    head = lines[:1]
    out: list[str] = []
    block: list[str] = []
    for line in lines[1:]:
        if block and units(text(block + [line])) > size:
            out.append(text(block))
            block = []
        block.append(line)
    out.append(text(block))
    return out


def placed(t: Table, pages: list[tuple[int, int]], sections: tuple[tuple[int, str], ...]) -> Table:
    """A table's text normalised like the body's, its label led by the section in force where its page's
    body text starts (``pages``: (offset, page) of each page's start; ``sections``: (offset, heading))."""
    at = next((o for o, p in pages if p >= t.page), None)
    section = next((h for o, h in reversed(sections) if at is not None and o <= at), "")
    rows = tuple(tuple(normalize(c) for c in r) for r in t.rows)
    return Table(f"{section} / {t.label}" if section else t.label, normalize(t.caption), rows, t.page)
