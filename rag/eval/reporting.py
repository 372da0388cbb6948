"""Evaluation reports: JSON (machines), Markdown (pull requests), self-contained HTML with SVG charts."""

from __future__ import annotations

import html
import json
from pathlib import Path

HEADLINE = [
    "recall@1",
    "recall@3",
    "recall@5",
    "recall@10",
    "mrr@10",
    "ndcg@10",
    "key_fact_coverage",
    "citation_validity",
    "citation_support",
    "cited_sentence_share",
    "correct_refusal_rate",
    "false_refusal_rate",
    "answered_precision",
    "pass_rate",
]


def _volatile(key: str, value) -> bool:
    # a group (a language, a kind, a suite) is a dict of metrics, whatever its name
    return key == "timings_ms" or ((key == "created" or key.startswith("latency")) and not isinstance(value, dict))


def without_volatile(report):
    """The report without what varies between runs of the same code — its creation date, latencies and
    timings — so that two runs give identical files (``rag eval --stable``)."""
    if isinstance(report, dict):
        return {k: without_volatile(v) for k, v in report.items() if not _volatile(k, v)}
    if isinstance(report, list):
        return [without_volatile(v) for v in report]
    return report


def latency_line(summary: dict) -> str | None:
    """A summary's latency in ms as "p50 / p95", or None when the report leaves timings out."""
    if "latency_p50_ms" not in summary:
        return None
    return f"{summary['latency_p50_ms']:.1f} / {summary['latency_p95_ms']:.1f}"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_fmt(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def render_markdown(report: dict, comparison: dict | None = None) -> str:
    """A Markdown report: headline metrics, breakdowns, baseline diff, and per-question rows."""
    m, s = report["meta"], report["summary"]
    parts = [
        "# rag evaluation report",
        f"{m['questions']} questions, k={m['k']}, index `{m['index']}` ({m['documents']} documents), "
        f"embedder `{m['embedder']}`, generator `{m['generator']}`, fusion `{m['fusion']}`, "
        f"abstain threshold {m['abstain_threshold']}.",
        "## Overall",
        _table(
            ["metric", "value"],
            [[k, s["overall"][k]] for k in HEADLINE if k in s["overall"]]
            + ([["latency p50 / p95 (ms)", latency]] if (latency := latency_line(s["overall"])) else []),
        ),
    ]
    cols = ["recall@5", "mrr@10", "key_fact_coverage", "citation_support", "false_refusal_rate", "correct_refusal_rate"]
    for title, key in (("By language", "by_lang"), ("By kind", "by_kind")):
        rows = [[g, int(v["n"])] + [v.get(c, "-") for c in cols] for g, v in s[key].items()]
        parts += [f"## {title}", _table(["group", "n"] + cols, rows)]
    if comparison:
        parts.append("## Against the baseline")
        verdict = (
            "no aggregate metric dropped"
            if comparison["ok"]
            else f"{len(comparison['drops'])} aggregate metric(s) dropped"
        )
        parts.append(f"Tolerance {comparison['tolerance']:g}: {verdict}.")
        changed = comparison["drops"] + comparison["gains"]
        if changed:
            parts.append(
                _table(
                    ["metric", "baseline", "current", "delta"],
                    [[d["metric"], d["baseline"], d["current"], f"{d['delta']:+.3f}"] for d in changed],
                )
            )
        if comparison["pass_to_fail"]:
            parts.append("Questions that went from pass to fail:")
            parts += [
                f"- `{q['id']}` {q.get('question', '')} — {'; '.join(q['reasons'])}" for q in comparison["pass_to_fail"]
            ]
        if comparison["fail_to_pass"]:
            parts.append("Fixed since the baseline: " + ", ".join(f"`{i}`" for i in comparison["fail_to_pass"]))
    parts.append("## Questions")
    rows = [
        [
            q["id"],
            q["lang"],
            q["kind"],
            "pass" if q["pass"] else "FAIL",
            q.get("recall@5", "-"),
            q.get("key_fact_coverage", "-"),
            "yes" if q["abstained"] else "no",
            "; ".join(q["reasons"]) or "-",
        ]
        for q in report["questions"]
    ]
    parts.append(_table(["id", "lang", "kind", "result", "recall@5", "coverage", "refused", "why"], rows))
    return "\n\n".join(parts) + "\n"


# --- HTML ----------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Noto Sans CJK SC",sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem;width:100%}td,th{border:1px solid #ddd;padding:.3rem .5rem;text-align:left}
th{background:#f4f4f4}.pass{color:#17803d}.fail{color:#b42318;font-weight:600}.meta{color:#555;font-size:.9rem}
svg text{font-size:11px;font-family:inherit}
"""


def _bars(items: list[tuple[str, float, float | None]], width: int = 640) -> str:
    """Horizontal 0..1 bars with an optional baseline tick per item."""
    row, label_w, bar_w = 22, 190, width - 250
    h = row * len(items) + 10
    out = [f'<svg width="{width}" height="{h}" role="img">']
    for i, (name, v, base) in enumerate(items):
        y = 5 + i * row
        w = max(0.0, min(1.0, v)) * bar_w
        out.append(f'<text x="0" y="{y + 14}">{html.escape(name)}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="14" fill="#eee"/>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="14" fill="#3b82f6"/>')
        if base is not None:
            bx = label_w + max(0.0, min(1.0, base)) * bar_w
            out.append(f'<line x1="{bx:.1f}" x2="{bx:.1f}" y1="{y}" y2="{y + 20}" stroke="#111" stroke-width="2"/>')
        out.append(f'<text x="{label_w + bar_w + 8}" y="{y + 14}">{v:.3f}</text>')
    out.append("</svg>")
    return "".join(out)


def _grouped(groups: dict[str, dict], metrics: list[str], width: int = 760) -> str:
    """Grouped vertical bars: one cluster per group, one bar per metric."""
    colors = ["#3b82f6", "#10b981", "#f59e0b", "#ef4444"]
    names = list(groups)
    cw = (width - 40) / max(1, len(names))
    bw = min(22.0, (cw - 10) / len(metrics))
    h, top = 220, 20
    out = [f'<svg width="{width}" height="{h + 60}" role="img">']
    for j, mname in enumerate(metrics):
        out.append(
            f'<rect x="{40 + j * 150}" y="2" width="10" height="10" fill="{colors[j % 4]}"/>'
            f'<text x="{54 + j * 150}" y="11">{html.escape(mname)}</text>'
        )
    out.append(f'<line x1="35" x2="{width}" y1="{top + h}" y2="{top + h}" stroke="#999"/>')
    for i, g in enumerate(names):
        x0 = 40 + i * cw
        for j, mname in enumerate(metrics):
            v = groups[g].get(mname)
            if v is None:
                continue
            bh = max(0.0, min(1.0, v)) * h
            out.append(
                f'<rect x="{x0 + j * bw:.1f}" y="{top + h - bh:.1f}" width="{bw - 2:.1f}" height="{bh:.1f}" '
                f'fill="{colors[j % 4]}"><title>{html.escape(g)} {mname}: {v:.3f}</title></rect>'
            )
        out.append(f'<text x="{x0:.1f}" y="{top + h + 16}">{html.escape(g)} (n={int(groups[g]["n"])})</text>')
    out.append("</svg>")
    return "".join(out)


def _diff(changes: list[dict], width: int = 640) -> str:
    """Bars of metric deltas against the baseline, centred at zero."""
    if not changes:
        return "<p>No aggregate metric changed.</p>"
    row, mid = 22, width / 2 + 60
    scale = (width / 2 - 80) / max(abs(c["delta"]) for c in changes)
    out = [f'<svg width="{width}" height="{row * len(changes) + 10}" role="img">']
    for i, c in enumerate(changes):
        y = 5 + i * row
        w = c["delta"] * scale
        color = "#17803d" if (c["delta"] > 0) != (c["metric"] == "false_refusal_rate") else "#b42318"
        x = mid if w >= 0 else mid + w
        out.append(f'<text x="0" y="{y + 14}">{html.escape(c["metric"])}</text>')
        out.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{abs(w):.1f}" height="14" fill="{color}"/>')
        out.append(f'<text x="{mid + (w if w > 0 else 0) + 6:.1f}" y="{y + 14}">{c["delta"]:+.3f}</text>')
    out.append(f'<line x1="{mid}" x2="{mid}" y1="0" y2="{row * len(changes) + 10}" stroke="#555"/></svg>')
    return "".join(out)


def render_html(report: dict, comparison: dict | None = None, baseline: dict | None = None) -> str:
    """A self-contained HTML page (inline CSS and SVG, no scripts) with charts and per-question rows."""
    m, s = report["meta"], report["summary"]
    base = baseline["summary"]["overall"] if baseline else {}
    items = [(k, s["overall"][k], base.get(k)) for k in HEADLINE if k in s["overall"]]
    created = f" · {html.escape(m['created'])}" if "created" in m else ""
    latency = ""
    if "latency_p50_ms" in s["overall"]:
        latency = (
            f"<p>Latency p50 {s['overall']['latency_p50_ms']:.1f} ms · p95 {s['overall']['latency_p95_ms']:.1f} ms</p>"
        )
    body = [
        "<h1>rag evaluation report</h1>",
        f'<p class="meta">{m["questions"]} questions · k={m["k"]} · {html.escape(m["embedder"])} · '
        f"{html.escape(m['generator'])} · fusion {html.escape(m['fusion'])}{created}</p>",
        "<h2>Metrics</h2>" + ("<p class='meta'>Black ticks mark the baseline.</p>" if baseline else ""),
        _bars(items),
        latency,
        "<h2>By kind</h2>",
        _grouped(s["by_kind"], ["recall@5", "key_fact_coverage", "citation_support", "pass_rate"]),
        "<h2>By language</h2>",
        _grouped(s["by_lang"], ["recall@5", "key_fact_coverage", "citation_support", "pass_rate"]),
    ]
    if comparison:
        body.append("<h2>Against the baseline</h2>")
        body.append(_diff(comparison["drops"] + comparison["gains"]))
        if comparison["pass_to_fail"]:
            body.append(
                "<p class='fail'>Pass → fail: "
                + ", ".join(html.escape(q["id"]) for q in comparison["pass_to_fail"])
                + "</p>"
            )
    rows = "".join(
        f"<tr><td>{html.escape(q['id'])}</td><td>{html.escape(q.get('question', ''))}</td><td>{q['lang']}</td>"
        f"<td>{html.escape(q['kind'])}</td><td class='{'pass' if q['pass'] else 'fail'}'>{'pass' if q['pass'] else 'FAIL'}</td>"
        f"<td>{_fmt(q.get('recall@5', '-'))}</td><td>{_fmt(q.get('key_fact_coverage', '-'))}</td>"
        f"<td>{'yes' if q['abstained'] else 'no'}</td><td>{html.escape('; '.join(q['reasons']) or '-')}</td></tr>"
        for q in report["questions"]
    )
    body.append(
        "<h2>Questions</h2><table><tr><th>id</th><th>question</th><th>lang</th><th>kind</th><th>result</th>"
        f"<th>recall@5</th><th>coverage</th><th>refused</th><th>why</th></tr>{rows}</table>"
    )
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>rag evaluation</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>"
    )


def write_triple(report: dict, path: str | Path, comparison: dict | None, markdown: str, page: str) -> list[Path]:
    """Write PATH's stem as .json (the report, with the comparison), .md and .html; return the files."""
    stem = Path(path)
    if stem.suffix.lower() in (".json", ".md", ".html"):
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = [stem.with_suffix(".json"), stem.with_suffix(".md"), stem.with_suffix(".html")]
    data = {**report, "comparison": comparison} if comparison else report
    out[0].write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    out[1].write_text(markdown, encoding="utf-8")
    out[2].write_text(page, encoding="utf-8")
    return out


def write_reports(
    report: dict, path: str | Path, comparison: dict | None = None, baseline: dict | None = None
) -> list[Path]:
    """Write PATH's stem as .json, .md and .html; return the files written."""
    return write_triple(
        report, path, comparison, render_markdown(report, comparison), render_html(report, comparison, baseline)
    )
