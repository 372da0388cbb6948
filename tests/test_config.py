"""Settings by stage: every field has a group and a description, docs/settings.md is generated from them,
and `rag config` prints the effective value of each with where it came from (default, env, .env, cli)."""

from __future__ import annotations

import json

from conftest import ROOT
from typer.testing import CliRunner

from rag.cli.commands import app
from rag.cli.config import env_name, group_of, settings_markdown
from rag.settings import GROUPS, Settings, load_settings


def config(tmp_path, monkeypatch, *args: str, env: dict[str, str] | None = None, dotenv: str | None = None):
    """`rag config ARGS` in process, in an empty working directory with only the given RAG_ variables."""
    for key in list(__import__("os").environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(app, ["config", *args])


def test_every_field_has_a_stage_group_and_a_description():
    for name, field in Settings.model_fields.items():
        assert group_of(name) in GROUPS, name
        assert field.description and field.description.endswith((".", ")")), name
    assert {group_of(n) for n in Settings.model_fields} == set(GROUPS)


def test_env_names_are_unchanged():
    """RAG_<NAME> as before the grouping: one variable per field, read from the environment."""
    assert {env_name(n) for n in Settings.model_fields} == {f"RAG_{n.upper()}" for n in Settings.model_fields}
    assert env_name("llm_timeout") == "RAG_LLM_TIMEOUT"


def test_docs_settings_md_is_generated_from_the_model():
    current = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert current == settings_markdown(), "regenerate it: rag config --markdown > docs/settings.md"
    for name in Settings.model_fields:
        assert f"`{env_name(name)}`" in current


def test_config_json_names_each_source(tmp_path, monkeypatch):
    out = config(
        tmp_path,
        monkeypatch,
        "--json",
        "--index",
        "papers",
        "--set",
        "chunk_size=400",
        env={"RAG_TOP_K": "7", "RAG_LLM_API_KEY": "sk-secret"},
        dotenv="RAG_FUSION=bm25\nRAG_TOP_K=9\n",
    )
    assert out.exit_code == 0, out.output
    rows = {r["name"]: r for r in json.loads(out.output)["settings"]}
    assert set(rows) == set(Settings.model_fields)
    assert (rows["index"]["value"], rows["index"]["source"]) == ("papers", "cli")
    assert (rows["chunk_size"]["value"], rows["chunk_size"]["source"]) == (400, "cli")
    assert (rows["top_k"]["value"], rows["top_k"]["source"]) == (7, "env")  # the environment beats .env
    assert (rows["fusion"]["value"], rows["fusion"]["source"]) == ("bm25", ".env")
    assert (rows["rrf_k"]["value"], rows["rrf_k"]["source"]) == (60, "default")
    assert rows["llm_api_key"]["source"] == "env" and "sk-secret" not in out.output
    assert rows["fusion"]["group"] == "retrieval" and rows["chunk_size"]["group"] == "ingest"
    assert [r["group"] for r in rows.values()] == sorted((r["group"] for r in rows.values()), key=GROUPS.index)


def test_config_text_is_grouped_by_stage(tmp_path, monkeypatch):
    out = config(tmp_path, monkeypatch, env={"RAG_SERVE_QUEUE": "3"})
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert [line for line in lines if line.startswith("[")] == [f"[{g}]" for g in GROUPS]
    assert "  serve_queue = 3  (env)" in lines
    assert "  top_k = 5  (default)" in lines
    assert "  cache_dir = unset  (default)" in lines


def test_the_dotenv_file_sets_what_the_commands_use(tmp_path, monkeypatch):
    config(tmp_path, monkeypatch, dotenv="RAG_CHUNK_SIZE=500\n")  # leaves the cwd in tmp_path
    assert load_settings().chunk_size == 500
    assert load_settings(chunk_size=350).chunk_size == 350


def test_bad_set_is_one_line(tmp_path, monkeypatch):
    from rag.errors import InvalidInputError

    out = config(tmp_path, monkeypatch, "--set", "no_such=1")
    assert isinstance(out.exception, InvalidInputError)
    assert "expected NAME=VALUE with a setting's name" in str(out.exception)
    out = config(tmp_path, monkeypatch, "--set", "top_k=0")
    assert isinstance(out.exception, InvalidInputError)
    assert "RAG_TOP_K" in str(out.exception)


def test_a_broken_dotenv_file_is_one_error_line_naming_the_line(tmp_path, monkeypatch, capfd):
    """python-dotenv warned twice on stderr and dropped the line's setting; now the command stops and says
    which line to fix (and a .env not in UTF-8 is named too)."""
    import sys

    import pytest

    from rag.cli import commands as cli

    (tmp_path / ".env").write_text("RAG_TOP_K=8\nRAG_FUSION bm25\n", encoding="utf-8")
    monkeypatch.delenv("RAG_TOP_K", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["rag", "config"])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 1
    assert capfd.readouterr() == (
        "",
        "error: .env line 2 ('RAG_FUSION bm25') is not NAME=VALUE; fix or delete that line\n",
    )
    (tmp_path / ".env").write_bytes("RAG_TOP_K=8\n# 中文\n".encode("gbk"))
    with pytest.raises(SystemExit):
        cli.main()
    assert capfd.readouterr() == ("", "error: .env is not UTF-8 text; save it as UTF-8\n")
    (tmp_path / ".env").write_text("# a comment\n\nexport RAG_TOP_K=8\n", encoding="utf-8")
    assert load_settings().top_k == 8
