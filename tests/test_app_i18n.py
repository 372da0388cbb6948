"""The app in Chinese: every word it shows follows the interface language. The labels come from one table
(app/i18n.py); the messages and progress labels the app, the loader, the library manager and the question
checks (the chat and the `ask` API) write in English are found by walking their source, filled with sample
values and put through the app's translation in zh mode: one left in English fails here, naming it. The
sources panel (scores too), the chat, the copy text, the downloaded conversation and the citation view are
rendered in zh from Chinese-only data: any English word left is one of ours, and fails."""

from __future__ import annotations

import ast
import re

import pytest
from conftest import ROOT

from app.export import answer_with_references, conversation_markdown
from app.i18n import TEXT, message, stage, t, where
from app.library import DocRow
from app.render import chat_messages, citations_markdown, document_rows, sources_html
from app.service import Exchange
from rag.answer.conversation import Rewrite
from rag.index.store import DocInfo
from rag.ingest.chunking import APPARATUS_SECTION
from rag.ingest.pdf.apparatus import FRONT_KIND
from rag.records import Answer, Bib, Chunk, Citation, Hit, Person

FRONT = APPARATUS_SECTION[FRONT_KIND]  # "Front matter / 首页信息"
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
    # the question checks behind the chat and the `ask` API endpoint
    "rag/answer/pipeline.py": {"calls": {"InvalidInputError"}},
    "rag/answer/retrieval.py": {"calls": {"InvalidInputError"}},
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


# --- what the app renders itself ------------------------------------------------------------------

ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
TAG = re.compile(r"<[^>]*>")
OURS_ANYWAY = {"rag", "PDF"}  # the program's name; a file format's (the same in Chinese)


def english_words(shown: str) -> list[str]:
    """The English words of what the user reads: HTML tags dropped, their tooltips (title="...") kept."""
    text = TAG.sub(" ", re.sub(r'title="([^"]*)"', r"> \1 <", shown))
    return sorted({w for w in ENGLISH_WORD.findall(text) if w not in OURS_ANYWAY})


def _chinese_conversation() -> list[Exchange]:
    """Two answers and a refusal over Chinese-only documents (names, titles, sections, quotes, pages),
    with an in-text reference, so anything English in the rendering is the app's own."""
    passage = "一、发展现状\n二〇一六年八月，墨子号卫星发射升空。次年，京沪干线开通。"
    quote = "二〇一六年八月，墨子号卫星发射升空。"

    def hit(i: int) -> Hit:
        chunk = Chunk(f"量子#{i}", "量子", "量子通信", "一、发展现状", passage, 0, len(passage), page=str(i))
        return Hit(chunk, 0.03 - i / 1000, i, 0.8, 4.5)

    bib = Bib(type="article-journal", title="量子通信", authors=(Person("张伟"),), year="2021", journal="通信学报")
    refs = ({"n": "3", "raw": "王芳．量子密钥分发．物理学报，二〇一五．", "target": "王芳"},)
    cites = (
        Citation(1, "量子", "量子通信", "一、发展现状", "量子#1", passage, quote, 0.91, page="3", bib=bib, refs=refs),
        Citation(  # a passage of the title page: the index's bilingual apparatus section
            2, "量子", "量子通信", FRONT, "量子#2", passage, "次年，京沪干线开通。", 0.88, page="3-4", bib=bib
        ),
    )
    hits = tuple(hit(i) for i in range(1, 6))
    answered = Answer("墨子号何时发射？", f"{quote}[1]次年，京沪干线开通。[2]", False, cites, hits, {"total": 20.0})
    refused = Answer("火星上有几座城市？", "资料中没有找到答案。", True, (), hits, {"total": 20.0})
    return [
        Exchange("墨子号何时发射？", Rewrite("它何时发射？", "墨子号何时发射？", "substitute", "墨子号"), answered),
        Exchange("火星上有几座城市？", None, refused),
        Exchange("问" * 700, None, answered),
    ]


def _everything_rendered(lang: str) -> dict[str, str]:
    exchanges = _chinese_conversation()
    docs = {"量子": DocInfo("量子", "/文献/量子", "量子通信", ("张伟",), "h", 10, 4, 0)}
    graph = {
        "nodes": [
            {"id": "甲", "kind": "document", "title": "甲文", "year": "", "cited_by": 0},
            {"id": "乙", "kind": "document", "title": "乙文", "year": "", "cited_by": 1},
            {"id": "丙", "kind": "reference", "title": "丙书", "year": "2009", "cited_by": 2},
        ],
        "edges": [
            {"source": "甲", "target": "乙", "n": "1", "internal": True, "match": "doi"},
            {"source": "甲", "target": "丙", "n": "2", "internal": False, "match": ""},
        ],
    }
    shown = {
        "sources panel": sources_html(exchanges, show_scores=True, lang=lang),
        "chat": " ".join(m["content"] for m in chat_messages(exchanges, ("墨子号？", "墨子号[1]"), lang)),
        "citation view": citations_markdown(graph, lang=lang),
        "library table": str(
            document_rows(
                [
                    DocRow("甲", "甲文", "张伟", "2020", 0, 4, (("footnotes", 2),), "text · uploaded · edited"),
                    DocRow("乙", "乙文", "王芳", "2021", 3, 9, (), "PDF · uploaded"),
                ],
                lang,
            )
        ),
        "review matrix places": " ".join(where({"page": n, "section": FRONT}, lang) for n in (1, "2-3")),
    }
    for style in ("plain", "gbt7714"):
        shown[f"copy text ({style})"] = "\n".join(answer_with_references(ex, style, lang) for ex in exchanges)
        shown[f"downloaded conversation ({style})"] = conversation_markdown(exchanges, "默认", docs, style, lang)
    return shown


def test_the_sources_panel_copy_text_export_and_citation_view_speak_chinese():
    left = {part: english_words(text) for part, text in _everything_rendered("zh").items()}
    assert {part: words for part, words in left.items() if words} == {}
    zh = _everything_rendered("zh")
    assert "句子 0.910 · 排名 1 · 融合 0.0290 · 向量 0.800 · 关键词 4.50" in zh["sources panel"]
    assert "第 3-4 页" in zh["sources panel"] and "<th>排名</th><th>文件</th>" in zh["sources panel"]
    md = zh["downloaded conversation (plain)"]
    assert md.startswith("# 与 rag 的对话\n\n索引 `默认`（1 篇文献）· 导出于 ")
    assert "*检索的是：墨子号何时发射？*" in md and "出处：" in md and "## 参考文献" in md
    assert "- [2] *量子通信* — §首页信息，第 3-4 页 (R1): “次年，京沪干线开通。”" in md
    assert "- R1. 张伟. 量子通信. `量子` —— 引用于 问1[1], 问1[2], 问3[1], 问3[2]" in md
    assert "    引文：“二〇一六年八月，墨子号卫星发射升空。”" in zh["copy text (plain)"]
    assert "§ 首页信息 · 第 3-4 页 · " in zh["sources panel"]
    assert "'文本 · 已上传 · 已编辑'" in zh["library table"] and "'PDF · 已上传'" in zh["library table"]
    assert zh["review matrix places"] == "第 1 页, §首页信息 第 2-3 页, §首页信息"
    # in a citation style the cited page stays in the copy text (it was dropped: "section: ..." only)
    gbt = zh["copy text (gbt7714)"]
    assert "    章节：一、发展现状，第 3 页\n" in gbt and "    章节：首页信息，第 3-4 页\n" in gbt


def test_the_english_rendering_is_caught_by_the_same_check():
    """The check above can fail: the English rendering of the same conversation is full of our words."""
    en = {part: english_words(text) for part, text in _everything_rendered("en").items()}
    assert {"sentence", "rank", "fused", "dense", "bm", "document", "passage"} <= set(en["sources panel"])
    assert {"Conversation", "Sources", "References", "cited", "searched", "Closest"} <= set(
        en["downloaded conversation (plain)"]
    )
    assert {"quote", "rests", "ref"} <= set(en["copy text (plain)"]) and "section" in en["copy text (gbt7714)"]
    assert {"Citations", "library", "references", "cites", "Most"} <= set(en["citation view"])
    assert {"text", "uploaded", "edited", "footnotes"} <= set(en["library table"])
    assert {"Front", "matter"} <= set(en["sources panel"]) & set(en["review matrix places"])
    copy = "\n".join(answer_with_references(ex, "gbt7714", "en") for ex in _chinese_conversation())
    assert "    section: 一、发展现状, p. 3\n" in copy and "    section: Front matter, pp. 3-4\n" in copy
    assert {"characters", "show", "source", "searched"} <= set(en["chat"])


def test_every_message_raised_to_the_page_goes_through_the_translation():
    """A gr.Error / gr.Warning / gr.Info in the app shows ``t(...)`` or ``message(...)``, never raw text."""
    raw = []
    for path in sorted((ROOT / "app").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"Error", "Warning", "Info"}
                and node.args
            ):
                arg = node.args[0]
                name = arg.func.id if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) else ""
                if name not in {"t", "message"}:
                    raw.append(f"{path.name}:{node.lineno}")
    assert raw == []


def test_the_review_tab_moves_before_reading_the_questions(tmp_path):
    """Issue 29 item 8: the Review tab read the questions, made its folder and started the review before its
    first progress tick; now the bar and the status line move first, in the interface language."""
    from app.review_tab import ReviewTab
    from rag.settings import load_settings

    ticks: list[tuple[float, str]] = []
    tab = ReviewTab(None, load_settings(index_dir=tmp_path / "index"), tmp_path / "reviews")  # type: ignore[arg-type]
    run = tab.run(
        "各文如何看待网络主权？", None, [], "plain", "zh", progress=lambda f, desc="": ticks.append((f, desc))
    )
    status, *_ = next(run)
    assert (status, ticks) == ("正在读取问题……", [(0.0, "正在读取问题……")])
    assert not (tmp_path / "reviews").exists()  # nothing done yet: no review folder
    run.close()
