"""Which language model to ask: ``PROVIDER:MODEL`` parsed into a typed value (a leaf module, so that
settings can validate it without loading the model code)."""

from __future__ import annotations

from dataclasses import dataclass

from rag.errors import InvalidInputError


@dataclass(frozen=True)
class Provider:
    """How to reach one kind of endpoint."""

    kind: str  # "openai" (OpenAI-compatible chat completions) or "ollama"
    base_url: str | None
    key_env: tuple[str, ...]


PROVIDERS = {
    "openai": Provider("openai", None, ("OPENAI_API_KEY",)),
    "deepseek": Provider("openai", "https://api.deepseek.com/v1", ("DEEPSEEK_API_KEY",)),
    "qwen": Provider("openai", "https://dashscope.aliyuncs.com/compatible-mode/v1", ("DASHSCOPE_API_KEY",)),
    "ollama": Provider("ollama", "http://127.0.0.1:11434", ()),
}
OFF = ("", "extractive", "none", "off")


@dataclass(frozen=True)
class LlmSpec:
    """A chat model: its provider's name and the model's name (``str()`` gives ``provider:model``)."""

    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"

    @property
    def endpoint(self) -> Provider:
        """How to reach this provider."""
        return PROVIDERS[self.provider]


def parse_llm(spec: str) -> tuple[str, str]:
    """'ollama:qwen2.5:7b' -> ('ollama', 'qwen2.5:7b'); a one-line error naming the format otherwise."""
    provider, _, model = (spec or "").strip().partition(":")
    if provider.lower() not in PROVIDERS or not model.strip():
        raise InvalidInputError(
            f"--llm / RAG_LLM '{spec}' is not PROVIDER:MODEL; use one of {', '.join(PROVIDERS)} "
            "(e.g. openai:gpt-4o-mini, ollama:qwen2.5:7b) or 'extractive'"
        )
    return provider.lower(), model.strip()


def llm_spec(value: object) -> LlmSpec | None:
    """The model a setting names: None for the extractive default ('', 'extractive', 'none', 'off')."""
    if value is None or isinstance(value, LlmSpec):
        return value
    text = str(value).strip()
    if text.lower() in OFF:
        return None
    return LlmSpec(*parse_llm(text))
