"""Agreement and difference across papers: the stance cues (rag.review.stance), the pooled answer's
"same point" / "opposite stances" sentences in the question's language, and the Markdown and XLSX
outputs that show each side with its quote."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.review.batch.inputs import Question, Questions
from rag.review.compose import relations_text
from rag.review.stance import OPPOSITE, SAME, cues, relation


@pytest.mark.parametrize(
    "text, n",
    [
        ("The method does not reduce bias.", 1),
        ("However, the sample was small.", 1),
        ("Although small, the sample was enough, but only just.", 0),  # concessives qualify, not oppose
        ("这一趋势不断加强。", 0),  # 不断: continuing, no negation
        ("改变不平等的体系。", 0),  # 不平等: a word, not a denial
        ("国家不应当干预。", 1),
        ("他们反对这种做法。", 1),
        ("虽然如此，但效果明显。", 0),
    ],
)
def test_negation_and_contrast_cues(text, n):
    assert cues(text) == n


def test_relation_is_opposite_when_one_side_only_is_negated():
    assert relation("States should regulate the network.", "States should not regulate the network.") == OPPOSITE
    assert relation("States should regulate the network.", "Governments must regulate it.") == SAME
    assert relation("This is not enough.", "That is not sufficient either.") == SAME


def test_relations_text_in_the_question_language():
    pairs = [("Smith (2019)", 1, "Lee (2020)", 4, SAME), ("Smith (2019)", 2, "Wu (2018)", 7, OPPOSITE)]
    assert relations_text("en", pairs) == (
        "Same point: Smith (2019) [1] and Lee (2020) [4].\nOpposite stances: Smith (2019) [2] and Wu (2018) [7]."
    )
    zh = [("李明（2019）", 1, "王芳（2020）", 3, OPPOSITE)]
    assert relations_text("zh", zh) == "立场相反：李明（2019）[1]与王芳（2020）[3]。"
    assert relations_text("en", []) == ""


def _records(tmp_path: Path):
    qs = Questions(tmp_path / "q.txt", [Question("q1", "What does each paper say about regulation?", 1)], [], [])
    agreements = [
        {"doc_a": "a.txt", "quote_a": "States should regulate.", "doc_b": "b.txt", "quote_b": "Regulate it.",
         "similarity": 0.9, "relation": SAME},
        {"doc_a": "a.txt", "quote_a": "Rules help.", "doc_b": "b.txt", "quote_b": "Rules do not help.",
         "similarity": 0.9, "relation": OPPOSITE},
    ]  # fmt: skip
    base = {"kind": "review", "id": "q1", "question": qs.items[0].question, "status": "discussed",
            "pooled": "pooled text", "agreements": agreements}  # fmt: skip
    recs = {
        ("q1", d): {**base, "doc": d, "ref": ref, "answer": "x", "distinct": [],
                    "points": [{"n": 1, "quote": q, "page": "2", "section": "", "chunk_id": "c"}]}
        for d, ref, q in (("a.txt", "A (2019)", "States should regulate."), ("b.txt", "B (2020)", "Regulate it."))
    }  # fmt: skip
    return qs, recs


def test_markdown_shows_each_side_of_same_and_opposite(tmp_path):
    from rag.review.outputs import markdown

    qs, recs = _records(tmp_path)
    md = markdown(qs, recs, {}, ["a.txt", "b.txt"], "plain")
    same = md.index("**Same point in several papers:**")
    opposite = md.index("**Opposite stances:**")
    assert same < md.index("- A (2019): “States should regulate.” — B (2020): “Regulate it.”") < opposite
    assert opposite < md.index("- A (2019): “Rules help.” — B (2020): “Rules do not help.”")


def test_xlsx_question_sheet_labels_the_relation(tmp_path):
    from openpyxl import load_workbook

    from rag.review.outputs import write_xlsx

    qs, recs = _records(tmp_path)
    write_xlsx(tmp_path / "r.xlsx", qs, recs, {}, ["a.txt", "b.txt"], "plain")
    ws = load_workbook(tmp_path / "r.xlsx").worksheets[1]
    rows = [[c.value for c in row][:4] for row in ws.iter_rows()]
    assert ["same point", "A (2019)", None, "States should regulate."] in rows
    i = rows.index(["opposite stances", "A (2019)", None, "Rules help."])
    assert rows[i + 1] == [None, "B (2020)", None, "Rules do not help."]
