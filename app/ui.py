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
from app.i18n import CHOICES, message, pick, t  # noqa: E402
from app.references import ReferencesTab  # noqa: E402
from app.render import (  # noqa: E402
    answer_with_references,
    chat_messages,
    citations_markdown,
    conversation_jsonl,
    conversation_markdown,
    document_headers,
    document_rows,
    page_choices,
    sources_html,
)
from app.review_tab import ReviewTab  # noqa: E402
from app.service import AppService, Exchange  # noqa: E402
from app.workbench import Workbench, doc_choices, header_text  # noqa: E402
from rag.answer.pipeline import check_k, clean_question  # noqa: E402
from rag.errors import InvalidInputError, RagError  # noqa: E402
from rag.refs.render import check_style  # noqa: E402
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

    def export(exchanges: list[Exchange], session: str, style: str = settings.citation_style) -> str:
        idx = service.assistant.retriever.index
        path = export_dir / f"conversation-{(session or 'local')[:12]}.md"
        path.write_text(conversation_markdown(exchanges, idx.path.name, idx.docs, style), encoding="utf-8")
        return str(path)

    def restyle(exchanges, style, request: gr.Request):
        """Copy text, Markdown export and the answers as .jsonl (for `rag refs`) in the chosen style."""
        exchanges = list(exchanges or [])
        session = getattr(request, "session_hash", None) or "local"
        if not exchanges:
            return "", gr.update(value=None, interactive=False), gr.update(value=None, interactive=False)
        style = check_style(style, settings.citation_style)
        answers = export_dir / f"conversation-{session[:12]}.jsonl"
        answers.write_text(conversation_jsonl(exchanges), encoding="utf-8")
        return (
            answer_with_references(exchanges[-1], style),
            gr.update(value=export(exchanges, session, style), interactive=True),
            gr.update(value=str(answers), interactive=True),
        )

    def respond(question, exchanges, k, docs, show_scores, lang, request: gr.Request):
        """Stream the answer into the chat, then show its sources, copy text and export."""
        lang = pick(lang)
        exchanges = list(exchanges or [])
        q = clean_question(question)
        if not q:
            gr.Warning(t(lang, "empty_question"))
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        yield chat_messages(exchanges, (q, ""), lang), gr.skip(), gr.skip(), gr.skip(), gr.skip(), ""
        text, ex = "", None
        try:
            for item in service.chat(q, exchanges, None if k in (None, 0, "") else check_k(k), docs or None):
                if isinstance(item, Exchange):
                    ex = item
                else:
                    text += item
                    yield (
                        chat_messages(exchanges, (q, text), lang),
                        gr.skip(),
                        gr.skip(),
                        gr.skip(),
                        gr.skip(),
                        gr.skip(),
                    )
        except RagError as exc:
            ex = Exchange(q, error=message(lang, str(exc)))
        except Exception as exc:  # never a traceback in the page; the log has it
            log.exception("answering %r failed", q[:200])
            ex = Exchange(q, error=t(lang, "went_wrong_answering", kind=type(exc).__name__))
        exchanges.append(ex)
        session = getattr(request, "session_hash", None) or "local"
        yield (
            chat_messages(exchanges, lang=lang),
            sources_html(exchanges, bool(show_scores), lang),
            exchanges,
            answer_with_references(ex),
            gr.update(value=export(exchanges, session), interactive=True),
            "",
        )

    def rerender(exchanges, show_scores, lang):
        """The chat and sources panel again (scores shown or not; our own words in ``lang``)."""
        lang = pick(lang)
        return chat_messages(exchanges or [], lang=lang), sources_html(exchanges or [], bool(show_scores), lang)

    def new_conversation(lang):
        """Empty chat, sources, copy text and export; the cited-page picker and page view closed."""
        return (
            [],
            sources_html([], lang=pick(lang)),
            [],
            "",
            gr.update(value=None, interactive=False),
            gr.update(choices=[], value=None, visible=False),
            gr.update(value=None, visible=False),
            "",
        )

    def ask(question: str, k: int = 0, docs: list[str] | None = None) -> dict:
        """One stand-alone question; returns the same JSON record as `rag ask --json`."""
        try:
            return service.ask_record(question, None if k in (None, 0, "") else check_k(k), docs or None)
        except RagError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:
            log.exception("API ask failed")
            raise gr.Error(
                f"something went wrong while answering ({type(exc).__name__})", print_exception=False
            ) from None

    def cited_pages(exchanges):
        choices = page_choices(exchanges or [])
        return gr.update(choices=choices, value=None, visible=bool(choices)), gr.update(value=None, visible=False)

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
            answered.then(restyle, [exchanges, style], styled, api_visibility="private").then(
                cited_pages, exchanges, [page_pick, page_image], api_visibility="private"
            )

        after_answer(question.submit(respond, inputs, outputs, api_name="chat"))
        after_answer(send.click(respond, inputs, outputs, api_visibility="private"))
        style.change(restyle, [exchanges, style], styled, api_visibility="private")
        page_pick.change(
            bench.open_page, [page_pick, exchanges, lang], [page_image, page_info], api_visibility="private"
        )
        cite_click.change(
            bench.open_page, [cite_click, exchanges, lang], [page_image, page_info], api_visibility="private"
        )
        for shown in (show_scores.change, lang.change):
            shown(rerender, [exchanges, show_scores, lang], [chat, sources], api_visibility="private")
        for clear in (new.click, chat.clear):  # both start a new conversation
            clear(
                new_conversation,
                lang,
                [chat, sources, exchanges, copy_box, download, page_pick, page_image, page_info],
                api_visibility="private",
            ).then(restyle, [exchanges, style], styled, api_visibility="private")
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
        gr.api(ask, api_name="ask")
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
