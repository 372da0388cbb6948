"""What the first page's layout says about the work: its title (the largest type in the upper half of
the first page, not a journal header, a running banner, an identifier or a one-word label), the authors
(the line set under the title) and the year (a copyright, publication or arXiv line)."""

from __future__ import annotations

import re

from rag.ingest.pdf.layout import body_size
from rag.ingest.pdf.records import PdfPage, Segment
from rag.lang.normalize import attach_accents, normalize
from rag.lang.text import is_cjk
from rag.records import Bib, Person

TOP_SHARE = 0.55  # the title stands in this upper share of the first page
TITLE_RATIO = 1.15  # its type is at least this much larger than the body's
MIN_WORDS = 3  # a title has at least this many words ...
MIN_HAN = 6  # ... or this many Han characters
_NOT_TITLE = re.compile(
    r"(arxiv\s*:|\bdoi\b|https?://|www\.|@|\bissn\b|©|\bcopyright\b|\bvol(?:ume)?\.?\s*\d|\bno\.\s*\d|"
    r"^[\u4e00-\u9fff\s]{2,24}学\s*报$|第\s*\S{1,4}\s*[卷期]|\breceived\b|\baccepted\b)",
    re.I,
)
# a venue's name set large (a journal's banner); a line naming a venue and then its own subject after a colon
# ("Journal of X: Instructions for Authors") is a title about the venue, not its banner
_VENUE_NAME = re.compile(r"\bjournal of\b|\bproceedings\b|\btransactions on\b", re.I)
_SUBTITLE = re.compile(r"[:：]\s*\S+\s+\S+")
# footnote marks a title carries (its funding or author note): a title so marked may be short ("论文题目∗")
_NOTE_MARK = re.compile(r"[*∗†‡]")
SHORT_HAN, SHORT_WORDS = 2, 2  # a marked title has at least this many Han characters or words
_LEAD_MARKS = re.compile(r"^[\s*∗†‡§¶#⋆✉①-⑳]+")
# ordinals a template numbers its placeholder authors with ("First Author", "第一作者")
_ORDINAL = re.compile(r"\b(?:first|second|third|fourth|fifth|\d+(?:st|nd|rd|th))\b|第[一二三四五六七八九十\d]+", re.I)
_MARKS = re.compile(r"[\s*∗†‡§¶#⋆✉①-⑳,，]+$")
_NAME_MARKS = re.compile(r"[*∗†‡§¶#⋆✉①-⑳]|(?<=[a-z\u00c0-\u024f])\d+|\(\d+\)|\d+\)")
_Y = r"[^\n]{0,40}?(?<!\d)((?:19|20)\d{2})(?!\d)"  # the first year within 40 characters of a keyword
_YEARS = (  # in this order: the year of publication before that of acceptance, before that of receipt
    re.compile(r"(?:©|\(c\)|copyright|published|发表|出版)" + _Y, re.I),
    re.compile(r"accepted" + _Y, re.I),
    re.compile(r"(?:received|收稿日期)" + _Y, re.I),
)
_VENUE = re.compile(
    r"proceedings|journal|conference|symposium|workshop|transactions|to appear|\bvol\.|学报|\d\s*年\s*\d{1,2}\s*月|"
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+(?:19|20)\d{2}\b",
    re.I,
)
_PAREN_YEAR = re.compile(r"\((?:19|20)\d{2}\)")
_YEAR_ONLY = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_ARXIV = re.compile(r"arxiv:\s*(\d{2})(\d{2})\.\d{4,5}", re.I)


def _words(text: str) -> int:
    return len(re.findall(r"[A-Za-z\u00c0-\u024f]{2,}", text))


def _han(text: str) -> int:
    return sum(1 for ch in text if is_cjk(ch))


def _bold(s: Segment) -> bool:
    return s.weight >= 600


def _join(parts: list[str]) -> str:
    out = parts[0]
    for p in parts[1:]:
        out += ("" if is_cjk(out[-1:]) and is_cjk(p[:1]) else " ") + p
    return out


def _not_title(text: str) -> bool:
    return bool(_NOT_TITLE.search(text) or (_VENUE_NAME.search(text) and not _SUBTITLE.search(text)))


def is_placeholder_byline(text: str) -> bool:
    """Whether a line is one stand-in name said over and over ("姓名 1① 姓名 2②", "First Author, Second
    Author", "第一作者姓名第二作者姓名"): a template's byline, never a title."""
    squashed = "".join(ch for ch in _ORDINAL.sub("", text).lower() if ch.isalpha())
    return bool(re.fullmatch(r"(.{2,}?)\1+", squashed))


def _titled(text: str, marked: bool) -> bool:
    """Whether a block's text is long enough for a title (shorter when it carries a note mark), not a
    banner in spaced capitals and not a placeholder byline."""
    if is_placeholder_byline(text) or _spaced_label(text):
        return False
    if marked:
        return _words(text) >= SHORT_WORDS or _han(text) >= SHORT_HAN
    return _words(text) >= MIN_WORDS or _han(text) >= MIN_HAN


def title_block(page: PdfPage, height: float) -> tuple[str, int]:
    """The title on a first page and the index (in its segments) of its last line; ('', -1) if none."""
    segs = list(page.segments)
    if not segs:
        return "", -1
    body = body_size(segs)
    cands = [
        i
        for i, s in enumerate(segs)
        if s.top < TOP_SHARE * height and s.size >= TITLE_RATIO * body and not _not_title(s.text)
    ]
    for size in sorted({round(segs[i].size, 1) for i in cands}, reverse=True):
        same = sorted((i for i in cands if round(segs[i].size, 1) == size), key=lambda i: segs[i].top)
        for k, i in enumerate(same):
            lines, last = [segs[i]], i
            for j in same[k + 1 :]:  # the lines below in the same type, close enough to be one block
                s, prev = segs[j], lines[-1]
                if _bold(s) == _bold(prev) and -0.5 * prev.size <= s.top - prev.bottom <= 1.2 * prev.size:
                    lines.append(s)
                    last = max(last, j)
                else:
                    break
            joined = _join([s.text for s in lines])
            text = _LEAD_MARKS.sub("", _MARKS.sub("", joined)).strip()
            marked = bool(_NOTE_MARK.search(joined)) and k == 0 and size == max(round(segs[i].size, 1) for i in cands)
            if _titled(text, marked):
                return " ".join(text.split()) if not _han(text) else text, last
    return "", -1


def _spaced_label(text: str) -> bool:
    """A banner set in spaced capitals ('R E S E A R C H  A R T I C L E') or in capitals only, short."""
    tokens = text.split()
    singles = sum(1 for t in tokens if len(t) == 1)
    return singles >= 4 or (text.isupper() and not _han(text) and len(tokens) <= 3)


def authors_after(page: PdfPage, last: int, title_size: float) -> tuple[Person, ...]:
    """Author names from the line (or the row of segments) set under the title in smaller type."""
    segs = list(page.segments)
    if last < 0 or last + 1 >= len(segs):
        return ()
    after = [s for s in segs[last + 1 : last + 12] if re.search(r"\w", s.text)]  # not a rule of dots
    if not after:
        return ()
    first = after[0]
    if first.size >= title_size or first.top - segs[last].bottom > 4 * title_size:
        return ()
    row = sorted((s for s in after if abs(s.top - first.top) < 0.5 * first.size), key=lambda s: s.x0)
    text = ", ".join(s.text for s in row)
    if _not_title(text) or re.search(r"universit|department|institut|abstract|大学|学院|研究所|摘\s*要", text, re.I):
        return ()
    people = _names(text, segs[last + 1 : last + 20])
    if len(people) == 1:
        # one name per line, each followed by its affiliation in smaller type: the names further down
        for s in after[len(row) :]:
            if abs(s.size - first.size) < 0.5:
                more = _names(s.text, [])
                if not more:
                    break
                people += more
            elif s.size > first.size or not re.match(r"\s*[(（]", s.text):
                break  # the abstract or the body: the byline is over
    # a name said twice ("作者名, 作者名") is a template's placeholder, not a byline of people
    return tuple(people) if len({p.full() for p in people}) == len(people) else ()


def _names(text: str, below: list[Segment]) -> list[Person]:
    """The people a byline's text names, or [] when it is not a byline of names."""
    text = attach_accents(text)
    names = [n.strip(" .") for n in re.split(r",|，|、|;|\band\b|&", _NAME_MARKS.sub(",", text)) if n.strip(" .")]
    names = _unglued(names, below)
    names = [n for n in names if len(n) > 1 and not re.search(r"\d", n)]
    if any(re.search(r"[()（）]", n) for n in names):
        return []  # a bracket left inside a name: an instruction or a remark, not a byline
    people: list[Person] = []
    for n in names:
        han = _han(n)
        # Chinese names have 2 or 3 characters (4 in a list of several)
        if han and 2 <= len(n.replace(" ", "")) <= (4 if len(names) > 1 else 3):
            people.append(Person(n.replace(" ", "")))
        elif not han and 2 <= len(n.split()) <= 5 and all(w[:1].isupper() for w in n.split() if len(w) > 3):
            words = n.split()
            people.append(Person(words[-1], " ".join(words[:-1])))
        else:
            return []  # not a byline of names
    return people


def _unglued(names: list[str], below: list[Segment]) -> list[str]:
    """Names with a glued affiliation letter taken off ("Patrick Lanea,c" -> "Patrick Lane"): only when the
    byline marks affiliations with letters (a lone lowercase letter between its commas) and every name ends
    in a letter that labels an affiliation line below it ("a School of ...")."""
    labels = {m.group(1) for s in below if (m := re.match(r"([a-z])\s+[A-Z]", s.text))}
    lone = {n for n in names if re.fullmatch(r"[a-z]", n)}
    people = [n for n in names if len(n) > 1]
    if (
        not labels
        or not lone <= labels
        or not people
        or not all(n[-1] in labels and n[-2:-1].islower() for n in people)
    ):
        return names
    return [n[:-1] if len(n) > 1 else n for n in names]


def _year(page: PdfPage, last: int, text: str) -> str:
    """The year of the work on its first page: a copyright or publication line, else a venue line (a
    journal or proceedings line above the title, in the running header or footer, or at the foot of
    the page: "To appear in ... 2004", "June 2007"), else an arXiv id, else acceptance, else receipt."""
    if m := _YEARS[0].search(text):
        return m.group(1)
    segs = page.segments
    head = [s.text for s in segs[: max(last, 0)]] + list(
        page.furniture
    )  # a journal's citation line: "... (2014), 26:1"
    for line in map(normalize, head + [s.text for s in segs[-3:]]):  # radicals (⽉ for 月) folded
        if (_VENUE.search(line) or (line in head and _PAREN_YEAR.search(line))) and (m := _YEAR_ONLY.search(line)):
            return m.group(1)
    if m := _ARXIV.search(text):
        return f"20{m.group(1)}"
    for pattern in _YEARS[1:]:
        if m := pattern.search(text):
            return m.group(1)
    return ""


def front_page_bib(pages: list[PdfPage]) -> Bib:
    """Title, authors and year from the first page with text (source 'layout'); the empty record
    when the page shows no title."""
    # a cover or declaration page whose text layer could not be read (OCR'd) does not hide the title
    # set on the next page that has one
    page = next((p for p in pages[:3] if p.segments and p.ocr is None), None)
    if page is None:
        return Bib()
    height = page.size[1] or max(s.bottom for s in page.segments)
    title, last = title_block(page, height)
    if not title:  # a thesis's cover names the degree; its title stands over the abstract a few pages on
        title = title_over_abstract(pages[:6])
    if not title:  # a notice sets its title in bold body-size type over its first paragraph
        title = title_over_body(page, height)
    if not title:  # a page cut from a paper names the work only in its running header
        title = header_title(pages[:3])
    text = "\n".join(s.text for s in page.segments) + "\n" + "\n".join(page.furniture)
    year = _year(page, last, text)
    if not (title or year):
        return Bib()
    authors = authors_after(page, last, page.segments[last].size) if title else ()
    return Bib(title=title, authors=authors, year=year, source="layout")


_ABSTRACT = re.compile(r"^\s*(?:摘\s*要|abstract)\s*$", re.I)


def title_over_abstract(pages: list[PdfPage]) -> str:
    """The lines set in larger type right above an abstract heading in the upper part of one of
    ``pages`` (a thesis repeats its title over its abstract); '' when no page has one."""
    for page in pages:
        segs = list(page.segments)
        height = page.size[1] or max((s.bottom for s in segs), default=0.0)
        head = next((k for k, s in enumerate(segs) if _ABSTRACT.match(s.text)), -1)
        if head < 1 or segs[head].top > 0.4 * height:
            continue
        body = body_size(segs)
        above: list[Segment] = []
        for s in reversed(segs[:head]):
            if s.size < TITLE_RATIO * body or _not_title(s.text) or (above and above[0].top - s.bottom > 2 * s.size):
                break
            above.insert(0, s)
        text = _MARKS.sub("", _join([s.text for s in above])).strip() if above else ""
        if (_words(text) >= MIN_WORDS or _han(text) >= MIN_HAN) and not _spaced_label(text):
            return " ".join(text.split()) if not _han(text) else text
    return ""


def find_title(lines: list[str], layout: Bib) -> list[int]:
    """Indexes of the lines (among the first 80) that spell the layout's title (footnote marks aside), in
    order, then the byline's under them when it names the first author ([] if no lines spell the title)."""
    out = _title_lines(lines, layout.title)
    family = re.sub(r"\s+", "", layout.authors[0].family) if out and layout.authors else ""
    for j in range(out[-1] + 1, min(len(lines), out[-1] + 5)) if family else ():
        if family in re.sub(r"\s+", "", lines[j]):
            return out + [j]
    return out


def _title_lines(lines: list[str], title: str) -> list[int]:
    want = re.sub(r"\s+", "", normalize(title))
    for i, ln in enumerate(lines[:80]):
        got = re.sub(r"[*∗†‡§\ue000-\ue001\d]+$", "", re.sub(r"\s+", "", ln))
        if len(got) < 2 or not want.startswith(got):
            continue
        out, j = [i], i + 1
        while len(got) < len(want) and j < min(len(lines), i + 12):
            nxt = re.sub(r"\s+", "", lines[j])
            if nxt and want.startswith(got + nxt):
                got += nxt
                out.append(j)
            elif nxt:
                break
            j += 1
        if len(got) >= 0.8 * len(want):
            return out
    return []


def title_over_body(page: PdfPage, height: float) -> str:
    """The block of bold lines (one size, not the body's type) right above the first line of body type in
    the upper part of ``page``: a notice's title set in bold small type over its text; '' when none."""
    segs = list(page.segments)
    body = body_size(segs)
    first = next((k for k, s in enumerate(segs) if abs(s.size - body) < 0.5 and not _bold(s)), -1)
    if first < 1 or segs[first].top > TOP_SHARE * height:
        return ""
    block: list[Segment] = []
    for s in reversed(segs[:first]):
        if not _bold(s) or (block and (abs(s.size - block[0].size) > 0.3 or block[0].top - s.bottom > 1.2 * s.size)):
            break
        block.insert(0, s)
    text = _MARKS.sub("", _join([s.text for s in block])).strip() if block else ""
    if not text or _not_title(text) or text.isupper() or not _titled(text, False):
        return ""
    return " ".join(text.split()) if not _han(text) else text


# a running header: the page's number at one end of a line ("Title of the Work 9", "12 Title of the Work")
_PAGE_NO = re.compile(r"^\s*\d{1,4}\s+|\s+\d{1,4}\s*$")


def header_title(pages: list[PdfPage]) -> str:
    """A title printed only in a running header: the first line of the first page (or a header the
    reader took off as furniture) holding the page number at one end and, besides it, words only (no
    numbers, no 'et al.', no venue or identifier); '' when none. Used when the page shows no title."""
    first = pages[0].segments[0] if pages and pages[0].segments else None
    height = pages[0].size[1] if pages else 0.0
    heads = [first.text] if first and (not height or first.top < 0.15 * height) else []
    heads += [t for p in pages for t in p.furniture]
    for line in heads:
        if not _PAGE_NO.search(line):
            continue
        text = _PAGE_NO.sub("", line).strip()
        if re.search(r"\d|\bet al\b", text) or _not_title(text) or text.isupper() or not _titled(text, False):
            continue
        return " ".join(text.split()) if not _han(text) else text
    return ""
