"""The "not discussed" decision's dense-only fallback: used exactly when no reviewed paper has any of the
question's terms, fitted on its own features, and saved and read back with the main model."""

from __future__ import annotations

from rag.review.decide import DENSE_FEATURES, FEATURES, Model, fit, load_model, save_model


def _row(null_z: float, lex_best: float, lexical: float) -> dict[str, float]:
    return dict.fromkeys(FEATURES, 0.0) | {"null_z": null_z, "lex_best": lex_best, "lexical": lexical}


def test_the_fallback_decides_only_without_term_evidence():
    main = Model((0.0, 0.0, 10.0), -2.0)  # discusses only with a term match (lex_best)
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
    both = Model((0.1, 0.2, 0.3), 0.4, dense=dense)
    path = tmp_path / "m.json"
    save_model(both, path, "test")
    back = load_model(str(path))
    assert back.weights == both.weights and back.dense is not None
    assert back.dense.weights == dense.weights and back.dense.features == DENSE_FEATURES
    assert [round(back.prob(r), 9) for r in rows] == [round(both.prob(r), 9) for r in rows]


def test_the_shipped_model_has_its_fallback():
    m = load_model()
    assert m.features == FEATURES and m.dense is not None and m.dense.features == DENSE_FEATURES
