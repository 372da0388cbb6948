"""Quality tests for your own gold file, in pytest.

    def test_my_corpus(rag_eval):
        report = rag_eval("eval/my_gold.jsonl", index="my-papers")
        assert_quality(report, recall_at_5=0.9, key_fact_coverage=0.85, max_false_refusal_rate=0.05)

``rag_eval`` is a pytest fixture (this module is registered as a pytest plugin) that runs a gold file
through the real pipeline, loading each index once per test session. ``assert_quality`` names every
metric below its minimum and the questions that failed.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def _metric(name: str) -> tuple[str, bool]:
    """'recall_at_5' -> ('recall@5', higher is better); 'max_false_refusal_rate' -> (..., False)."""
    upper = name.startswith("max_")
    key = name[4:] if upper else name.removeprefix("min_")
    return key.replace("_at_", "@"), not upper


def assert_quality(report: dict, group: str | None = None, **limits: float) -> None:
    """Fail unless every metric meets its limit: ``name=0.9`` is a minimum, ``max_name=0.05`` a maximum.

    ``group`` picks a breakdown, e.g. ``"by_lang:en"`` or ``"by_kind:paraphrase"`` (default: overall).
    """
    summary = report["summary"]["overall"]
    if group:
        kind, _, value = group.partition(":")
        summary = report["summary"][kind][value]
    problems = []
    for name, limit in limits.items():
        key, higher = _metric(name)
        if key not in summary:
            raise KeyError(f"no metric {key!r} in the report; known: {', '.join(sorted(summary))}")
        value = summary[key]
        if (value < limit) if higher else (value > limit):
            problems.append(f"{key} = {value:.3f} ({'below the minimum' if higher else 'above the maximum'} {limit})")
    if problems:
        failed = [f"  {q['id']}: {'; '.join(q['reasons'])}" for q in report["questions"] if not q["pass"]]
        where = f" [{group}]" if group else ""
        raise AssertionError(
            "quality below target"
            + where
            + ":\n  "
            + "\n  ".join(problems)
            + ("\nfailed questions:\n" + "\n".join(failed) if failed else "")
        )


@pytest.fixture(scope="session")
def rag_eval():
    """Factory fixture: ``rag_eval(gold_path, k=None, **settings) -> report``, assistants cached per settings."""
    # imported here, not at the top: pytest loads this plugin in every run, most of which never ask for it
    from rag.answer.pipeline import Assistant
    from rag.eval.evaluation import evaluate
    from rag.eval.gold import load_gold
    from rag.settings import load_settings

    assistants: dict[tuple, Assistant] = {}

    def run(gold: str | Path, k: int | None = None, **settings) -> dict:
        key = tuple(sorted((a, str(b)) for a, b in settings.items()))
        if key not in assistants:
            assistants[key] = Assistant.open(load_settings(**settings))
        a = assistants[key]
        return evaluate(a, load_gold(gold), k=k or a.settings.retrieval.top_k)

    return run
