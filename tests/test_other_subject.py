"""Near misses by subject and by currency: a question naming one subject answered from a passage about
another (rag/answer/other_subject.py), a sum asked in a currency answered by a sentence stating none
(rag/answer/slot_check.py money_unstated)."""

from __future__ import annotations

import pytest
from helpers import english_feature_values

from rag.answer.other_subject import subject_elsewhere, subject_names
from rag.answer.slot_check import Slot, money_unstated, slot_of, slot_unaligned, unfilled


@pytest.mark.parametrize(
    "question,names",
    [
        ("For how many years did Ann Lee work in the lab writing reports?", (("ann", "lee"),)),
        ("How large a town does Port Ellis Central serve, and where?", (("port", "ellis", "central"),)),
        ("What did Ann Lee write with Bo Chan?", (("ann", "lee"), ("bo", "chan"))),
        ("What did Ann Lee and Bo Chan write?", ()),  # "X and Y …" reads as a title: left alone
        ("Who Wrote The Report?", ()),  # opens the question: title case, not a name
        ("What does the Journal of Applied Things require?", ()),  # after an article: a title
        ("What resolution does Acme Journal of Applied Things require?", ()),  # runs on into "of X": a title
        ("How many GPUs did the IBM team use?", ()),  # an acronym is no run of capitalised words
        ("Ann Lee 在实验室工作了多少年？", ()),  # a Chinese question: Latin words are terms
    ],
)
def test_subject_names_are_runs_of_capitalised_words_after_a_lower_case_word(question, names):
    assert subject_names(question) == names


def test_a_passage_naming_no_word_of_a_name_the_document_holds_is_about_another_subject():
    q = "For how many years did Ann Lee work in the lab?"
    doc = {"ann", "lee", "bo", "chan"}.__contains__
    en = {"en"}
    assert subject_elsewhere(q, "bo chan is a specialist. he worked in the lab for nine years.", en, doc) == 1.0
    assert subject_elsewhere(q, "lee began his career in the lab 30 years ago.", en, doc) == 0.0  # one word named
    assert subject_elsewhere(q, "he worked in the lab for nine years.", en, {"ann"}.__contains__) == 0.0  # not in doc
    assert subject_elsewhere("How many years did he work in the lab?", "he worked nine years.", en, doc) == 0.0
    # a Chinese passage writes the name in Chinese (or not at all): not decided
    assert subject_elsewhere(q, "他在实验室工作了九年。", {"zh"}, doc) == 0.0
    assert subject_elsewhere(q, "他在实验室工作了九年。 he worked.", {"zh", "en"}, doc) == 0.0


def test_a_sum_asked_in_a_currency_needs_a_sum_in_the_text():
    q = "这项检查估算的每架飞机费用是多少美元？"
    assert money_unstated(q, "Docket No. FAA-2020-0686, 14 CFR Part 39, issued 2018.") == 1.0  # numbers, no sum
    assert money_unstated(q, "1 work-hour × $85 per hour = $85") == 0.0
    assert money_unstated(q, "每架飞机约需300万美元。") == 0.0
    assert money_unstated(q, "The cost is 2.5 million dollars per airplane.") == 0.0
    assert money_unstated(q, "Fees are USD 40 a page.") == 0.0
    assert money_unstated("How many dollars did the repair cost?", "It took 40 hours.") == 1.0
    assert money_unstated("How many hours did the repair take?", "It took 40 hours.") == 0.0  # no currency asked
    assert unfilled(None, q, "It was issued in 2018.", "en") == 1.0


def test_a_latin_count_noun_in_a_chinese_question_is_a_slot_of_either_language():
    slot = slot_of("该模型在这个数据集上训练时使用了多少块 GPU？")
    assert slot == Slot("any", (("gpu",),))
    assert slot_unaligned(slot, "It was trained on three data sets of 395k, 113k and 1M samples.", "en") == 1.0
    assert slot_unaligned(slot, "Training took two days on 8 GPUs.", "en") == 0.0
    assert slot_unaligned(slot, "训练使用了8块GPU。", "zh") == 0.0


def test_a_charge_is_a_measure_phrase():
    slot = slot_of("What article processing charge does the journal ask authors to pay?")
    assert slot is not None and [w[0] for w in slot.words] == ["article", "processing", "charge"]
    assert slot_unaligned(slot, "Please provide an abstract of 100 to 250 words.", "en") == 1.0


def test_the_veto_fires_on_the_fixture_index(assistant):
    def fired(question: str) -> list[float]:
        return english_feature_values(assistant, question, "slot_unaligned")

    assert fired("How many dollars did the repair ships charge to restore the cables in 2008?") == [1.0]
    q = "When was the committee that guards cables near Mediterranean Sea founded?"
    assert fired(q) == [0.0, 1.0]  # the governance passage never names the sea the incidents passage does
