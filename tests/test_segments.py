"""Segment updates: an index updated by adding segments and deletion marks (forced here with
RAG_MERGE_MIN_PASSAGES=0 on the small fixture corpus) answers exactly like a full rebuild, never
returns a deleted passage, survives a killed update, and names a damaged segment file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import FIXTURES
from test_incremental import CHANGED_TAIL, NEW_DOC, QUESTIONS, _answers

from rag.answer.pipeline import Assistant
from rag.errors import IndexCorruptError
from rag.index.store import build_index, load_index, remove_documents, verify_index
from rag.settings import load_settings

pytestmark = pytest.mark.slow


def _own_cache(tmp_path, fixture_settings):
    """A copy of the fixture corpus's vector cache: texts these tests embed stay out of the shared one
    (tests/test_incremental.py counts what its updates embed)."""
    cache = tmp_path / "cache"
    shutil.copytree(fixture_settings.embedding_cache_dir, cache)
    return cache


def _settings(tmp_path, cache, name="index", **kw):
    kw = {"merge_min_passages": 0, "merge_deleted_share": 1.0, **kw}
    return load_settings(index_dir=tmp_path / name, cache_dir=cache, chunk_size=120, chunk_overlap=30, **kw)


@pytest.fixture()
def corpus(tmp_path, fixture_corpus):
    c = tmp_path / "corpus"
    shutil.copytree(fixture_corpus, c)
    return c


def _same_as_rebuild(tmp_path, corpus, s, tag):
    full = _settings(tmp_path, s.embedding_cache_dir, name=f"full-{tag}")
    build_index([corpus], full, force=True)
    mine, theirs = load_index(s), load_index(full)
    assert [c.chunk_id for c in mine.chunks] == [c.chunk_id for c in theirs.chunks]
    # the documents' records: carried over as read, or written anew, the bytes a rebuild writes
    assert (s.index_path / "docs.json").read_bytes() == (full.index_path / "docs.json").read_bytes()
    assert np.array_equal(mine.centroids, theirs.centroids)
    want = dict(theirs.glossary)  # a rebuild's glossary: one segment's contribution, capped
    assert want  # the fixture corpus has Chinese passages: the comparison covers real keys
    for key, words in want.items():
        assert key in mine.glossary and mine.glossary[key] == words and mine.glossary.get(key) == words, key
    assert set(mine.glossary) == set(want) and len(mine.glossary) == len(want)  # no extra key
    n = len(theirs.chunks)
    assert np.array_equal(mine.chunk_vecs[np.arange(n)], np.asarray(theirs.chunk_vecs))
    assert np.array_equal(mine.sent_rows[np.arange(len(theirs.sent_rows))], np.asarray(theirs.sent_rows))
    assert np.array_equal(mine.chunk_sentences.starts, theirs.chunk_sentences.starts)
    assert _answers(s) == _answers(full)
    return mine


def test_segment_updates_answer_like_a_full_rebuild(tmp_path, corpus, fixture_settings):
    s = _settings(tmp_path, _own_cache(tmp_path, fixture_settings))
    build_index([corpus], s)
    # generation 2: one added, one changed, one removed document
    with open(corpus / "en_notes.md", "a", encoding="utf-8") as fh:
        fh.write(CHANGED_TAIL)
    (corpus / "cables.md").write_text(NEW_DOC, encoding="utf-8")
    (corpus / "gbk_paper.txt").unlink()
    report = build_index([corpus], s)
    assert (report.added, report.updated, report.removed) == (["cables.md"], ["en_notes.md"], ["gbk_paper.txt"])
    params = json.loads((s.index_path / "params.json").read_text("utf-8"))
    assert params["segments"]["names"] == ["0", "1"]  # the first segment kept (hard-linked), one added
    assert (s.index_path / "seg/0/chunk_vectors.npy").stat().st_nlink == 1  # the old generation is gone
    idx = _same_as_rebuild(tmp_path, corpus, s, "2")
    assert "gbk_paper.txt" not in {c.doc_id for c in idx.chunks}
    # generation 3: a removal only (deletion marks, no new segment)
    remove_documents(["en_notes.md"], s)
    (corpus / "en_notes.md").unlink()
    _same_as_rebuild(tmp_path, corpus, s, "3")
    # generation 4: the removed document comes back as a third segment
    shutil.copy(FIXTURES / "corpus" / "en_notes.md", corpus / "en_notes.md")
    build_index([corpus], s)
    assert json.loads((s.index_path / "params.json").read_text("utf-8"))["segments"]["names"] == ["0", "1", "2"]
    _same_as_rebuild(tmp_path, corpus, s, "4")
    assert verify_index(s)["ok"]
    # compaction: above the deleted-rows share the next update writes one segment again, the same bytes
    s2 = _settings(tmp_path, s.embedding_cache_dir, merge_deleted_share=0.0)
    (corpus / "cables.md").write_text(NEW_DOC.replace("四十二", "四十四"), encoding="utf-8")
    build_index([corpus], s2)
    assert "segments" not in json.loads((s.index_path / "params.json").read_text("utf-8"))
    assert not (s.index_path / "seg").exists()
    _same_as_rebuild(tmp_path, corpus, s2, "5")


def test_deleted_passages_are_never_returned(tmp_path, corpus, fixture_settings):
    s = _settings(tmp_path, _own_cache(tmp_path, fixture_settings))
    build_index([corpus], s)
    removed = {c.chunk_id for c in load_index(s).chunks if c.doc_id == "zh_paper.txt"}
    remove_documents(["zh_paper.txt"], s)
    idx = load_index(s)
    assert "segments" in idx.params and idx.params["segments"]["names"] == ["0"]
    r = Assistant.open(s).retriever
    for q in [*QUESTIONS, "墨子号量子科学实验卫星", "量子通信"]:
        hits = r.retrieve(q, 20)
        assert hits and not {h.chunk.chunk_id for h in hits} & removed
        sims, pos = idx.dense.search(np.ones((1, idx.chunk_vecs.shape[1]), np.float32), len(idx.chunks))
        assert sorted(pos[0].tolist()) == list(range(len(idx.chunks)))  # every live row once, no deleted one


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from rag.index.store import build_index
    from rag.settings import load_settings
    s = load_settings(index_dir=sys.argv[1], cache_dir=sys.argv[2], chunk_size=120, chunk_overlap=30,
                      merge_min_passages=0, merge_deleted_share=1.0)
    def progress(stage, done, total):
        if stage == "indexing BM25":
            os.kill(os.getpid(), signal.SIGKILL)
    build_index([sys.argv[3]], s, progress=progress)
    """
)


def test_killed_segment_update_leaves_previous_generation(tmp_path, corpus, fixture_settings):
    s = _settings(tmp_path, _own_cache(tmp_path, fixture_settings))
    build_index([corpus], s)
    (corpus / "gbk_paper.txt").unlink()
    build_index([corpus], s)  # a segmented generation
    before = [c.chunk_id for c in load_index(s).chunks]
    (corpus / "cables.md").write_text(NEW_DOC, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(s.store.index_dir), str(s.embedding_cache_dir), str(corpus)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr
    assert [c.chunk_id for c in load_index(s).chunks] == before
    assert verify_index(s)["ok"]
    report = build_index([corpus], s)
    assert report.added == ["cables.md"]
    assert not list(s.store.index_dir.glob(".index.tmp-*"))
    _same_as_rebuild(tmp_path, corpus, s, "k")


def test_damaged_segment_file_is_named(tmp_path, corpus, fixture_settings):
    s = _settings(tmp_path, _own_cache(tmp_path, fixture_settings))
    build_index([corpus], s)
    (corpus / "cables.md").write_text(NEW_DOC, encoding="utf-8")
    build_index([corpus], s)
    f = s.index_path / "seg/1/sentence_vectors.npy"
    data = bytearray(f.read_bytes())
    data[-5] ^= 0xFF  # same size, other content
    f.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError) as exc:
        load_index(s)
    msg = str(exc.value)
    assert "\n" not in msg and "seg/1/sentence_vectors.npy has other content than was written" in msg
    assert "rag index PATH --force" in msg


ADD_ONE = textwrap.dedent(
    """
    import json, sys
    from rag.lang import translation
    from rag.settings import load_settings
    from rag.index.store import build_index
    s = load_settings(index_dir=sys.argv[1], cache_dir=sys.argv[2], chunk_size=120, chunk_overlap=30,
                      merge_min_passages=0, merge_deleted_share=1.0)
    report = build_index([sys.argv[3]], s)
    print(json.dumps({"added": report.added, "dictionary_loaded": translation._entries.cache_info().currsize}))
    """
)


def test_adding_a_document_writes_its_words_glossary_without_loading_the_dictionary(tmp_path, corpus, fixture_settings):
    from rag.lang.glossary import _database, contribution

    s = _settings(tmp_path, _own_cache(tmp_path, fixture_settings))
    build_index([corpus], s)
    _database.cache_clear()
    _database()  # writes the SQLite dictionary if this machine has none yet (once)
    _database.cache_clear()
    assert _database() is not None
    (corpus / "cables.md").write_text(NEW_DOC, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", ADD_ONE, str(s.store.index_dir), str(s.embedding_cache_dir), str(corpus)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == {"added": ["cables.md"], "dictionary_loaded": 0}
    new = s.index_path / "seg/1/glossary.json"
    stored = json.loads(new.read_text("utf-8"))
    seg = load_index(s)
    ids = np.unique(np.load(s.index_path / "seg/1/tokens.npy"))
    vocab = {seg.bm25.terms.terms[t] for t in ids.tolist()}
    assert stored and stored == contribution(vocab, use_database=False)  # the new words only, uncapped
    _same_as_rebuild(tmp_path, corpus, s, "one")
