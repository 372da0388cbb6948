"""A question about a value in a table is answered by the table's header and the row it names, cited by the
table passage (section "… / Table N", page), not by the whole block of rows (rag/answer/table_rows.py)."""

from __future__ import annotations

import pytest
from helpers import real_pdf_page

from rag.answer.table_rows import _rows_spanned, row_label
from rag.settings import load_settings


def test_a_rows_label_is_its_cells_up_to_the_first_value():
    """The label ends at the first cell holding a digit; a label with a digit of its own stays whole."""
    assert row_label("Headquartered\t0.734\t0.589") == "Headquartered"
    assert row_label("TAPASBASE\tinter-sqa\t44.8\t45.1") == "TAPASBASE inter-sqa"
    assert row_label("CG.B.2\t867.45\t0.002") == "CG.B.2"
    assert row_label("营业收入(百万元)\t18,562\t21,528") == "营业收入(百万元)"
    assert row_label("F Ratio\tF Ratio\tF Ratio") == "F Ratio F Ratio F Ratio"


def test_a_line_of_a_few_values_is_quoted_with_the_rows_it_spans():
    """A line of two value cells between two full rows (a cell spanning both, vertically centred) belongs to
    the row above and the row below; to the one whose label the question names when one is; a full row
    stands alone."""
    rows_text = [
        "Alpha\t.9\t.8\t.9\t2.7",
        "6\t6",
        "Beta\t.9\t.7\t.9\t5.3",
        "Alpha\t.8\t.8\t.9\t1.9",
        "4\t4",
        "Beta\t.9\t.9\t.8\t3.7",
    ]
    text = "\t\t".join(rows_text)
    rows, at = [], 0
    for r in rows_text:
        rows.append((at, at + len(r)))
        at += len(r) + 2
    assert _rows_spanned(text, rows, 1, frozenset({"alpha", "6"})) == [0, 1]
    assert _rows_spanned(text, rows, 4, frozenset({"beta"})) == [4, 5]
    assert _rows_spanned(text, rows, 1, frozenset({"6"})) == [0, 1, 2]
    assert _rows_spanned(text, rows, 3, frozenset({"alpha"})) == [3]
    # two cells of four are half a row: not a cell spanning rows
    half = "Alpha\t.9\t.8\t2.7\t\t6\t6"
    assert _rows_spanned(half, [(0, 15), (17, 20)], 1, frozenset({"alpha"})) == [1]


@pytest.mark.slow
def test_a_question_naming_a_row_quotes_the_header_and_that_row(tmp_path):
    """ACL 2007 page 6 (Table 1 beside prose), indexed: the question names the row "Headquartered" and
    a column; the answer is the header line and that row, one citation of the table passage (before, the
    whole block of five rows and the caption was quoted)."""
    from rag.answer.pipeline import Assistant
    from rag.index.store import build_index

    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "acl.pdf").write_bytes(real_pdf_page("en_acl2007_p07-1088.pdf", 6))
    s = load_settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    build_index([folder], s)
    a = Assistant.open(s)
    answer = a.ask("What area under the precision/recall curve does HMM-T reach for the Headquartered relation?")
    assert answer.answer == "Type\tHMM-T\tN-GRAMS[1] Headquartered\t0.734\t0.589[1]"
    (c,) = answer.citations
    assert c.section.endswith("Table 1") and c.page == "1"
    assert c.text.startswith("Type\tHMM-T\tN-GRAMS\t\tConquered\t0.917")
    # two rows named: both, in table order, under the header
    both = a.ask("What area under the precision/recall curve does HMM-T reach for Headquartered and for Founded?")
    assert both.answer == "Type\tHMM-T\tN-GRAMS[1] Founded\t0.827\t0.636[1] Headquartered\t0.734\t0.589[1]"
    # a question naming no row's label keeps the answer model's choice
    other = a.ask("Which relation types were used in the type checking experiments?")
    assert "[1] Headquartered\t0.734\t0.589[1]" not in other.answer


@pytest.mark.slow
def test_a_row_named_by_a_cell_spanning_rows_is_quoted_with_its_row(tmp_path):
    """The arXiv page of real-pdfs-2 (Table 1: "# enc-layers  # dec-layers" cells "6  6" printed once between
    an OTSL and an HTML row), indexed: the question names "6" and "OTSL"; the answer quotes the header, the
    OTSL row (its inference time 2.73) and the "6  6" line (before, the "6  6" line alone, no time)."""
    from pathlib import Path

    from rag.answer.pipeline import Assistant
    from rag.index.store import build_index

    src = Path(__file__).resolve().parents[1] / "eval" / "real_pdfs_2" / "corpus" / "en_arxiv_otsl_p9.pdf"
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "otsl.pdf").write_bytes(src.read_bytes())
    s = load_settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    build_index([folder], s)
    answer = Assistant.open(s).ask(
        "With 6 encoder and 6 decoder layers, what inference time in seconds does the OTSL model reach?"
    )
    assert answer.answer == "#\t#\tTEDs\tmAP\tInference\t\tLanguage[1] OTSL\t0.965\t0.934\t0.955\t0.88\t2.73[1] 6\t6[1]"
    (c,) = answer.citations
    assert c.section.endswith("Table 1") and c.page == "1"
