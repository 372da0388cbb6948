"""Reading a file of questions (.txt, .csv, .xlsx, .jsonl) into Questions, malformed rows reported by line."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import InvalidInputError

INPUTS = (".txt", ".csv", ".xlsx", ".jsonl")
OUTPUTS = (".jsonl", ".csv", ".xlsx", ".md")
QUESTION_COLUMNS = ("question", "问题")


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


def read_questions(path: Path) -> Questions:
    """Questions from .txt (one per line), .csv/.xlsx (a `question` column) or .jsonl (`id`, `question`)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in INPUTS:
        raise InvalidInputError(
            f"cannot read questions from '{path.suffix or path.name}' files; use .txt, .csv, .xlsx or .jsonl"
        )
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
    from rag.ingest.loading import decode

    try:
        text, _ = decode(path.read_bytes())
    except Exception as why:  # rag.ingest.loading signals binary/unknown encodings with its own exception
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
        self.path = path
        self.items: list[Question] = []
        self.problems: list[Problem] = []
        self.seen: dict[str, int] = {}

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
    delim = next(
        (d for d in (",", ";", "\t") if any(c.strip().lower() in QUESTION_COLUMNS for c in first.split(d))), ","
    )
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
        return [
            (n, [_cell(v) for v in row]) for n, row in enumerate(wb.worksheets[0].iter_rows(values_only=True), start=1)
        ]
    finally:
        wb.close()


def _from_table(path: Path, rows: list[tuple[int, list[str]]]) -> Questions:
    rows = [(n, [_cell(c) for c in r]) for n, r in rows]
    rows = [(n, r) for n, r in rows if any(r)]  # blank rows (and Excel's trailing ",,,") mean nothing
    if not rows:
        raise InvalidInputError(
            f"{path} is empty; give a header row with a 'question' column, then one question per row"
        )
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
        if len(row) > len(columns) and any(row[len(columns) :]):
            col.problems.append(
                Problem(
                    n, f"has {len(row)} cells but the header has {len(columns)} columns (an unquoted comma?); skipped"
                )
            )
            continue
        row = row + [""] * (len(columns) - len(row))
        col.add(n, row[qcol], row[idcol] if idcol is not None else None, dict(zip(columns, row)))
    return Questions(path, col.items, col.problems, columns)
