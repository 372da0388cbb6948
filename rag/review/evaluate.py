"""Review suites: each a corpus and a review gold file (eval/review/suites.toml), indexed once like the
answer suites, reviewed with the default settings and scored (`rag eval --review`). ``baseline="by-doc"``
scores what `rag batch --by-doc` answers instead (and plain `rag ask` for the pooled answer)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rag.eval.suites import Suite, ensure_index, load_suites, suite_settings
from rag.review.api import DISCUSSED, QuestionReview, review_questions
from rag.review.scoring import (
    GoldQuestion,
    ScoredCell,
    check_gold,
    load_review_gold,
    load_stance_gold,
    read_texts,
    score,
    score_stance,
    stance_gold_path,
)
from rag.settings import Settings

# the metrics a review report leads with, and the direction that is better
HEADLINE = (
    "point_recall",
    "evidence_cited",
    "false_not_discussed",
    "correct_not_discussed",
    "pooled_coverage",
    "cell_chars_mean",
    "cell_chars_max",
)


def review_cells(reviews: list[QuestionReview], retriever) -> tuple[list[ScoredCell], dict[str, set[str]]]:
    """The scorer's view of reviews: per cell its text and cited passages; per question the papers its
    pooled answer covers."""
    idx = retriever.index
    cells, pooled = [], {}
    for r in reviews:
        pooled[r.id] = {c.doc for c in r.cells if c.status == DISCUSSED and c.points}
        for c in r.cells:
            passages = tuple(idx.chunks[p.position].text for p in c.points)
            cells.append(ScoredCell(r.id, c.doc, c.status == DISCUSSED, c.answer, passages))
    return cells, pooled


def by_doc_cells(assistant, gold: list[GoldQuestion]) -> tuple[list[ScoredCell], dict[str, set[str]]]:
    """What `rag batch --by-doc` gives each (question, paper), and what one `rag ask` over the whole library
    cites (the pooled answer before this package)."""
    cells, pooled = [], {}
    for q in gold:
        for doc in q.cells:
            a = assistant.ask(q.question, None, [doc])
            cells.append(
                ScoredCell(
                    q.id, doc, not a.abstained, a.answer if not a.abstained else "", tuple(c.text for c in a.citations)
                )
            )
        whole = assistant.ask(q.question)
        pooled[q.id] = set() if whole.abstained else {c.doc for c in whole.citations}
    return cells, pooled


def evaluate_review_suite(
    suite: Suite, settings: Settings, baseline: str = "", progress: Callable[[str, int, int], None] | None = None
) -> dict:
    """Index the suite's corpus (kept), check its gold against the papers, review (or answer, for the
    by-doc baseline) every question and score it."""
    from rag.answer.pipeline import Assistant

    gold = load_review_gold(suite.gold)
    problems = check_gold(gold, read_texts(suite.corpus))
    ensure_index(suite, settings, progress)
    assistant = Assistant.open(suite_settings(suite, settings))
    t0 = time.perf_counter()
    if baseline == "by-doc":
        cells, pooled = by_doc_cells(assistant, gold)
    else:
        tick = (lambda d, t: progress(f"reviewing {suite.name}", d, t)) if progress else None
        reviews = review_questions(assistant.retriever, [(q.id, q.question) for q in gold], _docs(gold), tick)
        cells, pooled = review_cells(reviews, assistant.retriever)
    seconds = time.perf_counter() - t0
    out = score(gold, cells, pooled)
    stance = stance_gold_path(suite.gold)
    if baseline != "by-doc" and stance.is_file():
        shown = [(r.id, a.doc_a, a.quote_a, a.doc_b, a.quote_b, a.relation) for r in reviews for a in r.agreements]
        out["stance"] = score_stance(load_stance_gold(stance), shown)
    out["meta"] = {
        "suite": suite.name,
        "gold": suite.gold.name,
        "questions": len(gold),
        "papers": len(_docs(gold)),
        "system": baseline or "review",
        "seconds": round(seconds, 3),
        "gold_problems": problems,
    }
    return out


def _docs(gold: list[GoldQuestion]) -> list[str]:
    return list(dict.fromkeys(d for q in gold for d in q.cells))


def evaluate_review(
    paths: list[Path], settings: Settings, baseline: str = "", progress: Callable[[str, int, int], None] | None = None
) -> dict:
    """Every review suite of the given TOML lists or folders: a report per suite and the rows side by side."""
    suites = load_suites(paths)
    reports = {s.name: evaluate_review_suite(s, settings, baseline, progress) for s in suites}
    return {
        "summary": {n: {m: r["summary"]["overall"][m] for m in HEADLINE} for n, r in reports.items()},
        "suites": reports,
    }


def summary_table(report: dict) -> str:
    """The per-suite rows as a Markdown table (overall and per question language)."""
    head = "| suite | group | " + " | ".join(HEADLINE) + " |"
    lines = [head, "|" + "---|" * (len(HEADLINE) + 2)]
    for name, r in report["suites"].items():
        for group, s in r["summary"].items():
            lines.append(f"| {name} | {group} | " + " | ".join(str(s[m]) for m in HEADLINE) + " |")
    stance = [(name, r["stance"]) for name, r in report["suites"].items() if "stance" in r]
    lines += [""] if stance else []
    for name, s in stance:
        lines.append(
            f"{name} agreements: {s['shown']} shown, {s['right']} of {s['labelled']} labelled right "
            f"(precision {s['precision']}), same-point recall {s['same_recall']}, {s['unlabelled']} unlabelled"
        )
    return "\n".join(lines)
