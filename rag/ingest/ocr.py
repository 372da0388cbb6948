"""OCR of scanned PDF pages, offline: pages rendered with pypdfium2 and read by RapidOCR (PP-OCRv4
Chinese/English detection and recognition models, shipped inside the ``rapidocr-onnxruntime`` wheel,
run by onnxruntime on the CPU; nothing is downloaded).

The Chinese recogniser often drops the spaces between English words ("Therepairofsubmarinecables"),
which would leave an English passage of a scan unsearchable by word; ``restore_spaces`` puts them back
with a word segmenter over English word frequencies (``wordsegment``: unigram counts of a public web
corpus, Apache-2.0), splitting a run of letters only where every piece is a common word.

A page's reading is kept in memory (by the PDF's content hash and page), so a PDF read more than once in
one process — an upload checked, then indexed, then a cited page opened in the app — is OCR'd once."""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from rag.ingest.pdf.records import Segment
from rag.ingest.pdf_guard import PdfLimits, raster_note, raster_scale

OCR_DPI = 150  # rendering resolution: body text of a paper is ~25 pixels high, which the models read well
# RapidOCR shrinks any image whose longer side exceeds 2000 px before reading it (its max_side_len), so a
# page is rendered no larger than that: pixels rendered past it are only thrown away again
OCR_MAX_SIDE = 1984  # a multiple of 32 under it: the detector takes sides in multiples of 32
# onnxruntime's intra-op threads; 1, measured on the shared 2-core machine: its second thread spin-waits,
# and under load that spinning cost CPU and wall time (see docs/pdf-reading.md for the figures)
OCR_THREADS = 1

_LOCK = threading.Lock()  # one recogniser per process; onnxruntime sessions are not shared across threads here
CACHE_PAGES = 512  # pages kept; a page's reading is a few kilobytes
SHORT_WORD_RANK = 200  # a piece under 4 letters must be among the 200 commonest English words (a, of, on...)
_LETTERS = re.compile(r"[A-Za-z]{2,}")
_URL = re.compile(r"(\S*(?:://|www\.)\S*)")
_CAMEL = re.compile(r"(?<=[a-z]{3})(?=[A-Z])")  # andGlobal, theIETF (not McDonald, iPhone)
# (content hash, pixel cap, page) -> (segments, confidence, the note on a page rendered smaller or '')
_read: OrderedDict[tuple[str, int, int], tuple[list[Segment], float, str]] = OrderedDict()


@lru_cache(maxsize=1)
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    # the angle classifier is off: it only turns upside-down lines, which a scanned paper does not have
    return RapidOCR(intra_op_num_threads=OCR_THREADS, inter_op_num_threads=1, use_cls=False)


@lru_cache(maxsize=1)
def _words() -> tuple[Any, dict[str, int]]:
    import wordsegment

    wordsegment.load()
    ranked = sorted(wordsegment.UNIGRAMS.items(), key=lambda kv: -kv[1])
    return wordsegment, {w: i for i, (w, _) in enumerate(ranked)}


def _split(run: str) -> str:
    ws, rank = _words()
    if run.lower() in rank:
        return run
    pieces = ws.segment(run.lower())
    if len(pieces) < 2 or sum(map(len, pieces)) != len(run):
        return run
    if any(len(w) < 4 and rank.get(w, SHORT_WORD_RANK) >= SHORT_WORD_RANK for w in pieces):
        return run  # a name cut into fragments (Nocetti -> no cet ti) is kept whole
    out, at = [], 0
    for w in pieces:
        out.append(run[at : at + len(w)])
        at += len(w)
    return " ".join(out)


def restore_spaces(line: str) -> str:
    """A recognised line with the spaces between its English words put back (Chinese untouched)."""
    if not _LETTERS.search(line):
        return line
    _, rank = _words()

    def run(m: re.Match) -> str:
        word = m.group()
        return word if word.lower() in rank else " ".join(_split(p) for p in _CAMEL.split(word))

    # addresses are left as read: their words are not English prose
    return "".join(part if _URL.fullmatch(part) else _LETTERS.sub(run, part) for part in _URL.split(line))


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
        text = restore_spaces(str(text).strip())
        if not text:
            continue
        top, bottom = float(min(ys)), float(max(ys))
        segs.append(Segment(text, float(min(xs)), float(max(xs)), top, bottom, (bottom - top) * 0.8))
        total += float(score) * len(text)
        weight += len(text)
    return segs, (total / weight if weight else 0.0)


def ocr_pages(
    data: bytes,
    indexes: Sequence[int],
    progress: Callable[[int, int], None] | None = None,
    max_pixels: int | None = None,
    notes: list[str] | None = None,
) -> dict[int, tuple[list[Segment], float]]:
    """OCR the pages ``indexes`` (from 0) of a PDF: per page its text segments in PDF points and the
    mean confidence; ``progress(0, total)`` first, then ``progress(done, total)`` after each page. A page
    whose image at OCR_DPI would exceed ``max_pixels`` is rendered smaller, so it fits, and said so in
    ``notes``; one longer than OCR_MAX_SIDE pixels is rendered at that size, without a note (the reader
    would shrink it to that anyway)."""
    import pypdfium2 as pdfium

    cap = max_pixels or PdfLimits().ocr_max_pixels
    key = hashlib.sha256(data).hexdigest()
    out: dict[int, tuple[list[Segment], float]] = {}
    doc = None
    if progress and indexes:
        progress(0, len(indexes))  # shown before the first page: a page takes seconds
    try:
        for done, i in enumerate(indexes, start=1):
            with _LOCK:
                hit = _read.get((key, cap, i))
                if hit is not None:
                    _read.move_to_end((key, cap, i))
            if hit is None:
                doc = doc or pdfium.PdfDocument(data)
                page = doc[i]
                w, h = page.get_size()
                # the size is checked before rendering: a huge page at full resolution would take gigabytes
                scale = raster_scale(w, h, OCR_DPI, cap)
                note = raster_note(i + 1, w, h, scale, cap) if scale < OCR_DPI / 72 else ""
                scale = min(scale, OCR_MAX_SIDE / max(w, h, 1.0))  # the reader would shrink it to this anyway
                image = page.render(scale=scale).to_pil()
                segs, conf = ocr_image(image)
                del image
                hit = (
                    [
                        Segment(s.text, s.x0 / scale, s.x1 / scale, s.top / scale, s.bottom / scale, s.size / scale)
                        for s in segs
                    ],
                    conf,
                    note,
                )
                with _LOCK:
                    _read[(key, cap, i)] = hit
                    while len(_read) > CACHE_PAGES:
                        _read.popitem(last=False)
            out[i] = (list(hit[0]), hit[1])
            if hit[2] and notes is not None:  # told on every reading, the cached ones too
                notes.append(hit[2])
            if progress:
                progress(done, len(indexes))
    finally:
        if doc is not None:
            doc.close()
    return out
