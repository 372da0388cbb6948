"""Benchmark `rag batch` against a plain loop calling `rag ask` once per question, in the same run.

Builds an index over the corpus (default ../shared/corpus) in a temporary directory, then answers
the gold questions (default ../shared/eval/gold_dev.jsonl):
  - baseline: `rag ask QUESTION --json` in a loop, one process per question (what a shell script does);
  - `rag batch QUESTIONS --out answers.jsonl` with 1, 2 and 4 workers, and to .xlsx;
  - in-process, without start-up: a plain `Assistant.ask` loop vs the batch engine (`run_batch`).
Prints wall time, questions per second and the ratio to the loop, and checks the answers are identical.

    python bench/bench_batch.py [--corpus ../shared/corpus] [--gold ../shared/eval/gold_dev.jsonl] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RAG = str(Path(sys.executable).parent / "rag")


def _env(work: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return {**env, "RAG_INDEX_DIR": str(work / "index"), "RAG_CACHE_DIR": str(work / "cache"), "TQDM_DISABLE": "1"}


def _run(args: list[str], work: Path) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run([RAG, *args], cwd=work, env=_env(work), capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"rag {' '.join(args[:2])} failed:\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def _comparable(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in ("timings_ms", "id")}


def child_in_process(work: str, questions: str) -> dict:
    """Answering only (models loaded and warm): a plain Assistant.ask loop vs the batch engine."""
    from rag.answer.pipeline import Assistant
    from rag.review.batch import read_questions, run_batch
    from rag.settings import load_settings

    w = Path(work)
    a = Assistant.open(load_settings(index_dir=w / "index", cache_dir=w / "cache"))
    a.ask("预热")  # load the model and jieba before timing either side
    qs = read_questions(Path(questions))
    t = time.perf_counter()
    for q in qs.items:
        a.ask(q.question)
    loop_s = time.perf_counter() - t
    out = {"loop_s": loop_s}
    for workers in (1, 2):
        target = w / f"inproc-{workers}.jsonl"
        t = time.perf_counter()
        run_batch(a, qs, target, workers=workers)
        out[f"batch_w{workers}_s"] = time.perf_counter() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--gold", default=str(ROOT.parent / "shared" / "eval" / "gold_dev.jsonl"))
    ap.add_argument("--json", dest="json_out", default=None)
    ap.add_argument("--child", nargs=2, metavar=("WORK", "QUESTIONS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child_in_process(*args.child)))
        return
    gold = [json.loads(line) for line in Path(args.gold).read_text(encoding="utf-8").splitlines() if line.strip()]
    n = len(gold)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        questions = work / "questions.jsonl"
        questions.write_text(
            "".join(json.dumps({"id": g["id"], "question": g["question"]}, ensure_ascii=False) + "\n" for g in gold),
            encoding="utf-8",
        )
        build_s, _ = _run(["index", args.corpus], work)
        print(f"index built over {args.corpus} in {build_s:.1f} s; {n} questions from {args.gold}", flush=True)

        t = time.perf_counter()
        loop_answers = {}
        for g in gold:
            _, out = _run(["ask", g["question"], "--json"], work)
            loop_answers[g["id"]] = _comparable(json.loads(out))
        loop_s = time.perf_counter() - t
        rows = [("rag ask loop (one process per question)", loop_s, None)]

        for workers, suffix in ((1, "jsonl"), (2, "jsonl"), (4, "jsonl"), (2, "xlsx")):
            out = work / f"answers-w{workers}.{suffix}"
            seconds, stdout = _run(
                ["batch", str(questions), "--out", str(out), "--workers", str(workers), "--json"], work
            )
            summary = json.loads(stdout)
            assert summary["new"] == n and summary["failed"] == 0, summary
            same = None
            if suffix == "jsonl":
                recs = {r["id"]: _comparable(r) for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
                same = sum(recs[i] == loop_answers[i] for i in loop_answers)
            rows.append((f"rag batch --workers {workers} -> .{suffix}", seconds, same))

        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(work), str(questions)],
            capture_output=True,
            text=True,
            env=_env(work),
        )
        if proc.returncode != 0:
            sys.exit(f"in-process phase failed:\n{proc.stderr[-2000:]}")
        inproc = json.loads(proc.stdout.strip().splitlines()[-1])

    print(
        f"\n{'end to end (process start, index load, answers)':48} {'wall s':>8} {'q/s':>8} {'vs loop':>8} {'same answers':>13}"
    )
    for name, seconds, same in rows:
        same_s = "-" if same is None else f"{same}/{n}"
        print(f"{name:48} {seconds:8.2f} {n / seconds:8.2f} {loop_s / seconds:7.1f}x {same_s:>13}")
    print(f"\n{'in process, models warm (answering only)':48} {'wall s':>8} {'q/s':>8} {'vs loop':>8}")
    base = inproc["loop_s"]
    for name, key in (
        ("plain Assistant.ask loop", "loop_s"),
        ("run_batch, 1 worker", "batch_w1_s"),
        ("run_batch, 2 workers", "batch_w2_s"),
    ):
        print(f"{name:48} {inproc[key]:8.2f} {n / inproc[key]:8.2f} {base / inproc[key]:7.2f}x")
    if args.json_out:
        res = {
            "n": n,
            "build_s": build_s,
            "end_to_end": [{"name": r[0], "seconds": r[1], "same_answers": r[2]} for r in rows],
            "in_process": inproc,
        }
        Path(args.json_out).write_text(json.dumps(res, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
