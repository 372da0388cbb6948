"""What an index directory holds and promises: the format, params.json and docs.json, the per-document
record, and the checks an index must pass when it is opened (files as written, arrays of the promised
shapes)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rag.errors import IndexCorruptError, IndexNotFoundError
from rag.index.embedding import (
    LANGS,
)
from rag.index.integrity import damaged, is_ours, params_intact
from rag.index.integrity import verify as verify_files
from rag.ingest.dedupe import Duplicate
from rag.ingest.loading import Skipped
from rag.ingest.pdf.apparatus import apparatus_note
from rag.records import Bib, Chunk, Document
from rag.settings import Settings

FORMAT_VERSION = 5  # 4: integrity manifest and marker; 5: glossary.json per segment, uncapped (rag.lang.glossary)


Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class DocInfo:
    """Per-document metadata kept in the index (for citations and `rag info`)."""

    doc_id: str
    path: str
    title: str
    authors: tuple[str, ...]
    sha256: str
    n_chars: int
    n_chunks: int
    n_footnotes: int
    n_source_chars: int = 0  # characters of the source before cleaning
    n_dropped_chars: int = 0  # left out as page furniture (page numbers, running headers, repeated lines)
    bib: Bib = field(default_factory=Bib)  # bibliographic record (optional in docs.json: older indexes read)
    library: Bib = field(default_factory=Bib)  # a library's record of it, as given (kept across updates)

    def to_json(self) -> dict:
        """The docs.json entry (records in their compact JSON form)."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["authors"] = list(self.authors)
        d["bib"], d["library"] = self.bib.to_dict(), self.library.to_dict()
        return d

    @classmethod
    def from_json(cls, d: dict) -> "DocInfo":
        """A docs.json entry back as a record."""
        return cls(
            **{
                **d,
                "authors": tuple(d["authors"]),
                "bib": Bib.from_dict(d.get("bib")),
                "library": Bib.from_dict(d.get("library")),
            }
        )


@dataclass
class BuildReport:
    """What an index build did, for the CLI and the app."""

    path: Path
    documents: int = 0
    chunks: int = 0
    sentences: int = 0
    embedded: int = 0
    cached: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    up_to_date: bool = False
    seconds: float = 0.0
    embed_seconds: float = 0.0
    added: list[str] = field(default_factory=list)  # documents new to the index
    updated: list[str] = field(default_factory=list)  # documents whose source changed
    removed: list[str] = field(default_factory=list)  # documents no longer in the sources (or removed)
    reused: int = 0  # documents carried over unchanged (nothing recomputed)
    dense: str = ""  # dense index kind, e.g. "faiss:flat"
    notes: list[str] = field(default_factory=list)  # what the user should know (damage found, text dropped)
    duplicates: list[Duplicate] = field(default_factory=list)  # new documents not indexed: the same work again

    def to_dict(self) -> dict:
        """JSON form for ``--json``."""
        d = asdict(self)
        d["path"] = str(self.path)
        d["skipped"] = [{"path": s.path, "reason": s.reason} for s in self.skipped]
        return d


DROPPED_NOTE_SHARE = 0.2  # a document losing more than this share of its text as page furniture is reported


def dropped_note(doc_id: str, source_chars: int, dropped_chars: int, furniture_lines: int = 0) -> str:
    """What to tell the user when cleaning left out much of a document, or the PDF reader left out running
    headers and footers ('' when neither happened)."""
    if not source_chars or dropped_chars <= DROPPED_NOTE_SHARE * source_chars:
        if furniture_lines:
            return (
                f"{doc_id}: {furniture_lines} running header/footer or page-number line(s) "
                f"({dropped_chars:,} of {source_chars:,} characters) left out as page furniture"
            )
        return ""
    return (
        f"{doc_id}: {dropped_chars / source_chars:.0%} of its text ({dropped_chars:,} of {source_chars:,} characters) "
        "was left out as page furniture (page numbers, running headers, lines repeated 3 or more times)"
    )


def document_notes(d: Document) -> list[str]:
    """What the index report says of one cleaned document: text left out as page furniture, and its
    table-of-contents and front-matter lines kept out of answer evidence."""
    notes = (dropped_note(d.doc_id, d.source_chars, d.dropped_chars, d.furniture_lines), apparatus_note(d))
    return [n for n in notes if n]


def passage_text(chunk: Chunk, context: str) -> str:
    """What gets embedded and BM25-indexed for a chunk: its text, optionally led by title/section. A table
    is always led by its document's title and its section (which names the table): its cells are numbers
    and abbreviations, so without them neither retriever sees what the table is about."""
    if chunk.kind == "table":
        head = f"{chunk.title} {chunk.section}".strip()
    elif context == "none":
        return chunk.text
    else:
        head = chunk.section if context == "section" else f"{chunk.title} {chunk.section}".strip()
    return f"{head}\n{chunk.text}" if head and not chunk.text.startswith(head) else chunk.text


def chunking_params(s: Settings) -> dict:
    """The chunking settings an index is tied to."""
    out = {
        "size": s.ingest.chunk_size,
        "overlap": s.ingest.chunk_overlap,
        "context": s.ingest.passage_context,
        "splitter": "sentence-v3",
    }
    if s.store.sentence_vectors != "separate":  # recorded only when not the default, so older indexes stay current
        out["sentence_vectors"] = s.store.sentence_vectors
    if s.store.sentence_vectors == "pooled":  # the weighted mean, not renormalised: older pooled indexes are rebuilt
        out["pooling"] = "mean"
    return out


def sentence_search(dense_kind: str, chunking: dict) -> str:
    """How a question scores sentences: "exhaustive" (every one: exact search), "candidates" (those of the
    candidate passages: approximate search) or "top" (those of each retriever's first passages: lazily
    embedded sentence vectors, rag/index/store/lazy_vectors.py)."""
    if chunking.get("sentence_vectors") == "lazy":
        return "top"
    return "exhaustive" if dense_kind == "flat" else "candidates"


def sources_manifest(docs: Iterable[Document | DocInfo]) -> dict[str, str]:
    """doc_id -> sha256 of the source bytes: what decides whether an index is up to date."""
    return {d.doc_id: d.sha256 for d in docs}


def read_doc_entries(path: Path) -> tuple[list[dict], list[str] | None]:
    """docs.json of the index at ``path`` as written, and each entry's JSON text when the file holds one
    per line as ``write_docs`` writes it (None otherwise); raises OSError or ValueError if unreadable."""
    text = (path / "docs.json").read_text("utf-8")
    entries = json.loads(text)
    lines = text.split("\n")  # JSON strings hold no raw newline: one entry per line, between "[" and "]"
    if len(lines) == len(entries) + 3 and lines[0] == "[" and lines[-2] == "]" and lines[-1] == "":
        return entries, [line[1:].removesuffix(",") for line in lines[1:-2]]
    return entries, None


def read_docs(path: Path) -> list[DocInfo]:
    """docs.json of the index at ``path`` (raises OSError, ValueError, TypeError or KeyError if unreadable)."""
    return [DocInfo.from_json(d) for d in read_doc_entries(path)[0]]


def write_docs(directory: Path, entries: list[dict | str]) -> None:
    """docs.json from the documents' entries (``DocInfo.to_json``, or an entry's JSON text as read), one
    per line."""
    lines = [e if isinstance(e, str) else json.dumps(e, ensure_ascii=False) for e in entries]
    (directory / "docs.json").write_text("[\n" + ",\n".join(f" {line}" for line in lines) + "\n]\n", "utf-8")


def read_params(path: Path) -> dict:
    """params.json of the index at ``path``: IndexNotFoundError when there is no index, IndexCorruptError
    when it is unreadable or fails its own checksum."""
    f = path / "params.json"
    if not path.is_dir():
        raise IndexNotFoundError(f"no index at {path}; build it with: rag index PATH --index {path.name}")
    if not f.exists() and not is_ours(path):
        raise IndexNotFoundError(
            f"{path} is not a rag index (no params.json); build one with: rag index PATH --index {path.name}"
        )
    try:
        params = json.loads(f.read_text("utf-8"))
        if not isinstance(params, dict):
            raise ValueError("not an object")
    except (OSError, ValueError):
        raise damaged(path, "params.json is missing or unreadable") from None
    if not params_intact(params):
        raise damaged(path, "params.json has other content than was written (checksum mismatch)")
    return params


def open_params(path: Path, full: bool = False) -> dict:
    """params.json of a current-format index whose files are all as written (sizes always, checksums of
    files whose stat changed, or of every file with ``full``); one IndexCorruptError line otherwise."""
    params = read_params(path)
    if params.get("format_version") != FORMAT_VERSION:
        raise IndexCorruptError(
            f"index at {path} has format {params.get('format_version')}, this rag reads "
            f"{FORMAT_VERSION}; rebuild it with: rag index PATH --force --index {path.name}"
        )
    verify_files(path, params, full)
    return params


def unbuilt(path: Path) -> bool:
    """Whether no index was built at ``path`` yet: nothing there (nor a swap's leftover) or an empty folder."""
    old = path.parent / f".{path.name}.old"
    if old.is_dir() and is_ours(old):
        return False  # a swap interrupted between its renames: the previous index is there to read
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def readable_path(path: Path) -> Path:
    """Where to read the index named ``path``: itself, or the previous index a swap killed between its
    two renames left at ``.NAME.old`` (readers never move it back: that is for the next writer)."""
    old = path.parent / f".{path.name}.old"
    if not path.exists() and old.is_dir() and is_ours(old) and (old / "params.json").is_file():
        return old
    return path


def check_shapes(path: Path, params: dict, arrays: dict[str, np.ndarray], n_docs: int, chunk_bytes: int) -> None:
    """Raise IndexCorruptError unless the arrays have the lengths, widths and ranges params.json promises."""
    c, s = params["counts"]["chunks"], params["counts"]["sentences"]
    dim = int(params["embedder"]["dimension"])
    want = {
        "chunks.offsets.npy": (c + 1,),
        "chunk_vectors.npy": (c, dim),
        "vector_ids.npy": (c,),
        "chunk_docs.npy": (c,),
        "sentences.npy": (s, 3),
        "sentence_vectors.npy": (s, dim),
        "chunk_lang": (c,),
        "sent_lang": (s,),
        "token_offsets.npy": (c + 1,),
    }
    for name, shape in want.items():
        if tuple(arrays[name].shape) != shape:
            raise damaged(path, f"{name} has shape {tuple(arrays[name].shape)}, {shape} expected")
    offsets, tok = arrays["chunks.offsets.npy"], arrays["token_offsets.npy"]
    if n_docs != params["counts"]["documents"]:
        raise damaged(path, f"docs.json lists {n_docs} documents, {params['counts']['documents']} expected")
    if offsets[0] != 0 or offsets[-1] != chunk_bytes or (c and np.any(np.diff(offsets) <= 0)):
        raise damaged(path, "chunks.offsets.npy does not match chunks.jsonl")
    if tok[-1] != len(arrays["tokens.npy"]) or np.any(np.diff(tok) < 0):
        raise damaged(path, "token_offsets.npy does not match tokens.npy")
    docs = arrays["chunk_docs.npy"]
    if c and (docs[0] < 0 or docs[-1] >= n_docs or np.any(np.diff(docs) < 0)):
        raise damaged(path, "chunk_docs.npy does not match docs.json")
    rows = arrays["sentences.npy"]
    if s and (rows[0, 0] < 0 or rows[-1, 0] >= c or np.any(np.diff(rows[:, 0]) < 0)):
        raise damaged(path, "sentences.npy does not match the passages")
    for name in ("chunk_lang", "sent_lang"):
        if len(arrays[name]) and arrays[name].max() >= len(LANGS):
            raise damaged(path, f"languages.npz ({name}) holds an unknown language")
