"""Passage vectors pooled from sentence vectors (``sentence_vectors`` "pooled"): each token embedded once."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from rag.index.embedding import VectorCache


def pooled_vectors(
    cache: VectorCache,
    chunks: Sequence,
    texts: list[str],
    sent_rows: list[tuple[int, int, int]],
    sent_texts: list[str],
    progress: Callable[[int, int], None] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sentence vectors, and passage vectors pooled from them: the length-weighted mean of each passage's
    sentences and its section heading (embedded once per distinct heading), NOT renormalised; a passage
    without sentences is embedded whole. Every token is embedded once (the cache also shares sentences
    repeated in overlaps).

    Why not renormalised: a question's inner product with the mean is then the weighted mean of its
    similarities to the parts, never above its best sentence's, so the retriever's "a passage scores the
    max of its own and its best sentence's similarity" still ranks by sentences as with whole-passage
    vectors. Renormalised means (norm ~.97 before) scored ~.02 above every sentence, took over that max
    and cost cmrc2018-en R@5 .80 -> .72 (eval/NOTES.md, "Pooled passage vectors, round 2")."""
    heads = [t[: len(t) - len(c.text)].strip() for t, c in zip(texts, chunks)]
    has_sent = np.zeros(len(texts), bool)
    has_sent[[i for i, _, _ in sent_rows]] = True
    lonely = [texts[i] for i in np.flatnonzero(~has_sent)]
    distinct = sorted({h for h in heads if h})
    vecs = cache.embed_passages(sent_texts + distinct + lonely, progress=progress)
    n = len(sent_texts)
    sent_vecs, head_vecs = vecs[:n], dict(zip(distinct, vecs[n : n + len(distinct)]))
    pooled = np.zeros((len(texts), vecs.shape[1]), np.float64)
    weight = np.zeros(len(texts), np.float64)
    for (i, a, b), v in zip(sent_rows, sent_vecs):
        pooled[i] += (b - a) * v
        weight[i] += b - a
    for i, h in enumerate(heads):
        if h and has_sent[i]:
            pooled[i] += len(h) * head_vecs[h]
            weight[i] += len(h)
    pooled[has_sent] /= np.maximum(weight[has_sent, None], 1e-12)
    pooled[~has_sent] = vecs[n + len(distinct) :]
    return pooled.astype(np.float32), sent_vecs
