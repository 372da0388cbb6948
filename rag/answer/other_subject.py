"""A question about a named subject answered from a passage about another one.

A near-miss question may ask the right document about one of the several people (or products, places)
it describes ("how many years did <author B> work…") while the likeliest sentence states the very detail
of another ("he worked there for nine years", in <author A>'s paragraph). The document names the asked
subject elsewhere, so no term is missing from it; the passage quoted never names it. Read from the
question's capitalisation only (a run of two or more capitalised words), never from a list of names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from rag.lang.text import is_cjk

# a run of capitalised words (acronyms and digits end it) and the word before it
_RUN = re.compile(
    r"(?:(?<![A-Za-z])(?P<before>[A-Za-z]+)[,;:]? )?(?P<run>[A-Z][a-z]+(?: [A-Z][a-z]+)*)(?P<after>(?= (?:of|and|for|de) [A-Z]))?"
)
# words before a run that make it part of a title ("the Journal of Applied …"), which a body passage need
# not repeat, rather than a subject's name
_TITLE_BEFORE = frozenset("the a an of and for in on at".split())


def subject_names(question: str) -> tuple[tuple[str, ...], ...]:
    """The names of an English question: runs of two or three capitalised words after a lower-case word
    (not opening the question, not after an article or preposition, not running on into "of X"), each as
    its words in lower case."""
    out: list[tuple[str, ...]] = []
    if any(is_cjk(c) for c in question):  # a Chinese question: Latin words in it are terms, not names
        return ()
    for m in _RUN.finditer(question):
        before, words = m.group("before"), m.group("run").split()
        if not before or not before.islower() or before in _TITLE_BEFORE or m.group("after") is not None:
            continue
        if 2 <= len(words) <= 3:
            out.append(tuple(w.lower() for w in words))
    return tuple(out)


def _says(word: str, text_norm: str) -> bool:
    """Whether a normalised text holds ``word`` as a whole word."""
    return re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", text_norm) is not None


def subject_elsewhere(question: str, passage_norm: str, langs: Collection[str], in_doc: Callable[[str], bool]) -> float:
    """1.0 when an English passage (NFKC, lower case; ``langs`` its sentences' languages) names no word of one
    of an English question's names while its document holds every word of it (the passage is about another
    subject of that document), else 0.0."""
    if set(langs) != {"en"}:  # a passage in another language writes the name otherwise, or not at all
        return 0.0
    for name in subject_names(question):
        if not any(_says(w, passage_norm) for w in name) and all(in_doc(w) for w in name):
            return 1.0
    return 0.0
