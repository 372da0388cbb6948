"""The "not discussed" decision's dense-only fallback: used exactly when no reviewed paper has any of the
question's terms, fitted on its own features, and saved and read back with the main model."""

from __future__ import annotations

import numpy as np

from rag.review.decide import (
    DENSE_FEATURES,
    FEATURES,
    Model,
    cross_lex,
    features,
    fit,
    load_fallback,
    load_model,
    save_model,
)
from rag.review.extract import DocSentences, Scored


def _row(null_z: float, lex_best: float, lexical: float) -> dict[str, float]:
    return dict.fromkeys(FEATURES, 0.0) | {"null_z": null_z, "lex_best": lex_best, "lexical": lexical}


def test_the_fallback_decides_only_without_term_evidence():
    main = Model(tuple(10.0 if n == "lex_best" else 0.0 for n in FEATURES), -2.0)  # only with a term match
    dense = Model((0.0, 2.0), 0.0, features=DENSE_FEATURES)  # discusses when null_z is positive
    both = Model(main.weights, main.bias, dense=dense)
    close = _row(null_z=2.0, lex_best=0.0, lexical=0.0)  # no paper uses the terms: dense evidence decides
    assert main.prob(close) < 0.5 < both.prob(close)
    with_terms = _row(null_z=2.0, lex_best=0.0, lexical=1.0)  # terms exist elsewhere, not here: the main model
    assert both.prob(with_terms) == main.prob(with_terms) < 0.5


def test_fit_on_dense_features_and_round_trip(tmp_path):
    rows = [_row(v, 0.0, 0.0) for v in (-3, -2, -1.5, 1.5, 2, 3)]
    dense = fit(rows, [0, 0, 0, 1, 1, 1], features=DENSE_FEATURES)
    assert dense.features == DENSE_FEATURES and dense.weights[DENSE_FEATURES.index("null_z")] > 0
    both = Model(tuple(0.1 * (i + 1) for i in range(len(FEATURES))), 0.4, dense=dense)
    path = tmp_path / "m.json"
    save_model(both, path, "test")
    back = load_model(str(path))
    assert back.weights == both.weights and back.dense is not None
    assert back.dense.weights == dense.weights and back.dense.features == DENSE_FEATURES
    assert [round(back.prob(r), 9) for r in rows] == [round(both.prob(r), 9) for r in rows]


def test_the_shipped_model_has_its_fallback():
    m = load_model()
    assert m.features == FEATURES and m.dense is not None and m.dense.features == DENSE_FEATURES

    assert load_fallback() == m.dense


def _paper(lexical: list[float], library_terms: float, own_lang: float) -> Scored:
    n = len(lexical)
    sents = DocSentences(
        "p.txt", np.arange(n), np.zeros(n, dtype=np.int64), tuple("s" for _ in range(n)),
        tuple(frozenset() for _ in range(n)), np.ones(n, dtype=bool),
    )  # fmt: skip
    z = np.asarray(lexical, dtype=np.float64)
    return Scored(sents, z / 10, z, z, np.zeros((n, 2), np.float32), 0.5, library_terms, own_lang=own_lang)


def test_unmatched_topic_terms_count_only_in_the_question_language():
    """`unmatched` is the IDF share of the topic's terms no reviewed paper uses: read where the papers are in
    the question's language, 0 across languages (a missed dictionary translation says nothing) and 0 when
    no paper uses any of the terms (the fallback decides those)."""
    assert features(_paper([0.0, 0.4, 1.0], 0.6, own_lang=1.0), 1.0)["unmatched"] == 0.4
    assert features(_paper([0.0, 0.4, 1.0], 0.6, own_lang=0.1), 1.0)["unmatched"] == 0.0
    assert features(_paper([0.0, 0.0, 0.0], 0.0, own_lang=1.0), 1.0)["unmatched"] == 0.0
    assert features(_paper([0.0, 0.4, 1.0], 0.6, own_lang=1.0), 1.0)["lex_best"] == 1.0


def test_the_shipped_model_counts_unmatched_terms_against_discussing():
    m = load_model()
    w = dict(zip(m.features, m.weights))
    assert w["unmatched"] < 0 < w["lex_best"] and w["null_z"] > 0


def test_best_term_share_across_languages_is_read_against_the_best_paper():
    """A paper in another language than the question's: its best sentence's term share is divided by the
    best reviewed paper's (dictionary translations that miss everywhere do not count against it); in the
    question's own language, and when no paper holds a term, the share stays as it is."""
    assert features(_paper([0.0, 0.2, 0.25], 0.6, own_lang=0.1), 1.0, best_lex=0.5)["lex_best"] == 0.5
    assert features(_paper([0.0, 0.2, 0.25], 0.6, own_lang=1.0), 1.0, best_lex=0.5)["lex_best"] == 0.25
    assert features(_paper([0.0, 0.0, 0.0], 0.6, own_lang=0.1), 1.0, best_lex=0.0)["lex_best"] == 0.0
    assert features(_paper([0.0, 0.2, 0.25], 0.6, own_lang=0.1), 1.0)["lex_best"] == 0.25  # no library figure


def test_cross_language_papers_are_measured_against_the_best_of_their_kind():
    """In a mixed library the reference is the best paper in another language than the question's, not a
    paper in the question's language (which holds the words as written)."""
    own = _paper([0.0, 1.0], 1.0, own_lang=0.9)
    other = [_paper([0.1, 0.3], 1.0, own_lang=0.1), _paper([0.2, 0.6], 1.0, own_lang=0.2)]
    assert cross_lex([own, *other]) == 0.6
    assert cross_lex([own]) == 0.0
    assert features(other[0], 1.0, best_lex=cross_lex([own, *other]))["lex_best"] == 0.5
