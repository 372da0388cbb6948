"""The servers under attack (issue 25): real `rag serve` and `rag mcp` subprocesses on 127.0.0.1 over the
fixture index, and the app in process, driven by raw sockets (tests/attack_probe.py) the way an attacker
sends: 48 streams open while a model holds every answer (GET /v1/models and /health must still answer, the
rest queue or are refused with Retry-After), 100 MB bodies with and without a Content-Length (413 at once,
the server's peak RSS measured), JSON 100,000 levels deep (400), foreign Host/Origin and non-JSON bodies
(403/415), 20,000- and 50,000-turn histories (413), and `rag mcp` beyond loopback without a key (refused).
Every loop is bounded in count and time."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from attack_probe import (
    JSON,
    MB,
    QUESTION,
    Server,
    SlowModel,
    chat_body,
    history,
    huge_json,
    nested,
    rag_env,
    rag_exe,
    raw_request,
    saturate,
    saturate_mcp,
    start_server,
)

from rag.errors import InvalidInputError
from rag.servers.guards import APP_MAX_BODY_MB, MAX_JSON_DEPTH, check_exposure, host_name, is_loopback, json_depth

PEAK_CEILING_MB = 1536  # the memory ceiling for any one attack
GROWTH_CEILING_MB = 64  # what an attack refused unread may add to the server's peak
KEY = "attack-key-7e1d"


# --- without a server ----------------------------------------------------------------------------


def test_loopback_names():
    assert all(
        is_loopback(h) for h in ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2", "LOCALHOST", "a.localhost"]
    )
    assert not any(is_loopback(h) for h in ["0.0.0.0", "::", "192.0.2.1", "rebind.example", "localhost.example", ""])
    assert [host_name(h) for h in ["127.0.0.1:8000", "[::1]:8000", "localhost", "[::1]", "evil.example:80"]] == [
        "127.0.0.1",
        "::1",
        "localhost",
        "::1",
        "evil.example",
    ]


def test_json_depth_counts_brackets_outside_strings():
    assert json_depth(b'{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_depth(b'"\\"[[["') == 0 and json_depth(b"7") == 0
    assert json_depth(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) == MAX_JSON_DEPTH
    assert json_depth(b"[" * 100_000) == MAX_JSON_DEPTH + 1  # stops counting past the limit


def test_mcp_beyond_loopback_needs_a_key():
    for host in ("0.0.0.0", "::", "192.0.2.1"):
        with pytest.raises(InvalidInputError, match=r"--api-key KEY or RAG_API_KEY"):
            check_exposure(host, 8001, None)
        check_exposure(host, 8001, KEY)
        check_exposure(host, None, None)  # stdio listens nowhere
    for host in ("127.0.0.1", "localhost", "::1"):
        check_exposure(host, 8001, None)


# --- `rag serve` -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(fixture_settings, tmp_path_factory) -> Iterator[tuple[Server, str]]:
    """`rag serve` with no key on the fixture index, and its model name."""
    s = start_server(
        ["serve", "--index", str(fixture_settings.index_path)], "/v1/models", tmp_path_factory.mktemp("serve")
    )
    yield s, f"rag:{fixture_settings.index_path.name}"
    s.stop()


def _error(r) -> tuple[int | str, str | None, str]:
    return r.status, r.json()["error"]["code"], r.json()["error"]["message"]


def test_bug2_a_100_mb_body_is_refused_unread(served):
    s, model = served
    before = s.peak_mb
    for many, chunked in [(True, False), (False, False), (True, True)]:
        length, pieces = huge_json(100 * MB, model, many)
        r = raw_request(s.url, "POST", "/v1/chat/completions", JSON, pieces, None if chunked else length, chunked, 30)
        assert _error(r)[:2] == (413, "request_too_large"), (many, chunked, r)
        assert "larger than 1,048,576 bytes" in _error(r)[2] and "RAG_SERVE_MAX_BODY_MB" in _error(r)[2]
        assert r.seconds < 3.0, r.seconds  # main: 22.8 s to read and parse 3.3M messages
    assert s.peak_mb - before < GROWTH_CEILING_MB and s.peak_mb < PEAK_CEILING_MB, (before, s.peak_mb)  # main: 2.9 GB
    ok = raw_request(s.url, "POST", "/v1/chat/completions", JSON, chat_body(model), timeout=60)
    assert ok.status == 200 and ok.json()["rag"]["question"] == QUESTION


def test_bodies_up_to_the_limit_pass_the_guard(served):
    s, model = served
    at_limit = huge_json(MB, model)[1]
    r = raw_request(s.url, "POST", "/v1/chat/completions", JSON, at_limit, MB, timeout=30)
    assert _error(r)[:2] == (413, "too_many_characters")  # read and parsed: the conversation's own cap
    over = huge_json(MB + 1, model)[1]
    r = raw_request(s.url, "POST", "/v1/chat/completions", JSON, over, chunked=True, timeout=30)
    assert _error(r)[:2] == (413, "request_too_large")


def test_bug3_deep_json_is_a_400(served):
    s, model = served
    m = json.dumps(model).encode()
    for body in [
        nested(100_000).replace(b'"m"', m),
        b'{"model": ' + m + b', "messages": [], "extra": ' + b"{" * 10_000 + b"}" * 10_000 + b"}",
        b'{"model": ' + m + b', "messages": ' + b"[" * (MAX_JSON_DEPTH) + b"]" * MAX_JSON_DEPTH + b"}",
    ]:
        r = raw_request(s.url, "POST", "/v1/chat/completions", JSON, body, timeout=30)
        assert _error(r)[:2] == (400, "too_deep"), r
        assert f"nests deeper than {MAX_JSON_DEPTH} levels" in _error(r)[2]
    shallow = b'{"model": ' + m + b', "messages": ' + b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1) + b"}"
    r = raw_request(s.url, "POST", "/v1/chat/completions", JSON, shallow, timeout=30)
    assert r.status == 400 and r.json()["error"]["message"].startswith("invalid request: messages.0")


def test_without_a_key_only_json_bodies_are_taken(served):
    s, model = served
    for kind in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]:
        r = raw_request(s.url, "POST", "/v1/chat/completions", {"Content-Type": kind} if kind else {}, chat_body(model))
        assert _error(r) == (
            415,
            "unsupported_media_type",
            "send the body as JSON with 'Content-Type: application/json'",
        )
    for kind in ["application/json", "application/json; charset=utf-8", "Application/JSON"]:
        r = raw_request(s.url, "POST", "/v1/chat/completions", {"Content-Type": kind}, chat_body(model), timeout=60)
        assert r.status == 200, r


def test_foreign_host_or_origin_is_refused_on_loopback(served):
    s, model = served
    port = s.port
    for host in ["rebind.example", f"rebind.example:{port}", "192.0.2.1", "localhost.example"]:
        for method, path, body in [
            ("GET", "/v1/models", b""),
            ("GET", "/health", b""),
            ("POST", "/v1/chat/completions", chat_body(model)),
        ]:
            r = raw_request(s.url, method, path, {**JSON, "Host": host}, body)
            assert _error(r)[:2] == (403, "forbidden_host"), (host, path, r)
    for host in [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "localhost"]:
        assert raw_request(s.url, "GET", "/v1/models", {"Host": host}).status == 200
    for origin in ["http://attacker.example", "null", "http://127.0.0.1.attacker.example", "file://"]:
        r = raw_request(s.url, "POST", "/v1/chat/completions", {**JSON, "Origin": origin}, chat_body(model))
        assert _error(r)[:2] == (403, "forbidden_origin"), (origin, r)
    for origin in [f"http://127.0.0.1:{port}", "http://localhost:3000", "https://[::1]"]:
        r = raw_request(s.url, "POST", "/v1/chat/completions", {**JSON, "Origin": origin}, chat_body(model), timeout=60)
        assert r.status == 200, (origin, r)


def test_long_histories_are_refused_with_a_clear_message(served):
    s, model = served
    r = raw_request(s.url, "POST", "/v1/chat/completions", JSON, chat_body(model, history(50_000)), timeout=30)
    assert _error(r)[:2] == (413, "request_too_large")  # 1.6 MB
    r = raw_request(s.url, "POST", "/v1/chat/completions", JSON, chat_body(model, history(20_000)), timeout=30)
    assert _error(r) == (
        413,
        "too_many_messages",
        "the conversation has 20,001 messages; this server takes at most 500 (RAG_SERVE_MAX_MESSAGES): "
        "send the recent turns only",
    )
    assert r.seconds < 5.0
    long = [{"role": "system", "content": "x" * 199_990}, {"role": "user", "content": QUESTION}]
    r = raw_request(s.url, "POST", "/v1/chat/completions", JSON, chat_body(model, long), timeout=30)
    assert _error(r)[:2] == (413, "too_many_characters")
    assert f"has {199_990 + len(QUESTION):,} characters" in _error(r)[2]
    r = raw_request(s.url, "POST", "/v1/chat/completions", JSON, chat_body(model, history(498)), timeout=60)
    assert r.status == 200 and r.json()["rag"]["question"] == QUESTION  # 499 messages: within the cap


@pytest.fixture
def slow_served(fixture_settings, tmp_path) -> Iterator[tuple[Callable[..., Server], SlowModel]]:
    """`rag serve` answering through a model that holds its answers until released."""
    model = SlowModel()
    env = {"RAG_LLM_TRANSLATE": "false", "RAG_LLM_REWRITE": "false"}
    args = ["serve", "--index", str(fixture_settings.index_path), "--llm", "openai:slow", "--llm-base-url", model.url]
    servers: list[Server] = []

    def make(extra_env: dict | None = None) -> Server:
        servers.append(start_server(args, "/v1/models", tmp_path, env=env | (extra_env or {})))
        return servers[-1]

    yield make, model
    model.close()
    for s in servers:
        s.stop()


def test_bug1_a_saturated_server_still_answers_models_and_health(slow_served, fixture_settings):
    make, model = slow_served
    s = make()
    name = fixture_settings.index_path.name
    # 48 streams while the model holds every answer: 4 answered, 16 wait, 28 refused at once
    # (main: all 48 taken into threads; GET /v1/models timed out at 5 s)
    p = saturate(s, model, name, streams=48, ceiling=5.0)
    assert p.status == 200 and p.seconds < 1.0, p
    assert p.detail["health"] == 200 and p.detail["health_seconds"] < 1.0
    assert json.loads(p.detail["health_body"])["answering"] == 4
    assert json.loads(p.detail["health_body"])["waiting"] == 16
    assert p.detail["streams"] == {"200": 20, "429": 28} and p.detail["unfinished"] == 0
    assert p.peak_mb < PEAK_CEILING_MB
    after = raw_request(s.url, "GET", "/health").json()
    assert (after["answering"], after["waiting"]) == (0, 0)  # every place given back


def test_a_full_queue_refuses_with_retry_after_and_history_does_not_jump_it(slow_served, fixture_settings):
    make, model = slow_served
    s = make({"RAG_SERVE_QUEUE": "2", "RAG_SERVE_QUEUE_TIMEOUT": "3"})
    name = f"rag:{fixture_settings.index_path.name}"
    model.hold()

    results: list = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                raw_request(s.url, "POST", "/v1/chat/completions", JSON, chat_body(name, stream=True), timeout=60)
            ),
            daemon=True,
        )
        for _ in range(6)
    ]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while model.held_calls < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the other two are queued by now (and wait 3 s)
        # a long history while every place is taken: refused at once, not rewritten beside the running answers
        r = raw_request(s.url, "POST", "/v1/chat/completions", JSON, chat_body(name, history(400)), timeout=10)
        assert r.status == 429 and r.headers["retry-after"] == "5" and r.seconds < 1.0, r
        assert r.json()["error"]["code"] == "rate_limit_exceeded" and "RAG_SERVE_QUEUE" in r.json()["error"]["message"]
        deadline = time.monotonic() + 10
        while len(results) < 2 and time.monotonic() < deadline:  # the two queued time out after 3 s
            time.sleep(0.05)
        refused = list(results)
        assert [x.status for x in refused] == [503, 503], refused
        assert all(x.headers["retry-after"] == "5" and x.json()["error"]["code"] == "server_busy" for x in refused)
        assert all(2.5 < x.seconds < 6.0 for x in refused)
    finally:
        model.release()
        for t in threads:
            t.join(timeout=60)
    assert sorted(x.status for x in results) == [200, 200, 200, 200, 503, 503]


# --- `rag mcp` ---------------------------------------------------------------------------------------


def test_mcp_refuses_a_non_loopback_bind_without_a_key(fixture_settings, tmp_path):
    args = [rag_exe(), "mcp", "--index", str(fixture_settings.index_path), "--host", "192.0.2.1", "--port", "8001"]
    proc = subprocess.run(args, cwd=tmp_path, env=rag_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: `rag mcp --host 192.0.2.1` would serve every machine that can reach it without a key; give one "
        "with --api-key KEY or RAG_API_KEY (clients send 'Authorization: Bearer KEY'), or serve on 127.0.0.1"
    ]


def test_mcp_over_http_takes_its_key_and_the_same_guards(fixture_settings, tmp_path):
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    s = start_server(["mcp", "--index", str(fixture_settings.index_path), "--api-key", KEY], "/mcp", tmp_path)
    url = s.url + "/mcp"
    mcp_json = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    keyed = {**mcp_json, "Authorization": f"Bearer {KEY}"}
    ping = b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}'
    try:

        async def session() -> set[str]:
            http = create_mcp_http_client(headers={"Authorization": f"Bearer {KEY}"})
            async with http, Client(streamable_http_client(url, http_client=http)) as c:
                return {t.name for t in (await c.list_tools()).tools}

        assert asyncio.run(session()) == {"search", "ask", "list_documents", "get_passage", "references"}
        before = s.peak_mb
        r = raw_request(s.url, "POST", "/mcp", mcp_json, ping)
        assert _error(r)[:2] == (401, "invalid_api_key")
        r = raw_request(s.url, "POST", "/mcp", {**keyed, "Host": "rebind.example:80"}, ping)
        assert _error(r)[:2] == (403, "forbidden_host")
        r = raw_request(s.url, "POST", "/mcp", {**keyed, "Origin": "http://attacker.example"}, ping)
        assert _error(r)[:2] == (403, "forbidden_origin")
        deep = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        r = raw_request(s.url, "POST", "/mcp", keyed, deep)
        assert _error(r)[:2] == (400, "too_deep")
        for chunked in (False, True):
            length, pieces = huge_json(100 * MB, many=True)
            r = raw_request(s.url, "POST", "/mcp", keyed, pieces, None if chunked else length, chunked, 30)
            assert _error(r)[:2] == (413, "request_too_large") and r.seconds < 3.0, r
        assert s.peak_mb - before < GROWTH_CEILING_MB and s.peak_mb < PEAK_CEILING_MB
    finally:
        err = s.stop()
    assert "(API key required)" in err


# --- the app --------------------------------------------------------------------------------------------


def test_app_routes_have_the_same_guards(fixture_settings):
    from helpers import free_port

    from app.ui import launch_app

    demo, url = launch_app(fixture_settings, port=free_port(), block=False)
    base = url.rstrip("/")
    try:
        assert raw_request(base, "GET", "/").status == 200
        r = raw_request(base, "GET", "/", {"Host": "rebind.example:80"})
        assert _error(r)[:2] == (403, "forbidden_host")
        r = raw_request(base, "POST", "/gradio_api/queue/join", {**JSON, "Origin": "http://attacker.example"}, b"{}")
        assert _error(r)[:2] == (403, "forbidden_origin")
        deep = b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        r = raw_request(base, "POST", "/gradio_api/queue/join", JSON, deep)
        assert _error(r)[:2] == (400, "too_deep")
        length, pieces = huge_json(100 * MB, many=True)
        r = raw_request(base, "POST", "/gradio_api/queue/join", JSON, pieces, length, timeout=30)
        assert _error(r)[:2] == (413, "request_too_large") and r.seconds < 3.0
        assert f"larger than {APP_MAX_BODY_MB * MB:,} bytes" in _error(r)[2]
    finally:
        demo.close()


def test_a_saturated_mcp_server_still_lists_documents(fixture_settings, tmp_path):
    model = SlowModel()
    args = ["mcp", "--index", str(fixture_settings.index_path), "--llm", "openai:slow", "--llm-base-url", model.url]
    env = {"RAG_LLM_TRANSLATE": "false", "RAG_LLM_REWRITE": "false"}
    s = start_server(args, "/mcp", tmp_path, env=env)
    try:
        # 48 `ask` calls while the model holds every answer (main: 40 threads taken, list_documents waited)
        p = saturate_mcp(s, model, calls=48, ceiling=5.0)
    finally:
        model.close()
        s.stop()
    assert p.status == "ok" and p.seconds < 1.0, p
    assert p.detail["asks"] == {"answered": 20, "tool error": 28}, p
    assert p.detail["errors"] == [
        "Error executing tool ask: the server is answering 4 questions and 16 are waiting; try again in 5 s "
        "(RAG_SERVE_CONCURRENCY, RAG_SERVE_QUEUE)"
    ]
    assert p.peak_mb < PEAK_CEILING_MB
