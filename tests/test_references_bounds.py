"""Where a reference list ends (rag/ingest/references/bounds.py) and a heading over a page's small-type foot
block read with it (rag/ingest/pdf/reader.py): PDFs drawn here and the real PDFs of eval/real_pdfs."""

from __future__ import annotations

from pathlib import Path

from helpers import make_pdf
from reportlab.pdfgen import canvas

from rag.ingest.cleaning import clean_document
from rag.ingest.loading import read_source
from rag.ingest.pdf import read_pdf
from rag.ingest.pdf.apparatus import asks_about_front
from rag.ingest.references.bounds import back_heading, ends_list
from rag.ingest.references.detect import list_entry, references_of
from rag.records import Footnote

SUITE = Path(__file__).resolve().parents[1] / "eval" / "real_pdfs" / "corpus"


def _doc(path: Path):
    return clean_document(read_source(path, path.name))


def test_line_kinds_that_end_a_list():
    """Back-matter headings, receipt and funding notes, a footnote mark after a finished entry and a line
    after a gap that is not the next number end a list; the next entry and wrapped lines do not."""
    assert back_heading("附录 X.") and back_heading("Appendix B: Proofs") and back_heading("# Acknowledgments")
    assert not back_heading("Appendix to a report on soils. Press, 2001.")
    assert ends_list("本文 2006 年 1 月 9 日收到. 2007 年 9 月 24 日收到修改稿.", "307–320.", False, "2")
    assert ends_list("Received: 17 May 2013; accepted: 9 July 2013", "pages 3–9.", False, None)
    assert ends_list("* Supported by a national fund.", "Boston: Press, 1996.", False, "3")
    assert not ends_list("* 技术专利 *", "专利授权日期", False, "12")  # the entry is not finished
    assert ends_list("A General Class of Models", "", True, "4")  # after a gap, not entry [4]
    assert not ends_list("[4] Doe K. A title. 2001.", "", True, "4")
    assert not ends_list("A General Class of Models", "[3] Smith J. A title. J. X, 2000,", False, "4")
    assert not ends_list("Analysis of data. J. Things 3, 1–9.", "Smith, J. (2001).", True, None)  # author-year


def test_a_numbered_list_takes_no_unnumbered_entry():
    """In a numbered list a line opening like an author ("单位地点: ...") continues the entry before it."""
    last = Footnote("10", "作者. 文章题目.", "参考文献", 3)
    assert list_entry("单位地点: 单位, 技术报告: 报告编号, 年", "参考文献", last, 3) is None
    first = Footnote(
        "",
        "Folstein, M. F. (1975). Mini-mental state. J. Psychiatr. Res. 12, 189–198. doi:10.1016/0022-3956",
        "References",
        7,
    )
    assert list_entry("(75)90026-6.", "References", first, 7) is None  # a DOI's wrapped end, not entry 75


def test_receipt_questions_ask_for_front_matter():
    """A question about when a paper was received may rest on the first page's receipt line."""
    assert asks_about_front("When did the journal receive the paper?")
    assert asks_about_front("这篇论文何时收到？")
    assert not asks_about_front("How many subjects took part?")


def test_a_drawn_list_ends_at_a_foot_note_a_gap_and_an_appendix(tmp_path):
    """A one-page PDF: a received note between entries [1] and [2], a bare [3] and a title after a gap, an
    appendix after the list; two entries are found and the rest is text again."""
    lines = ["A Study of Small Things", "We describe the things we studied in this short paper.", "References"]
    lines += ["[1] Smith J. A title of a paper. J. Things, 2000, 1(2): 3-4.", "Received 9 January 2006; revised 2007."]
    lines += ["[2] Doe K. Another title. Boston: Press, 1996.", "[3]", "", "The Second Title Of The Paper In English"]
    lines += ["References", "[1] Smith J. A title of a paper. J. Things, 2000, 1(2): 3-4.", "Appendix A"]
    lines += ["The appendix holds the proof that every small thing is counted once."]
    path = tmp_path / "paper.pdf"
    path.write_bytes(make_pdf(lines))
    doc = _doc(path)
    refs = references_of(doc)
    assert [r.n for r in refs] == ["1", "2", "3"]  # the second list numbers again from 1: counted in order
    assert [r.year for r in refs] == ["2000", "1996", "2000"]
    assert "The Second Title Of The Paper In English" in doc.text
    assert "every small thing is counted once" in doc.text
    assert all("Received" not in n.text and "appendix" not in n.text for n in doc.footnotes)
    assert [a.text for a in doc.asides if a.kind == "front"] == ["Received 9 January 2006; revised 2007."]


def _foot_list_page(path: Path) -> None:
    """Two columns of body text; a bold REFERENCES heading under the left column and a small-type list in
    two narrow columns under each column; the right column ends with its own bold heading and text."""
    c = canvas.Canvas(str(path), pagesize=(595, 842))
    for i in range(30):
        c.setFont("Helvetica", 9)
        c.drawString(45, 780 - 11.5 * i, f"Left column line {i} of the discussion goes on here.")
        if i < 24:
            c.drawString(303, 780 - 11.5 * i, f"Right column line {i} of the discussion goes on.")
    c.setFont("Helvetica-Bold", 9.4)
    c.drawString(303, 780 - 11.5 * 25, "ACKNOWLEDGMENTS")
    c.setFont("Helvetica", 9)
    for i in range(4):
        c.drawString(303, 780 - 11.5 * (26 + i), f"Thanks line {i} to the people who helped us.")
    c.drawString(45, 780 - 11.5 * 30, "")
    c.setFont("Helvetica-Bold", 9.4)
    c.drawString(45, 400, "REFERENCES")
    c.setFont("Helvetica", 7)
    for col, x in enumerate((45, 174, 303, 432)):
        for k in range(3):
            y = 388 - 27 * k
            c.drawString(x, y, f"Author{col}{k}, A., and Other, B. (2001).")
            c.drawString(x + 8, y - 9, f"Title of work {col}{k} in the list of")
            c.drawString(x + 8, y - 18, "works. J. Things 5, 10-20.")
    c.showPage()
    c.save()


def test_a_reference_list_under_both_columns_is_read_after_them(tmp_path):
    """The REFERENCES heading under the left column is read after the right column's text, with its list."""
    path = tmp_path / "foot.pdf"
    _foot_list_page(path)
    lines = [ln for ln in read_pdf(path.read_bytes())[0].lines if ln]
    at = lines.index("REFERENCES")
    assert lines[at - 1] == "Thanks line 3 to the people who helped us."
    assert lines[at + 1 :: 3] == [f"Author{c}{k}, A., and Other, B. (2001)." for c in range(4) for k in range(3)]
    refs = references_of(_doc(path))
    assert [r.year for r in refs] == ["2001"] * 12
    assert [r.title for r in refs][:2] == [
        "Title of work 00 in the list of works",
        "Title of work 01 in the list of works",
    ]


def test_real_pdfs_lists_end_where_the_text_goes_on():
    """The real PDFs of issue 26: a page-1 receipt note, an appendix and background after a template's list,
    and a Frontiers list under both columns."""
    amas = _doc(SUITE / "zh_amas_2011.pdf")
    assert [r.n for r in references_of(amas)] == ["1", "2"]
    assert any("2006 年 1 月 9 日收到" in a.text for a in amas.asides)
    cjc = _doc(SUITE / "zh_cjc_template.pdf")
    assert [r.n for r in references_of(cjc)] == [str(i) for i in range(1, 12)]
    assert "400单词左右的英文背景介绍" in cjc.text.replace(" ", "")
    frontiers = _doc(SUITE / "en_frontiers_catch.pdf")
    page9 = [r for r, n in zip(references_of(frontiers), frontiers.footnotes) if n.page == 9]
    assert [r.year for r in page9] == ["2013", "1967", "1996", "2004", "2005", "2008", "1992", "1985", "2009"]
    assert "framework of the German Excellence Initiative" in frontiers.text


def test_a_text_files_blank_lines_do_not_end_its_notes():
    """In a text file a blank line is no vertical gap: a note wrapped after one still continues its note."""
    from rag.ingest.loading import SourceFile

    text = "一 引言\n\n正文说明了研究的方法。①\n\n注释\n\n①张三：《一本书的题名》，《某某日报》\n\n"
    text += "2020 年 8 月 25 日。②李四：《另一篇文章》，《某某学报》2019 年第 3 期。\n"
    doc = clean_document(SourceFile("n.txt", "n.txt", text, "0", "utf-8"))
    assert [(r.n, r.year) for r in references_of(doc)] == [("1", "2020"), ("2", "2019")]
