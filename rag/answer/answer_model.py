"""The learned answer model: the probability that a quotable span answers the question, from the
span's evidence features (rag/answer/evidence.py), by logistic regression.

The weights are a small JSON file in the package (rag/data/answer_model.json), trained by
``bench/train_answer_model.py`` on the public suites' training documents; its validation figures
are in eval/NOTES.md. ``RAG_ANSWER_MODEL`` points at another file, e.g. one retrained on your own
gold questions with the same script.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.errors import InvalidInputError

DEFAULT = Path(__file__).resolve().parents[1] / "data" / "answer_model.json"
# fitted on indexes whose passage vectors are pooled from their sentences' (``sentence_vectors`` "pooled"):
# the features of passage similarity and rank differ from whole-passage vectors' (eval/NOTES.md)
POOLED = DEFAULT.with_name("answer_model_pooled.json")


def model_path(explicit: Path | str | None, index_params: dict | None, whole_passages: int = 0) -> str | None:
    """The answer-model file for an index: ``explicit`` (RAG_ANSWER_MODEL) when set, else the pooled model
    when the index's params say its passage vectors are pooled (and that file ships) and the retriever scores
    by them alone (``whole_passages`` 0), else None (the default). With whole-passage vectors for its first
    candidates (RAG_POOLED_WHOLE_PASSAGES > 0) a pooled index scores its hits as a separate one does, and
    the default model answers better there (eval/NOTES.md, "Pooled passage vectors, round 3")."""
    if explicit:
        return str(explicit)
    pooled = (index_params or {}).get("chunking", {}).get("sentence_vectors") == "pooled"
    return str(POOLED) if pooled and not whole_passages and POOLED.is_file() else None


@dataclass(frozen=True)
class AnswerModel:
    """Logistic regression over standardised features, with the refusal threshold it was tuned with."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float  # answer when the best span's probability reaches this
    extra_threshold: float  # a further span is quoted only when its own probability reaches this
    meta: dict
    # binary features that rule a span out (probability 0) wherever they fire, e.g. "asked_unnamed_en";
    # each one's effect on the training documents is recorded in meta["vetoes"]
    vetoes: tuple[str, ...] = ()
    # with vetoes: a span no veto rules out whose log-odds are within this of the likeliest span's (ruled out
    # or not) takes that span's probability, so the question is answered as before and it is quoted instead
    # (None: a ruled-out span is simply dropped)
    veto_margin: float | None = None

    def probability(
        self, x: np.ndarray, names: tuple[str, ...] | None = None, questions: np.ndarray | None = None
    ) -> np.ndarray:
        """P(the span answers) for each row of features; ``names`` are the columns of ``x`` (default:
        the model's own features, in order), of which the model uses those it was trained on; ``questions``
        the question of each row (default: all rows are one question's spans, as the generator asks)."""
        if not len(x):
            return np.zeros(0)
        x = np.asarray(x, dtype=np.float64)
        cols = tuple(names) if names is not None else self.features
        ruled_out = np.zeros(len(x), bool)
        for v in self.vetoes:
            ruled_out |= x[:, cols.index(v)] > 0.5
        if cols != self.features:
            x = x[:, [cols.index(f) for f in self.features]]
        z = np.clip(((x - self.mean) / self.scale) @ self.coef + self.intercept, -40, 40)
        p = np.where(ruled_out, 0.0, 1.0 / (1.0 + np.exp(-z)))
        if self.veto_margin is None or not ruled_out.any():
            return p
        qs = np.zeros(len(x), np.int64) if questions is None else np.asarray(questions)
        for q in np.unique(qs[ruled_out]):
            rows = np.flatnonzero(qs == q)
            top = rows[int(np.argmax(z[rows]))]
            kept = rows[~ruled_out[rows]]
            if not ruled_out[top] or not len(kept):
                continue
            best = kept[int(np.argmax(z[kept]))]
            if z[best] >= z[top] - self.veto_margin:
                p[best] = 1.0 / (1.0 + np.exp(-z[top]))
        return p

    def to_dict(self) -> dict:
        """The JSON form ``load_model`` reads."""
        return {
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "extra_threshold": self.extra_threshold,
            "meta": self.meta,
            **({"vetoes": list(self.vetoes)} if self.vetoes else {}),
            **({"veto_margin": self.veto_margin} if self.veto_margin is not None else {}),
        }


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> AnswerModel:
    """The answer model at ``path`` (default: the one shipped in the package)."""
    p = Path(path) if path else DEFAULT
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
        n = len(d["features"])
        model = AnswerModel(
            tuple(d["features"]),
            np.asarray(d["mean"], float),
            np.asarray(d["scale"], float),
            np.asarray(d["coef"], float),
            float(d["intercept"]),
            float(d["threshold"]),
            float(d.get("extra_threshold", d["threshold"])),
            dict(d.get("meta", {})),
            tuple(d.get("vetoes", ())),
            None if d.get("veto_margin") is None else float(d["veto_margin"]),
        )
        if not (len(model.mean) == len(model.scale) == len(model.coef) == n) or not math.isfinite(model.intercept):
            raise ValueError("sizes")
        if model.veto_margin is not None and not (math.isfinite(model.veto_margin) and model.veto_margin >= 0):
            raise ValueError("veto_margin")
        if any(not isinstance(v, str) for v in model.vetoes):
            raise ValueError("vetoes")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(
            f"cannot read the answer model {p} ({type(exc).__name__}); retrain it with "
            "bench/train_answer_model.py or unset RAG_ANSWER_MODEL"
        ) from None
    return model
