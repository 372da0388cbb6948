"""What one paper says about a review question: every sentence of the paper scored against the question's
topic (dense, against the sentence vectors the index stores, plus IDF-weighted term overlap); which of
them are the paper's points is `rag.review.select`'s call. A sentence over a quarter of the cell is quoted in
its most relevant part, and one over a third of it is cut into clause runs (``rag.review.pieces``), each
embedded and scored like a sentence, which fill the room the sentences leave.

Scores are standardised over the sentences of the papers under review for this question, so the same
rule reads a library of three papers or three hundred, in Chinese or English, without constants fitted
to any corpus; whether a paper discusses the question at all is `rag.review.decide`'s call."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.answer.evidence import term_groups
from rag.answer.retrieval import Query, Retriever
from rag.index.embedding import LANGS
from rag.index.store import Index
from rag.lang.text import tokenize
from rag.review.pieces import embed_pieces, sentence_pieces
from rag.review.quotable import MIN_WORDS, is_heading, quotable, words

CELL_CHARS = 600  # an answered cell stays a summary, not the paper
LONG_SENTENCE = CELL_CHARS // 4  # a point leaves room for three more: a longer sentence is quoted in part
# longer sentences are not candidates themselves: quoted in part they took the cell's room from shorter
# points and lowered recall on both gold sets (eval/NOTES.md); their pieces are
SENTENCE_CHARS = CELL_CHARS // 3


@dataclass(frozen=True)
class DocSentences:
    """The quotable sentences of one document (read once per review run)."""

    doc: str
    rows: np.ndarray  # sentence rows in the index, in the paper's order
    chunks: np.ndarray  # per sentence: its passage position
    texts: tuple[str, ...]
    tokens: tuple[frozenset[str], ...]
    usable: np.ndarray  # bool: a wordy, complete sentence that is not a roadmap or a heading
    # the pieces of sentences too long to quote whole come after the sentences: clause runs, each with its
    # own vector, candidates for points but kept out of the standardisation and the "not discussed" decision
    piece: np.ndarray | None = None  # bool per entry: a piece of a long sentence
    piece_vecs: np.ndarray | None = None  # the pieces' vectors, in order
    # a heading the text kept as a line (Title Case words, "Why Floods Damage Harbours More Than Expected"): it is
    # read like the sentences (the statistics and the "not discussed" decision are unchanged) but states no
    # claim, so it is never quoted as a point
    heading: np.ndarray | None = None

    @property
    def candidate(self) -> np.ndarray:
        """Entries that can be points: the usable sentences and the pieces, not the headings."""
        out = self.usable if self.piece is None else self.usable | self.piece
        return out if self.heading is None else out & ~self.heading

    @property
    def sentence(self) -> np.ndarray:
        """Entries that are whole sentences (what scores are standardised over)."""
        return np.ones(len(self.rows), dtype=bool) if self.piece is None else ~self.piece


@dataclass(frozen=True)
class Point:
    """One point a paper makes: a verbatim sentence with where it stands."""

    quote: str
    chunk_id: str
    position: int  # passage position in the index
    page: str
    section: str
    score: float  # standardised relevance (z over the reviewed sentences)
    row: int  # sentence row (the paper's order)
    whole: bool = True  # False: ``quote`` is the most relevant stretch of a longer sentence

    @property
    def shown(self) -> str:
        """The quote as a cell shows it: an ellipsis marks a stretch of a longer sentence."""
        return self.quote if self.whole else f"…{self.quote}…"


_CACHE: dict[tuple[str, str, str], DocSentences] = {}
_CACHE_DOCS = 256  # documents kept read (segmenting a paper's sentences takes about a second)


def doc_sentences(retriever: Retriever, doc: str) -> DocSentences:
    """A document's sentences, passages and terms, read once per index build (the app reviews one
    question at a time: the papers are segmented on the first)."""
    idx = retriever.index
    key = (str(idx.path), str(idx.params.get("params_checksum") or idx.params.get("created")), doc)
    got = _CACHE.get(key)
    if got is None:
        got = _read_doc(retriever, doc)
        if len(_CACHE) >= _CACHE_DOCS:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = got
    return got


def _read_doc(retriever: Retriever, doc: str) -> DocSentences:
    """Read a document's sentences, their passages and terms from the index."""
    idx = retriever.index
    rows: list[int] = []
    chunks: list[int] = []
    texts: list[str] = []
    kinds: list[str] = []
    seen: set[tuple[int, int]] = set()  # overlapping passages repeat sentences: keep the first copy
    for pos in idx.doc_range(doc):
        c = idx.chunks[pos]
        for si in idx.chunk_sentences[pos]:
            _, a, b = (int(x) for x in idx.sent_rows[si])
            key = (c.start + a, c.start + b) if c.kind == "body" else (-pos - 1, a)
            if key in seen:
                continue
            seen.add(key)
            rows.append(int(si))
            chunks.append(pos)
            texts.append(c.text[a:b].strip())
            kinds.append(c.kind)
    # front matter (abstract, keywords, affiliations): only its complete sentences can be points
    usable = [quotable(t, SENTENCE_CHARS, k == "meta") for t, k in zip(texts, kinds)]
    piece = [False] * len(texts)
    # a body sentence too long to be a candidate: its pieces are, after the sentences
    cut = [i for i, (t, k) in enumerate(zip(texts, kinds)) if PIECES and k == "body" and len(t) > SENTENCE_CHARS]
    for i, text in sentence_pieces([texts[i] for i in cut], cut, LONG_SENTENCE):
        if words(text) < MIN_WORDS:  # a run of citation marks or numbers ("[7].") says nothing
            continue
        rows.append(rows[i])
        chunks.append(chunks[i])
        texts.append(text)
        usable.append(False)
        piece.append(True)
    toks = tuple(frozenset(tokenize(t)) for t in texts)
    extra = [t for t, p in zip(texts, piece) if p]
    vecs = embed_pieces(retriever, extra) if extra else None
    return DocSentences(
        doc,
        np.asarray(rows, dtype=np.int64),
        np.asarray(chunks, dtype=np.int64),
        tuple(texts),
        toks,
        np.asarray(usable, dtype=bool),
        np.asarray(piece, dtype=bool) if extra else None,
        vecs,
        np.asarray([is_heading(t) for t in texts], dtype=bool),
    )


# long sentences contribute their clause runs as candidates, chosen only once the whole sentences that stand
# out have been placed (eval/NOTES.md, review round 4: ranked with the sentences they cost more than they gave)
PIECES = True
# a Chinese question's words are read without their dictionary glosses (rag.answer.evidence.term_groups adds
# them for answers): over the English papers the glosses cost review-en 3 "not discussed" decisions, .017
# recall and .12 evidence, because the decision model learnt what a term in the question's own language
# means (eval/NOTES.md, review round 4)
GLOSSES = False


@dataclass(frozen=True)
class Scored:
    """One document's sentences scored for one question."""

    sents: DocSentences
    dense: np.ndarray  # cosine minus the question's baseline for the sentence's language
    lexical: np.ndarray  # IDF-weighted share of the topic's terms present in the sentence
    z: np.ndarray  # standardised combined relevance (over every reviewed sentence)
    vecs: np.ndarray
    terms: float = 0.0  # IDF-weighted share of the topic's terms the paper uses anywhere
    library_terms: float = 0.0  # the same over every reviewed paper (0: no lexical evidence exists)
    groups: tuple[tuple[tuple[str, ...], float], ...] = ()  # the topic's term groups (alternatives, IDF)
    rank: np.ndarray | None = None  # z with the feedback score added: what points are chosen by
    own_lang: float = 1.0  # share of the paper's sentences in the question's language


def score_docs(retriever: Retriever, query: Query, docs: list[DocSentences]) -> list[Scored]:
    """Every sentence of every reviewed document scored for the question, on one common scale."""
    idx = retriever.index
    base = np.einsum("ij,ij->i", query.aligned, idx.centroids)  # an average passage's score per language
    groups = _longest(term_groups(query, retriever))
    if not GLOSSES and query.lang == "zh":  # the Chinese words alone, without their English glosses
        groups = [(alts[:1], w) for alts, w in groups]
    total = sum(w for _, w in groups) or 1.0
    parts = []
    d_langs: list[np.ndarray] = []
    for d in docs:
        vecs = _vectors(idx, d)
        langs = np.asarray(idx.sent_lang[d.rows], dtype=np.int64)
        d_langs.append(langs)
        dense = np.einsum("ij,ij->i", vecs, query.aligned[langs]) - base[langs] if len(d.rows) else np.zeros(0)
        lexical = np.array(
            [sum(w for alts, w in groups if any(a in t for a in alts)) / total for t in d.tokens], dtype=np.float64
        )
        parts.append((d, dense, lexical, vecs))
    # the pieces are scored against the sentences' distribution, not part of it
    whole = [p[0].sentence for p in parts]
    all_dense = np.concatenate([p[1][w] for p, w in zip(parts, whole)]) if parts else np.zeros(0)
    all_lex = np.concatenate([p[2][w] for p, w in zip(parts, whole)]) if parts else np.zeros(0)
    all_langs = np.concatenate([g[w] for g, w in zip(d_langs, whole)]) if d_langs else np.zeros(0, np.int64)
    out = []
    for (d, dense, lexical, vecs), langs in zip(parts, d_langs):
        # dense scores are standardised within each language: a question scores sentences in its own
        # language higher whatever they say, and an English reference list must not outrank Chinese text
        zd = np.zeros(len(dense))
        for lang in np.unique(langs):
            m = langs == lang
            zd[m] = zscore(dense[m], all_dense[all_langs == lang])
        z = zd + zscore(lexical, all_lex)
        used = frozenset().union(*d.tokens) if d.tokens else frozenset()  # pieces add no new term
        terms = sum(w for alts, w in groups if any(a in used for a in alts)) / total
        out.append(Scored(d, dense, lexical, z, vecs, terms))
    library = max((x.terms for x in out), default=0.0)
    kept = tuple(groups)
    ranks = feedback(idx.sent_lang, out)
    code = LANGS.index(query.lang) if query.lang in LANGS else -1
    share = [float(np.mean(g == code)) if len(g) else 0.0 for g in d_langs]
    return [
        Scored(x.sents, x.dense, x.lexical, x.z, x.vecs, x.terms, library, kept, r, o)
        for x, r, o in zip(out, ranks, share)
    ]


FEEDBACK_TOP = 5  # the reviewed sentences that best answer the question, whose centroid is searched again
FEEDBACK_WEIGHT = 0.5  # the feedback score counts half the question's own (Rocchio's usual damping)


def feedback(sent_lang: np.ndarray, scored: list[Scored]) -> list[np.ndarray]:
    """Each sentence's z plus half its standardised cosine to the centroid of the best few reviewed
    sentences (pseudo-relevance feedback): the papers' own wording of the topic, in their own language,
    finds the points a short question's vector misses. Only the choice of points reads it; whether a
    paper discusses the question stays on the question's own scores (``sent_lang``: the index's per-row
    language codes)."""
    use = [np.flatnonzero(x.sents.usable) for x in scored]
    z_all = np.concatenate([x.z[u] for x, u in zip(scored, use)]) if scored else np.zeros(0)
    if len(z_all) < FEEDBACK_TOP:
        return [x.z for x in scored]
    v_all = np.concatenate([x.vecs[u] for x, u in zip(scored, use)])
    centre = v_all[np.argsort(-z_all, kind="stable")[:FEEDBACK_TOP]].mean(axis=0)
    centre = centre / (np.linalg.norm(centre) or 1.0)
    sims = [x.vecs @ centre for x in scored]
    langs = [np.asarray(sent_lang[x.sents.rows], dtype=np.int64) for x in scored]
    whole = [x.sents.sentence for x in scored]
    s_all = np.concatenate([a[w] for a, w in zip(sims, whole)])
    l_all = np.concatenate([a[w] for a, w in zip(langs, whole)])
    out = []
    for x, sim, lang in zip(scored, sims, langs):
        zf = np.zeros(len(sim))
        for g in np.unique(lang):  # per language, as the question's own dense scores are
            m = lang == g
            zf[m] = zscore(sim[m], s_all[l_all == g])
        out.append(x.z + FEEDBACK_WEIGHT * zf)
    return out


def _vectors(idx: Index, d: DocSentences) -> np.ndarray:
    """Per entry of ``d``: the index's sentence vector, or the piece's own."""
    if not len(d.rows):
        return np.zeros((0, 1), np.float32)
    if d.piece is None or d.piece_vecs is None:
        return np.asarray(idx.sent_vecs[d.rows], dtype=np.float32)
    out = np.empty((len(d.rows), d.piece_vecs.shape[1]), np.float32)
    whole = ~d.piece
    out[whole] = np.asarray(idx.sent_vecs[d.rows[whole]], dtype=np.float32)
    out[d.piece] = d.piece_vecs
    return out


def _longest(groups: list[tuple[tuple[str, ...], float]]) -> list[tuple[tuple[str, ...], float]]:
    """The query's term groups without the pieces of a longer term (search segmentation yields 网络, 主权
    and 网络主权): a sentence using the pieces apart does not use the term."""
    words = [a for alts, _ in groups for a in alts]
    return [
        (alts, w) for alts, w in groups if not (len(alts) == 1 and any(alts[0] != o and alts[0] in o for o in words))
    ]


def top_mean(x: np.ndarray, k: int = 3) -> float:
    """Mean of the k largest values (fewer when there are fewer)."""
    return float(np.sort(x)[-min(k, len(x)) :].mean()) if len(x) else -1.0


def null_dense(retriever: Retriever, anchors: list[Query], d: DocSentences) -> tuple[float, float]:
    """How close a paper's best sentences come to questions about nothing it is about: the mean and spread,
    over generic off-topic questions (the index's alignment anchors, in the question's language), of the
    top-3 calibrated dense score — what a question's own score is measured against."""
    idx = retriever.index
    use = d.usable if d.usable.any() else np.ones(len(d.rows), dtype=bool)
    if not use.any() or not anchors:
        return 0.0, 1.0
    vecs = np.asarray(idx.sent_vecs[d.rows[use]], dtype=np.float32)
    langs = np.asarray(idx.sent_lang[d.rows[use]], dtype=np.int64)
    tops = []
    for q in anchors:
        base = np.einsum("ij,ij->i", q.aligned, idx.centroids)
        tops.append(top_mean(np.einsum("ij,ij->i", vecs, q.aligned[langs]) - base[langs]))
    t = np.asarray(tops)
    return float(t.mean()), float(t.std()) or 1.0


def zscore(x: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``x`` standardised by the mean and spread of ``pool`` (zeros when the pool does not vary)."""
    sd = float(pool.std()) if len(pool) else 0.0
    return (x - float(pool.mean())) / sd if sd > 0 else np.zeros_like(x, dtype=np.float64)


def nearest(retriever: Retriever, s: Scored) -> Point | None:
    """The paper's single most relevant sentence (shown beside "not discussed", for checking)."""
    if not len(s.z):
        return None
    i = int(np.argmax(np.where(s.sents.usable, s.z, s.z - 1e6))) if s.sents.usable.any() else int(np.argmax(s.z))
    pos = int(s.sents.chunks[i])
    c = retriever.index.chunks[pos]
    return Point(s.sents.texts[i], c.chunk_id, pos, c.page, c.section, float(s.z[i]), int(s.sents.rows[i]))


def lang_of_rows(retriever: Retriever, rows: np.ndarray) -> list[str]:
    """The language of each sentence row."""
    return [LANGS[int(x)] for x in retriever.index.sent_lang[rows]]
