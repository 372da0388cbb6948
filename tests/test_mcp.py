"""`rag mcp`, started as a subprocess by the MCP SDK's own client: every tool called over stdio (results
equal to the library's, bad arguments as tool errors that say what to pass, concurrent calls answered),
and one session over streamable HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from helpers import free_port, start, stop

from rag.records import Chunk

RAG = str(Path(sys.executable).parent / "rag")
EN_Q = "When was the International Cable Protection Committee founded?"
ZH_Q = "新加坡个人数据保护委员会成立于哪一年？"
REFUSED = "What is the boiling point of liquid nitrogen on Mars?"
pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}


def _passage(c: Chunk) -> dict:
    return {
        "chunk_id": c.chunk_id,
        "doc": c.doc_id,
        "title": c.title,
        "section": c.section,
        "kind": c.kind,
        "text": c.text,
    }


def _without_timings(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "timings_ms"}


@pytest.fixture(scope="module")
def middle(assistant) -> int:
    """Position of a passage with neighbours on both sides in its document."""
    index = assistant.retriever.index
    span = index.doc_range("zh_paper.txt")
    assert len(span) >= 3
    return span.start + 1


@pytest.fixture(scope="module")
def calls(fixture_settings, assistant, middle, tmp_path_factory) -> dict:
    """One stdio session with `rag mcp` calling every tool, the results kept for the tests below."""
    # the MCP client library is imported here, not at the top: collecting this module is part of the fast tier
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    index = assistant.retriever.index
    params = StdioServerParameters(
        command=RAG,
        args=["mcp", "--index", str(fixture_settings.index_path)],
        env=_env(),
        cwd=str(tmp_path_factory.mktemp("mcp")),
    )

    async def session() -> dict:
        out: dict = {}
        async with Client(params) as c:
            out["instructions"] = c.instructions
            out["tools"] = {t.name: t for t in (await c.list_tools()).tools}
            out["list_documents"] = await c.call_tool("list_documents", {})
            out["search"] = await c.call_tool("search", {"query": EN_Q, "k": 3})
            out["search_docs"] = await c.call_tool("search", {"query": EN_Q, "k": 2, "docs": ["zh_paper.txt"]})
            out["ask"] = await c.call_tool("ask", {"question": ZH_Q, "k": 3})
            out["refused"] = await c.call_tool("ask", {"question": REFUSED})
            out["get_passage"] = await c.call_tool("get_passage", {"chunk_id": index.chunks[middle].chunk_id})
            out["get_passage_2"] = await c.call_tool(
                "get_passage", {"chunk_id": index.chunks[middle].chunk_id, "neighbours": 2}
            )
            out["references"] = await c.call_tool("references", {"doc": "zh_paper.txt"})
            out["references_graph"] = await c.call_tool("references", {})
            out["errors"] = [
                await c.call_tool(name, args)
                for name, args in [
                    ("ask", {"question": "？？？"}),
                    ("ask", {"question": EN_Q, "k": 0}),
                    ("ask", {"question": "x" * 2500}),
                    ("search", {"query": " \u200b "}),
                    ("search", {"query": EN_Q, "docs": ["../etc/passwd"]}),
                    ("get_passage", {"chunk_id": "no-such-doc#7"}),
                    ("get_passage", {"chunk_id": index.chunks[middle].chunk_id, "neighbours": 99}),
                    ("ask", {"question": EN_Q, "k": "five"}),
                    ("references", {"doc": "no-such-doc.txt"}),
                ]
            ]
            questions = [EN_Q, ZH_Q, REFUSED, "京沪干线有多长？"] * 2
            results = await asyncio.gather(*(c.call_tool("ask", {"question": q}) for q in questions))
            out["concurrent"] = list(zip(questions, results))
        return out

    return asyncio.run(session())


def test_every_tool_is_listed_with_a_description_of_what_it_returns(calls):
    tools = calls["tools"]
    assert set(tools) == {"search", "ask", "list_documents", "get_passage", "references"}
    assert "Returns {query, passages: [{rank, chunk_id" in tools["search"].description
    assert "abstained" in tools["ask"].description and "quote" in tools["ask"].description
    assert "Returns {documents:" in tools["list_documents"].description
    assert "before: [...], after: [...]" in tools["get_passage"].description
    assert set(tools["search"].input_schema["properties"]) == {"query", "k", "docs"}
    assert tools["search"].input_schema["required"] == ["query"]
    assert set(tools["ask"].input_schema["properties"]) == {"question", "k"}
    assert tools["get_passage"].input_schema["required"] == ["chunk_id"]
    assert "cited answer" in calls["instructions"]


def test_list_documents(calls, assistant):
    result = calls["list_documents"]
    assert not result.is_error
    assert result.structured_content == {
        "documents": [
            {
                "doc": d.doc_id,
                "title": d.title,
                "authors": list(d.authors),
                "passages": d.n_chunks,
                "footnotes": d.n_footnotes,
            }
            for d in assistant.retriever.index.docs.values()
        ]
    }
    assert [d["doc"] for d in result.structured_content["documents"]] == [
        "en_notes.md",
        "gbk_paper.txt",
        "zh_paper.txt",
    ]


def test_search_returns_the_retrievers_passages_with_scores(calls, assistant):
    r = assistant.retriever
    for key, docs in (("search", None), ("search_docs", ["zh_paper.txt"])):
        result = calls[key]
        assert not result.is_error
        hits = r.retrieve(r.encode(EN_Q), 3 if docs is None else 2, docs)
        got = result.structured_content
        assert got["query"] == EN_Q
        assert [p["chunk_id"] for p in got["passages"]] == [h.chunk.chunk_id for h in hits]
        assert [p["rank"] for p in got["passages"]] == [1, 2, 3][: len(hits)]
        assert [p["score"] for p in got["passages"]] == [round(h.score, 6) for h in hits]
        assert all(_passage(h.chunk).items() <= p.items() for p, h in zip(got["passages"], hits))
    assert calls["search"].structured_content["passages"][0]["chunk_id"].startswith("en_notes.md#")
    assert {p["doc"] for p in calls["search_docs"].structured_content["passages"]} == {"zh_paper.txt"}


def test_ask_returns_the_rag_ask_json_record(calls, assistant):
    record = calls["ask"].structured_content
    expected = assistant.ask(ZH_Q, 3).to_dict()
    assert list(record) == list(expected) and _without_timings(record) == _without_timings(expected)
    assert "2012" in record["answer"] and record["citations"][0]["doc"] == "zh_paper.txt"
    refused = calls["refused"].structured_content
    assert refused["abstained"] and refused["answer"] == assistant.ask(REFUSED).answer


def test_get_passage_returns_its_neighbours(calls, assistant, middle):
    index = assistant.retriever.index
    span = index.doc_range("zh_paper.txt")
    one = calls["get_passage"].structured_content
    assert one == {
        "passage": _passage(index.chunks[middle]),
        "before": [_passage(index.chunks[middle - 1])],
        "after": [_passage(index.chunks[middle + 1])],
    }
    two = calls["get_passage_2"].structured_content
    assert two["before"] == [_passage(index.chunks[middle - 1])]  # the first passage of its document
    assert two["after"] == [_passage(index.chunks[i]) for i in range(middle + 1, min(span.stop, middle + 3))]


def test_bad_arguments_are_tool_errors_that_say_what_to_pass(calls):
    texts = [(r.is_error, r.content[0].text) for r in calls["errors"]]
    expected = [
        "the question has no words in it",
        "k (passages to retrieve) must be a whole number from 1 to 100, got 0",
        "the question is 2500 characters long; keep it under 2000",
        "the question is empty; type a question",
        "none of the selected documents is in the index",
        "no passage 'no-such-doc#7' in the index; pass a chunk_id returned by search or ask",
        "neighbours must be a whole number from 0 to 5, got 99",
        "Input should be a valid integer",
        "no document 'no-such-doc.txt' in the index; `rag info` lists the documents",
    ]
    assert len(texts) == len(expected)
    for (is_error, text), part in zip(texts, expected):
        assert is_error and part in text, text


def test_concurrent_calls_are_all_answered(calls, assistant):
    for q, result in calls["concurrent"]:
        assert not result.is_error
        assert result.structured_content["answer"] == assistant.ask(q).answer


def test_streamable_http_when_given_a_port(fixture_settings, assistant, tmp_path):
    from mcp import Client

    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    proc = start(["mcp", "--index", str(fixture_settings.index_path), "--port", str(port)], url, tmp_path)

    async def session() -> tuple[set[str], dict]:
        async with Client(url) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            return names, (await c.call_tool("ask", {"question": EN_Q})).structured_content

    try:
        names, record = asyncio.run(session())
    finally:
        err = stop(proc)
    assert names == {"search", "ask", "list_documents", "get_passage", "references"}
    assert _without_timings(record) == _without_timings(assistant.ask(EN_Q).to_dict())
    assert f"at http://127.0.0.1:{port}/mcp" in err


def test_references_tool_gives_a_papers_list_and_the_graph(calls, assistant):
    # the fixture paper's citation notes ② and ③ (note ①, a funding remark, is not one)
    got = calls["references"].structured_content
    assert [(r["n"], r["title"], r["year"]) for r in got["references"]] == [
        ("2", "东盟数字数据治理框架", "2018"),
        ("3", "年度报告", "2022"),
    ]
    graph = calls["references_graph"].structured_content
    docs = {n["id"] for n in graph["nodes"] if n["kind"] == "document"}
    assert docs == set(assistant.retriever.index.docs)
    assert [(e["source"], e["n"], e["internal"]) for e in graph["edges"]] == [
        ("zh_paper.txt", "2", False),
        ("zh_paper.txt", "3", False),
    ]
