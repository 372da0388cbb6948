"""The Milvus backend on a real Milvus standalone server (the ``milvus`` package, started on a free port
of 127.0.0.1 with its data in a tmp dir) through ``RAG_MILVUS_URI``: the code path of a cluster URI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import SHARED
from helpers import port_open
from milvus_local import milvus_server

from rag.answer.pipeline import Assistant
from rag.errors import BackendUnavailableError
from rag.eval.evaluation import evaluate
from rag.eval.gold import load_gold
from rag.index.dense.base import positions
from rag.index.store import build_index, remove_documents
from rag.settings import load_settings

pytest.importorskip(
    "milvus", reason="the milvus package (a Milvus standalone server) is missing: pip install -e '.[test]'"
)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def milvus_standalone(tmp_path_factory):
    with milvus_server(tmp_path_factory.mktemp("milvus-server")) as local:
        yield local
    assert not port_open(local.port)


def _on_server(monkeypatch, local, tmp_path, cache, **kw):
    """Settings as a deployment gives them: RAG_BACKEND and RAG_MILVUS_URI in the environment."""
    monkeypatch.setenv("RAG_BACKEND", "milvus")
    monkeypatch.setenv("RAG_MILVUS_URI", local.uri)
    return load_settings(index_dir=tmp_path / "index", cache_dir=cache, **kw)


def _rows(report: dict) -> list[dict]:
    return [{k: v for k, v in q.items() if k != "latency_ms"} for q in report["questions"]]


def _search_sees_exactly_the_index(s) -> None:
    """A search at the configured consistency, straight after a build or update, returns every row of the
    index and no other (no row missing, none superseded)."""
    dense = Assistant.open(s).retriever.index.dense
    assert dense.store.consistency == s.store.milvus_consistency
    rows = dense.store.search(np.ones(dense.store.dim, np.float32), dense.ntotal + 100)
    pos = positions(dense.vid_to_pos, np.array([v for v, _ in rows]))
    assert sorted(pos.tolist()) == list(range(dense.ntotal))


def test_dev_gold_evaluation_on_a_milvus_server_equals_faiss(
    tmp_path, monkeypatch, milvus_standalone, shared_corpus, shared_settings, shared_assistant
):
    s = _on_server(monkeypatch, milvus_standalone, tmp_path, shared_settings.embedding_cache_dir)
    assert build_index([shared_corpus], s).dense == "milvus:flat"
    params = json.loads((s.index_path / "params.json").read_text("utf-8"))
    assert params["milvus"]["uri"] == milvus_standalone.uri and params["milvus"]["collection"] == "rag_default_g1"
    milvus = Assistant.open(s)
    client = milvus.retriever.index.dense.store.store.client
    assert client.get_server_version().startswith("v2.")  # a server, not Milvus Lite's file
    assert len(client.query("rag_default_g1", filter="lang >= 0", output_fields=["pk"])) == len(
        milvus.retriever.index.chunks
    )
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


def test_a_milvus_server_index_is_updated_and_rebuilt(
    tmp_path, monkeypatch, milvus_standalone, fixture_corpus, fixture_settings, assistant
):
    import rag.index.store.dense_writer

    monkeypatch.setattr(rag.index.store.dense_writer, "STALE_REBUILD", 0.5)  # one document is a third of this corpus
    corpus = tmp_path / "corpus"
    shutil.copytree(fixture_corpus, corpus)
    s = _on_server(
        monkeypatch,
        milvus_standalone,
        tmp_path,
        fixture_settings.embedding_cache_dir,
        index="papers",
        chunk_size=120,
        chunk_overlap=30,
    )
    build_index([corpus], s)
    assert s.store.milvus_consistency == "Bounded"  # the default: no wait for the server's time tick
    _search_sees_exactly_the_index(s)
    q = "墨子号卫星是哪一年发射的？"
    want = [h.chunk.chunk_id for h in assistant.retriever.retrieve(q, 5)]
    assert [h.chunk.chunk_id for h in Assistant.open(s).retriever.retrieve(q, 5)] == want
    (corpus / "extra.md").write_text(
        "# Cable repair\n\nRepair ships reach a broken cable within nine days on average.\n", encoding="utf-8"
    )
    build_index([corpus], s)
    _search_sees_exactly_the_index(s)
    remove_documents(["gbk_paper.txt"], s)
    _search_sees_exactly_the_index(s)
    params = json.loads((s.index_path / "params.json").read_text("utf-8"))
    assert params["milvus"]["collection"] == "rag_papers_g1" and params["dense"]["updated_in_place"] is True
    b = Assistant.open(s)
    client = b.retriever.index.dense.store.store.client
    assert client.query("rag_papers_g1", filter='doc == "gbk_paper.txt"', output_fields=["pk"]) == []
    rows = client.query("rag_papers_g1", filter="lang >= 0", output_fields=["chunk_id"])
    assert sorted(r["chunk_id"] for r in rows) == sorted(c.chunk_id for c in b.retriever.index.chunks)
    assert b.retriever.retrieve("How fast do repair ships reach a broken cable?", 1)[0].chunk.doc_id == "extra.md"
    build_index([corpus], s, force=True)  # a new collection generation; the old one is dropped
    assert json.loads((s.index_path / "params.json").read_text("utf-8"))["milvus"]["collection"] == "rag_papers_g2"
    assert [c for c in client.list_collections() if c.startswith("rag_papers_")] == ["rag_papers_g2"]
    _search_sees_exactly_the_index(s)


@pytest.mark.parametrize("level", ["Strong", "Bounded", "Session", "Eventually"])
def test_every_milvus_search_uses_the_consistency_setting(
    tmp_path, monkeypatch, milvus_standalone, fixture_corpus, fixture_settings, assistant, level
):
    kw = {"index": "levels", "chunk_size": 120, "chunk_overlap": 30}
    s = _on_server(monkeypatch, milvus_standalone, tmp_path, fixture_settings.embedding_cache_dir, **kw)
    build_index([fixture_corpus], s)
    monkeypatch.setenv("RAG_MILVUS_CONSISTENCY", level)
    s = _on_server(monkeypatch, milvus_standalone, tmp_path, fixture_settings.embedding_cache_dir, **kw)
    assert s.store.milvus_consistency == level
    b = Assistant.open(s)
    client = b.retriever.index.dense.store.store.client
    sent, search = [], client.search

    def recorded(*args, **kwargs):
        sent.append(kwargs.get("consistency_level"))
        return search(*args, **kwargs)

    monkeypatch.setattr(client, "search", recorded)  # the real client still answers
    questions = ["墨子号卫星是哪一年发射的？", "When was the Micius satellite launched?", "光纤的损耗是多少？"]
    for q in questions:  # the FAISS results, at every level
        want, got = assistant.retriever.retrieve(q, 5), b.retriever.retrieve(q, 5)
        assert [h.chunk.chunk_id for h in got] == [h.chunk.chunk_id for h in want]
        assert all(abs(x.score - y.score) < 1e-6 for x, y in zip(got, want))
    assert len(sent) >= len(questions) and set(sent) == {level}


def test_a_stopped_milvus_server_is_one_clear_error(
    tmp_path, monkeypatch, milvus_standalone, fixture_corpus, fixture_settings
):
    s = _on_server(
        monkeypatch,
        milvus_standalone,
        tmp_path,
        fixture_settings.embedding_cache_dir,
        index="gone",
        chunk_size=120,
        chunk_overlap=30,
    )
    build_index([fixture_corpus], s)
    milvus_standalone.stop()
    assert milvus_standalone.server.server_proc is None and not port_open(milvus_standalone.port)
    with pytest.raises(
        BackendUnavailableError, match=rf"^cannot open Milvus at {milvus_standalone.uri} \(.*\); check RAG_MILVUS_URI$"
    ):
        Assistant.open(s)
