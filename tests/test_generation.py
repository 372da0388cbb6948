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
        question=SimpleNamespace(lang="zh", normalized="甲乙丙丁？"),
        groups=[(("甲",), 1.0), (("乙",), 1.0), (("丙",), 1.0), (("丁",), 1.0)],
        wanted=None,
        passages=[],  # no table passage: no row of a table to quote
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
    """'How many X': once the best span clears the threshold, a span giving a number of X beats a likelier one
    that gives a number of something else (1.5 misfits: X not named, .5 more as another span counts X; 2 in
    log-odds each) unless that one is much likelier; the cue never refuses and never answers on its own."""
    from types import SimpleNamespace

    from rag.answer.answer_model import load_model
    from rag.answer.asked import asked_for

    question = "How many bridges cross the river?"
    ev = SimpleNamespace(
        question=SimpleNamespace(lang="en", normalized=question),
        groups=[(("bridges",), 1.0)],
        wanted=asked_for(question),
        passages=[],
    )
    gen = ExtractiveGenerator(threshold=0.7, cross_threshold=0.7, model=load_model(), max_sentences=1)
    other = _scored(0, 0, 30, 0.9, {0}, "The river is 300 km long.")  # log-odds 2.20 - 3 = -0.80
    naming = _scored(1, 0, 30, 0.6, {0}, "Seven bridges cross the river.")  # 0.41
    assert [c.text for c in gen.select(ev, [other, naming])] == ["Seven bridges cross the river."]
    much_likelier = _scored(0, 0, 30, 0.99, {0}, "The river is 300 km long.")  # 4.60 - 3 > 0.41
    assert [c.text for c in gen.select(ev, [much_likelier, naming])] == ["The river is 300 km long."]
    unlikely = _scored(1, 0, 30, 0.25, {0}, "Seven bridges cross the river.")  # -1.10 < -0.80
    assert [c.text for c in gen.select(ev, [other, unlikely])] == ["The river is 300 km long."]
    # the best span below the threshold: refused, whatever the others name
    assert gen.select(ev, [_scored(0, 0, 30, 0.65, {0}, "The river is 300 km long."), naming]) == []
    # nothing asked for by name, and both state a number: the likeliest span
    ev.wanted = None
    assert [c.text for c in gen.select(ev, [other, naming])] == ["The river is 300 km long."]


def test_a_span_stating_no_number_is_not_quoted_for_a_number_when_one_nearly_as_likely_does():
    """A question asking a quantity ("at what rate"): a span that points at a figure but states no quantity
    gives way to one nearly as likely stating a number (2 in log-odds); a much likelier one keeps its place."""
    from types import SimpleNamespace

    from rag.answer.answer_model import load_model

    question = "At what rate does reading input peak?"
    ev = SimpleNamespace(
        question=SimpleNamespace(lang="en", normalized=question), groups=[(("rate",), 1.0)], wanted=None, passages=[]
    )
    gen = ExtractiveGenerator(threshold=0.7, cross_threshold=0.7, model=load_model(), max_sentences=1)
    pointer = _scored(0, 0, 30, 0.93, {0}, "Figure 3 (a) shows the progress of the input rate.")  # 2.59 - 2
    stated = _scored(0, 40, 70, 0.8, {0}, "The rate peaks at about 13 GB/s.")  # 1.39
    assert [c.text for c in gen.select(ev, [pointer, stated])] == ["The rate peaks at about 13 GB/s."]
    likelier = _scored(0, 0, 30, 0.99, {0}, "Figure 3 (a) shows the progress of the input rate.")  # 4.60 - 2
    assert [c.text for c in gen.select(ev, [likelier, stated])] == [likelier.text]


def test_a_span_whose_passage_names_the_asked_identifier_is_quoted_before_a_nearly_as_likely_one():
    """A question naming an identifier ("CG.B.2"): a span of a passage that never names it gives way to one nearly
    as likely whose passage does (2 in log-odds), also a sentence referring back to it; a much likelier one stays."""
    from types import SimpleNamespace

    from rag.answer.answer_model import load_model

    question = "In the template's long table example, what is the first value listed for CG.B.2?"
    about = "本文介绍论文模板的使用方法。"
    row = "CG.A.2 23.05 0.002 CG.B.2 867.45 0.002 CG.B.4 501.61"
    hits = [SimpleNamespace(chunk=SimpleNamespace(kind="body", text=t)) for t in (about, row)]
    ev = SimpleNamespace(
        question=SimpleNamespace(lang="en", normalized=question), groups=[(("table",), 1.0)], wanted=None, hits=hits
    )
    ev.passages = []
    ev.retriever = SimpleNamespace(index=SimpleNamespace(glossary={}))  # no dictionary: the off-topic check stays out
    gen = ExtractiveGenerator(threshold=0.7, cross_threshold=0.7, model=load_model(), max_sentences=1)
    abstract = _scored(0, 0, 14, 0.816, {0}, about)  # log-odds 1.49 - 2
    named = _scored(1, 0, 52, 0.795, {0}, row)  # 1.36
    assert [c.text for c in gen.select(ev, [abstract, named])] == [row]
    likelier = _scored(0, 0, 14, 0.97, {0}, about)  # 3.48 - 2 > 1.36
    assert [c.text for c in gen.select(ev, [likelier, named])] == [about]
    # the passage names it, the sentence refers back to it: not a miss
    ev.hits = [SimpleNamespace(chunk=SimpleNamespace(kind="body", text=about + " CG.B.2 is the second row.")), hits[1]]
    assert [c.text for c in gen.select(ev, [abstract, named])] == [about]
    # a question naming no identifier: the likeliest span
    ev.question = SimpleNamespace(lang="en", normalized="What is the first value listed in the long table?")
    ev.hits = hits
    assert [c.text for c in gen.select(ev, [abstract, named])] == [about]


def test_a_front_matter_line_under_the_asked_label_is_quoted():
    """ "…的中图分类号是什么": the page-1 line "中图分类 O212.7" is quoted alone, before a likelier abstract sentence;
    the same line in a body passage is not preferred (only lines of front matter are label: value)."""
    from types import SimpleNamespace

    from rag.answer.answer_model import load_model

    question = "《某论文》的中图分类号是什么？"
    hits = [SimpleNamespace(chunk=SimpleNamespace(kind="body")), SimpleNamespace(chunk=SimpleNamespace(kind="front"))]
    ev = SimpleNamespace(
        question=SimpleNamespace(lang="zh", normalized=question),
        groups=[(("论文",), 1.0)],
        wanted=None,
        hits=hits,
        passages=[],
    )
    gen = ExtractiveGenerator(threshold=0.7, cross_threshold=0.7, model=load_model(), max_sentences=1)
    abstract = _scored(0, 0, 30, 0.9, {0}, "本文研究了一个回归模型中参数的估计问题。")
    line = _scored(1, 0, 12, 0.1, set(), "中图分类 O212.7")
    assert [c.text for c in gen.select(ev, [abstract, line])] == ["中图分类 O212.7"]
    # the line is the whole answer: no further span is added for the question's other terms
    three = ExtractiveGenerator(threshold=0.7, cross_threshold=0.7, model=load_model(), max_sentences=3)
    assert [c.text for c in three.select(ev, [abstract, line])] == ["中图分类 O212.7"]
    ev.hits = [hits[0], hits[0]]
    assert [c.text for c in gen.select(ev, [abstract, line])] == [abstract.text]
    # a body line: the likeliest span first, then the line for nothing new (no question term it adds)
    assert [c.text for c in three.select(ev, [abstract, line])] == [abstract.text]


def test_the_front_matter_line_dating_the_asked_event_is_quoted():
    """ "When did the journal receive the paper": the page-1 line "本文…收到" (a date and the event) is quoted
    alone over a likelier title-bearing passage, in either language; a line dating another event, a dated line of a
    body passage, or a question asking no date leave the likeliest span."""
    from types import SimpleNamespace

    from rag.answer.answer_model import load_model
    from rag.answer.dated_lines import asked_event, dates_event

    assert asked_event("When did the journal receive the paper on rate models?") != ""
    assert asked_event("该文是什么时候收稿的？") != ""
    assert asked_event("Who received the paper?") == ""  # no date asked
    assert asked_event("When was the cable laid?") == ""  # no publishing event
    received = asked_event("When was the manuscript received?")
    assert dates_event(received, "Received: 12 March 2019; Accepted: 3 May 2019")
    assert dates_event(received, "本文 2019 年 3 月 2 日收到. 2019 年 8 月 5 日收到修改稿.")
    assert not dates_event(received, "Received by the editors")  # no date
    assert not dates_event(asked_event("When was the paper accepted?"), "本文 2019 年 3 月 2 日收到.")

    def ev_for(question: str, kind: str) -> SimpleNamespace:
        hits = [SimpleNamespace(chunk=SimpleNamespace(kind="body")), SimpleNamespace(chunk=SimpleNamespace(kind=kind))]
        q = SimpleNamespace(lang="en", normalized=question)
        return SimpleNamespace(question=q, groups=[(("paper",), 1.0)], wanted=None, hits=hits, passages=[])

    gen = ExtractiveGenerator(threshold=0.7, cross_threshold=0.7, model=load_model(), max_sentences=3)
    title = _scored(0, 0, 40, 0.99, {0}, "Journal of Examples 12 A Study of Rate Models.")
    line = _scored(1, 0, 20, 0.17, set(), "本文 2019 年 3 月 2 日收到.")
    asked = "When did the journal receive the paper on rate models?"
    assert [c.text for c in gen.select(ev_for(asked, "front"), [title, line])] == [line.text]
    assert [c.text for c in gen.select(ev_for(asked, "body"), [title, line])] == [title.text]
    accepted = "When did the journal accept the paper on rate models?"
    assert [c.text for c in gen.select(ev_for(accepted, "front"), [title, line])] == [title.text]
    # the line only chooses the quote: a best span below the threshold is still a refusal
    low = _scored(0, 0, 40, 0.5, {0}, title.text)
    assert gen.select(ev_for(asked, "front"), [low, line]) == []


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


def test_a_quoted_reference_number_is_not_read_as_a_citation_mark(tmp_path):
    """A quoted sentence holding the paper's own reference "[12]": the answer writes it ［12］, so every [n] of
    the answer is one of its citations; the citation keeps the paper's text."""
    from helpers import index_settings

    from rag.answer.citations import MARK, unmarked
    from rag.index.store import build_index

    assert unmarked("as shown in [12] and [3].") == "as shown in ［12］ and ［3］."
    assert unmarked("a list [a] and [] stay") == "a list [a] and [] stay"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "paper.txt").write_text(
        "Cable repair\n\nThe repair ships needed eleven days to mend the cables after the cuts [12]. "
        "Weather delayed the second ship by two more days.\n",
        encoding="utf-8",
    )
    s = index_settings(tmp_path)
    build_index([corpus], s)
    ans = Assistant.open(s).ask("How many days did the repair ships need to mend the cables?")
    assert not ans.abstained
    assert "eleven days to mend the cables after the cuts ［12］.[1]" in ans.answer
    assert {int(n) for n in MARK.findall(ans.answer)} == {c.n for c in ans.citations} == {1}
    assert ans.citations[0].quote.endswith("after the cuts [12].")
