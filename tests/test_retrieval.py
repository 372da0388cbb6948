"""Hybrid retrieval over a real index: fusion, de-duplication, filters, query normalisation."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from rag.answer.retrieval import CandidateScores, Retriever, dedup, fuse, normalize_query, rrf
from rag.errors import InvalidInputError
from rag.records import Hit
from rag.settings import load_settings


def test_query_normalisation():
    assert normalize_query("  網絡空間 治理　２０２０年？ ") == "网络空间 治理 2020年?"
    assert normalize_query("ＩＣＡＮＮ board") == "ICANN board"


def test_rrf_and_weighted_fusion_exact():
    sc = CandidateScores(dense={0: 0.9, 1: 0.8, 2: 0.1}, bm25={1: 5.0, 3: 2.0}, best_sentence={})
    rrf = fuse(sc, load_settings(fusion="rrf", rrf_k=60))
    assert rrf == pytest.approx({0: 1 / 61, 1: 1 / 62 + 1 / 61, 2: 1 / 63, 3: 1 / 62})
    w = fuse(sc, load_settings(fusion="weighted", dense_weight=1.0, bm25_weight=0.5))
    assert w == pytest.approx({0: 1.0, 1: 0.875 + 0.5, 2: 0.0, 3: 0.0})
    assert fuse(sc, load_settings(fusion="dense")) == sc.dense
    assert fuse(sc, load_settings(fusion="bm25")) == sc.bm25


def test_reciprocal_rank_fusion_exact():
    # each ranking (passage -> rank) adds weight / (rrf_k + rank) to every passage it holds
    assert rrf([({3: 1, 1: 2}, 1.0), ({1: 1, 7: 3}, 0.5)], 60) == {3: 1 / 61, 1: 1 / 62 + 0.5 / 61, 7: 0.5 / 63}
    assert rrf([({3: 1}, 1.0)], 10) == {3: 1 / 11} and rrf([], 60) == {}


class FixedExpander:
    """Offers the same extra queries for every question, recording what it was asked."""

    def __init__(self, extra: list[tuple[str, float]]):
        self.extra, self.asked = extra, []

    def expand(self, query, target_lang):
        self.asked.append((query.text, target_lang))
        return list(self.extra)


@pytest.mark.parametrize("corpus,k", [("assistant", 4), ("assistant", 7), ("shared_assistant", 12)])  # depth 15, 21, 36
def test_expanders_rankings_are_fused_with_the_questions(request, corpus, k):
    base = request.getfixturevalue(corpus).retriever
    q = "How are submarine cables protected?"
    extra = [("墨子号卫星是哪一年发射的？", 0.5), ("东盟数字数据治理框架是什么时候通过的？", 2.0)]
    expander = FixedExpander(extra)
    r = base.with_expanders([expander])
    hits = r.retrieve(q, k)
    assert expander.asked == [(q, base.main_language())] and base.expanders == () and base.with_expanders([]) is base
    # every ranking max(3k, 15) deep, fused by reciprocal rank, de-duplicated, cut to k; a passage keeps
    # the dense and BM25 scores of the first ranking that holds it
    depth = max(3 * k, 15)
    lists = [(base.retrieve(q, depth), 1.0), *((base.retrieve(text, depth), w) for text, w in extra)]
    score: dict[int, float] = {}
    first: dict[int, Hit] = {}
    for ranking, w in lists:
        for h in ranking:
            score[h.position] = score.get(h.position, 0.0) + w / (60 + h.rank)
            first.setdefault(h.position, h)
    order = dedup(base.index, sorted(score, key=lambda i: (-score[i], i)))[:k]
    assert hits == [Hit(first[i].chunk, score[i], n, first[i].dense, first[i].bm25, i) for n, i in enumerate(order, 1)]
    assert [h.chunk.chunk_id for h in hits] != [
        h.chunk.chunk_id for h in base.retrieve(q, k)
    ]  # the extra rankings count
    assert base.with_expanders([FixedExpander([])]).retrieve(q, k) == base.retrieve(q, k)  # nothing offered


def test_further_queries_are_fused_like_an_expanders(assistant):
    """``also`` (the untitled question of a named document) is fused exactly as an expander's query is."""
    base = assistant.retriever
    q = "How are submarine cables protected?"
    other = "东盟数字数据治理框架是什么时候通过的？"
    by_expander = base.with_expanders([FixedExpander([(other, 2.0)])]).retrieve(q, 4)
    assert base.retrieve(q, 4, also=[(base.encode(other), 2.0)]) == by_expander
    assert by_expander != base.retrieve(q, 4)


@pytest.mark.parametrize(
    "question,doc",
    [
        ("东盟数字数据治理框架是什么时候通过的？", "zh_paper.txt"),
        ("墨子号卫星是哪一年发射的？", "gbk_paper.txt"),
        ("What share of intercontinental data traffic travels through submarine cables?", "en_notes.md"),
        ("東盟數字數據治理框架是什麼時候通過的？", "zh_paper.txt"),  # traditional characters
    ],
)
def test_right_document_first(assistant, question, doc):
    hits = assistant.retriever.retrieve(question, 3)
    assert hits[0].chunk.doc_id == doc
    assert [h.rank for h in hits] == [1, 2, 3]
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))


def test_top_k_and_document_filter(assistant):
    hits = assistant.retriever.retrieve("数据保护", 2, docs=["gbk_paper.txt"])
    assert len(hits) == 2 and {h.chunk.doc_id for h in hits} == {"gbk_paper.txt"}
    assert len(assistant.retriever.retrieve("数据保护", 7)) == 7
    with pytest.raises(InvalidInputError, match="none of the selected documents"):
        assistant.retriever.retrieve("数据保护", 2, docs=["nope.txt"])


def test_excluded_kinds_are_dropped_before_the_top_k_cut(assistant):
    """A kind no answer may rest on never takes one of the k slots: the k hits are the first k of the
    deeper ranking with that kind taken out."""
    r = assistant.retriever
    q = "What share of intercontinental data traffic travels through submarine cables?"
    deep = r.retrieve(q, 30)
    kind = deep[0].chunk.kind
    others = [h.chunk.chunk_id for h in deep if h.chunk.kind != kind]
    assert len(others) >= 4 and len(others) < len(deep)
    hits = r.retrieve(q, 4, exclude=frozenset({kind}))
    assert [h.chunk.chunk_id for h in hits] == others[:4]
    assert [h.rank for h in hits] == [1, 2, 3, 4]
    assert r.retrieve(q, 4, exclude=frozenset()) == r.retrieve(q, 4)


def test_overlapping_chunks_are_deduplicated(assistant):
    idx = assistant.retriever.index
    body = [i for i, c in enumerate(idx.chunks) if c.kind == "body" and c.doc_id == "zh_paper.txt"]
    a = body[0]
    # a chunk fully inside another is dropped; a disjoint one is kept
    from dataclasses import replace
    from types import SimpleNamespace

    inner = replace(idx.chunks[a], chunk_id="x", start=idx.chunks[a].start + 2, end=idx.chunks[a].end - 2)
    passages = SimpleNamespace(chunks=[*idx.chunks, inner])  # dedup reads passages by position only
    assert dedup(passages, [a, len(passages.chunks) - 1, body[2]]) == [a, body[2]]


def test_langchain_retriever_interface(assistant):
    from rag.answer.langchain_retriever import as_langchain

    lc = as_langchain(assistant.retriever)
    docs = lc.invoke("墨子号")
    assert docs and isinstance(docs[0], Document)
    assert docs[0].metadata["doc"] == "gbk_paper.txt"
    assert set(docs[0].metadata) == {"doc", "chunk_id", "title", "section", "score", "rank"}


def test_sentence_rows_of_passages_are_their_ranges_in_order():
    """Each chosen passage's sentence rows, ascending, empty passages and no passage included."""
    from types import SimpleNamespace

    import numpy as np

    from rag.answer.retrieval import _sentence_rows

    starts = np.array([0, 2, 2, 5, 6, 9], dtype=np.int64)  # passage 1 has no sentence
    idx = SimpleNamespace(chunk_sentences=SimpleNamespace(starts=starts))
    assert _sentence_rows(idx, np.array([0, 1, 2, 4])).tolist() == [0, 1, 2, 3, 4, 6, 7, 8]
    assert _sentence_rows(idx, np.array([3])).tolist() == [5]
    assert _sentence_rows(idx, np.array([1])).tolist() == []
    assert _sentence_rows(idx, np.zeros(0, np.int64)).dtype == np.int64


def test_passage_language_fusion_ranks_each_bm25_list_over_its_own_language_exact():
    # passages 0 and 1 are in the question's language, 2 and 3 are not
    sc = CandidateScores(
        dense={0: 0.9, 2: 0.8}, bm25={2: 9.0, 0: 5.0, 1: 4.0}, best_sentence={}, translated={3: 7.0, 0: 6.0, 2: 1.0}
    )
    own = {0, 1}.__contains__
    s = load_settings(fusion="rrf", rrf_k=60, dense_margin_weight=0.0, language_fusion="passage")
    # plain BM25 ranks 0 then 1 (2 is left out); the translation ranks 3 then 2 (0 is left out)
    assert fuse(sc, s, own_share=0.5, own=own) == pytest.approx(
        {0: 1 / 61 + 1 / 61, 1: 1 / 62, 2: 1 / 62 + 1 / 62, 3: 1 / 61}
    )
    # the corpus-share weighting: both lists whole, weighed by the share
    share = load_settings(fusion="rrf", rrf_k=60, dense_margin_weight=0.0, language_fusion="share")
    assert fuse(sc, share, own_share=0.25, own=own) == pytest.approx(
        {0: 1 / 61 + 0.25 / 62 + 0.75 / 62, 1: 0.25 / 63, 2: 1 / 62 + 0.25 / 61 + 0.75 / 63, 3: 0.75 / 61}
    )


def test_chinese_question_retrieves_english_passages_through_its_translation(assistant):
    from rag.answer.retrieval import translated_groups

    r = assistant.retriever
    q = r.encode("海底电缆故障的原因是什么？")
    groups = dict(translated_groups(r.index, q))
    assert "cable" in groups["电缆"] and "cables" in groups["电缆"]
    assert all(a in r.index.bm25.vocab_dict for alts in groups.values() for a in alts)
    # with each BM25 list over its own language's passages, the translation puts the English passage
    # first (without it, measured: the Chinese paper's passage on undersea cables comes first)
    passage = Retriever(r.index, r.embedder, r.settings.model_copy(update={"language_fusion": "passage"}))
    hits = passage.retrieve(q, 3)
    assert hits[0].chunk.doc_id == "en_notes.md" and "fishing and ship anchors" in hits[0].chunk.text


def test_translated_ranking_weighs_at_least_the_floor_exact():
    sc = CandidateScores(dense={}, bm25={0: 9.0, 1: 4.0}, best_sentence={}, translated={2: 7.0, 0: 6.0})
    s = load_settings(fusion="rrf", rrf_k=60, dense_margin_weight=0.0, language_fusion="share")
    # 90% of the corpus in the question's language: the translation weighs 0.1 without a floor, 0.5 with one
    assert fuse(sc, s, own_share=0.9) == pytest.approx({0: 0.9 / 61 + 0.1 / 62, 1: 0.9 / 62, 2: 0.1 / 61})
    assert fuse(sc, s, own_share=0.9, floor=0.5) == pytest.approx({0: 0.9 / 61 + 0.5 / 62, 1: 0.9 / 62, 2: 0.5 / 61})
    # a floor below the other language's share changes nothing
    assert fuse(sc, s, own_share=0.3, floor=0.5) == fuse(sc, s, own_share=0.3)


def test_a_mostly_english_librarys_chinese_passage_is_reached_by_the_translated_ranking(tmp_path):
    # an English question over a library 3/4 English: the Chinese passage that answers it is matched
    # lexically only by the dictionary translation; at the old floor (0.5) the plain list's English
    # passages (weight .75) kept it below a passage that only shares the question's words
    from rag.answer.pipeline import Assistant
    from rag.index.store import build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "en_a.md").write_text(
        "# Field notes on river gauges\n\n## Background\n\nThe English summary of each station report gives the "
        "background of the gauge, its history and the\nsection of river it measures. Readers of the journal asked "
        "how long each background section should be.\n\n## Methods\n\nFlow was recorded every fifteen minutes "
        "and checked against manual readings twice a year.\n",
        encoding="utf-8",
    )
    (corpus / "en_b.md").write_text(
        "# Writing for the bulletin\n\n## Background\n\nAuthors often ask how long an English abstract should be "
        "and which section comes at the end of a paper.\nThe editors keep the background of each issue short and "
        "send the proofs back within a week.\n\n## Review\n\nEvery paper is read by two referees before the "
        "editors decide.\n",
        encoding="utf-8",
    )
    (corpus / "zh_c.txt").write_text(
        "稿件格式说明\n\n正文之后附英文背景介绍，篇幅为 300 单词左右，说明研究的背景与意义。\n\n"
        "参考文献按照出现顺序编号，作者姓名全部列出。图表需要中英文双语标题。\n",
        encoding="utf-8",
    )
    s = load_settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    build_index([corpus], s)
    r = Assistant.open(s).retriever
    question = "How long should the English background section at the end of a paper be?"
    assert r.settings.retrieval.translated_floor_en == 0.9 and r.language_share("en") == 0.75

    def passages(floor: float) -> list[str]:
        at = Retriever(r.index, r.embedder, r.settings.model_copy(update={"translated_floor_en": floor}))
        return [h.chunk.chunk_id for h in at.retrieve(question, 3)]

    assert passages(0.9) == ["en_b.md#0", "zh_c.txt#0", "en_a.md#0"]
    assert passages(0.5) == ["en_b.md#0", "en_a.md#0", "zh_c.txt#0"]
