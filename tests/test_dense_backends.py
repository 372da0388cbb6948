"""Adding a dense backend is adding one module: a backend registered in ``rag.index.dense`` (here a tiny
numpy one, all of it in this file) is what a build writes with, what an incremental build extends,
what retrieval searches and what `rag info` describes, with no other change to rag."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rag.answer.pipeline import Assistant
from rag.cli.commands import app
from rag.errors import BackendUnavailableError, InvalidInputError
from rag.index.dense import BACKENDS, register
from rag.index.dense.base import DenseJob, Plan, Written, positions, vid_table
from rag.index.store import build_index, load_index, remove_documents
from rag.settings import Settings, load_settings


class NumpyDense:
    """Exact search with numpy over the backend's own copy of the vectors, rows of removed passages skipped."""

    kind = "flat"
    exact = True

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, vids: np.ndarray, backend: "NumpyBackend"):
        self.pos = positions(vid_table(vids), ids)  # passage position of each stored row (-1: removed)
        self.vectors = vectors[self.pos >= 0]
        self.pos = self.pos[self.pos >= 0]
        self.ntotal = len(vids)
        self.backend = backend

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        self.backend.calls.append("search")
        sims = queries @ self.vectors.T
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(sims, order, axis=1), self.pos[order]


class NumpyBackend:
    """Vectors by id in ``numpy_dense.npz`` in the index directory, appended to by incremental builds."""

    def __init__(self):
        self.calls: list[str] = []

    def plan(self, n: int, dim: int, settings: Settings) -> Plan:
        return Plan("flat", extendable=True)

    def same_place(self, params: dict, settings: Settings) -> bool:
        return True

    def keep_place(self, params: dict, settings: Settings) -> dict:
        return {}

    def write(self, job: DenseJob) -> Written:
        self.calls.append("write in place" if job.in_place else "write")
        ids, vectors = job.vids[job.fresh], np.asarray(job.vectors[job.fresh])
        if job.in_place:
            with np.load(job.previous.path / "numpy_dense.npz") as z:
                ids, vectors = np.concatenate([z["ids"], ids]), np.concatenate([z["vectors"], vectors])
        np.savez(job.tmp / "numpy_dense.npz", ids=ids, vectors=vectors)
        return Written({"numpy": {"rows": len(ids)}}, after_swap=lambda: self.calls.append("after swap"))

    def open(self, path: Path, params: dict, settings: Settings, vectors: np.ndarray, vids: np.ndarray) -> NumpyDense:
        with np.load(path / "numpy_dense.npz") as z:
            return NumpyDense(z["ids"], z["vectors"], vids, self)

    def retry_cleanup(self, path: Path, params: dict, settings: Settings) -> None:
        self.calls.append("retry cleanup")

    def describe(self, params: dict) -> tuple[dict, str]:
        return {"rows": params["numpy"]["rows"]}, f"{params['numpy']['rows']} rows"


@pytest.fixture
def numpy_backend():
    backend = NumpyBackend()
    register("numpy", backend)
    yield backend
    del BACKENDS["numpy"]


def _ids(hits) -> list[str]:
    return [h.chunk.chunk_id for h in hits]


QUESTIONS = [
    "墨子号卫星是哪一年发射的？",
    "What share of intercontinental data traffic travels through submarine cables?",
    "数据保护",
    "quantum communication satellite",
]


def test_a_registered_backend_is_used_end_to_end(
    tmp_path, fixture_corpus, fixture_settings, assistant, numpy_backend, monkeypatch
):
    import rag.index.store.dense_writer

    # the fixture corpus is small: one document is a third of its passages, past the rebuild share
    monkeypatch.setattr(rag.index.store.dense_writer, "STALE_REBUILD", 0.5)
    corpus = tmp_path / "corpus"
    shutil.copytree(fixture_corpus, corpus)
    s = load_settings(
        index_dir=tmp_path / "index",
        cache_dir=fixture_settings.embedding_cache_dir,
        chunk_size=120,
        chunk_overlap=30,
        backend="numpy",
    )
    report = build_index([corpus], s)
    assert report.dense == "numpy:flat" and numpy_backend.calls == ["write", "after swap"]
    params = json.loads((s.index_path / "params.json").read_text("utf-8"))
    n = params["counts"]["chunks"]
    assert params["dense"]["backend"] == "numpy" and params["numpy"] == {"rows": n}
    assert "numpy_dense.npz" in params["files"] and not (s.index_path / "dense.faiss").exists()
    a = Assistant.open(s)
    assert isinstance(a.retriever.index.dense, NumpyDense)
    for q in QUESTIONS:  # exact search: the FAISS index's passages, in its order, with its scores
        mine, faiss = a.retriever.retrieve(q, 5), assistant.retriever.retrieve(q, 5)
        assert _ids(mine) == _ids(faiss), q
        assert all(abs(x.score - y.score) < 1e-6 for x, y in zip(mine, faiss))
    assert numpy_backend.calls.count("search") == len(QUESTIONS)

    # an incremental build extends the backend's own file; a removed document's rows are never returned
    (corpus / "extra.md").write_text(
        "# Cable repair\n\nRepair ships reach a broken cable within nine days on average.\n", encoding="utf-8"
    )
    numpy_backend.calls.clear()
    build_index([corpus], s)
    remove_documents(["gbk_paper.txt"], s)
    assert numpy_backend.calls == ["write in place", "after swap"] * 2
    params = json.loads((s.index_path / "params.json").read_text("utf-8"))
    assert params["dense"]["updated_in_place"] is True and params["numpy"]["rows"] == params["dense"]["next_vid"] > n
    b = Assistant.open(s)
    assert b.retriever.retrieve("How fast do repair ships reach a broken cable?", 1)[0].chunk.doc_id == "extra.md"
    assert all(h.chunk.doc_id != "gbk_paper.txt" for h in b.retriever.retrieve("墨子号卫星是哪一年发射的？", 10))
    (corpus / "gbk_paper.txt").unlink()
    assert build_index([corpus], s).up_to_date and numpy_backend.calls[-1] == "retry cleanup"

    info = CliRunner().invoke(app, ["info", "--index", str(s.index_path), "--json"])
    assert json.loads(info.stdout)["dense"] == {"backend": "numpy", "kind": "flat", "rows": params["numpy"]["rows"]}
    text = CliRunner().invoke(app, ["info", "--index", str(s.index_path)]).stdout
    assert f"dense:      numpy flat ({params['numpy']['rows']} rows)\n" in text

    # without the backend registered, the index says what it needs
    del BACKENDS["numpy"]
    with pytest.raises(
        BackendUnavailableError,
        match=r"^index 'default' keeps its vectors in backend 'numpy', which is "
        r"not registered \(registered: 'faiss' or 'milvus'\); register it or rebuild with: "
        r"rag index PATH --force --index default$",
    ):
        load_index(s)
    register("numpy", numpy_backend)


def test_an_unknown_backend_fails_before_anything_is_written(tmp_path, fixture_corpus):
    s = load_settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", backend="nope")
    with pytest.raises(
        InvalidInputError,
        match=r"^invalid setting store.backend: Input should be 'faiss' or 'milvus' "
        r"\(check RAG_STORE__BACKEND or RAG_BACKEND or the command-line option\)$",
    ):
        build_index([fixture_corpus], s)
    assert not (tmp_path / "index").exists() and not (tmp_path / "cache").exists()
    register("numpy", NumpyBackend())
    try:
        with pytest.raises(InvalidInputError, match=r"Input should be 'faiss', 'milvus' or 'numpy' "):
            build_index([fixture_corpus], s)
    finally:
        del BACKENDS["numpy"]


def test_milvus_missing_is_one_line_naming_the_extra(monkeypatch):
    """Without the optional `milvus` extra, choosing Milvus says how to install it (no ImportError traceback)."""
    import sys

    from rag.errors import BackendUnavailableError
    from rag.index.dense.milvus import MilvusStore

    monkeypatch.setitem(sys.modules, "langchain_milvus", None)  # what a default install without the extra has
    with pytest.raises(
        BackendUnavailableError, match=r"^the Milvus backend is not installed; .*pip install -e '\.\[milvus\]'"
    ):
        MilvusStore(":memory:", "c", "flat", 4)
