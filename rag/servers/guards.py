"""What stands in front of the HTTP servers (`rag serve`, `rag mcp` over HTTP, the app's API routes):

- ``Guard``, an ASGI middleware: the Host and Origin of a request to a server bound to this machine must be
  this machine (a web page cannot reach it by DNS rebinding or post to it from another site: 403); a
  server without a key takes only JSON bodies (a page's form or ``text/plain`` fetch cannot post: 415); a
  body larger than the limit is refused before it is read (413 on its Content-Length, and a chunked body
  is cut at the limit), and JSON nested deeper than ``MAX_JSON_DEPTH`` is a 400 before any parser recurses.
- ``Gate``: at most N requests at work, M more waiting for at most T seconds, the rest refused at once
  (429) or after the wait (503), both with Retry-After; waiting happens in the event loop, never in a
  thread, so other routes keep answering however many requests are open."""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any
from urllib.parse import urlsplit

import anyio

from rag.errors import InvalidInputError
from rag.settings import Settings

MAX_JSON_DEPTH = 64
RETRY_AFTER = 5  # seconds a refused client is told to wait
# the JSON of one app request: the browser sends the conversation's state back with each question, so the
# limit is well above `rag serve`'s (file uploads go to Gradio's own route, limited by RAG_UPLOAD_MAX_MB)
APP_MAX_BODY_MB = 16
UPLOAD_ROUTE = "/gradio_api/upload"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or a Host header's name) is this machine only."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refuse_open_exposure(command: str, host: str, api_key: str | None, escape: str = "") -> None:
    """Refuse to serve beyond this machine without a key (anyone who can reach it could ask): one line naming
    the key's option and variable; ``escape`` names a flag that serves it open anyway."""
    if not api_key and not is_loopback(host):
        raise InvalidInputError(
            f"`rag {command} --host {host}` would serve every machine that can reach it without a key; "
            "give one with --api-key KEY or RAG_API_KEY (clients send 'Authorization: Bearer KEY'), "
            f"or serve on 127.0.0.1{escape}"
        )


def check_exposure(host: str, port: int | None, api_key: str | None) -> None:
    """`rag mcp`'s check: refuse to serve HTTP beyond this machine without a key (stdio listens nowhere).
    Here, not in mcp_tools, so checking needs no MCP library loaded."""
    if port is not None:
        refuse_open_exposure("mcp", host, api_key)


def host_name(header: str) -> str:
    """The name in a Host header: "127.0.0.1:8000" -> "127.0.0.1", "[::1]:8000" -> "::1"."""
    header = header.strip()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def json_depth(raw: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep the arrays and objects of a JSON text nest (strings skipped), counted up to ``limit`` + 1."""
    import re

    bare = re.sub(rb'"(?:[^"\\]|\\.)*"', b"", raw)
    brackets = bare.translate(None, bytes(c for c in range(256) if c not in b"[]{}"))
    deepest = 0
    for depth in accumulate(1 if c in b"[{" else -1 for c in brackets):
        if depth > deepest:
            deepest = depth
            if depth > limit:
                break
    return deepest


def error_json(message: str, type_: str, code: str | None = None) -> bytes:
    """OpenAI's error object, as bytes."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return json.dumps(body, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Rules:
    """What a Guard enforces: the body limit in bytes; ``local`` (bound to loopback): Host and Origin
    must name this machine; ``json_only``: POST bodies must be JSON; ``api_key``: a Bearer key every
    request must present (None: not checked here); ``own_bodies``: path prefixes whose bodies the app
    limits itself (file uploads), only their headers checked here."""

    max_body: int
    local: bool
    json_only: bool
    api_key: str | None = None
    own_bodies: tuple[str, ...] = ()


def _json_type(value: str) -> bool:
    kind = value.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


class Guard:
    """ASGI middleware enforcing ``Rules`` before the app sees a request (see the module's docstring)."""

    def __init__(self, app: ASGIApp, rules: Rules):
        self.app, self.rules = app, rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check a request; answer the refusals, pass the rest on with their body already read."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = self.refusal(scope["method"], headers)
        if refusal is not None:
            await reply(send, *refusal)
            return
        if scope["method"] in ("POST", "PUT", "PATCH") and not scope["path"].startswith(self.rules.own_bodies):
            body, problem = await self.read_body(receive, headers)
            if problem is not None:
                await reply(send, *problem)
                return
            receive = replay(body, receive)
        await self.app(scope, receive, send)

    def refusal(self, method: str, headers: dict[str, str]) -> tuple[int, str, str, str] | None:
        """(status, message, type, code) when the headers alone refuse the request, else None."""
        r = self.rules
        if r.local:
            host = headers.get("host")
            if host is not None and not is_loopback(host_name(host)):
                return (
                    403,
                    f"Host {host!r} is not this machine; this server answers only requests addressed to "
                    "127.0.0.1 or localhost (start it with --host and a key to serve other names)",
                    "invalid_request_error",
                    "forbidden_host",
                )
            origin = headers.get("origin")
            if origin is not None and not (
                urlsplit(origin).scheme in ("http", "https") and is_loopback(urlsplit(origin).hostname or "")
            ):
                return (
                    403,
                    f"requests from the web page {origin!r} are refused; only pages served from this machine "
                    "may call this server without a key (start it with --api-key and give the client the key)",
                    "invalid_request_error",
                    "forbidden_origin",
                )
        if r.api_key:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(), r.api_key.encode()):
                return (
                    401,
                    "missing or incorrect API key; send 'Authorization: Bearer KEY' with the server's key",
                    "invalid_request_error",
                    "invalid_api_key",
                )
        if r.json_only and method in ("POST", "PUT", "PATCH") and not _json_type(headers.get("content-type", "")):
            return (
                415,
                "send the body as JSON with 'Content-Type: application/json'",
                "invalid_request_error",
                "unsupported_media_type",
            )
        return None

    async def read_body(self, receive: Receive, headers: dict[str, str]) -> tuple[bytes, tuple | None]:
        """The whole body, or a 413/400 refusal: a declared length over the limit is refused unread; an
        undeclared (chunked) body is read only up to the limit."""
        limit = self.rules.max_body
        too_big = (
            413,
            f"the request body is larger than {limit:,} bytes; send less (RAG_SERVE_MAX_BODY_MB)",
            "invalid_request_error",
            "request_too_large",
        )
        declared = headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > limit:
                    return b"", too_big
            except ValueError:
                return b"", (400, "Content-Length is not a number", "invalid_request_error", None)
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return b"", too_big
            parts.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(parts)
        if _json_type(headers.get("content-type", "")) or body.lstrip()[:1] in (b"{", b"["):
            if json_depth(body) > MAX_JSON_DEPTH:
                return b"", (
                    400,
                    f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels; send a flatter request",
                    "invalid_request_error",
                    "too_deep",
                )
        return body, None


def app_middleware(settings: Settings, host: str) -> list[Any]:
    """The Guard in front of the app's (Gradio's) routes: Host/Origin when bound to loopback, JSON bodies
    up to APP_MAX_BODY_MB (uploads left to Gradio's own limit), nesting."""
    from starlette.middleware import Middleware

    rules = Rules(
        max_body=int(max(APP_MAX_BODY_MB, settings.serve.max_body_mb) * 1024 * 1024),
        local=is_loopback(host),
        json_only=False,
        own_bodies=(UPLOAD_ROUTE,),
    )
    return [Middleware(Guard, rules=rules)]


async def reply(send: Send, status: int, message: str, type_: str, code: str | None) -> None:
    """Answer with OpenAI's error object and close the connection (a refused body is not read on)."""
    body = error_json(message, type_, code)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the already-read body once, then passes on (for disconnects)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


class Busy(Exception):
    """The server is answering all it can: 429 (no room to wait) or 503 (waited too long), with Retry-After."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Gate:
    """At most ``running`` requests at work, at most ``waiting`` more queued for at most ``wait`` seconds."""

    def __init__(self, running: int, waiting: int, wait: float):
        self.running, self.waiting, self.wait = running, waiting, wait
        self.active = 0
        self.queued = 0
        self._free: anyio.Semaphore | None = None

    def _semaphore(self) -> anyio.Semaphore:
        if self._free is None:  # made in the event loop that uses it
            self._free = anyio.Semaphore(self.running)
        return self._free

    async def enter(self) -> None:
        """Take a place, waiting in the event loop when all are taken; Busy when none comes."""
        free = self._semaphore()
        try:
            free.acquire_nowait()  # no await between the count and the decision: the counts are exact
        except anyio.WouldBlock:
            await self._wait(free)
        self.active += 1

    async def _wait(self, free: anyio.Semaphore) -> None:
        if self.queued >= self.waiting:
            raise Busy(
                429,
                f"the server is answering {self.active} questions and {self.queued} are waiting; "
                f"try again in {RETRY_AFTER} s (RAG_SERVE_CONCURRENCY, RAG_SERVE_QUEUE)",
            )
        self.queued += 1
        try:
            with anyio.move_on_after(self.wait) as waited:
                await free.acquire()
        finally:
            self.queued -= 1
        if waited.cancelled_caught:
            raise Busy(
                503,
                f"no answer slot came free within {self.wait:g} s; try again in {RETRY_AFTER} s "
                "(RAG_SERVE_QUEUE_TIMEOUT)",
            )

    def leave(self) -> None:
        """Give the place back."""
        self.active -= 1
        self._semaphore().release()


class Lease:
    """A place taken in a Gate, given back once however many times ``release`` is called."""

    def __init__(self, gate: Gate, on_release: Callable[[], None] | None = None):
        self.gate, self.on_release, self.done = gate, on_release, False

    def release(self) -> None:
        """Run the clean-up, then give the place back (only the first call does anything)."""
        if self.done:
            return
        self.done = True
        try:
            if self.on_release is not None:
                self.on_release()
        finally:
            self.gate.leave()
