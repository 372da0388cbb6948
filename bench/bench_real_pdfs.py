"""The real-PDF suite (eval/real_pdfs) measured end to end: what `rag eval` reports plus what it does not.

Steps, each timed, in a fresh temporary index folder with an empty embedding cache:

1. ``rag index`` of the text PDFs alone (every PDF whose pages carry a text layer), cold: text pages/s
   of wall time, and per CPU second of the build and its workers (the machine is shared: the 1-minute
   load average is printed with it), and the lines the build wrote to stderr (library noise).
2. ``rag index`` of the whole corpus into a second index, sharing the embedding cache of step 1, so its
   extra time is mostly the scanned pages (OCR): seconds per scanned page, an upper bound.
3. On the whole-corpus index: parse coverage (gold quotes found verbatim, after NFKC and whitespace
   removal as `rag eval` matches them, in a passage of their document), titles right (docs.json title
   against titles.jsonl), the `rag eval` metrics of the gold (answered precision, refusals, evidence in
   the top 5), cited page right (of the answered questions whose cited passages hold the gold quote,
   the share whose passage's page is the gold page) and answered-right by direction of language.

    python bench/bench_real_pdfs.py [--json] [--keep DIR]

Nothing is written to the repository; the figures go to stdout (eval/NOTES.md quotes them).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "eval" / "real_pdfs"
MIN_TEXT_CHARS = 20  # as eval/real_pdfs/check_gold.py: a page with less text is an image


def _pages(pdf: Path) -> tuple[int, int]:
    """(pages, pages with a text layer) of a PDF."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf))
    try:
        n = len(doc)
        text = sum(len("".join(doc[i].get_textpage().get_text_range().split())) >= MIN_TEXT_CHARS for i in range(n))
    finally:
        doc.close()
    return n, text


def _index(paths: list[Path], index_dir: Path, cache_dir: Path, name: str) -> dict:
    """Run ``rag index`` as a user would; its JSON report, wall seconds and stderr lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_INDEX_DIR=str(index_dir), RAG_CACHE_DIR=str(cache_dir))
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "rag.cli.commands", "index", *map(str, paths), "--index", name, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the build and its workers, once waited for
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"rag index failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    noise = [line for line in proc.stderr.splitlines() if line.strip()]
    return {
        "report": json.loads(proc.stdout),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "load": max(load, os.getloadavg()[0]),
        "stderr_lines": len(noise),
        "stderr_head": noise[:3],
    }


def _squash(s: str) -> str:
    return "".join(unicodedata.normalize("NFKC", s).split())


def _title_key(s: str) -> str:
    """A title compared as a reader compares it: NFKC, radicals mapped, case, spaces and punctuation ignored."""
    sys.path.insert(0, str(SUITE))
    from check_gold import norm

    return re.sub(r"[\W_]+", "", norm(s))


def _page_right(chunk_page: str, page: int) -> bool:
    """Whether a passage printed on ``chunk_page`` ("12" or "12-13") includes gold ``page``."""
    if not chunk_page:
        return False
    a, _, b = chunk_page.partition("-")
    return int(a) <= page <= int(b or a)


def measure(work: Path) -> dict:
    """Every figure of the module docstring, from a cold start in ``work``."""
    from rag.answer.pipeline import Assistant
    from rag.eval.evaluation import evaluate, supports
    from rag.eval.gold import load_gold
    from rag.settings import load_settings

    corpus = SUITE / "corpus"
    pdfs = sorted(corpus.glob("*.pdf"))
    counts = {p.name: _pages(p) for p in pdfs}
    text_pdfs = [p for p in pdfs if counts[p.name][1] == counts[p.name][0]]
    scan_pages = sum(n - t for n, t in counts.values())
    text_dir = work / "text_pdfs"
    text_dir.mkdir()
    for p in text_pdfs:
        shutil.copy2(p, text_dir / p.name)
    cache = work / "cache"
    text_build = _index([text_dir], work / "idx", cache, "text")
    text_pages = sum(counts[p.name][0] for p in text_pdfs)
    full_build = _index([corpus], work / "idx", cache, "full")

    settings = load_settings(index_dir=work / "idx", cache_dir=cache, index="full")
    assistant = Assistant.open(settings)
    index = assistant.retriever.index
    gold_rows = [json.loads(x) for x in (SUITE / "gold.jsonl").read_text(encoding="utf-8").splitlines() if x]

    # parse coverage: every gold quote in some passage of its document
    passages: dict[str, list[str]] = {}
    for ch in index.chunks:
        passages.setdefault(Path(ch.doc_id).name, []).append(_squash(ch.text))
    quotes = [(e["doc"], e["quote"]) for r in gold_rows for e in r["evidence"]]
    found = [(d, q) for d, q in quotes if any(_squash(q) in p for p in passages.get(d, []))]
    scan_quotes = [x for x in quotes if x[0].startswith("scan_")]

    # titles: docs.json against titles.jsonl
    titles = [json.loads(x) for x in (SUITE / "titles.jsonl").read_text(encoding="utf-8").splitlines() if x]
    by_name = {Path(info.path).name: info for info in index.docs.values()}
    title_rows = []
    for t in titles:
        info = by_name.get(t["doc"])
        got = info.title if info else ""
        title_rows.append(
            {
                "doc": t["doc"],
                "right": bool(got) and _title_key(got) == _title_key(t["title"]),
                "index_title": got[:100],
                "author_right": (
                    None
                    if "first_author" not in t
                    else bool(info and info.authors and _title_key(info.authors[0]) == _title_key(t["first_author"]))
                ),
            }
        )

    # the rag eval metrics, and the answers' cited pages
    gold = load_gold(SUITE / "gold.jsonl")
    report = evaluate(assistant, gold, k=settings.retrieval.top_k)
    summary = report["summary"]["overall"]
    page_checked = page_right = 0
    by_dir: dict[str, list[bool]] = {}
    rows = {r["id"]: r for r in report["questions"]}
    for g, raw in zip(gold, gold_rows):
        if not g.answerable:
            continue
        doc_lang = "zh" if g.evidence[0].doc.startswith(("zh_", "scan_zh")) else "en"
        row = rows[g.id]
        right = not row["abstained"] and row["key_fact_coverage"] == 1
        by_dir.setdefault(f"{g.lang}->{doc_lang}", []).append(right)
        if row["abstained"]:
            continue
        answer = assistant.ask(g.question)
        for c in answer.citations:
            held = [e for e in raw["evidence"] if supports(c.text, e["quote"])]
            if held:
                page_checked += 1
                page_right += any(_page_right(c.page, e["page"]) for e in held)
    return {
        "pdfs": len(pdfs),
        "pages": sum(n for n, _ in counts.values()),
        "text_pdfs": len(text_pdfs),
        "text_pages": text_pages,
        "scan_pages": scan_pages,
        "text_build_seconds": round(text_build["seconds"], 1),
        "text_pages_per_second": round(text_pages / text_build["seconds"], 2),
        "text_build_cpu_seconds": round(text_build["cpu_seconds"], 1),
        "text_pages_per_cpu_second": round(text_pages / text_build["cpu_seconds"], 2),
        "load_average_1min": round(text_build["load"], 1),
        "text_build_passages": text_build["report"].get("chunks"),
        "text_build_stderr_lines": text_build["stderr_lines"],
        "text_build_stderr_head": text_build["stderr_head"],
        "full_build_seconds": round(full_build["seconds"], 1),
        "seconds_per_scan_page_upper_bound": round(full_build["seconds"] / max(scan_pages, 1), 1),
        "full_build_stderr_lines": full_build["stderr_lines"],
        "parse_coverage": f"{len(found)}/{len(quotes)}",
        "parse_coverage_scans": f"{sum(1 for x in found if x[0].startswith('scan_'))}/{len(scan_quotes)}",
        "quotes_not_found": [f"{d}: {q}" for d, q in quotes if (d, q) not in found],
        "titles_right": f"{sum(r['right'] for r in title_rows)}/{len(title_rows)}",
        "first_authors_right": f"{sum(bool(r['author_right']) for r in title_rows)}/"
        f"{sum(r['author_right'] is not None for r in title_rows)}",
        "titles": title_rows,
        "answered_precision": summary.get("answered_precision"),
        "unanswerable_refused": summary.get("correct_refusal_rate"),
        "answerable_refused": summary.get("false_refusal_rate"),
        "evidence_in_top5_recall": summary.get("recall@5"),
        "evidence_in_top5_success": summary.get("success@5"),
        "key_fact_coverage": summary.get("key_fact_coverage"),
        "cited_page_right": f"{page_right}/{page_checked}",
        "answered_right_by_direction": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by_dir.items())},
    }


def main() -> None:
    """Command line: measure and print (text, or one JSON object with --json)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = ap.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        out = measure(args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-real-pdfs-") as d:
            out = measure(Path(d))
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return
    for k, v in out.items():
        if k in ("titles", "quotes_not_found"):
            print(f"{k}:")
            for item in v:
                print(f"  {item}")
        else:
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
