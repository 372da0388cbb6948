"""`rag refs`: the works cited by a batch's answers or a saved conversation, for a reference manager;
a document's own reference list (``--of DOC``), the library's (``--all``), and the citation graph
between the library's documents and the works they cite (``--graph``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from rag.cli.common import IndexOpt, JsonOpt, app, emit, settings_from
from rag.errors import InvalidInputError


@app.command("refs")
def refs_cmd(
    answers: Optional[Path] = typer.Argument(
        None, help="Answers: a `rag batch` .jsonl output (or its .partial.jsonl), or a conversation saved from the app."
    ),
    out: Optional[Path] = typer.Option(
        None,
        "--out",
        "-o",
        help="refs.bib (BibTeX), refs.ris (RIS) or refs.json (CSL-JSON); with --of/--all/--graph: a file for the output.",
    ),
    of: Optional[str] = typer.Option(None, "--of", help="A document of the index: its own reference list."),
    every: bool = typer.Option(False, "--all", help="Every document's reference list, each work once."),
    graph: bool = typer.Option(False, "--graph", help="The citation graph of the index (JSON unless --format)."),
    fmt: Optional[str] = typer.Option(
        None,
        "--format",
        "-f",
        help="--graph: json, graphml or dot; --of/--all: bibtex, ris, csl-json, gbt7714 or apa.",
    ),
    index: Optional[str] = IndexOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Export the works answers cite; or list a paper's references, the library's, or its citation graph."""
    if of is None and not every and not graph:
        if answers is None or out is None:
            raise InvalidInputError(
                "give ANSWERS with --out FILE (works the answers cite), --of DOC, --all, or --graph"
            )
        _answers(answers, out, as_json)
        return
    from rag.index.store import load_index
    from rag.index.store.refs import citation_graph, cited_works, document_references

    idx = load_index(settings_from(index=index), check_embedder=False)
    content = idx.references
    if graph:
        g = citation_graph(content, idx.docs)
        kind = fmt or "json"
        if kind == "json":
            text = json.dumps(g, ensure_ascii=False) + "\n"
        elif kind in ("graphml", "dot"):
            from rag.ingest.references.graph import to_dot, to_graphml

            text = to_graphml(g) if kind == "graphml" else to_dot(g)
        else:
            raise InvalidInputError(f"--graph prints json, graphml or dot, not {kind!r}")
        _write(text, out)
        return
    if fmt is not None:
        from rag.refs.bibexport import export_text

        if of is not None:
            document_references(content, idx.docs, of)  # an unknown document is one clear error
        _write(export_text(cited_works(content, of), fmt), out)
        return
    entries = (
        document_references(content, idx.docs, of)
        if of is not None
        else [e for d in content.get("docs", {}) for e in document_references(content, idx.docs, d)]
    )
    if as_json:
        _write(json.dumps(entries, ensure_ascii=False) + "\n", out)
        return
    lines = [f"[{e.get('n', '')}] {e['raw']}" + (f"  -> {e['target']}" if e.get("target") else "") for e in entries]
    _write("\n".join(lines) + ("\n" if lines else ""), out)


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


def _answers(answers: Path, out: Path, as_json: bool) -> None:
    from rag.refs.bibexport import FORMATS, export_refs

    n = export_refs(answers, out)
    if as_json:
        emit({"out": str(out), "works": n, "format": FORMATS[out.suffix.lower()]})
    else:
        typer.echo(f"wrote {n} cited works to {out} ({FORMATS[out.suffix.lower()]})")
