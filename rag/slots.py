"""What a question asks for, and whether a sentence supplies it (answer typing, as in classic QA).

Relevance alone cannot tell "the passage is about the convention" from "the passage says how many
votes the convention got". A question names a slot — a number with its unit, a date, the holder of
a role, a place — and the entities it is about; a quoted sentence answers only if it fills the slot
and mentions those entities. The checks are deliberately lenient (any number, any year, the
entity in any script), so that they veto near-misses without refusing real answers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from rag.text import tokenize

_CN_DIGITS = "零一二两三四五六七八九十百千万亿"
_UNITS = "个名位项次届天年月日周票家份所人国方条种倍元座支场轮"
# a Chinese numeral counts only before a measure word: 一方面, 一半 and 一些 are not numbers
_EN_NUMBERS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|"
               r"fifty|hundred|thousand|million|billion|dozen|half")
_NUMBER = rf"(?:\d+(?:[.,]\d+)*|[{_CN_DIGITS}]+(?=[{_UNITS}])|\b(?:{_EN_NUMBERS})\b)"
_ZH_HOW_MANY = re.compile(rf"(?<!哪)(多少|几)\s*([{_UNITS}])?")  # 哪几种 asks for a list, not a count
_ZH_DATE = re.compile(r"哪一?年|何年|何时|什么时[候间]|哪一?天|哪个月|几月|几号|哪一日|日期")
_ZH_WHO = re.compile(r"([\u4e00-\u9fffA-Za-z]{2,12}?)(?:是|为|由)(谁|哪位|何人|哪[支个家所国座])")
_ZH_WHERE = re.compile(r"([\u4e00-\u9fff]{2,8}?)(?:设在|位于|设于|在)(哪里|哪儿|何处|什么地方|哪座城市|哪个城市|哪个国家|哪国)")
_ZH_COUNTED = re.compile(r"(?<!哪)(?:多少|几)\s*个?\s*([\u4e00-\u9fff]{1,6})")
_EN_HOW_MANY = re.compile(r"\bhow (many|much|long|often|old|far|big)\b\s*([a-z\-]+)?", re.I)
_EN_NUMBER_NOUN = re.compile(r"\bwhat (?:is|was|are|were) the (population|number|rate|share|percentage|proportion|size|amount|cost|fee|total)\b", re.I)
_EN_DATE = re.compile(r"\bwhen\b|\bwhat (year|date|month|day)\b|\bwhich (year|date|month|day)\b|\bin what year\b", re.I)
_EN_WHO = re.compile(r"\bwho (?:is|was|are|were)(?: the)? ([a-z\- ]{3,40}?)(?: of| at| in| for|\?|$)", re.I)
_YEARISH = re.compile(r"\d{4}\s*年?|\d{1,2}\s*月|\d{1,2}\s*日|[一二三四五六七八九十]+月|(19|20)\d{2}")


@dataclass(frozen=True)
class Slot:
    """The answer a question wants: a kind, an optional unit, terms the answering sentence must
    mention, and entities its passage must mention (each a group of alternatives)."""

    kind: str | None = None  # "number" | "date" | None
    unit: str | None = None
    required: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    entities: tuple[tuple[str, ...], ...] = field(default_factory=tuple)


def _norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def _head_terms(phrase: str) -> tuple[str, ...]:
    """The last content word of a phrase (its head noun, in Chinese word order)."""
    toks = [t for t in tokenize(phrase) if len(t) >= 2]
    return (toks[-1],) if toks else ()


def question_slot(question: str, glossary: dict[str, list[str]] | None = None, vocab: set[str] | None = None) -> Slot:
    """The slot a question asks to fill, in Chinese or English (``vocab``: the index's BM25 terms)."""
    q = unicodedata.normalize("NFKC", question)
    glossary = glossary or {}
    required: list[tuple[str, ...]] = []
    kind = unit = None
    if m := _ZH_HOW_MANY.search(q):
        kind, unit = "number", m.group(2) if m.group(2) and m.group(2) != "个" else None
        if not unit and (c := _ZH_COUNTED.search(q)) and (head := _head_terms(c.group(1))):
            required.append(head)  # "多少个缔约方": the answer counts 缔约方
    elif _ZH_DATE.search(q):
        kind = "date"
    if m := _ZH_WHO.search(q):
        if head := _head_terms(m.group(1)):
            required.append(head)
    if m := _ZH_WHERE.search(q):
        if head := _head_terms(m.group(1)):
            required.append(head)
    # English: mostly only the kind of value, since a translated head noun rarely matches the text's
    # own word ("parties" vs 缔约方); a measured quantity (population, fee) must be named, though
    if _EN_HOW_MANY.search(q) or _EN_NUMBER_NOUN.search(q):
        kind = "number"
        for noun in _MEASURED.findall(q):
            if alts := _english_alternatives(noun, glossary):
                required.append(alts)
    elif _EN_DATE.search(q):
        kind = "date"
    entities = _named_entities(q, glossary, vocab or set())
    return Slot(kind, unit, tuple(g for g in required if g), tuple(g for g in entities if g))


_MEASURED = re.compile(r"\b(population|fee|cost|price|budget|salary|revenue|gdp|area|height|temperature)s?\b", re.I)


def _english_alternatives(word: str, glossary: dict[str, list[str]]) -> tuple[str, ...]:
    """An English word with its translations in the index glossary (empty if it has none)."""
    from rag.translation import _lemmas

    w = word.lower()
    alts = {x for k in _lemmas(w) for x in glossary.get(k, [])}
    return tuple(sorted(alts | {w})) if alts else ()


def _name_variants(phrase: str) -> list[str]:
    """'Latin American' -> also 'latin america'; 'Brazilian' -> 'brazil'."""
    p = phrase.lower()
    out = [p]
    for suffix in ("ian", "an", "n", "s"):
        if p.endswith(suffix) and len(p) > len(suffix) + 3:
            out.append(p[: -len(suffix)])
    return out


def _named_entities(q: str, glossary: dict[str, list[str]], vocab) -> list[tuple[str, ...]]:
    """Names the answer's passage must mention, each as a group of alternative forms.

    - Acronyms (ICANN, CICTE, 5G), in the forms the corpus uses; one the corpus never uses in any
      form cannot be filled, so the question is refused.
    - In a Chinese question, a work named in 《》: its title must be in the passage.
    - In an English question, only a name the corpus cannot be about: one the dictionary translates
      ("Uruguay" -> 乌拉圭) but no form of which occurs in the index. Romanised Chinese names (Zhao,
      Yu) and names the dictionary lacks are not checked.
    The index's glossary answers most lookups; the full dictionary (slow to load the first time) is
    read only for a name the glossary does not know.
    """
    from rag.translation import full_dictionary, is_pinyin, proper_names

    english = sum(ch.isascii() and ch.isalpha() for ch in q) > sum("\u4e00" <= ch <= "\u9fff" for ch in q)
    tokens = re.findall(r"[A-Za-z0-9][A-Za-z0-9\-]*", q)
    out: list[tuple[str, ...]] = []
    for w in tokens:
        ordinal = re.fullmatch(r"\d+(st|nd|rd|th)", w.lower())
        if len(w) >= 2 and any(c.isalpha() for c in w) and not ordinal and (w.isupper() or w[0].isdigit()):
            key = w.lower()
            known = ([key] if key in vocab else []) + glossary.get(key, [])
            out.append(tuple(known) if known else (key, *full_dictionary().get(key, [])))
    if not english:
        out += [(t,) for t in re.findall(r"《([^》]{2,30})》", q)]
        return out
    for i, w in enumerate(tokens):
        if i == 0 or not w[0].isupper() or w.isupper() or w.lower() in _CAPITALISED_COMMON or is_pinyin(w):
            continue
        variants = _name_variants(w)
        if w.lower() in vocab or any(v in glossary for v in variants):
            continue  # the corpus uses this name in some form
        names, full = proper_names(), full_dictionary()
        forms = next((full[v] for v in variants if v in full and v in names), None)
        if forms and not any(f in vocab for f in forms):
            out.append((w.lower(), *forms))
    return out


_CAPITALISED_COMMON = {
    "i", "the", "according", "in", "what", "which", "who", "how", "when", "where", "why", "on", "under",
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
}


def slot_filled(slot: Slot, text: str, question: str, passage: str = "") -> bool:
    """Whether ``text`` can answer: the slot's kind of value and every required term are in it, and
    the entities are in it or its ``passage``."""
    t = _norm(text)
    p = _norm(passage) + t
    for group in slot.required:
        if not any(_norm(alt) in t for alt in group):
            return False
    for group in slot.entities:
        if not any(_norm(alt) in p for alt in group):
            return False
    if slot.kind == "date":
        return bool(_YEARISH.search(text))
    if slot.kind == "number":
        q_numbers = set(re.findall(r"\d+(?:\.\d+)?", unicodedata.normalize("NFKC", question)))
        nums = list(re.finditer(_NUMBER, unicodedata.normalize("NFKC", text), re.I))
        fresh = [m for m in nums if m.group() not in q_numbers]
        if not fresh:
            return False
        if slot.unit:
            norm_text = unicodedata.normalize("NFKC", text)
            return any(re.match(rf"\s*(余|多|近|约)?\s*{slot.unit}", norm_text[m.end():]) for m in fresh)
    return True
