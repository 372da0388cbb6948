"""Time to index a scanned PDF of 20 pages, next to the same pages with their text layer, in the same run.

Draws the first 20 pages of the shared papers (default ../shared/corpus, read in name order, one after
another until there are enough pages) as a two-column PDF with the WenQuanYi font, rasterises them at 150 dpi into an image-only PDF, and runs `rag index` on each in a
fresh index directory (the embedding cache shared, as a user's would be, only for the text version
first). Prints seconds for the whole index run and per page, the OCR confidence, the character error
rates of the scanned PDF's text against the text layer's, as read (the recognition and reading order)
and as cleaned (what is indexed), and the machine's load average (the machine is shared).

    python bench/bench_ocr.py [--corpus ../shared/corpus] [--pages 20] [--json out.json]
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


def main() -> None:
    """Build both indexes and print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--json")
    args = ap.parse_args()
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
