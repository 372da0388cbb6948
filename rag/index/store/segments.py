"""Reading a segmented index: immutable segments (each the per-passage arrays of the documents it was
written with, in the files of a one-segment index) stitched into one global row numbering.

params.json's ``segments`` names the segments (``seg/NAME/``) and, per live document in docs.json
order, where its rows are: (segment, first row, end row). Global rows follow docs.json, which is the
order a full rebuild writes, so positions, ties and every score equal a rebuild's; rows of a segment
that no document points at are deleted (skipped by every search). The views below give retrieval the
arrays it indexes (vectors, sentence rows, languages) without copying the segments.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.bm25 import Terms, load_bm25, posting_scores
from rag.index.native import faiss as load_faiss
from rag.index.store.chunks import ChunkStore, sentence_starts

SEG_DIR = "seg"
# the files of a segment: a one-segment (fully written) index keeps them at its top level
SEGMENT_FILES = (
    "chunks.jsonl",
    "chunks.offsets.npy",
    "chunk_vectors.npy",
    "vector_ids.npy",
    "sentences.npy",
    "sentence_vectors.npy",
    "languages.npz",
    "tokens.npy",
    "token_offsets.npy",
    "bm25_tf.npy",
    "dense.faiss",
    "glossary.json",  # the segment vocabulary's uncapped glossary contribution (rag.lang.glossary)
)


class Segment:
    """The arrays of one segment directory (memory-mapped), as written."""

    def __init__(self, path: Path):
        self.path = path
        self.offsets = np.load(path / "chunks.offsets.npy")
        self.n = len(self.offsets) - 1
        self.store = ChunkStore(path / "chunks.jsonl", self.offsets)
        self.vectors = np.load(path / "chunk_vectors.npy", mmap_mode="r")
        self.vids = np.load(path / "vector_ids.npy")
        self.sent_rows = np.load(path / "sentences.npy", mmap_mode="r")
        self.sent_vecs = np.load(path / "sentence_vectors.npy", mmap_mode="r")
        self.sent_starts = sentence_starts(self.sent_rows, self.n)
        with np.load(path / "languages.npz") as z:
            self.chunk_lang, self.sent_lang = z["chunk_lang"], z["sent_lang"]
        self.tokens = np.load(path / "tokens.npy", mmap_mode="r")
        self.tok_offsets = np.load(path / "token_offsets.npy")
        self._bm25: Any = None

    def chunk_bytes(self, a: int, b: int) -> bytes:
        """Stored JSON lines of rows a..b-1."""
        return self.store.raw(a, b)

    def check(self, dim: int) -> str:
        """What is wrong with the segment's arrays ('' when they agree with each other)."""
        n, s = self.n, len(self.sent_rows)
        shapes = {
            "chunk_vectors.npy": (self.vectors.shape, (n, dim)),
            "vector_ids.npy": (self.vids.shape, (n,)),
            "sentence_vectors.npy": (self.sent_vecs.shape, (s, dim)),
            "token_offsets.npy": (self.tok_offsets.shape, (n + 1,)),
            "languages.npz": ((len(self.chunk_lang), len(self.sent_lang)), (n, s)),
        }
        for name, (got, want) in shapes.items():
            if tuple(got) != want:
                return f"{self.path.name}/{name} has shape {tuple(got)}, {want} expected"
        if self.offsets[0] != 0 or self.offsets[-1] != (self.path / "chunks.jsonl").stat().st_size:
            return f"{self.path.name}/chunks.offsets.npy does not match chunks.jsonl"
        if self.tok_offsets[-1] != len(self.tokens):
            return f"{self.path.name}/token_offsets.npy does not match tokens.npy"
        return ""

    @property
    def bm25(self) -> Any:
        """The segment's bm25s index (its postings; its scores are the segment's own, unused)."""
        if self._bm25 is None:
            self._bm25 = load_bm25(self.path / "bm25")
            self.tf = np.load(self.path / "bm25_tf.npy", mmap_mode="r")
            self.doc_len = np.diff(self.tok_offsets)
        return self._bm25

    def close(self) -> None:
        """Release open files."""
        self.store.close()


class Runs:
    """Global rows <-> (segment, row) for one kind of row (passages or sentences): one run per live
    document, in docs.json order."""

    def __init__(self, seg: np.ndarray, local: np.ndarray, length: np.ndarray, sizes: list[int]):
        self.seg, self.local, self.length = seg, local, length
        self.start = np.zeros(len(length) + 1, np.int64)
        np.cumsum(length, out=self.start[1:])
        self.n = int(self.start[-1])
        self.to_global = []  # per segment: global row of each of its rows (-1: deleted)
        for si, size in enumerate(sizes):
            table = np.full(size, -1, np.int64)
            for r in np.flatnonzero(seg == si):
                table[local[r] : local[r] + length[r]] = np.arange(self.start[r], self.start[r + 1])
            self.to_global.append(table)

    def locate(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(run, segment, segment row) of global rows."""
        run = np.searchsorted(self.start, rows, side="right") - 1
        return run, self.seg[run], self.local[run] + (rows - self.start[run])

    def gather(self, arrays: list[np.ndarray], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the per-segment ``arrays`` at global ``rows`` (and the run of each)."""
        run, seg, local = self.locate(rows)
        first = arrays[0]
        out = np.empty((len(rows), *first.shape[1:]), dtype=first.dtype)
        for si in np.unique(seg):
            m = seg == si
            out[m] = arrays[si][local[m]]
        return out, run

    def concat(self, arrays: list[np.ndarray]) -> np.ndarray:
        """The per-segment arrays' live rows, in global order (small per-row arrays only)."""
        parts = [arrays[s][a : a + k] for s, a, k in zip(self.seg.tolist(), self.local.tolist(), self.length.tolist())]
        first = arrays[0]
        return np.concatenate(parts) if parts else np.zeros((0, *first.shape[1:]), first.dtype)


class RowsView:
    """Read-only rows of per-segment arrays under global numbering: ``v[i]``, ``v[rows]``, ``v[rows, col]``,
    ``v @ m`` (sentence rows also get their passage column renumbered)."""

    def __init__(self, arrays: list[np.ndarray], runs: Runs, col0_shift: np.ndarray | None = None):
        self.arrays, self.runs, self.col0_shift = arrays, runs, col0_shift
        self.shape = (runs.n, *arrays[0].shape[1:])
        self.dtype = arrays[0].dtype

    def __len__(self) -> int:
        return self.runs.n

    def __getitem__(self, key):
        col = None
        if isinstance(key, tuple):
            key, col = key
        if isinstance(key, slice) and col is None and key.step in (None, 1) and self.col0_shift is None:
            return self.block(*key.indices(self.runs.n)[:2])
        if isinstance(key, slice):
            key = np.arange(*key.indices(self.runs.n))
        scalar = np.ndim(key) == 0
        rows = np.atleast_1d(np.asarray(key, dtype=np.int64))
        rows = np.where(rows < 0, rows + self.runs.n, rows)
        out, run = self.runs.gather(self.arrays, rows)
        if self.col0_shift is not None and len(out):
            out[:, 0] += self.col0_shift[run].astype(out.dtype)
        if col is not None:
            out = out[:, col]
        return out[0] if scalar else out

    def block(self, i: int, j: int) -> np.ndarray:
        """Rows i..j-1, copied run by run (contiguous reads)."""
        r = int(np.searchsorted(self.runs.start, i, side="right")) - 1
        pieces = []
        while i < j and r < len(self.runs.length):
            a = i - int(self.runs.start[r])
            b = min(j, int(self.runs.start[r + 1])) - int(self.runs.start[r])
            loc = int(self.runs.local[r])
            pieces.append(self.arrays[int(self.runs.seg[r])][loc + a : loc + b])
            i, r = int(self.runs.start[r]) + b, r + 1
        return np.concatenate(pieces) if pieces else np.zeros((0, *self.shape[1:]), self.dtype)


MATMUL_BLOCK = 8192  # rows per product in ``blocked_matmul``


def blocked_matmul(rows: np.ndarray | RowsView, m: np.ndarray) -> np.ndarray:
    """``rows @ m`` computed in fixed blocks of global rows: the same block inputs, hence bitwise the same
    products (BLAS results depend on the shape of the call), whether the rows are one array or segments."""
    out = np.empty((len(rows), m.shape[1]), dtype=np.float32)
    for i in range(0, len(rows), MATMUL_BLOCK):
        out[i : i + MATMUL_BLOCK] = np.asarray(rows[i : i + MATMUL_BLOCK], dtype=np.float32) @ m
    return out


class SegmentedChunks(Sequence):
    """Passages under global numbering, read from their segments' chunk stores."""

    def __init__(self, stores: list[ChunkStore], runs: Runs):
        self.stores, self.runs = stores, runs

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i) + (self.runs.n if int(i) < 0 else 0)
        if not 0 <= i < self.runs.n:
            raise IndexError(i)
        _, seg, local = self.runs.locate(np.array([i]))
        return self.stores[int(seg[0])][int(local[0])]

    def __len__(self) -> int:
        return self.runs.n

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def close(self) -> None:
        """Release the segments' files."""
        for s in self.stores:
            s.close()


class SegmentedBM25:
    """BM25 over the live passages of every segment, scored at query time from term frequencies with the
    live collection's statistics (document frequencies, passage count, average length): bitwise the
    scores a full rebuild stores. Quacks like the bm25s object for ``rag.index.bm25`` and ``rag.answer.evidence``."""

    def __init__(self, segments: list[Segment], runs: Runs, terms: Terms, df: np.ndarray, total_len: int):
        self.segments, self.runs, self.terms = segments, runs, terms
        self.vocab_dict = terms.ids
        self.df = df
        indptr = np.zeros(len(df) + 1, np.int64)
        np.cumsum(df, out=indptr[1:])
        self.scores = {"indptr": indptr, "num_docs": runs.n}  # indptr[t + 1] - indptr[t]: live df of term t
        self.avg_len = total_len / runs.n if runs.n else 0.0

    def postings(self, term_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(global passage, score) postings of the given terms over the live passages, in query order."""
        idx, dat = [], []
        for t in term_ids:
            if t >= len(self.df) or not self.df[t]:
                continue
            word = self.terms.terms[t]
            for si, seg in enumerate(self.segments):
                col = seg.bm25.vocab_dict.get(word)
                ptr = seg.bm25.scores["indptr"]
                if col is None or col + 1 >= len(ptr):
                    continue
                a, b = int(ptr[col]), int(ptr[col + 1])
                rows = np.asarray(seg.bm25.scores["indices"][a:b], np.int64)
                glob = self.runs.to_global[si][rows]
                live = glob >= 0
                rows = rows[live]
                idx.append(glob[live])
                tf = np.asarray(seg.tf[a:b])[live]
                dat.append(posting_scores(tf, seg.doc_len[rows], int(self.df[t]), self.runs.n, self.avg_len))
        if not idx:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return np.concatenate(idx), np.concatenate(dat)


class SegmentedDense:
    """Dense search per segment (exact over its live vectors, or its own HNSW / IVF-PQ with deleted rows
    filtered inside the search), merged by similarity then global position."""

    def __init__(self, kind: str, searchers: list[tuple[Any, int]], runs: Runs):
        self.kind, self.searchers, self.runs = kind, searchers, runs
        self.exact = all(s.exact for s, _ in searchers)
        self.ntotal = runs.n

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k similarities and global passage positions per query (-1 pads)."""
        k = min(k, self.ntotal)
        sims_out = np.full((len(queries), max(k, 0)), -np.inf, np.float32)
        pos_out = np.full((len(queries), max(k, 0)), -1, np.int64)
        if k <= 0:
            return sims_out, pos_out
        found = []
        for si, (searcher, dead) in enumerate(self.searchers):
            want = min(searcher.ntotal, k + dead)
            if want <= 0:
                continue
            sims, local = searcher.search(queries, want)
            table = self.runs.to_global[si]
            glob = np.where(local >= 0, table[np.clip(local, 0, max(len(table) - 1, 0))], -1)
            found.append((sims, glob))
        for qi in range(len(queries)):
            s = np.concatenate([f[0][qi] for f in found])
            g = np.concatenate([f[1][qi] for f in found])
            keep = g >= 0
            s, g = s[keep], g[keep]
            order = np.lexsort((g, -s))[:k]
            sims_out[qi, : len(order)] = s[order]
            pos_out[qi, : len(order)] = g[order]
        return sims_out, pos_out


def segment_layout(params: dict) -> tuple[list[str], np.ndarray]:
    """Segment names and the (segment, first row, end row) of every live document, from params.json."""
    seg = params["segments"]
    return list(seg["names"]), np.asarray(seg["docs"], dtype=np.int64).reshape(-1, 3)


def open_segments(path: Path, params: dict) -> list[Segment]:
    """Every segment of a segmented index (one-segment indexes: the index directory itself)."""
    if "segments" not in params:
        return [Segment(path)]
    names, _ = segment_layout(params)
    return [Segment(path / SEG_DIR / n) for n in names]


def doc_runs(params: dict, segments: list[Segment]) -> tuple[Runs, Runs]:
    """Passage runs and sentence runs of the live documents, in docs.json order."""
    _, locs = segment_layout(params)
    seg, a, b = locs[:, 0], locs[:, 1], locs[:, 2]
    chunks = Runs(seg, a, b - a, [s.n for s in segments])
    sa = np.array([segments[s].sent_starts[x] for s, x in zip(seg.tolist(), a.tolist())], np.int64)
    sb = np.array([segments[s].sent_starts[x] for s, x in zip(seg.tolist(), b.tolist())], np.int64)
    sents = Runs(seg, sa, sb - sa, [len(s.sent_rows) for s in segments])
    return chunks, sents


def dense_searchers(path: Path, params: dict, settings: Any, segments: list[Segment], runs: Runs) -> list:
    """Per segment: its searcher over live rows and how many of its rows are deleted."""
    from rag.index.dense.faiss import FaissAnn, FlatDense

    out: list[tuple[Any, int]] = []
    for si, seg in enumerate(segments):
        live = runs.to_global[si] >= 0
        dead = int((~live).sum())
        if (seg.path / "dense.faiss").exists():
            index = load_faiss().read_index(str(seg.path / "dense.faiss"))
            kind = params["dense"]["kind"]
            ann = FaissAnn(
                index,
                kind,
                seg.vectors,
                seg.vids,
                settings.store.hnsw_ef_search,
                settings.store.ivf_nprobe,
                settings.store.ivf_rerank,
                live=live,
            )
            out.append((ann, 0))  # deleted rows are filtered inside its search
        else:
            out.append((FlatDense(seg.vectors), dead))
    return out
