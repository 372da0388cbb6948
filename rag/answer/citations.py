"""Citation marks in a written answer: every variant models produce (【1】, (1), （1）, [ID:1], [1,2], [1-3],
[^1]) repaired to ``[n]``, numbers that point at no passage dropped, and the answer split into sentences
with the marks each carries."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.lang.text import detect_lang, split_sentences
from rag.records import Citation, Support

MARK = re.compile(r"\[(\d+)\]")
_MARKS = re.compile(r"\s*((?:\[\d+\])+)")
# a bracketed number quoted from a paper (its reference "[12]") as the answer writes it: not read as a citation mark
QUOTED_MARK = "［{}］"

_KW = r"(?:passages?|sources?|refs?|references?|docs?|documents?|id|no\.?|段落|资料|文献|来源|材料|片段|参考|段)"
_NUMS = rf"\d+(?:\s*(?:[,，、;；&]|and|-|–|—|~|～|至|到)\s*(?:{_KW}\s*[:：#]?\s*)?\d+)*"
_BRACKETED = re.compile(rf"[ \t]*(?:\[\^|[【〔［\[])\s*(?:{_KW}\s*[:：#]?\s*)?(?P<nums>{_NUMS})\s*[】〕］\]]", re.I)
_PAREN = re.compile(rf"[ \t]*[（(]\s*(?P<kw>{_KW}\s*[:：#]?\s*)?(?P<nums>{_NUMS})\s*[）)]", re.I)
# a bare "(1)" is a citation only where one goes: before punctuation, a line end or another mark
_CITE_FOLLOWS = re.compile(r"\s*(?:[。．.!！?？；;，,:：]|$|\n|[【\[（(])")
_MAX_RANGE = 10


def unmarked(quote: str) -> str:
    """A quote as an answer writes it: the paper's own bracketed numbers ("[12]", a reference) in full-width
    brackets, so the answer's only ``[n]`` marks are its citations (the citation keeps the paper's text)."""
    return MARK.sub(lambda m: QUOTED_MARK.format(m.group(1)), quote)


def _numbers(spec: str) -> list[int]:
    """'1, 2-4' -> [1, 2, 3, 4] (ranges capped, so '1-999' cannot flood the answer)."""
    out: list[int] = []
    for m in re.finditer(r"(\d+)(?:\s*(?:-|–|—|~|～|至|到)\s*(\d+))?", spec):
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) else a
        out.extend(range(a, b + 1) if 0 <= b - a < _MAX_RANGE else [a, b] if b != a else [a])
    return out


def repair_citations(text: str, n_passages: int) -> tuple[str, list[int]]:
    """``text`` with every citation variant rewritten to ``[n]`` marks (sorted, de-duplicated per run),
    and the numbers dropped because no passage has them."""
    dropped: list[int] = []

    def marks(nums: list[int]) -> str:
        good = [n for n in nums if 1 <= n <= n_passages]
        dropped.extend(n for n in nums if not 1 <= n <= n_passages)
        return "".join(f"[{n}]" for n in dict.fromkeys(good))

    text = unicodedata.normalize("NFC", text or "")
    text = _BRACKETED.sub(lambda m: marks(_numbers(m.group("nums"))), text)

    def paren(m: re.Match) -> str:
        if m.group("kw") or _CITE_FOLLOWS.match(text, m.end()):
            return marks(_numbers(m.group("nums")))
        return m.group()

    text = _PAREN.sub(paren, text)
    # one run of marks: in order, each number once ("[2][1][2]" -> "[1][2]")
    return _MARKS.sub(
        lambda m: "".join(f"[{n}]" for n in sorted({int(x) for x in MARK.findall(m.group(1))})), text
    ), dropped


@dataclass(frozen=True)
class Piece:
    """One sentence of an answer: its text without marks, the passage numbers it cites, and what
    separates it from the sentence before (a space, a line break or nothing)."""

    text: str
    cites: tuple[int, ...]
    sep: str = ""


def cited_sentences(text: str) -> list[Piece]:
    """Split an answer with ``[n]`` marks into sentences; a run of marks belongs to the sentence it
    follows (or, at the very start, to the first)."""
    plain_parts, runs, at = [], [], 0
    for m in _MARKS.finditer(text):
        plain_parts.append(text[at : m.start()])
        pos = sum(len(p) for p in plain_parts)
        runs.append((pos, [int(x) for x in MARK.findall(m.group(1))]))
        at = m.end()
    plain_parts.append(text[at:])
    plain = "".join(plain_parts)
    spans = split_sentences(plain)
    if not spans:
        return []
    cites: list[list[int]] = [[] for _ in spans]
    for pos, nums in runs:
        i = max((j for j, (a, _) in enumerate(spans) if a < pos), default=0)
        cites[i].extend(n for n in nums if n not in cites[i])
    out: list[Piece] = []
    prev_end = 0
    for (a, b), c in zip(spans, cites):
        gap = plain[prev_end:a]
        sep = "\n" if "\n" in gap else (" " if gap else "")
        out.append(Piece(plain[a:b], tuple(c), sep if out else ""))
        prev_end = b
    return out


def join_pieces(pieces: Sequence[Piece], lang: str) -> str:
    """Sentences back into one text, each followed by its marks; Chinese sentences run on."""
    parts = []
    for i, p in enumerate(pieces):
        sep = (
            ""
            if i == 0
            else (p.sep if p.sep == "\n" else ("" if lang == "zh" and detect_lang(p.text) == "zh" else " "))
        )
        parts.append(sep + p.text + "".join(f"[{n}]" for n in p.cites))
    return "".join(parts)


def merge_repeated_passages(
    answer: str, citations: Sequence[Citation], support: Sequence[Support] = ()
) -> tuple[str, tuple[Citation, ...], tuple[Support, ...]]:
    """One number per passage: citations of a passage already cited (same chunk id, or the same sentence
    of the same document quoted from two overlapping passages) folded into the first, numbers renumbered
    1..m in order, the answer's marks and the support entries rewritten (a run "[1][3]" that becomes
    "[1][1]" keeps one mark). The kept quote is the passage's stretch from the first quoted sentence to
    the last, verbatim, so every quoted sentence stays marked."""
    first: dict[str, int] = {}  # chunk id, or document + quote -> new number
    new_of: dict[int, int] = {}
    merged: list[Citation] = []
    for c in sorted(citations, key=lambda c: c.n):
        keys = [c.chunk_id] + ([f"{c.doc}\0{''.join(c.quote.split())}"] if c.quote.strip() else [])
        m = next((first[key] for key in keys if key in first), 0)
        if m:
            for key in keys:
                first.setdefault(key, m)
            new_of[c.n] = m
            kept = merged[m - 1]
            merged[m - 1] = replace(
                kept, quote=_covering_quote(kept.text, kept.quote, c.quote), score=max(kept.score, c.score)
            )
            continue
        for key in keys:
            first[key] = len(merged) + 1
        new_of[c.n] = len(merged) + 1
        merged.append(replace(c, n=len(merged) + 1))
    if all(k == v for k, v in new_of.items()):
        return answer, tuple(citations), tuple(support)

    def run(m: re.Match) -> str:
        nums = [new_of.get(int(x), int(x)) for x in MARK.findall(m.group(1))]
        return m.group(0)[: len(m.group(0)) - len(m.group(1))] + "".join(f"[{n}]" for n in sorted(set(nums)))

    text = _MARKS.sub(run, answer)
    sup = tuple(replace(s, citations=tuple(dict.fromkeys(new_of.get(n, n) for n in s.citations))) for s in support)
    return text, tuple(merged), sup


def _covering_quote(text: str, a: str, b: str) -> str:
    """The stretch of ``text`` from the earlier of two quotes to the end of the later (``a`` when either
    is not found verbatim)."""
    i, j = text.find(a), text.find(b)
    if i < 0 or j < 0:
        return a
    return text[min(i, j) : max(i + len(a), j + len(b))]
