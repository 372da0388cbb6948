"""The evaluation suite: gold files, text-matched evidence, metrics, the regression gate, reports."""

from __future__ import annotations

import copy
import json
import shutil

import pytest

from rag.errors import GoldFileError
from rag.eval.evaluation import (
    compare,
    evaluate,
    keyword_coverage,
    retrieval_metrics,
    supports,
)
from rag.eval.gold import load_gold
from rag.eval.reporting import render_html, render_markdown, without_volatile, write_reports
from rag.records import Answer, Citation
from rag.settings import load_settings

GOLD_LINES = [
    {
        "id": "a",
        "question": "墨子号卫星是什么时候发射的？",
        "answerable": True,
        "evidence": [{"doc": "gbk_paper.txt", "quote": "中国发射了世界首颗量子科学实验卫星"}],
        "keywords": [["2016"], ["8月", "August"]],
        "kind": "factoid",
        "lang": "zh",
    },
    {
        "id": "b",
        "question": "How long did repair ships need after the 2008 Mediterranean cable cuts?",
        "answerable": True,
        "evidence": [{"doc": "en_notes.md", "quote": "Repair ships needed about two weeks"}],
        "keywords": [["two weeks", "两周"]],
        "kind": "factoid",
        "lang": "en",
    },
    {
        "id": "c",
        "question": "火星上有多少座城市？",
        "answerable": False,
        "evidence": [],
        "keywords": [],
        "kind": "unanswerable",
        "lang": "zh",
    },
]


@pytest.fixture()
def gold_file(tmp_path):
    p = tmp_path / "gold.jsonl"
    p.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in GOLD_LINES) + "\n", encoding="utf-8")
    return p


def test_jsonl_and_csv_gold_files_load_the_same(gold_file, tmp_path):
    jsonl = load_gold(gold_file)
    csv_path = tmp_path / "gold.csv"
    csv_path.write_text(
        "\ufeffid,question,answerable,evidence_doc,evidence_quote,keywords,kind,lang\n"
        "a,墨子号卫星是什么时候发射的？,true,gbk_paper.txt,中国发射了世界首颗量子科学实验卫星,2016;8月|August,factoid,zh\n"
        "b,How long did repair ships need after the 2008 Mediterranean cable cuts?,yes,en_notes.md,"
        "Repair ships needed about two weeks,two weeks|两周,factoid,en\n"
        "c,火星上有多少座城市？,false,,,,unanswerable,zh\n",
        encoding="utf-8",
    )
    assert load_gold(csv_path) == jsonl
    assert jsonl[0].keywords == (("2016",), ("8月", "August"))
    assert jsonl[2].answerable is False and jsonl[2].evidence == ()


@pytest.mark.parametrize(
    "content,message",
    [
        ('{"question": "ok", "evidence": [{"quote": "x"}]}\n{"question": \n', "gold.jsonl:2: not valid JSON"),
        ('{"id": "x", "answerable": true}\n', "gold.jsonl:1: missing 'question'"),
        ('{"question": "q", "answerable": "maybe"}\n', "gold.jsonl:1: 'answerable' must be true or false"),
        ('{"question": "q", "evidence": [{"doc": "d"}]}\n', "gold.jsonl:1: 'evidence' must be a list"),
        (
            '{"question": "q", "evidence": [{"quote": "x"}], "keywords": ["a"]}\n',
            "gold.jsonl:1: 'keywords' must be a list of lists",
        ),
        ('{"question": "q", "answerable": true}\n', "gold.jsonl:1: an answerable question needs at least one evidence"),
        (
            '{"id": "1", "question": "q", "answerable": false}\n{"id": "1", "question": "r", "answerable": false}\n',
            "id '1' appears twice",
        ),
    ],
)
def test_malformed_gold_names_the_line(tmp_path, content, message):
    p = tmp_path / "gold.jsonl"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(GoldFileError) as err:
        load_gold(p)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_csv_without_question_column(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text("id,text\n1,hello\n", encoding="utf-8")
    with pytest.raises(GoldFileError, match=r"g.csv:1: the header needs a 'question' column"):
        load_gold(p)


def test_evidence_matching_by_text():
    quote = "该公约共有 ７８ 个缔约方"
    assert supports("目前，该公约共有78个\n缔约方，在一定程度上。", quote)  # NFKC + whitespace removed
    assert not supports("该公约共有79个缔约方", quote)
    # most of a quote, cut by a chunk boundary, at the passage's end or start
    long_quote = "联合国回归却面临体系性失衡、主体间矛盾、机构内困境等挑战"
    assert supports("……在动荡变革期，然而，联合国回归却面临体系性失衡、主体间矛盾、", long_quote)
    assert supports("体系性失衡、主体间矛盾、机构内困境等挑战。这些挑战又以……", long_quote)
    assert not supports("联合国回归却面临体系性", long_quote)  # too little of it
    assert not supports("甲乙丙。联合国回归却面临体系性失衡、主体间矛盾、丁戊己。", long_quote)  # not at an edge


def test_retrieval_metrics_exact():
    quotes = ["AAAA", "BBBB"]
    passages = ["xx", "AAAA yy", "zz", "BBBB", "AAAA"]
    m = retrieval_metrics(passages, quotes, ks=(1, 3, 5))
    assert (m["recall@1"], m["recall@3"], m["recall@5"]) == (0.0, 0.5, 1.0)
    assert (m["success@1"], m["success@3"]) == (0.0, 1.0)
    assert m["mrr@1"] == 0.0 and m["mrr@3"] == m["mrr@5"] == 0.5
    ideal = 1 + 1 / 1.584962500721156
    assert m["ndcg@3"] == pytest.approx((1 / 1.584962500721156) / ideal)
    assert m["ndcg@5"] == pytest.approx((1 / 1.584962500721156 + 1 / 2.321928094887362) / ideal)
    assert m["first_relevant_rank"] == 2.0


def test_keyword_coverage_and_citation_metrics():
    assert keyword_coverage("印尼于２０２５年1月6日加入", (("2025",), ("1月6日", "January 6"), ("金砖",))) == (
        pytest.approx(2 / 3),
        ["金砖"],
    )
    from rag.eval.evaluation import citation_metrics

    cite = Citation(1, "d", "T", "S", "d#0", "该公约共有78个缔约方。", "该公约共有78个缔约方。", 1.0)
    ans = Answer("q", "该公约共有78个缔约方。[1]另有一句没有出处。", False, (cite,), ())
    m = citation_metrics(ans, ["共有78个缔约方"])
    assert m == {"citation_validity": 1.0, "citation_support": 1.0, "cited_sentence_share": 0.5}
    bad = Answer("q", "一句。[2]", False, (cite,), ())
    assert citation_metrics(bad, ["x"])["citation_validity"] == 0.0


def test_evaluate_runs_the_real_pipeline(assistant, gold_file):
    report = evaluate(assistant, load_gold(gold_file), k=5)
    rows = {r["id"]: r for r in report["questions"]}
    assert rows["a"]["recall@5"] == 1.0 and rows["a"]["key_fact_coverage"] == 1.0 and rows["a"]["pass"]
    assert rows["b"]["recall@3"] == 1.0 and rows["b"]["pass"]
    assert rows["c"]["abstained"] and rows["c"]["pass"]
    o = report["summary"]["overall"]
    assert (o["n"], o["n_answerable"], o["correct_refusal_rate"], o["false_refusal_rate"]) == (3, 2, 1.0, 0.0)
    assert set(report["summary"]["by_lang"]) == {"en", "zh"}
    assert set(report["summary"]["by_kind"]) == {"factoid", "unanswerable"}
    assert report["meta"]["generator"] == "extractive"
    # the pipeline is deterministic: a second run gives the same metrics
    again = evaluate(assistant, load_gold(gold_file), k=5)
    strip = lambda s: {k: v for k, v in s.items() if not k.startswith("latency")}  # noqa: E731
    assert strip(again["summary"]["overall"]) == strip(o)


def _report(pass_a=True, recall=1.0):
    return {
        "summary": {"overall": {"recall@5": recall, "false_refusal_rate": 0.0, "key_fact_coverage": 1.0}},
        "questions": [
            {"id": "a", "question": "qa", "pass": pass_a, "reasons": [] if pass_a else ["evidence not in top 5"]},
            {"id": "b", "question": "qb", "pass": True, "reasons": []},
        ],
    }


def test_gate_flags_drops_and_pass_to_fail():
    base = _report()
    assert compare(_report(), base)["ok"]
    worse = compare(_report(pass_a=False, recall=0.9), base)
    assert not worse["ok"]
    assert [d["metric"] for d in worse["drops"]] == ["recall@5"]
    assert worse["pass_to_fail"] == [{"id": "a", "question": "qa", "reasons": ["evidence not in top 5"]}]
    assert compare(_report(recall=0.95), base, tolerance=0.1)["ok"]
    more_refusals = copy.deepcopy(base)
    more_refusals["summary"]["overall"]["false_refusal_rate"] = 0.1
    assert [d["metric"] for d in compare(more_refusals, base)["drops"]] == ["false_refusal_rate"]
    assert compare(base, _report(pass_a=False, recall=0.9))["fail_to_pass"] == ["a"]


def test_reports_markdown_html_json(assistant, gold_file, tmp_path):
    report = evaluate(assistant, load_gold(gold_file), k=5)
    comparison = compare(report, report)
    files = write_reports(report, tmp_path / "out" / "dev.json", comparison, report)
    assert [f.name for f in files] == ["dev.json", "dev.md", "dev.html"]
    data = json.loads(files[0].read_text(encoding="utf-8"))
    assert data["comparison"]["ok"] is True and len(data["questions"]) == 3
    md = render_markdown(report, comparison)
    assert "## By kind" in md and "| a | zh | factoid | pass |" in md and "no aggregate metric dropped" in md
    page = render_html(report, comparison, report)
    assert page.startswith("<!doctype html>") and page.count("<svg") >= 3
    assert "<script" not in page and "http" not in page.split("<body>")[1]  # self-contained


def test_eval_cli_gate_exit_codes(fixture_settings, gold_file, tmp_path):
    from conftest import rag_cli

    env = {
        "RAG_INDEX_DIR": str(fixture_settings.store.index_dir),
        "RAG_CACHE_DIR": str(fixture_settings.embedding_cache_dir),
        "RAG_CHUNK_SIZE": "120",
        "RAG_CHUNK_OVERLAP": "30",
    }
    proc = rag_cli("eval", str(gold_file), "--report", str(tmp_path / "base"), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "3 questions (2 answerable), k=5" in proc.stdout
    baseline = json.loads((tmp_path / "base.json").read_text(encoding="utf-8"))
    same = rag_cli("eval", str(gold_file), "--baseline", str(tmp_path / "base.json"), cwd=tmp_path, env=env)
    assert same.returncode == 0 and "gate: OK" in same.stdout
    # better than today by less than one question's weight (2 answerable: 0.5): only --exact fails
    baseline["summary"]["overall"]["recall@1"] = baseline["summary"]["overall"]["recall@1"] + 0.2
    (tmp_path / "near.json").write_text(json.dumps(baseline), encoding="utf-8")
    near = rag_cli("eval", str(gold_file), "--baseline", str(tmp_path / "near.json"), cwd=tmp_path, env=env)
    assert near.returncode == 0 and "gate: OK" in near.stdout
    exact = rag_cli("eval", str(gold_file), "--baseline", str(tmp_path / "near.json"), "--exact", cwd=tmp_path, env=env)
    assert exact.returncode == 3 and "gate: FAILED" in exact.stdout
    # a baseline that was better than today: the gate fails with exit code 3 and names the question
    baseline["summary"]["overall"]["recall@1"] = 2.5
    baseline["questions"][0]["pass"] = True
    for q in baseline["questions"]:
        if q["id"] == "b":
            q["pass"] = True
    (tmp_path / "better.json").write_text(json.dumps(baseline), encoding="utf-8")
    drop = rag_cli("eval", str(gold_file), "--baseline", str(tmp_path / "better.json"), cwd=tmp_path, env=env)
    assert drop.returncode == 3
    assert "gate: FAILED" in drop.stdout and "recall@1: 2.500 ->" in drop.stdout
    bad = rag_cli("eval", str(tmp_path / "missing.jsonl"), cwd=tmp_path, env=env)
    assert bad.returncode == 1 and bad.stderr.startswith("error: gold file")


def test_suites_run_side_by_side_and_gate_each(tmp_path, gold_file, fixture_corpus, fixture_settings):
    """Two suites over one corpus (a folder with corpus/ and two gold files), indexed once, one report."""
    from conftest import rag_cli

    from rag.eval.suites import compare_suites, evaluate_suites, load_suites

    suite = tmp_path / "mini"
    shutil.copytree(fixture_corpus, suite / "corpus")
    shutil.copy(gold_file, suite / "gold.jsonl")
    (suite / "gold_en.jsonl").write_text(json.dumps(GOLD_LINES[1], ensure_ascii=False) + "\n", encoding="utf-8")
    suites = load_suites([suite])
    assert [s.name for s in suites] == ["mini", "mini/gold_en"]
    s = load_settings(index_dir=tmp_path / "index", cache_dir=fixture_settings.embedding_cache_dir)
    report = evaluate_suites(suites, s)
    assert list(report["summary"]["by_suite"]) == ["mini", "mini/gold_en"]
    assert [p.name for p in (tmp_path / "index").iterdir() if not p.name.startswith(".")] == [
        report["suites"]["mini"]["meta"]["index"]
    ]
    assert all(
        "question" not in q and "answer_head" not in q for r in report["suites"].values() for q in r["questions"]
    )
    assert report["summary"]["macro"]["recall@5"] == pytest.approx(
        sum(v["recall@5"] for v in report["summary"]["by_suite"].values()) / 2
    )
    assert compare_suites(report, report, 1e-9, 0.0)["ok"]
    better = json.loads(json.dumps(report))
    better["suites"]["mini/gold_en"]["summary"]["overall"]["recall@5"] = 3.0  # one question is 1.0 here
    verdict = compare_suites(report, better, 1e-9, 1.0)
    assert not verdict["ok"] and verdict["suites"]["mini"]["ok"] and not verdict["suites"]["mini/gold_en"]["ok"]
    env = {"RAG_INDEX_DIR": str(tmp_path / "index"), "RAG_CACHE_DIR": str(fixture_settings.embedding_cache_dir)}
    proc = rag_cli("eval", str(suite), "--report", str(tmp_path / "out" / "all"), "--details", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split()[:3] == ["suite", "n", "R@5"] and "macro average" in proc.stdout
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written == [
        "all.html",
        "all.json",
        "all.md",
        "all/mini.html",
        "all/mini.md",
        "all/mini_gold_en.html",
        "all/mini_gold_en.md",
    ]
    assert "<svg" in (tmp_path / "out" / "all.html").read_text(encoding="utf-8")
    (tmp_path / "better.json").write_text(json.dumps(better), encoding="utf-8")
    gated = rag_cli("eval", str(suite), "--baseline", str(tmp_path / "better.json"), cwd=tmp_path, env=env)
    assert gated.returncode == 3 and "gate mini/gold_en: FAILED recall@5 3.000 ->" in gated.stdout


def test_stable_reports_leave_out_dates_latencies_and_timings():
    report = {
        "meta": {"k": 5, "created": "2026-01-01T00:00:00"},
        "timings_ms": {"total": 3.0},
        "summary": {
            "overall": {"n": 2, "latency_p50_ms": 3.0, "latency_p95_ms": 4.0, "recall@5": 1.0},
            "by_kind": {"latency": {"n": 1, "latency_p50_ms": 3.0}},
        },  # a kind may be called anything
        "questions": [{"id": "a", "latency_ms": 3.1, "reasons": []}],
    }
    assert without_volatile(report) == {
        "meta": {"k": 5},
        "summary": {"overall": {"n": 2, "recall@5": 1.0}, "by_kind": {"latency": {"n": 1}}},
        "questions": [{"id": "a", "reasons": []}],
    }


def _volatile_keys(data) -> set[str]:
    if isinstance(data, dict):
        return {k for k in data if k == "created" or k.startswith("latency")} | {
            k for v in data.values() for k in _volatile_keys(v)
        }
    if isinstance(data, list):
        return {k for v in data for k in _volatile_keys(v)}
    return set()


@pytest.mark.parametrize("mode", ["gold", "suites"])
def test_eval_stable_writes_identical_reports_twice(mode, tmp_path, gold_file, fixture_corpus, fixture_settings):
    from conftest import rag_cli

    if mode == "suites":
        suite = tmp_path / "mini"
        shutil.copytree(fixture_corpus, suite / "corpus")
        shutil.copy(gold_file, suite / "gold.jsonl")
        args = [str(suite), "--details"]
        env = {"RAG_INDEX_DIR": str(tmp_path / "index"), "RAG_CACHE_DIR": str(fixture_settings.embedding_cache_dir)}
    else:
        args = [str(gold_file)]
        env = {
            "RAG_INDEX_DIR": str(fixture_settings.store.index_dir),
            "RAG_CACHE_DIR": str(fixture_settings.embedding_cache_dir),
        }
    files = {}
    for run, extra in (("first", ["--stable"]), ("second", ["--stable"]), ("plain", [])):
        out = tmp_path / run
        proc = rag_cli("eval", *args, "--report", str(out / "report"), *extra, cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        files[run] = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    names = ["report.html", "report.json", "report.md"]
    if mode == "suites":
        names += ["report/mini.html", "report/mini.md"]
    assert sorted(files["first"]) == sorted(files["plain"]) == names
    assert files["first"] == files["second"]  # byte for byte
    stable, plain = json.loads(files["first"]["report.json"]), json.loads(files["plain"]["report.json"])
    assert _volatile_keys(stable) == set()
    assert _volatile_keys(plain) == {"created", "latency_ms", "latency_p50_ms", "latency_p95_ms"}
    # the same report otherwise
    assert without_volatile(plain) == stable
    for name in names:  # every file shows the latency, unless --stable
        assert "atency" in files["plain"][name].decode("utf-8"), name
        assert "atency" not in files["first"][name].decode("utf-8"), name
    created = plain["meta"]["created"]
    assert created in files["plain"]["report.html"].decode("utf-8")
    assert created[:10] not in files["first"]["report.html"].decode("utf-8")
