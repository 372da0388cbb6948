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
