"""Answer generation. The offline default is extractive: it quotes the retrieved spans the answer
model (rag/answer/answer_model.py) finds most likely to answer, cites each, and refuses when even the best
is unlikely to."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Protocol

from rag.answer.absent_terms import unfound_share, unknown_share
from rag.answer.answer_model import AnswerModel, load_model
from rag.answer.asked import (
    ASKS_AMOUNT,
    answer_misfit,
    asked_label,
    codes_asked,
    codes_named,
    counts_asked,
    labels_value,
)
from rag.answer.citations import cited_sentences, merge_repeated_passages, unmarked
from rag.answer.dated_lines import asked_event, dates_event
from rag.answer.evidence import FEATURES, LINE_KINDS, Evidence, Span, features
from rag.answer.retrieval import Query, QueryExpander, Retriever
from rag.answer.table_rows import named_row
from rag.lang.entities import mentions, norm
from rag.lang.text import detect_lang, split_sentences, squash
from rag.lang.translation import translate
from rag.records import Citation, Hit, Support

# how much less a span counts, in log-odds, when the question says what it counts or names ("how many
# hours", "几名护士") and the span does not name it. It only chooses which span is quoted once the best
# span clears the threshold; it never refuses (measured, eval/NOTES.md: refusing on this cue cost
# cmrc2018 answerable questions whose retrieved passages lacked the answer)
ASKED_PENALTY = 2.0
# the misfit (in ASKED_PENALTY units) of a span naming fewer of the question's letter-and-digit identifiers than
# another candidate does (rag/answer/asked.py ``codes_asked``); like ASKED_PENALTY it only chooses the quote
CODE_MISFIT = 1.0
# the share of a quantity question's terms (IDF-weighted) a table row's label must name for the row to be quoted
# instead of a likelier span of another passage: on real-pdfs the rows its table questions name hold .12, the
# rows that merely share a system's name with a question .04-.07 (eval/NOTES.md)
MIN_OVERRIDE_SHARE = 0.1

ABSTAIN = {"zh": "资料中没有找到答案。", "en": "The sources do not answer this."}
# the refusal of a question limited to some documents (`--doc`, the app's document filter)
ABSTAIN_SELECTED = {"zh": "所选文献没有讨论这个问题。", "en": "The selected documents do not discuss this."}


@dataclass(frozen=True)
class Generated:
    """A generator's output: answer text with [n] markers, the citations they point to, how well the
    passages support each sentence and which generator wrote it (every generator returns this)."""

    answer: str
    citations: tuple[Citation, ...]
    abstained: bool
    support: tuple[Support, ...]  # one entry per answer sentence (none for a refusal)
    generator: str  # "extractive", "llm:PROVIDER:MODEL" or "extractive-fallback"
    evidence_score: float = 0.0  # the answer model's probability for the best span (the confidence)
    draft: str = ""  # what would have been quoted had the answer not been refused (for evaluation curves)
    note: str = ""  # why the extractive answer stands in for a written one, when it does


class Generator(Protocol):
    """Anything that turns a question and its retrieved passages into a cited answer."""

    name: str

    def expanders(self) -> list[QueryExpander]:
        """Query expanders retrieval should use for this generator's answers ([] for none)."""
        ...

    def generate(self, query: Query, hits: list[Hit], retriever: Retriever) -> Generated:
        """The cited answer (or the refusal) for a question and its retrieved passages."""
        ...

    def stream(self, query: Query, hits: list[Hit], retriever: Retriever) -> Iterator[str | Generated]:
        """Answer text pieces as they are produced, then the final Generated."""
        ...


def abstention(lang: str) -> str:
    """The fixed refusal, in the question's language."""
    return ABSTAIN.get(lang, ABSTAIN["en"])


def abstention_selected(lang: str) -> str:
    """The refusal of a question limited to some documents, in the question's language."""
    return ABSTAIN_SELECTED.get(lang, ABSTAIN_SELECTED["en"])


def quoted_support(answer: str) -> tuple[Support, ...]:
    """Support entries for an extractive answer: every sentence is a verbatim quote (score 1.0)."""
    return tuple(Support(p.text, p.cites, 1.0, True) for p in cited_sentences(answer) if p.text.strip())


@dataclass(frozen=True)
class RankedSpan:
    """A quotable span with the answer model's probability that it answers the question."""

    span: Span
    p: float
    groups: frozenset[int]  # query term groups it contains

    @property
    def text(self) -> str:
        """The quoted text."""
        return self.span.text


class ExtractiveGenerator:
    """Quotes the spans most likely to answer, each with its citation; refuses below the threshold."""

    name = "extractive"

    def __init__(
        self,
        max_sentences: int = 3,
        threshold: float | None = None,
        cross_threshold: float | None = None,
        model: AnswerModel | None = None,
        min_new_terms: float = 0.2,
        max_chars: int = 600,
        unknown_terms_share: float = 0.34,
        unknown_terms_threshold: float = 0.9,
        unfound_terms_share: float = 0.4,
    ):
        self.model = model or load_model()
        self.max_sentences = max_sentences
        # the probability the best span needs (question and span in one language / in two)
        self.threshold = self.model.threshold if threshold is None else threshold
        self.cross_threshold = (
            self.model.meta.get("cross_threshold", self.threshold) if cross_threshold is None else cross_threshold
        )
        self.min_new_terms = min_new_terms  # a further span must add this share of the question's terms
        self.max_chars = max_chars
        # an English question whose ordinary words the library mostly never uses, answered from a span in
        # another language: the stricter probability (Settings.unknown_terms_share / _threshold)
        self.unknown_terms_share = unknown_terms_share
        self.unknown_terms_threshold = unknown_terms_threshold
        # a Chinese question over an English span: the same, from the share its document never uses
        self.unfound_terms_share = unfound_terms_share

    def expanders(self) -> list[QueryExpander]:
        """None: the extractive answer retrieves with the question alone."""
        return []

    def score(self, query: Query, hits: list[Hit], retriever: Retriever) -> tuple[Evidence, list[RankedSpan]]:
        """Every quotable span of the hits with its probability of answering, best first."""
        return self.rank(Evidence.gather(query, hits, retriever))

    def rank(self, ev: Evidence) -> tuple[Evidence, list[RankedSpan]]:
        """Every span of gathered evidence with its probability of answering, best first."""
        spans = ev.spans()
        p = self.model.probability(features(ev, spans), FEATURES)
        out = []
        for s, pi in zip(spans, p):
            toks = frozenset().union(*(ev.tokens[r] for r in s.rows))
            out.append(
                RankedSpan(
                    s, float(pi), frozenset(g for g, (alts, _) in enumerate(ev.groups) if any(a in toks for a in alts))
                )
            )
        out.sort(key=lambda c: (-c.p, ev.hits[c.span.hit].rank, c.span.start))
        return ev, out

    def needed(self, query: Query, text: str) -> float:
        """The probability a span in this language pair needs to be quoted as the answer."""
        return self.threshold if detect_lang(text) == query.lang else self.cross_threshold

    def off_topic(self, ev: Evidence, best: RankedSpan) -> bool:
        """Whether a question answered from a span in another language is mostly made of words the library
        (English question: rag/answer/absent_terms.py unknown_share) or the span's English document (Chinese
        question: unfound_share) never uses: its dense similarity is high for any pair of languages, and
        one translated word would otherwise carry it."""
        q = ev.question
        lang = detect_lang(best.text)
        if q.lang == "zh" and lang == "en":
            doc = ev.hits[best.span.hit].chunk.doc_id
            return unfound_share(ev.retriever, q.tokens, doc) >= self.unfound_terms_share
        if q.lang != "en" or lang == q.lang or not (idx := ev.retriever.index).glossary:
            return False
        translated = {w for phrase, _ in translate(q.normalized, idx.glossary) for w in phrase.lower().split()}
        return unknown_share(q.text, q.tokens, idx.bm25.vocab_dict, translated) >= self.unknown_terms_share

    def select(self, ev: Evidence, ranked: list[RankedSpan], threshold: float | None = None) -> list[RankedSpan]:
        """The best span if it clears the threshold, then spans that are nearly as likely and cover
        question terms still missing (a list, a second part); empty when the best is too unlikely."""
        need = self.needed(ev.question, ranked[0].text) if ranked and threshold is None else (threshold or 0.0)
        if ranked and threshold is None and self.off_topic(ev, ranked[0]):
            need = max(need, self.unknown_terms_threshold)
        if not ranked or ranked[0].p < need:
            return []
        line = _label_line(ev, ranked)
        if line is not None:  # "X是什么" answered by the line "X value": the line is the whole answer
            return [line]
        first = _with_antecedent(_naming_asked(ev, ranked), ranked)
        row = _asked_row(ev, ranked, first)
        if row is not None:  # rows of a table the question names: its header and those rows are the answer
            return row
        chosen, covered = [first], set(first.groups)
        weights = [w for _, w in ev.groups]
        total = sum(weights) or 1.0
        extra = self.model.extra_threshold
        while len(chosen) < self.max_sentences:
            best, best_gain = None, 0.0
            for c in ranked[1:]:
                if c.p < extra or any(_overlaps(c, o) for o in chosen):
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
        """Cited extractive answer, or the refusal when no span is likely enough to answer."""
        ev, ranked = self.score(query, hits, retriever)
        confidence = ranked[0].p if ranked else 0.0
        chosen = self.select(ev, ranked)
        if not chosen:
            draft = self.select(ev, ranked, threshold=0.0)
            return Generated(
                abstention(query.lang), (), True, (), self.name, confidence, " ".join(c.text for c in draft)
            )
        if retriever.settings.crosslingual_term_groups == "quote" and ev.merge is None:
            chosen = self.requote(ev, chosen)
        # keep spans of one passage together, in reading order
        first_rank: dict[int, int] = {}
        for c in chosen:
            first_rank.setdefault(c.span.hit, len(first_rank))
        chosen.sort(key=lambda c: (first_rank[c.span.hit], c.span.start))
        citations: list[Citation] = []
        parts: list[str] = []
        for n, c in enumerate(chosen, start=1):
            ch = ev.hits[c.span.hit].chunk
            citations.append(
                Citation(n, ch.doc_id, ch.title, ch.section, ch.chunk_id, ch.text, c.text, round(c.p, 4), ch.page)
            )
            # every sentence of a span carries the mark, so no answer sentence goes uncited; a reference number
            # the paper wrote in brackets would read as one of the answer's marks, pointing at no passage
            parts.extend(f"{unmarked(c.text[a:b])}[{n}]" for a, b in split_sentences(c.text))
        # two spans of one passage: one number, not [1] and [2] for the same passage
        answer, cited, _ = merge_repeated_passages(("" if query.lang == "zh" else " ").join(parts), citations)
        return Generated(answer, cited, False, quoted_support(answer), self.name, confidence)

    def requote(self, ev: Evidence, chosen: list[RankedSpan]) -> list[RankedSpan]:
        """The spans to quote once answering is decided, chosen with an English question's words and their
        Chinese translations as one term group each: as two groups (what decided, and what the answer model
        is calibrated on) an English word no Chinese sentence can hold outvotes a Chinese sentence that
        holds its translation, so a sentence naming the question's English words in brackets wins."""
        merged = replace(ev, merge=True)
        if merged.groups == ev.groups:  # nothing translated: the same ranking
            return chosen
        _, ranked = self.rank(merged)
        # the merged groups only weigh words: a requoted span never names fewer of the question's numbers and
        # codes than the span that decided (a table row naming the asked code lost to a sentence of title words)
        held = _entities_named(ev, chosen[0].text)
        ranked = [c for c in ranked if _entities_named(ev, c.text) >= held]
        return self.select(merged, ranked, threshold=0.0) or chosen

    def stream(self, query: Query, hits: list[Hit], retriever: Retriever) -> Iterator[str | Generated]:
        """Yield the answer span by span, then the final Generated."""
        g = self.generate(query, hits, retriever)
        for piece in re.split(r"(?<=\])", g.answer):
            if piece:
                yield piece
        yield g


def _entities_named(ev: Evidence, text: str) -> int:
    """How many of the question's numbers, titles and codes (a name written in capitals or with digits)
    ``text`` mentions: the entities any text holds as written. Other names are left out: one matched through its
    words' dictionary translations is seldom written so in the other language."""
    t = norm(text)
    literal = [
        e for e in ev.entities if e.kind in ("number", "title") or e.text.isupper() or any(c.isdigit() for c in e.text)
    ]
    return sum(mentions(t, e) for e in literal)


def _naming_asked(ev: Evidence, ranked: list[RankedSpan]) -> RankedSpan:
    """The span to quote first (the best already clears the threshold): the most probable, unless a span nearly
    as probable fits better the kind of answer the question's wording asks for (a number, a year, a count of
    what it names: rag/answer/asked.py ``answer_misfit``) or its passage names the identifiers the question names."""
    question = ev.question.normalized
    asked = ev.wanted
    counted = asked is not None and any(counts_asked(asked, c.text) for c in ranked)
    codes = codes_asked(question)
    # counted over the span's passage: an answer sentence often refers back ("本线…", "It…") to the identifier
    # its passage names, but a passage that never names it is about something else
    named = {h: codes_named(codes, ev.hits[h].chunk.text) for h in {c.span.hit for c in ranked}} if codes else {}
    most = max(named.values(), default=0)

    def score(c: RankedSpan) -> float:
        p = min(max(c.p, 1e-9), 1 - 1e-9)
        miss = answer_misfit(question, asked, c.text, detect_lang(c.text), counted)
        # a span whose passage names fewer of the question's identifiers ("CG.B.2") than another candidate's
        # is about something else: an identifier is written alike in every language, so its absence is evidence
        if most and named[c.span.hit] < most:
            miss += CODE_MISFIT
        return math.log(p / (1 - p)) - ASKED_PENALTY * miss

    return max(ranked, key=score)


def _label_line(ev: Evidence, ranked: list[RankedSpan]) -> RankedSpan | None:
    """The most probable line of front matter giving the value under the label the question asks for
    ("中图分类 O212.7" for "…的中图分类号是什么"), or dating the event it asks the date of ("本文2006年1月9日
    收到" for "When did the journal receive …": rag/answer/dated_lines.py), or None."""
    label, event = asked_label(ev.question.normalized), asked_event(ev.question.normalized)
    if not label and not event:
        return None
    kinds = [ev.hits[c.span.hit].chunk.kind in LINE_KINDS for c in ranked]
    # a question asking when the paper was received (accepted, ...): the line dating that event
    fits = (lambda t: dates_event(event, t)) if event else (lambda t: labels_value(label, t))
    return next((c for c, line in zip(ranked, kinds) if line and fits(c.text)), None)


def _asked_row(ev: Evidence, ranked: list[RankedSpan], first: RankedSpan) -> list[RankedSpan] | None:
    """The header lines and the rows of a table the question names (rag/answer/table_rows.py), quoted instead
    of ``first`` when ``first`` is a block of that same table (it holds every row of the block, or is
    another block), or when the question asks for a quantity, a row's label holds MIN_OVERRIDE_SHARE of
    its terms and the rows, read with their header, fit the kind of answer asked for (``answer_misfit``) as
    well as ``first``; else None."""
    named = named_row(ev, [c.span.hit for c in ranked])
    if named is None:
        return None
    own = ev.hits[named.header.hit].chunk
    was = ev.hits[first.span.hit].chunk
    if not (was.kind == "table" and (was.doc_id, was.section) == (own.doc_id, own.section)):
        question, asked = ev.question.normalized, ev.wanted
        if named.share < MIN_OVERRIDE_SHARE or not ASKS_AMOUNT.search(unicodedata.normalize("NFKC", question)):
            return None
        counted = asked is not None and any(counts_asked(asked, c.text) for c in ranked)
        row = " ".join(s.text for s in (named.header, *named.rows))
        if answer_misfit(question, asked, row, detect_lang(row), counted) > answer_misfit(
            question, asked, first.text, detect_lang(first.text), counted
        ):
            return None
    return [RankedSpan(s, first.p, frozenset()) for s in (named.header, *named.rows)]


def _with_antecedent(c: RankedSpan, ranked: list[RankedSpan]) -> RankedSpan:
    """A span that opens with a back-reference ("该公约…", "This…") quoted together with the sentence it
    refers to, when that joined span was offered: a quote must be readable on its own."""
    if c.span.joined:
        return c
    return next(
        (o for o in ranked if o.span.joined and o.span.hit == c.span.hit and o.span.rows[-1] == c.span.rows[0]), c
    )


def _overlaps(a: RankedSpan, b: RankedSpan) -> bool:
    """Same passage and overlapping spans, or the same words quoted from two passages."""
    if a.span.hit == b.span.hit and a.span.start < b.span.end and b.span.start < a.span.end:
        return True
    x, y = squash(a.text), squash(b.text)
    return x in y or y in x
