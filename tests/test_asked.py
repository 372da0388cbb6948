"""What a question asks to be counted or named (rag/answer/asked.py): read from its wording, and
whether a text names it."""

from __future__ import annotations

import pytest

from rag.answer.asked import asked_for, names_asked, wanted


@pytest.mark.parametrize(
    "question, forms",
    [
        ("How many bridges cross the river?", ("bridge", "bridges")),
        ("How many stone bridges were built before 1900?", ("bridge", "bridges")),
        ("How many bodies of water make up the lake?", ("body", "bodies")),
        ("How many more ferries carry cars?", ("ferry", "ferries")),
        ("How much rainfall does the valley get?", ("rainfall",)),
        ("What was the retail price of the lamp?", ("price",)),
        ("这座城市有几座桥梁？", ("桥梁",)),
        ("这家工厂有多少名工人？", ("工人",)),
        ("这台机器的售价是多少？", ("售价",)),
    ],
)
def test_the_counted_or_named_thing_is_read_from_the_wording(question, forms):
    assert asked_for(question).forms == forms


@pytest.mark.parametrize(
    "question",
    [
        "How many people live in the town?",  # a generic noun: a count of people is stated as "residents"
        "How much lower was the sea then?",  # a comparative asks for a difference, not a thing
        "How much did the bridge cost?",
        "How many of the towers are still standing?",
        "What term describes this kind of bridge?",  # "what X" names a category the answer does not repeat
        "Which country is the river in?",
        "这座桥是哪一年建成的？",
        "这座桥的长度分别是多少？",
    ],
)
def test_no_asked_thing_when_the_wording_does_not_say(question):
    assert asked_for(question) is None


def test_a_text_names_the_asked_thing_by_stem_unit_or_translation():
    bridges = asked_for("How many bridges cross the river?")
    assert names_asked(bridges, "Seven bridges cross it.", "en") == 1.0
    assert names_asked(bridges, "The first bridge was built in 1850.", "en") == 1.0
    assert names_asked(bridges, "The river is 300 km long.", "en") == 0.0
    distance = asked_for("How many kilometers long is the river?")
    assert names_asked(distance, "The river is 300 km long.", "en") == 1.0
    assert names_asked(distance, "The river has 300 kinds of fish.", "en") == 0.0
    # an English head is looked for in Chinese text only through the index's glossary
    assert names_asked(bridges, "河上有七座桥。", "zh") == 1.0
    glossed = asked_for("How many bridges cross the river?", {"bridge": ["桥", "桥梁"]})
    assert names_asked(glossed, "河上有七座桥。", "zh") == 1.0
    assert names_asked(glossed, "河长三百公里。", "zh") == 0.0
    # a Chinese head cannot be checked against English text: no evidence either way
    workers = asked_for("这家工厂有多少名工人？")
    assert names_asked(workers, "The factory employs 300 people.", "en") == 1.0
    assert names_asked(workers, "工厂共有工人三百名。", "zh") == 1.0
    assert names_asked(workers, "工厂占地三百亩。", "zh") == 0.0
    assert names_asked(None, "anything", "en") == 1.0


# --- the kind of answer asked for, matched against candidate spans (chooses the quote only) ---


def test_pointers_to_figures_markers_and_citations_state_no_number():
    from rag.answer.asked import states_number

    assert not states_number("Figure 3 (a) shows the progress of a normal execution.")
    assert not states_number("The objectives were to 1) quantify the effects; 2) compare profiles [28].")
    assert not states_number("如图 2 所示，见第 3 节。")
    assert states_number("The rate peaks at about 13 GB/s.")
    assert states_number("A total of forty-six adults participated.")
    assert states_number("共有三个缔约方。")
    # a small number naming a group, phase or type is a label, not an amount; a number of groups is one
    assert not states_number("Zero flow days rose for the catchments in group 1.")
    assert not states_number("Phase II began with type 2 patients.")
    assert states_number("The subjects were split into 2 groups.")
    assert states_number("Group 1 had 12 members.")


def test_a_number_right_before_the_counted_thing_counts_it():
    from rag.answer.asked import counts_asked

    metabolites = asked_for("How many known metabolites changed 1.5 fold or more?")
    assert counts_asked(metabolites, "64 known metabolites accumulated 1.5 fold.")
    assert not counts_asked(metabolites, "We compared metabolite profiles under stress.")
    days = asked_for("By how many days did the turnover days rise?")
    assert counts_asked(days, "存货周转天数同比+71天至346天。")  # a Chinese unit after a number
    assert not counts_asked(days, "存货金额同比+53.5%至123.3亿元。")
    keywords = asked_for("论文模板要求写几个关键词？")
    assert counts_asked(keywords, "应有 5-7 个关键词")
    assert not counts_asked(keywords, "不超过5个，每个关键词中间用分号分隔。")


def test_the_misfit_of_a_span_with_the_kind_of_answer_asked():
    from rag.answer.asked import answer_misfit

    q = "How many known metabolites changed?"
    a = asked_for(q)
    assert answer_misfit(q, a, "64 known metabolites accumulated.", "en") == 0.0
    assert answer_misfit(q, a, "Metabolites rose by 20 percent.", "en") == 0.5  # named, not counted
    assert answer_misfit(q, a, "Metabolites rose by 20 percent.", "en", counted_elsewhere=True) == 1.0
    assert (
        answer_misfit(q, a, "1) quantify the effects; 2) compare them.", "en") == 1.5
    )  # no number, not named: 2, capped
    assert answer_misfit("In which year was it printed?", None, "It was printed in London.", "en") == 1.0
    assert answer_misfit("In which year was it printed?", None, "It was printed in 1696.", "en") == 0.0
    assert answer_misfit("巴尔本的书是哪一年出版的？", None, "答洛克先生的意见》第7页和第53页)", "zh") == 1.0
    # a Chinese head with no English gloss cannot be checked in an English span: no penalty for naming
    assert (
        answer_misfit("最多可以录多少小节？", wanted("最多可以录多少小节？", None, None), "Up to 999 bars.", "en")
        == 0.0
    )


def test_a_which_school_question_wants_a_sentence_naming_one():
    """ "哪所学校/哪家公司": a Chinese span naming no person, place or organisation (besides the question's own)
    misfits by 1; one naming a place or an organisation fits; an English span is not judged."""
    from rag.answer.asked import answer_misfit

    q = "这份模板是哪所学校的？"
    assert answer_misfit(q, None, "本模板符合学校的格式要求。", "zh") == 1.0
    assert answer_misfit(q, None, "本文介绍珠海分校的论文模板。", "zh") == 0.0
    assert answer_misfit(q, None, "A template of a university.", "en") == 0.0
    # the place the question names itself is no answer; another one is
    assert answer_misfit("北京的这家公司是哪家？", None, "这家公司在北京。", "zh") == 1.0
    assert answer_misfit("北京的这家公司是哪家？", None, "这家公司后来迁往上海。", "zh") == 0.0
    # "哪个" asks anything: not judged
    assert answer_misfit("这是哪个方法？", None, "本方法很快。", "zh") == 0.0


def test_the_wide_reading_adds_bare_counts_and_english_glosses():
    vocab = {"bar": 0, "bars": 1, "track": 2}
    a = wanted("用它逐轨录制一首歌时最多可以录多少小节？", None, vocab)
    assert a is not None and a.head == "小节" and "bars" in a.forms
    assert asked_for("用它逐轨录制一首歌时最多可以录多少小节？") is None  # the model's feature reads as before
    assert wanted("这座桥是哪一年建成的？", None, vocab) is None


def test_the_label_a_question_asks_the_value_of():
    from rag.answer.asked import asked_label, labels_value

    assert asked_label("《复发事件下的回归模型》的中图分类号是什么？") == "中图分类号"
    assert asked_label("What is the DOI of the paper?") == "doi"
    # "X是谁" / "who is the X of" asks the person under the label X
    assert asked_label("这篇文章的作者是谁？") == "作者"
    assert asked_label("Who is the editor of the journal?") == "editor"
    assert asked_label("谁是这篇文章的作者？") == ""  # the label must come before the interrogative
    assert labels_value("作者", "作者：张某、李某")
    assert not labels_value("作者", "作者简介")  # a label without a value
    assert labels_value("中图分类号", "中图分类 O212.7")
    assert not labels_value("中图分类号", "MR(2000) 主题分类 62G05; 62N01")
    assert not labels_value("中图分类号", "中图分类")  # a label without a value
    assert labels_value("doi", "DOI: 10.1000/xyz123")
    assert not labels_value("doi", "Keywords: regression; recurrent events")


@pytest.mark.parametrize(
    "question, codes",
    [
        ("What is the first value listed for CG.B.2?", ("CG.B.2",)),
        ("Does TP53 or COVID-19 appear in 2019?", ("TP53", "COVID-19")),
        ("这种方法是用GTX680实现的吗？", ("GTX680",)),
        ("How far is 10km in the 1990s, the 2nd time?", ()),  # amounts, a decade, an ordinal
        ("What did the U.S. report in version 2.1?", ()),  # no letter and digit in one token
    ],
)
def test_the_identifiers_a_question_names_are_tokens_of_letters_and_digits(question, codes):
    from rag.answer.asked import codes_asked

    assert codes_asked(question) == codes


def test_an_identifier_is_named_only_as_a_whole_token():
    from rag.answer.asked import codes_named

    assert codes_named(("CG.B.2",), "CG.B.2 867.45 0.002") == 1
    assert codes_named(("CG.B.2",), "the row CG.B.2.") == 1  # a sentence's full stop after it
    assert codes_named(("CG.B.2",), "CG.B.20 501.61") == 0
    assert codes_named(("CG.B.2",), "cg.b.2 867.45") == 0  # written as it is: case counts
    assert codes_named(("GTX680", "TP53"), "用GTX680实现，TP53未列出") == 2
