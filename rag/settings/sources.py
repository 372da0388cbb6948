"""The old flat variable names (RAG_TOP_K, before the stage groups) as a settings source, so users' environments
and .env files keep working; RAG_<GROUP>__<FIELD> wins when both are set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from rag.settings.groups import FLAT, GROUPS


class FlatEnvSource(PydanticBaseSettingsSource):
    """RAG_<OLD NAME> from the environment (or, with ``dotenv``, from the settings' .env file), nested by group."""

    def __init__(self, settings_cls: type[BaseSettings], dotenv: bool) -> None:
        super().__init__(settings_cls)
        self.dotenv = dotenv

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: values are read all at once by __call__."""
        return None, field_name, False

    def _variables(self) -> dict[str, str]:
        if not self.dotenv:
            return {k.upper(): v for k, v in os.environ.items()}
        from dotenv import dotenv_values

        path = Path(str(self.settings_cls.model_config.get("env_file") or ".env"))
        if not path.is_file():
            return {}
        return {k.upper(): v for k, v in dotenv_values(path).items() if v is not None}

    def __call__(self) -> dict[str, Any]:
        """{group: {field: value}} of every old flat variable that is set."""
        variables = self._variables()
        out: dict[str, dict[str, Any]] = {}
        for legacy, (group, name) in FLAT.items():
            value = variables.get(f"RAG_{legacy.upper()}")
            if value is not None:
                out.setdefault(group, {})[name] = value
        return dict(out)


class GroupsOnly(PydanticBaseSettingsSource):
    """Another source's values without its keys that are not groups (pydantic-settings passes a .env file's
    unknown RAG_ names through as extras; the old flat ones are read by FlatEnvSource, in their place)."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self.inner = inner

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: values are read all at once by __call__."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """The inner source's values of the groups."""
        return {k: v for k, v in self.inner().items() if k in GROUPS}
