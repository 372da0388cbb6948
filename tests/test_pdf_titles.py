"""Titles of first pages the largest-type rule missed, on the held-out real PDFs (eval/real_pdfs_2): a title
naming its venue, a short title marked with a note over a placeholder byline, a notice titled in bold
body-size type, a page whose title is only in its running header; and the suite's six titles end to end."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
from helpers import real_pdf_page

from rag.ingest.pdf import read_pdf
from rag.ingest.pdf.front import front_page_bib, is_placeholder_byline, title_block
from rag.ingest.pdf.records import PdfPage, Segment

SUITE2 = Path(__file__).resolve().parents[1] / "eval" / "real_pdfs_2"
CORPUS2 = SUITE2 / "corpus"


def _first(name: str) -> PdfPage:
    (page,) = read_pdf(real_pdf_page(name, 1, CORPUS2))
    return page


def test_a_title_naming_its_venue_then_its_own_subject_is_a_title():
    """The largest type reads "Journal of ...: Instruction for Authors": not the journal's banner, and the
    running citation line above it is not the title."""
    bib = front_page_bib([_first("en_jcst_template.pdf")])
    assert (bib.title, bib.year) == ("Journal of Computer Science and Technology: Instruction for Authors", "2018")
    banner = _page([("Journal of Hydrology and Forests", 20.0), ("Flow curves after planting trees", 16.0)])
    assert title_block(banner, 842.0)[0] == "Flow curves after planting trees"  # a bare venue name stays out


def test_a_short_title_with_a_note_mark_over_a_placeholder_byline():
    """Two Chinese journal templates: a four-character title marked ∗, then a byline of stand-in names."""
    assert front_page_bib([_first("zh_cjaps_template.pdf")]).title == "论文题目"
    assert front_page_bib([_first("zh_jssms_model.pdf")]).title == "论文标题"


def test_placeholder_bylines_are_never_titles():
    """A byline repeating one stand-in name is a template's, not a title; a byline of people or a title is not."""
    for line in ("第一作者姓名第二作者姓名", "姓名 1① 姓名 2② 姓名 3③", "XING Ming1① XING Ming2② XING Ming③"):
        assert is_placeholder_byline(line)
    for line in (
        "王大明 李华 张小军",
        "Doug Downey, Oren Etzioni, Stephen Soderland",
        "论文题目",
        "Sparse Sparse Models",
    ):
        assert not is_placeholder_byline(line)
    # an unmarked short title over a placeholder byline in smaller, still large, type: the byline is not taken
    page = _page([("论文题目", 16.0), ("第一作者姓名第二作者姓名", 14.0)])
    assert title_block(page, 842.0) == ("", -1)


def test_a_notice_titled_in_bold_body_size_type():
    """A three-column notice: no type larger than the body holds a title; the bold block over the first
    paragraph does."""
    page = _first("en_federal_register.pdf")
    assert title_block(page, page.size[1]) == ("", -1)
    assert front_page_bib([page]).title == "Airworthiness Directives; The Boeing Company Airplanes"


def test_a_page_titled_only_in_its_running_header():
    """A page cut from a paper: the header "Title 9" names the work; the page number is not part of it."""
    assert front_page_bib([_first("en_arxiv_otsl_p9.pdf")]).title == (
        "Optimized Table Tokenization for Table Structure Recognition"
    )


def _page(lines: list[tuple[str, float]]) -> PdfPage:
    """A first page of segments (text, size) one under the other, over body lines in 9-point type."""
    body = [(f"Body line {i} of the article reports what was measured on the plots.", 9.0) for i in range(12)]
    segs, top = [], 60.0
    for text, size in lines + body:
        segs.append(Segment(text, 50.0, 500.0, top, top + size, size))
        top += size * 1.5
    return PdfPage(1, tuple(s.text for s in segs), None, (), tuple(segs), (595.0, 842.0))


def _key(s: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", s or "")).lower()


@pytest.mark.slow
def test_real_pdfs_2_titles():
    """Every PDF of eval/real_pdfs_2 with a gold title, read and described as `rag index` does."""
    from rag.index.store.sources import described
    from rag.ingest.library import Library
    from rag.ingest.loading import load_sources
    from rag.records import Bib

    gold = {g["doc"]: g["title"] for g in map(json.loads, (SUITE2 / "titles.jsonl").read_text().splitlines())}
    srcs, skipped = load_sources([CORPUS2 / d for d in gold])
    assert not skipped and len(srcs) == 6
    wrong = [
        Path(s.path).name
        for s in srcs
        if _key(described(s, Bib(), Library()).bib.title) != _key(gold[Path(s.path).name])
    ]
    assert wrong == []
