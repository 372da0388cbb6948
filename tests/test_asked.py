"""What a question asks to be counted or named (rag/answer/asked.py): read from its wording, and
whether a text names it."""

from __future__ import annotations

import pytest

from rag.answer.asked import asked_for, names_asked


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
