"""Benchmark `rag serve`: 20 concurrent streamed chat completions through the `openai` client, time to
the first answer token p50/p95 and whether all were answered, next to baselines measured in the same run:
the same questions answered one after another in process (``Assistant.ask``) and sent to the server one
at a time (each streamed request alone).

It (re)builds the index if needed (default: ../shared/corpus into index/), starts `rag serve` as its own
process on 127.0.0.1 and times the gold questions (the first N of ../shared/eval/gold_dev.jsonl).

    nice -n 5 python bench/bench_serve.py [--corpus ../shared/corpus] [--n 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pct(xs: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) in milliseconds."""
    xs = sorted(xs)
    return 1000 * xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def stats(first: list[float], full: list[float], wall: float, answered: int, abstained: int) -> dict:
    """Percentiles of first-token and whole-answer times, wall time, answer counts."""
    return {
        "first_p50_ms": 1000 * statistics.median(first),
        "first_p95_ms": pct(first, 0.95),
        "full_p50_ms": 1000 * statistics.median(full),
        "full_p95_ms": pct(full, 0.95),
        "wall_s": wall,
        "answered": answered,
        "abstained": abstained,
        "n": len(full),
    }


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_process(assistant, questions: list[str]) -> dict:
    """Baseline: the questions answered one after another by ``Assistant.ask`` (no streaming: first = full)."""
    times, abstained = [], 0
    t0 = time.perf_counter()
    for q in questions:
        t = time.perf_counter()
        abstained += assistant.ask(q).abstained
        times.append(time.perf_counter() - t)
    return stats(times, times, time.perf_counter() - t0, len(questions), abstained)


def streamed(client, model: str, q: str) -> tuple[float, float, bool, bool]:
    """One streamed completion: seconds to the first answer text, to the end; answered; abstained."""
    t0 = time.perf_counter()
    first = None
    record = None
    for chunk in client.chat.completions.create(model=model, messages=[{"role": "user", "content": q}], stream=True):
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - t0
        record = getattr(chunk, "rag", None) or record
    full = time.perf_counter() - t0
    return (first if first is not None else full), full, record is not None, bool(record and record["abstained"])


def over_http(client, model: str, questions: list[str], workers: int) -> dict:
    """The questions as streamed completions, ``workers`` at a time."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda q: streamed(client, model, q), questions))
    wall = time.perf_counter() - t0
    return stats(
        [r[0] for r in results],
        [r[1] for r in results],
        wall,
        sum(r[2] for r in results),
        sum(r[3] for r in results),
    )


def main() -> None:
    """Build or reuse the index, start `rag serve`, time the baselines and the concurrent run, print a table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--gold", default=str(ROOT.parent / "shared" / "eval" / "gold_dev.jsonl"))
    ap.add_argument("--index-dir", default=str(ROOT / "index"), help="where the index lives (built if missing)")
    ap.add_argument("--n", type=int, default=20, help="concurrent streamed requests (and questions)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()

    import openai

    from rag.answer.pipeline import Assistant
    from rag.index.store import build_index
    from rag.service import model_name
    from rag.settings import load_settings

    settings = load_settings(index_dir=Path(args.index_dir))
    report = build_index([args.corpus], settings)
    print(f"index {settings.index_path}: {report.documents} documents, {report.chunks} passages")
    with open(args.gold, encoding="utf-8") as fh:
        gold = [json.loads(line)["question"] for line in fh if line.strip()]
    questions = [gold[i % len(gold)] for i in range(args.n)]

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {"RAG_INDEX_DIR": str(args.index_dir)}
    rag = Path(sys.executable).parent / "rag"
    t0 = time.perf_counter()
    server = subprocess.Popen(
        [str(rag), "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0, timeout=600)
    try:
        while True:
            if server.poll() is not None:
                sys.exit(f"rag serve exited: {server.stderr.read() if server.stderr else ''}")
            try:
                client.models.list()
                break
            except openai.APIConnectionError:
                time.sleep(0.3)
        startup = time.perf_counter() - t0
        model = model_name(settings)
        assistant = Assistant.open(settings)
        assistant.ask("warm up 预热", k=1)
        rows = {
            "in process, one after another (Assistant.ask)": in_process(assistant, questions),
            "over HTTP, one streamed request at a time": over_http(client, model, questions, 1),
            f"over HTTP, {args.n} concurrent streamed requests": over_http(client, model, questions, args.n),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)

    base = next(iter(rows.values()))
    print(
        f"rag serve start-up (index + models loaded, warm-up): {startup:.1f} s; {args.n} gold questions; "
        f"server answers {settings.serve.concurrency} at once; {os.cpu_count()} CPU cores"
    )
    print()
    print(
        "| run | first token p50 | p95 | whole answer p50 | p95 | wall, all | answered | "
        "p50 / in-process | p95 / in-process | wall / in-process |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, s in rows.items():
        print(
            f"| {name} | {s['first_p50_ms']:.0f} ms | {s['first_p95_ms']:.0f} ms | {s['full_p50_ms']:.0f} ms | "
            f"{s['full_p95_ms']:.0f} ms | {s['wall_s']:.2f} s | {s['answered']}/{s['n']} "
            f"({s['abstained']} refusals) | {s['first_p50_ms'] / base['first_p50_ms']:.2f}x | "
            f"{s['first_p95_ms'] / base['first_p95_ms']:.2f}x | {s['wall_s'] / base['wall_s']:.2f}x |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"startup_s": startup, "rows": rows}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
