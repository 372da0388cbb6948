"""A question about a value in a table is answered by the table's header and the row it names, cited by the
table passage (section "… / Table N", page), not by the whole block of rows (rag/answer/table_rows.py)."""

from __future__ import annotations

import pytest
from helpers import real_pdf_page

from rag.answer.table_rows import row_label
from rag.settings import load_settings


def test_a_rows_label_is_its_cells_up_to_the_first_value():
    """The label ends at the first cell holding a digit; a label with a digit of its own stays whole."""
    assert row_label("Headquartered\t0.734\t0.589") == "Headquartered"
    assert row_label("TAPASBASE\tinter-sqa\t44.8\t45.1") == "TAPASBASE inter-sqa"
    assert row_label("CG.B.2\t867.45\t0.002") == "CG.B.2"
    assert row_label("营业收入(百万元)\t18,562\t21,528") == "营业收入(百万元)"
    assert row_label("F Ratio\tF Ratio\tF Ratio") == "F Ratio F Ratio F Ratio"


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
