"""The one facade over index, answer and review that every interface calls: `rag ask`, the app
(app/service.py extends it with uploads and the library), the OpenAI-compatible API and MCP. It holds the
assistant loaded once per process (swapped under a lock when the index changes), a bound on the questions
answered at once (the rest wait), a chat's earlier turns turned into a follow-up rewrite, and the passage
look-ups the MCP tools return. Questions and ``k`` are checked the same way for every caller."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from rag.answer.conversation import HeuristicRewriter, QueryRewriter, Rewrite, Turn, make_rewriter
from rag.answer.pipeline import MAX_K, Assistant, check_k, check_question, clean_question
from rag.errors import EmptyLibraryError, InvalidInputError, RagError
from rag.index.store import DocInfo
from rag.index.store.layout import unbuilt
from rag.lang.text import has_words
from rag.records import Answer, Chunk
from rag.refs.render import md_answer, md_answer_text
from rag.review.ask import routed_stream
from rag.settings import Settings

log = logging.getLogger(__name__)

MAX_NEIGHBOURS = 5
HISTORY_TURNS = 8


def model_name(settings: Settings) -> str:
    """The model id the index is served under: "rag:" and the index's folder name ("rag:default")."""
    return f"rag:{settings.index_path.name}"


def check_port(host: str, port: int) -> None:
    """Fail fast, before the index loads, when ``host:port`` cannot be listened on (the app, `rag serve`
    and `rag mcp` alike)."""
    import errno
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except (OSError, OverflowError) as exc:
        if getattr(exc, "errno", None) == errno.EADDRINUSE:
            raise InvalidInputError(f"port {port} on {host} is in use; pick another with --port") from None
        why = getattr(exc, "strerror", None) or str(exc)
        raise InvalidInputError(f"cannot listen on {host}:{port} ({why}); pick another --port or --host") from None


def passage_record(c: Chunk) -> dict[str, Any]:
    """A passage as the tools return it: id, document, title, section, kind and text."""
    return {
        "chunk_id": c.chunk_id,
        "doc": c.doc_id,
        "title": c.title,
        "section": c.section,
        "kind": c.kind,
        "text": c.text,
    }


def _docs(docs: Iterable[str] | None) -> list[str] | None:
    """Document ids to restrict to (None: all); a bare string is one id."""
    if docs is None:
        return None
    chosen = [docs] if isinstance(docs, str) else [d for d in docs if isinstance(d, str) and d.strip()]
    return chosen or None


class Service:
    """One index answered from: the Assistant (index, embedder and generator loaded once) shared by every
    request of every interface."""

    def __init__(
        self,
        settings: Settings,
        assistant: Assistant | None = None,
        rewriter: QueryRewriter | None = None,
        warm: bool = True,
        empty_ok: bool = False,
    ):
        self.settings = settings
        # empty_ok (the app): no index built at the path yet is an empty library to add papers to, not an error;
        # anything at the path that is not a whole index is still refused by Assistant.open
        empty = assistant is None and empty_ok and unbuilt(settings.index_path)
        self._assistant: Assistant | None = None if empty else assistant or Assistant.open(settings)
        self._swap = threading.Lock()  # guards the assistant swapped in after the index changed
        self.rewriter = rewriter or make_rewriter(settings)
        self.model = model_name(settings)
        # questions answered at once; the embedding engine serialises itself (rag/index/embedding.py), this bounds
        # the threads waiting on it and the memory of answers in flight
        self._slots = threading.BoundedSemaphore(settings.serve.concurrency)
        # an extractive answer streams its final text; a model's draft is checked first and sent once checked
        self.live = self._assistant is None or self._assistant.generator.name == "extractive"
        if (
            warm and self._assistant is not None
        ):  # a long-running server pays the first question's start-up once; a one-shot `rag ask` does not
            self.warm_up()

    @property
    def assistant(self) -> Assistant:
        """The current assistant (a request keeps the one it started with); EmptyLibraryError before the
        first documents of an empty library are indexed."""
        with self._swap:
            current = self._assistant
        if current is None:
            raise EmptyLibraryError(self.empty_note())
        return current

    @property
    def empty(self) -> bool:
        """Whether no index is loaded yet (an app started on an empty library)."""
        with self._swap:
            return self._assistant is None

    def empty_note(self) -> str:
        """What an empty library says to a question: nothing is indexed, and how to add papers."""
        name = self.settings.store.index
        return f"no papers are indexed yet (no index at {self.settings.index_path}); add some with: rag index FOLDER --index {name}"

    def swap_in(self, fresh: Assistant) -> set[str]:
        """Answer from ``fresh`` from now on; returns the document ids it has that the old one had not."""
        with self._swap:
            before = set(self._assistant.retriever.index.docs) if self._assistant is not None else set()
            self._assistant = fresh
            self.live = fresh.generator.name == "extractive"
        return set(fresh.retriever.index.docs) - before

    def warm_up(self) -> None:
        """Run one question through every lazy initialisation (jieba, OpenCC, the C engine)."""
        try:
            self.assistant.ask("warm up 预热", k=1)
            # the heuristic rewriter loads jieba; a model rewriter's model is not called at start-up
            HeuristicRewriter().rewrite("它是什么？", [Turn("数据治理是什么？", "数据治理是什么？")])
        except RagError:
            pass

    @property
    def authors(self) -> dict[str, tuple[str, ...]]:
        """Authors of every indexed document, by id (for reference lists)."""
        return {d.doc_id: d.authors for d in self.assistant.retriever.index.docs.values()}

    # --- chat -----------------------------------------------------------------------------------

    def history(self, earlier: Sequence[tuple[str, str]]) -> list[Turn]:
        """The earlier (question, reply) pairs of a chat as the rewriter sees them: each question
        rewritten from the ones before it (heuristically: no model call per old turn), each reply cut
        to its answer text (the Markdown sources dropped)."""
        turns: list[Turn] = []
        heuristic = HeuristicRewriter()
        # a follow-up is rewritten from the last turn (the model's rewrite reads the last three): older
        # turns would only cost time, so the last HISTORY_TURNS are read
        for question, reply in list(earlier)[-HISTORY_TURNS:]:
            q = clean_question(question)
            if not q or not has_words(q) or len(q) > self.settings.answer.max_question_chars:
                continue
            query = heuristic.rewrite(q, turns).query if turns else q
            text, refused = md_answer_text(reply)
            turns.append(Turn(q, query if len(query) <= self.settings.answer.max_question_chars else q, text, refused))
        return turns

    def prepare(
        self, question: object, earlier: Sequence[tuple[str, str]] = (), k: object = None
    ) -> tuple[Rewrite, int | None]:
        """The checked question rewritten from the conversation, and the checked ``k`` (one-line
        InvalidInputError otherwise, as in `rag ask`)."""
        q = check_question(question, self.settings.answer.max_question_chars)
        checked_k = check_k(k)
        rw = self.rewriter.rewrite(q, self.history(earlier)) if earlier else Rewrite(q, q)
        if len(rw.query) > self.settings.answer.max_question_chars or not has_words(rw.query):
            rw = Rewrite(q, q)
        return rw, checked_k

    def stream(self, rw: Rewrite, k: int | None = None, docs: Iterable[str] | None = None) -> Iterator[str | Answer]:
        """Answer text pieces that are final (see ``live``), then the Answer; holds a slot while it runs."""
        with self._slots:
            for piece in routed_stream(self.assistant, rw.query, k, _docs(docs)):
                if isinstance(piece, Answer) or self.live:
                    yield piece

    def ask(self, rw: Rewrite, k: int | None = None, docs: Iterable[str] | None = None) -> Answer:
        """The whole answer to a prepared question."""
        *_, answer = self.stream(rw, k, docs)
        assert isinstance(answer, Answer)
        return answer

    def message(self, answer: Answer) -> str:
        """The chat message for an answer: text with [n] markers, then the Markdown sources (rag/refs/render.py)."""
        return md_answer(answer, self.authors)

    # --- tools ----------------------------------------------------------------------------------

    def answer(self, question: object, k: object = None, docs: Iterable[str] | None = None) -> Answer:
        """The answer to one stand-alone question (what `rag ask` prints), ``docs`` limiting the search."""
        rw, checked_k = self.prepare(question, (), k)
        return self.ask(rw, checked_k, docs)

    def ask_record(self, question: object, k: object = None, docs: Iterable[str] | None = None) -> dict[str, Any]:
        """The `rag ask --json` record for one stand-alone question."""
        return self.answer(question, k, docs).to_dict()

    def search(self, query: object, k: object = None, docs: Iterable[str] | None = None) -> dict[str, Any]:
        """The top-k passages for a query (no answer written), best first, with their scores."""
        q = check_question(query, self.settings.answer.max_question_chars)
        checked_k = check_k(k) or self.settings.retrieval.top_k
        retriever = self.assistant.retriever
        with self._slots:
            hits = retriever.retrieve(retriever.encode(q), checked_k, _docs(docs))
        return {
            "query": q,
            "passages": [
                {
                    "rank": h.rank,
                    **passage_record(h.chunk),
                    "score": round(h.score, 6),
                    "dense": None if h.dense is None else round(h.dense, 6),
                    "bm25": None if h.bm25 is None else round(h.bm25, 6),
                }
                for h in hits
            ],
        }

    def documents(self) -> list[DocInfo]:
        """Indexed documents, in index order (none in an empty library)."""
        return [] if self.empty else list(self.assistant.retriever.index.docs.values())

    def document_records(self) -> list[dict[str, Any]]:
        """Every indexed document as the tools list it: id, title, authors, passage and footnote counts."""
        return [
            {
                "doc": d.doc_id,
                "title": d.title,
                "authors": list(d.authors),
                "passages": d.n_chunks,
                "footnotes": d.n_footnotes,
            }
            for d in self.assistant.retriever.index.docs.values()
        ]

    def references(self, doc: object = None) -> dict[str, Any]:
        """One document's parsed reference list (``doc``) or, without one, the index's citation graph."""
        from rag.index.store.refs import citation_graph, document_references

        index = self.assistant.retriever.index
        if doc is None or doc == "":
            return citation_graph(index.references, index.docs)
        if not isinstance(doc, str):
            raise InvalidInputError("doc must be a document id from list_documents, or left out for the graph")
        return {"doc": doc, "references": document_references(index.references, index.docs, doc.strip())}

    def passage(self, chunk_id: object, neighbours: object = 1) -> dict[str, Any]:
        """A passage by id with up to ``neighbours`` passages of the same document before and after it."""
        if not isinstance(chunk_id, str) or not chunk_id.strip():
            raise InvalidInputError("chunk_id is empty; pass a chunk_id returned by search or ask")
        if isinstance(neighbours, bool) or not isinstance(neighbours, int) or not 0 <= neighbours <= MAX_NEIGHBOURS:
            raise InvalidInputError(f"neighbours must be a whole number from 0 to {MAX_NEIGHBOURS}, got {neighbours!r}")
        index = self.assistant.retriever.index
        try:
            at = index.position(chunk_id.strip())
        except KeyError:
            raise InvalidInputError(
                f"no passage {chunk_id!r} in the index; pass a chunk_id returned by search or ask"
            ) from None
        span = index.doc_range(index.chunks[at].doc_id)
        before = range(max(span.start, at - neighbours), at)
        after = range(at + 1, min(span.stop, at + 1 + neighbours))
        return {
            "passage": passage_record(index.chunks[at]),
            "before": [passage_record(index.chunks[i]) for i in before],
            "after": [passage_record(index.chunks[i]) for i in after],
        }


__all__ = ["MAX_K", "Service", "model_name", "passage_record"]
