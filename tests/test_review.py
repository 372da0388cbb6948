"""`rag review`: review frames, short references, the gold checker and scorer, the decision model's fit,
the review over a real index, and the CLI's outputs (Markdown, XLSX, JSONL), resume and errors."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, rag_cli

from rag.index.store.layout import DocInfo
from rag.records import Bib, Person
from rag.review.compose import pooled_text, short_ref
from rag.review.decide import FEATURES, fit
from rag.review.frame import topic_of
from rag.review.scoring import GoldPoint, GoldQuestion, ScoredCell, check_gold, load_review_gold, read_texts, score

PAPERS_EN = ROOT / "eval" / "review" / "papers_en"


@pytest.mark.parametrize(
    "question, topic",
    [
        ("各文如何看待网络主权？", "网络主权"),
        ("各文对联合国的作用有何看法？", "联合国"),  # a relational noun after the subject asks about the subject
        ("各文如何看待美国在网络空间治理中的角色？", "美国在网络空间治理"),
        ("各文提出了哪些中国方案？", "中国方案"),
        ("How does each paper view the role of systematic reviews in policy?", "systematic reviews in policy"),
        ("What does each paper say about the impact of funding?", "funding"),
        ("What does each paper say about bias?", "bias"),
        ("What is each paper's position on small sample sizes?", "small sample sizes"),
        ("How is publication bias treated in each paper?", "publication bias"),
        ("bias", "bias"),
    ],
)
def test_topic_strips_the_review_frame(question, topic):
    assert topic_of(question) == topic


def _info(authors: tuple[Person, ...], year: str, title: str = "T") -> DocInfo:
    return DocInfo("d.txt", "d.txt", title, (), "", 0, 0, 0, bib=Bib(title=title, authors=authors, year=year))


def test_short_reference_in_the_question_language():
    one = _info((Person("Smith", "John"),), "2019")
    two = _info((Person("Smith", "John"), Person("Lee", "Kim")), "2019")
    many = _info((Person("Smith", "J"), Person("Lee", "K"), Person("Wu", "M")), "2020")
    zh = _info((Person("朱杰进"), Person("何越")), "2025")
    assert short_ref(one, "en") == "Smith (2019)"
    assert short_ref(two, "en") == "Smith & Lee (2019)"
    assert short_ref(many, "en") == "Smith et al. (2020)"
    assert short_ref(many, "zh") == "Smith等（2020）"
    assert short_ref(zh, "zh") == "朱杰进、何越（2025）"
    assert short_ref(_info((), "", "A Title"), "en") == "A Title"


def test_pooled_answer_groups_per_paper_and_names_the_silent_ones():
    en = pooled_text(
        "en", [("Smith (2019)", ["A is B."], [1]), ("Lee et al. (2020)", ["C.", "D."], [2, 3])], ["Wu (2021)"]
    )
    assert en == (
        "Smith (2019) argues: “A is B.”[1].\nLee et al. (2020) argue: “C.”[2]; “D.”[3].\nNot discussed in: Wu (2021)."
    )
    zh = pooled_text("zh", [("李明（2019）", ["甲是乙。"], [1])], ["王芳（2020）"])
    assert zh == "李明（2019）指出：“甲是乙。”[1]。\n未讨论该问题的文献：王芳（2020）。"


def test_committed_gold_quotes_are_verbatim_and_short():
    """Every quote of the English set is in its paper, under 40 characters, every keyword group used."""
    gold = load_review_gold(ROOT / "eval" / "review" / "gold_en.jsonl")
    assert len(gold) >= 10 and all(len(q.cells) == 4 for q in gold)
    assert check_gold(gold, read_texts(PAPERS_EN)) == []
    points = [len(p) for q in gold for p in q.cells.values() if p]
    assert points and all(2 <= n <= 4 for n in points)


def test_chinese_gold_quotes_are_verbatim(shared_corpus):
    gold = load_review_gold(ROOT / "eval" / "review" / "gold_zh.jsonl")
    assert len(gold) >= 10 and all(len(q.cells) == 3 for q in gold)
    assert check_gold(gold, read_texts(shared_corpus)) == []


def test_gold_checker_names_each_problem():
    gold = [
        GoldQuestion(
            "q1",
            "?",
            "en",
            {
                "a.txt": (GoldPoint((("alpha",), ("zeta",)), "alpha beta"), GoldPoint((("beta",),), "x" * 40)),
                "b.txt": (),
            },
        )
    ]
    problems = check_gold(gold, {"a.txt": "Alpha  beta gamma.", "b.txt": ""})
    assert problems == [
        "q1 a.txt: no keyword of ['zeta'] in the paper",
        f"q1 a.txt: quote of 40 characters: {'x' * 40}",
        f"q1 a.txt: quote not in the paper: {'x' * 40}",
    ]


def test_scorer_counts_points_citations_decisions_and_length():
    gold = [
        GoldQuestion(
            "q1",
            "?",
            "en",
            {
                "a": (GoldPoint((("apple",),), "red apple"), GoldPoint((("pear", "quince"),), "green pear")),
                "b": (),
                "c": (GoldPoint((("plum",),), "ripe plum"),),
            },
        )
    ]
    cells = [
        ScoredCell("q1", "a", True, "“A Red  Apple”[1] and a quince[2]", ("It is a red apple.", "no")),
        ScoredCell("q1", "b", False, ""),
        ScoredCell("q1", "c", False, ""),
    ]
    s = score(gold, cells, {"q1": {"a"}})["summary"]["overall"]
    assert s["point_recall"] == round(2 / 3, 4)  # the quote, then a keyword alternative; c refused
    assert s["evidence_cited"] == round(1 / 3, 4)  # only "red apple" is inside a cited passage
    assert s["false_not_discussed"] == 0.5 and s["correct_not_discussed"] == 1.0
    assert s["pooled_coverage"] == 0.5
    assert s["cell_chars_max"] == len("“A Red  Apple”[1] and a quince[2]")


def test_logistic_fit_separates_and_maps_back_to_raw_features():
    rows = [dict.fromkeys(FEATURES, 0.0) | {"null_z": float(v)} for v in (-3, -2, -1.5, 1.5, 2, 3)]
    model = fit(rows, [0, 0, 0, 1, 1, 1])
    assert [model.prob(r) > 0.5 for r in rows] == [False, False, False, True, True, True]
    assert model.weights[FEATURES.index("null_z")] > 0


def test_review_over_a_real_index(small_assistant):
    """Points are verbatim sentences (or parts of them) of the paper's passages, 2-8 per cell, in the paper's
    order, within the cell budget; a paper that does not discuss the question gets its nearest sentence."""
    from rag.review import review_questions

    r = small_assistant.retriever
    docs = list(r.index.doc_order)
    (rev,) = review_questions(r, [("q1", "What does each paper say about submarine cable faults?")], docs)
    assert [c.doc for c in rev.cells] == docs
    assert rev.topic == "submarine cable faults" and rev.lang == "en"
    for c in rev.cells:
        if c.status == "discussed":
            assert 1 <= len(c.points) <= 8 and len(c.answer) <= 600
            assert [p.row for p in c.points] == sorted(p.row for p in c.points)
            for p in c.points:
                assert p.quote in r.index.chunks[p.position].text
                assert c.doc == r.index.chunks[p.position].doc_id
        else:
            assert c.points == () and c.nearest is not None and c.answer == ""
    cables = next(c for c in rev.cells if c.doc == "en_notes.md")
    assert cables.status == "discussed" and any("fishing" in p.quote for p in cables.points)


def test_rag_review_cli_writes_every_output_and_resumes(small_settings, tmp_path):
    env = {"RAG_INDEX_DIR": str(small_settings.store.index_dir), "RAG_CACHE_DIR": str(small_settings.store.cache_dir)}
    qs = tmp_path / "q.txt"
    qs.write_text('What does each paper say about cable repairs?\n=HYPERLINK("x")\n', encoding="utf-8")
    index = small_settings.index_path.name
    for ext in ("md", "xlsx", "jsonl"):
        out = tmp_path / f"review.{ext}"
        done = rag_cli("review", str(qs), "--out", str(out), "--index", index, "--json", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        rep = json.loads(done.stdout)
        assert rep["questions"] == 2 and rep["new"] == 2 and rep["cells"] == 2 * len(rep["docs"])
        assert out.is_file() and not (tmp_path / f"review.{ext}.partial.jsonl").exists()
    recs = [json.loads(x) for x in (tmp_path / "review.jsonl").read_text("utf-8").splitlines()]
    assert len(recs) == 2 * len(rep["docs"]) and {r["status"] for r in recs} <= {"discussed", "not discussed"}
    for r in recs:
        assert all(set(p) == {"n", "quote", "page", "section", "chunk_id", "score"} for p in r["points"])
        # the record names its paper's reference list entry (plain style by default: "authors. title")
        assert r["reference"] and r["reference"].endswith(r["title"]) or r["reference"] == r["doc"]
    again = rag_cli(
        "review", str(qs), "--out", str(tmp_path / "review.jsonl"), "--index", index, "--json", cwd=tmp_path, env=env
    )
    assert json.loads(again.stdout)["new"] == 0 and json.loads(again.stdout)["resumed"] == 2
    md = (tmp_path / "review.md").read_text("utf-8")
    assert "## Matrix" in md and "## References" in md
    from openpyxl import load_workbook

    wb = load_workbook(tmp_path / "review.xlsx")
    assert wb.sheetnames[0] == "overview" and wb.sheetnames[-1] == "references" and len(wb.sheetnames) == 4
    assert wb["overview"]["C3"].value == '\'=HYPERLINK("x")'  # the question stays text, never a formula
    bad = rag_cli("review", str(qs), "--out", str(tmp_path / "r.csv"), "--index", index, cwd=tmp_path, env=env)
    assert bad.returncode == 1 and bad.stderr.strip().splitlines() == [
        "error: cannot write '.csv' files; give --out a .md, .xlsx or .jsonl path"
    ]


def test_review_suite_reaches_its_floors(tmp_path, shared_corpus):
    """The review gate: both gold sets reviewed with the default settings (floors at what was measured,
    eval/NOTES.md; the issue's targets are higher where these are below them)."""
    from rag.review.evaluate import evaluate_review
    from rag.settings import load_settings

    s = load_settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    rep = evaluate_review([ROOT / "eval" / "review" / "suites.toml"], s)
    # measured .65 / .50 recall, .70 / .73 evidence, false ND .00 / .10, correct ND .83 / .94, pooled 1.0 / .90
    # (eval/NOTES.md, issue 27 rounds 4-5): floors about two points below, never lowered
    for name, floor in {"review-zh": 0.63, "review-en": 0.48}.items():
        o = rep["suites"][name]["summary"]["overall"]
        assert rep["suites"][name]["meta"]["gold_problems"] == []
        assert o["point_recall"] >= floor, (name, o)
        assert o["evidence_cited"] >= 0.65, (name, o)
        assert o["false_not_discussed"] <= 0.12, (name, o)
        assert o["correct_not_discussed"] >= 0.80, (name, o)
        assert o["pooled_coverage"] >= 0.88, (name, o)
        assert o["cell_chars_max"] <= 600, (name, o)
    # English questions over the Chinese papers (round 5: a paper's best term share read against the best
    # paper's across languages): 0 of 7 cells wrongly "not discussed" (was 2), every discussing paper pooled
    across = rep["suites"]["review-zh"]["summary"]["by_lang:en"]
    assert across["false_not_discussed"] <= 0.15 and across["pooled_coverage"] >= 0.85, across
    # agreements across papers: right 19 of 23 on review-zh; no "opposite" label and no unrelated pair shown on
    # review-en (its 11 unrelated pairs)
    zh, en = rep["suites"]["review-zh"]["stance"], rep["suites"]["review-en"]["stance"]
    assert zh["precision"] >= 0.80 and zh["unlabelled"] <= 2, zh
    assert zh["opposite_shown"] == en["opposite_shown"] == 0 and en["right"] == en["labelled"], en
