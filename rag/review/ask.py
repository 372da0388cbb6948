"""A review question asked as one question (`rag ask`, the app, the API): the pooled answer — every paper
that discusses it, grouped per paper with its quoted points, then the papers that do not — as the same
answer record a factoid answer has."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Sequence

from rag.answer.pipeline import Assistant
from rag.answer.retrieval import Retriever
from rag.records import Answer, Bib, Citation, Hit, Support
from rag.review.api import DISCUSSED, review_questions

# a question addressed to every paper of several ("how does each paper view X?", "各文如何看待X？"): a
# distributive quantifier over papers or authors — never a topic. "the paper" or "these papers" alone
# stay factoid questions (one fact, possibly from one paper).
_ASKS_EACH = re.compile(
    r"\b(?:each|every|both|all(?: the)?|different|individual|the various|the respective)\s+"
    r"(?:papers?|articles?|studies|authors?|works?|texts?|sources?)\b"
    r"|各文|各篇|每篇|诸文|各(?:位)?作者|各(?:文章|论文|文献)|(?<!哪)[两二三四五六七八九十几多]篇(?:文章|论文|文献)",
    re.I,
)


def is_review_question(question: str) -> bool:
    """Whether a question asks what each paper (several papers, their authors) says about something."""
    return bool(_ASKS_EACH.search(question))


def review_answer(retriever: Retriever, question: str, docs: Sequence[str] | None = None) -> Answer:
    """The pooled review answer as an answer record: citations numbered as the pooled text marks them."""
    t0 = time.perf_counter()
    (review,) = review_questions(retriever, [("q", question)], docs or None)
    idx = retriever.index
    citations: list[Citation] = []
    hits: list[Hit] = []
    support: list[Support] = []
    for cell in review.cells:
        if cell.status != DISCUSSED:
            continue
        info = idx.docs.get(cell.doc)
        for n, p in zip(cell.marks, cell.points):
            chunk = idx.chunks[p.position]
            bib = info.bib if info is not None else Bib()
            score = round(p.score, 4)
            citations.append(
                Citation(n, cell.doc, chunk.title, p.section, p.chunk_id, chunk.text, p.quote, score, p.page, bib)
            )
            hits.append(Hit(chunk, p.score, len(hits) + 1, position=p.position))
            support.append(Support(p.quote, (n,), 1.0, True))
    ms = round((time.perf_counter() - t0) * 1000, 1)
    return Answer(
        question,
        review.pooled,
        not citations,
        tuple(citations),
        tuple(hits),
        {"review": ms, "total": ms},
        "review",
        tuple(support),
        max((c.probability for c in review.cells), default=0.0),
    )


def routed_stream(
    assistant: Assistant, question: str, k: int | None = None, docs: Iterable[str] | None = None
) -> Iterator[str | Answer]:
    """What every interface answers with: a review question (no model configured) gets the pooled review
    answer, any other question the assistant's own stream."""
    if not assistant.settings.generation.llm and is_review_question(question):
        yield review_answer(assistant.retriever, question, list(docs) if docs else None)
    else:
        yield from assistant.stream(question, k, docs)


def routed_ask(assistant: Assistant, question: str, k: int | None = None, docs: Iterable[str] | None = None) -> Answer:
    """The finished answer of ``routed_stream``."""
    *_, answer = routed_stream(assistant, question, k, docs)
    assert isinstance(answer, Answer)
    return answer
