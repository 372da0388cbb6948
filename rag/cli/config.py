"""What `rag config` shows: each setting's effective value, where it came from and its variable, and the
generated docs/settings.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.settings import GROUPS, Settings


def env_name(field: str) -> str:
    """The environment variable that sets a field."""
    return f"RAG_{field.upper()}"


def sources(overrides: dict[str, Any] | None = None, env_file: Path = Path(".env")) -> dict[str, str]:
    """Where each field's effective value comes from, by pydantic-settings' order: 'cli' (a command's option),
    'env' (RAG_<NAME> in the environment), '.env' (the file in the working directory) or 'default'."""
    import os

    from dotenv import dotenv_values

    env = {k.upper() for k in os.environ}
    dot = {k.upper() for k, v in dotenv_values(env_file).items() if v is not None} if env_file.is_file() else set()
    given = {k for k, v in (overrides or {}).items() if v is not None}
    out = {}
    for name in Settings.model_fields:
        var = env_name(name)
        out[name] = "cli" if name in given else "env" if var in env else ".env" if var in dot else "default"
    return out


def group_of(field: str) -> str:
    """The stage group a field belongs to."""
    extra = Settings.model_fields[field].json_schema_extra
    return str(extra["group"]) if isinstance(extra, dict) else "?"


def describe(settings: Settings, origin: dict[str, str]) -> list[dict[str, Any]]:
    """One row per field, grouped by stage: name, value (secrets masked), where it came from, its variable."""
    values = settings.model_dump(mode="json")
    rows = [
        {
            "group": group_of(name),
            "name": name,
            "value": values[name],
            "source": origin.get(name, "default"),
            "env": env_name(name),
            "description": field.description or "",
        }
        for name, field in Settings.model_fields.items()
    ]
    return sorted(rows, key=lambda r: GROUPS.index(r["group"]) if r["group"] in GROUPS else len(GROUPS))


def settings_markdown() -> str:
    """docs/settings.md: every field by stage group with its variable, default and description."""
    lines = [
        "# Settings",
        "",
        "Generated from `rag/settings.py` by `rag config --markdown > docs/settings.md` (tests/test_config.py checks",
        "it is current). Every setting is read from its `RAG_<NAME>` environment variable, or from a `.env` file in",
        "the working directory; a command's option overrides both. `rag config` prints the effective values and",
        "where each came from.",
    ]
    for group in GROUPS:
        lines += ["", f"## {group}", "", "| variable | default | what it does |", "|---|---|---|"]
        for name, field in Settings.model_fields.items():
            if group_of(name) != group:
                continue
            default = "unset" if field.default is None else f"`{field.default}`"
            desc = (field.description or "").replace("|", "\\|").replace("<", "&lt;")
            lines.append(f"| `{env_name(name)}` | {default} | {desc} |")
    return "\n".join(lines) + "\n"
