"""The app in Chinese: every word it shows follows the interface language. The labels come from one table
(app/i18n.py); the messages and progress labels the app, the loader and the library manager write in
English are found by walking their source, filled with sample values and put through the app's
translation in zh mode: one left in English fails here, naming it."""

from __future__ import annotations

import ast
import re

import pytest
from conftest import ROOT

from app.i18n import TEXT, message, stage, t

CJK = re.compile(r"[\u4e00-\u9fff]")

# where the messages a user of the app can meet are written: calls whose first argument is shown (an
# error, a skip reason), assignments to a report's ``error``, and functions whose returned text is shown
MESSAGE_SOURCES = {
    "app/service.py": {"calls": {"InvalidInputError"}, "returns": {"check_upload"}},
    "app/review_tab.py": {"calls": {"InvalidInputError"}},
    "app/references.py": {"calls": {"InvalidInputError"}},
    "rag/ingest/loading.py": {"calls": {"SkipFile"}},
    "rag/ingest/pdf_guard.py": {"returns": {"_inflation", "_structure", "raster_note"}},
    "rag/index/store/layout.py": {"returns": {"dropped_note"}},
    "rag/index/store/sidecar.py": {"calls": {"InvalidInputError"}},
    "rag/index/store/edit.py": {"calls": {"InvalidInputError"}},
}
# where the stages of long work are named (the progress bar of an upload, an edit, a re-index)
STAGE_SOURCES = ["app/service.py", "rag/index/store/builder.py", "rag/index/store/update.py", "rag/ingest/library.py",
                 "rag/ingest/loading.py", "rag/index/store/dense_writer.py"]  # fmt: skip


def _sample(node: ast.expr) -> str | None:
    """The text of a string literal or f-string with every placeholder filled by a sample value."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "7" for v in node.values)
    return None


def shown_messages(path: str) -> list[str]:
    """The messages written at the places MESSAGE_SOURCES names in ``path``, filled with samples."""
    want = MESSAGE_SOURCES[path]
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in want.get("calls", ()):
                found.append(node.args[0])
        elif isinstance(node, ast.Assign) and any(
            isinstance(x, ast.Attribute) and x.attr == "error" for x in node.targets
        ):
            found.append(node.value)
        elif isinstance(node, ast.FunctionDef) and node.name in want.get("returns", ()):
            found += [r.value for r in ast.walk(node) if isinstance(r, ast.Return) and r.value is not None]
    texts = [_sample(n) for n in found]
    return [x for x in texts if x]  # '' and None: nothing shown


def progress_stages(path: str) -> list[str]:
    """The stage names passed as the first argument of a ``progress(...)`` call, or the last of a ``tick(...)``."""
    stages = []
    for node in ast.walk(ast.parse((ROOT / path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
            arg = {"progress": node.args[0], "tick": node.args[-1]}.get(node.func.id)
            text = _sample(arg) if arg is not None else None
            if text:
                stages.append(text)
    return stages


def test_every_label_has_its_chinese():
    missing = [k for k, v in TEXT.items() if not CJK.search(v.get("zh", ""))]
    assert missing == []
    assert t("zh", "reviewing", done=1, total=3) == "正在综述……已完成 1/3 个问题"


@pytest.mark.parametrize("path", sorted(MESSAGE_SOURCES))
def test_every_message_the_app_can_show_is_translated(path):
    texts = shown_messages(path)
    assert texts, f"no messages found in {path}: the walk no longer matches the code"
    english = [x for x in texts if not CJK.search(message("zh", x))]
    assert english == [], f"shown in English in the Chinese interface (add a pattern to app/i18n.py): {english}"


def test_every_progress_label_is_translated():
    stages = {s for path in STAGE_SOURCES for s in progress_stages(path)}
    # the stage the builder names through its tick() helper and the ones the app names itself
    assert {"embedding", "checking files", "reading documents", "writing index", "indexing BM25"} <= stages
    english = sorted(s for s in stages if not CJK.search(stage("zh", s)))
    assert english == [], f"progress labels left in English: {english}"
    assert stage("zh", "OCR scan.pdf") == "正在 OCR 识别 scan.pdf" and stage("en", "embedding") == "embedding"


def test_the_walk_finds_an_untranslated_message():
    """The checks above can fail: a message with no pattern stays English and is caught."""
    tree = ast.parse('raise InvalidInputError(f"the frobnicator of {doc} is out of order")')
    (text,) = [_sample(n.args[0]) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert text == "the frobnicator of 7 is out of order"
    assert not CJK.search(message("zh", text))
    assert message("zh", "empty file") == "空文件" and message("en", "empty file") == "empty file"
