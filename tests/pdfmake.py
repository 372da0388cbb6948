"""Real PDFs for the tests, drawn with reportlab and Debian's WenQuanYi Micro Hei font: one or two
columns, running headers and page-number footers, footnotes at the page bottom; and scanned PDFs made
by rasterising pages and wrapping the images as a PDF. Every drawn character's page is recorded, so a
test can ask on which pages a piece of text was placed."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
W, H = 595.0, 842.0  # A4 in points
MARGIN = 60.0
GUTTER = 24.0


def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "WQY" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("WQY", str(FONT_PATH), subfontIndex=0))
    return "WQY"


def nfkc(s: str) -> str:
    """Compatibility forms folded, character for character (the cleaner's NFKC, without changing lengths)."""
    return "".join(n if len(n := unicodedata.normalize("NFKC", ch)) == 1 else ch for ch in s)


def _is_circled(ch: str) -> bool:
    return "\u2460" <= ch <= "\u24ff" or "\u2776" <= ch <= "\u2793" or "\u3251" <= ch <= "\u32bf"


@dataclass
class Placed:
    """The text drawn, in reading order, and the page (from 1) of each of its characters."""

    text: str = ""
    pages: list[int] = field(default_factory=list)
    # (length of text folded, page of each kept character, the kept characters): folding is most of a
    # look-up's time, and a test looks up many snippets in one drawn text
    _folded: tuple[int, list[int], str] | None = field(default=None, repr=False, compare=False)

    def add(self, s: str, page: int) -> None:
        self.text += s
        self.pages += [page] * len(s)

    def _fold(self) -> tuple[list[int], str]:
        if self._folded is None or self._folded[0] != len(self.text):
            t = self.text
            circled = [_is_circled(ch) for ch in t] + [False]
            keep = [
                (i, nfkc(ch))
                for i, ch in enumerate(t)
                if not ch.isspace() and not circled[i] and not (ch == "^" and circled[i + 1])
            ]
            self._folded = (len(t), [self.pages[i] for i, _ in keep], "".join(ch for _, ch in keep))
        return self._folded[1], self._folded[2]

    def all_pages_of(self, snippet: str) -> list[tuple[int, int]]:
        """First and last page of every place ``snippet`` was drawn (spaces, line breaks and footnote
        circles ignored, compatibility forms folded as the cleaner folds them)."""
        pages, flat = self._fold()
        target = "".join(nfkc(snippet).split())
        out, at = [], flat.find(target)
        while at >= 0 and target:
            out.append((pages[at], pages[at + len(target) - 1]))
            at = flat.find(target, at + 1)
        return out

    def pages_of(self, snippet: str) -> tuple[int, int]:
        """First and last page of the first place ``snippet`` was drawn."""
        found = self.all_pages_of(snippet)
        if not found:
            raise ValueError(f"not drawn: {snippet[:40]}")
        return found[0]


def wrap(text: str, width: float, size: float) -> list[str]:
    """Break a paragraph into lines no wider than ``width``: between any two Han characters, at spaces
    between words (a word longer than a line is cut)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    font = _font()
    tokens: list[str] = []
    word = ""
    for ch in text:
        if ord(ch) > 0x2E80 or ch == " ":
            if word:
                tokens.append(word)
                word = ""
            tokens.append(ch)
        else:
            word += ch
    if word:
        tokens.append(word)
    lines, cur = [], ""
    for tok in tokens:
        if stringWidth(cur + tok, font, size) <= width:
            cur += tok
            continue
        if cur.strip():
            lines.append(cur.rstrip())
        cur = "" if tok == " " else tok
        while stringWidth(cur, font, size) > width:  # a word wider than the line
            k = len(cur)
            while k > 1 and stringWidth(cur[:k], font, size) > width:
                k -= 1
            lines.append(cur[:k])
            cur = cur[k:]
    if cur.strip():
        lines.append(cur.rstrip())
    return lines


@dataclass
class Page:
    """One page's content: body lines per column (None is an empty line) and footnote lines."""

    columns: list[list[str | None]]
    notes: list[str] = field(default_factory=list)


def layout(
    paragraphs: list[str | None],
    columns: int = 1,
    size: float = 9.0,
    leading: float = 13.0,
    notes: dict[int, list[str]] | None = None,
    note_size: float = 7.5,
) -> list[Page]:
    """Flow paragraphs (None: an empty line) into pages of ``columns`` columns; ``notes`` maps a
    paragraph's index to footnote texts printed at the bottom of the page where that paragraph starts."""
    col_w = (W - 2 * MARGIN - (columns - 1) * GUTTER) / columns
    top, bottom = H - MARGIN - 20, MARGIN + 10
    notes = notes or {}
    pages: list[Page] = []
    page = Page([[] for _ in range(columns)])
    col, y = 0, top
    note_h = 0.0

    def new_page() -> None:
        nonlocal page, col, y, note_h
        pages.append(page)
        page = Page([[] for _ in range(columns)])
        col, y, note_h = 0, top, 0.0

    for i, para in enumerate(paragraphs):
        lines: list[str | None] = [None] if para is None else list(wrap(para, col_w, size)) or [None]
        for j, line in enumerate(lines):
            if j == 0 and i in notes:
                note_lines = [ln for n in notes[i] for ln in wrap(n, W - 2 * MARGIN, note_size)]
                need = len(note_lines) * (note_size + 3) + 8
                if y - leading < bottom + note_h + need:
                    if col + 1 < columns:
                        col, y = col + 1, top
                    else:
                        new_page()
                page.notes += note_lines
                note_h += need
            if y - leading < bottom + note_h:
                if col + 1 < columns:
                    col, y = col + 1, top
                else:
                    new_page()
            page.columns[col].append(line)
            y -= leading
    pages.append(page)
    return pages


def draw(
    pages: list[Page],
    header: str = "",
    size: float = 9.0,
    leading: float = 13.0,
    note_size: float = 7.5,
    footer_numbers: bool = True,
    first_page: int = 1,
) -> tuple[bytes, Placed]:
    """The PDF of laid-out pages (running header and page-number footer on every page), and the text
    placed on each page in reading order (headers and footers left out)."""
    from reportlab.pdfgen import canvas

    font = _font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(W, H))
    placed = Placed()
    notes: list[tuple[str, int]] = []  # footnotes placed after the body text, so the body reads on across pages
    ncols = len(pages[0].columns) if pages else 1
    col_w = (W - 2 * MARGIN - (ncols - 1) * GUTTER) / ncols
    for p, page in enumerate(pages, start=1):
        if header:
            c.setFont(font, 8)
            c.drawString(MARGIN, H - MARGIN + 12, header)
        if footer_numbers:
            c.setFont(font, 8)
            c.drawCentredString(W / 2, MARGIN - 20, str(p + first_page - 1))
        c.setFont(font, size)
        for k, lines in enumerate(page.columns):
            x, y = MARGIN + k * (col_w + GUTTER), H - MARGIN - 20
            for line in lines:
                if line:
                    c.drawString(x, y, line)
                    placed.add(line, p)
                placed.add("\n", p)
                y -= leading
        if page.notes:
            c.setFont(font, note_size)
            y = MARGIN + 10 + len(page.notes) * (note_size + 3)
            c.line(MARGIN, y + 6, MARGIN + 150, y + 6)
            for line in page.notes:
                c.drawString(MARGIN, y - note_size, line)
                notes.append((line + "\n", p))
                y -= note_size + 3
        c.showPage()
    c.save()
    for line, p in notes:
        placed.add(line, p)
    return buf.getvalue(), placed


def text_pdf(text: str, columns: int = 1, header: str = "", size: float = 9.0) -> tuple[bytes, Placed]:
    """A PDF of a plain-text file: each line drawn as its own line (wrapped when too wide), an empty
    line left empty."""
    paragraphs: list[str | None] = [ln if ln.strip() else None for ln in text.split("\n")]
    while paragraphs and paragraphs[-1] is None:
        paragraphs.pop()
    return draw(layout(paragraphs, columns=columns, size=size), header=header, size=size)


def scanned(pdf: bytes, dpi: int = 150) -> bytes:
    """The same pages as images only (no text layer), as a scanner would make them."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    images = [doc[i].render(scale=dpi / 72).to_pil().convert("L") for i in range(len(doc))]
    doc.close()
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return out.getvalue()
