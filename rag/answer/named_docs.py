"""Documents a question names: "《复发事件下一般半参数比率回归模型》的中图分类号是什么？", "What does the
MapReduce paper say …". A scholar who names a paper by its title asks about that paper, so its passages
are the ones retrieved (``Pipeline.stream``), as if the scholar had picked it. Only titles (and the short
name before a title's colon) are read, never the text; a question naming no title, or naming more than
``MOST`` documents, is searched across the whole library as before."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Protocol

MOST = 2  # a question naming more documents than this is about all of them: no restriction
MIN_TITLE = 8  # a whole title found in the question has at least this many characters (key form)
MIN_QUOTED = 4  # a 《quoted》 or "quoted" name inside a title has at least this many characters ...
MIN_SHARE = 0.3  # ... and is at least this share of the title
_QUOTED = re.compile(r"《([^》]{2,80})》|“([^”]{4,120})”|\"([^\"]{4,120})\"")


class Titled(Protocol):
    """What is read of a document: its title."""

    @property
    def title(self) -> str:
        """The document's title."""
        ...


def key(text: str) -> str:
    """Text compared by letters and digits only: NFKC, lower case, punctuation and spaces dropped."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text or "").lower())


def short_name(title: str) -> str:
    """A title's short name: one coined word before its colon ("MapReduce: …", "BERT: …", "GPT-4: …"),
    else ''. A plain word ("Privacy: a survey") is no name: questions use it about other papers too."""
    head, colon, _ = title.partition(":")
    word = head.strip()
    coined = re.search(r"[a-z][A-Z]|\d", word) or word.isupper()
    return word.lower() if colon and coined and re.fullmatch(r"[A-Za-z][A-Za-z0-9\-]{3,}", word) else ""


def named_documents(question: str, docs: Mapping[str, Titled]) -> list[str]:
    """Ids of the documents whose title the question names (whole, or a quoted part of it, or its short
    name as a word); [] when none or more than ``MOST`` are named."""
    q = key(question)
    quoted = [key(next(g for g in m.groups() if g)) for m in _QUOTED.finditer(question)]
    words = set(re.findall(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*", question.lower()))
    words |= {w.split("-")[0] for w in words}
    out = []
    for doc_id, info in docs.items():
        t = key(info.title)
        if not t:
            continue
        whole = len(t) >= MIN_TITLE and t in q
        part = any(len(s) >= MIN_QUOTED and s in t and len(s) >= MIN_SHARE * len(t) for s in quoted)
        name = short_name(info.title)
        if whole or part or (name and name in words):
            out.append(doc_id)
    return out if 0 < len(out) <= MOST and len(out) < len(docs) else []


def without_titles(question: str, titles: list[str]) -> str:
    """The question with the named titles taken out (a whole title, or the 《quoted》/“quoted” part of one),
    for searching inside the named documents: there every passage is about the title, so its words rank
    nothing and only crowd out what the question asks. Short names stay (they also name things in the
    text: "MapReduce jobs"). The question itself when nothing is taken out or no word would be left."""
    keys = [key(t) for t in titles if key(t)]
    out = question
    for m in reversed(list(_QUOTED.finditer(question))):
        s = key(next(g for g in m.groups() if g))
        if len(s) >= MIN_QUOTED and any(s in t and len(s) >= MIN_SHARE * len(t) for t in keys):
            out = out[: m.start()] + " " + out[m.end() :]
    for t in titles:
        at = out.lower().find(t.lower())
        if len(key(t)) >= MIN_TITLE and at >= 0:
            out = out[:at] + " " + out[at + len(t) :]
    out = " ".join(out.split())
    return out if out != " ".join(question.split()) and len(key(out)) >= 2 else question
