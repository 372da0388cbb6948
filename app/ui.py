"""The Gradio Blocks app: chat with streamed, cited answers; a sources panel; a documents panel;
and an API endpoint returning the `rag ask --json` record. Start it with `rag app`."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry or version checks

import gradio as gr  # noqa: E402

from app.assets import CSS, JS  # noqa: E402
from app.chat import ChatHandlers  # noqa: E402
from app.i18n import CHOICES, t  # noqa: E402
from app.references import ReferencesTab  # noqa: E402
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
            with gr.Tab(t("en", "tab_ask"), id="ask") as tab_ask:
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
                            send = gr.Button(
                                t("en", "ask"), variant="primary", scale=1, min_width=80, elem_id="ask-btn"
                            )
                        with gr.Row(equal_height=True):
                            k = gr.Slider(
                                1, 20, value=settings.top_k, step=1, label=t("en", "top_k"), scale=2, elem_id="top-k"
                            )
                            docs = gr.Dropdown(
                                choices=doc_choices(service),
                                value=[],
                                multiselect=True,
                                scale=3,
                                label=t("en", "doc_filter"),
                                elem_id="doc-filter",
                            )
                            show_scores = gr.Checkbox(
                                label=t("en", "show_scores"), value=False, scale=1, elem_id="show-scores"
                            )
                        with gr.Row():
                            new = gr.Button(t("en", "new_conversation"), size="sm", elem_id="new-conversation")
                            download = gr.DownloadButton(
                                t("en", "download_md"), value=None, size="sm", interactive=False, elem_id="download"
                            )
                            download_answers = gr.DownloadButton(
                                t("en", "download_jsonl"),
                                value=None,
                                size="sm",
                                interactive=False,
                                elem_id="download-answers",
                            )
                            style = gr.Dropdown(
                                choices=list(STYLES),
                                value=settings.citation_style,
                                label=t("en", "style"),
                                scale=1,
                                elem_id="citation-style",
                            )
                    with gr.Column(scale=2):
                        sources = gr.HTML(sources_html([]), elem_id="sources", label="Sources", max_height=640)
                        copy_box = gr.Textbox(
                            label=t("en", "copy"),
                            lines=3,
                            max_lines=12,
                            interactive=False,
                            buttons=["copy"],
                            elem_id="copy-answer",
                        )
                        page_pick = gr.Dropdown(
                            choices=[], value=None, label=t("en", "page_pick"), visible=False, elem_id="page-pick"
                        )
                        page_image = gr.Image(
                            type="pil",
                            format="png",
                            interactive=False,
                            visible=False,
                            buttons=["fullscreen"],
                            elem_id="page-view",
                        )
                        page_info = gr.HTML("", elem_id="page-caption")
                        # written by the page script when an [n] of a PDF passage is clicked ("turn:n")
                        cite_click = gr.Textbox(value="", show_label=False, elem_id="cite-click", container=False)
            with gr.Tab(t("en", "tab_docs"), id="documents") as tab_docs:
                table = gr.Dataframe(
                    value=document_rows(service.library()),
                    headers=document_headers(),
                    interactive=False,
                    wrap=True,
                    elem_id="documents",
                )
                with gr.Row(equal_height=True):
                    doc_pick = gr.Dropdown(
                        choices=doc_choices(service),
                        value=None,
                        label=t("en", "doc_pick"),
                        elem_id="doc-pick",
                        scale=3,
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
            review = ReviewTab(service, settings, export_dir).build(lang, doc_choices(service), style)
            ReferencesTab(service, export_dir / "references").build(lang, exchanges, review)

        outputs = [chat, sources, exchanges, copy_box, download, question]
        inputs = [question, exchanges, k, docs, show_scores, lang]
        styled = [copy_box, download, download_answers]
        labelled = [
            header,
            tab_ask,
            tab_docs,
            chat,
            question,
            send,
            k,
            docs,
            show_scores,
            new,
            download,
            download_answers,
            style,
            copy_box,
            page_pick,
            upload,
            refresh,
            table,
            doc_pick,
            edit_title,
            edit_authors,
            edit_year,
            save,
            reindex,
            remove,
            lang,
        ]

        def after_answer(answered) -> None:
            """An answer's follow-up steps: its copy text and export in the chosen style, then its cited pages."""
            answered.then(h.restyle, [exchanges, style], styled, api_visibility="private").then(
                h.cited_pages, exchanges, [page_pick, page_image], api_visibility="private"
            )

        after_answer(question.submit(h.respond, inputs, outputs, api_name="chat"))
        after_answer(send.click(h.respond, inputs, outputs, api_visibility="private"))
        style.change(h.restyle, [exchanges, style], styled, api_visibility="private")
        page_pick.change(
            bench.open_page, [page_pick, exchanges, lang], [page_image, page_info], api_visibility="private"
        )
        cite_click.change(
            bench.open_page, [cite_click, exchanges, lang], [page_image, page_info], api_visibility="private"
        )
        for shown in (show_scores.change, lang.change):
            shown(h.rerender, [exchanges, show_scores, lang], [chat, sources], api_visibility="private")
        for clear in (new.click, chat.clear):  # both start a new conversation
            clear(
                h.new_conversation,
                lang,
                [chat, sources, exchanges, copy_box, download, page_pick, page_image, page_info],
                api_visibility="private",
            ).then(h.restyle, [exchanges, style], styled, api_visibility="private")
        upload.upload(
            bench.add_documents,
            [upload, lang],
            [upload_status, table, docs, header, upload, doc_pick],
            api_name="add_documents",
        ).then(lambda: citations_markdown(service.citation_graph()), None, citations, api_visibility="private")
        refresh.click(bench.refresh_documents, lang, [table, docs, header], api_name="documents")
        managed = [table, docs, header, doc_pick, library_status]
        doc_pick.change(bench.pick_document, doc_pick, [edit_title, edit_authors, edit_year], api_visibility="private")
        edit_form = [doc_pick, edit_title, edit_authors, edit_year, lang]
        save.click(bench.library_action("save"), edit_form, managed, api_visibility="private")
        reindex.click(bench.library_action("reindex"), edit_form, managed, api_visibility="private")
        remove.click(bench.library_action("remove"), edit_form, managed, api_visibility="private")
        lang.change(bench.relabel, lang, labelled, api_visibility="private")
        demo.load(bench.browser_lang, None, lang, api_visibility="private").then(
            bench.refresh_documents, lang, [table, docs, header], api_visibility="private"
        )
        for event in (refresh.click, demo.load):  # who cites whom (after an upload too, above)
            event(lambda: citations_markdown(service.citation_graph()), None, citations, api_visibility="private")
        gr.api(h.ask, api_name="ask")
    demo.queue(default_concurrency_limit=settings.app_concurrency, max_size=256)
    demo.rag_service = service  # for tests and the launcher
    return demo


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
            quiet=not block,
            footer_links=["api"],
            pwa=False,
            app_kwargs={"middleware": app_middleware(settings, host)},  # Host/Origin, body size, nesting
        )
    except OSError as exc:
        demo.close()
        raise InvalidInputError(f"cannot serve on {host}:{port} ({exc}); check --host and --port") from None
    url = demo.local_url or f"http://{host}:{port}/"
    if block:
        try:
            demo.block_thread()
        finally:
            demo.close()
    return demo, url
