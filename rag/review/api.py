"""`review_questions`: what each paper says about each review question, which papers do not discuss it,
a pooled answer grouped per paper, and the points papers share — the one function the CLI and the app
call."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.answer.retrieval import Query, Retriever, align, normalize_query
from rag.errors import InvalidInputError
from rag.index.embedding import ANCHORS
from rag.lang.text import question_lang, tokenize
from rag.review.compose import cell_text, pooled_text, relations_text, short_ref
from rag.review.decide import Model, cross_lex, features, load_model, paper_top
from rag.review.extract import (
    DocSentences,
    Point,
    Scored,
    doc_sentences,
    nearest,
    null_dense,
    score_docs,
)
from rag.review.frame import topic_of
from rag.review.select import select_points
from rag.review.stance import SAME, relation

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
    """Two papers' points that make the same point (mutually nearest, unusually similar and worded alike;
    ``relation`` is SAME — opposite stances are not detected, rag.review.stance)."""

    doc_a: str
    quote_a: str
    doc_b: str
    quote_b: str
    similarity: float
    relation: str = SAME  # SAME | OPPOSITE (rag.review.stance)


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
    queries = encode_many(retriever, topics)
    nulls = null_model(retriever, sents, {q.lang for q in queries})
    out = []
    for n, ((qid, q), query) in enumerate(zip(questions, queries), start=1):
        out.append(review_one(retriever, qid, q, query, sents, model, nulls.get(query.lang)))
        if progress:
            progress(n, len(questions))
    return out


def null_model(
    retriever: Retriever, sents: list[DocSentences], langs: Iterable[str]
) -> dict[str, list[tuple[float, float]]]:
    """Per question language, each paper's dense top under the generic off-topic anchor questions."""
    out = {}
    for lang in sorted(set(langs)):
        anchors = _anchors(retriever, lang)
        out[lang] = [null_dense(retriever, anchors, d) for d in sents]
    return out


_ANCHOR_CACHE: dict[tuple[str, str, str], list[Query]] = {}


def _anchors(retriever: Retriever, lang: str) -> list[Query]:
    """The generic off-topic anchor questions in ``lang``, embedded once per index and embedder."""
    key = (str(retriever.index.path), str(retriever.index.params.get("params_checksum", "")), lang)
    if key not in _ANCHOR_CACHE:
        rows = [json.loads(line) for line in ANCHORS.read_text(encoding="utf-8").splitlines() if line.strip()]
        texts = [r[lang] for r in rows if r.get("role") == "query" and r.get(lang)]
        _ANCHOR_CACHE[key] = encode_many(retriever, texts)
    return _ANCHOR_CACHE[key]


def encode_many(retriever: Retriever, texts: list[str]) -> list[Query]:
    """Queries for several texts, embedded in one batched call (what ``Retriever.encode`` does one by one)."""
    norm = [normalize_query(t) for t in texts]
    if any(not t for t in norm):
        raise InvalidInputError("a question is empty; give one question per line")
    vecs = retriever.embedder.embed_queries(norm) if norm else np.zeros((0, 1), np.float32)
    idx, strength = retriever.index, retriever.settings.retrieval.align_strength
    out = []
    for text, q, vec in zip(texts, norm, vecs):
        lang = question_lang(q)
        out.append(Query(text, q, vec, tokenize(q), lang, align(vec, lang, idx.lang_means, strength)))
    return out


def review_one(
    retriever: Retriever,
    qid: str,
    question: str,
    query: Query,
    sents: list[DocSentences],
    model: Model,
    nulls: list[tuple[float, float]] | None = None,
) -> QuestionReview:
    """One question over the given documents' sentences (``nulls``: per paper, from ``null_model``)."""
    t0 = time.perf_counter()
    lang = question_lang(question)
    topic = query.text
    scored, feats = evidence(retriever, query, sents, nulls)
    cells: list[Cell] = []
    mark = 0
    for s, f in zip(scored, feats):
        info = retriever.index.docs.get(s.sents.doc)
        ref = short_ref(info, lang, s.sents.doc)
        p = model.prob(f)
        near = nearest(retriever, s)
        if p >= model.threshold:
            points = select_points(retriever, s, mark + 1)
            marks = tuple(range(mark + 1, mark + 1 + len(points)))
            mark += len(points)
            cells.append(
                Cell(
                    s.sents.doc,
                    ref,
                    DISCUSSED,
                    tuple(points),
                    near,
                    p,
                    cell_text([x.shown for x in points], marks),
                    marks,
                )
            )
        else:
            cells.append(Cell(s.sents.doc, ref, NOT_DISCUSSED, (), near, p, ""))
    agreements, distinct = compare(retriever, cells, scored)
    pooled = pooled_text(
        lang,
        [(c.ref, [x.shown for x in c.points], c.marks) for c in cells if c.status == DISCUSSED],
        [c.ref for c in cells if c.status == NOT_DISCUSSED],
    )
    related = relations_text(lang, _pairs(cells, agreements))
    pooled = f"{pooled}\n{related}" if pooled and related else pooled or related
    return QuestionReview(
        qid, question, topic, lang, tuple(cells), pooled, agreements, distinct, time.perf_counter() - t0
    )


def _pairs(cells: Sequence[Cell], agreements: Sequence[Agreement]) -> list[tuple[str, int, str, int, str]]:
    """(reference, mark) of both sides of every agreement, and its relation."""
    at = {(c.doc, p.quote): (c.ref, m) for c in cells for p, m in zip(c.points, c.marks)}
    return [(*at[(a.doc_a, a.quote_a)], *at[(a.doc_b, a.quote_b)], a.relation) for a in agreements]


def evidence(
    retriever: Retriever,
    query: Query | str,
    sents: list[DocSentences],
    nulls: list[tuple[float, float]] | None = None,
) -> tuple[list[Scored], list[dict[str, float]]]:
    """Every reviewed paper's sentences scored for the topic, and each paper's decision features."""
    query = retriever.encode(query) if isinstance(query, str) else query
    scored = score_docs(retriever, query, sents)
    tops = [paper_top(s) for s in scored]
    best = max(tops) if tops else 0.0
    nulls = nulls or [(0.0, 1.0)] * len(scored)
    best_lex = cross_lex(scored)
    return scored, [features(s, best, n, best_lex) for s, n in zip(scored, nulls)]


def compare(
    retriever: Retriever, cells: list[Cell], scored: list[Scored]
) -> tuple[tuple[Agreement, ...], dict[str, tuple[str, ...]]]:
    """Points two papers share: mutually nearest points of two papers whose similarity is above what the
    points reach with 95% of the other paper's sentences (each point's own reference distribution) and
    that share a fifth of their terms (``rag.review.stance``); the rest are the paper's distinct emphasis."""
    idx = retriever.index
    by_doc = {s.sents.doc: s for s in scored}
    vec = {c.doc: np.asarray(idx.sent_vecs[[p.row for p in c.points]], dtype=np.float32) for c in cells if c.points}
    shared: set[tuple[str, int]] = set()
    out: list[Agreement] = []
    docs = [c for c in cells if c.points]
    for i, a in enumerate(docs):
        for b in docs[i + 1 :]:
            sims = vec[a.doc] @ vec[b.doc].T
            # each point against the other paper's whole sentences (not the pieces of its long ones)
            sb, sa = by_doc[b.doc], by_doc[a.doc]
            ref_a = np.quantile(vec[a.doc] @ sb.vecs[sb.sents.sentence].T, 0.95, axis=1)
            ref_b = np.quantile(vec[b.doc] @ sa.vecs[sa.sents.sentence].T, 0.95, axis=1)
            for ia in range(sims.shape[0]):
                ib = int(np.argmax(sims[ia]))
                if int(np.argmax(sims[:, ib])) != ia:
                    continue
                qa, qb = a.points[ia].quote, b.points[ib].quote
                # shown only when confident: unusually close for both papers and worded alike (stance.py)
                if sims[ia, ib] >= max(ref_a[ia], ref_b[ib]) and relation(qa, qb) == SAME:
                    out.append(Agreement(a.doc, qa, b.doc, qb, float(sims[ia, ib]), SAME))
                    shared |= {(a.doc, ia), (b.doc, ib)}
    distinct = {c.doc: tuple(p.quote for k, p in enumerate(c.points) if (c.doc, k) not in shared) for c in docs}
    return tuple(out), distinct
