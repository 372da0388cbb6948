"""`rag review`'s outputs, rendered from the records (rag.review.records): a Markdown matrix, an XLSX
workbook (an overview sheet, one sheet per question, the references) and the JSONL records themselves;
the reference list in the chosen style. Spreadsheet cells are neutralised against formula injection
as `rag batch`'s are."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from rag.errors import BatchOutputError
from rag.ingest.metadata import parse_name, real_authors
from rag.records import Citation
from rag.refs.render import Reference, md_reference, reference_entry, reference_list
from rag.review.api import DISCUSSED
from rag.review.batch.inputs import Questions
from rag.review.batch.render import neutralize, put_rows
from rag.review.stance import OPPOSITE, SAME

OUTPUTS = (".md", ".xlsx", ".jsonl")


def _recs(questions: Questions, records: Mapping, docs: Sequence[str]) -> list[tuple[str, str, list[dict | None]]]:
    return [(q.key, q.question, [records.get((q.key, d)) for d in docs]) for q in questions.items]


def references(records: Mapping, docinfo: Mapping, docs: Sequence[str]) -> list[Reference]:
    """Every reviewed paper once, in review order, with the index's title and record."""
    refs = reference_list([], [(d, getattr(docinfo.get(d), "title", d)) for d in docs])
    cited = [Citation.from_dict(c) for r in records.values() for c in r.get("citations", [])]
    bibs = {c.doc: c.bib for c in cited}
    return [replace(r, bib=getattr(docinfo.get(r.doc), "bib", None) or bibs.get(r.doc) or r.bib) for r in refs]


def sheet_reference(r: Reference, docinfo: Mapping, style: str) -> str:
    """A reference list entry for the workbook: the style's entry, authors first; a record without
    authors borrows the index's (a paper whose first page named them but whose record did not)."""
    names = tuple(getattr(docinfo.get(r.doc), "authors", ()) or ())
    if not real_authors(r.bib.authors) and names:
        r = replace(r, bib=replace(r.bib, authors=tuple(parse_name(n) for n in names)))
    return reference_entry(r, style)


def _where(p: Mapping) -> str:
    bits = [f"p. {p['page']}" if p.get("page") else "", f"§{p['section']}" if p.get("section") else ""]
    return ", ".join(b for b in bits if b)


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown(questions: Questions, records: Mapping, docinfo: Mapping, docs: Sequence[str], style: str) -> str:
    """The review as a report: the question × paper matrix, then per question the pooled answer, each
    paper's points with page and section (or "not discussed" with the nearest sentence), the points papers
    share or take opposite stances on, each paper's distinct emphasis, and one reference list."""
    refs = references(records, docinfo, docs)
    rn = {r.doc: r.n for r in refs}
    got = _recs(questions, records, docs)
    lines = [f"# Review: {questions.path.name}", "", "## Matrix", ""]
    lines += ["| # | question | " + " | ".join(f"R{rn[d]}" for d in docs) + " |", "|---|---|" + "---|" * len(docs)]
    for i, (_, q, recs) in enumerate(got, start=1):
        marks = [
            "—" if r is None else f"{len(r['points'])} points" if r["status"] == DISCUSSED else "not discussed"
            for r in recs
        ]
        lines.append(f"| {i} | {_md_cell(q)} | " + " | ".join(marks) + " |")
    lines += ["", "Papers: " + "; ".join(f"R{rn[d]} *{getattr(docinfo.get(d), 'title', d)}*" for d in docs), ""]
    for i, (_, q, recs) in enumerate(got, start=1):
        lines += [f"## {i}. {q}", ""]
        first = next((r for r in recs if r is not None), None)
        if first is None:
            lines += ["*Not reviewed yet (interrupted; rerun with the same --out).*", ""]
            continue
        lines += [first["pooled"], ""]
        for d, r in zip(docs, recs):
            if r is None:
                continue
            lines += [f"### R{rn[d]} {r['ref']}", ""]
            if r["status"] == DISCUSSED:
                lines += [
                    f"{n}. “{p['quote']}” [{p['n']}] ({_where(p) or p['chunk_id']})"
                    for n, p in enumerate(r["points"], 1)
                ]
            else:
                near = r.get("nearest")
                lines.append(
                    "Not discussed." + (f" Nearest sentence ({_where(near)}): “{near['quote']}”" if near else "")
                )
            lines.append("")
        ref = {r["doc"]: r["ref"] for r in recs if r is not None}
        for rel, head in ((SAME, "**Same point in several papers:**"), (OPPOSITE, "**Opposite stances:**")):
            pairs = [a for a in first["agreements"] if a.get("relation", SAME) == rel]
            if pairs:
                lines += [head, ""]
                lines += [
                    f"- {ref.get(a['doc_a'], a['doc_a'])}: “{a['quote_a']}” — "
                    f"{ref.get(a['doc_b'], a['doc_b'])}: “{a['quote_b']}”"
                    for a in pairs
                ]
                lines.append("")
        distinct = [(r["ref"], r["distinct"]) for r in recs if r is not None and r.get("distinct")]
        if first["agreements"] and distinct:
            lines += ["**Distinct emphasis:**", ""]
            lines += [f"- {ref_}: " + " ".join(f"“{x}”" for x in qs) for ref_, qs in distinct]
            lines.append("")
    lines += ["## References", ""]
    lines += [md_reference(r, tuple(getattr(docinfo.get(r.doc), "authors", ())), style) for r in refs]
    return "\n".join(lines).rstrip() + "\n"


def _sheet_name(i: int, question: str, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", " ", f"Q{i} {question}")[:31].strip()
    name, n = base, 2
    while name in taken:
        name, n = f"{base[:28]}~{n}", n + 1
    taken.add(name)
    return name


def write_xlsx(
    path: Path, questions: Questions, records: Mapping, docinfo: Mapping, docs: Sequence[str], style: str
) -> None:
    """The workbook: an overview (question × paper: points or "not discussed"), a sheet per question (the
    pooled answer, then one row per point), and the references in the chosen style."""
    from openpyxl import Workbook

    def put(ws, rows: list[list], widths: list[int]) -> None:
        put_rows(ws, rows, widths, neutralize)

    refs = references(records, docinfo, docs)
    rn = {r.doc: r.n for r in refs}
    got = _recs(questions, records, docs)
    wb = Workbook()
    ws = wb.active
    ws.title = "overview"
    head = ["#", "id", "question"] + [f"R{rn[d]} {getattr(docinfo.get(d), 'title', d)}" for d in docs]
    rows = []
    for i, (key, q, recs) in enumerate(got, start=1):
        cells = ["" if r is None else r["answer"] if r["status"] == DISCUSSED else "not discussed" for r in recs]
        rows.append([i, key, q, *cells])
    put(ws, [head] + rows, [5, 12, 40] + [60] * len(docs))
    taken = {"overview", "references"}
    for i, (_, q, recs) in enumerate(got, start=1):
        sheet = wb.create_sheet(_sheet_name(i, q, taken))
        first = next((r for r in recs if r is not None), None)
        body: list[list] = [["paper", "status", "n", "quote", "page", "section", "chunk_id"]]
        for r in recs:
            if r is None:
                continue
            if r["status"] == DISCUSSED:
                body += [
                    [r["ref"], r["status"], p["n"], p["quote"], p["page"], p["section"], p["chunk_id"]]
                    for p in r["points"]
                ]
            else:
                near = r.get("nearest") or {}
                body.append(
                    [
                        r["ref"],
                        "not discussed (nearest)",
                        "",
                        near.get("quote", ""),
                        near.get("page", ""),
                        near.get("section", ""),
                        near.get("chunk_id", ""),
                    ]
                )
        body += [[], ["question", q], ["pooled answer", first["pooled"] if first else ""]]
        refs_of = {r["doc"]: r["ref"] for r in recs if r is not None}
        for a in first["agreements"] if first else []:
            label = "opposite stances" if a.get("relation") == OPPOSITE else "same point"
            body.append([label, refs_of.get(a["doc_a"], a["doc_a"]), "", a["quote_a"], "", "", ""])
            body.append(["", refs_of.get(a["doc_b"], a["doc_b"]), "", a["quote_b"], "", "", ""])
        put(sheet, body, [24, 16, 5, 80, 8, 24, 28])
    rs = wb.create_sheet("references")
    put(
        rs,
        [["ref", "doc", "title", f"reference ({style})"]]
        + [[f"R{r.n}", r.doc, r.title, sheet_reference(r, docinfo, style)] for r in refs],
        [6, 30, 60, 100],
    )
    wb.save(path)


def render(
    out: Path, questions: Questions, records: Mapping, docinfo: Mapping, docs: Sequence[str], style: str
) -> None:
    """Write OUT (.md or .xlsx) from the records, atomically (beside it, then renamed over it); a .jsonl
    output is the journal itself."""
    if out.suffix.lower() == ".jsonl":
        return
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        if out.suffix.lower() == ".xlsx":
            write_xlsx(tmp, questions, records, docinfo, docs, style)
        else:
            tmp.write_text(markdown(questions, records, docinfo, docs, style), encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        raise BatchOutputError(
            f"cannot write {out} ({exc.strerror}); give --out a file in a folder you can write to"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
