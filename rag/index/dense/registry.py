"""Dense backends by name. A backend module registers itself when it is imported (the built-ins in
``rag.index.dense`` are registered exactly like one added by a user), so adding a backend is adding a file."""

from __future__ import annotations

from pathlib import Path

from rag.errors import BackendUnavailableError, InvalidInputError
from rag.index.dense.base import DenseBackend
from rag.settings import Settings

BACKENDS: dict[str, DenseBackend] = {}


def register(name: str, backend: DenseBackend) -> None:
    """Make ``backend`` available as ``RAG_BACKEND=name`` (a later registration under a name wins)."""
    BACKENDS[name] = backend


def _names() -> str:
    """The registered names as pydantic lists allowed values: 'a', 'b' or 'c'."""
    quoted = [f"'{n}'" for n in BACKENDS]
    return " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)


def backend_for(settings: Settings) -> DenseBackend:
    """The backend new builds use (``settings.store.backend``); InvalidInputError naming the registered ones."""
    if settings.store.backend not in BACKENDS:
        raise InvalidInputError(
            f"invalid setting store.backend: Input should be {_names()} "
            "(check RAG_STORE__BACKEND or RAG_BACKEND or the command-line option)"
        )
    return BACKENDS[settings.store.backend]


def backend_of(path: Path, params: dict) -> DenseBackend:
    """The backend an index was built with (its params.json)."""
    name = params["dense"]["backend"]
    if name not in BACKENDS:
        raise BackendUnavailableError(
            f"index '{path.name}' keeps its vectors in backend '{name}', which is not "
            f"registered (registered: {_names()}); register it or rebuild with: "
            f"rag index PATH --force --index {path.name}"
        )
    return BACKENDS[name]
