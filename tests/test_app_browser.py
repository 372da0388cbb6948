"""The app in a real browser (Debian's headless Chromium through Playwright): ask, click a citation
and find the cited sentence highlighted in the sources panel; follow up; upload a document."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import served_app
from helpers import CHROMIUM, CHROMIUM_ARGS

from rag.index.store import build_index
from rag.refs.render import answer_text
from rag.settings import load_settings


@pytest.fixture(scope="module")
def app_server(tmp_path_factory, fixture_corpus, fixture_settings):
    """The real app server over a private copy of the fixture index (uploads change nothing else)."""
    root = tmp_path_factory.mktemp("browser")
    shutil.copytree(fixture_corpus, root / "corpus")
    s = load_settings(
        index_dir=root / "index", cache_dir=fixture_settings.embedding_cache_dir, chunk_size=120, chunk_overlap=30
    )
    build_index([root / "corpus"], s)
    with served_app(s) as (demo, url):
        yield demo, url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: install Debian's chromium package (see .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        yield ctx
        ctx.close()


@pytest.fixture
def page(browser, app_server):
    browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_server[1].rstrip("/"))
    p = browser.new_page()
    p.set_default_timeout(30000)
    p.goto(app_server[1])
    p.wait_for_selector("#question textarea")
    yield p
    p.close()


def ask(page, question: str, turn: int) -> None:
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    page.wait_for_selector(f".rag-sources section#turn-{turn}", state="attached")


def test_click_a_citation_and_see_the_cited_sentence_highlighted(page, app_server, tmp_path):
    service = app_server[0].rag_service
    q = "墨子号卫星是什么时候发射的？"
    expected = service.assistant.ask(q)
    ask(page, q, 0)
    links = page.locator("#chat a.cite")
    assert links.all_inner_texts() == [f"[{c.n}]" for c in expected.citations]
    assert page.locator(".rag-sources .passage.active").count() == 0
    links.first.click()
    active = page.locator(".rag-sources .passage.active")
    active.wait_for()
    assert active.get_attribute("id") == "src-0-1"
    assert active.locator("mark.quote").inner_text() == expected.citations[0].quote
    assert active.locator(".p-title").inner_text() == expected.citations[0].title
    assert expected.citations[0].section in active.locator(".p-meta").inner_text()
    assert page.locator(".rag-sources section.turn.current").get_attribute("id") == "turn-0"
    copied = answer_text(expected, passages=False)  # the answer, then each source with its quote
    assert copied.startswith(expected.answer + "\n\nSources\n[1] " + f"{expected.citations[0].title} — §")
    assert page.input_value("#copy-answer textarea") == copied
    page.locator("#copy-answer button").first.click()  # the copy button puts answer + references on the clipboard
    clipboard = ""
    for _ in range(50):
        clipboard = page.evaluate("navigator.clipboard.readText()")
        if clipboard:
            break
        page.wait_for_timeout(100)
    assert clipboard == copied
    page.screenshot(path=str(tmp_path / "answered.png"), full_page=True)


def test_follow_up_then_back_to_the_first_answer(page, app_server):
    service = app_server[0].rag_service
    first = service.assistant.ask("新加坡个人数据保护委员会负责执行哪部法律？")
    ask(page, "新加坡个人数据保护委员会负责执行哪部法律？", 0)
    ask(page, "它是哪一年成立的？", 1)
    replies = page.locator("#chat [data-testid=bot]")
    assert "searched for: 新加坡个人数据保护委员会是哪一年成立的？" in replies.nth(1).inner_text()
    assert page.locator(".rag-sources section.turn.current").get_attribute("id") == "turn-1"
    replies.nth(0).locator("a.cite").first.click()  # a marker in the first answer shows the first answer's sources
    active = page.locator(".rag-sources .passage.active")
    active.wait_for()
    assert active.get_attribute("id") == "src-0-1"
    assert active.locator("mark.quote").inner_text() == first.citations[0].quote
    assert page.locator(".rag-sources section.turn.current").get_attribute("id") == "turn-0"
    # a new conversation forgets the subject: the same follow-up is now searched as typed
    page.click("#new-conversation")
    page.wait_for_function("document.querySelectorAll('#chat [data-testid=bot]').length === 0")
    ask(page, "它是哪一年成立的？", 0)
    assert replies.count() == 1 and "searched for" not in replies.first.inner_text()


def test_markup_in_a_question_is_shown_not_run(page):
    ask(page, '<img src=x onerror="window.__pwned=1">', 0)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#chat [data-testid=user]").first.inner_text() == '<img src=x onerror="window.__pwned=1">'


def test_upload_from_the_browser_then_ask_about_it(page, tmp_path):
    good, bad = tmp_path / "lunar charter.md", tmp_path / "blob.txt"
    good.write_text(
        "# Lunar Data Governance\n\nThe Lunar Data Charter was signed in 2031 by eleven space agencies.\n",
        encoding="utf-8",
    )
    bad.write_bytes(b"\x00\x01\x02" * 10)
    page.get_by_role("tab", name="Documents").click()
    page.locator("#upload input[type=file]").set_input_files([str(good), str(bad)])
    status = page.locator("#upload-status")
    status.get_by_text("Added and searchable").wait_for()
    assert "lunar_charter.md" in status.inner_text()
    assert "skipped blob.txt: binary file (contains NUL bytes)" in status.inner_text()
    assert page.locator("#documents [role=gridcell]", has_text="lunar_charter.md").count() == 1
    page.get_by_role("tab", name="Ask").click()
    ask(page, "When was the Lunar Data Charter signed?", 0)
    page.locator("#chat a.cite").first.click()
    active = page.locator(".rag-sources .passage.active")
    active.wait_for()
    assert "lunar_charter.md" in active.locator(".p-meta").inner_text()
    assert "2031" in active.locator("mark.quote").inner_text()


OPEN = "!document.querySelector('#download').disabled && !document.querySelector('#download-answers').disabled"


def test_downloads_close_when_a_question_is_sent_until_its_files_are_written(page):
    """Issue 29 item 7: after a new answer the conversation download served the previous file until the new
    one was written; now both chat downloads (and the References tab's) close the moment the question is
    sent, and the file they offer when they open again holds the new answer."""
    ask(page, "墨子号卫星是什么时候发射的？", 0)
    page.wait_for_function(OPEN)
    page.get_by_role("tab", name="References").click()
    page.click("#refs-export")
    page.wait_for_function("!document.querySelector('#refs-download').disabled")
    page.get_by_role("tab", name="Ask").click()
    page.evaluate(
        """() => { window.__seen = [];
        const look = () => window.__seen.push([document.querySelector('#download').disabled,
          document.querySelectorAll('#chat [data-testid=bot]').length]);
        new MutationObserver(look).observe(document.body, {subtree: true, childList: true, attributes: true,
          characterData: true}); }"""
    )
    ask(page, "新加坡个人数据保护委员会负责执行哪部法律？", 1)
    page.wait_for_function(OPEN)
    seen = page.evaluate("window.__seen")
    # the download was closed before the second answer showed, and never open again until its file was written
    closed_at = next(i for i, (disabled, _) in enumerate(seen) if disabled)
    assert all(bots < 2 for _, bots in seen[: closed_at + 1])
    reopened_at = next(i for i in range(closed_at, len(seen)) if not seen[i][0])
    assert all(disabled for disabled, _ in seen[closed_at:reopened_at])
    # the references of the previous answer are no longer offered: export them again for this one
    assert page.evaluate("document.querySelector('#refs-download').disabled")
    with page.expect_download() as info:
        page.click("#download")
    assert "新加坡个人数据保护委员会负责执行哪部法律？" in Path(info.value.path()).read_text("utf-8")
