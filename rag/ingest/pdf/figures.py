"""The text of a figure (the boxes of a flow chart, a diagram's labels) kept out of the page's prose.

A figure's labels are set in smaller type than the body and stand above its caption ("Figure 1.", "Fig. 2",
"图 3"); read in column order they land inside whatever paragraph shares their column, so a label ends up
quoted mid-sentence as if it were prose. Here the short small-type lines standing right above a figure
caption (up to a line of body type over them, a small-type line of prose, or a gap of several lines) are taken out of the body, grouped
into boxes (lines stacked close under each other and overlapping across), and the figure comes out like a
table (``rag.records.Table``: its label, caption, one row per box), one passage of its own that a question
about a box's value finds, the citation naming the figure. A caption without MIN_LABELS such lines over it
(a plot drawn without text, labels in body type) stays in the body as before."""

from __future__ import annotations

import re

from rag.ingest.pdf.layout import _units, body_size
from rag.ingest.pdf.records import Segment
from rag.ingest.pdf.tables import CAPTION, _join_lines
from rag.records import Table

FIGURE = re.compile(
    r"^\s*(?:(Fig(?:ure)?\.?|FIGURE)\s*([0-9]{1,3})|(图)\s*([0-9]{1,3}))(?=$|[\s.:：．。、,，]|[\u4e00-\u9fff])"
)
SMALL = 0.9  # a label's type is smaller than this share of the page's body type
LABEL_UNITS = 60  # a label line is shorter than this (a Han character 2 units): a longer one is prose
MIN_LABELS = 3  # a figure has at least this many label lines
GAP = 3.0  # a vertical gap of this many body type sizes above the figure's top ends it
BOX_GAP = 1.0  # lines of one box stand at most this many of their type sizes apart
CAPTION_LINES = 6  # a caption wraps onto at most this many more lines
_END = re.compile(r"[.。]$")


def find_figures(segs: list[Segment], page: int) -> tuple[list[Table], set[int], list[Segment]]:
    """The captioned figures with text labels among a page's segments (see the module docstring), the
    indexes of the segments they take (labels and caption), which leave the body text, and the figures' lines
    as their passages read them (one segment per box, then the caption's lines), for the line boxes."""
    if not segs:
        return [], set(), []
    size = body_size(segs)
    figures: list[Table] = []
    taken: set[int] = set()
    lines: list[Segment] = []
    for ci, c in enumerate(segs):
        m = FIGURE.match(c.text)
        if m is None or ci in taken:
            continue
        labels = _labels_above(segs, ci, size, taken)
        if len(labels) < MIN_LABELS:
            continue
        caption = _caption(segs, ci, size, taken | set(labels))
        boxes = _boxes([segs[i] for i in labels])
        label = f"Figure {m.group(2)}" if m.group(1) else f"图{m.group(4)}"
        text = _join_lines([segs[i].text for i in caption])
        figures.append(Table(label, text, tuple((b.text,) for b in boxes), page))
        taken |= set(labels) | set(caption)
        lines += boxes + [segs[i] for i in caption]
    return figures, taken, lines


def _labels_above(segs: list[Segment], ci: int, size: float, taken: set[int]) -> list[int]:
    """Indexes of the label lines of the figure whose caption is ``segs[ci]``: small-type short lines going up
    from the caption, past lines of other columns, until a line of body type over the figure, another caption
    or a wide gap."""
    c = segs[ci]
    above = sorted(
        (i for i, s in enumerate(segs) if i != ci and i not in taken and s.bottom <= c.top + 1),
        key=lambda i: -segs[i].bottom,
    )
    out: list[int] = []
    top, x0, x1 = c.top, c.x0, c.x1
    for i in above:
        s = segs[i]
        if s.bottom < top - GAP * size:
            break
        over = s.x0 < x1 and s.x1 > x0  # stands over the figure (or its caption) rather than beside it
        small = s.size < SMALL * size
        if FIGURE.match(s.text) or CAPTION.match(s.text):
            break
        if small and (_units(s.text) >= LABEL_UNITS or _END.search(s.text.strip())):
            break  # small-type prose (a sub-figure's caption, a note) over the caption: not a diagram's labels
        if small:
            out.append(i)
            top, x0, x1 = min(top, s.top), min(x0, s.x0), max(x1, s.x1)
        elif over:
            break
    return out


def _caption(segs: list[Segment], ci: int, size: float, taken: set[int]) -> list[int]:
    """The caption line and the lines it wraps onto: close under it, in its column, until one ends a sentence."""
    out = [ci]
    last = segs[ci]
    for _ in range(CAPTION_LINES):
        if _END.search(last.text.strip()):
            break
        below = [
            (s.top, i)
            for i, s in enumerate(segs)
            if i not in taken
            and i not in out
            and s.top >= last.top + 0.5 * last.size
            and s.top - last.bottom <= 0.8 * last.size
            and s.x0 < last.x1
            and s.x1 > last.x0
        ]
        if not below:
            break
        i = min(below)[1]
        if FIGURE.match(segs[i].text) or CAPTION.match(segs[i].text) or segs[i].size > 1.05 * max(size, last.size):
            break
        out.append(i)
        last = segs[i]
    return out


def _boxes(labels: list[Segment]) -> list[Segment]:
    """Label lines grouped into boxes (each under the one above it, close and overlapping across), each box one
    segment (its lines joined, the box around them), boxes top to bottom and left to right."""
    boxes: list[list[Segment]] = []
    for s in sorted(labels, key=lambda s: (s.top, s.x0)):
        home = next(
            (
                b
                for b in boxes
                if 0 <= s.top - b[-1].bottom <= BOX_GAP * s.size + 0.5
                and s.x0 < b[-1].x1
                and s.x1 > b[-1].x0
                and s.top > b[-1].top + 0.5 * s.size
            ),
            None,
        )
        if home is None:
            boxes.append([s])
        else:
            home.append(s)
    # boxes side by side (tops within half a type size) read left to right, then the next row of boxes
    boxes.sort(key=lambda b: b[0].top)
    rows: list[list[list[Segment]]] = []
    for b in boxes:
        if rows and b[0].top - rows[-1][0][0].top < 0.5 * b[0].size:
            rows[-1].append(b)
        else:
            rows.append([b])
    return [
        Segment(
            " ".join(s.text for s in b),
            min(s.x0 for s in b),
            max(s.x1 for s in b),
            min(s.top for s in b),
            max(s.bottom for s in b),
            b[0].size,
            b[0].weight,
        )
        for row in rows
        for b in sorted(row, key=lambda b: b[0].x0)
    ]
