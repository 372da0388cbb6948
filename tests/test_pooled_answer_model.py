"""Indexes whose passage vectors are pooled from their sentences' get the answer model fitted on such
indexes (rag/data/answer_model_pooled.json), chosen from the index's params; RAG_ANSWER_MODEL still wins."""

from __future__ import annotations

import json

import pytest

from rag.answer.answer_model import DEFAULT, POOLED, load_model, model_path
from rag.answer.evidence import FEATURES
from rag.answer.pipeline import Assistant
from rag.index.store import build_index
from rag.settings import load_settings

POOLED_PARAMS = {"chunking": {"size": 400, "sentence_vectors": "pooled", "pooling": "mean"}}


def test_the_pooled_model_ships_fitted_on_pooled_indexes():
    m = load_model(str(POOLED))
    assert m.meta["sentence_vectors"] == "pooled"
    assert 0.0 < m.threshold < 1.0 and len(m.coef) == len(m.features)
    # the evidence stage computes every feature the model weighs (it reads them by name)
    assert set(m.features) <= set(FEATURES)
    assert m.to_dict() != load_model(str(DEFAULT)).to_dict()


def test_the_model_follows_the_index_params(tmp_path):
    mine = tmp_path / "mine.json"
    assert model_path(None, POOLED_PARAMS) == str(POOLED)
    # a pooled index whose first candidates get whole-passage vectors scores like a separate one
    assert model_path(None, POOLED_PARAMS, 15) is None
    assert model_path(None, {"chunking": {"size": 400}}) is None  # whole-passage vectors: the default model
    assert model_path(None, {"chunking": {"sentence_vectors": "lazy"}}) is None
    assert model_path(None, None) is None
    assert model_path(mine, POOLED_PARAMS) == str(mine)  # RAG_ANSWER_MODEL wins


@pytest.mark.slow  # builds an index
def test_an_assistant_on_a_pooled_index_answers_with_the_pooled_model(tmp_path, fixture_corpus):
    s = load_settings(
        index_dir=tmp_path / "i", cache_dir=tmp_path / "c", sentence_vectors="pooled", pooled_whole_passages=0
    )
    build_index([fixture_corpus], s)
    assert json.loads((s.index_path / "params.json").read_text("utf-8"))["chunking"]["sentence_vectors"] == "pooled"
    a = Assistant.open(s)
    assert a.generator.model is load_model(str(POOLED))
    assert a.generator.threshold == load_model(str(POOLED)).threshold
    # the same index opened with the model named in the settings uses that one
    b = Assistant.open(s.model_copy(update={"answer_model": DEFAULT}))
    assert b.generator.model is load_model(str(DEFAULT))
    # with whole-passage vectors for the first candidates (the default), the default model
    c = Assistant.open(s.model_copy(update={"pooled_whole_passages": 15}))
    assert c.generator.model is load_model(None)
