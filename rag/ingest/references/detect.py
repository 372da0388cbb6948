"""Finding a document's reference entries in its cleaned text: the entries of a list under a heading
(References, Bibliography, 参考文献, 注释, Notes), one per numbered or author-year line, and the notes
(footnotes, endnotes "①…") that are bibliographic citations rather than remarks.

Works on lines and the cleaned Document, after page reading, so it is the same for text and PDF sources.
"""

from __future__ import annotations

import re

from rag.ingest.references.parse import DOI_RE, URL_RE, YEAR, Reference, parse_reference
from rag.lang.normalize import MARK_RE, cjk_punct, squeeze
from rag.records import Chunk, Document, Footnote

# headings whose section is a list of works (lower case, spaces removed)
LIST_HEADINGS = frozenset(
    "references reference bibliography workscited literaturecited 参考文献 参考书目 引用文献 主要参考文献 文献".split()
)
NOTE_HEADINGS = frozenset("notes endnotes 注释 注 尾注".split())
REFERENCE_KIND = "reference"  # the Chunk.kind of a passage that is an entry of a reference list

_NUMBERED = re.compile(
    r"^\s*(?:[\[［]\s*(\d{1,4})\s*[\]］]|(\d{1,3})\s*[.．](?=\s*\D)|[(（](\d{1,3})[)）](?!\s*\d))\s*"
)  # not "(75)90026-6", a DOI wrapped onto the next line
_AUTHOR_YEAR_START = re.compile(
    r"^(?:[A-Z][A-Za-z'’\-]+,\s*(?:[A-Z]\.|[A-Z][a-z]+)"  # "Smith, J." / "Smith, John"
    r"|[A-Z][A-Z'’\-]+\s+[A-Z](?:\s|,|\.)"  # "BAKER S K"
    r"|[\u3400-\u9fff·]{2,8}\s*[,，、.．:：]"  # "王某某，" / "王某某."
    r"|[A-Z][a-z]+\s+[A-Z][a-z]+(?:\s+[A-Z]\.)?,\s"  # "Patricia Abril, "
    r"|[A-Z]\.(?:\s?[A-Z]\.)*\s+[A-Z][\w'’\-]+(?:,\s|\.\s+(?:19|20)\d\d)"  # "M. Banko, " / "E. Agichtein. 2005"
    rf"|[A-Z][\w'’\-]+(?:\s+[A-Z]{{1,3}})?,?[^()]{{0,80}}\({YEAR}[a-z]?\))"  # "Bates DM, DebRoy S (2003)"
)
_ENDS_DOI = re.compile(r"\bdoi:?\s*10\.\d{4,9}/\S*(?:\s\S+)?$", re.I)  # "doi: 10.1016/j.x. 2012.12.006"
_TITLE_MARK = re.compile(r"《[^》]{2,}》|“[^”]{6,}”|\"[^\"]{6,}\"|\*[^*]{3,}\*|\[[JMCDRNPS](?:/OL)?\]|\[EB/OL\]")
_WHERE_MARK = re.compile(
    rf"(?<!\d){YEAR}(?!\d)|第\s*\d+(?:\s*[-–—]+\s*\d+)?\s*[页期卷]|pp?\.\s*\d|出版社|Press|vol\.|No\.\s*\d|\d+\s*\(\d+\)",
    re.I,
)


def heading_key(heading: str) -> str:
    """A heading as compared with the list and note headings ("References:" -> "references")."""
    return re.sub(r"[\s:：#*]+", "", heading).lower()


def is_list_heading(heading: str) -> bool:
    """Whether a heading opens a reference list (References, Bibliography, 参考文献, ...)."""
    return heading_key(heading) in LIST_HEADINGS


def entry_label(line: str) -> str | None:
    """The number of a line that opens a numbered entry ("[12] ...", "12. ...", "(12) ..."), else None."""
    m = _NUMBERED.match(line)
    if not m or re.match(rf"^\s*{YEAR}\b", line):
        return None
    return next(g for g in m.groups() if g)


def bare_label(line: str) -> str | None:
    """The number of a line that may open an entry numbered without brackets ("1 Wang X S, ..."), else None."""
    m = re.match(r"^\s*(\d{1,3})\s+(?=[A-Z\u3400-\u9fff])", line)
    return m.group(1) if m else None


def starts_entry(line: str, previous: str) -> bool:
    """Whether a line of an unnumbered (author-year) list opens a new entry: it starts with a name
    and the entry before it is finished."""
    if not previous:
        return True
    if re.search(r"(?:^|[\s,])[A-Z]\.$", previous.rstrip()):
        return False  # "..., and M." ends on an author's initial: the next line holds the rest of the name
    finished = previous.rstrip()[-1:] in ".。)）" or bool(_ENDS_DOI.search(previous))
    return finished and bool(_AUTHOR_YEAR_START.match(line.strip()))


def list_entry(line: str, heading: str, last: Footnote | None, page: int) -> Footnote | None:
    """A line of a notes or reference list under ``heading`` as an entry of its own when it opens one
    ("[12] ...", "12. ...", the next bare number, or a name after a finished entry of an author-year
    list); None when it continues the entry before it (``last``) or carries circled note marks."""
    if MARK_RE.search(line):
        return None  # circled note marks: split by the cleaner's own note splitting
    label = entry_label(line)
    in_list = last is not None and last.section == heading
    expected = str(int(last.label) + 1) if in_list and last is not None and last.label.isdigit() else "1"
    if label is not None and in_list and last is not None and last.label.isdigit() and label != expected:
        label = None  # "300. ACM, New York" wrapped from "pages 291-300": not the next entry's number
    if label is None and bare_label(line) == expected and (in_list or expected == "1"):
        label = expected  # "1 Wang X S, ...": a bare number, taken only as the next one
    numbered = in_list and last is not None and last.label.isdigit()
    if label is None and (
        numbered  # a numbered list's entries open with their number: a line without one continues the last
        or not (is_list_heading(heading) and (not in_list or starts_entry(line, last.text if last else "")))
    ):
        return None
    text = squeeze(cjk_punct(line))
    if label is not None:
        text = re.sub(r"^\s*(?:[\[［]\s*\d+\s*[\]］]|\d+\s*[.．]|[(（]\d+[)）]|\d+\s+)\s*", "", text)
    return Footnote(label or "", text, heading, page)


def is_citation(text: str) -> bool:
    """Whether a note reads as a bibliographic citation (a title mark with a year, page, publisher or
    volume; or a DOI/URL), not a remark: short, and at most one sentence outside the title marks."""
    t = text.strip()
    if not t or len(t) > 400 or remark_source(t) is not None:
        return False
    if DOI_RE.search(t) or (URL_RE.search(t) and len(URL_RE.sub("", t)) < 160):
        return True
    if re.fullmatch(r"(参见|详见|见|See)?\s*《[^》]{2,60}》[。.]?", t):
        return True  # a work named by its title alone
    if not _TITLE_MARK.search(t) or not _WHERE_MARK.search(t):
        return False
    outside = _TITLE_MARK.sub("", t)
    # a remark has sentences of its own: more than one full stop outside titles (not the closing one)
    return len(re.findall(r"[。！？]", outside.rstrip("。.").strip())) == 0


_SEE = re.compile(r"[。，,；;.]\s*(?:参见|详见|另见|转引自|引自|See also|See|see also|see|cf\.)\s*[:：]?\s*")


def remark_source(text: str) -> str | None:
    """The source a remark names after "参见"/"See" ("某事发生于2015年。参见《某报告》，2016年。" -> its
    citation), or None when the note is not a remark followed by a source."""
    m = _SEE.search(text)
    if m is None or len(text[: m.start()].strip()) < 8:
        return None
    return text[m.end() :].strip()


def split_citations(text: str) -> list[str]:
    """The works one note cites: "A：《X》，2019年；B：《Y》，2020年。" -> two, when each piece is a citation."""
    pieces = [p.strip() for p in re.split(r"[；;]\s*(?=\S)", text) if p.strip()]
    if len(pieces) > 1 and all(is_citation(p) for p in pieces):
        return pieces
    return [text]


def is_reference_note(note: Footnote) -> bool:
    """Whether a note of a Document is an entry of a reference list or a citation note."""
    return is_list_heading(note.section.split(" / ")[-1]) or is_citation(note.text)


def references_of(doc: Document) -> list[Reference]:
    """The parsed reference entries of a document, in order: its reference-list entries and its
    citation notes (a note's mark "①" becomes n "1"; unnumbered entries are counted "1", "2", ...)."""
    return reference_list(doc)[0]


def reference_list(doc: Document) -> tuple[list[Reference], list[tuple[int, str]]]:
    """The entries (``references_of``) and where the text cites them by a note mark: (offset in the
    cleaned text, entry n), pairing the k-th mark "①" of the text with the k-th note labelled ①."""
    refs: list[Reference] = []
    owner: dict[int, list[int]] = {}  # note -> its entries' positions in refs
    for i, note in enumerate(doc.footnotes):
        # a citation note's works; a remark's source named after "参见"/"See" (the remark stays evidence)
        source = None if is_reference_note(note) else remark_source(note.text)
        if is_reference_note(note) or (source and is_citation(source)):
            for piece in split_citations(source or note.text):
                owner.setdefault(i, []).append(len(refs))
                refs.append(parse_reference(piece, note.label))
    labels = [r.n for r in refs]
    if "" in labels or len(set(labels)) < len(labels):
        # footnote marks restart on every page (①) and author-year lists have none: number them in order
        refs = [Reference(**{**r.__dict__, "n": str(i)}) for i, r in enumerate(refs, 1)]
    notes_by_label: dict[str, list[int]] = {}
    for i, note in enumerate(doc.footnotes):
        notes_by_label.setdefault(note.label, []).append(i)
    seen: dict[str, int] = {}
    marks: list[tuple[int, str]] = []
    for offset, label in doc.marks:
        k = seen.get(label, 0)
        seen[label] = k + 1
        notes = notes_by_label.get(label, [])
        if k < len(notes) and notes[k] in owner:
            marks += [(offset, refs[j].n) for j in owner[notes[k]]]
    return refs, marks


def is_reference_chunk(chunk: Chunk) -> bool:
    """Whether a passage is an entry of a reference list or a citation note (kept out of evidence)."""
    return chunk.kind == REFERENCE_KIND


_ASKS = re.compile(
    r"参考文献|引用|引述|援引|引证|脚注|注释|尾注|出处|出自|引文|书目"
    r"|\bcit(?:e|es|ed|ing|ation|ations)\b|\breferences?\b|bibliograph|\bfoot-?notes?\b|\bend-?notes?\b",
    re.I,
)


def asks_about_references(question: str) -> bool:
    """Whether a question is about what a paper cites (its references or notes): then reference
    entries may be its evidence under the default ``reference_evidence="auto"``."""
    return bool(_ASKS.search(question))
