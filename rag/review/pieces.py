"""A sentence too long to quote whole, cut into pieces that can each be a point: consecutive runs of its
clauses (commas, semicolons, colons, dashes; an over-long clause also before a conjunction or relative
word, else at a word end), packed greedily up to a character budget. Each piece is a verbatim stretch of
the sentence, so a quote of it stays exact."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import numpy as np

from rag.answer.evidence import REFERENCE, ROADMAP
from rag.answer.retrieval import Retriever
from rag.index.embedding import VectorCache
from rag.review.clip import clauses

MIN_LETTERS = 12  # a piece with fewer letters (or Chinese characters) says too little to be a point

# where an over-long English clause may be cut: before a coordinating or relative word
_JOIN = re.compile(r"\s+(?=(?:and|but|or|which|that|while|whereas|although|because|whether|where|when)\s)", re.I)

_LEAD = re.compile(r"(?:and|or|but)\s+", re.I)


def _split(text: str, a: int, b: int, limit: int) -> list[tuple[int, int]]:
    """(start, end) of stretches of ``text[a:b]`` each within ``limit`` (cut at joins, else at spaces)."""
    if b - a <= limit:
        return [(a, b)]
    cuts = [a] + [a + m.start() for m in _JOIN.finditer(text[a:b]) if 0 < m.start() < b - a] + [b]
    out: list[tuple[int, int]] = []
    for x, y in zip(cuts, cuts[1:]):
        while y - x > limit:  # no join near enough: the last word end within the budget
            space = text.rfind(" ", x + limit // 2, x + limit)
            cut = space if space > x else x + limit
            out.append((x, cut))
            x = cut
        out.append((x, y))
    return out


def pieces(text: str, limit: int) -> list[tuple[int, int]]:
    """(start, end) of the pieces of ``text``: runs of whole clauses of at most ``limit`` characters,
    trimmed of leading spaces, a leading "and" / "or" / "but" and trailing separators; the whole text when
    it fits."""
    if len(text) <= limit:
        return [(0, len(text))]
    units = [u for a, b in clauses(text) for u in _split(text, a, b, limit)]
    runs: list[tuple[int, int]] = []
    start, end = units[0]
    for a, b in units[1:]:
        if b - start <= limit:
            end = b
        else:
            runs.append((start, end))
            start, end = a, b
    runs.append((start, end))
    out = []
    for a, b in runs:
        while b > a and text[b - 1] in " ,，;；:：、":
            b -= 1
        while a < b and text[a].isspace():
            a += 1
        lead = _LEAD.match(text, a, b)  # a piece opening on "and" reads as a fragment: quote from the next word
        if lead:
            a = lead.end()
        if b > a:
            out.append((a, b))
    return out


def sentence_pieces(texts: Sequence[str], ids: Sequence[int], limit: int) -> Iterator[tuple[int, str]]:
    """(id, piece text) of every wordy piece of each long sentence (not a roadmap or a reference entry)."""
    for i, t in zip(ids, texts):
        if ROADMAP.search(t) or REFERENCE.search(t):
            continue
        for a, b in pieces(t, limit):
            if sum(ch.isalpha() or "\u4e00" <= ch <= "\u9fff" for ch in t[a:b]) >= MIN_LETTERS:
                yield i, t[a:b]


def embed_pieces(retriever: Retriever, texts: list[str]) -> np.ndarray:
    """Passage vectors of the pieces, as a sentence is embedded (kept in the embedding cache)."""
    try:
        cache = VectorCache(retriever.settings.embedding_cache_dir, retriever.embedder)
        return cache.embed_passages(texts)
    except OSError:  # a read-only cache folder: embed without keeping the vectors
        return np.asarray(retriever.embedder.embed_passages(texts), dtype=np.float32)
