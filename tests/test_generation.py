"""Extractive answers: every sentence cited, quotes verbatim, abstention, the fixed JSON record."""

from __future__ import annotations

import re

import pytest

from rag.errors import InvalidInputError
from rag.generation import ABSTAIN, ExtractiveGenerator
from rag.pipeline import Assistant


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
    assert list(d) == ["question", "answer", "abstained", "citations", "retrieved", "timings_ms", "generator", "support"]
    assert d["support"] and all(s == {"sentence": s["sentence"], "citations": s["citations"], "score": 1.0, "supported": True}
                                for s in d["support"])  # extractive sentences are quotes
    assert [n for s in d["support"] for n in s["citations"]] and all(s["sentence"] in d["answer"] for s in d["support"])
    assert set(d["citations"][0]) == {"n", "doc", "title", "section", "chunk_id", "text", "quote", "score"}
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


def _cand(hit, start, end, score, groups, dense=0.9):
    from rag.generation import Candidate

    return Candidate(hit, start, end, dense, 0.0, frozenset(groups), score)


def test_selection_adds_only_spans_with_new_query_terms():
    import numpy as np

    from rag.records import Chunk, Hit
    from rag.retrieval import Query
    from rag.slots import Slot

    text = "甲乙丙丁戊。甲乙丙丁戊。己庚辛壬癸。子丑寅卯辰。"
    hit = Hit(Chunk("d#0", "d", "T", "S", text, 0, len(text)), 1.0, 1)
    q = Query("问题？", "问题？", np.zeros(2), [], "zh", np.zeros((2, 2)))
    weights = [1.0, 1.0, 1.0, 1.0]
    c = [_cand(hit, 0, 6, 1.00, {0, 1}), _cand(hit, 6, 12, 0.99, {0, 1}),  # the same words again: skipped
         _cand(hit, 12, 18, 0.80, {2}), _cand(hit, 18, 24, 0.70, {3}, dense=0.5)]  # too dissimilar: skipped
    gen = ExtractiveGenerator(min_new_terms=0.2, dense_floor=0.1)
    assert [x.start for x in gen.select(q, c, weights, Slot())] == [0, 12]
    assert [x.start for x in ExtractiveGenerator(max_sentences=1).select(q, c, weights, Slot())] == [0]
    # a slot no relevant span fills: nothing is selected, so the generator refuses
    assert gen.select(q, c, weights, Slot(kind="date")) == []


def test_anaphoric_sentence_is_quoted_with_its_antecedent(shared_assistant):
    ans = shared_assistant.ask("《布达佩斯网络犯罪公约》目前有多少个缔约方？")
    assert not ans.abstained and "78" in ans.answer
    quote = next(c.quote for c in ans.citations if "78" in c.quote)
    assert quote.startswith("在法律实践方面") and "该公约共有78个缔约方" in quote  # 该公约 is resolved in the quote
    assert ans.answer.count("[1]") == 2  # each sentence of the quoted span carries its mark


@pytest.mark.parametrize(
    "question,text,bonus",
    [
        ("该公约有多少个缔约方？", "该公约共有78个缔约方。", 0.05),
        ("该公约有多少个缔约方？", "该公约影响深远。", 0.0),
        ("联合国面临哪些挑战？", "联合国面临体系性失衡、主体间矛盾、机构内困境等挑战。", 0.05),
        ("What did the report find?", "IDB, OAS, “Cybersecurity: Are We Ready”, 2016, p.15.", 0.0),  # a source question
        ("What did they find?", "IDB, OAS, “Cybersecurity: Are We Ready”, 2016, p.15.", -0.05),  # a reference entry
        ("他们发现了什么？", "胡健生：《打击网络犯罪国际法机制的困境》，《国际法研究》2016年第6期。", -0.05),
    ],
)
def test_answer_type_bonus(question, text, bonus):
    from rag.generation import answer_type_bonus

    assert answer_type_bonus(question, text, 0.05) == pytest.approx(bonus)
