"""How a scanned page is handed to the OCR engine: rendered no larger than the engine reads (RapidOCR
shrinks a longer side past 2000 px), the pixel-cap note unchanged, and progress told before the first page.
The engine call is replaced by a recorder: what is under test is the rendering and the reporting."""

from __future__ import annotations

import pytest

import rag.ingest.ocr as ocr
from tests import attack_data as A


@pytest.fixture
def seen(monkeypatch):
    sizes: list[tuple[int, int]] = []

    def record(image):
        sizes.append(image.size)
        return [], 0.0

    monkeypatch.setattr(ocr, "ocr_image", record)
    monkeypatch.setattr(ocr, "_read", type(ocr._read)())  # no reading cached by an earlier test
    return sizes


def test_a_large_page_is_rendered_at_the_engines_reading_size(seen):
    data = A.huge_scan_pdf(points=2000)  # 27.8 in square: 5787 px at 150 dpi, over the 16 Mpx cap
    notes: list[str] = []
    ticks: list[tuple[int, int]] = []
    ocr.ocr_pages(data, [0], progress=lambda d, t: ticks.append((d, t)), notes=notes)
    assert seen == [(ocr.OCR_MAX_SIDE, ocr.OCR_MAX_SIDE)] and ocr.OCR_MAX_SIDE % 32 == 0
    # the note tells of the pixel cap (4000 px), as before: the engine itself would have shrunk the rest
    assert notes == ["page 1 is 28 x 28 in; OCR read it at 144 dpi to stay under 16 Mpx (RAG_OCR_MAX_PIXELS)"]
    assert ticks == [(0, 1), (1, 1)]


def test_a_page_under_the_engines_size_keeps_150_dpi(seen):
    data = A.huge_scan_pdf(points=720)  # 10 in square: 1500 px at 150 dpi
    ticks: list[tuple[int, int]] = []
    ocr.ocr_pages(data, [0], progress=lambda d, t: ticks.append((d, t)))
    assert seen == [(1500, 1500)]
    assert ticks == [(0, 1), (1, 1)]


def test_no_progress_is_told_for_no_pages(seen):
    ticks: list[tuple[int, int]] = []
    assert ocr.ocr_pages(A.huge_scan_pdf(points=720), [], progress=lambda d, t: ticks.append((d, t))) == {}
    assert ticks == [] and seen == []


def test_pages_read_side_by_side_come_back_in_page_order(monkeypatch):
    """Two engines read two pages at once; the readings, the progress and the cache keep page order even
    when a later page finishes first."""
    import io
    import threading
    import time

    import pypdfium2 as pdfium

    from rag.ingest.pdf.records import Segment

    doc = pdfium.PdfDocument.new()
    widths = [200 + 40 * k for k in range(5)]
    for w in widths:
        doc.new_page(w, 300)
    buf = io.BytesIO()
    doc.save(buf)
    data = buf.getvalue()
    slots: set[int] = set()

    def record(image):
        slots.add(getattr(ocr._slot, "n", 0))
        assert threading.current_thread() is not threading.main_thread()
        w, h = image.size
        time.sleep(0.2 if w < 500 else 0.0)  # the first page is slow: the second finishes before it
        return [Segment(f"{w}x{h}", 0.0, float(w), 0.0, float(h), 10.0)], 0.9

    monkeypatch.setattr(ocr, "ocr_image", record)
    monkeypatch.setattr(ocr, "_read", type(ocr._read)())
    ticks: list[tuple[int, int]] = []
    got = ocr.ocr_pages(data, range(5), progress=lambda d, t: ticks.append((d, t)), workers=2)
    assert list(got) == [0, 1, 2, 3, 4] and slots == {0, 1}
    assert ticks == [(k, 5) for k in range(6)]
    for k, w in enumerate(widths):  # each reading is its own page's, back in PDF points
        (seg,), conf = got[k]
        assert abs(seg.x1 - w) < 1 and abs(seg.bottom - 300) < 1 and conf == 0.9
    assert [k for _, _, k in ocr._read] == [0, 1, 2, 3, 4]  # cached in page order


def test_a_second_engine_only_when_a_core_is_spare():
    assert ocr.ocr_workers(10, cores=2, load=0.9) == 2  # this build alone on 2 cores
    assert ocr.ocr_workers(10, cores=2, load=1.6) == 1  # someone else is busy too
    assert ocr.ocr_workers(1, cores=2, load=0.0) == 1  # one page: one engine
    assert ocr.ocr_workers(10, cores=1, load=0.0) == 1
    assert ocr.ocr_workers(10, cores=8, load=0.0) == ocr.OCR_WORKERS


def test_the_detector_reads_a_page_at_its_limit_and_the_recogniser_at_full_size():
    """RapidOCR 1.4.4 ignores its own detector limit with limit type "max"; ours shrinks a page longer than
    OCR_DET_SIDE to it before detection, and leaves smaller images to the library's sizing."""
    import numpy as np

    det = ocr._engine().text_det
    page = np.full((ocr.OCR_MAX_SIDE, 1400, 3), 255, np.uint8)
    shape = det.get_preprocess(max(page.shape[:2]))(page).shape
    assert max(shape[2:]) == ocr.OCR_DET_SIDE and shape[2] % 32 == 0 and shape[3] % 32 == 0
    small = np.full((600, 400, 3), 255, np.uint8)
    assert det.get_preprocess(600).limit_type == "min"  # the library's own: small images are enlarged
    assert max(det.get_preprocess(600)(small).shape[2:]) > 600
