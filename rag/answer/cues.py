"""Linguistic cues of questions and sentences (never topics): what a question asks for (a number, a list,
a source), what a sentence states (a number, a list), and sentences that are references, lean on the one
before them or announce content instead of stating it. Read by the evidence features and the review."""

from __future__ import annotations

import re

from rag.lang.entities import norm

# --- what a question asks for (linguistic cues, not topics) ----------------------------------------

# "when" asks a time unless it opens a clause before the question's own interrogative ("When passing by the
# kitchen, what did he fall over?")
ASKS_NUMBER = re.compile(
    r"多少|几[个名项次届年位家份种天岁倍人条部座所米公里]|哪一?年|何时|什么时[候间]|哪一?天|哪个月|比例|百分之|多大|多长|多久|多高|多远|"
    r"how (many|much|long|often|old|far|big|large|tall|high)|\bwhen\b(?!.*\b(?:what|which|who|whom|whose|where|why|how)\b)|"
    r"what (year|date|share|percentage|proportion|number|amount)|"
    r"which year|in what year",
    re.I,
)
ASKS_LIST = re.compile(
    r"哪些|哪几|哪[两二三四五六]|分别|\bwhich \w+s\b|what (are|were) the|\blist\b|\b(two|three|four|five)\b", re.I
)
ASKS_SOURCE = re.compile(
    r"出自|来源|来自哪|引用|哪份|哪篇|哪本|文献|source|cite|which (book|article|paper|document)", re.I
)
HAS_NUMBER = re.compile(
    r"\d|[一二两三四五六七八九十百千万亿]+(个|名|项|次|届|年|月|日|倍|家|国|方|岁|人|天)|百分之|[半双]数|"
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|hundred|thousand|million|billion)\b",
    re.I,
)
HAS_LIST = re.compile(r"[^，。；]{2,}、[^，。；]{2,}|[^，。]{2,}(和|与|及|以及|and|or)[^，。]{2,}")
REFERENCE = re.compile(
    r"<https?://|https?://|\bpp?\.\s*\d|\bet al\.|出版社|第\s*\d+\s*[-—–]?\s*\d*\s*页|^[^，。]{1,40}[:：]\s*《|"
    r"^[A-Z][^,]{1,40}, [“\"*]"
)
# a sentence leaning on the one before it ("该…", "This…"): quoted together with its predecessor
ANAPHOR = re.compile(
    r"^[^，。]{0,6}[，,]?\s*(该|此|这|其(?![一二三四五六七八九十次])|上述|它|他们|this|these|that|those|it\b|its\b|they\b|such\b)",
    re.I,
)
# a roadmap sentence announces content instead of stating it ("本文将梳理…")
ROADMAP = re.compile(
    r"^[^，。]{0,4}[，,]?\s*本文(将|拟|旨在|试图)|^(首先|其次|继而|最后|然后)[，,]?\s*(本文|对)|^(this|the present) (paper|article|study) (will|aims|seeks)",
    re.I,
)
TERMINAL = re.compile(r"[。！？!?.…”」』)）\]]$")
WORDISH = re.compile(r"[0-9A-Za-z]|[\u4e00-\u9fff]")
DIGITS = re.compile(r"\d+(?:\.\d+)?")


def bigrams(text: str) -> frozenset[str]:
    """Character bigrams of Han runs and lower-cased Latin words of a text: overlap that survives
    paraphrase and word segmentation differences."""
    t = norm(text)
    out = {m.group()[i : i + 2] for m in re.finditer(r"[\u3400-\u9fff]+", t) for i in range(len(m.group()) - 1)}
    out |= set(re.findall(r"[a-z0-9]{2,}", t))
    return frozenset(out)


def fresh_number(question: str, text: str) -> bool:
    """Whether ``text`` states a number (or a counted quantity) the question does not already give."""
    q = set(DIGITS.findall(question))
    s = set(DIGITS.findall(text))
    return bool(s - q) or (bool(HAS_NUMBER.search(text)) and not s)


# list markers ("1)", "(2)") and bracketed citation numbers ("[3]", "[4, 7]") state no quantity
_MARKERS = re.compile(r"[\(\[（［]\s*\d{1,3}(?:\s*[,，\-–]\s*\d{1,3})*\s*[\)\]）］]|(?<![\d.])\d{1,2}[\)）]")


def states_quantity(question: str, text: str) -> bool:
    """Whether ``text`` states a number the question does not already give, list markers and bracketed
    citation numbers aside (what an answer to "how many/much" must contain)."""
    return fresh_number(question, _MARKERS.sub(" ", text))
