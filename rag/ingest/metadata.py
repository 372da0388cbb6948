"""Bibliographic metadata of a document, from what it carries itself: the PDF's information dictionary and
XMP packet, and the front matter of its first page (DOI, 文章编号, 卷/期 and Vol./No. lines, a printed
citation line), merged under a library's record when one is given (a library always wins)."""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

from rag.ingest.pdf_guard import quiet
from rag.lang.normalize import MARK_RE
from rag.lang.text import is_cjk
from rag.records import Bib, Document, Person

FIRST_PAGE = 3000  # characters of a text without page breaks read as its first page

_CJK = re.compile(r"[\u3400-\u9fff]")
DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>，,；;。]+)")
_DOI_LINE = re.compile(r"(?:DOI|doi)\s*[:：]?\s*(10\.\d{4,9}/[^\s\"<>，,；;。]+)")
# 文章编号 (CN journals): ISSN(year)issue-first page-page count, e.g. 1002-1515(2025)03-0026-11
_ARTICLE_NO = re.compile(
    r"文章编号\s*[:：]?\s*\d{4}\s*-\s*\d{3}[\dXx]\s*[(（]\s*((?:19|20)\d{2})\s*[)）]\s*(\d{1,2})\s*-\s*(\d{1,5})\s*-\s*(\d{1,3})"
)
_VOL_ZH = re.compile(r"第\s*(\d{1,4})\s*卷")
_ISSUE_ZH = re.compile(r"第\s*(\d{1,3})\s*期")
_YEAR_ZH = re.compile(r"((?:19|20)\d{2})\s*年")
_VOL_EN = re.compile(r"\bVol(?:ume)?\.?\s*(\d{1,4})", re.I)
_ISSUE_EN = re.compile(r"\b(?:No|Issue)\.?\s*(\d{1,3})\b", re.I)
_YEAR = re.compile(r"\b((?:19|20)\d{2})\b")
# a printed GB/T 7714 citation of the article itself: "... [J]. 刊名, 2020, 12(3): 45-67"
_CITE_LINE = re.compile(
    r"\[J\]\s*[.．]\s*([^,，\[\]]{2,60}?)\s*[,，]\s*((?:19|20)\d{2})\s*[,，]\s*(?:(\d{1,4})\s*)?"
    r"(?:[(（]\s*(\d{1,3})\s*[)）])?\s*[:：]\s*(\d{1,5})(?:\s*[-–—~]\s*(\d{1,5}))?"
)
_JOURNAL_EN = re.compile(
    r"^\s*((?:The\s+)?(?:[A-Z][\w&-]*\s+)*Journal of [A-Z][\w&,' -]{2,80}?)\s*(?:[,;(]|Vol|$)", re.M
)
# a journal's running head: "Journal of X 310 (2005) 253–265", "Name Of Journal (2014), 26:1, 147–154"
_HEAD_EN = re.compile(
    r"^\s*(?P<j>[A-Z][\w&'’.-]*(?:\s+(?:[A-Z][\w&'’.-]*|of|and|for|in|on|the|&)){1,9}?)\s+(?:(?P<v>\d{1,4})\s+)?"
    r"\((?P<y>(?:19|20)\d{2})\)\s*[,:]?\s*(?:(?P<v2>\d{1,4})\s*(?::\s*(?P<i>\d{1,3})|\(\s*(?P<i2>\d{1,3})\s*\))?"
    r"\s*[,:]\s*)?(?P<p>\d{1,5}\s*[-–—]\s*\d{1,5})\b",
    re.M,
)
# the article's own "cite as" line: "Authors (2018) Title. Journal 13(6): e0197919."
_CITE_AS_EN = re.compile(
    r"\((?P<y>(?:19|20)\d{2})\)\s.{10,300}?[.?!]\s+(?P<j>[A-Z][\w&'’ -]{1,60}?)\s+(?P<v>\d{1,4})"
    r"\s*\((?P<i>\d{1,3})\)\s*:\s*(?P<p>e?\d{1,7}(?:\s*[-–]\s*\d{1,5})?)\b"
)
_FOOTNOTE = re.compile(r"^\s*(?:\^|[①-⑳]|\[\d+\]|\d+\s*[)）])")
_BAD_TITLE = re.compile(
    r"^(?:microsoft\s+\w+\s*-|untitled|title$|doi\s*:|10\.\d{4,9}/|proceedings\b)|\.(?:docx?|pdf|tex|dvi|wpd|rtf|indd)\s*$",
    re.I,
)
_ORGANISATION = re.compile(
    r"\b(?:association|journals?|press|publish\w*|inc|ltd|society|university|elsevier|springer)\b", re.I
)


# what tools and templates write where the author is unknown: not a name (a reference list leaves the
# author out rather than print one of these)
_NO_AUTHOR = re.compile(
    r"^(?:anon(?:ymous)?(?:\s+authors?)?|unknown(?:\s+authors?)?|n/?a|none|authors?|"
    r"admin(?:istrator)?|user|owner|佚名|匿名|无名氏|不详|未知|作者)$",
    re.I,
)


def is_placeholder_name(name: str) -> bool:
    """Whether an author string is a stand-in for an unknown author ("Anonymous", "佚名", "Administrator")."""
    return bool(_NO_AUTHOR.match(" ".join(name.replace("(s)", "s").split()).strip(" .,;:()[]")))


def real_authors(authors: tuple[Person, ...]) -> tuple[Person, ...]:
    """The authors without stand-ins for an unknown author."""
    return tuple(p for p in authors if p.family and not is_placeholder_name(p.full()))


def first_page(text: str) -> str:
    """The text of the first page (up to the first form feed, at most FIRST_PAGE characters), footnote
    lines left out (they cite other works)."""
    head = text.split("\f", 1)[0][:FIRST_PAGE]
    return "\n".join(ln for ln in head.split("\n") if not _FOOTNOTE.match(ln))


def parse_name(name: str) -> Person:
    """One author name as a Person: a CJK name or organisation whole, "Family, Given", a pinyin
    "FAMILY Given" (family in capitals), else "Given Family" (the last word is the family name)."""
    name = " ".join(name.split()).strip(" ,;")
    if not name or _CJK.search(name):
        return Person(name.replace(" ", ""))
    if "," in name:
        family, given = (p.strip() for p in name.split(",", 1))
        return Person(family, given)
    words = name.split(" ")
    if len(words) == 1:
        return Person(name)
    if words[0].isupper() and len(words[0]) > 1 and not words[-1].isupper():
        return Person(words[0].capitalize() if len(words[0]) > 2 else words[0], " ".join(words[1:]))
    return Person(words[-1], " ".join(words[:-1]))


def split_names(text: str) -> list[str]:
    """Author names from one metadata string ("A; B", "A, B and C", "张三，李四", "张三 李四")."""
    text = text.strip()
    if not text:
        return []
    if _CJK.search(text):
        return _split_cjk_names(text)
    parts = re.split(r"\s*;\s*|\s+and\s+|\s*&\s*", text)
    if len(parts) == 1 and text.count(",") >= 2:  # "A B, C D, E F" (a single "Family, Given" keeps its comma)
        parts = text.split(",")
    return [p.strip() for p in parts if p.strip()]


def _split_cjk_names(text: str) -> list[str]:
    """Names from a list holding Chinese names, perhaps mixed with Latin ones ("张三, John Smith, 李四",
    "张三 John Smith 李四", "Smith, John; 李四"): separators first (";" alone when the list has one, so a
    "Family, Given" keeps its comma), then within a part a run of Latin words is one name, a Han word of two or
    more characters another, and a lone Han character (a family name spaced off, "李 明") joins the next."""
    seps = r"\s*[;；]\s*" if re.search(r"[;；]", text) else r"\s*[,，;；、]\s*|\s+(?:and|&)\s+"
    out: list[str] = []
    for part in (x.strip() for x in re.split(seps, text)):
        if not part:
            continue
        if not _CJK.search(part):
            out.append(" ".join(part.split()))
            continue
        latin: list[str] = []
        pending = ""
        for tok in re.findall(r"[\u3400-\u9fff·・]+|[^\s\u3400-\u9fff]+", part):
            if _CJK.search(tok):
                if latin:
                    out.append(" ".join(latin))
                    latin = []
                name = pending + tok
                pending = name if len(tok) == 1 and not pending else ""
                if not pending:
                    out.append(name)
            else:
                if pending:
                    out.append(pending)
                    pending = ""
                latin.append(tok)
        if latin:
            out.append(" ".join(latin))
        if pending:
            out.append(pending)
    return [n.strip(" ,") for n in out if n.strip(" ,")]


def clean_doi(doi: str) -> str:
    """A DOI without a resolver prefix or trailing punctuation, lower-cased prefix kept as written."""
    doi = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", doi.strip(), flags=re.I)
    return doi.rstrip(".,;)]}>。")


def front_matter_bib(text: str) -> Bib:
    """What the first page says about the work: DOI, journal, year, volume, issue, pages (general patterns
    of Chinese and English journal front matter, never a particular journal's)."""
    page = first_page(text)
    got: dict[str, Any] = {}
    m = _DOI_LINE.search(page) or DOI_RE.search(page)
    if m:
        got["doi"] = clean_doi(m.group(1))
    if m := _CITE_LINE.search(page):
        got.update(journal=m.group(1).strip(), year=m.group(2), volume=m.group(3) or "", issue=m.group(4) or "")
        got["pages"] = f"{m.group(5)}-{m.group(6)}" if m.group(6) else m.group(5)
    if m := _ARTICLE_NO.search(page):
        start, count = int(m.group(3)), int(m.group(4))
        got.setdefault("year", m.group(1))
        got.setdefault("issue", str(int(m.group(2))))
        if count:
            got.setdefault("pages", f"{start}-{start + count - 1}" if count > 1 else str(start))
    for ln in page.split("\n"):
        zh_issue, en_vol = _ISSUE_ZH.search(ln), _VOL_EN.search(ln)
        if zh_issue and (year := _YEAR_ZH.search(ln)):  # "刊名 2020年第3期", "2020年6月 第12卷第3期"
            got.setdefault("year", year.group(1))
            got.setdefault("issue", zh_issue.group(1))
            if vol := _VOL_ZH.search(ln):
                got.setdefault("volume", vol.group(1))
            name = ln[: year.start()].strip(" 《》<>·,，")
            if 2 <= len(name) <= 30 and _CJK.search(name) and "journal" not in got:
                got["journal"] = name
        elif en_vol and (year := _YEAR.search(ln)):  # "Journal of X, Vol. 12, No. 3, 2020"
            got.setdefault("year", year.group(1))
            got.setdefault("volume", en_vol.group(1))
            if iss := _ISSUE_EN.search(ln):
                got.setdefault("issue", iss.group(1))
    if "journal" not in got and (m := _HEAD_EN.search(page) or _CITE_AS_EN.search(page)):
        got["journal"] = m.group("j").strip()
        for key, value in (("year", m.group("y")), ("pages", re.sub(r"\s*[-–—]\s*", "-", m.group("p")))):
            got.setdefault(key, value)
        for key, names in (("volume", ("v", "v2")), ("issue", ("i", "i2"))):
            if value := next((m.group(n) for n in names if n in m.groupdict() and m.group(n)), ""):
                got.setdefault(key, value)
    if "journal" not in got and (m := _JOURNAL_EN.search(page)):
        got["journal"] = m.group(1).strip()
    if got.get("journal") or got.get("volume") or got.get("issue") or "中图分类号" in page:
        got["type"] = "article-journal"
    return Bib(**{k: v for k, v in got.items() if v}, source="text") if got else Bib()


def pdf_bib(data: bytes) -> Bib:
    """The PDF's own description: its information dictionary (title, author) and XMP packet (DOI,
    journal, volume, issue, pages, date); junk titles such as a word processor's file name are left out."""
    try:
        from pypdf import PdfReader

        with quiet():  # a damaged file's faults are pypdf's warnings on stderr; the metadata is optional
            reader = PdfReader(io.BytesIO(data))
            info: Any = reader.metadata or {}
            title = str(info.get("/Title") or "").strip()
            author = str(info.get("/Author") or "").strip()
            xmp = _xmp_text(reader)
    except Exception:  # pypdf raises many types on broken files; metadata is optional
        return Bib()
    got: dict[str, Any] = {}
    if title and len(title) >= 4 and not _BAD_TITLE.search(title) and not title.isdigit():
        got["title"] = " ".join(title.split())
    for tag, key in (
        ("doi", "doi"),
        ("publicationName", "journal"),
        ("volume", "volume"),
        ("number", "issue"),
    ):
        if m := re.search(rf"<prism:{tag}>\s*([^<]+?)\s*</prism:{tag}>|prism:{tag}=\"([^\"]+)\"", xmp):
            got[key] = (m.group(1) or m.group(2)).strip()
    if sp := re.search(r"<prism:startingPage>\s*(\d+)", xmp):
        ep = re.search(r"<prism:endingPage>\s*(\d+)", xmp)
        got["pages"] = f"{sp.group(1)}-{ep.group(1)}" if ep else sp.group(1)
    if d := re.search(r"<prism:(?:coverDate|publicationDate)>\s*((?:19|20)\d{2})", xmp):
        got["year"] = d.group(1)
    if "doi" in got:
        got["doi"] = clean_doi(got["doi"])
    authors = real_authors(tuple(parse_name(n) for n in split_names(author)))
    if "journal" in got:
        got["type"] = "article-journal"
    return Bib(**got, authors=authors, source="pdf") if got or authors else Bib()


def _xmp_text(reader) -> str:
    """The XMP packet of a PDF as text ('' when it has none)."""
    try:
        meta = reader.trailer["/Root"].get("/Metadata")
        return meta.get_object().get_data().decode("utf-8", "replace") if meta is not None else ""
    except Exception:
        return ""


def merge(*bibs: Bib) -> Bib:
    """One record from several, the first that knows a field giving it (sources in order of trust);
    ``source`` names the first source that gave anything, ``origin`` the source of each field."""
    out: dict = {}
    origin: list[tuple[str, str]] = []
    for b in bibs:
        for f in fields(Bib):
            v = getattr(b, f.name)
            if v and f.name not in out and f.name not in ("source", "origin"):
                out[f.name] = v
                origin.append((f.name, b.source))
            if f.name == "source" and v and "source" not in out and any(getattr(b, g.name) for g in fields(Bib)[:-2]):
                out["source"] = v
    return Bib(**out, origin=tuple(origin)) if out else Bib()


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


def confirmed(pdf: Bib, text: str) -> Bib:
    """The PDF's metadata with its title and authors kept only where the first pages print them (a
    title that is a file name, a DOI or another work's, a publisher named as author, are dropped)."""
    head = _squash(unicodedata.normalize("NFKC", "\f".join(text.split("\f")[:2])[: 4 * FIRST_PAGE]))
    title = pdf.title if len(_squash(pdf.title)) >= 8 and _squash(pdf.title) in head else ""
    if _BAD_TITLE.search(title):
        title = ""
    authors = pdf.authors
    if not all(_squash(p.family) in head and not _ORGANISATION.search(p.full()) for p in authors):
        authors = ()
    return replace(pdf, title=title, authors=authors)


def describe(doc: Document, text: str, pdf: Bib = Bib(), library: Bib = Bib(), layout: Bib = Bib()) -> Document:
    """The document with its bibliographic record, each field from the first of these that gives it: the
    library's record (a sidecar .bib/CSL-JSON or Zotero), the first page's layout (title in the largest
    type, the byline under it, a copyright or publication year), the PDF's metadata where the first pages
    print it (title, authors; DOI, journal, volume, pages, date from its XMP), the front matter of
    ``text`` (DOI, journal, volume, year lines), the title and authors the cleaner found. The title and
    authors shown in citations are the record's."""
    own = Bib(title=doc.title, authors=tuple(parse_name(a) for a in doc.authors), source="text")
    bib = merge(library, layout, confirmed(pdf, text), front_matter_bib(text), own)
    names = tuple(p.full() for p in library.authors or bib.authors)
    return replace(
        doc, bib=bib, library=library, title=library.title or bib.title or doc.title, authors=names or doc.authors
    )


def bio_authors(lines: Sequence[str]) -> tuple[str, ...]:
    """Authors from an '作者简介：NAME，...' line among a document's first 80 lines."""
    for t in lines[:80]:
        if m := re.match(r"^作者简介\s*[:：]\s*([^，,。\s]{2,4})", t):
            return (m.group(1),)
    return ()


def byline_names(t: str) -> tuple[str, ...]:
    """Author names from a byline (spaced-out Han names grouped at their widest gaps); none when a name
    is said twice or holds a bracket ("作者名, 作者名, 作者)": a template's placeholders)."""
    names = _byline_names(t)
    if len(set(names)) < len(names) or any(re.search(r"[()（）]", n) or not _namelike(n) for n in names):
        return ()
    return names


def _namelike(name: str) -> bool:
    """Whether a byline piece can be a name: it holds a letter and no measure ("2.45", "@", a number
    inside Han text): a line of prose or a figure's note under a page's longest line is no byline."""
    # a number after a name is an affiliation mark ("Li1"); one between Han characters is a measure
    return any(c.isalpha() for c in name) and not re.search(r"\d[.,:]\d|@|[\u3400-\u9fff]\d+[\u3400-\u9fff]", name)


def _byline_names(t: str) -> tuple[str, ...]:
    t = MARK_RE.sub("", t).strip().rstrip("*")
    if not any(is_cjk(c) for c in t):
        return tuple(n.strip() for n in re.split(r",|，|、| and ", t) if n.strip())
    if re.search(r"[A-Za-z]{2}", t):  # Chinese and Latin names mixed: a Latin name's words stay together
        return tuple(split_names(t))
    tokens = re.split(r"(\s+)", t)
    words, gaps = tokens[0::2], [len(g) for g in tokens[1::2]]
    if not gaps:
        return (t,)
    if all(len(w) >= 2 for w in words):
        return tuple(words)
    cut = (min(gaps) + max(gaps)) / 2
    names, cur = [], words[0]
    for w, g in zip(words[1:], gaps):
        if g > cut:
            names.append(cur)
            cur = w
        else:
            cur += w
    names.append(cur)
    return tuple(names)
