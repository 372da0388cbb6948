"""Vectors embedded on first use, so a build embeds each token once. ``sentence_vectors`` "lazy": the build
embeds only passages, and a sentence is embedded, exactly as a "separate" build would embed it, when a
question first needs it. ``sentence_vectors`` "pooled": the build embeds only sentences (a passage's
vector is pooled from them), and a passage's whole text is embedded when a question first ranks it
among its first candidates. Either is kept in the embedding cache (keyed by engine build) and in memory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from rag.index.embedding import Embedder, VectorCache
from rag.index.store.layout import passage_text


def placeholder_vectors(n: int, dim: int) -> np.ndarray:
    """What a lazy build stores for its sentence vectors: zeros without memory (the file stays sparse)."""
    return np.broadcast_to(np.zeros(dim, np.float32), (n, dim))


class LazySentenceVectors:
    """Stands in for ``Index.sent_vecs`` (or ``Index.whole_vecs``): rows are embedded on first access
    (numpy-style row indexing)."""

    def __init__(
        self,
        texts: Callable[[np.ndarray], list[str]],
        n: int,
        dim: int,
        embedder: Callable[[], Embedder],
        cache_dir: Path,
    ):
        self._texts = texts
        self._embedder = embedder
        self._cache_dir = cache_dir
        self._cache: VectorCache | Embedder | None = None
        self._rows: dict[int, np.ndarray] = {}
        self.shape = (n, dim)
        self.dtype = np.dtype(np.float32)
        self.embedded = 0  # sentences embedded (or read from the cache) by this process

    def __len__(self) -> int:
        return self.shape[0]

    def _source(self) -> VectorCache | Embedder:
        if self._cache is None:
            emb = self._embedder()
            try:
                self._cache = VectorCache(self._cache_dir, emb)
            except OSError:  # a read-only cache folder: embed without keeping the vectors on disk
                self._cache = emb
        return self._cache

    def __getitem__(self, key) -> np.ndarray:
        """Rows ``key`` (an int, slice, list or array of positions) as a float32 array."""
        single = isinstance(key, (int, np.integer))
        rows = np.arange(self.shape[0])[key] if isinstance(key, slice) else np.asarray(key, dtype=np.int64)
        flat = np.atleast_1d(rows).astype(np.int64).ravel()
        todo = sorted({int(r) for r in flat if int(r) not in self._rows})
        if todo:
            vecs = self._source().embed_passages(self._texts(np.asarray(todo, dtype=np.int64)))
            self.embedded += len(todo)
            self._rows.update(zip(todo, np.asarray(vecs, dtype=np.float32)))
        if not len(flat):
            return np.zeros((0, self.shape[1]), np.float32)
        out = np.stack([self._rows[int(r)] for r in flat])
        return out[0] if single else out.reshape(*np.shape(rows), self.shape[1])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[np.arange(self.shape[0])]
        return out if dtype is None else out.astype(dtype)


def sentence_texts(chunks: Sequence, sent_rows: np.ndarray) -> Callable[[np.ndarray], list[str]]:
    """The text of sentence rows, cut from their passages as the build cuts them."""

    def texts(rows: np.ndarray) -> list[str]:
        out = []
        for r in rows:
            ci, a, b = (int(x) for x in sent_rows[int(r)])
            out.append(chunks[ci].text[a:b])
        return out

    return texts


def passage_texts(chunks: Sequence, context: str) -> Callable[[np.ndarray], list[str]]:
    """The text of passages as a "separate" build embeds them (led by their section heading or title)."""

    def texts(rows: np.ndarray) -> list[str]:
        return [passage_text(chunks[int(r)], context) for r in rows]

    return texts


class WholeCentroids:
    """Stands in for ``Index.centroids`` of a pooled index (``sentence_vectors`` "pooled"): the stored
    per-language means of pooled vectors, corrected on first use by the mean difference between the
    whole-passage and the pooled vectors of up to ``sample`` evenly spaced passages of each language.

    Why: a question's similarity to its language's centroid is the baseline its answer features are
    measured against; pooled vectors sit off whole-passage ones by a shared offset (baseline .006 low on
    CMRC 2018, .011 on SQuAD 2.0), which made the answer model refuse fewer unanswerable questions. With
    16 passages the corrected baseline is within .002 of a separate build's (sd over samples; eval/NOTES.md,
    "Pooled passage vectors, round 3"). The sample is embedded with the first question, then cached."""

    def __init__(
        self, centroids: np.ndarray, chunk_vecs: np.ndarray, chunk_lang: np.ndarray, whole: np.ndarray, sample: int
    ):
        self._stored, self._vecs, self._lang, self._whole, self._sample = (
            centroids,
            chunk_vecs,
            chunk_lang,
            whole,
            sample,
        )
        self._value: np.ndarray | None = None
        self.shape = tuple(centroids.shape)
        self.dtype = np.dtype(np.float32)

    def value(self) -> np.ndarray:
        """The corrected centroids (computed once)."""
        if self._value is None:
            out = np.array(self._stored, dtype=np.float32)
            for li in range(len(out)):
                rows = np.flatnonzero(np.asarray(self._lang) == li)
                if not len(rows) or not self._sample:
                    continue
                pick = rows[np.unique(np.linspace(0, len(rows) - 1, min(self._sample, len(rows))).round().astype(int))]
                diff = np.asarray(self._whole[pick], np.float64) - np.asarray(self._vecs[pick], np.float64)
                out[li] += diff.mean(axis=0).astype(np.float32)
            self._value = out
        return self._value

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        return self.value()[key]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.value()
        return out if dtype is None else out.astype(dtype)
