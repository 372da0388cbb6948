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


# --- the kind of answer asked for, matched against a candidate span (chooses the quote, never refuses) ---

# numbers that point at a figure, table, section, equation, page or note rather than state a quantity, and
# small numbers naming a group, phase or version ("group 1", "phase II", "type 2"): labels, not amounts
_POINTERS = re.compile(
    r"\b(?:fig(?:ure)?s?|tables?|tab|sections?|sec|chapters?|ch|eqs?|equations?|appendix|pages?|pp?|steps?|notes?)"
    r"\.?\s*\(?[0-9ivxlcIVXLC]+(?:\.\d+)*\)?(?:\s*\([a-z]\))?"
    r"|\b(?:groups?|experiments?|phases?|stages?|waves?|sessions?|rounds?|versions?|types?|models?)\s+(?:\d{1,2}|[IVX]{1,4})\b(?![.,]\d)"
    r"|[图表式]\s*\d+(?:[.\-]\d+)*|第\s*\d+\s*[章节页条]|[\(\[（［]\s*\d{1,3}(?:\s*[,，\-–]\s*\d{1,3})*\s*[\)\]）］]"
    r"|(?<![\d.])\d{1,2}[\)）]",
    re.I,
)
# a lone 一 before a classifier is mostly an article ("一个镇", "a town"), not a count
_NUMBER = re.compile(
    r"\d|(?:[二两三四五六七八九十百千万亿]|一(?=[一二两三四五六七八九十百千万亿]))[一二两三四五六七八九十百千万亿]*"
    r"\s*[个名位项次家种条篇份只件台座所例组类张本部门天年月倍人岁]"
)
_EN_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|"
    "million|billion|dozen"
)
_EN_NUMBER_WORD = re.compile(rf"\b(?:{_EN_WORDS})", re.I)
# the wording of a question whose answer is a number (a "when" may be answered by an era or an event: not here)
ASKS_AMOUNT = re.compile(
    r"多少|几[个名项次届年位家份种天岁倍人条部座所米]|哪一?年|比例|百分之|多大|多长|多久|多高|多远|"
    r"how (?:many|much|long|old|far|big|large|tall|high|fast|heavy|wide|deep)\b|by how much|"
    r"at what (?:rate|speed|level|price|cost|age|temperature)|what (?:year|share|percentage|proportion|number|amount)\b|"
    r"which year|in what year",
    re.I,
)
ASKS_YEAR = re.compile(r"哪一?年|何年|什么年份|\b(?:which|what|in what) year\b|\bwhat year\b", re.I)
_YEAR = re.compile(r"(?<!\d)(?:1[0-9]|20)\d{2}(?!\d)")
# a number written before what it counts ("64 known metabolites", "5-7 个关键词", "71天")
_EN_COUNTED = r"(?:\d[\d,.]*(?:\s*[-–~]\s*\d[\d,.]*)?|\b(?:{words}))\s+(?:[a-z][\w\-]*\s+){{0,2}}"
_ZH_COUNTED = r"(?:\d[\d,.]*(?:\s*[-–~]\s*\d[\d,.]*)?|[一二两三四五六七八九十百千]+)\s*[万亿]?\s*[个名位项次家种条篇份只件台座所例组类张本部门]?\s*的?\s*"
# Chinese also writes the counted thing first: "人口8.57万", "关键词：5-7 个"
_ZH_THEN_NUMBER = r"\s*(?:可达|达到|约为|为|是|有|约|达|共|在|[:：])?\s*[约近逾超]?\s*(?:\d|[一二两三四五六七八九十百千]+[万亿个名位项次家种条篇份])"
# Chinese units written after a number for the English unit names of _UNITS (notation, not topics)
_ZH_UNITS = {"day": ("天", "日"), "year": ("年",), "hour": ("小时",), "minute": ("分钟",), "percent": ("%", "％")}


def states_number(text: str) -> bool:
    """Whether ``text`` states a number other than a pointer to a figure, table, section or note, a list
    marker or a bracketed citation number ("Figure 3 (a) shows…" states none)."""
    t = _POINTERS.sub(" ", unicodedata.normalize("NFKC", text))
    return bool(_NUMBER.search(t) or _EN_NUMBER_WORD.search(t))


def counts_asked(asked: Asked, text: str) -> bool:
    """Whether ``text`` gives a number right before what is asked for: "64 known metabolites", "5-7 个关键词",
    "+71天" (a unit symbol or a Chinese unit after a number counts too)."""
    t = unicodedata.normalize("NFKC", text).lower()
    stem = asked.forms[0] if asked.forms else asked.head
    zh_units = _ZH_UNITS.get(stem, ())
    for f in (*asked.forms, *zh_units):
        if is_cjk(f[0]) or f in ("%",):
            if re.search(_ZH_COUNTED + re.escape(f), t) or (
                len(f) >= 2 and re.search(re.escape(f) + _ZH_THEN_NUMBER, t)
            ):
                return True
        elif re.search(_EN_COUNTED.format(words=_EN_WORDS) + re.escape(f) + r"(?![a-z])", t):
            return True
    return any(re.search(rf"\d\s*{re.escape(u)}(?![a-z])", t) for u in asked.units)


def wanted(question: str, glossary: Mapping[str, list[str]] | None, vocab: Mapping[str, int] | None) -> Asked | None:
    """What the question asks to be counted or named, read more widely than ``asked_for`` (which feeds the
    answer model's features and must not move without retraining it): also "多少小节" (no classifier), and a
    Chinese head with its English glosses found in the index (a Chinese question over English passages)."""
    a = asked_for(question, glossary)
    q = unicodedata.normalize("NFKC", question)
    if a is None and any(is_cjk(c) for c in q):
        m = _ZH_BARE.search(q)
        toks = tokenize(m.group("a")) if m else []
        word = toks[0] if toks else ""
        if len(word) >= 2 and word not in _ZH_GENERIC and all(is_cjk(c) for c in word):
            a = Asked(word, "zh", (word,))
    if a is not None and a.lang == "en":
        # British and American spellings of a unit or noun ("kilometres", "kilometers")
        variants = [re.sub(r"er(s?)$", r"re\1", f) for f in a.forms] + [re.sub(r"re(s?)$", r"er\1", f) for f in a.forms]
        a = Asked(a.head, a.lang, tuple(dict.fromkeys([*a.forms, *variants])), a.units)
    if a is not None and a.lang == "zh" and vocab is not None:
        from rag.lang.translation import translate_to_english

        english = [f for _, alts in translate_to_english([a.head], vocab) for f in alts]
        a = Asked(a.head, a.lang, tuple(dict.fromkeys([*a.forms, *english])), a.units)
    return a


# "多少小节": a noun right after 多少/几, not a classifier ("几位是…") nor a verb
_ZH_BARE = re.compile(r"(?:多少|几)(?![个名位项次届年家份种天岁倍人条部座所米是有为])(?P<a>[\u4e00-\u9fff]{2,6})")


def _mentioned(asked: Asked, text: str, text_lang: str) -> float | None:
    """1.0 / 0.0 whether ``text`` names what is asked by a form in its own script, None when it cannot be
    told: a translation (a Chinese head's English glosses, an English head's Chinese words) counts when
    found but its absence says nothing (dictionary glosses miss the word a text uses)."""
    t = unicodedata.normalize("NFKC", text).lower()
    own = [f for f in asked.forms if is_cjk(f[0]) == (asked.lang == "zh")]
    other = [f for f in asked.forms if f not in own]
    if (text_lang == "zh") == (asked.lang == "zh"):
        if any(re.search(rf"\d\s*{re.escape(u)}(?![a-z])", t) for u in asked.units):
            return 1.0
        return float(any(_found(f, t) for f in own))
    if any(_found(f, t) for f in other) or counts_asked(asked, text):
        return 1.0
    if asked.lang == "en" and text_lang == "zh" and asked.forms[0] in _ZH_UNITS:
        return 0.0  # a unit is notation in either script: "71天" would give it
    return None


def _found(form: str, lowered: str) -> bool:
    """Whether a form occurs in lower-cased text (a Latin one as a word start: "bar" in "bars", not "crowbar")."""
    if is_cjk(form[0]):
        return form in lowered
    return re.search(rf"(?<![a-z0-9]){re.escape(form)}", lowered) is not None


MAX_MISFIT = 1.5
# an identifier written with letters and digits ("CG.B.2", "TP53", "GTX680", "A-3"): notation any script writes as
# is, so a span that answers about it names it; a word or a bare number is not one
_CODE = re.compile(
    r"(?<![A-Za-z0-9.\-])(?=[\w.\-]*[A-Za-z])(?=[\w.\-]*\d)[A-Za-z0-9]+(?:[.\-_][A-Za-z0-9]+)*(?![A-Za-z0-9\-]|\.[A-Za-z0-9])",
    re.ASCII,
)
# a number with a unit, an ordinal or a decade ("10km", "2nd", "1990s"): an amount, not an identifier
_AMOUNT_WORD = re.compile(r"\d+(?:\.\d+)?[a-z]{1,3}")


def codes_asked(question: str) -> tuple[str, ...]:
    """The identifiers written with letters and digits a question names ("…listed for CG.B.2?" -> ("CG.B.2",))."""
    q = unicodedata.normalize("NFKC", question)
    return tuple(dict.fromkeys(m.group() for m in _CODE.finditer(q) if not _AMOUNT_WORD.fullmatch(m.group())))


def codes_named(codes: tuple[str, ...], text: str) -> int:
    """How many of ``codes`` ``text`` writes as one token (case-sensitive: "CG.B.2" in "CG.B.2 867.45", not "CG.B.20")."""
    t = unicodedata.normalize("NFKC", text)
    return sum(
        re.search(rf"(?<![A-Za-z0-9.\-]){re.escape(c)}(?![A-Za-z0-9\-]|\.[A-Za-z0-9])", t) is not None for c in codes
    )


# "哪所学校", "哪家公司", "哪座城市", "哪国", "哪位作者": the answer names an institution, a place or a person
_ZH_WHICH_NAME = re.compile(r"哪[所家座国位]")
_PROPER_TAGS = ("nr", "nrt", "nrfg", "ns", "nt")  # people, places, organisations (jieba's nz is too loose here)


def names_someone(question: str, text: str) -> bool:
    """Whether a Chinese ``text`` names a person, place or organisation the question does not (jieba's tags)."""
    from rag.lang.segment import pos_cut

    return any(f in _PROPER_TAGS and len(w) >= 1 and w not in question for w, f in pos_cut(text))


def answer_misfit(
    question: str, asked: Asked | None, text: str, text_lang: str, counted_elsewhere: bool = False
) -> float:
    """How badly a span fits the kind of answer the question's wording asks for, in units of the quote
    penalty (0: fits): a question asking a number (how many/much, at what rate, 多少, 哪一年) against a span
    stating none (1), a year against a span without one (1), a Chinese "哪所/哪家/哪位…" against a span naming no
    person, place or organisation besides the question's (1); a count of something named ("how many
    hours", "几个关键词") against a span that does not name it (1) or names it without a number before it (.5),
    each .5 more when another candidate does give the number before it (``counted_elsewhere``); at most
    MAX_MISFIT in all."""
    miss = 0.0
    asks_quantity = bool(ASKS_AMOUNT.search(unicodedata.normalize("NFKC", question)))
    if asks_quantity and not states_number(text):
        miss += 1.0
    elif ASKS_YEAR.search(question) and not _YEAR.search(text):
        miss += 1.0
    elif _ZH_WHICH_NAME.search(question) and text_lang == "zh" and not names_someone(question, text):
        miss += 1.0  # "which school" answered by a sentence naming none
    if asked is not None:
        named = _mentioned(asked, text, text_lang)
        if asks_quantity and not counts_asked(asked, text):
            miss += {1.0: 0.5, 0.0: 1.0, None: 0.0}[named] + (0.5 if counted_elsewhere else 0.0)
        elif named == 0.0:
            miss += 1.0
    # at most 3 in log-odds: a far likelier span (often the right passage's) is not given up for a number of
    # the same thing said of something else
    return min(miss, MAX_MISFIT)


# "X是什么" / "X是谁" / "what (who) is the X of": the label a line of front matter gives its value under
# ("中图分类号", "DOI", "作者")
_ZH_LABEL = re.compile(r"(?P<x>[\u4e00-\u9fff]{2,10})(?:是什么|是多少|为何|是哪个|是谁|是)[？?]?$")
_EN_LABEL = re.compile(
    r"\b(?:what|who) (?:is|are|was|were) (?:the|its|their) (?P<x>[a-z][\w\-]*(?:\s+[a-z][\w\-]*){0,2}?)(?:\s+(?:of|for|in|on)\b|\?|$)",
    re.I,
)
_LINE_LABEL = re.compile(r"^\s*(?P<l>[^\d:：;；]{2,24}?)\s*(?:[:：]|\s(?=\S*\d)|(?=[A-Za-z]*\d))")


def asked_label(question: str) -> str:
    """The label a question asks the value of ("…的中图分类号是什么" -> "中图分类号"; "What is the DOI of …" ->
    "doi"), or "" when its wording is not of that form."""
    q = unicodedata.normalize("NFKC", question).strip()
    m = _ZH_LABEL.search(q)
    if m:
        x = m.group("x")
        return x.rsplit("的", 1)[-1] if len(x.rsplit("的", 1)[-1]) >= 2 else ""
    m = _EN_LABEL.search(q)
    return m.group("x").lower() if m else ""


def labels_value(label: str, line: str) -> bool:
    """Whether ``line`` is "label value" for the asked ``label``: its leading label shares most of the asked
    one (3 in 4 of its character pairs; every word of an English one) and a value follows it."""
    if not label:
        return False
    t = unicodedata.normalize("NFKC", line)
    m = _LINE_LABEL.match(t)
    if not m or not t[m.end() :].strip():
        return False
    own = m.group("l").strip().lower()
    if is_cjk(label[0]):
        pairs = {label[i : i + 2] for i in range(len(label) - 1)}
        return len(pairs) > 0 and sum(p in own for p in pairs) >= 0.75 * len(pairs)
    return all(re.search(rf"(?<![a-z]){re.escape(w)}", own) for w in label.split())
