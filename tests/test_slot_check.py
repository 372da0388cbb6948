"""The measure phrase a quantity question asks to be filled, and whether a sentence names it: the answer
model's veto against near-miss answers (rag/answer/slot_check.py)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import english_feature_values

from rag.answer.answer_model import load_model
from rag.answer.evidence import FEATURES
from rag.answer.slot_check import Slot, kind_unnamed, narrowings, slot_of, slot_unaligned


@pytest.mark.parametrize(
    "question,words",
    [
        ("How many watts does the GPU implementation consume?", [("watts", "watt")]),
        ("How many TPU hours were used to pre-train the model?", [("tpu",), ("hours", "hour")]),
        ("How large was the annual budget that the ministry gave the hospital?", [("annual",), ("budget",)]),
        ("What was the mean age of the focus group participants?", [("age",)]),  # "mean": the statistic
        ("How much electricity did the cluster consume?", [("electricity",)]),
        ("By how much did grain protein content fall under heat stress?", [("grain",), ("protein",), ("content",)]),
        ("What five-year survival rate does the booklet report?", [("five-year", "5-year", "5 year"), ("survival",)]),
        ("这家企业第三季度的研发费用是多少？", [("研发",), ("费用",)]),
        ("谢尔人口有多少？", [("人口",)]),  # without 的: the last word only
        ("机场的投资金额是多少？", [("投资",)]),  # 金额: amount in general
        ("《某学报》的版面费是多少？", [("版面费",)]),
    ],
)
def test_slot_of_reads_the_measure_phrase(question, words):
    slot = slot_of(question)
    assert slot is not None and list(slot.words) == words


@pytest.mark.parametrize(
    "question",
    [
        "What is the name of the river?",  # asks a name, not a measure
        "How many people live there?",  # a generic count: a sentence says "15 participants"
        "How much lower was the sea than it is today?",  # a comparative names nothing
        "On which GPU did it run, and how many frames per second did it reach?",  # one ask of two
        "When was the committee founded?",
        "这个城市在哪里？",
    ],
)
def test_questions_without_a_slot(question):
    assert slot_of(question) is None


def test_slot_unaligned_needs_every_word_in_the_questions_language():
    slot = slot_of("How large was the annual budget that the ministry gave the hospital?")
    assert slot_unaligned(slot, "The hospital is a tertiary referral hospital with 900 beds.", "en") == 1.0
    assert slot_unaligned(slot, "Its budget was 2 million dollars in 2010.", "en") == 1.0  # "annual" unnamed
    assert slot_unaligned(slot, "The annual budgets were 2 million dollars.", "en") == 0.0  # a word start
    assert slot_unaligned(slot, "医院的年度预算为200万元。", "zh") == 0.0  # another language: not decided
    assert slot_unaligned(None, "anything", "en") == 0.0


def test_a_unit_symbol_after_a_number_names_the_head():
    slot = slot_of("How many watts does the GPU consume?")
    assert slot == Slot("en", (("watts", "watt"),), ("w", "kw", "mw"))
    assert slot_unaligned(slot, "The board draws 45 W at full load.", "en") == 0.0
    assert slot_unaligned(slot, "The board draws 45 ms at full load.", "en") == 1.0
    rate = slot_of("What five-year survival rate does the booklet report?")
    assert slot_unaligned(rate, "Survival at ten years was 70%.", "en") == 1.0  # another period
    assert slot_unaligned(rate, "The 5-year survival is 85%.", "en") == 0.0  # "five" as a digit
    assert slot_unaligned(rate, "Survival after 5 years was 85%.", "en") == 0.0


def test_chinese_slot_is_the_phrase_after_the_last_de():
    slot = slot_of("这家服装企业第三季度的研发费用是多少？")
    assert slot_unaligned(slot, "销售费用同比+16.0%至9.6亿元。", "zh") == 1.0  # another cost
    assert slot_unaligned(slot, "研发费用同比增长3%至1.2亿元。", "zh") == 0.0


def test_the_shipped_model_vetoes_an_unaligned_slot():
    model = load_model()
    assert model.vetoes == ("slot_unaligned",)
    x = np.zeros((2, len(FEATURES)), np.float32)
    x[:, FEATURES.index("dense")] = 0.9
    x[1, FEATURES.index("slot_unaligned")] = 1.0
    p = model.probability(x, FEATURES)
    assert p[0] > 0 and p[1] == 0.0


def test_slot_unaligned_feature_on_the_fixture_index(assistant):
    def fired(question: str) -> list[float]:
        return english_feature_values(assistant, question, "slot_unaligned")

    assert fired("How many watts do the repair ships use?") == [1.0]  # no English span names watts
    assert fired("When was the International Cable Protection Committee founded?") == [0.0]  # no slot


def test_narrowings_are_adjacent_lower_case_words_of_a_quantity_question():
    q = "How many participants in the life events study developed frontotemporal dementia?"
    slot = slot_of(q)
    assert slot is not None
    assert narrowings(q, slot) == (  # "participants in the life": no pair across a stop word
        ("life", "events"),
        ("events", "study"),
        ("study", "developed"),
        ("developed", "frontotemporal"),
        ("frontotemporal", "dementia"),
    )
    assert narrowings("When was the Internet Cable Committee founded?", None) == ()  # no slot: no quantity asked
    assert narrowings("这家企业的研发费用是多少？", slot_of("这家企业的研发费用是多少？")) == ()  # English only
    # names (capitalised), statistic and asking words and adverbs are not read
    q = "How many Kenyan runners won the mean total prize?"
    assert narrowings(q, slot_of(q)) == (("runners", "won"),)
    q = "How many vessels were badly damaged?"
    assert narrowings(q, slot_of(q)) == ()


def test_kind_unnamed_needs_a_modifier_the_library_lacks_before_a_head_the_document_names():
    pairs = (("frontotemporal", "dementia"), ("life", "events"))
    library = {"life", "events", "dementia"}.__contains__
    assert kind_unnamed(pairs, library, {"dementia"}.__contains__) == 1.0
    assert kind_unnamed(pairs, library, {"life"}.__contains__) == 0.0  # the document never names the head either
    known = {"life", "events", "dementia", "frontotemporal"}.__contains__
    assert kind_unnamed(pairs, known, {"dementia"}.__contains__) == 0.0  # a word the library uses: paraphrase
    assert kind_unnamed((), library, {"dementia"}.__contains__) == 0.0


def test_a_kind_the_library_never_names_vetoes_the_documents_spans(assistant):
    def fired(question: str) -> list[float]:
        return english_feature_values(assistant, question, "slot_unaligned")

    # "transoceanic" is in no passage of the library, "cables" is in the notes: every English span is ruled out,
    # also the one naming the slot ("Repair ships needed about two weeks…")
    assert fired("How many repair ships restored the transoceanic cables?") == [1.0]
    # a word the notes use, or none: only the spans that leave the slot unnamed
    assert fired("How many repair ships restored the transatlantic cables?") == [0.0, 1.0]
    assert fired("How many repair ships restored the cables?") == [0.0, 1.0]


def test_a_nearly_as_likely_span_that_fills_the_slot_is_quoted_instead():
    from dataclasses import replace

    model = load_model()
    assert model.veto_margin == 2.0
    col, dense = FEATURES.index("slot_unaligned"), FEATURES.index("dense")
    x = np.zeros((3, len(FEATURES)), np.float32)
    x[:, dense] = [0.95, 0.9, 0.2]
    x[0, col] = 1.0  # the likeliest span leaves the slot unnamed
    plain = replace(model, vetoes=()).probability(x, FEATURES)
    assert plain[0] > plain[1] > plain[2]
    z = np.log(plain / (1 - plain))
    assert z[0] - z[1] < 2.0  # within the margin
    p = model.probability(x, FEATURES)
    # answered as before, the filling span quoted
    assert p.tolist() == pytest.approx([0.0, plain[0], plain[2]], rel=1e-12)
    hard = replace(model, veto_margin=None).probability(x, FEATURES)
    assert hard.tolist() == pytest.approx([0.0, plain[1], plain[2]], rel=1e-12)
    far = replace(model, veto_margin=float(z[0] - z[1]) / 2).probability(x, FEATURES)
    assert far.tolist() == pytest.approx([0.0, plain[1], plain[2]], rel=1e-12)  # not nearly as likely: no transfer
    # rows of two questions: each question decided on its own
    both = model.probability(np.vstack([x, x[1:2]]), FEATURES, np.array([0, 0, 0, 1]))
    assert both.tolist() == pytest.approx([0.0, plain[0], plain[2], plain[1]], rel=1e-12)
