"""The batch outputs: .csv and .xlsx tables (cells neutralised against formula injection), the .md report
and its one reference list, rendered from the journal's records."""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from rag.errors import BatchOutputError
from rag.records import Citation
from rag.refs.render import Reference, citation_line, md_citation, md_reference, reference_entry, reference_list
from rag.review.batch.inputs import Questions
from rag.review.batch.journal import journal_path


def _citations(rec: Mapping | None) -> tuple[Citation, ...]:
    """The citations of a journal record (none for a question not answered yet)."""
    return tuple(Citation.from_dict(c) for c in rec["citations"]) if rec else ()


def citations_cell(rec: Mapping) -> str:
    """All of an answer's citations, one per line."""
    return "\n".join(citation_line(c) for c in _citations(rec))


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
    if isinstance(value, str) and (
        value.startswith(_FORMULA_START) or value.lstrip(" \t\r\n").startswith(_FORMULA_START)
    ):
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


def render(
    out: Path, questions: Questions, records: Mapping, docinfo: Mapping, by_doc: bool, style: str = "plain"
) -> None:
    """(Re)write OUT from the journal's records, atomically (temp file, then rename); a failure to
    write is one error that says where the answers are kept."""
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        _render(out, tmp, questions, records, docinfo, by_doc, style)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise BatchOutputError(
            f"cannot write {out} ({exc.strerror or type(exc).__name__}); the answers are kept in "
            f"{journal_path(out)}; make {out.name} writable and rerun the same command (nothing is "
            "asked again)"
        ) from None


def _render(
    out: Path, tmp: Path, questions: Questions, records: Mapping, docinfo: Mapping, by_doc: bool, style: str
) -> None:
    suffix = out.suffix.lower()
    if suffix == ".md":
        tmp.write_text(markdown(questions, records, docinfo, by_doc, style), encoding="utf-8")
    elif suffix == ".csv":
        header, rows = spreadsheet(questions, records, docinfo, by_doc)
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:  # the BOM makes Excel read UTF-8
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows([["true" if v is True else "false" if v is False else v for v in r] for r in rows])
    elif suffix == ".xlsx":
        _write_xlsx(tmp, questions, records, docinfo, by_doc, style)
    os.replace(tmp, out)


def put_rows(ws, rows: list[list], widths: list[int], clean: Callable[[str], str] = str) -> None:
    """Rows into a worksheet as text cells (never formulas), wrapped, header bold and frozen; ``clean``
    applies to every string after characters XLSX cannot hold are removed."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font

    for r in rows:
        ws.append([clean(ILLEGAL_CHARACTERS_RE.sub("", v)) if isinstance(v, str) else v for v in r])
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


def _write_xlsx(
    path: Path, questions: Questions, records: Mapping, docinfo: Mapping, by_doc: bool, style: str = "plain"
) -> None:
    from openpyxl import Workbook

    header, rows = spreadsheet(questions, records, docinfo, by_doc)
    wb = Workbook()
    ws = wb.active
    ws.title = "by paper" if by_doc else "answers"
    widths = [
        60 if h in ("question", "answer") or h.startswith("answer:") else 80 if "citations" in h else 14 for h in header
    ]
    put_rows(ws, [header] + rows, widths)
    refs = wb.create_sheet("references")
    refs_rows = [
        [f"R{r.n}", neutralize(r.doc), neutralize(r.title), neutralize(", ".join(_authors(docinfo, r.doc)))]
        + ([neutralize(reference_entry(r, style))] if style != "plain" else [])
        for r in references(questions, records, docinfo, by_doc)
    ]
    extra = [f"reference ({style})"] if style != "plain" else []
    put_rows(refs, [["ref", "doc", "title", "authors", *extra]] + refs_rows, [6, 30, 60, 30, 100])
    wb.save(path)


def references(questions: Questions, records: Mapping, docinfo: Mapping, by_doc: bool) -> list[Reference]:
    """One deduplicated reference list for the batch, papers in order of first citation (with
    ``by_doc`` every paper, in index order), titles as the index has them."""
    docs: list[Any] = list(docinfo) if by_doc else [None]  # None: the batch is not per paper
    first = [(d, getattr(info, "title", d)) for d, info in docinfo.items()] if by_doc else []
    refs = reference_list((_citations(records.get((q.key, d))) for q in questions.items for d in docs), first)
    return [
        replace(
            r,
            title=getattr(docinfo.get(r.doc), "title", None) or r.title,
            bib=getattr(docinfo.get(r.doc), "bib", None) or r.bib,
        )
        for r in refs
    ]


def _authors(docinfo: Mapping, doc: str) -> tuple[str, ...]:
    return tuple(getattr(docinfo.get(doc), "authors", ()))


def _quote_block(text: str) -> str:
    return "\n".join("> " + ln if ln.strip() else ">" for ln in text.strip().split("\n"))


def _cell_md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown(questions: Questions, records: Mapping, docinfo: Mapping, by_doc: bool, style: str = "plain") -> str:
    """A readable report: every question, its answer and passages, then one reference list for the batch."""
    refs = references(questions, records, docinfo, by_doc)
    ref_of: dict[str | None, int] = {r.doc: r.n for r in refs}
    docs = list(docinfo) if by_doc else [None]
    got = [(q, [records.get((q.key, d)) for d in docs]) for q in questions.items]
    n_rec = sum(r is not None for _, recs in got for r in recs)
    n_abs = sum(bool(r and r["abstained"]) for _, recs in got for r in recs)
    lines = [f"# Answers: {questions.path.name}", ""]
    unit = "answers (question × paper)" if by_doc else "questions"
    lines += [
        f"{len(questions.items) * len(docs)} {unit}: {n_rec - n_abs} answered with citations, {n_abs} not answered "
        f"by the sources, {len(questions.items) * len(docs) - n_rec} missing.",
        "",
    ]
    if by_doc:
        lines += [
            "## Overview",
            "",
            "| # | question | " + " | ".join(f"R{ref_of[d]}" for d in docs) + " |",
            "|---|---|" + "---|" * len(docs),
        ]
        for i, (q, recs) in enumerate(got, start=1):
            marks = [
                "—" if r is None else "no answer" if r["abstained"] else f"{len(r['citations'])} cited" for r in recs
            ]
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
            for c in _citations(rec):
                passage = "  " + _quote_block(c.text).replace("\n", "\n  ")  # nested under the list item
                lines += [md_citation(c, ref_of[c.doc]), "", passage, ""]
    lines += ["## References", ""]
    if not refs:
        lines += ["No passage was cited.", ""]
    lines += [md_reference(r, _authors(docinfo, r.doc), style) for r in refs]
    return "\n".join(lines).rstrip() + "\n"
