"""The Review tab: questions pasted or uploaded (.txt, .csv, .xlsx, .jsonl), papers picked (or all), the
review run by `rag review`'s own function (rag.review.run.run_review) with its progress shown, the
question × paper matrix on screen, and the review as XLSX, Markdown and JSONL to download."""

from __future__ import annotations

import html
import queue
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import gradio as gr

from app.i18n import LANGS, message, pick, t, where
from app.service import AppService
from rag.errors import InvalidInputError, RagError
from rag.refs.render import check_style
from rag.review.api import DISCUSSED
from rag.review.batch.inputs import Questions, read_questions
from rag.review.batch.journal import Journal
from rag.review.outputs import references, render
from rag.review.run import ReviewReport, run_review
from rag.settings import Settings

QUESTION_FILES = (".txt", ".csv", ".xlsx", ".jsonl")


@dataclass(frozen=True)
class ReviewResult:
    """One finished review of a session: its folder (review.jsonl/.md/.xlsx), questions, records, papers."""

    folder: Path
    questions: Questions
    records: Mapping
    docs: tuple[str, ...]
    style: str
    report: ReviewReport

    def path(self, suffix: str) -> Path:
        """The review file with ``suffix`` (.jsonl, .md or .xlsx)."""
        return self.folder / f"review{suffix}"


def questions_of(text: str, upload: str | None, folder: Path) -> Questions:
    """The questions of an uploaded file, else of the pasted text (one per line), read as `rag review` reads
    a questions file; none is an InvalidInputError saying what to give."""
    if upload:
        path = Path(upload)
        if path.suffix.lower() not in QUESTION_FILES:
            raise InvalidInputError(
                f"cannot read questions from '{path.suffix or path.name}' files; use .txt, .csv, .xlsx or .jsonl"
            )
        return read_questions(path)
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    if not lines:
        raise InvalidInputError("no review questions: paste one question per line or upload a questions file")
    path = folder / "questions.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return read_questions(path)


def review(
    service: AppService,
    qs: Questions,
    docs: Sequence[str] | None,
    style: str,
    folder: Path,
    progress=None,
) -> ReviewResult:
    """Review ``qs`` over ``docs`` (all when empty) with `rag review`'s run, then render its Markdown and XLSX
    from the same records."""
    if not qs.items:
        raise InvalidInputError("no usable questions: put one question per line (or a 'question' column)")
    retriever = service.assistant.retriever
    out = folder / "review.jsonl"
    chosen = list(docs) if docs else None
    # one question per run over the same journal: `rag review`'s run reports progress only per step of
    # several questions, so the page sat at "0 of n" until all were done; each run resumes the journal
    done, seconds, new = -1, 0.0, 0
    for i in range(len(qs.items)):

        def tick(d: int, n: int) -> None:
            nonlocal done
            if progress and d > done:
                done = d
                progress(d, len(qs.items))

        report = run_review(retriever, replace(qs, items=qs.items[: i + 1]), out, chosen, style, tick)
        seconds, new = seconds + report.seconds, new + report.new
    report = replace(report, new=new, resumed=len(qs.items) - new, seconds=seconds)
    journal = Journal(out, by_doc=True)
    try:
        records = dict(journal.records)
    finally:
        journal.close()
    for suffix in (".md", ".xlsx"):
        render(folder / f"review{suffix}", qs, records, retriever.index.docs, report.docs, style)
    return ReviewResult(folder, qs, records, tuple(report.docs), style, report)


def matrix_html(result: ReviewResult, docinfo: Mapping, lang: str = "en") -> str:
    """The question × paper matrix: each cell the paper's points (quote, mark, page) or "not discussed" with
    the nearest sentence; each cell carries its question row, paper and status for scripts and tests."""
    refs = {r.doc: r.n for r in references(result.records, docinfo, result.docs)}
    head = "".join(
        f'<th data-doc="{html.escape(d)}">R{refs[d]} {html.escape(getattr(docinfo.get(d), "title", "") or d)}</th>'
        for d in result.docs
    )
    rows = []
    for i, q in enumerate(result.questions.items, start=1):
        cells = []
        for d in result.docs:
            r = result.records.get((q.key, d))
            status = "" if r is None else r["status"]
            attrs = f'data-q="{i}" data-doc="{html.escape(d)}" data-status="{html.escape(status)}"'
            if r is None:
                body = "—"
            elif status == DISCUSSED:
                body = (
                    "<ol>"
                    + "".join(
                        f'<li data-page="{html.escape(str(p.get("page") or ""))}"><span class="quote">'
                        f"“{html.escape(p['quote'])}”</span> [{p['n']}]"
                        f' <span class="where">{html.escape(where(p, lang))}</span></li>'
                        for p in r["points"]
                    )
                    + "</ol>"
                )
            else:
                near = r.get("nearest") or {}
                body = f'<div class="nd">{t(lang, "not_discussed")}</div>' + (
                    f'<div class="near">{t(lang, "nearest")} ({html.escape(where(near, lang))}): '
                    f"“{html.escape(near['quote'])}”</div>"
                    if near.get("quote")
                    else ""
                )
            cells.append(f'<td class="cell" {attrs}>{body}</td>')
        rows.append(f'<tr><td>{i}</td><td class="q">{html.escape(q.question)}</td>{"".join(cells)}</tr>')
    return (
        f'<table id="review-matrix"><thead><tr><th>#</th><th>{t(lang, "col_question")}</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def summary(result: ReviewResult, lang: str) -> str:
    """One line: questions × papers, cells with points, not discussed, seconds."""
    rep = result.report
    return t(
        lang,
        "review_done",
        q=rep.questions,
        p=len(rep.docs),
        d=rep.discussed,
        n=rep.not_discussed,
        s=rep.seconds,
    )


class ReviewTab:
    """The Review tab's handler (state: the service, settings, and a folder per run)."""

    def __init__(self, service: AppService, settings: Settings, root: Path):
        self.service = service
        self.settings = settings
        self.root = root

    def empty_status(self, lang: str) -> str:
        """The Review tab's status line in an empty library: what the chat says, how to add papers."""
        return f"**{message(lang, self.service.empty_note())}**"

    def run(self, text, upload, docs, style, lang, progress=gr.Progress()):
        """Read the questions, review them (status lines while it runs), then the matrix and the downloads."""
        lang = pick(lang)
        off = gr.update(value=None, interactive=False)
        # the bar and the status line move before any work: reading an uploaded workbook of questions and
        # opening the review's journal took up to a second with the page showing nothing
        progress(0.0, desc=t(lang, "review_reading"))
        yield t(lang, "review_reading"), gr.skip(), off, off, off, None
        if self.service.empty:  # nothing to review yet: the same words as the chat's, not a question-file error
            yield self.empty_status(lang), gr.skip(), off, off, off, None
            return
        folder = Path(tempfile.mkdtemp(prefix="review-", dir=self.root))
        try:
            qs = questions_of(text, upload, folder)
            style = check_style(style, self.settings.answer.citation_style)
        except RagError as exc:
            yield f"**{message(lang, str(exc))}**", gr.skip(), off, off, off, None
            return
        total = len(qs.items)
        ticks: queue.Queue = queue.Queue()
        box: dict = {}

        def work() -> None:
            try:
                box["result"] = review(self.service, qs, docs or None, style, folder, lambda d, n: ticks.put(d))
            except RagError as exc:
                box["error"] = message(lang, str(exc))
            except Exception as exc:  # never a traceback in the page
                box["error"] = t(lang, "went_wrong", kind=type(exc).__name__)
            finally:
                ticks.put(None)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        yield t(lang, "reviewing", done=0, total=total), gr.skip(), off, off, off, None
        while True:
            done = ticks.get()
            if done is None:
                break
            progress(done / max(total, 1), desc=t(lang, "reviewing", done=done, total=total))
            yield t(lang, "reviewing", done=done, total=total), gr.skip(), off, off, off, None
        worker.join()
        if "error" in box:
            yield f"**{box['error']}**", gr.skip(), off, off, off, None
            return
        result: ReviewResult = box["result"]
        docinfo = self.service.assistant.retriever.index.docs
        yield (
            summary(result, lang),
            matrix_html(result, docinfo, lang),
            *(gr.update(value=str(result.path(s)), interactive=True) for s in (".xlsx", ".md", ".jsonl")),
            result,
        )

    def build(self, lang: gr.Radio, choices: list[tuple[str, str]], style: gr.Dropdown) -> gr.State:
        """The tab's components and events (inside the app's Tabs); returns the session's last review."""
        from app.workbench import doc_choices

        with gr.Tab(t("en", "tab_review"), id="review", elem_id="tab-review") as tab:
            result = gr.State(None)  # inside the tab: a bare child of Tabs garbles Gradio's tab bar
            with gr.Row(equal_height=False):
                text = gr.Textbox(
                    label=t("en", "review_questions"), lines=4, max_lines=20, elem_id="review-questions", scale=3
                )
                upload = gr.File(
                    label=t("en", "review_upload"), file_count="single", type="filepath", elem_id="review-upload"
                )
            with gr.Row(equal_height=True):
                docs = gr.Dropdown(
                    choices=choices, value=[], multiselect=True, label=t("en", "review_docs"), elem_id="review-docs"
                )
                run = gr.Button(t("en", "review_run"), variant="primary", elem_id="review-run", scale=0, min_width=160)
            status = gr.Markdown(elem_id="review-status")
            with gr.Row():
                xlsx = gr.DownloadButton(t("en", "review_xlsx"), size="sm", interactive=False, elem_id="review-xlsx")
                md = gr.DownloadButton(t("en", "review_md"), size="sm", interactive=False, elem_id="review-md")
                jsonl = gr.DownloadButton(t("en", "review_jsonl"), size="sm", interactive=False, elem_id="review-jsonl")
            matrix = gr.HTML("", elem_id="review-matrix-box")
        run.click(
            self.run,
            [text, upload, docs, style, lang],
            [status, matrix, xlsx, md, jsonl, result],
            api_visibility="private",
            concurrency_limit=1,  # reviews are long and CPU-bound: one at a time, the rest queue
        )

        def selected(lang_, shown):
            """The papers to pick from; an empty library's note (gone once papers are added)."""
            note = self.empty_status(pick(lang_))
            was_empty = shown in {self.empty_status(lang) for lang in LANGS}
            now = note if self.service.empty else "" if was_empty else gr.skip()
            return gr.update(choices=doc_choices(self.service)), now

        tab.select(selected, [lang, status], [docs, status], api_visibility="private")

        def relabel(lang_):
            lang_ = pick(lang_)
            return (
                gr.update(label=t(lang_, "tab_review")),
                gr.update(label=t(lang_, "review_questions")),
                gr.update(label=t(lang_, "review_upload")),
                gr.update(label=t(lang_, "review_docs")),
                gr.update(value=t(lang_, "review_run")),
                gr.update(label=t(lang_, "review_xlsx")),
                gr.update(label=t(lang_, "review_md")),
                gr.update(label=t(lang_, "review_jsonl")),
            )

        lang.change(relabel, lang, [tab, text, upload, docs, run, xlsx, md, jsonl], api_visibility="private")
        return result
