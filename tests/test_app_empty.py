"""`rag app` on an index that does not exist yet (issue 29): an empty library that says how to add papers, in
the chat, the header and the Review tab, until the first upload builds the index at that path."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import gradio as gr
import httpx
import pytest
from conftest import StepTimes, open_app
from helpers import free_port

from app.chat import ChatHandlers
from app.i18n import message, t
from app.render import md_text
from app.review_tab import ReviewTab
from app.service import AppService
from app.workbench import chat_placeholder, header_text
from rag.errors import EmptyLibraryError, IndexCorruptError, IndexNotFoundError
from rag.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "eval" / "real_pdfs" / "corpus" / "zh_amas_2011.pdf"  # two pages of text
EMPTY_EN = (
    "The library is empty: no papers are indexed yet. Add PDFs (or .txt, .md files) under “Add documents” in the "
    "Documents tab, or index a folder with `rag index FOLDER --index {index}` and start `rag app` again."
)
EMPTY_ZH = (
    "文献库是空的：还没有建立索引的文献。请在“文献库”页的“添加文献”处上传 PDF（或 .txt、.md 文件），"
    "或用 `rag index 文件夹 --index {index}` 为一个文件夹建立索引，再重新启动 `rag app`。"
)


def settings_at(tmp_path: Path, index: str) -> Settings:
    """Settings of an index named ``index`` under ``tmp_path``."""
    return load_settings(index_dir=tmp_path / "index", index=index, cache_dir=tmp_path / "cache")


def opened(settings: Settings) -> AppService:
    """The app's service: on no index it loads nothing (fast), so these tests stay in the fast tier."""
    return AppService(settings)


@pytest.mark.parametrize("made", ["missing", "empty folder"])
def test_an_app_on_no_index_is_an_empty_library_that_says_how_to_add_papers(tmp_path, made):
    s = settings_at(tmp_path, "lib")
    if made == "empty folder":
        s.index_path.mkdir(parents=True)
    service = opened(s)
    assert service.empty
    assert service.documents() == [] and service.library() == []
    assert service.citation_graph() == {"nodes": [], "edges": []}
    assert chat_placeholder(service, "en") == EMPTY_EN.format(index="lib")
    assert chat_placeholder(service, "zh") == EMPTY_ZH.format(index="lib")
    assert header_text(service, "en") == f"## {t('en', 'title')}\nIndex `lib`: " + EMPTY_EN.format(index="lib")
    with pytest.raises(EmptyLibraryError) as why:
        list(service.chat("What is the classification number?"))
    assert str(why.value) == EMPTY_EN.format(index="lib")
    assert message("zh", str(why.value)) == EMPTY_ZH.format(index="lib")
    assert not s.index_path.is_dir() or not any(s.index_path.iterdir())  # nothing written by looking


def test_a_question_and_a_review_in_an_empty_library_get_that_message(tmp_path):
    s = settings_at(tmp_path, "lib")
    service = opened(s)
    h = ChatHandlers(s, service, tmp_path)
    *_, last = h.respond("中图分类号是什么？", [], 5, [], False, "zh", None)
    chat, _sources, exchanges, copy, download, _box = last
    assert [ex.error for ex in exchanges] == [EMPTY_ZH.format(index="lib")]
    assert chat[-1]["content"] == f'<span class="rag-error">⚠️ {md_text(EMPTY_ZH.format(index="lib"))}</span>'
    assert Path(download["value"]).read_text("utf-8").count(EMPTY_ZH.format(index="lib")) == 1
    with pytest.raises(gr.Error) as api:  # the `ask` API endpoint: one message, no traceback
        h.ask("What is it?", lang="en")
    assert api.value.message == EMPTY_EN.format(index="lib")
    tab = ReviewTab(service, s, tmp_path)
    shown = list(tab.run("What does each paper say?", None, [], "gbt7714", "en"))
    assert [step[0] for step in shown] == ["Reading the questions…", f"**{EMPTY_EN.format(index='lib')}**"]
    assert not any(tmp_path.glob("review-*"))  # no review was started


def test_a_damaged_or_foreign_index_is_still_refused(tmp_path):
    s = settings_at(tmp_path, "broken")
    s.index_path.mkdir(parents=True)
    (s.index_path / ".rag-index").write_text("")  # ours (the marker), but its files are gone
    with pytest.raises(IndexCorruptError) as damaged:
        opened(s)
    assert str(damaged.value) == (
        f"index at {s.index_path} is damaged: params.json is missing or unreadable; rebuild it with: "
        "rag index PATH --force --index broken"
    )
    other = settings_at(tmp_path, "notes")
    other.index_path.mkdir(parents=True)
    (other.index_path / "todo.txt").write_text("not an index\n")
    with pytest.raises(IndexNotFoundError) as foreign:
        opened(other)
    assert str(foreign.value) == (
        f"{other.index_path} is not a rag index (no params.json); build one with: rag index PATH --index notes"
    )


def test_rag_app_on_an_empty_folder_then_upload_a_pdf_and_ask(chromium, tmp_path):
    """The new user's path in a browser: start `rag app` on an empty folder, read what to do, upload one PDF,
    ask about it and get a cited answer with its page (each step timed; run with -s to see the times)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") or k == "RAG_NATIVE_DIR"}
    env["RAG_CACHE_DIR"] = str(tmp_path / "cache")
    times = StepTimes()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "rag"), "app", "--index", str(lib), "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.2)
        times.timed("start `rag app` -> serving", t0)
        ctx, page = open_app(chromium, url, times=times)
        empty = EMPTY_EN.format(index=str(lib))
        shown = empty.replace("`", "")  # the header and the placeholder are Markdown: `...` is set as code
        assert page.locator("#header").inner_text().endswith(shown)
        assert page.locator("#chat").get_by_text(shown).count() == 1  # the empty chat's placeholder
        page.fill("#question textarea", "What is the classification number of the paper?")
        page.press("#question textarea", "Enter")
        page.locator("#chat .rag-error").wait_for()
        assert page.locator("#chat [data-testid=bot]").inner_text() == f"⚠️ {empty}"
        page.get_by_role("tab", name="Review").click()
        page.locator("#review-status").get_by_text(shown).wait_for()
        zh_ctx, zh_page = open_app(chromium, url, locale="zh-CN")  # a Chinese browser reads it in Chinese
        zh_shown = EMPTY_ZH.format(index=str(lib)).replace("`", "")
        zh_page.wait_for_function("document.querySelector('#header').innerText.includes('文献库是空的')")
        assert zh_page.locator("#header").inner_text().endswith(zh_shown)
        zh_page.locator("#chat").get_by_text(zh_shown).wait_for()
        zh_ctx.close()
        page.get_by_role("tab", name="Documents").click()
        t0 = time.perf_counter()
        page.locator("#upload input[type=file]").set_input_files([str(PAPER)])
        status = page.locator("#upload-status")
        status.get_by_text("Added and searchable").wait_for(timeout=180000)
        times.timed("upload one 2-page PDF -> indexed", t0)
        assert "zh_amas_2011.pdf" in status.inner_text()
        assert page.locator("#documents [role=gridcell]", has_text="zh_amas_2011.pdf").count() == 1
        assert "1 documents" in page.locator("#header").inner_text()
        assert (lib / "params.json").is_file()  # the index was built at the path the app was started on
        page.get_by_role("tab", name="Ask").click()
        page.click("#new-conversation")
        page.wait_for_function("document.querySelectorAll('#chat [data-testid=bot]').length === 0")
        # the empty chat now says how to ask (the upload replaced the empty library's note)
        page.locator("#chat").get_by_text("Follow-up questions keep the conversation's subject.").wait_for()
        assert page.locator("#chat").get_by_text(shown).count() == 0
        t0 = time.perf_counter()
        page.fill("#question textarea", "《复发事件下一般半参数比率回归模型》的中图分类号是什么？")
        page.press("#question textarea", "Enter")
        page.wait_for_selector(".rag-sources section#turn-0", state="attached")
        times.timed("ask -> cited answer", t0)
        assert "O212.7" in page.locator("#chat [data-testid=bot]").inner_text()
        page.locator("#chat a.cite").first.click()
        active = page.locator(".rag-sources .passage.active")
        active.wait_for()
        assert active.get_attribute("data-page") == "1"
        assert "p. 1" in active.locator(".p-meta").inner_text()
        assert "zh_amas_2011.pdf" in active.locator(".p-meta").inner_text()
        ctx.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    said = proc.stdout.read().splitlines() if proc.stdout else []
    assert said[0] == (
        f"the app serves an empty library (no index at {lib} yet: upload papers in the Documents tab) at {url} ; "
        "Ctrl+C to stop"
    )
