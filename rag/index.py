"""The on-disk index: passages, their vectors and sentences, BM25 and a dense index in one
self-describing directory, written atomically (build in a temp dir, then swap).

Builds are incremental: a document whose source bytes are unchanged keeps its passages, vectors,
sentences and BM25 tokens (copied from the current index, never re-cleaned, re-chunked, re-embedded
or re-tokenised); changed and new documents are processed; documents that are gone are dropped. The
arrays are laid out in the order a full build would produce, so an updated index answers exactly
like a rebuilt one. Large arrays are memory-mapped at load, so opening a million-passage index
takes a moment and little memory.

Layout (format 3): params.json, docs.json, chunks.jsonl (+ chunks.offsets.npy: random access),
chunk_vectors.npy, vector_ids.npy, chunk_docs.npy, sentences.npy, sentence_vectors.npy,
languages.npz, tokens.npy + token_offsets.npy + terms.json (BM25 tokens per passage), bm25/,
glossary.json, and dense.faiss for approximate FAISS kinds (Milvus keeps vectors in a collection).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import mmap
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rag import __version__
from rag.bm25 import Terms, build_bm25
from rag.chunking import chunk_document, chunk_sentences
from rag.cleaning import clean_document
from rag.dense import (
    HNSW_MAX, STALE_REBUILD, FaissAnn, FlatDense, MilvusDense, MilvusStore, add_faiss, build_faiss, choose_kind,
    collection_name,
)
from rag.embedding import (
    LANGS, Embedder, VectorCache, anchors_digest, embedder_id, language_means, make_embedder, same_embedder,
)
from rag.errors import EmbedderMismatchError, IndexCorruptError, IndexNotFoundError, InvalidInputError
from rag.integrity import MARKER, damaged, is_ours, manifest, params_intact, seal, write_marker
from rag.integrity import verify as verify_files
from rag.loading import Skipped, _Skip, discover, read_source, require_documents
from rag.records import Chunk, Document
from rag.settings import Settings
from rag.text import detect_lang, tokenize
from rag.translation import build_glossary, save_glossary
from rag.native import faiss as load_faiss

FORMAT_VERSION = 4  # 4: integrity manifest and marker
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
    n_source_chars: int = 0  # characters of the source before cleaning
    n_dropped_chars: int = 0  # left out as page furniture (page numbers, running headers, repeated lines)


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
    added: list[str] = field(default_factory=list)  # documents new to the index
    updated: list[str] = field(default_factory=list)  # documents whose source changed
    removed: list[str] = field(default_factory=list)  # documents no longer in the sources (or removed)
    reused: int = 0  # documents carried over unchanged (nothing recomputed)
    dense: str = ""  # dense index kind, e.g. "faiss:flat"
    notes: list[str] = field(default_factory=list)  # what the user should know (damage found, text dropped)

    def to_dict(self) -> dict:
        """JSON form for ``--json``."""
        d = asdict(self)
        d["path"] = str(self.path)
        d["skipped"] = [{"path": s.path, "reason": s.reason} for s in self.skipped]
        return d


DROPPED_NOTE_SHARE = 0.2  # a document losing more than this share of its text as page furniture is reported


def dropped_note(doc_id: str, source_chars: int, dropped_chars: int) -> str:
    """What to tell the user when cleaning left out much of a document ('' when it did not)."""
    if not source_chars or dropped_chars <= DROPPED_NOTE_SHARE * source_chars:
        return ""
    return (f"{doc_id}: {dropped_chars / source_chars:.0%} of its text ({dropped_chars:,} of {source_chars:,} characters) "
            "was left out as page furniture (page numbers, running headers, lines repeated 3 or more times)")


def passage_text(chunk: Chunk, context: str) -> str:
    """What gets embedded and BM25-indexed for a chunk: its text, optionally led by title/section."""
    if context == "none":
        return chunk.text
    head = chunk.section if context == "section" else f"{chunk.title} {chunk.section}".strip()
    return f"{head}\n{chunk.text}" if head and not chunk.text.startswith(head) else chunk.text


def chunking_params(s: Settings) -> dict:
    """The chunking settings an index is tied to."""
    return {"size": s.chunk_size, "overlap": s.chunk_overlap, "context": s.passage_context, "splitter": "sentence-v3"}


def sources_manifest(docs: Iterable[Document | DocInfo]) -> dict[str, str]:
    """doc_id -> sha256 of the source bytes: what decides whether an index is up to date."""
    return {d.doc_id: d.sha256 for d in docs}


# --- one document's share of an index -------------------------------------------------------------


@dataclass
class Part:
    """Everything the index keeps for one document: either new arrays, or a range of the old index."""

    info: DocInfo
    chunks: list[Chunk] = field(default_factory=list)  # new documents only
    chunk_vecs: np.ndarray | None = None
    sent_rows: np.ndarray | None = None  # (local chunk, start, end)
    sent_vecs: np.ndarray | None = None
    tokens: list[list[str]] = field(default_factory=list)
    chunk_lang: np.ndarray | None = None
    sent_lang: np.ndarray | None = None
    old: tuple[int, int] | None = None  # chunk range in the current index (reused documents)

    @property
    def n_chunks(self) -> int:
        return self.old[1] - self.old[0] if self.old else len(self.chunks)


def new_part(doc: Document, chunks: list[Chunk], chunk_vecs: np.ndarray, sent_rows: list[tuple[int, int, int]],
             sent_vecs: np.ndarray, tokens: list[list[str]], sent_texts: list[str] | None = None) -> Part:
    """A document processed now: its chunks with vectors, sentences and BM25 tokens."""
    texts = sent_texts if sent_texts is not None else [chunks[i].text[a:b] for i, a, b in sent_rows]
    info = DocInfo(doc.doc_id, doc.path, doc.title, doc.authors, doc.sha256, len(doc.text), len(chunks), len(doc.footnotes),
                   doc.source_chars, doc.dropped_chars)
    return Part(
        info, chunks, chunk_vecs, np.asarray(sent_rows, dtype=np.int32).reshape(-1, 3), sent_vecs, tokens,
        np.array([LANGS.index(detect_lang(c.text)) for c in chunks], dtype=np.uint8),
        np.array([LANGS.index(detect_lang(t)) for t in texts], dtype=np.uint8),
    )


# --- building ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """One writer per index: an advisory lock on ``.NAME.lock`` next to the index directory.

    The lock file is removed again when no index results (a first build that failed), so names
    that were only tried leave nothing behind; a writer that waited checks it still holds the file
    that is in place before going on.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.parent / f".{target.name}.lock"
    while True:
        fh = open(lock, "a")
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            if os.fstat(fh.fileno()).st_ino == os.stat(lock).st_ino:
                break  # the lock file in place is the one locked
        except FileNotFoundError:
            pass  # removed by the writer before us: lock the new one
        fh.close()
    try:
        yield
    finally:
        if not target.exists():
            with contextlib.suppress(OSError):
                lock.unlink()
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


@contextlib.contextmanager
def _updating(target: Path, settings: Settings, reuse: bool = True, strict: bool = False,
              notes: list[str] | None = None) -> Iterator["_Stored | None"]:
    """Hold the index lock with leftovers of a killed build cleaned up, and yield the current index
    to copy from (None when ``reuse`` is off or it cannot be reused), closed afterwards."""
    with _locked(target):
        _recover(target)
        _clear_stale_tmp(target)
        _refuse_foreign(target)
        old = _Stored.open(target, settings, strict, notes) if reuse else None
        try:
            yield old
        finally:
            if old is not None:
                old.close()


def _refuse_foreign(target: Path) -> None:
    """A build replaces its target directory: never one that is not a rag index (or empty)."""
    if target.is_dir() and not is_ours(target) and any(target.iterdir()):
        raise InvalidInputError(f"{target} is a folder that is not a rag index; give --index a new name or an "
                                "empty folder (rag never replaces other folders)")
    if target.exists() and not target.is_dir():
        raise InvalidInputError(f"{target} is a file; give --index a new name or a folder path")


def _recover(target: Path) -> None:
    """Finish or undo a swap that was interrupted between its two renames (writers only, under the
    lock, and only on directories that carry the index marker)."""
    old = target.parent / f".{target.name}.old"
    if not old.is_dir() or not is_ours(old):
        return
    if not target.exists():
        os.rename(old, target)
    elif is_ours(target):
        shutil.rmtree(old, ignore_errors=True)


def _clear_stale_tmp(target: Path) -> None:
    for tmp in target.parent.glob(f".{target.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if tmp.is_dir() and (tmp / MARKER).is_file() and (not pid.isdigit() or not _alive(int(pid))):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()  # our own pid: a leftover of an earlier failed build here


def _scan(paths: list[str | Path], old_docs: Sequence[DocInfo], ids_of: Sequence[DocInfo]) -> tuple[list[tuple[str, str, object]], list[Skipped]]:
    """(doc_id, absolute path, SourceFile or sha256) per readable file: a file whose bytes hash to the
    sha256 of a reusable document (``old_docs``) is not decoded again (its sha256 string stands in for
    the source). Files of ``ids_of`` keep their document ids, however the paths are given."""
    known = {d.doc_id: d.sha256 for d in old_docs}
    files, skipped = discover(paths, {d.path: d.doc_id for d in ids_of})
    out: list[tuple[str, str, object]] = []
    for path, doc_id in files:
        if doc_id in known:
            try:
                sha = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                sha = None
            if sha == known[doc_id]:
                out.append((doc_id, str(path.resolve()), sha))
                continue
        try:
            out.append((doc_id, str(path.resolve()), read_source(path, doc_id)))
        except _Skip as why:
            skipped.append(Skipped(str(path), str(why)))
    require_documents(paths, out, skipped)
    return out, skipped


def build_index(
    paths: list[str | Path],
    settings: Settings,
    *,
    force: bool = False,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> BuildReport:
    """Index every readable file under ``paths`` into ``settings.index_path``, atomically; only
    new or changed documents are processed, documents no longer present are removed."""
    t0 = time.perf_counter()
    target = settings.index_path
    report = BuildReport(path=target)
    with _updating(target, settings, reuse=not force, notes=report.notes) as old:
        _build(paths, settings, old, embedder, report, progress)
    report.seconds = time.perf_counter() - t0
    return report


def read_docs(path: Path) -> list[DocInfo]:
    """docs.json of the index at ``path`` (raises OSError, ValueError, TypeError or KeyError if unreadable)."""
    return [DocInfo(**{**d, "authors": tuple(d["authors"])}) for d in json.loads((path / "docs.json").read_text("utf-8"))]


def _previous_docs(target: Path) -> list[DocInfo]:
    """The documents of the index at ``target`` as far as docs.json can be read (for their ids)."""
    try:
        return read_docs(target)
    except (OSError, ValueError, TypeError, KeyError):
        return []


def _build(paths, settings: Settings, old: "_Stored | None", embedder: Embedder | None, report: BuildReport,
           progress: Progress | None) -> None:
    # a forced rebuild re-embeds everything but still keeps every document's id
    found, report.skipped = _scan(paths, old.docs if old else [], old.docs if old else _previous_docs(settings.index_path))
    report.documents = len(found)
    if old and _same_sources(old, found, settings):
        report.up_to_date = True
        report.chunks, report.sentences = len(old.offsets) - 1, old.params["counts"]["sentences"]
        report.dense = f"{old.params['dense']['backend']}:{old.params['dense']['kind']}"
        _retry_milvus_deletes(old, settings)
        return
    old_ids = {d.doc_id: i for i, d in enumerate(old.docs)} if old else {}
    cleaned = {d.doc_id: d for d in (clean_document(src) for _, _, src in found if not isinstance(src, str))}
    report.notes += [note for d in cleaned.values() if (note := dropped_note(d.doc_id, d.source_chars, d.dropped_chars))]
    report.added = [d for d in cleaned if d not in old_ids]
    report.updated = [d for d in cleaned if d in old_ids]
    report.removed = sorted(set(old_ids) - {d for d, _, _ in found})
    report.reused = len(found) - len(cleaned)
    if cleaned:
        embedder = embedder or make_embedder(settings.embedder, settings.batch_size)
    new_parts = _process(list(cleaned.values()), settings, embedder, report, progress)
    parts = []
    for doc_id, where, src in found:
        if isinstance(src, str):  # unchanged source: carried over as stored
            info = old.docs[old_ids[doc_id]]
            parts.append(Part(DocInfo(**{**asdict(info), "path": where}), old=old.doc_range(old_ids[doc_id])))
        else:
            parts.append(new_parts[doc_id])
    report.chunks = sum(p.n_chunks for p in parts)
    _assemble(settings.index_path, parts, old, settings, embedder, report, progress)


def _retry_milvus_deletes(old: "_Stored", settings: Settings) -> None:
    """Rows superseded by the last build but not yet deleted (it was interrupted): delete them now."""
    m = old.params.get("milvus", {})
    if m.get("stale_file") and (old.path / "milvus_stale.npy").exists():
        with contextlib.suppress(Exception):
            MilvusStore(m["uri"], m["collection"], old.params["dense"]["kind"], old.dim, token=settings.milvus_token).delete(
                np.load(old.path / "milvus_stale.npy").tolist())


@dataclass
class Precomputed:
    """Stands in for the embedder when parts arrive with their vectors (benchmarks, imports)."""

    id: str
    dim: int
    lang_means: dict[str, np.ndarray]


def write_index(parts: list[Part], settings: Settings, embedder: Precomputed, progress: Progress | None = None) -> BuildReport:
    """Write a full index from documents whose vectors and tokens are already computed (atomically)."""
    t0 = time.perf_counter()
    target = settings.index_path
    report = BuildReport(path=target, documents=len(parts), added=[p.info.doc_id for p in parts])
    report.chunks = sum(p.n_chunks for p in parts)
    with _updating(target, settings, reuse=False):
        _assemble(target, parts, None, settings, embedder, report, progress)
    report.seconds = time.perf_counter() - t0
    return report


def remove_documents(doc_ids: Sequence[str], settings: Settings, progress: Progress | None = None) -> BuildReport:
    """Drop documents from ``settings.index_path`` (atomically, nothing else recomputed)."""
    t0 = time.perf_counter()
    target = settings.index_path
    report = BuildReport(path=target)
    with _updating(target, settings, strict=True) as old:
        _remove(doc_ids, old, settings, report, progress)
    report.seconds = time.perf_counter() - t0
    return report


def _remove(doc_ids: Sequence[str], old: "_Stored", settings: Settings, report: BuildReport, progress) -> None:
    target = settings.index_path
    d = old.params["dense"]  # removing keeps the index's own dense configuration
    settings = settings.model_copy(update={"backend": d["backend"], "dense_index": d.get("requested", d["kind"]),
                                           "milvus_uri": old.params.get("milvus", {}).get("uri", settings.milvus_uri)})
    known = {d.doc_id: i for i, d in enumerate(old.docs)}
    unknown = [d for d in doc_ids if d not in known]
    if unknown:
        sample = ", ".join(list(known)[:3])
        raise InvalidInputError(f"no document '{unknown[0]}' in index '{target.name}' (it has e.g. {sample}); "
                                f"list them with: rag info --index {target.name}")
    gone = set(doc_ids)
    if gone >= set(known):
        raise InvalidInputError(f"removing every document would leave index '{target.name}' empty; "
                                f"delete the folder {target} instead")
    parts = [Part(d, old=old.doc_range(i)) for i, d in enumerate(old.docs) if d.doc_id not in gone]
    report.removed = [d for d in known if d in gone]
    report.documents, report.reused = len(parts), len(parts)
    report.chunks = sum(p.n_chunks for p in parts)
    _assemble(target, parts, old, settings, None, report, progress)


def _same_sources(old: "_Stored", found: list[tuple[str, str, object]], settings: Settings) -> bool:
    return (all(isinstance(src, str) for _, _, src in found)
            and sources_manifest(old.docs) == {d: (src if isinstance(src, str) else src.sha256) for d, _, src in found}
            and old.params["dense"].get("requested") == settings.dense_index
            and old.params["dense"]["backend"] == settings.backend
            and (settings.backend != "milvus" or old.params.get("milvus", {}).get("uri") == milvus_uri(settings)))


def milvus_uri(settings: Settings) -> str:
    """The Milvus URI an index records: a server URI as given, a Milvus Lite path made absolute."""
    uri = settings.milvus_address
    return uri if "://" in uri else str(Path(uri).resolve())


def _process(docs: list[Document], settings: Settings, embedder: Embedder | None, report: BuildReport,
             progress: Progress | None) -> dict[str, Part]:
    """Clean documents -> chunks, sentence spans, vectors (through the cache) and BM25 tokens."""
    if not docs:
        return {}
    cache = VectorCache(settings.embedding_cache_dir, embedder)
    per_doc = [chunk_document(d, settings.chunk_size, settings.chunk_overlap) for d in docs]
    chunks = [c for cs in per_doc for c in cs]
    texts = [passage_text(c, settings.passage_context) for c in chunks]
    sent_rows = [(i, a, b) for i, c in enumerate(chunks) for a, b in chunk_sentences(c)]
    sent_texts = [chunks[i].text[a:b] for i, a, b in sent_rows]

    def tick(stage: str) -> Callable[[int, int], None] | None:
        return (lambda done, total: progress(stage, done, total)) if progress else None

    t = time.perf_counter()
    chunk_vecs = cache.embed_passages(texts, progress=tick("embedding passages"))
    sent_vecs = cache.embed_passages(sent_texts, progress=tick("embedding sentences"))
    report.embed_seconds = time.perf_counter() - t
    report.embedded, report.cached = cache.misses, cache.hits
    out: dict[str, Part] = {}
    c0 = s0 = 0
    for d, cs in zip(docs, per_doc):
        s1 = s0
        while s1 < len(sent_rows) and sent_rows[s1][0] < c0 + len(cs):
            s1 += 1
        rows = [(i - c0, a, b) for i, a, b in sent_rows[s0:s1]]
        toks = [tokenize(t) for t in texts[c0 : c0 + len(cs)]]
        out[d.doc_id] = new_part(d, cs, chunk_vecs[c0 : c0 + len(cs)], rows, sent_vecs[s0:s1], toks, sent_texts[s0:s1])
        c0, s0 = c0 + len(cs), s1
    return out


def _assemble(target: Path, parts: list[Part], old: "_Stored | None", settings: Settings, embedder: Embedder | None,
              report: BuildReport, progress: Progress | None) -> None:
    """Write the index for ``parts`` (in this order) into a temp dir, then swap it in."""
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write_marker(tmp)  # first: a leftover of this build is provably ours to clean up
    try:
        after_swap = _fill(tmp, target, parts, old, settings, embedder, report, progress)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # an error (not a kill) leaves no temp dir behind
        raise
    if old:
        old.close()
    _swap(tmp, target)
    if after_swap:
        after_swap()


def _fill(tmp: Path, target: Path, parts: list[Part], old: "_Stored | None", settings: Settings,
          embedder: Embedder | None, report: BuildReport, progress: Progress | None) -> Callable | None:
    """Write every file of the new index into ``tmp``; returns what to do once it is swapped in."""
    if progress:
        progress("writing index", 0, 1)
    dim = old.dim if old is not None else embedder.dim
    emb_id = old.params["embedder"]["id"] if old is not None else embedder.id
    arrays = write_parts(tmp, parts, old, dim)
    report.sentences = arrays["sentences"]
    means = _language_means(old, settings, embedder)
    chunk_lang = np.load(tmp / "chunk_lang.npy")
    vectors = np.load(tmp / "chunk_vectors.npy", mmap_mode="r")
    langs = {
        "chunk_lang": chunk_lang,
        "sent_lang": np.load(tmp / "sent_lang.npy"),
        **{f"mean_{k}": v for k, v in means.items()},
        # per-language passage centroids: a query's similarity to them is its baseline in that language
        **{f"centroid_{k}": centroid(vectors, chunk_lang == i, dim) for i, k in enumerate(LANGS)},
    }
    os.remove(tmp / "chunk_lang.npy")
    os.remove(tmp / "sent_lang.npy")
    np.savez(tmp / "languages.npz", **langs)
    if progress:
        progress("indexing BM25", 0, 1)
    terms = arrays["terms"]
    bm25 = build_bm25(np.load(tmp / "tokens.npy"), np.load(tmp / "token_offsets.npy"), terms)
    bm25.save(str(tmp / "bm25"), show_progress=False)
    terms.save(tmp / "terms.json")
    has_zh = bool((chunk_lang == LANGS.index("zh")).any())
    save_glossary(build_glossary(set(bm25.vocab_dict)) if has_zh else {}, tmp / "glossary.json")
    infos = [p.info for p in parts]
    (tmp / "docs.json").write_text(json.dumps([asdict(i) for i in infos], ensure_ascii=False, indent=1), "utf-8")
    dense, after_swap = _write_dense(tmp, vectors, chunk_lang, parts, old, settings, report, progress)
    params = {
        "format_version": FORMAT_VERSION,
        "rag_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "embedder": {"id": emb_id, "dimension": dim, "normalized": True},
        "chunking": old.params["chunking"] if old is not None else chunking_params(settings),
        "bm25": {"tokenizer": "jieba-search+latin-v1", "k1": 1.2, "b": 0.75},
        "alignment": {"method": "anchor-mean-shift", "languages": list(LANGS), "anchors": anchors_digest()},
        "dense": dense,
        "sentences": {"search": "exhaustive" if dense["kind"] == "flat" else "candidates"},
        "counts": {"documents": len(infos), "chunks": arrays["chunks"], "sentences": arrays["sentences"]},
        "sources": sources_manifest(infos),
    }
    if dense["backend"] == "milvus":
        params["milvus"] = dense.pop("milvus")
    params["files"] = manifest(tmp)  # size + checksum of every file, checked when the index is opened
    # params.json last: a directory without it is never mistaken for a finished index
    (tmp / "params.json").write_text(json.dumps(seal(params), ensure_ascii=False, indent=1), "utf-8")
    for f in tmp.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    return after_swap


def write_parts(tmp: Path, parts: list[Part], old: "_Stored | None", dim: int) -> dict:
    """Stream the documents' arrays into ``tmp`` in order: chunk store, vectors, sentences, tokens."""
    from numpy.lib.format import open_memmap

    n = sum(p.n_chunks for p in parts)
    m = int(sum(int(old.sent_starts[p.old[1]] - old.sent_starts[p.old[0]]) if p.old else len(p.sent_rows) for p in parts))
    cvec = open_memmap(tmp / "chunk_vectors.npy", mode="w+", dtype=np.float32, shape=(n, dim))
    svec = open_memmap(tmp / "sentence_vectors.npy", mode="w+", dtype=np.float32, shape=(m, dim))
    srows = open_memmap(tmp / "sentences.npy", mode="w+", dtype=np.int32, shape=(m, 3))
    chunk_lang = np.zeros(n, np.uint8)
    sent_lang = np.zeros(m, np.uint8)
    chunk_docs = np.zeros(n, np.int32)
    offsets = np.zeros(n + 1, np.int64)
    tok_offsets = np.zeros(n + 1, np.int64)
    terms = Terms(old.terms.terms) if old else Terms()
    tok_parts: list[np.ndarray] = []
    c = s = 0
    with open(tmp / "chunks.jsonl", "wb") as fh:
        for di, p in enumerate(parts):
            k = p.n_chunks
            if p.old:
                a, b = p.old
                sa, sb = int(old.sent_starts[a]), int(old.sent_starts[b])
                blob = old.chunk_bytes(a, b)
                fh.write(blob)
                offsets[c + 1 : c + k + 1] = offsets[c] + (old.offsets[a + 1 : b + 1] - old.offsets[a])
                cvec[c : c + k] = old.vectors[a:b]
                chunk_lang[c : c + k] = old.chunk_lang[a:b]
                rows = np.asarray(old.sent_rows[sa:sb])
                srows[s : s + sb - sa] = rows - np.array([a - c, 0, 0], np.int32)
                svec[s : s + sb - sa] = old.sent_vecs[sa:sb]
                sent_lang[s : s + sb - sa] = old.sent_lang[sa:sb]
                ta, tb = int(old.tok_offsets[a]), int(old.tok_offsets[b])
                tok_parts.append(np.asarray(old.tokens[ta:tb]))
                tok_offsets[c + 1 : c + k + 1] = tok_offsets[c] + (old.tok_offsets[a + 1 : b + 1] - ta)
                ns = sb - sa
            else:
                pos = offsets[c]
                for i, ch in enumerate(p.chunks):
                    line = (json.dumps(asdict(ch), ensure_ascii=False) + "\n").encode("utf-8")
                    fh.write(line)
                    pos += len(line)
                    offsets[c + i + 1] = pos
                cvec[c : c + k] = p.chunk_vecs
                chunk_lang[c : c + k] = p.chunk_lang
                ns = len(p.sent_rows)
                if ns:
                    srows[s : s + ns] = p.sent_rows + np.array([c, 0, 0], np.int32)
                    svec[s : s + ns] = p.sent_vecs
                    sent_lang[s : s + ns] = p.sent_lang
                ids = [terms.encode(t) for t in p.tokens]
                tok_parts.extend(ids)
                tok_offsets[c + 1 : c + k + 1] = tok_offsets[c] + np.cumsum([len(x) for x in ids], dtype=np.int64)
            chunk_docs[c : c + k] = di
            c, s = c + k, s + ns
    for arr in (cvec, svec, srows):
        arr.flush()
    del cvec, svec, srows
    np.save(tmp / "chunks.offsets.npy", offsets)
    np.save(tmp / "chunk_docs.npy", chunk_docs)
    np.save(tmp / "chunk_lang.npy", chunk_lang)
    np.save(tmp / "sent_lang.npy", sent_lang)
    np.save(tmp / "tokens.npy", np.concatenate(tok_parts).astype(np.int32) if tok_parts else np.zeros(0, np.int32))
    np.save(tmp / "token_offsets.npy", tok_offsets)
    return {"chunks": int(n), "sentences": int(m), "terms": terms}


def centroid(vectors: np.ndarray, mask: np.ndarray, dim: int, block: int = 65_536) -> np.ndarray:
    """Mean of the masked rows, summed in row order (bitwise numpy's ``mean(axis=0)``) in bounded memory."""
    rows = np.flatnonzero(mask)
    if not len(rows):
        return np.zeros(dim, np.float32)
    acc = np.asarray(vectors[rows[:block]]).sum(axis=0)
    for i in range(block, len(rows), block):
        acc = np.vstack([acc[None], np.asarray(vectors[rows[i : i + block]])]).sum(axis=0)  # continues the row-order sum
    return np.true_divide(acc, np.intp(len(rows)), out=acc, casting="unsafe")


def _language_means(old: "_Stored | None", settings: Settings, embedder: Embedder | None) -> dict[str, np.ndarray]:
    """Anchor query means per language: reused from the current index when the anchors are the same."""
    if isinstance(embedder, Precomputed):
        return embedder.lang_means
    if old is not None and old.params["alignment"].get("anchors") == anchors_digest():
        with np.load(old.path / "languages.npz") as z:
            return {lang: z[f"mean_{lang}"] for lang in LANGS}
    embedder = embedder or make_embedder(settings.embedder, settings.batch_size)
    return language_means(VectorCache(settings.embedding_cache_dir, embedder))


def _write_dense(tmp: Path, vectors: np.ndarray, chunk_lang: np.ndarray, parts: list[Part], old: "_Stored | None",
                 settings: Settings, report: BuildReport, progress: Progress | None) -> tuple[dict, Callable | None]:
    """Vector ids and the dense index: kept and extended when the kind is unchanged, else rebuilt."""
    n, dim = vectors.shape
    backend = settings.backend
    # a Milvus server holds its HNSW graph in its own memory, and Milvus IVF_PQ has no exact re-ranking
    budget, hnsw_max = (settings.dense_memory_mb, HNSW_MAX) if backend == "faiss" else (float("inf"), float("inf"))
    kind = choose_kind(n, dim, settings.dense_index, budget, hnsw_max)
    od = old.params["dense"] if old else {}
    # FAISS flat has no index file to extend; a Milvus collection of any kind is extended in place
    same = bool(old) and od.get("backend") == backend and od.get("kind") == kind and (kind != "flat" or backend == "milvus")
    if backend == "milvus":
        same = same and old.params.get("milvus", {}).get("uri") == milvus_uri(settings)
    new_vids = np.zeros(n, np.int64)
    keep = np.zeros(n, bool)
    c = 0
    for p in parts:
        if p.old:
            new_vids[c : c + p.n_chunks] = old.vids[p.old[0] : p.old[1]]
            keep[c : c + p.n_chunks] = True
        c += p.n_chunks
    stored = od.get("stored", 0)
    added = int((~keep).sum())
    live_kept = int(keep.sum())
    stale_after = stored + added - n
    if same and stored + added and stale_after / (stored + added) > STALE_REBUILD:
        same = False  # too many tombstones: rebuild compactly
    if same:
        next_vid = od["next_vid"]
        new_vids[~keep] = np.arange(next_vid, next_vid + added)
        next_vid += added
        stored += added
    else:
        new_vids = np.arange(n, dtype=np.int64)
        next_vid, stored, live_kept = n, n, 0
    np.save(tmp / "vector_ids.npy", new_vids)
    tick = (lambda d, t: progress("building dense index", d, t)) if progress else None
    dense = {"backend": backend, "requested": settings.dense_index, "kind": kind, "metric": "inner_product",
             "next_vid": int(next_vid), "stored": int(stored if kind != "flat" else n), "updated_in_place": bool(same)}
    report.dense = f"{backend}:{kind}"
    if backend == "faiss":
        if kind == "flat":
            return dense, None
        faiss = load_faiss()

        if same:
            index = faiss.read_index(str(old.path / "dense.faiss"))
            add_faiss(index, vectors[~keep], new_vids[~keep], tick)
        else:
            index = build_faiss(kind, vectors, new_vids, tick)
        faiss.write_index(index, str(tmp / "dense.faiss"))
        return dense, None
    # Milvus: extend the live collection in place (rows of other builds are ignored by vid), or fill a
    # new generation; superseded rows / collections are dropped only after the swap
    uri = milvus_uri(settings)
    gen = int(old.params["milvus"]["generation"]) if same else _last_generation(tmp, target_name(tmp)) + 1
    name = old.params["milvus"]["collection"] if same else collection_name(target_name(tmp), gen)
    store = MilvusStore(uri, name, kind, dim, settings.hnsw_ef_search, settings.ivf_nprobe, settings.milvus_token)
    if not same and store.exists():
        store.drop()  # an orphan of a killed build
        store = MilvusStore(uri, name, kind, dim, settings.hnsw_ef_search, settings.ivf_nprobe, settings.milvus_token)
    rows = np.flatnonzero(~keep)
    chunks = ChunkStore(tmp / "chunks.jsonl", np.load(tmp / "chunks.offsets.npy"))
    docs = [p.info.doc_id for p in parts]
    chunk_docs = np.load(tmp / "chunk_docs.npy")
    for i in range(0, len(rows), 20_000):
        sel = rows[i : i + 20_000]
        got = [chunks[int(j)] for j in sel]
        store.add(new_vids[sel], vectors[sel], [g.text for g in got], [docs[chunk_docs[j]] for j in sel],
                  [g.chunk_id for g in got], chunk_lang[sel],
                  progress=(lambda d, t, base=i: tick(base + d, len(rows))) if tick else None)
    chunks.close()
    stale = np.setdiff1d(old.vids, new_vids) if (same and old is not None) else np.zeros(0, np.int64)
    if old is not None and old.params.get("milvus", {}).get("stale_file") and same:
        stale = np.union1d(stale, np.load(old.path / "milvus_stale.npy"))
    if len(stale):
        np.save(tmp / "milvus_stale.npy", stale)
    dense["milvus"] = {"uri": uri, "collection": name, "generation": gen, "index_type": store.index_params["index_type"],
                       "stale_file": bool(len(stale))}

    def after_swap() -> None:
        # best effort: a failure here leaves rows/collections the index ignores; the next build retries
        with contextlib.suppress(Exception):
            if len(stale):
                store.delete(stale.tolist())
            for other in store.siblings():
                store.drop_collection(other)

    return dense, after_swap


def _last_generation(tmp: Path, name: str) -> int:
    """Milvus generation of the index being replaced (also on a forced rebuild, which must not reuse it)."""
    try:
        return int(_read_params(tmp.parent / name).get("milvus", {}).get("generation", 0))
    except (IndexNotFoundError, IndexCorruptError, ValueError, TypeError):
        return 0


def target_name(tmp: Path) -> str:
    """Index name of a temp build directory ('.NAME.tmp-PID')."""
    return tmp.name[1:].rsplit(".tmp-", 1)[0]


def _swap(tmp: Path, target: Path) -> None:
    """Replace ``target`` by ``tmp``: a crash at any point leaves one complete index loadable."""
    old = target.parent / f".{target.name}.old"
    if old.exists():  # not ours (``_recover`` clears our own): never overwrite or delete it
        raise InvalidInputError(f"{old} is in the way of replacing the index; move it elsewhere and rerun")
    if target.exists():
        os.rename(target, old)
    os.rename(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


# --- reading ----------------------------------------------------------------------------------------


CHUNK_CACHE_SIZE = 50_000  # decoded passages kept per open index (~100 MB at most)


class ChunkStore(Sequence):
    """Passages read on demand from chunks.jsonl through a byte-offset table (memory-mapped), so a
    million-passage index opens instantly."""

    def __init__(self, path: Path, offsets: np.ndarray):
        self.offsets = offsets
        self._n = len(offsets) - 1
        self._fh = open(path, "rb")
        size = os.fstat(self._fh.fileno()).st_size
        self._mm = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        # decoded passages, kept: retrieval touches the same candidates many times per question, and
        # decoding JSON on every access cost ~0.25 s a question; bounded so a huge index stays small
        self._decoded: dict[int, Chunk] = {}

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < self._n:
            raise IndexError(i)
        chunk = self._decoded.get(i)
        if chunk is None:
            if len(self._decoded) >= CHUNK_CACHE_SIZE:
                self._decoded.clear()  # one atomic call: app threads may read concurrently
            chunk = self._decoded[i] = Chunk(**json.loads(self._mm[int(self.offsets[i]) : int(self.offsets[i + 1])]))
        return chunk

    def __iter__(self) -> Iterator[Chunk]:
        for i in range(len(self)):
            yield self[i]

    def raw(self, a: int, b: int) -> bytes:
        """The JSON lines of passages a..b-1, as stored."""
        return bytes(self._mm[int(self.offsets[a]) : int(self.offsets[b])])

    def close(self) -> None:
        """Release the file."""
        if isinstance(self._mm, mmap.mmap):
            self._mm.close()
        self._fh.close()


class _Ranges(Sequence):
    """Per passage: the range of its sentence rows (from a start-offset table)."""

    def __init__(self, starts: np.ndarray):
        self.starts = starts

    def __len__(self) -> int:
        return len(self.starts) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i) + (len(self) if int(i) < 0 else 0)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return range(int(self.starts[i]), int(self.starts[i + 1]))


def _sentence_starts(sent_rows: np.ndarray, n_chunks: int) -> np.ndarray:
    if not len(sent_rows):
        return np.zeros(n_chunks + 1, np.int64)
    return np.searchsorted(np.asarray(sent_rows[:, 0]), np.arange(n_chunks + 1)).astype(np.int64)


class _Stored:
    """The current index's arrays, memory-mapped, for an incremental build to copy from."""

    def __init__(self, path: Path, params: dict):
        self.path, self.params = path, params
        self.docs = read_docs(path)
        self.offsets = np.load(path / "chunks.offsets.npy")
        self.store = ChunkStore(path / "chunks.jsonl", self.offsets)
        self.vectors = np.load(path / "chunk_vectors.npy", mmap_mode="r")
        self.vids = np.load(path / "vector_ids.npy")
        self.chunk_docs = np.load(path / "chunk_docs.npy")
        self.sent_rows = np.load(path / "sentences.npy", mmap_mode="r")
        self.sent_vecs = np.load(path / "sentence_vectors.npy", mmap_mode="r")
        self.sent_starts = _sentence_starts(self.sent_rows, len(self.offsets) - 1)
        with np.load(path / "languages.npz") as z:
            self.chunk_lang, self.sent_lang = z["chunk_lang"], z["sent_lang"]
        self.tokens = np.load(path / "tokens.npy", mmap_mode="r")
        self.tok_offsets = np.load(path / "token_offsets.npy")
        self.terms = Terms.load(path / "terms.json")
        self.dim = int(params["embedder"]["dimension"])
        bounds = np.searchsorted(self.chunk_docs, np.arange(len(self.docs) + 1))
        self._ranges = [(int(bounds[i]), int(bounds[i + 1])) for i in range(len(self.docs))]

    @classmethod
    def open(cls, path: Path, settings: Settings, strict: bool = False, notes: list[str] | None = None) -> "_Stored | None":
        """The current index if an incremental build can reuse it (same format, embedder, chunking,
        every file as written); ``strict`` raises instead of returning None. Damage is noted: the
        build then starts from scratch rather than copying damaged data."""
        try:
            params = _read_params(path)
            if params.get("format_version") == FORMAT_VERSION:
                verify_files(path, params)
        except IndexNotFoundError:
            if strict:
                raise
            return None
        except IndexCorruptError as exc:
            if strict:
                raise
            if notes is not None:
                notes.append(f"{exc}: rebuilt from scratch")
            return None
        ok = params.get("format_version") == FORMAT_VERSION and (
            strict or (same_embedder(params.get("embedder", {}).get("id", ""), settings.embedder)
                       and params.get("chunking") == chunking_params(settings)))
        if not ok:
            if strict:
                raise IndexCorruptError(f"index at {path} has format {params.get('format_version')}, this rag reads "
                                        f"{FORMAT_VERSION}; rebuild it with: rag index PATH --force --index {path.name}")
            return None
        try:
            return cls(path, params)
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            err = damaged(path, f"a file cannot be read ({type(exc).__name__})")
            if strict:
                raise err from None
            if notes is not None:
                notes.append(f"{err}: rebuilt from scratch")
            return None

    def doc_range(self, i: int) -> tuple[int, int]:
        """Passage range of the i-th document."""
        return self._ranges[i]

    def chunk_bytes(self, a: int, b: int) -> bytes:
        """Stored JSON lines of passages a..b-1."""
        return self.store.raw(a, b)

    def close(self) -> None:
        """Release open files."""
        self.store.close()


def _read_params(path: Path) -> dict:
    """params.json of the index at ``path``: IndexNotFoundError when there is no index, IndexCorruptError
    when it is unreadable or fails its own checksum."""
    f = path / "params.json"
    if not path.is_dir():
        raise IndexNotFoundError(f"no index at {path}; build it with: rag index PATH --index {path.name}")
    if not f.exists() and not is_ours(path):
        raise IndexNotFoundError(f"{path} is not a rag index (no params.json); build one with: rag index PATH --index {path.name}")
    try:
        params = json.loads(f.read_text("utf-8"))
        if not isinstance(params, dict):
            raise ValueError("not an object")
    except (OSError, ValueError):
        raise damaged(path, "params.json is missing or unreadable") from None
    if not params_intact(params):
        raise damaged(path, "params.json has other content than was written (checksum mismatch)")
    return params


def open_params(path: Path, full: bool = False) -> dict:
    """params.json of a current-format index whose files are all as written (sizes always, checksums of
    files whose stat changed, or of every file with ``full``); one IndexCorruptError line otherwise."""
    params = _read_params(path)
    if params.get("format_version") != FORMAT_VERSION:
        raise IndexCorruptError(f"index at {path} has format {params.get('format_version')}, this rag reads "
                                f"{FORMAT_VERSION}; rebuild it with: rag index PATH --force --index {path.name}")
    verify_files(path, params, full)
    return params


def readable_path(path: Path) -> Path:
    """Where to read the index named ``path``: itself, or the previous index a swap killed between its
    two renames left at ``.NAME.old`` (readers never move it back: that is for the next writer)."""
    old = path.parent / f".{path.name}.old"
    if not path.exists() and old.is_dir() and is_ours(old) and (old / "params.json").is_file():
        return old
    return path


def check_shapes(path: Path, params: dict, arrays: dict[str, np.ndarray], n_docs: int, chunk_bytes: int) -> None:
    """Raise IndexCorruptError unless the arrays have the lengths, widths and ranges params.json promises."""
    c, s = params["counts"]["chunks"], params["counts"]["sentences"]
    dim = int(params["embedder"]["dimension"])
    want = {
        "chunks.offsets.npy": (c + 1,), "chunk_vectors.npy": (c, dim), "vector_ids.npy": (c,), "chunk_docs.npy": (c,),
        "sentences.npy": (s, 3), "sentence_vectors.npy": (s, dim), "chunk_lang": (c,), "sent_lang": (s,),
        "token_offsets.npy": (c + 1,),
    }
    for name, shape in want.items():
        if tuple(arrays[name].shape) != shape:
            raise damaged(path, f"{name} has shape {tuple(arrays[name].shape)}, {shape} expected")
    offsets, tok = arrays["chunks.offsets.npy"], arrays["token_offsets.npy"]
    if n_docs != params["counts"]["documents"]:
        raise damaged(path, f"docs.json lists {n_docs} documents, {params['counts']['documents']} expected")
    if offsets[0] != 0 or offsets[-1] != chunk_bytes or (c and np.any(np.diff(offsets) <= 0)):
        raise damaged(path, "chunks.offsets.npy does not match chunks.jsonl")
    if tok[-1] != len(arrays["tokens.npy"]) or np.any(np.diff(tok) < 0):
        raise damaged(path, "token_offsets.npy does not match tokens.npy")
    docs = arrays["chunk_docs.npy"]
    if c and (docs[0] < 0 or docs[-1] >= n_docs or np.any(np.diff(docs) < 0)):
        raise damaged(path, "chunk_docs.npy does not match docs.json")
    rows = arrays["sentences.npy"]
    if s and (rows[0, 0] < 0 or rows[-1, 0] >= c or np.any(np.diff(rows[:, 0]) < 0)):
        raise damaged(path, "sentences.npy does not match the passages")
    for name in ("chunk_lang", "sent_lang"):
        if len(arrays[name]) and arrays[name].max() >= len(LANGS):
            raise damaged(path, f"languages.npz ({name}) holds an unknown language")


@dataclass
class Index:
    """A loaded index (read-only): chunks, vectors, BM25 and metadata; large arrays memory-mapped."""

    path: Path
    params: dict
    docs: dict[str, DocInfo]
    chunks: ChunkStore
    dense: object  # rag.dense.DenseIndex: .search(queries, k) -> (similarities, positions), .ntotal, .exact
    sent_vecs: np.ndarray
    sent_rows: np.ndarray  # (chunk index, start, end) per sentence
    bm25: object  # bm25s.BM25 (memory-mapped)
    chunk_lang: np.ndarray  # per chunk: index into LANGS
    sent_lang: np.ndarray  # per sentence: index into LANGS
    lang_means: dict[str, np.ndarray]  # mean anchor query vector per language
    centroids: np.ndarray  # (len(LANGS), dim) mean passage vector per language
    glossary: dict[str, list[str]]  # English -> Chinese terms of this index (query translation)
    chunk_sentences: Sequence[range] = field(default_factory=list)
    chunk_vecs: np.ndarray | None = None  # (chunks, dim) float32
    chunk_docs: np.ndarray | None = None  # per chunk: position of its document in ``doc_order``
    doc_order: list[str] = field(default_factory=list)
    _doc_pos: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def embedder_id(self) -> str:
        """Id of the embedder the index was built with."""
        return self.params["embedder"]["id"]

    @property
    def sentence_search(self) -> str:
        """'exhaustive' (every sentence scored: exact) or 'candidates' (sentences of candidate passages)."""
        return self.params.get("sentences", {}).get("search", "exhaustive")

    def size_bytes(self) -> int:
        """Bytes on disk."""
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    def doc_range(self, doc_id: str) -> range:
        """Positions of a document's passages (contiguous)."""
        if len(self._doc_pos) != len(self.doc_order):
            self._doc_pos = {d: i for i, d in enumerate(self.doc_order)}
        i = self._doc_pos[doc_id]
        a, b = np.searchsorted(self.chunk_docs, [i, i + 1])
        return range(int(a), int(b))

    def position(self, chunk_id: str) -> int:
        """Position of a passage by id, looking only at its document's passages."""
        doc_id = chunk_id.rsplit("#", 1)[0]
        for i in self.doc_range(doc_id) if doc_id in self.docs else range(len(self.chunks)):
            if self.chunks[i].chunk_id == chunk_id:
                return i
        raise KeyError(chunk_id)


def load_index(settings: Settings, check_embedder: bool = True) -> Index:
    """Load ``settings.index_path`` after checking it is whole (IndexCorruptError names a damaged
    file); refuse it if it was built with another embedder. Reading never changes the directory."""
    import bm25s

    path = readable_path(settings.index_path)
    params = _read_params(path)
    if params.get("format_version") != FORMAT_VERSION:
        raise IndexCorruptError(f"index at {path} has format {params.get('format_version')}, this rag reads "
                                f"{FORMAT_VERSION}; rebuild it with: rag index PATH --force --index {path.name}")
    built_with = params["embedder"]["id"]
    if check_embedder and not same_embedder(built_with, settings.embedder):
        raise EmbedderMismatchError(
            f"index '{path.name}' was built with embedder '{built_with}' but '{embedder_id(settings.embedder)}' is "
            f"configured; set RAG_EMBEDDER to match or rebuild with: rag index PATH --index {path.name}"
        )
    verify_files(path, params)
    try:
        doc_list = read_docs(path)
        docs = {d.doc_id: d for d in doc_list}
        offsets = np.load(path / "chunks.offsets.npy")
        arrays = {
            "chunks.offsets.npy": offsets,
            **{name: np.load(path / name, mmap_mode="r") for name in (
                "chunk_vectors.npy", "vector_ids.npy", "chunk_docs.npy", "sentence_vectors.npy", "sentences.npy",
                "tokens.npy", "token_offsets.npy")},
        }
        with np.load(path / "languages.npz") as z:
            arrays["chunk_lang"], arrays["sent_lang"] = z["chunk_lang"], z["sent_lang"]
            means = {lang: z[f"mean_{lang}"] for lang in LANGS}
            centroids = np.stack([z[f"centroid_{lang}"] for lang in LANGS])
        check_shapes(path, params, arrays, len(doc_list), (path / "chunks.jsonl").stat().st_size)
        chunks = ChunkStore(path / "chunks.jsonl", offsets)
        vectors, vids = arrays["chunk_vectors.npy"], np.asarray(arrays["vector_ids.npy"])
        bm25 = bm25s.BM25.load(str(path / "bm25"), mmap=True)
        glossary = json.loads((path / "glossary.json").read_text("utf-8"))
        dense = _open_dense(path, params, settings, vectors, vids)
        first = chunks[0] if len(chunks) else None  # a truncated chunk store fails here, not mid-question
        if first is not None and not isinstance(first, Chunk):
            raise ValueError("chunk store")
    except IndexCorruptError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError) as exc:
        raise damaged(path, f"a file cannot be read ({type(exc).__name__})") from None
    if dense.ntotal != len(chunks):
        raise damaged(path, f"the dense index holds {dense.ntotal} vectors for {len(chunks)} passages")
    sent_rows = arrays["sentences.npy"]
    ranges = _Ranges(_sentence_starts(sent_rows, len(chunks)))
    return Index(path, params, docs, chunks, dense, arrays["sentence_vectors.npy"], sent_rows, bm25, arrays["chunk_lang"],
                 arrays["sent_lang"], means, centroids, glossary, ranges, vectors, np.asarray(arrays["chunk_docs.npy"]),
                 [d.doc_id for d in doc_list])


def verify_index(settings: Settings) -> dict:
    """Check every file of an index against the checksums written at build time (``rag verify``)."""
    path = readable_path(settings.index_path)
    t0 = time.perf_counter()
    params = open_params(path, full=True)
    index = load_index(settings, check_embedder=False)  # then the shapes and the loaders
    files = params["files"]
    index.chunks.close()
    return {"index": str(path), "ok": True, "files": len(files) + 1, "bytes": sum(m["size"] for m in files.values()),
            "seconds": round(time.perf_counter() - t0, 3)}


def _open_dense(path: Path, params: dict, settings: Settings, vectors: np.ndarray, vids: np.ndarray):
    d = params["dense"]
    if d["backend"] == "faiss":
        if d["kind"] == "flat":
            return FlatDense(vectors)
        faiss = load_faiss()

        index = faiss.read_index(str(path / "dense.faiss"))
        return FaissAnn(index, d["kind"], vectors, vids, settings.hnsw_ef_search, settings.ivf_nprobe, settings.ivf_rerank)
    m = params["milvus"]
    uri = settings.milvus_uri or m["uri"]
    store = MilvusStore(uri, m["collection"], d["kind"], int(params["embedder"]["dimension"]), settings.hnsw_ef_search,
                        settings.ivf_nprobe, settings.milvus_token)
    if not store.exists():
        raise IndexCorruptError(f"Milvus collection '{m['collection']}' is missing at {uri}; rebuild the index with: "
                                f"rag index PATH --force --index {path.name}")
    return MilvusDense(store, vids)
