"""Which of a paper's sentences are its points for a review question: each sentence's relevance read against
the paper's own sentences, a candidate standing one standard deviation above the paper's mean, and 2-8 of
them that each carry a distinct point (as many as fit the ~600-character cell) chosen by maximal marginal
relevance, kept in the paper's order."""

from __future__ import annotations

import numpy as np

from rag.answer.retrieval import Retriever
from rag.review.clip import clip
from rag.review.extract import CELL_CHARS, FEEDBACK_WEIGHT, LONG_SENTENCE, Point, Scored, zscore

MAX_POINTS = 8  # a cell is budgeted by characters (CELL_CHARS); short points leave room for more
MIN_POINTS = 2
MMR_LAMBDA = 0.7  # the usual MMR trade-off: relevance first, redundancy second
MARK_CHARS = 5  # the quotation marks, the brackets of the citation mark and the space after it


def own_relevance(retriever: Retriever, s: Scored) -> np.ndarray:
    """Each entry's relevance on the paper's own scale: its dense score (per language), its term share and its
    feedback score each standardised over the paper's whole sentences, then summed as the library-wide score
    is (``Scored.rank``)."""
    whole = s.sents.sentence
    langs = np.asarray(retriever.index.sent_lang[s.sents.rows], dtype=np.int64)
    dense = np.zeros(len(s.dense))
    for g in np.unique(langs):
        m = langs == g
        dense[m] = zscore(s.dense[m], s.dense[m & whole])
    out = dense + zscore(s.lexical, s.lexical[whole])
    if s.rank is not None:  # the feedback part of the library-wide score, rescaled on this paper
        fb = s.rank - s.z
        out = out + FEEDBACK_WEIGHT * zscore(fb, fb[whole])
    return out


def select_points(retriever: Retriever, s: Scored, first_mark: int = 1) -> list[Point]:
    """2-8 sentences of the paper that each carry a distinct point (MMR over the sentence vectors), each
    standing out from the paper's own sentences; returned in the paper's order within ``CELL_CHARS`` (their
    marks numbered from ``first_mark``)."""
    usable = np.flatnonzero(s.sents.usable)
    if not len(usable):
        return []
    # the choice reads relevance on the paper's own scale (whether the paper discusses the question at all is
    # decided on the library-wide one): a paper wholly about the topic and one that touches it in a section
    # each give their own strongest sentences, and a cut read off the library let a paper's weakest on-topic
    # sentences in ahead of its strong pieces (eval/NOTES.md, review round 7)
    z = own_relevance(retriever, s)
    library = s.rank if s.rank is not None else s.z  # what a point's score reports, comparable across papers
    own = z[usable]
    cut = float(own.mean() + own.std())  # a point stands one standard deviation above the paper's sentences
    every = np.flatnonzero(s.sents.candidate)
    cand = [int(i) for i in every[np.argsort(-z[every], kind="stable")] if z[i] >= cut]
    if len(cand) < MIN_POINTS:
        quotable_rows = np.flatnonzero(s.sents.usable & s.sents.candidate)
        cand = [int(i) for i in quotable_rows[np.argsort(-z[quotable_rows], kind="stable")][:MIN_POINTS]]
        if not cand:
            return []
    rel = z[cand]
    lo, hi = float(rel.min()), float(rel.max())
    norm = (rel - lo) / (hi - lo) if hi > lo else np.ones_like(rel)
    chosen: list[int] = []
    used = 0
    left = list(range(len(cand)))
    # the pieces of long sentences come second: they fill the room the whole sentences leave
    later: list[int] = []
    if s.sents.piece is not None:
        later = [i for i in left if s.sents.piece[cand[i]]]
        left = [i for i in left if not s.sents.piece[cand[i]]]
    while (left or later) and len(chosen) < MAX_POINTS:
        if not left:
            left, later = later, []
        if chosen:
            sims = s.vecs[[cand[i] for i in left]] @ s.vecs[[cand[j] for j in chosen]].T
            red = sims.max(axis=1)
        else:
            red = np.zeros(len(left))
        mmr = MMR_LAMBDA * norm[left] - (1 - MMR_LAMBDA) * red
        best = left[int(np.argmax(mmr))]
        left.remove(best)
        a, b = clip(s.sents.texts[cand[best]], s.groups, LONG_SENTENCE)
        text = s.sents.texts[cand[best]][a:b]
        mark = len(str(first_mark + len(chosen)))  # the digits of this point's citation mark (at most)
        part = b - a < len(s.sents.texts[cand[best]]) or (s.sents.piece is not None and s.sents.piece[cand[best]])
        size = len(text) + MARK_CHARS + mark + (2 if part else 0)  # ellipses
        if used + size > CELL_CHARS:
            continue  # a shorter later candidate may still fit
        if any(text in s.sents.texts[cand[j]] or s.sents.texts[cand[j]] in text for j in chosen):
            continue
        chosen.append(best)
        used += size
    idx = retriever.index
    out = []
    for j in sorted(chosen, key=lambda j: cand[j]):
        i = cand[j]
        pos = int(s.sents.chunks[i])
        c = idx.chunks[pos]
        full = s.sents.texts[i]
        a, b = clip(full, s.groups, LONG_SENTENCE)
        whole = b - a == len(full) and not (s.sents.piece is not None and s.sents.piece[i])
        out.append(Point(full[a:b], c.chunk_id, pos, c.page, c.section, float(library[i]), int(s.sents.rows[i]), whole))
    return out
