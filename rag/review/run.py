"""Running a review from a questions file: check the output first, review what the journal lacks (each
question's records appended and fsynced as soon as it is done, so an interrupted run resumes), then
render OUT. Inputs, the journal and the formula-safe cells are `rag batch`'s."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.answer.retrieval import Retriever
from rag.errors import BatchOutputError, InvalidInputError
from rag.review.api import DISCUSSED, review_questions
from rag.review.batch.inputs import Questions
from rag.review.batch.journal import Journal, journal_path
from rag.review.batch.runner import check_writable
from rag.review.outputs import OUTPUTS, render
from rag.review.records import KIND, to_records

CHUNK = 16  # questions reviewed (and their topics embedded) per step between journal writes


@dataclass
class ReviewReport:
    """What a review run did, for the CLI summary and --json."""

    out: Path
    journal: Path
    questions: int = 0
    docs: list[str] = field(default_factory=list)
    new: int = 0
    resumed: int = 0
    discussed: int = 0  # cells with points
    not_discussed: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """JSON form for ``rag review --json``."""
        return {
            "out": str(self.out),
            "questions": self.questions,
            "docs": self.docs,
            "cells": self.questions * len(self.docs),
            "discussed": self.discussed,
            "not_discussed": self.not_discussed,
            "new": self.new,
            "resumed": self.resumed,
            "seconds": round(self.seconds, 3),
        }


def check_review_output(out: Path, questions_path: Path | None = None) -> Path:
    """OUT if it is a .md, .xlsx or .jsonl path other than the questions file, in a place we can write."""
    out = Path(out)
    if out.suffix.lower() not in OUTPUTS:
        raise InvalidInputError(
            f"cannot write '{out.suffix or out.name}' files; give --out a .md, .xlsx or .jsonl path"
        )
    if questions_path is not None and out.resolve() == Path(questions_path).resolve():
        raise InvalidInputError("--out is the questions file itself; write the review to another file")
    if out.is_dir():
        raise InvalidInputError(f"--out {out} is a directory; give a file name such as {out}/review.xlsx")
    check_writable(out)
    return out


def run_review(
    retriever: Retriever,
    questions: Questions,
    out: Path,
    docs: Sequence[str] | None = None,
    style: str = "plain",
    progress: Callable[[int, int], None] | None = None,
) -> ReviewReport:
    """Review every question not already in OUT's journal over ``docs`` (default: every document),
    append each question's records as it is done, then render OUT with its reference list in ``style``."""
    out = check_review_output(out, questions.path)
    if not questions.items:
        raise InvalidInputError(f"no usable questions in {questions.path}; put one question per line (or row)")
    index = retriever.index
    chosen = list(dict.fromkeys(docs)) if docs else list(index.doc_order)
    unknown = [d for d in chosen if d not in index.docs]
    if unknown:
        raise InvalidInputError(f"not in the index: {', '.join(unknown)}; pick documents from `rag info`")
    report = ReviewReport(out, journal_path(out), len(questions.items), chosen)
    journal = Journal(report.journal, by_doc=True)
    try:
        if any(r.get("kind") != KIND for r in journal.records.values()):
            raise BatchOutputError(f"{report.journal} holds `rag batch` answers, not a review; pick another --out")
        todo = [q for q in questions.items if any((q.key, d) not in journal.records for d in chosen)]
        report.resumed = len(questions.items) - len(todo)
        t0 = time.perf_counter()
        if progress:
            progress(report.resumed, report.questions)
        for i in range(0, len(todo), CHUNK):
            part = todo[i : i + CHUNK]
            for review in review_questions(retriever, [(q.key, q.question) for q in part], chosen):
                for rec in to_records(review, retriever, style):
                    journal.append(rec)
                report.new += 1
                if progress:
                    progress(report.resumed + report.new, report.questions)
        report.seconds = time.perf_counter() - t0
        for q in questions.items:
            for d in chosen:
                got = journal.records.get((q.key, d))
                if got is not None:
                    report.discussed += got["status"] == DISCUSSED
                    report.not_discussed += got["status"] != DISCUSSED
        if out != report.journal:
            render(out, questions, journal.records, index.docs, chosen, style)
    finally:
        journal.close()
    if out != report.journal:
        report.journal.unlink()  # rendered: the journal has done its job
    return report
