"""The Documents tab's library manager, the cited page view and the interface language: the handlers the
Blocks app wires to its components (app/ui.py), over the one AppService every session shares."""

from __future__ import annotations

import html
import re

import gradio as gr

from app.i18n import browser_language, message, pick, stage, t
from app.render import citation_of, document_headers, document_rows
from app.service import AppService
from rag.errors import RagError
from rag.settings import Settings


def header_text(service: AppService, lang: str = "en") -> str:
    """The header line: index name, documents, passages, embedder (or that the library is empty)."""
    if service.empty:
        empty = t(lang, "header_empty", index=service.settings.index_path.name)
        return f"## {t(lang, 'title')}\n{empty} {chat_placeholder(service, lang)}"
    idx = service.assistant.retriever.index
    return f"## {t(lang, 'title')}\n" + t(
        lang, "header", index=idx.path.name, docs=len(idx.docs), passages=len(idx.chunks), embedder=idx.embedder_id
    )


def chat_placeholder(service: AppService, lang: str = "en") -> str:
    """What the empty chat shows: how to ask, or (an empty library) how to add papers first."""
    return (
        t(lang, "empty_library", index=service.settings.store.index) if service.empty else t(lang, "chat_placeholder")
    )


def doc_choices(service: AppService) -> list[tuple[str, str]]:
    """(label, document id) of every indexed document, for the pickers."""
    return [(f"{d.title} ({d.doc_id})" if d.title else d.doc_id, d.doc_id) for d in service.documents()]


def doc_table(service: AppService, lang: str = "en") -> list[list]:
    """The library table's rows in ``lang``."""
    return document_rows(service.library(), lang)


def _caption(doc: str, page: int, marked: int, boxes: str, lang: str) -> tuple[str, str]:
    """The page view's label ("doc, p. 5") and its caption element carrying the marked boxes (in points)."""
    note = "" if marked else t(lang, "quote_not_found")
    where = f"{doc}, {t(lang, 'page_n', p=page)}{note}"
    caption = (
        f'<div id="page-info" data-doc="{html.escape(doc)}" data-page="{page}" '
        f'data-marked="{marked}" data-boxes="{boxes}">{html.escape(where)}</div>'
    )
    return where, caption


class Workbench:
    """The library manager's and the language switch's handlers (state: the service and settings)."""

    def __init__(self, service: AppService, settings: Settings):
        self.service = service
        self.settings = settings

    def refresh_documents(self, lang="en"):
        """Table, document filter choices, header and the manager's picker choices, as the index now is
        (on page load too: a tab opened after an upload must list the uploaded papers)."""
        lang = pick(lang)
        choices = doc_choices(self.service)
        return (
            doc_table(self.service, lang),
            gr.update(choices=choices),
            header_text(self.service, lang),
            gr.update(choices=choices),
        )

    def library_refreshed(self, lang, status: str = ""):
        """Table, document filter, header, the manager's picker (cleared) and its status line."""
        table, choices, head, _ = self.refresh_documents(lang)
        return table, choices, head, gr.update(choices=doc_choices(self.service), value=None), status

    def add_documents(self, files, lang, progress=gr.Progress()):
        """Check, save and index uploaded files; report what was added and what was refused."""
        if not files:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        paths = files if isinstance(files, list) else [files]
        shown = pick(lang)
        report = self.service.add_documents(paths, progress=lambda frac, desc: progress(frac, desc=stage(shown, desc)))
        table, choices, header, picker = self.refresh_documents(lang)
        return report.markdown(pick(lang)), table, choices, header, None, picker

    def pick_document(self, doc_id):
        """The edit form filled with the picked document's title, authors and year."""
        doc = None if self.service.empty else self.service.assistant.retriever.index.docs.get(doc_id or "")
        if doc is None:
            return "", "", ""
        return doc.title, "; ".join(doc.authors), doc.bib.year

    def library_action(self, action: str):
        """The handler of a manager button: "save" (the edit form), "reindex" or "remove" the picked document."""

        def run(doc_id, title, authors, year, lang, progress=gr.Progress()):
            lang = pick(lang)
            tick = lambda frac, desc: progress(frac, desc=stage(lang, desc))  # noqa: E731
            try:
                if action == "save":
                    secs = self.service.edit_metadata(doc_id, title or "", authors or "", year or "", tick)
                    done = t(lang, "saved", doc=doc_id, s=secs)
                elif action == "reindex":
                    done = t(lang, "reindexed", doc=doc_id, s=self.service.reindex_document(doc_id, tick))
                else:
                    done = t(lang, "removed", doc=doc_id, s=self.service.remove_document(doc_id))
            except RagError as exc:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip(), f"**{message(lang, str(exc))}**"
            return self.library_refreshed(lang, done)

        return run

    def open_page(self, choice, exchanges, lang):
        """The cited PDF page, rendered from the index's own source with the quote marked; the marked
        boxes (in points) go into the page view's caption element for tests and scripts to read."""
        cite = citation_of(exchanges or [], str(choice or "").split("@")[0])  # "turn:n" (@ a click's time)
        if cite is None:
            return gr.update(value=None, visible=False), ""
        try:
            view = self.service.page_view(cite)
        except RagError as exc:
            gr.Warning(message(pick(lang), str(exc)), title=t(pick(lang), "warning"))
            return gr.update(value=None, visible=False), ""
        boxes = ";".join(",".join(f"{v:.1f}" for v in b) for b in view.boxes)
        where, caption = _caption(cite.doc, view.page, view.marked, boxes, pick(lang))
        return gr.update(value=view.image, visible=True, label=where), caption

    def recaption(self, caption, lang):
        """The open page's caption and label in ``lang`` (after a switch), from the caption's own data."""
        got = dict(re.findall(r'data-(doc|page|marked|boxes)="([^"]*)"', str(caption or "")))
        if not got.get("page", "").isdigit():
            return gr.skip(), gr.skip()
        marked = int(got["marked"]) if got.get("marked", "").isdigit() else 0
        where, new = _caption(
            html.unescape(got.get("doc", "")), int(got["page"]), marked, got.get("boxes", ""), pick(lang)
        )
        return gr.update(label=where), new

    def relabel(self, lang):
        """Every label, placeholder and button in the chosen language."""
        lang = pick(lang)
        return (
            header_text(self.service, lang),
            gr.update(label=t(lang, "tab_ask")),
            gr.update(label=t(lang, "tab_docs")),
            gr.update(placeholder=chat_placeholder(self.service, lang)),
            gr.update(placeholder=t(lang, "question_placeholder")),
            gr.update(value=t(lang, "ask")),
            gr.update(label=t(lang, "top_k")),
            gr.update(label=t(lang, "doc_filter")),
            gr.update(label=t(lang, "show_scores")),
            gr.update(value=t(lang, "new_conversation")),
            gr.update(label=t(lang, "download_md")),
            gr.update(label=t(lang, "download_jsonl")),
            gr.update(label=t(lang, "style")),
            gr.update(label=t(lang, "copy")),
            gr.update(label=t(lang, "page_pick")),
            gr.update(label=t(lang, "sources")),
            gr.update(label=t(lang, "upload", mb=self.settings.app.upload_max_mb)),
            gr.update(value=t(lang, "refresh")),
            gr.update(value=doc_table(self.service, lang), headers=document_headers(lang)),
            gr.update(label=t(lang, "doc_pick")),
            gr.update(label=t(lang, "edit_title")),
            gr.update(label=t(lang, "edit_authors")),
            gr.update(label=t(lang, "edit_year")),
            gr.update(value=t(lang, "save")),
            gr.update(value=t(lang, "reindex")),
            gr.update(value=t(lang, "remove")),
            gr.update(label=t(lang, "language")),
        )

    def placeholder(self, lang):
        """The chat's placeholder as the library now is (an upload can fill an empty library)."""
        return gr.update(placeholder=chat_placeholder(self.service, pick(lang)))

    def browser_lang(self, request: gr.Request):
        """The interface language the browser asks for (its Accept-Language header)."""
        headers = getattr(request, "headers", None) or {}
        return browser_language(headers.get("accept-language"))
