"""The Milvus backend (Milvus Lite, embedded; the same code talks to a Milvus server URI) behind
langchain's VectorStore: the pipeline and its evaluation give the FAISS results on it."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import SHARED
from langchain_core.vectorstores import VectorStore

from rag.answer.pipeline import Assistant
from rag.errors import BackendUnavailableError, InvalidInputError
from rag.eval.evaluation import evaluate
from rag.eval.gold import load_gold
from rag.index.dense.milvus import MilvusDense
from rag.index.store import build_index, load_index, remove_documents
from rag.settings import load_settings


def _milvus(tmp_path, cache, **kw):
    return load_settings(
        index_dir=tmp_path / "index", cache_dir=cache, backend="milvus", milvus_uri=str(tmp_path / "milvus.db"), **kw
    )


def _rows(report: dict) -> list[dict]:
    return [{k: v for k, v in q.items() if k != "latency_ms"} for q in report["questions"]]


def test_dev_gold_evaluation_is_equal_on_faiss_and_milvus(tmp_path, shared_corpus, shared_settings, shared_assistant):
    s = _milvus(tmp_path, shared_settings.embedding_cache_dir)  # vectors come from the session's cache
    report = build_index([shared_corpus], s)
    assert report.dense == "milvus:flat"
    milvus = Assistant.open(s)
    dense = milvus.retriever.index.dense
    assert isinstance(dense, MilvusDense) and isinstance(dense.store.store, VectorStore) and dense.exact
    params = json.loads((s.index_path / "params.json").read_text("utf-8"))
    assert params["milvus"]["index_type"] == "FLAT" and params["milvus"]["collection"] == "rag_default_g1"
    assert not (s.index_path / "dense.faiss").exists()
    gold = load_gold(SHARED / "eval" / "gold_dev.jsonl")
    for g in gold:  # the same passages, in the same order, with the same scores (to float rounding)
        a, b = shared_assistant.retriever.retrieve(g.question, 10), milvus.retriever.retrieve(g.question, 10)
        assert [h.chunk.chunk_id for h in a] == [h.chunk.chunk_id for h in b], g.id
        assert all(abs(x.score - y.score) < 1e-6 for x, y in zip(a, b))
    on_faiss, on_milvus = evaluate(shared_assistant, gold, k=5), evaluate(milvus, gold, k=5)
    assert _rows(on_milvus) == _rows(on_faiss)
    drop = {"latency_p50_ms", "latency_p95_ms"}
    assert {k: v for k, v in on_milvus["summary"]["overall"].items() if k not in drop} == {
        k: v for k, v in on_faiss["summary"]["overall"].items() if k not in drop
    }


def test_milvus_index_is_updated_in_place(tmp_path, fixture_corpus, fixture_settings, assistant, monkeypatch):
    import rag.index.store.dense_writer

    # the fixture corpus is small: one document is a third of its passages, past the rebuild share
    monkeypatch.setattr(rag.index.store.dense_writer, "STALE_REBUILD", 0.5)
    corpus = tmp_path / "corpus"
    shutil.copytree(fixture_corpus, corpus)
    s = _milvus(tmp_path, fixture_settings.embedding_cache_dir, chunk_size=120, chunk_overlap=30)
    build_index([corpus], s)
    a = Assistant.open(s)
    for q in [
        "墨子号卫星是哪一年发射的？",
        "What share of intercontinental data traffic travels through submarine cables?",
    ]:
        assert [h.chunk.chunk_id for h in a.retriever.retrieve(q, 5)] == [
            h.chunk.chunk_id for h in assistant.retriever.retrieve(q, 5)
        ]
    (corpus / "extra.md").write_text(
        "# Cable repair\n\nRepair ships reach a broken cable within nine days on average.\n", encoding="utf-8"
    )
    build_index([corpus], s)
    remove_documents(["gbk_paper.txt"], s)
    params = json.loads((s.index_path / "params.json").read_text("utf-8"))
    assert params["milvus"]["collection"] == "rag_default_g1" and params["dense"]["updated_in_place"] is True
    b = Assistant.open(s)
    client = b.retriever.index.dense.store.store.client
    assert client.query("rag_default_g1", filter='doc == "gbk_paper.txt"', output_fields=["pk"]) == []  # rows deleted
    assert len(client.query("rag_default_g1", filter="lang >= 0", output_fields=["pk"])) == len(
        b.retriever.index.chunks
    )
    assert b.retriever.retrieve("How fast do repair ships reach a broken cable?", 1)[0].chunk.doc_id == "extra.md"
    assert sorted(load_index(s).docs) == ["en_notes.md", "extra.md", "zh_paper.txt"]
    # a full rebuild fills a new collection generation and drops the old one
    build_index([corpus], s, force=True)
    params = json.loads((s.index_path / "params.json").read_text("utf-8"))
    assert params["milvus"]["collection"] == "rag_default_g2"
    assert client.list_collections() == ["rag_default_g2"]


def test_moving_to_another_milvus_keeps_every_passage(tmp_path, fixture_corpus, fixture_settings, assistant):
    """An incremental build at a new URI fills a new collection with every passage, unchanged ones too."""
    s = _milvus(tmp_path, fixture_settings.embedding_cache_dir, chunk_size=120, chunk_overlap=30)
    build_index([fixture_corpus], s)
    moved = s.model_copy(update={"milvus_uri": str(tmp_path / "elsewhere.db")})
    report = build_index([fixture_corpus], moved)
    assert not report.up_to_date and report.reused == 3
    params = json.loads((s.index_path / "params.json").read_text("utf-8"))
    assert (
        params["milvus"]["uri"] == str(tmp_path / "elsewhere.db") and params["milvus"]["collection"] == "rag_default_g2"
    )
    b = Assistant.open(moved)
    client = b.retriever.index.dense.store.store.client
    assert len(client.query("rag_default_g2", filter="lang >= 0", output_fields=["pk"])) == len(
        b.retriever.index.chunks
    )
    q = "墨子号卫星是哪一年发射的？"
    assert [h.chunk.chunk_id for h in b.retriever.retrieve(q, 5)] == [
        h.chunk.chunk_id for h in assistant.retriever.retrieve(q, 5)
    ]


def test_unreachable_milvus_is_one_clear_error(tmp_path, fixture_corpus, fixture_settings):
    s = load_settings(
        index_dir=tmp_path / "index",
        cache_dir=fixture_settings.embedding_cache_dir,
        chunk_size=120,
        chunk_overlap=30,
        backend="milvus",
        milvus_uri="http://127.0.0.1:9",
    )
    with pytest.raises(
        BackendUnavailableError, match=r"^cannot open Milvus at http://127\.0\.0\.1:9 \(.*\); check RAG_MILVUS_URI$"
    ):
        build_index([fixture_corpus], s)
    assert not s.index_path.exists() and not list(s.store.index_dir.glob(".default.tmp-*"))


def test_an_unknown_milvus_consistency_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("RAG_MILVUS_CONSISTENCY", "Fast")
    with pytest.raises(
        InvalidInputError,
        match=r"^invalid setting store.milvus_consistency: .*check RAG_STORE__MILVUS_CONSISTENCY or RAG_MILVUS_CONSISTENCY",
    ):
        load_settings()
