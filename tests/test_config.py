"""Settings nested by stage: every field has a group and a description, docs/settings.md is generated from them,
`rag config` prints the effective value of each group.field with where it came from (default, env, .env, cli),
and the old flat names (variables, keywords, model_copy keys) still work through the compatibility shim."""

from __future__ import annotations

import json

from conftest import ROOT
from typer.testing import CliRunner

from rag.cli.commands import app
from rag.cli.config import fields, settings_markdown
from rag.settings import FLAT, GROUPS, Settings, env_names, load_settings
from rag.settings.groups import GROUP_MODELS


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
    assert (
        tuple(Settings.model_fields)
        == GROUPS
        == ("store", "ingest", "retrieval", "answer", "generation", "app", "serve")
    )
    for group, name in fields():
        field = GROUP_MODELS[group].model_fields[name]
        assert field.description and field.description.endswith((".", ")")), name
    # the flat object's 79 fields at the split (a branch adding fields raises these; none may be lost)
    least = {"store": 21, "ingest": 8, "retrieval": 16, "answer": 9, "generation": 15, "app": 3, "serve": 7}
    assert all(len(GROUP_MODELS[g].model_fields) >= n for g, n in least.items())


def test_every_old_flat_name_maps_to_one_field_and_no_group():
    """79 flat names before the groups, one per field; a group named like one would shadow its RAG_ variable."""
    assert len(FLAT) == len(fields()) >= 79 and set(FLAT.values()) == set(fields())
    assert not set(FLAT) & set(GROUPS)
    assert FLAT["llm_timeout"] == ("generation", "timeout") and FLAT["top_k"] == ("retrieval", "top_k")
    assert env_names("generation", "timeout") == ("RAG_GENERATION__TIMEOUT", "RAG_LLM_TIMEOUT")


def test_nested_and_old_variables_and_keywords(tmp_path, monkeypatch):
    config(tmp_path, monkeypatch, env={"RAG_TOP_K": "7", "RAG_LLM_TIMEOUT": "9", "RAG_SERVE__QUEUE": "3"})
    s = load_settings()
    assert (s.retrieval.top_k, s.generation.timeout, s.serve.queue) == (7, 9.0, 3)
    monkeypatch.setenv("RAG_RETRIEVAL__TOP_K", "8")  # the nested name wins over the old one
    assert load_settings().retrieval.top_k == 8
    assert load_settings(top_k=2).retrieval.top_k == 2  # a keyword (a command's option) wins over both
    assert load_settings(**{"retrieval.top_k": 4}).retrieval.top_k == 4
    assert Settings(llm_timeout=5).generation.timeout == 5.0


def test_model_copy_takes_old_names_and_leaves_the_original():
    s = load_settings()
    c = s.model_copy(update={"top_k": 9, "llm_timeout": 2.0, "ingest.chunk_size": 400, "index": "x"})
    assert (c.retrieval.top_k, c.generation.timeout, c.ingest.chunk_size, c.store.index) == (9, 2.0, 400, "x")
    assert (s.retrieval.top_k, s.generation.timeout, s.ingest.chunk_size) == (5, 120.0, 300)
    assert c.retrieval.rrf_k == s.retrieval.rrf_k == 60 and c.index_path.name == "x"


def test_docs_settings_md_is_generated_from_the_model():
    current = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert current == settings_markdown(), "regenerate it: rag config --markdown > docs/settings.md"
    for group, name in fields():
        assert f"`{group}.{name}` | `{env_names(group, name)[0]}` | `{env_names(group, name)[1]}`" in current


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
    rows = {r["key"]: r for r in json.loads(out.output)["settings"]}
    assert [r["key"] for r in json.loads(out.output)["settings"]] == [f"{g}.{n}" for g, n in fields()]
    assert (rows["store.index"]["value"], rows["store.index"]["source"]) == ("papers", "cli")
    assert (rows["ingest.chunk_size"]["value"], rows["ingest.chunk_size"]["source"]) == (400, "cli")
    assert (rows["retrieval.top_k"]["value"], rows["retrieval.top_k"]["source"]) == (
        7,
        "env",
    )  # the environment beats .env
    assert (rows["retrieval.fusion"]["value"], rows["retrieval.fusion"]["source"]) == ("bm25", ".env")
    assert (rows["retrieval.rrf_k"]["value"], rows["retrieval.rrf_k"]["source"]) == (60, "default")
    assert rows["generation.api_key"]["source"] == "env" and "sk-secret" not in out.output
    assert rows["serve.api_key"]["source"] == "default"
    assert (rows["retrieval.top_k"]["env"], rows["retrieval.top_k"]["old_env"]) == ("RAG_RETRIEVAL__TOP_K", "RAG_TOP_K")
    assert rows["retrieval.fusion"]["group"] == "retrieval" and rows["ingest.chunk_size"]["group"] == "ingest"
    assert [r["group"] for r in rows.values()] == sorted((r["group"] for r in rows.values()), key=GROUPS.index)


def test_config_text_is_grouped_by_stage(tmp_path, monkeypatch):
    out = config(tmp_path, monkeypatch, env={"RAG_SERVE_QUEUE": "3"})
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert [line for line in lines if line.startswith("[")] == [f"[{g}]" for g in GROUPS]
    assert "  serve.queue = 3  (env)" in lines
    assert "  retrieval.top_k = 5  (default)" in lines
    assert "  store.cache_dir = unset  (default)" in lines


def test_the_dotenv_file_sets_what_the_commands_use(tmp_path, monkeypatch):
    config(tmp_path, monkeypatch, dotenv="RAG_CHUNK_SIZE=500\n")  # leaves the cwd in tmp_path
    assert load_settings().ingest.chunk_size == 500
    assert load_settings(chunk_size=350).ingest.chunk_size == 350


def test_bad_set_is_one_line(tmp_path, monkeypatch):
    from rag.errors import InvalidInputError

    out = config(tmp_path, monkeypatch, "--set", "no_such=1")
    assert isinstance(out.exception, InvalidInputError)
    assert "expected GROUP.FIELD=VALUE with a setting's name" in str(out.exception)
    out = config(tmp_path, monkeypatch, "--set", "top_k=0")
    assert isinstance(out.exception, InvalidInputError)
    assert "RAG_RETRIEVAL__TOP_K or RAG_TOP_K" in str(out.exception)
    out = config(tmp_path, monkeypatch, "--set", "retrieval.top_k=0")
    assert "invalid setting retrieval.top_k" in str(out.exception)


def test_the_flat_objects_field_form_still_reads():
    """A field another branch wrote as F(default, "group", description) lands in its group's class intact."""
    from pydantic import BaseModel

    from rag.settings.groups import F

    class Probe(BaseModel):
        old: float = F(0.5, "retrieval", "Old form.", ge=0)
        new: int = F(1, "New form.")

    assert [Probe.model_fields[n].description for n in ("old", "new")] == ["Old form.", "New form."]
    assert Probe(old=2).old == 2.0 and Probe().old == 0.5


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
    assert load_settings().retrieval.top_k == 8
