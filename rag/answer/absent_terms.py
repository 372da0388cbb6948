"""Terms of a question that a document never uses: a near-miss question asks the right document for a
detail it does not report ("how many *watts*…" of a paper that gives no power figure). Looked up in the
BM25 postings against the document's contiguous passage range, so no passage is read."""

from __future__ import annotations

import os
import re
from collections.abc import Container
from functools import lru_cache

import numpy as np

from rag.answer.retrieval import Retriever
from rag.lang.translation import english_glosses, phrase_glosses, translate_to_english

# words of the asking rather than of the thing asked about ("how *many*", "*这家*公司", "*哪一年*"): a
# document need not contain them, so they never count as a term the document lacks
QUESTION_WORD = re.compile(
    r"^(?:(?:many|much|long|often|old|far|big|large|small|tall|high|what|which|when|where|who|whom|whose|why|how)$"
    r"|[这那哪几多怎]|什么|何|是否|有没有|分别)",
)

# further ways of asking for a quantity, used only by the ``number_absent`` feature (ASKS_NUMBER feeds the
# shipped model's features, which must not move without retraining it)
ASKS_QUANTITY = re.compile(
    r"how (large|small|fast|heavy|wide|deep|strong)|by how much|at what (rate|speed|level|price|cost|age|temperature)|"
    r"what (was|is|were|are) the (mean|average|median|total|maximum|minimum|annual|retail)\b",
    re.I,
)


def variants(term: str) -> list[str]:
    """The forms of a Latin term looked up in the index: itself, its plural / past / gerund forms and
    its stems ("develop" finds "developed"); Han terms are kept whole."""
    if not term.isascii():
        return [term]
    out = [term]
    for base in [term, *(term[: -len(x)] for x in ("ies", "es", "s", "ed", "ing") if term.endswith(x))]:
        if len(base) >= 3:
            out += [base, base + "s", base + "es", base + "ed", base + "ing", base + "y"]
    return list(dict.fromkeys(out))


def in_document(retriever: Retriever, term: str, doc_id: str) -> bool:
    """Whether ``term`` (a form of it; for a hyphenated term, every part) occurs in a passage of the
    document ``doc_id``, read from the BM25 postings (sorted by passage) against the document's contiguous
    passage range: O(log postings) per form, no passage read."""
    parts = (
        [x for x in re.split(r"[-_/]", term) if x]
        if term.isascii() and term not in retriever.index.bm25.vocab_dict
        else []
    )
    if len(parts) > 1:
        return all(in_document(retriever, x, doc_id) for x in parts)
    idx = retriever.index
    bm = idx.bm25
    if hasattr(bm, "postings"):  # a segmented index: its segments' rows are not global positions
        return True
    try:
        rows = idx.doc_range(doc_id)
    except KeyError:
        return True
    indptr, indices = bm.scores["indptr"], bm.scores["indices"]
    for form in variants(term):
        tid = bm.vocab_dict.get(form)
        if tid is None:
            continue
        post = indices[int(indptr[tid]) : int(indptr[tid + 1])]
        i = int(np.searchsorted(post, rows.start))
        if i < len(post) and int(post[i]) < rows.stop:
            return True
    return False


def unknown_share(question: str, query_tokens: list[str], vocab: Container[str], translated: set[str]) -> float:
    """Share of an English question's ordinary words that the library never uses, in either language.

    Ordinary: not a name (capitalised in ``question``), number or question word. Never used: no form of the
    word in the index's BM25 ``vocab`` and the word not among those its glossary ``translated``. A question
    about a topic the papers lack is mostly made of such words, yet one generic word's translation can carry
    the answer model's confidence over a passage in the other language (eval/NOTES.md, off-topic questions)."""
    names = {w.lower() for w in re.findall(r"\b[A-Z][\w'-]*", question)}
    words = [t for t in query_tokens if t.isascii() and t.isalpha() and not QUESTION_WORD.match(t)]
    unknown = [t for t in words if t not in names and t not in translated and not any(v in vocab for v in variants(t))]
    return len(unknown) / len(words) if words else 0.0


@lru_cache(maxsize=1)
def general_idf() -> tuple[dict[str, float], float]:
    """jieba's IDF of Chinese words over general text (its ``analyse/idf.txt``), read once, and the
    median it gives a word it never saw."""
    import jieba

    out: dict[str, float] = {}
    with open(os.path.join(os.path.dirname(jieba.__file__), "analyse", "idf.txt"), encoding="utf-8") as f:
        for line in f:
            word, _, value = line.rstrip().partition(" ")
            out[word] = float(value)
    return out, float(np.median(list(out.values())))


def unfound_share(retriever: Retriever, tokens: list[str], doc_id: str) -> float:
    """IDF-weighted share of a Chinese question's dictionary words that the English document ``doc_id``
    never uses in any of their glosses.

    Counted: Chinese words CC-CEDICT glosses (a word it cannot translate says nothing; nor does a word
    inside a longer glossed word of the question, 腺癌 in 乳腺癌), weighed by their general-text IDF (可以,
    每天 weigh little); a word is used when the document holds one of its one-word glosses (any form) or
    every word of a longer gloss (乳腺癌: breast, cancer). A Latin word of the question (a name) counts as
    used when the document holds it and is left out otherwise (OCR and tokenisation split names). A
    question about a topic the document lacks is largely made of such words, while its e5 similarity to
    any English passage stays high."""
    glosses, phrases = english_glosses(), phrase_glosses()
    idfs, default = general_idf()
    found = dict(translate_to_english(tokens, retriever.index.bm25.vocab_dict))
    words = [t for t in dict.fromkeys(tokens) if not QUESTION_WORD.match(t)]
    known = [t for t in words if not t.isascii() and (glosses.get(t) or phrases.get(t))]
    known = [t for t in known if not any(t != o and t in o for o in known)]

    def used(word: str) -> bool:
        if any(in_document(retriever, a, doc_id) for a in [word, *found.get(word, ())]):
            return True
        return any(all(in_document(retriever, w, doc_id) for w in p) for p in phrases.get(word, ()))

    absent = total = 0.0
    for t in known:
        w = idfs.get(t, default)
        total += w
        if not used(t):
            absent += w
    total += sum(default for t in words if t.isascii() and t.isalpha() and in_document(retriever, t, doc_id))
    return absent / total if total else 0.0
