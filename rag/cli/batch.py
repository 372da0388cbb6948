"""`rag batch`: a file of questions answered into a review-ready table (see rag/batch)."""

from __future__ import annotations

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
    kept_on_interrupt,
    rate_bar,
    settings_from,
    warn,
)


@app.command("batch")
def batch_cmd(
    questions: Path = typer.Argument(
        ..., help="Questions: .txt (one per line), .csv or .xlsx (a 'question' column), .jsonl."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Answers: .jsonl, .csv, .xlsx or .md. Rerun with the same file to resume."
    ),
    index: Optional[str] = IndexOpt,
    k: Optional[int] = typer.Option(None, "-k", "--top-k", help="Number of passages to retrieve. [default: 5]"),
    workers: int = typer.Option(2, "--workers", help="Questions answered in parallel."),
    by_doc: bool = typer.Option(False, "--by-doc", help="Answer every question against each paper separately."),
    style: Optional[str] = typer.Option(
        None,
        "--style",
        help="Reference list style: plain, gbt7714 (GB/T 7714-2015) or apa. [default: RAG_CITATION_STYLE]",
    ),
    as_json: bool = JsonOpt,
    llm: Optional[str] = LlmOpt,
    llm_base_url: Optional[str] = LlmUrlOpt,
) -> None:
    """Answer a file of questions into a review-ready table with citations and one reference list."""
    from rag.answer.pipeline import Assistant
    from rag.refs.render import check_style
    from rag.review.batch import read_questions, run_batch, validate

    qs = read_questions(questions)
    for p in qs.problems:
        warn(p.describe(questions))
    validate(qs, out, workers)
    settings = settings_from(index=index, top_k=k, llm=llm, llm_base_url=llm_base_url)
    style = check_style(style, settings.citation_style)
    assistant = Assistant.open(settings)
    with kept_on_interrupt("answers", out):
        with rate_bar(enabled=not as_json, unit="answer" if by_doc else "q") as bar:
            report = run_batch(assistant, qs, out, k=k, workers=workers, by_doc=by_doc, progress=bar, style=style)
    if report.repaired:
        warn(f"dropped an unfinished record at the end of {report.journal}; it was asked again")
    for p in report.failed:
        warn(p.describe(questions))
    if as_json:
        emit({**report.to_dict(), "malformed": [{"line": p.line, "error": p.message} for p in qs.problems]})
    else:
        unit = "answers (question x paper)" if by_doc else "questions"
        rate = f" ({report.new / report.seconds:.1f}/s)" if report.seconds and report.new else ""
        typer.echo(
            f"{report.total} {unit}: {report.answered} answered, {report.abstained} abstained, "
            f"{len(report.failed)} failed; {report.new} asked in {report.seconds:.1f} s{rate}, "
            f"{report.resumed} already done"
        )
        typer.echo(
            f"wrote {report.out}"
            + (
                f" (unfinished work kept in {report.journal})"
                if report.journal.exists() and report.journal != report.out
                else ""
            )
        )
    if report.failed or qs.problems:
        warn(
            f"error: {len(report.failed)} failed, {len(qs.problems)} malformed rows skipped (see above); "
            "fix them and rerun with the same --out to answer only those"
        )
        raise typer.Exit(1)
