"""What `rag config` shows: each setting (group.field) with its effective value, where it came from and its
variables, and the generated docs/settings.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.settings import FLAT, GROUPS, Settings, env_names
from rag.settings.groups import GROUP_MODELS


def fields() -> list[tuple[str, str]]:
    """(group, field) of every setting, in the order `rag config` shows them."""
    return [(g, name) for g in GROUPS for name in GROUP_MODELS[g].model_fields]


def canonical(key: str) -> tuple[str, str] | None:
    """The (group, field) a name means: ``group.field``, RAG_<GROUP>__<FIELD> or an old flat name/variable."""
    key = key.strip().lower().removeprefix("rag_").replace("__", ".")
    group, dot, name = key.partition(".")
    if dot:
        return (group, name) if group in GROUP_MODELS and name in GROUP_MODELS[group].model_fields else None
    return FLAT.get(key)


def sources(overrides: dict[str, Any] | None = None, env_file: Path = Path(".env")) -> dict[str, str]:
    """Where each ``group.field``'s effective value comes from, by pydantic-settings' order: 'cli' (a command's
    option), 'env' (RAG_<GROUP>__<FIELD> or the old RAG_<NAME> in the environment), '.env' (the file in the
    working directory) or 'default'."""
    import os

    from dotenv import dotenv_values

    env = {k.upper() for k in os.environ}
    dot = {k.upper() for k, v in dotenv_values(env_file).items() if v is not None} if env_file.is_file() else set()
    given = {canonical(k) for k, v in (overrides or {}).items() if v is not None}
    out = {}
    for group, name in fields():
        names = set(env_names(group, name))
        where = "cli" if (group, name) in given else "env" if names & env else ".env" if names & dot else "default"
        out[f"{group}.{name}"] = where
    return out


def describe(settings: Settings, origin: dict[str, str]) -> list[dict[str, Any]]:
    """One row per setting, grouped by stage: group, name, value (secrets masked), source, its variables."""
    values = settings.model_dump(mode="json")
    rows = []
    for group, name in fields():
        var, old = env_names(group, name)
        rows.append(
            {
                "group": group,
                "name": name,
                "key": f"{group}.{name}",
                "value": values[group][name],
                "source": origin.get(f"{group}.{name}", "default"),
                "env": var,
                "old_env": old,
                "description": GROUP_MODELS[group].model_fields[name].description or "",
            }
        )
    return rows


def settings_markdown() -> str:
    """docs/settings.md: every setting by stage group with its variables, default and description."""
    lines = [
        "# Settings",
        "",
        "Generated from `rag/settings/` by `rag config --markdown > docs/settings.md` (tests/test_config.py checks",
        "it is current). Settings are nested by stage: `group.field` is read from its `RAG_<GROUP>__<FIELD>`",
        "environment variable, or from a `.env` file in the working directory; a command's option overrides both.",
        "`rag config` prints the effective values and where each came from (`--set group.field=VALUE` tries one).",
        "",
        "Deprecated: the flat names from before the stage groups (the `old variable` column, e.g. `RAG_TOP_K`, and",
        'flat keywords such as `load_settings(top_k=5)` or `model_copy(update={"top_k": 5})`) still work through a',
        "compatibility shim (rag/settings/); the nested variable wins when both are set.",
    ]
    for group in GROUPS:
        about = Settings.model_fields[group].description or ""
        lines += ["", f"## {group}", "", about, ""]
        lines += ["| setting | variable | old variable | default | what it does |", "|---|---|---|---|---|"]
        for name, field in GROUP_MODELS[group].model_fields.items():
            var, old = env_names(group, name)
            default = "unset" if field.default is None else f"`{field.default}`"
            desc = (field.description or "").replace("|", "\\|").replace("<", "&lt;")
            lines.append(f"| `{group}.{name}` | `{var}` | `{old}` | {default} | {desc} |")
    return "\n".join(lines) + "\n"
