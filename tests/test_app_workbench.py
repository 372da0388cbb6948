"""The app as a workbench, in a real browser (Debian's Chromium through Playwright, nothing downloaded), on
real PDFs made here: click [n] and see the cited page with the quote's box; a new conversation closes it;
the library manager (list, edit metadata, re-index, remove; duplicates refused); the interface in Chinese
and English. Every step is timed: the figures are printed (run with -s) for the closing report."""

from __future__ import annotations

import base64
import io
import re
import time

import pypdfium2 as pdfium
import pytest
from conftest import StepTimes, open_app, served_app
from pdfmake import FONT_PATH, draw, layout, text_pdf
from PIL import Image
from test_pdf import paper

from rag.index.store import build_index
from rag.index.store.boxes import passage_boxes, read_boxes
from rag.ingest.pageview import stored_marks
from rag.settings import load_settings

TIMES = StepTimes()
timed = TIMES.timed

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not FONT_PATH.exists(), reason="needs fonts-wqy-microhei")]

ENGLISH = """River Gauges in Practice

Kim Lee

Abstract: How field crews keep river gauges honest.

Methods

The survey crews read every river gauge at dawn and again at dusk during the flood season.
Each gauge was calibrated against a surveyed benchmark before the season began.
Readings that drifted by more than five millimetres were repeated the next morning.

Results

Gauge 14 drifted most, by nine millimetres, because its mounting post had settled in soft clay.
The crews replaced the post in June and the drift stopped.
"""


@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    """The app over an index of two real PDFs (a two-column Chinese paper, an English report)."""
    root = tmp_path_factory.mktemp("workbench")
    papers = root / "papers"
    papers.mkdir()
    paras, notes = paper()
    pdf, _ = draw(layout(paras, columns=2, notes=notes), header="城市档案研究 2025年第2期")
    (papers / "archive.pdf").write_bytes(pdf)
    (papers / "gauges.pdf").write_bytes(text_pdf(ENGLISH)[0])
    s = load_settings(index_dir=root / "index", cache_dir=root / "cache")
    build_index([papers], s)
    with served_app(s) as (demo, url):
        yield demo, url, root, s


def ask(page, question: str, turn: int) -> float:
    t0 = time.perf_counter()
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    page.wait_for_selector(f".rag-sources section#turn-{turn}", state="attached")
    return time.perf_counter() - t0


def _shown_image(page) -> Image.Image:
    """The page view's image as the browser got it (a file URL of the app, or inline data)."""
    src = page.locator("#page-view img").get_attribute("src")
    if src.startswith("data:"):
        return Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    return Image.open(io.BytesIO(page.request.get(src).body()))


def refused(page, question: str, replies: int) -> None:
    """Ask a question the app refuses: its message is the ``replies``-th reply of the chat."""
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    page.wait_for_function(f"document.querySelectorAll('#chat [data-testid=bot]').length === {replies}")


def test_click_a_citation_opens_the_cited_page_with_the_quote_boxed(workbench, chromium):
    demo, url, root, settings = workbench
    expected = demo.rag_service.assistant.ask("1960年的第60号记录由谁保存？")
    cite = expected.citations[0]
    assert cite.page
    ctx, page = open_app(chromium, url, times=TIMES)
    try:
        TIMES["ask a question"] = ask(page, "1960年的第60号记录由谁保存？", 0)
        t0 = time.perf_counter()
        page.locator("#chat a.cite").first.click()
        info = page.locator("#page-info")
        info.wait_for()
        timed("click [1] -> cited page shown", t0)
        assert info.get_attribute("data-doc") == "archive.pdf"
        shown = int(info.get_attribute("data-page"))
        lo, _, hi = cite.page.partition("-")
        assert int(lo) <= shown <= int(hi or lo)
        assert f"archive.pdf, p. {shown}" in info.inner_text()
        boxes = [tuple(map(float, b.split(","))) for b in info.get_attribute("data-boxes").split(";")]
        assert boxes and all(x1 > x0 and bottom > top for x0, top, x1, bottom in boxes)  # the quote's lines
        assert int(info.get_attribute("data-marked")) >= len("".join(cite.quote.split())) - 2
        assert page.locator("#page-view img").is_visible()
        # the boxes drawn are the index's own (boxes.json) for the lines holding the quote, not a page search
        stored = read_boxes(settings.index_path)
        assert stored is not None
        want = stored_marks(cite.text, cite.quote, passage_boxes(stored, cite.chunk_id))
        assert want is not None and shown == want[0]
        assert boxes == [pytest.approx(b, abs=0.051) for b in want[1]]
        # and the page image carries the highlight there: the boxes' pixels tinted yellow, the margin white
        image = _shown_image(page)
        scale = image.width / pdfium.PdfDocument(str(root / "papers" / "archive.pdf"))[shown - 1].get_width()
        for x0, top, x1, bottom in boxes:
            r, g, b = (
                image.convert("RGB")
                .crop(tuple(int(v * scale) for v in (x0, top, x1, bottom)))
                .resize((1, 1), Image.BOX)
                .getpixel((0, 0))
            )
            assert r - b > 40, (r, g, b)  # yellow over the page's white (and its black text)
        assert image.convert("RGB").getpixel((3, 3)) == (255, 255, 255)
        # a new conversation closes the page view and its picker
        t0 = time.perf_counter()
        page.click("#new-conversation")
        page.wait_for_function("document.querySelectorAll('#chat [data-testid=bot]').length === 0")
        page.locator("#page-info").wait_for(state="detached")
        timed("new conversation", t0)
        assert not page.locator("#page-view img").is_visible()
        assert not page.locator("#page-pick").is_visible()
    finally:
        ctx.close()


def test_the_interface_follows_the_browser_language_and_switches(workbench, chromium):
    _, url, _, _ = workbench
    ctx, page = open_app(chromium, url, "zh-CN", times=TIMES)
    try:
        page.wait_for_function("document.querySelector('#question textarea').placeholder === '就这些文献提问……'")
        page.get_by_role("tab", name="文献库").wait_for()
        assert page.locator("#ask-btn").inner_text() == "提问"
        refused(page, "？？？", 1)
        page.locator("#chat").get_by_text("问题中没有文字（只有标点、符号或不可见字符）；请输入问题").wait_for()
        t0 = time.perf_counter()
        page.locator("#lang").get_by_text("English").click()
        page.wait_for_function("document.querySelector('#question textarea').placeholder === 'Ask about the papers…'")
        timed("switch the language", t0)
        assert page.locator("#ask-btn").inner_text() == "Ask"
        page.get_by_role("tab", name="Documents").wait_for()
        refused(page, "？？？", 2)
        page.locator("#chat [data-testid=bot]").nth(1).get_by_text("the question has no words in it").wait_for()
        page.get_by_role("tab", name="Documents").click()
        assert "parse warnings" in page.locator("#documents").inner_text()
    finally:
        ctx.close()


def _row(page, doc: str):
    return page.locator("#documents [role=row]", has=page.locator("[role=gridcell]", has_text=doc))


def _pick(page, doc: str) -> None:
    page.locator("#doc-pick input").click()
    page.locator("[role=option]", has_text=f"({doc})").first.click()
    page.wait_for_function("document.querySelector('#edit-title textarea, #edit-title input').value !== ''")


def test_the_library_manager_lists_edits_reindexes_removes_and_refuses_duplicates(workbench, chromium, tmp_path):
    demo, url, root, s = workbench
    ctx, page = open_app(chromium, url, times=TIMES)
    try:
        page.get_by_role("tab", name="Documents").click()
        row = _row(page, "archive.pdf")
        row.wait_for()
        cells = row.locator("[role=gridcell]").all_inner_texts()
        info = demo.rag_service.assistant.retriever.index.docs["archive.pdf"]
        assert cells[1] == info.title and cells[5] == str(info.n_chunks) and cells[7] == "PDF"
        assert int(cells[4]) >= 2 and "footnotes" in cells[6]  # pages; what reading it noticed

        # edit the English report's metadata
        t0 = time.perf_counter()
        _pick(page, "gauges.pdf")
        page.fill("#edit-title textarea, #edit-title input", "River Gauges in Practice: A Field Report")
        page.fill("#edit-authors textarea, #edit-authors input", "Kim Lee; 王芳")
        page.fill("#edit-year textarea, #edit-year input", "2021")
        page.click("#save-metadata")
        page.locator("#library-status").get_by_text("Saved the metadata of gauges.pdf").wait_for()
        timed("edit metadata (saved, index rebuilt)", t0)
        cells = _row(page, "gauges.pdf").locator("[role=gridcell]").all_inner_texts()
        assert cells[1:4] == ["River Gauges in Practice: A Field Report", "Kim Lee, 王芳", "2021"]
        assert cells[7] == "PDF · edited"
        assert (root / "index" / "default.metadata.json").is_file()

        t0 = time.perf_counter()
        _pick(page, "gauges.pdf")
        page.click("#reindex-document")
        page.locator("#library-status").get_by_text("Re-indexed gauges.pdf").wait_for()
        timed("re-index one document", t0)
        assert (
            _row(page, "gauges.pdf").locator("[role=gridcell]").nth(1).inner_text()
            == "River Gauges in Practice: A Field Report"
        )

        # uploads: the same file again, and another PDF of the same text
        same = tmp_path / "gauges.pdf"
        same.write_bytes((root / "papers" / "gauges.pdf").read_bytes())
        again = tmp_path / "gauges-export.pdf"
        again.write_bytes(text_pdf(ENGLISH.replace("Kim Lee", "Kim Lee (corresponding)"), size=9.5)[0])
        t0 = time.perf_counter()
        page.locator("#upload input[type=file]").set_input_files([str(same), str(again)])
        status = page.locator("#upload-status")
        status.get_by_text("skipped").first.wait_for()
        timed("upload two copies (both refused)", t0)
        text = status.inner_text()
        assert "skipped gauges.pdf: already in the index as gauges.pdf" in text
        assert "skipped gauges-export.pdf: duplicate of gauges.pdf (near-identical text (similarity" in text
        assert sorted(demo.rag_service.assistant.retriever.index.docs) == ["archive.pdf", "gauges.pdf"]

        t0 = time.perf_counter()
        _pick(page, "gauges.pdf")
        page.click("#remove-document")
        page.locator("#library-status").get_by_text("Removed gauges.pdf from the index").wait_for()
        timed("remove a document", t0)
        assert _row(page, "gauges.pdf").count() == 0
        assert list(demo.rag_service.assistant.retriever.index.docs) == ["archive.pdf"]
    finally:
        ctx.close()
        print("[times]", {k: round(v, 2) for k, v in TIMES.items()})


def test_in_chinese_the_sources_panel_and_the_downloaded_conversation_are_chinese(workbench, chromium, tmp_path):
    """Switched to Chinese, an answer's sources panel (its label, scores, pages, the retrieved table), the
    copy text and the downloaded conversation carry no English word of ours; the `ask` API's errors follow
    its ``lang`` argument or the request's Accept-Language."""
    from gradio_client import Client
    from test_app_i18n import english_words

    _, url, _, _ = workbench
    ctx, page = open_app(chromium, url, "en-US", times=TIMES)
    try:
        page.locator("#sources").get_by_text("Sources", exact=True).wait_for()
        page.locator("#lang").get_by_text("中文").click()
        page.wait_for_function("document.querySelector('#question textarea').placeholder === '就这些文献提问……'")
        page.locator("#sources").get_by_text("出处", exact=True).wait_for()
        page.locator("#show-scores").get_by_text("显示检索分数").click()
        TIMES["ask in Chinese"] = ask(page, "1960年的第60号记录由谁保存？", 0)
        panel = page.locator("#sources .rag-sources section#turn-0")
        scores = panel.locator(".p-scores").first.inner_text()
        assert re.fullmatch(r"句子 [\d.]+ · 排名 \d+ · 融合 [\d.]+ · 向量 [\d.]+ · 关键词 [\d.]+", scores), scores
        assert re.search(r"第 \d+(-\d+)? 页", panel.locator(".p-meta").first.inner_text())
        assert panel.locator(".turn-head").inner_text().startswith("问题 1 的出处")
        assert panel.locator("details.retrieved th").all_text_contents() == [
            "排名",
            "文件",
            "融合",
            "向量",
            "关键词",
            "段落",
        ]
        # our words in the panel (the passages' own text and the documents' names aside)
        ours = panel.locator(".turn-head, .p-num, .p-scores, .p-meta, details.retrieved summary, details.retrieved th")
        shown = " ".join(ours.all_text_contents()).replace("archive.pdf", "").replace("gauges.pdf", "")
        assert english_words(shown) == []
        page.wait_for_function("document.querySelector('#copy-answer textarea').value.includes('引文：')")
        assert "quote:" not in page.locator("#copy-answer textarea").input_value()
        page.wait_for_function("!document.querySelector('#download').disabled")
        with page.expect_download() as got:
            page.click("#download")
        md = (tmp_path / "conversation.md").as_posix()
        got.value.save_as(md)
        text = open(md, encoding="utf-8").read()
        assert text.startswith("# 与 rag 的对话\n\n索引 `")
        assert "## 问1. 1960年的第60号记录由谁保存？" in text and "出处：" in text and "## 参考文献" in text
        assert "引用于 问1[1]" in text
        # our words in the file (quotes, titles in *...* and `names` are the papers' and the index's own)
        assert english_words(re.sub(r"“[^”]*”|`[^`]*`|\*[^*]+\*", "", text)) == []
    finally:
        ctx.close()
    # the API: Chinese when asked for (argument or Accept-Language), English by default
    zh = "问题中没有文字（只有标点、符号或不可见字符）；请输入问题"
    with pytest.raises(Exception) as err:
        Client(url, verbose=False).predict("？？？", 0, [], "zh", api_name="/ask")
    assert str(err.value) == zh
    with pytest.raises(Exception) as err:
        Client(url, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"}).predict("？？？", api_name="/ask")
    assert str(err.value) == zh
    with pytest.raises(Exception) as err:
        Client(url, verbose=False).predict("x", 1000, [], "zh", api_name="/ask")
    assert str(err.value) == "k（检索段落数）必须是 1 到 100 之间的整数，而不是 1000"
    with pytest.raises(Exception) as err:
        Client(url, verbose=False).predict("x", 1000, api_name="/ask")
    assert str(err.value) == "k (passages to retrieve) must be a whole number from 1 to 100, got 1000"


LATE = """Orchard Frost in Spring

Ana Ruiz

Abstract: How growers protect blossoms from late frost.

Methods

Growers ran wind machines on nights when the air near the ground fell below freezing.
Sprinklers coated the buds with ice, which held them at zero degrees while the water froze.
"""


def _picker_options(page, close: bool = True) -> list[str]:
    """The library manager's document picker's options, as the page lists them (left open if not ``close``)."""
    page.locator("#doc-pick input").click()
    page.locator("[role=option]").first.wait_for()
    options = page.locator("[role=option]").all_inner_texts()
    if close:
        page.keyboard.press("Escape")
    return options


def test_the_document_picker_follows_the_library_after_reload_and_refresh(workbench, chromium, tmp_path):
    """A tab opened before a document was added lists it after "Refresh list"; a tab opened after it lists
    it at once (both were stale: the picker kept the documents present when the app started)."""
    demo, url, _, _ = workbench
    service = demo.rag_service
    old, _ = open_app(chromium, url, times=TIMES)
    try:
        page = old.pages[0]
        page.get_by_role("tab", name="Documents").click()
        assert not any("(late.pdf)" in o for o in _picker_options(page))
        late = tmp_path / "late.pdf"
        late.write_bytes(text_pdf(LATE)[0])
        report = service.add_documents([late])  # as another tab's upload would
        assert "late.pdf" in service.assistant.retriever.index.docs, report.markdown("en")
        page.get_by_role("button", name="Refresh list").click()
        page.wait_for_function("document.querySelector('#documents').innerText.includes('late.pdf')")
        assert any("(late.pdf)" in o for o in _picker_options(page))
        fresh, page2 = open_app(chromium, url, times=TIMES)
        try:
            page2.get_by_role("tab", name="Documents").click()
            _row(page2, "late.pdf").wait_for()
            assert any("(late.pdf)" in o for o in _picker_options(page2, close=False))
            page2.locator("[role=option]", has_text="(late.pdf)").first.click()  # and the edit form fills
            page2.wait_for_function("document.querySelector('#edit-title textarea, #edit-title input').value !== ''")
            assert page2.locator("#edit-title textarea, #edit-title input").input_value() == "Orchard Frost in Spring"
        finally:
            fresh.close()
    finally:
        old.close()
        if "late.pdf" in service.assistant.retriever.index.docs:
            service.remove_document("late.pdf")


def test_a_chinese_browser_sees_no_english_of_ours(workbench, chromium):
    """A browser asking for Chinese (no click on 中文): the citation view, the copy box, the sources panel,
    the links' tooltips and a warning's title carry no English word of ours (each was left in English)."""
    from test_app_i18n import english_words

    demo, url, _, _ = workbench
    docs = demo.rag_service.assistant.retriever.index.docs
    names = sorted({*docs, *(d.title for d in docs.values() if d.title)}, key=len, reverse=True)
    ctx, page = open_app(chromium, url, "zh-CN", times=TIMES)

    def ours(text: str) -> list[str]:
        for name in names:
            text = text.replace(name, "")
        return english_words(re.sub(r"“[^”]*”", "", text))

    try:
        page.wait_for_function("document.querySelector('#question textarea').placeholder === '就这些文献提问……'")
        page.get_by_role("tab", name="文献库").click()
        cites = page.locator("#citations")
        cites.get_by_text("文献库内的引用").wait_for()
        time.sleep(1.5)  # a late English rendering (the page-load race) would land by now
        assert ours(cites.inner_text()) == [], cites.inner_text()
        page.get_by_role("tab", name="提问").click()
        ask(page, "1960年的第60号记录由谁保存？", 0)
        page.wait_for_function("document.querySelector('#copy-answer textarea').value.includes('引文：')")
        time.sleep(1.0)
        copy = page.locator("#copy-answer textarea").input_value()
        assert ours(copy.split("\n\n", 1)[1]) == [], copy
        assert page.locator("#chat a.cite").first.get_attribute("title") == "显示出处 1"
        meta = page.locator("#sources .p-meta").first.inner_text()
        assert ours(meta) == [] and "第" in meta, meta
        page.fill("#question textarea", "   ")
        page.click("#ask-btn")
        toast = page.locator(".toast-body").first
        toast.wait_for()
        assert "Warning" not in toast.inner_text() and "提示" in toast.inner_text(), toast.inner_text()
        # the open page's caption follows a switch of language, and goes with the next answer
        page.locator("#chat a.cite").first.click()
        info = page.locator("#page-info")
        info.wait_for()
        n = info.get_attribute("data-page")
        assert info.inner_text() == f"archive.pdf, 第 {n} 页"
        page.locator("#lang").get_by_text("English").click()
        page.wait_for_function(f"document.querySelector('#page-info').innerText === 'archive.pdf, p. {n}'")
        ask(page, "Why did gauge 14 drift?", 1)
        info.wait_for(state="detached")
        assert not page.locator("#page-view img").is_visible()
    finally:
        ctx.close()
