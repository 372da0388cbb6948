"""Writing the dense side of an index: vector ids (kept for unchanged passages, so an approximate index or
a Milvus collection is extended in place), then the vectors stored through the configured backend."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import IndexCorruptError, IndexNotFoundError
from rag.index.dense import backend_for
from rag.index.dense.base import DenseJob, Written
from rag.index.store.chunks import ChunkStore
from rag.index.store.layout import BuildReport, Progress, read_params
from rag.index.store.swap import target_name
from rag.index.store.writer import Part
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.index.store.reader import StoredIndex

STALE_REBUILD = 0.2  # rebuild an approximate index once this share of its vectors is tombstoned


def write_dense(
    tmp: Path,
    vectors: np.ndarray,
    chunk_lang: np.ndarray,
    parts: list[Part],
    old: "StoredIndex | None",
    settings: Settings,
    report: BuildReport,
    progress: Progress | None,
) -> tuple[dict, Written]:
    """Vector ids and the dense index: kept and extended when the kind is unchanged, else rebuilt."""
    n, dim = vectors.shape
    backend = backend_for(settings)
    plan = backend.plan(n, dim, settings)
    kind = plan.kind
    od = old.params["dense"] if old else {}
    same = (
        old is not None
        and od.get("backend") == settings.store.backend
        and od.get("kind") == kind
        and plan.extendable
        and backend.same_place(old.params, settings)
        and not old.segmented  # a segmented index is compacted into a new dense index
    )
    new_vids = np.zeros(n, np.int64)
    keep = np.zeros(n, bool)
    c = 0
    for p in parts:
        if p.old and same:
            assert old is not None  # a part carried over comes from the current index
            new_vids[c : c + p.n_chunks] = old.vids[p.old[0] : p.old[1]]
            keep[c : c + p.n_chunks] = True
        c += p.n_chunks
    stored = od.get("stored", 0)
    added = int((~keep).sum())
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
        next_vid, stored = n, n
    np.save(tmp / "vector_ids.npy", new_vids)
    dense = {
        "backend": settings.store.backend,
        "requested": settings.store.dense_index,
        "kind": kind,
        "metric": "inner_product",
        "next_vid": int(next_vid),
        "stored": int(stored if kind != "flat" else n),
        "updated_in_place": bool(same),
    }
    report.dense = f"{settings.store.backend}:{kind}"
    name = target_name(tmp)
    passages = ChunkStore(tmp / "chunks.jsonl", np.load(tmp / "chunks.offsets.npy"))
    try:
        written = backend.write(
            DenseJob(
                tmp=tmp,
                name=name,
                kind=kind,
                vectors=vectors,
                vids=new_vids,
                fresh=~keep if same else np.ones(n, bool),
                in_place=same,
                previous=old,
                replaced=old.params if old is not None else _replaced(tmp.parent / name),
                passages=passages,
                doc_ids=[p.info.doc_id for p in parts],
                chunk_docs=np.load(tmp / "chunk_docs.npy"),
                langs=chunk_lang,
                settings=settings,
                progress=(lambda d, t: progress("building dense index", d, t)) if progress else None,
            )
        )
    finally:
        passages.close()
    return dense, written


def _replaced(target: Path) -> dict:
    """params.json of the index a build replaces without reusing it ({} when there is none readable)."""
    try:
        return read_params(target)
    except (IndexNotFoundError, IndexCorruptError):
        return {}
