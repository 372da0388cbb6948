"""Cleaning PDF-extracted Chinese text: NFKC, re-joined lines, furniture out, footnotes kept apart."""

from __future__ import annotations

from rag.ingest.cleaning import clean_document
from rag.ingest.loading import load_sources


def _doc(corpus, name):
    sources, _ = load_sources([corpus / name])
    return clean_document(sources[0])


def test_title_authors_and_abstract(fixture_corpus):
    d = _doc(fixture_corpus, "zh_paper.txt")
    assert d.title == "数字丝绸之路与东南亚数据治理合作"
    assert d.authors == ("李明", "王芳")  # spaced-out names grouped at the widest gaps
    assert d.text.startswith("数字丝绸之路建设推动了中国与东南亚国家在数据治理领域的合作。")
    assert d.section_at(0) == "摘要"
    assert "关键词" not in d.text and "国际观察" not in d.text


def test_fullwidth_normalised_and_lines_rejoined(fixture_corpus):
    d = _doc(fixture_corpus, "zh_paper.txt")
    # "２０１８ 年 １２ 月" split over two lines with blank lines between them in the source
    assert (
        "2018年12月，东盟数字部长会议通过了《东盟数字数据治理框架》，该框架确立了数据生命周期管理、跨境数据流动"
        in d.text
    )
    assert "数据成为区域合作的新要素。" in d.text
    assert "２" not in d.text and "\ue000" not in d.text


def test_page_furniture_dropped(fixture_corpus):
    d = _doc(fixture_corpus, "zh_paper.txt")
    assert "国际数据治理研究" not in d.text  # running header, three times in the source
    assert "\n12\n" not in d.text and "\n13\n" not in d.text  # page numbers
    assert not any(line.strip().isdigit() for line in d.text.split("\n"))


def test_footnotes_out_of_body_but_kept(fixture_corpus):
    d = _doc(fixture_corpus, "zh_paper.txt")
    assert "东盟秘书处" not in d.text
    assert [(f.label, f.section) for f in d.footnotes] == [
        ("1", "二、跨境数据流动规则"),
        ("2", "二、跨境数据流动规则"),
        ("3", "三、数字基础设施合作"),
    ]
    assert d.footnotes[1].text == "东盟秘书处：《东盟数字数据治理框架》，雅加达，2018年12月，第3页。"


def test_sections_follow_headings(fixture_corpus):
    d = _doc(fixture_corpus, "zh_paper.txt")
    headings = [h for _, h in d.sections]
    assert headings == ["摘要", "", "一、引言", "二、跨境数据流动规则", "三、数字基础设施合作"]
    for start, heading in d.sections:
        if heading and heading != "摘要":
            assert d.text[start:].startswith(heading)
    assert d.section_at(d.text.index("新加坡个人数据保护委员会")) == "二、跨境数据流动规则"


def test_markdown_headings_and_english_joining(fixture_corpus):
    d = _doc(fixture_corpus, "en_notes.md")
    assert d.title == "Submarine Cables and Internet Resilience"
    assert [h for _, h in d.sections] == ["Background", "Incidents", "Governance"]
    assert "The first transatlantic telegraph cable was completed in 1858" in d.text


def test_endnote_block_split_into_notes(tmp_path):
    raw = (
        "网络治理研究\n\n一、问题\n\n正文第一句。①正文第二句。②\n\n注释\n\n"
        "①作者：《第一本书》，出版社，\n２０２０ 年。 ②Ｊｏｈｎ Ｓｍｉｔｈ， Ｂｏｏｋ Ｔｗｏ．\n"
    )
    (tmp_path / "p.txt").write_text(raw, encoding="utf-8")
    d = _doc(tmp_path, "p.txt")
    assert d.text == "一、问题\n正文第一句。正文第二句。"
    assert [(f.label, f.text) for f in d.footnotes] == [
        ("1", "作者：《第一本书》，出版社，2020年。"),
        ("2", "John Smith, Book Two."),
    ]


def test_a_byline_mixing_chinese_and_english_names_keeps_each_name_whole(tmp_path):
    raw = "【研究】\n\n跨境数据流动规则与个人信息保护制度的比较研究\n\n张 三  John Smith  李四\n\n摘　要：本文比较三种规则。\n"
    (tmp_path / "p.txt").write_text(raw, encoding="utf-8")
    d = _doc(tmp_path, "p.txt")
    assert d.title == "跨境数据流动规则与个人信息保护制度的比较研究"
    assert d.authors == ("张三", "John Smith", "李四")


def test_an_abstract_after_the_reference_list_ends_it():
    """A Chinese paper's English title page after its references: the abstract is text again, not an entry."""
    from rag.ingest.cleaning import clean_document
    from rag.ingest.loading import SourceFile

    body = "第一节的正文说明了这种方法的主要思想和结论。"
    abstract = "Abstract In this article, we propose a general class of models for event data."
    entry = "[1] Wang Z. Some Problems. J. Eq., 2000, 161: 307-320"
    lines = ["某种方法的研究", "", "一、引言", body, "", "参考文献", entry, "", abstract, "More of the abstract."]
    doc = clean_document(SourceFile("a.txt", "a.txt", "\n".join(lines), "0", "utf-8"))
    assert doc.text.endswith(
        "In this article, we propose a general class of models for event data. More of the abstract."
    )
    assert [(n.label, n.text) for n in doc.footnotes] == [("1", "Wang Z. Some Problems. J. Eq., 2000, 161: 307-320")]
    assert doc.sections[-1][1] == "Abstract"


def _pdf_doc(lines: list[str]):
    from rag.ingest.loading import SourceFile

    return clean_document(SourceFile("a.pdf", "a.pdf", "\n".join(lines), "0", "pdf"))


def test_a_typed_references_heading_after_a_short_section_opens_the_list():
    """A PDF reader's "# References" right after a short acknowledgements section: its entries are
    reference entries (initial-first author-year), not body text of the acknowledgements."""
    lines = [
        "# A study of extraction",
        "",
        "# 1 Introduction",
        "The method is described in full detail in this section of the paper.",
        "",
        "# Acknowledgements",
        "This research was supported in part by a grant.",
        "# References",
        "E. Agichtein. 2005. Extracting Relations From Large",
        "Text Collections. Ph.D. thesis.",
        "M. Banko, M. Cararella, and",
        "O. Etzioni. 2007. Open information extraction. In Procs. of IJCAI 2007.",
        "R. L. Campbell, R. Banner, and M.",
        "D. Naylor. 2001. Discharge planning. Nursing, 33.",
        "",
        "# A Appendix",
        "The appendix reports the remaining results of the experiments.",
    ]
    doc = _pdf_doc(lines)
    assert [(n.section, n.text) for n in doc.footnotes] == [
        ("References", "E. Agichtein. 2005. Extracting Relations From Large Text Collections. Ph.D. thesis."),
        (
            "References",
            "M. Banko, M. Cararella, and O. Etzioni. 2007. Open information extraction. In Procs. of IJCAI 2007.",
        ),
        ("References", "R. L. Campbell, R. Banner, and M. D. Naylor. 2001. Discharge planning. Nursing, 33."),
    ]
    assert "Agichtein" not in doc.text and doc.text.endswith(
        "The appendix reports the remaining results of the experiments."
    )
    assert "This research was supported in part by a grant." in doc.text


def test_a_list_heading_said_twice_and_a_bare_number_are_no_entries():
    """ "参考文献" repeated at the list's head and a last "[3]" with no text: two entries, no empty one."""
    from rag.ingest.loading import SourceFile

    body = "第一节的正文说明了这种方法的主要思想和结论。"
    lines = ["某种方法的研究", "", "一、引言", body, "参考文献", "", "参考文献"]
    lines += ["[1] Wang Z. Some Problems. J. Eq., 2000, 161: 307-320", "[2] Li M. Minimax. Boston: B, 1996", "[3]"]
    doc = clean_document(SourceFile("a.txt", "a.txt", "\n".join(lines), "0", "utf-8"))
    assert [(n.label, n.text) for n in doc.footnotes] == [
        ("1", "Wang Z. Some Problems. J. Eq., 2000, 161: 307-320"),
        ("2", "Li M. Minimax. Boston: B, 1996"),
    ]


def test_a_number_broken_off_a_sentence_is_no_heading():
    """'4.5:1.' on its own line (a figure broken off the sentence before it) is text of the section, not a new one."""
    from rag.ingest.loading import SourceFile

    text = "\n".join(
        [
            "A guide to preparing figures for the journal",
            "",
            "2.5 Accessibility",
            "Any figure lettering has a contrast ratio of at least",
            "4.5:1.",
            "3 Supplementary Material",
            "Material that cannot be printed may be published online.",
        ]
    )
    d = clean_document(SourceFile("t.txt", "t.txt", text, "0", "utf-8"))
    assert [h for _, h in d.sections] == ["2.5 Accessibility", "3 Supplementary Material"]
    assert d.section_at(d.text.index("4.5:1.")) == "2.5 Accessibility"
