"""`rag review`: what each paper says about each question of a file, as a review matrix (see rag/review)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rag.cli.common import IndexOpt, JsonOpt, app, emit, kept_on_interrupt, rate_bar, settings_from, warn


@app.command("review")
def review_cmd(
    questions: Path = typer.Argument(
        ..., help="Review questions: .txt (one per line), .csv or .xlsx (a 'question' column), .jsonl."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="The review: .md, .xlsx or .jsonl. Rerun with the same file to resume."
    ),
    docs: Optional[list[str]] = typer.Option(
        None, "--docs", "--doc", help="Papers to review (document ids from `rag info`; repeatable). [default: all]"
    ),
    index: Optional[str] = IndexOpt,
    style: Optional[str] = typer.Option(
        None,
        "--style",
        help="Reference list style: plain, gbt7714 (GB/T 7714-2015) or apa. [default: RAG_CITATION_STYLE]",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """For every question, what each paper says (2-5 quoted, cited points) or that it does not discuss it
    (with the nearest sentence), a pooled answer grouped per paper and the points papers share."""
    from rag.answer.pipeline import Assistant
    from rag.refs.render import check_style
    from rag.review.batch import read_questions
    from rag.review.run import check_review_output, run_review

    qs = read_questions(questions)
    for p in qs.problems:
        warn(p.describe(questions))
    check_review_output(out, questions)
    settings = settings_from(index=index)
    style = check_style(style, settings.citation_style)
    assistant = Assistant.open(settings)
    with kept_on_interrupt("reviewed questions", out):
        with rate_bar(enabled=not as_json, unit="q") as bar:
            report = run_review(assistant.retriever, qs, out, docs, style, progress=bar)
    if as_json:
        emit({**report.to_dict(), "malformed": [{"line": p.line, "error": p.message} for p in qs.problems]})
    else:
        typer.echo(
            f"{report.questions} questions x {len(report.docs)} papers: {report.discussed} cells with points, "
            f"{report.not_discussed} not discussed; {report.new} reviewed in {report.seconds:.1f} s, "
            f"{report.resumed} already done"
        )
        typer.echo(f"wrote {report.out}")
    if qs.problems:
        warn(f"error: {len(qs.problems)} malformed rows skipped (see above); fix them and rerun with the same --out")
        raise typer.Exit(1)
