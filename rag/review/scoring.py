"""Review gold and its scorer.

A review gold file is JSONL, one question a line: ``{"id", "question", "lang", "cells": {DOC: [points] |
"not addressed"}}``, a point ``{"keywords": [[alternatives], ...], "quote": "<verbatim, < 40 chars>"}``.
A point is recovered when the cell's answer holds its quote or an alternative of every keyword group
(NFKC, case and whitespace ignored); its evidence is cited when a passage the cell cites holds the quote.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import GoldFileError

NOT_ADDRESSED = "not addressed"
QUOTE_MAX = 40
CELL_LIMIT = 600


def norm(text: str) -> str:
    """NFKC, lower case, no whitespace: what quotes and keywords are matched on."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


@dataclass(frozen=True)
class GoldPoint:
    """One key point of a paper's answer."""

    keywords: tuple[tuple[str, ...], ...]
    quote: str


@dataclass(frozen=True)
class GoldQuestion:
    """A review question with, per paper, its key points (empty: the paper does not address it)."""

    id: str
    question: str
    lang: str
    cells: Mapping[str, tuple[GoldPoint, ...]]


def load_review_gold(path: Path) -> list[GoldQuestion]:
    """Read a review gold file; a malformed line is named in one error."""
    out = []
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except OSError as exc:
        raise GoldFileError(f"cannot read review gold {path} ({exc.strerror}); check the path") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            cells = {
                doc: ()
                if v == NOT_ADDRESSED
                else tuple(GoldPoint(tuple(tuple(g) for g in p["keywords"]), p["quote"]) for p in v)
                for doc, v in d["cells"].items()
            }
            out.append(GoldQuestion(str(d["id"]), d["question"], d.get("lang", ""), cells))
        except (ValueError, KeyError, TypeError) as exc:
            raise GoldFileError(f"{path} line {n}: not a review gold record ({type(exc).__name__}: {exc})") from None
    return out


def check_gold(gold: list[GoldQuestion], texts: Mapping[str, str]) -> list[str]:
    """Problems of a gold file against its papers' texts: an unknown paper, a quote not verbatim in the
    paper or of 40 characters or more, a keyword group none of whose alternatives the paper uses."""
    problems = []
    normed = {d: norm(t) for d, t in texts.items()}
    for q in gold:
        for doc, points in q.cells.items():
            if doc not in normed:
                problems.append(f"{q.id}: no paper {doc}")
                continue
            for p in points:
                if len(p.quote) >= QUOTE_MAX:
                    problems.append(f"{q.id} {doc}: quote of {len(p.quote)} characters: {p.quote}")
                if norm(p.quote) not in normed[doc]:
                    problems.append(f"{q.id} {doc}: quote not in the paper: {p.quote}")
                for g in p.keywords:
                    if not any(norm(a) in normed[doc] for a in g):
                        problems.append(f"{q.id} {doc}: no keyword of {list(g)} in the paper")
    return problems


@dataclass(frozen=True)
class ScoredCell:
    """What a system gave for one (question, paper): whether it answered, its text, the passages it cites."""

    qid: str
    doc: str
    answered: bool
    answer: str
    passages: tuple[str, ...] = ()


@dataclass
class Counts:
    """Running totals for one group of questions."""

    points: int = 0
    recovered: int = 0
    cited: int = 0
    addressed: int = 0
    false_nd: int = 0
    absent: int = 0
    correct_nd: int = 0
    pooled: int = 0
    lengths: list[int] = field(default_factory=list)

    def summary(self) -> dict:
        """The metrics of these totals."""
        lens = sorted(self.lengths)
        return {
            "point_recall": _r(self.recovered, self.points),
            "evidence_cited": _r(self.cited, self.points),
            "false_not_discussed": _r(self.false_nd, self.addressed),
            "correct_not_discussed": _r(self.correct_nd, self.absent),
            "pooled_coverage": _r(self.pooled, self.addressed),
            "cell_chars_mean": round(sum(lens) / len(lens), 1) if lens else 0.0,
            "cell_chars_max": lens[-1] if lens else 0,
            "cells_over_limit": _r(sum(n > CELL_LIMIT for n in lens), len(lens)),
            "points": self.points,
            "cells_addressed": self.addressed,
            "cells_not_addressed": self.absent,
        }


def _r(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def score(gold: list[GoldQuestion], cells: Iterable[ScoredCell], pooled: Mapping[str, set[str]]) -> dict:
    """Point recall, evidence inside a cited passage, false and correct "not discussed", pooled coverage
    (``pooled``: question id -> the papers its pooled answer covers) and answered-cell length; overall
    and by the question's language."""
    got = {(c.qid, c.doc): c for c in cells}
    groups: dict[str, Counts] = {"overall": Counts()}
    rows = []
    for q in gold:
        targets = [groups["overall"], groups.setdefault(f"by_lang:{q.lang}", Counts())]
        for doc, points in q.cells.items():
            c = got.get((q.id, doc))
            answered = bool(c and c.answered)
            text = norm(c.answer) if c else ""
            cited = [norm(p) for p in c.passages] if c else []
            rec = sum(_recovered(p, text) for p in points) if answered else 0
            inside = sum(any(norm(p.quote) in t for t in cited) for p in points) if answered else 0
            for t in targets:
                if points:
                    t.points += len(points)
                    t.recovered += rec
                    t.cited += inside
                    t.addressed += 1
                    t.false_nd += not answered
                    t.pooled += doc in pooled.get(q.id, set())
                else:
                    t.absent += 1
                    t.correct_nd += not answered
                if answered and c is not None:
                    t.lengths.append(len(c.answer))
            rows.append(
                {
                    "id": q.id,
                    "doc": doc,
                    "gold_points": len(points),
                    "answered": answered,
                    "recovered": rec,
                    "cited": inside,
                }
            )
    return {"summary": {k: v.summary() for k, v in groups.items()}, "cells": rows}


def _recovered(p: GoldPoint, text: str) -> bool:
    return norm(p.quote) in text or all(any(norm(a) in text for a in g) for g in p.keywords)


def read_texts(folder: Path) -> dict[str, str]:
    """The text papers (.txt, .md) of a corpus folder by document id (their file name)."""
    return {p.name: p.read_text("utf-8") for p in sorted(Path(folder).iterdir()) if p.suffix in (".txt", ".md")}


# --- agreement across papers ---------------------------------------------------------------------

STANCE_LABELS = ("same", "unrelated", "opposite")


@dataclass(frozen=True)
class StancePair:
    """A labelled pair of two papers' points for one question (quotes given by their opening words)."""

    qid: str
    doc_a: str
    quote_a: str
    doc_b: str
    quote_b: str
    label: str  # same | unrelated | opposite


def stance_gold_path(gold: Path) -> Path:
    """Where a review gold file's stance gold lives: ``stance_<name>`` beside it."""
    return Path(gold).with_name(f"stance_{Path(gold).name}")


def load_stance_gold(path: Path) -> list[StancePair]:
    """Read a stance gold file (JSONL: id, a, quote_a, b, quote_b, label); a malformed line is named."""
    out = []
    for n, line in enumerate(Path(path).read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            pair = StancePair(str(d["id"]), d["a"], d["quote_a"], d["b"], d["quote_b"], d["label"])
        except (ValueError, KeyError, TypeError) as exc:
            raise GoldFileError(f"{path} line {n}: not a stance record ({type(exc).__name__}: {exc})") from None
        if pair.label not in STANCE_LABELS:
            raise GoldFileError(f"{path} line {n}: label {pair.label!r} is not one of {', '.join(STANCE_LABELS)}")
        out.append(pair)
    return out


def _same_pair(p: StancePair, qid: str, doc_a: str, quote_a: str, doc_b: str, quote_b: str) -> bool:
    sides = ((p.doc_a, norm(p.quote_a)), (p.doc_b, norm(p.quote_b)))
    got = ((doc_a, norm(quote_a.strip("…"))), (doc_b, norm(quote_b.strip("…"))))
    match = all(d == gd and q.startswith(gq) for (gd, gq), (d, q) in zip(sides, got))
    return p.qid == qid and (match or all(d == gd and q.startswith(gq) for (gd, gq), (d, q) in zip(sides, got[::-1])))


def score_stance(gold: list[StancePair], shown: Iterable[tuple[str, str, str, str, str, str]]) -> dict:
    """How right the agreements shown are (``shown``: (question id, doc a, quote a, doc b, quote b,
    relation)): of those the gold labels, how many have the gold's label (precision), and how many of the
    gold's "same" pairs were shown as same (recall); unlabelled ones are counted apart."""
    shown = list(shown)
    labelled = right = unlabelled = 0
    found: set[int] = set()
    for qid, da, qa, db, qb, rel in shown:
        hit = next((i for i, p in enumerate(gold) if _same_pair(p, qid, da, qa, db, qb)), None)
        if hit is None:
            unlabelled += 1
            continue
        labelled += 1
        right += gold[hit].label == rel
        if gold[hit].label == rel == "same":
            found.add(hit)
    same = sum(p.label == "same" for p in gold)
    return {
        "shown": len(shown),
        "labelled": labelled,
        "right": right,
        "precision": _r(right, labelled),
        "same_recall": _r(len(found), same),
        "opposite_shown": sum(s[5] == "opposite" for s in shown),
        "unlabelled": unlabelled,
        "gold_pairs": len(gold),
    }
