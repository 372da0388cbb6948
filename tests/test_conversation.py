"""Follow-up rewriting without an LLM: pronouns, ellipsis and subject-less questions take the
conversation's subject; self-contained questions pass through; an LLM rewriter plugs in."""

from __future__ import annotations

import pytest

from rag.answer.conversation import (
    CallableRewriter,
    HeuristicRewriter,
    Turn,
    make_rewriter,
    rewrite_question,
    subject_of,
)
from rag.settings import load_settings

WIC = Turn("世界互联网大会国际组织总部设在哪里？", "世界互联网大会国际组织总部设在哪里？", "总部设在中国北京。[1]")
ICPC = Turn(
    "When was the International Cable Protection Committee founded?",
    "When was the International Cable Protection Committee founded?",
    "It was founded in 1958.[1]",
)


@pytest.mark.parametrize(
    "question,query,mode",
    [
        ("它是哪一年成立的？", "世界互联网大会国际组织是哪一年成立的？", "substitute"),
        ("该组织有多少会员？", "世界互联网大会国际组织有多少会员？", "substitute"),
        ("其宗旨是什么？", "世界互联网大会国际组织的宗旨是什么？", "substitute"),
        ("这个组织由谁发起？", "世界互联网大会国际组织由谁发起？", "substitute"),
        ("什么时候成立的？", "世界互联网大会国际组织什么时候成立的？", "prepend"),
        ("那ICANN呢？", "ICANN总部设在哪里？", "replace"),
        # self-contained questions are left alone
        ("ICANN是什么时候成立的？", "ICANN是什么时候成立的？", "none"),
        ("数据治理是什么？", "数据治理是什么？", "none"),
        ("哪个组织的总部设在北京？", "哪个组织的总部设在北京？", "none"),
    ],
)
def test_chinese_follow_ups(question, query, mode):
    rw = rewrite_question(question, [WIC])
    assert (rw.query, rw.mode) == (query, mode)
    assert rw.question == question
    assert rw.rewritten is (mode != "none")


@pytest.mark.parametrize(
    "question,query,mode",
    [
        ("When was it founded?", "When was the International Cable Protection Committee founded?", "substitute"),
        ("Who are its members?", "Who are the International Cable Protection Committee's members?", "substitute"),
        ("What does this committee do?", "What does the International Cable Protection Committee do?", "substitute"),
        (
            "Where is the headquarters?",
            "the International Cable Protection Committee: Where is the headquarters?",
            "prepend",
        ),
        ("What about the ITU?", "When was the ITU founded?", "replace"),
        (
            "How many parties does the Budapest Convention have?",
            "How many parties does the Budapest Convention have?",
            "none",
        ),
        ("Who founded ICANN and when was it created?", "Who founded ICANN and when was it created?", "none"),
        ("What is data governance?", "What is data governance?", "none"),
    ],
)
def test_english_follow_ups(question, query, mode):
    rw = rewrite_question(question, [ICPC])
    assert (rw.query, rw.mode) == (query, mode)


def test_no_history_means_no_rewrite():
    rw = rewrite_question("它是哪一年成立的？", [])
    assert (rw.query, rw.mode, rw.rewritten) == ("它是哪一年成立的？", "none", False)


def test_subject_comes_from_the_answer_when_the_question_asked_which():
    prev = Turn("哪个组织的总部设在北京？", "哪个组织的总部设在北京？", "世界互联网大会国际组织总部设在中国北京。[1]")
    assert subject_of(prev) == "世界互联网大会国际组织"
    assert rewrite_question("它是哪一年成立的？", [prev]).query == "世界互联网大会国际组织是哪一年成立的？"


def test_chains_use_the_rewritten_query_of_the_last_turn():
    second = Turn("它是哪一年成立的？", "世界互联网大会国际组织是哪一年成立的？", "2022年7月12日正式成立。[1]")
    assert rewrite_question("它有多少会员？", [WIC, second]).query == "世界互联网大会国际组织有多少会员？"


def test_without_a_clear_subject_the_previous_key_terms_are_appended():
    prev = Turn(
        "What share of intercontinental traffic uses submarine cables?",
        "What share of intercontinental traffic uses submarine cables?",
        "About 95 percent.[1]",
    )
    rw = rewrite_question("When were they first laid?", [prev])
    assert rw.mode == "append"
    assert rw.query == "When were they first laid? share intercontinental traffic uses submarine cables"


def test_llm_hook_is_used_and_falls_back_on_failure():
    calls = []

    def llm(question, history):
        calls.append((question, [t.query for t in history]))
        return "ICPC founding year"

    rw = make_rewriter(load_settings(), llm=llm).rewrite("When was it founded?", [ICPC])
    assert (rw.query, rw.mode) == ("ICPC founding year", "llm")
    assert calls == [("When was it founded?", [ICPC.query])]

    def broken(question, history):
        raise TimeoutError("endpoint down")

    rw = CallableRewriter(broken).rewrite("When was it founded?", [ICPC])
    assert (rw.query, rw.mode) == ("When was the International Cable Protection Committee founded?", "substitute")
    assert isinstance(make_rewriter(load_settings()), HeuristicRewriter)


def test_follow_up_retrieves_with_the_conversation_subject(assistant):
    """The same follow-up is answered from whichever organisation the conversation is about."""
    follow_up = "它是哪一年成立的？"
    for first, expect, other in [
        ("新加坡个人数据保护委员会负责执行哪部法律？", "新加坡个人数据保护委员会成立于2012年", "国际电信联盟"),
        ("国际电信联盟成立了什么焦点组？", "国际电信联盟于2019年成立了", "新加坡"),
    ]:
        a1 = assistant.ask(first)
        turn = Turn(first, first, a1.answer, a1.abstained)
        rw = rewrite_question(follow_up, [turn])
        answer = assistant.ask(rw.query)
        assert answer.citations[0].quote.startswith(expect)
        assert other not in answer.answer
