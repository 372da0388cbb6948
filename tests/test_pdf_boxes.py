"""Line boxes kept in the index (boxes.json): passage text matched back to the PDF reader's lines and
table rows (rag.ingest.pdf.boxes), written with the index, checked by its integrity check, kept current by updates and
removals; on real PDFs (a two-column paper, a scanned one) the stored box of a gold quote's line holds
that text, read back from the page inside the box (pypdfium2's text layer, or OCR of the box's pixels on
a scanned page)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.errors import IndexCorruptError
from rag.index.store.boxes import BOXES, passage_boxes, read_boxes
from rag.ingest.pdf.boxes import keyed, passage_lines, place_lines, quote_lines
from rag.records import PageLine

REAL = Path(__file__).resolve().parents[1] / "eval" / "real_pdfs"


def _lines(page: int, *texts: str) -> list[PageLine]:
    return [PageLine(page, t, 50.0, 100.0 + 12 * i, 300.0, 110.0 + 12 * i) for i, t in enumerate(texts)]


def test_a_passage_cut_mid_line_takes_the_cut_lines_and_its_spans_hold_their_text():
    lines = _lines(
        3,
        "The crews read every gauge at dawn. Each gauge was cali-",
        "brated against a benchmark before",
        "the season began. Readings that drifted",
    )
    text = "Each gauge was calibrated against a benchmark before the season began."
    got = passage_lines(text, "3", lines)
    assert [s[2] for s in got] == [100.0, 112.0, 124.0]
    assert [text[s[5] : s[6]] for s in got] == [
        "Each gauge was cali",
        "brated against a benchmark before",
        "the season began.",
    ]


def test_a_line_repeated_later_in_the_passage_does_not_take_the_place_of_another():
    # the first line (a journal name) also stands inside the passage; the lines keep their order
    key = keyed("正文第一行说明自动化学报的投稿要求与格式第二行继续说明")[0]
    got = place_lines(key, ["自动化学报", "正文第一行说明", "自动化学报的投稿要求与格式", "第二行继续说明"])
    assert got[1] == (0, 7) and got[2] == (7, 20) and got[3] == (20, 27)
    assert got[0] is None


def test_short_lines_are_taken_only_next_to_their_neighbours():
    key = keyed("alpha beta gamma 12 delta epsilon zeta")[0]
    lines = [keyed(t)[0] for t in ("12", "alpha beta gamma", "12", "delta epsilon zeta")]
    assert place_lines(key, lines) == [None, (0, 14), (14, 16), (16, 32)]


def test_pages_outside_the_passage_and_empty_text_give_nothing():
    lines = _lines(2, "Each gauge was calibrated")
    assert passage_lines("Each gauge was calibrated", "3-4", lines) == []
    assert passage_lines("", "2", lines) == []
    assert passage_lines("Each gauge was calibrated", "", lines) == []


def test_the_lines_holding_a_quote_are_those_its_span_overlaps():
    lines = _lines(1, "first line of text", "second line here", "third line ends")
    text = "first line of text second line here third line ends"
    spans = passage_lines(text, "1", lines)
    held = quote_lines(text, "of text second", spans)
    assert [s[2] for s in held] == [100.0, 112.0]
    assert quote_lines(text, "nowhere in it", spans) == []


def test_the_page_view_marks_the_page_holding_most_of_the_quotes_stored_lines():
    from rag.ingest.pageview import stored_marks

    lines = _lines(2, "end of page two and") + _lines(3, "the quote goes on over", "two lines of page three")
    text = "end of page two and the quote goes on over two lines of page three"
    spans = passage_lines(text, "2-3", lines)
    page, boxes, marked = stored_marks(text, "and the quote goes on over two lines", spans) or (0, [], 0)
    assert page == 3 and boxes == [(50.0, 100.0, 300.0, 110.0), (50.0, 112.0, 300.0, 122.0)]
    assert marked == len("andthequotegoesonovertwolines")
    assert stored_marks(text, "a sentence the passage lacks", spans) is None  # the page is searched instead


# --- real PDFs through a real index ------------------------------------------------------------------

TWO_COLUMN, SCANNED = "en_acl2007_p07-1088.pdf", "scan_en_linn.pdf"


@pytest.fixture(scope="module")
def boxed_index(tmp_path_factory):
    from rag.index.store import build_index
    from rag.settings import load_settings

    root = tmp_path_factory.mktemp("boxes")
    papers = root / "papers"
    papers.mkdir()
    for name in (TWO_COLUMN, SCANNED):
        shutil.copy(REAL / "corpus" / name, papers / name)
    s = load_settings(index_dir=root / "index", cache_dir=root / "cache")
    build_index([papers], s)
    return s, papers


def _gold(doc: str) -> list[str]:
    rows = [json.loads(line) for line in (REAL / "gold.jsonl").read_text("utf-8").splitlines() if line.strip()]
    return [e["quote"] for r in rows for e in r["evidence"] if e["doc"] == doc]


def _held(settings, quote: str) -> list:
    """The stored boxes of the lines holding a gold quote, from the passage of the index that holds it."""
    from rag.index.store import load_index

    index = load_index(settings, check_embedder=False)
    stored = read_boxes(settings.index_path)
    assert stored is not None
    for i in range(len(index.chunks)):
        c = index.chunks[i]
        if keyed(quote)[0] in keyed(c.text)[0]:
            return quote_lines(c.text, quote, passage_boxes(stored, c.chunk_id))
    return []


@pytest.mark.slow
def test_a_gold_quotes_stored_box_on_a_two_column_page_holds_its_text(boxed_index):
    import pypdfium2 as pdfium

    settings, papers = boxed_index
    doc = pdfium.PdfDocument(str(papers / TWO_COLUMN))
    checked = 0
    for quote in _gold(TWO_COLUMN):
        held = _held(settings, quote)
        assert held, quote
        text = ""
        for page, x0, top, x1, bottom, _, _ in held:
            p = doc[page - 1]
            h = p.get_height()  # the text layer counts y from the bottom
            text += p.get_textpage().get_text_bounded(x0 - 1, h - bottom - 1, x1 + 1, h - top + 1)
        assert keyed(quote)[0] in keyed(text)[0], (quote, text)
        assert (
            max(x1 for _, _, _, x1, _, _, _ in held) < doc[held[0][0] - 1].get_width() * 0.55
            or min(x0 for _, x0, _, _, _, _, _ in held) > doc[held[0][0] - 1].get_width() * 0.45
        )  # one column's line, not a row across both
        checked += 1
    assert checked == 4  # three sentences and a table row


@pytest.mark.slow
def test_a_gold_quotes_stored_box_on_a_scanned_page_holds_its_text(boxed_index):
    import pypdfium2 as pdfium

    from rag.ingest.ocr import ocr_image

    settings, papers = boxed_index
    doc = pdfium.PdfDocument(str(papers / SCANNED))
    quotes = _gold(SCANNED)
    assert quotes
    for quote in quotes:
        held = _held(settings, quote)
        assert held, quote
        text = ""
        for page, x0, top, x1, bottom, _, _ in held:
            scale = 3.0
            image = doc[page - 1].render(scale=scale).to_pil()
            crop = image.crop(
                (int((x0 - 2) * scale), int((top - 2) * scale), int((x1 + 2) * scale), int((bottom + 2) * scale))
            )
            text += "".join(s.text for s in ocr_image(crop)[0])
        assert keyed(quote)[0].lower() in keyed(text)[0].lower(), (quote, text)


@pytest.mark.slow
def test_boxes_are_checked_with_the_index_and_follow_removals(boxed_index, tmp_path):
    from rag.index.store import remove_documents, verify_index

    settings, _ = boxed_index
    shutil.copytree(settings.index_path, tmp_path / "index" / settings.index_path.name)
    s = settings.model_copy(update={"index_dir": tmp_path / "index"})
    copy = s.index_path
    params = json.loads((copy / "params.json").read_text("utf-8"))
    assert BOXES in params["files"]  # in the manifest the integrity check reads
    assert set(read_boxes(copy) or {}) == {TWO_COLUMN, SCANNED}
    remove_documents([SCANNED], s)
    assert set(read_boxes(copy) or {}) == {TWO_COLUMN}
    raw = (copy / BOXES).read_bytes()
    (copy / BOXES).write_bytes(raw.replace(b"[1,", b"[2,", 1))  # one page number changed, same size
    with pytest.raises(IndexCorruptError, match=BOXES):
        verify_index(s)
