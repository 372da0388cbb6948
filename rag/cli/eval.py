"""`rag eval`: one gold file against an index, or every suite side by side; the regression gate."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer

from rag.cli.common import (
    IndexOpt,
    JsonOpt,
    LlmOpt,
    LlmUrlOpt,
    app,
    emit,
    progress_bar,
    settings_from,
    warn,
)
from rag.errors import InvalidInputError
from rag.settings import Settings


@app.command("eval")
def eval_cmd(
    gold: list[Path] = typer.Argument(
        ...,
        help="A gold file (.jsonl or .csv) for --index; or suites: folders with "
        "corpus/ and gold*.jsonl, or a .toml suite list such as eval/suites.toml.",
    ),
    index: Optional[str] = IndexOpt,
    report: Optional[Path] = typer.Option(None, "--report", help="Write PATH.json, PATH.md and PATH.html."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="Earlier JSON report to gate against."),
    k: Optional[int] = typer.Option(None, "-k", "--top-k", help="Passages per answer. [default: 5]"),
    tolerance: Optional[float] = typer.Option(
        None,
        "--tolerance",
        help="Allowed drop per aggregate metric, on top of the weight of one question (see --exact).",
    ),
    exact: bool = typer.Option(False, "--exact", help="Fail on any drop, even of one question (same machine)."),
    details: bool = typer.Option(
        False, "--details", help="With suites: also write a page per suite (PATH/SUITE.md, .html)."
    ),
    stable: bool = typer.Option(
        False,
        "--stable",
        help="Leave out what varies between runs of the same code (latencies, "
        "the creation date): two runs write identical reports.",
    ),
    review: bool = typer.Option(
        False,
        "--review",
        help="Review suites (eval/review/suites.toml): point recall, evidence cited, not-discussed "
        "decisions, pooled coverage and cell length of `rag review`.",
    ),
    by_doc: bool = typer.Option(
        False, "--by-doc", help="With --review: score `rag batch --by-doc` answers instead (the baseline)."
    ),
    as_json: bool = JsonOpt,
    llm: Optional[str] = LlmOpt,
    llm_base_url: Optional[str] = LlmUrlOpt,
) -> None:
    """Score retrieval, answers and refusals on gold questions, or on several suites side by side (each
    corpus indexed once and kept); exit 3 if a metric dropped below the baseline."""
    from rag.eval.evaluation import DEFAULT_QUESTIONS, DEFAULT_TOLERANCE
    from rag.eval.reporting import without_volatile

    if review:
        _eval_review(gold, settings_from(index=index, llm=llm, llm_base_url=llm_base_url), report, by_doc, as_json)
        return

    tol = DEFAULT_TOLERANCE if tolerance is None else tolerance
    allow = 0.0 if exact else DEFAULT_QUESTIONS
    base = _read_baseline(baseline) if baseline else None
    settings = settings_from(index=index, top_k=k, llm=llm, llm_base_url=llm_base_url)
    if any(p.is_dir() or p.suffix.lower() == ".toml" for p in gold):
        run = _eval_suites(gold, settings, base, as_json, details)
    else:
        run = _eval_gold(gold, settings, base, as_json)
    result = without_volatile(run.result) if stable else run.result
    comparison = run.compare(result, base, tol, allow) if base else None
    if report:
        for f in run.write(result, report, comparison):
            warn(f"wrote {f}")
    if as_json:
        emit({**result, "comparison": comparison} if comparison else result)
    else:
        typer.echo(run.summary(result, comparison))
    if comparison and not comparison["ok"]:
        raise typer.Exit(3)


@dataclass(frozen=True)
class _Run:
    """An evaluation's result and how to gate, write and summarise it (one gold file, or suites)."""

    result: dict
    compare: Callable[[dict, dict, float, float], dict]
    write: Callable[[dict, Path, dict | None], Iterable[Path]]
    summary: Callable[[dict, dict | None], str]


def _eval_review(paths: list[Path], settings: Settings, report: Path | None, by_doc: bool, as_json: bool) -> None:
    """`rag eval --review`: every review suite scored; PATH.json and PATH.md with --report."""
    from rag.review.evaluate import evaluate_review, summary_table

    with progress_bar(enabled=not as_json) as progress:
        result = evaluate_review(paths, settings, "by-doc" if by_doc else "", progress)
    table = summary_table(result)
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        json_path, md_path = report.with_name(report.name + ".json"), report.with_name(report.name + ".md")
        json_path.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        md_path.write_text(
            f"# Review suites ({'rag batch --by-doc' if by_doc else 'rag review'})\n\n{table}\n", "utf-8"
        )
        warn(f"wrote {json_path} and {md_path}")
    if as_json:
        emit(result)
    else:
        typer.echo(table)
        for name, r in result["suites"].items():
            for problem in r["meta"]["gold_problems"]:
                warn(f"{name}: gold: {problem}")


def _eval_gold(gold: list[Path], settings: Settings, base: dict | None, as_json: bool) -> _Run:
    """One gold file against ``settings``' index."""
    from rag.answer.pipeline import Assistant
    from rag.eval.evaluation import compare, evaluate
    from rag.eval.gold import load_gold
    from rag.eval.reporting import write_reports

    if len(gold) != 1:
        raise InvalidInputError("give one gold file (for --index), or suite folders / a .toml suite list")
    questions = load_gold(gold[0])
    assistant = Assistant.open(settings)
    with progress_bar(enabled=not as_json) as progress:
        result = evaluate(
            assistant,
            questions,
            k=settings.retrieval.top_k,
            progress=(lambda d, t: progress("evaluating", d, t)) if progress else None,
        )
    return _Run(result, compare, lambda r, path, c: write_reports(r, path, c, base), _eval_summary)


def _eval_suites(paths: list[Path], settings: Settings, base: dict | None, as_json: bool, details: bool) -> _Run:
    """Every suite side by side, each corpus indexed once and kept."""
    from rag.eval.suite_report import write_suite_reports
    from rag.eval.suites import compare_suites, evaluate_suites, load_suites

    suites = load_suites(paths)
    if base is not None and "suites" not in base:
        raise InvalidInputError(
            "--baseline is a one-gold-file report; give a suites report (rag eval SUITES --report PATH)"
        )
    with progress_bar(enabled=not as_json) as progress:
        result = evaluate_suites(suites, settings, settings.retrieval.top_k, progress)
    return _Run(result, compare_suites, lambda r, path, c: write_suite_reports(r, path, c, details), _suites_summary)


def _suites_summary(result: dict, comparison: dict | None) -> str:
    """The suites side by side, the macro average and the gate per suite."""
    from rag.eval.suites import HEADLINE

    cols = ["R@5", "facts", "support", "refused-", "refused+", "precision", "p50 ms"]
    lines = [f"{'suite':16} {'n':>5} " + " ".join(f"{c:>9}" for c in cols)]
    for name, v in [*result["summary"]["by_suite"].items(), ("macro average", {**result["summary"]["macro"], "n": ""})]:
        lines.append(
            f"{name:16} {v['n'] if v['n'] == '' else int(v['n']):>5} "
            + " ".join(f"{v[m]:>9.3f}" if m in v else f"{'-':>9}" for m in HEADLINE)
        )
    lines.append("refused-: unanswerable questions refused; refused+: answerable questions refused")
    if comparison:
        for name, c in comparison["suites"].items():
            lines.append(
                f"gate {name}: "
                + (
                    "OK"
                    if c["ok"]
                    else "FAILED "
                    + ", ".join(f"{d['metric']} {d['baseline']:.3f} -> {d['current']:.3f}" for d in c["drops"])
                )
            )
    return "\n".join(lines)


def _read_baseline(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if "suites" in data:
            data["summary"]["by_suite"]  # noqa: B018 - shape check
        else:
            data["summary"]["overall"], data["questions"]  # noqa: B018 - shape check
        return data
    except (OSError, ValueError, KeyError, TypeError):
        raise InvalidInputError(
            f"baseline {path} is not a rag eval JSON report; write one with: rag eval GOLD --report PATH"
        ) from None


def _eval_summary(result: dict, comparison: dict | None) -> str:
    from rag.eval.reporting import latency_line

    o = result["summary"]["overall"]
    lines = [f"{int(o['n'])} questions ({int(o['n_answerable'])} answerable), k={result['meta']['k']}"]
    for key in (
        "recall@5",
        "mrr@10",
        "ndcg@10",
        "key_fact_coverage",
        "citation_support",
        "cited_sentence_share",
        "correct_refusal_rate",
        "false_refusal_rate",
        "answered_precision",
        "pass_rate",
    ):
        if key in o:
            lines.append(f"  {key:22} {o[key]:.3f}")
    if latency := latency_line(o):
        lines.append(f"  {'latency p50/p95 (ms)':22} {latency}")
    for group in ("by_lang", "by_kind"):
        lines.append(
            group.replace("_", " ")
            + ": "
            + ", ".join(
                f"{g} R@5={v.get('recall@5', float('nan')):.2f}"
                for g, v in result["summary"][group].items()
                if "recall@5" in v
            )
        )
    failed = [q for q in result["questions"] if not q["pass"]]
    if failed:
        lines.append("failed:")
        lines += [f"  {q['id']}: {'; '.join(q['reasons'])}" for q in failed]
    if comparison:
        if comparison["ok"]:
            lines.append(
                f"gate: OK (no aggregate metric dropped by more than {comparison['questions']:g} question(s) plus {comparison['tolerance']:g})"
            )
        else:
            lines.append("gate: FAILED")
            lines += [f"  {d['metric']}: {d['baseline']:.3f} -> {d['current']:.3f}" for d in comparison["drops"]]
        lines += [f"  pass->fail {q['id']}: {'; '.join(q['reasons'])}" for q in comparison["pass_to_fail"]]
    return "\n".join(lines)
