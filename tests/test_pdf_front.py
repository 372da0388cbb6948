"""The first page's record: accents a text layer gives apart, affiliation letters glued to names, the
year from venue lines; and the titles, first authors and years of the real-PDF suite's text PDFs."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

from rag.ingest.pdf.front import front_page_bib
from rag.ingest.pdf.records import PdfPage, Segment
from rag.lang.normalize import attach_accents, normalize

SUITE = Path(__file__).resolve().parents[1] / "eval" / "real_pdfs"


def _page(lines: list[tuple[str, float]], furniture: tuple[str, ...] = ()) -> PdfPage:
    """A first page of segments (text, size), one under the other from the top."""
    segs, top = [], 60.0
    for text, size in lines:
        segs.append(Segment(text, 50.0, 500.0, top, top + size, size))
        top += size * 1.5
    return PdfPage(1, tuple(t for t, _ in lines), None, furniture, tuple(segs), (595.0, 842.0))


BODY = [(f"Body line {i} of the article reports what was measured on the plots.", 9.0) for i in range(12)]


def test_spacing_accents_join_their_letter():
    assert attach_accents("J˛edrzej Kowalczuk and M. Pas¸ca") == "Jędrzej Kowalczuk and M. Paşca"
    assert normalize("J˛edrzej") == "Jędrzej"
    # no accented letter exists: left as it was (a degree ring, an acute used as an apostrophe, a lone mark)
    assert attach_accents("30˚C, Student´s, can ¨ be") == "30˚C, Student´s, can ¨ be"


def test_glued_affiliation_letters_leave_the_names():
    page = _page(
        [("The response of river flows to planted forests", 15.0), ("Ann B. Lanea,c,*, Carl Bestb,c", 11.0)]
        + [("a School of Forest Studies, Some University", 7.0), ("b Division of Water, Some Town", 7.0)]
        + [("c Research Centre for Hydrology, Some Town", 7.0)]
        + BODY
    )
    assert [p.full() for p in front_page_bib([page]).authors] == ["Ann B. Lane", "Carl Best"]
    # no affiliation lines labelled by letters: a name ending in one keeps it
    plain = _page([("The response of river flows to planted forests", 15.0), ("Ann Costa, Carl Best", 11.0)] + BODY)
    assert [p.full() for p in front_page_bib([plain]).authors] == ["Ann Costa", "Carl Best"]


@pytest.mark.parametrize(
    ("head", "foot", "furniture", "year"),
    [
        ([("Journal of Hydrology 310 (2005) 253–265", 7.0)], [], (), "2005"),
        (
            [("International Geriatrics (2014), 26:1, 147–154", 7.0)],
            [("Received 9 May 2013; accepted 2 Jan 2014", 7.0)],
            (),
            "2014",
        ),
        ([], [("Proceedings of the Annual Meeting, Prague, June 2007.", 7.0)], (), "2007"),
        ([], [], ("To appear in OSDI 2004",), "2004"),
        ([], [("published: 25 July 2013", 7.0)], (), "2013"),
        ([], [("Received 9 May 2013; revised 18 Jun 2013", 7.0)], (), "2013"),
        ([], [("as reported by Smith (2005) in the field.", 9.0)], (), ""),  # a citation is no venue
    ],
)
def test_year_from_copyright_venue_or_receipt_lines(head, foot, furniture, year):
    page = _page(head + [("The response of river flows to planted forests", 15.0)] + BODY + foot, furniture)
    assert front_page_bib([page]).year == year


def _key(s: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", s or "")).lower()


@pytest.mark.slow
def test_real_text_pdfs_titles_first_authors_and_years():
    """Every text PDF of eval/real_pdfs read as `rag index` reads it, against titles.jsonl."""
    from rag.index.store.sources import described
    from rag.ingest.library import Library
    from rag.ingest.loading import load_sources
    from rag.records import Bib

    gold = {g["doc"]: g for g in map(json.loads, (SUITE / "titles.jsonl").read_text().splitlines())}
    srcs, skipped = load_sources([SUITE / "corpus" / d for d in gold if not d.startswith("scan")])
    assert not skipped
    wrong_titles, wrong_authors, wrong_years = [], [], []
    for src in srcs:
        doc, g = described(src, Bib(), Library()), gold[Path(src.path).name]
        if _key(doc.bib.title) != _key(g["title"]):
            wrong_titles.append(g["doc"])
        first = doc.bib.authors[0].full() if doc.bib.authors else ""
        if g.get("first_author") and _key(first) != _key(g["first_author"]):
            wrong_authors.append(g["doc"])
        if g.get("year") and doc.bib.year != str(g["year"]):
            wrong_years.append(g["doc"])
    assert wrong_titles == []
    assert wrong_authors == []
    assert sorted(wrong_years) == ["long_en_breast_cancer.pdf"]


def test_one_name_per_line_each_over_its_affiliation():
    """A byline set one name a line, each followed by its affiliation in smaller type: every name is kept."""
    page = _page(
        [("一种回归模型的估计方法研究", 18.0), ("王大明", 12.0), ("(某某学院数学系, 某市 100000)", 6.5)]
        + [("李 华", 12.0), ("(某某大学统计学院, 某市 200000)", 6.5), ("张小军", 12.0)]
        + [("(某某研究所, 某市 300000)", 6.5), ("(E-mail: a@b.cn)", 8.0)]
        + [("摘 要 本文研究了一个模型中参数的估计问题, 给出了一种估计方法并证明了其性质.", 9.0)]
        + [("第二个作者", 12.0)]  # past the abstract: not a name of the byline
    )
    assert [a.full() for a in front_page_bib([page]).authors] == ["王大明", "李华", "张小军"]


def test_placeholder_names_of_a_template_are_no_authors():
    """A template's byline repeats one placeholder ("作者名 1) 作者名 2) ..."): no authors, from the layout or the text."""
    from rag.ingest.cleaning import clean_document
    from rag.ingest.loading import SourceFile

    byline = "作者名 1) 作者名 2),3) 作者名 3)( ∗ 字体为 3 号仿宋 * 作者)"
    page = _page([("题目字体为 2 号黑体的论文模板", 22.0), (byline, 16.0), ("①)(单位全名部门 (系) 全名)", 7.5)] + BODY)
    assert front_page_bib([page]).authors == ()
    text = "\n".join(
        ["题目字体为 2 号黑体的论文模板", "作者名, 作者名, 作者名", "", "摘 要 这是摘要的内容，说明了方法。"]
    )
    assert clean_document(SourceFile("t.txt", "t.txt", text, "0", "utf-8")).authors == ()


def test_a_measure_or_a_lone_number_under_the_longest_line_is_no_byline():
    """A page from a paper's middle has no byline: the short line after its longest one is prose."""
    from rag.ingest.cleaning import clean_document
    from rag.ingest.loading import SourceFile

    def authors(line: str) -> tuple[str, ...]:
        text = "\n".join(["A study of table structure recognition on one machine", line, "", "Body text follows."])
        return clean_document(SourceFile("t.txt", "t.txt", text, "0", "utf-8")).authors

    assert authors("CPU @2.45 GHz.") == ()
    assert authors("图字用 6 号宋体") == ()
    assert authors("Ann Smith, Bob Jones") == ("Ann Smith", "Bob Jones")
