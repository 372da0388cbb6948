"""The `rag` command: one module per command group (commands: index/ask/app, batch, eval, refs, review,
serve) over common options and output."""

from rag.cli.commands import main

__all__ = ["main"]
