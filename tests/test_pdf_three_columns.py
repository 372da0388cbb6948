"""A three-column page (eval/real_pdfs_2: a Federal Register notice, footnotes under the columns) read column
by column: a side of the page holding two columns is prose though no line spans it (rag/ingest/pdf/layout.py)."""

from __future__ import annotations

from conftest import ROOT
from helpers import real_pdf_page

from rag.ingest.pdf import read_pdf
from rag.ingest.pdf.layout import _prose
from rag.ingest.pdf.records import Segment

NOTICE = ("en_federal_register.pdf", ROOT / "eval" / "real_pdfs_2" / "corpus")


def _page(number: int) -> bytes:
    return real_pdf_page(NOTICE[0], number, NOTICE[1])


def test_three_columns_are_read_one_after_the_other():
    lines = list(read_pdf(_page(2))[0].lines)
    # before: one line of each column side by side ("Hatta International Airport in Jakarta, altitude disagree ...")
    assert lines[3:5] == ["Hatta International Airport in Jakarta,", "Indonesia, resulting in 189 fatalities."]
    first = lines.index("On March 10, 2019, a Boeing Model")  # the second column goes on in its own lines
    assert lines[first + 1 : first + 3] == [
        "737–8 airplane operated by Ethiopian",
        "Airlines (Ethiopian Airlines Flight 302)",
    ]
    # the third column after the second, its first line continuing the second's last sentence
    assert lines.index("(EASA), the manufacturer, the operator,") < lines.index("and the Ethiopian Civil Aviation")
    assert all(len(line) <= 60 for line in lines[3:200])  # no line joins two columns


def _line(text: str, x0: float, top: float) -> Segment:
    return Segment(text, x0, x0 + 150.0, top, top + 9.0, 9.0)


def test_a_side_of_two_columns_is_prose_and_a_side_of_short_cells_is_not():
    words = "a line of prose that fills its column"
    two = [_line(words, x, 100.0 + 12 * i) for x in (200.0, 380.0) for i in range(12)]
    assert _prose(two)  # no line spans the side (before, no line filling 0.7 of it: not prose)
    assert not _prose(two[:5] + two[12:17])  # too few lines to tell two columns from a table's two long cells
    cells = [_line("12.5", x, 100.0 + 12 * i) for x in (200.0, 380.0) for i in range(12)]
    assert not _prose(cells)
