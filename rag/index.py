"""The on-disk index: FAISS (chunks), sentence vectors, BM25 (bm25s) and the chunk store in one
self-describing directory, written atomically (build in a temp dir, then swap)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rag import __version__
from rag.chunking import chunk_document, chunk_sentences
from rag.cleaning import clean_document
from rag.embedding import LANGS, Embedder, VectorCache, anchors_digest, embedder_id, language_means, make_embedder
from rag.errors import EmbedderMismatchError, IndexCorruptError, IndexNotFoundError
from rag.loading import Skipped, load_sources
from rag.records import Chunk, Document
from rag.settings import Settings
from rag.text import detect_lang, tokenize
from rag.translation import build_glossary, save_glossary

FORMAT_VERSION = 2
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class DocInfo:
    """Per-document metadata kept in the index (for citations and `rag info`)."""

    doc_id: str
    path: str
    title: str
    authors: tuple[str, ...]
    sha256: str
    n_chars: int
    n_chunks: int
    n_footnotes: int


@dataclass
class BuildReport:
    """What an index build did, for the CLI and the app."""

    path: Path
    documents: int = 0
    chunks: int = 0
    sentences: int = 0
    embedded: int = 0
    cached: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    up_to_date: bool = False
    seconds: float = 0.0
    embed_seconds: float = 0.0

    def to_dict(self) -> dict:
        """JSON form for ``--json``."""
        d = asdict(self)
        d["path"] = str(self.path)
        d["skipped"] = [{"path": s.path, "reason": s.reason} for s in self.skipped]
        return d


def passage_text(chunk: Chunk, context: str) -> str:
    """What gets embedded and BM25-indexed for a chunk: its text, optionally led by title/section."""
    if context == "none":
        return chunk.text
    head = chunk.section if context == "section" else f"{chunk.title} {chunk.section}".strip()
    return f"{head}\n{chunk.text}" if head and not chunk.text.startswith(head) else chunk.text


def chunking_params(s: Settings) -> dict:
    """The chunking settings an index is tied to."""
    return {"size": s.chunk_size, "overlap": s.chunk_overlap, "context": s.passage_context, "splitter": "sentence-v2"}


# --- building -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """One writer per index: an advisory lock next to the index directory."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _recover(target: Path) -> None:
    """Finish or undo a swap that was interrupted between its two renames."""
    old = target.parent / f".{target.name}.old"
    if not target.exists() and old.exists():
        os.rename(old, target)
    elif old.exists():
        shutil.rmtree(old, ignore_errors=True)


def _clear_stale_tmp(target: Path) -> None:
    for tmp in target.parent.glob(f".{target.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()  # our own pid: a leftover of an earlier failed build here


def sources_manifest(docs: list[Document]) -> dict[str, str]:
    """doc_id -> sha256 of the source bytes: what decides whether an index is up to date."""
    return {d.doc_id: d.sha256 for d in docs}


def build_index(
    paths: list[str | Path],
    settings: Settings,
    *,
    force: bool = False,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> BuildReport:
    """Index every readable file under ``paths`` into ``settings.index_path``, atomically."""
    t0 = time.perf_counter()
    target = settings.index_path
    report = BuildReport(path=target)
    sources, report.skipped = load_sources(paths)
    docs = [clean_document(s) for s in sources]
    chunks = [c for d in docs for c in chunk_document(d, settings.chunk_size, settings.chunk_overlap)]
    report.documents, report.chunks = len(docs), len(chunks)
    with _locked(target):
        _recover(target)
        _clear_stale_tmp(target)
        if not force and _is_current(target, docs, settings):
            report.up_to_date = True
            report.sentences = _read_params(target)["counts"]["sentences"]
            report.seconds = time.perf_counter() - t0
            return report
        embedder = embedder or make_embedder(settings.embedder, settings.batch_size)
        cache = VectorCache(settings.embedding_cache_dir, embedder)
        texts = [passage_text(c, settings.passage_context) for c in chunks]
        sent_rows = [(i, a, b) for i, c in enumerate(chunks) for a, b in chunk_sentences(c)]
        sent_texts = [chunks[i].text[a:b] for i, a, b in sent_rows]
        report.sentences = len(sent_rows)

        def tick(stage: str) -> Callable[[int, int], None] | None:
            return (lambda done, total: progress(stage, done, total)) if progress else None

        t_embed = time.perf_counter()
        chunk_vecs = cache.embed_passages(texts, progress=tick("embedding passages"))
        sent_vecs = cache.embed_passages(sent_texts, progress=tick("embedding sentences"))
        means = language_means(cache)
        report.embed_seconds = time.perf_counter() - t_embed
        report.embedded, report.cached = cache.misses, cache.hits
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        chunk_lang = np.array([LANGS.index(detect_lang(c.text)) for c in chunks], dtype=np.uint8)
        langs = {
            "chunk_lang": chunk_lang,
            "sent_lang": np.array([LANGS.index(detect_lang(t)) for t in sent_texts], dtype=np.uint8),
            **{f"mean_{k}": v for k, v in means.items()},
            # per-language passage centroids: a query's similarity to them is its baseline in that language
            **{f"centroid_{k}": (chunk_vecs[chunk_lang == i].mean(axis=0) if (chunk_lang == i).any()
                                 else np.zeros(embedder.dim, np.float32)) for i, k in enumerate(LANGS)},
        }
        _write(tmp, docs, chunks, texts, chunk_vecs, sent_rows, sent_vecs, langs, embedder, settings, progress)
        _swap(tmp, target)
    report.seconds = time.perf_counter() - t0
    return report


def _is_current(target: Path, docs: list[Document], settings: Settings) -> bool:
    try:
        params = _read_params(target)
    except (IndexNotFoundError, IndexCorruptError):
        return False
    return (
        params.get("format_version") == FORMAT_VERSION
        and params.get("embedder", {}).get("id") == embedder_id(settings.embedder)
        and params.get("chunking") == chunking_params(settings)
        and params.get("sources") == sources_manifest(docs)
    )


def _write(tmp, docs, chunks, texts, chunk_vecs, sent_rows, sent_vecs, langs, embedder, settings, progress) -> None:
    import bm25s
    import faiss

    if progress:
        progress("writing index", 0, 1)
    dense = faiss.IndexFlatIP(embedder.dim)
    dense.add(chunk_vecs)
    faiss.write_index(dense, str(tmp / "dense.faiss"))
    np.save(tmp / "sentence_vectors.npy", sent_vecs)
    np.save(tmp / "sentences.npy", np.asarray(sent_rows, dtype=np.int32).reshape(-1, 3))
    np.savez(tmp / "languages.npz", **langs)
    bm25 = bm25s.BM25(k1=1.2, b=0.75)
    bm25.index([tokenize(t) or [""] for t in texts], show_progress=False)
    bm25.save(str(tmp / "bm25"))
    has_zh = bool((langs["chunk_lang"] == LANGS.index("zh")).any())
    save_glossary(build_glossary(set(bm25.vocab_dict)) if has_zh else {}, tmp / "glossary.json")
    with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as fh:
        for c in chunks:
            fh.write(json.dumps(asdict(c), ensure_ascii=False) + "\n")
    per_doc = {d.doc_id: 0 for d in docs}
    for c in chunks:
        per_doc[c.doc_id] += 1
    infos = [
        DocInfo(d.doc_id, d.path, d.title, d.authors, d.sha256, len(d.text), per_doc[d.doc_id], len(d.footnotes))
        for d in docs
    ]
    (tmp / "docs.json").write_text(json.dumps([asdict(i) for i in infos], ensure_ascii=False, indent=1), "utf-8")
    params = {
        "format_version": FORMAT_VERSION,
        "rag_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "embedder": {"id": embedder.id, "dimension": embedder.dim, "normalized": True},
        "chunking": chunking_params(settings),
        "bm25": {"tokenizer": "jieba-search+latin-v1", "k1": 1.2, "b": 0.75},
        "alignment": {"method": "anchor-mean-shift", "languages": list(LANGS), "anchors": anchors_digest()},
        "counts": {"documents": len(docs), "chunks": len(chunks), "sentences": len(sent_rows)},
        "sources": sources_manifest(docs),
    }
    # params.json last: a directory without it is never mistaken for a finished index
    (tmp / "params.json").write_text(json.dumps(params, ensure_ascii=False, indent=1), "utf-8")
    for f in tmp.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())


def _swap(tmp: Path, target: Path) -> None:
    """Replace ``target`` by ``tmp``: a crash at any point leaves one complete index loadable."""
    old = target.parent / f".{target.name}.old"
    if target.exists():
        os.rename(target, old)
    os.rename(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


# --- loading ------------------------------------------------------------------------------------


def _read_params(path: Path) -> dict:
    f = path / "params.json"
    if not path.exists():
        raise IndexNotFoundError(f"no index at {path}; build it with: rag index PATH --index {path.name}")
    try:
        return json.loads(f.read_text("utf-8"))
    except (OSError, ValueError):
        raise IndexCorruptError(f"index at {path} has no readable params.json; rebuild it with: rag index PATH") from None


@dataclass
class Index:
    """A loaded index (read-only): chunks, vectors, BM25 and metadata."""

    path: Path
    params: dict
    docs: dict[str, DocInfo]
    chunks: list[Chunk]
    dense: object  # faiss.Index
    sent_vecs: np.ndarray
    sent_rows: np.ndarray  # (chunk index, start, end) per sentence
    bm25: object  # bm25s.BM25
    chunk_lang: np.ndarray  # per chunk: index into LANGS
    sent_lang: np.ndarray  # per sentence: index into LANGS
    lang_means: dict[str, np.ndarray]  # mean anchor query vector per language
    centroids: np.ndarray  # (len(LANGS), dim) mean passage vector per language
    glossary: dict[str, list[str]]  # English -> Chinese terms of this index (query translation)
    chunk_sentences: list[range] = field(default_factory=list)

    @property
    def embedder_id(self) -> str:
        """Id of the embedder the index was built with."""
        return self.params["embedder"]["id"]

    def size_bytes(self) -> int:
        """Bytes on disk."""
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


def load_index(settings: Settings, check_embedder: bool = True) -> Index:
    """Load ``settings.index_path``; refuse it if it was built with another embedder."""
    import bm25s
    import faiss

    path = settings.index_path
    if path.parent.exists():
        _recover(path)
    params = _read_params(path)
    if params.get("format_version") != FORMAT_VERSION:
        raise IndexCorruptError(
            f"index at {path} has format {params.get('format_version')}, this rag reads {FORMAT_VERSION}; rebuild it with: rag index PATH"
        )
    built_with = params["embedder"]["id"]
    if check_embedder and built_with != embedder_id(settings.embedder):
        raise EmbedderMismatchError(
            f"index '{path.name}' was built with embedder '{built_with}' but '{embedder_id(settings.embedder)}' is "
            f"configured; set RAG_EMBEDDER to match or rebuild with: rag index PATH --index {path.name}"
        )
    try:
        docs = {d["doc_id"]: DocInfo(**{**d, "authors": tuple(d["authors"])}) for d in json.loads((path / "docs.json").read_text("utf-8"))}
        with open(path / "chunks.jsonl", encoding="utf-8") as fh:
            chunks = [Chunk(**json.loads(line)) for line in fh]
        dense = faiss.read_index(str(path / "dense.faiss"))
        sent_vecs = np.load(path / "sentence_vectors.npy", mmap_mode="r")
        sent_rows = np.load(path / "sentences.npy")
        bm25 = bm25s.BM25.load(str(path / "bm25"), mmap=True)
        with np.load(path / "languages.npz") as z:
            chunk_lang, sent_lang = z["chunk_lang"], z["sent_lang"]
            means = {lang: z[f"mean_{lang}"] for lang in LANGS}
            centroids = np.stack([z[f"centroid_{lang}"] for lang in LANGS])
        glossary = json.loads((path / "glossary.json").read_text("utf-8"))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexCorruptError(f"index at {path} is damaged ({type(exc).__name__}); rebuild it with: rag index PATH") from None
    if dense.ntotal != len(chunks) or len(sent_rows) != len(sent_vecs):
        raise IndexCorruptError(f"index at {path} is inconsistent (vectors vs chunks); rebuild it with: rag index PATH")
    ranges: list[range] = []
    starts = np.searchsorted(sent_rows[:, 0], np.arange(len(chunks) + 1)) if len(sent_rows) else np.zeros(len(chunks) + 1, int)
    for i in range(len(chunks)):
        ranges.append(range(int(starts[i]), int(starts[i + 1])))
    return Index(path, params, docs, chunks, dense, sent_vecs, sent_rows, bm25, chunk_lang, sent_lang, means, centroids, glossary, ranges)
