"""What every dense backend shares: the ``DenseBackend`` protocol a build and a reader call, the
``DenseIndex`` a backend opens for retrieval, the job a build hands a backend, the auto rule for the
index kind, and stable vector ids.

Approximate backends store each passage under a stable vector id (``vid``), so an incremental update
only adds the new passages' vectors and tombstones the removed ones; ``vid_table`` maps ids back to
the current passage order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.records import Chunk
from rag.settings import Settings

# auto rule (bench/scale_report.md): exact search while the brute-force scan of passages *and* their
# sentences stays within ~20 ms; then HNSW while it keeps its recall (measured on the synthetic corpus:
# 0.99 against exact k-NN at 100k passages, 0.72 at 1M with efSearch 128, 0.88 even at 1024) and fits
# the memory budget; beyond, IVF-PQ (compressed codes, exact re-ranking of 64 candidates per result
# from the memory-mapped vectors: 0.99 at 1M, and a fifth of HNSW's private memory)
FLAT_MAX = 20_000
HNSW_MAX = 200_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 64
PQ_BYTES = 48  # sub-quantizers of 8 bits: 48 bytes per 384-d vector (32x smaller than float32)


def hnsw_bytes(n: int, dim: int, m: int = HNSW_M) -> int:
    """Resident size of an HNSW index over ``n`` float vectors: vectors, level-0 links, ids."""
    return n * (4 * dim + 2 * m * 4 + 8) + n * m * 4 // 8  # upper levels add ~1/M of level 0


def choose_kind(n: int, dim: int, requested: str, budget_mb: float, hnsw_max: float = HNSW_MAX) -> str:
    """The dense index kind for ``n`` passages: the requested one, or by size when 'auto'."""
    if requested != "auto":
        return requested
    if n <= FLAT_MAX:
        return "flat"
    if n <= hnsw_max and hnsw_bytes(n, dim) <= budget_mb * 2**20:
        return "hnsw"
    return "ivfpq"


def vid_table(vids: np.ndarray) -> np.ndarray:
    """vid -> passage position (-1 for ids no longer in the index)."""
    table = np.full(int(vids.max()) + 1 if len(vids) else 0, -1, dtype=np.int64)
    table[vids] = np.arange(len(vids))
    return table


def positions(vid_to_pos: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Passage positions of vector ids through a ``vid_table`` (-1 for padding and tombstoned ids)."""
    ok = (ids >= 0) & (ids < len(vid_to_pos))
    out = np.full(ids.shape, -1, dtype=np.int64)
    out[ok] = vid_to_pos[ids[ok]]
    return out


class DenseIndex(Protocol):
    """What retrieval needs from a dense backend."""

    kind: str
    exact: bool
    ntotal: int

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Similarities and passage positions of the k nearest vectors, per query (-1 pads)."""
        ...


class Previous(Protocol):
    """The current index a build may extend (``rag.index.store.StoredIndex``)."""

    path: Path
    params: dict  # its params.json
    vids: np.ndarray  # vector id per passage


@dataclass(frozen=True)
class Plan:
    """What a build of n vectors gets from a backend."""

    kind: str  # recorded as params.json's dense.kind
    extendable: bool  # the previous index of this kind (same backend and place) is extended in place


@dataclass
class DenseJob:
    """Everything a backend may use to write the dense index of one build."""

    tmp: Path  # the temporary index directory: files written here are swapped in with the index
    name: str  # the index's name
    kind: str  # from the backend's plan
    vectors: np.ndarray  # (n, dim) float32 passage vectors, memory-mapped
    vids: np.ndarray  # (n,) vector id per passage
    fresh: np.ndarray  # (n,) bool: the vectors the index does not hold yet (every one unless in_place)
    in_place: bool  # extend ``previous`` (same backend, kind and place; few tombstones) instead of a new index
    previous: Previous | None  # the current index when an incremental build reuses it
    replaced: dict  # params.json of the index being replaced, also when it is not reused ({} if none)
    passages: Sequence[Chunk]  # passage per row, read on demand
    doc_ids: Sequence[str]  # document ids, in order
    chunk_docs: np.ndarray  # (n,) position of each passage's document in ``doc_ids``
    langs: np.ndarray  # (n,) language of each passage (an index into rag.index.embedding.LANGS)
    settings: Settings
    progress: Callable[[int, int], None] | None = None  # (done, total)

    @property
    def extended(self) -> Previous | None:
        """The index to extend in place: ``previous`` when ``in_place``, else None."""
        if not self.in_place:
            return None
        assert self.previous is not None  # only a build that reuses the current index writes in place
        return self.previous


@dataclass(frozen=True)
class Written:
    """What a backend's write leaves for the build to record and to do."""

    sections: dict = field(default_factory=dict)  # top-level params.json sections of the backend's own
    after_swap: Callable[[], None] | None = None  # best-effort clean-up once the new index is in place


class DenseBackend(Protocol):
    """Where passage vectors are kept and searched; registered by name in ``rag.index.dense.BACKENDS``."""

    def plan(self, n: int, dim: int, settings: Settings) -> Plan:
        """The kind of index ``n`` vectors of ``dim`` get under ``settings``."""
        ...

    def same_place(self, params: dict, settings: Settings) -> bool:
        """Whether the index ``params`` describes keeps its vectors where ``settings`` would."""
        ...

    def keep_place(self, params: dict, settings: Settings) -> dict:
        """Settings updates that keep an index's vectors where they are when it is rewritten."""
        ...

    def write(self, job: DenseJob) -> Written:
        """Store the job's vectors (into ``job.tmp`` or elsewhere) before the index is swapped in."""
        ...

    def open(self, path: Path, params: dict, settings: Settings, vectors: np.ndarray, vids: np.ndarray) -> DenseIndex:
        """The searchable dense index of the index at ``path``."""
        ...

    def retry_cleanup(self, path: Path, params: dict, settings: Settings) -> None:
        """Redo the after-swap clean-up of the index at ``path``, in case it was interrupted (best effort)."""
        ...

    def describe(self, params: dict) -> tuple[dict, str]:
        """Where an index's vectors are, for ``rag info``: fields for its JSON and a note for its text ('')."""
        ...
