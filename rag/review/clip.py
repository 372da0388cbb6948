"""A long sentence quoted as its most relevant verbatim stretch: the run of whole clauses, within a
character budget, that holds the largest IDF weight of the question's terms (the earliest such run on a
tie), so a 500-character sentence can still be one point of a ~600-character cell."""

from __future__ import annotations

import re
from collections.abc import Sequence

# clause ends inside a sentence: commas, semicolons, colons and dashes, Chinese and Western
_CLAUSE = re.compile(r"(?<=[，,；;：:、])\s*|\s+(?=[—–]\s)|(?<=\s[—–])\s+")

Groups = Sequence[tuple[Sequence[str], float]]


def clauses(text: str) -> list[tuple[int, int]]:
    """(start, end) of each clause of ``text``, covering it without gaps."""
    cuts = [0] + [m.end() for m in _CLAUSE.finditer(text) if 0 < m.end() < len(text)] + [len(text)]
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _weight(text: str, groups: Groups) -> float:
    low = text.lower()
    return sum(w for alts, w in groups if any(a.lower() in low for a in alts))


def clip(text: str, groups: Groups, limit: int) -> tuple[int, int]:
    """(start, end) of the stretch of ``text`` to quote: the whole of it when it fits in ``limit``
    characters, else the best run of clauses that does (a single over-long clause cut at a word end)."""
    if len(text) <= limit:
        return 0, len(text)
    parts = clauses(text)
    best: tuple[float, int, int] | None = None
    for i in range(len(parts)):
        for j in range(i, len(parts)):
            a, b = parts[i][0], parts[j][1]
            if b - a > limit:
                break
            w = _weight(text[a:b], groups)
            # more weight first, then more text (a fuller quote), then the earlier stretch
            key = (w, -a, b - a)
            if best is None or key > (best[0], -best[1], best[2] - best[1]):
                best = (w, a, b)
    if best is not None:
        a, b = best[1], best[2]
    else:
        a, b = 0, limit
        space = text.rfind(" ", limit // 2, limit)
        b = space if space > 0 else limit
    # trailing separators and spaces are not part of the quote
    while b > a and text[b - 1] in " ,，;；:：、":
        b -= 1
    while a < b and text[a] == " ":
        a += 1
    return a, b
