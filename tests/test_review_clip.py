"""Choosing points: a long sentence quoted in part (rag.review.clip), the run of whole clauses holding the question's
terms, within the budget, verbatim; and the pseudo-relevance feedback that ranks the candidates."""

from __future__ import annotations

from rag.review.clip import clauses, clip
from rag.review.extract import Point


def test_clauses_cover_the_sentence_without_gaps():
    text = "First, the method is simple; second, it is cheap: it runs offline, and it is fast."
    parts = clauses(text)
    assert "".join(text[a:b] for a, b in parts) == text
    assert [text[a:b].strip() for a, b in parts] == [
        "First,",
        "the method is simple;",
        "second,",
        "it is cheap:",
        "it runs offline,",
        "and it is fast.",
    ]


def test_chinese_clauses_split_at_chinese_marks():
    text = "方法很简单，成本也很低；运行速度很快。"
    assert [text[a:b] for a, b in clauses(text)] == ["方法很简单，", "成本也很低；", "运行速度很快。"]


def test_a_short_sentence_is_quoted_whole():
    text = "Bias is the combination of design and reporting factors."
    assert clip(text, [(("bias",), 2.0)], 150) == (0, len(text))


def test_a_long_sentence_keeps_the_clauses_with_the_question_terms():
    text = (
        "Many fields were surveyed over the decade, with large teams, long protocols and several registries, "
        "and across all of them publication bias was the most common problem reported by the reviewers, "
        "although the funding of the studies varied widely between the countries that took part."
    )
    a, b = clip(text, [(("publication",), 3.0), (("bias",), 2.0)], 120)
    quote = text[a:b]
    assert quote == "and across all of them publication bias was the most common problem reported by the reviewers"
    assert quote in text and b - a <= 120


def test_without_any_term_the_earliest_stretch_is_quoted():
    text = "alpha beta gamma, delta epsilon zeta, eta theta iota, kappa lambda mu, nu xi omicron, pi rho sigma."
    a, b = clip(text, [(("nothing",), 1.0)], 40)
    assert (a, text[a:b]) == (0, "alpha beta gamma, delta epsilon zeta")


def test_one_clause_longer_than_the_budget_is_cut_at_a_word_end():
    text = "word " * 60
    a, b = clip(text.strip(), [], 50)
    assert a == 0 and b <= 50 and text[b - 1] != " " and text[b] == " "


def test_a_part_of_a_sentence_is_shown_with_ellipses():
    whole = Point("the quote", "c1", 0, "1", "", 1.0, 3)
    part = Point("the quote", "c1", 0, "1", "", 1.0, 3, whole=False)
    assert (whole.shown, part.shown) == ("the quote", "…the quote…")


def _scored(doc: str, rows: list[int], z: list[float], vecs: list[list[float]]):
    import numpy as np

    from rag.review.extract import DocSentences, Scored

    n = len(rows)
    sents = DocSentences(
        doc,
        np.asarray(rows),
        np.zeros(n, dtype=np.int64),
        tuple(f"s{i}" for i in rows),
        tuple(frozenset() for _ in rows),
        np.ones(n, dtype=bool),
    )
    v = np.asarray(vecs, dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return Scored(sents, np.zeros(n), np.zeros(n), np.asarray(z, dtype=np.float64), v)


def test_feedback_lifts_sentences_worded_like_the_best_ones():
    """Pseudo-relevance feedback: of two sentences the question scores alike, the one close to the best
    reviewed sentences (in whichever paper) ranks higher; the question's own z is left unchanged."""
    import numpy as np

    from rag.review.extract import feedback

    on, off = [1.0, 0.1, 0.0], [0.0, 0.1, 1.0]
    a = _scored("a", [0, 1, 2, 3], [3.0, 2.9, 0.0, 0.0], [on, on, on, off])
    b = _scored("b", [4, 5, 6, 7], [2.8, 2.7, 0.0, 0.0], [on, on, off, off])
    ranks = feedback(np.zeros(8, dtype=np.int64), [a, b])
    assert ranks[0][2] > ranks[0][3]  # same z 0.0: the one worded like the best sentences goes first
    assert list(a.z) == [3.0, 2.9, 0.0, 0.0]
    assert [int(np.argmax(r)) for r in ranks] == [0, 0]


def test_feedback_needs_enough_sentences():
    import numpy as np

    from rag.review.extract import feedback

    a = _scored("a", [0, 1], [1.0, 0.0], [[1.0, 0.0], [0.0, 1.0]])
    assert [list(r) for r in feedback(np.zeros(2, dtype=np.int64), [a])] == [[1.0, 0.0]]
