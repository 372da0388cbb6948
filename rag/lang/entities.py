"""What a question is about: the names, numbers and titles a passage must mention to answer it.

A sentence about someone else's first place does not answer a question about 肖晴's. The entities
of a question are found by linguistic means only — jieba's part-of-speech tags for Chinese names of
people, places, organisations and other proper nouns (nr/ns/nt/nz), capitalised words and acronyms
in Latin script, numbers and years, and works named in 《》 — and a passage mentions one only as a
whole: a number not as part of a longer number, a Latin word not inside a longer word, a 《title》
as the complete title.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from rag.lang.segment import pos_cut
from rag.lang.text import is_cjk

NAME_TAGS = ("nr", "nrt", "nrfg", "ns", "nt", "nz")
# capitalised words that open or shape a question rather than name something
_QUESTION_WORDS = set(
    (
        "i a an the what which who whom whose when where why how is are was were do does did in on at of for "
        "to by from with according during after before besides apart other name list give can could would "
        "should has have had if as about and or but it its this that these those there january february march "
        "april may june july august september october november december monday tuesday wednesday thursday "
        "friday saturday sunday"
    ).split()
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9'\-]*|\d+[A-Za-z][A-Za-z0-9\-]*")
_TITLE = re.compile(r"《([^》]{1,40})》")
# a question's own number in a list ("3. ...", "Q12: ...", "第3题：..."): not something it asks about
_ENUMERATOR = re.compile(r"^\s*(?:第\s*\d{1,4}\s*[题问]|[Qq]?\d{1,4})\s*[.、:：)）]\s*(?!\d)")


@dataclass(frozen=True)
class Entity:
    """Something a question names: its text, kind ('name', 'latin', 'number', 'title') and the
    normalised forms any one of which counts as a mention."""

    text: str
    kind: str
    forms: tuple[str, ...]


def norm(text: str) -> str:
    """The form entities are matched in: NFKC, lower case, whitespace between Han characters removed."""
    t = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])", "", t)


def _chinese_names(q: str) -> list[str]:
    """Proper nouns of a Chinese text by jieba's part-of-speech tags (two characters or more)."""
    pairs = pos_cut(q)
    return [w for w, f in pairs if f in NAME_TAGS and len(w) >= 2 and all(is_cjk(c) for c in w)]


def question_entities(question: str, glossary: Mapping[str, list[str]] | None = None) -> list[Entity]:
    """The entities a passage must mention to answer ``question`` (de-duplicated, in order)."""
    q = _ENUMERATOR.sub("", unicodedata.normalize("NFKC", question))
    out: dict[str, Entity] = {}

    def add(text: str, kind: str, forms: tuple[str, ...]) -> None:
        key = norm(text)
        if key and key not in out:
            out[key] = Entity(text, kind, tuple(dict.fromkeys(norm(f) for f in forms if f)))

    for t in _TITLE.findall(q):
        add(t, "title", (f"《{t}》", t))
    for n in _NUMBER.findall(q):
        digits = n.replace(",", "")
        add(n, "number", (n, digits))
    from rag.lang.translation import romanised_names

    taken: set[str] = set()
    for name, chinese in romanised_names(q, glossary or {}):  # Sun Hao -> 孙皓
        add(name, "latin", (name, *chinese))
        taken |= set(name.split())
    latin = list(_LATIN.finditer(q))
    for i, m in enumerate(latin):
        w = m.group()
        if w in taken:
            continue
        if any(c.isdigit() for c in w) and any(c.isalpha() for c in w):
            add(w, "latin", (w,))  # 95M, 581b, G20
        elif w.isupper() and len(w) >= 2:
            add(w, "latin", (w, *(glossary or {}).get(w.lower(), [])))  # acronyms: IETF, UNESCO
        elif w[0].isupper() and w.lower() not in _QUESTION_WORDS and not (i == 0 and m.start() == 0):
            add(w, "latin", (w, *(glossary or {}).get(w.lower(), [])))
    if any(is_cjk(c) for c in q):
        for name in _chinese_names(q):
            add(name, "name", (name,))
    return list(out.values())


def mentions(text_norm: str, entity: Entity) -> bool:
    """Whether a normalised text mentions the entity as a whole (not inside a longer number or word)."""
    for f in entity.forms:
        if not f:
            continue
        if entity.kind == "title" or any(is_cjk(c) for c in f):
            if f in text_norm:
                return True
        elif re.search(rf"(?<![a-z0-9]){re.escape(f)}(?![a-z0-9])", text_norm):
            return True
    return False


def checkable(entity: Entity, text_langs: set[str], question_lang: str) -> bool:
    """Whether a passage in ``text_langs`` can be expected to mention the entity in one of its forms:
    numbers, titles and acronyms always; other Latin names only in Latin text or with a translation;
    Chinese names only in Chinese text."""
    if entity.kind in ("number", "title"):
        return True
    if entity.kind == "name":
        return "zh" in text_langs
    if entity.text.isupper() or any(c.isdigit() for c in entity.text) or "en" in text_langs:
        return True
    return len(entity.forms) > 1  # a translation from the glossary
