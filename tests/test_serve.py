"""`rag serve`, started from the command line on 127.0.0.1 and driven by the `openai` Python client over a
real socket: the index as a model, plain and streamed completions (the same message, the `rag ask --json`
record in the `rag` field), follow-up turns rewritten, refusals as in the CLI, concurrent streams, a wrong
key (401) and malformed requests (400 in OpenAI's error format, never a 500)."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from conftest import rag_cli
from helpers import free_port, start, stop

from rag.refs.render import CLOSEST_HEAD, SOURCES_HEAD, md_answer, md_answer_text
from rag.servers.openai_api import Message, split_chat

KEY = "test-key-3f9c"
EN_Q = "When was the International Cable Protection Committee founded?"
ZH_Q = "墨子号卫星是什么时候发射的？"
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def server(fixture_settings, tmp_path_factory):
    """`rag serve` on the fixture index, the key given through RAG_API_KEY."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    index = str(fixture_settings.index_path)
    proc = start(
        ["serve", "--index", index, "--port", str(port)],
        url + "/v1/models",
        tmp_path_factory.mktemp("serve"),
        {"RAG_API_KEY": KEY},
    )
    yield url, proc
    stop(proc)


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server[0] + "/v1", api_key=KEY, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def model(fixture_settings):
    return f"rag:{fixture_settings.index_path.name}"


def _without_timings(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "timings_ms"}


def _expected(assistant, question: str) -> tuple[dict, str]:
    """The record and chat message the server must return for a stand-alone question."""
    answer = assistant.ask(question)
    authors = {d.doc_id: d.authors for d in assistant.retriever.index.docs.values()}
    return answer.to_dict(), md_answer(answer, authors)


# --- without a server ----------------------------------------------------------------------------


def test_split_chat_pairs_earlier_turns_and_takes_the_last_user_message():
    msgs = [
        Message(role="system", content="be brief"),
        Message(role="user", content="q1"),
        Message(role="assistant", content="a1"),
        Message(role="user", content=[{"type": "text", "text": "q2"}, {"type": "image_url", "image_url": {}}]),
        Message(role="assistant", content="a2"),
        Message(role="user", content="q3"),
    ]
    assert split_chat(msgs) == ("q3", [("q1", "a1"), ("q2", "a2")])


def test_a_message_cut_back_to_its_answer_text(assistant):
    ok = assistant.ask(EN_Q)
    refused = assistant.ask("What is the boiling point of liquid nitrogen on Mars?")
    assert not ok.abstained and refused.abstained
    assert md_answer_text(md_answer(ok)) == (ok.answer, False)
    assert md_answer_text(md_answer(refused)) == (refused.answer, True)
    assert md_answer_text("typed by hand") == ("typed by hand", False)


# --- the server ----------------------------------------------------------------------------------


@slow
def test_models_lists_the_index(client, model):
    assert [m.id for m in client.models.list()] == [model]
    assert client.models.retrieve(model).owned_by == "rag"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


@slow
def test_plain_completion_is_the_cited_answer_with_its_record(client, model, assistant):
    record, message = _expected(assistant, EN_Q)
    done = client.chat.completions.create(model=model, messages=[{"role": "user", "content": EN_Q}])
    assert done.object == "chat.completion" and done.model == model and done.id.startswith("chatcmpl-")
    choice = done.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert choice.message.content == message
    assert "1958" in message and "[1]" in message and f"\n\n{SOURCES_HEAD}\n\n- [1] *" in message
    assert "\n- R1. Submarine Cables and Internet Resilience. `en_notes.md`" in message
    assert list(done.rag) == list(record)  # the `rag ask --json` record, in the namespaced field
    assert _without_timings(done.rag) == _without_timings(record)


@slow
def test_streamed_completion_sends_the_same_message_in_chunks(client, model, assistant):
    record, message = _expected(assistant, ZH_Q)
    chunks = list(
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": ZH_Q}], stream=True)
    )
    assert {c.object for c in chunks} == {"chat.completion.chunk"} and len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks] == [None] * (len(chunks) - 1) + ["stop"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == message and "2016" in text
    assert _without_timings(chunks[-1].rag) == _without_timings(record)
    assert all(getattr(c, "rag", None) is None for c in chunks[:-1])


@slow
@pytest.mark.parametrize(
    "first, follow_up, searched",
    [
        (
            "What does the International Cable Protection Committee do?",
            "When was it founded?",
            "When was the International Cable Protection Committee founded?",
        ),
        (
            "新加坡个人数据保护委员会负责执行哪部法律？",
            "它是哪一年成立的？",
            "新加坡个人数据保护委员会是哪一年成立的？",
        ),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_follow_up_turn_is_rewritten_from_the_conversation(
    client, model, assistant, first, follow_up, searched, stream
):
    reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": first}])
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": first},
        {"role": "assistant", "content": reply.choices[0].message.content},
        {"role": "user", "content": follow_up},
    ]
    if stream:
        chunks = list(client.chat.completions.create(model=model, messages=messages, stream=True))
        record, text = chunks[-1].rag, "".join(c.choices[0].delta.content or "" for c in chunks)
    else:
        done = client.chat.completions.create(model=model, messages=messages)
        record, text = done.rag, done.choices[0].message.content
    expected, message = _expected(assistant, searched)
    assert record["question"] == searched
    assert _without_timings(record) == _without_timings(expected) and text == message
    alone = client.chat.completions.create(model=model, messages=[{"role": "user", "content": follow_up}])
    assert alone.rag["question"] == follow_up  # no conversation, nothing rewritten


@slow
def test_refusal_is_the_clis_with_the_closest_passages(client, model, assistant):
    q = "What is the boiling point of liquid nitrogen on Mars?"
    record, message = _expected(assistant, q)
    done = client.chat.completions.create(model=model, messages=[{"role": "user", "content": q}])
    assert record["abstained"] and done.rag["abstained"]
    assert done.choices[0].message.content == message
    assert message.startswith(record["answer"] + f"\n\n*{CLOSEST_HEAD}*\n\n- ")


@slow
def test_concurrent_streams_all_answer(client, model, assistant):
    questions = [EN_Q, ZH_Q, "What caused most cable faults?", "京沪干线有多长？"] * 2
    expected = {q: _expected(assistant, q)[1] for q in set(questions)}

    def one(q: str) -> str:
        stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": q}], stream=True)
        return "".join(c.choices[0].delta.content or "" for c in stream)

    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        assert list(pool.map(one, questions)) == [expected[q] for q in questions]


@slow
def test_wrong_or_missing_key_is_401(server, model):
    wrong = openai.OpenAI(base_url=server[0] + "/v1", api_key="not-the-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        wrong.chat.completions.create(model=model, messages=[{"role": "user", "content": EN_Q}])
    assert err.value.status_code == 401 and err.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    bare = httpx.post(server[0] + "/v1/chat/completions", json={"model": model, "messages": []})
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "invalid_api_key"


BAD = [
    (b"{not json", "the body is not JSON"),
    (b"[1, 2]", "the body must be a JSON object"),
    (json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode(), "invalid request: model: Field required"),
    (json.dumps({"model": "M", "messages": "hi"}).encode(), "invalid request: messages: Input should be a valid list"),
    (json.dumps({"model": "M", "messages": [{"content": "hi"}]}).encode(), "invalid request: messages.0.role: Field"),
    (json.dumps({"model": "M", "messages": []}).encode(), "the last message must be the user's question"),
    (
        json.dumps(
            {"model": "M", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}]}
        ),
        "the last message must be the user's question",
    ),
    (
        json.dumps({"model": "M", "messages": [{"role": "user", "content": "？？？"}]}),
        "the question has no words in it",
    ),
    (json.dumps({"model": "M", "messages": [{"role": "user", "content": " \u200b "}]}), "the question is empty"),
    (json.dumps({"model": "M", "messages": [{"role": "user", "content": "x" * 2500}]}), "keep it under 2000"),
    (json.dumps({"model": "M", "k": 0, "messages": [{"role": "user", "content": EN_Q}]}), "k (passages to retrieve)"),
    (json.dumps({"model": "M", "k": "five", "messages": [{"role": "user", "content": EN_Q}]}), "k (passages to"),
    (
        json.dumps({"model": "M", "docs": ["../etc"], "messages": [{"role": "user", "content": EN_Q}]}),
        "none of the selected documents is in the index",
    ),
]


@slow
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("body, message", BAD)
def test_malformed_requests_are_400_in_openai_format(server, model, body, message, stream):
    raw = body if isinstance(body, bytes) else body.encode()
    if stream and raw.startswith(b'{"model"'):
        raw = json.dumps({**json.loads(raw), "stream": True}).encode()
    raw = raw.replace(b'"M"', json.dumps(model).encode())
    r = httpx.post(
        server[0] + "/v1/chat/completions",
        content=raw,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        timeout=120,
    )
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert message in error["message"]


@slow
def test_openai_client_gets_typed_errors(client, model):
    with pytest.raises(openai.BadRequestError, match="the question has no words in it"):
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "..."}], stream=True)
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": EN_Q}])
    r = httpx.get(str(client.base_url) + "nowhere", headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


@slow
def test_serve_listens_on_loopback_only(server):
    port = int(server[0].rsplit(":", 1)[1])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outward interface
            outward = s.getsockname()[0]
        except OSError:
            outward = ""
    if not outward or outward.startswith("127."):
        pytest.skip("this machine has no address besides loopback")
    with pytest.raises(OSError), socket.create_connection((outward, port), timeout=3):
        pass


ODD = [
    '{"model": "M", "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}',
    '{"model": "M", "messages": [{"role": "user", "content": null}]}',
    '{"model": "M", "messages": [{"role": "user", "content": [1, 2]}]}',
    '{"model": 5, "messages": [{"role": "user", "content": "hi"}]}',
    '{"model": "M", "stream": "maybe", "messages": [{"role": "user", "content": "hi"}]}',
    '{"model": "M", "docs": "en_notes.md", "messages": [{"role": "user", "content": "hi"}]}',
    '{"model": "M", "k": 1e308, "messages": [{"role": "user", "content": "hi"}]}',
    '{"model": "M", "k": NaN, "messages": [{"role": "user", "content": "hi"}]}',
    '{"model": "M", "messages": [{"role": "user", "content": "\\ud800 When was it founded? \\u0007"}]}',
    '{"model": "M", "messages": [{"role": "tool", "content": "x"}, {"role": "user", "content": "hi there"}]}',
    "",
    "null",
]


@slow
@pytest.mark.parametrize("body", ODD)
def test_odd_bodies_never_get_a_500(server, model, body):
    r = httpx.post(
        server[0] + "/v1/chat/completions",
        content=body.replace('"M"', json.dumps(model)).encode("utf-8", "surrogatepass"),
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=120,
    )
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert r.json()["error"]["type"] == "invalid_request_error" and r.json()["error"]["message"]
    else:
        assert r.json()["object"] == "chat.completion" and r.json()["rag"]["answer"]


@slow
def test_commands_fail_in_one_line(fixture_settings, tmp_path):
    missing = rag_cli("serve", "--index", str(tmp_path / "nothing"), "--port", str(free_port()), cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.startswith("error: ") and "Traceback" not in missing.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for cmd in ("serve", "mcp"):
            proc = rag_cli(cmd, "--index", str(fixture_settings.index_path), "--port", str(port), cwd=tmp_path)
            assert proc.returncode == 1, proc.stderr
            assert proc.stderr.strip().splitlines() == [
                f"error: port {port} on 127.0.0.1 is in use; pick another with --port"
            ]


def test_serve_beyond_loopback_needs_a_key_or_insecure(tmp_path):
    """Refused before the port or the index is touched; a key or --insecure lets it go on (to the missing index)."""
    from pydantic import SecretStr

    from rag.errors import IndexNotFoundError, InvalidInputError
    from rag.servers.openai_api import run_server
    from rag.settings import load_settings

    s = load_settings(index_dir=tmp_path / "nothing")
    for host in ("0.0.0.0", "::", "192.0.2.1"):
        with pytest.raises(InvalidInputError) as refused:
            run_server(s, host=host, port=free_port())
        assert str(refused.value) == (
            f"`rag serve --host {host}` would serve every machine that can reach it without a key; give one with "
            "--api-key KEY or RAG_API_KEY (clients send 'Authorization: Bearer KEY'), or serve on 127.0.0.1, "
            "or pass --insecure to serve it open"
        )
    with pytest.raises(IndexNotFoundError):  # past the check: the missing index is what fails now
        run_server(s, host="0.0.0.0", port=free_port(), insecure=True)
    with pytest.raises(IndexNotFoundError):
        run_server(s.model_copy(update={"api_key": SecretStr(KEY)}), host="0.0.0.0", port=free_port())
    with pytest.raises(IndexNotFoundError):  # loopback needs neither
        run_server(s, host="127.0.0.1", port=free_port())


def test_cli_serve_on_every_interface_without_a_key_is_one_line(tmp_path):
    port = str(free_port())
    proc = rag_cli("serve", "--index", str(tmp_path / "nothing"), "--host", "0.0.0.0", "--port", port, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: `rag serve --host 0.0.0.0` would serve every machine that can reach it without a key; give one "
        "with --api-key KEY or RAG_API_KEY (clients send 'Authorization: Bearer KEY'), or serve on 127.0.0.1, "
        "or pass --insecure to serve it open"
    ]
    opened = rag_cli(
        "serve", "--index", str(tmp_path / "nothing"), "--host", "0.0.0.0", "--port", port, "--insecure", cwd=tmp_path
    )
    assert opened.returncode == 1 and opened.stderr.startswith("error: no index at "), opened.stderr
    keyed = rag_cli(
        "serve", "--index", str(tmp_path / "nothing"), "--host", "0.0.0.0", "--port", port, cwd=tmp_path,
        env={"RAG_API_KEY": KEY},
    )  # fmt: skip
    assert keyed.returncode == 1 and keyed.stderr.startswith("error: no index at "), keyed.stderr


@slow
def test_clients_that_hang_up_mid_stream_free_their_slots(server, client, model, assistant):
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": EN_Q}]}
    headers = {"Authorization": f"Bearer {KEY}"}
    for _ in range(10):  # more than the server answers at once (4)
        with httpx.stream("POST", server[0] + "/v1/chat/completions", json=body, headers=headers, timeout=120) as r:
            assert r.status_code == 200
            assert next(r.iter_lines()).startswith("data: {")  # then hang up
    done = client.with_options(timeout=60).chat.completions.create(
        model=model, messages=[{"role": "user", "content": EN_Q}]
    )
    assert done.choices[0].message.content == _expected(assistant, EN_Q)[1]


@slow
def test_with_a_key_any_origin_or_content_type_that_presents_it_is_answered(server, model):
    # the Host/Origin and JSON-only guards are for a server without a key (tests/test_attack_servers.py):
    # with one, a desktop client whose pages have their own origin works, and a page without the key gets 401
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": EN_Q}]})
    for headers in ({"Origin": "file://"}, {"Origin": "app://cherry", "Content-Type": "text/plain"}):
        r = httpx.post(
            server[0] + "/v1/chat/completions",
            content=body,
            headers={"Authorization": f"Bearer {KEY}", **headers},
            timeout=120,
        )
        assert r.status_code == 200, r.text
    r = httpx.post(server[0] + "/v1/chat/completions", content=body, headers={"Origin": "http://attacker.example"})
    assert r.status_code == 401
