"""Hybrid retrieval: dense (chunks and their sentences) + BM25, fused, de-duplicated, top-k.

The langchain ``BaseRetriever`` over it is ``rag.answer.langchain_retriever`` (langchain's retriever module takes
longer to import than answering a question does, so the question path does not load it)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from rag.answer.fusion import CandidateScores, fuse, rrf
from rag.answer.pooled import whole_passage_scores
from rag.errors import InvalidInputError
from rag.index.bm25 import top_bm25, top_structured
from rag.index.embedding import LANGS, Embedder
from rag.index.store import Index
from rag.index.store.segments import blocked_matmul
from rag.lang.text import question_lang, tokenize
from rag.lang.translation import translate, translate_to_english
from rag.records import Hit
from rag.settings import Settings


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


def normalize_query(q: str) -> str:
    """NFKC, traditional to simplified Chinese, collapsed whitespace."""
    q = " ".join(unicodedata.normalize("NFKC", q).split())
    if any("\u4e00" <= ch <= "\u9fff" for ch in q):
        q = _t2s().convert(q)
    return q


@dataclass(frozen=True)
class Query:
    """A question as retrieval sees it."""

    text: str  # as asked
    normalized: str
    vec: np.ndarray
    tokens: list[str]
    lang: str
    aligned: np.ndarray  # (len(LANGS), dim): the query moved into each language's region

    def vecs_for(self, langs: np.ndarray) -> np.ndarray:
        """The aligned query vector for each item of a per-item language array."""
        return self.aligned[langs]


def align(vec: np.ndarray, lang: str, means: dict[str, np.ndarray], strength: float) -> np.ndarray:
    """Query vectors for every language: shifted by the anchor mean offset, renormalised."""
    out = []
    for target in LANGS:
        v = vec if target == lang or strength == 0 else vec + strength * (means[target] - means[lang])
        out.append(v / np.linalg.norm(v))
    return np.asarray(out, dtype=np.float32)


def translated_groups(index: Index, query: Query) -> list[tuple[str, list[str]]]:
    """The question's dictionary translation as BM25 groups: an English question's words in Chinese (the
    index's glossary), a Chinese question's words in English (when the index holds English passages)."""
    if query.lang == "en" and index.glossary:
        return translate(query.normalized, index.glossary)
    if query.lang == "zh" and index.lang_counts[LANGS.index("en")]:
        return translate_to_english(query.tokens, index.bm25.vocab_dict)
    return []


def score_candidates(
    index: Index, query: Query, depth: int, subset: np.ndarray | None = None, lazy_top: int = 25, whole_top: int = 25
) -> CandidateScores:
    """Dense scores (a chunk scores the max of its own and its sentences' similarity, each compared
    with the query aligned to its language) and BM25 scores.

    With exact dense search every sentence is scored; with an approximate index only the sentences of
    candidate passages (dense, BM25 and translated hits), so a query never scans millions of rows.
    ``subset`` (sorted passage positions) scores only those passages, exhaustively. An index whose
    sentence vectors are embedded lazily scores the sentences of each list's first ``lazy_top`` passages.
    """
    if subset is not None:
        return _score_subset(index, query, subset, whole_top)
    n = len(index.chunks)
    depth = min(depth, n)
    dense: dict[int, float] = {}
    present = np.flatnonzero(index.lang_counts)  # the languages the passages are written in
    sims, ids = index.dense.search(query.aligned[present], min(n, depth * len(present)))
    for lang, row_s, row_i in zip(present, sims, ids):
        for i, sim in zip(row_i, row_s):
            if i >= 0 and index.chunk_lang[i] == lang and len(dense) < depth * len(present):
                dense[int(i)] = float(sim)
    best_sentence: dict[int, int] = {}
    exhaustive = index.sentence_search == "exhaustive"
    if exhaustive and len(index.sent_rows):
        per_lang = blocked_matmul(index.sent_vecs, query.aligned.T)
        ssims = per_lang[np.arange(len(per_lang)), index.sent_lang]
        top = np.argpartition(-ssims, min(depth * 3, len(ssims) - 1))[: depth * 3]
        for si in top[np.argsort(-ssims[top])]:
            ci = int(index.sent_rows[si, 0])
            if ci not in best_sentence:
                best_sentence[ci] = int(si)
                dense[ci] = max(dense.get(ci, -1.0), float(ssims[si]))
    bm25 = top_bm25(index.bm25, query.tokens, depth) if query.tokens else {}
    groups = translated_groups(index, query)
    translated = top_structured(index.bm25, groups, depth) if groups else {}
    if index.sentence_search == "top":  # lazily embedded sentences: only those of each list's first passages
        firsts = [
            i for scores in (dense, bm25, translated) for i in sorted(scores, key=lambda i: (-scores[i], i))[:lazy_top]
        ]
        _candidate_sentences(index, query, depth, firsts, dense, best_sentence)
    elif not exhaustive:
        _candidate_sentences(index, query, depth, [*dense, *bm25, *translated], dense, best_sentence)
    whole_passage_scores(index, query.aligned, dense, (bm25, translated), whole_top)  # pooled indexes only
    base = np.einsum("ij,ij->i", query.aligned, index.centroids)  # per language
    calibrated = {i: s - float(base[index.chunk_lang[i]]) for i, s in dense.items()}
    return CandidateScores(dense, bm25, best_sentence, translated, calibrated)


def _sentence_rows(index: Index, chunks: np.ndarray) -> np.ndarray:
    """Sentence row indices of the given passages, ascending."""
    starts = np.asarray(index.chunk_sentences.starts)
    first = starts[chunks].astype(np.int64)
    counts = starts[chunks + 1].astype(np.int64) - first
    # each passage's first row repeated over its rows, plus each row's offset within its passage
    offsets = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(first, counts) + offsets


def _candidate_sentences(
    index: Index,
    query: Query,
    depth: int,
    candidates: list[int],
    dense: dict[int, float],
    best_sentence: dict[int, int],
) -> None:
    """The exhaustive sentence pass restricted to candidate passages: their sentences are scored and the
    best ``3 x depth`` lift their passage's dense score, as the global pass would."""
    if not candidates or not len(index.sent_rows):
        return
    rows = _sentence_rows(index, np.unique(np.asarray(candidates, dtype=np.int64)))
    if not len(rows):
        return
    vecs = np.asarray(index.sent_vecs[rows])
    ssims = np.einsum("ij,ij->i", vecs, query.aligned[index.sent_lang[rows]])
    order = np.lexsort((rows, -ssims))[: depth * 3]
    owners = np.asarray(index.sent_rows[rows[order], 0])
    for si, ci, sim in zip(rows[order], owners, ssims[order]):
        ci = int(ci)
        if ci not in best_sentence:
            best_sentence[ci] = int(si)
            dense[ci] = max(dense.get(ci, -1.0), float(sim))


def _score_subset(index: Index, query: Query, subset: np.ndarray, whole_top: int = 25) -> CandidateScores:
    """Every passage of ``subset`` scored (dense, best sentence, BM25), for document-filtered questions
    on an approximate index: exact within the selected documents."""
    vecs = np.asarray(index.chunk_vecs[subset])
    sims = np.einsum("ij,ij->i", vecs, query.aligned[index.chunk_lang[subset]])
    dense = {int(i): float(s) for i, s in zip(subset, sims)}
    best_sentence: dict[int, int] = {}
    _candidate_sentences(index, query, len(subset) * 1000, subset.tolist(), dense, best_sentence)
    whole_passage_scores(index, query.aligned, dense, (), whole_top)
    allowed = set(subset.tolist())
    bm25 = {
        i: s
        for i, s in (top_bm25(index.bm25, query.tokens, len(index.chunks)) if query.tokens else {}).items()
        if i in allowed
    }
    groups = translated_groups(index, query)
    translated = (
        {i: s for i, s in top_structured(index.bm25, groups, len(index.chunks)).items() if i in allowed}
        if groups
        else {}
    )
    base = np.einsum("ij,ij->i", query.aligned, index.centroids)
    calibrated = {i: s - float(base[index.chunk_lang[i]]) for i, s in dense.items()}
    return CandidateScores(dense, bm25, best_sentence, translated, calibrated)


def dedup(
    index: Index,
    order: list[int],
    max_overlap: float = 0.5,
    limit: int | None = None,
    exclude: frozenset[str] = frozenset(),
) -> list[int]:
    """Drop a chunk when most of its span is already covered by a higher-ranked chunk, or when its kind is
    in ``exclude`` (stop at ``limit``)."""
    kept: list[int] = []
    seen: dict[int, object] = {}  # each chunk read once (the chunk store parses on access)

    def get(i: int):
        if i not in seen:
            seen[i] = index.chunks[i]
        return seen[i]

    for i in order:
        c = get(i)
        if c.kind in exclude:
            continue
        covered = False
        for j in kept:
            o = get(j)
            if (
                o.doc_id == c.doc_id
                and o.kind == c.kind
                and (c.kind == "body" or o.chunk_id.split(".")[0] == c.chunk_id.split(".")[0])
            ):
                inter = min(c.end, o.end) - max(c.start, o.start)
                if inter > max_overlap * (c.end - c.start):
                    covered = True
                    break
        if not covered:
            kept.append(i)
            if limit is not None and len(kept) >= limit:
                break
    return kept


class QueryExpander(Protocol):
    """A source of further queries for a question (the LLM generator's: its translation), each retrieved
    with and fused into the question's own ranking."""

    def expand(self, query: Query, target_lang: str) -> list[tuple[str, float]]:
        """Extra query texts with their fusion weights ([] for none); ``target_lang`` is the language
        most of the index is written in."""
        ...


class Retriever:
    """Query-time state: one loaded index and its embedder (and any query expanders), shared by CLI,
    app and batch."""

    def __init__(self, index: Index, embedder: Embedder, settings: Settings, expanders: Sequence[QueryExpander] = ()):
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.expanders = tuple(expanders)

    def with_expanders(self, expanders: Sequence[QueryExpander]) -> "Retriever":
        """This retriever (same index, embedder and settings) expanding queries with exactly ``expanders``."""
        if tuple(expanders) == self.expanders:
            return self
        return Retriever(self.index, self.embedder, self.settings, expanders)

    def encode(self, question: str) -> Query:
        """Normalise, embed and tokenise a question once, for retrieval and answer generation."""
        q = normalize_query(question)
        if not q:
            raise InvalidInputError("the question is empty; type a question")
        vec = self.embedder.embed_queries([q])[0]
        lang = question_lang(q)
        aligned = align(vec, lang, self.index.lang_means, self.settings.retrieval.align_strength)
        return Query(question, q, vec, tokenize(q), lang, aligned)

    def retrieve(
        self,
        query: str | Query,
        k: int | None = None,
        docs: Iterable[str] | None = None,
        exclude: frozenset[str] = frozenset(),
        also: Sequence[tuple[Query, float]] = (),
    ) -> list[Hit]:
        """Top-k hits for ``query``, optionally restricted to some document ids; passages whose kind is in
        ``exclude`` are dropped before the top-k cut (they would take a slot no answer may use); when
        ``also`` holds further queries (with their weights) or the expanders offer some, the question's
        ranking and theirs fused by reciprocal rank."""
        k = k or self.settings.retrieval.top_k
        query = self.encode(query) if isinstance(query, str) else query
        extra = [*also, *((self.encode(text), w) for text, w in self._expansions(query))]
        if not extra:
            return self._search(query, k, docs, exclude)
        depth = max(3 * k, 15)  # deeper rankings, so a passage ranked well in one list still counts
        lists = [
            (self._search(query, depth, docs, exclude), 1.0),
            *((self._search(q, depth, docs, exclude), w) for q, w in extra),
        ]
        fused = rrf([({h.position: h.rank for h in hits}, w) for hits, w in lists], self.settings.retrieval.rrf_k)
        first: dict[int, Hit] = {}  # a passage keeps the dense and BM25 scores of the first ranking holding it
        for hits, _ in lists:
            for h in hits:
                first.setdefault(h.position, h)
        order = dedup(self.index, sorted(fused, key=lambda i: (-fused[i], i)), limit=k)
        return [
            Hit(first[i].chunk, fused[i], r, first[i].dense, first[i].bm25, i) for r, i in enumerate(order, start=1)
        ]

    def _expansions(self, query: Query) -> list[tuple[str, float]]:
        """Every expander's extra queries (text, weight) for ``query``, in expander order."""
        if not self.expanders:
            return []
        target = self.main_language()
        return [e for x in self.expanders for e in x.expand(query, target)]

    def _search(
        self, query: Query, k: int, docs: Iterable[str] | None, exclude: frozenset[str] = frozenset()
    ) -> list[Hit]:
        """Top-k hits for the query alone (dense + BM25 fused, de-duplicated, ``exclude``'s kinds dropped)."""
        allowed = set(docs) if docs else None
        indexed = {d for d in allowed if d in self.index.docs} if allowed is not None else set()
        if allowed is not None and not indexed:
            raise InvalidInputError("none of the selected documents is in the index; pick from `rag info`")
        subset = None
        if allowed is not None and not self.index.dense.exact:
            # approximate index: score the selected documents' passages exhaustively (never k = all)
            subset = np.concatenate([np.arange(r.start, r.stop) for r in map(self.index.doc_range, sorted(indexed))])
        depth = self.settings.retrieval.candidates if allowed is None else len(self.index.chunks)
        s = self.settings
        sc = score_candidates(
            self.index, query, max(depth, k * 3), subset, s.store.lazy_sentence_passages, s.store.pooled_whole_passages
        )
        q_lang = LANGS.index(query.lang)
        fused = fuse(
            sc,
            self.settings,
            self.language_share(query.lang),
            lambda i: int(self.index.chunk_lang[i]) == q_lang,
            self.settings.retrieval.translated_floor_en if query.lang == "en" else 0.0,
        )
        order = sorted(fused, key=lambda i: (-fused[i], i))
        if allowed is not None and subset is None:
            # by each passage's document number (chunk_docs), not by reading every candidate passage
            wanted = [int(self.index.chunk_docs[r.start]) for r in map(self.index.doc_range, indexed) if len(r)]
            mine = np.isin(self.index.chunk_docs[np.asarray(order, dtype=np.int64)], wanted)
            order = [i for i, ok in zip(order, mine.tolist()) if ok]
        order = dedup(self.index, order, limit=k, exclude=exclude)
        return [
            Hit(self.index.chunks[i], fused[i], r, sc.dense.get(i), sc.bm25.get(i), int(i))
            for r, i in enumerate(order, start=1)
        ]

    def main_language(self) -> str:
        """The language most of the index's passages are written in."""
        return max(LANGS, key=self.language_share)

    def language_share(self, lang: str) -> float:
        """Share of the index's passages written in ``lang``."""
        counts = self.index.lang_counts  # counted once per index, not per question
        total = int(counts.sum())
        return int(counts[LANGS.index(lang)]) / total if total else 1.0
