"""Reference entries in GB/T 7714-2015 and APA 7, checked against entries written by hand from the
standards; and the metadata found in a document's own front matter."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.errors import InvalidInputError
from rag.ingest.metadata import front_matter_bib, parse_name, split_names
from rag.records import Bib, Person
from rag.refs.render import check_style
from rag.refs.styles import apa, format_reference, gbt7714

ZH4 = Bib(
    type="article-journal",
    title="量子通信网络的标准化进程",
    authors=(Person("张伟"), Person("李娜"), Person("王强"), Person("赵敏")),
    year="2021",
    journal="通信学报",
    volume="42",
    issue="3",
    pages="15-24",
    doi="10.1234/tx.2021.03.002",
)
EN2 = Bib(
    type="article-journal",
    title="Submarine cables and internet resilience",
    authors=(Person("Smith", "John A."), Person("Lee", "Kim")),
    year="2019",
    journal="Journal of Network Governance",
    volume="7",
    issue="2",
    pages="101--120",
    doi="10.5555/jng.2019.0007",
)


def test_gbt7714_journal_article_chinese_more_than_three_authors():
    assert gbt7714(ZH4) == (
        "张伟, 李娜, 王强, 等. 量子通信网络的标准化进程[J]. 通信学报, 2021, 42(3): 15-24. DOI:10.1234/tx.2021.03.002."
    )


def test_gbt7714_journal_article_english_names_family_in_capitals_initials():
    assert gbt7714(EN2) == (
        "SMITH J A, LEE K. Submarine cables and internet resilience[J]. Journal of Network Governance, 2019, "
        "7(2): 101-120. DOI:10.5555/jng.2019.0007."
    )


def test_gbt7714_english_et_al_and_no_volume_no_doi():
    b = Bib(
        type="article-journal",
        title="Four authors",
        authors=(Person("Ann", "Bo"), Person("Cat", "Di"), Person("Eve", "Fay"), Person("Gil", "Hal")),
        year="2013",
        journal="Nature",
        issue="1",
        pages="12-15",
    )
    assert gbt7714(b) == "ANN B, CAT D, EVE F, et al. Four authors[J]. Nature, 2013(1): 12-15."


def test_gbt7714_two_field_chinese_names_and_book_and_unknown_type():
    zh = Bib(
        type="article-journal",
        title="题名",
        authors=(Person("李", "明"), Person("王", "芳")),
        year="2020",
        journal="国际观察",
        issue="5",
        pages="33-47",
    )
    assert gbt7714(zh) == "李明, 王芳. 题名[J]. 国际观察, 2020(5): 33-47."
    book = Bib(
        type="book", title="国史旧闻", authors=(Person("陈登原"),), year="2000", publisher="中华书局", place="北京"
    )
    assert gbt7714(book) == "陈登原. 国史旧闻[M]. 北京: 中华书局, 2000."
    assert gbt7714(Bib(title="只有题名")) == "只有题名[Z]."


def test_apa7_journal_article():
    assert apa(EN2) == (
        "Smith, J. A., & Lee, K. (2019). Submarine cables and internet resilience. Journal of Network Governance, "
        "7(2), 101–120. https://doi.org/10.5555/jng.2019.0007"
    )
    assert apa(EN2, markdown=True) == (
        "Smith, J. A., & Lee, K. (2019). Submarine cables and internet resilience. *Journal of Network Governance, "
        "7*(2), 101–120. https://doi.org/10.5555/jng.2019.0007"
    )


def test_apa7_chinese_names_whole_single_author_and_no_date():
    assert apa(ZH4) == (
        "张伟, 李娜, 王强, 赵敏. (2021). 量子通信网络的标准化进程. 通信学报, 42(3), 15–24. "
        "https://doi.org/10.1234/tx.2021.03.002"
    )
    one = Bib(type="book", title="Cables", authors=(Person("Müller", "Jean-Pierre"),), publisher="Ocean Press")
    assert apa(one) == "Müller, J.-P. (n.d.). Cables. Ocean Press."


def test_apa7_twenty_one_authors_keep_first_nineteen_and_the_last():
    many = Bib(
        type="article-journal",
        title="T",
        year="2020",
        journal="J",
        authors=tuple(Person(f"F{i}", "A") for i in range(1, 22)),
    )
    names = ", ".join(f"F{i}, A." for i in range(1, 20))
    assert apa(many) == f"{names}, . . . F21, A. (2020). T. J."


def test_plain_style_and_title_fallback():
    assert format_reference(Bib(), "plain", "From the text") == "From the text"
    assert format_reference(EN2, "plain") == "John A. Smith, Kim Lee. Submarine cables and internet resilience"


def test_style_names_are_checked():
    assert check_style("GB/T-7714") == "gbt7714" and check_style(None, "apa") == "apa"
    with pytest.raises(InvalidInputError, match="unknown citation style 'mla'; use one of: plain, gbt7714, apa"):
        check_style("mla")


def test_names_are_parsed_from_metadata_strings():
    assert [parse_name(n) for n in split_names("John A. Smith; Lee, Kim")] == [
        Person("Smith", "John A."),
        Person("Lee", "Kim"),
    ]
    # a lone Han character is a family name spaced off its given name (PDFs print "李 明"), not a name
    assert [parse_name(n) for n in split_names("张 三，李四")] == [Person("张三"), Person("李四")]
    assert parse_name("ZHANG San") == Person("Zhang", "San")


def test_front_matter_of_a_chinese_journal_article():
    text = (
        "国际问题研究 2022年第4期\n题名\n作者甲 作者乙\n摘要：……\n关键词：甲 乙\n"
        "中图分类号：D81 文献标识码：A\n文章编号：1234-5678(2022)04-0105-16\nDOI:10.1234/abc.2022.04.007.\n"
        "① 某某：《别的文章》，《另一刊》2019年第1期，第24页。\n"
    )
    assert front_matter_bib(text) == Bib(
        type="article-journal",
        year="2022",
        journal="国际问题研究",
        issue="4",
        pages="105-120",
        doi="10.1234/abc.2022.04.007",
        source="text",
    )


def test_front_matter_citation_line_and_english_volume_line():
    zh = "引用格式：某甲. 题名[J]. 某某学报, 2021, 33(2): 45-58.\n"
    assert front_matter_bib(zh) == Bib(
        type="article-journal", year="2021", journal="某某学报", volume="33", issue="2", pages="45-58", source="text"
    )
    en = "Journal of Quiet Studies, Vol. 12, No. 3, 2018\nA Title\nhttps://doi.org/10.9999/jqs.12.3.4\n"
    assert front_matter_bib(en) == Bib(
        type="article-journal",
        year="2018",
        journal="Journal of Quiet Studies",
        volume="12",
        issue="3",
        doi="10.9999/jqs.12.3.4",
        source="text",
    )
    assert front_matter_bib("Just a note without any bibliographic line.") == Bib()


@pytest.mark.parametrize(
    ("page", "journal", "year", "volume", "issue", "pages"),
    [
        ("Journal of Quiet Studies 41 (2011) 12–30\nA Title\nAbstract", "Journal of Quiet Studies", "2011", "41", "", "12-30"),
        ("Applied Memory Research (2016), 9:2, 101–118 © The Society\nA Title", "Applied Memory Research", "2016", "9", "2", "101-118"),
        ("Head M, Tail B (2019) A title (with L.) of a study. Open Plant Letters 7(4): e0123456. https://doi.org/x",
         "Open Plant Letters", "2019", "7", "4", "e0123456"),
    ],
)  # fmt: skip
def test_front_matter_running_head_and_cite_as_line_name_the_journal(page, journal, year, volume, issue, pages):
    """An uploaded paper whose first page names its journal in a running head or a "cite as" line is a
    journal article with that journal (issue 29 item 3: exported @misc / [Z] without it)."""
    bib = front_matter_bib(page)
    assert (bib.type, bib.journal, bib.year, bib.volume, bib.issue, bib.pages) == (
        "article-journal", journal, year, volume, issue, pages
    )  # fmt: skip


def test_apa7_missing_volume_issue_or_journal_leaves_no_dangling_parts():
    """APA 9.25: missing elements are left out with their punctuation; an issue without a volume follows the
    journal in parentheses; without a journal, issue and pages are left out rather than printed bare."""
    base = Bib(type="article-journal", title="Cables", authors=(Person("Lee", "Kim"),), year="2020")
    no_vol = replace(base, journal="Ocean Policy", issue="6", pages="48-61")
    assert apa(no_vol) == "Lee, K. (2020). Cables. Ocean Policy, (6), 48–61."
    assert apa(no_vol, markdown=True) == "Lee, K. (2020). Cables. *Ocean Policy*, (6), 48–61."
    assert apa(replace(no_vol, journal="")) == "Lee, K. (2020). Cables."
    assert apa(replace(no_vol, issue="")) == "Lee, K. (2020). Cables. Ocean Policy, 48–61."
    assert apa(replace(no_vol, pages="")) == "Lee, K. (2020). Cables. Ocean Policy, (6)."
    assert apa(replace(no_vol, volume="12", pages="")) == "Lee, K. (2020). Cables. Ocean Policy, 12(6)."
    assert apa(replace(no_vol, volume="12", issue="")) == "Lee, K. (2020). Cables. Ocean Policy, 12, 48–61."
    assert "(6), 48" not in apa(replace(no_vol, journal="", doi="10.1/x"))


@pytest.mark.parametrize(
    "text, names",
    [
        ("张三, John Smith, 李四", ["张三", "John Smith", "李四"]),
        ("张三 John Smith 李四", ["张三", "John Smith", "李四"]),
        ("张三，John A. Smith，李四", ["张三", "John A. Smith", "李四"]),
        ("Smith, John; 李四; Wang Fang", ["Smith, John", "李四", "Wang Fang"]),
        ("Mary Jones and 王芳", ["Mary Jones", "王芳"]),
        ("李 明　 　 王 　 芳", ["李明", "王芳"]),
        ("欧阳修、司马光", ["欧阳修", "司马光"]),
    ],
)
def test_mixed_chinese_and_english_author_lists_split_into_whole_names(text, names):
    assert split_names(text) == names


def test_a_stand_in_for_an_unknown_author_is_left_out():
    """GB/T 7714-2015's sequential-numbering entries start with the title when no author is known (no "佚名"
    or "anonymous"); APA moves the title to the author's place."""
    for who in ("anonymous", "Anonymous Author(s)", "佚名", "Administrator"):
        b = Bib(
            type="article-journal", title="题名", authors=(parse_name(who),), year="2020", journal="刊名", issue="2"
        )
        assert gbt7714(b) == "题名[J]. 刊名, 2020(2)."
        assert apa(b) == "题名. (2020). 刊名, (2)."
        assert format_reference(b, "plain") == "题名"
    mixed = Bib(title="T", authors=(Person("佚名"), Person("李四")), year="2020")
    assert gbt7714(mixed) == "李四. T[Z]. 2020."
