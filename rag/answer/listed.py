"""Questions that ask what a numbered list holds ("“三项标准”具体是什么", "五个步骤分别是什么") and the span that
spells it out ("确定了甲、乙和丙三项标准"). Read from wording alone (a number, a classifier and the list's name;
the enumeration comma; never topics): the sentences around such a list often name it without its items
("提出了“三项标准”和…"), and share more of the question's words than the one sentence that lists them."""

from __future__ import annotations

import re
import unicodedata

_NUM = r"[二两三四五六七八九十]"  # two or more: a list
# a numbered name asked for its items: "三项标准”具体是", "五个步骤分别是", "哪两个阶段"
_ZH_NAMED = re.compile(
    rf"(?P<n>{_NUM}[个项种类点条大][\u4e00-\u9fff]{{1,4}}?)[”\"]?(?:具体|分别|都|各)(?:是|有|包括|指)"
    rf"|哪(?P<m>{_NUM}[个项种类点条大][\u4e00-\u9fff]{{1,4}}?)(?=[？?，,。]|$)"
)
# at least three short items joined by the enumeration comma, or two and a conjunction
_ITEM = r"[^，。；、：:,;\s]{2,16}"
_SERIES = re.compile(rf"{_ITEM}、{_ITEM}(?:、|和|与|及|以及){_ITEM}")


def numbered_list(question: str) -> str:
    """The numbered list a Chinese question asks the items of ("…“三项标准”具体是什么？" -> "三项标准"), or ''."""
    m = _ZH_NAMED.search(unicodedata.normalize("NFKC", question))
    return (m.group("n") or m.group("m")) if m else ""


def spells_out(name: str, text: str) -> bool:
    """Whether ``text`` names the list ``name`` and holds a series of items (its enumeration)."""
    t = unicodedata.normalize("NFKC", text)
    return bool(name) and name in t and bool(_SERIES.search(t))
