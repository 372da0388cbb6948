"""Quality on the shared papers, measured by our own eval suite: the regression gate and the targets.

The gate compares with the committed baseline report (eval/baseline_*.json). When a change improves
quality, refresh it with `rag eval GOLD --report eval/baseline_NAME` and commit the new files.
"""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, SHARED

from rag.evaluation import DEFAULT_TOLERANCE, compare, evaluate, load_gold
from rag.testing import assert_quality

GOLD = {"dev": SHARED / "eval" / "gold_dev.jsonl", "own": ROOT / "eval" / "gold_own.jsonl"}


@pytest.fixture(scope="module")
def reports(shared_assistant):
    return {name: evaluate(shared_assistant, load_gold(path), k=5) for name, path in GOLD.items()}


@pytest.mark.parametrize("name", ["dev", "own"])
def test_no_regression_against_the_committed_baseline(reports, name):
    baseline = json.loads((ROOT / "eval" / f"baseline_{name}.json").read_text(encoding="utf-8"))
    result = compare(reports[name], baseline, DEFAULT_TOLERANCE)
    drops = [f"{d['metric']}: {d['baseline']:.3f} -> {d['current']:.3f}" for d in result["drops"]]
    broke = [f"{q['id']}: {'; '.join(q['reasons'])}" for q in result["pass_to_fail"]]
    assert result["ok"], "quality dropped:\n" + "\n".join(drops + broke)
    assert not result["missing"], f"baseline questions no longer evaluated: {result['missing']}"


def test_dev_targets(reports):
    r = reports["dev"]
    assert_quality(r, group="by_lang:zh", recall_at_5=0.97)
    assert_quality(r, group="by_kind:paraphrase", recall_at_5=0.90)
    assert_quality(r, group="by_lang:en", recall_at_5=0.80)
    assert_quality(r, key_fact_coverage=0.90, correct_refusal_rate=1.0, max_false_refusal_rate=0.05,
                   citation_validity=1.0, cited_sentence_share=1.0)


def test_own_set_holds_up(reports):
    # our own, harder questions (footnotes, cross-document, near-miss unanswerables): a floor, not the target
    assert_quality(reports["own"], recall_at_5=0.9, max_false_refusal_rate=0.05, correct_refusal_rate=0.7)


def test_assert_quality_reports_what_failed(reports):
    with pytest.raises(AssertionError) as err:
        assert_quality(reports["dev"], recall_at_5=1.01, max_latency_p50_ms=0.0)
    msg = str(err.value)
    assert "recall@5 = " in msg and "below the minimum 1.01" in msg and "above the maximum 0.0" in msg
    with pytest.raises(KeyError, match="no metric 'recall@7'"):
        assert_quality(reports["dev"], recall_at_7=0.5)
