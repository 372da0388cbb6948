"""Layout-aware PDF reading on real PDFs drawn with reportlab: two columns under a full-width title and
abstract, a running banner whose page number changes in letters (roman numerals), a table, words placed
one by one without space characters, a hyphenated line end, CJK radicals in the text layer."""

from __future__ import annotations

from pathlib import Path

import pytest
from pdfmake import FONT_PATH, _font
from reportlab.pdfgen import canvas

from rag.ingest.cleaning import clean_document
from rag.ingest.loading import SourceFile, read_source
from rag.ingest.pdf import read_pdf
from rag.lang.normalize import fold_radicals, normalize

W, H = 595.0, 842.0
LEFT, RIGHT = 60.0, 310.0  # x of the two columns, 225 points wide
ROMAN = ["i", "ii", "iii", "iv"]
ORDINAL = ["first", "second", "third", "fourth"]  # body lines of pages differ in words, not only in numbers


def _left(page: int, i: int) -> str:
    return f"Left line {i} of the {ORDINAL[page - 1]} page: dried at {20 + i} degrees"


def _right(page: int, i: int) -> str:
    return f"Right line {i} of the {ORDINAL[page - 1]} page: yield {40 + i} grams"


def _two_column_paper(path: Path, pages: int = 4, lines: int = 18) -> None:
    c = canvas.Canvas(str(path), pagesize=(W, H))
    for p in range(1, pages + 1):
        c.setFont("Helvetica", 8)
        c.drawString(LEFT, H - 30, f"Annals of Layout Studies, volume three, page {ROMAN[p - 1]}")
        top = H - 80
        if p == 1:
            c.setFont("Helvetica-Bold", 18)
            c.drawString(LEFT, top, "Reading Order in Two Column Papers")
            c.setFont("Helvetica", 10)
            c.drawString(LEFT, top - 24, "Ada Example and Bo Sample")
            c.drawString(LEFT, top - 48, "Abstract: a full-width abstract runs across both columns of the first page.")
            top -= 80
        c.setFont("Helvetica", 9)
        for i in range(lines):
            y = top - 12 * i
            c.drawString(LEFT, y, _left(p, i))
            c.drawString(RIGHT, y, _right(p, i))
        c.showPage()
    c.save()


def test_two_columns_read_left_then_right_under_a_full_width_title(tmp_path):
    path = tmp_path / "two.pdf"
    _two_column_paper(path)
    pages = read_pdf(path.read_bytes())
    first = [ln for ln in pages[0].lines if ln]
    assert first[:3] == [
        "Reading Order in Two Column Papers",
        "Ada Example and Bo Sample",
        "Abstract: a full-width abstract runs across both columns of the first page.",
    ]
    assert first[3:] == [_left(1, i) for i in range(18)] + [_right(1, i) for i in range(18)]
    for p in pages[1:]:
        assert [ln for ln in p.lines if ln] == [_left(p.number, i) for i in range(18)] + [
            _right(p.number, i) for i in range(18)
        ]


def test_banner_with_a_changing_page_number_is_removed_and_counted(tmp_path):
    path = tmp_path / "two.pdf"
    _two_column_paper(path)
    pages = read_pdf(path.read_bytes())
    assert not any("Annals of Layout Studies" in ln for p in pages for ln in p.lines)
    assert [p.furniture for p in pages] == [(f"Annals of Layout Studies, volume three, page {r}",) for r in ROMAN]
    src = read_source(path, "two.pdf")
    assert src.furniture == (4, sum(len(f"Annals of Layout Studies, volume three, page {r}") for r in ROMAN))
    doc = clean_document(src)
    assert doc.furniture_lines == 4 and doc.dropped_chars >= src.furniture[1]


def test_a_banner_on_two_pages_of_four_is_kept(tmp_path):
    """Repetition must be real: a line on 1 of 4 pages (the title page's journal line) stays."""
    path = tmp_path / "one.pdf"
    c = canvas.Canvas(str(path), pagesize=(W, H))
    for p in range(4):
        if p == 0:
            c.setFont("Helvetica", 8)
            c.drawString(LEFT, H - 30, "Received in revised form on the first page only")
        c.setFont("Helvetica", 10)
        c.drawString(LEFT, H - 100, f"Body text of page {p + 1} stands here as one sentence.")
        c.showPage()
    c.save()
    pages = read_pdf(path.read_bytes())
    assert pages[0].lines[0] == "Received in revised form on the first page only"
    assert all(p.furniture == () for p in pages)


def test_table_rows_stay_on_their_row(tmp_path):
    path = tmp_path / "table.pdf"
    c = canvas.Canvas(str(path), pagesize=(W, H))
    c.setFont("Helvetica", 10)
    c.drawString(LEFT, 760, "Table 2: Yield by site and season.")
    rows = [("Site", "Spring", "Autumn"), ("North field", "41.5", "38.2"), ("River bank", "27.0", "30.9")]
    for r, cells in enumerate(rows):
        for x, cell in zip((LEFT, 260, 380), cells):
            c.drawString(x, 740 - 16 * r, cell)
    c.drawString(LEFT, 660, "The table above gives the yields measured in each season.")
    c.save()
    pages = read_pdf(path.read_bytes())
    # the captioned table leaves the body text: it is read as its own passage, row by row
    assert [ln for ln in pages[0].lines if ln] == ["The table above gives the yields measured in each season."]
    (table,) = pages[0].tables
    assert (table.label, table.caption, table.page) == ("Table 2", "Table 2: Yield by site and season.", 1)
    assert table.rows == (("Site", "Spring", "Autumn"), ("North field", "41.5", "38.2"), ("River bank", "27.0", "30.9"))


def test_words_placed_one_by_one_get_their_spaces_and_hyphens_rejoin(tmp_path):
    from reportlab.pdfbase.pdfmetrics import stringWidth

    path = tmp_path / "words.pdf"
    c = canvas.Canvas(str(path), pagesize=(W, H))
    c.setFont("Helvetica-Bold", 16)
    c.drawString(LEFT, 780, "Words Placed One by One")
    c.setFont("Helvetica", 10)
    lines = ["International cooperation on the gover-", "nance of submarine cables is weak today."]
    for i, line in enumerate(lines):
        x = LEFT
        for word in line.split(" "):  # each word drawn on its own, no space character in the PDF
            c.drawString(x, 740 - 13 * i, word)
            x += stringWidth(word, "Helvetica", 10) + 3.0
    c.save()
    pages = read_pdf(path.read_bytes())
    assert [ln for ln in pages[0].lines if ln][1:] == lines
    doc = clean_document(read_source(path, "words.pdf"))
    assert "International cooperation on the governance of submarine cables is weak today." in doc.text


@pytest.mark.skipif(not FONT_PATH.exists(), reason="needs fonts-wqy-microhei (apt install fonts-wqy-microhei)")
def test_cjk_radicals_in_a_text_layer_become_ideographs(tmp_path):
    """A font whose ToUnicode map gives radicals (U+2F24 for 大, U+2ED3 for 长...), as some Chinese
    PDFs' fonts do: the drawn PDF's map rewritten in place, the glyphs unchanged."""
    import io

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(W, H), pageCompression=0)
    c.setFont(_font(), 16)
    c.drawString(LEFT, 780, "城市档案的整理方法研究")
    c.setFont(_font(), 10)
    c.drawString(LEFT, 740, "北京师范大学的学生在长江和西安整理档案。")
    c.save()
    data = buf.getvalue()
    for ideograph, radical in ((b"5927", b"2F24"), (b"751F", b"2F63"), (b"957F", b"2ED3"), (b"897F", b"2EC4")):
        assert data.count(b"<" + ideograph + b">") == 1
        data = data.replace(b"<" + ideograph + b">", b"<" + radical + b">")
    path = tmp_path / "zh.pdf"
    path.write_bytes(data)
    assert "北京师范\u2f24学的学\u2f63在\u2ed3江和\u2ec4安整理档案。" in read_pdf(data)[0].lines
    doc = clean_document(read_source(path, "zh.pdf"))
    assert "北京师范大学的学生在长江和西安整理档案。" in doc.text


def test_radical_table_and_text_input():
    assert fold_radicals("\u2f24\u2f63\u2ed3\u2ec4\u2e9f") == "大生长西母"
    assert normalize("\u2f42\u5316") == "文化"
    assert all(0x2E80 <= k <= 0x2FD5 for k in __import__("rag.lang.normalize").lang.normalize.radical_table())
    src = SourceFile("a.txt", "/a.txt", "第一章\n\n⼤学⽣在⻓江边读书。\n", "0", "utf-8")
    assert "大学生在长江边读书。" in clean_document(src).text


def _article(path: Path) -> None:
    c = canvas.Canvas(str(path), pagesize=(W, H))
    c.setTitle("Microsoft Word - draft3.docx")  # junk a word processor leaves in the PDF's metadata
    c.setAuthor("Example University Press")
    c.setFont("Helvetica", 8)
    c.drawString(LEFT, H - 40, "Journal of Layout Studies, Vol. 7, No. 2")
    c.setFont("Helvetica-Bold", 17)
    c.drawString(LEFT, H - 90, "Column Detection for Scanned")
    c.drawString(LEFT, H - 110, "and Born-Digital Papers")
    c.setFont("Helvetica", 11)
    c.drawString(LEFT, H - 140, "Ada Example, Bo Sample and Cy Person")
    c.setFont("Helvetica", 9)
    c.drawString(LEFT, H - 170, "© 2019 The Authors. Published under an open licence.")
    for i in range(12):
        c.drawString(LEFT, H - 200 - 12 * i, f"Body sentence {i} describes how the columns were measured on the pages.")
    c.save()


def test_title_authors_and_year_come_from_the_first_pages_layout(tmp_path):
    from rag.ingest.metadata import describe

    path = tmp_path / "article.pdf"
    _article(path)
    src = read_source(path, "article.pdf")
    assert src.layout.title == "Column Detection for Scanned and Born-Digital Papers"
    assert [p.full() for p in src.layout.authors] == ["Ada Example", "Bo Sample", "Cy Person"]
    assert src.layout.year == "2019" and src.pdf.authors  # the PDF's own (junk) author is read ...
    doc = describe(clean_document(src), src.text, src.pdf, layout=src.layout)
    assert doc.title == "Column Detection for Scanned and Born-Digital Papers"
    assert doc.authors == ("Ada Example", "Bo Sample", "Cy Person")  # ... and not trusted
    assert dict(doc.bib.origin) == {
        "title": "layout",
        "authors": "layout",
        "year": "layout",
        "journal": "text",  # the journal line of the first page
        "type": "text",
    }
    assert "Column Detection" not in doc.text and "Body sentence 0 describes" in doc.text


def test_a_library_record_wins_over_the_layout(tmp_path):
    from rag.ingest.metadata import describe
    from rag.records import Bib, Person

    path = tmp_path / "article.pdf"
    _article(path)
    src = read_source(path, "article.pdf")
    lib = Bib(title="The Library's Title", authors=(Person("Librarian", "Lee"),), year="2020", source="bibtex")
    doc = describe(clean_document(src), src.text, src.pdf, lib, src.layout)
    assert (doc.title, doc.authors, doc.bib.year) == ("The Library's Title", ("Lee Librarian",), "2020")
    assert dict(doc.bib.origin)["title"] == "bibtex"


def test_pdf_metadata_title_is_kept_only_when_the_page_prints_it():
    from rag.ingest.metadata import confirmed
    from rag.records import Bib, Person

    text = "A Study of Reading Order\nAda Example\nBody text.\fPage two."
    good = Bib(title="A Study of Reading Order", authors=(Person("Example", "Ada"),), source="pdf")
    assert confirmed(good, text) == good
    other = Bib(title="doi:10.1000/xyz123", authors=(Person("Journals", "Cambridge"),), source="pdf")
    assert confirmed(other, text + "\ndoi:10.1000/xyz123 Cambridge Journals") == Bib(source="pdf")


def test_a_page_without_any_text_reads_as_no_lines():
    """A text-less page that OCR found nothing on (was IndexError: 'unreadable PDF')."""
    from rag.ingest.pdf.layout import order

    assert order([]) == []
