"""Dense passage search, one module per backend behind the ``DenseBackend`` protocol (``base``):
``faiss`` (exact flat search, HNSW or IVF-PQ files in the index directory) and ``milvus`` (a Milvus
collection behind langchain's ``VectorStore``: a Milvus Lite file or a Milvus server URI).

Backends are found by name in ``BACKENDS``; each module registers its backend when it is imported,
the built-ins below exactly like any other, so adding a backend is adding one module that calls
``register``. ``RAG_BACKEND`` picks the backend of new builds (``backend_for``); an index records its
backend in params.json and is read, updated and cleaned up through it (``backend_of``).
"""

from rag.index.dense import faiss, milvus  # noqa: F401 - the built-in backends register themselves
from rag.index.dense.registry import BACKENDS, backend_for, backend_of, register

__all__ = ["BACKENDS", "backend_for", "backend_of", "register"]
