"""Questions about topics the papers never discuss, asked across languages, are refused: the answer model's
confidence in a span of the other language rests on its dense similarity, high for any pair of languages,
and one translated generic word; a question mostly made of words the library never uses needs the stricter
probability (rag/answer/absent_terms.py unknown_share; for a Chinese question over an English span, the
share of its dictionary words the span's document never uses, unfound_share; figures in eval/NOTES.md)."""

from __future__ import annotations

import pytest
from conftest import SHARED

from rag.answer.absent_terms import general_idf, unfound_share, unknown_share

# English questions about topics absent from the three shared Chinese papers
OFF_TOPIC_EN = [
    "How does the framework handle worker failures during distributed batch processing?",
    "What learning rate schedule was used to train the convolutional network?",
    "How many patients were enrolled in the clinical trial of the vaccine?",
    "What is the melting point of the alloy used in the turbine blades?",
    "Which enzyme catalyses the first step of glycolysis in yeast?",
    "How does the garbage collector reclaim memory in the virtual machine?",
]
# Chinese questions about topics absent from the English articles of the squad2 bench corpus
OFF_TOPIC_ZH = [
    "这种疫苗的临床试验招募了多少名患者？",
    "该合金用于涡轮叶片时的熔点是多少？",
    "卷积神经网络训练时采用了怎样的学习率调整策略？",
    "酵母糖酵解第一步由哪种酶催化？",
    "垃圾回收器如何在虚拟机中回收内存？",  # answered at p .74 before unfound_share
]


def test_unknown_share_counts_ordinary_words_the_library_never_uses():
    vocab = {"framework", "processes", "handle"}
    tokens = ["framework", "handle", "worker", "failures", "processing", "spark", "2019", "how"]
    # Spark is a name, 2019 a number, how a question word; processing is a form of an indexed word
    question = "How does Spark 2019 framework handle worker failures processing"
    assert unknown_share(question, tokens, vocab, set()) == pytest.approx(2 / 6)
    assert unknown_share(question, tokens, vocab, {"worker"}) == pytest.approx(1 / 6)
    assert unknown_share("How?", ["how"], vocab, set()) == 0.0


@pytest.mark.slow
def test_off_topic_english_questions_over_the_chinese_papers_are_refused(shared_corpus, shared_assistant):
    for q in OFF_TOPIC_EN:
        answer = shared_assistant.ask(q)
        assert answer.abstained, (q, answer.answer[:80], answer.confidence)


@pytest.mark.slow
def test_off_topic_chinese_questions_over_english_articles_are_refused(session_tmp, shared_corpus):
    from rag.answer.pipeline import Assistant
    from rag.index.store import build_index
    from rag.settings import load_settings

    s = load_settings(index_dir=session_tmp / "squad2-index", cache_dir=session_tmp / "cache")
    build_index([SHARED / "bench" / "squad2" / "corpus"], s)
    assistant = Assistant.open(s)
    for q in OFF_TOPIC_ZH:
        answer = assistant.ask(q)
        assert answer.abstained, (q, answer.answer[:80], answer.confidence)


def test_general_idf_weighs_common_words_below_topic_words():
    idfs, unseen = general_idf()
    assert idfs["可以"] < idfs["电缆"] < unseen
    assert idfs["疫苗"] < unseen


@pytest.mark.slow
def test_unfound_share_weighs_the_glossed_words_the_english_document_never_uses(assistant):
    r = assistant.retriever
    doc = next(c.doc_id for c in r.index.chunks if c.doc_id.startswith("en_notes"))
    idfs, unseen = general_idf()
    # cable, restore and capacity are all in the notes on submarine cables
    assert unfound_share(r, r.encode("电缆多久恢复容量？").tokens, doc) == 0.0
    # vaccine and patient are not; 多少 is a question word; the Latin name found counts at the unseen IDF
    tokens = r.encode("电缆的疫苗需要多少患者？").tokens
    absent, present = idfs["疫苗"] + idfs["患者"], idfs["电缆"] + idfs["需要"]  # needed: "ships needed"
    assert unfound_share(r, tokens, doc) == pytest.approx(absent / (absent + present))
    tokens = r.encode("India 的电缆的疫苗需要多少患者？").tokens
    assert unfound_share(r, tokens, doc) == pytest.approx(absent / (absent + present + unseen))
    # a word glossed only by a phrase is used when the document holds all its words ("Mediterranean Sea")
    tokens = r.encode("地中海的疫苗需要多少患者？").tokens
    present = idfs["地中海"] + idfs["需要"]
    assert unfound_share(r, tokens, doc) == pytest.approx(absent / (absent + present))
    present = idfs["电缆"] + idfs["需要"]
    # a Latin word the document does not hold is left out
    tokens = r.encode("Zanzibar 的电缆的疫苗需要多少患者？").tokens
    assert unfound_share(r, tokens, doc) == pytest.approx(absent / (absent + present))
