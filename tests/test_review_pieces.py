"""Long sentences cut into pieces that can each be a point (rag/review/pieces.py) and their use in a review."""

from __future__ import annotations

import pytest

from rag.review.pieces import pieces
from rag.settings import load_settings

LONG_EN = (
    "Although the number of trials was small, and heterogeneity was high in the pooled estimates of effect "
    "across the randomised trials that were included, the smaller the trials the larger the effects reported, "
    "which suggests publication bias; moreover the reporting of methods was poor in most of them and that "
    "limits what can be concluded from the review as a whole."
)


def test_pieces_are_verbatim_ordered_runs_within_the_budget():
    got = pieces(LONG_EN, 150)
    assert [LONG_EN[a:b] for a, b in got] == [
        "Although the number of trials was small",
        "heterogeneity was high in the pooled estimates of effect across the randomised trials that were included",
        "the smaller the trials the larger the effects reported, which suggests publication bias",
        "moreover the reporting of methods was poor in most of them and that limits what can be concluded from the "
        "review as a whole.",
    ]
    assert all(b - a <= 150 for a, b in got)
    assert all(b1 < a2 for (_, b1), (a2, _) in zip(got, got[1:]))


def test_a_sentence_within_the_budget_is_one_piece():
    assert pieces("A short sentence.", 150) == [(0, 17)]


def test_chinese_sentences_are_cut_at_chinese_marks():
    text = "甲" * 60 + "，" + "乙" * 60 + "；" + "丙" * 60 + "。"
    assert [text[a:b] for a, b in pieces(text, 150)] == ["甲" * 60 + "，" + "乙" * 60, "丙" * 60 + "。"]


def test_a_clause_without_any_join_is_cut_at_a_word_end():
    text = " ".join(["word"] * 60)  # 299 characters, no clause mark, no joining word
    got = pieces(text, 100)
    assert all(b - a <= 100 for a, b in got)
    assert " ".join(text[a:b] for a, b in got) == text
    assert got == [(0, 99), (100, 194), (195, 289), (290, 299)]


@pytest.mark.slow
def test_a_point_can_be_a_piece_of_a_long_sentence(tmp_path):
    """A paper whose only statement of the topic sits in a 300-character sentence gets a point quoting the
    clause run that states it: a verbatim stretch of its passage, within the piece budget, shown with ellipses."""
    from rag.answer.pipeline import Assistant
    from rag.index.store import build_index
    from rag.review import review_questions

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    long = (
        "In the surveyed lagoons, where the water was shallow and the summers were long and hot, the divers "
        "recorded many colonies over six seasons, and coral bleaching followed every marine heatwave within "
        "weeks, which the authors attribute to the loss of symbiotic algae under thermal stress."
    )
    assert len(long) > 200
    (corpus / "reefs.md").write_text(
        "# Reef survey\n\nThe survey covered four lagoons on the outer islands of the archipelago. "
        + long
        + " The teams counted fish along fixed transects every spring. Funding came from a regional fisheries board.\n",
        encoding="utf-8",
    )
    (corpus / "rail.md").write_text(
        "# Railway timetables\n\nThe timetable of the regional railway was revised in spring to add evening trains. "
        "Passengers asked for more frequent services on the coastal line during the holidays. "
        "The operator published the new timetable two weeks before it came into force.\n",
        encoding="utf-8",
    )
    s = load_settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    build_index([corpus], s)
    r = Assistant.open(s).retriever
    (rev,) = review_questions(r, [("q", "What does each paper say about coral bleaching?")], ["reefs.md"])
    (cell,) = rev.cells
    assert cell.status == "discussed"
    part = [p for p in cell.points if "coral bleaching" in p.quote]
    assert len(part) == 1
    p = part[0]
    assert not p.whole and p.shown == f"…{p.quote}…" and len(p.quote) <= 150
    assert p.quote in long and p.quote in r.index.chunks[p.position].text


def test_a_chinese_question_is_scored_on_its_own_words_not_their_glosses(small_assistant):
    """The answer path matches a Chinese word's English glosses; a review does not (the "not discussed" model
    learnt what a term in the question's language means): the English notes' sentences on cables get no
    term score from 电缆."""
    from rag.answer.evidence import term_groups
    from rag.review.extract import doc_sentences, score_docs

    r = small_assistant.retriever
    query = r.encode("海底电缆故障")
    assert ("电缆", "cable", "cables") in [alts for alts, _ in term_groups(query, r)]
    (s,) = score_docs(r, query, [doc_sentences(r, "en_notes.md")])
    assert [alts for alts, _ in s.groups] == [("海底",), ("电缆",), ("故障",)]
    cable = [i for i, t in enumerate(s.sents.texts) if "cable" in t.lower()]
    assert cable and all(s.lexical[i] == 0.0 for i in cable)
