"""Retrieval on indexes whose passage vectors are pooled from their sentences' (``sentence_vectors``
"pooled"): the first candidates are scored with whole-passage vectors embedded on first use."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.index.store import Index


def whole_passage_scores(
    index: Index, aligned: np.ndarray, dense: dict[int, float], others: Sequence[dict[int, float]], top: int
) -> None:
    """An index whose passage vectors are pooled from its sentences' (``sentence_vectors`` "pooled"): the
    first ``top`` passages of each list (dense, BM25, translated) are scored with their whole-passage
    vectors (embedded on first use, ``rag.index.store.lazy_vectors``) as a "separate" index scores them:
    the max of that and the best sentence's similarity; a passage of another list enters the dense list
    when its whole vector scores at least the list's last. A pooled vector's similarity is the mean of
    its sentences', so it cannot say when a passage matches as a whole better than by any one sentence.
    ``aligned``: the question's vector aligned to each language (``Query.aligned``); ``dense`` is updated."""
    whole = index.whole_vecs
    if whole is None or not dense or not top:
        return
    first = {i for scores in (dense, *others) for i in sorted(scores, key=lambda i: (-scores[i], i))[:top]}
    ids = np.asarray(sorted(first), dtype=np.int64)
    sims = np.einsum("ij,ij->i", np.asarray(whole[ids]), aligned[index.chunk_lang[ids]])
    floor = min(dense.values())
    for i, sim in zip(ids.tolist(), sims.tolist()):
        if i in dense:
            dense[i] = max(dense[i], sim)
        elif sim >= floor:
            dense[i] = sim
