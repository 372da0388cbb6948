"""Section headings of a text PDF from their type: a short line set larger than the document's body type,
or in bold where the body is not, standing on its own and followed by a line of prose.

The reader writes such a line as a Markdown heading ("# 2 Methods", "## 2.1 Data"), which the cleaner
takes as a section heading, so every passage knows the section it is in. The level comes from the
heading's numbering when it has one (2 -> 1, 2.1 -> 2, 2.1.3 -> 3), else from the type (larger than the
body -> 1, bold at the body's size -> 2). On the first page nothing above the first line of prose is a
heading (the title, the authors and their affiliations are set large or bold there)."""

from __future__ import annotations

import re
from collections import Counter

from rag.ingest.pdf.layout import _units
from rag.ingest.pdf.records import Segment

LARGER = 1.12  # a heading's type is at least this much larger than the body's ...
BOLD = 600  # ... or at least this heavy where the body's is lighter
MAX_UNITS = 80  # a heading is at most this long (a Han character 2 units)
PROSE_UNITS = 20  # the line after a heading holds at least this many units of body type
_NUMBER = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+\S")
_NOT_HEADING = re.compile(r"^(fig(ure)?|table|tab\.|图|表|scheme|algorithm)\s*[\dIVX]", re.I)
_END = re.compile(r"[.,;:，。；：、]$")


def body_type(pages: list[list[Segment]]) -> tuple[float, int]:
    """The type size and weight most of a document's characters are set in."""
    sizes: Counter[float] = Counter()
    weights: Counter[int] = Counter()
    for segs in pages:
        for s in segs:
            sizes[round(s.size, 1)] += len(s.text)
            weights[s.weight] += len(s.text)
    return (sizes.most_common(1)[0][0] if sizes else 10.0), (weights.most_common(1)[0][0] if weights else 0)


def _prose(s: Segment, size: float) -> bool:
    return abs(s.size - size) <= 0.1 * size and _units(s.text) >= PROSE_UNITS


def heading_levels(segs: list[Segment], size: float, weight: int, first_page: bool) -> dict[int, int]:
    """The headings among a page's lines in reading order: {index: level} (see the module docstring)."""
    start = 0
    if first_page:  # after the first line of prose in regular type (a byline may be set in bold)
        start = 1 + next(
            (i for i, s in enumerate(segs) if _prose(s, size) and not s.weight >= BOLD > weight), len(segs)
        )
    out: dict[int, int] = {}
    for i in range(start, len(segs) - 1):
        s, nxt = segs[i], segs[i + 1]
        text = s.text.strip()
        larger = s.size >= LARGER * size
        bold = s.weight >= BOLD > weight and s.size >= 0.95 * size
        if not (larger or bold) or not re.search(r"[^\W\d_]", text) or _units(text) > MAX_UNITS:
            continue
        if _END.search(text) or _NOT_HEADING.match(text) or text[:1].islower() or text.startswith("#"):
            continue
        if not _prose(nxt, size) or nxt.weight >= BOLD > weight or _NOT_HEADING.match(nxt.text):
            continue  # a heading opens prose: labels in a figure (above its caption) do not
        m = _NUMBER.match(text)
        out[i] = m.group(1).count(".") + 1 if m else (1 if larger else 2)
    return out


def numbered(text: str) -> bool:
    """Whether a heading opens with a section number (2, 2.1, 2.1.3)."""
    return _NUMBER.match(text.strip()) is not None
