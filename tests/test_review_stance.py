"""Agreement and difference across papers: the same-point gate (rag.review.stance) and its gold, the pooled answer's
"same point" / "opposite stances" sentences in the question's language, and the Markdown and XLSX
outputs that show each side with its quote."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import GoldFileError
from rag.review.batch.inputs import Question, Questions
from rag.review.compose import relations_text
from rag.review.scoring import StancePair, load_stance_gold, norm, read_texts, score_stance
from rag.review.stance import OPPOSITE, SAME, SAME_OVERLAP, overlap, relation

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "a, b, rel",
    [
        ("States should regulate the network.", "States should regulate the network firmly.", SAME),
        ("States should regulate the network.", "Trials were registered before enrolment.", ""),
        ("中国主张尊重网络主权。", "各国应当尊重网络主权。", SAME),
        ("中国主张尊重网络主权。", "数字鸿沟进一步扩大。", ""),
        ("States should regulate the network.", "", ""),
    ],
)
def test_same_point_only_when_the_quotes_share_their_wording(a, b, rel):
    assert relation(a, b) == rel


def test_overlap_is_the_jaccard_share_of_terms_of_two_or_more_characters():
    assert overlap("alpha beta gamma", "alpha beta delta") == pytest.approx(2 / 4)
    assert overlap("a alpha", "alpha") == 1.0  # one-letter tokens do not count
    assert SAME_OVERLAP == 0.2


def test_stance_gold_is_labelled_and_its_english_quotes_are_verbatim():
    gold = load_stance_gold(ROOT / "eval" / "review" / "stance_gold_en.jsonl")
    texts = {d: norm(t) for d, t in read_texts(ROOT / "eval" / "review" / "papers_en").items()}
    assert len(gold) >= 10 and {p.label for p in gold} <= {"same", "unrelated", "opposite"}
    assert all(
        len(q) < 40 and norm(q) in texts[d] for p in gold for d, q in ((p.doc_a, p.quote_a), (p.doc_b, p.quote_b))
    )


def test_stance_gold_chinese_quotes_are_verbatim(shared_corpus):
    gold = load_stance_gold(ROOT / "eval" / "review" / "stance_gold_zh.jsonl")
    texts = {d: norm(t) for d, t in read_texts(shared_corpus).items()}
    assert len(gold) >= 30
    assert all(
        len(q) < 40 and norm(q) in texts[d] for p in gold for d, q in ((p.doc_a, p.quote_a), (p.doc_b, p.quote_b))
    )


def test_stance_scorer_counts_right_labels_recall_and_unlabelled():
    gold = [
        StancePair("q1", "a.txt", "States should", "b.txt", "Regulate it", "same"),
        StancePair("q1", "a.txt", "Rules help", "b.txt", "Rules do not", "unrelated"),
        StancePair("q2", "a.txt", "Other", "b.txt", "Thing", "same"),
    ]
    shown = [
        ("q1", "b.txt", "…Regulate it now…", "a.txt", "States should regulate.", SAME),  # sides swapped
        ("q1", "a.txt", "Rules help.", "b.txt", "Rules do not help.", SAME),
        ("q1", "a.txt", "Unknown.", "b.txt", "Pair.", SAME),
    ]
    got = score_stance(gold, shown)
    assert {k: got[k] for k in ("shown", "labelled", "right", "precision", "same_recall", "unlabelled")} == {
        "shown": 3, "labelled": 2, "right": 1, "precision": 0.5, "same_recall": 0.5, "unlabelled": 1,
    }  # fmt: skip


def test_stance_gold_rejects_an_unknown_label(tmp_path):
    bad = tmp_path / "stance_gold.jsonl"
    bad.write_text('{"id": "q", "a": "a", "quote_a": "x", "b": "b", "quote_b": "y", "label": "agree"}\n', "utf-8")
    with pytest.raises(GoldFileError, match="line 1: label 'agree' is not one of same, unrelated, opposite"):
        load_stance_gold(bad)


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


def test_xlsx_reference_column_names_the_authors(tmp_path):
    """The references sheet's entry starts with the authors in every style; a record without authors
    borrows the ones the index found for the paper (issue 29 item 5: the column showed titles only)."""
    from openpyxl import load_workbook

    from rag.index.store.layout import DocInfo
    from rag.records import Bib, Person
    from rag.review.outputs import write_xlsx

    qs, recs = _records(tmp_path)
    docinfo = {
        "a.txt": DocInfo("a.txt", "a.txt", "Rules online", ("Jane Smith",), "0", 1, 1, 0, bib=Bib(title="Rules online")),
        "b.txt": DocInfo(
            "b.txt", "b.txt", "网络规则", ("李明",), "0", 1, 1, 0,
            bib=Bib(type="article-journal", title="网络规则", authors=(Person("李明"),), year="2020", journal="学报"),
        ),
    }  # fmt: skip
    got = {}
    for style in ("plain", "gbt7714", "apa"):
        write_xlsx(tmp_path / f"{style}.xlsx", qs, recs, docinfo, ["a.txt", "b.txt"], style)
        sheet = load_workbook(tmp_path / f"{style}.xlsx")["references"]
        got[style] = [row[3] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert got["plain"] == ["Jane Smith. Rules online", "李明. 网络规则"]
    assert got["gbt7714"] == ["SMITH J. Rules online[Z].", "李明. 网络规则[J]. 学报, 2020."]
    assert got["apa"] == ["Smith, J. (n.d.). Rules online.", "李明. (2020). 网络规则. 学报."]
