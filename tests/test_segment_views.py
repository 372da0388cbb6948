"""Global-row views over segments (rag.index.store.segments): rows gathered in docs.json order, deleted rows
skipped, sentence rows renumbered, and products bitwise equal to those over one array."""

from __future__ import annotations

import numpy as np

from rag.index.store.segments import MATMUL_BLOCK, RowsView, Runs, blocked_matmul


def _layout():
    rng = np.random.default_rng(7)
    segs = [rng.standard_normal((n, 384)).astype(np.float32) for n in (MATMUL_BLOCK + 900, 3000)]
    # live documents in global order: (segment, first row, length); rows 100..199 of segment 0 deleted
    docs = [(1, 0, 1000), (0, 0, 100), (0, 200, MATMUL_BLOCK + 700), (1, 1500, 1500)]
    seg, local, length = (np.array(x, np.int64) for x in zip(*docs))
    runs = Runs(seg, local, length, [len(s) for s in segs])
    whole = np.concatenate([segs[s][a : a + k] for s, a, k in docs])
    return segs, runs, whole


def test_views_gather_live_rows_in_global_order():
    segs, runs, whole = _layout()
    view = RowsView(segs, runs)
    assert len(view) == len(whole) and view.shape == whole.shape
    rows = np.array([0, 999, 1000, 1099, 1100, len(whole) - 1, 5])
    assert np.array_equal(view[rows], whole[rows])
    assert np.array_equal(view[1100], whole[1100]) and np.array_equal(view[-1], whole[-1])
    assert np.array_equal(view[10:20], whole[10:20])
    assert np.array_equal(view[rows, 3], whole[rows, 3])
    assert (runs.to_global[0][100:200] == -1).all()  # deleted rows map nowhere
    assert sorted(np.concatenate([t[t >= 0] for t in runs.to_global]).tolist()) == list(range(len(whole)))


def test_blocked_products_are_bitwise_those_of_one_array():
    segs, runs, whole = _layout()
    q = np.random.default_rng(1).standard_normal((3, 384)).astype(np.float32)
    assert np.array_equal(blocked_matmul(RowsView(segs, runs), q.T), blocked_matmul(whole, q.T))


def test_sentence_rows_get_global_passage_numbers():
    rows = [np.array([[0, 0, 5], [1, 0, 7], [2, 3, 9]], np.int32), np.array([[0, 1, 2], [1, 2, 3]], np.int32)]
    # passages: segment 1 rows 0..1 first, then segment 0 rows 1..2 (row 0 deleted)
    chunks = Runs(np.array([1, 0]), np.array([0, 1]), np.array([2, 2]), [3, 2])
    sents = Runs(np.array([1, 0]), np.array([0, 1]), np.array([2, 2]), [3, 2])
    view = RowsView(rows, sents, chunks.start[:-1] - chunks.local)
    assert view[np.arange(4)].tolist() == [[0, 1, 2], [1, 2, 3], [2, 0, 7], [3, 3, 9]]
