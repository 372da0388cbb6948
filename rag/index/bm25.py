"""BM25 at scale: a vectorised builder that writes bm25s's on-disk format (loaded memory-mapped), and
sparse top-k scoring that touches only the postings of the query's terms.

The score matrix is exactly what ``bm25s.BM25(k1=1.2, b=0.75).index(tokens)`` computes (same float
operations, checked by a test), but built with numpy from token ids instead of Python loops, so an
index of a million passages is rebuilt in seconds and an incremental update needs no re-tokenising:
token ids are kept per passage against an append-only term list (``terms.json``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

K1, B = 1.2, 0.75
EMPTY = ""  # the token of a passage with no terms (bm25s convention)


class Terms:
    """Append-only term list: token strings <-> stable integer ids kept in the index."""

    def __init__(self, terms: list[str] | None = None):
        self.terms = list(terms or [])
        self.ids = {t: i for i, t in enumerate(self.terms)}

    def encode(self, tokens: list[str]) -> np.ndarray:
        """Ids of ``tokens`` (new terms are appended); an empty passage becomes the empty token."""
        out = []
        for t in tokens or [EMPTY]:
            i = self.ids.get(t)
            if i is None:
                i = self.ids[t] = len(self.terms)
                self.terms.append(t)
            out.append(i)
        return np.asarray(out, dtype=np.int32)

    def save(self, path: Path) -> None:
        """Write the term list as JSON."""
        path.write_text(json.dumps(self.terms, ensure_ascii=False, separators=(",", ":")), "utf-8")

    @classmethod
    def load(cls, path: Path) -> "Terms":
        """Read a term list written by ``save``."""
        return cls(json.loads(path.read_text("utf-8")))


def build_bm25(token_ids: np.ndarray, offsets: np.ndarray, terms: Terms):
    """A ``bm25s.BM25`` (lucene BM25, k1=1.2, b=0.75) over passages given as flat term ids + offsets."""
    import bm25s

    n_docs = len(offsets) - 1
    doc_len = np.diff(offsets).astype(np.int64)
    avg_len = doc_len.mean()  # float64, as bm25s computes it
    used, compact = np.unique(token_ids, return_inverse=True)
    n_vocab = len(used)
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), doc_len)
    pairs, tf = np.unique(compact.astype(np.int64) * max(n_docs, 1) + doc_of, return_counts=True)
    col, row = pairs // max(n_docs, 1), pairs % max(n_docs, 1)  # sorted by (term, passage): CSC order
    df = np.bincount(col, minlength=n_vocab)
    # idf with math.log per distinct df (bm25s uses math.log; numpy's log may differ in the last bit)
    uniq_df, inv = np.unique(df, return_inverse=True)
    idf64 = np.array([math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) for d in uniq_df.tolist()], dtype=np.float64)
    idf = idf64.astype(np.float32)[inv]
    # bm25s (numpy 2 promotion): float32 tf against a float64 length norm -> float64, stored as float32
    dl = doc_len[row]
    tfc = tf.astype(np.float32).astype(np.float64)
    tfc = tfc / (K1 * ((1 - B) + B * dl / avg_len) + tfc)
    data = (idf[col].astype(np.float64) * tfc).astype(np.float32)
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(np.bincount(col, minlength=n_vocab), out=indptr[1:])
    bm = bm25s.BM25(k1=K1, b=B)
    bm.scores = {"data": data, "indices": row.astype(np.int32), "indptr": indptr, "num_docs": n_docs}
    vocab = {terms.terms[t]: i for i, t in enumerate(used.tolist())}
    if EMPTY not in vocab:
        vocab[EMPTY] = len(vocab)
    bm.vocab_dict = vocab
    bm.unique_token_ids_set = set(vocab.values())
    bm.nonoccurrence_array = None  # lucene BM25 has none
    bm.tf = tf.astype(np.int32)  # term frequency per posting (saved as bm25_tf.npy: scoring segments)
    return bm


def posting_scores(tf: np.ndarray, dl: np.ndarray, df: int, n_docs: int, avg_len: float) -> np.ndarray:
    """BM25 scores of one term's postings from term frequencies, passage lengths and the collection's
    statistics: bitwise what ``build_bm25`` stores for them over the same collection."""
    idf = np.float32(math.log(1 + (n_docs - df + 0.5) / (df + 0.5)))
    tfc = tf.astype(np.float32).astype(np.float64)
    tfc = tfc / (K1 * ((1 - B) + B * dl.astype(np.int64) / np.float64(avg_len)) + tfc)
    return (np.float64(idf) * tfc).astype(np.float32)


class StoredBM25:
    """A saved BM25 index as the scorers here read it: ``vocab_dict`` (term -> column) and ``scores`` (the
    CSC arrays, memory-mapped, and ``num_docs``) — the attributes of ``bm25s.BM25.load(path, mmap=True)``
    they use, read without importing bm25s (and scipy) on the question path."""

    def __init__(self, vocab_dict: dict[str, int], scores: dict):
        self.vocab_dict = vocab_dict
        self.scores = scores


def load_bm25(path: Path) -> StoredBM25:
    """Open a bm25s index directory written by ``bm25s.BM25.save`` (arrays memory-mapped)."""
    params = json.loads((path / "params.index.json").read_text("utf-8"))
    vocab = json.loads((path / "vocab.index.json").read_text("utf-8"))
    scores = {name: np.load(path / f"{name}.csc.index.npy", mmap_mode="r") for name in ("data", "indices", "indptr")}
    scores["num_docs"] = params.get("num_docs")
    return StoredBM25(vocab, scores)


def _postings(bm25, term_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated (passage, score) postings of the given term ids, in query order."""
    if hasattr(bm25, "postings"):  # a segmented index scores its segments' postings (rag.index.store.segments)
        return bm25.postings(term_ids)
    sc = bm25.scores
    indptr, indices, data = sc["indptr"], sc["indices"], sc["data"]
    n_cols = len(indptr) - 1
    parts = [(int(indptr[t]), int(indptr[t + 1])) for t in term_ids if t < n_cols]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    idx = np.concatenate([indices[a:b] for a, b in parts]).astype(np.int64)
    dat = np.concatenate([data[a:b] for a, b in parts])
    return idx, dat


# up to this many passages a full argpartition costs under ~2 ms: keep the original selection (and its
# order among equal scores) there, so small indexes rank exactly as before; above it only the passages
# the query's postings touch are scored, so a question costs what its terms' postings do, not n
FULL_SELECT_MAX = 262_144


def _select(scores: np.ndarray, cand: np.ndarray, depth: int) -> dict[int, float]:
    """The ``depth`` best positive-scoring passages by a full argpartition (small indexes; ``cand``:
    the touched passages, none meaning no result)."""
    if not len(cand) or depth <= 0:
        return {}
    top = np.argpartition(-scores, min(depth, len(scores) - 1))[:depth]
    return {int(i): float(scores[i]) for i in top if scores[i] > 0}


def _select_touched(touched: np.ndarray, scores: np.ndarray, depth: int) -> dict[int, float]:
    """The ``depth`` best positive scores of the touched passages (ascending, unique), by score then
    position: what ``_select`` returns, without an array over every passage."""
    pos = scores > 0
    touched, scores = touched[pos], scores[pos]
    if len(scores) > depth:
        floor = np.partition(scores, len(scores) - depth)[len(scores) - depth]
        keep = scores >= floor
        touched, scores = touched[keep], scores[keep]
    order = np.lexsort((touched, -scores))[:depth]
    return {int(touched[i]): float(scores[i]) for i in order}


def top_bm25(bm25, tokens: list[str], depth: int) -> dict[int, float]:
    """Top passages for a query: the scores ``bm25.get_scores(tokens)`` gives, computed from postings."""
    vocab = bm25.vocab_dict
    ids = [vocab[t] for t in tokens if t in vocab]
    idx, dat = _postings(bm25, ids)
    n = bm25.scores["num_docs"]
    if n > FULL_SELECT_MAX:  # scores of the touched passages only: the cost follows the postings, not n
        if not len(idx) or depth <= 0:
            return {}
        touched, where = np.unique(idx, return_inverse=True)
        local = np.zeros(len(touched), dtype=np.float32)
        np.add.at(local, where, dat)  # per passage, in query-token order: bitwise as bm25s
        return _select_touched(touched, local, depth)
    scores = np.zeros(n, dtype=np.float32)
    np.add.at(scores, idx, dat)  # per passage, in query-token order: bitwise as bm25s
    return _select(scores, idx, depth)


def top_structured(bm25, groups: list[tuple[str, list[str]]], depth: int) -> dict[int, float]:
    """Top passages for a translated query: per group the best alternative's score, summed over groups
    (what ``translation.structured_bm25`` computes, from postings only)."""
    vocab = bm25.vocab_dict
    n = bm25.scores["num_docs"]
    if n > FULL_SELECT_MAX:
        return _structured_touched(bm25, groups, depth)
    total = None
    touched = []
    for _, alts in groups:
        idx, dat = _postings(bm25, [vocab[a] for a in alts if a in vocab])
        best = np.zeros(n, dtype=np.float32)
        np.maximum.at(best, idx, dat)
        total = best if total is None else total + best
        touched.append(idx)
    if total is None:
        return {}
    cand = np.concatenate(touched) if touched else np.zeros(0, np.int64)
    return _select(total, cand, depth)


def document_frequency(bm25, term: str) -> int:
    """Number of passages containing ``term``."""
    tid = bm25.vocab_dict.get(term)
    indptr = bm25.scores["indptr"]
    return int(indptr[tid + 1] - indptr[tid]) if tid is not None and tid + 1 < len(indptr) else 0


def _structured_touched(bm25, groups: list[tuple[str, list[str]]], depth: int) -> dict[int, float]:
    """``top_structured`` over the passages the groups' postings touch (large indexes: no array of n)."""
    vocab = bm25.vocab_dict
    postings = [_postings(bm25, [vocab[a] for a in alts if a in vocab]) for _, alts in groups]
    if not postings or depth <= 0:
        return {}
    touched = np.unique(np.concatenate([idx for idx, _ in postings]))
    if not len(touched):
        return {}
    total = None
    for idx, dat in postings:
        best = np.zeros(len(touched), dtype=np.float32)
        np.maximum.at(best, np.searchsorted(touched, idx), dat)
        total = best if total is None else total + best  # in group order, as over every passage
    assert total is not None
    return _select_touched(touched, total, depth)
