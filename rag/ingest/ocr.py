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
import itertools
import logging
import os
import re
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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
# the detector's input, longer side: rapidocr-onnxruntime 1.4.4 ignores ``det_limit_side_len`` with limit type
# "max" (it picks 960/1500/2000 from the image size), so the detector ran on the whole <= 1984 px render; at
# 1536 it takes ~43% less CPU with the suite's gold quotes read and the recogniser still cropping each line
# from the full render; 1280 glued two words of tests/test_ocr.py's scan, 960 lost a gold quote
# (docs/pdf-reading.md, "OCR speed, round 2")
OCR_DET_SIDE = 1536
# pages read at once, each by its own one-thread engine, while the machine has a core to spare: two pages
# side by side scale where onnxruntime's second intra-op thread only spin-waited (docs/pdf-reading.md)
OCR_WORKERS = 2

# the models' runtime: OpenVINO when it is installed (it is a dependency): the same ONNX files of the wheel,
# compiled by OpenVINO's CPU plugin; else onnxruntime. On the suite's 10 scanned pages, CPU seconds per page:
# onnxruntime 6.40, OpenVINO f32 2.93 (the same text, character for character), OpenVINO bf16 1.66 (every gold
# quote read; 1.7% of the characters differ from onnxruntime's reading); docs/pdf-reading.md, "round 3"
OCR_RUNTIME = "openvino"
# OpenVINO's inference precision: "f32" reads exactly as onnxruntime does on every CPU, so a scan's text (and its
# quotes) does not depend on the machine that indexed it; "bf16" is ~1.8x faster where the CPU computes it
# natively (AMX or AVX512-BF16) but its text differs there (1.7% of the characters)
OCR_PRECISION = "f32"

log = logging.getLogger(__name__)
_LOCK = threading.Lock()  # guards the page cache
_ENGINE_LOCKS = [threading.Lock() for _ in range(OCR_WORKERS)]  # one call at a time per engine
_slot = threading.local()  # which engine an OCR worker thread reads with (0 in any other thread)
# OpenVINO inference one call at a time in the process: two engines' requests running at once deadlocked (both
# threads waiting inside the request's input update, seen in a test run); pre- and post-processing stay parallel
_OPENVINO_LOCK = threading.Lock()
CACHE_PAGES = 512  # pages kept; a page's reading is a few kilobytes
SHORT_WORD_RANK = 200  # a piece under 4 letters must be among the 200 commonest English words (a, of, on...)
_LETTERS = re.compile(r"[A-Za-z]{2,}")
_URL = re.compile(r"(\S*(?:://|www\.)\S*)")
_CAMEL = re.compile(r"(?<=[a-z]{3})(?=[A-Z])")  # andGlobal, theIETF (not McDonald, iPhone)
# (content hash, pixel cap, page) -> (segments, confidence, the note on a page rendered smaller or '')
_read: OrderedDict[tuple[str, int, int], tuple[list[Segment], float, str]] = OrderedDict()


@lru_cache(maxsize=OCR_WORKERS)
def _engine(slot: int = 0) -> Any:
    from rapidocr_onnxruntime import RapidOCR

    # the angle classifier is off: it only turns upside-down lines, which a scanned paper does not have
    engine = RapidOCR(intra_op_num_threads=OCR_THREADS, inter_op_num_threads=1, use_cls=False)
    _limit_detector(engine.text_det, OCR_DET_SIDE)
    if OCR_RUNTIME == "openvino":
        _run_with_openvino(engine)
    return engine


def _model_paths() -> tuple[str, str]:
    """The detection and recognition models RapidOCR's own configuration names (inside its wheel)."""
    from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH
    from rapidocr_onnxruntime.utils import read_yaml, update_model_path

    config = update_model_path(read_yaml(str(DEFAULT_CFG_PATH)))
    return str(config["Det"]["model_path"]), str(config["Rec"]["model_path"])


def _run_with_openvino(engine: Any) -> bool:
    """Run ``engine``'s detector and recogniser with OpenVINO (one thread each, OCR_PRECISION) instead of
    onnxruntime; returns whether it does. Without OpenVINO, or when it cannot compile a model, the engine
    keeps onnxruntime (and says so in the log)."""
    try:
        import openvino as ov
    except ImportError:
        return False
    det_path, rec_path = _model_paths()
    config = {"INFERENCE_NUM_THREADS": OCR_THREADS, "NUM_STREAMS": 1, "INFERENCE_PRECISION_HINT": OCR_PRECISION}
    try:
        core = ov.Core()
        det, rec = (core.compile_model(p, "CPU", config).create_infer_request() for p in (det_path, rec_path))
    except Exception as exc:  # an old CPU or a broken install: onnxruntime reads the page as before
        log.warning("OCR stays on onnxruntime: OpenVINO could not compile the models (%s)", exc)
        return False

    def runner(request: Any) -> Callable[[Any], list[Any]]:
        # what RapidOCR calls its session with: one input batch in, the outputs out (first one used)
        def infer(batch: Any) -> list[Any]:
            with _OPENVINO_LOCK:
                return [request.infer({0: batch})[0].copy()]

        return infer

    engine.text_det.infer = runner(det)
    engine.text_rec.session = runner(rec)
    engine.runtime = "openvino"
    return True


def _limit_detector(det: Any, side: int) -> None:
    """Make RapidOCR's detector shrink an image longer than ``side`` to ``side`` before detection (smaller
    images keep the library's own sizing). Left as it is when the installed version has no such hook."""
    own = getattr(det, "get_preprocess", None)
    if own is None or not all(hasattr(det, a) for a in ("mean", "std")):
        return
    try:
        from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess
    except ImportError:
        return

    def preprocess(max_wh: int) -> Any:
        return DetPreProcess(side, "max", det.mean, det.std) if max_wh > side else own(max_wh)

    det.get_preprocess = preprocess


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
    slot = getattr(_slot, "n", 0)
    with _ENGINE_LOCKS[slot]:
        result, _ = _engine(slot)(arr)
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


def ocr_workers(pages: int, cores: int | None = None, load: float | None = None) -> int:
    """How many pages to read at once: one engine per core (at most OCR_WORKERS) while the 1-minute load
    average leaves a core to spare (under cores - 0.5, this process included), else one: on a busy machine
    a second engine only waits for a core."""
    cores = cores or os.cpu_count() or 1
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # no load average on this platform: assume busy
            load = float(cores)
    return max(1, min(OCR_WORKERS, cores, pages)) if load < cores - 0.5 else 1


def _take_slot(counter: Any) -> None:
    _slot.n = next(counter)


def ocr_pages(
    data: bytes,
    indexes: Sequence[int],
    progress: Callable[[int, int], None] | None = None,
    max_pixels: int | None = None,
    notes: list[str] | None = None,
    workers: int | None = None,
) -> dict[int, tuple[list[Segment], float]]:
    """OCR the pages ``indexes`` (from 0) of a PDF: per page its text segments in PDF points and the
    mean confidence; ``progress(0, total)`` first, then ``progress(done, total)`` after each page, in page
    order. A page whose image at OCR_DPI would exceed ``max_pixels`` is rendered smaller, so it fits, and
    said so in ``notes``; one longer than OCR_MAX_SIDE pixels is rendered at that size, without a note (the
    reader would shrink it to that anyway). Pages are rendered here, one at a time (PDFium is not
    thread-safe), and read by ``workers`` engines at once (default: ``ocr_workers``)."""
    import pypdfium2 as pdfium

    cap = max_pixels or PdfLimits().ocr_max_pixels
    key = hashlib.sha256(data).hexdigest()
    out: dict[int, tuple[list[Segment], float]] = {}
    if not indexes:
        return out
    with _LOCK:
        misses = sum((key, cap, i) not in _read for i in indexes)
    n = workers or ocr_workers(misses)
    pool = (
        ThreadPoolExecutor(n, initializer=_take_slot, initargs=(itertools.count(),)) if n > 1 and misses > 1 else None
    )
    # per page in order: the cached reading, or (the OCR job, scale, note)
    pending: deque[tuple[int, Any]] = deque()
    done = 0
    doc = None
    if progress:
        progress(0, len(indexes))  # shown before the first page: a page takes seconds

    def finish() -> None:
        nonlocal done
        i, item = pending.popleft()
        if isinstance(item, tuple) and isinstance(item[0], Future):
            job, scale, note = item
            segs, conf = job.result()
            item = (
                [
                    Segment(s.text, s.x0 / scale, s.x1 / scale, s.top / scale, s.bottom / scale, s.size / scale)
                    for s in segs
                ],
                conf,
                note,
            )
            with _LOCK:
                _read[(key, cap, i)] = item
                while len(_read) > CACHE_PAGES:
                    _read.popitem(last=False)
        out[i] = (list(item[0]), item[1])
        if item[2] and notes is not None:  # told on every reading, the cached ones too
            notes.append(item[2])
        done += 1
        if progress:
            progress(done, len(indexes))

    try:
        for i in indexes:
            with _LOCK:
                hit = _read.get((key, cap, i))
                if hit is not None:
                    _read.move_to_end((key, cap, i))
            if hit is not None:
                pending.append((i, hit))
            else:
                doc = doc or pdfium.PdfDocument(data)
                page = doc[i]
                w, h = page.get_size()
                # the size is checked before rendering: a huge page at full resolution would take gigabytes
                scale = raster_scale(w, h, OCR_DPI, cap)
                note = raster_note(i + 1, w, h, scale, cap) if scale < OCR_DPI / 72 else ""
                scale = min(scale, OCR_MAX_SIDE / max(w, h, 1.0))  # the reader would shrink it to this anyway
                image = page.render(scale=scale).to_pil()
                job: Future = Future()
                if pool is None:
                    job.set_result(ocr_image(image))
                else:
                    job = pool.submit(ocr_image, image)
                del image
                pending.append((i, (job, scale, note)))
            # at most one page rendered ahead of each engine: memory stays a few page images
            while len(pending) > n or (pending and not isinstance(pending[0][1][0], Future)):
                finish()
        while pending:
            finish()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if doc is not None:
            doc.close()
    return out
