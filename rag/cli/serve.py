"""`rag serve` (an OpenAI-compatible chat API) and `rag mcp` (tools for agents) over one loaded index; the
servers (FastAPI, uvicorn, the MCP SDK) are imported only when a command runs (see rag/servers)."""

from __future__ import annotations

from typing import Optional

import typer

from rag.cli.common import IndexOpt, LlmOpt, LlmUrlOpt, app, settings_from

HostOpt = typer.Option("127.0.0.1", "--host", help="Interface to serve on (0.0.0.0 for every interface).")


@app.command("serve")
def serve_cmd(
    index: Optional[str] = IndexOpt,
    host: str = HostOpt,
    port: int = typer.Option(8000, "--port", help="Port to serve on."),
    api_key: Optional[str] = typer.Option(
        None,
        "--api-key",
        help="Require 'Authorization: Bearer KEY' on every request (needed to serve beyond 127.0.0.1). [env: RAG_API_KEY]",
    ),
    insecure: bool = typer.Option(
        False, "--insecure", help="Serve beyond 127.0.0.1 without an API key (anyone who can reach it can ask)."
    ),
    llm: Optional[str] = LlmOpt,
    llm_base_url: Optional[str] = LlmUrlOpt,
) -> None:
    """Serve the index as an OpenAI-compatible chat API (model rag:NAME) at http://HOST:PORT/v1."""
    from rag.servers.openai_api import run_server

    settings = settings_from(index=index, api_key=api_key, llm=llm, llm_base_url=llm_base_url)
    run_server(settings, host=host, port=port, insecure=insecure)


@app.command("mcp")
def mcp_cmd(
    index: Optional[str] = IndexOpt,
    host: str = HostOpt,
    port: Optional[int] = typer.Option(None, "--port", help="Serve streamable HTTP at /mcp on this port (else stdio)."),
    api_key: Optional[str] = typer.Option(
        None,
        "--api-key",
        help="Over HTTP, require 'Authorization: Bearer KEY' (needed to serve beyond 127.0.0.1). [env: RAG_API_KEY]",
    ),
    llm: Optional[str] = LlmOpt,
    llm_base_url: Optional[str] = LlmUrlOpt,
) -> None:
    """Serve the index as MCP tools (search, ask, list_documents, get_passage) over stdio or streamable HTTP."""
    from rag.servers.mcp_tools import run_mcp

    run_mcp(settings_from(index=index, api_key=api_key, llm=llm, llm_base_url=llm_base_url), host=host, port=port)
