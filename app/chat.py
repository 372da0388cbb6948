"""The chat tab's handlers: streamed answers, follow-ups, the copy text and exports in the chosen
style, the cited-page picker and the `ask` API endpoint. build_app (app/ui.py) wires them to the page."""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr

from app.export import answer_with_references, conversation_jsonl, conversation_markdown
from app.i18n import LANGS, browser_language, message, pick, t
from app.render import chat_messages, page_choices, sources_html
from app.service import AppService, Exchange
from rag.answer.pipeline import check_k, clean_question
from rag.errors import RagError
from rag.refs.render import check_style
from rag.settings import Settings

log = logging.getLogger(__name__)


class ChatHandlers:
    """What the chat tab's events call; one per app, shared by every session (state lives in gr.State)."""

    def __init__(self, settings: Settings, service: AppService, export_dir: Path):
        self.settings = settings
        self.service = service
        self.export_dir = export_dir

    def export(self, exchanges: list[Exchange], session: str, style: str | None = None, lang: str = "en") -> str:
        """The conversation as Markdown with its references in ``style`` (default: the configured one) and our
        own words in ``lang``, as a file."""
        idx = None if self.service.empty else self.service.assistant.retriever.index  # none: an empty library
        name, docs = (idx.path.name, idx.docs) if idx else (self.settings.index_path.name, {})
        path = self.export_dir / f"conversation-{(session or 'local')[:12]}.md"
        style = style or self.settings.answer.citation_style
        path.write_text(conversation_markdown(exchanges, name, docs, style, lang), encoding="utf-8")
        return str(path)

    def restyle(self, exchanges, style, lang, request: gr.Request):
        """Copy text, Markdown export (our words in ``lang``) and the answers as .jsonl (for `rag refs`) in the
        chosen style."""
        exchanges = list(exchanges or [])
        session = getattr(request, "session_hash", None) or "local"
        if not exchanges:
            return "", gr.update(value=None, interactive=False), gr.update(value=None, interactive=False)
        style = check_style(style, self.settings.answer.citation_style)
        lang = pick(lang)
        answers = self.export_dir / f"conversation-{session[:12]}.jsonl"
        answers.write_text(conversation_jsonl(exchanges), encoding="utf-8")
        return (
            answer_with_references(exchanges[-1], style, lang),
            gr.update(value=self.export(exchanges, session, style, lang), interactive=True),
            gr.update(value=str(answers), interactive=True),
        )

    def respond(self, question, exchanges, k, docs, show_scores, lang, request: gr.Request):
        """Stream the answer into the chat, then show its sources, copy text and export."""
        lang = pick(lang)
        exchanges = list(exchanges or [])
        q = clean_question(question)
        if not q:
            gr.Warning(t(lang, "empty_question"), title=t(lang, "warning"))
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        yield chat_messages(exchanges, (q, ""), lang), gr.skip(), gr.skip(), gr.skip(), gr.skip(), ""
        text, ex = "", None
        try:
            for item in self.service.chat(q, exchanges, None if k in (None, 0, "") else check_k(k), docs or None):
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
            answer_with_references(ex, lang=lang),
            gr.update(value=self.export(exchanges, session, lang=lang), interactive=True),
            "",
        )

    def rerender(self, exchanges, show_scores, lang):
        """The chat and sources panel again (scores shown or not; our own words in ``lang``)."""
        lang = pick(lang)
        return chat_messages(exchanges or [], lang=lang), sources_html(exchanges or [], bool(show_scores), lang)

    def new_conversation(self, lang):
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

    def ask(
        self,
        question: str,
        k: int = 0,
        docs: list[str] | None = None,
        lang: str = "",
        request: gr.Request | None = None,
    ) -> dict:
        """One stand-alone question; returns the same JSON record as `rag ask --json`. Errors are in ``lang``
        ("en" or "zh"; empty: the language of the request's Accept-Language header, else English)."""
        if lang not in LANGS:
            headers = getattr(request, "headers", None) or {}
            lang = browser_language(headers.get("accept-language"))
        try:
            return self.service.ask_record(question, None if k in (None, 0, "") else check_k(k), docs or None)
        except RagError as exc:
            raise gr.Error(message(lang, str(exc)), print_exception=False) from None
        except Exception as exc:
            log.exception("API ask failed")
            raise gr.Error(t(lang, "went_wrong_answering", kind=type(exc).__name__), print_exception=False) from None

    def cited_pages(self, exchanges):
        """The picker of the pages the conversation cites (shown when there are any); the page view and its
        caption closed (a caption left would name a page no longer shown)."""
        choices = page_choices(exchanges or [])
        return (
            gr.update(choices=choices, value=None, visible=bool(choices)),
            gr.update(value=None, visible=False),
            "",
        )
