"""An answer cites each passage under one number, and a question limited to documents that do not discuss
it is refused as such."""

from __future__ import annotations

import re

from rag.answer.citations import MARK, merge_repeated_passages
from rag.answer.generation import ABSTAIN_SELECTED
from rag.records import Citation, Support

TEXT = "Alpha one. Beta two. Gamma three."


def _c(n: int, chunk: str, quote: str, text: str = TEXT) -> Citation:
    return Citation(n, "d.md", "T", "", chunk, text, quote, 0.5 + n / 10)


def test_the_same_passage_cited_twice_gets_one_number_and_marks_are_renumbered():
    cites = [_c(1, "d#0", "Alpha one."), _c(2, "d#1", "Other.", "Other."), _c(3, "d#0", "Gamma three.")]
    answer = "Alpha one.[1] Other.[2] Gamma three.[3] All.[1][3]"
    support = [Support("Alpha one.", (1,), 1.0, True), Support("All.", (1, 3), 1.0, True)]
    text, merged, sup = merge_repeated_passages(answer, cites, support)
    assert text == "Alpha one.[1] Other.[2] Gamma three.[1] All.[1]"
    assert [(c.n, c.chunk_id) for c in merged] == [(1, "d#0"), (2, "d#1")]
    assert merged[0].quote == TEXT  # from the first quoted sentence to the last, verbatim from the passage
    assert merged[0].score == cites[2].score
    assert [s.citations for s in sup] == [(1,), (1,)]
    assert {int(n) for n in MARK.findall(text)} == {c.n for c in merged}


def test_nothing_changes_when_every_passage_is_cited_once():
    cites = (_c(1, "d#0", "Alpha one."), _c(2, "d#1", "Other.", "Other."))
    assert merge_repeated_passages("Alpha one.[1] Other.[2]", cites) == ("Alpha one.[1] Other.[2]", cites, ())


def test_answers_never_cite_one_passage_under_two_numbers(small_assistant):
    """Small passages (50 units): an answer often quotes two sentences of one passage."""
    questions = [
        "When was the first transatlantic telegraph cable completed, and how long did it last?",
        "What disrupted internet access in Egypt and India, and how long did repairs take?",
        "数字丝绸之路推动了哪些领域的合作？",
        "墨子号卫星是什么时候发射的？",
        "What causes most cable faults?",
    ]
    for q in questions:
        a = small_assistant.ask(q)
        ids = [c.chunk_id for c in a.citations]
        assert len(ids) == len(set(ids)), (q, ids)
        assert [c.n for c in a.citations] == list(range(1, len(a.citations) + 1))
        assert {int(n) for n in MARK.findall(a.answer)} == {c.n for c in a.citations}
        for c in a.citations:
            assert c.quote in c.text


def test_a_question_limited_to_a_document_that_does_not_discuss_it_is_refused_as_such(assistant):
    q_en = "When was the first transatlantic telegraph cable completed?"
    assert "1858" in assistant.ask(q_en, docs=["en_notes.md"]).answer
    for doc in ("zh_paper.txt", "gbk_paper.txt"):
        a = assistant.ask(q_en, docs=[doc])
        assert a.abstained and a.answer == ABSTAIN_SELECTED["en"] and not a.citations
    a = assistant.ask("墨子号卫星是什么时候发射的？", docs=["en_notes.md"])
    assert a.abstained and a.answer == ABSTAIN_SELECTED["zh"]
    pieces = list(assistant.stream(q_en, docs=["zh_paper.txt"]))
    assert pieces[0] == ABSTAIN_SELECTED["en"] and pieces[-1].answer == ABSTAIN_SELECTED["en"]
    # without a document filter the ordinary refusal stays
    a = assistant.ask("What is the boiling point of liquid nitrogen on Mars?")
    assert a.abstained and not re.search("selected", a.answer)


def test_one_sentence_quoted_from_two_overlapping_passages_is_one_citation():
    """Passages overlap (RAG_CHUNK_OVERLAP), so a written answer can cite one sentence as [1] and [3]."""
    a = _c(1, "d#0", "Gamma three.")
    b = _c(2, "e#0", "Other.", "Other.")
    c = _c(3, "d#1", "Gamma three.", "Gamma three. Delta four.")
    text, merged, _ = merge_repeated_passages("Gamma three.[1] Other.[2][3]", [a, b, c])
    assert text == "Gamma three.[1] Other.[1][2]"
    assert [c.chunk_id for c in merged] == ["d#0", "e#0"]
    # the same words in another document are another source
    d = Citation(3, "other.md", "U", "", "o#0", TEXT, "Gamma three.", 0.1)
    assert [c.n for c in merge_repeated_passages("x.[1] y.[3]", [a, d])[1]] == [1, 2]
