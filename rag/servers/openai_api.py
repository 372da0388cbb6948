"""`rag serve`: an OpenAI-compatible chat API over one loaded index (FastAPI + uvicorn).

``GET /v1/models`` lists the index as a model (``rag:NAME``); ``POST /v1/chat/completions`` answers the
last user message, rewritten as a follow-up from the earlier turns, as a ``chat.completion`` or, with
``stream: true``, as server-sent ``chat.completion.chunk`` events ending in ``data: [DONE]``. The message
is the answer with its [n] markers and a Markdown reference list; the ``rag`` field carries the full
`rag ask --json` record. Every error is OpenAI's ``{"error": {"message", "type", "param", "code"}}``.
``GET /health`` says how many questions are being answered and waiting (rag/servers/guards.py: the Guard
and the Gate in front of it all)."""

from __future__ import annotations

import json
import logging
import secrets
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import GeneratorError, InvalidInputError, RagError
from rag.records import Answer
from rag.servers.guards import RETRY_AFTER, Busy, Gate, Guard, Lease, Rules, is_loopback, refuse_open_exposure
from rag.service import Service, check_port
from rag.settings import Settings

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered in OpenAI's format."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type_, code
        self.headers = headers


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error object."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _error(
    status: int, message: str, type_: str, code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(message, type_, code), status_code=status, headers=headers)


class Message(BaseModel):
    """One chat message; ``content`` is text or OpenAI's list of parts (the text parts are read)."""

    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text (text parts joined)."""
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "\n".join(p["text"] for p in parts if p.get("type") == "text" and isinstance(p.get("text"), str))


class ChatRequest(BaseModel):
    """The body of POST /v1/chat/completions; sampling options are accepted and ignored (answers are
    quoted, not sampled); ``k`` and ``docs`` are our extensions (passages to retrieve, documents)."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[Message]
    stream: bool | None = False
    k: Any = None
    docs: list[str] | None = None


def invalid_body(errors: Sequence[Any]) -> str:
    """One line naming the first problem of a request body that failed validation."""
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "the body"
    return f"invalid request: {where}: {first.get('msg', 'not valid')}; send a JSON chat completion request"


async def read_request(request: Request) -> ChatRequest:
    """The chat request in the body (JSON whatever the Content-Type says when a key is required; the
    Guard has refused other types without one), or a 400 saying what is wrong."""
    raw = await request.body()
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError(400, "the body is not JSON; send a JSON chat completion request") from None
    except RecursionError:  # the Guard refuses deep nesting first; this is the parser's own limit
        raise ApiError(400, "the JSON body nests too deeply; send a flat chat completion request") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object with 'model' and 'messages'")
    try:
        return ChatRequest.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, invalid_body(exc.errors())) from None


def split_chat(messages: list[Message]) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last message, which must be the user's) and the earlier (question, reply) pairs."""
    talk = [m for m in messages if m.role in ("user", "assistant")]
    if not messages or messages[-1].role != "user":
        raise InvalidInputError("the last message must be the user's question (role 'user')")
    earlier: list[tuple[str, str]] = []
    for i, m in enumerate(talk[:-1]):
        if m.role == "user" and i + 1 < len(talk) - 1 and talk[i + 1].role == "assistant":
            earlier.append((m.text(), talk[i + 1].text()))
    return talk[-1].text(), earlier


def _completion(cid: str, created: int, model: str, content: str, record: dict) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": None,
        "rag": record,
    }


def _chunk(cid: str, created: int, model: str, delta: dict, finish: str | None = None, **extra: Any) -> str:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _rag_error(exc: RagError) -> ApiError:
    if isinstance(exc, InvalidInputError):
        return ApiError(400, str(exc))
    if isinstance(exc, GeneratorError):
        return ApiError(502, str(exc), "server_error", "upstream_error")
    return ApiError(503, str(exc), "server_error", "unavailable")


def _busy(exc: Busy) -> ApiError:
    kind = ("requests", "rate_limit_exceeded") if exc.status == 429 else ("server_error", "server_busy")
    return ApiError(exc.status, exc.message, *kind, headers={"Retry-After": str(RETRY_AFTER)})


def check_size(messages: Sequence[Message], max_messages: int, max_chars: int) -> None:
    """A 413 for a conversation longer than the server takes (in messages, or characters in all)."""
    if len(messages) > max_messages:
        raise ApiError(
            413,
            f"the conversation has {len(messages):,} messages; this server takes at most {max_messages:,} "
            "(RAG_SERVE_MAX_MESSAGES): send the recent turns only",
            code="too_many_messages",
        )
    chars = sum(len(m.text()) for m in messages)
    if chars > max_chars:
        raise ApiError(
            413,
            f"the conversation has {chars:,} characters; this server takes at most {max_chars:,} "
            "(RAG_SERVE_MAX_CHARS): send the recent turns only",
            code="too_many_characters",
        )


class GatedStream(StreamingResponse):
    """A streamed answer that gives its place in the Gate back when the response ends, however it ends
    (the stream's own clean-up runs too, should the stream never have started)."""

    def __init__(self, content: AsyncIterator[str], lease: Lease, **kwargs: Any):
        super().__init__(content, **kwargs)
        self.lease = lease

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.lease.release()


def guard_rules(settings: Settings, host: str, api_key: str | None) -> Rules:
    """What the Guard enforces for `rag serve` on ``host``: the body limit always; without a key, Host and
    Origin when bound to loopback and JSON bodies only (with one, a page that cannot know it gets 401)."""
    return Rules(
        max_body=int(settings.serve.max_body_mb * 1024 * 1024),
        local=is_loopback(host) and not api_key,
        json_only=not api_key,
    )


def create_app(served: Service, api_key: str | None = None, host: str = "127.0.0.1") -> FastAPI:
    """The API app over a loaded index; with ``api_key`` every /v1 request must present it as a Bearer token.
    Requests pass the Guard first (body size, nesting, Host/Origin on loopback, JSON without a key), then
    at most RAG_SERVE_CONCURRENCY answers run at once and RAG_SERVE_QUEUE wait (429/503 beyond)."""
    api = FastAPI(title="rag", docs_url=None, redoc_url=None, openapi_url=None)
    settings = served.settings
    api.add_middleware(Guard, rules=guard_rules(settings, host, api_key))
    gate = Gate(settings.serve.concurrency, settings.serve.queue, settings.serve.queue_timeout)
    # answers run in threads of their own: the default pool stays free whatever is being answered
    threads = anyio.CapacityLimiter(settings.serve.concurrency)

    async def in_thread(fn: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args, limiter=threads)

    @api.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.type, exc.code, exc.headers)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(400, invalid_body(exc.errors()), "invalid_request_error")

    @api.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        msg = (
            "no such endpoint; use GET /v1/models or POST /v1/chat/completions"
            if exc.status_code == 404
            else str(exc.detail)
        )
        return _error(exc.status_code, msg, "invalid_request_error", "not_found" if exc.status_code == 404 else None)

    @api.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return _error(500, f"unexpected {type(exc).__name__} (a bug in rag; see the server log)", "server_error")

    async def authorised(request: Request) -> None:  # async: checked in the event loop, never in a thread
        if not api_key:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(), api_key.encode()):
            raise ApiError(
                401,
                "missing or incorrect API key; send 'Authorization: Bearer KEY' with the key `rag serve` was started with",
                "invalid_request_error",
                "invalid_api_key",
            )

    def model_card() -> dict[str, Any]:
        return {
            "id": served.model,
            "object": "model",
            "created": int(served.assistant.retriever.index.path.stat().st_mtime),
            "owned_by": "rag",
        }

    @api.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": served.model, "answering": gate.active, "waiting": gate.queued}

    @api.get("/v1/models", dependencies=[Depends(authorised)])
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card()]}

    @api.get("/v1/models/{model}", dependencies=[Depends(authorised)])
    async def model(model: str) -> dict[str, Any]:
        if model != served.model:
            raise ApiError(
                404, f"the model '{model}' does not exist; this server has '{served.model}'", code="model_not_found"
            )
        return model_card()

    @api.post("/v1/chat/completions", dependencies=[Depends(authorised)], response_model=None)
    async def chat(request: Request) -> JSONResponse | StreamingResponse:
        body = await read_request(request)
        if body.model != served.model:
            raise ApiError(
                404,
                f"the model '{body.model}' does not exist; use '{served.model}' (GET /v1/models)",
                code="model_not_found",
            )
        check_size(body.messages, settings.serve.max_messages, settings.serve.max_chars)
        try:
            question, earlier = split_chat(body.messages)
        except RagError as exc:
            raise _rag_error(exc) from None
        try:
            await gate.enter()
        except Busy as exc:
            raise _busy(exc) from None
        lease = Lease(gate)
        try:
            # the rewrite from earlier turns is work too: done in the place taken, never beside it
            rw, k = await in_thread(served.prepare, question, earlier, body.k)
            cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
            if not body.stream:
                answer = await in_thread(served.ask, rw, k, body.docs)
                return JSONResponse(_completion(cid, created, served.model, served.message(answer), answer.to_dict()))
            pieces = served.stream(rw, k, body.docs)
            lease.on_release = getattr(
                pieces, "close", None
            )  # releases the Service slot even when the client went away
            # the first piece is awaited before the response starts, so a bad request is still an HTTP error
            first = await in_thread(next, pieces)
            stream = GatedStream(
                _events(served, pieces, first, cid, created, in_thread),
                lease,
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        except RagError as exc:
            lease.release()
            raise _rag_error(exc) from None
        except BaseException:
            lease.release()
            raise
        finally:
            if not body.stream:
                lease.release()
        return stream

    return api


async def _events(
    served: Service, pieces: Iterator[str | Answer], first: str | Answer, cid: str, created: int, in_thread: Any
) -> AsyncIterator[str]:
    """The SSE stream: the role, each answer piece, the Markdown sources, the last chunk with the record."""
    model = served.model
    sent: list[str] = []
    try:
        yield _chunk(cid, created, model, {"role": "assistant", "content": ""})
        piece: str | Answer | None = first
        while not isinstance(piece, Answer):
            if piece:
                sent.append(piece)
                yield _chunk(cid, created, model, {"content": piece})
            piece = await in_thread(next, pieces, None)
            if piece is None:
                raise RuntimeError("the answer stream ended without its record")
        text, full = "".join(sent), served.message(piece)
        # the rest of the message: the sources after the streamed answer (or the whole message when
        # nothing was streamed, as for a checked model answer)
        yield _chunk(cid, created, model, {"content": full[len(text) :] if full.startswith(text) else "\n\n" + full})
        yield _chunk(cid, created, model, {}, "stop", rag=piece.to_dict())
        yield "data: [DONE]\n\n"
    except RagError as exc:
        err = _rag_error(exc)
        yield f"data: {json.dumps(error_body(err.message, err.type, err.code), ensure_ascii=False)}\n\n"
    except Exception as exc:  # already streaming: the error goes into the stream, in OpenAI's form
        log.exception("unexpected error while streaming")
        yield f"data: {json.dumps(error_body(f'unexpected {type(exc).__name__} (a bug in rag)', 'server_error'))}\n\n"


def run_server(settings: Settings, host: str = "127.0.0.1", port: int = 8000, insecure: bool = False) -> None:
    """Load the index once and serve the API until interrupted; beyond this machine only with a key, or
    ``insecure`` (with a warning)."""
    import uvicorn

    key = settings.serve.api_key.get_secret_value() if settings.serve.api_key else None
    if not insecure:  # before the port and the index: a refused exposure fails fast
        refuse_open_exposure("serve", host, key, ", or pass --insecure to serve it open")
    check_port(host, port)
    served = Service(settings)
    api = create_app(served, key, host)
    where = f"http://{host}:{port}/v1"
    guard = "API key required" if key else "no API key"
    sys.stderr.write(f"serving {served.model} at {where} ({guard}); Ctrl+C to stop\n")
    if not key and not is_loopback(host):
        sys.stderr.write("warning: listening beyond this machine without an API key; set --api-key or RAG_API_KEY\n")
    uvicorn.run(api, host=host, port=port, log_level="warning")
