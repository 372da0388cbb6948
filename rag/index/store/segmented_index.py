"""Opening a segmented index as one ``Index``: its segments' arrays behind global-row views, BM25 scored
from the segments' postings with the live statistics, dense search per segment merged."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np

from rag.errors import IndexCorruptError
from rag.index.bm25 import Terms
from rag.index.embedding import LANGS
from rag.index.integrity import damaged
from rag.index.store.chunks import ChunkStore, Ranges
from rag.index.store.handle import Index
from rag.index.store.layout import read_docs
from rag.index.store.segments import (
    SEG_DIR,
    RowsView,
    SegmentedBM25,
    SegmentedChunks,
    SegmentedDense,
    dense_searchers,
    doc_runs,
    open_segments,
    segment_layout,
)
from rag.lang.glossary import MergedGlossary
from rag.records import Chunk
from rag.settings import Settings


def load_segmented(path: Path, params: dict, settings: Settings) -> Index:
    """The ``Index`` of a segmented directory whose files were checked (IndexCorruptError otherwise)."""
    try:
        return _load(path, params, settings)
    except IndexCorruptError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError, IndexError) as exc:
        raise damaged(path, f"a file cannot be read ({type(exc).__name__})") from None


def _load(path: Path, params: dict, settings: Settings) -> Index:
    doc_list = read_docs(path)
    names, locs = segment_layout(params)
    segments = open_segments(path, params)
    dim = int(params["embedder"]["dimension"])
    for seg in segments:
        if problem := seg.check(dim):
            raise damaged(path, problem)
    if len(locs) != len(doc_list) or len(doc_list) != params["counts"]["documents"]:
        raise damaged(path, f"docs.json lists {len(doc_list)} documents, {params['counts']['documents']} expected")
    sizes = np.array([segments[s].n for s in locs[:, 0]]) if len(locs) else np.zeros(0, np.int64)
    if len(locs) and (locs[:, 0].max() >= len(names) or np.any(locs[:, 1] > locs[:, 2]) or np.any(locs[:, 2] > sizes)):
        raise damaged(path, "params.json places a document outside its segment")
    chunks_runs, sent_runs = doc_runs(params, segments)
    counts = params["counts"]
    if (chunks_runs.n, sent_runs.n) != (counts["chunks"], counts["sentences"]):
        raise damaged(path, "the segments hold other passages than params.json counts")
    chunk_lang = chunks_runs.concat([s.chunk_lang for s in segments])
    sent_lang = sent_runs.concat([s.sent_lang for s in segments])
    # per passage, its first global sentence row: the segment's local start moved to the run's place
    shift = sent_runs.start[:-1] - sent_runs.local  # global sentence = local sentence + shift of its run
    parts = [
        segments[s].sent_starts[a : a + k] + shift[r]
        for r, (s, a, k) in enumerate(zip(chunks_runs.seg.tolist(), chunks_runs.local.tolist(), chunks_runs.length))
    ]
    starts = np.concatenate([*parts, np.array([sent_runs.n], np.int64)]).astype(np.int64)
    with np.load(path / "languages.npz") as z:
        means = {lang: z[f"mean_{lang}"] for lang in LANGS}
        centroids = np.stack([z[f"centroid_{lang}"] for lang in LANGS])
    terms = Terms.load(path / "terms.json")
    df = np.load(path / "bm25_df.npy")
    if len(df) != len(terms.terms):
        raise damaged(path, "bm25_df.npy does not match terms.json")
    bm25 = SegmentedBM25(segments, chunks_runs, terms, df, int(params["bm25"]["total_len"]))
    ids = terms.ids

    def live(word: str) -> bool:
        t = ids.get(word)
        return t is not None and bool(df[t])

    has_zh = bool((chunk_lang == LANGS.index("zh")).any())
    glossary = MergedGlossary([path / SEG_DIR / n / "glossary.json" for n in names], live, has_zh)
    dense = SegmentedDense(
        params["dense"]["kind"], dense_searchers(path, params, settings, segments, chunks_runs), chunks_runs
    )
    chunks = SegmentedChunks([s.store for s in segments], chunks_runs)
    first = chunks[0] if len(chunks) else None  # a damaged chunk store fails here, not mid-question
    if first is not None and not isinstance(first, Chunk):
        raise ValueError("chunk store")
    # a sentence row's passage column, renumbered from its segment's rows to global ones
    col0 = chunks_runs.start[:-1] - chunks_runs.local
    return Index(
        path,
        params,
        {d.doc_id: d for d in doc_list},
        cast(ChunkStore, chunks),  # a Sequence of Chunk, like ChunkStore
        dense,
        cast(np.ndarray, RowsView([s.sent_vecs for s in segments], sent_runs)),
        cast(np.ndarray, RowsView([s.sent_rows for s in segments], sent_runs, col0)),
        bm25,
        chunk_lang,
        sent_lang,
        means,
        centroids,
        glossary,
        Ranges(starts),
        cast(np.ndarray, RowsView([s.vectors for s in segments], chunks_runs)),
        np.repeat(np.arange(len(doc_list), dtype=np.int32), chunks_runs.length),
        [d.doc_id for d in doc_list],
    )
