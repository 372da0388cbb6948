"""The conversation as text in the interface language: the copy box's answer with its sources, the
Markdown download with its reference list, the answers as .jsonl for `rag refs`. English output is
exactly `rag/refs/render.py`'s; in Chinese our own words (headings, labels, page marks) are translated."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence

from app.i18n import shown_section
from app.i18n import t as tr
from app.service import Exchange
from rag.index.store import DocInfo
from rag.lang.text import one_line
from rag.records import Answer, Citation, Hit
from rag.refs.render import (
    CLOSEST,
    cited_reference,
    closest_label,
    md_citation,
    md_reference,
    page_mark,
    reference_list,
    section_mark,
    source_label,
    sources_lines,
)


def page_text(page: str, lang: str = "en") -> str:
    """The ", p. 12" (", pp. 12-13") of a PDF passage in ``lang`` (nothing for other files)."""
    if not page:
        return ""
    if lang != "zh":
        return page_mark(page)
    return tr(lang, "pages_mark" if "-" in page else "page_mark", p=page)


def cited(ex: Exchange) -> tuple[Citation, ...]:
    """The citations of an answered exchange (none for a refusal or a message)."""
    a = ex.answer
    return () if ex.error or a is None or a.abstained else a.citations


def source_text(title: str, section: str, doc: str, page: str, lang: str = "en") -> str:
    """Where a passage comes from, "title — §section, p. 12 (doc)", the page in ``lang``."""
    section = shown_section(section, lang)
    if lang != "zh":
        return source_label(title, section, doc, page)
    return f"{one_line(title)}{section_mark(one_line(section))}{page_text(one_line(page), lang)} ({one_line(doc)})"


def _closest_text(h: Hit, lang: str) -> str:
    return (
        closest_label(h)
        if lang != "zh"
        else source_text(h.chunk.title, h.chunk.section, h.chunk.doc_id, h.chunk.page, lang)
    )


def _copy_lines(a: Answer, style: str, lang: str) -> list[str]:
    """``sources_lines`` (without passages) with our own words in ``lang``; in a citation style the cited
    page stays, on the section line (the work's reference has no page of the passage)."""
    if a.abstained:
        if lang != "zh":
            return sources_lines(a, passages=False, style=style)
        return [tr(lang, "md_closest")] + [f"  - {_closest_text(h, lang)}" for h in a.retrieved[:CLOSEST]]
    lines = [tr(lang, "copy_sources")]
    for c in a.citations:
        section = shown_section(c.section, lang)
        plain = f"[{c.n}] {source_text(c.title, section, c.doc, c.page, lang)}"
        lines.append(plain if style == "plain" else cited_reference(c, style))
        if style != "plain" and section:
            lines.append(tr(lang, "copy_section", s=section) + page_text(one_line(c.page), lang))
        elif style != "plain" and c.page:
            lines.append(tr(lang, "copy_page", p=one_line(c.page)))
        lines.append(tr(lang, "copy_quote", q=c.quote))
        lines += [
            tr(lang, "copy_rests_on", n=r.get("n", ""), raw=r.get("raw", ""))
            + (f" ({r['target']})" if r.get("target") else "")
            for r in c.refs
        ]
    return lines


def answer_with_references(ex: Exchange | None, style: str = "plain", lang: str = "en") -> str:
    """Plain text for the clipboard: the answer, then its numbered sources (in a citation ``style``: their
    works' references) with their quotes, our own words in ``lang``."""
    if ex is None or ex.answer is None:
        return ""
    return "\n".join([ex.answer.answer, "", *_copy_lines(ex.answer, style, lang)])


def conversation_jsonl(exchanges: Sequence[Exchange]) -> str:
    """The conversation's answers as JSON lines (`rag ask --json` records): `rag refs` exports their works."""
    return "".join(
        json.dumps({**ex.answer.to_dict(), "id": f"Q{t}"}, ensure_ascii=False) + "\n"
        for t, ex in enumerate(exchanges, start=1)
        if ex.answer is not None
    )


def _md_citation(c: Citation, ref: int, lang: str) -> str:
    if lang != "zh":
        return md_citation(c, ref)
    where = f"{section_mark(one_line(shown_section(c.section, lang)))}{page_text(one_line(c.page), lang)}"
    return f"- [{c.n}] *{one_line(c.title)}*{where} (R{ref}): “{one_line(c.quote)}”"


def conversation_markdown(
    exchanges: Sequence[Exchange],
    index_name: str,
    docs: Mapping[str, DocInfo],
    style: str = "plain",
    lang: str = "en",
) -> str:
    """The whole conversation as Markdown, each answer with its sources, then a reference list (in a
    citation ``style``); our own words in ``lang``."""
    refs = reference_list(cited(ex) for ex in exchanges)
    ref_of = {r.doc: r.n for r in refs}
    when = time.strftime("%Y-%m-%d %H:%M")
    lines = [tr(lang, "md_title"), "", tr(lang, "md_index", index=index_name, n=len(docs), when=when), ""]
    for t, ex in enumerate(exchanges, start=1):
        lines += [f"## {tr(lang, 'md_q', n=t)}. {ex.question}", ""]
        if ex.rewrite is not None and ex.rewrite.rewritten:
            lines += [tr(lang, "md_searched", q=ex.rewrite.query), ""]
        if ex.error or ex.answer is None:
            lines += [f"> {ex.error}", ""]
            continue
        a = ex.answer
        lines += [a.answer, ""]
        if a.abstained:
            closest = [f"- {_closest_text(h, lang)}" for h in a.retrieved[:CLOSEST]]
            lines += [tr(lang, "md_closest"), "", *closest, ""]
            continue
        lines += [tr(lang, "md_sources"), ""] + [_md_citation(c, ref_of[c.doc], lang) for c in a.citations] + [""]
    if refs:
        lines += [tr(lang, "md_references"), ""]
        for r in refs:
            info = docs.get(r.doc)
            where = ", ".join(f"{tr(lang, 'md_q', n=t)}[{n}]" for t, n in r.cited)
            entry = md_reference(r, info.authors if info else (), style)
            lines.append(entry + tr(lang, "md_cited_in", where=where))
        lines.append("")
    return "\n".join(lines)
