"""What the page shows, as plain functions: chat messages with clickable [n] markers, the sources
panel with each cited sentence highlighted, the copyable answer and the Markdown export.

Everything taken from papers or users is escaped here; the markup we add is the only markup."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Mapping, Sequence

from app.i18n import t as tr
from app.library import DocRow
from app.service import Exchange
from rag.index.store import DocInfo
from rag.records import Answer, Citation, Hit
from rag.refs.render import (
    CLOSEST,
    CLOSEST_HEAD,
    answer_text,
    citation_label,
    closest_label,
    md_citation,
    md_reference,
    page_mark,
    reference_list,
)

MARKER = re.compile(r"\[(\d+)\]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~$])")


def md_text(text: str) -> str:
    """Text shown literally inside chat Markdown: HTML-escaped, Markdown specials backslashed."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def cite_id(turn: int, n: int | str) -> str:
    """Element id of passage ``n`` of answer ``turn`` in the sources panel (also the link target)."""
    return f"src-{turn}-{n}"


def linkify(answer_text: str, turn: int) -> str:
    """The answer as chat Markdown, each [n] a link to its passage in the sources panel."""
    parts = MARKER.split(answer_text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f'<a class="cite" href="#{cite_id(turn, part)}" title="show source {part}">[{part}]</a>')
        else:
            out.append(md_text(part))
    return "".join(out)


def _abstain_hint(answer: Answer, lang: str | None = None) -> str:
    """The hint under a refusal: in the interface language (without one, the answer's language)."""
    zh = lang == "zh" if lang else any("\u4e00" <= ch <= "\u9fff" for ch in answer.answer)
    return tr("zh" if zh else "en", "abstain_hint")


def assistant_markdown(ex: Exchange, turn: int, lang: str | None = None) -> str:
    """The assistant's chat message for one finished exchange (our own words in ``lang``)."""
    if ex.error:
        return f'<span class="rag-error">⚠️ {md_text(ex.error)}</span>'
    a = ex.answer
    assert a is not None
    if a.abstained:
        body = f'<span class="abstain">{md_text(a.answer)}</span>\n\n{md_text(_abstain_hint(a, lang))}'
    else:
        body = linkify(a.answer, turn)
    if ex.rewrite is not None and ex.rewrite.rewritten:
        body += f'\n\n<span class="searched">{tr(lang or "en", "searched_for")}: {md_text(ex.rewrite.query)}</span>'
    return body


def shown_question(q: str, limit: int = 600) -> str:
    """The user's question as shown in the chat (very long ones cut, with their length)."""
    return md_text(q if len(q) <= limit else q[:limit] + f"… ({len(q)} characters)")


def chat_messages(
    exchanges: Sequence[Exchange], pending: tuple[str, str] | None = None, lang: str | None = None
) -> list[dict]:
    """Chatbot messages for the conversation, plus a question being answered (question, text so far)."""
    msgs: list[dict] = []
    for t, ex in enumerate(exchanges):
        msgs.append({"role": "user", "content": shown_question(ex.question)})
        msgs.append({"role": "assistant", "content": assistant_markdown(ex, t, lang)})
    if pending is not None:
        q, partial = pending
        msgs.append({"role": "user", "content": shown_question(q)})
        msgs.append({"role": "assistant", "content": linkify(partial, len(exchanges)) + " ▍" if partial else "…"})
    return msgs


# --- sources panel ------------------------------------------------------------------------------


def highlighted(text: str, quote: str) -> str:
    """Passage HTML with the quoted sentence wrapped in <mark>."""
    at = text.find(quote) if quote else -1
    if at < 0:
        return html.escape(text)
    return (
        html.escape(text[:at])
        + '<mark class="quote">'
        + html.escape(quote)
        + "</mark>"
        + html.escape(text[at + len(quote) :])
    )


def _scores(hit: Hit | None, cite: Citation | None = None) -> str:
    bits = []
    if cite is not None:
        bits.append(f"sentence {cite.score:.3f}")
    if hit is not None:
        bits.append(f"rank {hit.rank} · fused {hit.score:.4f}")
        if hit.dense is not None:
            bits.append(f"dense {hit.dense:.3f}")
        if hit.bm25 is not None:
            bits.append(f"bm25 {hit.bm25:.2f}")
    return f'<div class="p-scores">{" · ".join(bits)}</div>' if bits else ""


def _card(elem_id: str, label: str, title: str, section: str, doc: str, body: str, scores: str, page: str = "") -> str:
    sec = f"§ {html.escape(section)} · " if section else ""
    sec += f"{html.escape(page_mark(page).lstrip(', '))} · " if page else ""
    data_page = f' data-page="{html.escape(page)}"' if page else ""  # the page script opens this page on a click
    return (
        f'<div class="passage" id="{elem_id}"{data_page}><div class="p-head"><span class="p-num">{html.escape(label)}</span> '
        f'<span class="p-title">{html.escape(title or doc)}</span></div>'
        f'<div class="p-meta">{sec}<code>{html.escape(doc)}</code></div>{scores}'
        f'<div class="p-text">{body}</div></div>'
    )


def turn_sources(ex: Exchange, turn: int, show_scores: bool, lang: str = "en") -> str:
    """The sources of one answer: cited passages (quote highlighted) or, for a refusal, the closest ones."""
    a = ex.answer
    if a is None:
        return ""
    hits = {h.chunk.chunk_id: h for h in a.retrieved}
    cards = []
    if a.abstained:
        head = f'<div class="turn-note abstain">{html.escape(a.answer)} {tr(lang, "closest_head")}</div>'
        for i, h in enumerate(a.retrieved[:CLOSEST], start=1):
            c = h.chunk
            cards.append(
                _card(
                    cite_id(turn, f"c{i}"),
                    tr(lang, "closest_n", i=i),
                    c.title,
                    c.section,
                    c.doc_id,
                    html.escape(c.text),
                    _scores(h) if show_scores else "",
                    c.page,
                )
            )
    else:
        head = ""
        for cit in a.citations:
            cards.append(
                _card(
                    cite_id(turn, cit.n),
                    f"[{cit.n}]",
                    cit.title,
                    cit.section,
                    cit.doc,
                    highlighted(cit.text, cit.quote),
                    _scores(hits.get(cit.chunk_id), cit) if show_scores else "",
                    cit.page,
                )
            )
    extra = ""
    if show_scores and a.retrieved:
        rows = "".join(
            f"<tr><td>{h.rank}</td><td><code>{html.escape(h.chunk.doc_id)}</code></td><td>{h.score:.4f}</td>"
            f"<td>{'' if h.dense is None else f'{h.dense:.3f}'}</td><td>{'' if h.bm25 is None else f'{h.bm25:.2f}'}</td>"
            f"<td>{html.escape(h.chunk.text[:80])}…</td></tr>"
            for h in a.retrieved
        )
        extra = (
            f'<details class="retrieved"><summary>{tr(lang, "all_retrieved", n=len(a.retrieved))}</summary><table>'
            f"<tr><th>#</th><th>document</th><th>fused</th><th>dense</th><th>bm25</th><th>passage</th></tr>"
            f"{rows}</table></details>"
        )
    return "".join([head, *cards, extra])


def sources_html(exchanges: Sequence[Exchange], show_scores: bool = False, lang: str = "en") -> str:
    """The side panel: every answer's sources, the latest one shown (clicking a marker shows another)."""
    answered = [(t, ex) for t, ex in enumerate(exchanges) if ex.answer is not None]
    if not answered:
        return f'<div class="rag-sources"><div class="empty">{tr(lang, "sources_empty")}</div></div>'
    sections = []
    last = answered[-1][0]
    for t, ex in answered:
        q = ex.question if len(ex.question) <= 80 else ex.question[:80] + "…"
        sections.append(
            f'<section class="turn{" current" if t == last else ""}" id="turn-{t}">'
            f'<div class="turn-head">{tr(lang, "sources_for", n=t + 1)}: {html.escape(q)}</div>'
            f"{turn_sources(ex, t, show_scores, lang)}</section>"
        )
    return f'<div class="rag-sources">{"".join(sections)}</div>'


def page_choices(exchanges: Sequence[Exchange]) -> list[tuple[str, str]]:
    """The cited PDF pages of the latest answer, for the page viewer: (label, "turn:n")."""
    for t in range(len(exchanges) - 1, -1, -1):
        a = exchanges[t].answer
        if a is not None:
            return [(citation_label(c), f"{t}:{c.n}") for c in _cited(exchanges[t]) if c.page]
    return []


def citation_of(exchanges: Sequence[Exchange], choice: str) -> Citation | None:
    """The citation a page-viewer choice ("turn:n") names, if the conversation has it."""
    turn, _, n = str(choice or "").partition(":")
    if not (turn.isdigit() and n.isdigit()) or int(turn) >= len(exchanges):
        return None
    return next((c for c in _cited(exchanges[int(turn)]) if c.n == int(n)), None)


# --- copy and export ----------------------------------------------------------------------------


def answer_with_references(ex: Exchange | None, style: str = "plain") -> str:
    """Plain text for the clipboard: the answer, then its numbered sources (in a citation ``style``: their
    works' references) with their quotes."""
    if ex is None or ex.answer is None:
        return ""
    return answer_text(ex.answer, passages=False, style=style)


def conversation_jsonl(exchanges: Sequence[Exchange]) -> str:
    """The conversation's answers as JSON lines (`rag ask --json` records): `rag refs` exports their works."""
    return "".join(
        json.dumps({**ex.answer.to_dict(), "id": f"Q{t}"}, ensure_ascii=False) + "\n"
        for t, ex in enumerate(exchanges, start=1)
        if ex.answer is not None
    )


def _cited(ex: Exchange) -> tuple[Citation, ...]:
    a = ex.answer
    return () if ex.error or a is None or a.abstained else a.citations


def conversation_markdown(
    exchanges: Sequence[Exchange], index_name: str, docs: Mapping[str, DocInfo], style: str = "plain"
) -> str:
    """The whole conversation as Markdown, each answer with its sources, then a reference list (in a
    citation ``style``)."""
    refs = reference_list(_cited(ex) for ex in exchanges)
    ref_of = {r.doc: r.n for r in refs}
    lines = [
        "# Conversation with rag",
        "",
        f"Index `{index_name}` ({len(docs)} documents) · exported {time.strftime('%Y-%m-%d %H:%M')}",
        "",
    ]
    for t, ex in enumerate(exchanges, start=1):
        lines += [f"## Q{t}. {ex.question}", ""]
        if ex.rewrite is not None and ex.rewrite.rewritten:
            lines += [f"*searched for: {ex.rewrite.query}*", ""]
        if ex.error or ex.answer is None:
            lines += [f"> {ex.error}", ""]
            continue
        a = ex.answer
        lines += [a.answer, ""]
        if a.abstained:
            lines += [CLOSEST_HEAD, ""] + [f"- {closest_label(h)}" for h in a.retrieved[:CLOSEST]] + [""]
            continue
        lines += ["Sources:", ""] + [md_citation(c, ref_of[c.doc]) for c in a.citations] + [""]
    if refs:
        lines += ["## References", ""]
        for r in refs:
            info = docs.get(r.doc)
            where = ", ".join(f"Q{t}[{n}]" for t, n in r.cited)
            lines.append(f"{md_reference(r, info.authors if info else (), style)} — cited in {where}")
        lines.append("")
    return "\n".join(lines)


def document_rows(rows: Sequence[DocRow], lang: str = "en") -> list[list]:
    """Rows of the library table, in the interface language."""
    return [
        [
            r.doc_id,
            r.title,
            r.authors,
            r.year,
            r.pages or "",
            r.passages,
            "; ".join(tr(lang, f"w_{key}", n=n) for key, n in r.warnings),
            r.source,
        ]
        for r in rows
    ]


DOC_COLUMNS = ("document", "title", "authors", "year", "pages", "passages", "warnings", "source")


def document_headers(lang: str = "en") -> list[str]:
    """The library table's column names."""
    return [tr(lang, f"col_{c}") for c in DOC_COLUMNS]


def citations_markdown(graph: dict, top: int = 10) -> str:
    """The Documents tab's citation view: for each document, the library's documents it cites and those
    citing it; then the outside works the library cites most ({"nodes", "edges"} of ``rag refs --graph``)."""
    docs = {n["id"]: n for n in graph["nodes"] if n["kind"] == "document"}
    internal = [e for e in graph["edges"] if e["internal"]]
    if not docs:
        return ""

    def name(doc: str) -> str:
        title = docs[doc]["title"] if doc in docs else ""
        return f"{md_text(title)} ({md_text(doc)})" if title else md_text(doc)

    lines = ["### Citations within the library", ""]
    for doc in docs:
        cites = sorted({e["target"] for e in internal if e["source"] == doc})
        by = sorted({e["source"] for e in internal if e["target"] == doc})
        refs = sum(1 for e in graph["edges"] if e["source"] == doc)
        lines.append(
            f"- **{name(doc)}**: {refs} references; cites "
            + (", ".join(name(d) for d in cites) or "no document of the library")
            + "; cited by "
            + (", ".join(name(d) for d in by) or "none")
        )
    outside = sorted((n for n in graph["nodes"] if n["kind"] == "reference"), key=lambda n: (-n["cited_by"], n["id"]))[
        :top
    ]
    if outside:
        lines += ["", "### Most-cited works outside the library", ""]
        for i, n in enumerate(outside, 1):
            year = f" ({n['year']})" if n.get("year") else ""
            lines.append(f"{i}. {md_text(n['title'] or n['id'])}{year} — cited {n['cited_by']}×")
    return "\n".join(lines) + "\n"
