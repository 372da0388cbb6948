"""One settings object, nested by pipeline stage (``settings.<group>.<field>``), read from ``RAG_<GROUP>__<FIELD>``
environment variables (or the old flat ``RAG_<FIELD>`` names) and overridden by CLI/app options."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from rag.errors import InvalidInputError
from rag.settings.groups import (
    FLAT,
    GROUPS,
    AnswerSettings,
    AppSettings,
    GenerationSettings,
    IngestSettings,
    RetrievalSettings,
    ServeSettings,
    StoreSettings,
    env_names,
    nest,
)
from rag.settings.sources import FlatEnvSource, GroupsOnly

__all__ = ["FLAT", "GROUPS", "Settings", "env_file_problem", "env_names", "load_settings", "nest"]


class Settings(BaseSettings):
    """Everything the pipeline can be tuned by, one sub-model per stage; defaults are the measured best (see
    eval/NOTES.md). Each field is read from RAG_<GROUP>__<FIELD> (environment or a .env file in the working
    directory), else from its old flat RAG_<NAME>, unless a command sets it."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", env_nested_delimiter="__", extra="ignore")

    store: StoreSettings = Field(
        default_factory=StoreSettings, description="Where indexes live, how passages are embedded."
    )
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Reading and cutting documents.")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings, description="Finding the passages.")
    answer: AnswerSettings = Field(default_factory=AnswerSettings, description="The extractive answer, its references.")
    generation: GenerationSettings = Field(
        default_factory=GenerationSettings, description="Answers written by a language model."
    )
    app: AppSettings = Field(default_factory=AppSettings, description="The browser app.")
    serve: ServeSettings = Field(default_factory=ServeSettings, description="`rag serve` and `rag mcp`.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Nested names first, then the old flat ones, environment before .env (earlier sources win)."""
        return (
            init_settings,
            env_settings,
            FlatEnvSource(settings_cls, dotenv=False),
            GroupsOnly(settings_cls, dotenv_settings),
            FlatEnvSource(settings_cls, dotenv=True),
            file_secret_settings,
        )

    @model_validator(mode="before")
    @classmethod
    def _flat_keys(cls, data: Any) -> Any:
        # compatibility shim: Settings(top_k=5) / load_settings(llm_timeout=9) keep working (flat keys win: they
        # come from a command's options, which override the environment)
        return nest(data) if isinstance(data, Mapping) else data

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with ``update`` applied; keys may be flat old names, ``group.field`` or a group's dict."""
        if not update:
            return super().model_copy(deep=deep)
        nested = nest(update)
        out: dict[str, Any] = {}
        for key, value in nested.items():
            current = getattr(self, key, None)
            if isinstance(current, BaseModel) and isinstance(value, Mapping):
                out[key] = current.model_copy(update=dict(value))
            else:
                out[key] = value
        return super().model_copy(update=out, deep=deep)

    @property
    def index_path(self) -> Path:
        """Directory of the selected index (a bare name lives under index_dir; a path is used as is)."""
        name = self.store.index
        if "/" in name or name.startswith("."):
            return Path(name)
        return self.store.index_dir / name

    @property
    def uploads_path(self) -> Path:
        """Folder that documents added from the browser are saved in before indexing."""
        if self.app.upload_dir is not None:
            return self.app.upload_dir
        return self.index_path.parent / "uploads" / self.index_path.name

    @property
    def milvus_address(self) -> str:
        """Milvus URI: the configured one, or a Milvus Lite database next to the index directory."""
        return self.store.milvus_uri or str(self.index_path.parent / f"{self.index_path.name}.milvus.db")

    @property
    def embedding_cache_dir(self) -> Path:
        """Directory holding the content-hash embedding cache."""
        return self.store.cache_dir if self.store.cache_dir is not None else self.store.index_dir / ".cache"


def env_file_problem(path: Path = Path(".env")) -> str | None:
    """What is wrong with the working directory's .env file, if anything: a line that is not NAME=VALUE
    (python-dotenv would warn on stderr, once per read, and drop the line's setting), or text not in UTF-8."""
    if not path.is_file():
        return None
    from dotenv.parser import parse_stream

    try:
        with open(path, encoding="utf-8") as fh:
            bad = next((b.original for b in parse_stream(fh) if b.error), None)
    except UnicodeDecodeError:
        return f"{path} is not UTF-8 text; save it as UTF-8"
    if bad is None:
        return None
    text = " ".join(bad.string.split())
    return f"{path} line {bad.line} ({text[:60]!r}) is not NAME=VALUE; fix or delete that line"


def load_settings(**overrides: Any) -> Settings:
    """Settings from env, with non-None keyword overrides applied; bad values become InvalidInputError."""
    problem = env_file_problem()
    if problem:
        raise InvalidInputError(problem)
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        first = exc.errors()[0] if hasattr(exc, "errors") else {"loc": ("?",), "msg": str(exc)}
        loc = [str(p) for p in first["loc"]]
        field = ".".join(loc) or "settings"
        where = (
            " or ".join(env_names(*loc[:2]))
            if len(loc) >= 2 and tuple(loc[:2]) in FLAT.values()
            else "RAG_" + field.upper()
        )
        raise InvalidInputError(
            f"invalid setting {field}: {first['msg']} (check {where} or the command-line option)"
        ) from None
