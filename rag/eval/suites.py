"""Evaluation suites: a corpus and a gold file each, indexed once (and kept, so a second run embeds
nothing) and evaluated side by side with the same settings.

A suite is given as a directory holding ``corpus/`` and one or more ``gold*.jsonl`` files (each gold
file is a suite of its own: ``cmrc2018`` and ``cmrc2018/gold_en``), or as a TOML list of suites::

    [[suite]]
    name = "papers-dev"
    corpus = "{shared}/corpus"            # relative paths are relative to the TOML file
    gold = "{shared}/eval/gold_dev.jsonl"

``{shared}`` stands for ``$SHARED_DIR``, else the ``shared`` folder beside the repository.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import GoldFileError
from rag.settings import Settings


@dataclass(frozen=True)
class Suite:
    """One evaluation suite: a name, the folder of documents to index, and its gold questions."""

    name: str
    corpus: Path
    gold: Path


def _shared(base: Path) -> str:
    env = os.environ.get("SHARED_DIR")
    if env:
        return env
    for folder in [base.resolve(), *base.resolve().parents]:  # the repository holding the suite list
        if (folder / "pyproject.toml").is_file():
            return str((folder.parent / "shared").resolve())
    return str((base / ".." / ".." / "shared").resolve())


def _resolve(p: str, shared: str, base: Path) -> Path:
    """A suite file's path: {shared} filled in, relative paths taken from the suite list's folder."""
    q = Path(p.replace("{shared}", shared)).expanduser()
    return q if q.is_absolute() else (base / q).resolve()


def _from_toml(path: Path) -> list[Suite]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GoldFileError(f"cannot read the suite list {path} ({exc}); see eval/suites.toml for the format") from None
    out = []
    for n, entry in enumerate(data.get("suite", []), start=1):
        try:
            name, corpus, gold = str(entry["name"]), str(entry["corpus"]), str(entry["gold"])
        except (KeyError, TypeError):
            raise GoldFileError(f"{path}: suite {n} needs name, corpus and gold") from None
        shared = _shared(path.parent)
        out.append(Suite(name, _resolve(corpus, shared, path.parent), _resolve(gold, shared, path.parent)))
    if not out:
        raise GoldFileError(f"{path} lists no [[suite]]; see eval/suites.toml for the format")
    return out


def _from_dir(path: Path) -> list[Suite]:
    golds = sorted(path.glob("gold*.jsonl"))
    if not (path / "corpus").is_dir() or not golds:
        raise GoldFileError(f"{path} is not a suite: it needs a corpus/ folder and a gold*.jsonl file")
    return [Suite(path.name if g.stem == "gold" else f"{path.name}/{g.stem}", path / "corpus", g) for g in golds]


def load_suites(paths: list[Path]) -> list[Suite]:
    """The suites named by suite directories and TOML suite lists, in order; names must be unique."""
    out: list[Suite] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out += _from_dir(p)
        elif p.suffix.lower() == ".toml":
            out += _from_toml(p)
        else:
            raise GoldFileError(f"{p} is neither a suite folder (corpus/ + gold*.jsonl) nor a .toml suite list")
    names = [s.name for s in out]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise GoldFileError(f"two suites are named {dup!r}; give each a unique name")
    for s in out:
        if not s.corpus.is_dir():
            raise GoldFileError(f"suite {s.name}: no corpus folder at {s.corpus}")
        if not s.gold.is_file():
            raise GoldFileError(f"suite {s.name}: no gold file at {s.gold}")
    return out


def index_name(suite: Suite) -> str:
    """The index a suite's corpus is kept in: named after the folder, unique per absolute path."""
    digest = hashlib.sha1(str(suite.corpus.resolve()).encode()).hexdigest()[:8]
    parent = suite.corpus.parent.name if suite.corpus.name == "corpus" else suite.corpus.name
    return f"suite-{parent}-{digest}"


def suite_settings(suite: Suite, settings: Settings) -> Settings:
    """``settings`` pointed at the suite's own index."""
    return settings.model_copy(update={"index": index_name(suite)})


def ensure_index(suite: Suite, settings: Settings, progress: Callable[[str, int, int], None] | None = None):
    """Build or refresh the suite's index (nothing is embedded when its corpus is unchanged)."""
    from rag.index.store import build_index

    return build_index([suite.corpus], suite_settings(suite, settings), progress=progress)


# --- running and gating several suites ----------------------------------------------------------

# the columns of the one-row-per-suite table (and the macro average)
HEADLINE = (
    "recall@5",
    "key_fact_coverage",
    "citation_support",
    "correct_refusal_rate",
    "false_refusal_rate",
    "answered_precision",
    "latency_p50_ms",
)


def evaluate_suites(
    suites: list[Suite],
    settings: Settings,
    k: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Index each suite's corpus (once per corpus, kept for next time) and evaluate its gold questions
    with the same settings; one report: a row per suite, their macro average, and every suite's report."""
    from rag.answer.pipeline import Assistant
    from rag.eval.evaluation import evaluate
    from rag.eval.gold import load_gold

    reports: dict[str, dict] = {}
    assistants: dict[str, Assistant] = {}
    for s in suites:
        name = index_name(s)
        if name not in assistants:
            ensure_index(s, settings, progress)
            assistants[name] = Assistant.open(suite_settings(s, settings))
        a = assistants[name]
        tick = (lambda d, t, label=s.name: progress(f"evaluating {label}", d, t)) if progress else None
        reports[s.name] = evaluate(a, load_gold(s.gold), k=k or a.settings.retrieval.top_k, progress=tick)
        # rows by question id only: the gold files' questions and the corpora's text stay where they are
        for row in reports[s.name]["questions"]:
            for key in ("question", "answer_head", "missing_keywords"):
                row.pop(key, None)
            row["reasons"] = [r.split(":")[0] if r.startswith("missing key facts") else r for r in row["reasons"]]
        reports[s.name]["meta"]["index"] = name
        reports[s.name]["meta"]["suite"] = {
            "name": s.name,
            "corpus": s.corpus.name if s.corpus.name != "corpus" else f"{s.corpus.parent.name}/corpus",
            "gold": s.gold.name,
        }
    by_suite = {n: r["summary"]["overall"] for n, r in reports.items()}
    macro = {
        m: sum(v[m] for v in by_suite.values() if m in v) / len([v for v in by_suite.values() if m in v])
        for m in HEADLINE
        if any(m in v for v in by_suite.values())
    }
    first = next(iter(reports.values()))["meta"]
    return {
        "meta": {key: first[key] for key in ("k", "embedder", "chunking", "generator", "fusion", "abstain_threshold")}
        | {"suites": list(reports), "created": first["created"]},
        "summary": {"by_suite": by_suite, "macro": macro},
        "suites": reports,
    }


def compare_suites(report: dict, baseline: dict, tolerance: float, questions: float) -> dict:
    """Each suite compared with the baseline's suite of the same name; ``ok`` only if every one is."""
    from rag.eval.evaluation import compare

    out = {}
    for name, r in report["suites"].items():
        if name in baseline.get("suites", {}):
            out[name] = compare(r, baseline["suites"][name], tolerance, questions)
    missing = sorted(set(baseline.get("suites", {})) - set(report["suites"]))
    return {
        "tolerance": tolerance,
        "questions": questions,
        "suites": out,
        "missing_suites": missing,
        "ok": all(c["ok"] for c in out.values()),
    }
