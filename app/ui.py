"""The Gradio Blocks app: chat with streamed, cited answers; a sources panel; a documents panel;
and an API endpoint returning the `rag ask --json` record. Start it with `rag app`."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry or version checks

import gradio as gr  # noqa: E402

from app.render import (  # noqa: E402
    answer_with_references,
    chat_messages,
    citation_of,
    citations_markdown,
    conversation_jsonl,
    conversation_markdown,
    document_rows,
    page_choices,
    sources_html,
)
from app.service import AppService, Exchange  # noqa: E402
from rag.errors import InvalidInputError, RagError  # noqa: E402
from rag.pipeline import check_k, clean_question  # noqa: E402
from rag.render import check_style  # noqa: E402
from rag.servers.service import check_port  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.styles import STYLES  # noqa: E402

log = logging.getLogger(__name__)

DOC_HEADERS = ["document", "title", "authors", "passages", "footnotes", "source"]

# Clicking an [n] marker (a link to #src-<turn>-<n>) shows that answer's sources and marks the passage.
JS = """
() => {
  if (window.__ragCites) return;
  window.__ragCites = true;
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest ? ev.target.closest('a[href^="#src-"]') : null;
    if (!a) return;
    ev.preventDefault();
    ev.stopPropagation();
    const card = document.getElementById(a.getAttribute('href').slice(1));
    if (!card) return;
    const turn = card.closest('section.turn');
    document.querySelectorAll('.rag-sources section.turn').forEach((s) => s.classList.toggle('current', s === turn));
    document.querySelectorAll('.rag-sources .passage.active').forEach((p) => p.classList.remove('active'));
    card.classList.add('active');
    card.scrollIntoView({block: 'nearest', behavior: 'smooth'});
  }, true);
}
"""

CSS = """
.rag-sources section.turn { display: none; }
.rag-sources section.turn.current { display: block; }
.rag-sources .turn-head { font-weight: 600; margin-bottom: 4px; }
.rag-sources .turn-note { margin: 6px 0; }
.rag-sources .abstain { color: #b45309; font-weight: 600; }
.rag-sources .passage { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px;
  margin: 8px 0; background: var(--block-background-fill); }
.rag-sources .passage.active { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent-soft); }
.rag-sources .p-num { color: var(--color-accent); font-weight: 700; margin-right: 4px; }
.rag-sources .p-title { font-weight: 600; }
.rag-sources .p-meta, .rag-sources .p-scores { font-size: 0.85em; color: var(--body-text-color-subdued); }
.rag-sources .p-text { margin-top: 4px; line-height: 1.65; }
.rag-sources mark.quote { background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px; }
.rag-sources .empty { color: var(--body-text-color-subdued); padding: 8px; }
.rag-sources table { font-size: 0.8em; }
#chat a.cite { text-decoration: none; font-weight: 700; font-size: 0.8em; vertical-align: super; padding: 0 3px;
  border-radius: 4px; background: var(--color-accent-soft); cursor: pointer; }
#chat .abstain { color: #b45309; font-weight: 700; }
#chat .searched { font-size: 0.8em; color: var(--body-text-color-subdued); }
#chat .rag-error { color: #b91c1c; }
"""


def _header(service: AppService) -> str:
    idx = service.assistant.retriever.index
    return (
        f"## rag — cited answers over your papers\n"
        f"Index `{idx.path.name}`: {len(idx.docs)} documents, {len(idx.chunks)} passages · "
        f"embedder `{idx.embedder_id}` · answers quote the papers and cite every sentence."
    )


def _doc_choices(service: AppService) -> list[tuple[str, str]]:
    return [(f"{d.title} ({d.doc_id})" if d.title else d.doc_id, d.doc_id) for d in service.documents()]


def _doc_table(service: AppService) -> list[list]:
    docs = service.documents()
    return document_rows(docs, [service.is_uploaded(d) for d in docs])


def build_app(settings: Settings, service: AppService | None = None) -> gr.Blocks:
    """The Blocks app over ``settings``' index (loaded once here, shared by every session)."""
    service = service or AppService(settings)
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

    def respond(question, exchanges, k, docs, show_scores, request: gr.Request):
        """Stream the answer into the chat, then show its sources, copy text and export."""
        exchanges = list(exchanges or [])
        q = clean_question(question)
        if not q:
            gr.Warning("The question is empty: type a question.")
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        yield chat_messages(exchanges, (q, "")), gr.skip(), gr.skip(), gr.skip(), gr.skip(), ""
        text, ex = "", None
        try:
            for item in service.stream(q, exchanges, None if k in (None, 0, "") else check_k(k), docs or None):
                if isinstance(item, Exchange):
                    ex = item
                else:
                    text += item
                    yield chat_messages(exchanges, (q, text)), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except RagError as exc:
            ex = Exchange(q, error=str(exc))
        except Exception as exc:  # never a traceback in the page; the log has it
            log.exception("answering %r failed", q[:200])
            ex = Exchange(
                q,
                error=f"something went wrong while answering ({type(exc).__name__}); "
                "try rephrasing the question — the server log has the details",
            )
        exchanges.append(ex)
        session = getattr(request, "session_hash", None) or "local"
        yield (
            chat_messages(exchanges),
            sources_html(exchanges, bool(show_scores)),
            exchanges,
            answer_with_references(ex),
            gr.update(value=export(exchanges, session), interactive=True),
            "",
        )

    def rerender(exchanges, show_scores):
        return sources_html(exchanges or [], bool(show_scores))

    def new_conversation():
        return [], sources_html([]), [], "", gr.update(value=None, interactive=False)

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

    def open_page(choice, exchanges):
        """The cited PDF page, rendered from the index's own source with the quote marked."""
        cite = citation_of(exchanges or [], choice)
        if cite is None:
            return gr.update(value=None, visible=False)
        try:
            view = service.page_view(cite)
        except RagError as exc:
            gr.Warning(str(exc))
            return gr.update(value=None, visible=False)
        note = "" if view.marked else " (the quote was not found on the page)"
        return gr.update(value=view.image, visible=True, label=f"{cite.doc}, p. {view.page}{note}")

    def refresh_documents():
        return _doc_table(service), gr.update(choices=_doc_choices(service)), _header(service)

    def add_documents(files, progress=gr.Progress()):
        """Check, save and index uploaded files; report what was added and what was refused."""
        if not files:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        paths = files if isinstance(files, list) else [files]
        report = service.add_documents(paths, progress=lambda frac, desc: progress(frac, desc=desc))
        table, choices, header = refresh_documents()
        return report.markdown(), table, choices, header, None

    # delete_cache: Gradio's copies of uploads and exports older than a day go, checked hourly
    with gr.Blocks(
        title="rag — cited answers over your papers", analytics_enabled=False, delete_cache=(3600, 86400)
    ) as demo:
        exchanges = gr.State([])
        header = gr.Markdown(_header(service), elem_id="header")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
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
                            placeholder="Ask in Chinese or English, e.g. 世界互联网大会国际组织总部设在哪里？ "
                            "Follow-up questions keep the conversation's subject.",
                        )
                        with gr.Row(equal_height=True):
                            question = gr.Textbox(
                                show_label=False,
                                placeholder="Ask about the papers…",
                                lines=1,
                                max_lines=6,
                                scale=8,
                                elem_id="question",
                                autofocus=True,
                            )
                            send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask-btn")
                        with gr.Row(equal_height=True):
                            k = gr.Slider(
                                1,
                                20,
                                value=settings.top_k,
                                step=1,
                                label="Passages to retrieve",
                                scale=2,
                                elem_id="top-k",
                            )
                            docs = gr.Dropdown(
                                choices=_doc_choices(service),
                                value=[],
                                multiselect=True,
                                scale=3,
                                label="Only these documents (empty: all)",
                                elem_id="doc-filter",
                            )
                            show_scores = gr.Checkbox(
                                label="Show retrieval scores", value=False, scale=1, elem_id="show-scores"
                            )
                        with gr.Row():
                            new = gr.Button("New conversation", size="sm", elem_id="new-conversation")
                            download = gr.DownloadButton(
                                "Download conversation (.md)",
                                value=None,
                                size="sm",
                                interactive=False,
                                elem_id="download",
                            )
                            download_answers = gr.DownloadButton(
                                "Download answers (.jsonl, for rag refs)",
                                value=None,
                                size="sm",
                                interactive=False,
                                elem_id="download-answers",
                            )
                            style = gr.Dropdown(
                                choices=list(STYLES),
                                value=settings.citation_style,
                                label="Reference style",
                                scale=1,
                                elem_id="citation-style",
                            )
                    with gr.Column(scale=2):
                        sources = gr.HTML(sources_html([]), elem_id="sources", label="Sources", max_height=640)
                        copy_box = gr.Textbox(
                            label="Answer with references (copy)",
                            lines=3,
                            max_lines=12,
                            interactive=False,
                            buttons=["copy"],
                            elem_id="copy-answer",
                        )
                        page_pick = gr.Dropdown(
                            choices=[],
                            value=None,
                            label="Open a cited PDF page (the quote is marked)",
                            visible=False,
                            elem_id="page-pick",
                        )
                        page_image = gr.Image(
                            type="pil",
                            format="png",
                            interactive=False,
                            visible=False,
                            buttons=["fullscreen"],
                            elem_id="page-view",
                        )
            with gr.Tab("Documents", id="documents"):
                table = gr.Dataframe(
                    value=_doc_table(service), headers=DOC_HEADERS, interactive=False, wrap=True, elem_id="documents"
                )
                upload = gr.File(
                    label=f"Add documents (.txt, .md or .pdf, at most {settings.upload_max_mb:g} MB each): "
                    "they are indexed at once and searchable when the report below appears",
                    # no file_types: Gradio would refuse a whole batch for one bad file; we report each
                    file_count="multiple",
                    elem_id="upload",
                )
                upload_status = gr.Markdown(elem_id="upload-status")
                refresh = gr.Button("Refresh list", size="sm")
                citations = gr.Markdown(citations_markdown(service.citation_graph()), elem_id="citations")

        outputs = [chat, sources, exchanges, copy_box, download, question]
        inputs = [question, exchanges, k, docs, show_scores]
        styled = [copy_box, download, download_answers]

        def after_answer(answered) -> None:
            """An answer's follow-up steps: its copy text and export in the chosen style, then its cited pages."""
            answered.then(restyle, [exchanges, style], styled, api_visibility="private").then(
                cited_pages, exchanges, [page_pick, page_image], api_visibility="private"
            )

        after_answer(question.submit(respond, inputs, outputs, api_name="chat"))
        after_answer(send.click(respond, inputs, outputs, api_visibility="private"))
        style.change(restyle, [exchanges, style], styled, api_visibility="private")
        page_pick.change(open_page, [page_pick, exchanges], page_image, api_visibility="private")
        show_scores.change(rerender, [exchanges, show_scores], sources, api_visibility="private")
        for clear in (new.click, chat.clear):  # both start a new conversation
            clear(
                new_conversation, None, [chat, sources, exchanges, copy_box, download], api_visibility="private"
            ).then(restyle, [exchanges, style], styled, api_visibility="private")

        def show_citations() -> str:
            return citations_markdown(service.citation_graph())

        upload.upload(
            add_documents, upload, [upload_status, table, docs, header, upload], api_name="add_documents"
        ).then(show_citations, None, citations, api_visibility="private")
        refresh.click(refresh_documents, None, [table, docs, header], api_name="documents")
        demo.load(refresh_documents, None, [table, docs, header], api_visibility="private")
        for event in (refresh.click, demo.load):  # who cites whom (after an upload too, above)
            event(show_citations, None, citations, api_visibility="private")
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
