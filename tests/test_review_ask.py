"""A review question asked as one question ("how does each paper view X?") gets the pooled review answer
in `rag ask`, the app and the API; every other question keeps the factoid answer."""

from __future__ import annotations

import json

import pytest
from conftest import rag_cli

from rag.review.ask import is_review_question


@pytest.mark.parametrize(
    "question",
    [
        "How does each paper view open access?",
        "What do the different studies say about sample size?",
        "What do both authors argue about regulation?",
        "各文如何看待数字主权？",
        "每篇论文对平台责任有何看法？",
        "请给出两篇论文各自的说法。",
    ],
)
def test_questions_to_every_paper_are_review_questions(question):
    assert is_review_question(question)


@pytest.mark.parametrize(
    "question",
    [
        "What did the study find?",
        "Who wrote the paper in 1972?",
        "According to these papers, who proposed the model?",
        "根据哪两篇文章命名？",
        "世界互联网大会国际组织总部设在哪里？",
        "What was the source of the river?",
    ],
)
def test_factoid_questions_are_not(question):
    assert not is_review_question(question)


@pytest.mark.slow
def test_rag_ask_answers_a_review_question_paper_by_paper(shared_settings, tmp_path):
    idx = str(shared_settings.index_path)
    cache = {"RAG_CACHE_DIR": str(shared_settings.embedding_cache_dir)}
    proc = rag_cli("ask", "各文如何看待网络主权？", "--index", idx, "--json", cwd=tmp_path, env=cache)
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    cites = rec["citations"]
    assert rec["generator"] == "review" and not rec["abstained"]
    assert [c["n"] for c in cites] == list(range(1, len(cites) + 1))
    assert len({c["doc"] for c in cites}) >= 2  # more than one paper speaks
    for c in cites:  # each point quoted verbatim from its passage, marked in the answer
        assert c["quote"] in c["text"] and f"“{c['quote']}”[{c['n']}]" in rec["answer"]
    assert [s["citations"] for s in rec["support"]] == [[c["n"]] for c in cites]
    factoid = rag_cli("ask", "世界互联网大会国际组织总部设在哪里？", "--index", idx, "--json", cwd=tmp_path, env=cache)
    assert json.loads(factoid.stdout)["generator"] == "extractive"
