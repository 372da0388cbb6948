"""Why review points are missed: every gold point of every review suite classified, per suite and question
language, from what `rag review` (default settings) did with the sentence that holds its quote.

    python eval/review/misses.py eval/review/suites.toml [--cells] [--terms]

Classes: recovered; the cell answered "not discussed"; a candidate not chosen (the cell was full, or MMR took
a similar point); ranked below the candidate cut (the paper's own mean + 1 sd, on its own scale); a piece of a
long sentence that ranks below the cut while the whole sentence is above it (the piece boundary); in no
quotable sentence. ``--cells`` lists each missed point with its rank in its paper; ``--terms`` prints, for
each question asked in another language than its papers', the words its topic is matched by and the
dictionary glosses left out (what a cross-lingual question's terms become)."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from rag.answer.evidence import term_groups
from rag.answer.pipeline import Assistant
from rag.eval.suites import ensure_index, load_suites, suite_settings
from rag.review.api import DISCUSSED, encode_many, evidence, null_model, review_questions
from rag.review.extract import Scored, doc_sentences
from rag.review.frame import topic_of
from rag.review.scoring import GoldPoint, load_review_gold, norm
from rag.review.select import own_relevance
from rag.settings import load_settings

RECOVERED = "recovered"
NOT_DISCUSSED = "cell answered 'not discussed'"
FULL = "candidate, not chosen (cell full / MMR)"
BELOW = "ranked below the candidate cut"
BOUNDARY = "piece boundary (sentence above the cut, its piece below)"
NOWHERE = "in no quotable sentence"


def classify(s: Scored, z: np.ndarray, point: GoldPoint, answer: str, discussed: bool) -> tuple[str, str]:
    """The class of one gold point of one cell (``z``: the paper's own relevance, as points are chosen by),
    and where its sentence ranked."""
    if norm(point.quote) in answer or all(any(norm(a) in answer for a in g) for g in point.keywords):
        return RECOVERED, ""
    if not discussed:
        return NOT_DISCUSSED, ""
    own = z[s.sents.usable]
    cut = float(own.mean() + own.std()) if len(own) else 0.0
    every = np.flatnonzero(s.sents.candidate)
    rank = {int(i): k for k, i in enumerate(every[np.argsort(-z[every], kind="stable")])}
    hits = [i for i, t in enumerate(s.sents.texts) if norm(point.quote) in norm(t)]
    cands = [i for i in hits if s.sents.candidate[i]]
    if not cands:
        return NOWHERE, ""
    best = max(cands, key=lambda i: z[i])
    where = f"rank {rank[best] + 1} of {len(every)}, z {z[best]:.2f}, cut {cut:.2f}, {len(s.sents.texts[best])} chars"
    piece = s.sents.piece is not None and bool(s.sents.piece[best])
    if z[best] >= cut:
        return FULL, where
    whole = [i for i in hits if not s.sents.candidate[i]]
    if piece and whole and max(float(z[i]) for i in whole) >= cut:
        return BOUNDARY, where
    return BELOW, where


def suite_misses(suite, settings, show_cells: bool, show_terms: bool) -> Counter:
    """Counts of (question language, class) over one suite's gold points."""
    ensure_index(suite, settings)
    r = Assistant.open(suite_settings(suite, settings)).retriever
    gold = load_review_gold(suite.gold)
    docs = list(dict.fromkeys(d for q in gold for d in q.cells))
    reviews = review_questions(r, [(q.id, q.question) for q in gold], docs)
    sents = [doc_sentences(r, d) for d in docs]
    queries = encode_many(r, [topic_of(q.question) for q in gold])
    nulls = null_model(r, sents, {q.lang for q in queries})
    counts: Counter = Counter()
    for q, query, review in zip(gold, queries, reviews):
        scored, _ = evidence(r, query, sents, nulls[query.lang])
        cells = {c.doc: c for c in review.cells}
        if show_terms and scored and scored[0].own_lang < 0.5:
            glossed = [alts for alts, _ in term_groups(query, r)]
            print(f"{suite.name} {q.id} [{q.lang}] {query.text!r}: matched by {[g[0] for g in scored[0].groups]}")
            print(f"    the dictionary's words: {glossed}")
        for s in scored:
            c = cells[s.sents.doc]
            for p in q.cells.get(s.sents.doc, ()):
                kind, where = classify(s, own_relevance(r, s), p, norm(c.answer), c.status == DISCUSSED)
                counts[(q.lang, kind)] += 1
                if show_cells and kind != RECOVERED:
                    print(f"{suite.name} {q.id} [{q.lang}] {s.sents.doc}: {kind}: {p.quote!r} {where}")
    return counts


def main() -> None:
    """Print the miss classes of every suite of a review suites file."""
    ap = argparse.ArgumentParser()
    ap.add_argument("suites", type=Path)
    ap.add_argument("--cells", action="store_true", help="list every missed point")
    ap.add_argument("--terms", action="store_true", help="the words cross-lingual questions are matched by")
    args = ap.parse_args()
    settings = load_settings()
    order = (RECOVERED, NOT_DISCUSSED, FULL, BELOW, BOUNDARY, NOWHERE)
    rows = []
    for suite in load_suites([args.suites]):
        counts = suite_misses(suite, settings, args.cells, args.terms)
        for lang in sorted({k[0] for k in counts}):
            total = sum(v for k, v in counts.items() if k[0] == lang)
            rows.append(
                f"| {suite.name} | {lang} | {total} | " + " | ".join(str(counts[(lang, c)]) for c in order) + " |"
            )
    print("| suite | question language | points | " + " | ".join(order) + " |")
    print("|---|---|---|" + "---|" * len(order))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
