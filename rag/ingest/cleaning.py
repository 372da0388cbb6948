"""Cleaning PDF-extracted (mostly Chinese) text into a Document: body, sections, footnotes, metadata.

The input has lines broken mid-sentence, blank lines between column lines, fullwidth digits and
Latin, circled footnote markers in the body and footnotes at page bottoms or in an endnote block,
page numbers and running headers. Each line is classified, then body lines are re-joined.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rag.ingest.loading import SourceFile
from rag.ingest.metadata import bio_authors, byline_names
from rag.ingest.pdf.apparatus import APPARATUS_KINDS, FRONT_KIND, mark_apparatus
from rag.ingest.pdf.front import find_title
from rag.ingest.pdf.tables import placed
from rag.ingest.references.bounds import ListBounds
from rag.ingest.references.detect import list_entry
from rag.lang.normalize import CJK_PUNCT, MARK_OPEN, MARK_RE, cjk_punct, normalize, squeeze
from rag.lang.text import is_cjk
from rag.records import Document, Footnote, page_label

_CN_NUM = "一二三四五六七八九十"
_HEADING_PATTERNS = [
    (1, re.compile(rf"^[{_CN_NUM}]{{1,3}}\s*[、.．]\s*\S")),
    (1, re.compile(rf"^[{_CN_NUM}]{{1,3}}\s+\S")),
    (1, re.compile(r"^第[" + _CN_NUM + r"\d]{1,3}[章节部分]")),
    (2, re.compile(rf"^[(（][{_CN_NUM}]{{1,3}}[)）]\s*\S")),
    (3, re.compile(r"^\d{1,2}\s*[.．、]\s*\S")),
    (1, re.compile(r"^(\d{1,2}(\.\d{1,2}){0,2})\s+[A-Z]")),
]
_STANDALONE_HEADINGS = set(
    (
        "引言 导言 前言 结语 结论 结束语 余论 注释 参考文献 附录 abstract introduction conclusion conclusions references notes "
        "bibliography"
    ).split()
)
_NOTES_HEADINGS = {"注释", "参考文献", "references", "notes", "bibliography", "尾注"}
_META_PREFIX = re.compile(
    r"^(关键词|关键字|中图分类号|文献标识码|文章编号|DOI|doi|基金项目|作者简介|收稿日期|来稿日期|"
    r"责任编辑|\(责任编辑|\(来稿日期|\(编号|JEL|Keywords|Key words|Received|E-?mail|通讯作者)"
)
_ABSTRACT_PREFIX = re.compile(r"^(内容提要|内容摘要|摘要|提要|Abstract)\s*[:：]?\s*")
_BIO = re.compile(r"^\S{2,4}系.{2,40}(大学|学院|研究院|研究所|研究中心).{0,40}(教授|研究员|博士|讲师|学者)")
_PAGE_NO = re.compile(r"^(\d{1,4}|[-–—]\s*\d{1,4}\s*[-–—]|第\s*\d{1,4}\s*页|\d{1,4}\s*\|.*|.*\|\s*\d{1,4})$")
_TERMINAL = set("。！？!?…；;”」』.")


@dataclass
class _Line:
    text: str
    kind: str = "body"  # body | blank | heading | footnote | meta | furniture | abstract
    level: int = 0


@dataclass
class _State:
    body: list[str] = field(default_factory=list)  # paragraphs
    sections: list[tuple[int, str]] = field(default_factory=list)
    footnotes: list[Footnote] = field(default_factory=list)
    heading_path: list[tuple[int, str]] = field(default_factory=list)
    pages: list[tuple[int, int]] = field(default_factory=list)  # (body offset, page) where a page's text starts
    marks: list[tuple[int, str]] = field(default_factory=list)  # (body offset, label) of each note mark

    def mark(self, offset: int, page: int) -> None:
        """Note that the body text from ``offset`` on is on ``page`` (PDFs only: pages are 0 otherwise)."""
        if page and (not self.pages or self.pages[-1][1] != page):
            self.pages.append((offset, page))

    @property
    def section(self) -> str:
        return " / ".join(h for _, h in self.heading_path)


def _heading_level(t: str, numbered: bool = True) -> int:
    """Heading level of a short line, or 0 for body text."""
    core = MARK_RE.sub("", t).strip().rstrip("*")
    if not core or len(core) > 48:
        return 0
    if core.lower().rstrip(":：") in _STANDALONE_HEADINGS or core.replace(" ", "") in _STANDALONE_HEADINGS:
        return 1
    if any(c in core for c in "。！？!?；;") or core.endswith(("，", ",", "、")):
        return 0
    for level, pat in _HEADING_PATTERNS if numbered else ():
        if pat.match(core):
            return 0 if level == 3 and any(c in core for c in "，,") else level
    return 0


def _heading_text(t: str) -> str:
    """Cleaned heading, keeping the space in '一 标题' that squeezing would remove."""
    t = MARK_RE.sub("", t).strip().rstrip("*").lstrip("#").strip()
    if m := re.match(rf"^([{_CN_NUM}]{{1,3}})\s+(?=\S)", t):
        return m.group(1) + " " + squeeze(cjk_punct(t[m.end() :]))
    return squeeze(cjk_punct(t))


def _classify(lines: list[str], title_key: str, repeats: bool = True, numbered: bool = True) -> list[_Line]:
    """Label each line: body, heading, footnote, metadata, page furniture or blank; ``repeats``: a short line
    seen 3+ times (numbers aside) is furniture (not for PDFs: their reader finds running lines by place);
    ``numbered``: numbered lines are headings (not in PDFs whose reader marked headings by type: "# ...")."""
    out = [_Line(t.strip()) for t in lines]
    short = Counter(re.sub(r"\d+", "#", ln.text) for ln in out if 0 < len(ln.text) <= 60)
    in_notes = False
    bounds = ListBounds(gaps=not repeats)  # where the list under a notes heading ends (and picks up again)
    prev_kind = "blank"
    for i, ln in enumerate(out):
        t = ln.text
        if not t:
            ln.kind = "blank"
            bounds.blank()
            continue
        key = re.sub(r"\s+", "", t)
        if in_notes and len(t) > 30 and re.match(r"(内容提要|内容摘要|摘\s*要|Abstract\b)", t):
            in_notes, ln.kind, prev_kind = False, "abstract", "abstract"  # an abstract after the references ends them
            continue
        if in_notes and not t.startswith("#") and not _PAGE_NO.match(t):
            in_notes = bounds.read(t)  # a heading, a page's foot note or prose after a gap ends the list
            prev_kind = prev_kind if in_notes else "body"  # what ends the list does not continue its last entry
        elif not in_notes and bounds.resumes(t):
            in_notes = True  # the list's next numbered entry after a page's foot notes
        if _PAGE_NO.match(t) or (repeats and short[re.sub(r"\d+", "#", t)] >= 3 and not _heading_level(t)):
            ln.kind = "furniture"
        elif title_key and key.rstrip("*") == title_key and i > 12:
            ln.kind = "furniture"  # running header repeating the title
        elif re.fullmatch(r"【[^】]{1,12}】", key):
            ln.kind = "furniture"  # journal column name
        elif m := re.match(r"^(#{1,6})\s+\S", t):
            # a heading the reader marked by its type ("# References"): opens a list, or ends one (an appendix)
            ln.kind, ln.level = "heading", len(m.group(1))
            in_notes = _heading_text(t).replace(" ", "").lower().rstrip(":：") in _NOTES_HEADINGS
            bounds.start()
        elif in_notes and t.replace(" ", "").lower().rstrip(":：") in _NOTES_HEADINGS:
            ln.kind, ln.level = "heading", 1  # the list's heading said again (a page's head): not an entry
        elif in_notes:
            ln.kind = "footnote"
        elif t.startswith(MARK_OPEN):
            ln.kind = "footnote"
        elif prev_kind == "footnote" and _continues_note(out, i):
            ln.kind = "footnote"
        elif _META_PREFIX.match(t) or _BIO.match(t):
            ln.kind = "meta"
        elif prev_kind == "meta" and len(t) <= 20 and not any(c in t for c in "。，,") and not _heading_level(t):
            ln.kind = "meta"  # wrapped keyword line
        elif _ABSTRACT_PREFIX.match(t.replace(" ", "")) and len(t) > 30:
            ln.kind = "abstract"
        elif (level := _heading_level(t, numbered)) and not _broken_off(out, i):
            ln.kind, ln.level = "heading", level
            if t.replace(" ", "").lower().rstrip(":：") in _NOTES_HEADINGS:
                in_notes = True
                bounds.start()
        if ln.kind != "blank":
            prev_kind = ln.kind
    return out


def _broken_off(lines: list[_Line], i: int) -> bool:
    """Whether line ``i`` is a number without a word ("4.5:1.") right after a line of prose ending mid-sentence
    in a word: the end of that sentence, not a numbered heading (a short line before it is a figure's label)."""
    before = lines[i - 1].text if i else ""
    return not any(c.isalpha() for c in lines[i].text) and len(before) >= 30 and before[-1:].isalpha()


def _continues_note(lines: list[_Line], i: int) -> bool:
    """A line right after a footnote continues it when the note is unfinished and the line is short."""
    j = i - 1
    while j >= 0 and not lines[j].text:
        j -= 1
    prev, t = lines[j].text, lines[i].text
    if t.startswith(("<", "http", "[")):
        return True
    return prev[-1:] not in "。.」)>]" and len(t) < 150 and not _heading_level(t)


def _join(a: str, b: str) -> str:
    """Join a line broken mid-sentence: no space between Han text, a space between words."""
    if not a:
        return b
    x, y = a[-1], b[:1]
    if is_cjk(x) or x in CJK_PUNCT or is_cjk(y) or y in CJK_PUNCT:
        return a + b
    if x == "-" and len(a) > 1 and a[-2].islower() and y.islower():
        return a[:-1] + b  # de-hyphenate "gover-\nnance"
    return a + " " + b


def _split_notes(t: str) -> list[tuple[str, str]]:
    """Split a footnote line (possibly holding several notes) into (label, text) pairs."""
    parts = MARK_RE.split(t)
    lead = parts[0].strip()
    notes = [("", lead)] if lead else []  # text before the first marker continues the previous note
    for k in range(1, len(parts), 2):
        notes.append((parts[k], parts[k + 1].strip()))
    return notes


def _title_and_authors(lines: list[_Line], fallback: str, markdown: bool) -> tuple[str, tuple[str, ...], int]:
    """Title (longest short line before the abstract), authors (the line after it), and the title's index."""
    head: list[tuple[int, _Line]] = []
    for i, ln in enumerate(lines[:40]):
        if ln.kind in ("abstract", "meta") or len(ln.text) > 120:
            break
        # PDF "#" lines are type headings, which begin after page 1's first prose: one before any text is the title
        if ln.text.startswith("#") and (markdown or not head):
            return ln.text.lstrip("#").strip(), (), i
        if ln.kind == "heading":
            break  # the title comes before the first section
        if ln.kind not in ("blank", "furniture", "footnote") and not ln.text.rstrip().endswith("。"):
            head.append((i, ln))
    if not head:
        return fallback, (), -1
    ti, tl = max(head, key=lambda p: len(p[1].text))
    if len(tl.text) < 6:
        return fallback, (), -1
    title = squeeze(cjk_punct(MARK_RE.sub("", tl.text))).rstrip("*").strip()
    authors: tuple[str, ...] = ()
    for i, ln in head:
        if i > ti and len(ln.text) <= 40 and ln.kind == "body":
            authors = byline_names(ln.text)
            break
    return title, authors, ti


def clean_document(src: SourceFile) -> Document:
    """Turn one decoded source file into a cleaned Document with sections, footnotes, tables and metadata."""
    # PDFs page by page: normalising folds a line break before a circled marker, never a page break
    text = "\f".join(map(normalize, src.text.split("\f"))) if src.encoding == "pdf" else normalize(src.text)
    raw_lines = text.replace("\f", "\n").split("\n")  # each line's page below (form feeds part PDF pages; 0: no pages)
    line_page = [n if src.encoding == "pdf" else 0 for n, pg in enumerate(text.split("\f"), 1) for _ in pg.split("\n")]
    provisional = _classify(raw_lines, "", repeats := src.encoding != "pdf")
    title, authors, title_idx = _title_and_authors(provisional, Path(src.doc_id).stem, src.encoding != "pdf")
    # the title in the first page's largest type and the byline under it: front matter
    title_lines = find_title([ln.text for ln in provisional], src.layout) if src.layout.title else []
    if title_lines:
        # the byline found under another line than the layout's title is not this title's
        authors = authors if title_idx == title_lines[0] else ()
        title, title_idx = normalize(src.layout.title), title_lines[0]
        authors = tuple(p.full() for p in src.layout.authors) or authors
    typed = src.encoding == "pdf" and sum(t.startswith("#") for t in raw_lines) >= 2
    lines = _classify(raw_lines, re.sub(r"\s+", "", title), repeats, not typed)
    for i in title_lines[1:]:
        lines[i].kind = "meta"
    if title_idx >= 0:
        for ln in lines[:title_idx]:
            if ln.kind == "body" and len(ln.text) + sum(map(is_cjk, ln.text)) <= 30:  # a Han character counts 2
                ln.kind = "furniture"  # journal column names above the title (a line of prose stays)
        lines[title_idx].kind = "meta"
        for ln in lines[title_idx + 1 : title_idx + 3]:
            if ln.kind == "body" and len(ln.text) <= 40 and authors:
                ln.kind = "meta"  # the byline
                break
    if not authors:
        authors = bio_authors([ln.text for ln in lines])
    asides = mark_apparatus(lines, line_page, title_idx)  # contents and page-1 front matter: out of evidence

    st = _State()
    para = ""
    para_pages: list[tuple[int, int]] = []  # (offset in para, page) where the paragraph's text of a page starts

    def flush() -> None:
        nonlocal para
        if para:
            base = _next_offset(st.body)
            for at, page in para_pages:
                # the cleaned length up to and including the page's first character (not trimmed away)
                st.mark(base + max(0, len(squeeze(cjk_punct(MARK_RE.sub("", para[: at + 1])))) - 1), page)
            for m in MARK_RE.finditer(para):  # where each note mark stood in the cleaned text
                st.marks.append((base + len(squeeze(cjk_punct(MARK_RE.sub("", para[: m.start()])))), m.group(1)))
            st.body.append(squeeze(cjk_punct(MARK_RE.sub("", para))))
            para = ""
        para_pages.clear()

    articles = 0
    notes_heading = ""  # the heading of the notes or reference list the lines are in ("" before it)
    front: list[str] = []  # byline, author notes, keywords, funding: searchable as their own passage
    front_pages = [line_page[title_idx]] if title_idx >= 0 else []
    for idx, ln in enumerate(lines):
        if ln.kind == "furniture" and re.match(r"^\d{1,4}\s*\|\s*[A-Z]", ln.text):
            articles += 1
            if articles > 1:
                break  # a journal's abstract page: what follows belongs to the next article
        if ln.kind in ("meta", FRONT_KIND) and st.heading_path and st.heading_path[0][1] in ("摘要", "Abstract"):
            flush()
            st.heading_path = []  # the abstract ends where the keywords begin
            st.sections.append((_next_offset(st.body), ""))
        if ln.kind == "meta" and idx != title_idx and not _NOISE_META.match(ln.text):
            front.append(" ".join(cjk_punct(MARK_RE.sub("", ln.text)).split()))
            front_pages.append(line_page[idx])
        if ln.kind in ("blank", "furniture", "meta", *APPARATUS_KINDS):
            continue
        if ln.kind == "footnote" and notes_heading:
            entry = list_entry(ln.text, notes_heading, st.footnotes[-1] if st.footnotes else None, line_page[idx])
            if entry is not None:  # a line opening an entry of a reference list ("[12] ...")
                st.footnotes.append(entry)
                continue
        if ln.kind == "footnote":
            for label, note in _split_notes(ln.text):
                note = squeeze(cjk_punct(note))
                if label == "" and st.footnotes:  # continuation line of the previous note
                    last = st.footnotes[-1]
                    st.footnotes[-1] = Footnote(last.label, _join(last.text, note), last.section, last.page)
                elif note:
                    st.footnotes.append(Footnote(label, note, st.section, line_page[idx]))
            continue
        if ln.kind == "heading":
            heading = _heading_text(ln.text)
            nxt = _next_text(lines, idx)
            if (
                nxt is not None
                and nxt.kind == "body"
                and len(nxt.text) <= 14
                and len(ln.text) >= 14
                and nxt.text[0] not in '“"《(（['
                and not any(c in nxt.text for c in "。，,；;：:")
            ):
                heading += squeeze(nxt.text)  # heading wrapped onto a second line
                nxt.kind = "blank"
            if heading.lower().rstrip(":：") in _NOTES_HEADINGS:
                notes_heading = heading
                continue
            flush()
            while st.heading_path and st.heading_path[-1][0] >= ln.level:
                st.heading_path.pop()
            st.heading_path.append((ln.level, heading))
            st.sections.append((_next_offset(st.body), st.section))
            st.mark(_next_offset(st.body), line_page[idx])
            st.body.append(heading)
            continue
        t = ln.text
        if ln.kind == "abstract":
            flush()
            prefix = _ABSTRACT_PREFIX.match(t.replace(" ", ""))
            t = re.sub(r"^(内容提要|内容摘要|摘\s*要|提\s*要|Abstract)\s*[:：]?\s*", "", t)
            name = "摘要" if prefix and not prefix.group(1).startswith("Abstract") else "Abstract"
            st.heading_path = [(1, name)]
            st.sections.append((_next_offset(st.body), st.section))
        # a new paragraph starts only after a finished sentence
        if para and para.rstrip()[-1:] in _TERMINAL and (ln.kind == "abstract" or _starts_paragraph(lines, idx)):
            flush()
        para = _join(para, t)
        if line_page[idx] and (not para_pages or para_pages[-1][1] != line_page[idx]):
            para_pages.append((len(para) - len(t), line_page[idx]))
    flush()
    body = "\n".join(st.body)
    sections = tuple((min(s, len(body)), h) for s, h in st.sections)
    # left out as page furniture (page numbers, running headers, lines repeated 3+ times): told when much
    dropped = sum(len(ln.text) for ln in lines if ln.kind == "furniture") + src.furniture[1]
    return Document(
        doc_id=src.doc_id,
        path=src.path,
        title=title,
        authors=authors,
        text=body,
        sections=sections,
        footnotes=tuple(n for n in st.footnotes if n.text),  # a bare "[3]" with nothing after it cites nothing
        sha256=src.sha256,
        front_matter=_front_matter(title, authors, front),
        source_chars=sum(len(ln.text) for ln in lines) + src.furniture[1],
        dropped_chars=dropped,
        pages=tuple(st.pages),
        front_pages=page_label(min(front_pages), max(front_pages)) if any(front_pages) else "",
        ocr=src.ocr,
        marks=tuple(st.marks),
        furniture_lines=src.furniture[0],
        tables=tuple(placed(t, st.pages, sections) for t in src.tables),
        lines=src.lines,
        asides=asides,
    )


_NOISE_META = re.compile(r"^(中图分类号|文献标识码|文章编号|DOI|doi|JEL)")


def _front_matter(title: str, authors: tuple[str, ...], lines: list[str]) -> str:
    """Title, authors and the metadata lines, one per line (a byline already named is not repeated)."""
    head = [title] + (["作者：" + "、".join(authors)] if authors else [])
    rest = lines  # the byline stays verbatim too: quotes of it must still match
    return "\n".join(head + rest)


def _next_offset(paragraphs: list[str]) -> int:
    """Where the next paragraph will start in the '\\n'-joined body."""
    return sum(len(p) for p in paragraphs) + len(paragraphs)


def _next_text(lines: list[_Line], idx: int) -> _Line | None:
    return next((ln for ln in lines[idx + 1 : idx + 4] if ln.kind != "blank"), None)


def _starts_paragraph(lines: list[_Line], idx: int) -> bool:
    """After a finished sentence, a following line opens a paragraph unless the layout is one line per column row."""
    prev = next((ln for ln in reversed(lines[:idx]) if ln.kind == "body"), None)
    return prev is None or len(prev.text) > 60 or lines[idx - 1].kind == "blank"
