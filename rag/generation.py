"""Answer generation. The offline default is extractive: it quotes the retrieved sentences that best
answer the question, cites each, and abstains when the best evidence is too weak."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rag.records import Citation, Hit
from rag.retrieval import Query, Retriever
from rag.text import squash, tokenize

ABSTAIN = {"zh": "资料中没有找到答案。", "en": "The sources do not answer this."}


@dataclass(frozen=True)
class Generated:
    """A generator's output: answer text with [n] markers and the citations they point to."""

    answer: str
    citations: tuple[Citation, ...]
    abstained: bool
    evidence_score: float = 0.0


class Generator(Protocol):
    """Anything that turns a question and its retrieved passages into a cited answer."""

    name: str

    def generate(self, query: Query, hits: list[Hit], retriever: Retriever) -> Generated: ...

    def stream(self, query: Query, hits: list[Hit], retriever: Retriever) -> Iterator[str | Generated]: ...


def abstention(lang: str) -> str:
    """The fixed refusal, in the question's language."""
    return ABSTAIN.get(lang, ABSTAIN["en"])


@dataclass(frozen=True)
class Candidate:
    """One sentence of a retrieved passage, scored against the question."""

    hit: Hit
    start: int
    end: int
    dense: float
    lexical: float
    score: float

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]


_WORDISH = re.compile(r"[0-9A-Za-z]|[\u4e00-\u9fff]")


def idf_weights(retriever: Retriever, tokens: list[str]) -> dict[str, float]:
    """BM25-style IDF of each query token over the index's chunks."""
    bm = retriever.index.bm25
    vocab = bm.vocab_dict
    indptr = bm.scores["indptr"]
    n = len(retriever.index.chunks)
    out = {}
    for t in set(tokens):
        tid = vocab.get(t)
        df = int(indptr[tid + 1] - indptr[tid]) if tid is not None else 0
        out[t] = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return out


def score_sentences(query: Query, hits: list[Hit], retriever: Retriever, lexical_weight: float) -> list[Candidate]:
    """Every usable sentence of the hits, scored: dense similarity + weighted IDF share of query terms."""
    idx = retriever.index
    idf = idf_weights(retriever, query.tokens)
    total = sum(idf.values()) or 1.0
    pos = {c.chunk_id: i for i, c in enumerate(idx.chunks)}
    out = []
    for h in hits:
        rows = idx.chunk_sentences[pos[h.chunk.chunk_id]]
        if not len(rows):
            continue
        vecs = np.asarray(idx.sent_vecs[rows.start : rows.stop])
        sims = vecs @ query.vec
        for si, sim in zip(rows, sims):
            _, a, b = (int(x) for x in idx.sent_rows[si])
            text = h.chunk.text[a:b]
            if len(_WORDISH.findall(text)) < 8:
                continue  # headings, page debris
            toks = set(tokenize(text))
            lex = sum(w for t, w in idf.items() if t in toks) / total
            out.append(Candidate(h, a, b, float(sim), lex, float(sim) + lexical_weight * lex))
    return out


class ExtractiveGenerator:
    """Quotes the best sentences of the retrieved passages, each with its citation."""

    name = "extractive"

    def __init__(self, max_sentences: int = 3, threshold: float = 0.0, lexical_weight: float = 0.3, margin: float = 0.04):
        self.max_sentences = max_sentences
        self.threshold = threshold
        self.lexical_weight = lexical_weight
        self.margin = margin

    def select(self, cands: list[Candidate]) -> list[Candidate]:
        """The best sentence and those within ``margin`` of it, without repeats."""
        ranked = sorted(cands, key=lambda c: -c.score)
        chosen: list[Candidate] = []
        seen: set[str] = set()
        for c in ranked:
            if len(chosen) >= self.max_sentences or c.score < ranked[0].score - self.margin:
                break
            key = squash(c.text)
            if key in seen or any(key in s or s in key for s in seen):
                continue
            seen.add(key)
            chosen.append(c)
        return chosen

    def generate(self, query: Query, hits: list[Hit], retriever: Retriever) -> Generated:
        """Cited extractive answer, or the refusal when evidence scores below the threshold."""
        cands = score_sentences(query, hits, retriever, self.lexical_weight)
        best = max((c.score for c in cands), default=0.0)
        if not cands or best < self.threshold:
            return Generated(abstention(query.lang), (), True, best)
        chosen = self.select(cands)
        # keep sentences of one passage together, in reading order
        first_rank = {}
        for c in chosen:
            first_rank.setdefault(c.hit.chunk.chunk_id, len(first_rank))
        chosen.sort(key=lambda c: (first_rank[c.hit.chunk.chunk_id], c.start))
        citations, parts = [], []
        for n, c in enumerate(chosen, start=1):
            ch = c.hit.chunk
            citations.append(Citation(n, ch.doc_id, ch.title, ch.section, ch.chunk_id, ch.text, c.text, round(c.score, 4)))
            parts.append(f"{c.text}[{n}]")
        sep = "" if query.lang == "zh" else " "
        return Generated(sep.join(parts), tuple(citations), False, best)

    def stream(self, query: Query, hits: list[Hit], retriever: Retriever) -> Iterator[str | Generated]:
        """Yield the answer sentence by sentence, then the final Generated."""
        g = self.generate(query, hits, retriever)
        for piece in re.split(r"(?<=\])", g.answer):
            if piece:
                yield piece
        yield g
