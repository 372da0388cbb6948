"""Benchmark the browser app on a corpus (default ../shared/corpus): warm time to the first streamed
answer token, next to the non-streamed full-answer time measured in the same run.

It (re)builds the index if needed, starts the real app server, then for each gold question measures
  - in process: first streamed piece of ``AppService.stream`` vs the full ``Assistant.ask``;
  - over HTTP (gradio_client, fresh session per question): first streamed token on the chat endpoint
    vs the whole streamed answer vs the non-streamed ``/ask`` API call;
  - in the browser (headless Chromium, if installed): Enter pressed -> first answer text on screen;
  - 20 concurrent ``/ask`` requests: wall time and per-request p50/p95.
With ``--screenshot PATH`` it also saves a screenshot of an answered follow-up with a citation clicked.

    python bench/bench_app.py [--corpus ../shared/corpus] [--n 30] [--screenshot eval/app_screenshot.png] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # helpers: the browser's flags and a free port, as the tests use them
from helpers import CHROMIUM, free_port  # noqa: E402
from helpers import CHROMIUM_ARGS as ARGS  # noqa: E402

TARGET_S = 0.5


def stats(xs: list[float]) -> dict:
    """p50 / p95 / max in milliseconds."""
    xs = sorted(xs)
    return {
        "n": len(xs),
        "p50_ms": 1000 * statistics.median(xs),
        "p95_ms": 1000 * xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))],
        "max_ms": 1000 * xs[-1],
    }


def in_process(service, questions: list[str]) -> dict:
    first, full = [], []
    for q in questions:
        t0 = time.perf_counter()
        for _piece in service.chat(q):
            first.append(time.perf_counter() - t0)
            break
        t0 = time.perf_counter()
        service.assistant.ask(q)
        full.append(time.perf_counter() - t0)
    return {"first_piece": stats(first), "full_ask": stats(full)}


def _reply(chat) -> str:
    content = chat[-1]["content"] if chat else ""
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def over_http(url: str, questions: list[str]) -> dict:
    from gradio_client import Client

    first, streamed, api = [], [], []
    for q in questions:
        client = Client(url, verbose=False)  # a fresh session: no follow-up rewriting between gold questions
        t0 = time.perf_counter()
        job = client.submit(q, 5, [], False, api_name="/chat")
        t_first = None
        for out in job:
            chat = out[0] if isinstance(out, (list, tuple)) else None
            if t_first is None and isinstance(chat, list) and len(chat) >= 2 and _reply(chat) not in ("", "…"):
                t_first = time.perf_counter() - t0
        job.result()
        streamed.append(time.perf_counter() - t0)
        first.append(t_first if t_first is not None else streamed[-1])
        t0 = time.perf_counter()
        client.predict(q, api_name="/ask")
        api.append(time.perf_counter() - t0)
    return {"first_token": stats(first), "streamed_full": stats(streamed), "ask_api_full": stats(api)}


def concurrent(url: str, questions: list[str], n: int = 20) -> dict:
    from gradio_client import Client

    clients = [Client(url, verbose=False) for _ in range(n)]

    def one(i: int) -> float:
        t0 = time.perf_counter()
        clients[i].predict(questions[i % len(questions)], api_name="/ask")
        return time.perf_counter() - t0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        each = list(pool.map(one, range(n)))
    return {"requests": n, "wall_s": time.perf_counter() - t0, "per_request": stats(each)}


FIRST_TEXT = """(n) => { const b = document.querySelectorAll('#chat [data-testid=bot]');
    if (b.length < n) return false; const t = b[n - 1].innerText.trim(); return t.length > 1 && t !== '…'; }"""


def _ask(page, q: str, turn: int) -> float:
    """Type a question, press Enter; seconds until the first answer text is on screen."""
    page.fill("#question textarea", q)
    t0 = time.perf_counter()
    page.press("#question textarea", "Enter")
    page.wait_for_function(FIRST_TEXT, arg=turn + 1, polling="raf", timeout=60000)
    took = time.perf_counter() - t0
    page.wait_for_selector(f".rag-sources section#turn-{turn}", state="attached", timeout=60000)
    return took


def in_browser(url: str, questions: list[str], screenshot: str | None, shot_questions: list[str]) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="bench-chromium-"),
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        page = ctx.new_page()
        page.goto(url)
        page.wait_for_selector("#question textarea")
        for turn, q in enumerate(shot_questions):  # warm-up, and the screenshot's conversation
            _ask(page, q, turn)
        if screenshot:
            page.locator("#chat [data-testid=bot]").last.locator("a.cite").first.click()
            page.wait_for_selector(".rag-sources .passage.active")
            time.sleep(0.5)
            page.screenshot(path=screenshot)
        page.click("#new-conversation")
        page.wait_for_function("document.querySelectorAll('#chat [data-testid=bot]').length === 0")
        first = [_ask(page, q, turn) for turn, q in enumerate(questions)]
        ctx.close()
    return {"first_token_on_screen": stats(first)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--gold", default=str(ROOT.parent / "shared" / "eval" / "gold_dev.jsonl"))
    ap.add_argument("--index-dir", default=str(ROOT / "index"), help="where the index lives (built if missing)")
    ap.add_argument("--n", type=int, default=30, help="gold questions to time")
    ap.add_argument("--screenshot", help="save a screenshot of an answered question here (PNG)")
    ap.add_argument("--no-browser", action="store_true", help="skip the in-browser measurement")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()

    from app.ui import launch_app
    from rag.index.store import build_index
    from rag.settings import load_settings

    settings = load_settings(index_dir=Path(args.index_dir))
    t0 = time.perf_counter()
    report = build_index([args.corpus], settings)
    print(
        f"index {settings.index_path}: {report.documents} documents, {report.chunks} passages "
        f"({'up to date' if report.up_to_date else 'built'} in {time.perf_counter() - t0:.1f} s)"
    )
    with open(args.gold, encoding="utf-8") as fh:
        questions = [json.loads(line)["question"] for line in fh if line.strip()][: args.n]

    t0 = time.perf_counter()
    demo, url = launch_app(settings, port=free_port(), block=False)
    startup = time.perf_counter() - t0
    service = demo.rag_service
    results: dict = {"startup_s": startup, "questions": len(questions), "load_avg": os.getloadavg()}
    try:
        over_http(url, questions[:2])  # warm the HTTP path (first requests set up threads and sessions)
        results["in_process"] = in_process(service, questions)
        results["http"] = over_http(url, questions)
        results["concurrent"] = concurrent(url, questions)
        browser = Path(CHROMIUM).exists() and not args.no_browser
        if browser or args.screenshot:
            results["browser"] = in_browser(
                url, questions[:10], args.screenshot, ["世界互联网大会国际组织总部设在哪里？", "它是哪一年成立的？"]
            )
    finally:
        demo.close()

    def row(name: str, s: dict) -> str:
        return f"  {name:46} p50 {s['p50_ms']:7.1f} ms   p95 {s['p95_ms']:7.1f} ms   max {s['max_ms']:7.1f} ms"

    print(
        f"app startup (index + embedder load, warm-up): {startup:.2f} s; {len(questions)} gold questions; "
        f"load average {results['load_avg'][0]:.2f}"
    )
    print("in process")
    print(row("first streamed piece (AppService.stream)", results["in_process"]["first_piece"]))
    print(row("baseline: full answer, not streamed (ask)", results["in_process"]["full_ask"]))
    print("over HTTP (gradio_client)")
    print(row("first streamed token (/chat)", results["http"]["first_token"]))
    print(row("whole streamed answer (/chat)", results["http"]["streamed_full"]))
    print(row("baseline: full answer, not streamed (/ask)", results["http"]["ask_api_full"]))
    if "browser" in results:
        print("in the browser (headless Chromium)")
        print(row("Enter -> first answer text on screen", results["browser"]["first_token_on_screen"]))
    c = results["concurrent"]
    print(
        f"20 concurrent /ask requests: all answered in {c['wall_s']:.2f} s wall; "
        f"per request p50 {c['per_request']['p50_ms']:.0f} ms, p95 {c['per_request']['p95_ms']:.0f} ms"
    )
    ttft = results["http"]["first_token"]["p50_ms"] / 1000
    print(
        f"target: warm first streamed token < {TARGET_S} s -> p50 {ttft:.3f} s over HTTP: "
        f"{'met' if ttft < TARGET_S else 'NOT met'}"
    )
    if args.screenshot:
        print(f"screenshot: {args.screenshot}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
