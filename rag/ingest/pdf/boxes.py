"""Where a passage's text stands on its pages: each passage's lines matched back to the PDF reader's
lines and table rows (their boxes in points from the top-left corner), so the page view can mark a quote from boxes the
index keeps instead of searching the page again.

Passages are cut from cleaned text (joined lines, hyphens dropped, marks moved), so lines are compared
by a key that cleaning does not change: NFKC, no white space, hyphens or circled note marks. A line is
part of a passage when its key occurs in the passage's key after the previous line found (lines stand in
reading order); the passage's first and last lines may be cut, matched by the longest piece that starts
or ends the passage; a line too short to be told apart (a page number) is taken only where it continues
the previous one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

from rag.records import PageLine

MIN_PIECE = 4  # characters (keyed) a cut first or last line must share with the passage
MIN_FREE = 4  # a shorter line is taken only right after the previous line found

# (page, x0, top, x1, bottom, start, end): a line's box in points and its span in the passage's text
LineSpan = tuple[int, float, float, float, float, int, int]


def char_key(ch: str) -> str:
    """A character as compared: NFKC, nothing for white space, hyphens and circled note marks."""
    k = unicodedata.normalize("NFKC", ch)
    return "" if k.isspace() or k in "-\u00ad" or "\u2460" <= ch <= "\u24ff" else k


def keyed(text: str) -> tuple[str, list[int]]:
    """``text``'s key and, for each key character, the offset in ``text`` it comes from."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        for k in char_key(ch):
            out.append(k)
            where.append(i)
    return "".join(out), where


def page_numbers(pages: str) -> range:
    """The pages of a passage's page label ("12" or "12-13"); empty when it has none."""
    if not pages:
        return range(0)
    lo, _, hi = pages.partition("-")
    return range(int(lo), int(hi or lo) + 1)


def passage_lines(text: str, pages: str, lines: Sequence[PageLine]) -> list[LineSpan]:
    """The reader's lines (of ``pages``) that ``text`` was cut from, in text order, each with its box and
    span in ``text``."""
    wanted = set(page_numbers(pages))
    key, where = keyed(text)
    if not key or not wanted:
        return []
    cand = [(ln, k) for ln in lines if ln.page in wanted and (k := keyed(ln.text)[0])]
    spans = place_lines(key, [k for _, k in cand])
    out: list[LineSpan] = []
    for (ln, _), span in sorted(zip(cand, spans), key=lambda x: x[1] or (0, 0)):
        if span is not None:
            a, b = span
            out.append((ln.page, ln.x0, ln.top, ln.x1, ln.bottom, where[a], where[b - 1] + 1))
    return out


def place_lines(key: str, lines: list[str]) -> list[tuple[int, int] | None]:
    """Where each line's key stands in a passage's ``key`` (None: not in it). Longest lines first, each at
    an occurrence that overlaps no line placed and keeps the lines' order (a line repeated elsewhere in the
    passage cannot take a place that belongs to another); short lines only right next to a placed
    neighbour; then the cut lines at the passage's start and end and the lines cleaning changed."""
    n = len(lines)
    pos: list[tuple[int, int] | None] = [None] * n
    for i in sorted(range(n), key=lambda j: -len(lines[j])):
        lk = lines[i]
        if len(lk) < MIN_FREE:
            continue
        lo, hi = _bounds(pos, i, len(key))
        j = key.find(lk, lo)
        if 0 <= j and j + len(lk) <= hi:
            pos[i] = (j, j + len(lk))
    for i, lk in enumerate(lines):  # short lines: continuing the line before or leading into the one after
        if pos[i] is None and len(lk) < MIN_FREE:
            lo, hi = _bounds(pos, i, len(key))
            if i and pos[i - 1] is not None and key.startswith(lk, lo) and lo + len(lk) <= hi:
                pos[i] = (lo, lo + len(lk))
            elif i + 1 < n and pos[i + 1] is not None and hi - len(lk) >= lo and key.startswith(lk, hi - len(lk)):
                pos[i] = (hi - len(lk), hi)
    for i, lk in enumerate(lines):  # cut or changed lines in the gaps left
        if pos[i] is None:
            pos[i] = _partial(key, lk, *_bounds(pos, i, len(key)), i, pos)
    return pos


def _bounds(pos: list[tuple[int, int] | None], i: int, end: int) -> tuple[int, int]:
    """The stretch of the key line ``i`` may take: after the placed lines before it, before those after."""
    lo = max((p[1] for p in pos[:i] if p is not None), default=0)
    hi = min((p[0] for p in pos[i + 1 :] if p is not None), default=end)
    return lo, hi


def _partial(key: str, lk: str, lo: int, hi: int, i: int, pos: list[tuple[int, int] | None]) -> tuple[int, int] | None:
    """A piece of a line (at least MIN_PIECE keys) filling the start of the gap ``lo..hi`` right after a
    placed line (or at the passage's start), or its end right before one (or at the passage's end)."""
    if hi - lo < MIN_PIECE:
        return None
    gap = key[lo:hi]
    after = lo == 0 or (i > 0 and pos[i - 1] is not None and pos[i - 1][1] == lo)  # type: ignore[index]
    before = hi == len(key) or (i + 1 < len(pos) and pos[i + 1] is not None and pos[i + 1][0] == hi)  # type: ignore[index]
    if after:  # the line starts here: its start fills the gap's start
        m = _common_prefix(gap, lk)
        if m >= MIN_PIECE and (m == hi - lo or m >= len(lk) // 2):
            return lo, lo + m
    if before:  # the line ends here: its end fills the gap's end
        m = _common_prefix(gap[::-1], lk[::-1])
        if m >= MIN_PIECE and (m == hi - lo or m >= len(lk) // 2 or lo == 0):
            return hi - m, hi
    return None


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def quote_lines(text: str, quote: str, spans: Iterable[LineSpan]) -> list[LineSpan]:
    """The stored lines of a passage that hold ``quote`` (found in the passage's ``text`` by key)."""
    key, where = keyed(text)
    qk = keyed(quote)[0]
    i = key.find(qk) if qk else -1
    if i < 0:
        return []
    a, b = where[i], where[i + len(qk) - 1] + 1
    return [s for s in spans if s[5] < b and s[6] > a]
