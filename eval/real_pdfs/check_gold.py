"""Check the real-PDF suite's gold against the PDFs themselves.

Every evidence quote of eval/real_pdfs/gold.jsonl must occur on the page it names, in the PDF's own text
(pypdfium2's text layer of that page; for an image-only page, RapidOCR's reading of it, done once per run
and cached nowhere). The comparison ignores whitespace and line-end hyphenation and is made after NFKC
plus a mapping of CJK radical code points to the ideographs they stand for, so a quote is written the way
a reader types it. Quotes stay under 40 characters; answerable questions need a page for every quote;
unanswerable ones carry none. Every title of titles.jsonl must be printed on its document's first page (or the page it names).

    python eval/real_pdfs/check_gold.py            # all checks; OCR for the scanned pages
    python eval/real_pdfs/check_gold.py --no-ocr   # text-layer pages only (scan quotes are skipped)

Exit status 1 when anything fails, with one line per problem.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAX_QUOTE = 40  # characters, as the repository's rules for gold quotes demand (strictly fewer)
MIN_TEXT_CHARS = 20  # a page with fewer non-space characters in its text layer is an image: OCR it
OCR_SCALE = 150 / 72  # render at 150 dpi, what rag's OCR uses

# CJK Radicals Supplement code points that NFKC leaves alone (Kangxi radicals U+2F00..U+2FD5 it maps
# itself); fonts of PDF producers emit them for the ideographs of the same shape
RADICALS = {
    "⺁": "厂", "⺇": "几", "⺊": "卜", "⺌": "小", "⺍": "小", "⺎": "兀", "⺐": "尢", "⺒": "巳",
    "⺓": "幺", "⺖": "忄", "⺘": "扌", "⺙": "攵", "⺛": "旡", "⺝": "月", "⺟": "母", "⺠": "民",
    "⺡": "氵", "⺢": "氺", "⺣": "灬", "⺤": "爫", "⺥": "爫", "⺦": "丬", "⺨": "犭", "⺩": "王",
    "⺪": "疋", "⺫": "目", "⺬": "示", "⺭": "礻", "⺮": "竹", "⺯": "糸", "⺰": "纟", "⺲": "罒",
    "⺶": "羊", "⺷": "羊", "⺹": "耂", "⺺": "肀", "⺻": "聿", "⺼": "月", "⺽": "臼", "⺾": "艹",
    "⺿": "艹", "⻀": "艹", "⻁": "虎", "⻂": "衤", "⻄": "西", "⻅": "见", "⻆": "角", "⻈": "讠",
    "⻉": "贝", "⻊": "足", "⻋": "车", "⻌": "辶", "⻍": "辶", "⻎": "辶", "⻏": "阝", "⻐": "钅",
    "⻑": "長", "⻒": "镸", "⻓": "长", "⻔": "门", "⻖": "阝", "⻗": "雨", "⻘": "青", "⻙": "韦",
    "⻚": "页", "⻛": "风", "⻜": "飞", "⻝": "食", "⻟": "飠", "⻠": "饣", "⻢": "马", "⻣": "骨",
    "⻤": "鬼", "⻥": "鱼", "⻦": "鸟", "⻧": "卤", "⻨": "麦", "⻩": "黄", "⻪": "黾", "⻫": "齐",
    "⻭": "齿", "⻯": "龙", "⻱": "龟", "⻳": "龟",
}  # fmt: skip
_RADICAL_TABLE = str.maketrans(RADICALS)
_BREAK_HYPHEN = re.compile(r"[-\u2010\u2011\ufffe\u00ad]\s*\n\s*")  # a word split at a line end
_INVISIBLE = re.compile(r"[\ufffe\u00ad\u200b\u200c\u200d\u2060\ufeff]")


def norm(text: str) -> str:
    """NFKC, CJK radicals mapped to ideographs, invisible marks and all whitespace removed, case folded."""
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text)).translate(_RADICAL_TABLE)
    return "".join(text.split()).casefold()


def page_forms(text: str) -> tuple[str, str]:
    """A page's text in the two forms a quote may match: as printed, and with line-end hyphens joined."""
    return norm(text), norm(_BREAK_HYPHEN.sub("", text))


def found(quote: str, page_text: str) -> bool:
    """Whether ``quote`` occurs in ``page_text`` (whitespace, hyphenation, case and radical insensitive)."""
    q = norm(quote)
    return bool(q) and any(q in form for form in page_forms(page_text))


@dataclass
class Pages:
    """The text of each page of the suite's PDFs, read once: the text layer, or OCR for image pages."""

    folder: Path
    ocr: bool = True
    _text: dict[str, list[str]] = field(default_factory=dict)
    _ocr_engine: object | None = None

    def count(self, doc: str) -> int:
        """The number of pages of ``doc``."""
        return len(self._load(doc))

    def text(self, doc: str, page: int) -> str | None:
        """The text of 1-based ``page`` of ``doc``; None for an image page when OCR is off."""
        pages = self._load(doc)
        t = pages[page - 1]
        if len("".join(t.split())) >= MIN_TEXT_CHARS:
            return t
        if not self.ocr:
            return None
        t = self._read_image(doc, page)
        pages[page - 1] = t + " " * MIN_TEXT_CHARS  # read once: the padding keeps it from being OCR'd again
        return t

    def is_image(self, doc: str, page: int) -> bool:
        """Whether the page has (almost) no text layer."""
        return len("".join(self._load(doc)[page - 1].split())) < MIN_TEXT_CHARS

    def _load(self, doc: str) -> list[str]:
        if doc not in self._text:
            import pypdfium2 as pdfium

            pdf = pdfium.PdfDocument(str(self.folder / doc))
            try:
                self._text[doc] = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
            finally:
                pdf.close()
        return self._text[doc]

    def _read_image(self, doc: str, page: int) -> str:
        import pypdfium2 as pdfium

        if self._ocr_engine is None:
            from rapidocr_onnxruntime import RapidOCR

            self._ocr_engine = RapidOCR()
        pdf = pdfium.PdfDocument(str(self.folder / doc))
        try:
            image = pdf[page - 1].render(scale=OCR_SCALE).to_numpy()
        finally:
            pdf.close()
        result, _ = self._ocr_engine(image)  # type: ignore[operator]
        return "\n".join(line[1] for line in result or [])


@dataclass(frozen=True)
class Report:
    """What the check found: problems (each one line), quotes checked, and quotes skipped (image pages)."""

    problems: list[str]
    checked: int
    skipped: int
    questions: int


def check(
    gold: Path = HERE / "gold.jsonl",
    titles: Path = HERE / "titles.jsonl",
    folder: Path = HERE / "corpus",
    ocr: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Every rule of the module docstring checked; the problems found, one line each."""
    pages = Pages(folder, ocr=ocr)
    problems: list[str] = []
    checked = skipped = 0
    rows = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        qid = row.get("id", "?")
        evidence = row.get("evidence") or []
        if not row.get("answerable", True):
            if evidence:
                problems.append(f"{qid}: an unanswerable question carries evidence")
            continue
        if not evidence:
            problems.append(f"{qid}: an answerable question without evidence")
        for ev in evidence:
            doc, quote, page = ev.get("doc", ""), ev.get("quote", ""), ev.get("page")
            where = f"{qid} {doc} p{page}"
            if len(quote) >= MAX_QUOTE:
                problems.append(f"{where}: quote has {len(quote)} characters (must be under {MAX_QUOTE})")
            if not (folder / doc).is_file():
                problems.append(f"{where}: no such PDF in {folder}")
                continue
            if not isinstance(page, int) or not 1 <= page <= pages.count(doc):
                problems.append(f"{where}: page must be 1..{pages.count(doc)}")
                continue
            if progress and pages.is_image(doc, page) and ocr:
                progress(f"OCR {doc} page {page}")
            text = pages.text(doc, page)
            if text is None:
                skipped += 1
                continue
            checked += 1
            if not found(quote, text):
                elsewhere = [p for p in range(1, pages.count(doc) + 1) if not pages.is_image(doc, p)]
                hits = [p for p in elsewhere if found(quote, pages.text(doc, p) or "")]
                hint = f" (found on page {', '.join(map(str, hits))})" if hits else ""
                problems.append(f"{where}: quote {quote!r} not on that page{hint}")
    for line in titles.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        t = json.loads(line)
        doc, title = t.get("doc", ""), t.get("title", "")
        if not (folder / doc).is_file():
            problems.append(f"title {doc}: no such PDF")
            continue
        page = int(t.get("page", 1))
        printed = pages.text(doc, page)
        if printed is None:
            continue
        if not found(title, printed):
            problems.append(f"title {doc}: {title!r} not printed on page {page}")
    return Report(problems, checked, skipped, len(rows))


def main(argv: list[str] | None = None) -> int:
    """Command line: print the problems and a summary; exit 1 if there were any."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-ocr", action="store_true", help="skip quotes on image-only pages")
    args = ap.parse_args(argv)
    report = check(ocr=not args.no_ocr, progress=lambda m: print(m, file=sys.stderr))
    for p in report.problems:
        print(p)
    print(
        f"{report.questions} questions; {report.checked} quotes found on their pages"
        + (f", {report.skipped} on image pages skipped" if report.skipped else "")
        + (f"; {len(report.problems)} problem(s)" if report.problems else "; gold OK")
    )
    return 1 if report.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
