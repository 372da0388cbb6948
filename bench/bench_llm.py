"""Measure answers written by a language model against the extractive default, on gold questions.

Runs `rag eval`'s evaluation twice in one process over the same index: the extractive default (the
baseline) and the LLM generator for ``--llm``; prints the eval metrics side by side, then what the
model's answers became (kept as written, replaced by the extractive fallback, refused before the
model was called, refused by the model), the support scores of the sentences kept, and latency.

    python bench/bench_llm.py --index NAME_OR_DIR --llm openai:MODEL --llm-base-url http://127.0.0.1:8080/v1 \\
        [--gold ../shared/eval/gold_dev.jsonl] [--max-tokens 256] [--report eval/llm_dev]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.answer.pipeline import Assistant  # noqa: E402
from rag.eval.evaluation import evaluate  # noqa: E402
from rag.eval.gold import load_gold  # noqa: E402
from rag.settings import load_settings  # noqa: E402

METRICS = [
    "recall@5",
    "key_fact_coverage",
    "citation_validity",
    "citation_support",
    "cited_sentence_share",
    "correct_refusal_rate",
    "false_refusal_rate",
    "answered_precision",
    "pass_rate",
    "latency_p50_ms",
    "latency_p95_ms",
]


class Recording(Assistant):
    """An Assistant that keeps every answer it gives (evaluate() only keeps scores)."""

    answers: list

    def ask(self, question, k=None, docs=None):
        answer = super().ask(question, k, docs)
        self.answers.append(answer)
        return answer


def run(settings, gold, k: int) -> tuple[dict, list]:
    base = Assistant.open(settings)
    a = Recording(settings, base.retriever, base.generator)
    a.answers = []
    t0 = time.perf_counter()
    report = evaluate(a, gold, k=k, progress=lambda d, t: print(f"  {d}/{t}", end="\r", file=sys.stderr))
    report["meta"]["seconds"] = time.perf_counter() - t0
    return report, a.answers[1:]  # the first is evaluate()'s warm-up


def fmt(v) -> str:
    return "   -  " if v is None else f"{v:7.3f}" if abs(v) < 100 else f"{v:7.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--gold", default=str(ROOT.parent / "shared" / "eval" / "gold_dev.jsonl"))
    ap.add_argument("--llm", required=True)
    ap.add_argument("--llm-base-url", default=None)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--report", type=Path, default=None, help="write PATH.json with both reports and the answers")
    args = ap.parse_args()
    gold = load_gold(args.gold)
    plain = load_settings(index=args.index)
    llm = load_settings(
        index=args.index,
        llm=args.llm,
        llm_base_url=args.llm_base_url,
        llm_max_tokens=args.max_tokens,
        llm_timeout=args.timeout,
    )
    print(
        f"{len(gold)} questions from {args.gold}; model {args.llm} at {args.llm_base_url or 'its default URL'}, "
        f"max {args.max_tokens} tokens"
    )
    base, _ = run(plain, gold, args.k)
    rep, answers = run(llm, gold, args.k)
    print(f"\n{'metric':24} {'extractive':>10} {'with model':>10}")
    for group, name in (("overall", None), ("by_lang", "en"), ("by_lang", "zh")):
        b = base["summary"][group] if name is None else base["summary"][group].get(name, {})
        m = rep["summary"][group] if name is None else rep["summary"][group].get(name, {})
        print(f"[{name or 'all'}]")
        for key in METRICS:
            if key in b or key in m:
                print(f"  {key:22} {fmt(b.get(key)):>10} {fmt(m.get(key)):>10}")
    kinds = Counter()
    for a in answers:
        if a.generator == "extractive":
            kinds["refused before calling the model (evidence check)"] += 1
        elif a.generator == "extractive-fallback":
            kinds["model answer replaced by the extractive answer"] += 1
        elif a.abstained:
            kinds["refused by the model"] += 1
        else:
            kinds["model answer kept (verified)"] += 1
    print("\nwhat the answers became:")
    for kind, n in kinds.most_common():
        print(f"  {n:3d}  {kind}")
    kept = [s for a in answers if a.generator.startswith("llm:") for s in a.support]
    if kept:
        print(
            f"sentences kept from the model: {len(kept)}, support score mean {statistics.fmean(s.score for s in kept):.3f}, "
            f"min {min(s.score for s in kept):.3f}"
        )
    gen = [a.timings_ms["generate"] for a in answers]
    print(
        f"generation time per question: median {statistics.median(gen) / 1000:.1f} s, max {max(gen) / 1000:.1f} s; "
        f"whole run {rep['meta']['seconds']:.0f} s (extractive {base['meta']['seconds']:.0f} s)"
    )
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        out = {"extractive": base, "llm": rep, "answers": [a.to_dict() for a in answers]}
        path = args.report.with_suffix(".json")
        path.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
