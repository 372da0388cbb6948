"""The runtime under the OCR models: OpenVINO (a dependency of rag) runs RapidOCR's own ONNX models, from its
wheel, in place of onnxruntime; without OpenVINO, or when it cannot compile them, onnxruntime reads the page
as before. Each engine here is built afresh and reads the same scanned page (tests/test_ocr.py's)."""

from __future__ import annotations

import logging
import sys
import time

import pytest
from pdfmake import FONT_PATH, draw, layout, scanned
from test_ocr import MAX_CER, TEXT, cer

import rag.ingest.ocr as ocr

pytestmark = [pytest.mark.skipif(not FONT_PATH.exists(), reason="needs fonts-wqy-microhei"), pytest.mark.slow]


@pytest.fixture(scope="module")
def page():
    """The scanned page as the OCR engine gets it (rendered at OCR_DPI), as an RGB array."""
    import numpy as np
    import pypdfium2 as pdfium

    pdf, _ = draw(layout(TEXT, size=12, leading=20))
    image = pdfium.PdfDocument(scanned(pdf))[0].render(scale=ocr.OCR_DPI / 72).to_pil()
    return np.asarray(image.convert("RGB"))


def fresh_engine(monkeypatch, runtime: str, precision: str | None = None):
    """A new engine (not the process's cached one) with the runtime and precision given."""
    monkeypatch.setattr(ocr, "OCR_RUNTIME", runtime)
    if precision:
        monkeypatch.setattr(ocr, "OCR_PRECISION", precision)
    return ocr._engine.__wrapped__(0)


def read(engine, page) -> tuple[str, float]:
    """The page's text as the engine reads it (lines joined) and the CPU seconds it took."""
    c = time.process_time()
    result, _ = engine(page)
    return "".join(text for _, text, _ in result), time.process_time() - c


def test_openvino_at_f32_reads_exactly_what_onnxruntime_reads(page, monkeypatch):
    ort = fresh_engine(monkeypatch, "onnxruntime")
    ov = fresh_engine(monkeypatch, "openvino", "f32")
    assert not hasattr(ort, "runtime") and ov.runtime == "openvino"
    read(ort, page), read(ov, page)  # the first call of each sets up its buffers
    (want, ort_cpu), (got, ov_cpu) = read(ort, page), read(ov, page)
    print(f"CPU seconds for the page: onnxruntime {ort_cpu:.2f}, OpenVINO f32 {ov_cpu:.2f}")
    assert got == want and cer("".join(t for t in TEXT if t), got) <= MAX_CER


def test_the_default_engine_reads_the_page_with_openvino(page, monkeypatch):
    engine = fresh_engine(monkeypatch, ocr.OCR_RUNTIME, ocr.OCR_PRECISION)
    assert engine.runtime == "openvino"
    got, _ = read(engine, page)
    assert cer("".join(t for t in TEXT if t), got) <= MAX_CER, got


def test_without_openvino_the_engine_stays_on_onnxruntime(page, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` raises ImportError
    engine = fresh_engine(monkeypatch, "openvino")
    assert not hasattr(engine, "runtime")
    got, _ = read(engine, page)
    assert cer("".join(t for t in TEXT if t), got) <= MAX_CER


def test_a_model_openvino_cannot_compile_leaves_onnxruntime_and_a_warning(page, monkeypatch, caplog):
    with caplog.at_level(logging.WARNING, logger="rag.ingest.ocr"):
        engine = fresh_engine(monkeypatch, "openvino", "no-such-precision")
    assert not hasattr(engine, "runtime")
    assert "OCR stays on onnxruntime: OpenVINO could not compile the models" in caplog.text
    got, _ = read(engine, page)
    assert cer("".join(t for t in TEXT if t), got) <= MAX_CER
