"""sentence_vectors "pooled": the retriever scores its first candidates with whole-passage vectors embedded
on first use (equal to what a "separate" build stores), so they rank as on a separate index."""

from __future__ import annotations

import numpy as np
from helpers import cached_vectors, index_settings

from rag.answer.retrieval import Retriever, score_candidates
from rag.index.embedding import make_embedder
from rag.index.store import build_index
from rag.index.store.reader import load_index

QUESTION = "新加坡个人数据保护委员会成立于哪一年？"


def test_whole_passage_vectors_equal_the_separate_builds_and_are_cached(tmp_path, fixture_corpus, fixture_settings):
    """A pooled index's whole-passage rows are the separate build's passage vectors, embedded only when
    read and kept in the embedding cache (a second reader embeds nothing); other indexes have none."""
    s = index_settings(tmp_path, sentence_vectors="pooled")
    build_index([fixture_corpus], s)
    idx = load_index(s)
    separate = load_index(fixture_settings)
    assert separate.whole_vecs is None
    assert idx.whole_vecs is not None and idx.whole_vecs.shape == separate.chunk_vecs.shape
    before = cached_vectors(s)
    rows = np.array([2, 0, 5, 2])
    np.testing.assert_allclose(idx.whole_vecs[rows], separate.chunk_vecs[rows], atol=1e-5)
    assert cached_vectors(s) == before + 3  # rows 2, 0 and 5
    # the pooled vectors are not the whole-passage ones: that is what the rescoring is for
    assert float(np.max(np.abs(np.asarray(idx.chunk_vecs[rows]) - separate.chunk_vecs[rows]))) > 1e-2
    again = load_index(s)
    np.testing.assert_allclose(again.whole_vecs[[0, 5]], separate.chunk_vecs[[0, 5]], atol=1e-5)
    assert cached_vectors(s) == before + 3


def test_first_candidates_score_as_on_a_separate_index(tmp_path, fixture_corpus, fixture_settings, monkeypatch):
    """With every passage among the first candidates, a pooled index's dense scores are the separate
    index's (max of whole passage and best sentence) wherever the pooled vector does not score higher, and
    BM25 is untouched; with 0 passages the whole-passage vectors are never read."""
    from rag.index.store import reader

    monkeypatch.setattr(reader, "CENTROID_SAMPLE", 0)  # only what the candidates embed is counted
    s = index_settings(tmp_path, sentence_vectors="pooled")
    build_index([fixture_corpus], s)
    embedder = make_embedder(s.store.embedder, s.store.batch_size)
    pooled, separate = load_index(s), load_index(fixture_settings)
    n = len(pooled.chunks)
    q = Retriever(pooled, embedder, s).encode(QUESTION)
    sep = score_candidates(separate, q, n, None, 25, n)
    none = score_candidates(pooled, q, n, None, 25, 0)
    assert pooled.whole_vecs.embedded == 0
    full = score_candidates(pooled, q, n, None, 25, n)
    assert pooled.whole_vecs.embedded == n
    assert full.bm25 == sep.bm25 == none.bm25
    assert set(full.dense) == set(sep.dense)
    same = [i for i in sep.dense if none.dense[i] <= sep.dense[i] + 1e-6]
    assert len(same) >= n // 2
    for i in same:
        assert abs(full.dense[i] - sep.dense[i]) < 1e-5
    assert all(full.dense[i] >= none.dense[i] - 1e-9 for i in full.dense)
    assert any(full.dense[i] > none.dense[i] + 1e-3 for i in full.dense)  # some passage gains as a whole


def test_a_question_embeds_only_each_lists_first_passages(tmp_path, fixture_corpus, monkeypatch):
    """Asking on a pooled index embeds at most the first ``pooled_whole_passages`` of each list (and the
    centroid sample: here one passage per language)."""
    from rag.index.store import reader

    monkeypatch.setattr(reader, "CENTROID_SAMPLE", 1)
    s = index_settings(tmp_path, sentence_vectors="pooled", pooled_whole_passages=2)
    build_index([fixture_corpus], s)
    r = Retriever(load_index(s), make_embedder(s.store.embedder, s.store.batch_size), s)
    hits = r.retrieve(QUESTION, 3)
    assert hits
    langs = int(np.count_nonzero(np.bincount(np.asarray(r.index.chunk_lang))))
    assert 1 <= r.index.whole_vecs.embedded <= 3 * 2 + langs < len(r.index.chunks)


def test_centroids_are_corrected_towards_whole_passage_vectors(tmp_path, fixture_corpus, fixture_settings, monkeypatch):
    """A pooled index's per-language centroids move by the mean whole-minus-pooled difference of a sample
    of its passages: with every passage sampled they are the separate build's; with whole-passage vectors
    off (0) they are the stored means of the pooled vectors."""
    from rag.index.store import reader

    s = index_settings(tmp_path, sentence_vectors="pooled")
    build_index([fixture_corpus], s)
    separate = load_index(fixture_settings)
    stored = np.asarray(load_index(s.model_copy(update={"pooled_whole_passages": 0})).centroids)
    assert type(load_index(s.model_copy(update={"pooled_whole_passages": 0})).centroids) is np.ndarray
    monkeypatch.setattr(reader, "CENTROID_SAMPLE", 10_000)
    idx = load_index(s)
    assert idx.whole_vecs.embedded == 0  # nothing embedded until a question needs the baseline
    corrected = np.asarray(idx.centroids)
    assert idx.whole_vecs.embedded == len(idx.chunks)
    np.testing.assert_allclose(corrected, separate.centroids, atol=1e-5)
    assert float(np.max(np.abs(stored - separate.centroids))) > 1e-3
    monkeypatch.setattr(reader, "CENTROID_SAMPLE", 2)
    two = load_index(s)
    np.asarray(two.centroids)
    langs = int(np.count_nonzero(np.bincount(np.asarray(two.chunk_lang))))
    assert two.whole_vecs.embedded == 2 * langs
