"""The Gradio Blocks app: chat with streamed, cited answers; a sources panel; a documents panel;
and an API endpoint returning the `rag ask --json` record. Start it with `rag app`."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry or version checks

import gradio as gr  # noqa: E402

from app.assets import CSS, JS  # noqa: E402
from app.chat import ChatHandlers  # noqa: E402
from app.i18n import CHOICES, pick, t  # noqa: E402
from app.references import ReferencesTab, closed  # noqa: E402
from app.render import (  # noqa: E402
    citations_markdown,
    document_headers,
    document_rows,
    sources_html,
)
from app.review_tab import ReviewTab  # noqa: E402
from app.service import AppService  # noqa: E402
from app.workbench import Workbench, doc_choices, header_text  # noqa: E402
from rag.errors import InvalidInputError  # noqa: E402
from rag.refs.styles import STYLES  # noqa: E402
from rag.servers.guards import app_middleware  # noqa: E402
from rag.service import check_port  # noqa: E402
from rag.settings import Settings  # noqa: E402

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AskTab:
    """The Ask tab: the chat and its controls (left), the sources, copy box and page view (right)."""

    tab: gr.Tab
    chat: gr.Chatbot
    question: gr.Textbox
    send: gr.Button
    k: gr.Slider
    docs: gr.Dropdown
    show_scores: gr.Checkbox
    new: gr.Button
    download: gr.DownloadButton
    download_answers: gr.DownloadButton
    style: gr.Dropdown
    sources: gr.HTML
    copy_box: gr.Textbox
    page_pick: gr.Dropdown
    page_image: gr.Image
    page_info: gr.HTML
    cite_click: gr.Textbox


@dataclass(frozen=True)
class DocumentsTab:
    """The Documents tab: the library table, the metadata form and its actions, uploads, who cites whom."""

    tab: gr.Tab
    table: gr.Dataframe
    doc_pick: gr.Dropdown
    edit_title: gr.Textbox
    edit_authors: gr.Textbox
    edit_year: gr.Textbox
    save: gr.Button
    reindex: gr.Button
    remove: gr.Button
    library_status: gr.Markdown
    upload: gr.File
    upload_status: gr.Markdown
    refresh: gr.Button
    citations: gr.Markdown


def build_app(settings: Settings, service: AppService | None = None) -> gr.Blocks:
    """The Blocks app over ``settings``' index (loaded once here, shared by every session)."""
    service = service or AppService(settings)
    bench = Workbench(service, settings)
    export_dir = Path(tempfile.mkdtemp(prefix="rag-app-"))
    h = ChatHandlers(settings, service, export_dir)

    # delete_cache: Gradio's copies of uploads and exports older than a day go, checked hourly
    with gr.Blocks(title=t("en", "title"), analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        exchanges = gr.State([])
        with gr.Row(equal_height=True):
            header = gr.Markdown(header_text(service), elem_id="header")
            lang = gr.Radio(CHOICES, value="en", label=t("en", "language"), elem_id="lang", scale=0, min_width=180)
        with gr.Tabs():
            ask = _ask_tab(settings, service)
            lib = _documents_tab(settings, service)
            review = ReviewTab(service, settings, export_dir).build(lang, doc_choices(service), style=ask.style)
            refs_shown = ReferencesTab(service, export_dir / "references").build(lang, exchanges, review)
        _wire_ask(ask, h, bench, exchanges, lang, refs_shown)
        _wire_documents(lib, ask, bench, service, header, lang)
        lang.change(bench.relabel, lang, _labelled(ask, lib, header, lang), api_visibility="private")
        # who cites whom after the browser's language is known (a separate load event raced it: English
        # could land last in a Chinese page); after a refresh, an upload (_wire_documents) and a switch too
        demo.load(bench.browser_lang, None, lang, api_visibility="private").then(
            bench.refresh_documents, lang, [lib.table, ask.docs, header, lib.doc_pick], api_visibility="private"
        ).then(_citations(service), lang, lib.citations, api_visibility="private")
        for event in (lib.refresh.click, lang.change):
            event(_citations(service), lang, lib.citations, api_visibility="private")
        gr.api(h.ask, api_name="ask")
    demo.queue(default_concurrency_limit=settings.app_concurrency, max_size=256)
    demo.rag_service = service  # for tests and the launcher
    return demo


def _citations(service: AppService):
    """The handler showing who cites whom in the library, in the interface language."""
    return lambda lang: citations_markdown(service.citation_graph(), lang=pick(lang))


def _ask_tab(settings: Settings, service: AppService) -> AskTab:
    """The Ask tab's components, laid out (their events are wired by ``_wire_ask``)."""
    with gr.Tab(t("en", "tab_ask"), id="ask") as tab:
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chat = gr.Chatbot(
                    # no per-message copy: it would copy the link markup; the copy box has clean text
                    elem_id="chat",
                    height=520,
                    show_label=False,
                    latex_delimiters=[],
                    buttons=[],
                    feedback_options=None,
                    layout="bubble",
                    placeholder=t("en", "chat_placeholder"),
                )
                controls = _chat_controls(settings, service)
            with gr.Column(scale=2):
                side = _sources_column()
    return AskTab(tab=tab, chat=chat, **controls, **side)


def _chat_controls(settings: Settings, service: AppService) -> dict:
    """Under the chat: the question box, passages per answer, the document filter, downloads and style."""
    with gr.Row(equal_height=True):
        question = gr.Textbox(
            show_label=False,
            placeholder=t("en", "question_placeholder"),
            lines=1,
            max_lines=6,
            scale=8,
            elem_id="question",
            autofocus=True,
        )
        send = gr.Button(t("en", "ask"), variant="primary", scale=1, min_width=80, elem_id="ask-btn")
    with gr.Row(equal_height=True):
        k = gr.Slider(1, 20, value=settings.top_k, step=1, label=t("en", "top_k"), scale=2, elem_id="top-k")
        docs = gr.Dropdown(
            choices=doc_choices(service),
            value=[],
            multiselect=True,
            scale=3,
            label=t("en", "doc_filter"),
            elem_id="doc-filter",
        )
        show_scores = gr.Checkbox(label=t("en", "show_scores"), value=False, scale=1, elem_id="show-scores")
    with gr.Row():
        new = gr.Button(t("en", "new_conversation"), size="sm", elem_id="new-conversation")
        download = gr.DownloadButton(
            t("en", "download_md"), value=None, size="sm", interactive=False, elem_id="download"
        )
        download_answers = gr.DownloadButton(
            t("en", "download_jsonl"), value=None, size="sm", interactive=False, elem_id="download-answers"
        )
        style = gr.Dropdown(
            choices=list(STYLES),
            value=settings.citation_style,
            label=t("en", "style"),
            scale=1,
            elem_id="citation-style",
        )
    return {
        "question": question,
        "send": send,
        "k": k,
        "docs": docs,
        "show_scores": show_scores,
        "new": new,
        "download": download,
        "download_answers": download_answers,
        "style": style,
    }


def _sources_column() -> dict:
    """Beside the chat: the sources panel, the answer to copy, and the cited page's view."""
    # labelled (a container shows the label): "Sources" / "出处" follows the interface language
    sources = gr.HTML(
        sources_html([]), elem_id="sources", label=t("en", "sources"), show_label=True, container=True, max_height=640
    )
    copy_box = gr.Textbox(
        label=t("en", "copy"), lines=3, max_lines=12, interactive=False, buttons=["copy"], elem_id="copy-answer"
    )
    page_pick = gr.Dropdown(choices=[], value=None, label=t("en", "page_pick"), visible=False, elem_id="page-pick")
    page_image = gr.Image(
        type="pil", format="png", interactive=False, visible=False, buttons=["fullscreen"], elem_id="page-view"
    )
    page_info = gr.HTML("", elem_id="page-caption")
    # written by the page script when an [n] of a PDF passage is clicked ("turn:n")
    cite_click = gr.Textbox(value="", show_label=False, elem_id="cite-click", container=False)
    return {
        "sources": sources,
        "copy_box": copy_box,
        "page_pick": page_pick,
        "page_image": page_image,
        "page_info": page_info,
        "cite_click": cite_click,
    }


def _documents_tab(settings: Settings, service: AppService) -> DocumentsTab:
    """The Documents tab's components, laid out (their events are wired by ``_wire_documents``)."""
    with gr.Tab(t("en", "tab_docs"), id="documents") as tab:
        table = gr.Dataframe(
            value=document_rows(service.library()),
            headers=document_headers(),
            interactive=False,
            wrap=True,
            elem_id="documents",
        )
        with gr.Row(equal_height=True):
            doc_pick = gr.Dropdown(
                choices=doc_choices(service), value=None, label=t("en", "doc_pick"), elem_id="doc-pick", scale=3
            )
            edit_title = gr.Textbox(label=t("en", "edit_title"), elem_id="edit-title", scale=3)
            edit_authors = gr.Textbox(label=t("en", "edit_authors"), elem_id="edit-authors", scale=3)
            edit_year = gr.Textbox(label=t("en", "edit_year"), elem_id="edit-year", scale=1, min_width=90)
        with gr.Row():
            save = gr.Button(t("en", "save"), size="sm", variant="primary", elem_id="save-metadata")
            reindex = gr.Button(t("en", "reindex"), size="sm", elem_id="reindex-document")
            remove = gr.Button(t("en", "remove"), size="sm", variant="stop", elem_id="remove-document")
        library_status = gr.Markdown(elem_id="library-status")
        upload = gr.File(
            label=t("en", "upload", mb=settings.upload_max_mb),
            # no file_types: Gradio would refuse a whole batch for one bad file; we report each
            file_count="multiple",
            elem_id="upload",
        )
        upload_status = gr.Markdown(elem_id="upload-status")
        refresh = gr.Button(t("en", "refresh"), size="sm")
        citations = gr.Markdown(citations_markdown(service.citation_graph()), elem_id="citations")
    return DocumentsTab(
        tab, table, doc_pick, edit_title, edit_authors, edit_year, save, reindex, remove, library_status, upload,
        upload_status, refresh, citations,
    )  # fmt: skip


def _wire_ask(
    a: AskTab, h: ChatHandlers, bench: Workbench, exchanges: gr.State, lang: gr.Radio, refs_shown: list
) -> None:
    """The Ask tab's events: answer (streamed), restyle, open a cited page, re-render, a new conversation."""
    outputs = [a.chat, a.sources, exchanges, a.copy_box, a.download, a.question]
    inputs = [a.question, exchanges, a.k, a.docs, a.show_scores, lang]
    styled = [a.copy_box, a.download, a.download_answers]
    restyled = [exchanges, a.style, lang]

    def after_answer(answered) -> None:
        """An answer's follow-up steps: its copy text and export in the chosen style, then its cited pages."""
        answered.then(h.restyle, restyled, styled, api_visibility="private").then(
            h.cited_pages, exchanges, [a.page_pick, a.page_image, a.page_info], api_visibility="private"
        )

    # the downloads close the moment a question is sent, the chat's open again with the new answer's files
    # (restyle): until then they would serve the previous answer's conversation, .jsonl and references
    shut = [a.download, a.download_answers, *refs_shown]

    def close():
        return closed(*shut)

    after_answer(
        a.question.submit(close, None, shut, queue=False, api_visibility="private").then(
            h.respond, inputs, outputs, api_name="chat"
        )
    )
    after_answer(
        a.send.click(close, None, shut, queue=False, api_visibility="private").then(
            h.respond, inputs, outputs, api_visibility="private"
        )
    )
    for restyle in (a.style.change, lang.change):  # the copy text and downloads in the style and language
        restyle(h.restyle, restyled, styled, api_visibility="private")
    shown_page = [a.page_image, a.page_info]
    a.page_pick.change(bench.open_page, [a.page_pick, exchanges, lang], shown_page, api_visibility="private")
    a.cite_click.change(bench.open_page, [a.cite_click, exchanges, lang], shown_page, api_visibility="private")
    lang.change(bench.recaption, [a.page_info, lang], shown_page, api_visibility="private")
    for shown in (a.show_scores.change, lang.change):
        shown(h.rerender, [exchanges, a.show_scores, lang], [a.chat, a.sources], api_visibility="private")
    cleared = [a.chat, a.sources, exchanges, a.copy_box, a.download, a.page_pick, a.page_image, a.page_info]
    for clear in (a.new.click, a.chat.clear):  # both start a new conversation
        clear(h.new_conversation, lang, cleared, api_visibility="private").then(
            h.restyle, restyled, styled, api_visibility="private"
        )


def _wire_documents(
    d: DocumentsTab, a: AskTab, bench: Workbench, service: AppService, header: gr.Markdown, lang: gr.Radio
) -> None:
    """The Documents tab's events: upload, refresh, pick a document, save / re-index / remove it."""
    d.upload.upload(
        bench.add_documents,
        [d.upload, lang],
        [d.upload_status, d.table, a.docs, header, d.upload, d.doc_pick],
        api_name="add_documents",
    ).then(_citations(service), lang, d.citations, api_visibility="private")
    d.refresh.click(bench.refresh_documents, lang, [d.table, a.docs, header, d.doc_pick], api_name="documents")
    managed = [d.table, a.docs, header, d.doc_pick, d.library_status]
    d.doc_pick.change(
        bench.pick_document, d.doc_pick, [d.edit_title, d.edit_authors, d.edit_year], api_visibility="private"
    )
    edit_form = [d.doc_pick, d.edit_title, d.edit_authors, d.edit_year, lang]
    d.save.click(bench.library_action("save"), edit_form, managed, api_visibility="private")
    d.reindex.click(bench.library_action("reindex"), edit_form, managed, api_visibility="private")
    d.remove.click(bench.library_action("remove"), edit_form, managed, api_visibility="private")


def _labelled(a: AskTab, d: DocumentsTab, header: gr.Markdown, lang: gr.Radio) -> list:
    """The components ``Workbench.relabel`` gives new labels, in the order it returns them."""
    return [
        header, a.tab, d.tab, a.chat, a.question, a.send, a.k, a.docs, a.show_scores, a.new, a.download,
        a.download_answers, a.style, a.copy_box, a.page_pick, a.sources, d.upload, d.refresh, d.table, d.doc_pick,
        d.edit_title, d.edit_authors, d.edit_year, d.save, d.reindex, d.remove, lang,
    ]  # fmt: skip


def launch_app(
    settings: Settings, host: str = "127.0.0.1", port: int = 7860, block: bool = True, service: AppService | None = None
) -> tuple[gr.Blocks, str]:
    """Build and serve the app; returns (app, local URL). ``block=False`` returns once it is serving."""
    check_port(host, port)  # before the index loads: a busy port should fail fast
    demo = build_app(settings, service)
    # Nothing on disk is served except what Gradio itself received or produced for a session:
    # no allowed paths, and the index and upload folders explicitly blocked.
    blocked = [str(settings.index_path.resolve()), str(settings.uploads_path.resolve())]
    try:
        demo.launch(
            server_name=host,
            server_port=port,
            prevent_thread_lock=True,
            share=False,
            show_error=False,
            allowed_paths=[],
            blocked_paths=blocked,
            max_file_size=int(settings.upload_max_mb * 1024 * 1024),
            css=CSS,
            js=JS,
            ssr_mode=False,
            quiet=True,  # Gradio's own lines include a hint to edit launch() that a user cannot follow
            footer_links=["api"],
            pwa=False,
            app_kwargs={"middleware": app_middleware(settings, host)},  # Host/Origin, body size, nesting
        )
    except OSError as exc:
        demo.close()
        raise InvalidInputError(f"cannot serve on {host}:{port} ({exc}); check --host and --port") from None
    url = demo.local_url or f"http://{host}:{port}/"
    if block:
        sys.stderr.write(f"the app serves {settings.index_path} at {url} ; Ctrl+C to stop\n")
        try:
            demo.block_thread()
        finally:
            demo.close()
    return demo, url
