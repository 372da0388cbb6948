"""Incremental index updates: only changed documents are processed, vanished ones removed, and the
result is the index a full rebuild makes (same arrays, same retrieval, same answers)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import rag_cli

import rag.index.store.builder
import rag.index.store.sources
from rag.answer.pipeline import Assistant
from rag.errors import InvalidInputError
from rag.index.store import build_index, load_index, remove_documents
from rag.settings import load_settings

NEW_DOC = """# 海底光缆登陆站调研笔记

## 一、登陆站的分布

截至2024年，东南亚共有四十二个海底光缆登陆站，其中新加坡拥有十一个。登陆站的选址取决于海岸地形和电力供应。

## 二、运维模式

多数登陆站由电信运营商联合体共同运营，维护船队的响应时间通常为七天。
"""
CHANGED_TAIL = (
    "\n## Outlook\n\nThree new cables are planned to land in Kenya by 2029, doubling the region's capacity.\n"
)
QUESTIONS = [
    "东盟数字数据治理框架是什么时候通过的？",
    "What share of intercontinental data traffic travels through submarine cables?",
    "东南亚共有多少个海底光缆登陆站？",  # only in the added document
    "How many new cables will land in Kenya?",  # only in the changed part of a document
    "墨子号卫星是哪一年发射的？",  # only in the removed document
    "维护船队的响应时间是多少天？",
]
SAME_BYTES = [
    "chunks.jsonl",
    "chunks.offsets.npy",
    "chunk_vectors.npy",
    "chunk_docs.npy",
    "sentences.npy",
    "sentence_vectors.npy",
    "token_offsets.npy",
    "glossary.json",
    "docs.json",
    "references.json",
    "boxes.json",
]


def _settings(tmp_path, cache, name="index", **kw):
    return load_settings(index_dir=tmp_path / name, cache_dir=cache, chunk_size=120, chunk_overlap=30, **kw)


def _answers(settings) -> list:
    a = Assistant.open(settings)
    out = []
    for q in QUESTIONS:
        ans = a.ask(q).to_dict()
        ans.pop("timings_ms")
        out.append((ans, [(h.chunk.chunk_id, h.score, h.dense, h.bm25) for h in a.retriever.retrieve(q, 10)]))
    return out


def _tokens(path) -> list[list[str]]:
    terms = json.loads((path / "terms.json").read_text("utf-8"))
    ids, off = np.load(path / "tokens.npy"), np.load(path / "token_offsets.npy")
    return [[terms[t] for t in ids[off[i] : off[i + 1]]] for i in range(len(off) - 1)]


def _postings(path) -> dict[str, tuple[list, list]]:
    import bm25s

    bm = bm25s.BM25.load(str(path / "bm25"))
    ptr, ind, dat = bm.scores["indptr"], bm.scores["indices"], bm.scores["data"]
    return {
        t: (ind[ptr[i] : ptr[i + 1]].tolist(), dat[ptr[i] : ptr[i + 1]].tolist())
        for t, i in bm.vocab_dict.items()
        if i + 1 < len(ptr)
    }


def _assert_same_index(inc, full):
    for name in SAME_BYTES:
        assert (inc / name).read_bytes() == (full / name).read_bytes(), name
    with np.load(inc / "languages.npz") as a, np.load(full / "languages.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            assert np.array_equal(a[k], b[k]), k
    assert _tokens(inc) == _tokens(full)
    assert _postings(inc) == _postings(full)


@pytest.fixture()
def corpus(tmp_path, fixture_corpus):
    c = tmp_path / "corpus"
    shutil.copytree(fixture_corpus, c)
    return c


def test_update_processes_only_changes_and_equals_a_full_rebuild(tmp_path, corpus, fixture_settings, monkeypatch):
    cache = fixture_settings.embedding_cache_dir  # embeddings of the fixture corpus are cached there already
    s = _settings(tmp_path, cache)
    build_index([corpus], s)
    with open(corpus / "en_notes.md", "a", encoding="utf-8") as fh:
        fh.write(CHANGED_TAIL)
    (corpus / "cables.md").write_text(NEW_DOC, encoding="utf-8")
    (corpus / "gbk_paper.txt").unlink()
    cleaned: list[str] = []
    real_clean = rag.index.store.sources.clean_document
    monkeypatch.setattr(
        rag.index.store.sources, "clean_document", lambda src: cleaned.append(src.doc_id) or real_clean(src)
    )
    report = build_index([corpus], s)
    assert sorted(cleaned) == ["cables.md", "en_notes.md"]  # the unchanged paper is not even decoded again
    assert (report.added, report.updated, report.removed, report.reused) == (
        ["cables.md"],
        ["en_notes.md"],
        ["gbk_paper.txt"],
        1,
    )
    assert 0 < report.embedded < report.chunks and not report.up_to_date
    assert sorted(load_index(s).docs) == ["cables.md", "en_notes.md", "zh_paper.txt"]

    full = _settings(tmp_path, cache, name="full")
    build_index([corpus], full, force=True)
    _assert_same_index(s.index_path, full.index_path)
    mine, theirs = _answers(s), _answers(full)
    assert mine == theirs
    # and the answers do reflect the update
    by_q = dict(zip(QUESTIONS, mine))
    assert "四十二" in by_q["东南亚共有多少个海底光缆登陆站？"][0]["answer"]
    assert by_q["How many new cables will land in Kenya?"][0]["retrieved"][0]["doc"] == "en_notes.md"
    assert all(h["doc"] != "gbk_paper.txt" for ans, _ in mine for h in ans["retrieved"])
    # nothing changed now: up to date, nothing rewritten
    again = build_index([corpus], s)
    assert again.up_to_date and again.embedded == 0


def test_remove_equals_a_build_without_the_document(tmp_path, corpus, fixture_settings):
    cache = fixture_settings.embedding_cache_dir
    s = _settings(tmp_path, cache)
    build_index([corpus], s)
    report = remove_documents(["gbk_paper.txt"], s)
    assert report.removed == ["gbk_paper.txt"] and report.documents == 2 and report.embedded == 0
    (corpus / "gbk_paper.txt").unlink()
    full = _settings(tmp_path, cache, name="full")
    build_index([corpus], full)
    _assert_same_index(s.index_path, full.index_path)
    assert _answers(s) == _answers(full)
    with pytest.raises(InvalidInputError, match="no document 'nope.txt' in index 'default'.*rag info --index default"):
        remove_documents(["zh_paper.txt", "nope.txt"], s)
    assert sorted(load_index(s).docs) == ["en_notes.md", "zh_paper.txt"]  # an error removes nothing
    with pytest.raises(InvalidInputError, match="leave index 'default' empty"):
        remove_documents(["zh_paper.txt", "en_notes.md"], s)


def test_rag_remove_command(tmp_path, fixture_corpus, fixture_settings):
    env = {"RAG_CACHE_DIR": str(fixture_settings.embedding_cache_dir)}
    args = ["--chunk-size", "120", "--chunk-overlap", "30"]
    assert rag_cli("index", str(fixture_corpus), *args, cwd=tmp_path, env=env).returncode == 0
    proc = rag_cli("remove", "gbk_paper.txt", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("removed gbk_paper.txt from index/default: 2 documents, ")
    bad = rag_cli("remove", "nope.txt", "--index", "default", cwd=tmp_path, env=env)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        "error: no document 'nope.txt' in index 'default' (it has e.g. en_notes.md, zh_paper.txt); "
        "list them with: rag info --index default"
    ]
    info = json.loads(rag_cli("info", "--json", cwd=tmp_path, env=env).stdout)
    assert [d["doc"] for d in info["per_document"]] == ["en_notes.md", "zh_paper.txt"]
    assert info["dense"] == {"backend": "faiss", "kind": "flat"}
    # the folder still holds the file: indexing it again adds it back, and says what changed
    proc = rag_cli("index", str(fixture_corpus), *args, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("updated index/default: 1 added, 0 changed, 0 removed, 2 unchanged documents; ")
    # one file given where the index holds three: the two dropped are named, with how to keep them
    one = rag_cli("index", str(fixture_corpus / "en_notes.md"), *args, cwd=tmp_path, env=env)
    assert one.returncode == 0, one.stderr
    assert one.stderr.splitlines() == [
        f"note: removed 2 document(s) not found in {fixture_corpus / 'en_notes.md'}: gbk_paper.txt, zh_paper.txt; "
        "to add papers and keep those, give every folder: rag index FOLDER... --index default"
    ]
    assert one.stdout.startswith("updated index/default: 0 added, 0 changed, 2 removed, 1 unchanged documents; ")


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from rag.index.store import build_index
    from rag.settings import load_settings
    s = load_settings(index_dir=sys.argv[1], cache_dir=sys.argv[2], chunk_size=120, chunk_overlap=30)
    def progress(stage, done, total):
        if stage == sys.argv[4]:
            os.kill(os.getpid(), signal.SIGKILL)
    build_index([sys.argv[3]], s, progress=progress)
    """
)


@pytest.mark.parametrize("stage", ["embedding", "indexing BM25"])
def test_killed_update_leaves_previous_index(tmp_path, corpus, fixture_settings, stage):
    s = _settings(tmp_path, fixture_settings.embedding_cache_dir)
    build_index([corpus], s)
    before = [c.chunk_id for c in load_index(s).chunks]
    (corpus / "cables.md").write_text(NEW_DOC.replace("四十二", "四十三"), encoding="utf-8")
    (corpus / "zh_paper.txt").unlink()
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(s.index_dir), str(s.embedding_cache_dir), str(corpus), stage],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr
    idx = load_index(s)
    assert [c.chunk_id for c in idx.chunks] == before and "zh_paper.txt" in idx.docs
    report = build_index([corpus], s)  # the next update completes
    assert report.added == ["cables.md"] and report.removed == ["zh_paper.txt"]
    assert not list(s.index_dir.glob(".index.tmp-*")) and not list(s.index_dir.glob(".default.tmp-*"))
