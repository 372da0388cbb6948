"""A review's JSONL records: one per (question, paper), with the paper's points (quote, page, section,
passage id), its status and the nearest sentence when it does not discuss the question; each record also
carries the question's pooled answer and the points papers share, so any output renders from records
alone (the resumable journal of `rag review` holds exactly these)."""

from __future__ import annotations

from dataclasses import asdict

from rag.answer.retrieval import Retriever
from rag.refs.styles import format_reference
from rag.review.api import DISCUSSED, QuestionReview
from rag.review.extract import Point

KIND = "review"


def _point(p: Point, n: int | None) -> dict:
    d = {"quote": p.quote, "page": p.page, "section": p.section, "chunk_id": p.chunk_id, "score": round(p.score, 3)}
    return {"n": n, **d} if n is not None else d


def to_records(review: QuestionReview, retriever: Retriever, style: str = "plain") -> list[dict]:
    """The records of one reviewed question, papers in review order; each names its paper's reference
    list entry in ``style`` (rag/refs/styles.py), so the JSONL output carries the reference list too."""
    idx = retriever.index
    agreements = [
        {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(a).items()} for a in review.agreements
    ]
    out = []
    for c in review.cells:
        info = idx.docs.get(c.doc)
        cites = []
        for n, p in zip(c.marks, c.points):
            chunk = idx.chunks[p.position]
            cites.append(
                {
                    "n": n,
                    "doc": c.doc,
                    "title": chunk.title,
                    "section": p.section,
                    "chunk_id": p.chunk_id,
                    "text": chunk.text,
                    "quote": p.quote,
                    "score": round(p.score, 3),
                    "page": p.page,
                    "bib": info.bib.to_dict() if info is not None else {},
                }
            )
        out.append(
            {
                "kind": KIND,
                "id": review.id,
                "question": review.question,
                "topic": review.topic,
                "lang": review.lang,
                "doc": c.doc,
                "title": info.title if info is not None else c.doc,
                "ref": c.ref,
                "reference": format_reference(info.bib, style, info.title) if info is not None else c.doc,
                "status": c.status,
                "probability": round(c.probability, 4),
                "answer": c.answer,
                "points": [_point(p, n) for n, p in zip(c.marks, c.points)],
                "nearest": _point(c.nearest, None) if c.nearest is not None and c.status != DISCUSSED else None,
                "citations": cites,
                "pooled": review.pooled,
                "agreements": agreements,
                "distinct": list(review.distinct.get(c.doc, ())),
            }
        )
    return out
