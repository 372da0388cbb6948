"""Fit the "not discussed" model (rag/data/review_model.json) on one review suite's gold and report it on
every suite: features of each (question, paper) cell, labels from the gold (points or "not addressed").

    python eval/review/fit.py eval/review/suites.toml --train review-en [--dense-train review-zh] [--keep-dense] [--write]

Leave-one-paper-out on the training suite shows how well it generalises to a paper it never saw; the
other suites are held out entirely. The dense-only fallback (used when no reviewed paper has any of the
question's terms) is fitted on ``--dense-train`` (default: the same suite) over every cell, and reported on
the cells it decides."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from rag.answer.pipeline import Assistant
from rag.eval.suites import ensure_index, load_suites, suite_settings
from rag.review.api import encode_many, evidence, null_model
from rag.review.decide import DENSE_FEATURES, FEATURES, MODEL, Model, fit, load_fallback, load_model, save_model
from rag.review.extract import doc_sentences
from rag.review.frame import topic_of
from rag.review.scoring import load_review_gold
from rag.settings import load_settings


def cells(suite, settings) -> list[tuple[str, str, dict, int]]:
    """(question id, paper, features, 1 if the gold gives the paper points) for every gold cell."""
    ensure_index(suite, settings)
    a = Assistant.open(suite_settings(suite, settings))
    gold = load_review_gold(suite.gold)
    docs = list(dict.fromkeys(d for q in gold for d in q.cells))
    sents = [doc_sentences(a.retriever, d) for d in docs]
    out = []
    queries = encode_many(a.retriever, [topic_of(q.question) for q in gold])
    nulls = null_model(a.retriever, sents, {x.lang for x in queries})
    for q, query in zip(gold, queries):
        _, feats = evidence(a.retriever, query, sents, nulls[query.lang])
        for d, f in zip(docs, feats):
            out.append((q.id, d, f, int(bool(q.cells.get(d)))))
    return out


def rates(model: Model, rows) -> str:
    """False and correct "not discussed" of a model on labelled cells."""
    pos = [r for r in rows if r[3]]
    neg = [r for r in rows if not r[3]]
    fnd = sum(model.prob(r[2]) < model.threshold for r in pos) / max(1, len(pos))
    cnd = sum(model.prob(r[2]) < model.threshold for r in neg) / max(1, len(neg))
    return f"false not-discussed {fnd:.3f} ({len(pos)} cells), correct not-discussed {cnd:.3f} ({len(neg)} cells)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("suites", type=Path)
    ap.add_argument("--train", required=True)
    ap.add_argument("--dense-train", default="")
    ap.add_argument("--dense-only", action="store_true", help="keep the shipped main model; refit the fallback")
    ap.add_argument("--keep-dense", action="store_true", help="keep the shipped fallback; refit the main model")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    settings = load_settings()
    data = {s.name: cells(s, settings) for s in load_suites([args.suites])}
    # the main model decides only the cells with term evidence (the fallback decides the rest): fit it on those
    train = [r for r in data[args.train] if r[2]["lexical"]]
    held = []
    dense_on = args.dense_train or args.train
    dense = fit([r[2] for r in data[dense_on]], [r[3] for r in data[dense_on]], features=DENSE_FEATURES)
    if args.keep_dense:
        shipped = load_fallback()
        assert shipped is not None, "the shipped model has no dense fallback to keep"
        dense = shipped
    for doc in sorted({r[1] for r in train}):  # leave one paper out
        m = replace(fit([r[2] for r in train if r[1] != doc], [r[3] for r in train if r[1] != doc]), dense=dense)
        held += [(r[0], r[1], r[2], r[3], m.prob(r[2])) for r in data[args.train] if r[1] == doc]
    pos = [h for h in held if h[3]]
    neg = [h for h in held if not h[3]]
    print(
        f"{args.train} leave-one-paper-out: false not-discussed {sum(h[4] < 0.5 for h in pos) / max(1, len(pos)):.3f}, "
        f"correct not-discussed {sum(h[4] < 0.5 for h in neg) / max(1, len(neg)):.3f}"
    )
    if args.dense_only:
        model = replace(load_model(), dense=None)
        print("main model: the shipped one (rag/data/review_model.json)")
    else:
        model = fit([r[2] for r in train], [r[3] for r in train])
    both = replace(model, dense=dense)
    for name, rows in data.items():
        print(f"{name}{' (train)' if name == args.train else ' (held out)'}: {rates(model, rows)}")
        blind = [r for r in rows if not r[2]["lexical"]]
        if blind:
            print(f"  without term evidence ({len(blind)} cells): main {rates(model, blind)}")
            print(f"  dense fallback (fitted on {dense_on}): {rates(both, blind)}")
            print(f"  {name} with the fallback: {rates(both, rows)}")
    print("weights", dict(zip(FEATURES, [round(w, 3) for w in model.weights])), round(model.bias, 3))
    print("dense weights", dict(zip(DENSE_FEATURES, [round(w, 3) for w in dense.weights])), round(dense.bias, 3))
    if args.write:
        main = (
            "shipped earlier (fitted on review-en)"
            if args.dense_only
            else f"fitted on {args.train} ({len(train)} cells)"
        )
        fallback = "shipped earlier (fitted on review-zh)" if args.keep_dense else f"fitted on {dense_on}"
        note = f"main model {main}; dense fallback {fallback} (eval/review/fit.py)"
        save_model(both, MODEL, note)
        print(f"wrote {MODEL}")


if __name__ == "__main__":
    main()
