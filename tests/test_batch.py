"""`rag batch`: every input and output format with Chinese text, resume after a real SIGKILL, malformed
rows by line number, --by-doc matrices, and the CLI's one-line errors, summary and progress bar."""

from __future__ import annotations

import codecs
import csv
import fcntl
import io
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, rag_cli
from openpyxl import Workbook, load_workbook

from rag.answer.pipeline import Assistant
from rag.errors import BatchOutputError, InvalidInputError
from rag.review.batch import journal_path, read_questions, run_batch

BATCH = FIXTURES / "batch"
RAG = Path(sys.executable).parent / "rag"
QUESTIONS = [
    "墨子号卫星是什么时候发射的？",
    "东盟数字部长会议通过了什么框架？",
    "What share of intercontinental traffic uses submarine cables?",
]
TOPICS = ["量子通信", "数据治理", "海底光缆"]
TITLES = {
    "en_notes.md": "Submarine Cables and Internet Resilience",
    "gbk_paper.txt": "量子通信网络的标准化进程",
    "zh_paper.txt": "数字丝绸之路与东南亚数据治理合作",
}
AUTHORS = {"en_notes.md": "", "gbk_paper.txt": "张伟", "zh_paper.txt": "李明, 王芳"}
Q1_CITATION = "[1] 量子通信网络的标准化进程 — §一、发展现状 (gbk_paper.txt): “2016年8月，中国发射了世界首颗量子科学实验卫星“墨子号”。”"


def _no_timings(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k != "timings_ms"}


def _cites(rec: dict) -> str:
    return "\n".join(
        f"[{c['n']}] {c['title']}{' — §' + c['section'] if c['section'] else ''} ({c['doc']}): “{c['quote']}”"
        for c in rec["citations"]
    )


def _cited_docs(answers: list[dict]) -> list[str]:
    """Documents in order of first citation: the expected reference list."""
    return list(dict.fromkeys(c["doc"] for a in answers for c in a["citations"]))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _env(settings) -> dict:
    return {"RAG_INDEX_DIR": str(settings.store.index_dir), "RAG_CACHE_DIR": str(settings.store.cache_dir)}


def _write_xlsx(path: Path, rows: list[list]) -> Path:
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(path)
    return path


@pytest.fixture(scope="module")
def expected(assistant) -> dict[str, dict]:
    """What `Assistant.ask` answers for each fixture question, one at a time."""
    return {q: assistant.ask(q).to_dict() for q in QUESTIONS}


# --- input formats ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["txt", "csv", "csv-gbk", "csv-semicolon", "jsonl", "xlsx"])
def test_reads_every_input_format_with_chinese(tmp_path, kind):
    if kind in ("txt", "csv", "jsonl"):
        path = BATCH / f"questions.{kind}"
    elif kind == "csv-gbk":  # what Excel on Chinese Windows saves as "CSV"
        path = tmp_path / "q.csv"
        path.write_bytes((BATCH / "questions.csv").read_text(encoding="utf-8-sig").encode("gb18030"))
    elif kind == "csv-semicolon":
        path = tmp_path / "q.csv"
        path.write_text(
            "id;question;主题\n" + "".join(f"q{i};{q};{t}\n" for i, (q, t) in enumerate(zip(QUESTIONS, TOPICS), 1)),
            encoding="utf-8",
        )
    else:  # a blank row between questions, ids typed as numbers
        path = _write_xlsx(
            tmp_path / "q.xlsx",
            [
                ["id", "question", "主题"],
                [1, QUESTIONS[0], TOPICS[0]],
                [None, None, None],
                [2, QUESTIONS[1], TOPICS[1]],
                [3, QUESTIONS[2], TOPICS[2]],
            ],
        )
    qs = read_questions(path)
    assert [q.question for q in qs.items] == QUESTIONS and qs.problems == []
    if kind == "txt":
        assert qs.columns == ["question"] and [q.line for q in qs.items] == [1, 3, 4]
        assert all(re.fullmatch(rf"L{q.line}-[0-9a-f]{{10}}", q.key) for q in qs.items) and not qs.items[0].has_id
        return
    assert qs.columns == ["id", "question", "主题"] and [q.fields["主题"] for q in qs.items] == TOPICS
    if kind == "xlsx":
        assert [q.key for q in qs.items] == ["1", "2", "3"] and [q.line for q in qs.items] == [2, 4, 5]
    else:
        assert [q.key for q in qs.items] == ["q1", "q2", "q3"]
        assert [q.line for q in qs.items] == ([1, 2, 3] if kind == "jsonl" else [2, 3, 4])


def test_row_keys_are_stable_and_depend_on_line_and_text(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("甲问题？\n乙问题？\n", encoding="utf-8")
    b.write_text("甲问题？\n乙问题？\n丙问题？\n", encoding="utf-8")
    ka, kb = [q.key for q in read_questions(a).items], [q.key for q in read_questions(b).items]
    assert kb[:2] == ka and len(set(kb)) == 3
    b.write_text("\n甲问题？\n", encoding="utf-8")  # same text on another line is another row
    assert read_questions(b).items[0].key != ka[0]


@pytest.mark.parametrize(
    "name,items,problems",
    [
        (
            "malformed.jsonl",
            ["m1", "m7"],
            [
                "line 2 has an empty question; skipped",
                "line 3 is not valid JSON (Expecting ',' delimiter at column 39); skipped",
                'line 4 is not a JSON object like {"id": "q1", "question": "..."}; skipped',
                "line 6 repeats id 'm1' (first on line 1); skipped",
                "line 7 has no question; skipped",
            ],
        ),
        (
            "malformed.csv",
            ["c1", "c5"],
            [
                "line 3 has an empty question; skipped",
                "line 4 has 3 cells but the header has 2 columns (an unquoted comma?); skipped",
            ],
        ),
    ],
)
def test_malformed_rows_are_reported_by_line(name, items, problems):
    qs = read_questions(BATCH / name)
    assert [q.key for q in qs.items] == items
    assert [p.describe(BATCH / name) for p in qs.problems] == [f"{BATCH / name} {p}" for p in problems]


@pytest.mark.parametrize(
    "filename,content,message",
    [
        (
            "q.csv",
            "编号,text\n1,墨子号？\n",
            "has no 'question' column (header on line 1: 编号, text); name the column of questions 'question'",
        ),
        ("q.docx", "x", "cannot read questions from '.docx' files; use .txt, .csv, .xlsx or .jsonl"),
        ("q.xlsx", "not a workbook", "as an Excel workbook (BadZipFile); save it again as .xlsx"),
        ("q.csv", "", "is empty; give a header row with a 'question' column"),
    ],
)
def test_unreadable_question_files_are_clear_errors(tmp_path, filename, content, message):
    path = tmp_path / filename
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        read_questions(path)


# --- output formats -----------------------------------------------------------------------------


def test_jsonl_output_is_the_ask_record_plus_id(tmp_path, assistant, expected):
    out = tmp_path / "答案.jsonl"
    report = run_batch(assistant, read_questions(BATCH / "questions.jsonl"), out, workers=3)
    recs = _jsonl(out)
    assert sorted(r["id"] for r in recs) == ["q1", "q2", "q3"]
    for r in recs:
        e = expected[QUESTIONS[int(r["id"][1]) - 1]]
        assert list(r) == ["id", *e]  # exactly Answer.to_dict() plus id
        assert _no_timings(r) == {"id": r["id"], **_no_timings(e)}  # batched embedding changes nothing
    assert "墨子号" in out.read_text(encoding="utf-8")  # real UTF-8, not \u escapes
    assert (report.total, report.new, report.resumed, report.failed) == (3, 3, 0, [])
    assert report.answered + report.abstained == 3
    assert journal_path(out) == out


def test_csv_output_is_utf8_with_bom_and_keeps_input_columns(tmp_path, assistant, expected):
    out = tmp_path / "answers.csv"
    run_batch(assistant, read_questions(BATCH / "questions.csv"), out)
    raw = out.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["id", "question", "主题", "answer", "citations", "abstained"]
    assert [r[:3] for r in rows[1:]] == [[f"q{i}", q, t] for i, (q, t) in enumerate(zip(QUESTIONS, TOPICS), 1)]
    for row, q in zip(rows[1:], QUESTIONS):
        e = expected[q]
        assert row[3:] == [e["answer"], _cites(e), "true" if e["abstained"] else "false"]
    assert rows[1][4].split("\n")[0] == Q1_CITATION
    assert not journal_path(out).exists()  # complete: the journal is gone


def test_xlsx_output_reads_back_with_a_reference_sheet(tmp_path, assistant, expected):
    out = tmp_path / "answers.xlsx"
    src = _write_xlsx(
        tmp_path / "q.xlsx", [["question", "id", "备注"], *[[q, f"x{i}", "评论"] for i, q in enumerate(QUESTIONS)]]
    )
    run_batch(assistant, read_questions(src), out)
    wb = load_workbook(out)
    assert wb.sheetnames == ["answers", "references"]
    rows = list(wb["answers"].iter_rows(values_only=True))
    assert rows[0] == ("question", "id", "备注", "answer", "citations", "abstained")
    for row, (i, q) in zip(rows[1:], enumerate(QUESTIONS)):
        e = expected[q]
        assert row == (q, f"x{i}", "评论", e["answer"], _cites(e), e["abstained"])
    refs = list(wb["references"].iter_rows(values_only=True))
    order = _cited_docs([expected[q] for q in QUESTIONS])
    assert refs == [("ref", "doc", "title", "authors")] + [
        (f"R{n}", d, TITLES[d], AUTHORS[d] or None) for n, d in enumerate(order, 1)
    ]
    assert "zh_paper.txt" in order and "gbk_paper.txt" in order  # the Chinese authors are in the sheet


def test_markdown_report_has_passages_and_one_deduplicated_reference_list(tmp_path, assistant, expected):
    src = tmp_path / "q.jsonl"
    extra = "新加坡个人数据保护委员会成立于哪一年？"  # cites the same paper as q2
    src.write_text(
        (BATCH / "questions.jsonl").read_text(encoding="utf-8")
        + json.dumps({"id": "q4", "question": extra}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "report.md"
    run_batch(assistant, read_questions(src), out)
    md = out.read_text(encoding="utf-8")
    assert md.startswith(
        "# Answers: q.jsonl\n\n4 questions: 4 answered with citations, 0 not answered by the sources, 0 missing.\n"
    )
    answers = [expected[q] for q in QUESTIONS] + [assistant.ask(extra).to_dict()]
    order = _cited_docs(answers)
    assert sorted(order) == sorted(TITLES)  # 4 questions, every paper cited, each listed once
    for i, (q, e) in enumerate(zip(QUESTIONS + [extra], answers), 1):
        section = md.split(f"## {i}. {q} `q{i}`\n\n")[1].split("\n## ")[0]
        assert section.startswith(f"{e['answer']}\n\nPassages:\n\n")
        for c in e["citations"]:
            sec = f" — §{c['section']}" if c["section"] else ""
            ref = order.index(c["doc"]) + 1
            assert f"- [{c['n']}] *{c['title']}*{sec} (R{ref}): “{c['quote']}”\n\n  > " in section
    refs = md.split("## References\n\n")[1].splitlines()
    assert refs == [
        f"- R{n}. {AUTHORS[d] + '. ' if AUTHORS[d] else ''}{TITLES[d]}. `{d}`" for n, d in enumerate(order, 1)
    ]
    assert f"- R{order.index('zh_paper.txt') + 1}. 李明, 王芳. 数字丝绸之路与东南亚数据治理合作. `zh_paper.txt`" in refs


def test_abstentions_render_in_every_format(tmp_path, fixture_settings):
    never = {"abstain_threshold": 99.0, "abstain_threshold_crosslingual": 99.0}
    strict = Assistant.open(fixture_settings.model_copy(update=never))
    qs = read_questions(BATCH / "questions.txt")
    for suffix in (".csv", ".md", ".xlsx"):
        report = run_batch(strict, qs, tmp_path / f"out{suffix}")
        assert (report.answered, report.abstained) == (0, 3)
    rows = list(csv.reader(io.StringIO((tmp_path / "out.csv").read_text(encoding="utf-8-sig"))))
    assert rows[1:] == [
        [QUESTIONS[0], "资料中没有找到答案。", "", "true"],
        [QUESTIONS[1], "资料中没有找到答案。", "", "true"],
        [QUESTIONS[2], "The sources do not answer this.", "", "true"],
    ]
    assert list(load_workbook(tmp_path / "out.xlsx")["answers"].iter_rows(values_only=True))[1] == (
        QUESTIONS[0],
        "资料中没有找到答案。",
        None,
        True,
    )
    md = (tmp_path / "out.md").read_text(encoding="utf-8")
    assert "3 questions: 0 answered with citations, 3 not answered by the sources, 0 missing." in md
    assert md.endswith("## References\n\nNo passage was cited.\n")


def test_parallel_answers_equal_one_at_a_time(tmp_path, assistant, expected):
    src = tmp_path / "q.txt"
    qs_text = QUESTIONS * 4
    src.write_text("\n".join(qs_text) + "\n", encoding="utf-8")
    qs = read_questions(src)
    for workers in (1, 4):
        run_batch(assistant, qs, tmp_path / f"w{workers}.jsonl", workers=workers)
    one = {r["id"]: _no_timings(r) for r in _jsonl(tmp_path / "w1.jsonl")}
    four = {r["id"]: _no_timings(r) for r in _jsonl(tmp_path / "w4.jsonl")}
    assert one == four and len(one) == 12
    for q in qs.items:
        assert one[q.key] == {"id": q.key, **_no_timings(expected[q.question])}


# --- resuming -----------------------------------------------------------------------------------


def test_rerun_answers_only_new_questions_and_keeps_earlier_lines(tmp_path, assistant):
    src, out = tmp_path / "q.txt", tmp_path / "out.jsonl"
    src.write_text("\n".join(QUESTIONS[:2]) + "\n", encoding="utf-8")
    first = run_batch(assistant, read_questions(src), out)
    before = out.read_bytes()
    src.write_text("\n".join(QUESTIONS) + "\n", encoding="utf-8")
    second = run_batch(assistant, read_questions(src), out)
    assert (first.new, second.new, second.resumed, second.total) == (2, 1, 2, 3)
    assert out.read_bytes().startswith(before)
    assert [r["question"] for r in _jsonl(out)] == sorted(QUESTIONS[:2], key=QUESTIONS.index) + [QUESTIONS[2]]
    third = run_batch(assistant, read_questions(src), out)
    assert (third.new, third.resumed) == (0, 3) and len(_jsonl(out)) == 3


def test_a_torn_last_line_is_dropped_and_asked_again(tmp_path, assistant):
    qs = read_questions(BATCH / "questions.csv")
    out = tmp_path / "out.md"
    journal = journal_path(out)
    run_batch(assistant, qs, tmp_path / "full.jsonl")
    full = (tmp_path / "full.jsonl").read_bytes().splitlines(keepends=True)
    journal.write_bytes(full[0] + full[1][:40])  # killed in the middle of writing the second record
    report = run_batch(assistant, qs, out)
    assert report.repaired and (report.resumed, report.new) == (1, 2)
    assert not journal.exists()
    md = out.read_text(encoding="utf-8")
    assert all(md.count(f"## {i}. {q} `q{i}`") == 1 for i, q in enumerate(QUESTIONS, 1))


def _kill_midway(args: list[str], cwd: Path, env: dict, journal: Path, at_least: int) -> bytes:
    """Start `rag batch`, SIGKILL it once `at_least` records are on disk; return the journal's bytes."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | env
    proc = subprocess.Popen([str(RAG), *args], cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_bytes().count(b"\n") >= at_least:
            break
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it could be killed: {err.decode()[-500:]}"
    return journal.read_bytes()


@pytest.mark.parametrize("suffix", [".jsonl", ".xlsx"])
def test_resume_after_sigkill_answers_each_question_exactly_once(tmp_path, fixture_settings, suffix):
    n = 60
    src = tmp_path / "questions.txt"
    src.write_text("".join(f"第{i}题：{QUESTIONS[i % 3]}\n" for i in range(n)), encoding="utf-8")
    keys = [q.key for q in read_questions(src).items]
    out = tmp_path / f"answers{suffix}"
    journal = journal_path(out)
    killed = _kill_midway(
        ["batch", str(src), "--out", str(out), "--workers", "2"], tmp_path, _env(fixture_settings), journal, 8
    )
    finished = killed[: killed.rfind(b"\n") + 1]  # whole records; a torn tail is redone
    done = [json.loads(line) for line in finished.splitlines()]
    assert 8 <= len(done) < n and len({r["id"] for r in done}) == len(done)
    assert out.exists() == (suffix == ".jsonl")  # a .jsonl is its own journal; a table is written when complete

    proc = rag_cli("batch", str(src), "--out", str(out), "--json", cwd=tmp_path, env=_env(fixture_settings))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["total"], summary["resumed"], summary["new"], summary["failed"]) == (n, len(done), n - len(done), 0)
    assert summary["journal"] == (str(out) if suffix == ".jsonl" else None)  # a rendered output drops its journal
    if suffix == ".jsonl":
        data = out.read_bytes()
        assert data.startswith(finished)  # earlier records byte-identical
        ids = [r["id"] for r in _jsonl(out)]
        assert sorted(ids) == sorted(keys) and len(ids) == n
    else:
        assert not journal.exists()
        rows = list(load_workbook(out)["answers"].iter_rows(values_only=True))[1:]
        assert [r[0] for r in rows] == [f"第{i}题：{QUESTIONS[i % 3]}" for i in range(n)]  # each once, in input order
        by_q = {r[0]: r for r in rows}
        for rec in done:  # answers finished before the kill are the ones rendered
            cells = tuple("" if v is None else v for v in by_q[rec["question"]][1:])  # an empty cell reads as None
            assert cells == (rec["answer"], _cites(rec), rec["abstained"])


# --- by document --------------------------------------------------------------------------------


def test_by_doc_answers_each_question_against_each_paper(tmp_path, assistant):
    qs = read_questions(BATCH / "questions.csv")
    out = tmp_path / "matrix.jsonl"
    report = run_batch(assistant, qs, out, by_doc=True, workers=2)
    assert report.total == 9 and report.docs == list(TITLES)
    recs = {(r["id"], r["doc"]): r for r in _jsonl(out)}
    assert sorted(recs) == sorted((f"q{i}", d) for i in (1, 2, 3) for d in TITLES)
    for (qid, doc), r in recs.items():
        q = QUESTIONS[int(qid[1]) - 1]
        assert list(r)[:3] == ["id", "doc", "question"]
        assert {c["doc"] for c in r["citations"]} <= {doc} and {h["doc"] for h in r["retrieved"]} == {doc}
        assert _no_timings(r) == {"id": qid, "doc": doc, **_no_timings(assistant.ask(q, docs=[doc]).to_dict())}
    assert "2016年8月" in recs[("q1", "gbk_paper.txt")]["answer"]

    run_batch(assistant, qs, tmp_path / "matrix.csv", by_doc=True)
    rows = list(csv.reader(io.StringIO((tmp_path / "matrix.csv").read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["id", "question", "主题"] + [
        f"{part}: {t}" for t in TITLES.values() for part in ("answer", "citations")
    ]
    for row in rows[1:]:
        for j, doc in enumerate(TITLES):
            r = recs[(row[0], doc)]
            assert row[3 + 2 * j : 5 + 2 * j] == [r["answer"], _cites(r)]

    with pytest.raises(BatchOutputError, match="holds --by-doc answers; rerun in that mode or pick another --out"):
        run_batch(assistant, qs, out)


def test_by_doc_cli_writes_a_matrix_sheet_and_report(tmp_path, fixture_settings, assistant):
    proc = rag_cli(
        "batch", str(BATCH / "questions.txt"), "--out", "m.xlsx", "--by-doc", cwd=tmp_path, env=_env(fixture_settings)
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("9 answers (question x paper): ")
    run_batch(assistant, read_questions(BATCH / "questions.txt"), tmp_path / "m.md", by_doc=True)
    wb = load_workbook(tmp_path / "m.xlsx")
    assert wb.sheetnames == ["by paper", "references"]
    rows = list(wb["by paper"].iter_rows(values_only=True))
    assert len(rows) == 4 and rows[0][0] == "question" and rows[0][1] == f"answer: {TITLES['en_notes.md']}"
    assert [r[0] for r in rows[1:]] == QUESTIONS and "2016年8月" in rows[1][3]
    assert [r[2] for r in wb["references"].iter_rows(values_only=True)][1:] == list(TITLES.values())
    md = (tmp_path / "m.md").read_text(encoding="utf-8")
    assert (
        "## Overview\n\n| # | question | R1 | R2 | R3 |\n|---|---|---|---|---|\n| 1 | 墨子号卫星是什么时候发射的？ |"
        in md
    )
    assert (
        "Papers: R1 *Submarine Cables and Internet Resilience*; R2 *量子通信网络的标准化进程*; R3 *数字丝绸之路与东南亚数据治理合作*"
        in md
    )
    assert md.count("### R2 量子通信网络的标准化进程") == 3


# --- the CLI --------------------------------------------------------------------------------------


def test_cli_summary(tmp_path, fixture_settings):
    env = _env(fixture_settings)
    proc = rag_cli("batch", str(BATCH / "questions.csv"), "-o", "out.jsonl", "-k", "3", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    assert re.fullmatch(
        r"3 questions: \d answered, \d abstained, 0 failed; 3 asked in [\d.]+ s \([\d.]+/s\), 0 already done", first
    )
    assert second == "wrote out.jsonl"
    assert all(len(r["retrieved"]) == 3 for r in _jsonl(tmp_path / "out.jsonl"))


def test_cli_malformed_rows_go_to_stderr_and_the_rest_are_answered(tmp_path, fixture_settings):
    src = BATCH / "malformed.csv"
    proc = rag_cli("batch", str(src), "--out", "out.csv", cwd=tmp_path, env=_env(fixture_settings))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f"{src} line 3 has an empty question; skipped",
        f"{src} line 4 has 3 cells but the header has 2 columns (an unquoted comma?); skipped",
        "error: 0 failed, 2 malformed rows skipped (see above); fix them and rerun with the same --out to answer only those",
    ]
    rows = list(csv.reader(io.StringIO((tmp_path / "out.csv").read_text(encoding="utf-8-sig"))))
    assert [r[:2] for r in rows[1:]] == [["c1", "墨子号卫星是什么时候发射的？"], ["c5", "京沪干线全长多少公里？"]]


def test_cli_a_failing_question_is_reported_and_kept_for_the_next_run(tmp_path, fixture_settings):
    src = tmp_path / "q.jsonl"
    src.write_text(
        json.dumps({"id": "long", "question": "长" * 2500})
        + "\n"
        + json.dumps({"id": "ok", "question": QUESTIONS[0]}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    proc = rag_cli("batch", str(src), "--out", "out.md", cwd=tmp_path, env=_env(fixture_settings))
    assert proc.returncode == 1
    assert f"{src} line 1 failed: the question is 2500 characters long; keep it under 2000" in proc.stderr.splitlines()
    assert "2 questions: 1 answered, 0 abstained, 1 failed; 1 asked in" in proc.stdout
    assert "wrote out.md (unfinished work kept in out.md.partial.jsonl)" in proc.stdout
    md = (tmp_path / "out.md").read_text(encoding="utf-8")
    assert (
        "*Not answered yet (failed or interrupted; rerun with the same --out).*"
        in md.split("## 1.")[1].split("## 2.")[0]
    )
    assert [r["id"] for r in _jsonl(tmp_path / "out.md.partial.jsonl")] == ["ok"]


@pytest.mark.parametrize(
    "args,setup,message",
    [
        (
            ["q.csv", "--out", "a.csv"],
            "id,text\n1,x\n",
            "error: q.csv has no 'question' column (header on line 1: id, text); name the column of questions 'question'",
        ),
        (
            ["q.txt", "--out", "a.docx"],
            "x\n",
            "error: cannot write '.docx' files; give --out a .jsonl, .csv, .xlsx or .md path",
        ),
        (["q.jsonl", "--out", "q.jsonl"], '{"question": "x"}\n', "error: --out is the questions file itself"),
        (["nope.txt", "--out", "a.md"], None, "error: no questions file at nope.txt; check the path"),
        (["q.txt", "--out", "a.md", "--workers", "0"], "x\n", "error: --workers 0: give at least 1"),
        (["q.txt", "--out", "a.md"], "\n \n", "error: no usable questions in q.txt"),
        (["q.txt", "--out", "a.md", "--index", "nope"], "x\n", "error: no index at"),
        (
            ["q.txt", "--out", "gold.jsonl"],
            "x\n",
            "error: gold.jsonl line 1 is not a `rag batch` answer record; pick another --out or move that file away",
        ),
    ],
)
def test_cli_errors_are_one_line_exit_1(tmp_path, fixture_settings, args, setup, message):
    if setup is not None:
        (tmp_path / args[0]).write_text(setup, encoding="utf-8")
    (tmp_path / "gold.jsonl").write_text('{"id": "dev-01", "question": "x", "answerable": true}\n', encoding="utf-8")
    proc = rag_cli("batch", *args, cwd=tmp_path, env=_env(fixture_settings))
    assert proc.returncode == 1 and proc.stderr.startswith(message), proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert (tmp_path / "gold.jsonl").read_text(encoding="utf-8").count("\n") == 1  # never touched


def test_cli_refuses_an_output_another_run_is_writing(tmp_path, fixture_settings):
    journal = tmp_path / "out.xlsx.partial.jsonl"
    fd = os.open(journal, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        proc = rag_cli(
            "batch", str(BATCH / "questions.txt"), "--out", "out.xlsx", cwd=tmp_path, env=_env(fixture_settings)
        )
    finally:
        os.close(fd)
    assert proc.returncode == 1
    assert (
        proc.stderr
        == "error: another `rag batch` is writing out.xlsx.partial.jsonl; wait for it to finish or pick another --out\n"
    )
    assert not (tmp_path / "out.xlsx").exists()


def test_progress_bar_shows_count_rate_and_eta_on_a_terminal(tmp_path, fixture_settings):
    src = tmp_path / "q.txt"
    src.write_text("".join(f"{i}. {QUESTIONS[i % 3]}\n" for i in range(40)), encoding="utf-8")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a 120-column terminal
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | _env(fixture_settings)
    proc = subprocess.Popen(
        [str(RAG), "batch", str(src), "--out", "o.jsonl", "--workers", "1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out, _ = proc.communicate()
    assert proc.returncode == 0
    bar = b"".join(chunks).decode("utf-8", errors="replace")
    assert re.search(r"answering: +\d+%\|.*\| *\d+/40 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+(q/s|s/q)\]", bar), bar[-500:]
    assert out.decode().startswith("40 questions: ")
