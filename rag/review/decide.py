"""Whether a paper discusses a review question: a small logistic model over scale-free evidence (how far
the paper's best sentences stand above the reviewed sentences, how far below the best paper, how many of
the topic's terms the paper uses), fitted on review gold split by document (`eval/review/fit.py`) and
shipped as data; the nearest sentence is always kept so the scholar can check a "not discussed"."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.review.extract import Scored

MODEL = Path(__file__).resolve().parent.parent / "data" / "review_model.json"
# what the model reads (features() also reports top, dense_top, share, missing and lexical for diagnosis: with
# them the model fitted on one gold set transferred worse to the other, eval/NOTES.md)
FEATURES = ("gap", "null_z", "lex_best", "unmatched")
# when no reviewed paper uses any of the question's terms (a Chinese question over English papers), the term
# feature is 0 everywhere and says nothing: a second model over the dense evidence alone decides
DENSE_FEATURES = ("gap", "null_z")
# a paper in another language than the question's has its best term share read relative to the best paper's
# (eval/NOTES.md, review round 5)
RELATIVE_LEX = True


def features(
    s: Scored, best_top: float, null: tuple[float, float] = (0.0, 1.0), best_lex: float = 0.0
) -> dict[str, float]:
    """The evidence one paper offers for a question (``best_top``: the best paper's ``top``; ``null``: the
    mean and spread of the paper's dense top under off-topic questions in the question's language;
    ``best_lex``: the best ``lex_best`` of the reviewed papers in another language than the question's, which
    such a paper is measured against)."""
    use = s.sents.usable if s.sents.usable.any() else np.ones(len(s.z), dtype=bool)
    z = s.z[use]
    if not len(z):
        return {
            "top": -3.0,
            "gap": -3.0,
            "dense_top": -1.0,
            "null_z": -3.0,
            "lex_best": 0.0,
            "share": 0.0,
            "missing": 1.0,
            "lexical": 0.0,
            "unmatched": 0.0,
        }
    k = min(3, len(z))
    top = float(np.sort(z)[-k:].mean())
    lexical = s.library_terms > 0  # some paper uses the topic's words: their absence here means something
    lex_best = float(s.lexical.max()) if len(s.lexical) else 0.0
    if RELATIVE_LEX and s.own_lang < 0.5 and best_lex > 0:
        # across languages the topic's words are dictionary translations, some of which miss in every paper:
        # the share is read against what the best paper reaches, as ``unmatched`` is not read at all
        lex_best = lex_best / best_lex
    return {
        "top": top,
        "gap": top - best_top,
        # cosine above the question's baseline, not standardised: whether anything in the library is close
        "dense_top": float(np.sort(s.dense[use])[-k:].mean()),
        # the same against off-topic questions: how unusual this closeness is for this paper and language
        "null_z": (float(np.sort(s.dense[use])[-k:].mean()) - null[0]) / null[1],
        "lex_best": lex_best,
        "share": float(np.mean(z > 1.0)),  # share of the paper's sentences clearly about the topic
        "missing": (1.0 - s.terms) if lexical else 0.0,  # the topic's words the paper never uses
        "lexical": float(lexical),
        # the topic's terms no reviewed paper uses — read only where the papers are written in the question's
        # language (across languages a missing term is mostly a dictionary translation that missed)
        "unmatched": (1.0 - s.library_terms) if lexical and s.own_lang >= 0.5 else 0.0,
    }


def paper_lex(s: Scored) -> float:
    """The largest share of the topic's terms one sentence of the paper holds."""
    return float(s.lexical.max()) if len(s.lexical) else 0.0


def cross_lex(scored: list[Scored]) -> float:
    """The best ``paper_lex`` among the papers in another language than the question's: what such a paper is
    measured against (the same dictionary translations miss in all of them, while a paper in the question's
    own language holds its words as written)."""
    return max((paper_lex(s) for s in scored if s.own_lang < 0.5), default=0.0)


def paper_top(s: Scored) -> float:
    """Mean z of a paper's three best usable sentences."""
    z = s.z[s.sents.usable] if s.sents.usable.any() else s.z
    return float(np.sort(z)[-min(3, len(z)) :].mean()) if len(z) else -3.0


@dataclass(frozen=True)
class Model:
    """Logistic weights over ``features`` (and the probability above which a paper counts as discussing);
    ``dense``: the model used when the question's terms occur in no reviewed paper."""

    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5
    features: tuple[str, ...] = FEATURES
    dense: Model | None = None

    def prob(self, f: dict[str, float]) -> float:
        """Probability that the paper discusses the question."""
        if self.dense is not None and not f.get("lexical", 1.0):
            return self.dense.prob(f)
        x = self.bias + sum(w * f[n] for w, n in zip(self.weights, self.features))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


def _model(d: dict, features: tuple[str, ...]) -> Model:
    return Model(
        tuple(float(d["weights"][n]) for n in features), float(d["bias"]), float(d.get("threshold", 0.5)), features
    )


@lru_cache(maxsize=1)
def load_model(path: str = str(MODEL)) -> Model:
    """The shipped model (rag/data/review_model.json), with its dense-only fallback when it has one."""
    d = json.loads(Path(path).read_text("utf-8"))
    main = _model(d, FEATURES)
    return replace(main, dense=_model(d["dense"], DENSE_FEATURES)) if d.get("dense") else main


def load_fallback(path: str = str(MODEL)) -> Model | None:
    """The shipped dense-only fallback alone (whatever features the main model of that file reads)."""
    d = json.loads(Path(path).read_text("utf-8"))
    return _model(d["dense"], DENSE_FEATURES) if d.get("dense") else None


def fit(
    rows: list[dict[str, float]],
    labels: list[int],
    l2: float = 1.0,
    steps: int = 3000,
    features: tuple[str, ...] = FEATURES,
) -> Model:
    """Logistic regression by gradient descent on standardised features (L2-penalised, class-balanced), the
    weights mapped back to raw features."""
    x = np.array([[r[n] for n in features] for r in rows], dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    mu, sd = x.mean(0), x.std(0)
    sd[sd == 0] = 1.0
    xs = (x - mu) / sd
    pos = max(y.mean(), 1e-9)
    sw = np.where(y == 1, 0.5 / pos, 0.5 / max(1 - pos, 1e-9))  # both classes weigh the same
    w = np.zeros(x.shape[1])
    b = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xs @ w + b)))
        g = sw * (p - y)
        w -= 0.1 * (xs.T @ g / len(y) + l2 * w / len(y))
        b -= 0.1 * g.mean()
    raw_w = w / sd
    raw_b = b - float((w * mu / sd).sum())
    return Model(tuple(float(v) for v in raw_w), float(raw_b), features=features)


def _as_dict(model: Model) -> dict:
    return {"weights": dict(zip(model.features, model.weights)), "bias": model.bias, "threshold": model.threshold}


def save_model(model: Model, path: Path, note: str) -> None:
    """Write a fitted model (and its dense-only fallback) as the JSON ``load_model`` reads."""
    d = _as_dict(model) | ({"dense": _as_dict(model.dense)} if model.dense is not None else {}) | {"note": note}
    path.write_text(json.dumps(d, indent=1) + "\n", "utf-8")
