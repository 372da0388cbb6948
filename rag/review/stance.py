"""Whether two papers' matched points (rag.review.api.compare) make the same point, shown only when
confident: the two quotes must share a fifth of their terms (Jaccard over their tokens of two or more
characters, either language's tokenizer) — a signal of wording, never a topic word.

Measured on the review stance gold (`eval/review/stance_gold_*.jsonl`: the pairs the mutual-nearest match
found on both review sets, each read and labelled same / unrelated / opposite): the threshold is the lowest
at which the 40 pairs first labelled on review-zh are right nine times in ten or more (15 of 16 shown); on
the held-out review-en it shows none of the 11 unrelated pairs (nor its 2 same ones), and with today's
points review-zh shows 23, 19 of them right. Opposite stances are not marked: the
negation-and-contrast cue rule used before was right on none of the 7 pairs it called opposite, and no pair
of the gold is an opposite stance to learn from (eval/NOTES.md)."""

from __future__ import annotations

from rag.lang.text import tokenize

SAME, OPPOSITE = "same", "opposite"  # OPPOSITE: still rendered in records written before it was dropped
SAME_OVERLAP = 0.2  # fitted on review-zh's stance gold (eval/NOTES.md)


def _terms(text: str) -> set[str]:
    return {t for t in tokenize(text) if len(t) > 1}


def overlap(quote_a: str, quote_b: str) -> float:
    """Share of the two quotes' terms they have in common (Jaccard; 0 when either has none)."""
    a, b = _terms(quote_a), _terms(quote_b)
    return len(a & b) / len(a | b) if a and b else 0.0


def relation(quote_a: str, quote_b: str) -> str:
    """SAME when two matched points share enough wording to be the same point, else "" (not shown)."""
    return SAME if overlap(quote_a, quote_b) >= SAME_OVERLAP else ""
