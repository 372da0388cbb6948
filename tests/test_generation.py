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
    assert list(d) == ["question", "answer", "abstained", "citations", "retrieved", "timings_ms", "generator"]
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


def test_selection_skips_duplicates_and_respects_margin():
    from rag.generation import Candidate
    from rag.records import Chunk, Hit

    ch = Chunk("d#0", "d", "T", "S", "甲乙丙丁。甲乙丙丁。戊己庚辛。", 0, 15)
    hit = Hit(ch, 1.0, 1)
    c = [Candidate(hit, 0, 5, 0, 0, 1.00), Candidate(hit, 5, 10, 0, 0, 0.99), Candidate(hit, 10, 15, 0, 0, 0.90)]
    assert [x.start for x in ExtractiveGenerator(margin=0.2).select(c)] == [0, 10]
    assert [x.start for x in ExtractiveGenerator(margin=0.05).select(c)] == [0]
