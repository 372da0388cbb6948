"""Typed errors. Every message says what went wrong and what to do about it.

The CLI prints ``str(error)`` as one line and exits with code 1; the app shows it in the page.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: a problem the user can fix, described in one line."""


class NoDocumentsError(RagError):
    """Nothing indexable was found in the given paths."""


class IndexNotFoundError(RagError):
    """The named index does not exist on disk."""


class EmptyLibraryError(RagError):
    """No index was built yet (the app started on an empty library): nothing to answer from."""


class IndexCorruptError(RagError):
    """The index directory exists but cannot be read."""


class EmbedderMismatchError(RagError):
    """The index was built with another embedder than the one configured."""


class EmbedderUnavailableError(RagError):
    """The configured embedding model cannot be loaded offline."""


class BackendUnavailableError(RagError):
    """The configured vector backend (e.g. a Milvus server) cannot be reached or refused a request."""


class InvalidInputError(RagError):
    """A question, option or input file is unusable."""


class GoldFileError(RagError):
    """A gold question file is malformed."""


class GeneratorError(RagError):
    """The answer generator (e.g. an LLM endpoint) failed."""


class BatchOutputError(RagError):
    """A `rag batch` output file cannot be used (another run writes it, or it is not ours)."""
