"""The multi-suite evaluation report: a row per suite and their macro average (Markdown and HTML), a
precision/coverage curve per suite (what every refusal threshold would give), and the gate's verdict."""

from __future__ import annotations

import html
from pathlib import Path

from rag.eval.reporting import _fmt, _table, render_html, render_markdown, write_triple
from rag.eval.suites import HEADLINE

_CSS = """
body{font-family:system-ui,-apple-system,"Noto Sans CJK SC",sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ddd;padding:.3rem .5rem;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.fail{color:#b42318;font-weight:600}
.meta{color:#555;font-size:.9rem}svg text{font-size:11px;font-family:inherit}figure{display:inline-block;margin:0 1rem 1rem 0}
"""


def curve(rows: list[dict]) -> list[tuple[float, float, float, float]]:
    """(threshold, coverage, precision, unanswerable refused) for every refusal threshold: a question is
    answered when its confidence reaches the threshold, rightly when its answer (or the draft a refusal
    held back) has every key fact."""
    n_ans = sum(r["answerable"] for r in rows) or 1
    n_una = sum(not r["answerable"] for r in rows)
    out = []
    for t in sorted({r.get("confidence", 0.0) for r in rows}, reverse=True):
        given = [r for r in rows if r.get("confidence", 0.0) >= t]
        right = sum(r["answerable"] and r.get("draft_covers", False) for r in given)
        refused = sum(not r["answerable"] and r.get("confidence", 0.0) < t for r in rows)
        out.append((t, right / n_ans, right / len(given) if given else 1.0, refused / n_una if n_una else float("nan")))
    return out


def _curve_svg(points: list[tuple[float, float, float, float]], at: float | None, size: int = 260) -> str:
    """Precision (y) against coverage (x), with the operating point marked."""
    pad = 30
    inner = size - 2 * pad

    def xy(cov: float, prec: float) -> tuple[float, float]:
        return pad + cov * inner, pad + (1 - prec) * inner

    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(c, p) for _, c, p, _ in points))
    out = [
        f'<svg width="{size}" height="{size}" role="img"><rect x="{pad}" y="{pad}" width="{inner}" height="{inner}" '
        f'fill="none" stroke="#ccc"/><polyline points="{path}" fill="none" stroke="#2b6cb0" stroke-width="1.5"/>',
        f'<text x="{pad}" y="{size - 8}">coverage →</text><text x="2" y="{pad - 10}">precision ↑</text>',
        f'<text x="{pad - 4}" y="{pad + inner + 12}">0</text><text x="{pad + inner - 6}" y="{pad + inner + 12}">1</text>',
    ]
    if at is not None and points:
        t, c, p, _ = min(points, key=lambda q: abs(q[0] - at) + (0 if q[0] >= at else 1))
        x, y = xy(c, p)
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#b42318"/>'
            f'<text x="{min(x + 6, size - 90):.1f}" y="{y - 6:.1f}">threshold {at:.2f}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _columns(report: dict) -> list[str]:
    # latency is left out of a --stable report: no column for it
    return [m for m in HEADLINE if not m.startswith("latency") or m in report["summary"]["macro"]]


def _rows(report: dict) -> list[list]:
    cols = _columns(report)
    rows = [[name, int(v["n"])] + [v.get(m, "-") for m in cols] for name, v in report["summary"]["by_suite"].items()]
    macro = report["summary"]["macro"]
    rows.append(["**macro average**", ""] + [macro.get(m, "-") for m in cols])
    return rows


def render_suites_markdown(report: dict, comparison: dict | None = None) -> str:
    """Markdown: the suite table, the gate's verdict per suite, then each suite's failed questions count."""
    m = report["meta"]
    parts = [
        "# rag evaluation: every suite, one configuration",
        f"k={m['k']}, embedder `{m['embedder']}`, generator `{m['generator']}`, fusion `{m['fusion']}`, "
        f"answer threshold {m['abstain_threshold']}.",
        _table(["suite", "n"] + _columns(report), _rows(report)),
    ]
    if comparison:
        parts.append("## Against the baseline")
        for name, c in comparison["suites"].items():
            verdict = (
                "ok"
                if c["ok"]
                else "DROPPED: "
                + ", ".join(f"{d['metric']} {d['baseline']:.3f} → {d['current']:.3f}" for d in c["drops"])
            )
            parts.append(
                f"- **{name}**: {verdict}"
                + (f" ({len(c['pass_to_fail'])} questions pass → fail)" if c["pass_to_fail"] else "")
            )
    for name, r in report["suites"].items():
        failed = sum(not q["pass"] for q in r["questions"])
        parts.append(
            f"## {name}\n\n{len(r['questions'])} questions, {failed} not passed; "
            + ", ".join(f"{g}: R@5 {_fmt(v.get('recall@5', float('nan')))}" for g, v in r["summary"]["by_lang"].items())
        )
    return "\n\n".join(parts) + "\n"


def render_suites_html(report: dict, comparison: dict | None = None) -> str:
    """Self-contained HTML: the suite table and a precision/coverage curve per suite."""
    m = report["meta"]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["suite", "n", *_columns(report)])
    body_rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c).strip('*'))}</td>" for c in r) + "</tr>" for r in _rows(report)
    )
    figs = "".join(
        f"<figure>{_curve_svg(curve(r['questions']), m.get('abstain_threshold'))}<figcaption>{html.escape(n)}"
        f"</figcaption></figure>"
        for n, r in report["suites"].items()
    )
    created = f" · {html.escape(m['created'])}" if "created" in m else ""
    gate = ""
    if comparison:
        items = "".join(
            f"<li class='{'' if c['ok'] else 'fail'}'>{html.escape(n)}: {'ok' if c['ok'] else 'dropped'}</li>"
            for n, c in comparison["suites"].items()
        )
        gate = f"<h2>Against the baseline</h2><ul>{items}</ul>"
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>rag evaluation: suites</title>"
        f"<style>{_CSS}</style></head><body><h1>rag evaluation: every suite, one configuration</h1>"
        f"<p class='meta'>k={m['k']} · {html.escape(m['embedder'])} · {html.escape(m['generator'])} · "
        f"answer threshold {m['abstain_threshold']}{created}</p><table><tr>{head}</tr>{body_rows}</table>"
        f"{gate}<h2>Precision against coverage, per refusal threshold</h2><p class='meta'>Each curve: answered "
        f"questions' precision (y) against the share of answerable questions answered with every key fact (x) "
        f"as the threshold moves; the dot is the default.</p>{figs}</body></html>"
    )


def write_suite_reports(
    report: dict, path: str | Path, comparison: dict | None = None, details: bool = False
) -> list[Path]:
    """PATH.json, PATH.md and PATH.html for the whole run; with ``details`` also PATH/<suite>.md and .html."""
    out = write_triple(
        report, path, comparison, render_suites_markdown(report, comparison), render_suites_html(report, comparison)
    )
    if not details:
        return out
    per = out[0].with_suffix("")
    per.mkdir(exist_ok=True)
    for name, r in report["suites"].items():
        c = comparison["suites"].get(name) if comparison else None
        f = per / name.replace("/", "_")
        f.with_suffix(".md").write_text(render_markdown(r, c), encoding="utf-8")
        f.with_suffix(".html").write_text(render_html(r, c), encoding="utf-8")
        out += [f.with_suffix(".md"), f.with_suffix(".html")]
    return out
