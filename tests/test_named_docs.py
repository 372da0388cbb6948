"""Questions that name a document by its title are searched in that document alone."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rag.answer.named_docs import key, named_documents, short_name


@dataclass(frozen=True)
class Doc:
    title: str


DOCS = {
    "a.pdf": Doc("MapReduce: Simplified Data Processing on Large Clusters"),
    "b.pdf": Doc("《自动化学报》稿件加工样本"),
    "c.pdf": Doc("复发事件下一般半参数比率回归模型"),
    "d.pdf": Doc("Understanding Breast Cancer"),
    "e.pdf": Doc("Stress: a review"),  # a plain word before the colon is no name
    "f.pdf": Doc("BERT: Pre-training of Deep Bidirectional Transformers"),
}


def test_key_and_short_name():
    assert key("《Understanding  Breast-Cancer》！") == "understandingbreastcancer"
    assert short_name("MapReduce: Simplified Data Processing") == "mapreduce"
    assert short_name("BERT: Pre-training") == "bert" and short_name("GPT-4: a report") == "gpt-4"
    assert short_name("Stress: a review") == "" and short_name("No colon here") == ""


def test_whole_title_quoted_part_and_short_name_name_a_document():
    assert named_documents("《复发事件下一般半参数比率回归模型》的中图分类号是什么？", DOCS) == ["c.pdf"]
    assert named_documents("《自动化学报》的稿件有什么要求？", DOCS) == ["b.pdf"]
    assert named_documents("When was this edition of 'Understanding Breast Cancer' printed?", DOCS) == ["d.pdf"]
    assert named_documents("How many MapReduce jobs run each day?", DOCS) == ["a.pdf"]
    assert named_documents("谷歌每天执行多少个 MapReduce-style 作业？", DOCS) == ["a.pdf"]


def test_no_title_too_many_titles_or_a_short_quote_name_nothing():
    assert named_documents("What do the papers say about stress?", DOCS) == []
    assert named_documents("《学报》的要求是什么？", DOCS) == []  # two characters: too short to name a title
    assert named_documents("《网络安全法》规定了什么？", DOCS) == []  # a law cited in papers, no document's title
    many = "Compare MapReduce, 《自动化学报》 and Understanding Breast Cancer."
    assert named_documents(many, DOCS) == []  # three documents named: the whole library is asked
    assert named_documents("How many MapReduce jobs?", {"a.pdf": DOCS["a.pdf"]}) == []  # the only document
    assert named_documents("Is BERT bidirectional?", DOCS) == ["f.pdf"]


@pytest.mark.slow
def test_a_question_naming_a_title_is_answered_from_that_document(tmp_path):
    """A real index of two papers that state the same kind of fact: the named one is cited, and with
    RAG_NAMED_DOCUMENTS off the whole library is searched again."""
    from rag.answer.pipeline import Assistant
    from rag.index.store import build_index
    from rag.settings import load_settings

    corpus = tmp_path / "papers"
    corpus.mkdir()
    (corpus / "tidal.md").write_text(
        "# Tidal Energy Costs in Coastal Grids\n\nThe turbines of the tidal array are inspected every 14 months. "
        "Inspection crews travel by boat from the harbour.\n",
        encoding="utf-8",
    )
    (corpus / "wind.md").write_text(
        "# Wind Farm Maintenance Schedules\n\nThe turbines of the wind farm are inspected every 6 months. "
        "Inspection crews travel by road from the depot.\n",
        encoding="utf-8",
    )
    s = load_settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    build_index([corpus], s)
    question = "In “Tidal Energy Costs in Coastal Grids”, how often are the turbines inspected?"
    named = Assistant.open(s)
    assert named.named(question) == ["tidal.md"]
    answer = named.ask(question)
    assert {h.chunk.doc_id for h in answer.retrieved} == {"tidal.md"}
    assert "14 months" in (answer.draft if answer.abstained else answer.answer)  # its best span, quoted or not
    everywhere = Assistant.open(s.model_copy(update={"named_documents": False}))
    assert everywhere.named(question) == []
    assert {h.chunk.doc_id for h in everywhere.ask(question).retrieved} == {"tidal.md", "wind.md"}


def test_the_named_title_is_taken_out_of_the_question_searched_inside_it():
    from rag.answer.named_docs import without_titles

    titles = [DOCS["c.pdf"].title]
    assert without_titles("《复发事件下一般半参数比率回归模型》的中图分类号是什么？", titles) == "的中图分类号是什么？"
    # a quoted part of a title goes; the rest of the question stays as asked
    assert without_titles("《自动化学报》稿件末页的作者简介不能超过多少字？", [DOCS["b.pdf"].title]) == (
        "稿件末页的作者简介不能超过多少字？"
    )
    # a whole title, in any case, without quotes
    assert without_titles("How many cases were studied in understanding breast cancer?", [DOCS["d.pdf"].title]) == (
        "How many cases were studied in ?"
    )
    # a short name is kept (it names things in the text too), and nothing left means the question itself
    q = "How many MapReduce jobs run each day?"
    assert without_titles(q, [DOCS["a.pdf"].title]) == q
    assert without_titles("《复发事件下一般半参数比率回归模型》", titles) == "《复发事件下一般半参数比率回归模型》"
