"""Checking a written answer against its passages: citation repair, per-sentence support, fallback.

A language model's answer is only as good as its citations. This module normalises the citation
styles models actually produce (【1】, (1), （1）, [ID:1], [1,2], [1-3], [^1]) to ``[n]``, drops numbers
that point at no passage, then scores every sentence against the passages it cites: the best cosine
between the sentence and a passage sentence (the index's own sentence vectors, with the query-side
language alignment retrieval uses) plus 0.3 x the IDF-weighted share of its terms found in them, and
every number it states must appear in them. A sentence its passages do not support is re-pointed
to another passage that does, or removed (or marked); when too little survives the caller falls back
to the extractive answer. Sentences of a passage that address the reader as instructions ("ignore
previous instructions ...") are never evidence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.answer.citations import MARK, Piece, cited_sentences, join_pieces, repair_citations  # noqa: F401 - re-exported
from rag.answer.evidence import Evidence, idf
from rag.answer.generation import ABSTAIN, abstention
from rag.answer.injection import redact_instructions
from rag.answer.retrieval import Retriever, align
from rag.index.embedding import LANGS
from rag.lang.text import detect_lang, squash, tokenize
from rag.lang.translation import translate
from rag.records import Citation, Hit, Support

LEXICAL_WEIGHT = 0.3  # as in the extractive generator's sentence score

# --- what a sentence claims ---------------------------------------------------------------------

_LIST_MARKER = re.compile(
    r"^\s*(?:[-*•·]+|\d{1,2}[.)、]|[（(]?\d{1,2}[)）]|[（(]?[一二三四五六七八九十]{1,3}[)）、.])\s*"
)
_EMPHASIS = re.compile(r"[*_`#]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORDISH = re.compile(r"[0-9A-Za-z]+|[\u4e00-\u9fff]")
_TERMINAL = re.compile(r"[。！？!?.…:：；;”」』）)\]]\s*$")
_REFUSAL_CUES = [squash(a).rstrip("。.").casefold() for a in ABSTAIN.values()] + [
    "资料中没有",
    "资料没有提供",
    "资料未提及",
    "未找到答案",
    "无法回答",
    "sourcesdonotanswer",
    "passagesdonotanswer",
    "cannotbeansweredfrom",
    "thepassagesdonot",
    "notmentionedinthepassages",
    "donotcontaintheanswer",
]


def claim_text(sentence: str) -> str:
    """A sentence as it is scored: no list marker, no markdown emphasis, no citation marks."""
    s = MARK.sub("", _EMPHASIS.sub("", _LIST_MARKER.sub("", sentence)))
    return " ".join(s.split())


def is_refusal(sentence: str) -> bool:
    """Whether a sentence says the passages do not answer (the fixed refusal or a close variant)."""
    s = squash(claim_text(sentence)).casefold()
    return any(cue in s for cue in _REFUSAL_CUES)


def is_connector(sentence: str, cites: Sequence[int]) -> bool:
    """An uncited lead-in that introduces what follows ("主要包括：", "In short:") or debris."""
    s = claim_text(sentence)
    return not cites and (s.endswith((":", "：")) or len(_WORDISH.findall(s)) < 3)


def numbers_in(text: str) -> set[str]:
    """The numbers a text states, normalised ('1,066' -> '1066', fullwidth digits folded)."""
    norm = unicodedata.normalize("NFKC", text)
    return {re.sub(r",(?=\d{3}\b)", "", n).rstrip(".,") for n in _NUMBER.findall(norm)}


# --- support scoring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SupportScore:
    """A sentence scored against a set of passages."""

    score: float
    dense: float
    lexical: float
    numbers_ok: bool
    best: int  # passage (0-based into hits) holding the best-matching sentence
    quote: str  # that passage sentence
    cross: bool  # sentence and best passage sentence are in different languages


@dataclass
class _Passage:
    hit: Hit
    sentences: list[str]
    vecs: np.ndarray
    langs: np.ndarray
    tokens: set[str]
    numbers: set[str]


class SupportScorer:
    """Scores answer sentences against the retrieved passages with the index's own vectors."""

    def __init__(self, retriever: Retriever, hits: Sequence[Hit], question: str = ""):
        self.retriever = retriever
        self.question_numbers = numbers_in(question)
        ev = Evidence.gather(None, hits, retriever)  # the same sentences the extractive answer quotes from
        dim = retriever.index.sent_vecs.shape[1]
        self.passages: list[_Passage] = []
        for p in ev.passages:
            sl = slice(p.first, p.first + p.count)
            sents = ev.texts[sl]
            if p.count:
                vecs, langs = ev.vecs[sl], ev.langs[sl]
            elif not p.n_rows:  # a passage without sentence rows: embed it whole
                text = redact_instructions(p.hit.chunk.text)
                sents = [text]
                vecs = np.asarray(retriever.embedder.embed_passages([text]))
                langs = np.asarray([_lang_id(detect_lang(text))])
            else:  # every sentence was an instruction: nothing here is evidence
                vecs, langs = np.zeros((0, dim), np.float32), np.zeros(0, int)
            body = " ".join(sents)
            self.passages.append(_Passage(p.hit, sents, vecs, langs, set(tokenize(body)), numbers_in(body)))

    def embed(self, sentences: Sequence[str]) -> list[np.ndarray]:
        """Each sentence's query vector aligned into every language's region (as retrieval does)."""
        if not sentences:
            return []
        idx = self.retriever.index
        vecs = self.retriever.embedder.embed_queries([claim_text(s) or s for s in sentences])
        strength = self.retriever.settings.retrieval.align_strength
        return [align(v, detect_lang(s), idx.lang_means, strength) for v, s in zip(vecs, sentences)]

    def _groups(
        self, sentence: str, passage_tokens: set[str], passage_langs: set[str]
    ) -> list[tuple[tuple[str, ...], float]]:
        """The sentence's checkable terms as (alternatives, IDF weight) groups: its own tokens when the
        passages share its language; across languages, numbers and Latin words the passages use, and
        for an English sentence the dictionary translations of its words."""
        toks = tokenize(sentence)
        lang = detect_lang(sentence)
        if lang in passage_langs:
            groups = {(t,) for t in toks}
            return [(g, max(idf(self.retriever, t) for t in g)) for g in groups]
        groups = {(t,) for t in toks if t in passage_tokens or any(ch.isdigit() for ch in t)}
        translated: list[tuple[str, ...]] = []
        if lang == "en" and self.retriever.index.glossary:
            pairs = translate(sentence.lower(), self.retriever.index.glossary)
            translated = [tuple(alts) for _, alts in pairs]
            covered = {w for phrase, _ in pairs for w in phrase.split()}
            # a content word no dictionary entry carries into the passages' language still counts, as
            # missing: "the moon is made of cheese" is not supported by a passage about a satellite (卫星)
            untranslated = [(t,) for t in toks if t.isalpha() and t not in covered and t not in passage_tokens]
        else:
            untranslated = []
        weighted = [(g, max(idf(self.retriever, t) for t in g)) for g in groups | set(translated)]
        mean = sum(w for _, w in weighted) / len(weighted) if weighted else 1.0
        return weighted + [(g, mean) for g in dict.fromkeys(untranslated) if g not in groups]

    def score(self, sentence: str, vecs: np.ndarray, passages: Sequence[int]) -> SupportScore:
        """Support of one sentence by the union of ``passages`` (0-based): the best sentence cosine
        plus LEXICAL_WEIGHT x the IDF share of its terms found; its numbers must all be in them."""
        claim = claim_text(sentence)
        best, best_sim, quote, cross = -1, -1.0, "", False
        tokens: set[str] = set()
        numbers: set[str] = set()
        langs: set[str] = set()
        for p in passages:
            ps = self.passages[p]
            tokens |= ps.tokens
            numbers |= ps.numbers
            langs |= {LANGS[int(x)] for x in ps.langs}
            if len(ps.sentences) and len(ps.vecs):
                sims = np.einsum("ij,ij->i", ps.vecs, vecs[ps.langs])
                j = int(np.argmax(sims))
                if sims[j] > best_sim:
                    best, best_sim, quote = p, float(sims[j]), ps.sentences[j]
                    cross = detect_lang(claim) != detect_lang(quote)
        groups = self._groups(claim, tokens, langs)
        total = sum(w for _, w in groups)
        lexical = sum(w for alts, w in groups if any(a in tokens for a in alts)) / total if total else 0.0
        numbers_ok = numbers_in(claim) <= numbers | self.question_numbers
        dense = max(best_sim, 0.0)
        return SupportScore(dense + LEXICAL_WEIGHT * lexical, dense, lexical, numbers_ok, best, quote, cross)


def _lang_id(lang: str) -> int:
    return LANGS.index(lang) if lang in LANGS else 0


# --- the verdict --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """Support needed per language pair, what to do with unsupported sentences, and when to give up."""

    same: float
    cross: float
    min_supported: float = 0.5  # share of claim sentences that must be supported, else fall back
    unsupported: str = "remove"  # or "mark"

    def passes(self, s: SupportScore) -> bool:
        """Whether a scored sentence counts as supported."""
        return s.numbers_ok and s.best >= 0 and s.score >= (self.cross if s.cross else self.same)


@dataclass(frozen=True)
class Verification:
    """The checked answer, or why the extractive answer must stand in for it."""

    answer: str
    citations: tuple[Citation, ...]
    support: tuple[Support, ...]
    abstained: bool = False
    fallback: str = ""  # why the written answer cannot be used ('' when it can)
    dropped: tuple[int, ...] = ()  # citation numbers that pointed at no passage
    repointed: int = 0  # sentences whose citation was moved to the passage that supports them
    removed: tuple[str, ...] = ()  # unsupported sentences taken out
    claims: int = 0
    details: tuple[SupportScore, ...] = field(default=(), repr=False)


UNSUPPORTED_MARK = {"zh": "（未经资料证实）", "en": " (not supported by the sources)"}


def verify(
    raw: str, lang: str, hits: Sequence[Hit], retriever: Retriever, th: Thresholds, question: str = ""
) -> Verification:
    """Repair the citations of a written answer, score each sentence against its passages, keep (or
    mark) what they support, renumber the citations; ``fallback`` says when too little survives."""
    text, dropped = repair_citations(raw, len(hits))
    pieces = cited_sentences(text)
    if len(pieces) > 1 and not pieces[-1].cites and not _TERMINAL.search(pieces[-1].text):
        pieces = pieces[:-1]  # cut off mid-sentence (the token limit): debris, not a claim
    pieces = [p for p in pieces if _WORDISH.search(claim_text(p.text))]  # "[…][2]", stray marks: no words
    if not "".join(p.text for p in pieces).strip():
        return Verification("", (), (), fallback="the model returned no answer", dropped=tuple(dropped))
    pieces, repeated = _without_repeats(pieces)
    refusals = [p for p in pieces if is_refusal(p.text)]
    claims = [p for p in pieces if not is_refusal(p.text) and not is_connector(p.text, p.cites)]
    if refusals and not claims:
        return Verification(abstention(lang), (), (), abstained=True, dropped=tuple(dropped))
    if not claims:
        return Verification("", (), (), fallback="the answer has no sentence to check", dropped=tuple(dropped))
    scorer = SupportScorer(retriever, hits, question)
    vecs = scorer.embed([p.text for p in claims])
    claim_ids = {id(p) for p in claims}
    kept: dict[int, tuple[Piece, SupportScore, bool]] = {}  # id of the original piece -> (repaired piece, score, ok)
    removed, repointed, details = list(repeated), 0, []
    for p, v in zip(claims, vecs):
        cited = [n - 1 for n in p.cites]
        s = scorer.score(p.text, v, cited) if cited else None
        q = p
        if s is None or not th.passes(s):
            # cited the wrong passage (or none): another passage may support it
            others = [scorer.score(p.text, v, [i]) for i in range(len(hits)) if i not in cited]
            alt = max((o for o in others if th.passes(o)), key=lambda o: o.score, default=None)
            if alt is not None:
                q, s = Piece(p.text, (alt.best + 1,), p.sep), alt
                repointed += 1
        if s is None:  # uncited and supported nowhere: its best passage, for the record
            s = max((scorer.score(p.text, v, [i]) for i in range(len(hits))), key=lambda o: o.score)
            q = Piece(p.text, (s.best + 1,) if th.unsupported == "mark" and s.best >= 0 else (), p.sep)
        details.append(s)
        ok = th.passes(s)
        if ok or th.unsupported == "mark":
            kept[id(p)] = (q, s, ok)
        else:
            removed.append(p.text)
    n_ok = sum(ok for _, _, ok in kept.values())
    if n_ok == 0 or n_ok < th.min_supported * len(claims):
        return Verification(
            "",
            (),
            (),
            fallback=f"{n_ok} of {len(claims)} sentences are supported by their passages",
            dropped=tuple(dropped),
            repointed=repointed,
            removed=tuple(removed),
            claims=len(claims),
            details=tuple(details),
        )
    # renumber the cited passages 1..m in order of first citation
    order: dict[int, int] = {}
    for q, _, _ in kept.values():
        for n in q.cites:
            order.setdefault(n, len(order) + 1)
    best_quote: dict[int, tuple[float, str]] = {}
    answer_pieces: list[Piece] = []
    support: list[Support] = []
    connectors: set[int] = set()
    for p in pieces:
        if id(p) not in claim_ids:
            # a lead-in ("主要包括：") stays where it was; a stray fragment without words enough to claim
            # anything (a heading copied from a passage, "Incidents") goes
            if not is_refusal(p.text) and claim_text(p.text).endswith((":", "：")):
                answer_pieces.append(p)
                connectors.add(id(p))
            continue
        if id(p) not in kept:
            continue
        q, s, ok = kept[id(p)]
        new = tuple(order[n] for n in q.cites)
        if ok and s.best + 1 in q.cites and s.score > best_quote.get(s.best + 1, (-1.0, ""))[0]:
            best_quote[s.best + 1] = (s.score, s.quote)
        answer_pieces.append(Piece(q.text if ok else _mark(q.text, lang), new, q.sep))
        support.append(Support(q.text, new, round(s.score, 4), ok))
    while answer_pieces and id(answer_pieces[-1]) in connectors:
        answer_pieces.pop()  # a trailing connector introduces nothing
    citations = []
    for n, m in sorted(order.items(), key=lambda x: x[1]):
        ch = hits[n - 1].chunk
        score, quote = best_quote.get(n, (0.0, ""))
        if not quote:  # cited only by marked (unsupported) sentences: show its first sentence
            quote = scorer.passages[n - 1].sentences[0] if scorer.passages[n - 1].sentences else ch.text[:120]
        citations.append(
            Citation(m, ch.doc_id, ch.title, ch.section, ch.chunk_id, ch.text, quote, round(score, 4), ch.page)
        )
    return Verification(
        join_pieces(answer_pieces, lang),
        tuple(citations),
        tuple(support),
        dropped=tuple(dropped),
        repointed=repointed,
        removed=tuple(removed),
        claims=len(claims),
        details=tuple(details),
    )


def _without_repeats(pieces: list[Piece]) -> tuple[list[Piece], list[str]]:
    """Drop sentences that repeat an earlier one: a small model caught in a loop repeats a supported
    sentence (or a section title) many times, and each copy would pass the support check."""
    seen: set[str] = set()
    out, repeated = [], []
    for p in pieces:
        key = re.sub(r"\s+", "", claim_text(p.text))
        if key and key in seen:
            repeated.append(p.text)
            continue
        seen.add(key)
        out.append(p)
    return out, repeated


def _mark(text: str, lang: str) -> str:
    return text + UNSUPPORTED_MARK.get(lang, UNSUPPORTED_MARK["en"])
