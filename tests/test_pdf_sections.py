"""Section headings of real PDFs (eval/real_pdfs) found from their type, kept as each passage's section;
the abstract marked as such."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingest.chunking import chunk_document
from rag.ingest.cleaning import clean_document
from rag.ingest.loading import read_source
from rag.ingest.pdf.headings import heading_levels
from rag.ingest.pdf.records import Segment

CORPUS = Path(__file__).resolve().parents[1] / "eval" / "real_pdfs" / "corpus"


def _section(name: str, phrase: str) -> tuple[str, str, str]:
    """(kind, section, page) of the first passage of a suite PDF holding ``phrase`` (spaces aside)."""
    chunks = chunk_document(clean_document(read_source(CORPUS / name, name)), 300, 60)
    key = phrase.replace(" ", "")
    c = next(c for c in chunks if key in c.text.replace(" ", "").replace("\n", ""))
    return c.kind, c.section, c.page


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, phrase, expected",
    [
        # numbered headings set larger (level 1) and smaller (level 2): the path of both
        (
            "en_acl2007_p07-1088.pdf",
            "We evaluated performance on four relations",
            ("body", "3 Experimental Results / 3.1 Experimental Methodology", "5-6"),
        ),
        (
            "en_usenix_mapreduce.pdf",
            "Consider the problem of counting",
            ("body", "2 Programming Model / 2.1 Example", "2"),
        ),
        ("en_usenix_mapreduce.pdf", "MapReduce is a programming model and an associ", ("body", "Abstract", "1")),
        # unnumbered bold headings
        ("en_plos_wheat.pdf", "Percent reduction due to", ("body", "Yield related traits", "9")),
        # a Chinese journal: its table cited under the section its page opens in
        ("zh_aas_sample.pdf", "通栏表格示例", ("table", "2录用稿的格式及要求 / 表2", "3")),
    ],
)
def test_passages_know_their_section(name, phrase, expected):
    assert _section(name, phrase) == expected


def _seg(text: str, top: float, size: float = 10.0, weight: int = 400) -> Segment:
    return Segment(text, 50, 50 + 5 * len(text), top, top + size, size, weight)


def test_headings_by_type_open_prose_and_figure_labels_do_not():
    """A larger numbered line before prose is a level-1 heading, a bold one a level-2 heading, unnumbered
    bold level 2; a large label above a figure caption, a sentence in bold and the first page's title
    block are not headings."""
    prose = "the method reads every page of the paper in its order"
    segs = [
        _seg("2 Methods", 0, 12),
        _seg(prose, 14),
        _seg("2.1 Data", 30, 10, 700),
        _seg(prose, 44),
        _seg("Sample preparation", 60, 10, 700),
        _seg(prose, 74),
        _seg("Input and output", 90, 14),
        _seg("Figure 2: The data flow of the build in all of its stages.", 106),
        _seg("This sentence is set in bold type.", 120, 10, 700),
        _seg(prose, 134),
    ]
    assert heading_levels(segs, 10.0, 400, first_page=False) == {0: 1, 2: 2, 4: 2}
    title = [_seg("A Study of Reading", 0, 16), _seg("Ann Author, Bo Writer and Cy Third", 20, 10, 700)]
    assert heading_levels(title + segs, 10.0, 400, first_page=True) == {2 + 2: 2, 2 + 4: 2}
