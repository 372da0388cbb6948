"""Turn bench_scale.py results into bench/scale_report.md and PNG plots (matplotlib: `pip install matplotlib`)."""

from __future__ import annotations

from pathlib import Path

from scale_answer import answer_table

CONFIGS = ["flat", "flat-candidates", "hnsw", "ivfpq", "milvus-flat", "milvus-hnsw", "langchain-faiss"]
LABEL = {
    "flat": "FAISS flat (exact)",
    "flat-candidates": "FAISS flat, candidate sentences",
    "hnsw": "FAISS HNSW",
    "ivfpq": "FAISS IVF-PQ + re-rank",
    "milvus-flat": "Milvus Lite FLAT",
    "milvus-hnsw": "Milvus Lite HNSW",
    "langchain-faiss": "LangChain FAISS (vanilla, dense only)",
}


def _mb(b: float) -> str:
    return f"{b / 2**20:,.0f} MiB" if b < 2**30 else f"{b / 2**30:.2f} GiB"


def _rss(s: dict) -> str:
    if s.get("rss_anon_mb") is None:
        return f"{s['rss_mb']:,.0f} MiB"
    return f"{s['rss_mb']:,.0f} MiB: {s['rss_anon_mb']:,.0f} + {s['rss_file_mb']:,.0f}"


def _n(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def table(results: dict) -> str:
    """The main Markdown table: one row per scale and configuration."""
    head = (
        "| passages | configuration | build (s) | on disk | start-up (s) | RSS after queries: private + mapped files | peak RSS | "
        "p50 (ms) | p95 (ms) | dense p50 (ms) | recall@10 vs exact pipeline (all sentences / same sentence pass) | dense recall@10 (own language / shifted) | planted hit@10 |"
    )
    rows = [head, "|" + "---|" * 13]
    for n in sorted(results, key=lambda k: int(k) if k.isdigit() else 0):
        if not n.isdigit():
            continue
        r = results[n]
        base = r["builds"].get("flat", {})
        for cfg in CONFIGS:
            s = r["summary"].get(cfg)
            if not s:
                continue
            b = r["builds"].get(cfg, {})
            build = base.get("seconds", 0) if cfg == "flat" else b.get("seconds", 0)
            build_txt = (
                f"{build:,.1f}"
                if cfg in ("flat", "langchain-faiss")
                else f"{base.get('seconds', 0):,.1f} + {build:,.1f}"
            )
            if cfg == "flat-candidates":
                build_txt = "flat's"
            disk = r.get("disk", {}).get(cfg, 0)
            dense_r = (
                f"{s['dense_recall_at_10_same_lang']:.3f} / {s['dense_recall_at_10_cross_lang']:.3f}"
                if "dense_recall_at_10_same_lang" in s
                else "–"
            )
            rec = (
                "–"
                if cfg == "langchain-faiss"
                else f"{s['recall_at_10_vs_exact']:.3f}"
                + (f" / {s['recall_at_10_vs_exact_same_pass']:.3f}" if "recall_at_10_vs_exact_same_pass" in s else "")
            )
            rows.append(
                f"| {_n(int(n))} | {LABEL[cfg]} | {build_txt} | {_mb(disk)} | {s['load_s']:.2f} | {_rss(s)} | "
                f"{s['peak_rss_mb']:,.0f} MiB | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['dense_p50_ms']:.1f} | {rec} | "
                f"{dense_r} | {s['hit_at_10']:.3f} |"
            )
    return "\n".join(rows)


def plots(results: dict, out: Path) -> list[Path]:
    """Latency, memory and recall against corpus size, one line per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = sorted(int(k) for k in results if k.isdigit())
    files = []
    for key, ylabel, name, logy in [
        ("p50_ms", "retrieval p50 (ms)", "scale_latency.png", True),
        ("rss_mb", "resident memory after queries (MiB)", "scale_memory.png", True),
        ("recall_at_10_vs_exact", "recall@10 vs exact pipeline", "scale_recall.png", False),
    ]:
        fig, ax = plt.subplots(figsize=(6.4, 4))
        for cfg in CONFIGS:
            xs = [n for n in scales if cfg in results[str(n)]["summary"]]
            if not xs or (key == "recall_at_10_vs_exact" and cfg == "langchain-faiss"):
                continue
            ax.plot(xs, [results[str(n)]["summary"][cfg][key] for n in xs], marker="o", label=LABEL[cfg])
        if key == "p50_ms":
            ax.axhline(50, color="grey", ls="--", lw=1, label="target 50 ms")
        if key == "rss_mb":
            ax.axhline(4096, color="grey", ls="--", lw=1, label="target 4 GiB")
        if key == "recall_at_10_vs_exact":
            ax.axhline(0.95, color="grey", ls="--", lw=1, label="target 0.95")
        ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("passages")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        files.append(out / name)
    return files


def answer_conditions(results: dict) -> str:
    """How loaded the machine was during each whole-answer run (1-minute load average, 2 cores)."""
    runs = [
        f"{_n(int(n))}: {s['load_average'][0]:.1f}"
        for n in sorted((k for k in results if k.isdigit()), key=int)
        for s in results[n].get("answer", {}).values()
    ]
    return (
        "Times in milliseconds. Load average (1 min) during each run, on 2 cores (about 1.5 is this bench alone; more means other jobs shared them): "
        + ", ".join(runs)
        + "."
    )


def answer_plot(results: dict, out: Path) -> Path:
    """Whole-answer p50 by stage against corpus size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = [int(k) for k in sorted((k for k in results if k.isdigit() and results[k].get("answer")), key=int)]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for key, label in [
        ("answer_p50", "whole answer"),
        ("embed_p50", "embed the question"),
        ("retrieve_p50", "retrieve (vector given)"),
        ("generate_p50", "extractive answer"),
        ("verify_p50", "verify (LLM path)"),
    ]:
        ys = [next(iter(results[str(n)]["answer"].values()))[key] for n in scales]
        ax.plot(scales, ys, marker="o", label=label)
    ax.axhline(50, color="grey", ls="--", lw=1, label="target 50 ms")
    ax.set_xscale("log")
    ax.set_xlabel("passages")
    ax.set_ylabel("p50 (ms)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "scale_answer.png", dpi=110)
    plt.close(fig)
    return out / "scale_answer.png"


def write_report(results: dict, out: Path) -> Path:
    """Write bench/scale_report.md (bench/scale_report_intro.md, then the tables) and the plots."""
    files = plots(results, out)
    files.insert(0, answer_plot(results, out))
    md = out / "scale_report.md"
    intro = (out / "scale_report_intro.md").read_text("utf-8") if (out / "scale_report_intro.md").exists() else ""
    lines = [
        "<!-- generated by: python bench/bench_scale.py --report bench/scale_results.json -->",
        "",
        intro.rstrip(),
        "",
        "## The whole answer (what a user waits for)",
        "",
        answer_table(results),
        "",
        answer_conditions(results),
        "",
        "## Retrieval alone, per dense index (earlier run, before this change)",
        "",
        table(results),
        "",
    ]
    for n in sorted((k for k in results if k.isdigit()), key=int):
        r = results[n]
        if r.get("updates"):
            lines.append(
                f"Removing one document ({_n(int(n))} passages): "
                + ", ".join(f"{k} {v['seconds']:.1f} s" for k, v in r["updates"].items())
                + "."
            )
        base = r["builds"].get("flat", {})
        if base:
            lines.append(
                f"Base index build ({_n(int(n))}): {base['seconds']:.1f} s (arrays {base.get('write_arrays_s', 0):.1f} s, "
                f"BM25 + glossary {base.get('bm25_glossary_s', 0):.1f} s); corpus tokenised in "
                f"{r['corpus']['tokenize_s']:.0f} s on {r['corpus']['workers']} processes."
            )
    if "real" in results:
        lines.append("")
        lines.append(
            "Real papers (real embeddings, dev + own gold questions): "
            + ", ".join(
                f"{k}: recall@10 vs exact {v['recall_at_10_vs_exact']:.3f}, top-5 identical {v['top5_identical']:.2f}"
                for k, v in results["real"].items()
            )
        )
    lines += ["", *[f"![{f.stem}]({f.name})" for f in files]]
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md
