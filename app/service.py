"""What the browser app does, without the browser: the one service (rag/service.py) that `rag ask` and the
servers also call, extended with the chat's exchanges, the cited page, checked uploads and library edits
(the assistant swapped, under the service's lock, after documents are added)."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.i18n import message, t
from app.library import DocRow, doc_row
from rag.answer.conversation import QueryRewriter, Rewrite, Turn
from rag.answer.pipeline import Assistant, check_question
from rag.errors import InvalidInputError, RagError
from rag.index.store import BuildReport, DocInfo, build_index, remove_documents
from rag.index.store.boxes import passage_boxes
from rag.index.store.sidecar import read_edits, save_edit
from rag.ingest.loading import inside, read_source
from rag.ingest.pageview import PageView, render_page
from rag.ingest.pdf_guard import limits_of
from rag.records import Answer, Citation
from rag.review.ask import routed_stream
from rag.service import Service
from rag.settings import Settings

log = logging.getLogger(__name__)

UPLOAD_SUFFIXES = (".txt", ".md", ".pdf")
Progress = Callable[[float, str], None]  # (fraction done, what is happening)
CHECKING = 0.8  # the share of an upload's progress bar spent checking (reading, OCR) the files


@dataclass(frozen=True)
class Exchange:
    """One question of a session's conversation and what came of it (an answer or a message)."""

    question: str
    rewrite: Rewrite | None = None
    answer: Answer | None = None
    error: str = ""

    def turn(self) -> Turn:
        """The exchange as the follow-up rewriter sees it."""
        query = self.rewrite.query if self.rewrite else self.question
        return Turn(
            self.question, query, self.answer.answer if self.answer else "", bool(self.answer and self.answer.abstained)
        )


@dataclass
class UploadReport:
    """What adding documents did: new documents, files refused (with reasons), time taken."""

    added: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. much of a document left out by cleaning
    error: str = ""
    seconds: float = 0.0

    def markdown(self, lang: str = "en") -> str:
        """The report as shown under the upload box, in the interface language."""
        lines = []
        if self.error:
            lines.append(t(lang, "not_added") + message(lang, self.error))
        if self.added:
            lines.append(t(lang, "added", s=self.seconds) + ", ".join(f"`{d}`" for d in self.added))
        for name, reason in self.skipped:
            lines.append(f"- {t(lang, 'skipped')} `{name}`: {message(lang, reason)}")
        lines += [f"- {t(lang, 'note')}: {n}" for n in self.notes]
        return "\n".join(lines) or t(lang, "nothing")


def safe_filename(name: str) -> str:
    """A file name that cannot leave the upload folder: base name only, no leading dots, tame characters."""
    base = Path(str(name).replace("\\", "/")).name
    base = re.sub(r"[^\w.\-()]+", "_", unicodedata.normalize("NFKC", base)).lstrip("._") or "document"
    stem, dot, suffix = base.rpartition(".")
    return (stem[:100] + dot + suffix[:10]) if dot else base[:110]


def _size(n: float) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB"


class AppService(Service):
    """The app's side of the one service (rag/service.py): the loaded index and embedder (once), shared
    by all sessions, plus the chat's exchanges, the cited page, uploads and the library's edits."""

    def __init__(self, settings: Settings, assistant: Assistant | None = None, rewriter: QueryRewriter | None = None):
        super().__init__(settings, assistant, rewriter)
        self._build = threading.Lock()  # one index build at a time

    def citation_graph(self) -> dict:
        """The index's citation graph ({"nodes", "edges"}, as `rag refs --graph --json` prints it)."""
        from rag.index.store.refs import citation_graph

        index = self.assistant.retriever.index
        return citation_graph(index.references, index.docs)

    def is_uploaded(self, doc: DocInfo) -> bool:
        """Whether a document was added from the browser."""
        return inside(Path(doc.path), self.settings.uploads_path)

    # --- questions ------------------------------------------------------------------------------

    def chat(
        self, question: str, history: Sequence[Exchange] = (), k: int | None = None, docs: Iterable[str] | None = None
    ) -> Iterator[str | Exchange]:
        """Answer text pieces as they come, then the finished Exchange (follow-ups rewritten first)."""
        q = check_question(question, self.settings.max_question_chars)
        rw = self.rewriter.rewrite(q, [e.turn() for e in history if e.answer is not None])
        if len(rw.query) > self.settings.max_question_chars:
            rw = Rewrite(q, q)
        for piece in routed_stream(self.assistant, rw.query, k or None, list(docs) if docs else None):
            yield Exchange(q, rw, piece) if isinstance(piece, Answer) else piece

    # --- the cited page -------------------------------------------------------------------------

    def page_view(self, citation: Citation) -> PageView:
        """The PDF page a citation points at, rendered with its quote marked. Only a document of the
        index is opened, from the path the index recorded, and only while its bytes are the ones
        indexed; anything else is an InvalidInputError saying why."""
        doc = self.assistant.retriever.index.docs.get(citation.doc)
        if doc is None or not citation.page:
            raise InvalidInputError(f"`{citation.doc}` has no pages to show (only PDFs of this index do)")
        path = Path(doc.path)
        try:
            data = path.read_bytes()
        except OSError:
            raise InvalidInputError(f"the source of `{doc.doc_id}` is gone from {path}; re-index it") from None
        if hashlib.sha256(data).hexdigest() != doc.sha256:
            raise InvalidInputError(f"`{doc.doc_id}` changed since it was indexed; re-index it to open its pages")
        index = self.assistant.retriever.index
        stored = index.boxes  # None: an index built before line boxes were kept (the page is searched)
        spans = passage_boxes(stored, citation.chunk_id) if stored is not None else None
        try:
            return render_page(path, citation.page, citation.quote, text=citation.text, spans=spans)
        except Exception as exc:  # a broken page must not take the app down
            log.exception("rendering %s p. %s failed", doc.doc_id, citation.page)
            raise InvalidInputError(
                f"cannot render page {citation.page} of `{doc.doc_id}` ({type(exc).__name__})"
            ) from None

    # --- adding documents -----------------------------------------------------------------------

    def check_upload(self, path: Path, name: str, progress: Progress | None = None) -> str:
        """Why an uploaded file cannot be added ('' when it can); ``progress`` follows the OCR of its pages."""
        if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
            return f"unsupported type '{Path(name).suffix or 'none'}' (use .txt, .md or .pdf)"
        size = path.stat().st_size
        limit = self.settings.upload_max_mb * 1024 * 1024
        if size > limit:
            return f"{_size(size)} is over the {_size(limit)} upload limit"
        if size == 0:
            return "empty file"
        if Path(name).suffix.lower() == ".pdf":
            with open(path, "rb") as fh:
                if not fh.read(1024).lstrip().startswith(b"%PDF"):
                    return "not a PDF file (no %PDF header)"
        try:
            ocr = (
                (lambda stage, done, total: progress(done / max(total, 1), f"{stage} {done}/{total}"))
                if progress
                else None
            )
            src = read_source(path, name, ocr, limits=limits_of(self.settings))
        except Exception as why:  # loading's skip reasons: binary, empty, broken PDF, no text layer
            return str(why)
        dup = next((d.doc_id for d in self.documents() if d.sha256 == src.sha256), None)
        return f"already in the index as `{dup}`" if dup else ""

    def add_documents(self, files: Sequence[str | Path], progress: Progress | None = None) -> UploadReport:
        """Check, save and index uploaded files, then answer from the new index; bad files are reported."""
        t0 = time.perf_counter()
        report = UploadReport()
        tick = progress or (lambda frac, desc: None)
        with self._build:
            tick(0.0, "checking files")
            folder = self.settings.uploads_path
            folder.mkdir(parents=True, exist_ok=True)
            saved: list[tuple[Path, str]] = []
            for i, f in enumerate(files):
                src = Path(f if isinstance(f, (str, Path)) else getattr(f, "path", None) or getattr(f, "name", ""))
                name = safe_filename(src.name)
                # checking reads (and OCRs) each file: the slow part of an upload, so the bar moves per file and
                # per OCR'd page; the index build after it reuses what was read
                part = lambda frac, desc, i=i: tick(CHECKING * (i + frac) / len(files), desc)  # noqa: E731
                part(0.0, f"reading {src.name}")
                reason = self.check_upload(src, name, part) if src.is_file() else "the upload did not arrive; try again"
                if reason:
                    report.skipped.append((src.name, reason))
                    continue
                dest = folder / name
                n = 2
                while dest.exists() or any(d == dest for d, _ in saved):
                    dest = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
                    n += 1
                shutil.copyfile(src, dest)
                saved.append((dest, src.name))
            if saved:
                try:
                    self._reindex(saved, report, lambda frac, desc: tick(CHECKING + (1 - CHECKING) * frac, desc))
                except RagError as exc:
                    report.error = str(exc)
                except Exception as exc:  # never lose the running index over one upload
                    log.exception("adding documents failed")
                    report.error = f"indexing failed ({type(exc).__name__}); the index is unchanged"
                if report.error:
                    for dest, _ in saved:
                        dest.unlink(missing_ok=True)
        report.seconds = time.perf_counter() - t0
        tick(1.0, "done")
        return report

    # --- the library manager --------------------------------------------------------------------

    def library(self) -> list[DocRow]:
        """One row per indexed document, in index order."""
        index = self.assistant.retriever.index
        edits = read_edits(self.settings)
        return [
            doc_row(d, [index.chunks[i] for i in index.doc_range(d.doc_id)], self.is_uploaded(d), d.doc_id in edits)
            for d in index.docs.values()
        ]

    def _known(self, doc_id: str) -> DocInfo:
        doc = self.assistant.retriever.index.docs.get(str(doc_id or ""))
        if doc is None:
            raise InvalidInputError("pick a document of the index first")
        return doc

    def remove_document(self, doc_id: str) -> float:
        """Drop a document from the index (an uploaded one's file too, so no later upload brings it
        back); returns the seconds it took."""
        t0 = time.perf_counter()
        with self._build:
            doc = self._known(doc_id)
            remove_documents([doc.doc_id], self.settings)
            if self.is_uploaded(doc):
                Path(doc.path).unlink(missing_ok=True)
            self._swap_in()
        return time.perf_counter() - t0

    def edit_metadata(self, doc_id: str, title: str, authors: str, year: str, tick: Progress | None = None) -> float:
        """Save the user's title, authors and year for a document (rag/index/store/sidecar.py) and rebuild so the
        index shows them; returns the seconds it took."""
        t0 = time.perf_counter()
        with self._build:
            doc = self._known(doc_id)
            save_edit(self.settings, doc.doc_id, title, authors, year)
            self._rebuild(tick or (lambda frac, desc: None))
            self._swap_in()
        return time.perf_counter() - t0

    def reindex_document(self, doc_id: str, tick: Progress | None = None) -> float:
        """Read one document again from its source (nothing else recomputed); returns the seconds."""
        t0 = time.perf_counter()
        with self._build:
            doc = self._known(doc_id)
            if not Path(doc.path).is_file():
                raise InvalidInputError(f"the source of `{doc.doc_id}` is gone from {doc.path}; it cannot be re-read")
            self._rebuild(tick or (lambda frac, desc: None), refresh={doc.doc_id})
            self._swap_in()
        return time.perf_counter() - t0

    def _swap_in(self) -> set[str]:
        """Open the index as now on disk and answer from it; returns the ids it did not have before."""
        return self.swap_in(Assistant.open(self.settings))

    def _reindex(self, saved: list[tuple[Path, str]], report: UploadReport, tick: Progress) -> None:
        folder = self.settings.uploads_path
        built = self._rebuild(tick)
        originals = {str(dest.resolve()): orig for dest, orig in saved}
        dup_ids = {d.doc_id for d in built.duplicates}
        report.notes = [n for n in built.notes if not any(n.startswith(f"{d} is a duplicate") for d in dup_ids)]
        for dup in built.duplicates:
            p = Path(dup.path)
            if inside(p, folder):
                p.unlink(missing_ok=True)  # a duplicate must not linger and be re-reported on every upload
            report.skipped.append((originals.get(str(p.resolve()), p.name), f"duplicate of `{dup.of}` ({dup.reason})"))
        for sk in built.skipped:
            p = Path(sk.path)
            if inside(p, folder):
                p.unlink(missing_ok=True)  # a bad file must not linger and be re-reported on every upload
                report.skipped.append((originals.get(str(p.resolve()), p.name), sk.reason))
        added = self._swap_in()
        report.added = [d for d in self.assistant.retriever.index.docs if d in added]

    def _rebuild(self, tick: Progress, refresh: set[str] | None = None) -> BuildReport:
        """Build the index again from its own sources (indexed files outside the upload folder, and the
        upload folder) with its own chunking; ``refresh``: documents read again even if unchanged."""
        current = self.assistant
        index = current.retriever.index
        folder = self.settings.uploads_path
        others = [Path(d.path) for d in index.docs.values() if not inside(Path(d.path), folder)]
        missing = [p for p in others if not p.is_file()]
        if missing:
            raise InvalidInputError(
                f"the sources of {len(missing)} indexed documents are missing (e.g. {missing[0]}); "
                "rebuild the index with: rag index PATH"
            )
        ch = index.params.get("chunking", {})
        # rebuild with the index's own chunking so every unchanged passage comes from the embedding cache
        build_settings = self.settings.model_copy(
            update={
                k: v
                for k, v in (
                    ("chunk_size", ch.get("size")),
                    ("chunk_overlap", ch.get("overlap")),
                    ("passage_context", ch.get("context")),
                )
                if v is not None
            }
        )

        def on_progress(stage: str, done: int, total: int) -> None:
            tick(0.1 + 0.85 * done / max(total, 1) if stage.startswith("embedding") else 0.95, stage)

        tick(0.05, "reading documents")
        built = build_index(
            [*others, folder],
            build_settings,
            progress=on_progress,
            embedder=current.retriever.embedder,
            refresh=refresh or (),
        )
        return built
