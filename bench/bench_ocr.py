"""Time to index a scanned PDF of 20 pages, next to the same pages with their text layer, in the same run.

Draws the first 20 pages of the shared papers (default ../shared/corpus, read in name order, one after
another until there are enough pages) as a two-column PDF with the WenQuanYi font, rasterises them at 150 dpi into an image-only PDF, and runs `rag index` on each in a
fresh index directory (the embedding cache shared, as a user's would be, only for the text version
first). Prints seconds for the whole index run and per page, the OCR confidence, the character error
rates of the scanned PDF's text against the text layer's, as read (the recognition and reading order)
and as cleaned (what is indexed), and the machine's load average (the machine is shared).

    python bench/bench_ocr.py [--corpus ../shared/corpus] [--pages 20] [--json out.json]

With ``--scans DIR`` (a suite folder: ``corpus/`` + ``gold.jsonl``, e.g. eval/real_pdfs) it instead OCRs every
image-only page of the suite's ``scan_*.pdf`` files with ``rag.ingest.ocr.ocr_pages`` (one engine, as `rag index`
uses it) and prints per file the wall and CPU seconds per page (CPU summed over threads) and how many of the
suite's gold quotes on those pages the OCR'd text holds (whitespace and case ignored).

    python bench/bench_ocr.py --scans eval/real_pdfs [--json out.json]
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
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from pdfmake import draw, layout, scanned  # noqa: E402
from test_ocr import cer  # noqa: E402

from rag.ingest.cleaning import clean_document  # noqa: E402
from rag.ingest.loading import read_source  # noqa: E402


def _index(pdf: Path, work: Path, name: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_INDEX_DIR=str(work / "index"), RAG_CACHE_DIR=str(work / f"cache-{name}"), TQDM_DISABLE="1")
    t = time.perf_counter()
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "rag"), "index", str(pdf), "--index", name, "--json"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode:
        sys.exit(proc.stderr[-2000:])
    return time.perf_counter() - t


def scans(suite: Path) -> dict:
    """Per scanned PDF of a suite: OCR wall and CPU seconds per page, and its gold quotes found."""
    import pypdfium2 as pdfium

    from rag.ingest.ocr import _engine, ocr_pages

    _engine()  # the models load once per process (about a second), not per page
    gold = [json.loads(ln) for ln in (suite / "gold.jsonl").read_text("utf-8").splitlines() if ln.strip()]
    quotes = [(e["doc"], e["page"], e["quote"]) for g in gold for e in g.get("evidence", [])]
    out: dict = {"files": {}}
    walls: list[float] = []
    for pdf in sorted((suite / "corpus").glob("scan_*.pdf")):
        data = pdf.read_bytes()
        n = len(pdfium.PdfDocument(data))
        texts: dict[int, str] = {}
        wall, cpu = [], []
        for i in range(n):  # page by page, so each page's time is its own
            c, t = time.process_time(), time.perf_counter()
            segs, _ = ocr_pages(data, [i])[i]
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            texts[i + 1] = "".join("".join(s.text.split()) for s in segs).casefold()
        mine = [(p, q) for d, p, q in quotes if d == pdf.name]
        found = sum("".join(q.split()).casefold() in texts.get(p, "") for p, q in mine)
        walls += wall
        out["files"][pdf.name] = {
            "pages": n,
            "wall_s_per_page": round(sum(wall) / n, 2),
            "wall_s_max": round(max(wall), 2),
            "cpu_s_per_page": round(sum(cpu) / n, 2),
            "gold_found": f"{found}/{len(mine)}",
        }
    out["wall_s_per_page_all"] = round(sum(walls) / max(1, len(walls)), 2)
    out["load_average_1min"] = os.getloadavg()[0]
    out["cpus"] = os.cpu_count()
    return out


def main() -> None:
    """Build both indexes and print the figures (or, with --scans, time the OCR of a suite's scans)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--scans", help="a suite folder (corpus/ + gold.jsonl): time the OCR of its scan_*.pdf")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.scans:
        res = scans(Path(args.scans))
        print(json.dumps(res, indent=1))
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1))
        return
    paras: list[str | None] = []
    for path in sorted(Path(args.corpus).glob("*.txt")):
        paras += [ln if ln.strip() else None for ln in path.read_text("utf-8").split("\n")] + [None]
        if len(layout(paras, columns=2, size=10.5, leading=15)) >= args.pages:
            break
    pages = layout(paras, columns=2, size=10.5, leading=15)[: args.pages]
    pdf, _ = draw(pages, header="scanned paper")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "text.pdf").write_bytes(pdf)
        (work / "scan.pdf").write_bytes(scanned(pdf))
        t_text = _index(work / "text.pdf", work, "text")
        t_scan = _index(work / "scan.pdf", work, "scan")
        rows = [json.loads(ln) for ln in (work / "index" / "scan" / "chunks.jsonl").read_text("utf-8").splitlines()]
        # the texts as read, compared whole: passages overlap and their boundaries move with the text
        text_src, scan_src = read_source(work / "text.pdf", "text.pdf"), read_source(work / "scan.pdf", "scan.pdf")
        ref, body = clean_document(text_src).text, clean_document(scan_src).text
    scores = [r["ocr"] for r in rows if r.get("ocr") is not None]
    out = {
        "pages": len(pages),
        "index_text_layer_s": round(t_text, 1),
        "index_scanned_s": round(t_scan, 1),
        "scanned_s_per_page": round(t_scan / len(pages), 1),
        "passages_from_ocr": f"{len(scores)}/{len(rows)}",
        "ocr_mean_confidence": round(sum(scores) / max(1, len(scores)), 4),
        # the recognition itself: the pages as read, before cleaning
        "read_cer_vs_text_layer": round(cer(text_src.text, scan_src.text), 4),
        "read_characters": len("".join(text_src.text.split())),
        # what is indexed: cleaning decides a little differently on OCR'd lines (e.g. a reference-like line)
        "cleaned_cer_vs_text_layer": round(cer(ref, body), 4),
        "cleaned_characters": len("".join(ref.split())),
        "load_average_1min": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
