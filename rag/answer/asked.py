"""The thing a question asks to be counted or named ("how many *hours*", "几名*护士*", "*版面费*是多少"):
read from the question's wording alone (interrogative patterns, never topics). A sentence that
answers a count or an amount usually names what is counted; a near-miss sentence gives a number of
something else. The answer model weighs whether the chosen span (or its neighbours) names it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from rag.lang.text import is_cjk, tokenize

# words that end the noun phrase after "how many" / "what": auxiliaries, prepositions, pronouns
_EN_STOP = frozenset(
    "did does do is are was were has have had will would can could should must may might be been "
    "in on of for per at to by with from into during over under after before than that which who "
    "it they he she we you there this these those each every the a an and or".split()
)
# nouns that name no particular thing: a count of "people" is stated as "15 participants"
_EN_GENERIC = frozenset(
    "people persons person times ways kinds types sorts things items ones parts units year years date "
    "number numbers amount share proportion percentage percent rate value values level kind type".split()
)
_EN_ASK = re.compile(
    r"\bhow (?P<q>many|much)\s+(?P<a>[a-z][\w\-]*(?:\s+[a-z][\w\-]*){0,5})"
    # "what X" names the answer's category ("what term", "which country"), which the answer rarely repeats
    r"|\bwhat (?:was|is|were|are) the (?:\w+ )?(?P<b>price|cost|budget|fee|salary|income|revenue|weight|age|height|length|size|speed|temperature|duration|population|volume|distance)\b",
    re.I,
)
# Chinese: a classifier after 多少/几 puts the counted noun next ("几名护士"); "X是多少" names X before it
_ZH_COUNT = re.compile(
    r"(?:多少|几)[个名位项次家种条篇份只件台座所例组类张本部门]\s*(?P<a>[^，。？?！、；：,;:\s]{1,12})"
)
_ZH_WHAT = re.compile(r"(?P<b>[\u3400-\u9fff]{2,12})(?:是|为|有)多少(?:[？?。]|$)")
_ZH_GENERIC = frozenset(
    "人 人数 数量 数 时间 年份 年 比例 次数 什么 问题 情况 内容 方面 东西 样 分别 一共 总共 大约 平均 各自 共 约 大概".split()
)
_EN_COMPARATIVES = frozenset(
    "longer shorter higher lower larger bigger smaller greater faster slower older younger earlier later "
    "further farther better worse heavier lighter wider narrower deeper cheaper".split()
)


@dataclass(frozen=True)
class Asked:
    """The head word of what a question asks for and the forms a text may give it in."""

    head: str  # as read from the question ("hours", "护士")
    lang: str  # the question's language: "en" or "zh"
    forms: tuple[str, ...]  # lower-case forms counted as a mention (stems, translations)
    units: tuple[str, ...] = ()  # symbols counted as a mention right after a number ("20 km")


def _en_head(phrase: str, many: bool) -> str:
    """The head noun of the phrase after "how many"/"how much" (or of a named quantity): after "how
    many" the first plural noun ("how many TPU *hours* were"), after "how much" the first word ("how much
    *electricity* did"); cut at the first auxiliary or preposition. A generic head ("people"), a
    comparative ("how much lower") or a past-tense verb gives nothing."""
    words: list[str] = []
    for i, w in enumerate(phrase.lower().split()):
        if w in _EN_STOP or (i and w.endswith("ed")):
            break
        words.append(w)
    if words and words[0] in ("more", "fewer", "less"):
        words = words[1:]
    if not words or words[0] in _EN_GENERIC or words[0].endswith("ed"):
        return ""
    if not many:
        w = words[0]
        return "" if w in _EN_COMPARATIVES else w
    plural = [w for w in words if w.endswith("s") and not w.endswith(("ss", "us", "is", "as", "os"))]
    if plural:
        return "" if plural[0] in _EN_GENERIC else plural[0]
    return ""


# unit symbols written after a number instead of the unit's name (general notation, not a topic)
_UNITS = {
    "kilometer": ("km",),
    "kilometre": ("km",),
    "meter": ("m",),
    "metre": ("m",),
    "centimeter": ("cm",),
    "millimeter": ("mm",),
    "mile": ("mi",),
    "kilogram": ("kg",),
    "gram": ("g",),
    "ton": ("t",),
    "tonne": ("t",),
    "hour": ("h", "hr", "hrs"),
    "minute": ("min",),
    "second": ("s", "sec"),
    "day": ("d",),
    "year": ("yr",),
    "watt": ("w", "kw", "mw"),
    "kilowatt": ("kw",),
    "volt": ("v",),
    "liter": ("l",),
    "litre": ("l",),
    "byte": ("b", "kb", "mb", "gb", "tb"),
    "gigabyte": ("gb",),
    "megabyte": ("mb",),
    "hertz": ("hz",),
    "percent": ("%",),
    "degree": ("°",),
    "dollar": ("$", "usd"),
    "euro": ("€", "eur"),
}


def _stem(word: str) -> str:
    """A plural's stem ("hours" -> "hour", "catchments" -> "catchment"); other words as they are."""
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: len(word) - len(suffix)] + keep
    return word


def asked_for(question: str, glossary: Mapping[str, list[str]] | None = None) -> Asked | None:
    """What the question asks to be counted or named, or None when its wording does not say."""
    q = unicodedata.normalize("NFKC", question)
    if any(is_cjk(c) for c in q):
        m = _ZH_COUNT.search(q)
        word = ""
        if m:
            a = m.group("a")
            word = max((t for t in tokenize(a) if a.lower().startswith(t)), key=len, default="")
        else:
            m = _ZH_WHAT.search(q)
            if m:
                toks = tokenize(m.group("b"))
                word = toks[-1] if toks else ""
        if not word or word in _ZH_GENERIC or len(word) < 2 and is_cjk(word[0]):
            return None
        return Asked(word, "zh", (word.lower(),))
    for m in _EN_ASK.finditer(q):
        head = m.group("b").lower() if m.group("b") else _en_head(m.group("a"), m.group("q").lower() == "many")
        if head and len(head) >= 3:
            stem = _stem(head)
            alts = (glossary or {}).get(stem, []) + (glossary or {}).get(head, [])
            return Asked(head, "en", tuple(dict.fromkeys([stem, head, *alts])), _UNITS.get(stem, ()))
    return None


def names_asked(asked: Asked | None, text: str, text_lang: str) -> float:
    """1.0 when ``text`` names what is asked for (or the question does not say, or the text's language
    cannot be checked: a Chinese head against English text), else 0.0."""
    if asked is None:
        return 1.0
    t = unicodedata.normalize("NFKC", text).lower()
    if asked.lang == "zh" and text_lang != "zh":
        return 1.0
    if asked.lang == "en" and text_lang != "en" and not any(is_cjk(f[0]) for f in asked.forms):
        return 1.0  # no translation to look for
    if any(re.search(rf"\d\s*{re.escape(u)}(?![a-z])", t) for u in asked.units):
        return 1.0
    for f in asked.forms:
        if is_cjk(f[0]):
            if f in t:
                return 1.0
        elif re.search(rf"(?<![a-z0-9]){re.escape(f)}", t):
            return 1.0
    return 0.0
