"""The app's Review and References tabs in a real browser (Debian's Chromium through Playwright, nothing
downloaded), over an index of two real two-column PDFs (eval/real_pdfs/corpus): run a review from pasted
and uploaded questions and check the downloaded XLSX, Markdown and JSONL against the matrix on screen;
copy an answer with its references; download the references of an answer, a review and the library in
every format and parse them. Every step is timed (run with -s) for the closing report."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import bibtexparser
import pytest
import rispy
from conftest import StepTimes, open_app, served_app
from openpyxl import Workbook, load_workbook

from rag.index.store import build_index
from rag.refs.bibexport import EXPORT_FORMATS
from rag.settings import load_settings

REAL = Path(__file__).resolve().parents[1] / "eval" / "real_pdfs" / "corpus"
PAPERS = ("en_acl2007_p07-1088.pdf", "en_hindawi_rehab.pdf")
QUESTIONS = [
    "How does each paper evaluate its method?",
    "What does each paper say about patients' experiences of heart failure programmes?",
]
TIMES = StepTimes()
timed = TIMES.timed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app over an index of two real PDFs."""
    root = tmp_path_factory.mktemp("review-app")
    (root / "papers").mkdir()
    for name in PAPERS:
        shutil.copyfile(REAL / name, root / "papers" / name)
    s = load_settings(index_dir=root / "index", cache_dir=root / "cache")
    build_index([root / "papers"], s)
    with served_app(s) as (demo, url):
        yield demo, url, root, s


def matrix_cells(page) -> dict[tuple[int, str], dict]:
    """What the matrix shows: per (question row, paper) its status, quotes and pages."""
    return {
        (int(c["q"]), c["doc"]): c
        for c in page.eval_on_selector_all(
            "#review-matrix td.cell",
            """cells => cells.map(td => ({q: td.dataset.q, doc: td.dataset.doc, status: td.dataset.status,
                 text: td.innerText,
                 quotes: [...td.querySelectorAll('li .quote')].map(s => s.innerText),
                 pages: [...td.querySelectorAll('li')].map(li => li.dataset.page)}))""",
        )
    }


def download(page, selector: str, folder: Path) -> Path:
    with page.expect_download() as info:
        page.click(selector)
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return path


def run_review(page) -> None:
    page.evaluate(
        """() => { window.__status = [];
        new MutationObserver(() => { const s = document.querySelector('#review-status');
          if (s) window.__status.push(s.innerText); }).observe(document.body, {subtree: true, childList: true,
          characterData: true}); }"""
    )
    page.click("#review-run")
    page.locator("#review-matrix").wait_for()


def test_review_tab_matrix_matches_the_downloaded_workbook_markdown_and_jsonl(served, chromium, tmp_path):
    demo, url, _, _ = served
    docs = list(demo.rag_service.assistant.retriever.index.docs)
    ctx, page = open_app(chromium, url, timeout_ms=120000)
    try:
        t0 = time.perf_counter()
        page.get_by_role("tab", name="Review").click()
        page.fill("#review-questions textarea", "\n".join(QUESTIONS))
        run_review(page)
        timed("review 2 pasted questions x 2 papers (click -> matrix)", t0)
        status = page.locator("#review-status").inner_text()
        assert "2 questions × 2 papers" in status
        seen = page.evaluate("window.__status")
        assert any(s.startswith("Reviewing…") for s in seen), seen  # progress was shown while it ran
        cells = matrix_cells(page)
        assert sorted(cells) == sorted((q, d) for q in (1, 2) for d in docs)
        assert {c["status"] for c in cells.values()} <= {"discussed", "not discussed"}
        # the heart-failure question is the rehabilitation paper's topic: it has points with pages
        hf = cells[(2, "en_hindawi_rehab.pdf")]
        assert hf["status"] == "discussed" and hf["quotes"] and all(p for p in hf["pages"])

        t0 = time.perf_counter()
        xlsx = download(page, "#review-xlsx", tmp_path)
        timed("download the review .xlsx", t0)
        wb = load_workbook(xlsx)
        overview = [list(r) for r in wb["overview"].iter_rows(values_only=True)]
        head, rows = overview[0], overview[1:]
        assert [r[2] for r in rows] == QUESTIONS
        for (q, doc), cell in cells.items():
            col = next(i for i, h in enumerate(head) if h and h.startswith("R") and doc_title(demo, doc) in h)
            got = rows[q - 1][col]
            if cell["status"] == "not discussed":
                assert got == "not discussed" and cell["text"].startswith("not discussed")
            else:
                for quote in cell["quotes"]:
                    assert quote.strip("“”") in got
        sheet = wb[wb.sheetnames[2]]  # question 2's points: quote and page as on screen
        points = {r[3]: str(r[4]) for r in sheet.iter_rows(min_row=2, values_only=True) if r and r[1] == "discussed"}
        for quote, pg in zip(hf["quotes"], hf["pages"]):
            assert points[quote.strip("“”")] == pg

        md = download(page, "#review-md", tmp_path).read_text("utf-8")
        assert "## Matrix" in md and all(q in md for q in QUESTIONS)
        assert all(quote.strip("“”") in md for quote in hf["quotes"])
        records = [json.loads(x) for x in download(page, "#review-jsonl", tmp_path).read_text("utf-8").splitlines()]
        assert len(records) == 4
        by_cell = {(r["question"], r["doc"]): r for r in records}
        for (q, doc), cell in cells.items():
            rec = by_cell[(QUESTIONS[q - 1], doc)]
            assert rec["status"] == cell["status"]
            assert [f"“{p['quote']}”" for p in rec["points"]] == cell["quotes"]
    finally:
        ctx.close()


def doc_title(demo, doc: str) -> str:
    return demo.rag_service.assistant.retriever.index.docs[doc].title


def test_review_from_an_uploaded_workbook_of_questions_and_one_paper(served, chromium, tmp_path):
    _, url, _, _ = served
    book = tmp_path / "questions.xlsx"
    wb = Workbook()
    wb.active.append(["id", "question"])
    wb.active.append(["q-hf", QUESTIONS[1]])
    wb.save(book)
    ctx, page = open_app(chromium, url, timeout_ms=120000)
    try:
        page.get_by_role("tab", name="Review").click()
        page.locator("#review-upload input[type=file]").set_input_files(str(book))
        uploaded(page, ".xlsx")
        page.locator("#review-docs input").click()
        page.locator("[role=option]", has_text="(en_hindawi_rehab.pdf)").first.click()
        page.keyboard.press("Escape")
        t0 = time.perf_counter()
        run_review(page)
        timed("review 1 uploaded question x 1 paper", t0)
        cells = matrix_cells(page)
        assert list(cells) == [(1, "en_hindawi_rehab.pdf")]
        assert page.locator("#review-matrix td.q").inner_text() == QUESTIONS[1]
        assert "1 questions × 1 papers" in page.locator("#review-status").inner_text()
        # a bad questions file is one line in the status, not a crash
        bad = tmp_path / "questions.pdf"
        bad.write_bytes(b"%PDF-1.4\n")
        page.locator("#review-upload button[aria-label='Clear']").click()
        page.locator("#review-upload input[type=file]").set_input_files(str(bad))
        uploaded(page, ".pdf")
        page.click("#review-run")
        page.locator("#review-status").get_by_text("cannot read questions from '.pdf' files").wait_for()
    finally:
        ctx.close()


def uploaded(page, suffix: str) -> None:
    """Wait until the questions file box shows a file of ``suffix`` (it shows name and suffix apart)."""
    page.wait_for_function(
        f"(document.querySelector('#review-upload .file-preview, #review-upload table') || {{}}).innerText"
        f"?.includes('{suffix}')"
    )


def parse(fmt: str, text: str) -> int:
    """How many works a downloaded file holds, read by the format's own parser."""
    if fmt == "bibtex":
        lib = bibtexparser.parse_string(text)
        assert not lib.failed_blocks
        return len(lib.entries)
    if fmt == "ris":
        return len(rispy.loads(text))
    if fmt == "csl-json":
        return len(json.loads(text))
    lines = text.splitlines()
    assert [int(re.match(r"\[(\d+)\] \S", x).group(1)) for x in lines] == list(range(1, len(lines) + 1))
    return len(lines)


def test_references_of_an_answer_a_review_and_the_library_download_and_parse(served, chromium, tmp_path):
    demo, url, _, _ = served
    ctx, page = open_app(chromium, url, timeout_ms=120000)
    question = "What did patients say about structured heart failure programmes?"
    try:
        t0 = time.perf_counter()
        page.fill("#question textarea", question)
        page.press("#question textarea", "Enter")
        page.wait_for_selector(".rag-sources section#turn-0", state="attached")
        timed("ask a question", t0)
        copy = page.locator("#copy-answer textarea")
        page.wait_for_function("document.querySelector('#copy-answer textarea').value.length > 0")
        page.locator("#copy-answer button[aria-label='Copy']").click()
        clip = page.evaluate("navigator.clipboard.readText()")
        assert clip == copy.input_value() and "[1]" in clip
        assert demo.rag_service.assistant.retriever.index.docs["en_hindawi_rehab.pdf"].title in clip
        cited = {c.doc for c in demo.rag_service.assistant.ask(question).citations}

        page.get_by_role("tab", name="Review").click()
        page.fill("#review-questions textarea", QUESTIONS[0])
        run_review(page)

        page.get_by_role("tab", name="References").click()
        expected = {"answer": len(cited), "review": 2, "library": 2}
        for scope, n in expected.items():
            page.locator("#refs-scope").get_by_text(REF_LABELS[scope], exact=True).click()
            for fmt in EXPORT_FORMATS:
                t0 = time.perf_counter()
                page.locator("#refs-format").get_by_text(FMT_LABELS[fmt], exact=True).click()
                page.click("#refs-export")
                page.locator("#refs-status").get_by_text(
                    f"{n} work{'' if n == 1 else 's'} in {FMT_LABELS[fmt]}"
                ).wait_for()
                path = download(page, "#refs-download", tmp_path / scope)
                timed(f"references of {scope} as {fmt}", t0)
                assert parse(fmt, path.read_text("utf-8")) == n, (scope, fmt)
    finally:
        ctx.close()
        print("[times]", {k: round(v, 2) for k, v in TIMES.items()})


REF_LABELS = {"answer": "the latest answer", "review": "the latest review", "library": "the library's papers"}
FMT_LABELS = {"bibtex": "BibTeX", "ris": "RIS", "csl-json": "CSL-JSON", "gbt7714": "GB/T 7714", "apa": "APA"}


def test_review_handler_reports_progress_then_the_result_and_refs_need_an_answer_first(served, monkeypatch):
    from app.references import SCOPES, export_file, works_of  # gradio: imported only when this runs
    from app.review_tab import ReviewTab

    demo, _, root, s = served
    service = demo.rag_service
    tab = ReviewTab(service, s, root)
    # the order of the work: each question reviewed, and each "n of 2 done" the page shows
    import rag.review.api as api

    order: list[str] = []
    review_one = api.review_one

    def spied(retriever, qid, *rest):
        order.append(f"review {qid}")
        return review_one(retriever, qid, *rest)

    monkeypatch.setattr(api, "review_one", spied)
    steps = []
    for step in tab.run(
        "\n".join(QUESTIONS), None, ["en_hindawi_rehab.pdf"], "apa", "zh", progress=lambda *a, **k: None
    ):
        steps.append(step)
        order.append(step[0])
    shown = [step[0] for step in steps]
    assert shown[:-1] == [
        "正在读取问题……",
        "正在综述……已完成 0/2 个问题",
        "正在综述……已完成 0/2 个问题",
        "正在综述……已完成 1/2 个问题",
        "正在综述……已完成 2/2 个问题",
    ]
    # each question's tick comes as it finishes, before the next is reviewed (both came at the end; issue 29)
    reviewed = [o for o in order if o.startswith("review ")]
    assert len(reviewed) == 2
    assert [o for o in order if o.startswith("review ") or "1/2" in o] == [
        reviewed[0],
        "正在综述……已完成 1/2 个问题",
        reviewed[1],
    ], order
    assert shown[-1].startswith("**2 个问题 × 1 篇文献**")
    result = steps[-1][-1]
    assert sorted(p.name for p in result.folder.iterdir()) == [
        "questions.txt",
        "review.jsonl",
        "review.md",
        "review.xlsx",
    ]
    with pytest.raises(Exception, match="no answer with sources yet"):
        works_of("answer", service, [], None)
    with pytest.raises(Exception, match="no review yet"):
        works_of("review", service, [], None)
    assert len(works_of("review", service, [], result)) == 1
    path = export_file(works_of("library", service, [], None), "bibtex", tmp := root / "refs", "library")
    assert path == tmp / "references-library.bib" and len(bibtexparser.parse_string(path.read_text()).entries) == 2
    assert set(SCOPES) >= {"answer", "review", "library"}


def test_the_new_tabs_and_the_sources_panel_speak_the_browsers_language_and_switch(served, chromium):
    _, url, _, _ = served
    ctx, page = open_app(chromium, url, "zh-CN", timeout_ms=120000)
    try:
        page.get_by_role("tab", name="综述").wait_for()
        page.locator("#sources").get_by_text("每个回答所依据的段落显示在这里").wait_for()
        page.get_by_role("tab", name="参考文献").click()
        page.locator("#refs-scope").get_by_text("最新的回答", exact=True).click()
        page.click("#refs-export")
        page.locator("#refs-status").get_by_text("还没有带出处的回答；请先在“提问”页提问").wait_for()
        page.get_by_role("tab", name="综述").click()
        page.fill("#review-questions textarea", QUESTIONS[1])
        t0 = time.perf_counter()
        run_review(page)
        timed("review in the Chinese interface", t0)
        assert page.locator("#review-status").inner_text().startswith("1 个问题 × 2 篇文献")
        assert page.locator("#review-matrix th").nth(1).inner_text() == "问题"
        where = page.locator("#review-matrix td[data-status=discussed] .where").first.inner_text()
        assert re.match(r"第 \d+ 页", where), where
        page.locator("#lang").get_by_text("English").click()
        page.get_by_role("tab", name="Review").wait_for()
        page.get_by_role("tab", name="References").wait_for()
        page.locator("#sources").get_by_text("The passages behind each answer appear here").wait_for(state="attached")
        page.locator("#review-run").get_by_text("Run the review").wait_for()
    finally:
        ctx.close()
