"""Fusing the retrievers' scores of the candidate passages into one ranking (reciprocal rank fusion, or
min-max weighted), per ``Settings.fusion``; ``rag.answer.retrieval`` gathers the scores."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rag.settings import Settings


@dataclass(frozen=True)
class CandidateScores:
    """Per-chunk scores before fusion."""

    dense: dict[int, float]
    bm25: dict[int, float]
    best_sentence: dict[int, int]  # chunk -> index of its best-matching sentence (dense)
    translated: dict[int, float] = field(default_factory=dict)  # BM25 of the dictionary-translated query
    calibrated: dict[int, float] = field(default_factory=dict)  # dense minus the query's baseline in that language


def _ranks(scores: dict[int, float]) -> dict[int, int]:
    return {i: r for r, i in enumerate(sorted(scores, key=lambda i: -scores[i]), start=1)}


def _minmax(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    return {i: (s - lo) / (hi - lo) if hi > lo else 1.0 for i, s in scores.items()}


def rrf(rankings: Iterable[tuple[dict[int, int], float]], rrf_k: int) -> dict[int, float]:
    """Reciprocal rank fusion: each passage scores the sum over the rankings (passage -> rank, weight)
    that hold it of ``weight / (rrf_k + rank)``."""
    out: dict[int, float] = {}
    for ranks, w in rankings:
        for i, r in ranks.items():
            out[i] = out.get(i, 0.0) + w / (rrf_k + r)
    return out


def fuse(
    sc: CandidateScores,
    settings: Settings,
    own_share: float = 1.0,
    own: Callable[[int], bool] | None = None,
    floor: float = 0.0,
) -> dict[int, float]:
    """Combine dense and BM25 scores into one score per chunk (method from settings).

    ``own_share`` is the share of the corpus written in the question's language: plain BM25 can only
    match that part and the dictionary-translated query only the rest, so RRF weighs them by it. With
    ``language_fusion = "passage"`` and ``own`` (whether a passage is in the question's language), the
    plain BM25 ranking holds only the question's-language passages and the translated one only the
    others, each at its full weight: a passage is not ranked by a query in a language it is not written in.
    """
    if settings.retrieval.fusion == "dense":
        return dict(sc.dense)
    if settings.retrieval.fusion == "bm25":
        return dict(sc.bm25)
    if settings.retrieval.fusion == "rrf":
        if settings.retrieval.language_fusion == "passage" and own is not None:
            plain = (_ranks({i: s for i, s in sc.bm25.items() if own(i)}), settings.retrieval.bm25_weight)
            other = (
                _ranks({i: s for i, s in sc.translated.items() if not own(i)}),
                settings.retrieval.translated_weight,
            )
        else:
            plain = (_ranks(sc.bm25), settings.retrieval.bm25_weight * own_share)
            other = (_ranks(sc.translated), settings.retrieval.translated_weight * max(1 - own_share, floor))
        out = rrf([(_ranks(sc.dense), settings.retrieval.dense_weight), plain, other], settings.retrieval.rrf_k)
        # ranks hide how decisive the dense match is; a calibrated margin term keeps that
        for i, m in sc.calibrated.items():
            out[i] = out.get(i, 0.0) + settings.retrieval.dense_margin_weight * m
        return out
    dn, bn = _minmax(sc.dense), _minmax(sc.bm25)
    return {
        i: settings.retrieval.dense_weight * dn.get(i, 0.0) + settings.retrieval.bm25_weight * bn.get(i, 0.0)
        for i in set(dn) | set(bn)
    }
