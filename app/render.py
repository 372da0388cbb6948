"""What the page shows, as plain functions: chat messages with clickable [n] markers, the sources
panel with each cited sentence highlighted, the library table and its citation view, our own words in the
interface language (the copyable answer and the Markdown export are in app/export.py).

Everything taken from papers or users is escaped here; the markup we add is the only markup."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from app.export import cited, page_text
from app.i18n import TEXT, shown_section
from app.i18n import t as tr
from app.library import DocRow
from app.service import Exchange
from rag.records import Answer, Citation, Hit
from rag.refs.render import (
    CLOSEST,
    citation_label,
)

MARKER = re.compile(r"\[(\d+)\]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~$])")


def md_text(text: str) -> str:
    """Text shown literally inside chat Markdown: HTML-escaped, Markdown specials backslashed."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def cite_id(turn: int, n: int | str) -> str:
    """Element id of passage ``n`` of answer ``turn`` in the sources panel (also the link target)."""
    return f"src-{turn}-{n}"


def linkify(answer_text: str, turn: int, lang: str = "en") -> str:
    """The answer as chat Markdown, each [n] a link to its passage in the sources panel."""
    parts = MARKER.split(answer_text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            tip = tr(lang, "show_source", n=part)
            out.append(f'<a class="cite" href="#{cite_id(turn, part)}" title="{tip}">[{part}]</a>')
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
        body = linkify(a.answer, turn, lang or "en")
    if ex.rewrite is not None and ex.rewrite.rewritten:
        body += f'\n\n<span class="searched">{tr(lang or "en", "searched_for")}: {md_text(ex.rewrite.query)}</span>'
    return body


def shown_question(q: str, limit: int = 600, lang: str = "en") -> str:
    """The user's question as shown in the chat (very long ones cut, with their length)."""
    return md_text(q if len(q) <= limit else q[:limit] + tr(lang, "question_chars", n=len(q)))


def chat_messages(
    exchanges: Sequence[Exchange], pending: tuple[str, str] | None = None, lang: str | None = None
) -> list[dict]:
    """Chatbot messages for the conversation, plus a question being answered (question, text so far)."""
    msgs: list[dict] = []
    for t, ex in enumerate(exchanges):
        msgs.append({"role": "user", "content": shown_question(ex.question, lang=lang or "en")})
        msgs.append({"role": "assistant", "content": assistant_markdown(ex, t, lang)})
    if pending is not None:
        q, partial = pending
        msgs.append({"role": "user", "content": shown_question(q, lang=lang or "en")})
        shown = linkify(partial, len(exchanges), lang or "en") + " ▍" if partial else "…"
        msgs.append({"role": "assistant", "content": shown})
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


def _scores(hit: Hit | None, cite: Citation | None = None, lang: str = "en") -> str:
    bits = []
    if cite is not None:
        bits.append(tr(lang, "score_sentence", v=f"{cite.score:.3f}"))
    if hit is not None:
        bits += [tr(lang, "score_rank", v=hit.rank), tr(lang, "score_fused", v=f"{hit.score:.4f}")]
        if hit.dense is not None:
            bits.append(tr(lang, "score_dense", v=f"{hit.dense:.3f}"))
        if hit.bm25 is not None:
            bits.append(tr(lang, "score_bm25", v=f"{hit.bm25:.2f}"))
    return f'<div class="p-scores">{" · ".join(bits)}</div>' if bits else ""


def _card(
    elem_id: str,
    label: str,
    title: str,
    section: str,
    doc: str,
    body: str,
    scores: str,
    page: str = "",
    lang: str = "en",
) -> str:
    section = shown_section(section, lang)
    sec = f"§ {html.escape(section)} · " if section else ""
    sec += f"{html.escape(page_text(page, lang).lstrip(', ，'))} · " if page else ""
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
                    _scores(h, lang=lang) if show_scores else "",
                    c.page,
                    lang,
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
                    _scores(hits.get(cit.chunk_id), cit, lang) if show_scores else "",
                    cit.page,
                    lang,
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
        heads = "".join(
            f"<th>{tr(lang, 'th_' + c)}</th>" for c in ("rank", "document", "fused", "dense", "bm25", "passage")
        )
        extra = (
            f'<details class="retrieved"><summary>{tr(lang, "all_retrieved", n=len(a.retrieved))}</summary><table>'
            f"<tr>{heads}</tr>{rows}</table></details>"
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
            return [(citation_label(c), f"{t}:{c.n}") for c in cited(exchanges[t]) if c.page]
    return []


def citation_of(exchanges: Sequence[Exchange], choice: str) -> Citation | None:
    """The citation a page-viewer choice ("turn:n") names, if the conversation has it."""
    turn, _, n = str(choice or "").partition(":")
    if not (turn.isdigit() and n.isdigit()) or int(turn) >= len(exchanges):
        return None
    return next((c for c in cited(exchanges[int(turn)]) if c.n == int(n)), None)


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
            library_source(r.source, lang),
        ]
        for r in rows
    ]


def library_source(source: str, lang: str = "en") -> str:
    """A library row's source ("PDF · uploaded · edited") in ``lang``: the words ours, the names kept."""
    return " · ".join(tr(lang, f"src_{part}") if f"src_{part}" in TEXT else part for part in source.split(" · "))


DOC_COLUMNS = ("document", "title", "authors", "year", "pages", "passages", "warnings", "source")


def document_headers(lang: str = "en") -> list[str]:
    """The library table's column names."""
    return [tr(lang, f"col_{c}") for c in DOC_COLUMNS]


def citations_markdown(graph: dict, top: int = 10, lang: str = "en") -> str:
    """The Documents tab's citation view: for each document, the library's documents it cites and those
    citing it; then the outside works the library cites most ({"nodes", "edges"} of ``rag refs --graph``)."""
    docs = {n["id"]: n for n in graph["nodes"] if n["kind"] == "document"}
    internal = [e for e in graph["edges"] if e["internal"]]
    if not docs:
        return ""

    def name(doc: str) -> str:
        title = docs[doc]["title"] if doc in docs else ""
        return f"{md_text(title)} ({md_text(doc)})" if title else md_text(doc)

    lines = [tr(lang, "cites_head"), ""]
    for doc in docs:
        cites = sorted({e["target"] for e in internal if e["source"] == doc})
        by = sorted({e["source"] for e in internal if e["target"] == doc})
        refs = sum(1 for e in graph["edges"] if e["source"] == doc)
        lines.append(
            tr(
                lang,
                "cites_line",
                doc=name(doc),
                refs=refs,
                cites=", ".join(name(d) for d in cites) or tr(lang, "cites_none"),
                by=", ".join(name(d) for d in by) or tr(lang, "cited_by_none"),
            )
        )
    outside = sorted((n for n in graph["nodes"] if n["kind"] == "reference"), key=lambda n: (-n["cited_by"], n["id"]))[
        :top
    ]
    if outside:
        lines += ["", tr(lang, "outside_head"), ""]
        for i, n in enumerate(outside, 1):
            year = f" ({n['year']})" if n.get("year") else ""
            title = md_text(n["title"] or n["id"])
            lines.append(tr(lang, "outside_line", i=i, title=title, year=year, n=n["cited_by"]))
    return "\n".join(lines) + "\n"
