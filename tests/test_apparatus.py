"""Table-of-contents lines and page-1 front matter: found in the ingest stage, passages of their own kinds,
searchable, and kept out of answer evidence unless the question asks for them."""

from __future__ import annotations

import pytest
from pdfmake import FONT_PATH, draw, layout

from rag.answer.pipeline import evidence_hits
from rag.ingest.chunking import chunk_document
from rag.ingest.cleaning import clean_document
from rag.ingest.loading import load_sources
from rag.ingest.pdf.apparatus import (
    CONTENTS_KIND,
    FRONT_KIND,
    apparatus_kinds,
    apparatus_note,
    contents_lines,
    evidence_kinds_out,
    is_front_line,
)
from rag.lang.normalize import normalize
from rag.records import Chunk, Hit

needs_font = pytest.mark.skipif(not FONT_PATH.exists(), reason="needs fonts-wqy-microhei")

PAGE1 = """Seasonal Drainage of Upland Pasture Soils Under Winter Grazing in Three Wet Years
Mara Quill, Tobin Vesk
a Department of Soil Science, Northfield University, Westbury 40213
* Corresponding author. E-mail: m.quill@example.org
Received 3 March 2019; accepted 9 October 2019
Abstract
We measured drainage under grazed upland pasture over three winters and found that drainage began after
the soil held more than forty millimetres of rain in the preceding week.
Keywords: drainage; pasture; soil water
© 2020 The Authors. Published under a Creative Commons Attribution licence."""

CONTENTS = """Contents
1 Introduction ........................................ 3
2 Study sites ......................................... 3
2.1 Soil water records ........................... 4
3 Results ............................................. 5
4 Discussion .......................................... 5"""

BODY = """1 Introduction
Upland pasture drains slowly in winter. The timing of drainage matters to farmers who plan grazing.

2 Study sites
The three study sites lie on clay loam. Soil water records were taken every week at each site.

3 Results
Drainage began after the soil held more than forty millimetres of rain in one week.

4 Discussion
Grazing on wet soil compacts it, so the week of first drainage is a guide to when stock should leave."""


def test_contents_lines_found_by_dot_leaders_and_runs_of_page_numbers():
    leaders = CONTENTS.split("\n")
    assert contents_lines(leaders) == set(range(len(leaders)))  # the heading and every entry
    run = ["目录", "第一章 绪论 1", "1.1 研究背景 2", "第二章 方法 5", "第三章 结果 9", "", "正文从这里开始。"]
    assert contents_lines(run) == {0, 1, 2, 3, 4}
    unheaded = ["Introduction 1", "Methods 4", "Results 9", "Discussion 12"]
    assert contents_lines(unheaded) == {0, 1, 2, 3}
    # three entries are too few without a heading; table rows and sentences ending in a number are not entries
    assert contents_lines(unheaded[:3]) == set()
    assert contents_lines(["Wheat 12 15", "Barley 13 17", "Rice 14 19", "Oats 15 21"]) == set()
    prose = ["The plots were sampled in 2019.", "Each plot held 12 plants, 4", "we counted 30", "and kept 31"]
    assert contents_lines(prose) == set()
    # page numbers going down are not a contents list
    assert contents_lines(["Alpha beta 40", "Gamma delta 31", "Epsilon zeta 22", "Eta theta 13"]) == set()


@pytest.mark.parametrize(
    "line",
    [
        "a Department of Soil Science, Northfield University, Westbury 40213",
        "(某某大学数学系, 某市 438000)",
        "* Corresponding author. E-mail: m.quill@example.org",
        "ORCID: 0000-0002-1825-0097",
        "Received 3 March 2019; accepted 9 October 2019",
        "收稿日期：2019-03-03；修回日期：2019-10-09",
        "本文 2006 年 1 月 9 日收到. 2007 年 9 月 24 日收到修改稿.",
        "Keywords: drainage; pasture; soil water",
        "关键词 排水；草地；土壤水分",
        "© 2020 The Authors. Published under a Creative Commons Attribution licence.",
        "Copyright: 2018 Quill et al.",
        "Journal of Upland Soils, Vol. 12, No. 3 (2020) 101-119",
        "第 34 卷 第 5 期 某某学报 Vol. 34 No. 5",
        "doi:10.1234/jus.2020.0042",
        "中图分类 O212.7",
        "MR(2000) 主题分类 62G05; 62N01",
    ],
)
def test_front_matter_lines_recognised(line):
    assert is_front_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "We measured drainage under grazed upland pasture over three winters and found that drainage began",
        "with published results of paired catchment experiments. An additional analysis was performed",
        "Published studies have shown that drainage varies from year to year.",
        "Hospital in Northfield, Westbury",  # the second line of a title
        "University students were recruited from two campuses, in spring and autumn, for the survey",
        "本文研究了草地排水的季节变化，并给出了估计方法。",
        "Seasonal Drainage of Upland Pasture Soils Under Winter Grazing in Three Wet Years",
        "Mara Quill, Tobin Vesk",
    ],
)
def test_prose_titles_and_bylines_are_not_front_matter(line):
    assert not is_front_line(line)


def _chunk(kind: str, n: int) -> Hit:
    return Hit(Chunk(f"d#{n}", "d", "T", "", "text", 0, 4, kind=kind), 1.0 / (n + 1), n)


def test_evidence_leaves_out_contents_and_front_matter_unless_asked():
    hits = [_chunk(k, n) for n, k in enumerate(("contents", "front", "body", "reference", "meta"))]
    plain = "When does drainage begin?"
    assert [h.chunk.kind for h in evidence_hits(plain, hits, "auto")] == ["body", "meta"]
    assert [h.chunk.kind for h in evidence_hits(plain, hits, "auto", "on")] == ["contents", "front", "body", "meta"]
    asks_mail = "What is the corresponding author's e-mail address?"
    assert [h.chunk.kind for h in evidence_hits(asks_mail, hits, "auto")] == ["front", "body", "meta"]
    assert [h.chunk.kind for h in evidence_hits(asks_mail, hits, "auto", "off")] == ["body", "meta"]
    assert [h.chunk.kind for h in evidence_hits("该文的中图分类号是什么？", hits, "auto")] == ["front", "body", "meta"]
    assert [h.chunk.kind for h in evidence_hits("目录里第三章叫什么？", hits, "auto")] == ["contents", "body", "meta"]
    assert evidence_kinds_out(plain, "auto") == {CONTENTS_KIND, FRONT_KIND}


def _text_pdf_pages(path, pages: list[str]) -> None:
    laid = [p for text in pages for p in layout([ln if ln.strip() else None for ln in text.split("\n")])]
    path.write_bytes(draw(laid)[0])


@needs_font
def test_a_pdfs_contents_page_and_front_matter_become_their_own_passages(tmp_path):
    path = tmp_path / "drainage.pdf"
    _text_pdf_pages(path, [PAGE1, CONTENTS, BODY])
    (src,), skipped = load_sources([path])
    assert not skipped
    doc = clean_document(src)
    assert doc.title == "Seasonal Drainage of Upland Pasture Soils Under Winter Grazing in Three Wet Years"
    for gone in ("E-mail", "Received 3 March", "Keywords", "Creative Commons", "Northfield University", "........"):
        assert gone not in doc.text, gone
    assert "Drainage began after the soil held more than forty millimetres of rain in one week." in doc.text
    assert "found that drainage began after" in doc.text  # the abstract stays body text
    chunks = chunk_document(doc, 300, 60)
    front = [c for c in chunks if c.kind == FRONT_KIND]
    contents = [c for c in chunks if c.kind == CONTENTS_KIND]
    assert [c.page for c in front] == ["1"] and [c.page for c in contents] == ["2"]
    assert front[0].text.split("\n") == [
        "a Department of Soil Science, Northfield University, Westbury 40213",
        "* Corresponding author. E-mail: m.quill@example.org",
        "Received 3 March 2019; accepted 9 October 2019",
        "Keywords: drainage; pasture; soil water",
        "© 2020 The Authors. Published under a Creative Commons Attribution licence.",
    ]
    assert contents[0].text.startswith("Contents\n1 Introduction ....") and contents[0].text.count("\n") == 5
    # the abstract ends at the keywords line: the next section is the introduction
    assert doc.section_at(doc.text.index("Upland pasture drains slowly")) == "1 Introduction"
    assert apparatus_note(doc) == (
        "drainage.pdf: 6 table-of-contents line(s) and 5 front-matter line(s) of page 1 kept searchable but out "
        "of answer evidence unless asked for"
    )


def test_a_text_files_lines_are_never_page_1_front_matter(tmp_path):
    path = tmp_path / "drainage.txt"
    path.write_text(PAGE1 + "\n\n" + BODY, encoding="utf-8")
    (src,), _ = load_sources([path])
    doc = clean_document(src)
    assert not [a for a in doc.asides if a.kind == FRONT_KIND]
    assert apparatus_note(doc) == ""


def test_leader_lines_whose_page_numbers_a_broken_font_turned_into_marks_are_contents():
    texts = [
        "目 录",
        "摘要 ..........................I",
        "1.1 引言 ························①",
        "1.2 方法 ·······················②",
    ]
    texts += ["2.1 结果 ·······················[22]", "致谢 ..........................17"]
    texts += ["附录 ·························" + normalize("③"), "第一章 引言"]  # as the cleaner reads "③": a mark
    kinds = ["heading", "body", "footnote", "footnote", "footnote", "body", "body", "heading"]
    assert apparatus_kinds(texts, kinds, [5] * 8, -1) == {i: CONTENTS_KIND for i in range(7)}
    # a note that is no leader line stays a note
    assert apparatus_kinds(["① 见某书第 12 页。"] * 4, ["footnote"] * 4, [5] * 4, -1) == {}
