"""The row of a table a question asks about. A table passage is its header line, rows and caption, one
run of text (``rag.ingest.pdf.tables.table_passages``): quoted whole it answers with every row of the block,
the asked value lost among the others (and a cell such as "[10]" reads as a citation mark). A question that
names one row's label — most of the label's words, one of them in no other row's label of the block — asks
about that row, so the answer quotes the table's header lines and that row, cited by the passage's section
(which names the table) and page. A named line of a few value cells only (fewer than half the widest line's
cells: "6  6" under "# enc-layers  # dec-layers") is a cell spanning rows, printed once between the rows it
belongs to: it is quoted with the row above and the row below, or with the one of them the question names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer.evidence import Evidence, Span
from rag.ingest.pdf.tables import SEP
from rag.lang.text import tokenize

# the share of a row label's words the question must hold: a label the question names, not one that shares a
# word with it (a label "Presence of X (%)" named by a question "... carried X?" holds 2 of 3)
MIN_LABEL_COVER = 0.5
MAX_ROWS = 3  # rows a question names at most ("X, Y and Z"); more are named by a word the rows share
CELL = "\t"


@dataclass(frozen=True)
class TableRow:
    """The rows a question names: the header and row spans to quote, and how much of the question they name."""

    header: Span
    rows: tuple[Span, ...]
    share: float


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line of a table passage: header, rows, then the caption."""
    out, at = [], 0
    for part in text.split(SEP):
        out.append((at, at + len(part)))
        at += len(part) + len(SEP)
    return out


def row_label(row: str) -> str:
    """A row's label: its first cell and the cells after it that hold no digit (a value starts the values)."""
    cells = row.split(CELL)
    label = [cells[0]]
    for c in cells[1:]:
        if any(ch.isdigit() for ch in c):
            break
        label.append(c)
    return " ".join(label)


def _labels_only(row: str) -> bool:
    """A line with no value cell: a header line or a group name."""
    return row_label(row) == row.replace(CELL, " ")


def _rows_spanned(text: str, rows: list[tuple[int, int]], r: int, words: frozenset[str]) -> list[int]:
    """The rows a named line belongs to: the line itself, and when it is a cell spanning rows (a few value
    cells only, vertically centred between its rows), the rows right above and below it that are full rows —
    only those of them whose label holds a word of the question when one does."""
    widths = [text[a:b].count(CELL) + 1 for a, b in rows]
    if 2 * widths[r] >= max(widths):
        return [r]
    near = [j for j in (r - 1, r + 1) if 0 <= j < len(rows) and 2 * widths[j] >= max(widths)]
    near = [j for j in near if not _labels_only(text[slice(*rows[j])])]
    asked = [j for j in near if frozenset(tokenize(row_label(text[slice(*rows[j])]))) & words]
    return sorted([r, *(asked or near)])


def _span(ev: Evidence, hi: int, a: int, b: int) -> Span | None:
    """The span of a passage's text [a, b) within one of its sentences, or None when it crosses one."""
    p = ev.passages[hi]
    text = p.hit.chunk.text[a:b]
    for i in range(p.first, p.first + p.count):
        _, sa, sb = ev.bounds[i]
        if sa <= a and b <= sb:
            return Span(hi, a, b, text, (i,))
    return None


def named_row(ev: Evidence, likeliest: Sequence[int]) -> TableRow | None:
    """The table rows the question names (see the module docstring), looked for in the table passages in
    the order of ``likeliest`` (hit positions, the answer model's likeliest passage first: it decides which
    table is asked about): in the first that has one, every row it names ("X and Y" asks for two), in table
    order; ``share`` is the largest IDF-weighted share of the question's terms a named label holds that the
    block's other labels lack. None when no row is named, or more than MAX_ROWS are (a word of the table's
    topic, not a row's name)."""
    groups = ev.groups
    total = sum(w for _, w in groups) or 1.0
    tables = {hi for hi, p in enumerate(ev.passages) if p.hit.chunk.kind == "table"}
    for hi in dict.fromkeys(likeliest):
        if hi not in tables:
            continue
        text = ev.passages[hi].hit.chunk.text
        lines = _lines(text)
        # header lines (the first, and the lines of labels only right under it: a header on several lines),
        # rows, caption
        top = 1
        while top < len(lines) - 1 and _labels_only(text[slice(*lines[top])]):
            top += 1
        rows = lines[top:-1]
        labels = [frozenset(tokenize(row_label(text[a:b]))) for a, b in rows]
        named: list[tuple[float, int]] = []
        for r, (a, b) in enumerate(rows):
            if _labels_only(text[a:b]):
                continue  # a group name holds no value
            others = frozenset().union(*(t for j, t in enumerate(labels) if j != r))
            asked = [(alts, w) for alts, w in groups if any(x in labels[r] for x in alts)]
            cover = sum(any(t in alts for alts, _ in asked) for t in labels[r]) / max(len(labels[r]), 1)
            share = sum(w for alts, w in asked if not any(x in others for x in alts)) / total
            if share > 0 and cover >= MIN_LABEL_COVER:
                named.append((share, r))
        if not named:
            continue
        if len(named) > MAX_ROWS:
            return None
        header = _span(ev, hi, 0, lines[top - 1][1])
        words = frozenset(x for alts, _ in groups for x in alts)
        quoted = sorted({j for _, r in named for j in _rows_spanned(text, rows, r, words)})
        spans = [_span(ev, hi, *rows[r]) for r in quoted]
        if header is None or any(s is None for s in spans):
            return None
        return TableRow(header, tuple(s for s in spans if s is not None), max(share for share, _ in named))
    return None
