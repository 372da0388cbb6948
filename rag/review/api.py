"""`review_questions`: what each paper says about each review question, which papers do not discuss it,
a pooled answer grouped per paper, and the points papers share — the one function the CLI and the app
call."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.errors import InvalidInputError
from rag.retrieval import Retriever
from rag.review.compose import cell_text, pooled_text, short_ref
from rag.review.decide import Model, features, load_model, paper_top
from rag.review.extract import DocSentences, Point, Scored, doc_sentences, nearest, score_docs, select_points
from rag.review.frame import question_lang, topic_of

DISCUSSED, NOT_DISCUSSED = "discussed", "not discussed"


@dataclass(frozen=True)
class Cell:
    """One (question, paper) cell: its points, or "not discussed" with the nearest sentence to check."""

    doc: str
    ref: str  # short author-year reference in the question's language
    status: str  # DISCUSSED | NOT_DISCUSSED
    points: tuple[Point, ...]
    nearest: Point | None
    probability: float  # the model's probability that the paper discusses the question
    answer: str  # the points quoted, each with its mark (numbered within the question)
    marks: tuple[int, ...] = ()


@dataclass(frozen=True)
class Agreement:
    """Two papers making the same point (mutually nearest points, unusually similar)."""

    doc_a: str
    quote_a: str
    doc_b: str
    quote_b: str
    similarity: float


@dataclass(frozen=True)
class QuestionReview:
    """Every paper's cell for one question, the pooled answer and the agreements across papers."""

    id: str
    question: str
    topic: str
    lang: str
    cells: tuple[Cell, ...]
    pooled: str
    agreements: tuple[Agreement, ...] = ()
    distinct: dict[str, tuple[str, ...]] = field(default_factory=dict)  # doc -> quotes no other paper shares
    seconds: float = 0.0


def review_questions(
    retriever: Retriever,
    questions: Sequence[tuple[str, str]],
    docs: Iterable[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    model: Model | None = None,
) -> list[QuestionReview]:
    """Review every (id, question) over ``docs`` (default: every document of the index)."""
    idx = retriever.index
    chosen = list(docs) if docs else list(idx.doc_order)
    missing = [d for d in chosen if d not in idx.docs]
    if missing:
        raise InvalidInputError(f"not in the index: {', '.join(missing)}; pick documents from `rag info`")
    if not chosen:
        raise InvalidInputError("the index has no documents; build it with `rag index PATH`")
    model = model or load_model()
    sents = [doc_sentences(retriever, d) for d in chosen]
    topics = [topic_of(q) for _, q in questions]
    _prime(retriever, topics)
    out = []
    for n, ((qid, q), topic) in enumerate(zip(questions, topics), start=1):
        out.append(review_one(retriever, qid, q, topic, sents, model))
        if progress:
            progress(n, len(questions))
    return out


def _prime(retriever: Retriever, texts: list[str]) -> None:
    """Embed every topic in one batched call when the embedder can serve them later (batch runner's)."""
    prime = getattr(retriever.embedder, "prime", None)
    if prime is not None:
        from rag.retrieval import normalize_query

        prime([normalize_query(t) for t in texts])


def review_one(
    retriever: Retriever, qid: str, question: str, topic: str, sents: list[DocSentences], model: Model
) -> QuestionReview:
    """One question over the given documents' sentences."""
    t0 = time.perf_counter()
    lang = question_lang(question)
    scored, feats = evidence(retriever, topic, sents)
    pool = np.concatenate([s.z[s.sents.usable] for s in scored if s.sents.usable.any()] or [np.zeros(1)])
    cells: list[Cell] = []
    mark = 0
    for s, f in zip(scored, feats):
        info = retriever.index.docs.get(s.sents.doc)
        ref = short_ref(info, lang, s.sents.doc)
        p = model.prob(f)
        near = nearest(retriever, s)
        if p >= model.threshold:
            points = select_points(retriever, s, pool)
            marks = tuple(range(mark + 1, mark + 1 + len(points)))
            mark += len(points)
            cells.append(
                Cell(s.sents.doc, ref, DISCUSSED, tuple(points), near, p, cell_text([x.quote for x in points], marks), marks)
            )
        else:
            cells.append(Cell(s.sents.doc, ref, NOT_DISCUSSED, (), near, p, ""))
    pooled = pooled_text(
        lang,
        [(c.ref, [x.quote for x in c.points], c.marks) for c in cells if c.status == DISCUSSED],
        [c.ref for c in cells if c.status == NOT_DISCUSSED],
    )
    agreements, distinct = compare(retriever, cells, scored)
    return QuestionReview(
        qid, question, topic, lang, tuple(cells), pooled, agreements, distinct, time.perf_counter() - t0
    )


def evidence(retriever: Retriever, topic: str, sents: list[DocSentences]) -> tuple[list[Scored], list[dict[str, float]]]:
    """Every reviewed paper's sentences scored for the topic, and each paper's decision features."""
    scored = score_docs(retriever, retriever.encode(topic), sents)
    tops = [paper_top(s) for s in scored]
    best = max(tops) if tops else 0.0
    return scored, [features(s, best) for s in scored]


def compare(
    retriever: Retriever, cells: list[Cell], scored: list[Scored]
) -> tuple[tuple[Agreement, ...], dict[str, tuple[str, ...]]]:
    """Points two papers share: mutually nearest points of two papers whose similarity is above what the
    points reach with 95% of the other paper's sentences (each point's own reference distribution); the
    rest are the paper's distinct emphasis."""
    idx = retriever.index
    by_doc = {s.sents.doc: s for s in scored}
    vec = {c.doc: np.asarray(idx.sent_vecs[[p.row for p in c.points]], dtype=np.float32) for c in cells if c.points}
    shared: set[tuple[str, int]] = set()
    out: list[Agreement] = []
    docs = [c for c in cells if c.points]
    for i, a in enumerate(docs):
        for b in docs[i + 1 :]:
            sims = vec[a.doc] @ vec[b.doc].T
            ref_a = np.quantile(vec[a.doc] @ by_doc[b.doc].vecs.T, 0.95, axis=1)
            ref_b = np.quantile(vec[b.doc] @ by_doc[a.doc].vecs.T, 0.95, axis=1)
            for ia in range(sims.shape[0]):
                ib = int(np.argmax(sims[ia]))
                if int(np.argmax(sims[:, ib])) != ia:
                    continue
                if sims[ia, ib] >= max(ref_a[ia], ref_b[ib]):
                    out.append(Agreement(a.doc, a.points[ia].quote, b.doc, b.points[ib].quote, float(sims[ia, ib])))
                    shared |= {(a.doc, ia), (b.doc, ib)}
    distinct = {c.doc: tuple(p.quote for k, p in enumerate(c.points) if (c.doc, k) not in shared) for c in docs}
    return tuple(out), distinct
