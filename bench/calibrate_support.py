"""Calibrate the support thresholds of rag.answer.verify on gold questions (dev set) and check them on others.

For every answerable gold question the top-10 retrieved passages are split into those holding an
evidence quote (supporting) and the rest (near misses on the same topic). Two kinds of claim stand in
for answer sentences, since the gold sets hold no written answers:

- ``quote``: each evidence quote (a compact restatement of the fact, in the passage's language);
- ``qa``: the question followed by its key facts ("How many ...? 126"), in the question's language —
  for an English question over Chinese papers this is the cross-lingual case a model's English
  answer sentence is in.

Each claim is scored against each passage with ``SupportScorer`` (the verifier's own scoring), and the
accept decision (score >= threshold and every number grounded) is swept over thresholds, separately
for same-language and cross-language pairs. The chosen threshold maximises TPR - 2 x FPR (keeping an
unsupported sentence costs more than dropping a supported one, which the extractive fallback covers).

    python bench/calibrate_support.py --index /path/to/index [--gold DEV.jsonl] [--check OWN.jsonl]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.answer.pipeline import Assistant  # noqa: E402
from rag.answer.verify import SupportScorer  # noqa: E402
from rag.eval.evaluation import supports  # noqa: E402
from rag.eval.gold import load_gold  # noqa: E402
from rag.lang.text import detect_lang  # noqa: E402
from rag.settings import load_settings  # noqa: E402

FP_COST = 2.0


def claims_for(g) -> list[tuple[str, str]]:
    """(kind, claim text) stand-ins for answer sentences of a gold question."""
    out = [("quote", e.quote) for e in g.evidence]
    facts = []
    for group in g.keywords:
        same = [a for a in group if detect_lang(a) == g.lang or a.isdigit()]
        facts.append((same or list(group))[0])
    if facts:
        out.append(("qa", f"{g.question} {'、'.join(facts) if g.lang == 'zh' else ', '.join(facts)}"))
    return out


def pairs(assistant: Assistant, gold) -> list[dict]:
    """Every (claim, passage) pair scored, with its label (the passage holds the evidence or not)."""
    rows = []
    for g in gold:
        if not g.answerable:
            continue
        hits = assistant.retriever.retrieve(g.question, 10)
        scorer = SupportScorer(assistant.retriever, hits, g.question)
        claims = claims_for(g)
        vecs = scorer.embed([c for _, c in claims])
        for (kind, claim), v in zip(claims, vecs):
            for i, h in enumerate(hits):
                label = any(supports(h.chunk.text, e.quote) for e in g.evidence)
                if kind == "quote":  # a quote is supported only by a passage holding that quote
                    label = supports(h.chunk.text, claim)
                s = scorer.score(claim, v, [i])
                rows.append(
                    {
                        "id": g.id,
                        "kind": kind,
                        "cross": s.cross,
                        "label": label,
                        "score": s.score,
                        "numbers_ok": s.numbers_ok,
                        "dense": s.dense,
                        "lexical": s.lexical,
                    }
                )
    return rows


def rates(rows: list[dict], t: float) -> tuple[float, float, int, int]:
    """(true accept rate, false accept rate, positives, negatives) at threshold t."""
    pos = [r for r in rows if r["label"]]
    neg = [r for r in rows if not r["label"]]
    acc = lambda r: r["numbers_ok"] and r["score"] >= t  # noqa: E731
    tpr = sum(map(acc, pos)) / len(pos) if pos else float("nan")
    fpr = sum(map(acc, neg)) / len(neg) if neg else float("nan")
    return tpr, fpr, len(pos), len(neg)


def best_threshold(rows: list[dict]) -> float:
    """The threshold maximising TPR - FP_COST x FPR (ties: the lower threshold)."""
    cands = sorted({round(r["score"], 3) for r in rows})
    best, best_val = cands[0] if cands else 1.0, -9.0
    for t in cands:
        tpr, fpr, _, _ = rates(rows, t)
        val = tpr - FP_COST * fpr
        if val > best_val + 1e-12:
            best, best_val = t, val
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True, help="index name or directory (built over ../shared/corpus)")
    ap.add_argument("--gold", default=str(ROOT.parent / "shared" / "eval" / "gold_dev.jsonl"))
    ap.add_argument("--check", default=str(ROOT / "eval" / "gold_own.jsonl"), help="held-out gold set")
    args = ap.parse_args()
    settings = load_settings(index=args.index)
    assistant = Assistant.open(settings)
    t0 = time.perf_counter()
    dev = pairs(assistant, load_gold(args.gold))
    own = pairs(assistant, load_gold(args.check)) if args.check else []
    print(f"scored {len(dev)} dev and {len(own)} held-out pairs in {time.perf_counter() - t0:.1f} s")
    current = {False: settings.generation.support_threshold, True: settings.generation.support_threshold_crosslingual}
    for cross in (False, True):
        name = "cross-language" if cross else "same-language"
        d = [r for r in dev if r["cross"] == cross]
        o = [r for r in own if r["cross"] == cross]
        if not d:
            print(f"{name}: no dev pairs")
            continue
        t = best_threshold(d)
        print(f"\n{name} pairs: chosen threshold {t:.3f} (setting now {current[cross]:.3f})")
        print(
            f"  {'threshold':>9}  {'set':>5}  {'TPR':>5}  {'FPR':>5}  {'pos':>4}  {'neg':>4}   by claim kind (TPR/FPR)"
        )
        for th in sorted(
            {round(t - 0.1, 3), round(t - 0.05, 3), t, round(t + 0.05, 3), round(t + 0.1, 3), current[cross]}
        ):
            for label, rows in (("dev", d), ("own", o)):
                if not rows:
                    continue
                tpr, fpr, npos, nneg = rates(rows, th)
                kinds = "  ".join(
                    f"{k} {rates([r for r in rows if r['kind'] == k], th)[0]:.2f}/{rates([r for r in rows if r['kind'] == k], th)[1]:.2f}"
                    for k in ("quote", "qa")
                    if any(r["kind"] == k for r in rows)
                )
                mark = " <" if th == t else ""
                print(f"  {th:9.3f}  {label:>5}  {tpr:5.2f}  {fpr:5.2f}  {npos:4d}  {nneg:4d}   {kinds}{mark}")


if __name__ == "__main__":
    main()
