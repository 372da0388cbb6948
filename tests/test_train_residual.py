"""bench/train_answer_model.py --residual: further features fitted on the shipped model's log-odds keep
that model's weights, threshold and vetoes (a residual fit once dropped the slot veto)."""

from __future__ import annotations

import importlib.util
import json
from argparse import Namespace
from pathlib import Path

import numpy as np

from rag.answer.answer_model import DEFAULT, load_model
from rag.answer.evidence import FEATURES

ROOT = Path(__file__).resolve().parents[1]


def _trainer():
    spec = importlib.util.spec_from_file_location("train_answer_model", ROOT / "bench" / "train_answer_model.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_residual_fit_keeps_the_base_model_and_its_vetoes(tmp_path, capsys):
    train = _trainer()
    out = tmp_path / "model.json"
    out.write_text(DEFAULT.read_text(encoding="utf-8"), encoding="utf-8")
    base = load_model(str(out))
    assert base.vetoes == ("slot_unaligned",) and base.veto_margin is not None
    new = next(f for f in FEATURES if f not in base.features and f not in base.vetoes)
    # 60 questions of 4 spans over 20 documents; the right span is the one where the new feature fires
    rng = np.random.default_rng(0)
    n_q, per = 60, 4
    X = rng.normal(0.0, 1.0, (n_q * per, len(FEATURES))).astype(np.float32)
    X[:, FEATURES.index("slot_unaligned")] = 0.0
    X[:, FEATURES.index(new)] = 0.0
    right = np.arange(n_q) * per + rng.integers(0, per, n_q)
    X[right, FEATURES.index(new)] = 1.0
    y = np.zeros(n_q * per, bool)
    y[right] = True
    meta = [
        {"id": f"q{i}", "answerable": True, "group": f"doc{i % 20}", "lang": "en", "n_groups": 1} for i in range(n_q)
    ]
    data = {"cmrc2018": {"X": X, "y": y, "q": np.repeat(np.arange(n_q), per), "meta": meta}}
    train.residual(data, Namespace(out=out, train=["cmrc2018"], residual=[new], c=0.3, sentence_vectors="separate"))
    assert "residual weights" in capsys.readouterr().out
    load_model.cache_clear()  # the same path: read the file again
    fitted = load_model(str(out))
    k = len(base.features)
    assert fitted.features == (*base.features, new) and fitted.coef[k] > 0
    assert fitted.coef[:k].tolist() == base.coef.tolist() and fitted.threshold == base.threshold
    assert fitted.vetoes == base.vetoes and fitted.veto_margin == base.veto_margin
    assert json.loads(out.read_text(encoding="utf-8"))["meta"]["residual"]["features"] == [new]
    # the veto still rules a span out wherever it fires
    x = np.zeros((2, len(FEATURES)), np.float32)
    x[1, FEATURES.index("slot_unaligned")] = 1.0
    x[1, FEATURES.index("dense")] = 5.0
    p = fitted.probability(x, FEATURES)
    assert p[0] > 0.0 and p[1] == 0.0
