"""Reaching a chat model: the langchain chat model for settings.llm, and a client that streams with a
timeout, retries rate limits and transient failures, and turns every failure into one GeneratorError line."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterator

from rag.errors import GeneratorError, InvalidInputError
from rag.providers import LlmSpec, Provider, llm_spec
from rag.settings import Settings

log = logging.getLogger(__name__)


def _api_key(settings: Settings, provider: Provider) -> str | None:
    if settings.generation.api_key is not None:
        return settings.generation.api_key.get_secret_value()
    for var in ("RAG_LLM_API_KEY", *provider.key_env):
        if os.environ.get(var):
            return os.environ[var]
    return None


def endpoint(settings: Settings) -> str:
    """The base URL requests go to (for messages)."""
    provider = model_spec(settings).endpoint
    return settings.generation.base_url or provider.base_url or "https://api.openai.com/v1"


def model_spec(settings: Settings) -> LlmSpec:
    """The chat model the settings name; a one-line error when none is configured."""
    spec = llm_spec(settings.generation.llm)  # a copy made with model_copy(update=...) may still hold the string
    if spec is None:
        raise InvalidInputError("no language model is configured; set --llm / RAG_LLM to PROVIDER:MODEL")
    return spec


def make_chat_model(settings: Settings, max_tokens: int | None = None):
    """The langchain chat model for ``settings.llm`` (retries are ours: see ChatClient)."""
    import httpx

    spec = model_spec(settings)
    name, model, provider = spec.provider, spec.model, spec.endpoint
    timeout = httpx.Timeout(settings.generation.timeout, connect=min(10.0, settings.generation.timeout))
    tokens = max_tokens or settings.generation.max_tokens
    if provider.kind == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(
            model=model,
            base_url=endpoint(settings),
            temperature=settings.generation.temperature,
            num_predict=tokens,
            client_kwargs={"timeout": timeout},
        )
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    key = _api_key(settings, provider)
    if key is None and settings.generation.base_url is None:
        raise InvalidInputError(
            f"no API key for {name}: set {' or '.join((*provider.key_env, 'RAG_LLM_API_KEY'))}, "
            "or point --llm-base-url at a local OpenAI-compatible server"
        )
    # ChatOpenAI sends the limit as max_completion_tokens, which OpenAI-compatible servers (llama.cpp,
    # vLLM, DeepSeek, Qwen) may ignore; they all read the classic max_tokens
    official = name == "openai" and settings.generation.base_url is None
    limit = {"max_tokens": tokens} if official else {"extra_body": {"max_tokens": tokens}}
    # a local server (llama.cpp, vLLM) takes any key; the client insists on one
    return ChatOpenAI(
        model=model,
        base_url=endpoint(settings),
        api_key=SecretStr(key or "not-needed"),
        temperature=settings.generation.temperature,
        timeout=timeout,
        max_retries=0,
        **limit,
    )


def _names(exc: BaseException) -> set[str]:
    return {c.__name__ for c in type(exc).__mro__}


def _status(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    if code is None:
        code = getattr(getattr(exc, "response", None), "status_code", None)
    return code if isinstance(code, int) and code > 0 else None


def classify(exc: BaseException) -> str:
    """'timeout', 'unreachable', 'rate', 'transient', 'auth', 'missing' or 'other'."""
    names, status = _names(exc), _status(exc)
    if names & {
        "APITimeoutError",
        "TimeoutException",
        "ReadTimeout",
        "ConnectTimeout",
        "TimeoutError",
        "WriteTimeout",
        "PoolTimeout",
    }:
        return "timeout"
    if status == 429:
        return "rate"
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "missing"
    if status is not None and status >= 500:
        return "transient"
    if names & {"APIConnectionError", "ConnectError", "ConnectionError", "RemoteProtocolError", "ReadError"}:
        return "unreachable"
    return "other"


RETRIED = {"rate", "transient", "unreachable"}
DOWN_SECONDS = 10.0  # after an endpoint proved unreachable, calls fail at once for this long


class ChatClient:
    """One configured chat model behind timeouts, retries with backoff, and one-line errors."""

    def __init__(self, settings: Settings, model=None, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.model = model if model is not None else make_chat_model(settings)
        self.sleep = sleep
        self.where = endpoint(settings) if settings.generation.llm is not None else "the model"
        self._down: tuple[float, GeneratorError] | None = None  # an unreachable endpoint fails fast for a while

    def _delay(self, exc: BaseException, attempt: int) -> float:
        """Retry-After when the server gives one, else exponential backoff with a little jitter."""
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        try:
            after = float(headers.get("retry-after", ""))
            return min(max(after, 0.0), 30.0)
        except (TypeError, ValueError):
            return self.settings.generation.backoff * (2**attempt) * (1 + 0.1 * random.random())

    def _error(self, exc: BaseException, kind: str, attempts: int, limit: float) -> GeneratorError:
        model = model_spec(self.settings).model if self.settings.generation.llm else "?"
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        detail = " ".join(str(exc).split())[:160]
        msg = {
            "timeout": f"the model at {self.where} did not answer within {limit:g} s; try again, "
            "use a faster model or raise RAG_LLM_TIMEOUT",
            "unreachable": f"cannot reach the model at {self.where}{tried}; start the server or fix --llm-base-url "
            "(RAG_LLM_BASE_URL), or answer without a model: --llm extractive",
            "rate": f"the model at {self.where} is rate-limiting requests{tried}; wait a moment and try again",
            "transient": f"the model at {self.where} failed{tried} ({detail}); try again later",
            "auth": f"the model at {self.where} refused the API key; set the provider's key variable or RAG_LLM_API_KEY",
            "missing": f"model '{model}' was not found at {self.where}; check the name in --llm (RAG_LLM)",
        }.get(
            kind, f"the model at {self.where} failed ({type(exc).__name__}: {detail}); check --llm and --llm-base-url"
        )
        return GeneratorError(msg)

    def stream(self, messages: list, timeout: float | None = None) -> Iterator[str]:
        """Text pieces of the model's reply. Retries rate limits and transient failures (before the
        first piece only); everything else, and running past the deadline, is a GeneratorError."""
        limit = timeout or self.settings.generation.timeout
        deadline = time.monotonic() + limit
        if self._down and time.monotonic() < self._down[0]:
            raise self._down[1]
        attempt = 0
        while True:
            started = False
            it = self.model.stream(messages)
            pieces = 0
            try:
                for chunk in it:
                    piece = _content(chunk)
                    if piece:
                        started = True
                        pieces += 1
                        yield piece
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"no complete answer within {limit:g} s")
                    if pieces >= 2 * self.settings.generation.max_tokens:  # a server that ignores the token limit
                        log.info("stopped reading the model after %d pieces", pieces)
                        break
                return
            except GeneratorError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure becomes one line
                if not started and "No generation chunks" in str(exc):
                    return  # an empty reply: the verifier decides what it is worth
                kind = classify(exc)
                delay = self._delay(exc, attempt)
                if (
                    not started
                    and kind in RETRIED
                    and attempt < self.settings.generation.max_retries
                    and time.monotonic() + delay < deadline
                ):
                    log.info("model call failed (%s: %s); retrying in %.1f s", kind, exc, delay)
                    self.sleep(delay)
                    attempt += 1
                    continue
                err = self._error(exc, kind, attempt + 1, limit)
                if kind == "unreachable":
                    self._down = (time.monotonic() + DOWN_SECONDS, err)
                raise err from None
            finally:
                close = getattr(it, "close", None)
                if close:
                    close()

    def complete(self, messages: list, timeout: float | None = None, first_line: bool = False) -> str:
        """The whole reply (or its first line) as one string, with the retries and errors of ``stream``."""
        out = ""
        for piece in self.stream(messages, timeout):
            out += piece
            if first_line and "\n" in out.strip():
                break  # closing the stream stops the server generating
        return out


def _content(chunk) -> str:
    c = getattr(chunk, "content", chunk)
    if isinstance(c, str):
        return c
    if isinstance(c, list):  # content blocks
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in c)
    return ""
