"""`rag mcp`: the index as tools for agents (the official MCP Python SDK's ``MCPServer``), over stdio or,
given a port, streamable HTTP at ``/mcp``. Tools: ``search``, ``ask``, ``list_documents``, ``get_passage``, ``references``;
a bad argument is a tool error whose text says what to pass instead."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from rag.answer.pipeline import MAX_K
from rag.errors import RagError
from rag.servers.guards import Busy, Gate, Guard, Rules, check_exposure, is_loopback
from rag.service import MAX_NEIGHBOURS, Service, check_port
from rag.settings import Settings

T = TypeVar("T")

INSTRUCTIONS = (
    "Search and answer questions over a local collection of academic papers (Chinese and English). "
    "Use `ask` for a cited answer whose every sentence quotes a passage (or an explicit refusal when the papers "
    "do not answer); use `search` to read the best passages yourself; `get_passage` to read around a passage; "
    "`list_documents` to see what is indexed and to restrict `search` to some papers."
)

SEARCH = (
    "Retrieve the passages of the indexed papers that best match `query` (Chinese or English), best first, "
    f"without writing an answer. `k`: how many (1-{MAX_K}, default 5); `docs`: only these document ids (from "
    "list_documents). Returns {query, passages: [{rank, chunk_id, doc, title, section, kind, text, score, dense, "
    "bm25}]}: `score` is the fused rank score, `dense` the embedding similarity, `bm25` the keyword score. Pass a "
    "chunk_id to get_passage to read its neighbours."
)
ASK = (
    "Answer `question` from the indexed papers with checked citations. Returns the answer record: {question, "
    "answer (every sentence ends in a [n] marker), abstained (true: the papers do not answer and `answer` says "
    "so; do not guess), citations: [{n, doc, title, section, chunk_id, text (the passage), quote (the cited "
    "sentence, verbatim from text), score}], retrieved: [{rank, doc, chunk_id, text, score}], confidence, "
    f"support, timings_ms, generator}}. `k`: passages to retrieve (1-{MAX_K}, default 5). Quote the `quote` "
    "fields when you cite."
)
LIST_DOCUMENTS = (
    "List the indexed papers. Returns {documents: [{doc, title, authors, passages, footnotes}]}; `doc` is the id "
    "that search's `docs` filter and every citation use."
)
GET_PASSAGE = (
    "Read one passage by its chunk_id (from search or ask) with its neighbours in the same paper. Returns "
    "{passage: {chunk_id, doc, title, section, kind, text}, before: [...], after: [...]}: up to `neighbours` "
    f"passages (0-{MAX_NEIGHBOURS}, default 1) on each side, in reading order."
)


REFERENCES = (
    "The papers' own reference lists and the citation graph of the index. With `doc` (an id from "
    "list_documents): {doc, references: [{n, key, raw, authors, year, title, venue, volume, issue, pages, doi, "
    "url, target (the indexed document the entry names, when it is one)}]}. Without `doc`: {nodes: [{id, kind "
    "(document | reference), title, year, cited_by}], edges: [{source (citing document), target (document id or "
    "outside work key), n (the entry), internal, match (doi | title)}]}: who cites whom inside the library and "
    "the most-cited outside works."
)


def _tool(fn: Callable[[], T]) -> T:
    """Run a tool body; a problem the caller can fix becomes a tool error with its one-line message."""
    try:
        return fn()
    except RagError as exc:
        raise ToolError(str(exc)) from None


def build_server(served: Service) -> MCPServer:
    """The MCP server with the five tools over a loaded index. ``search`` and ``ask`` take a place in a Gate
    (RAG_SERVE_CONCURRENCY at work, RAG_SERVE_QUEUE waiting in the event loop, the rest a tool error that
    says to retry) and run in threads of their own, so ``list_documents`` and ``get_passage`` answer
    however many calls are open."""
    server: MCPServer = MCPServer(name="rag", instructions=INSTRUCTIONS, log_level="WARNING")
    settings = served.settings
    gate = Gate(settings.serve.concurrency, settings.serve.queue, settings.serve.queue_timeout)
    threads = anyio.CapacityLimiter(settings.serve.concurrency)

    async def gated(fn: Callable[[], T]) -> T:
        try:
            await gate.enter()
        except Busy as exc:
            raise ToolError(exc.message) from None
        try:
            return await anyio.to_thread.run_sync(_tool, fn, limiter=threads)
        finally:
            gate.leave()

    @server.tool(description=SEARCH)
    async def search(query: str, k: int = 5, docs: list[str] | None = None) -> dict[str, Any]:
        return await gated(lambda: served.search(query, k, docs))

    @server.tool(description=ASK)
    async def ask(question: str, k: int = 5) -> dict[str, Any]:
        return await gated(lambda: served.ask_record(question, k))

    @server.tool(description=LIST_DOCUMENTS)
    async def list_documents() -> dict[str, Any]:
        return {"documents": served.document_records()}

    @server.tool(description=REFERENCES)
    def references(doc: str | None = None) -> dict[str, Any]:
        return _tool(lambda: served.references(doc))

    @server.tool(description=GET_PASSAGE)
    async def get_passage(chunk_id: str, neighbours: int = 1) -> dict[str, Any]:
        return _tool(lambda: served.passage(chunk_id, neighbours))  # a look-up in memory: no thread needed

    return server


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send anything written to stdout (also by C code) to stderr: over stdio, stdout carries only protocol."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def http_app(server: MCPServer, settings: Settings, host: str, api_key: str | None) -> Any:
    """The streamable HTTP app at /mcp behind the Guard: the body limit (RAG_SERVE_MAX_BODY_MB), nesting,
    Host/Origin when bound to loopback, and the key as a Bearer token when one is set."""
    limit = int(settings.serve.max_body_mb * 1024 * 1024)
    app = server.streamable_http_app(max_request_body_size=limit, host=host)
    return Guard(app, Rules(max_body=limit, local=is_loopback(host), json_only=False, api_key=api_key))


def run_mcp(settings: Settings, host: str = "127.0.0.1", port: int | None = None) -> None:
    """Load the index once, then serve the tools over stdio (no port) or streamable HTTP on ``host:port``
    (beyond this machine only with a key)."""
    key = settings.serve.api_key.get_secret_value() if settings.serve.api_key else None
    check_exposure(host, port, key)
    if port is not None:
        check_port(host, port)
    with stdout_to_stderr():
        served = Service(settings)
    server = build_server(served)
    if port is None:
        server.run("stdio")
        return
    import uvicorn

    guard = "API key required" if key else "no API key"
    sys.stderr.write(f"MCP server for {served.model} at http://{host}:{port}/mcp ({guard}); Ctrl+C to stop\n")
    uvicorn.run(http_app(server, settings, host, key), host=host, port=port, log_level="warning")
