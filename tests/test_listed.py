"""Numbered lists a question asks the items of (rag/answer/listed.py), questions about what a paper cites,
and the quote chosen for them (rag/answer/generation.py ``_naming_asked``). The sentences are made up."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rag.answer.generation import RankedSpan, _naming_asked
from rag.answer.listed import numbered_list, spells_out


@pytest.mark.parametrize(
    "question, name",
    [
        ("该委员会提出的“三项标准”具体是什么？", "三项标准"),
        ("报告中的五个步骤分别是什么？", "五个步骤"),
        ("作者把研究分为哪两个阶段？", "两个阶段"),
        ("这座城市有哪些公园？", ""),  # no number: not a numbered list
        ("该馆有一个展厅具体是什么？", ""),  # one item is no list
        ("What are the three standards?", ""),  # Chinese wording only
    ],
)
def test_the_numbered_list_a_question_asks_the_items_of(question, name):
    assert numbered_list(question) == name


def test_a_span_spells_out_the_list_when_it_names_it_and_holds_a_series():
    assert spells_out("三项标准", "会议确定了安全可靠、公开透明和便于使用三项标准。")
    assert spells_out("三项标准", "三项标准：安全可靠、公开透明、便于使用。")
    assert not spells_out("三项标准", "会议提出了“三项标准”和“两点建议”。")  # named, not listed
    assert not spells_out("三项标准", "报告讨论了背景、原则、路径和架构。")  # a series of something else
    assert not spells_out("", "安全可靠、公开透明和便于使用。")


def _ranked(*texts_p: tuple[str, float]) -> list[RankedSpan]:
    return [
        RankedSpan(SimpleNamespace(hit=i, text=t), p, frozenset())  # type: ignore[arg-type]
        for i, (t, p) in enumerate(texts_p)
    ]


def test_the_sentence_that_lists_the_items_is_quoted_before_the_likelier_one_that_names_the_list():
    ranked = _ranked(
        ("委员会针对不足提出了“三项标准”和“两点建议”。", 0.95),
        ("报告讨论了背景、原则、路径和架构。", 0.80),
        ("委员会确定了安全可靠、公开透明和便于使用三项标准。", 0.55),
    )
    ev = SimpleNamespace(
        question=SimpleNamespace(normalized="委员会提出的“三项标准”具体是什么？"), wanted=None, hits=[]
    )
    assert _naming_asked(ev, ranked).text == "委员会确定了安全可靠、公开透明和便于使用三项标准。"  # type: ignore[arg-type]
    # a question not asking the list's items keeps the likeliest span
    ev = SimpleNamespace(question=SimpleNamespace(normalized="委员会提出了什么？"), wanted=None, hits=[])
    assert _naming_asked(ev, ranked).text == "委员会针对不足提出了“三项标准”和“两点建议”。"  # type: ignore[arg-type]
    # a listing span far less likely (beyond the misfit's 3 in log-odds) is not quoted
    far = _ranked((ranked[0].text, 0.99), (ranked[2].text, 0.30))
    ev = SimpleNamespace(
        question=SimpleNamespace(normalized="委员会提出的“三项标准”具体是什么？"), wanted=None, hits=[]
    )
    assert _naming_asked(ev, far).text == "委员会针对不足提出了“三项标准”和“两点建议”。"  # type: ignore[arg-type]


def test_a_question_about_what_the_paper_cites_quotes_the_note_before_a_likelier_body_sentence():
    ranked = _ranked(
        ("2010年，该部长在访问时指出，合作不应受到干扰。", 0.90),
        ("某部长：《携手合作共创未来：在某国议会的演讲》，某网，2010年5月。", 0.62),
    )
    hits = [SimpleNamespace(chunk=SimpleNamespace(kind=k, text="")) for k in ("body", "reference")]
    ev = SimpleNamespace(
        question=SimpleNamespace(normalized="该部长的这段论述，脚注注明出自哪篇演讲？"), wanted=None, hits=hits
    )
    assert _naming_asked(ev, ranked).text.startswith("某部长：《携手合作")  # type: ignore[arg-type]
    # the same candidates for a question not about what the paper cites: the likelier body sentence
    ev = SimpleNamespace(question=SimpleNamespace(normalized="该部长在访问时指出了什么？"), wanted=None, hits=hits)
    assert _naming_asked(ev, ranked).text.startswith("2010年，该部长")  # type: ignore[arg-type]
    # no note among the candidates: nothing to prefer
    body = [SimpleNamespace(chunk=SimpleNamespace(kind="body", text=""))] * 2
    ev = SimpleNamespace(
        question=SimpleNamespace(normalized="该部长的这段论述，脚注注明出自哪篇演讲？"), wanted=None, hits=body
    )
    assert _naming_asked(ev, ranked).text.startswith("2010年，该部长")  # type: ignore[arg-type]
