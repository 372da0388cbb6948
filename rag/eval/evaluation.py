"""Evaluation: run gold questions through the real pipeline and score retrieval, answers, abstention.

Evidence is matched by text (NFKC, whitespace removed), so the metrics survive re-chunking.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Iterable
from difflib import SequenceMatcher

from rag.eval.gold import GoldQuestion
from rag.lang.text import squash
from rag.records import Answer

KS = (1, 3, 5, 10)
MIN_BOUNDARY_SHARE = 0.6  # a passage "holds most of" a quote cut by a chunk boundary


# --- matching and metrics -----------------------------------------------------------------------


def supports(passage: str, quote: str) -> bool:
    """A passage supports a quote when it contains it, or most of it across a chunk boundary."""
    p, q = squash(passage), squash(quote)
    if not q:
        return False
    if q in p:
        return True
    need = max(8, int(MIN_BOUNDARY_SHARE * len(q)))
    if len(p) < need:
        return False
    m = SequenceMatcher(None, p, q, autojunk=False).find_longest_match(0, len(p), 0, len(q))
    # the shared run must touch the passage's edge and the quote's matching edge: a real boundary cut
    at_end = m.a + m.size == len(p) and m.b == 0
    at_start = m.a == 0 and m.b + m.size == len(q)
    return m.size >= need and (at_end or at_start)


def retrieval_metrics(passages: list[str], quotes: list[str], ks: Iterable[int] = KS) -> dict[str, float]:
    """Recall, Success, MRR and nDCG at each k, a passage relevant when it supports an evidence quote."""
    cover = [{i for i, q in enumerate(quotes) if supports(p, q)} for p in passages]
    out: dict[str, float] = {}
    for k in ks:
        top = cover[:k]
        found = set().union(*top) if top else set()
        out[f"recall@{k}"] = len(found) / len(quotes)
        out[f"success@{k}"] = 1.0 if found else 0.0
        first = next((r for r, c in enumerate(top, start=1) if c), None)
        out[f"mrr@{k}"] = 1.0 / first if first else 0.0
        seen: set[int] = set()
        dcg = 0.0
        for r, c in enumerate(top, start=1):
            new = c - seen
            if new:
                dcg += 1.0 / _log2(r + 1)
                seen |= new
        ideal = sum(1.0 / _log2(r + 1) for r in range(1, min(len(quotes), k) + 1))
        out[f"ndcg@{k}"] = dcg / ideal
    first_any = next((r for r, c in enumerate(cover, start=1) if c), None)
    out["first_relevant_rank"] = float(first_any or 0)
    return out


def _log2(x: float) -> float:
    import math

    return math.log2(x)


def keyword_coverage(answer: str, groups: tuple[tuple[str, ...], ...]) -> tuple[float, list[str]]:
    """Share of keyword groups with an alternative in the answer, and the groups missed."""
    if not groups:
        return 1.0, []
    a = squash(answer).casefold()
    missed = [" / ".join(g) for g in groups if not any(squash(alt).casefold() in a for alt in g)]
    return 1 - len(missed) / len(groups), missed


_MARK = re.compile(r"\[(\d+)\]")


def citation_metrics(answer: Answer, quotes: list[str]) -> dict[str, float]:
    """Citation validity (every [n] resolves), support (cited passages hold gold evidence),
    and the share of answer sentences carrying a citation."""
    ns = {c.n for c in answer.citations}
    marks = [int(m) for m in _MARK.findall(answer.answer)]
    validity = 1.0 if marks and all(m in ns for m in marks) else 0.0
    cited = [c for c in answer.citations if c.n in set(marks)]
    support = sum(any(supports(c.text, q) for q in quotes) for c in cited) / len(cited) if cited else 0.0
    with_cite, total = _sentences_with_citation(answer.answer)
    share = with_cite / total if total else 0.0
    return {"citation_validity": validity, "citation_support": support, "cited_sentence_share": share}


def _sentences_with_citation(text: str) -> tuple[int, int]:
    """(sentences ending in a citation, sentences) of an answer."""
    from rag.lang.text import split_sentences

    # a citation mark belongs to the sentence before it: split after each run of marks
    pieces = re.split(r"((?:\[\d+\])+)", text)
    total = cited = 0
    for i in range(0, len(pieces), 2):
        body = pieces[i]
        marks = pieces[i + 1] if i + 1 < len(pieces) else ""
        spans = [body[a:b] for a, b in split_sentences(body) if re.search(r"\w", body[a:b])]
        if not spans:
            continue
        total += len(spans)
        cited += 1 if marks else 0  # only the last sentence before the marks is cited
    return cited, total


# --- running ------------------------------------------------------------------------------------


def evaluate_question(assistant, g: GoldQuestion, k: int) -> dict:
    """Run one gold question through the real pipeline and score it; returns a per-question row.

    Retrieval runs once, ``max(KS)`` deep: the answer is generated from its first ``k`` hits, which
    are exactly what a ``k``-deep retrieval returns (the same candidates, fused and de-duplicated in
    order; ``Assistant.search``, as ``ask`` does: a question naming a document by title searches that document,
    and passages no answer may rest on are left out before the cut), so the answer equals
    ``assistant.ask(question, k)``.
    """
    from rag.answer.pipeline import check_question

    t = time.perf_counter()
    question = check_question(g.question, assistant.settings.answer.max_question_chars)
    query = assistant.retriever.encode(question)
    deep = assistant.search(question, query, max(KS, default=k))
    *_, answer = assistant.answer_hits(question, query, deep[:k], t)
    latency = (time.perf_counter() - t) * 1000
    quotes = [e.quote for e in g.evidence]
    row: dict = {
        "id": g.id,
        "question": g.question,
        "lang": g.lang,
        "kind": g.kind,
        "answerable": g.answerable,
        "abstained": answer.abstained,
        "confidence": round(answer.confidence, 6),
        "latency_ms": latency,
        "n_citations": len(answer.citations),
        "answer_head": answer.answer[:30],
        "reasons": [],
    }
    if g.answerable:
        row.update(retrieval_metrics([h.chunk.text for h in deep], quotes))
        cov, missed = keyword_coverage(answer.answer if not answer.abstained else "", g.keywords)
        row["key_fact_coverage"] = cov
        # whether the answer, or the draft a refusal held back, has every key fact: the points of the
        # precision/coverage curve at other thresholds
        row["draft_covers"] = (
            keyword_coverage(answer.answer if not answer.abstained else answer.draft, g.keywords)[0] == 1
        )
        row["missing_keywords"] = missed
        if answer.abstained:
            row.update({"citation_validity": 0.0, "citation_support": 0.0, "cited_sentence_share": 0.0})
            row["reasons"].append("refused an answerable question")
        else:
            row.update(citation_metrics(answer, quotes))
        if row["recall@5"] < 1:
            row["reasons"].append(
                f"evidence not in top 5 (first relevant rank: {int(row['first_relevant_rank']) or '>10'})"
            )
        if missed and not answer.abstained:
            row["reasons"].append("missing key facts: " + "; ".join(missed))
        if not answer.abstained and row["citation_support"] < 1:
            row["reasons"].append(f"citation support {row['citation_support']:.2f}")
        row["pass"] = row["recall@5"] == 1 and cov == 1 and not answer.abstained and row["citation_validity"] == 1
    else:
        if not answer.abstained:
            row["reasons"].append("answered an unanswerable question")
        row["pass"] = answer.abstained
    return row


def summarize(rows: list[dict]) -> dict[str, float]:
    """Aggregate metrics over a group of per-question rows."""
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    out: dict[str, float] = {"n": len(rows), "n_answerable": len(ans), "n_unanswerable": len(una)}
    keys = [f"{m}@{k}" for m in ("recall", "success", "mrr", "ndcg") for k in KS]
    keys += ["key_fact_coverage", "citation_validity", "citation_support", "cited_sentence_share"]
    for key in keys:
        if ans:
            out[key] = statistics.fmean(r[key] for r in ans)
    if una:
        out["correct_refusal_rate"] = sum(r["abstained"] for r in una) / len(una)
    if ans:
        out["false_refusal_rate"] = sum(r["abstained"] for r in ans) / len(ans)
    answered = [r for r in rows if not r["abstained"]]
    out["n_answered"] = len(answered)
    if answered:
        correct = [r for r in answered if r["answerable"] and r["key_fact_coverage"] == 1]
        out["answered_precision"] = len(correct) / len(answered)
    out["pass_rate"] = sum(r["pass"] for r in rows) / len(rows) if rows else 0.0
    lat = sorted(r["latency_ms"] for r in rows)
    if lat:
        out["latency_p50_ms"] = statistics.median(lat)
        out["latency_p95_ms"] = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
    return out


def evaluate(
    assistant, gold: list[GoldQuestion], k: int = 5, progress: Callable[[int, int], None] | None = None
) -> dict:
    """The full report: meta, summary (overall, by lang, by kind) and per-question rows."""
    assistant.ask(gold[0].question, k=k)  # warm-up, so latency is warm latency
    rows = []
    for i, g in enumerate(gold, start=1):
        rows.append(evaluate_question(assistant, g, k))
        if progress:
            progress(i, len(gold))
    groups: dict[str, dict[str, list[dict]]] = {"by_lang": {}, "by_kind": {}}
    for r in rows:
        groups["by_lang"].setdefault(r["lang"], []).append(r)
        groups["by_kind"].setdefault(r["kind"], []).append(r)
    s = assistant.settings
    idx = assistant.retriever.index
    return {
        "meta": {
            "k": k,
            "index": str(idx.path),
            "embedder": idx.embedder_id,
            "chunking": idx.params["chunking"],
            "generator": assistant.generator.name,
            "fusion": s.retrieval.fusion,
            "abstain_threshold": _threshold(assistant),
            "documents": len(idx.docs),
            "questions": len(rows),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
        "summary": {
            "overall": summarize(rows),
            "by_lang": {k_: summarize(v) for k_, v in sorted(groups["by_lang"].items())},
            "by_kind": {k_: summarize(v) for k_, v in sorted(groups["by_kind"].items())},
        },
        "questions": rows,
    }


def _threshold(assistant) -> float | None:
    """The probability the best span needs (same language), as the generator applies it."""
    gen = getattr(assistant.generator, "extractive", assistant.generator)
    return getattr(gen, "threshold", None)


# --- regression gate ----------------------------------------------------------------------------

GATED = [f"{m}@{k}" for m in ("recall", "success", "mrr", "ndcg") for k in KS] + [
    "key_fact_coverage",
    "citation_validity",
    "citation_support",
    "cited_sentence_share",
    "correct_refusal_rate",
    "answered_precision",
    "pass_rate",
]
LOWER_IS_BETTER = ["false_refusal_rate"]
# The pipeline is deterministic: two runs on one machine give identical reports. Across machines the
# linear algebra libraries may round differently (measured: one near-tie in 46 dev questions ranked the
# other way on another CPU), so a metric may move by the weight of one question before the gate fails.
DEFAULT_TOLERANCE = 1e-9
DEFAULT_QUESTIONS = 1.0


def _per_question(metric: str, summary: dict) -> float:
    """How much one question moves ``metric`` (1 / the number of questions it averages over)."""
    if metric == "correct_refusal_rate":
        n = summary.get("n_unanswerable", 0)
    elif metric == "pass_rate":
        n = summary.get("n", 0)
    elif metric == "answered_precision":
        n = summary.get("n_answered", summary.get("n", 0))
    else:
        n = summary.get("n_answerable", 0)
    return 1.0 / n if n else 0.0


def compare(report: dict, baseline: dict, tolerance: float = DEFAULT_TOLERANCE, questions: float = 0.0) -> dict:
    """Aggregate drops beyond ``tolerance`` (plus the weight of ``questions`` questions) and per-question
    pass/fail changes against a baseline."""
    cur, base = report["summary"]["overall"], baseline["summary"]["overall"]
    drops, gains = [], []
    for m in GATED + LOWER_IS_BETTER:
        if m not in cur or m not in base:
            continue
        delta = cur[m] - base[m]
        worse = -delta if m not in LOWER_IS_BETTER else delta
        entry = {"metric": m, "baseline": base[m], "current": cur[m], "delta": delta}
        allowed = tolerance + questions * _per_question(m, base)
        if worse > allowed:
            drops.append(entry)
        elif worse < -allowed:
            gains.append(entry)
    before = {q["id"]: q for q in baseline["questions"]}
    now = {q["id"]: q for q in report["questions"]}
    broke = [
        {"id": i, "question": now[i].get("question", ""), "reasons": now[i]["reasons"]}
        for i in now
        if i in before and before[i]["pass"] and not now[i]["pass"]
    ]
    fixed = [i for i in now if i in before and not before[i]["pass"] and now[i]["pass"]]
    return {
        "tolerance": tolerance,
        "questions": questions,
        "drops": drops,
        "gains": gains,
        "pass_to_fail": broke,
        "fail_to_pass": fixed,
        "missing": sorted(set(before) - set(now)),
        "new": sorted(set(now) - set(before)),
        "ok": not drops,
    }
