"""Batch Q&A: read many questions, answer them with one loaded assistant, and write a review-ready
table (.jsonl / .csv / .xlsx / .md). Finished answers go to an append-only, fsynced journal, so a run
killed half-way and started again answers only what is missing."""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import BatchOutputError, InvalidInputError, RagError

if TYPE_CHECKING:  # the models load only when answering: reading and checking input stays instant
    from rag.pipeline import Assistant

INPUTS = (".txt", ".csv", ".xlsx", ".jsonl")
OUTPUTS = (".jsonl", ".csv", ".xlsx", ".md")
QUESTION_COLUMNS = ("question", "问题")
PRIME = 32  # questions embedded per batched forward pass (several times faster than one at a time)


@dataclass(frozen=True)
class Question:
    """One input question: its identity in the output, text, line number and all its input columns."""

    key: str  # the input id, else "L<line>-<hash of line + text>"
    question: str
    line: int
    fields: dict = field(default_factory=dict)
    has_id: bool = False


@dataclass(frozen=True)
class Problem:
    """A malformed input row or a failed question, with the line it came from."""

    line: int
    message: str  # a phrase after "FILE line N", e.g. "has an empty question; skipped"
    doc: str | None = None

    def describe(self, path: Path) -> str:
        """One line for the user: where, what, and what happened to the row."""
        return f"{path} line {self.line} {self.message}"


@dataclass(frozen=True)
class Questions:
    """What an input file yielded: usable questions, malformed rows, and the input column order."""

    path: Path
    items: list[Question]
    problems: list[Problem]
    columns: list[str]


# --- reading questions ---------------------------------------------------------------------------


def read_questions(path: Path) -> Questions:
    """Questions from .txt (one per line), .csv/.xlsx (a `question` column) or .jsonl (`id`, `question`)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in INPUTS:
        raise InvalidInputError(f"cannot read questions from '{path.suffix or path.name}' files; use .txt, .csv, .xlsx or .jsonl")
    if not path.is_file():
        raise InvalidInputError(f"no questions file at {path}; check the path")
    if suffix == ".xlsx":
        rows = _xlsx_rows(path)
    else:
        text = _decode(path)
        if suffix == ".txt":
            return _from_txt(path, text)
        if suffix == ".jsonl":
            return _from_jsonl(path, text)
        rows = _csv_rows(text)
    return _from_table(path, rows)


def _decode(path: Path) -> str:
    from rag.loading import decode

    try:
        text, _ = decode(path.read_bytes())
    except Exception as why:  # rag.loading signals binary/unknown encodings with its own exception
        raise InvalidInputError(f"cannot read {path}: {why}; save it as UTF-8 text") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _key(line: int, question: str) -> str:
    digest = hashlib.sha1(f"{line}\n{question}".encode("utf-8")).hexdigest()[:10]
    return f"L{line}-{digest}"


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores the id 7 as 7.0
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value).strip()


class _Collector:
    """Turns raw rows into Questions, reporting empty questions and repeated ids by line."""

    def __init__(self, path: Path):
        self.path, self.items, self.problems, self.seen = path, [], [], {}

    def add(self, line: int, question, qid, fields: dict) -> None:
        if question is None or not isinstance(question, str):
            why = "has no question" if question is None else "has a question that is not text"
            self.problems.append(Problem(line, f"{why}; skipped"))
            return
        q = question.strip()
        if not q:
            self.problems.append(Problem(line, "has an empty question; skipped"))
            return
        qid = _cell(qid)
        if qid and qid in self.seen:
            self.problems.append(Problem(line, f"repeats id '{qid}' (first on line {self.seen[qid]}); skipped"))
            return
        if qid:
            self.seen[qid] = line
        self.items.append(Question(qid or _key(line, q), q, line, fields, bool(qid)))


def _from_txt(path: Path, text: str) -> Questions:
    col = _Collector(path)
    for n, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            col.add(n, line, None, {"question": line.strip()})
    return Questions(path, col.items, col.problems, ["question"])


def _from_jsonl(path: Path, text: str) -> Questions:
    col, columns = _Collector(path), []
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            col.problems.append(Problem(n, f"is not valid JSON ({exc.msg} at column {exc.colno}); skipped"))
            continue
        if not isinstance(obj, dict):
            col.problems.append(Problem(n, 'is not a JSON object like {"id": "q1", "question": "..."}; skipped'))
            continue
        for k in obj:
            if k not in columns:
                columns.append(k)
        col.add(n, obj.get("question"), obj.get("id"), {k: _cell(v) for k, v in obj.items()})
    if "question" not in columns:
        columns.append("question")
    return Questions(path, col.items, col.problems, columns)


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    first = text.split("\n", 1)[0]
    # Excel writes ';' in some locales and tab-separated text is common: use whichever splits out the header
    delim = next((d for d in (",", ";", "\t") if any(c.strip().lower() in QUESTION_COLUMNS for c in first.split(d))), ",")
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    rows, start = [], 1
    try:
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInputError(
            f"cannot parse CSV near line {reader.line_num} ({exc}); save it again from your spreadsheet"
        ) from None
    return rows


def _xlsx_rows(path: Path) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile/openpyxl raise many types for a non-workbook
        raise InvalidInputError(
            f"cannot read {path} as an Excel workbook ({type(exc).__name__}); save it again as .xlsx"
        ) from None
    try:
        return [(n, [_cell(v) for v in row]) for n, row in enumerate(wb.worksheets[0].iter_rows(values_only=True), start=1)]
    finally:
        wb.close()


def _from_table(path: Path, rows: list[tuple[int, list[str]]]) -> Questions:
    rows = [(n, [_cell(c) for c in r]) for n, r in rows]
    rows = [(n, r) for n, r in rows if any(r)]  # blank rows (and Excel's trailing ",,,") mean nothing
    if not rows:
        raise InvalidInputError(f"{path} is empty; give a header row with a 'question' column, then one question per row")
    header_line, header = rows[0]
    columns: list[str] = []
    for i, name in enumerate(header):
        name = name or f"column{i + 1}"
        columns.append(name if name not in columns else f"{name}_{i + 1}")
    lower = [c.strip().lower() for c in columns]
    qcol = next((lower.index(c) for c in QUESTION_COLUMNS if c in lower), None)
    if qcol is None:
        raise InvalidInputError(
            f"{path} has no 'question' column (header on line {header_line}: {', '.join(columns)}); "
            "name the column of questions 'question'"
        )
    columns[qcol] = "question"
    idcol = lower.index("id") if "id" in lower else None
    col = _Collector(path)
    for n, row in rows[1:]:
        if len(row) > len(columns) and any(row[len(columns):]):
            col.problems.append(Problem(n, f"has {len(row)} cells but the header has {len(columns)} columns "
                                           "(an unquoted comma?); skipped"))
            continue
        row = row + [""] * (len(columns) - len(row))
        col.add(n, row[qcol], row[idcol] if idcol is not None else None, dict(zip(columns, row)))
    return Questions(path, col.items, col.problems, columns)


# --- the journal ---------------------------------------------------------------------------------


def journal_path(out: Path) -> Path:
    """Where finished records are appended: the output itself for .jsonl, else OUT.partial.jsonl beside it."""
    out = Path(out)
    return out if out.suffix.lower() == ".jsonl" else out.with_name(out.name + ".partial.jsonl")


class Journal:
    """Append-only JSONL of finished records: one fsynced line each, locked against a second writer."""

    def __init__(self, path: Path, by_doc: bool):
        self.path = path
        self.repaired = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise BatchOutputError(f"cannot write {path} ({exc.strerror}); give --out a file in a folder you can "
                                   "write to") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise BatchOutputError(
                f"another `rag batch` is writing {path}; wait for it to finish or pick another --out"
            ) from None
        try:
            self.records = self._load(by_doc)
        except BaseException:
            self.close()
            raise

    def _load(self, by_doc: bool) -> dict[tuple[str, str | None], dict]:
        data = Path(self.path).read_bytes()
        if data and not data.endswith(b"\n"):
            # a run killed mid-write leaves a torn last line: that answer was never finished, redo it
            keep = data.rfind(b"\n") + 1
            os.ftruncate(self.fd, keep)
            data, self.repaired = data[:keep], True
        records: dict[tuple[str, str | None], dict] = {}
        for n, line in enumerate(data.decode("utf-8", errors="replace").split("\n"), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                ok = isinstance(rec, dict) and {"id", "question", "answer", "citations"} <= set(rec)
            except json.JSONDecodeError:
                ok = False
            if not ok:
                raise BatchOutputError(
                    f"{self.path} line {n} is not a `rag batch` answer record; pick another --out or move that file away"
                )
            if ("doc" in rec) != by_doc:
                mode = "--by-doc" if "doc" in rec else "plain (no --by-doc)"
                raise BatchOutputError(f"{self.path} holds {mode} answers; rerun in that mode or pick another --out")
            records.setdefault((str(rec["id"]), rec.get("doc")), rec)
        return records

    def append(self, record: dict) -> None:
        """Write one record as one line and force it to disk before returning."""
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        while data:
            data = data[os.write(self.fd, data):]
        os.fsync(self.fd)
        self.records[(record["id"], record.get("doc"))] = record

    def close(self) -> None:
        """Release the lock and the file."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


# --- answering -----------------------------------------------------------------------------------


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
            "out": str(self.out), "journal": str(self.journal) if self.journal.exists() else None,
            "total": self.total, "answered": self.answered, "abstained": self.abstained,
            "failed": len(self.failed), "new": self.new, "resumed": self.resumed,
            "seconds": round(self.seconds, 3), "per_second": round(self.new / self.seconds, 3) if self.new and self.seconds else None,
            "by_doc": self.by_doc, "docs": self.docs,
            "failures": [{"line": p.line, "doc": p.doc, "error": p.message} for p in self.failed],
        }


def check_output(out: Path, questions_path: Path | None = None) -> Path:
    """The output path, if its extension is one we write and it is not the input file."""
    out = Path(out)
    if out.suffix.lower() not in OUTPUTS:
        raise InvalidInputError(f"cannot write '{out.suffix or out.name}' files; give --out a .jsonl, .csv, .xlsx or .md path")
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
            raise BatchOutputError(f"cannot write {target} ({exc.strerror or type(exc).__name__}); "
                                   "give --out a file in a folder you can write to") from None


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
) -> BatchReport:
    """Answer every question not already in the output's journal, appending each as it finishes, then render OUT."""
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
                render(out, questions, journal.records, index.docs, by_doc)  # show what is done so far
            raise
        report.seconds = time.perf_counter() - t0
        for q, d in tasks:
            rec = journal.records.get((q.key, d))
            if rec is not None:
                report.abstained += bool(rec["abstained"])
                report.answered += not rec["abstained"]
        if out != report.journal:
            render(out, questions, journal.records, index.docs, by_doc)
    finally:
        journal.close()
    if out != report.journal and report.answered + report.abstained == report.total:
        report.journal.unlink()  # complete and rendered: the journal has done its job
    return report


def _answer_all(assistant, todo, journal, report, k, workers, progress) -> None:
    from rag.pipeline import Assistant
    from rag.retrieval import Retriever, normalize_query

    primed = PrimedQueries(assistant.retriever.embedder)
    batch_assistant = Assistant(assistant.settings, Retriever(assistant.retriever.index, primed, assistant.settings),
                                assistant.generator)
    limit = assistant.settings.max_question_chars
    done, total = report.resumed, report.total
    inflight: dict[Future, tuple[Question, str | None]] = {}
    if progress:
        progress(done, total)

    def collect(block: bool) -> None:
        nonlocal done
        finished, _ = wait(inflight, return_when=FIRST_COMPLETED) if block else ([f for f in inflight if f.done()], None)
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
                report.failed.append(Problem(q.line, f"failed{' on ' + d if d else ''}: {type(exc).__name__}: {exc}", d))
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


# --- rendering -----------------------------------------------------------------------------------


def citation_line(c: Mapping) -> str:
    """A citation as one line: "[1] title §section: quote"."""
    sec = f" §{c['section']}" if c.get("section") else ""
    return f"[{c['n']}] {c['title']}{sec}: {c['quote']}"


def citations_cell(rec: Mapping) -> str:
    """All of an answer's citations, one per line."""
    return "\n".join(citation_line(c) for c in rec["citations"])


def _doc_labels(docs: list[str], docinfo: Mapping) -> dict[str, str]:
    titles = {d: getattr(docinfo.get(d), "title", "") or d for d in docs}
    clash = {t for t in titles.values() if list(titles.values()).count(t) > 1}
    return {d: f"{t} ({d})" if t in clash else t for d, t in titles.items()}


def _out_columns(questions: Questions) -> list[str]:
    return [c if c not in ("answer", "citations", "abstained") else f"input_{c}" for c in questions.columns]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value):
    """A spreadsheet cell that cannot run as a formula (OWASP, CSV injection): text whose first
    character, or first after leading spaces, is = + - @ tab or carriage return gets a leading
    apostrophe; other values pass unchanged."""
    if isinstance(value, str) and (value.startswith(_FORMULA_START) or value.lstrip(" \t\r\n").startswith(_FORMULA_START)):
        return "'" + value
    return value


def spreadsheet(questions: Questions, records: Mapping, docinfo: Mapping, by_doc: bool) -> tuple[list[str], list[list]]:
    """``table`` with every header and cell neutralised against formula injection (for .csv and .xlsx)."""
    header, rows = table(questions, records, docinfo, by_doc)
    return [neutralize(h) for h in header], [[neutralize(v) for v in r] for r in rows]


def table(questions: Questions, records: Mapping, docinfo: Mapping, by_doc: bool) -> tuple[list[str], list[list]]:
    """Header and rows for .csv/.xlsx: input columns, then answer, citations, abstained (or a question x paper matrix)."""
    cols = _out_columns(questions)
    if by_doc:
        docs = list(docinfo)
        labels = _doc_labels(docs, docinfo)
        header = cols + [f"{part}: {labels[d]}" for d in docs for part in ("answer", "citations")]
    else:
        header = cols + ["answer", "citations", "abstained"]
    rows = []
    for q in questions.items:
        base = [q.fields.get(c, "") for c in questions.columns]
        if by_doc:
            cells = []
            for d in docs:
                rec = records.get((q.key, d))
                cells += [rec["answer"], citations_cell(rec)] if rec else ["", ""]
            if any(cells):
                rows.append(base + cells)
        elif (rec := records.get((q.key, None))) is not None:
            rows.append(base + [rec["answer"], citations_cell(rec), rec["abstained"]])
    return header, rows


def render(out: Path, questions: Questions, records: Mapping, docinfo: Mapping, by_doc: bool) -> None:
    """(Re)write OUT from the journal's records, atomically (temp file, then rename); a failure to
    write is one error that says where the answers are kept."""
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        _render(out, tmp, questions, records, docinfo, by_doc)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise BatchOutputError(f"cannot write {out} ({exc.strerror or type(exc).__name__}); the answers are kept in "
                               f"{journal_path(out)}; make {out.name} writable and rerun the same command (nothing is "
                               "asked again)") from None


def _render(out: Path, tmp: Path, questions: Questions, records: Mapping, docinfo: Mapping, by_doc: bool) -> None:
    suffix = out.suffix.lower()
    if suffix == ".md":
        tmp.write_text(markdown(questions, records, docinfo, by_doc), encoding="utf-8")
    elif suffix == ".csv":
        header, rows = spreadsheet(questions, records, docinfo, by_doc)
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:  # the BOM makes Excel read UTF-8
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows([["true" if v is True else "false" if v is False else v for v in r] for r in rows])
    elif suffix == ".xlsx":
        _write_xlsx(tmp, questions, records, docinfo, by_doc)
    os.replace(tmp, out)


def _write_xlsx(path: Path, questions: Questions, records: Mapping, docinfo: Mapping, by_doc: bool) -> None:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font

    def put(ws, rows: list[list], widths: list[int]) -> None:
        for r in rows:
            ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in r])
        for row in ws.iter_rows(min_row=1):
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # text starting with '=' stays text, never a formula
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
        for i, w in enumerate(widths):
            ws.column_dimensions[ws.cell(1, i + 1).column_letter].width = w

    header, rows = spreadsheet(questions, records, docinfo, by_doc)
    wb = Workbook()
    ws = wb.active
    ws.title = "by paper" if by_doc else "answers"
    widths = [60 if h in ("question", "answer") or h.startswith("answer:") else 80 if "citations" in h else 14
              for h in header]
    put(ws, [header] + rows, widths)
    refs = wb.create_sheet("references")
    refs_rows = [[f"R{n}", neutralize(d), neutralize(t), neutralize(a)]
                 for n, d, t, a in references(questions, records, docinfo, by_doc)]
    put(refs, [["ref", "doc", "title", "authors"]] + refs_rows, [6, 30, 60, 30])
    wb.save(path)


def references(questions: Questions, records: Mapping, docinfo: Mapping, by_doc: bool) -> list[tuple[int, str, str, str]]:
    """One deduplicated reference list for the batch: (n, doc, title, authors), papers in order of first citation."""
    order: dict[str, str] = {}
    if by_doc:
        order = {d: getattr(info, "title", d) for d, info in docinfo.items()}
    for q in questions.items:
        for rec in (records.get((q.key, d)) for d in ([None] if not by_doc else list(docinfo))):
            for c in rec["citations"] if rec else ():
                order.setdefault(c["doc"], c["title"])
    out = []
    for n, (d, title) in enumerate(order.items(), start=1):
        info = docinfo.get(d)
        out.append((n, d, getattr(info, "title", None) or title, ", ".join(getattr(info, "authors", ()))))
    return out


def _quote_block(text: str) -> str:
    return "\n".join("> " + ln if ln.strip() else ">" for ln in text.strip().split("\n"))


def _cell_md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown(questions: Questions, records: Mapping, docinfo: Mapping, by_doc: bool) -> str:
    """A readable report: every question, its answer and passages, then one reference list for the batch."""
    refs = references(questions, records, docinfo, by_doc)
    ref_of = {d: n for n, d, _, _ in refs}
    docs = list(docinfo) if by_doc else [None]
    got = [(q, [records.get((q.key, d)) for d in docs]) for q in questions.items]
    n_rec = sum(r is not None for _, recs in got for r in recs)
    n_abs = sum(bool(r and r["abstained"]) for _, recs in got for r in recs)
    lines = [f"# Answers: {questions.path.name}", ""]
    unit = "answers (question × paper)" if by_doc else "questions"
    lines += [f"{len(questions.items) * len(docs)} {unit}: {n_rec - n_abs} answered with citations, {n_abs} not answered "
              f"by the sources, {len(questions.items) * len(docs) - n_rec} missing.", ""]
    if by_doc:
        lines += ["## Overview", "", "| # | question | " + " | ".join(f"R{ref_of[d]}" for d in docs) + " |",
                  "|---|---|" + "---|" * len(docs)]
        for i, (q, recs) in enumerate(got, start=1):
            marks = ["—" if r is None else "no answer" if r["abstained"] else f"{len(r['citations'])} cited" for r in recs]
            lines.append(f"| {i} | {_cell_md(q.question)} | " + " | ".join(marks) + " |")
        lines += ["", "Papers: " + "; ".join(f"R{ref_of[d]} *{getattr(docinfo[d], 'title', d)}*" for d in docs), ""]
    for i, (q, recs) in enumerate(got, start=1):
        ident = f" `{q.key}`" if q.has_id else ""
        lines += [f"## {i}. {q.question}{ident}", ""]
        for d, rec in zip(docs, recs):
            if d:
                info = docinfo.get(d)
                lines += [f"### R{ref_of[d]} {getattr(info, 'title', d)}", ""]
            if rec is None:
                lines += ["*Not answered yet (failed or interrupted; rerun with the same --out).*", ""]
                continue
            lines += [rec["answer"], ""]
            if rec["citations"]:
                lines += ["Passages:", ""]
            for c in rec["citations"]:
                sec = f" §{c['section']}" if c.get("section") else ""
                passage = "  " + _quote_block(c["text"]).replace("\n", "\n  ")  # nested under the list item
                lines += [f"- [{c['n']}] *{c['title']}*{sec} (R{ref_of[c['doc']]}): “{c['quote']}”", "", passage, ""]
    lines += ["## References", ""]
    if not refs:
        lines += ["No passage was cited.", ""]
    for n, d, title, authors in refs:
        lines.append(f"R{n}. {authors + '. ' if authors else ''}{title}. `{d}`")
    return "\n".join(lines).rstrip() + "\n"
