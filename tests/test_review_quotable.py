"""What a review may quote as a point (rag/review/quotable.py): wordy complete sentences, never a heading kept
as a line of text nor a piece that is only citation marks."""

from __future__ import annotations

import pytest

from rag.review.quotable import MIN_WORDS, is_heading, quotable, words
from rag.settings import load_settings


def test_title_case_lines_are_headings():
    assert is_heading("Key Findings of the Survey and What They Mean for Coastal Towns")
    assert is_heading("How Do These Results Relate to Earlier Surveys?")
    assert not is_heading("Methods")  # one word: too little to tell a heading from a name
    assert not is_heading("The survey found that most harbours were flooded at least once a decade.")
    # names inside a sentence do not make it a heading: most of its longer words are lower case
    assert not is_heading("The Harbour Board and the Coastal Agency published their flood maps in spring.")
    # Han text is never read as Title Case, whatever Latin names it holds
    assert not is_heading("该机构(International Flood Monitoring Network, IFMN)发布了洪水地图。")


def test_quotable_sentences_are_wordy_complete_and_short_enough():
    sentence = "The survey found that most harbours were flooded at least once a decade."
    assert quotable(sentence, 200)
    assert not quotable(sentence, 50)  # longer than the budget
    assert not quotable("[7].", 200) and words("[7].") < MIN_WORDS
    unended = "The survey found that most harbours were flooded at least once in every decade since records began"
    assert quotable(unended, 200)  # a long body line without its full stop still reads as a sentence
    assert not quotable(unended, 200, meta=True)  # front matter must end as a sentence


@pytest.mark.slow
def test_a_heading_is_read_but_never_quoted(tmp_path):
    """A paper whose Title Case heading, kept as a line of its body, names the question's topic best (before
    this rule it was the cell's first point): the heading is read with the sentences (flagged), and the cell
    quotes the sentences under it, not the heading."""
    from rag.answer.pipeline import Assistant
    from rag.index.store import build_index
    from rag.review import review_questions
    from rag.review.extract import doc_sentences

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    heading = "Why Coastal Flooding Damages Harbour Infrastructure More Than Expected"
    (corpus / "harbours.txt").write_text(
        "A Survey of Northern Harbours\n\n"
        "The survey covered eleven harbours on the northern coast over twenty years of records. "
        "Each harbour board kept a logbook of storms, tides and repairs, which the authors read in full.\n"
        "### Sources and Records\n"
        "The logbooks were read together with the tide tables of the national weather service. "
        "Where the two disagreed, the authors kept the logbook entry and noted the difference.\n"
        f"### {heading}\n"
        "Coastal flooding reached the quays of most harbours at least once a decade during the survey. "
        "Flood water corroded the cranes and undermined the foundations of the older warehouses. "
        "Repairs after each coastal flood took months and cost more than the harbour boards had planned.\n\n"
        "### The Timetable of the Ferries\n"
        "The ferries kept their summer timetable through every season of the survey years.\n",
        encoding="utf-8",
    )
    (corpus / "rail.txt").write_text(
        "The timetable of the regional railway was revised in spring to add evening trains. "
        "Passengers asked for more frequent services on the coastal line during the holidays.\n",
        encoding="utf-8",
    )
    s = load_settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    build_index([corpus], s)
    r = Assistant.open(s).retriever
    sents = doc_sentences(r, "harbours.txt")
    flagged = [t for t, h in zip(sents.texts, sents.heading) if h]
    assert flagged == [heading, "A Survey of Northern Harbours"]  # the heading, and the title (front matter)
    (rev,) = review_questions(r, [("q", "What does each paper say about coastal flooding?")], ["harbours.txt"])
    (cell,) = rev.cells
    assert cell.status == "discussed" and cell.points
    assert all(heading not in p.quote for p in cell.points)
    assert any("Coastal flooding reached the quays" in p.quote for p in cell.points)
