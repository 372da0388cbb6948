"""Answering a batch: check the output first, answer what the journal lacks with a thread pool (queries
embedded ahead in batches), append each answer as it finishes, then render the output."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import BatchOutputError, InvalidInputError, RagError
from rag.review.batch.inputs import OUTPUTS, Problem, Question, Questions
from rag.review.batch.journal import Journal, journal_path
from rag.review.batch.render import render

if TYPE_CHECKING:  # the models load only when answering: reading and checking input stays instant
    from rag.answer.pipeline import Assistant

PRIME = 32  # questions embedded per batched forward pass (several times faster than one at a time)


class PrimedQueries:
    """Embedder wrapper serving query vectors computed ahead in batches; anything else goes to the model."""

    def __init__(self, inner):
        self.inner, self.id, self.dim = inner, inner.id, inner.dim
        self._vecs: dict = {}
        self._lock = threading.Lock()

    def prime(self, texts: Iterable[str]) -> None:
        """Embed the not-yet-seen texts in one batched call."""
        todo = [t for t in dict.fromkeys(texts) if t and t not in self._vecs]
        if todo:
            vecs = self.inner.embed_queries(todo)
            with self._lock:
                self._vecs.update(zip(todo, vecs))

    def embed_queries(self, texts):
        """Primed vectors where available (identical to the model's: batching does not change them)."""
        import numpy as np

        with self._lock:
            if texts and all(t in self._vecs for t in texts):
                return np.vstack([self._vecs[t] for t in texts])
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts):
        """Passages are never primed."""
        return self.inner.embed_passages(texts)


@dataclass
class BatchReport:
    """What a batch run did, for the CLI summary and --json."""

    out: Path
    journal: Path
    total: int = 0  # answers wanted: questions (x papers with --by-doc)
    new: int = 0
    resumed: int = 0
    answered: int = 0  # in the output, with citations
    abstained: int = 0
    failed: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    by_doc: bool = False
    docs: list[str] = field(default_factory=list)
    repaired: bool = False

    def to_dict(self) -> dict:
        """JSON form for ``rag batch --json``."""
        return {
            "out": str(self.out),
            "journal": str(self.journal) if self.journal.exists() else None,
            "total": self.total,
            "answered": self.answered,
            "abstained": self.abstained,
            "failed": len(self.failed),
            "new": self.new,
            "resumed": self.resumed,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.new / self.seconds, 3) if self.new and self.seconds else None,
            "by_doc": self.by_doc,
            "docs": self.docs,
            "failures": [{"line": p.line, "doc": p.doc, "error": p.message} for p in self.failed],
        }


def check_output(out: Path, questions_path: Path | None = None) -> Path:
    """The output path, if its extension is one we write and it is not the input file."""
    out = Path(out)
    if out.suffix.lower() not in OUTPUTS:
        raise InvalidInputError(
            f"cannot write '{out.suffix or out.name}' files; give --out a .jsonl, .csv, .xlsx or .md path"
        )
    if questions_path is not None and out.resolve() == Path(questions_path).resolve():
        raise InvalidInputError("--out is the questions file itself; write the answers to another file")
    if out.is_dir():
        raise InvalidInputError(f"--out {out} is a directory; give a file name such as {out}/answers.xlsx")
    return out


def check_writable(out: Path) -> None:
    """One clear error now, before any question is asked, if OUT or its journal cannot be written:
    a folder that cannot be made (a path under a file), a read-only place, an immutable file."""
    for target in dict.fromkeys([out, journal_path(out)]):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            probe = target.with_name(f".{target.name}.probe-{os.getpid()}")
            probe.write_bytes(b"")  # the output is written beside itself, then renamed over it
            probe.unlink()
            if target.exists():
                os.close(os.open(target, os.O_WRONLY | os.O_APPEND))  # opened, not changed
        except OSError as exc:
            raise BatchOutputError(
                f"cannot write {target} ({exc.strerror or type(exc).__name__}); "
                "give --out a file in a folder you can write to"
            ) from None


def validate(questions: Questions, out: Path, workers: int) -> Path:
    """Refuse a run that cannot work before any model is loaded; returns the checked output path."""
    out = check_output(out, questions.path)
    check_writable(out)
    if not questions.items:
        raise InvalidInputError(f"no usable questions in {questions.path}; put one question per line (or row)")
    if workers < 1:
        raise InvalidInputError(f"--workers {workers}: give at least 1")
    return out


def _record(assistant: Assistant, q: Question, doc: str | None, k: int | None) -> dict:
    answer = assistant.ask(q.question, k, [doc] if doc else None)
    head = {"id": q.key, "doc": doc} if doc else {"id": q.key}
    return {**head, **answer.to_dict()}


def run_batch(
    assistant: Assistant,
    questions: Questions,
    out: Path,
    *,
    k: int | None = None,
    workers: int = 1,
    by_doc: bool = False,
    progress: Callable[[int, int], None] | None = None,
    style: str = "plain",
) -> BatchReport:
    """Answer every question not already in the output's journal, appending each as it finishes, then render OUT
    (its reference list in the citation ``style``)."""
    out = validate(questions, out, workers)
    index = assistant.retriever.index
    docs = list(index.docs) if by_doc else [None]
    report = BatchReport(out, journal_path(out), by_doc=by_doc, docs=[d for d in docs if d])
    journal = Journal(report.journal, by_doc)
    try:
        report.repaired = journal.repaired
        tasks = [(q, d) for q in questions.items for d in docs]
        report.total = len(tasks)
        todo = [(q, d) for q, d in tasks if (q.key, d) not in journal.records]
        report.resumed = report.total - len(todo)
        t0 = time.perf_counter()
        try:
            _answer_all(assistant, todo, journal, report, k, workers, progress)
        except KeyboardInterrupt:
            if out != report.journal:
                render(out, questions, journal.records, index.docs, by_doc, style)  # show what is done so far
            raise
        report.seconds = time.perf_counter() - t0
        for q, d in tasks:
            rec = journal.records.get((q.key, d))
            if rec is not None:
                report.abstained += bool(rec["abstained"])
                report.answered += not rec["abstained"]
        if out != report.journal:
            render(out, questions, journal.records, index.docs, by_doc, style)
    finally:
        journal.close()
    if out != report.journal and report.answered + report.abstained == report.total:
        report.journal.unlink()  # complete and rendered: the journal has done its job
    return report


def _answer_all(assistant, todo, journal, report, k, workers, progress) -> None:
    from rag.answer.pipeline import Assistant
    from rag.answer.retrieval import Retriever, normalize_query

    primed = PrimedQueries(assistant.retriever.embedder)
    batch_assistant = Assistant(
        assistant.settings, Retriever(assistant.retriever.index, primed, assistant.settings), assistant.generator
    )
    limit = assistant.settings.answer.max_question_chars
    done, total = report.resumed, report.total
    inflight: dict[Future, tuple[Question, str | None]] = {}
    if progress:
        progress(done, total)

    def collect(block: bool) -> None:
        nonlocal done
        finished, _ = (
            wait(inflight, return_when=FIRST_COMPLETED) if block else ([f for f in inflight if f.done()], None)
        )
        for f in [f for f in inflight if f in finished]:  # in submission order
            q, d = inflight.pop(f)
            if f.cancelled():  # never started (interrupted): it stays missing, to be asked next run
                continue
            try:
                journal.append(f.result())
                report.new += 1
            except RagError as exc:
                report.failed.append(Problem(q.line, f"failed{' on ' + d if d else ''}: {exc}", d))
            except Exception as exc:  # a bug in one question must not lose the others
                report.failed.append(
                    Problem(q.line, f"failed{' on ' + d if d else ''}: {type(exc).__name__}: {exc}", d)
                )
            done += 1
            if progress:
                progress(done, total)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rag-batch") as pool:
        try:
            for i in range(0, len(todo), PRIME):
                chunk = todo[i : i + PRIME]
                try:
                    primed.prime(normalize_query(q.question) for q, _ in chunk if len(q.question) <= limit)
                except Exception:  # noqa: S110 - each question then embeds alone and reports its own error
                    pass
                for q, d in chunk:
                    inflight[pool.submit(_record, batch_assistant, q, d, k)] = (q, d)
                collect(block=False)
                while len(inflight) > PRIME:  # keep one chunk answering while the next is embedded
                    collect(block=True)
            while inflight:
                collect(block=True)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            collect(block=False)  # keep whatever finished before the interruption
            raise
