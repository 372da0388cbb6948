"""Attacks on `rag serve` and `rag mcp` over real sockets on 127.0.0.1, shared by tests/test_attack_servers.py
(which asserts their outcomes) and bench/attack_servers.py (which prints them as a before/after table).

Each probe returns a `Probe`: the HTTP status (or "timeout" / "reset"), the seconds it took and the server's
peak resident memory (VmHWM of its process, MB) after it. A model that holds every answer until released
(`SlowModel`, an OpenAI-compatible endpoint) keeps generations running so that the server is saturated."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from helpers import free_port

QUESTION = "When was the International Cable Protection Committee founded?"
MB = 1024 * 1024


@dataclass
class Probe:
    """One attack's outcome: status (int, "timeout" or "reset"), seconds, the server's peak RSS in MB."""

    name: str
    status: int | str
    seconds: float
    peak_mb: float
    detail: dict = field(default_factory=dict)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


# --- servers -------------------------------------------------------------------------------------


class SlowModel:
    """An OpenAI-compatible chat endpoint on 127.0.0.1 whose answers wait until ``release()`` (or
    ``max_hold`` seconds): while held, every generation `rag serve` starts stays running."""

    def __init__(self, reply: str = "The committee was founded in 1958 [1].", max_hold: float = 120.0):
        self.held = threading.Event()
        self.released = threading.Event()
        self.calls = 0
        self.held_calls = 0  # calls that arrived since hold()
        self.lock = threading.Lock()
        model = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                with model.lock:
                    model.calls += 1
                    model.held_calls += model.held.is_set()
                if model.held.is_set():
                    model.released.wait(max_hold)
                self.send_response(200)
                stream = bool(body.get("stream"))
                if not stream:
                    data = json.dumps(
                        {
                            "id": "c",
                            "object": "chat.completion",
                            "created": 0,
                            "model": "m",
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": reply},
                                    "finish_reason": "stop",
                                }
                            ],
                        }
                    ).encode()
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                try:
                    for word in reply.split(" "):
                        chunk = {
                            "id": "c",
                            "object": "chat.completion.chunk",
                            "created": 0,
                            "model": "m",
                            "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}],
                        }
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hold(self) -> None:
        """From now on, answers wait until release()."""
        self.released.clear()
        self.held_calls = 0
        self.held.set()

    def release(self) -> None:
        """Let every waiting answer go (and later ones through at once)."""
        self.held.clear()
        self.released.set()

    def close(self) -> None:
        """Stop the endpoint."""
        self.release()
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Server:
    """A `rag` server subprocess on 127.0.0.1."""

    proc: subprocess.Popen
    url: str
    port: int

    @property
    def peak_mb(self) -> float:
        """The server's peak RSS so far, MB."""
        return peak_rss_mb(self.proc.pid)

    def stop(self) -> str:
        """Stop it; its stderr."""
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


def rag_env(code: str | None = None, env: dict | None = None) -> dict:
    """The environment for a `rag` subprocess: no RAG_* from outside, PYTHONPATH=``code`` when given."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    if code:
        full["PYTHONPATH"] = code
    return full | (env or {})


def rag_exe() -> str:
    """The `rag` console script of this interpreter's environment."""
    return str(Path(sys.executable).parent / "rag")


def start_server(
    args: list[str], ready_path: str, cwd: Path, code: str | None = None, env: dict | None = None
) -> Server:
    """Start `rag ARGS --port P` and wait until ``ready_path`` answers (any status) on 127.0.0.1:P."""
    port = free_port()
    proc = subprocess.Popen(
        [rag_exe(), *args, "--port", str(port)],
        cwd=cwd,
        env=rag_env(code, env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            httpx.get(url + ready_path, timeout=2)
            return Server(proc, url, port)
        except httpx.TransportError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("server did not start in 300 s")


# --- a raw HTTP client (sends as an attacker does, reads the answer as soon as there is one) -------


@dataclass
class Reply:
    """A raw HTTP reply: status (or "timeout"/"reset"), headers (lower-case names), body, seconds."""

    status: int | str
    headers: dict
    body: bytes
    seconds: float

    def json(self) -> dict:
        """The body as JSON."""
        return json.loads(self.body)


def _read_reply(sock: socket.socket, deadline: float) -> tuple[int | str, dict, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got = sock.recv(65536)
        except TimeoutError:
            return "timeout", {}, data
        except OSError:
            return "reset", {}, data
        if not got:
            return "reset", {}, data
        data += got
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    want = int(headers.get("content-length", "-1"))
    while (want < 0 or len(rest) < want) and len(rest) < MB:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got = sock.recv(65536)
        except OSError:
            break
        if not got:
            break
        rest += got
        if want < 0 and rest.endswith(b"\r\n0\r\n\r\n"):
            break
    return status, headers, rest


def raw_request(
    url: str,
    method: str,
    path: str,
    headers: dict | None = None,
    body: bytes | Iterable[bytes] = b"",
    length: int | None = None,
    chunked: bool = False,
    timeout: float = 60,
) -> Reply:
    """Send a request byte by byte as given (``body`` may be an iterable of pieces, ``length`` the
    Content-Length to declare; ``chunked`` frames the pieces) and stop sending once the server answers."""
    host, port = url.removeprefix("http://").split(":")
    start = time.monotonic()
    deadline = start + timeout
    hdrs = {"Host": f"{host}:{port}"} | (headers or {})
    pieces: Iterable[bytes] = [body] if isinstance(body, bytes) else body
    if chunked:
        hdrs["Transfer-Encoding"] = "chunked"
    elif length is not None:
        hdrs["Content-Length"] = str(length)
    elif isinstance(body, bytes):
        hdrs["Content-Length"] = str(len(body))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1"))
        try:
            for piece in pieces:
                if select.select([sock], [], [], 0)[0]:
                    break  # the server answered before reading the whole body
                if time.monotonic() > deadline:
                    break
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
            else:
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
        except (TimeoutError, OSError):
            pass  # the server stopped reading or closed: its answer (if any) is read below
        status, rhead, rbody = _read_reply(sock, deadline)
    return Reply(status, rhead, rbody, time.monotonic() - start)


def zeros(total: int, piece: int = MB) -> Iterator[bytes]:
    """``total`` bytes of a JSON string's inside, in pieces."""
    block = b"a" * piece
    sent = 0
    while sent < total:
        n = min(piece, total - sent)
        yield block[:n]
        sent += n


def huge_json(total: int, model: str = "m", many: bool = False) -> tuple[int, Iterator[bytes]]:
    """A valid JSON chat request of ``total`` bytes, as (length, pieces): one huge user message, or
    (``many``) a few million tiny messages."""
    head = b'{"model": ' + json.dumps(model).encode() + b', "messages": ['
    if not many:
        head += b'{"role": "user", "content": "'
        tail = b'"}]}'
        inner = total - len(head) - len(tail)
        return total, iter([head, *zeros(inner), tail])
    item = b'{"role": "user", "content": "a"},'
    tail = b'{"role": "user", "content": "' + QUESTION.encode() + b'"}]}'
    count = (total - len(head) - len(tail)) // len(item)
    pad = total - len(head) - len(tail) - count * len(item)
    per = MB // len(item)

    def pieces() -> Iterator[bytes]:
        yield head + b" " * pad
        left = count
        while left:
            n = min(per, left)
            yield item * n
            left -= n
        yield tail

    return total, pieces()


def chat_body(model: str, messages: list[dict] | None = None, **extra) -> bytes:
    """A chat completion request body."""
    return json.dumps(
        {"model": model, "messages": messages or [{"role": "user", "content": QUESTION}], **extra}
    ).encode()


def history(turns: int) -> list[dict]:
    """A conversation of ``turns`` earlier messages (user and assistant alternating), then the question."""
    msgs = [
        {"role": "user", "content": "When was it founded?"}
        if i % 2 == 0
        else {"role": "assistant", "content": "In 1958 [1]."}
        for i in range(turns)
    ]
    return msgs + [{"role": "user", "content": QUESTION}]


# --- the probes ----------------------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}


def probe(server: Server, name: str, method: str, path: str, **kw) -> Probe:
    """One raw request as a Probe."""
    r = raw_request(server.url, method, path, **kw)
    detail: dict = {}
    if isinstance(r.status, int):
        try:
            detail = {"error": r.json().get("error", {}).get("message")} if r.status >= 400 else {}
        except ValueError:
            detail = {"body": r.body[:200].decode("utf-8", "replace")}
        if "retry-after" in r.headers:
            detail["retry_after"] = r.headers["retry-after"]
    return Probe(name, r.status, round(r.seconds, 3), round(server.peak_mb, 1), detail)


def saturate(server: Server, model: SlowModel, name: str, streams: int = 48, ceiling: float = 5.0) -> Probe:
    """Open ``streams`` streamed chat requests while the model holds every answer, then time GET /v1/models
    (and GET /health) with a ``ceiling`` in seconds; release the model and tally the streams' statuses."""
    model.hold()
    statuses: list[int | str] = []
    lock = threading.Lock()
    body = chat_body(f"rag:{name}", stream=True)

    def one() -> None:
        r = raw_request(server.url, "POST", "/v1/chat/completions", JSON, body, timeout=90)
        with lock:
            statuses.append(r.status)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(streams)]
    for t in threads:
        t.start()
    wait_until = time.monotonic() + 20
    while model.held_calls < 4 and time.monotonic() < wait_until:
        time.sleep(0.1)
    time.sleep(2.0)  # let every request reach the server
    models = raw_request(server.url, "GET", "/v1/models", timeout=ceiling)
    health = raw_request(server.url, "GET", "/health", timeout=ceiling)
    peak = server.peak_mb
    model.release()
    for t in threads:
        t.join(timeout=max(1.0, 120 - (time.monotonic() - wait_until)))
    detail = {
        "health": health.status,
        "health_body": health.body.decode("utf-8", "replace")[:200],
        "health_seconds": round(health.seconds, 3),
        "streams": dict(sorted(Counter(str(s) for s in statuses).items())),
        "unfinished": sum(t.is_alive() for t in threads),
    }
    return Probe("saturated: GET /v1/models", models.status, round(models.seconds, 3), round(peak, 1), detail)


def nested(depth: int) -> bytes:
    """A chat request whose ``messages`` is ``depth`` lists deep."""
    return b'{"model": "m", "messages": ' + b"[" * depth + b"]" * depth + b"}"


def saturate_mcp(server: Server, model: SlowModel, calls: int = 48, ceiling: float = 5.0) -> Probe:
    """``calls`` concurrent `ask` tool calls over one streamable HTTP session while the model holds every
    answer, then time a `list_documents` call (given up after ``ceiling`` seconds); release and tally."""
    import asyncio

    from mcp import Client

    async def session() -> Probe:
        async with Client(server.url + "/mcp") as c:
            model.hold()
            asks = [asyncio.ensure_future(c.call_tool("ask", {"question": QUESTION})) for _ in range(calls)]
            wait_until = time.monotonic() + 20
            while model.held_calls < 4 and time.monotonic() < wait_until:
                await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)
            start = time.monotonic()
            try:
                listed = await asyncio.wait_for(c.call_tool("list_documents", {}), ceiling)
                status: int | str = "error" if listed.is_error else "ok"
            except (TimeoutError, asyncio.TimeoutError):
                status = "timeout"
            seconds = time.monotonic() - start
            peak = server.peak_mb
            model.release()
            done = await asyncio.wait_for(asyncio.gather(*asks, return_exceptions=True), 120)
            tally = Counter(
                "exception" if isinstance(d, BaseException) else ("tool error" if d.is_error else "answered")
                for d in done
            )
            errors = sorted({d.content[0].text for d in done if not isinstance(d, BaseException) and d.is_error})
            detail = {"asks": dict(sorted(tally.items())), "errors": errors}
            return Probe("mcp saturated: list_documents", status, round(seconds, 3), round(peak, 1), detail)

    return asyncio.run(session())
