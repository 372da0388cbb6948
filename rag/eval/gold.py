"""Gold files: questions with their evidence quotes and key facts, from JSON Lines or CSV, checked line by line."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from rag.errors import GoldFileError
from rag.lang.text import question_lang


@dataclass(frozen=True)
class GoldEvidence:
    """A gold evidence quote in a document."""

    doc: str
    quote: str


@dataclass(frozen=True)
class GoldQuestion:
    """One gold question with its evidence and key facts."""

    id: str
    question: str
    answerable: bool
    evidence: tuple[GoldEvidence, ...]
    keywords: tuple[tuple[str, ...], ...]
    kind: str
    lang: str


def _as_bool(v, where: str) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("true", "1", "yes", "y"):
        return True
    if s in ("false", "0", "no", "n"):
        return False
    raise GoldFileError(f"{where}: 'answerable' must be true or false, got {v!r}")


def _question(d: dict, where: str, n: int) -> GoldQuestion:
    if not isinstance(d, dict):
        raise GoldFileError(f"{where}: expected a JSON object")
    q = str(d.get("question") or "").strip()
    if not q:
        raise GoldFileError(f"{where}: missing 'question'")
    answerable = _as_bool(d.get("answerable", True), where)
    ev = d.get("evidence") or []
    if not isinstance(ev, list) or not all(isinstance(e, dict) and e.get("quote") for e in ev):
        raise GoldFileError(f'{where}: \'evidence\' must be a list of {{"doc", "quote"}} objects')
    kw = d.get("keywords") or []
    if not isinstance(kw, list) or not all(
        isinstance(g, list) and g and all(isinstance(a, str) for a in g) for g in kw
    ):
        raise GoldFileError(f"{where}: 'keywords' must be a list of lists of strings (groups of alternatives)")
    if answerable and not ev:
        raise GoldFileError(f"{where}: an answerable question needs at least one evidence quote")
    return GoldQuestion(
        id=str(d.get("id") or f"q{n}"),
        question=q,
        answerable=answerable,
        evidence=tuple(GoldEvidence(str(e.get("doc", "")), str(e["quote"])) for e in ev),
        keywords=tuple(tuple(g) for g in kw),
        kind=str(d.get("kind") or ("unanswerable" if not answerable else "other")),
        lang=str(d.get("lang") or question_lang(q)),
    )


def load_gold(path: str | Path) -> list[GoldQuestion]:
    """Gold questions from JSONL (the shared format) or CSV; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise GoldFileError(f"gold file {path} not found; give a .jsonl or .csv file of questions")
    out: list[GoldQuestion] = []
    if path.suffix.lower() == ".csv":
        out = _load_csv(path)
    else:
        with open(path, encoding="utf-8-sig") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise GoldFileError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
                out.append(_question(d, f"{path}:{n}", n))
    if not out:
        raise GoldFileError(f"gold file {path} has no questions")
    ids = [q.id for q in out]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup:
        raise GoldFileError(f"{path}: question id {dup!r} appears twice; ids must be unique")
    return out


def _load_csv(path: Path) -> list[GoldQuestion]:
    """CSV columns: id, question, answerable, evidence_doc, evidence_quote, keywords, kind, lang.

    Several quotes are separated by '||' (with matching docs); keyword groups by ';', alternatives by '|'.
    """
    out = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "question" not in reader.fieldnames:
            raise GoldFileError(f"{path}:1: the header needs a 'question' column")
        for row in reader:
            n = reader.line_num
            quotes = [q.strip() for q in (row.get("evidence_quote") or "").split("||") if q.strip()]
            docs = [d.strip() for d in (row.get("evidence_doc") or "").split("||")]
            docs += [docs[-1] if docs else ""] * (len(quotes) - len(docs))
            groups = [[a.strip() for a in g.split("|") if a.strip()] for g in (row.get("keywords") or "").split(";")]
            d = {
                **{k: v for k, v in row.items() if k in ("id", "question", "answerable", "kind", "lang")},
                "evidence": [{"doc": doc, "quote": q} for doc, q in zip(docs, quotes)],
                "keywords": [g for g in groups if g],
            }
            out.append(_question(d, f"{path}:{n}", n))
    return out
