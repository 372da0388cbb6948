"""langchain adapter: a ``Retriever`` behind langchain's ``BaseRetriever`` interface (hits become
``Document``s with chunk metadata), for chains and agents built with langchain."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.answer.retrieval import Retriever


def as_langchain(retriever: Retriever, k: int | None = None) -> LangchainRetriever:
    """``retriever`` behind langchain's ``BaseRetriever`` interface (``k``: passages per query)."""
    return LangchainRetriever(retriever=retriever, k=k)


class LangchainRetriever(BaseRetriever):
    """langchain adapter: hits become ``Document``s with chunk metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    retriever: Retriever
    k: int | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        hits = self.retriever.retrieve(query, self.k)
        return [
            LCDocument(
                page_content=h.chunk.text,
                metadata={
                    "doc": h.chunk.doc_id,
                    "chunk_id": h.chunk.chunk_id,
                    "title": h.chunk.title,
                    "section": h.chunk.section,
                    "score": h.score,
                    "rank": h.rank,
                },
            )
            for h in hits
        ]
