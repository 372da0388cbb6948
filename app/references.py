"""The References tab: the works of the latest answer, of the conversation, of the latest review, of the
library's papers, or of every work the library's papers cite, downloaded as BibTeX, RIS, CSL-JSON, or a
GB/T 7714 / APA reference list (rag.refs.bibexport's exporters, the same as `rag refs`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import gradio as gr

from app.i18n import message, pick, t
from app.review_tab import ReviewResult
from app.service import AppService, Exchange
from rag.errors import InvalidInputError, RagError
from rag.records import Bib
from rag.refs.bibexport import EXPORT_FORMATS, cited_works, export_text
from rag.review.outputs import references as review_references

SCOPES = ("answer", "conversation", "review", "library", "library_cites")
SUFFIX = {"bibtex": ".bib", "ris": ".ris", "csl-json": ".json", "gbt7714": ".txt", "apa": ".txt"}
FORMAT_NAMES = {"bibtex": "BibTeX", "ris": "RIS", "csl-json": "CSL-JSON", "gbt7714": "GB/T 7714", "apa": "APA"}


def scope_choices(lang: str) -> list[tuple[str, str]]:
    """(label, scope) of each set of works one can export, in ``lang``."""
    return [(t(lang, f"scope_{s}"), s) for s in SCOPES]


def format_choices() -> list[tuple[str, str]]:
    """(label, format) of each export format."""
    return [(FORMAT_NAMES[f], f) for f in EXPORT_FORMATS]


def _titled(doc: str, bib: Bib, title: str) -> tuple[str, Bib]:
    return doc, bib if bib.title else replace(bib, title=title or doc)


def works_of(
    scope: str, service: AppService, exchanges: Sequence[Exchange], review: ReviewResult | None
) -> list[tuple[str, Bib]]:
    """(document, record) of every work in ``scope``, each once, in order; an empty scope is an
    InvalidInputError saying what to do first."""
    answered = [ex.answer for ex in exchanges if ex.answer is not None and not ex.answer.abstained]
    index = service.assistant.retriever.index
    if scope == "answer":
        works = cited_works([list(answered[-1].citations)]) if answered else []
        if not works:
            raise InvalidInputError("no answer with sources yet; ask a question in the Ask tab first")
    elif scope == "conversation":
        works = cited_works([list(a.citations) for a in answered])
        if not works:
            raise InvalidInputError("no answer with sources yet; ask a question in the Ask tab first")
    elif scope == "review":
        if review is None:
            raise InvalidInputError("no review yet; run one in the Review tab first")
        works = [_titled(r.doc, r.bib, r.title) for r in review_references(review.records, index.docs, review.docs)]
    elif scope == "library":
        works = [_titled(d.doc_id, d.bib, d.title) for d in index.docs.values()]
    elif scope == "library_cites":
        from rag.index.store.refs import cited_works as library_cited

        works = library_cited(index.references)
        if not works:
            raise InvalidInputError("the library's papers have no reference lists the index could read")
    else:
        raise InvalidInputError(f"unknown set of references {scope!r}; pick one of: {', '.join(SCOPES)}")
    return works


def export_file(works: list[tuple[str, Bib]], fmt: str, folder: Path, scope: str) -> Path:
    """Write ``works`` in ``fmt`` to a file named after the scope; returns its path."""
    if fmt not in SUFFIX:
        raise InvalidInputError(f"unknown format {fmt!r}; use one of: {', '.join(EXPORT_FORMATS)}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"references-{scope}{SUFFIX[fmt]}"
    path.write_text(export_text(works, fmt), encoding="utf-8")
    return path


def closed(*shown: gr.components.Component) -> tuple:
    """``shown`` emptied: a status line blank, a download button closed without a file."""
    if not shown:
        return "", gr.update(value=None, interactive=False)
    return tuple("" if isinstance(c, gr.Markdown) else gr.update(value=None, interactive=False) for c in shown)


class ReferencesTab:
    """The References tab's handler (state: the service and an export folder)."""

    def __init__(self, service: AppService, root: Path):
        self.service = service
        self.root = root

    def export(self, scope, fmt, exchanges, review, lang, request: gr.Request):
        """The chosen works written in the chosen format, offered for download, with a status line."""
        lang = pick(lang)
        session = (getattr(request, "session_hash", None) or "local")[:12]
        try:
            works = works_of(str(scope), self.service, list(exchanges or []), review)
            path = export_file(works, str(fmt), self.root / session, str(scope))
        except RagError as exc:
            return f"**{message(lang, str(exc))}**", gr.update(value=None, interactive=False)
        key = "refs_ready_one" if len(works) == 1 else "refs_ready"
        status = t(lang, key, n=len(works), fmt=FORMAT_NAMES[str(fmt)], name=path.name)
        return status, gr.update(value=str(path), interactive=True)

    def build(self, lang: gr.Radio, exchanges: gr.State, review: gr.State) -> list[gr.components.Component]:
        """The tab's components and events (inside the app's Tabs); returns its status line and download."""
        with gr.Tab(t("en", "tab_refs"), id="references", elem_id="tab-references") as tab:
            scope = gr.Radio(scope_choices("en"), value="answer", label=t("en", "refs_scope"), elem_id="refs-scope")
            fmt = gr.Radio(format_choices(), value="bibtex", label=t("en", "refs_format"), elem_id="refs-format")
            with gr.Row():
                make = gr.Button(t("en", "refs_export"), variant="primary", size="sm", elem_id="refs-export")
                download = gr.DownloadButton(
                    t("en", "refs_download"), size="sm", interactive=False, elem_id="refs-download"
                )
            status = gr.Markdown(elem_id="refs-status")
        # the download closes while a new file is written (until then it would serve the previous export's);
        # the app closes it too when a question is sent (app/ui.py)
        make.click(closed, None, [status, download], queue=False, api_visibility="private").then(
            self.export, [scope, fmt, exchanges, review, lang], [status, download], api_visibility="private"
        )

        def relabel(lang_):
            lang_ = pick(lang_)
            return (
                gr.update(label=t(lang_, "tab_refs")),
                gr.update(label=t(lang_, "refs_scope"), choices=scope_choices(lang_)),
                gr.update(label=t(lang_, "refs_format")),
                gr.update(value=t(lang_, "refs_export")),
                gr.update(label=t(lang_, "refs_download")),
            )

        lang.change(relabel, lang, [tab, scope, fmt, make, download], api_visibility="private")
        return [status, download]
