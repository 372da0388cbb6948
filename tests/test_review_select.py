"""Which sentences are a paper's points (rag/review/select.py): relevance read on the paper's own scale."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

QUESTION = "What does each paper say about submarine cable faults?"


def test_own_relevance_does_not_depend_on_the_other_papers_reviewed(small_assistant):
    """A paper's own-scale relevance (without the feedback part, which reads the best reviewed sentences) is the
    same reviewed alone or beside the other papers, while its library-wide z is not."""
    from rag.review.extract import doc_sentences, score_docs
    from rag.review.select import own_relevance

    r = small_assistant.retriever
    query = r.encode(QUESTION)
    docs = list(r.index.doc_order)
    assert len(docs) == 3
    together = {s.sents.doc: s for s in score_docs(r, query, [doc_sentences(r, d) for d in docs])}
    (alone,) = score_docs(r, query, [doc_sentences(r, "en_notes.md")])
    beside = together["en_notes.md"]
    assert not np.allclose(alone.z, beside.z)
    a = own_relevance(r, replace(alone, rank=None))
    b = own_relevance(r, replace(beside, rank=None))
    np.testing.assert_allclose(a, b, atol=1e-9)
    whole = alone.sents.sentence
    assert abs(float(a[whole].mean())) < 1e-6  # dense and term parts each centred on the paper's sentences


def test_points_are_read_on_the_papers_own_scale(small_assistant):
    """The cell quotes the entries that stand a standard deviation above the paper's own quotable sentences on
    its own scale; in these short notes only one does, so the two best on that scale are quoted (the floor of
    two points)."""
    from rag.review import review_questions
    from rag.review.extract import doc_sentences, score_docs
    from rag.review.select import MIN_POINTS, own_relevance

    r = small_assistant.retriever
    (rev,) = review_questions(r, [("q", QUESTION)], ["en_notes.md"])
    (cell,) = rev.cells
    assert cell.status == "discussed"
    (s,) = score_docs(r, r.encode(QUESTION), [doc_sentences(r, "en_notes.md")])
    z = own_relevance(r, s)
    own = z[s.sents.usable]
    above = np.flatnonzero(s.sents.candidate & (z >= float(own.mean() + own.std())))
    assert len(above) < MIN_POINTS
    rows = np.flatnonzero(s.sents.usable & s.sents.candidate)
    best = rows[np.argsort(-z[rows], kind="stable")][:MIN_POINTS]
    assert sorted(p.quote for p in cell.points) == sorted(s.sents.texts[i] for i in best)
