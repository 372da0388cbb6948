"""Answer generation. The offline default is extractive: it quotes the retrieved sentences that best
answer the question, cites each, and abstains when the best evidence is too weak."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from rag.injection import is_instruction
from rag.records import Citation, Hit
from rag.retrieval import Query, Retriever
from rag.slots import Slot, question_slot, slot_filled
from rag.text import detect_lang, split_sentences, squash, tokenize
from rag.translation import translate

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


# --- question and sentence cues --------------------------------------------------------------------

# questions that want a number or a date, and sentences that hold one
_ASKS_NUMBER = re.compile(
    r"多少|几[个名项次届年位家份种]|哪一?年|何时|什么时[候间]|哪一?天|哪个月|比例|百分之|多大|多长|多久|规模|数量|"
    r"how (many|much|long|often)|\bwhen\b|what (year|date|share|percentage|proportion|number|amount)|which year",
    re.I,
)
_HAS_NUMBER = re.compile(r"\d|[一二两三四五六七八九十百千万亿]+(个|名|项|次|届|年|月|日|倍|家|国|方)|百分之|[半双]数")
# questions that want several items, and sentences that enumerate
_ASKS_LIST = re.compile(r"哪些|哪几|哪[两二三四五六]|分别|\bwhich \w+s\b|what (are|were) the|\blist\b|\b(two|three|four|five)\b", re.I)
_HAS_LIST = re.compile(r"[^，。；]{2,}、[^，。；]{2,}|[^，。]{2,}(和|与|及|以及|and)[^，。]{2,}")
_ASKS_SOURCE = re.compile(r"出自|来源|来自哪|引用|哪份|哪篇|哪本|文献|报告|source|cite|report|which (book|article|paper|document)", re.I)
# a sentence leaning on the one before it ("该公约…", "This convention…")
_ANAPHOR = re.compile(
    r"^[^，。]{0,6}[，,]?\s*(该|此|这|其(?![一二三四五六七八九十次])|上述|它|他们|"  # 其一/其次 enumerate, not refer
    r"the (convention|organization|report|treaty)|this|these|it\b|its\b|they\b)", re.I)
# a roadmap sentence announces content instead of stating it ("本文将梳理…")
_ROADMAP = re.compile(r"^[^，。]{0,4}[，,]?\s*本文(将|拟|旨在|试图)|^(首先|其次|继而|最后|然后)[，,]?\s*(本文|对)")
# a bibliography entry answers "which source", rarely anything else
_REFERENCE = re.compile(r"<https?://|https?://|\bpp?\.\s*\d|\bet al\.|出版社|第\s*\d+\s*[-—–]?\s*\d*\s*页|^[^，。]{1,40}[:：]\s*《|^[A-Z][^,]{1,40}, [“\"*]")
_TERMINAL = re.compile(r"[。！？!?.…”」』)）\]]$")
_WORDISH = re.compile(r"[0-9A-Za-z]|[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Candidate:
    """A quotable span (a sentence, or a sentence with the one it refers back to), scored."""

    hit: Hit
    start: int
    end: int
    dense: float
    lexical: float
    groups: frozenset[int]  # indexes of the query term groups it contains
    score: float  # relevance: dense + lexical_weight * lexical
    bonus: float = 0.0  # answer-type fit, used to choose among relevant sentences

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]


def idf(retriever: Retriever, term: str) -> float:
    """BM25-style IDF of a term over the index's chunks (unseen terms get the maximum)."""
    bm = retriever.index.bm25
    tid = bm.vocab_dict.get(term)
    indptr = bm.scores["indptr"]
    df = int(indptr[tid + 1] - indptr[tid]) if tid is not None else 0
    n = len(retriever.index.chunks)
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def term_groups(query: Query, retriever: Retriever) -> list[tuple[tuple[str, ...], float]]:
    """The query's terms as (alternatives, weight) groups: its own tokens, plus for an English
    question over Chinese text the dictionary translations of its words."""
    groups = {(t,): idf(retriever, t) for t in query.tokens}
    if query.lang == "en" and retriever.index.glossary:
        for _, alts in translate(query.normalized, retriever.index.glossary):
            groups[tuple(alts)] = max(idf(retriever, a) for a in alts)
    return list(groups.items())


def score_sentences(query: Query, hits: list[Hit], retriever: Retriever, lexical_weight: float) -> list[Candidate]:
    """Every quotable sentence of the hits, scored: dense similarity + weighted IDF share of query terms.

    Headings and debris are skipped; a sentence opening with a back-reference ("该公约…") is also
    offered joined to its predecessor, scored as the better of the two, so the quote is readable.
    """
    idx = retriever.index
    groups = term_groups(query, retriever)
    total = sum(w for _, w in groups) or 1.0
    pos = {c.chunk_id: i for i, c in enumerate(idx.chunks)}
    out: list[Candidate] = []
    for h in hits:
        rows = idx.chunk_sentences[pos[h.chunk.chunk_id]]
        if not len(rows):
            continue
        vecs = np.asarray(idx.sent_vecs[rows.start : rows.stop])
        sims = np.einsum("ij,ij->i", vecs, query.vecs_for(idx.sent_lang[rows.start : rows.stop]))
        prev: Candidate | None = None
        for si, sim in zip(rows, sims):
            _, a, b = (int(x) for x in idx.sent_rows[si])
            text = h.chunk.text[a:b]
            toks = set(tokenize(text))
            present = frozenset(g for g, (alts, _) in enumerate(groups) if any(t in toks for t in alts))
            lex = sum(groups[g][1] for g in present) / total
            cand = Candidate(h, a, b, float(sim), lex, present, float(sim) + lexical_weight * lex)
            complete = _TERMINAL.search(text) or len(text) > 60 or h.chunk.kind == "meta"  # front matter: lines
            # a planted order ("ignore previous instructions…") is never quoted, alone or joined
            usable = (len(_WORDISH.findall(text)) >= (3 if h.chunk.kind == "meta" else 8) and complete
                      and not is_instruction(text))
            if usable and not _ROADMAP.search(text):
                out.append(cand)
                if prev is not None and _ANAPHOR.search(text) and prev.end <= a:
                    joined = prev.groups | present
                    jlex = sum(groups[g][1] for g in joined) / total
                    jdense = max(prev.dense, float(sim))
                    out.append(replace(cand, start=prev.start, dense=jdense, lexical=jlex, groups=joined,
                                       score=jdense + lexical_weight * jlex))
            prev = cand if usable else None
    return out


def answer_type_bonus(question: str, text: str, weight: float) -> float:
    """Reward a sentence of the kind of answer the question asks for (a number, a list); a reference
    entry is demoted unless the question asks for a source."""
    bonus = 0.0
    if _REFERENCE.search(text) and not _ASKS_SOURCE.search(question):
        bonus -= weight
    if _ASKS_NUMBER.search(question):
        q_numbers = set(re.findall(r"\d+(?:\.\d+)?", question))
        s_numbers = set(re.findall(r"\d+(?:\.\d+)?", text))
        if (s_numbers - q_numbers) or (_HAS_NUMBER.search(text) and not s_numbers):
            bonus += weight
    if _ASKS_LIST.search(question) and _HAS_LIST.search(text):
        bonus += weight
    return bonus


class ExtractiveGenerator:
    """Quotes the best sentences of the retrieved passages, each with its citation."""

    name = "extractive"

    def __init__(
        self,
        max_sentences: int = 3,
        threshold: float = 0.0,
        cross_threshold: float | None = None,
        lexical_weight: float = 0.3,
        type_weight: float = 0.05,
        min_new_terms: float = 0.2,
        dense_floor: float = 0.03,
        max_chars: int = 600,
    ):
        self.max_sentences = max_sentences
        self.threshold = threshold  # evidence score below which to refuse (question and passage in one language)
        self.cross_threshold = threshold if cross_threshold is None else cross_threshold  # languages differ
        self.slot_margin = 0.15  # how far below the best a sentence may score and still fill the slot
        self.lexical_weight = lexical_weight
        self.type_weight = type_weight
        self.min_new_terms = min_new_terms  # a further sentence must add this share of query terms
        self.dense_floor = dense_floor  # ... and be at most this much less similar than the first
        self.max_chars = max_chars

    def _threshold(self, question_lang: str, sentence: str) -> float:
        return self.threshold if question_lang == "zh" and detect_lang(sentence) == "zh" else self.cross_threshold

    def select(self, query: Query, cands: list[Candidate], weights: list[float], slot: Slot) -> list[Candidate]:
        """The best span that fills the question's slot, then spans covering query terms still missing;
        empty when no relevant span fills the slot."""
        scored = [replace(c, bonus=answer_type_bonus(query.text, c.text, self.type_weight)) for c in cands]
        ranked = sorted(scored, key=lambda c: (-(c.score + c.bonus), c.hit.rank, c.start))
        floor = max(c.score for c in cands) - self.slot_margin
        first = next((c for c in ranked if c.score >= floor and slot_filled(slot, c.text, query.text, c.hit.chunk.text)), None)
        if first is None:
            return []
        chosen, covered = [first], set(first.groups)
        total = sum(weights) or 1.0
        while len(chosen) < self.max_sentences:
            best, best_gain = None, 0.0
            for c in ranked:
                if any(_overlaps(c, o) for o in chosen) or c.dense < first.dense - self.dense_floor:
                    continue
                gain = sum(weights[g] for g in c.groups - covered) / total
                if gain >= self.min_new_terms and gain > best_gain:
                    best, best_gain = c, gain
            if best is None or sum(len(c.text) for c in chosen) + len(best.text) > self.max_chars:
                break
            chosen.append(best)
            covered |= best.groups
        return chosen

    def generate(self, query: Query, hits: list[Hit], retriever: Retriever) -> Generated:
        """Cited extractive answer; the refusal when the evidence scores below the threshold for the
        question's and passage's languages, or no relevant sentence gives what the question asks for."""
        scored = score_sentences(query, hits, retriever, self.lexical_weight)
        top = max((c.score for c in scored), default=0.0)
        # each sentence is judged by the threshold of its language pair with the question: e5's
        # similarities run highest between Chinese texts; English and cross-lingual pairs run lower
        cands = [c for c in scored if c.score >= self._threshold(query.lang, c.text)]
        if not cands:
            return Generated(abstention(query.lang), (), True, top)
        weights = [w for _, w in term_groups(query, retriever)]
        slot = question_slot(query.text, retriever.index.glossary, retriever.index.bm25.vocab_dict)
        chosen = self.select(query, cands, weights, slot)
        if not chosen:
            return Generated(abstention(query.lang), (), True, top)
        best = top
        # keep spans of one passage together, in reading order
        first_rank: dict[str, int] = {}
        for c in chosen:
            first_rank.setdefault(c.hit.chunk.chunk_id, len(first_rank))
        chosen.sort(key=lambda c: (first_rank[c.hit.chunk.chunk_id], c.start))
        citations, parts = [], []
        for n, c in enumerate(chosen, start=1):
            ch = c.hit.chunk
            citations.append(Citation(n, ch.doc_id, ch.title, ch.section, ch.chunk_id, ch.text, c.text, round(c.score, 4)))
            # every sentence of a span carries the mark, so no answer sentence goes uncited
            parts.extend(f"{c.text[a:b]}[{n}]" for a, b in split_sentences(c.text))
        sep = "" if query.lang == "zh" else " "
        return Generated(sep.join(parts), tuple(citations), False, best)

    def stream(self, query: Query, hits: list[Hit], retriever: Retriever) -> Iterator[str | Generated]:
        """Yield the answer span by span, then the final Generated."""
        g = self.generate(query, hits, retriever)
        for piece in re.split(r"(?<=\])", g.answer):
            if piece:
                yield piece
        yield g


def _overlaps(a: Candidate, b: Candidate) -> bool:
    """Same passage and overlapping spans, or the same words quoted from two passages."""
    if a.hit.chunk.chunk_id == b.hit.chunk.chunk_id and a.start < b.end and b.start < a.end:
        return True
    x, y = squash(a.text), squash(b.text)
    return x in y or y in x
