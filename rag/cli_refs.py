"""`rag refs`: the works cited by a batch's answers or a saved conversation, for a reference manager."""

from __future__ import annotations

from pathlib import Path

import typer

from rag.cli_common import JsonOpt, app, emit


@app.command("refs")
def refs_cmd(
    answers: Path = typer.Argument(
        ..., help="Answers: a `rag batch` .jsonl output (or its .partial.jsonl), or a conversation saved from the app."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="refs.bib (BibTeX), refs.ris (RIS) or refs.json (CSL-JSON)."),
    as_json: bool = JsonOpt,
) -> None:
    """Export every work the answers cite, once, as BibTeX, RIS or CSL-JSON."""
    from rag.bibexport import FORMATS, export_refs

    n = export_refs(answers, out)
    if as_json:
        emit({"out": str(out), "works": n, "format": FORMATS[out.suffix.lower()]})
    else:
        typer.echo(f"wrote {n} cited works to {out} ({FORMATS[out.suffix.lower()]})")
