"""The assistant: one loaded index, embedder and generator, answering questions with timings."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import replace

from rag.answer.answer_model import load_model, model_path
from rag.answer.citations import merge_repeated_passages
from rag.answer.generation import ABSTAIN, ExtractiveGenerator, Generated, Generator, abstention_selected
from rag.answer.named_docs import named_documents, without_titles
from rag.answer.retrieval import Query, Retriever
from rag.errors import InvalidInputError
from rag.index.embedding import make_embedder
from rag.index.native import limit_blas_threads
from rag.index.store import load_index
from rag.ingest.pdf.apparatus import evidence_kinds_out
from rag.ingest.references.cite import linked_entries
from rag.ingest.references.detect import REFERENCE_KIND, asks_about_references
from rag.lang.text import has_words, strip_invisible
from rag.records import Answer, Hit
from rag.settings import Settings


def make_generator(settings: Settings, index_params: dict | None = None) -> Generator:
    """The answer generator selected by settings (extractive is the offline default; ``settings.llm``
    names a language model whose answers are checked against the passages, see rag/answer/llm.py);
    ``index_params`` (the index's params.json) choose the answer model fitted on its kind of vectors."""
    extractive = ExtractiveGenerator(
        max_sentences=settings.max_answer_sentences,
        threshold=settings.abstain_threshold,
        cross_threshold=settings.abstain_threshold_crosslingual,
        model=load_model(model_path(settings.answer_model, index_params, settings.pooled_whole_passages)),
        unknown_terms_share=settings.unknown_terms_share,
        unknown_terms_threshold=settings.unknown_terms_threshold,
        unfound_terms_share=settings.unfound_terms_share,
    )
    if settings.llm:
        from rag.answer.llm import make_llm_generator

        return make_llm_generator(settings, extractive)
    return extractive


MAX_K = 100  # as Settings.top_k allows
# how much less likely the selected documents' best span may be than the whole index's (found in another
# document) before a question limited to them is refused: on eval/gold_own.jsonl limited to a paper that
# is not the gold one, 0.05 refuses 11 of the 18 answers the threshold let through, and no answer from the
# gold paper (46 of 46 kept); see eval/NOTES.md
DOC_FILTER_MARGIN = 0.05


def kinds_out(question: str, mode: str, apparatus: str = "auto") -> frozenset[str]:
    """The passage kinds no answer to ``question`` may rest on: reference-list entries and citation notes
    unless ``mode`` is "on", or "auto" and the question asks what a paper cites; table-of-contents lines
    and page-1 front matter likewise by ``apparatus`` (under "auto": unless the question asks for them)."""
    out = set(evidence_kinds_out(question, apparatus))
    if not (mode == "on" or (mode == "auto" and asks_about_references(question))):
        out.add(REFERENCE_KIND)
    return frozenset(out)


def evidence_hits(question: str, hits: list[Hit], mode: str, apparatus: str = "auto") -> list[Hit]:
    """The retrieved passages an answer may rest on: those whose kind ``kinds_out`` does not name."""
    out = kinds_out(question, mode, apparatus)
    return [h for h in hits if h.chunk.kind not in out]


def clean_question(text: object) -> str:
    """The question without control, format or surrogate characters (keeps newlines and tabs), stripped."""
    s = text if isinstance(text, str) else ("" if text is None else str(text))
    return strip_invisible(s).strip()


def check_question(question: object, max_chars: int) -> str:
    """The cleaned question, or a one-line error when it is empty, has no word in it, or is too long."""
    q = clean_question(question)
    if not q:
        raise InvalidInputError("the question is empty; type a question")
    if len(q) > max_chars:
        raise InvalidInputError(f"the question is {len(q)} characters long; keep it under {max_chars}")
    if not has_words(q):
        raise InvalidInputError(
            "the question has no words in it (only punctuation, symbols or invisible characters); type a question"
        )
    return q


def check_k(k: object) -> int | None:
    """``k`` as an int in 1..MAX_K (None keeps the configured default), else a one-line error."""
    if k is None:
        return None
    if (
        isinstance(k, bool) or not isinstance(k, (int, float)) or not 1 <= k <= MAX_K or k != int(k)
    ):  # NaN fails the range
        raise InvalidInputError(f"k (passages to retrieve) must be a whole number from 1 to {MAX_K}, got {k!r}")
    return int(k)


class Assistant:
    """Loads once, answers many: the object the CLI, app and batch runner share."""

    def __init__(self, settings: Settings, retriever: Retriever, generator: Generator):
        self.settings = settings
        # the generator may bring query expanders (the LLM one: translated-query fusion)
        self.retriever = retriever.with_expanders(generator.expanders())
        self.generator = generator
        # after the index and models are loaded, so every BLAS library in the process is capped
        limit_blas_threads(settings.blas_threads)

    @classmethod
    def open(cls, settings: Settings) -> "Assistant":
        """Load the configured index (refusing an embedder mismatch) and its models."""
        index = load_index(settings)
        embedder = make_embedder(settings.embedder, settings.batch_size)
        return cls(settings, Retriever(index, embedder, settings), make_generator(settings, index.params))

    def _linked(self, doc: str, chunk_id: str, text: str) -> tuple[dict, ...]:
        """The entries of ``doc``'s reference list a cited passage's in-text citations point to."""
        index = self.retriever.index
        refs = index.references
        entries = refs.get("docs", {}).get(doc)
        if not entries:
            return ()
        marked: list[str] = []
        if refs.get("marks", {}).get(doc):
            try:
                chunk = index.chunks[index.position(chunk_id)]
            except KeyError:
                chunk = None
            if chunk is not None and chunk.kind == "body":
                marked = [n for at, n in refs["marks"][doc] if chunk.start <= at <= chunk.end]
        edges = [e for e in refs.get("edges", ()) if e["source"] == doc]
        return linked_entries(text, entries, edges, marked)

    def ask(self, question: str, k: int | None = None, docs: Iterable[str] | None = None) -> Answer:
        """Retrieve, answer and time one question."""
        *_, answer = self.stream(question, k, docs)
        assert isinstance(answer, Answer)  # stream ends with the record, after the text pieces
        return answer

    def stream(self, question: str, k: int | None = None, docs: Iterable[str] | None = None) -> Iterator[str | Answer]:
        """Yield answer text pieces as they are produced, then the complete Answer."""
        question = check_question(question, self.settings.max_question_chars)
        k = check_k(k)
        t0 = time.perf_counter()
        query = self.retriever.encode(question)
        selected = set(docs) if docs else set()
        hits = self.search(question, query, k, selected)
        if selected and (mine := self._discussed_elsewhere(query, hits, k, selected)) is not None:
            message = abstention_selected(query.lang)
            yield message
            timings = self._timings(t0, time.perf_counter())
            yield Answer(question, message, True, (), tuple(hits), timings, self.generator.name, confidence=mine)
            return
        for piece in self.answer_hits(question, query, hits, t0):
            if selected and isinstance(piece, Answer) and piece.abstained:
                piece = replace(piece, answer=abstention_selected(query.lang))
            elif selected and isinstance(piece, str) and piece.strip() in ABSTAIN.values():
                piece = abstention_selected(query.lang)
            yield piece

    def search(self, question: str, query: Query, k: int | None, selected: set[str] | None = None) -> list[Hit]:
        """The passages ``question`` is answered from: the top ``k`` of the selected documents, else of the
        documents it names by title (also searched without the title's words, which every passage there is
        about: the two rankings fused), else of the library; kinds no answer may rest on (``kinds_out``) are left out before the
        cut, so they never take a slot. ``evaluate_question`` retrieves through this too."""
        s = self.settings
        exclude = kinds_out(question, s.reference_evidence, s.apparatus_evidence)
        if selected:
            return self.retriever.retrieve(query, k, selected, exclude)
        named = self.named(question)
        also = []
        if named:
            inside = without_titles(question, [self.retriever.index.docs[d].title for d in named])
            if inside != question and s.untitled_weight > 0:
                also.append((self.retriever.encode(inside), s.untitled_weight))
        return self.retriever.retrieve(query, k, named or None, exclude, also)

    def named(self, question: str) -> list[str]:
        """The documents the question names by title, whose passages alone answer it ([] for the library)."""
        return named_documents(question, self.retriever.index.docs) if self.settings.named_documents else []

    def _discussed_elsewhere(self, query: Query, hits: list[Hit], k: int | None, selected: set[str]) -> float | None:
        """Whether a question limited to ``selected`` documents is about something only other documents
        discuss: the answer model finds the best span of the whole index outside the selection, and the
        selection's best at least DOC_FILTER_MARGIN less likely (a weak passage of the selection would
        otherwise be quoted as the answer). Returns the selection's best probability when so, else None."""
        ext = (
            self.generator
            if isinstance(self.generator, ExtractiveGenerator)
            else getattr(self.generator, "extractive", None)
        )
        if not isinstance(ext, ExtractiveGenerator) or not hits:
            return None
        _, mine = ext.score(query, hits, self.retriever)
        ev, anywhere = ext.score(query, self.retriever.retrieve(query, k), self.retriever)
        if not mine or not anywhere:
            return None
        best_doc = ev.hits[anywhere[0].span.hit].chunk.doc_id
        return mine[0].p if best_doc not in selected and mine[0].p < anywhere[0].p - DOC_FILTER_MARGIN else None

    @staticmethod
    def _timings(t0: float, t1: float) -> dict:
        return {"retrieve": (t1 - t0) * 1000, "generate": 0.0, "total": (t1 - t0) * 1000}

    def answer_hits(
        self, question: str, query: Query, hits: list[Hit], t0: float | None = None
    ) -> Iterator[str | Answer]:
        """Answer from passages already retrieved (``t0``: when retrieval started, for the timings)."""
        t1 = time.perf_counter()
        t0 = t1 if t0 is None else t0
        final: Generated | None = None
        usable = evidence_hits(question, hits, self.settings.reference_evidence, self.settings.apparatus_evidence)
        for piece in self.generator.stream(query, usable, self.retriever):
            if isinstance(piece, Generated):
                final = piece
            else:
                yield piece
        t2 = time.perf_counter()
        assert final is not None
        docs = self.retriever.index.docs
        # whatever wrote the answer, a passage is cited under one number
        text, cited, support = merge_repeated_passages(final.answer, final.citations, final.support)
        yield Answer(
            question=question,
            answer=text,
            abstained=final.abstained,
            # each citation carries its work's bibliographic record, for reference lists and exports
            citations=tuple(
                replace(c, bib=docs[c.doc].bib, refs=self._linked(c.doc, c.chunk_id, c.text)) if c.doc in docs else c
                for c in cited
            ),
            retrieved=tuple(hits),
            timings_ms={"retrieve": (t1 - t0) * 1000, "generate": (t2 - t1) * 1000, "total": (t2 - t0) * 1000},
            generator=final.generator,
            support=support,
            confidence=final.evidence_score,
            draft=final.draft,
        )
