"""rag on a real Milvus standalone server at 100k / 1M passages, next to FAISS measured in the same run.

The ``milvus`` package (a test extra) starts Milvus standalone on 127.0.0.1 with its data in the bench
directory; rag reaches it through a server URI (``http://127.0.0.1:PORT``, the code path of
``RAG_MILVUS_URI`` and of a cluster). The corpus and base index are bench_scale.py's (synthetic, planted
facts, precomputed vectors; see bench/scale_report_intro.md). Per scale, each phase in a fresh process:

  faiss flat / faiss KIND    rag's FAISS backend: exact, and what RAG_DENSE_INDEX=auto picks at that size
  server-KIND-LEVEL          rag's Milvus backend on the server (what it picks: HNSW past 20k passages),
                             queried at each RAG_MILVUS_CONSISTENCY level of --consistency (Bounded Strong)

Figures: insert time and index build time on the server, the server process's resident memory (idle,
after the build, after the queries), rag's whole retrieval p50/p95 (dense + sentences + BM25 +
translated BM25 + fusion; query vectors precomputed), dense search alone, recall@10 against the exact
FAISS pipeline, planted-fact hit@10, and removing one document.

    python bench/bench_milvus_server.py --data /tmp/rag-milvus-bench --scales 100000 1000000
    python bench/bench_milvus_server.py --report bench/milvus_server_results.json   # writes the report
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))  # milvus_local: the test-only server launcher

import bench_scale  # noqa: E402
from bench_scale import _du, _link_copy, _mem, milvus_fill, milvus_params, summarize  # noqa: E402

child_query = bench_scale.child_query  # a phase _child runs by name

RESULTS = ROOT / "bench" / "milvus_server_results.json"


def _proc_mem(pid: int) -> dict:
    """Resident memory of another process (the server), MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, val = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = int(val.split()[0]) / 1024
    return out


def _set_params(path: Path, **dense) -> None:
    """bench_scale's params edit, then the file list and params.json sealed again as a build does."""
    from rag.index.integrity import manifest, params_text

    bench_scale._set_params(path, **dense)
    p = json.loads((path / "params.json").read_text("utf-8"))
    p["files"] = manifest(path)
    (path / "params.json").write_text(params_text(p), "utf-8")


def child_build_faiss(idx_dir: str, kind: str) -> dict:
    """rag's FAISS index of ``kind`` over the base index's vectors (files hard-linked)."""
    import faiss

    from rag.index.dense.faiss import build_faiss

    base, path = Path(idx_dir) / "flat", Path(idx_dir) / kind
    _link_copy(base, path)
    t = time.perf_counter()
    index = build_faiss(kind, np.load(base / "chunk_vectors.npy", mmap_mode="r"), np.load(base / "vector_ids.npy"))
    faiss.write_index(index, str(path / "dense.faiss"))
    seconds = time.perf_counter() - t
    _set_params(path, kind=kind, requested=kind)
    return {"seconds": seconds, "dense_bytes": _du(path / "dense.faiss"), "mem": _mem()}


def child_build_server(idx_dir: str, kind: str, uri: str) -> dict:
    """Insert every passage into a collection on the server, then wait until it is indexed and searchable."""
    from rag.index.dense.milvus import MilvusStore, collection_name

    idx_dir = Path(idx_dir)
    base, path = idx_dir / "flat", idx_dir / f"server-{kind}"
    _link_copy(base, path)
    dim = int(np.load(base / "chunk_vectors.npy", mmap_mode="r").shape[1])
    name = collection_name(f"server-{kind}", 1)
    t = time.perf_counter()
    ms = MilvusStore(uri, name, kind, dim)
    if ms.exists():
        ms.drop()
        ms = MilvusStore(uri, name, kind, dim)
    vectors = milvus_fill(base, ms)
    n = len(vectors)
    client = ms.store.client
    insert_s = time.perf_counter() - t
    t = time.perf_counter()
    index_name = client.list_indexes(name)[0]
    while True:  # the server builds the index of each sealed segment in the background
        info = client.describe_index(name, index_name)
        if int(info.get("indexed_rows", 0)) >= n and int(info.get("pending_index_rows", 0)) == 0:
            break
        time.sleep(2)
    client.release_collection(name)  # load the indexed segments instead of the raw growing ones
    client.load_collection(name)
    ms.settle()  # as rag's build does before readers switch to the rows
    ms.search(np.asarray(vectors[0]), 10)
    index_s = time.perf_counter() - t
    _set_params(path, **milvus_params(ms))
    return {"insert_s": insert_s, "index_s": index_s, "seconds": insert_s + index_s, "index": info, "mem": _mem()}


def child_remove_one(idx_dir: str, config: str) -> dict:
    """Time removing one document (rag remove) from a copy of the index; on the server its rows are deleted."""
    from rag.index.store import remove_documents
    from rag.settings import load_settings

    idx_dir = Path(idx_dir)
    name = f"{config}-update"
    _link_copy(idx_dir / config, idx_dir / name)
    s = load_settings(index_dir=idx_dir, index=name, cache_dir=idx_dir / ".cache")
    doc = json.loads((idx_dir / name / "docs.json").read_text("utf-8"))[1]["doc_id"]
    t = time.perf_counter()
    remove_documents([doc], s)
    return {"seconds": time.perf_counter() - t, "mem": _mem()}


def _child(fn: str, *args, cache: Path | None = None, env: dict | None = None) -> dict:
    """Run one phase in a fresh interpreter; its JSON result is the last stdout line (kept in ``cache``,
    which a run started again reuses)."""
    if cache is not None and cache.exists():
        return json.loads(cache.read_text())
    code = (
        f"import sys, json; sys.path.insert(0, {str(ROOT / 'bench')!r}); import bench_milvus_server as m; "
        f"print(json.dumps(m.{fn}(*{args!r})))"
    )
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{fn}{args} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.perf_counter() - t
    if cache is not None:
        cache.write_text(json.dumps(out))
    return out


def run_scale(n: int, data: Path, queries: int, faiss_kind: str, server_kinds: list[str], levels: list[str]) -> dict:
    """One scale: FAISS exact and ``faiss_kind``, then the server kinds, each queried in a fresh process per
    consistency level (``RAG_MILVUS_CONSISTENCY``)."""
    from milvus_local import milvus_server

    idx_dir = data / "idx"
    res: dict = {"passages": n, "queries": queries, "builds": {}, "summary": {}, "server_mem": {}, "updates": {}}
    res["consistency"] = levels
    res["builds"][faiss_kind] = _child(
        "child_build_faiss", str(idx_dir), faiss_kind, cache=data / f"ms-build-{faiss_kind}.json"
    )
    raw = {}
    for cfg in ("flat", faiss_kind):
        print(f"[{n}] query faiss {cfg}", flush=True)
        raw[cfg] = _child("child_query", str(data), str(idx_dir), cfg, queries, cache=data / f"ms-query-{cfg}.json")
    res["updates"][faiss_kind] = _child(
        "child_remove_one", str(idx_dir), faiss_kind, cache=data / f"ms-update-{faiss_kind}.json"
    )
    base = data / "milvus-server"
    with milvus_server(base) as local:
        res["server"] = {"uri": local.uri, "pid": local.pid}
        res["server_mem"]["idle"] = _proc_mem(local.pid)
        for kind in server_kinds:
            cfg = f"server-{kind}"
            print(f"[{n}] build {cfg}", flush=True)
            res["builds"][cfg] = _child("child_build_server", str(idx_dir), kind, local.uri)
            res["server_mem"][f"after build {kind}"] = _proc_mem(local.pid)
            for level in levels:
                print(f"[{n}] query {cfg} {level}", flush=True)
                env = {"RAG_MILVUS_CONSISTENCY": level}
                raw[f"{cfg}-{level}"] = _child("child_query", str(data), str(idx_dir), cfg, queries, env=env)
                res["server_mem"][f"after queries {kind} {level}"] = _proc_mem(local.pid)
            res["updates"][cfg] = _child("child_remove_one", str(idx_dir), cfg)
        res["server_disk_bytes"] = _du(base / "data")
    for cfg, q in raw.items():
        res["summary"][cfg] = summarize(q, raw["flat"])
    res["faiss_disk_bytes"] = {cfg: _du(idx_dir / cfg) for cfg in ("flat", faiss_kind)}
    return res


def _table(results: dict) -> str:
    """The figures of every scale as one Markdown table."""
    head = (
        "| passages | configuration | build s (insert + index) | retrieval p50 / p95 ms | dense p50 ms "
        "| recall@10 vs exact | planted hit@10 | client RSS MiB | server RSS MiB (peak) | remove one doc s |\n"
        + "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for key in sorted(results, key=int):
        r = results[key]
        for cfg, s in r["summary"].items():
            kind, _, level = cfg.removeprefix("server-").partition("-")  # server-KIND-LEVEL (or server-KIND)
            built = f"server-{kind}" if cfg.startswith("server-") else cfg
            b = r["builds"].get(built, {})
            build = (
                f"{b['insert_s']:.0f} + {b['index_s']:.0f}"
                if "insert_s" in b
                else (f"{b['seconds']:.0f}" if b else "–")
            )
            mem = r["server_mem"].get(f"after queries {kind} {level}".strip()) if cfg.startswith("server-") else None
            server = f"{mem['VmRSS']:,.0f} ({mem['VmHWM']:,.0f})" if mem else "–"
            upd = r["updates"].get(built, {}).get("seconds")
            name = (
                f"Milvus server {kind.upper()}{f' {level}' if level else ''}"
                if cfg.startswith("server-")
                else f"FAISS {cfg}"
            )
            rows.append(
                f"| {int(key) // 1000}k | {name} | {build} | {s['p50_ms']:.1f} / {s['p95_ms']:.1f} | "
                f"{s['dense_p50_ms']:.1f} | {s['recall_at_10_vs_exact']:.3f} | {s['hit_at_10']:.3f} | "
                f"{s['rss_mb']:,.0f} | {server} | {'–' if upd is None else f'{upd:.1f}'} |"
            )
    return head + "\n".join(rows) + "\n"


def write_report(results: dict, out: Path) -> str:
    """Replace the generated table in the report (between its markers) with the figures of ``results``."""
    start, end = "<!-- figures -->", "<!-- /figures -->"
    text = out.read_text("utf-8") if out.exists() else f"{start}\n{end}\n"
    before, _, rest = text.partition(start)
    _, _, after = rest.partition(end)
    out.write_text(f"{before}{start}\n{_table(results)}{end}{after}", "utf-8")
    return _table(results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/tmp/rag-milvus-bench"), help="holds sN/ from bench_scale")
    ap.add_argument("--scales", type=int, nargs="+", default=[100_000])
    ap.add_argument("--queries", type=int, default=400, help="questions per configuration (200 at 1M)")
    ap.add_argument("--server-kinds", nargs="+", default=["hnsw"])
    ap.add_argument(
        "--consistency", nargs="+", default=["Bounded", "Strong"], help="RAG_MILVUS_CONSISTENCY levels queried"
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--report", type=Path, help="write bench/milvus_server_report.md from a results file")
    a = ap.parse_args()
    if a.report:
        print(write_report(json.loads(a.report.read_text()), ROOT / "bench" / "milvus_server_report.md"))
        return
    results = json.loads(a.out.read_text()) if a.out.exists() else {}
    for n in a.scales:
        data = a.data / f"s{n}"
        if not (data / "idx" / "flat" / "params.json").exists():
            raise SystemExit(f"{data}/idx/flat is missing: run bench/bench_scale.py --scales {n} --data {a.data} first")
        faiss_kind = "hnsw" if n <= 200_000 else "ivfpq"  # what RAG_DENSE_INDEX=auto picks
        t = time.perf_counter()
        results[str(n)] = run_scale(
            n, data, a.queries if n < 1_000_000 else min(a.queries, 200), faiss_kind, a.server_kinds, a.consistency
        )
        results[str(n)]["wall_s"] = time.perf_counter() - t
        results[str(n)]["load_average"] = __import__("os").getloadavg()
        a.out.write_text(json.dumps(results, indent=1))
        print(json.dumps(results[str(n)]["summary"], indent=1))


if __name__ == "__main__":
    main()
