"""Batch Q&A: read many questions, answer them with one loaded assistant, and write a review-ready
table (.jsonl / .csv / .xlsx / .md). Finished answers go to an append-only, fsynced journal, so a run
killed half-way and started again answers only what is missing.

Modules: ``inputs`` (question files), ``journal`` (finished answers), ``runner`` (answering),
``render`` (the output files).
"""

from rag.review.batch.inputs import (
    INPUTS,
    OUTPUTS,
    Problem,
    Question,
    Questions,
    read_questions,
)
from rag.review.batch.journal import Journal, journal_path
from rag.review.batch.render import (
    citations_cell,
    markdown,
    neutralize,
    references,
    render,
    spreadsheet,
    table,
)
from rag.review.batch.runner import (
    BatchReport,
    PrimedQueries,
    check_output,
    check_writable,
    run_batch,
    validate,
)

__all__ = [
    "INPUTS",
    "OUTPUTS",
    "BatchReport",
    "Journal",
    "PrimedQueries",
    "Problem",
    "Question",
    "Questions",
    "check_output",
    "check_writable",
    "citations_cell",
    "journal_path",
    "markdown",
    "neutralize",
    "read_questions",
    "references",
    "render",
    "run_batch",
    "spreadsheet",
    "table",
    "validate",
]
