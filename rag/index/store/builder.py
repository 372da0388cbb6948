"""Building and updating an index: scan the sources, process new and changed documents (clean, chunk,
embed through the cache, tokenise), assemble every file in a temporary directory, then swap it in.
Only new or changed documents are processed; unchanged ones are copied; vanished ones are dropped."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rag import __version__
from rag.index.bm25 import build_bm25
from rag.index.dense import backend_for, backend_of
from rag.index.embed_workers import span_embedder, uses_workers, worker_embedder
from rag.index.embedding import (
    LANGS,
    Embedder,
    VectorCache,
    anchors_digest,
    engine_build,
    language_means,
    make_embedder,
)
from rag.index.integrity import manifest, params_text, write_marker
from rag.index.store.boxes import document_boxes, write_boxes
from rag.index.store.dense_writer import write_dense
from rag.index.store.layout import (
    FORMAT_VERSION,
    BuildReport,
    DocInfo,
    Progress,
    chunking_params,
    document_notes,
    passage_text,
    read_docs,
    sentence_search,
    sources_manifest,
    write_docs,
)
from rag.index.store.lazy_vectors import placeholder_vectors
from rag.index.store.pooling import pooled_vectors
from rag.index.store.reader import StoredIndex
from rag.index.store.refs import write_references
from rag.index.store.sidecar import read_edits
from rag.index.store.sources import Found, described, duplicates, scan
from rag.index.store.swap import clear_stale_tmp, locked, recover, refuse_foreign, swap
from rag.index.store.update import segment_fits, write_generation
from rag.index.store.writer import Part, lang_sums, new_part, write_parts
from rag.ingest.chunking import chunk_document, chunk_sentences
from rag.ingest.library import Library
from rag.ingest.pdf_guard import limits_of
from rag.ingest.references.detect import reference_list
from rag.lang.glossary import contribution, save_contribution
from rag.lang.text import tokenize
from rag.records import Document
from rag.settings import Settings


@contextlib.contextmanager
def _updating(
    target: Path, settings: Settings, reuse: bool = True, strict: bool = False, notes: list[str] | None = None
) -> Iterator["StoredIndex | None"]:
    """Hold the index lock with leftovers of a killed build cleaned up, and yield the current index
    to copy from (None when ``reuse`` is off or it cannot be reused), closed afterwards."""
    with locked(target):
        recover(target)
        clear_stale_tmp(target)
        refuse_foreign(target)
        old = StoredIndex.open(target, settings, strict, notes) if reuse else None
        try:
            yield old
        finally:
            if old is not None:
                old.close()


def build_index(
    paths: Sequence[str | Path],
    settings: Settings,
    *,
    force: bool = False,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    library: Library | None = None,
    refresh: Collection[str] = (),
) -> BuildReport:
    """Index every readable file under ``paths`` (and the attachments of ``library``) into
    ``settings.index_path``, atomically, with their bibliographic records and the user's metadata edits;
    only new or changed documents (and those of ``refresh``) are processed, documents no longer present
    are removed."""
    backend_for(settings)  # an unknown RAG_BACKEND fails before anything is touched
    t0 = time.perf_counter()
    target = settings.index_path
    report = BuildReport(path=target)
    with _updating(target, settings, reuse=not force, notes=report.notes) as old:
        workers = worker_embedder(settings) if embedder is None and uses_workers(settings) else None
        try:
            _build(paths, settings, old, workers or embedder, report, progress, library or Library(), force, refresh)
        finally:
            if workers is not None:
                workers.close()  # stops the worker processes, if any were started
    report.seconds = time.perf_counter() - t0
    return report


def _previous_docs(target: Path) -> list[DocInfo]:
    """The documents of the index at ``target`` as far as docs.json can be read (for their ids)."""
    try:
        return read_docs(target)
    except (OSError, ValueError, TypeError, KeyError):
        return []


def _build(
    paths: Sequence[str | Path],
    settings: Settings,
    old: "StoredIndex | None",
    embedder: Embedder | None,
    report: BuildReport,
    progress: Progress | None,
    library: Library,
    force: bool = False,
    refresh: Collection[str] = (),
) -> None:
    # a forced rebuild re-embeds everything but still keeps every document's id
    found, report.skipped = scan(
        paths,
        old.docs if old else [],
        old.docs if old else _previous_docs(settings.index_path),
        library,
        not force,
        progress,
        limits_of(settings),
        read_edits(settings),
        refresh,
    )
    report.documents = len(found)
    if old and _same_sources(old, found, settings):
        _up_to_date(old, report, settings)
        return
    old_ids = {d.doc_id: i for i, d in enumerate(old.docs)} if old else {}
    cleaned = {
        d.doc_id: d for d in (described(src, lib, library) for _, _, src, lib in found if not isinstance(src, str))
    }
    report.notes += [f"{src.doc_id}: {n}" for _, _, src, _ in found if not isinstance(src, str) for n in src.notes]
    if not settings.ingest.keep_duplicates:
        for dup in duplicates(found, cleaned, old):
            report.duplicates.append(dup)
            report.notes.append(
                f"{dup.doc_id} is a duplicate of {dup.of} ({dup.reason}); not indexed "
                "(index it anyway with --keep-duplicates)"
            )
            del cleaned[dup.doc_id]
        dropped = {d.doc_id for d in report.duplicates}
        found = [f for f in found if f[0] not in dropped]
        report.documents = len(found)
        if old and _same_sources(old, found, settings):  # nothing new but duplicates
            _up_to_date(old, report, settings)
            return
    report.notes += [note for d in cleaned.values() for note in document_notes(d)]
    report.added = [d for d in cleaned if d not in old_ids]
    report.updated = [d for d in cleaned if d in old_ids]
    report.removed = sorted(set(old_ids) - {d for d, _, _, _ in found})
    report.reused = len(found) - len(cleaned)
    new_parts: dict[str, Part] = {}
    if cleaned:
        if embedder is None:
            embedder = make_embedder(settings.store.embedder, settings.store.batch_size)
        new_parts = _process(list(cleaned.values()), settings, embedder, report, progress)
    parts: list[Part] = []
    for doc_id, where, src, _ in found:
        if isinstance(src, str):  # unchanged source: carried over as stored
            assert old is not None  # only a document of the current index is found unchanged (_scan)
            info = old.docs[old_ids[doc_id]]
            i = old_ids[doc_id]
            parts.append(Part(replace(info, path=where), old=old.doc_range(i), seg=old.doc_segment(i)))
        else:
            parts.append(new_parts[doc_id])
    report.chunks = sum(p.n_chunks for p in parts)
    if segment_fits(old, parts, settings):
        assert old is not None  # segment_fits needs a current index
        write_generation(settings.index_path, parts, old, settings, report, progress)
        return
    _assemble(settings.index_path, parts, old, settings, embedder, report, progress)


def _up_to_date(old: "StoredIndex", report: BuildReport, settings: Settings) -> None:
    """Report the current index as it is (nothing to write)."""
    report.up_to_date = True
    report.chunks, report.sentences = old.params["counts"]["chunks"], old.params["counts"]["sentences"]
    report.dense = f"{old.params['dense']['backend']}:{old.params['dense']['kind']}"
    backend_of(old.path, old.params).retry_cleanup(old.path, old.params, settings)


@dataclass
class Precomputed:
    """Stands in for the embedder when parts arrive with their vectors (benchmarks, imports)."""

    id: str
    dim: int
    lang_means: dict[str, np.ndarray]


def write_index(
    parts: list[Part], settings: Settings, embedder: Precomputed, progress: Progress | None = None
) -> BuildReport:
    """Write a full index from documents whose vectors and tokens are already computed (atomically)."""
    backend_for(settings)  # an unknown RAG_BACKEND fails before anything is touched
    t0 = time.perf_counter()
    target = settings.index_path
    report = BuildReport(path=target, documents=len(parts), added=[p.info.doc_id for p in parts])
    report.chunks = sum(p.n_chunks for p in parts)
    with _updating(target, settings, reuse=False):
        _assemble(target, parts, None, settings, embedder, report, progress)
    report.seconds = time.perf_counter() - t0
    return report


def _same_sources(old: "StoredIndex", found: list[Found], settings: Settings) -> bool:
    return (
        all(isinstance(src, str) for _, _, src, _ in found)
        and sources_manifest(old.docs) == {d: (src if isinstance(src, str) else src.sha256) for d, _, src, _ in found}
        and old.params["dense"].get("requested") == settings.store.dense_index
        and old.params["dense"]["backend"] == settings.store.backend
        and backend_for(settings).same_place(old.params, settings)
    )


def _process(
    docs: list[Document], settings: Settings, embedder: Embedder, report: BuildReport, progress: Progress | None
) -> dict[str, Part]:
    """Clean documents -> chunks, sentence spans, vectors (through the cache) and BM25 tokens."""
    cache = VectorCache(settings.embedding_cache_dir, embedder)
    per_doc = [chunk_document(d, settings.ingest.chunk_size, settings.ingest.chunk_overlap) for d in docs]
    chunks = [c for cs in per_doc for c in cs]
    texts = [passage_text(c, settings.ingest.passage_context) for c in chunks]
    sent_rows = [(i, a, b) for i, c in enumerate(chunks) for a, b in chunk_sentences(c)]
    sent_texts = [chunks[i].text[a:b] for i, a, b in sent_rows]

    def tick(stage: str) -> Callable[[int, int], None] | None:
        return (lambda done, total: progress(stage, done, total)) if progress else None

    one_pass = span_embedder(embedder, settings)
    t = time.perf_counter()
    with ThreadPoolExecutor(1) as pool:
        # BM25 tokens are cut while the engine embeds (its C code runs without the GIL)
        tokens = pool.submit(lambda: [tokenize(x) for x in texts])
        if one_pass is not None:  # sentence vectors pooled from their passage's pass
            spans: list[list[tuple[int, int]]] = [[] for _ in texts]
            for i, a, b in sent_rows:
                lead = len(texts[i]) - len(chunks[i].text)  # the section heading passage_text put first
                spans[i].append((lead + a, lead + b))
            chunk_vecs, sent_vecs = cache.embed_spans(texts, spans, one_pass, progress=tick("embedding"))
        elif (
            settings.store.sentence_vectors == "lazy"
        ):  # passages only: sentences are embedded when a question needs them
            chunk_vecs = cache.embed_passages(texts, progress=tick("embedding"))
            sent_vecs = placeholder_vectors(len(sent_texts), chunk_vecs.shape[1])
        elif settings.store.sentence_vectors == "pooled":
            chunk_vecs, sent_vecs = pooled_vectors(cache, chunks, texts, sent_rows, sent_texts, tick("embedding"))
        else:  # passages and sentences in one stream: batches of similar length across both
            vecs = cache.embed_passages(texts + sent_texts, progress=tick("embedding"))
            chunk_vecs, sent_vecs = vecs[: len(texts)], vecs[len(texts) :]
        all_toks = tokens.result()
    report.embed_seconds = time.perf_counter() - t
    report.embedded, report.cached = cache.misses, cache.hits
    out: dict[str, Part] = {}
    c0 = s0 = 0
    for d, cs in zip(docs, per_doc):
        s1 = s0
        while s1 < len(sent_rows) and sent_rows[s1][0] < c0 + len(cs):
            s1 += 1
        rows = [(i - c0, a, b) for i, a, b in sent_rows[s0:s1]]
        toks = all_toks[c0 : c0 + len(cs)]
        out[d.doc_id] = new_part(d, cs, chunk_vecs[c0 : c0 + len(cs)], rows, sent_vecs[s0:s1], toks, sent_texts[s0:s1])
        out[d.doc_id].refs, out[d.doc_id].ref_marks = reference_list(d)
        out[d.doc_id].boxes = document_boxes(d, cs)
        c0, s0 = c0 + len(cs), s1
    return out


def _assemble(
    target: Path,
    parts: list[Part],
    old: "StoredIndex | None",
    settings: Settings,
    embedder: Embedder | Precomputed | None,
    report: BuildReport,
    progress: Progress | None,
) -> None:
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
    swap(tmp, target)
    if after_swap:
        after_swap()


def _fill(
    tmp: Path,
    target: Path,
    parts: list[Part],
    old: "StoredIndex | None",
    settings: Settings,
    embedder: Embedder | Precomputed | None,
    report: BuildReport,
    progress: Progress | None,
) -> Callable[[], None] | None:
    """Write every file of the new index into ``tmp``; returns what to do once it is swapped in."""
    if progress:
        progress("writing index", 0, 1)
    if old is not None:
        dim, emb_id = old.dim, old.params["embedder"]["id"]
    else:
        assert embedder is not None  # a build with no index to copy from embeds, or is given the vectors
        dim, emb_id = embedder.dim, embedder.id
    # the engine build that embedded this generation's new passages (the last writer's, on an update)
    engine = engine_build(embedder) if embedder is not None else old.params["embedder"].get("engine", "") if old else ""
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
        **lang_sums(vectors, chunk_lang),
    }
    os.remove(tmp / "chunk_lang.npy")
    os.remove(tmp / "sent_lang.npy")
    np.savez(tmp / "languages.npz", **langs)
    if progress:
        progress("indexing BM25", 0, 1)
    terms = arrays["terms"]
    bm25 = build_bm25(np.load(tmp / "tokens.npy"), np.load(tmp / "token_offsets.npy"), terms)
    bm25.save(str(tmp / "bm25"), show_progress=False)
    np.save(tmp / "bm25_tf.npy", bm25.tf)
    terms.save(tmp / "terms.json")
    # the vocabulary's uncapped glossary contribution (rag.lang.glossary): the index serves its capped merge
    save_contribution(contribution(bm25.vocab_dict), tmp / "glossary.json")
    infos = [p.info for p in parts]
    write_docs(tmp, [old.doc_entry(i) if old else i.to_json() for i in infos])
    write_references(tmp, parts, old.path if old is not None else None)
    write_boxes(tmp, parts, old.path if old is not None else None)
    dense, written = write_dense(tmp, vectors, chunk_lang, parts, old, settings, report, progress)
    chunking = old.params["chunking"] if old is not None else chunking_params(settings)
    params = {
        "format_version": FORMAT_VERSION,
        "rag_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "embedder": {"id": emb_id, "dimension": dim, "normalized": True, **({"engine": engine} if engine else {})},
        "chunking": chunking,
        "bm25": {"tokenizer": "jieba-search+latin-v1", "k1": 1.2, "b": 0.75},
        "alignment": {"method": "anchor-mean-shift", "languages": list(LANGS), "anchors": anchors_digest()},
        "dense": dense,
        "sentences": {"search": sentence_search(dense["kind"], chunking)},
        "counts": {"documents": len(infos), "chunks": arrays["chunks"], "sentences": arrays["sentences"]},
    }
    params.update(written.sections)  # the backend's own, e.g. where its Milvus collection is
    params["files"] = manifest(tmp)  # size + checksum of every file, checked when the index is opened
    # params.json last: a directory without it is never mistaken for a finished index
    (tmp / "params.json").write_text(params_text(params), "utf-8")
    for f in tmp.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    return written.after_swap


def _language_means(
    old: "StoredIndex | None", settings: Settings, embedder: Embedder | Precomputed | None
) -> dict[str, np.ndarray]:
    """Anchor query means per language: reused from the current index when the anchors are the same."""
    if isinstance(embedder, Precomputed):
        return embedder.lang_means
    if old is not None and old.params["alignment"].get("anchors") == anchors_digest():
        with np.load(old.path / "languages.npz") as z:
            return {lang: z[f"mean_{lang}"] for lang in LANGS}
    embedder = embedder or make_embedder(settings.store.embedder, settings.store.batch_size)
    return language_means(VectorCache(settings.embedding_cache_dir, embedder))
