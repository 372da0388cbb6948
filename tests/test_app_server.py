"""The real Gradio server, driven through gradio_client and HTTP: the API record equals `rag ask --json`,
20 concurrent requests all succeed, sessions keep their own conversations, uploads work through the
API, no file outside the app's own is served, and `rag app` starts from the command line."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import rag_cli, served_app
from gradio_client import Client, handle_file
from helpers import free_port

from app.export import answer_with_references, conversation_markdown
from app.render import assistant_markdown, shown_question, sources_html
from app.service import Exchange
from rag.answer.pipeline import clean_question
from rag.index.store import build_index
from rag.settings import load_settings

QUESTIONS = [
    "墨子号卫星是什么时候发射的？",
    "What share of intercontinental traffic uses submarine cables?",
    "新加坡个人数据保护委员会成立于哪一年？",
    "When was the International Cable Protection Committee founded?",
    "京沪干线有多长？",
    "东盟数字数据治理框架确立了哪些战略重点？",
    "What caused most cable faults?",
    "中国—东盟信息港在哪里投入运营？",
    "国际电信联盟于哪一年成立了量子信息技术焦点组？",
    "How long did repairs take after the 2008 Mediterranean cable cuts?",
]


@pytest.fixture(scope="module")
def server(fixture_settings):
    with served_app(fixture_settings) as (demo, url):
        yield demo, url


@pytest.fixture(scope="module")
def client(server):
    return Client(server[1], verbose=False)


def _text(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def _last_reply(chat: list[dict]) -> str:
    return _text(chat[-1])


def test_api_record_is_the_rag_ask_json_record(client, fixture_settings, tmp_path):
    q = "What share of intercontinental traffic uses submarine cables?"
    record = client.predict(q, 3, ["en_notes.md"], api_name="/ask")
    proc = rag_cli(
        "ask", q, "-k", "3", "--doc", "en_notes.md", "--json", "--index", str(fixture_settings.index_path), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    cli = json.loads(proc.stdout)
    assert list(record) == list(cli)
    assert list(record["timings_ms"]) == list(cli["timings_ms"])
    assert {k: v for k, v in record.items() if k != "timings_ms"} == {k: v for k, v in cli.items() if k != "timings_ms"}
    assert "95 percent" in record["answer"] and len(record["retrieved"]) == 3


def test_api_errors_are_clear_messages(client):
    for question, message in [
        ("   ", "the question is empty; type a question"),
        ("x" * 2500, "the question is 2500 characters long; keep it under 2000"),
    ]:
        with pytest.raises(Exception) as err:
            client.predict(question, api_name="/ask")
        assert str(err.value) == message
    with pytest.raises(Exception, match="none of the selected documents is in the index"):
        client.predict("x", 0, ["../../etc/passwd"], api_name="/ask")


def test_twenty_concurrent_requests_all_succeed(server, assistant):
    url = server[1]
    asked = [QUESTIONS[i % len(QUESTIONS)] for i in range(20)]
    expected = {q: assistant.ask(q).answer for q in QUESTIONS}

    def one(q: str) -> dict:
        return Client(url, verbose=False).predict(q, api_name="/ask")  # each request its own client/session

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, asked))
    elapsed = time.perf_counter() - t0
    assert [r["question"] for r in results] == asked
    assert [r["answer"] for r in results] == [expected[q] for q in asked]
    print(f"20 concurrent /ask requests: {elapsed:.2f} s")


def test_sessions_keep_their_own_conversations_and_export_them(server):
    service = server[0].rag_service
    q1, q2 = "新加坡个人数据保护委员会负责执行哪部法律？", "它是哪一年成立的？"
    # the same two turns in process: what the page must show for them
    *_, ex1 = service.chat(q1, [], 5)
    *_, ex2 = service.chat(q2, [ex1], 5)
    a, b = Client(server[1], verbose=False), Client(server[1], verbose=False)
    chat, sources, copy_text, download, box = a.predict(q1, 5, [], False, api_name="/chat")
    assert box == "" and '<mark class="quote">新加坡个人数据保护委员会成立于2012年' in sources
    assert copy_text == answer_with_references(ex1) and copy_text.split("\n")[2] == "Sources"
    chat, sources, copy_text, download, _ = a.predict(q2, 5, [], False, api_name="/chat")
    assert "searched for: 新加坡个人数据保护委员会是哪一年成立的？" in _last_reply(chat)
    assert [m["role"] for m in chat] == ["user", "assistant"] * 2
    other, *_ = b.predict(q2, 5, [], False, api_name="/chat")
    assert len(other) == 2 and "searched for" not in _last_reply(other)
    md = Path(download["value"] if isinstance(download, dict) else download).read_text(encoding="utf-8")
    idx = service.assistant.retriever.index
    expected = conversation_markdown([ex1, ex2], idx.path.name, idx.docs)
    assert md.split("\n", 3)[3] == expected.split("\n", 3)[3]  # all but the line with the export time
    assert (
        "\n## References\n\n- R1. 李明, 王芳. 数字丝绸之路与东南亚数据治理合作. `zh_paper.txt` — cited in Q1[1]" in md
    )


@pytest.mark.parametrize(
    "question,outcome",
    [
        ("数" * 3000, '<span class="rag-error">⚠️ the question is 3000 characters long; keep it under 2000</span>'),
        ('<img src=x onerror="alert(1)">', "refused"),  # nothing in the corpus is about it
        (
            "\x00😀\u202e",
            '<span class="rag-error">⚠️ the question has no words in it (only punctuation, symbols or '
            "invisible characters); type a question</span>",
        ),
        ("\x00数据\u202e治理", "zh_paper.txt"),  # data governance: the paper on it is cited
    ],
)
def test_page_answers_any_question_without_a_traceback(server, question, outcome):
    client = Client(server[1], verbose=False)  # a new session: the question is the conversation's first
    chat, sources, *_ = client.predict(question, 5, [], True, api_name="/chat")
    text = _last_reply(chat)
    if outcome.startswith("<span"):
        assert text == outcome
        return
    q = clean_question(question)
    expected = server[0].rag_service.assistant.ask(q, 5)
    assert [c.doc for c in expected.citations] == ([] if outcome == "refused" else [outcome])
    assert expected.abstained == (outcome == "refused")
    assert [(m["role"], _text(m)) for m in chat] == [
        ("user", shown_question(q)),
        ("assistant", assistant_markdown(Exchange(q, None, expected), 0)),
    ]
    assert sources == sources_html([Exchange(q, None, expected)], show_scores=True)
    assert "<img" not in str(chat)


def test_empty_question_changes_nothing(client):
    out = client.predict("  ", 5, [], False, api_name="/chat")
    # every output skipped (the HTML panel's skip comes back wrapped in "props"): no value anywhere
    skip = {"__type__": "update"}
    assert out == (skip, {"props": skip, **skip}, skip, skip, skip)


def test_files_outside_the_app_are_never_served(server, fixture_settings, fixture_corpus):
    url = server[1]
    uploads = fixture_settings.uploads_path
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "secret.md").write_text("not for the web", encoding="utf-8")
    for path in [
        fixture_settings.index_path / "params.json",
        fixture_corpus / "en_notes.md",
        uploads / "secret.md",
        Path("/etc/passwd"),
        Path(sys.executable),
    ]:
        r = httpx.get(f"{url}gradio_api/file={path.resolve()}")
        assert r.status_code == 403, path
    # a traversal that reaches the file route (httpx would drop literal "../" segments before sending,
    # asking for /etc/passwd instead, which no route serves)
    r = httpx.get(f"{url}gradio_api/file=%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd")
    assert (r.status_code, r.json()) == (403, {"detail": "File not allowed: ../../../../etc/passwd."})
    (uploads / "secret.md").unlink()


@pytest.fixture(scope="module")
def upload_server(tmp_path_factory, fixture_corpus, fixture_settings):
    root = tmp_path_factory.mktemp("app-upload")
    shutil.copytree(fixture_corpus, root / "corpus")
    s = load_settings(
        index_dir=root / "index",
        cache_dir=fixture_settings.embedding_cache_dir,
        chunk_size=120,
        chunk_overlap=30,
        upload_max_mb=0.01,
    )
    build_index([root / "corpus"], s)
    with served_app(s) as (_, url):
        yield s, url


def test_upload_through_the_api_is_searchable_at_once(upload_server, tmp_path):
    settings, url = upload_server
    c = Client(url, verbose=False)
    good, bad = tmp_path / "lunar.md", tmp_path / "tool.exe"
    good.write_text(
        "# Lunar Data Governance\n\nThe Lunar Data Charter was signed in 2031 by eleven space agencies.\n",
        encoding="utf-8",
    )
    bad.write_bytes(b"MZ\x90\x00")
    status, table, *_ = c.predict([handle_file(str(good)), handle_file(str(bad))], api_name="/add_documents")
    assert status.startswith("**Added and searchable** (") and status.endswith(
        "`lunar.md`\n- skipped `tool.exe`: unsupported type '.exe' (use .txt, .md or .pdf)"
    )
    row = next(r for r in table["data"] if r[0] == "lunar.md")
    assert row[1:3] == ["Lunar Data Governance", ""] and row[5] >= 1 and row[7] == "text · uploaded"
    rec = c.predict("When was the Lunar Data Charter signed?", api_name="/ask")
    assert rec["citations"][0]["doc"] == "lunar.md" and "2031" in rec["answer"]
    # the server refuses uploads over the size limit before they reach the app
    r = httpx.post(f"{url}gradio_api/upload", files={"files": ("big.txt", b"x" * 20000)})
    assert r.status_code == 413
    assert sorted(p.name for p in settings.uploads_path.iterdir()) == ["lunar.md"]


def test_rag_app_command_serves_the_index(fixture_settings, tmp_path):
    port = free_port()
    exe = Path(sys.executable).parent / "rag"
    proc = subprocess.Popen(
        [str(exe), "app", "--index", str(fixture_settings.index_path), "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.5)
        rec = Client(url, verbose=False).predict("墨子号卫星是什么时候发射的？", api_name="/ask")
        assert "2016年8月" in rec["answer"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # one line of its own, not Gradio's "set `share=True` in `launch()`" a user of the command cannot follow
    said = proc.stdout.read().splitlines()
    assert said[0] == f"the app serves {fixture_settings.index_path} at {url} ; Ctrl+C to stop"
    assert not any("launch()" in line or "Running on" in line for line in said)
    bad = rag_cli("app", "--index", "nope", "--port", str(free_port()), cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr == "error: no index at index/nope; build it with: rag index PATH --index nope\n"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        bad = rag_cli("app", "--index", str(fixture_settings.index_path), "--port", str(taken), cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr == f"error: port {taken} on 127.0.0.1 is in use; pick another with --port\n"
