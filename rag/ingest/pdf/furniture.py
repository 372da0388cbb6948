"""Page furniture: running headers, footers, banners and page numbers, found by repetition across pages.

A line near the top or bottom edge of a page is furniture when a line like it stands near the same
edge, at about the same height, on many pages. "Like it" is fuzzy: digits are masked (a page number, a date) and the masked texts
must share one unbroken stretch of most of their characters (a banner carrying a page number or a changing date, a running
title that alternates with the authors' names), so repetition is found even where no two lines are
identical. Bare page numbers at an edge are furniture on any page. Everything removed is returned,
so the build can count it."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from rag.ingest.pdf.records import Segment

EDGE = 0.1  # share of the page height at the top and at the bottom where running lines sit
RUNNING_SHARE = 0.3  # a line like one on at least this share of the pages (and on 2+) is furniture
SIMILAR = 0.8  # masked texts agreeing on this share of their characters are the same running line
_PAGE_NUMBER = re.compile(
    r"^[-–—\s]*(\d{1,4}|[ivxlc]{1,6}|第\s*\d{1,4}\s*页|page\s+\d{1,4}(\s+of\s+\d{1,4})?)[-–—\s]*$", re.I
)


def _key(s: Segment) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", s.text)).lower()


def _zone(s: Segment, h: float) -> str:
    return "top" if s.bottom < EDGE * h else "bottom" if s.top > (1 - EDGE) * h else ""


def _alike(a: str, b: str) -> bool:
    if a == b:
        return True
    if min(len(a), len(b)) < 0.7 * max(len(a), len(b)):
        return False
    m = SequenceMatcher(None, a, b, autojunk=False)
    if m.quick_ratio() < SIMILAR:
        return False
    # one unbroken stretch in common: what differs sits at an end (a number, a date), not in the middle
    # (two footnotes of one pattern differ in their middles)
    return m.find_longest_match(0, len(a), 0, len(b)).size >= SIMILAR * min(len(a), len(b))


def running_furniture(pages: list[list[Segment]], heights: list[float]) -> list[set[int]]:
    """Per page, the indexes of its furniture lines (see the module docstring)."""
    edge: list[tuple[int, int, str, str, float]] = []  # (page, index, zone, key, top)
    for p, (segs, h) in enumerate(zip(pages, heights)):
        edge += [(p, i, z, _key(s), s.top) for i, s in enumerate(segs) if (z := _zone(s, h))]
    need = max(2.0, RUNNING_SHARE * len(pages))
    out: list[set[int]] = [set() for _ in pages]
    for p, i, z, k, top in edge:
        seg = pages[p][i]
        if _PAGE_NUMBER.match(seg.text):
            out[p].add(i)
            continue
        if len(pages) < 3:
            continue
        seen = {p}
        for q, _, z2, k2, top2 in edge:
            # at the same height: a running line keeps its place, a footnote's place follows the body
            if q not in seen and z2 == z and abs(top - top2) <= 2 * seg.size and _alike(k, k2):
                seen.add(q)
                if len(seen) >= need:
                    out[p].add(i)
                    break
    return out
