"""A question asking when a paper was received, revised, accepted, submitted or published is answered by the
front-matter line that dates that event ("Received 9 January 2006", "本文2006年1月9日收到"), in either language.

The answer model scores such a line low: it shares few of the question's words, while a page-1 passage
holding the paper's title shares most of them (eval/NOTES.md, rp-47). The line only chooses the quote once
the best span clears the threshold; it never answers or refuses.
"""

from __future__ import annotations

import re
import unicodedata

# the asking of a date: "when", "what date", "in which year", "何时", "什么时候", "哪一年", "日期"
_WHEN = re.compile(
    r"^\s*when\b|\bwhat (?:date|day|year)\b|\bwhich (?:date|day|year)\b|何时|什么时[候间]|哪一?[年天]|日期", re.I
)
# each publishing event: how a question names it, and how a front-matter line labels its date
_EVENTS = (
    (r"receiv|receipt|收到|收稿", r"(?<![a-z])received|收到|收稿"),
    (r"revis|修回|修改", r"(?<![a-z])revised|修回|修改稿"),
    (r"accept|录用|接受", r"(?<![a-z])accepted|录用|接受"),
    (r"submit|投稿", r"(?<![a-z])submitted|投稿"),
    (r"publish|publication|出版|发表", r"(?<![a-z])published|出版|发表"),
)
# a date: a year with a month (a name or a number) or a Chinese 年…月
_DATE = re.compile(
    r"(?:19|20)\d\d\s*年\s*\d{1,2}\s*月|(?:19|20)\d\d[-/.]\d{1,2}"
    r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?:\d{1,2},?\s+)?(?:19|20)\d\d"
    r"|\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?:19|20)\d\d",
    re.I,
)


def asked_event(question: str) -> str:
    """The pattern labelling the dated event a question asks the date of, or "" when it asks no such date."""
    q = unicodedata.normalize("NFKC", question)
    if not _WHEN.search(q):
        return ""
    return next((label for asks, label in _EVENTS if re.search(asks, q, re.I)), "")


def dates_event(label: str, line: str) -> bool:
    """Whether a front-matter ``line`` gives a date and names the asked event (``label`` from ``asked_event``)."""
    t = unicodedata.normalize("NFKC", line)
    return bool(label) and bool(_DATE.search(t)) and re.search(label, t, re.I) is not None
