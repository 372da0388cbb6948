"""The app's service layer on real indexes: streamed answers, follow-ups, clear messages for any
question, and uploads that are checked, indexed, immediately searchable and never fatal."""

from __future__ import annotations

import shutil

import pytest
from helpers import make_pdf

from app.service import AppService, Exchange, safe_filename
from rag.answer.pipeline import clean_question
from rag.errors import InvalidInputError
from rag.index.store import build_index, load_index
from rag.records import Answer
from rag.settings import load_settings

NO_WORDS = "the question has no words in it (only punctuation, symbols or invisible characters); type a question"
NEW_DOC = (
    "# Lunar Data Governance\n\n## Charter\n\nThe Lunar Data Charter was signed in 2031 by eleven space agencies. "
    "It requires that telemetry from the lunar surface be archived for fifty years.\n"
)


@pytest.fixture(scope="module")
def service(fixture_settings):
    return AppService(fixture_settings)


@pytest.fixture
def private(tmp_path, fixture_corpus, fixture_settings):
    """A service over its own copy of the fixture corpus (so uploads change nothing else)."""

    def make(**overrides) -> AppService:
        corpus = tmp_path / "corpus"
        shutil.copytree(fixture_corpus, corpus)
        s = load_settings(
            index_dir=tmp_path / "index",
            cache_dir=fixture_settings.embedding_cache_dir,
            chunk_size=120,
            chunk_overlap=30,
            **overrides,
        )
        build_index([corpus], s)
        # the app's own settings need not match the index's chunking: uploads keep the index's
        return AppService(
            load_settings(index_dir=tmp_path / "index", cache_dir=fixture_settings.embedding_cache_dir, **overrides)
        )

    return make


def test_stream_yields_text_pieces_then_the_exchange(service):
    items = list(service.chat("墨子号卫星是什么时候发射的？"))
    *pieces, ex = items
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert isinstance(ex, Exchange) and isinstance(ex.answer, Answer)
    assert "".join(pieces) == ex.answer.answer and "2016年8月" in ex.answer.answer
    assert ex.rewrite.mode == "none" and not ex.error


def test_follow_up_uses_the_session_history(service):
    *_, first = service.chat("新加坡个人数据保护委员会负责执行哪部法律？")
    *_, follow = service.chat("它是哪一年成立的？", [first])
    assert follow.question == "它是哪一年成立的？"
    assert follow.rewrite.query == "新加坡个人数据保护委员会是哪一年成立的？"
    assert follow.answer.question == follow.rewrite.query
    assert follow.answer.citations[0].quote.startswith("新加坡个人数据保护委员会成立于2012年")
    # failed exchanges are not history
    *_, alone = service.chat("它是哪一年成立的？", [Exchange("x", error="boom")])
    assert alone.rewrite.mode == "none"


@pytest.mark.parametrize(
    "question,message",
    [
        ("", "the question is empty; type a question"),
        ("   \n\t ", "the question is empty; type a question"),
        ("\x00\x01\u200b\ufeff", "the question is empty; type a question"),
        ("数" * 2001, "the question is 2001 characters long; keep it under 2000"),
        ("？？？", NO_WORDS),
        ("😀😀😀", NO_WORDS),
        ("...\u200b\x01", NO_WORDS),
    ],
)
def test_unusable_questions_get_a_clear_message(service, question, message):
    with pytest.raises(InvalidInputError) as err:
        list(service.chat(question))
    assert str(err.value) == message
    with pytest.raises(InvalidInputError):
        service.ask_record(question)


@pytest.mark.parametrize(
    "question",
    [
        "<script>alert(1)</script>",
        "😀 数据",
        "SELECT * FROM docs; --",
        "\ud800墨子号\x07卫星",
        "q" * 2000,
        "What share of intercontinental traffic uses submarine cables?" * 30,
        "%s %d {0} ${x}",
    ],
)
def test_odd_questions_still_get_an_answer(service, question):
    record = service.ask_record(question)
    assert record["answer"] and set(record) >= {"question", "citations", "retrieved", "abstained"}
    assert record["question"] == clean_question(question)


def test_abstention_keeps_the_closest_passages(fixture_settings):
    from html import escape

    from app.render import assistant_markdown, sources_html

    strict = AppService(fixture_settings.model_copy(update={"abstain_threshold": 99.0}))
    *pieces, ex = strict.chat("墨子号卫星是什么时候发射的？")
    assert ex.answer.abstained and ex.answer.citations == () and "".join(pieces) == "资料中没有找到答案。"
    assert assistant_markdown(ex, 0).startswith('<span class="abstain">资料中没有找到答案。</span>')
    html = sources_html([ex])
    assert html.count('<div class="passage" id="src-0-c') == 3
    assert escape(ex.answer.retrieved[0].chunk.text[-30:]) in html


def test_doc_filter_and_k(service):
    rec = service.ask_record("When was the committee founded?", 2, ["en_notes.md"])
    assert len(rec["retrieved"]) == 2 and {r["doc"] for r in rec["retrieved"]} == {"en_notes.md"}
    with pytest.raises(InvalidInputError, match="none of the selected documents is in the index"):
        service.ask_record("x y z", None, ["nope.txt"])


def test_safe_filename_keeps_uploads_inside_their_folder():
    assert safe_filename("../../etc/passwd.md") == "passwd.md"
    assert safe_filename("C:\\Users\\x\\论文 草稿.pdf") == "论文_草稿.pdf"
    assert safe_filename(".hidden.md") == "hidden.md"
    assert safe_filename("a<>|b.txt") == "a_b.txt"
    assert safe_filename("...") == "document"


def test_upload_is_indexed_and_immediately_searchable(private, tmp_path):
    svc = private()
    before = {d.doc_id: d.n_chunks for d in svc.documents()}
    src = tmp_path / "incoming" / "lunar notes.md"
    src.parent.mkdir()
    src.write_text(NEW_DOC, encoding="utf-8")
    steps = []
    report = svc.add_documents([src], progress=lambda frac, desc: steps.append((frac, desc)))
    assert (report.added, report.skipped, report.error) == (["lunar_notes.md"], [], "")
    assert steps[0] == (0.0, "checking files") and steps[-1] == (1.0, "done")
    assert any(d.startswith("embedding") for _, d in steps)
    saved = svc.settings.uploads_path / "lunar_notes.md"
    assert saved.read_text(encoding="utf-8") == NEW_DOC
    docs = {d.doc_id: d for d in svc.documents()}
    assert {k: docs[k].n_chunks for k in before} == before  # the old documents are untouched
    assert svc.is_uploaded(docs["lunar_notes.md"]) and not svc.is_uploaded(docs["en_notes.md"])
    rec = svc.ask_record("When was the Lunar Data Charter signed?")
    assert rec["citations"][0]["doc"] == "lunar_notes.md" and "2031" in rec["answer"]
    assert load_index(svc.settings).params["chunking"]["size"] == 120  # the index's chunking was kept
    # the same file again is a duplicate, reported, and nothing is rebuilt
    again = svc.add_documents([src])
    assert again.added == [] and again.skipped == [("lunar notes.md", "already in the index as `lunar_notes.md`")]


def test_bad_uploads_are_reported_and_the_good_one_still_added(private, tmp_path, fixture_corpus):
    svc = private(upload_max_mb=0.002)  # about 2 KB
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    files = {
        "tool.exe": b"MZ\x90\x00binary",
        "fake.pdf": b"just text pretending to be a PDF",
        "scan.pdf": make_pdf([]),
        "zero.pdf": b"",
        "cut.pdf": make_pdf([])[:120],  # a download cut short
        "blob.txt": b"\x00\x01\x02" * 50,
        "empty.md": b"   \n",
        "big.txt": ("long text. " * 400).encode(),
        "en_notes.md": (fixture_corpus / "en_notes.md").read_bytes(),
        "good.md": NEW_DOC.encode(),
    }
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    steps: list = []
    names = [*files, "vanished.md"]
    report = svc.add_documents([inbox / n for n in names], progress=lambda frac, desc: steps.append((frac, desc)))
    # the bar moves while each file is read (it sat at "checking files - 0%" until all were read and OCR'd)
    reading = [s for s in steps if s[1].startswith("reading ")][: len(names)]
    assert reading == [(pytest.approx(0.8 * i / len(names)), f"reading {n}") for i, n in enumerate(names)]
    assert report.added == ["good.md"] and report.error == ""
    assert dict(report.skipped) == {
        "tool.exe": "unsupported type '.exe' (use .txt, .md or .pdf)",
        "fake.pdf": "not a PDF file (no %PDF header)",
        "scan.pdf": "PDF has no text: no text layer, and OCR found none on its pages",
        "zero.pdf": "empty file",
        "cut.pdf": "unreadable PDF: the file is damaged or incomplete; download or export it again",
        "blob.txt": "binary file (contains NUL bytes)",
        "empty.md": "empty file",
        "big.txt": "4.3 KB is over the 2.0 KB upload limit",
        "en_notes.md": "already in the index as `en_notes.md`",
        "vanished.md": "the upload did not arrive; try again",
    }
    assert sorted(p.name for p in svc.settings.uploads_path.iterdir()) == ["good.md"]
    assert (
        "**Added and searchable**" in report.markdown()
        and "- skipped `tool.exe`: unsupported type" in report.markdown()
    )


def test_missing_sources_refuse_the_upload_and_keep_the_index(private, tmp_path):
    svc = private()
    before = set(d.doc_id for d in svc.documents())
    (tmp_path / "corpus" / "zh_paper.txt").unlink()
    new = tmp_path / "new.md"
    new.write_text(NEW_DOC, encoding="utf-8")
    report = svc.add_documents([new])
    assert report.added == [] and report.error.startswith("the sources of 1 indexed documents are missing (e.g. ")
    assert report.error.endswith("rebuild the index with: rag index PATH")
    assert set(d.doc_id for d in svc.documents()) == before
    assert list(svc.settings.uploads_path.iterdir()) == []
    assert svc.ask_record("墨子号卫星是什么时候发射的？")["answer"]
