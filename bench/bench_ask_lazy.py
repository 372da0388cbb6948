"""Question latency with lazily embedded sentence vectors against sentence vectors stored at build time.

Builds the same corpus twice in a temporary folder, each with its own empty embedding cache:
``sentence_vectors`` "separate" and "lazy". Then asks every question of a gold file on both, alternating
question by question (so load from other jobs falls on both alike), in this process with the index
opened once, as `rag serve` or the app would; a lazy index's first questions embed their passages'
sentences, later ones find many in the cache. Prints p50 / p95 / max ms per mode, the sentences the
lazy index embedded, and how many answers are word for word the same.

    python bench/bench_ask_lazy.py [--corpus ../shared/corpus] [--gold ../shared/eval/gold_dev.jsonl]
        [--built SEPARATE_DIR LAZY_DIR NAME] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def measure(corpus: Path, gold: Path, built: list[str] | None = None) -> dict:
    """Build both indexes (or open ``built``: separate folder, lazy folder, index name, the lazy one with
    an empty embedding cache), ask every gold question on each, return the timings."""
    from rag.answer.pipeline import Assistant
    from rag.index.store import build_index
    from rag.settings import load_settings

    questions = [json.loads(x)["question"] for x in gold.read_text(encoding="utf-8").splitlines() if x.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-ask-lazy-") as tmp:
        out: dict = {"questions": len(questions)}
        assistants = {}
        for i, mode in enumerate(("separate", "lazy")):
            where = {"index_dir": Path(built[i]), "index": built[2]} if built else {"index_dir": Path(tmp) / mode}
            s = load_settings(**where, cache_dir=Path(tmp) / f"cache-{mode}", sentence_vectors=mode)
            t = time.perf_counter()
            if not built:
                build_index([corpus], s)
            out[f"build_s_{mode}"] = time.perf_counter() - t
            assistants[mode] = Assistant.open(s)
        ms: dict[str, list[float]] = {m: [] for m in assistants}
        texts: dict[str, list[str]] = {m: [] for m in assistants}
        for q in questions:
            for mode, a in assistants.items():
                t = time.perf_counter()
                ans = a.ask(q)
                ms[mode].append((time.perf_counter() - t) * 1000)
                texts[mode].append(ans.answer)
        for mode, xs in ms.items():
            out[mode] = {
                "p50_ms": float(np.percentile(xs, 50)),
                "p95_ms": float(np.percentile(xs, 95)),
                "max_ms": float(max(xs)),
                "first_ms": xs[0],
            }
        lazy = assistants["lazy"].retriever.index.sent_vecs
        out["lazy_sentences_embedded"] = int(getattr(lazy, "embedded", 0))
        out["sentences"] = len(assistants["lazy"].retriever.index.sent_rows)
        out["same_answers"] = sum(a == b for a, b in zip(texts["separate"], texts["lazy"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--gold", default=str(ROOT.parent / "shared" / "eval" / "gold_dev.jsonl"))
    ap.add_argument("--built", nargs=3, metavar=("SEPARATE_DIR", "LAZY_DIR", "NAME"), help="indexes already built")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res = measure(Path(a.corpus), Path(a.gold), a.built)
    if a.json:
        print(json.dumps(res, indent=1))
        return
    print(
        f"{res['questions']} questions; builds: separate {res['build_s_separate']:.1f} s, lazy {res['build_s_lazy']:.1f} s"
    )
    for mode in ("separate", "lazy"):
        r = res[mode]
        print(
            f"{mode:<9} p50 {r['p50_ms']:7.0f} ms  p95 {r['p95_ms']:7.0f} ms  max {r['max_ms']:7.0f} ms  first {r['first_ms']:7.0f} ms"
        )
    print(
        f"lazy: {res['lazy_sentences_embedded']} of {res['sentences']} sentences embedded; "
        f"answers word for word the same: {res['same_answers']}/{res['questions']}"
    )


if __name__ == "__main__":
    main()
