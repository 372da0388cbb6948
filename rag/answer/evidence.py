"""The evidence of one question: the sentences of its retrieved passages, read from the index (only
the hits' rows, never the whole index), with their vectors, languages and terms, and the question's
terms, entities and answer type. The extractive generator scores these sentences as answers; the
verifier scores a written answer's sentences against the same passages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial

import numpy as np

from rag.answer.absent_terms import ASKS_QUANTITY, QUESTION_WORD, in_document, variants
from rag.answer.asked import Asked, asked_for, names_asked, wanted
from rag.answer.cues import (
    ANAPHOR,
    ASKS_LIST,
    ASKS_NUMBER,
    ASKS_SOURCE,
    HAS_LIST,
    REFERENCE,
    ROADMAP,
    TERMINAL,
    WORDISH,
    bigrams,
    fresh_number,
    states_quantity,
)
from rag.answer.injection import is_instruction
from rag.answer.retrieval import Query, Retriever
from rag.answer.slot_check import kind_unnamed, narrowings, slot_of, slot_unaligned
from rag.index.embedding import LANGS
from rag.ingest.pdf.apparatus import CONTENTS_KIND, FRONT_KIND
from rag.lang.entities import Entity, checkable, mentions, norm, question_entities
from rag.lang.text import detect_lang, split_sentences, tokenize
from rag.lang.translation import translate, translate_to_english
from rag.records import Hit


def idf(retriever: Retriever, term: str) -> float:
    """BM25-style IDF of a term over the index's passages (unseen terms get the maximum)."""
    bm = retriever.index.bm25
    tid = bm.vocab_dict.get(term)
    indptr = bm.scores["indptr"]
    df = int(indptr[tid + 1] - indptr[tid]) if tid is not None else 0
    n = len(retriever.index.chunks)
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def max_idf(retriever: Retriever) -> float:
    """The IDF of a term found in no passage: what IDFs are measured against."""
    n = len(retriever.index.chunks)
    return math.log(1 + (n + 0.5) / 0.5)


def term_groups(query: Query, retriever: Retriever, merge: bool | None = None) -> list[tuple[tuple[str, ...], float]]:
    """The query's terms as (alternatives, IDF) groups: its own tokens, each with its dictionary
    translations when the index holds text in the other language (a Chinese word with its English
    glosses; an English word or phrase with its Chinese words, as one group with ``merge``, else as a
    group of its own), so either language's sentence can hold it. ``merge`` None: the settings say
    (``crosslingual_term_groups == "merged"``)."""
    groups: dict[tuple[str, ...], float] = {(t,): idf(retriever, t) for t in query.tokens}
    if query.lang == "zh" and retriever.index.lang_counts[LANGS.index("en")]:
        # a Chinese word also matches its English glosses (one group, weighed by the Chinese word's IDF)
        english = dict(translate_to_english(query.tokens, retriever.index.bm25.vocab_dict))
        groups = {(t[0], *english.get(t[0], ())): w for t, w in groups.items()}
    if query.lang == "en" and retriever.index.glossary:
        if merge is None:
            merge = retriever.settings.crosslingual_term_groups == "merged"
        for phrase, alts in translate(query.normalized, retriever.index.glossary):
            if not merge:
                groups[tuple(alts)] = max(idf(retriever, a) for a in alts)
                continue
            # the English words and their translations are one group: a Chinese sentence that holds the
            # translation shares the term as an English one holding the word does
            words = tuple(w for w in phrase.lower().split() if (w,) in groups)
            weight = max([idf(retriever, a) for a in alts] + [groups.pop((w,)) for w in words])
            groups[(*words, *alts)] = weight
    return list(groups.items())


# --- the evidence ---------------------------------------------------------------------------------

LINE_KINDS = frozenset({"meta", CONTENTS_KIND, FRONT_KIND})


@dataclass(frozen=True)
class Span:
    """A quotable span of a passage: one sentence, or a sentence with the one it refers back to."""

    hit: int  # position in the hits
    start: int
    end: int
    text: str
    rows: tuple[int, ...]  # the sentences (positions in Evidence.sentences) it is made of
    joined: bool = False


@dataclass
class Passage:
    """One retrieved passage: its sentences' positions in Evidence.sentences, its terms and text."""

    hit: Hit
    first: int
    count: int
    tokens: frozenset[str]
    norm: str
    langs: frozenset[str]
    n_rows: int  # sentence rows in the index, instruction-like ones included


@dataclass
class Evidence:
    """Every sentence of a question's retrieved passages, with vectors, languages and terms."""

    query: Query | None  # None: the passages only (the verifier scores written sentences against them)
    hits: list[Hit]
    retriever: Retriever
    passages: list[Passage] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # sentence texts (instruction-like ones excluded)
    bounds: list[tuple[int, int, int]] = field(default_factory=list)  # (hit, start, end)
    vecs: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    langs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    tokens: list[frozenset[str]] = field(default_factory=list)
    merge: bool | None = None  # an English word and its translations one term group (None: as settings say)

    @classmethod
    def gather(cls, query: Query | None, hits: Sequence[Hit], retriever: Retriever) -> "Evidence":
        """Read the hits' sentences from the index (by each hit's position: O(k), whatever the index size)."""
        idx = retriever.index
        ev = cls(query, list(hits), retriever)
        rows_all: list[int] = []
        for hi, h in enumerate(ev.hits):
            rows = idx.chunk_sentences[pos] if (pos := _position(idx, h)) is not None else range(0)
            first = len(ev.texts)
            for si in rows:
                _, a, b = (int(x) for x in idx.sent_rows[si])
                text = h.chunk.text[a:b]
                if is_instruction(text):  # a planted order is never evidence
                    continue
                ev.texts.append(text)
                ev.bounds.append((hi, a, b))
                ev.tokens.append(frozenset(tokenize(text)))
                rows_all.append(int(si))
            kept = range(first, len(ev.texts))
            body_tokens = (
                frozenset().union(*(ev.tokens[i] for i in kept)) if len(kept) else frozenset(tokenize(h.chunk.text))
            )
            langs = frozenset(LANGS[int(x)] for x in (idx.sent_lang[rows_all[first:]] if len(kept) else []))
            ev.passages.append(
                Passage(
                    h,
                    first,
                    len(kept),
                    body_tokens,
                    norm(h.chunk.text),
                    langs or frozenset({detect_lang(h.chunk.text)}),
                    len(rows),
                )
            )
        if rows_all:
            ev.vecs = np.asarray(idx.sent_vecs[rows_all], dtype=np.float32)
            ev.langs = np.asarray(idx.sent_lang[rows_all], dtype=np.int64)
        else:
            ev.vecs = np.zeros((0, idx.sent_vecs.shape[1]), np.float32)
        return ev

    @property
    def question(self) -> Query:
        """The question (evidence gathered for the verifier has none: asking for it is a bug)."""
        if self.query is None:
            raise TypeError("this evidence was gathered without a question")
        return self.query

    @cached_property
    def groups(self) -> list[tuple[tuple[str, ...], float]]:
        """The question's term groups with IDF weights."""
        return term_groups(self.question, self.retriever, self.merge)

    @cached_property
    def entities(self) -> list[Entity]:
        """The names, numbers and titles the question mentions."""
        return question_entities(self.question.normalized, self.retriever.index.glossary)

    @cached_property
    def asked(self) -> Asked | None:
        """What the question asks to be counted or named, when its wording says."""
        return asked_for(self.question.normalized, self.retriever.index.glossary)

    @cached_property
    def wanted(self) -> Asked | None:
        """What the question asks to be counted or named, read widely (with glosses): chooses the quote only."""
        idx = self.retriever.index
        return wanted(self.question.normalized, idx.glossary, idx.bm25.vocab_dict)

    @cached_property
    def similarities(self) -> np.ndarray:
        """Cosine of each sentence with the query aligned to the sentence's language."""
        if not len(self.texts):
            return np.zeros(0, np.float32)
        return np.einsum("ij,ij->i", self.vecs, self.question.vecs_for(self.langs))

    def share(self, tokens: frozenset[str] | set[str]) -> float:
        """IDF-weighted share of the question's term groups present in ``tokens``."""
        total = sum(w for _, w in self.groups) or 1.0
        return sum(w for alts, w in self.groups if any(a in tokens for a in alts)) / total

    def spans(self) -> list[Span]:
        """Quotable spans: complete, wordy sentences that are not roadmaps, each alone and — when it opens
        with a back-reference — joined to the sentence before it."""
        out: list[Span] = []
        for hi, p in enumerate(self.passages):
            prev: int | None = None
            # front matter, the front-matter lines of page 1 and table-of-contents lines are lines, not prose:
            # complete without a full stop ("中图分类 O212.7", "Keywords: …")
            meta = p.hit.chunk.kind in LINE_KINDS
            for i in range(p.first, p.first + p.count):
                text = self.texts[i]
                _, a, b = self.bounds[i]
                complete = TERMINAL.search(text) or len(text) > 60 or meta  # front matter: lines
                usable = len(WORDISH.findall(text)) >= (3 if meta else 8) and complete
                if usable and not ROADMAP.search(text):
                    out.append(Span(hi, a, b, text, (i,)))
                    if prev is not None and ANAPHOR.search(text) and self.bounds[prev][2] <= a:
                        pa = self.bounds[prev][1]
                        out.append(Span(hi, pa, b, p.hit.chunk.text[pa:b], (prev, i), joined=True))
                if i + 1 < p.first + p.count and unclosed(text) and unclosed(text + self.texts[i + 1]) < unclosed(text):
                    # a sentence cut inside a title or a bracket (a full stop OCR read or a title holds): quoted
                    # with the sentence that closes it, so "(《Title。Subtitle》1696年…)" stays one quote
                    b2 = self.bounds[i + 1][2]
                    out.append(Span(hi, a, b2, p.hit.chunk.text[a:b2], (i, i + 1)))
                prev = i if usable else None
        return out


# titles and brackets: a quotation ("…") may hold several sentences, a title or a bracket seldom does
_PAIRS = (("《", "》"), ("(", ")"), ("（", "）"), ("[", "]"))


def unclosed(text: str) -> int:
    """How many titles and brackets ``text`` opens and does not close."""
    return sum(max(text.count(o) - text.count(c), 0) for o, c in _PAIRS)


def _position(index, hit: Hit) -> int | None:
    """The hit's row in the index: carried by the hit, else looked up within its document."""
    if hit.position >= 0:
        return hit.position
    try:
        return index.position(hit.chunk.chunk_id)
    except KeyError:
        return None


# --- features of a span as an answer ------------------------------------------------------------

FEATURES = tuple(
    (
        "dense dense_cal dense_cal_gap dense_gap dense_passage_gap lex lex_gap lex_passage lex_window "
        "missing_idf entities ent_sentence ent_passage ent_missing asks_number number_fit number_miss "
        "asks_list list_fit reference rank fused_rel log_len cross cross_dense novelty joined kind_meta "
        "kind_footnote bigram bigram_passage dense_rank lex_rank asked_sentence asked_window "
        "doc_missing doc_missing_max number_absent asked_unnamed_en slot_unaligned"
    ).split()
)


def features(ev: Evidence, spans: Sequence[Span]) -> np.ndarray:
    """One row of FEATURES per span (see eval/NOTES.md for what each measures)."""
    if not spans:
        return np.zeros((0, len(FEATURES)), np.float32)
    q = ev.question
    sims = ev.similarities
    dense = np.array([max(float(sims[r]) for r in s.rows) for s in spans])
    # the query's similarity to an average passage of each language: what a similarity is measured
    # against, so that scores of English-Chinese pairs (which run lower) compare with same-language ones
    base = np.einsum("ij,ij->i", q.aligned, ev.retriever.index.centroids)
    cal = np.array([max(float(sims[r] - base[ev.langs[r]]) for r in s.rows) for s in spans])
    lex = np.array([ev.share(frozenset().union(*(ev.tokens[r] for r in s.rows))) for s in spans])
    top = ev.hits[0].score or 1.0
    q_lang = q.lang
    q_tokens = set(q.tokens)
    maxi = max_idf(ev.retriever) or 1.0
    asks_number = bool(ASKS_NUMBER.search(q.normalized))
    asks_list = bool(ASKS_LIST.search(q.normalized))
    asks_quantity = asks_number or bool(ASKS_QUANTITY.search(q.normalized))
    asks_source = bool(ASKS_SOURCE.search(q.normalized))
    # the measure phrase a quantity question asks to be filled (rag/answer/slot_check.py)
    slot = slot_of(q.normalized, ev.retriever.index.glossary)
    pairs, vocab = narrowings(q.normalized, slot), ev.retriever.index.bm25.vocab_dict
    passage_dense = {}
    for hi, p in enumerate(ev.passages):
        passage_dense[hi] = float(sims[p.first : p.first + p.count].max()) if p.count else 0.0
    per_passage: dict[int, tuple[float, float, float, float]] = {}
    for hi, p in enumerate(ev.passages):
        ents = [e for e in ev.entities if checkable(e, set(p.langs), q_lang)]
        found = sum(mentions(p.norm, e) for e in ents)
        absent = [w for alts, w in ev.groups if not any(a in p.tokens for a in alts)]
        per_passage[hi] = (
            len(ents),
            found / len(ents) if ents else 1.0,
            float(found < len(ents)),
            max(absent, default=0.0) / maxi,
        )
    # the question's terms found nowhere in a span's document: a near miss asks for a detail the document
    # never mentions (question words aside; see rag/answer/absent_terms.py)
    doc_absent: dict[str, tuple[float, float]] = {}
    unnamed_kind: dict[str, float] = {}  # a near miss by a narrower kind (rag/answer/slot_check.py kind_unnamed)
    own = {(t,) for t in q.tokens}
    for p in ev.passages:
        d = p.hit.chunk.doc_id
        if d in doc_absent:
            continue
        groups = [
            (alts, w)
            for alts, w in ev.groups
            # a document in another language is not compared: its translations are too incomplete (measured:
            # every cmrc2018-en answerable question had a translated term its document lacks)
            if q_lang in p.langs and alts in own and not QUESTION_WORD.match(alts[0])
        ]
        total_w = sum(w for _, w in groups)
        absent = [w for alts, w in groups if not any(in_document(ev.retriever, a, d) for a in alts)]
        doc_absent[d] = (sum(absent) / total_w if total_w else 0.0, max(absent, default=0.0) / maxi)
        unnamed_kind[d] = kind_unnamed(
            pairs, lambda w: any(v in vocab for v in variants(w)), partial(in_document, ev.retriever, doc_id=d)
        )
    qb = bigrams(q.normalized)
    dense_rank = np.argsort(np.argsort(-dense, kind="stable"), kind="stable") + 1
    lex_rank = np.argsort(np.argsort(-lex, kind="stable"), kind="stable") + 1
    passage_bigrams = {hi: bigrams(p.hit.chunk.text) for hi, p in enumerate(ev.passages)}
    rows = []
    for s, d, c, lx, dr, lr in zip(spans, dense, cal, lex, dense_rank, lex_rank):
        p = ev.passages[s.hit]
        h = p.hit
        n_ent, ent_pass, ent_missing, missing_idf = per_passage[s.hit]
        s_norm = norm(s.text)
        ents = [e for e in ev.entities if checkable(e, set(p.langs), q_lang)]
        ent_sent = sum(mentions(s_norm, e) for e in ents) / len(ents) if ents else 1.0
        lo = max(p.first, s.rows[0] - 1)
        hi_ = min(p.first + p.count, s.rows[-1] + 2)
        window = frozenset().union(*(ev.tokens[r] for r in range(lo, hi_))) if hi_ > lo else frozenset()
        toks = frozenset().union(*(ev.tokens[r] for r in s.rows))
        s_lang = detect_lang(s.text)
        cross = float(s_lang != q_lang)
        fits = fresh_number(q.normalized, s.text)
        window_text = " ".join(ev.texts[r] for r in range(lo, hi_))
        rows.append(
            [
                d,
                c,
                c - cal.max(),
                d - dense.max(),
                d - passage_dense[s.hit],
                lx,
                lx - lex.max(),
                ev.share(p.tokens),
                ev.share(window),
                missing_idf,
                math.log1p(n_ent),
                ent_sent,
                ent_pass,
                ent_missing,
                float(asks_number),
                float(asks_number and fits),
                float(asks_number and not fits),
                float(asks_list),
                float(asks_list and bool(HAS_LIST.search(s.text))),
                float(bool(REFERENCE.search(s.text)) and not asks_source),
                1.0 / h.rank,
                h.score / top,
                math.log(max(len(s.text), 1)),
                cross,
                cross * d,
                len(toks - q_tokens) / max(len(toks), 1),
                float(s.joined),
                float(h.chunk.kind == "meta"),
                float(h.chunk.kind == "footnote"),
                len(qb & bigrams(s.text)) / max(len(qb), 1),
                len(qb & passage_bigrams[s.hit]) / max(len(qb), 1),
                1.0 / dr,
                1.0 / lr,
                names_asked(ev.asked, s.text, s_lang),
                (named := names_asked(ev.asked, window_text, s_lang)),
                *doc_absent[h.chunk.doc_id],
                float(asks_quantity and not states_quantity(q.normalized, s.text)),
                float(q_lang == "en" == s_lang and named == 0.0),  # an English span pair: see eval/NOTES.md
                max(slot_unaligned(slot, window_text, s_lang), unnamed_kind[h.chunk.doc_id]),
            ]
        )
    return np.asarray(rows, dtype=np.float32)


def split_marks(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a quoted span (each gets its own citation mark)."""
    return split_sentences(text)
