"""Dense index kinds: the auto rule, HNSW / IVF-PQ recall against exact search, tombstones, incremental
updates of an approximate index, and the vectorised BM25 builder against bm25s."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rag.answer.pipeline import Assistant
from rag.index.bm25 import Terms, build_bm25, top_bm25, top_structured
from rag.index.dense.base import FLAT_MAX, HNSW_MAX, choose_kind, hnsw_bytes, vid_table
from rag.index.dense.faiss import FaissAnn, FlatDense, build_faiss, top_stable
from rag.index.store import build_index, centroid, load_index, passage_text
from rag.lang.text import tokenize
from rag.lang.translation import structured_bm25, translate
from rag.settings import load_settings


def _clustered(n: int, dim: int = 384, topics: int = 40, seed: int = 0) -> np.ndarray:
    """Unit vectors around topic centres (real embeddings cluster; uniform random ones do not)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, dim)).astype(np.float32)
    x = centres[rng.integers(0, topics, n)] + 0.9 * rng.standard_normal((n, dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def vectors():
    x = _clustered(6000)
    rng = np.random.default_rng(1)
    q = x[rng.choice(len(x), 100, replace=False)] + 0.05 * rng.standard_normal((100, x.shape[1])).astype(np.float32)
    return x, (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def _recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found, exact)]))


def test_auto_rule_by_size_and_memory():
    assert choose_kind(FLAT_MAX, 384, "auto", 3072) == "flat"
    assert choose_kind(FLAT_MAX + 1, 384, "auto", 3072) == "hnsw"
    assert choose_kind(HNSW_MAX, 384, "auto", 3072) == "hnsw"
    assert choose_kind(HNSW_MAX, 384, "auto", 100) == "ivfpq"  # over the memory budget
    assert choose_kind(1_000_000, 384, "auto", 3072) == "ivfpq"  # HNSW's recall fell to 0.72 there
    assert choose_kind(1_000_000, 384, "auto", 3072, hnsw_max=float("inf")) == "hnsw"  # Milvus
    assert choose_kind(10, 384, "ivfpq", 3072) == "ivfpq"  # an explicit choice wins
    assert 1.6 * 2**30 < hnsw_bytes(1_000_000, 384) < 1.8 * 2**30


@pytest.mark.slow
@pytest.mark.parametrize("kind,floor", [("hnsw", 0.95), ("ivfpq", 0.95)])
def test_approximate_kinds_recall_against_exact(vectors, kind, floor):
    x, q = vectors
    exact_s, exact_i = FlatDense(x).search(q, 10)
    vids = np.arange(len(x), dtype=np.int64)
    ann = FaissAnn(build_faiss(kind, x, vids), kind, x, vids, ef_search=128, nprobe=16, rerank=8)
    s, i = ann.search(q, 10)
    assert _recall(i, exact_i) >= floor
    if kind == "ivfpq":  # re-ranked with the exact vectors: the scores it returns are exact
        assert np.allclose(s, np.einsum("qd,qkd->qk", q, x[i]), atol=1e-5)


def test_tombstoned_vectors_are_never_returned(vectors):
    x, q = vectors
    vids = np.arange(len(x), dtype=np.int64) * 3 + 7  # any ids
    index = build_faiss("hnsw", x, vids)
    _, before = FaissAnn(index, "hnsw", x, vids, 128, 16, 8).search(q[:20], 10)
    live = np.ones(len(x), bool)
    live[np.unique(before[:, :3])] = False  # drop the best hits of the first queries
    ann = FaissAnn(index, "hnsw", x[live], vids[live], 128, 16, 8)
    assert ann.stale == (~live).sum()
    _, after = ann.search(q[:20], 10)
    kept = np.flatnonzero(live)
    assert (after >= 0).all() and not set(kept[after.ravel()]) & set(np.flatnonzero(~live))
    assert np.array_equal(vid_table(np.array([5, 2])), [-1, -1, 1, -1, -1, 0])


def test_centroid_is_the_mean_and_the_same_in_any_grouping(vectors):
    from rag.index.store.writer import fixed_sum

    x, _ = vectors
    mask = np.arange(len(x)) % 3 != 0
    c = centroid(x, mask, x.shape[1], block=1000)
    assert np.allclose(c, x[mask].astype(np.float64).mean(axis=0), rtol=0, atol=1e-7)
    assert np.array_equal(c, centroid(x, mask, x.shape[1], block=7))  # block size does not matter
    # fixed-point sums add up exactly: a segment update's running sum equals one computed from scratch
    rows = np.flatnonzero(mask)
    whole = fixed_sum(x, rows)
    assert np.array_equal(whole, fixed_sum(x, rows[::2]) + fixed_sum(x, rows[1::2]))
    assert np.array_equal(whole - fixed_sum(x, rows[:10]), fixed_sum(x, rows[10:]))
    assert np.array_equal(centroid(x, np.zeros(len(x), bool), x.shape[1]), np.zeros(x.shape[1], np.float32))


def test_bm25_builder_equals_bm25s_and_scores_from_postings(fixture_settings):
    import bm25s

    idx = load_index(fixture_settings)
    texts = [passage_text(c, "section") for c in idx.chunks]
    ref = bm25s.BM25(k1=1.2, b=0.75)
    ref.index([tokenize(t) or [""] for t in texts], show_progress=False)
    terms = Terms()
    ids = [terms.encode(tokenize(t)) for t in texts]
    offsets = np.concatenate([[0], np.cumsum([len(i) for i in ids])])
    mine = build_bm25(np.concatenate(ids), offsets, terms)
    assert set(mine.vocab_dict) == set(ref.vocab_dict)
    for term, i in mine.vocab_dict.items():
        j = ref.vocab_dict[term]
        if i + 1 < len(mine.scores["indptr"]):
            a, b = mine.scores, ref.scores
            assert (
                a["indices"][a["indptr"][i] : a["indptr"][i + 1]].tolist()
                == b["indices"][b["indptr"][j] : b["indptr"][j + 1]].tolist()
            )
            assert (
                a["data"][a["indptr"][i] : a["indptr"][i + 1]].tobytes()
                == b["data"][b["indptr"][j] : b["indptr"][j + 1]].tobytes()
            )
    for q in ["东盟 数字 数据治理 框架", "submarine cables data traffic", "量子 通信 墨子号 卫星 卫星"]:
        toks = tokenize(q)
        full = ref.get_scores(toks)
        got = top_bm25(mine, toks, 5)
        assert len(got) == min(5, int((full > 0).sum()))
        assert all(full[i] == np.float32(s) for i, s in got.items())
        assert min(got.values()) >= np.sort(full)[-len(got)]
    groups = translate("data governance framework of ASEAN", idx.glossary)
    total = structured_bm25(ref, groups)
    got = top_structured(mine, groups, 5)
    assert got and all(total[i] == np.float32(s) for i, s in got.items())
    assert min(got.values()) >= np.sort(total)[-len(got)]


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_approximate_index_end_to_end_and_updated_in_place(
    tmp_path, fixture_corpus, fixture_settings, kind, monkeypatch
):
    import rag.index.store.dense_writer

    # the fixture corpus is small: one document is a third of its passages, past the rebuild share
    monkeypatch.setattr(rag.index.store.dense_writer, "STALE_REBUILD", 0.5)
    corpus = tmp_path / "corpus"
    shutil.copytree(fixture_corpus, corpus)
    s = load_settings(
        index_dir=tmp_path / "index",
        cache_dir=fixture_settings.embedding_cache_dir,
        chunk_size=120,
        chunk_overlap=30,
        dense_index=kind,
    )
    build_index([corpus], s)
    params = json.loads((s.index_path / "params.json").read_text("utf-8"))
    assert params["dense"]["kind"] == kind and params["sentences"] == {"search": "candidates"}
    assert (s.index_path / "dense.faiss").exists()
    a = Assistant.open(s)
    assert a.retriever.retrieve("墨子号卫星是哪一年发射的？", 3)[0].chunk.doc_id == "gbk_paper.txt"
    assert (
        a.retriever.retrieve("What share of intercontinental data traffic travels through submarine cables?", 3)[
            0
        ].chunk.doc_id
        == "en_notes.md"
    )
    hits = a.retriever.retrieve("数据保护", 2, docs=["gbk_paper.txt"])  # filtered: exhaustive within the document
    assert len(hits) == 2 and {h.chunk.doc_id for h in hits} == {"gbk_paper.txt"}
    n_before = params["counts"]["chunks"]
    (corpus / "gbk_paper.txt").unlink()
    (corpus / "extra.md").write_text(
        "# Cable repair\n\nRepair ships reach a broken cable within nine days on average.\n", encoding="utf-8"
    )
    report = build_index([corpus], s)
    p2 = json.loads((s.index_path / "params.json").read_text("utf-8"))
    added = p2["counts"]["chunks"] - (n_before - load_index_count(tmp_path, fixture_corpus, fixture_settings))
    assert p2["dense"]["updated_in_place"] is True and report.removed == ["gbk_paper.txt"]
    assert p2["dense"]["stored"] == n_before + added  # old vectors stay, tombstoned
    b = Assistant.open(s)
    assert b.retriever.index.dense.stale == p2["dense"]["stored"] - p2["counts"]["chunks"]
    for q in ["墨子号卫星是哪一年发射的？", "量子通信", "How fast do repair ships reach a broken cable?"]:
        assert all(h.chunk.doc_id != "gbk_paper.txt" for h in b.retriever.retrieve(q, 10))
    assert b.retriever.retrieve("How fast do repair ships reach a broken cable?", 1)[0].chunk.doc_id == "extra.md"


def load_index_count(tmp_path, fixture_corpus, fixture_settings) -> int:
    """Passages of gbk_paper.txt in the fixture index."""
    return load_index(fixture_settings).docs["gbk_paper.txt"].n_chunks


def test_bm25_of_a_large_index_scores_only_the_touched_passages_and_ranks_exactly(monkeypatch):
    import rag.index.bm25

    # Zipf-distributed terms over passages of equal-ish length: many equal scores, so ties are tested too
    rng = np.random.default_rng(3)
    n, vocab = 4000, 300
    lens = rng.integers(1, 12, n)
    token_ids = (rng.zipf(1.4, int(lens.sum())) % vocab).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lens)])
    terms = Terms([f"w{i}" for i in range(vocab)])
    bm = build_bm25(token_ids, offsets, terms)
    queries = [["w0"], ["w3", "w17", "w3"], ["w250", "w299", "w5", "w1"], ["nowhere"], []]
    groups = [[("a", ["w2", "w40"]), ("b", ["w7"])], [("c", ["w120", "w121", "w122"])], [("d", ["nowhere"])], []]

    def expected(scores: dict[int, float], depth: int) -> list[tuple[int, float]]:
        return sorted(scores.items(), key=lambda x: (-x[1], x[0]))[:depth]

    # every positive score, from the array over all passages (the path of small indexes)
    full_plain = [top_bm25(bm, q, n) for q in queries]
    full_structured = [top_structured(bm, g, n) for g in groups]
    assert any(len(set(f.values())) < len(f) for f in full_plain)  # ties among the scores
    monkeypatch.setattr(rag.index.bm25, "FULL_SELECT_MAX", 0)  # the large-index path, on this index
    for depth in (1, 5, 50, n):
        for q, full in zip(queries, full_plain):
            assert list(top_bm25(bm, q, depth).items()) == expected(full, depth)
        for g, full in zip(groups, full_structured):
            assert list(top_structured(bm, g, depth).items()) == expected(full, depth)
    assert top_bm25(bm, ["w0"], 0) == {} and top_structured(bm, groups[0], 0) == {}


@pytest.mark.slow
def test_ivfpq_rerank_reads_each_querys_candidates_once_in_order_and_scores_them_exactly(vectors):
    x, q = vectors
    vids = np.arange(len(x), dtype=np.int64)
    ann = FaissAnn(build_faiss("ivfpq", x, vids), "ivfpq", x, vids, ef_search=128, nprobe=16, rerank=8)

    reads: list[list[int]] = []

    class Reads(np.ndarray):  # records the rows read from the passage vectors
        def __getitem__(self, i):
            reads.append(np.atleast_1d(i).tolist())
            return np.asarray(self).__getitem__(i)

    counting = x.view(Reads)
    ann.vectors = counting
    pairs = np.stack([q[:10], q[10:20]], axis=1)  # two queries a search, as one per language
    for pair in pairs:
        reads.clear()
        s, p = ann.search(pair, 10)
        _, cand = ann.index.search(pair, 80, params=ann.params)
        # the reference: each query's candidates read and scored on their own, in position order
        for qi in range(2):
            row = np.sort(cand[qi][cand[qi] >= 0])
            exact = np.asarray(x[row]) @ pair[qi]
            best = np.argsort(-exact, kind="stable")[:10]
            assert p[qi].tolist() == row[best].tolist() and s[qi].tobytes() == exact[best].tobytes()
        # one ascending pass over the memory map per query, over exactly its candidates
        assert reads == [np.sort(c[c >= 0]).tolist() for c in cand]


def test_top_stable_is_the_stable_argsorts_head_ties_included():
    """The partial selection returns what a full stable sort would, ties broken by position."""
    rng = np.random.default_rng(3)
    for n, k in [(0, 5), (3, 5), (10, 10), (6400, 100), (500, 1), (1000, 999)]:
        for levels in (4, 50, 0):  # few distinct values (many ties), some, all distinct
            x = rng.integers(0, levels, n).astype(np.float32) if levels else rng.standard_normal(n).astype(np.float32)
            assert np.array_equal(top_stable(x, k), np.argsort(-x, kind="stable")[:k]), (n, k, levels)
