"""OCR of scanned PDF pages, offline: pages rendered with pypdfium2 and read by RapidOCR (PP-OCRv4
Chinese/English detection and recognition models, shipped inside the ``rapidocr-onnxruntime`` wheel,
run by onnxruntime on the CPU; nothing is downloaded)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from rag.pdf import Segment

OCR_DPI = 150  # rendering resolution: body text of a paper is ~25 pixels high, which the models read well

_LOCK = threading.Lock()  # one recogniser per process; onnxruntime sessions are not shared across threads here


@lru_cache(maxsize=1)
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def ocr_image(image: Any) -> tuple[list[Segment], float]:
    """Text boxes of one page image (a PIL image or numpy array), in pixels, and the mean confidence
    weighted by the characters read (0.0 when nothing was read)."""
    import numpy as np

    arr = np.asarray(image.convert("RGB")) if hasattr(image, "convert") else np.asarray(image)
    with _LOCK:
        result, _ = _engine()(arr)
    segs: list[Segment] = []
    total = weight = 0.0
    for box, text, score in result or []:
        xs, ys = [p[0] for p in box], [p[1] for p in box]
        text = str(text).strip()
        if not text:
            continue
        top, bottom = float(min(ys)), float(max(ys))
        segs.append(Segment(text, float(min(xs)), float(max(xs)), top, bottom, (bottom - top) * 0.8))
        total += float(score) * len(text)
        weight += len(text)
    return segs, (total / weight if weight else 0.0)


def ocr_pages(
    data: bytes, indexes: Sequence[int], progress: Callable[[int, int], None] | None = None
) -> dict[int, tuple[list[Segment], float]]:
    """OCR the pages ``indexes`` (from 0) of a PDF: per page its text segments in PDF points and the
    mean confidence; ``progress(done, total)`` after each page."""
    import pypdfium2 as pdfium

    scale = OCR_DPI / 72
    out: dict[int, tuple[list[Segment], float]] = {}
    doc = pdfium.PdfDocument(data)
    try:
        for done, i in enumerate(indexes, start=1):
            image = doc[i].render(scale=scale).to_pil()
            segs, conf = ocr_image(image)
            out[i] = (
                [
                    Segment(s.text, s.x0 / scale, s.x1 / scale, s.top / scale, s.bottom / scale, s.size / scale)
                    for s in segs
                ],
                conf,
            )
            if progress:
                progress(done, len(indexes))
    finally:
        doc.close()
    return out
