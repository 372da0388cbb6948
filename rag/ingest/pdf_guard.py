"""Guards a PDF passes before it is parsed or rasterised, so one hostile file costs bounded memory and time:
its streams are inflated (never kept) up to a cap per stream and in all, its pages counted, its encryption
checked; and the raster scale that keeps an OCR'd page under a pixel cap. The PDF reader calls
``pdf_problem`` before parsing and OCR calls ``raster_scale`` before rendering a page."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from rag.settings import Settings

MB = 1 << 20


@dataclass(frozen=True)
class PdfLimits:
    """What one PDF may cost (Settings: RAG_PDF_MAX_PAGES, RAG_PDF_MAX_STREAM_MB, RAG_PDF_MAX_INFLATED_MB,
    RAG_OCR_MAX_PIXELS)."""

    max_pages: int = 2000
    max_stream_mb: float = 64.0  # one inflated stream (a page's drawing, a font); a text page's is kilobytes
    max_inflated_mb: float = 256.0  # all streams but images (those are decoded only to render a page)
    ocr_max_pixels: int = 16_000_000  # an A4 page at 150 dpi is 2.2 Mpx, A1 17 Mpx; OCR takes ~40 bytes a pixel


def limits_of(settings: Settings) -> PdfLimits:
    """The limits a settings object sets."""
    return PdfLimits(
        settings.pdf_max_pages, settings.pdf_max_stream_mb, settings.pdf_max_inflated_mb, settings.ocr_max_pixels
    )


_STREAM = re.compile(rb"(?<!end)stream\r?\n")
_OBJ = re.compile(rb"\d+\s+\d+\s+obj\b")
_IMAGE = re.compile(rb"/Subtype\s*/Image\b")
_FLATE = re.compile(rb"/(FlateDecode|Fl)\b")
_CHUNK = 1 << 16


def pdf_problem(data: bytes, limits: PdfLimits = PdfLimits()) -> str | None:
    """Why a PDF must not be parsed — a stream inflating beyond the caps (a compression bomb), more pages
    than allowed, a password — as the line shown to the user; None when it may be read."""
    return _inflation(data, limits) or _structure(data, limits)


def _inflation(data: bytes, limits: PdfLimits) -> str | None:
    """Inflate every Flate stream but images, in chunks, keeping only counts: the first over a cap is the
    reason."""
    per, total_cap = int(limits.max_stream_mb * MB), int(limits.max_inflated_mb * MB)
    total = 0
    for m in _STREAM.finditer(data):
        head = data[max(0, m.start() - 4096) : m.start()]
        objs = list(_OBJ.finditer(head))
        head = head[objs[-1].end() :] if objs else head
        if not _FLATE.search(head) or _IMAGE.search(head):
            continue
        size = _inflated_size(data, m.end(), min(per, total_cap - total) + 1)
        total += size
        if size > per:
            return (
                f"compressed stream inflates to over {limits.max_stream_mb:g} MB (a compression bomb?); "
                "not read (raise RAG_PDF_MAX_STREAM_MB if the file is genuine)"
            )
        if total > total_cap:
            return (
                f"its streams inflate to over {limits.max_inflated_mb:g} MB; not read "
                "(raise RAG_PDF_MAX_INFLATED_MB if the file is genuine)"
            )
    return None


def _inflated_size(data: bytes, start: int, cap: int) -> int:
    """How many bytes the zlib stream at ``start`` inflates to, counting at most ``cap`` (a broken stream
    counts what came out before the error)."""
    d = zlib.decompressobj()
    out, at = 0, start
    while out < cap and not d.eof and (d.unconsumed_tail or at < len(data)):
        piece = d.unconsumed_tail or data[at : at + _CHUNK]
        if not d.unconsumed_tail:
            at += _CHUNK
        try:
            out += len(d.decompress(piece, _CHUNK * 16))
        except zlib.error:
            break
    return out


_NOISY = ("pdfminer", "pypdf", "pdfplumber", "PIL", "pypdfium2")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Library loggers that warn about font tables and broken objects silenced for the duration."""
    loggers = [logging.getLogger(name) for name in _NOISY]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR + 10)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _structure(data: bytes, limits: PdfLimits) -> str | None:
    """Encryption without an empty password and the page count, from pypdf (no content stream decoded)."""
    try:
        from pypdf import PasswordType, PdfReader

        # pypdf logs a broken file's faults ("EOF marker not found") to stderr; the skip line says it once
        with quiet():
            reader = PdfReader(io.BytesIO(data), strict=False)
            locked = reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED
            pages = 0 if locked else len(reader.pages)
        if locked:
            return (
                "password-protected PDF; save an unprotected copy (open it with its password and print or "
                "save it as a new PDF, or `qpdf --decrypt --password=PASSWORD in.pdf out.pdf`) and index that"
            )
    except Exception:  # pypdf raises many types on broken files: the page reader decides on those
        return None
    if pages > limits.max_pages:
        return f"PDF has {pages} pages, more than {limits.max_pages}; not read (raise RAG_PDF_MAX_PAGES to index it)"
    return None


def raster_scale(width_pt: float, height_pt: float, dpi: float, max_pixels: int) -> float:
    """The render scale (pixels per point) for a page: ``dpi`` / 72, lowered so the image holds at most
    ``max_pixels`` pixels."""
    scale = dpi / 72
    area = max(width_pt, 1.0) * max(height_pt, 1.0)
    if area * scale * scale > max_pixels:
        scale = (max_pixels / area) ** 0.5
    return scale


def raster_note(page: int, width_pt: float, height_pt: float, scale: float, max_pixels: int) -> str:
    """The line telling the user a page was rasterised below the usual resolution."""
    return (
        f"page {page} is {width_pt / 72:.0f} x {height_pt / 72:.0f} in; OCR read it at {scale * 72:.0f} dpi "
        f"to stay under {max_pixels / 1e6:g} Mpx (RAG_OCR_MAX_PIXELS)"
    )
