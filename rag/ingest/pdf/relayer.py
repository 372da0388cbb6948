"""OCR lines checked against the page's own text layer: on a page OCR'd because much of its text layer
maps to nothing readable, the lines its fonts do spell correctly are kept as written (the recogniser
misreads Latin words set in CJK text, "LATEX" as "ITEX"), the rest stays as OCR read it."""

from __future__ import annotations

import difflib
import re

from rag.ingest.pdf.records import Segment
from rag.lang.normalize import normalize
from rag.lang.text import is_cjk

AGREE = 0.8  # an OCR line and the text layer's line in its box agree this closely (character ratio)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", normalize(text))


def _readable(layer: str, ocr: str) -> bool:
    """Every character of the layer's line is ASCII, Han, or one the recogniser also read: characters
    of other scripts are what an unreadable font map produces."""
    return all(ch.isascii() or is_cjk(ch) or ch in ocr for ch in layer)


def _join(parts: list[Segment]) -> str:
    out = parts[0].text
    for s in parts[1:]:
        glue = "" if is_cjk(out[-1:]) and is_cjk(s.text[:1]) else " "
        out += glue + s.text
    return out


def _in_box(line: Segment, layer: list[Segment]) -> list[Segment]:
    """The layer's segments whose middle lies inside the OCR line's box, left to right."""
    inside = [
        s for s in layer if line.top <= (s.top + s.bottom) / 2 <= line.bottom and s.x1 > line.x0 and s.x0 < line.x1
    ]
    return sorted(inside, key=lambda s: s.x0)


def prefer_layer(ocr: list[Segment], layer: list[Segment]) -> list[Segment]:
    """The OCR'd lines, each replaced by the text layer's text in its box where that text is readable and
    agrees with what OCR read (the OCR line's box and size kept)."""
    out = []
    for line in ocr:
        parts = _in_box(line, layer)
        text = _join(parts) if parts else ""
        a, b = _squash(text), _squash(line.text)
        if (
            a
            and a != b
            and _readable(normalize(text), normalize(line.text))
            and difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= AGREE
        ):
            out.append(Segment(normalize(text), line.x0, line.x1, line.top, line.bottom, line.size, line.weight))
        else:
            out.append(line)
    return out
