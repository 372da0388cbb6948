"""The slot a quantity question asks to be filled, checked against a candidate answer's sentence.

A near-miss question asks the right paper for a detail it never reports ("how large was the *annual
budget*…", "by how much did *grain protein content* fall…", "这家企业的*研发费用*是多少"): the paper talks
about the subject, and its likeliest sentence states some number, but not of the thing asked. The slot is
the measure phrase the question asks a number for, read from interrogative patterns only (never topics);
a sentence can fill it only if it, or its neighbours, names every word of that phrase (a word form, a
stem, a unit symbol after a number, or a dictionary translation). ``slot_unaligned`` is the answer
model's veto feature: 1.0 when the phrase is not all named (eval/NOTES.md, "Near-miss slots").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rag.answer.asked import _EN_COMPARATIVES, _UNITS, _stem
from rag.lang.text import is_cjk, tokenize

# words that end an English noun phrase: auxiliaries, prepositions, pronouns, conjunctions
_STOP = frozenset(
    "did does do is are was were has have had will would can could should must may might be been being "
    "in on of for per at to by with from into during over under after before than that which who whom whose "
    "it its they their he his she her we our you your there this these those each every the a an and or "
    "when while where as about across between among through".split()
)
# words of the asking or of the statistic taken, not of the thing measured: a sentence may give "aged 63
# on average" for "the mean age", "the budget" for "the total budget"
_FREE = frozenset(
    "mean average median total overall approximate approximately estimated typical exact actual reported "
    "maximum minimum max min peak highest lowest largest smallest final initial current "
    "number amount quantity value level figure share proportion percentage percent rate size "
    "many much large small big long high low far old fast heavy wide deep strong".split()
)
# change verbs after "by how much did NP ..." that end the noun phrase
_CHANGE = (
    r"(?:fall|fell|drop|dropp?ed|decrease|decreased|decline|declined|rise|rose|increase|increased|grow|grew|"
    r"change|changed|improve|improved|reduce|reduced|shrink|shrank|go|went|climb|climbed|slow|slowed)"
)
_EN = [
    # "how large was the annual budget that …", "how long is the warranty period of …"
    re.compile(
        r"^\s*how (?:large|small|big|long|high|low|heavy|fast|wide|deep|strong|old) (?:was|is|were|are) "
        r"(?:the |a |an |its |their )?(?P<np>[a-z][\w\-]*(?: [a-z][\w\-]*){0,3})",
        re.I,
    ),
    # "by how much did grain protein content fall"
    re.compile(
        rf"^\s*by how much (?:did|does|do|was|were|is|are|has|have|had) (?:the |a |an |its |their )?"
        rf"(?P<np>[a-z][\w\-]*(?: [a-z][\w\-]*){{0,3}}?) {_CHANGE}\b",
        re.I,
    ),
    # "what was the mean age of …", "what is the retail price of …"
    re.compile(
        r"^\s*what (?:was|is|were|are) (?:the |its |their )(?P<np>[a-z][\w\-]*(?: [a-z][\w\-]*){0,3}?) "
        r"(?:of|for|in|that|which|did|does|do|was|were|is|are|per|at|among|paid|spent|charged)\b",
        re.I,
    ),
    # "what five-year survival rate does … report", "what annual budget did …"
    re.compile(
        r"^\s*what (?P<np>(?:[a-z][\w\-]* ){0,3}(?:rate|rates|budget|cost|costs|price|fee|fees|age|salary|"
        r"income|revenue|yield|score|ratio|temperature|speed|duration|weight|consumption|efficiency)) "
        r"(?:did|does|do|was|were|is|are|has|have|had|for|of|in|among)\b",
        re.I,
    ),
    # "how many TPU hours were used", "how much electricity did …"
    re.compile(
        r"^\s*(?:in |on |at |for |of |to )?(?:the )?how (?P<q>many|much) (?P<np>[a-z][\w\-]*(?: [a-z][\w\-]*){0,4})",
        re.I,
    ),
]
# measure nouns a "what is the X of" question must name for its phrase to count as a slot (what asks a
# quantity, not a name: "what is the name of", "what was the title of" ask no measure)
_MEASURE = frozenset(
    "rate budget cost price fee salary income revenue age weight height length size speed temperature "
    "duration population volume distance consumption yield score ratio efficiency power energy capacity "
    "expenditure spending funding payment wage density concentration content frequency pressure depth "
    "area mass count survival mortality incidence prevalence accuracy time hours watts dollars".split()
)
# Chinese "X是多少": X after its last 的 (or the whole of a short X), when it ends in a measure word
_ZH = re.compile(r"(?P<x>[\u3400-\u9fff]{2,16})(?:是|为|有|达到|约为)?多少(?:钱|元)?(?:[？?。]|$)")
_ZH_MEASURE = re.compile(
    r"(?:费用?|成本|价格?|收入|利润|预算|工资|薪酬|年龄|面积|人口|产量|销量|效率|比率|[率额量值数])$"
)
# Chinese words of the statistic or of amount in general ("投资金额": an investment may be stated without 金额)
_ZH_FREE = frozenset("金额 数额 数量 数目 总数 总额 平均 大约 具体 总共 一共 多少 人数".split())
_NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}


@dataclass(frozen=True)
class Slot:
    """The measure phrase a quantity question asks to be filled: its words, each with the forms a
    sentence may name it by."""

    lang: str  # "en" or "zh"
    words: tuple[tuple[str, ...], ...]  # per word of the phrase, its accepted forms (lower case)
    units: tuple[str, ...] = ()  # symbols that name the head right after a number ("20 W")


def _phrase(np_text: str, many: bool) -> list[str]:
    """The words of a noun phrase, cut at the first stop word; after "how many" up to its first plural."""
    words: list[str] = []
    for w in np_text.lower().split():
        if w in _STOP:
            break
        words.append(w)
    if many:
        plural = [i for i, w in enumerate(words) if w.endswith("s") and not w.endswith(("ss", "us", "is", "as", "os"))]
        words = words[: plural[0] + 1] if plural else []
    return words


def _forms(word: str, glossary: Mapping[str, list[str]] | None) -> tuple[str, ...]:
    """A word's accepted forms: itself, its stem, a digit for a number word ("five-year": "5-year"), and
    its dictionary translations."""
    stem = _stem(word)
    out = [word, stem]
    head, _, rest = word.partition("-")
    if head in _NUMBER_WORDS and rest:
        out += [f"{_NUMBER_WORDS[head]}-{rest}", f"{_NUMBER_WORDS[head]} {rest}"]
    for key in (stem, word):
        out += list((glossary or {}).get(key, []))
    return tuple(dict.fromkeys(f.lower() for f in out if f))


def slot_of(question: str, glossary: Mapping[str, list[str]] | None = None) -> Slot | None:
    """The measure phrase a quantity question asks to be filled, or None when its wording says none."""
    q = unicodedata.normalize("NFKC", question).strip()
    if any(is_cjk(c) for c in q):
        m = _ZH.search(q)
        if not m:
            return None
        x = re.sub(r"(?:是|为|有|达到|约为)$", "", m.group("x"))
        owned = "的" in x  # "X的Y": Y is the whole measure phrase; without 的 only its last word is
        x = re.sub(r"^(?:这|那|该|其|此)[个家所位项]?", "", x.split("的")[-1])
        if not (2 <= len(x) <= 6) or not _ZH_MEASURE.search(x):
            return None
        toks = [t for t in tokenize(x) if len(t) >= 2]
        words = [t for t in toks if not any(t != o and t in o for o in toks)]  # the longest words
        words = [w for w in (words if owned else words[-1:]) if w not in _ZH_FREE]
        return Slot("zh", tuple((w,) for w in words)) if words else None
    for i, pat in enumerate(_EN):
        m = pat.search(q)
        if not m:
            continue
        asks = m.groupdict().get("q")
        many = asks is not None and asks.lower() == "many"
        words = _phrase(m.group("np"), many)
        if asks is not None and not many:  # "how much electricity did": the word after "much" alone
            words = words[:1] if words and words[0] not in _EN_COMPARATIVES else []
        if i == 2 and not (words and _stem(words[-1]) in _MEASURE | {_stem(w) for w in _MEASURE}):
            return None
        kept = [w for w in words if w not in _FREE and len(w) >= 3 and not w.endswith("ed")]
        if not kept:
            return None
        units = _UNITS.get(_stem(words[-1]), ())
        return Slot("en", tuple(_forms(w, glossary) for w in kept), units)
    return None


def _names(form: str, text: str) -> bool:
    """Whether ``text`` (NFKC, lower case) names ``form``: a Han form as a substring, a Latin one as a word
    start (so a stem finds its inflections)."""
    if is_cjk(form[0]):
        return form in text
    return re.search(rf"(?<![a-z0-9]){re.escape(form)}", text) is not None


def slot_unaligned(slot: Slot | None, text: str, text_lang: str) -> float:
    """1.0 when ``text`` (a sentence with its neighbours) leaves a word of the question's slot unnamed, else
    0.0; 0.0 when there is no slot or the text's language is not the question's (translations are too
    incomplete to decide by)."""
    if slot is None or text_lang != slot.lang:
        return 0.0
    t = unicodedata.normalize("NFKC", text).lower()
    for k, forms in enumerate(slot.words):
        if any(_names(f, t) for f in forms):
            continue
        last = k == len(slot.words) - 1
        if last and any(re.search(rf"\d\s*{re.escape(u)}(?![a-z])", t) for u in slot.units):
            continue
        return 1.0
    return 0.0


# two adjacent lower-case words of the question, the first narrowing the second ("frontotemporal dementia"):
# capitalised words (names, often written otherwise in the text) are never read
_PAIR = re.compile(r"(?<![\w\-])([a-z][a-z]{3,}) (?=([a-z][a-z\-]{2,})(?![\w\-]))")


def narrowings(question: str, slot: Slot | None) -> tuple[tuple[str, str], ...]:
    """The (modifier, head) word pairs of an English quantity question that has a slot; neither word one of
    the asking, of the statistic or a stop word."""
    if slot is None or slot.lang != "en":
        return ()
    q = unicodedata.normalize("NFKC", question)
    skip = _STOP | _FREE | {"how", "what", "which", "many", "much"}
    return tuple((m, h) for m, h in _PAIR.findall(q) if m not in skip and h not in skip and not m.endswith("ly"))


def kind_unnamed(
    pairs: tuple[tuple[str, str], ...], known: Callable[[str], bool], in_doc: Callable[[str], bool]
) -> float:
    """1.0 when the document names a pair's head but the library never uses its modifier (``known``: a form of
    the word in the index's vocabulary): the question asks for a count of a kind of thing ("frontotemporal
    dementia") the papers never name, though this one counts the thing ("dementia"), a near miss; else 0.0.
    Only a word the whole library lacks counts: a verb or adjective merely paraphrased is in its vocabulary."""
    return float(any(not known(m) and in_doc(h) for m, h in pairs))
