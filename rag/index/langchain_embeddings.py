"""An rag embedder as a langchain ``Embeddings`` instance, for langchain vector stores (its own module so
that only code handing an embedder to langchain imports langchain)."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from rag.index.embedding import Embedder


class LangchainEmbeddings(Embeddings):
    """langchain ``Embeddings`` over an rag embedder: the same vectors, as lists."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage vectors as lists."""
        return self.embedder.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """One query vector as a list."""
        return self.embedder.embed_queries([text])[0].tolist()


def as_langchain_embeddings(embedder: Embedder) -> LangchainEmbeddings:
    """``embedder`` wrapped as a langchain ``Embeddings`` (e.g. for ``FAISS.from_texts``)."""
    return LangchainEmbeddings(embedder)
