"""Issue 25's ingest attacks, each run as `rag index` (or `rag refs`) in a subprocess, with the exit status,
seconds, peak resident memory and the lines that name the hostile file; and the .bib parsing throughput.

    PYTHONPATH=/work/main python bench/ingest_attack_probe.py --rag-path /work/main   # before
    python bench/ingest_attack_probe.py --rag-path .                                  # after

Every run is killed beyond --kill-mb MB resident or --timeout seconds (a runaway on the old code must not
take the machine down); a killed run is reported as such."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import attack_data as A  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rag-path", default=str(ROOT), help="the checkout whose rag package runs")
    ap.add_argument("--only", default="", help="comma-separated probe names")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--kill-mb", type=float, default=4096)
    ap.add_argument("--bomb-mb", type=int, default=1024)
    ap.add_argument("--bib-mb", type=float, default=50)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    rag = str(Path(sys.executable).parent / "rag")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(PYTHONPATH=str(Path(a.rag_path).resolve()), RAG_JOBS="1")
    results = {}
    with tempfile.TemporaryDirectory(prefix="rag-probe-") as tmp:
        t = Path(tmp)

        def index(name: str, folder: list[str], extra: list[str] = ()) -> None:
            args = [rag, "index", *folder, "--index", str(t / f"idx-{name}"), *extra]
            rc, sec, mb, out, err = A.run_measured(args, t, env, a.timeout, a.kill_mb)
            lines = [ln for ln in (out + err).splitlines() if ln.startswith(("skipped", "error", "note", "indexed"))]
            results[name] = {"status": rc, "seconds": round(sec, 1), "peak_mb": round(mb), "lines": lines[:8]}
            if name != "bib":
                print(name, json.dumps(results[name], ensure_ascii=False), flush=True)

        def pdf_case(name: str, data: bytes) -> None:
            folder = A.good_folder(t / name)
            (folder / f"{name}.pdf").write_bytes(data)
            index(name, [str(folder)])

        todo = set(a.only.split(",")) if a.only else None
        want = lambda n: todo is None or n in todo  # noqa: E731
        if want("bomb"):
            pdf_case("bomb", A.flate_bomb(a.bomb_mb))
        if want("hugepage"):
            pdf_case("hugepage", A.huge_page_pdf())
        if want("encrypted"):
            pdf_case("encrypted", A.encrypted_pdf())
        if want("brokenxref"):
            pdf_case("brokenxref", A.broken_xref_pdf())
        if want("pages"):
            pdf_case("pages", A.many_pages_pdf(3000))
        if want("zotero"):
            A.hostile_zotero(t / "zot")
            index("zotero", [], ["--zotero", str(t / "zot"), "--json"])
            results["zotero"]["indexed_passwd"] = "/etc/passwd" in json.dumps(results["zotero"])
        if want("wal"):
            title = A.wal_zotero(t / "wal")
            index("wal", [], ["--zotero", str(t / "wal")])
            info = A.run_measured([rag, "info", "--index", str(t / "idx-wal"), "--json"], t, env, 120)[3]
            results["wal"]["wal_item_indexed"] = title in info
        if want("symlink"):
            folder = A.good_folder(t / "symlink")
            (folder / "passwd.txt").symlink_to("/etc/passwd")
            index("symlink", [str(folder)])
        if want("csl"):
            index("csl", [str(A.malformed_csl(t / "csl"))])
        for fmt in ("ris", "bib"):
            if want(fmt):
                ans = A.hostile_answers(t / "answers.jsonl")
                args = [rag, "refs", str(ans), "--out", str(t / f"refs.{fmt}")]
                rc, sec, mb, out, err = A.run_measured(args, t, env, a.timeout, a.kill_mb)
                text = (t / f"refs.{fmt}").read_text("utf-8") if (t / f"refs.{fmt}").exists() else ""
                results[f"export-{fmt}"] = {
                    "status": rc,
                    "seconds": round(sec, 1),
                    "peak_mb": round(mb),
                    "records": text.count("TY  - ") if fmt == "ris" else text.count("@"),
                    "text": text[:400],
                }
                print(f"export-{fmt}", json.dumps(results[f"export-{fmt}"], ensure_ascii=False), flush=True)
        if want("bib"):
            n = A.big_bib(t / "big.bib", a.bib_mb)
            size = (t / "big.bib").stat().st_size / 1e6
            code = (
                "import sys, time; from rag.ingest.library import read_bib_file; t = time.perf_counter(); c = time.process_time(); "
                "lib = read_bib_file(sys.argv[1]); "
                "print(len(lib.entries), len(lib.skipped), time.perf_counter() - t, time.process_time() - c)"
            )
            rc, sec, mb, out, err = A.run_measured(
                [sys.executable, "-c", code, str(t / "big.bib")], t, env, a.timeout, a.kill_mb
            )
            got = out.split()
            parse, cpu = (float(got[2]), float(got[3])) if len(got) == 4 else (None, None)
            # the machine is shared: CPU seconds are the comparable figure, wall seconds depend on the load
            results["bib"] = {
                "status": rc,
                "seconds": round(sec, 1),
                "peak_mb": round(mb),
                "entries": n,
                "read": got[:2],
                "mb": round(size, 1),
                "parse_s": parse and round(parse, 2),
                "cpu_s": cpu and round(cpu, 2),
                "mb_per_s_wall": parse and round(size / parse, 2),
                "mb_per_s_cpu": cpu and round(size / cpu, 2),
                "load": os.getloadavg()[0],
                "err": err[-300:],
            }
            print("bib", json.dumps(results["bib"], ensure_ascii=False), flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
