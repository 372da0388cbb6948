"""Passages read on demand from chunks.jsonl through a byte-offset table, and each passage's range of
sentence rows."""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from rag.records import Chunk

CHUNK_CACHE_SIZE = 50_000  # decoded passages kept per open index (~100 MB at most)
_OPTIONAL = {"page": "", "ocr": None}  # PDF-only fields: left out when empty, read back as their defaults


def chunk_record(ch: Chunk) -> dict:
    """A passage as stored in chunks.jsonl: the PDF-only fields (page, OCR confidence) only when set,
    so indexes of text files are written as before and indexes written before them still read."""
    d = asdict(ch)
    for key, empty in _OPTIONAL.items():
        if d.get(key) == empty:
            del d[key]
    return d


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


class Ranges(Sequence):
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


def sentence_starts(sent_rows: np.ndarray, n_chunks: int) -> np.ndarray:
    """Per passage, the first of its sentence rows (one more entry: the end)."""
    if not len(sent_rows):
        return np.zeros(n_chunks + 1, np.int64)
    return np.searchsorted(np.asarray(sent_rows[:, 0]), np.arange(n_chunks + 1)).astype(np.int64)
