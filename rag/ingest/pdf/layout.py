"""Reading order of a page's line segments: columns found per region, full-width lines handled.

A region (at first the whole page) is searched for a gutter: an x where few segments cross and both
both sides hold lines of prose (lines of many words filling the side's width, which a table's
cells do not; a side holding two columns, as on a three-column page, has its lines measured against its
columns' width).
Segments that cross the gutter (a title, an abstract, a figure caption, a table spanning both columns)
cut the region into bands; each band is read column by column, left to right, each column again as a
region (so three columns, or columns inside a band, are found too); the crossing lines are read where
they stand. A region without a gutter is read row by row, the segments of a row joined left to right
(a table's cells stay on their row), unless wide horizontal gaps cut it into bands, each read as a
region of its own.
"""

from __future__ import annotations

from collections import Counter

from rag.ingest.pdf.records import Segment
from rag.lang.text import is_cjk

MIN_SIDE_LINES = 3  # a column holds at least this many line segments
MAX_CROSSING = 0.3  # at most this share of a region's segments may cross its gutter
FULL_LINE = 0.7  # a line of prose fills at least this share of its column's width ...
PROSE_UNITS = 20  # ... with at least this many characters (a Han character counts 2) ...
PROSE_SHARE = 0.3  # ... and at least this share of a column's lines do (or PROSE_LINES of them)
PROSE_LINES = 5
LINE_RANK = 0.9  # a side holding columns: its line width is the one this share of its segments stay within ...
WIDE_LINES = 12  # ... and at least this many of its lines (and PROSE_SHARE of them) fill that width
BAND_GAP = 0.8  # a region without a gutter is cut where no line stands for this many type sizes


def _gutter(segs: list[Segment]) -> float | None:
    """The x of the best gutter of a region, or None when it has no columns."""
    if len(segs) < 2 * MIN_SIDE_LINES:
        return None
    lo, hi = min(s.x0 for s in segs), max(s.x1 for s in segs)
    width = hi - lo
    if width <= 0:
        return None
    edges = sorted({round(s.x1 + 0.5) for s in segs} | {round(s.x0 - 0.5) for s in segs})
    best: tuple[int, float, float] | None = None  # (crossing, -clearance, x)
    for x in edges:
        if not lo + 0.2 * width <= x <= hi - 0.2 * width:
            continue
        left = [s for s in segs if s.x1 <= x]
        right = [s for s in segs if s.x0 >= x]
        cross = len(segs) - len(left) - len(right)
        if len(left) < MIN_SIDE_LINES or len(right) < MIN_SIDE_LINES or cross > MAX_CROSSING * len(segs):
            continue
        gap = min(s.x0 for s in right) - max(s.x1 for s in left)
        size = sorted(s.size for s in segs)[len(segs) // 2]
        if gap < 0.5 * size or not (_prose(left) and _prose(right)):
            continue
        x_mid = (max(s.x1 for s in left) + min(s.x0 for s in right)) / 2
        key = (cross, -gap, x_mid)
        if best is None or key[:2] < best[:2]:
            best = key
    return best[2] if best else None


def _prose(side: list[Segment]) -> bool:
    """Whether a side reads as a column of prose: several of its lines fill its width with many words,
    which a table's cells (numbers, short labels) do not."""
    lo, hi = min(s.x0 for s in side), max(s.x1 for s in side)
    if _full(side, hi - lo) >= min(PROSE_LINES, PROSE_SHARE * len(side)):
        return True
    # a side holding columns of its own (two of a three-column page): no line spans it, so its lines are
    # measured against the width its long lines share, and many of them must fill it
    widths = sorted(s.x1 - s.x0 for s in side)
    line = widths[int(LINE_RANK * (len(widths) - 1))]
    return line < FULL_LINE * (hi - lo) and _full(side, line) >= max(WIDE_LINES, PROSE_SHARE * len(side))


def _full(side: list[Segment], width: float) -> int:
    """How many of a side's lines are full lines of prose for a column ``width`` wide."""
    return sum(1 for s in side if s.x1 - s.x0 >= FULL_LINE * width and _units(s.text) >= PROSE_UNITS)


def _units(text: str) -> float:
    """Length in units: a Han character 2, any other character 1."""
    return sum(2 if is_cjk(ch) else 1 for ch in text)


def order(segs: list[Segment]) -> list[Segment]:
    """Segments of a region in reading order, merged into one segment per line of a column."""
    if not segs:  # a page with no text layer that OCR found nothing on
        return []
    g = _gutter(segs)
    if g is None:
        bands = _bands(segs)
        # columns in a band of a page without a gutter of its own (a boxed two-column aside)
        return [s for b in bands for s in order(b)] if len(bands) > 1 else rows(segs)
    crossing = sorted((s for s in segs if s.x0 < g < s.x1), key=lambda s: s.top)
    out: list[Segment] = []
    band: list[Segment] = []
    rest = sorted((s for s in segs if not s.x0 < g < s.x1), key=lambda s: s.top)
    i = 0
    for c in crossing:
        while i < len(rest) and (rest[i].top + rest[i].bottom) / 2 < c.top:
            band.append(rest[i])
            i += 1
        out += _columns(band, g) + [c]
        band = []
    return out + _columns(band + rest[i:], g)


def _bands(segs: list[Segment]) -> list[list[Segment]]:
    """A region cut into bands at the horizontal gaps (BAND_GAP type sizes or more) no line crosses."""
    segs = sorted(segs, key=lambda s: s.top)
    size = sorted(s.size for s in segs)[len(segs) // 2]
    out: list[list[Segment]] = [[]]
    bottom = segs[0].bottom
    for s in segs:
        if out[-1] and s.top - bottom > BAND_GAP * size:
            out.append([])
        out[-1].append(s)
        bottom = max(bottom, s.bottom)
    return out


def _columns(band: list[Segment], g: float) -> list[Segment]:
    """A band read left column first, then right; each column read as a region of its own."""
    left = [s for s in band if s.x1 <= g]
    right = [s for s in band if s.x0 >= g]
    return (order(left) if left else []) + (order(right) if right else [])


def rows(segs: list[Segment]) -> list[Segment]:
    """Segments on the same line joined left to right (Han text without a space), top to bottom."""
    groups: list[list[Segment]] = []
    for s in sorted(segs, key=lambda s: (s.top, s.x0)):
        mid = (s.top + s.bottom) / 2
        for g in reversed(groups[-3:]):
            o = g[0]
            if abs((o.top + o.bottom) / 2 - mid) < 0.4 * min(s.size, o.size) and all(
                s.x0 >= x.x1 - 1 or s.x1 <= x.x0 + 1 for x in g
            ):
                g.append(s)
                break
        else:
            groups.append([s])
    return [_join(sorted(g, key=lambda s: s.x0)) for g in groups]


def _join(row: list[Segment]) -> Segment:
    text = row[0].text
    for a, b in zip(row, row[1:]):
        text += ("" if is_cjk(a.text[-1:]) and is_cjk(b.text[:1]) else " ") + b.text
    big = max(row, key=lambda s: len(s.text))
    return Segment(
        text,
        row[0].x0,
        max(s.x1 for s in row),
        min(s.top for s in row),
        max(s.bottom for s in row),
        big.size,
        big.weight,
    )


def body_size(segs: list[Segment]) -> float:
    """The type size most of a page's (or document's) characters are set in."""
    sizes = Counter(round(s.size, 1) for s in segs for _ in s.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0
