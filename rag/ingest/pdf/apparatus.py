"""A document's apparatus that is not prose: table-of-contents lines and the first page's front matter
(affiliations, e-mail/ORCID/correspondence, received/accepted dates, keywords, copyright and licence,
journal citation and classification lines).

Their lines become passages of their own kinds: searchable, but kept out of answer evidence unless the
question asks for them (as reference entries are). Only general layout and wording cues are used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from rag.lang.normalize import MARK_CLOSE, MARK_OPEN, MARK_RE, cjk_punct
from rag.records import Aside, Document

CONTENTS_KIND = "contents"  # the Chunk.kind of a passage of table-of-contents lines
FRONT_KIND = "front"  # the Chunk.kind of a passage of page-1 front matter that is not prose
APPARATUS_KINDS = frozenset((CONTENTS_KIND, FRONT_KIND))

TOC_MIN_RUN = 4  # lines ending in a page number in a row (blank lines aside) that make a contents list
TOC_HEADED_RUN = 2  # the same under a "Contents"/"目录" heading
_TOC_HEADING = re.compile(r"^(?:table\s*of\s*contents|contents|目\s*录|目\s*次)$", re.I)
# a dot leader ("Methods ........ 12", "绪论……1", "Results · · · · 7") before a page number
# the page: a number, a roman numeral (front pages), or what a broken font map made of a number ("①", "[22]")
# (the cleaner has turned "①" into a note mark, MARK_OPEN 1 MARK_CLOSE, by then)
_PAGE = rf"(?:\d{{1,4}}|[IVXLCivxlc]{{1,6}}|[\u2460-\u2473]|\[\d{{1,4}}\]|{MARK_OPEN}\d{{1,4}}{MARK_CLOSE})"
_LEADER = re.compile(rf"(?:(?:\.\s?){{4,}}|(?:[…⋯·]\s?){{2,}}|_{{4,}})\s*{_PAGE}\s*$")
_SECTION_NO = re.compile(
    r"^(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?|[IVX]{1,5}\.|第\s*[一二三四五六七八九十\d]{1,3}\s*[章节部分篇])\s*"
)
_ENDS_PAGE = re.compile(r"^(?P<text>.*?\D)\s+(?P<page>\d{1,4})$")


def _page_entry(line: str) -> int | None:
    """The page number a contents entry ("2.1 Methods  12", "绪论 1") points to, else None: words before
    one final number, no other number but a leading section number, and short."""
    t = line.strip()
    if len(t) > 90 or (m := _ENDS_PAGE.match(t)) is None:
        return None
    text = _SECTION_NO.sub("", m.group("text")).strip(" .·…⋯_")
    letters = sum(ch.isalpha() for ch in text)
    if letters < 2 or re.search(r"\d", text) or text[-1:] in ".。;；,，:：":
        return None  # a table row ("Wheat 12 15"), a sentence or a label with its value
    return int(m.group("page"))


def _leader_page(line: str) -> int:
    """The page number after a dot leader (0 when it is not written in digits)."""
    m = re.search(r"(\d{1,4})\D?\s*$", line.strip())
    return int(m.group(1)) if m else 0


def contents_lines(lines: Sequence[str]) -> set[int]:
    """Indexes of the lines that are a table of contents: lines with a dot leader before a page number
    (two or more on the page), runs of ``TOC_MIN_RUN`` entries ending in non-decreasing page numbers
    (``TOC_HEADED_RUN`` under a Contents/目录/目次 heading), the heading itself, and a short line that
    wraps an entry between two of them."""
    out: set[int] = set()
    leaders = [i for i, t in enumerate(lines) if _LEADER.search(t.strip())]
    if len(leaders) >= 2:
        out.update(leaders)
    run: list[int] = []
    last_page = -1

    def close() -> None:
        if not run:
            return
        j = next((k for k in range(run[0] - 1, max(-1, run[0] - 4), -1) if lines[k].strip()), None)
        headed = j is not None and bool(_TOC_HEADING.match(lines[j].strip().lstrip("#").strip()))
        if len(run) >= (TOC_HEADED_RUN if headed else TOC_MIN_RUN):
            out.update(run)
            if headed and j is not None:
                out.add(j)

    for i, t in enumerate(lines):
        if not t.strip():
            continue
        page = _page_entry(t) if not _LEADER.search(t.strip()) else _leader_page(t)
        if page is not None and page >= last_page - 1:  # a contents list's pages go up (subentries may repeat)
            run.append(i)
            last_page = page
            continue
        close()
        run, last_page = ([i], page) if page is not None else ([], -1)
    close()
    for i in sorted(out):  # the heading above a block of leader lines
        j = next((k for k in range(i - 1, max(-1, i - 4), -1) if lines[k].strip()), None)
        if j is not None and j not in out and _TOC_HEADING.match(lines[j].strip().lstrip("#").strip()):
            out.add(j)
    for i, t in enumerate(lines):  # "Hormone receptor, HER2 and" wrapped above "gene tests ....... 16"
        if i - 1 in out and i + 1 in out and i not in out and 0 < len(t.strip()) <= 60 and t.strip()[-1:] not in ".。":
            out.add(i)
    return out


_FRONT = re.compile(
    r"^[\s*∗†‡§¶#\d,]{0,4}(?:[a-z]\s+)?\(?\s*(?:"
    r"e-?mails?|correspond\w*|\*?\s*corresponding\s+author|orcid|received|revised|accepted|published(?:\s+online)?"
    r"|available\s+online|submitted|article\s+history|academic\s+editor|edited\s+by|reviewed\s+by|citation|cite\s+this"
    r"|to\s+cite|key\s*words?|keywords|index\s+terms|copyright|open\s+access|licen[cs]e|how\s+to\s+cite"
    r"|(?:mathematics\s+)?subject\s+classification|msc|jel|pacs|clc|mr\s*\(\d{4}\)|(?:chinese\s+)?library\s+classification"
    r"|doi|https?://(?:dx\.)?doi\.org"
    r"|通讯作者|通信作者|联系人|电子邮[件箱]|邮箱|e-?mail|收稿日期|修回日期|接受日期|录用日期|修订日期|网络出版|出版日期|发布日期"
    r"|关键词|关键字|中图分类|文献标识码|文章编号|主题分类|引用格式|引用本文|本文引用格式|版权"
    r")(?![A-Za-z])",
    re.I,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ORCID = re.compile(r"\b\d{4}-\d{4}-\d{4}-\d{3}[\dX]\b")
_COPYRIGHT = re.compile(
    r"©|\(c\)\s*(?:19|20)\d\d|\bcopyright\b|all rights reserved|creative commons|\bCC[ -]BY\b|版权所有"
    r"|open access (?:article|publication)|distributed under the terms",
    re.I,
)
_DATES = re.compile(r"(?:19|20)\d\d\s*年[^。]{0,16}收到|收到修改稿")
_VOLUME = re.compile(
    r"\bVol(?:ume)?\.?\s*\d+\s*,?\s*(?:No\.?|Issue|\(\d+\))|第\s*\d+\s*卷\s*第\s*\d+\s*期|\b(?:19|20)\d\d\s*;\s*\d+\s*[(:]",
    re.I,
)
_INSTITUTION = re.compile(
    r"\b(?:Universit(?:y|é|ä|at|à|eit)|Institut(?:e|o)?|College|School|Department|Dept\.|Faculty|Laborator(?:y|ies)"
    r"|Academy|Hospital|Cent(?:er|re)|Division)\b|大学|学院|研究所|研究院|研究中心|实验室|医院"
)


_DATED_LABEL = re.compile(r"^\W{0,3}(?:received|revised|accepted|published|available|submitted)\b", re.I)
_PROSE_WORDS = re.compile(r"\b(?:we|our|was|were|is|are|has|have|had|this|these|which|that|can|may)\b", re.I)


def is_front_line(line: str) -> bool:
    """Whether a first-page line is front matter rather than prose: an affiliation, e-mail, ORCID or
    correspondence line, received/accepted dates, keywords, a copyright or licence line, a journal
    citation, volume or classification line."""
    t = line.strip().lstrip("#").strip()
    if not t or len(t) > 400:
        return False
    if _COPYRIGHT.search(t) or _DATES.search(t):
        return True
    if _FRONT.match(t):
        # "Received 3 May 2010; accepted ...", not "Published studies show ...": a date label needs a number
        return not _DATED_LABEL.match(t) or bool(re.search(r"\d", t[:48]))
    if len(t) > 220:
        return False
    if _EMAIL.search(t) or _ORCID.search(t) or _VOLUME.search(t):
        return True
    return is_affiliation(t)


def is_affiliation(t: str) -> bool:
    """An affiliation line: an institution named at its start (after a footnote marker) with its place
    after a comma, an institution with a postcode, or the whole line in parentheses ("(某大学数学系,
    城市 100000)"); never a sentence."""
    t = t.strip()
    if len(t) > 220 or t.endswith(("。", ";", "；")) or re.search(r"[a-z]{2,}\.\s+[A-Z][a-z]", t):
        return False  # a sentence ends inside it
    if _PROSE_WORDS.search(t) or "，" in t and "。" in t:
        return False
    core = re.sub(r"^[\s*∗†‡§¶\d,]{0,4}(?:[a-z]\s+)?(?=[A-Z(（\u3400-\u9fff])", "", t)
    inst = _INSTITUTION.search(core)
    if inst is None:
        return False
    if core[:1] in "(（" and core[-1:] in ")）":
        return True
    if re.search(r"(?<!\d)\d{5,6}(?!\d)", core) and len(core) <= 120:
        return True  # a postcode
    commas = core.count(",") + core.count("，")
    if inst.start() == 0:  # "Department of Physics, ...", not "Hospital in Lilongwe, Malawi" (a title's line)
        return commas >= 1 and bool(re.match(r"\S+\s+(?:of|for)\b", core[inst.start() :]))
    return inst.start() < 40 and commas >= 2


_ASKS_FRONT = re.compile(
    r"e-?mail|邮箱|电子邮|orcid|correspond|通讯作者|通信作者|联系"
    r"|affiliat|universit|institut|单位|机构|哪所|哪家"
    r"|receiv|receipt|accepted|submitted|revised|收稿|收到|修回|录用|接受|投稿|发表|出版|published|publication"
    r"|key\s*words?|关键词|关键字|index terms"
    r"|copyright|licen[cs]e|版权|许可|open access|开放获取"
    r"|\bdoi\b|volume|\bvol\b|issue|卷|期刊|journal|citation|cite|引用格式"
    r"|classification|分类|\bmsc\b|\bjel\b",
    re.I,
)
_ASKS_CONTENTS = re.compile(
    r"table of contents|\bcontents\b|目录|目次|哪一?[章节页]|which (?:chapter|page|section)", re.I
)


def asks_about_front(question: str) -> bool:
    """Whether a question asks what front matter says (affiliation, e-mail, dates, keywords, licence,
    journal, classification): then front-matter passages may be its evidence."""
    return bool(_ASKS_FRONT.search(question))


def asks_about_contents(question: str) -> bool:
    """Whether a question asks about a document's table of contents (its chapters and their pages)."""
    return bool(_ASKS_CONTENTS.search(question))


def apparatus_note(doc: Document) -> str:
    """What the index report says of a document's contents and front-matter lines ('' when it has none)."""
    toc = sum(a.kind == CONTENTS_KIND for a in doc.asides)
    front = sum(a.kind == FRONT_KIND for a in doc.asides)
    if not toc and not front:
        return ""
    parts = [f"{toc} table-of-contents line(s)"] if toc else []
    parts += [f"{front} front-matter line(s) of page 1"] if front else []
    return f"{doc.doc_id}: {' and '.join(parts)} kept searchable but out of answer evidence unless asked for"


def evidence_kinds_out(question: str, mode: str) -> frozenset[str]:
    """The apparatus kinds kept out of a question's evidence: none when ``mode`` is "on"; under "auto"
    those the question does not ask about; all under "off"."""
    if mode == "on":
        return frozenset()
    if mode == "off":
        return APPARATUS_KINDS
    out = set()
    if not asks_about_contents(question):
        out.add(CONTENTS_KIND)
    if not asks_about_front(question):
        out.add(FRONT_KIND)
    return frozenset(out)


_CONTENTS_FROM = frozenset(("body", "heading", "meta", "abstract"))  # never notes or reference entries
_FRONT_FROM = frozenset(("body", "meta"))


def apparatus_kinds(texts: Sequence[str], kinds: Sequence[str], pages: Sequence[int], title_idx: int) -> dict[int, str]:
    """The lines of a document (their text, cleaner's kind and PDF page, 0 when not a PDF) that are
    apparatus, with their kind: contents lines anywhere; page-1 front-matter lines of a PDF (not its
    title line) and the short wrapped line that continues one."""
    last = max(pages, default=0)
    out: dict[int, str] = {}
    for i in contents_lines(texts):
        # a leader line the cleaner took for a note ("1.1 ······①": a page number through a broken font map)
        if kinds[i] not in _CONTENTS_FROM and not (kinds[i] == "footnote" and _LEADER.search(texts[i].strip())):
            continue
        number = re.findall(r"\d+", texts[i])
        if last and number and int(number[-1]) > last + 20 and not _TOC_HEADING.match(texts[i].strip("# ")):
            continue  # points past the end of the document: a number, not a page
        out[i] = CONTENTS_KIND
    previous = -1
    for i, t in enumerate(texts):
        if pages[i] != 1 or i == title_idx or i in out or kinds[i] not in _FRONT_FROM or not t.strip():
            continue
        if is_front_line(t):
            out[i] = FRONT_KIND
            previous = i
        elif (
            previous >= 0
            and kinds[i] == "meta"
            and texts[previous].rstrip()[-1:] in ",;，；、"
            and all(not texts[k].strip() for k in range(previous + 1, i))
        ):
            out[i] = FRONT_KIND  # a keyword list wrapped onto the next line
            previous = i
        else:
            previous = -1
    return out


class _Line(Protocol):
    text: str
    kind: str


def mark_apparatus(lines: Sequence[_Line], pages: Sequence[int], title_idx: int) -> tuple[Aside, ...]:
    """Relabel the cleaner's lines that are apparatus (``apparatus_kinds``) with their kind, and return them
    as Asides in order (note marks and a type heading's "#" taken off, spaces squeezed)."""
    kinds = apparatus_kinds([ln.text for ln in lines], [ln.kind for ln in lines], pages, title_idx)
    for i, kind in kinds.items():
        lines[i].kind = kind
    return tuple(
        Aside(kind, " ".join(cjk_punct(MARK_RE.sub("", lines[i].text.lstrip("#"))).split()), pages[i])
        for i, kind in sorted(kinds.items())
    )
