"""Follow-up questions: rewrite a question that leans on the conversation ("它是哪一年成立的？",
"When was it founded?") into one that retrieval can answer on its own, without an LLM.

The default ``HeuristicRewriter`` finds the subject of the previous question (or, when that question
asked "which organisation ...", of its answer) and puts it where the follow-up points back at it.
An LLM rewriter plugs in through ``make_rewriter(settings, llm=...)``: any callable
``(question, history) -> str`` is wrapped so that its failures fall back to the heuristic.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from rag.lang.text import _jieba, question_lang
from rag.settings import Settings

log = logging.getLogger(__name__)

Mode = Literal["none", "substitute", "prepend", "replace", "append", "llm"]


@dataclass(frozen=True)
class Turn:
    """One finished exchange, as a rewriter sees it."""

    question: str  # as the user typed it
    query: str  # what retrieval searched for (the rewritten question)
    answer: str = ""
    abstained: bool = False


@dataclass(frozen=True)
class Rewrite:
    """The question to retrieve with, and how it was derived from the conversation."""

    question: str
    query: str
    mode: Mode = "none"
    subject: str = ""

    @property
    def rewritten(self) -> bool:
        """True when the query differs from what the user typed."""
        return self.mode != "none" and self.query != self.question


class QueryRewriter(Protocol):
    """Turns a follow-up plus the conversation so far into a self-contained query."""

    name: str

    def rewrite(self, question: str, history: Sequence[Turn]) -> Rewrite:
        """The question rewritten as a stand-alone query, given the earlier turns."""
        ...


# --- Chinese ------------------------------------------------------------------------------------

# pronouns and demonstratives that point back at the previous subject
_ZH_ANAPHORS = set(
    "它 它们 他 她 他们 她们 其 该 此 这 那 这个 那个 这些 那些 这一 那一 这项 该项 上述 前者 后者 此项".split()
)
_ZH_POSSESSIVE = {"其": "的"}  # 其总部 -> <subject>的总部
# tags that end a subject span: pronouns, prepositions, particles, punctuation, adverbs, numbers ...
_ZH_STOP_FIRST = set("rpuyxcdf")
_ZH_STOP_TAGS = {"ad", "t", "e", "o", "zg", "m", "q", "mq"}


def _stops(tag: str) -> bool:
    return tag[:1] in _ZH_STOP_FIRST or tag in _ZH_STOP_TAGS


# verbs that are the predicate when they follow the subject
_ZH_PREDICATES = set(
    (
        "是 有 在 为 于 设在 位于 成立 成立于 发射 通过 推动 提出 包括 属于 指 采用 遵循 面临 达到 举办 加入 发起 颁布 制定 负责 开通 构成 主张 认为 强调 签署 批准 发布 设立 "
        "建立 创建 召开 举行 成为 拥有 共有"
    ).split()
)
# attribute nouns: "X的总部" asks about X; they are not the subject themselves
_ZH_GENERIC = set(
    (
        "总部 时间 时候 地点 规模 成员 会员 目标 原则 宗旨 职能 作用 特点 内容 原因 影响 意义 历史 背景 结果 主席 负责人 领导人 数量 长度 全长 面积 人口 预算 任务 功能 措施 挑战 "
        "问题 年份 日期 地址 名称 全称 简称 哪年 一年 年 多长 多少 情况 方面 具体 细节 例子 发展 现状 成立 总部设在"
    ).split()
)
_ZH_ENTITY_TAGS = ("ns", "nr", "nt", "nz", "eng", "j")
_ZH_ELLIPSIS = re.compile(r"^(?:那么?|还有|另外|而)?\s*(?P<x>.{1,16}?)(?:的情况|怎么样|如何)?呢[？?。!！\s]*$")


def _pos(text: str) -> list[tuple[str, str, int]]:
    """(word, tag, start offset) for every token of ``text`` (jieba part-of-speech tagging)."""
    import jieba.posseg as pseg

    _jieba()  # initialises jieba quietly and thread-safely
    out, at = [], 0
    for w, tag in pseg.cut(text):
        out.append((w, tag, at))
        at += len(w)
    return out


def _zh_subject(text: str) -> str:
    """The leading noun phrase of a Chinese question ('' if it opens with an interrogative)."""
    book = re.search(r"《[^》]{1,40}》", text)
    toks = _pos(text)
    i = 0
    while i < len(toks) and (toks[i][1].startswith("p") or toks[i][1] in ("m", "q", "x", "t", "mq")):
        if toks[i][1].startswith("p"):  # "根据 X，..." : skip the prepositional lead-in up to the comma
            while i < len(toks) and toks[i][0] not in "，,":
                i += 1
        i += 1
    if book and (i >= len(toks) or toks[i][2] >= book.start()):
        return book.group()
    span: list[tuple[str, str, int]] = []
    for j in range(i, len(toks)):
        w, tag, _ = toks[j]
        nxt = toks[j + 1][1] if j + 1 < len(toks) else "x"
        if _stops(tag) and not (span and tag in ("m", "q") and nxt.startswith("n")):
            if not (tag == "x" and w == " " and span and nxt == "eng"):
                break
        if w in _ZH_PREDICATES or (tag.startswith("v") and tag != "vn" and nxt.startswith(("r", "u", "x", "p", "m"))):
            break
        span.append(toks[j])
    while span and span[-1][0] in _ZH_GENERIC:
        span.pop()
    if not span:
        return ""
    return text[span[0][2] : span[-1][2] + len(span[-1][0])].strip()


def _zh_has_entity(toks: list[tuple[str, str, int]], before: int | None = None) -> bool:
    """A named entity (place, person, organisation, Latin acronym, book title) in the question."""
    for w, tag, at in toks:
        if before is not None and at >= before:
            break
        if (tag.startswith(_ZH_ENTITY_TAGS) or w == "《") and w not in _ZH_GENERIC:
            return True
    return False


def _zh_content(toks: list[tuple[str, str, int]]) -> list[str]:
    """Nouns that carry meaning of their own (not attributes like 总部 or 时间)."""
    return [w for w, tag, _ in toks if tag.startswith(("n", "vn", "l", "j", "eng")) and w not in _ZH_GENERIC]


def _rewrite_zh(question: str, subject: str, prev_query: str) -> tuple[str, Mode]:
    q = question.strip()
    m = _ZH_ELLIPSIS.match(q)
    if m and len(q) <= 20:
        new = m.group("x").strip()
        if subject and subject in prev_query and new:
            return prev_query.replace(subject, new, 1), "replace"
        return f"{new} {prev_query}", "append"
    toks = _pos(q)
    for k, (w, tag, at) in enumerate(toks):
        if w in _ZH_ANAPHORS and tag.startswith("r") and not _zh_has_entity(toks, before=at):
            end = at + len(w)
            nxt = toks[k + 1][0] if k + 1 < len(toks) else ""
            if w not in _ZH_POSSESSIVE and nxt and subject.endswith(nxt) and nxt not in _ZH_GENERIC:
                end += len(nxt)  # 该组织 -> <subject> when the subject already ends in 组织
            elif (
                w not in ("它", "它们", "他", "她", "他们", "她们", "其")
                and toks[k + 1 : k + 2]
                and toks[k + 1][1] == "q"
            ):
                end += len(nxt)  # 这个/这项 + classifier
            rep = subject + _ZH_POSSESSIVE.get(w, "")
            return q[:at] + rep + q[end:], "substitute"
    if not _zh_has_entity(toks) and not _zh_content(toks):
        return subject + q, "prepend"
    return q, "none"


# --- English ------------------------------------------------------------------------------------

_EN_WH = set(
    (
        "what when where which who whom whose why how is are was were does do did can could has have had will "
        "would should in according and but so then tell me about please many much long the a an"
    ).split()
)
_EN_STOP = _EN_WH | set(
    (
        "of to for on at by with from as it its they them their this that these those he she his her him be "
        "been there or not any some more most first also still now"
    ).split()
)
_EN_GENERIC = set(
    (
        "headquarters headquartered members member membership goal goals purpose role founder founders budget "
        "size history date year location located based chair leader mission principle principles aim aims "
        "founded established created launched set up signed adopted start started begin began happen happened "
        "mean means say says said do called name cause caused reason effect effects impact long big large old "
        "important work works else example examples details why"
    ).split()
)
_EN_PRONOUN = re.compile(r"\b(it|its|they|them|their|he|she|him|his|her)\b", re.I)
_EN_DEMONSTRATIVE = re.compile(r"\b(this|that|these|those)\s+([a-z][\w-]*)", re.I)
_EN_ENTITY = re.compile(
    r"\b(?:[A-Z][\w'’-]*|[A-Z]{2,}\w*)(?:\s+(?:(?:of|the|for|on|and|in|to|de)\s+)*(?:[A-Z][\w'’-]*|[A-Z]{2,}\w*))*"
)
_EN_ELLIPSIS = re.compile(
    r"^(?:and\s+)?(?:what|how)\s+about\s+(?P<x>.+?)[?.!\s]*$|^and\s+(?P<y>[^?]{1,40}?)[?.!\s]*$", re.I
)


def _en_entities(text: str) -> list[re.Match]:
    """Capitalised spans (names, acronyms), without a sentence-initial question word."""
    out = []
    for m in _EN_ENTITY.finditer(text):
        words = m.group().split()
        while words and words[0].lower() in _EN_WH | _EN_STOP:
            words = words[1:]
        if words:
            out.append(m)
    return out


def _en_entity_text(m: re.Match) -> str:
    words = m.group().split()
    while words and words[0].lower() in _EN_WH | _EN_STOP:
        words = words[1:]
    return " ".join(words)


def _en_subject(text: str) -> str:
    """The first named entity of an English question, with its article ('the IETF')."""
    ents = _en_entities(text)
    if not ents:
        return ""
    m = ents[0]
    name = re.sub(r"['’]s$", "", _en_entity_text(m))
    before = text[: m.start() + m.group().find(name)]
    return f"the {name}" if re.search(r"\bthe\s+$", before, re.I) else name


def _en_content(text: str) -> list[str]:
    words = re.findall(r"[a-z][a-z'-]*", text.lower())
    return [w for w in words if w not in _EN_STOP and w not in _EN_GENERIC]


def _rewrite_en(question: str, subject: str, prev_query: str) -> tuple[str, Mode]:
    q = question.strip()
    m = _EN_ELLIPSIS.match(q)
    if m:
        new = (m.group("x") or m.group("y") or "").strip()
        if subject and subject in prev_query and new:
            return prev_query.replace(subject, new, 1), "replace"
        return f"{new} {prev_query}", "append"
    ents = _en_entities(q)
    first_ent = ents[0].start() if ents else len(q)
    dm = _EN_DEMONSTRATIVE.search(q)
    if dm and dm.start() < first_ent and dm.group(2).lower() not in _EN_STOP | {"is", "was", "are", "were"}:
        return q[: dm.start()] + subject + q[dm.end() :], "substitute"
    pm = _EN_PRONOUN.search(q)
    if pm and pm.start() < first_ent:
        word = pm.group(1).lower()
        rep = f"{subject}'s" if word in ("its", "their", "his") else subject
        if pm.start() == 0 and rep[:1].islower():
            rep = rep[0].upper() + rep[1:]
        return q[: pm.start()] + rep + q[pm.end() :], "substitute"
    if not ents and len(_en_content(q)) <= 1:
        return f"{subject}: {q}", "prepend"
    return q, "none"


# --- the rewriter -------------------------------------------------------------------------------


def subject_of(turn: Turn) -> str:
    """What the turn was about: the subject of its query, else of its answer's first sentence."""
    zh = question_lang(turn.query) == "zh"
    subject = _zh_subject(turn.query) if zh else _en_subject(turn.query)
    if not subject and turn.answer and not turn.abstained:
        first = re.split(r"(?<=[。！？.!?])\s*|\[\d+\]", turn.answer, maxsplit=1)[0]
        subject = _zh_subject(first) if question_lang(first) == "zh" else _en_subject(first)
    return subject


def _terms(turn: Turn) -> str:
    """Fallback subject: the content words of the previous query."""
    if question_lang(turn.query) == "zh":
        return "".join(dict.fromkeys(_zh_content(_pos(turn.query))))
    return " ".join(dict.fromkeys(_en_content(turn.query)))


class HeuristicRewriter:
    """Rule-based follow-up rewriting (no LLM): pronouns, ellipsis and subject-less questions."""

    name = "heuristic"

    def rewrite(self, question: str, history: Sequence[Turn]) -> Rewrite:
        """``question`` made self-contained using the last turn of ``history`` (unchanged if it already is)."""
        q = (question or "").strip()
        if not history or not q:
            return Rewrite(question, question)
        prev = history[-1]
        subject = subject_of(prev)
        terms = "" if subject else _terms(prev)
        if not subject and not terms:
            return Rewrite(question, question)
        zh = question_lang(q) == "zh"
        query, mode = (_rewrite_zh if zh else _rewrite_en)(q, subject or terms, prev.query)
        if mode == "none":
            return Rewrite(question, question)
        if not subject and mode in ("substitute", "prepend"):
            # no clear subject: keep the question as asked and add the previous question's key terms
            query, mode = f"{q} {terms}", "append"
        return Rewrite(question, query, mode, subject or terms)


class CallableRewriter:
    """Adapter for an LLM (or any function) ``(question, history) -> query``; falls back to the heuristic."""

    name = "llm"

    def __init__(self, fn: Callable[[str, Sequence[Turn]], str], fallback: QueryRewriter | None = None):
        self.fn = fn
        self.fallback = fallback or HeuristicRewriter()

    def rewrite(self, question: str, history: Sequence[Turn]) -> Rewrite:
        """Ask ``fn``; on an exception or an empty reply use the fallback rewriter."""
        if not history:
            return Rewrite(question, question)
        try:
            query = (self.fn(question, history) or "").strip()
        except Exception as exc:  # an LLM endpoint failing must not lose the question
            log.warning("query rewriter failed (%s); using the heuristic", exc)
            query = ""
        if not query:
            return self.fallback.rewrite(question, history)
        return Rewrite(question, query, "llm" if query != question else "none")


def make_rewriter(settings: Settings, llm: Callable[[str, Sequence[Turn]], str] | None = None) -> QueryRewriter:
    """The query rewriter for the configured backend: the heuristic offline, ``llm`` when one is given."""
    # Hook for the LLM backend: when settings name an LLM generator, build its rewrite function here
    # and pass it as ``llm``; everything downstream only sees a QueryRewriter.
    if llm is None and settings.generation.llm and settings.generation.rewrite:
        from rag.answer.llm import make_rewrite_fn

        llm = make_rewrite_fn(settings)
    return CallableRewriter(llm) if llm is not None else HeuristicRewriter()


def rewrite_question(question: str, history: Sequence[Turn]) -> Rewrite:
    """Convenience: the heuristic rewrite of ``question`` given the conversation so far."""
    return HeuristicRewriter().rewrite(question, history)
