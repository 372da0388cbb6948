"""sentence_vectors "lazy": the build embeds passages only; a sentence is embedded when a question needs it,
to the same vector a "separate" build stores, and kept in the embedding cache."""

from __future__ import annotations

import json

import numpy as np
from helpers import cached_vectors, index_settings

from rag.answer.pipeline import Assistant
from rag.index.store import build_index, passage_text
from rag.index.store.reader import load_index


def test_lazy_build_embeds_passages_once_and_sentences_on_demand(tmp_path, fixture_corpus, fixture_settings):
    """Only the passages are embedded at build time; rows read later equal the separate build's sentence
    vectors; what was embedded stays in the cache, so a second reader embeds nothing."""
    s = index_settings(tmp_path, sentence_vectors="lazy")
    report = build_index([fixture_corpus], s)
    params = json.loads((s.index_path / "params.json").read_text("utf-8"))
    assert params["chunking"]["sentence_vectors"] == "lazy"
    assert params["sentences"]["search"] == "top"
    idx = load_index(s)
    texts = {passage_text(idx.chunks[i], s.ingest.passage_context) for i in range(len(idx.chunks))}
    assert report.embedded == len(texts)  # passages only: no sentence embedded on its own
    built = cached_vectors(s)  # the passages and the language anchors
    separate = np.load(fixture_settings.index_path / "sentence_vectors.npy")
    assert idx.sent_vecs.shape == separate.shape
    rows = np.array([3, 0, 7, 3])
    np.testing.assert_allclose(idx.sent_vecs[rows], separate[rows], atol=1e-5)
    np.testing.assert_allclose(idx.sent_vecs[5], separate[5], atol=1e-5)
    assert idx.sent_vecs[np.zeros(0, np.int64)].shape == (0, separate.shape[1])
    assert cached_vectors(s) == built + 4  # the four distinct rows (3, 0, 7, 5), now in the cache
    again = load_index(s)
    np.testing.assert_allclose(again.sent_vecs[[0, 3, 7]], separate[[0, 3, 7]], atol=1e-5)
    assert cached_vectors(s) == built + 4


def test_lazy_index_answers_embedding_only_the_top_passages_sentences(tmp_path, fixture_corpus):
    """A question on a lazy index embeds the sentences of each retriever's first passages, no more, and
    is answered with citations like on a separate index."""
    s = index_settings(tmp_path, sentence_vectors="lazy", lazy_sentence_passages=2)
    build_index([fixture_corpus], s)
    before = cached_vectors(s)
    a = Assistant.open(s)
    n_sent = len(a.retriever.index.sent_rows)
    ans = a.ask("新加坡个人数据保护委员会成立于哪一年？")
    assert ans.citations
    grown = cached_vectors(s) - before
    per_passage = np.diff(np.asarray(a.retriever.index.chunk_sentences.starts))
    # dense, BM25 and translated lists: at most 3 x 2 passages, plus the cited passages' sentences (evidence)
    most = int(np.sort(per_passage)[-(3 * 2 + s.retrieval.top_k) :].sum())
    assert 0 < grown <= min(most, n_sent - 1)
