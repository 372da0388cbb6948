"""Tables of real PDF pages (eval/real_pdfs) as structured passages: caption, header and rows, cited by page
and table number, their text kept out of the body passages."""

from __future__ import annotations

import pytest
from helpers import real_pdf_page

from rag.ingest.chunking import chunk_document
from rag.ingest.cleaning import clean_document
from rag.ingest.loading import read_source
from rag.ingest.pdf import Segment, read_pdf
from rag.ingest.pdf.tables import find_tables, table_passages
from rag.lang.text import squash
from rag.records import Table


def test_a_table_in_one_column_with_its_caption_below():
    """ACL 2007, page 6: Table 1 stands in the left column above its caption; the right column is prose."""
    (page,) = read_pdf(real_pdf_page("en_acl2007_p07-1088.pdf", 6))
    (table,) = page.tables
    assert table.label == "Table 1"
    assert table.caption.startswith("Table 1: Type Checking Performance. Listed is area under the precision/recall")
    assert table.caption.endswith("by 46% on average.")
    assert table.rows == (
        ("Type", "HMM-T", "N-GRAMS"),
        ("Conquered", "0.917", "0.767"),
        ("Founded", "0.827", "0.636"),
        ("Headquartered", "0.734", "0.589"),
        ("Merged", "0.920", "0.854"),
        ("Average", "0.849", "0.712"),
    )
    body = "\n".join(page.lines)
    assert "0.734" not in body and "Type Checking Performance" not in body
    # the prose of both columns is still there, the line beside the table included
    assert "sured in missing area under the precision/recall" in body
    assert "forms N-GRAMS, and HMM-T reduces error (mea-" in body


def test_a_chinese_full_width_table_with_a_bilingual_caption():
    """自动化学报 sample, page 3: 表 2 across both columns, captioned in Chinese and English."""
    (page,) = read_pdf(real_pdf_page("zh_aas_sample.pdf", 3))
    labels = [t.label for t in page.tables]
    assert "表2" in labels
    table = page.tables[labels.index("表2")]
    assert table.caption == "表 2 通栏表格示例 Table 2 An example table in one column"
    assert len(table.rows) == 12
    assert table.rows[0][0] == "对手 (OPP)" and len(table.rows[0]) == 5
    assert ("Gemini", "26:0", "59.7", "40.3", "1.48") in table.rows
    assert table.rows[-1] == ("Average", "64.8", "35.2", "1.84")
    assert not any("Gemini" in line for line in page.lines)


def test_table_rows_with_labels_and_values_apart_and_a_dotted_rule():
    """Cambridge UP, page 3: labels far left of their values, a rule of dots under the header."""
    (page,) = read_pdf(real_pdf_page("en_cup_psychogeriatrics.pdf", 3))
    (table,) = page.tables
    assert table.label == "Table 1"
    assert ("Presence of APOE-ε4 (%)a", "25.8", "47.5", "<0.001") in table.rows
    assert ("Age: mean, SD", "67.7, SD = 9.6", "72.8, SD = 7.4", "<0.001") in table.rows


@pytest.mark.slow
def test_a_table_is_its_own_passage_cited_by_page_and_number(tmp_path):
    """Through cleaning and chunking: one 'table' passage holds caption, header and the row; no body passage
    holds the row's values."""
    pdf = tmp_path / "acl.pdf"
    pdf.write_bytes(real_pdf_page("en_acl2007_p07-1088.pdf", 6))
    chunks = chunk_document(clean_document(read_source(pdf, "acl.pdf")), 300, 60)
    tables = [c for c in chunks if c.kind == "table"]
    assert len(tables) == 1
    (t,) = tables
    assert t.page == "1" and t.section.endswith("Table 1")
    rows = t.text.split("\t\t")
    assert rows[0] == "Type\tHMM-T\tN-GRAMS"
    assert "Headquartered\t0.734\t0.589" in rows
    assert rows[-1].startswith("Table 1: Type Checking Performance.")
    # one run of text: the answer's sentence holds the rows with the caption (a row alone matches no question)
    assert "\n" not in t.text
    # a gold quote of the row, matched as `rag eval` matches quotes (whitespace removed), is in the passage
    assert squash("Headquartered 0.734 0.589") in squash(t.text)
    assert not any("0.734" in c.text for c in chunks if c.kind != "table")


def test_a_long_table_is_cut_into_blocks_each_with_caption_and_header():
    """Rows are packed under the size; the header leads and the caption closes every block; no row is lost
    or doubled."""
    rows = (("Name", "Value"), *((f"item{i:02d}", f"{i}.5") for i in range(40)))
    table = Table("Table 9", "Table 9: Forty values.", rows, 3)
    parts = table_passages(table, 40)
    assert len(parts) > 1
    seen = []
    for p in parts:
        lines = p.split("\t\t")
        assert lines[0] == "Name\tValue" and lines[-1] == "Table 9: Forty values."
        assert sum(1 if "\u4e00" <= ch <= "\u9fff" else 1 / 3 for ch in p) <= 40
        seen += lines[1:-1]
    assert seen == [f"item{i:02d}\t{i}.5" for i in range(40)]


def _seg(text: str, x0: float, x1: float, top: float, size: float = 10.0) -> Segment:
    return Segment(text, x0, x1, top, top + size, size)


def test_a_line_of_prose_opening_with_table_is_no_table():
    """'Table 2 shows ...' followed by prose, with no rows of cells beside it, stays in the body."""
    segs = [
        _seg("Table 2 shows that the method holds on every split of the test", 50, 300, 100),
        _seg("set, and the gain grows with the size of the training data we use", 50, 300, 113),
        _seg("for it, as the next section explains in more detail than here.", 50, 300, 126),
    ]
    assert find_tables(segs, 1) == ([], set())


def test_a_caption_above_rows_of_cells_is_a_table():
    """A caption, a header row and two rows of cells: one table, every segment taken; the prose below stays."""
    segs = [
        _seg("Table 3. Scores by group.", 50, 200, 100),
        _seg("Group", 50, 90, 115),
        _seg("Score", 150, 190, 115),
        _seg("A", 50, 60, 128),
        _seg("1.5", 150, 170, 128),
        _seg("B", 50, 60, 141),
        _seg("2.5", 150, 170, 141),
        _seg("The scores of both groups rose over the years of the study, as the", 50, 400, 160),
    ]
    tables, taken = find_tables(segs, 4)
    assert tables == [
        Table("Table 3", "Table 3. Scores by group.", (("Group", "Score"), ("A", "1.5"), ("B", "2.5")), 4)
    ]
    assert taken == set(range(7))


def test_a_table_passage_is_led_by_its_documents_title_and_section_for_both_retrievers():
    """Its cells are numbers and abbreviations: the title and the section naming the table lead what is
    embedded and BM25-indexed, whatever RAG_PASSAGE_CONTEXT says; other passages follow the setting."""
    from rag.index.store.layout import passage_text
    from rag.records import Chunk

    rows = "Method\tFPS\t\tOurs\t90\t\tTable 2: Speed."
    table = Chunk("d#t0.0", "d", "Stereo Matching in Real Time", "Results / Table 2", rows, 0, len(rows), "table", "5")
    lead = "Stereo Matching in Real Time Results / Table 2\n"
    assert passage_text(table, "section") == lead + rows
    assert passage_text(table, "none") == lead + rows
    assert passage_text(table, "title+section") == lead + rows
    body = Chunk("d#1", "d", "Stereo Matching in Real Time", "Results", "We ran it.", 0, 10, "body", "5")
    assert passage_text(body, "section") == "Results\nWe ran it."
    assert passage_text(body, "none") == "We ran it."


def test_a_chapter_numbered_caption_and_wrapped_descriptions_are_one_table():
    """A caption numbered by chapter ("Table 2-1") over rows whose last cell is a description of many words,
    wrapped onto an indented line: one table of every row; the body prose at the margin under it stays."""
    segs = [
        _seg("Table 2-1 Columns of a view", 50, 200, 100),
        _seg("Column name", 55, 110, 115),
        _seg("Data type", 130, 170, 115),
        _seg("Description", 200, 250, 115),
        _seg("FIRST_ID", 55, 100, 128),
        _seg("CHAR(30)", 130, 170, 128),
        _seg("The identifier of the first item that was added to this", 200, 420, 128),
        _seg("list.", 200, 220, 139),
        _seg("KIND", 55, 80, 152),
        _seg("CHAR(7)", 130, 165, 152),
        _seg("The kind of item:", 200, 270, 152),
        _seg("ALLOWED: The item may be read by any of the readers.", 212, 430, 163),
        _seg("LAST_ID", 55, 95, 176),
        _seg("CHAR(10)", 130, 170, 176),
        _seg("The identifier of the last item.", 200, 330, 176),
        _seg("The scores of both groups rose over the years of the study, as the", 50, 400, 200),
    ]
    (table,), taken = find_tables(segs, 8)
    assert table.label == "Table 2-1"
    assert table.rows[1] == ("FIRST_ID", "CHAR(30)", "The identifier of the first item that was added to this")
    assert table.rows[-1] == ("LAST_ID", "CHAR(10)", "The identifier of the last item.")
    assert taken == set(range(15))
