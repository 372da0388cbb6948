"""Extractive answers: every sentence cited, quotes verbatim, abstention, the fixed JSON record."""

from __future__ import annotations

import re

import pytest

from rag.answer.generation import ABSTAIN, ExtractiveGenerator
from rag.answer.pipeline import Assistant
from rag.errors import InvalidInputError


def test_answer_sentences_are_cited_and_quotes_verbatim(assistant):
    ans = assistant.ask("墨子号卫星是什么时候发射的？")
    assert not ans.abstained
    assert "2016年8月" in ans.answer
    sentences = [s for s in re.split(r"(?<=\])", ans.answer) if s.strip()]
    assert all(re.search(r"\[\d+\]$", s) for s in sentences)
    marks = {int(n) for n in re.findall(r"\[(\d+)\]", ans.answer)}
    assert marks == {c.n for c in ans.citations}
    for c in ans.citations:
        assert c.quote in c.text
        assert c.quote in ans.answer
        assert c.chunk_id in {h.chunk.chunk_id for h in ans.retrieved}
    assert ans.citations[0].doc == "gbk_paper.txt"
    assert ans.citations[0].title == "量子通信网络的标准化进程"


def test_json_record_shape(assistant):
    d = assistant.ask("How long did repair ships need after the 2008 cable cuts?", k=4).to_dict()
    assert list(d) == [
        "question",
        "answer",
        "abstained",
        "citations",
        "retrieved",
        "timings_ms",
        "generator",
        "confidence",
        "support",
    ]
    assert d["support"] and all(
        s == {"sentence": s["sentence"], "citations": s["citations"], "score": 1.0, "supported": True}
        for s in d["support"]
    )  # extractive sentences are quotes
    assert [n for s in d["support"] for n in s["citations"]] and all(s["sentence"] in d["answer"] for s in d["support"])
    assert set(d["citations"][0]) == {
        "n",
        "doc",
        "title",
        "section",
        "chunk_id",
        "text",
        "quote",
        "score",
        "page",
        "bib",
        "refs",
    }
    assert [r["rank"] for r in d["retrieved"]] == [1, 2, 3, 4]
    assert set(d["retrieved"][0]) == {"rank", "doc", "chunk_id", "text", "score"}
    assert set(d["timings_ms"]) == {"retrieve", "generate", "total"}
    assert "two weeks" in d["answer"]


def test_abstains_below_threshold_in_the_questions_language(fixture_settings):
    strict = Assistant.open(fixture_settings.model_copy(update={"abstain_threshold": 5.0}))
    zh = strict.ask("火星上有多少座城市？")
    assert zh.abstained and zh.answer == ABSTAIN["zh"] == "资料中没有找到答案。"
    assert zh.citations == () and len(zh.retrieved) == 5  # closest passages still offered
    en = strict.ask("How many cities are on Mars?")
    assert en.abstained and en.answer == "The sources do not answer this."


def test_bad_questions_get_clear_errors(assistant):
    with pytest.raises(InvalidInputError, match="empty"):
        assistant.ask("   ")
    with pytest.raises(InvalidInputError, match="keep it under 2000"):
        assistant.ask("问" * 2001)


def _scored(hit_i, start, end, p, groups, text=None):
    from rag.answer.evidence import Span
    from rag.answer.generation import RankedSpan

    return RankedSpan(Span(hit_i, start, end, text or f"第{hit_i}段第{start}句。", (start,)), p, frozenset(groups))


def test_selection_takes_the_likeliest_then_spans_with_new_question_terms():
    from types import SimpleNamespace

    from rag.answer.answer_model import load_model

    ev = SimpleNamespace(
        question=SimpleNamespace(lang="zh"),
        groups=[(("甲",), 1.0), (("乙",), 1.0), (("丙",), 1.0), (("丁",), 1.0)],
        asked=None,
    )
    model = load_model()
    gen = ExtractiveGenerator(threshold=0.5, cross_threshold=0.5, model=model, min_new_terms=0.2)
    extra = model.extra_threshold
    ranked = [
        _scored(0, 0, 6, 0.9, {0, 1}),
        _scored(0, 6, 12, 0.89, {0, 1}),  # the same terms again: skipped
        _scored(1, 0, 6, max(extra, 0.6), {2}),
        _scored(2, 0, 6, extra - 0.01, {3}),
    ]  # too unlikely: skipped
    assert [(x.span.hit, x.span.start) for x in gen.select(ev, ranked)] == [(0, 0), (1, 0)]
    assert len(ExtractiveGenerator(max_sentences=1, threshold=0.5, model=model).select(ev, ranked)) == 1
    # the best is below the threshold: nothing is selected, so the generator refuses
    assert ExtractiveGenerator(threshold=0.95, cross_threshold=0.95, model=model).select(ev, ranked) == []


def test_a_span_naming_what_is_counted_is_quoted_first_but_never_decides_a_refusal():
    """'How many X': once the best span clears the threshold, a span naming X beats a likelier one that
    gives a number of something else unless that one is much likelier (2 in log-odds); the cue never
    refuses and never answers on its own."""
    from types import SimpleNamespace

    from rag.answer.answer_model import load_model
    from rag.answer.asked import asked_for

    ev = SimpleNamespace(
        question=SimpleNamespace(lang="en"),
        groups=[(("bridges",), 1.0)],
        asked=asked_for("How many bridges cross the river?"),
    )
    gen = ExtractiveGenerator(threshold=0.7, cross_threshold=0.7, model=load_model(), max_sentences=1)
    other = _scored(0, 0, 30, 0.9, {0}, "The river is 300 km long.")  # log-odds 2.20
    naming = _scored(1, 0, 30, 0.6, {0}, "Seven bridges cross the river.")  # 0.41 > 2.20 - 2
    assert [c.text for c in gen.select(ev, [other, naming])] == ["Seven bridges cross the river."]
    much_likelier = _scored(0, 0, 30, 0.99, {0}, "The river is 300 km long.")  # 4.60 - 2 > 0.41
    assert [c.text for c in gen.select(ev, [much_likelier, naming])] == ["The river is 300 km long."]
    unlikely = _scored(1, 0, 30, 0.4, {0}, "Seven bridges cross the river.")  # -0.41 < 0.20
    assert [c.text for c in gen.select(ev, [other, unlikely])] == ["The river is 300 km long."]
    # the best span below the threshold: refused, whatever the others name
    assert gen.select(ev, [_scored(0, 0, 30, 0.65, {0}, "The river is 300 km long."), naming]) == []
    ev.asked = None  # nothing asked for: the likeliest span
    assert [c.text for c in gen.select(ev, [other, naming])] == ["The river is 300 km long."]


def test_anaphoric_sentence_is_quoted_with_its_antecedent(shared_assistant):
    ans = shared_assistant.ask("《布达佩斯网络犯罪公约》目前有多少个缔约方？")
    assert not ans.abstained and "78" in ans.answer
    quote = next(c.quote for c in ans.citations if "78" in c.quote)
    assert quote.startswith("在法律实践方面") and "该公约共有78个缔约方" in quote  # 该公约 is resolved in the quote
    assert ans.answer.count("[1]") == 2  # each sentence of the quoted span carries its mark


def test_answers_carry_the_model_confidence(assistant):
    ans = assistant.ask("墨子号卫星是什么时候发射的？")
    assert 0.0 < ans.confidence <= 1.0 and ans.to_dict()["confidence"] == round(ans.confidence, 4)
    assert ans.confidence >= assistant.generator.threshold
