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
    """Sentence vectors, and passage vectors pooled from them: each passage's sentences weighted by their
    length, plus its section heading (embedded once per distinct heading); a passage without sentences is
    embedded whole. Every token is embedded once (the cache also shares sentences repeated in overlaps)."""
    heads = [t[: len(t) - len(c.text)].strip() for t, c in zip(texts, chunks)]
    has_sent = np.zeros(len(texts), bool)
    has_sent[[i for i, _, _ in sent_rows]] = True
    lonely = [texts[i] for i in np.flatnonzero(~has_sent)]
    distinct = sorted({h for h in heads if h})
    vecs = cache.embed_passages(sent_texts + distinct + lonely, progress=progress)
    n = len(sent_texts)
    sent_vecs, head_vecs = vecs[:n], dict(zip(distinct, vecs[n : n + len(distinct)]))
    pooled = np.zeros((len(texts), vecs.shape[1]), np.float64)
    for (i, a, b), v in zip(sent_rows, sent_vecs):
        pooled[i] += (b - a) * v
    for i, h in enumerate(heads):
        if h and has_sent[i]:
            pooled[i] += len(h) * head_vecs[h]
    pooled[~has_sent] = vecs[n + len(distinct) :]
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return pooled.astype(np.float32), sent_vecs
