"""Train the answer model (rag/data/answer_model.json) on the public suites, split by document.

    python bench/train_answer_model.py                      # collect, train, validate, write the model
    python bench/train_answer_model.py --gold my_gold.jsonl --corpus my_papers/   # retrain on your own gold
    python bench/train_answer_model.py --sentence-vectors pooled   # the model for pooled indexes
                                                                   # (rag/data/answer_model_pooled.json)

For every gold question the real pipeline retrieves its passages and lists the quotable spans with
their features (rag/answer/evidence.py); a span is labelled an answer when it holds one of the question's
key facts. Questions are split into training and validation sets by document — never by question —
so no validation passage is ever seen in training: a question belongs to the document its evidence
is in; an unanswerable question to the article it was written about (CMRC: its id names it; SQuAD:
the document of the answerable questions around it, in file order). Logistic regression is fitted on
the training documents of the training suites only; the refusal threshold is chosen on them too
(the validation documents and the other suites are only measured). The validation figures printed
here are the ones recorded in eval/NOTES.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.answer.absent_terms import in_document  # noqa: E402
from rag.answer.answer_model import DEFAULT, POOLED, AnswerModel  # noqa: E402
from rag.answer.evidence import FEATURES, Evidence, features, idf, max_idf  # noqa: E402
from rag.answer.pipeline import Assistant  # noqa: E402
from rag.eval.gold import load_gold  # noqa: E402
from rag.eval.suites import Suite, ensure_index, load_suites, suite_settings  # noqa: E402
from rag.lang.text import squash  # noqa: E402
from rag.settings import load_settings  # noqa: E402

TRAIN_SUITES = ("cmrc2018", "squad2", "cmrc2018-en")
# the English-over-Chinese suite is small (31 questions) but the only cross-lingual data: its spans weigh more
SUITE_WEIGHTS = {"cmrc2018-en": 10.0, "cmrc2018-en+near": 10.0}
VAL_SHARE = 0.3


def groups_of(questions) -> list[str]:
    """The document each question belongs to, for the train/validation split."""
    out, last = [], ""
    for g in questions:
        if g.evidence and g.evidence[0].doc:
            last = g.evidence[0].doc
            out.append(last)
        elif g.id.startswith("DEV_"):
            out.append("article:" + "_".join(g.id.split("_")[:2]))  # CMRC: DEV_<article>_QUERY_<n>
        else:
            out.append(last or g.id)  # SQuAD: written about the paragraphs around it
    return out


def validation_groups(groups: list[str]) -> set[str]:
    """About VAL_SHARE of the documents, chosen by hash (at least one, and never all)."""
    uniq = sorted(set(groups))
    val = {g for g in uniq if int(hashlib.sha1(g.encode()).hexdigest(), 16) % 1000 < VAL_SHARE * 1000}
    if not val:
        val = {uniq[-1]}
    if len(val) == len(uniq) and len(uniq) > 1:
        val.discard(uniq[0])
    return val


def label(text: str, keywords) -> bool:
    """Whether a span holds one of the question's key facts (any alternative of any group)."""
    t = squash(text).casefold()
    return any(squash(a).casefold() in t for grp in keywords for a in grp)


def _script(term: str) -> str:
    """'latin', 'han' or '' (a term of neither kind, or a number, is never swapped)."""
    if re.fullmatch(r"[a-z][a-z\-]{3,}", term):
        return "latin"
    if re.fullmatch(r"[\u4e00-\u9fff]{2,}", term):
        return "han"
    return ""


def near_misses(a, qs, groups: list[str], val: set[str], limit: int, seed: str) -> list:
    """Near-miss unanswerable questions made from answerable ones of the training documents: the
    question's rarest term that its document contains is replaced by a rare term of another question of
    the suite (same script) that the document never contains — the same document, asked about a detail
    it does not report. Deterministic for a seed; at most ``limit``."""
    from dataclasses import replace as dc_replace

    r = a.retriever
    top = max_idf(r) or 1.0
    encoded = [(g, r.encode(g.question)) for g in qs]
    pool: dict[str, list[str]] = {"latin": [], "han": []}
    for _, q in encoded:
        for t in q.tokens:
            kind = _script(t)
            if kind and idf(r, t) >= 0.5 * top:
                pool[kind].append(t)
    pool = {k: sorted(set(v)) for k, v in pool.items()}
    out = []
    rng = random.Random(seed)
    cands = [(i, g, q) for i, (g, q) in enumerate(encoded) if g.answerable and g.evidence and groups[i] not in val]
    rng.shuffle(cands)
    for i, g, q in cands:
        if len(out) >= limit:
            break
        doc = g.evidence[0].doc
        present = sorted((t for t in set(q.tokens) if _script(t) and in_document(r, t, doc)), key=lambda t: -idf(r, t))
        for t in present[:1]:
            kind = _script(t)
            choices = [c for c in rng.sample(pool[kind], min(40, len(pool[kind]))) if not in_document(r, c, doc)]
            if not choices:
                continue
            pat = re.compile(re.escape(t) if kind == "han" else rf"\b{re.escape(t)}\b", re.I)
            text, n = pat.subn(choices[0], g.question, count=1)
            if n:
                out.append(
                    (
                        groups[i],
                        dc_replace(g, id="nearmiss:" + g.id, question=text, answerable=False, evidence=(), keywords=()),
                    )
                )
    return out


def collect(suite: Suite, settings, k: int, near: int = 0) -> dict:
    """Features and labels of every span of every question of a suite (and per-question facts)."""
    ensure_index(suite, settings)
    a = Assistant.open(suite_settings(suite, settings))
    qs = load_gold(suite.gold)
    groups = groups_of(qs)
    if near:
        made = near_misses(a, qs, groups, validation_groups(groups), near, suite.name)
        qs = [g for _, g in made]
        groups = [grp for grp, _ in made]
    X, y, qid = [], [], []
    meta = []
    t0 = time.perf_counter()
    for i, g in enumerate(qs):
        query = a.retriever.encode(g.question)
        hits = a.retriever.retrieve(query, k)
        ev = Evidence.gather(query, hits, a.retriever)
        spans = ev.spans()
        x = features(ev, spans)
        X.append(x)
        y += [g.answerable and label(s.text, g.keywords) for s in spans]
        qid += [i] * len(spans)
        meta.append(
            {"id": g.id, "answerable": g.answerable, "group": groups[i], "lang": g.lang, "n_groups": len(g.keywords)}
        )
    print(f"  {suite.name}: {len(qs)} questions, {len(y)} spans, {time.perf_counter() - t0:.0f} s", flush=True)
    return {
        "X": np.vstack(X) if X else np.zeros((0, len(FEATURES))),
        "y": np.asarray(y, bool),
        "q": np.asarray(qid),
        "meta": meta,
    }


def question_table(data: dict, p: np.ndarray) -> list[dict]:
    """Per question: the best span's probability and whether it is right."""
    out = []
    for i, m in enumerate(data["meta"]):
        sel = np.flatnonzero(data["q"] == i)
        if len(sel):
            j = sel[int(np.argmax(p[sel]))]
            out.append({**m, "p": float(p[j]), "right": bool(data["y"][j])})
        else:
            out.append({**m, "p": 0.0, "right": False})
    return out


def metrics(rows: list[dict], threshold: float) -> dict:
    """Refusals and precision of a suite's questions at a threshold (best span only)."""
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    given = [r for r in rows if r["p"] >= threshold]
    return {
        "n": len(rows),
        "unanswerable_refused": sum(r["p"] < threshold for r in una) / len(una) if una else float("nan"),
        "answerable_refused": sum(r["p"] < threshold for r in ans) / len(ans) if ans else float("nan"),
        "precision": sum(r["answerable"] and r["right"] for r in given) / len(given) if given else float("nan"),
        "coverage": sum(r["right"] and r["p"] >= threshold for r in ans) / len(ans) if ans else float("nan"),
    }


def choose_threshold(rows: list[dict], max_false_refusal: float) -> float:
    """The highest threshold whose false-refusal rate on these (training) questions stays within the bound."""
    ans = sorted(r["p"] for r in rows if r["answerable"])
    if not ans:
        return 0.5
    return float(ans[int(max_false_refusal * len(ans))])


def fit(X: np.ndarray, y: np.ndarray, w: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    lr = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    lr.fit((X - mean) / scale, y, sample_weight=w)
    return mean, scale, lr.coef_[0], float(lr.intercept_[0])


def training_split(data: dict, train: list[str]) -> dict[str, np.ndarray]:
    """Per suite, per question: True when its document is a validation document (all of a suite not trained on)."""
    split = {}
    for name, d in data.items():
        groups = [m["group"] for m in d["meta"]]
        val = validation_groups(groups) if name in train else set(groups)
        split[name] = np.array([m["group"] in val for m in d["meta"]])
    return split


def fit_offset(z0: np.ndarray, X: np.ndarray, y: np.ndarray, w: np.ndarray, c: float) -> np.ndarray:
    """Weights of further features on top of fixed log-odds ``z0`` (weighted logistic loss, L2 as in
    scikit-learn's C), by Newton's method."""
    beta = np.zeros(X.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(z0 + X @ beta, -40, 40)))
        grad = X.T @ (w * (p - y)) + beta / c
        hess = (X * (w * p * (1 - p))[:, None]).T @ X + np.eye(len(beta)) / c
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def residual(data: dict, args) -> None:
    """Add ``args.residual`` features to the model at ``args.out`` with weights fitted on the training
    documents against the model's own log-odds; coefficients, means and threshold of the rest unchanged."""
    from rag.answer.answer_model import load_model

    base = load_model(str(args.out))
    split = training_split(data, args.train)
    new = tuple(f for f in args.residual if f not in base.features)
    cols = [FEATURES.index(f) for f in new]
    parts = []
    for n, d in data.items():
        if n not in args.train:
            continue
        keep = ~split[n][d["q"]]
        p0 = np.clip(base.probability(d["X"][keep], FEATURES, d["q"][keep]), 1e-12, 1 - 1e-12)
        parts.append((np.log(p0 / (1 - p0)), d["X"][keep][:, cols], d["y"][keep], SUITE_WEIGHTS.get(n, 1.0)))
    z0 = np.concatenate([z for z, *_ in parts])
    X = np.vstack([x for _, x, *_ in parts]).astype(np.float64)
    y = np.concatenate([t for _, _, t, _ in parts]).astype(np.float64)
    w = np.concatenate([np.full(len(t), sw) for _, _, t, sw in parts])
    # balanced classes, as the base model was fitted
    w = w * np.where(y > 0, len(y) / (2 * max(y.sum(), 1)), len(y) / (2 * max(len(y) - y.sum(), 1)))
    beta = fit_offset(z0, X, y, w, args.c)
    print("  residual weights: " + ", ".join(f"{f} {b:+.3f}" for f, b in zip(new, beta)))
    from dataclasses import replace as dc_replace

    # the base model's vetoes and veto margin are kept: the residual weights were fitted on its log-odds
    model = dc_replace(
        base,
        features=base.features + new,
        mean=np.concatenate([base.mean, np.zeros(len(new))]),
        scale=np.concatenate([base.scale, np.ones(len(new))]),
        coef=np.concatenate([base.coef, beta]),
    )
    report = {}
    for n, d in data.items():
        rows = question_table(d, model.probability(d["X"], FEATURES, d["q"]))
        val_rows = [r for r, v in zip(rows, split[n]) if v]
        report[n] = {"validation": metrics(val_rows, base.threshold)}
        v = report[n]["validation"]
        print(
            f"  {n:14} validation n={v['n']:4}  unanswerable refused {v['unanswerable_refused']:.3f}  "
            f"answerable refused {v['answerable_refused']:.3f}  precision {v['precision']:.3f}  coverage {v['coverage']:.3f}"
        )
    meta = dict(base.meta)
    meta["residual"] = {
        "features": list(new),
        "weights": [float(b) for b in beta],
        "fitted": "on the training documents, the base model's log-odds as offset (threshold unchanged)",
        "validation": report,
        "created": time.strftime("%Y-%m-%d"),
        "sentence_vectors": args.sentence_vectors,
    }
    final = dc_replace(model, meta=meta)
    args.out.write_text(json.dumps(final.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


def add_vetoes(data: dict, args) -> None:
    """Add ``args.add_veto`` features as vetoes to the model at ``args.out`` (weights and threshold kept):
    a span where one fires gets probability 0. Records, per suite, the answered questions of the training
    documents whose best span it rules out (right / wrong / unanswerable), then the validation figures."""
    from dataclasses import replace as dc_replace

    from rag.answer.answer_model import load_model

    base = load_model(str(args.out))
    model = dc_replace(base, vetoes=tuple(dict.fromkeys(base.vetoes + tuple(args.add_veto))))
    split = training_split(data, args.train)
    effect, report = {}, {}
    for n, d in data.items():
        before = question_table(d, base.probability(d["X"], FEATURES, d["q"]))
        after = question_table(d, model.probability(d["X"], FEATURES, d["q"]))
        tr = [
            (b, a)
            for b, a, v in zip(before, after, split[n])
            if (n in args.train and not v) and b["p"] >= base.threshold > a["p"]
        ]
        effect[n] = {
            "right": sum(b["answerable"] and b["right"] for b, _ in tr),
            "wrong": sum(b["answerable"] and not b["right"] for b, _ in tr),
            "unanswerable": sum(not b["answerable"] for b, _ in tr),
        }
        val_rows = [r for r, v in zip(after, split[n]) if v]
        report[n] = {"validation": metrics(val_rows, base.threshold)} if val_rows else {}
        if val_rows:
            v = report[n]["validation"]
            print(
                f"  {n:14} validation n={v['n']:4}  unanswerable refused {v['unanswerable_refused']:.3f}  "
                f"answerable refused {v['answerable_refused']:.3f}  precision {v['precision']:.3f}"
            )
        if n in args.train:
            print(f"  {n:14} training documents, answers it refuses: {effect[n]}")
    meta = dict(base.meta)
    meta["vetoes"] = {"features": list(model.vetoes), "refused_on_training_documents": effect, "validation": report}
    final = dc_replace(model, meta=meta)
    args.out.write_text(json.dumps(final.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suites", type=Path, nargs="*", default=[ROOT / "eval" / "suites.toml"])
    ap.add_argument(
        "--train", nargs="*", default=list(TRAIN_SUITES), help="suites to train on (their training documents)"
    )
    ap.add_argument("--out", type=Path, default=None, help="default: the shipped model for --sentence-vectors")
    ap.add_argument("--cache", type=Path, default=None, help="default: index/answer-model-data[-MODE]")
    ap.add_argument(
        "--sentence-vectors",
        choices=("separate", "pooled"),
        default="separate",
        help="collect on indexes built this way (pooled: in <index_dir>-pooled, embeddings from the same cache)",
    )
    ap.add_argument("--fresh", action="store_true", help="collect features again instead of reading --cache")
    ap.add_argument("--max-false-refusal", type=float, default=0.08)
    ap.add_argument("--c", type=float, default=0.3, help="inverse regularisation strength")
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument(
        "--near",
        type=int,
        default=0,
        help="per training suite, this many near-miss unanswerable questions made from training documents' "
        "answerable ones (a rare term the document contains swapped for one it never contains)",
    )
    ap.add_argument(
        "--add-veto",
        nargs="*",
        default=[],
        help="keep the model at --out as it is and add these binary features as vetoes (a span where one "
        "fires is never quoted); prints what each refuses on the training documents",
    )
    ap.add_argument("--drop", nargs="*", default=[], help="features to leave out")
    ap.add_argument(
        "--residual",
        nargs="*",
        default=[],
        help="keep the model at --out as it is and fit only weights for these further features, its "
        "log-odds as the offset (the threshold kept): other suites' answers move only where these fire",
    )
    args = ap.parse_args()
    pooled = args.sentence_vectors == "pooled"
    args.out = args.out or (POOLED if pooled else DEFAULT)
    args.cache = args.cache or ROOT / "index" / ("answer-model-data-pooled" if pooled else "answer-model-data")

    settings = load_settings()
    if pooled:  # its own index folder (the suites' indexes keep their kind), the same embedding cache
        settings = settings.model_copy(
            update={
                "sentence_vectors": "pooled",
                "index_dir": settings.index_dir.with_name(settings.index_dir.name + "-pooled"),
                "cache_dir": settings.cache_dir or settings.index_dir / ".cache",
            }
        )
    suites = load_suites(args.suites)
    data = {}
    args.cache.mkdir(parents=True, exist_ok=True)
    for s in suites:
        f = args.cache / f"{s.name.replace('/', '_')}.npz"
        if f.exists() and not args.fresh:
            z = np.load(f, allow_pickle=False)
            data[s.name] = {"X": z["X"], "y": z["y"], "q": z["q"], "meta": json.loads(str(z["meta"]))}
            if data[s.name]["X"].shape[1] == len(FEATURES):
                continue
        data[s.name] = collect(s, settings, args.k)
        np.savez(
            f, X=data[s.name]["X"], y=data[s.name]["y"], q=data[s.name]["q"], meta=json.dumps(data[s.name]["meta"])
        )

    if args.near:
        for s in suites:
            if s.name not in args.train:
                continue
            key = f"{s.name}+near"
            f = args.cache / f"{key.replace('/', '_')}-{args.near}.npz"
            if f.exists() and not args.fresh:
                z = np.load(f, allow_pickle=False)
                data[key] = {"X": z["X"], "y": z["y"], "q": z["q"], "meta": json.loads(str(z["meta"]))}
                if data[key]["X"].shape[1] == len(FEATURES):
                    continue
            data[key] = collect(s, settings, args.k, near=args.near)
            np.savez(f, X=data[key]["X"], y=data[key]["y"], q=data[key]["q"], meta=json.dumps(data[key]["meta"]))
        args.train = list(args.train) + [f"{n}+near" for n in args.train if f"{n}+near" in data]

    if args.residual:
        residual(data, args)
        return
    if args.add_veto:
        add_vetoes(data, args)
        return
    split = {}
    for name, d in data.items():
        groups = [m["group"] for m in d["meta"]]
        if name.endswith("+near"):  # made from training documents only: all of it is training data
            val = set()
        else:
            val = validation_groups(groups) if name in args.train else set(groups)
        split[name] = np.array([m["group"] in val for m in d["meta"]])
    used = tuple(f for f in FEATURES if f not in args.drop)
    cols = [FEATURES.index(f) for f in used]
    Xtr = np.vstack([d["X"][~split[n][d["q"]]] for n, d in data.items() if n in args.train])[:, cols]
    ytr = np.concatenate([d["y"][~split[n][d["q"]]] for n, d in data.items() if n in args.train])
    wtr = np.concatenate(
        [np.full(int((~split[n][d["q"]]).sum()), SUITE_WEIGHTS.get(n, 1.0)) for n, d in data.items() if n in args.train]
    )
    mean, scale, coef, intercept = fit(Xtr, ytr, wtr, args.c)
    model = AnswerModel(used, mean, scale, coef, intercept, 0.5, 0.5, {})
    train_rows = []
    tables = {}
    for n, d in data.items():
        rows = question_table(d, model.probability(d["X"], FEATURES, d["q"]))
        tables[n] = rows
        if n in args.train:
            train_rows += [r for r, v in zip(rows, split[n]) if not v]
    threshold = choose_threshold(train_rows, args.max_false_refusal)
    print(
        f"threshold {threshold:.3f} (training documents' answerable questions refused at most "
        f"{args.max_false_refusal:.0%})"
    )
    report = {}
    for n, rows in tables.items():
        val_rows = [r for r, v in zip(rows, split[n]) if v]
        tr_rows = [r for r, v in zip(rows, split[n]) if not v]
        report[n] = {
            "validation": metrics(val_rows, threshold),
            **({"train": metrics(tr_rows, threshold)} if tr_rows else {}),
        }
        v = report[n]["validation"]
        print(
            f"  {n:14} validation n={v['n']:4}  unanswerable refused {v['unanswerable_refused']:.3f}  "
            f"answerable refused {v['answerable_refused']:.3f}  precision {v['precision']:.3f}  coverage {v['coverage']:.3f}"
        )
    weights = sorted(zip(used, coef), key=lambda t: -abs(t[1]))
    print("  weights: " + ", ".join(f"{f} {w:+.2f}" for f, w in weights))
    meta = {
        "trained_on": {n: f"{int((~split[n]).sum())} training questions" for n in args.train},
        "split": "by document, sha1(document) % 1000 < 300 -> validation",
        "C": args.c,
        "max_false_refusal": args.max_false_refusal,
        "validation": report,
        "created": time.strftime("%Y-%m-%d"),
        "sentence_vectors": args.sentence_vectors,
    }
    final = AnswerModel(used, mean, scale, coef, intercept, threshold, threshold, meta)
    args.out.write_text(json.dumps(final.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
