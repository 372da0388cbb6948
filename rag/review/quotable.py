"""What a review may quote as a point: a wordy, complete sentence of the paper that is not a roadmap, a
cited work's entry or a heading (a Title Case line names a subject and states nothing about it)."""

from __future__ import annotations

import re

from rag.answer.cues import REFERENCE, ROADMAP

MIN_WORDS = 12  # letters or Han characters a quotable sentence (or a piece of one) holds at least
HEADING_WORDS = 3  # words of four letters or more a heading holds at least
HEADING_SHARE = 0.8  # of which at least this share are capitalised (articles, short prepositions aside)
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_HAN = re.compile(r"[\u3400-\u9fff]")


def words(text: str) -> int:
    """Letters and Han characters in a text (what makes it wordy)."""
    return sum(ch.isalpha() or "\u4e00" <= ch <= "\u9fff" for ch in text)


def ends(text: str) -> bool:
    """Whether a text ends as a sentence does."""
    return text[-1:] in "。！？!?.…”」』)）;；" if text else False


def quotable(text: str, max_chars: int, meta: bool = False) -> bool:
    """A sentence that can be a point: wordy, complete (or long), at most ``max_chars``, not a roadmap or a
    cited work's entry; front matter (``meta``: abstract, keywords, affiliations) only when it ends as a
    sentence."""
    return (
        words(text) >= MIN_WORDS
        and (ends(text) or (len(text) > 60 and not meta))
        and len(text) <= max_chars
        and not ROADMAP.search(text)
        and not REFERENCE.search(text)  # a cited work's entry is not the paper's point
    )


def is_heading(text: str) -> bool:
    """A line in Title Case (most of its words of four letters or more capitalised, no Han text): a section
    heading or a title — read with the sentences, never quoted as a point."""
    if _HAN.search(text):
        return False
    long = [w for w in _LATIN_WORD.findall(text) if len(w) >= 4]
    return len(long) >= HEADING_WORDS and sum(w[0].isupper() for w in long) >= HEADING_SHARE * len(long)
