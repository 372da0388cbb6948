"""One reference string -> fields: authors, year, title, venue, volume, issue, pages, DOI, arXiv id, URL.

Rule-based, for the styles scholars' papers use: GB/T 7714 ("作者. 题名[J]. 刊名, 2020, 3(4): 1-9."),
Chinese footnote style ("作者：《题名》，《刊名》2012年第3期，第1—9页。"), APA ("Author, A. (2020). Title.
Journal, 3(4), 1–9."), IEEE ('A. Author, "Title," Journal, vol. 3, no. 4, pp. 1–9, 2020.'), ACM
("Author. 2020. Title. Journal 3, 4 (2020), 1–9.") and Chicago notes ("Author, *Title*, Place: Publisher,
2010, pp. 1-9."). The identifiers (DOI, arXiv, URL) are found first and cut out, the style is told by
its marks, then each style's fields are read in order.
"""

from __future__ import annotations

import re

from rag.ingest.references.record import Reference, person

__all__ = ["DOI_RE", "URL_RE", "YEAR", "Reference", "parse_reference", "person", "split_label"]

DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>，。；]+)", re.I)
ARXIV_RE = re.compile(r"\barXiv\s*[:：]?\s*(\d{4}\.\d{4,5})(v\d+)?", re.I)
URL_RE = re.compile(r"<?(https?://[^\s<>，。；]+)>?")
YEAR = r"(?:19|20)\d{2}"
_YEAR_RE = re.compile(rf"(?<!\d)({YEAR})[a-z]?(?!\d)")
_GBT_TYPE = re.compile(r"\[(J|M|C|D|R|N|P|S|G|Z|A|DB|CP|EB|J/OL|M/OL|C/OL|EB/OL|DB/OL|N/OL|R/OL|D/OL)\]")
_GBT_KIND = {"J": "article-journal", "M": "book", "C": "paper-conference", "D": "thesis", "R": "report"}
_GBT_KIND.update({"N": "article-newspaper", "EB": "webpage", "P": "patent", "S": "standard"})
_DASH = "-–—~～－−"
_PAGES_RE = re.compile(rf"(?:pp?\.\s*|第\s*)?(\d+(?:\s*[{_DASH}]+\s*\d+)?)\s*页?")
_LABEL_RE = re.compile(r"^\s*(?:[\[［]\s*(\d{1,4})\s*[\]］]|(\d{1,4})\s*[.．、)](?!\d)|[(（](\d{1,4})[)）])\s*")


def split_label(raw: str) -> tuple[str, str]:
    """("12", text) from "[12] text", "12. text", "(12) text" or "⑫ text"; ("", text) when unnumbered."""
    raw = raw.lstrip()
    if raw[:1] and "\u2460" <= raw[0] <= "\u2473":
        return str(ord(raw[0]) - 0x245F), raw[1:].lstrip()
    m = _LABEL_RE.match(raw)
    if m and not re.match(rf"\s*{YEAR}\b", raw):
        return next(g for g in m.groups() if g), raw[m.end() :]
    return "", raw


def _clean(s: str) -> str:
    return s.strip(" \t,，.．;；:：/")


def _identifiers(text: str) -> tuple[str, dict[str, str]]:
    """Cut DOI, arXiv id and URL out of the text (a doi.org URL counts as the DOI)."""
    ids: dict[str, str] = {}
    m = URL_RE.search(text)
    if m:
        url = m.group(1).rstrip(".,)]")
        d = DOI_RE.search(url)
        if d and "doi" in url.lower():
            ids["doi"] = d.group(1).rstrip(".,)]")
        else:
            ids["url"] = url
        text = text[: m.start()] + text[m.end() :]
    m = re.search(r"(?:\bdoi\s*[:：]?\s*|\bDOI\s*[:：]?\s*)?" + DOI_RE.pattern, text, re.I)
    if m:
        ids.setdefault("doi", m.group(1).rstrip(".,)]"))
        # every DOI is cut out (a translated title may repeat it), so no part of one is read as pages
        text = re.sub(r"(?:\bdoi\s*[:：]?\s*)?" + DOI_RE.pattern, "", text, flags=re.I)
    m = ARXIV_RE.search(text)
    if m:
        ids["arxiv"] = m.group(1)
        text = text[: m.start()] + text[m.end() :]
    text = re.sub(r"\[(?:\d{4}-\d{1,2}-\d{1,2}|[^\]]*\d{4}[^\]]*)\]\s*[。.]?\s*$", "", text.strip())  # [2025-03-19]
    text = re.sub(r"(Available|Retrieved|Accessed|访问日期)[^.]*$", "", text.strip(), flags=re.I)
    return text.strip(), ids


def _split_authors(s: str) -> tuple[str, ...]:
    """Author names from a list: "A, B, and C", "A; B", "王某, 李某, 等", "Smith, J., & Lee, K."."""
    s = re.sub(r"[^,，:：]*译\s*$|[,，][^,，]*译(?=[,，]|$)", "", s.strip(" ,，:："))  # translators are not authors
    s = re.sub(r"\b(et al\.?|等|eds?\.|\(eds?\.\))|编著|主编|著|编", "", s).strip(" ,，;；:：/")
    if s.endswith(".") and not re.search(r"(?:^|[\s.\-])[A-Z]\.$", s):
        s = s[:-1]  # a full stop ends the list, unless it closes an initial
    s = re.sub(r"^\[[^\]]{1,4}\]\s*|^[(（][^)）]{1,4}[)）]\s*", "", s)  # nationality: [美]
    if not s:
        return ()
    s = re.sub(r",?\s*(?:&|\band\b)\s*", ", ", s)
    if re.search(r"[\u3400-\u9fff]", s):
        return tuple(n for n in (_clean(x) for x in re.split(r"[,，、;；]", s)) if n)
    parts = [p.strip() for p in re.split(r"[;；]|,\s*", s) if p.strip()]
    # "Smith, J. A." comes in pairs: a family name, then initials
    if len(parts) >= 2 and all(re.fullmatch(r"(?:[A-Z]\.\s*-?\s*|[A-Z]\b\s*)+", p) for p in parts[1::2]):
        return tuple(f"{a}, {b}" for a, b in zip(parts[0::2], parts[1::2]))
    return tuple(parts)


def parse_reference(raw: str, n: str = "") -> Reference:
    """Parse one reference string (a leading number is taken as its label when ``n`` is not given)."""
    raw = " ".join(raw.split())
    label, text = split_label(raw)
    n = n or label
    text, ids = _identifiers(text)
    if _GBT_TYPE.search(text):
        f = _gbt(text)
    elif "《" in text:
        f = _chinese_note(text)
    elif re.search(rf"\(({YEAR}[a-z]?|n\.d\.)[^)]*\)\s*[.,]", text):
        f = _apa(text)
    elif re.search(r"[“\"]\s*[^“”\"]{6,}?[,，]?\s*[”\"]", text):
        f = _quoted(text)
    elif re.search(rf"\.\s*({YEAR})[a-z]?\.\s", text):
        f = _acm(text)
    else:
        f = _chicago(text)
    f.update({k: v for k, v in ids.items() if v})
    if not f.get("year"):
        years = _YEAR_RE.findall(text)
        f["year"] = years[-1] if years else ""
    f = {k: (_clean(v) if isinstance(v, str) and k not in ("doi", "url") else v) for k, v in f.items()}
    if f.get("title"):
        f["title"] = _clean(f["title"].strip("“”\"'‘’ ").rstrip(".,"))
    if f.get("venue"):
        f["venue"] = re.sub(r"^(?:In|in)\s*:?\s+(?=[A-Z\u3400-\u9fff])", "", f["venue"])
    if f.get("venue") and re.search(r"\b[A-Z][a-z]{0,4}$", f["venue"]) and re.search(r"\b[A-Z][a-z]{0,4}\.", text):
        f["venue"] += "."  # an abbreviated journal name keeps its last full stop ("Phys. Rev.")
    ref = Reference(raw=raw, n=n, **f)
    return _with_key(ref)


def _with_key(ref: Reference) -> Reference:
    if ref.authors and ref.year:
        first = person(ref.authors[0])
        return Reference(**{**ref.__dict__, "key": f"{first.family} {ref.year}"})
    return ref


def _tail(text: str, f: dict) -> None:
    """Volume, issue, pages, year from a tail like "2020, 35(4): 12-20", "vol. 3, no. 4, pp. 1-9",
    "33(4), 1–9", "2012年第3期，第107—121页"."""
    m = re.search(r"\bvol(?:ume)?\.?\s*(\w[\w-]*)", text, re.I)
    if m:
        f["volume"] = m.group(1)
    m = re.search(r"\b(?:no|issue)\.?\s*(\w+)", text, re.I)
    if m:
        f["issue"] = m.group(1)
    m = re.search(r"(?<![\d.])(\d{1,4})\s*[(（]\s*([\w\-–/]+)\s*[)）]", text)
    if m and not f.get("volume") and not re.fullmatch(YEAR, m.group(1) + ""):
        f["volume"], f["issue"] = m.group(1), m.group(2)
    elif m and not f.get("issue"):
        f["issue"] = m.group(2)  # "2012(3)": the year, then the issue
    m = re.search(r"第\s*(\d+)\s*[期卷]", text)
    if m and not f.get("issue"):
        f["issue"] = m.group(1)
    candidates = [
        mm.group(1)
        for mm in re.finditer(
            rf"(?:^\s*|pp?\.\s*|第\s*|[:：]\s*|,\s*)(\d+(?:\s*[{_DASH}]+\s*\d+)?)(?=\s*(?:页|$|[.,;，。(]))", text
        )
    ]
    candidates = [c for c in candidates if not re.fullmatch(YEAR, c) or re.search(rf"[{_DASH}]", c)]
    m = re.search(rf"第\s*(\d+(?:\s*[{_DASH}]+\s*\d+)?)\s*页", text) or re.search(
        rf"\b(?:pp?\.|pages)\s*(\d+(?:\s*[{_DASH}]+\s*\d+)?)", text
    )
    if m:
        f["pages"] = m.group(1)
    elif candidates:
        ranged = [c for c in candidates if re.search(rf"[{_DASH}]", c)]
        f["pages"] = (ranged or candidates)[-1]
    if f.get("pages"):
        f["pages"] = re.sub(rf"\s*[{_DASH}]+\s*", "-", f["pages"])
        if f["pages"] in (f.get("volume"), f.get("issue")):
            f["pages"] = ""
    years = _YEAR_RE.findall(text)
    if years and not f.get("year"):
        f["year"] = years[0]


def _gbt(text: str) -> dict:
    """GB/T 7714: 'A, B. Title[J]. Journal, 2020, 35(4): 12-20.' / 'A. Title[M]. Place: Publisher, 2000: 29.'"""
    f: dict = {}
    m = _GBT_TYPE.search(text)
    assert m
    code = m.group(1).split("/")[0]
    f["type"] = _GBT_KIND.get(code, "")
    head, tail = text[: m.start()], text[m.end() :]
    # authors end at the first ". " (or a full stop before Han text), unless the "name" is long prose
    a = re.search(r"[.．](?![\d.])\s*", head)  # GB/T 7714 initials carry no full stop: the first one ends the names
    if a and a.start() < 200:
        f["authors"] = _split_authors(head[: a.start()])
        f["title"] = head[a.end() :]
    else:
        f["title"] = head
    tail = tail.lstrip(".．")
    if tail.startswith("//"):  # a chapter or conference paper: "//Proceedings. Place: Publisher, 2020: 1-9"
        tail = tail[2:]
    parts = [p.strip() for p in re.split(r"(?<=[^A-Z\s])[.．]\s+|(?<=[\u3400-\u9fff])[.．]", tail) if p.strip()]
    src = tail
    if code in ("M", "D", "R", "S") or re.match(r"^[^,，]{1,30}[:：]", tail.strip()):
        pm = re.match(r"^\s*([^:：,，]{1,40})[:：]\s*([^,，]+)[,，]\s*(.*)$", tail)
        if pm:
            f["place"], f["publisher"] = pm.group(1), pm.group(2)
            src = pm.group(3)
        elif parts:
            f["venue"] = parts[0] if code not in ("M", "D", "R") else ""
    else:
        vm = re.match(r"^\s*(.+?)[,，]\s*(" + YEAR + r")", tail)
        if vm:
            f["venue"], src = vm.group(1), tail[vm.start(2) :]
            f["year"] = vm.group(2)
        elif parts:
            f["venue"] = re.split(r"[,，]", parts[0])[0]
    if code == "C" and not f.get("venue") and parts:
        f["venue"] = parts[0]
    _tail(src, f)
    return f


def _chinese_note(text: str) -> dict:
    """'作者：《题名》，《刊名》2012年第3期，第107—121页。' / '作者编:《书名》,出版社2021年版,第156页。'"""
    f: dict = {}
    m = re.search(r"《([^》]+)》", text)
    assert m
    head = re.sub(r"^(参见|详见|见|转引自|引自|See|see)\s*", "", text[: m.start()])
    f["authors"] = _split_authors(head)
    f["title"] = m.group(1)
    rest = text[m.end() :]
    v = re.search(r"《([^》]+)》", rest)
    if v:
        f["venue"] = v.group(1)
        rest = rest[v.end() :]
        f["type"] = "article-newspaper" if re.search(r"\d+\s*年\s*\d+\s*月\s*\d+\s*日", rest) else "article-journal"
    else:
        pm = re.search(
            r"(?:[,，]\s*)(?:([^,，:：]{2,8})\s*[:：]\s*)?([^,，:：]{2,30}?(?:出版社|书局|书店|出版公司|Press))", rest
        )
        if pm:
            f["place"], f["publisher"] = pm.group(1) or "", pm.group(2)
            f["type"] = "book"
    y = re.search(rf"({YEAR})\s*年", rest) or _YEAR_RE.search(rest)
    if y:
        f["year"] = y.group(1)
    _tail(rest, f)
    return f


def _quoted(text: str) -> dict:
    """IEEE / Chicago notes: 'A. Author and B. Author, "Title," Journal, vol. 3, no. 4, pp. 1–9, 2020.'"""
    f: dict = {}
    m = re.search(r"[“\"]\s*([^“”\"]{6,}?)[,，]?\s*[”\"]", text)
    assert m
    f["authors"] = _split_authors(text[: m.start()])
    f["title"] = m.group(1)
    rest = text[m.end() :].lstrip(" ,.")
    rest = re.sub(r"^in\b\s*:?\s*", "", rest, flags=re.I)
    v = re.match(r"^\s*\*?([^,*]+?)\*?\s*(?:,|$)", rest)
    if v and not re.match(r"^(vol|no|pp)\b", v.group(1), re.I):
        f["venue"] = v.group(1)
    _tail(rest, f)
    return f


_VNAME = r"[A-Z][\w'’\-]+(?:\s+[A-Z]{1,3}){1,3}"
_ABBREV = {"ed", "eds", "vol", "no", "pp", "vs", "al", "st", "dr", "inc", "jr", "2nd", "3rd", "rev", "proc"}


def _sentence(text: str) -> tuple[str, str]:
    """The first sentence of ``text`` (a title) and the rest: ends at ". ", "? " or "! " outside
    parentheses and quotes, not after an initial or a common abbreviation."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([“":
            depth += 1
        elif ch in ")]”" and depth:
            depth -= 1
            if (
                ch == "”"
                and not depth
                and text[i - 1 : i] in (".", ",", "?", "!")
                and not text[i + 1 : i + 2].islower()
            ):
                return text[: i + 1].strip("* "), text[i + 1 :].strip()  # '“Title.” Venue': the quote ends it
        elif ch in ".?!" and not depth and (i + 1 == len(text) or text[i + 1] == " "):
            word = re.search(r"(\S+)$", text[:i])
            w = word.group(1) if word else ""
            if ch == "." and (re.fullmatch(r"[A-Z]", w) or w.lower() in _ABBREV):
                continue
            return text[:i].strip("* "), text[i + 1 :].strip()
    return text.strip("* "), ""


def _apa(text: str) -> dict:
    """APA: 'Author, A. A., & Author, B. (2020). Title. Journal, 33(4), 9459–9474.'"""
    f: dict = {}
    m = re.search(rf"\(({YEAR})[a-z]?[^)]*\)\s*[.,]", text) or re.search(r"\((n\.d\.)\)\s*[.,]", text)
    assert m
    f["authors"] = _split_authors(text[: m.start()])
    f["year"] = m.group(1) if m.group(1) != "n.d." else ""
    f["title"], rest = _sentence(text[m.end() :].strip())
    rest = re.sub(r"^In\s+", "", rest)
    v = re.match(r"^\*?([^,*(]+?)\*?(?:,|\.|\s*\(|$)", rest)
    if v and rest:
        f["venue"] = v.group(1)
        rest = rest[v.end() :]
    _tail(rest, f)
    return f


def _acm(text: str) -> dict:
    """ACM: 'Author and Author. 2007. Title. Commun. ACM 50, 1 (Jan. 2007), 36–44.'"""
    f: dict = {}
    m = re.search(rf"\.\s*({YEAR})[a-z]?\.\s", text)
    assert m
    f["authors"] = _split_authors(text[: m.start()])
    f["year"] = m.group(1)
    f["title"], rest = _sentence(text[m.end() :])
    rest = re.sub(r"^In\s+", "", rest)
    vi = re.search(r"\s(\d+)\s*,\s*(\d+)\s*[,(]", rest)  # "Commun. ACM 50, 1 (Jan. 2007)"
    if vi:
        f["venue"], f["volume"], f["issue"] = rest[: vi.start()], vi.group(1), vi.group(2)
        rest = rest[vi.end() :]
    elif rest:
        f["venue"], rest = _sentence(rest)
    _tail(rest, f)
    return f


def _chicago(text: str) -> dict:
    """Notes with an italic title ('Author, *Title*, Place: Publisher, 2010, pp. 1-9.') or plain
    'Author, Title, Journal ...' / 'Author. Title. Journal ...' as a last resort."""
    f: dict = {}
    m = re.search(r"\*([^*]{3,})\*", text)
    if m:
        f["authors"] = _split_authors(text[: m.start()])
        f["title"] = m.group(1)
        rest = text[m.end() :]
        pm = re.match(r"^\s*[,，]\s*([^,:]{2,30}):\s*([^,]+),", rest)
        if pm:
            f["place"], f["publisher"] = pm.group(1), pm.group(2)
            f["type"] = "book"
    else:
        # Vancouver names ("Wang X S, Gu Y, Chen C L P.") end at the first full stop after their initials
        v = re.match(rf"^((?:{_VNAME}\s*,\s*)*{_VNAME}(?:\s*,?\s*et al)?)\s*\.\s+", text)
        if v and re.match(r"[A-Z][\w'’\-]+\s*,", text[v.end() :]):
            v = None  # "Andrea C. Arpaci-Dusseau, Remzi H. ...": given names first, the family name after the initial
        head, rest = (v.group(1), text[v.end() :]) if v else _sentence(text)
        if rest:
            f["authors"] = _split_authors(head)
            f["title"], rest = _sentence(rest)
            if rest:
                f["venue"] = re.split(r"[,(]", _sentence(rest)[0])[0]
        else:
            f["title"] = text
    _tail(rest, f)
    return f
