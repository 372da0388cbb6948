"""Network front-ends over one loaded assistant: `rag serve` (an OpenAI-compatible chat API, `openai_api`)
and `rag mcp` (tools for agents, `mcp_tools`), both built on `service`. FastAPI, uvicorn and the MCP SDK
are imported only by the modules that serve, never by the rest of the package."""
