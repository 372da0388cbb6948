"""Loading: find source files, detect their encoding, skip (and report) what cannot be read."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import NoDocumentsError
from rag.ingest.metadata import pdf_bib
from rag.ingest.pdf_guard import PdfLimits, pdf_problem
from rag.records import Bib, PageLine, Table

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED = TEXT_SUFFIXES | PDF_SUFFIXES


@dataclass(frozen=True)
class SourceFile:
    """A readable source: its decoded text and where it came from."""

    doc_id: str
    path: str
    text: str
    sha256: str
    encoding: str
    pdf: Bib = field(default_factory=Bib)  # what a PDF's own metadata says about the work
    ocr: tuple[tuple[int, float], ...] = ()  # (page from 1, mean confidence) of each page read by OCR
    notes: tuple[str, ...] = ()  # what the user should know about how it was read (a page OCR'd smaller)
    furniture: tuple[int, int] = (0, 0)  # PDFs: (lines, characters) left out as running headers, footers, page numbers
    layout: Bib = field(default_factory=Bib)  # PDFs: title, authors, year as the first page's layout shows them
    tables: tuple[Table, ...] = ()  # PDFs: tables found on text pages (their text is not in ``text``)
    lines: tuple[PageLine, ...] = ()  # PDFs: the reader's lines with their boxes (rag.ingest.pdf.boxes)


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, with the reason shown to the user."""

    path: str
    reason: str


class SkipFile(Exception):
    """A file that cannot be indexed; its message is the reason shown to the user."""

    pass


def inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` (links and ``..`` resolved) lies inside ``folder``."""
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def discover(
    paths: Sequence[str | Path], known: dict[str, str] | None = None
) -> tuple[list[tuple[Path, str]], list[Skipped]]:
    """Files to index as (path, doc_id), plus unsupported, hidden or missing paths reported as skipped.

    A document id is the file's path relative to the folder given (its name, for a file given
    directly). ``known`` maps absolute paths to the ids an index already uses: those files keep
    their ids however they are passed now, so an update never renames a document.
    """
    found: list[tuple[Path, str]] = []
    skipped: list[Skipped] = []
    for raw in paths:
        root = Path(raw)
        if not root.exists():
            skipped.append(Skipped(str(root), "no such file or directory"))
        elif root.is_file():
            found.append((root, root.name))
        else:
            for p in _walk(root, skipped):
                found.append((p, p.relative_to(root).as_posix()))
    known = known or {}
    supported: list[tuple[Path, str, str | None]] = []
    for path, doc_id in found:
        if path.suffix.lower() not in SUPPORTED:
            skipped.append(Skipped(str(path), f"unsupported type '{path.suffix or 'none'}' (use .txt, .md or .pdf)"))
            continue
        supported.append((path, doc_id, known.get(str(path.resolve()))))
    seen = {kept for _, _, kept in supported if kept}
    out = []
    for path, doc_id, kept in supported:
        if kept:
            out.append((path, kept))
            continue
        base, n = doc_id, 2
        while doc_id in seen:  # same relative name under two roots, or taken by a known document
            doc_id = f"{base}~{n}"
            n += 1
        seen.add(doc_id)
        out.append((path, doc_id))
    return out, skipped


def _walk(root: Path, skipped: list[Skipped], seen: set[str] | None = None, top: Path | None = None) -> list[Path]:
    """Files under ``root`` in sorted order; hidden files and folders (a leading dot) are reported
    as skipped once each and not entered; a folder reached twice through links is read once; a link
    that leads out of the folder given (``top``) is refused and reported, never followed."""
    seen = set() if seen is None else seen
    top = Path(os.path.realpath(root)) if top is None else top
    real = os.path.realpath(root)
    if real in seen:
        return []
    seen.add(real)
    out: list[Path] = []
    try:
        entries = sorted(root.iterdir())
    except OSError as exc:
        skipped.append(Skipped(str(root), f"cannot list the folder ({exc.strerror})"))
        return []
    for p in entries:
        if p.name.startswith("."):
            what = "folder" if p.is_dir() else "file"
            skipped.append(Skipped(str(p), f"hidden {what} (its name starts with '.'); rename it to index it"))
        elif p.is_symlink() and not inside(p, top):
            skipped.append(
                Skipped(
                    str(p),
                    f"refused: a link to {os.path.realpath(p)}, outside the folder being indexed; "
                    "give that path itself to index it",
                )
            )
        elif p.is_dir():
            out.extend(_walk(p, skipped, seen, top))
        elif p.is_file():
            out.append(p)
    return out


# when the detector finds several encodings equally plausible (short texts), the first of these wins:
# the users read Chinese first, then Western European text
_PREFERRED = ("gb18030", "cp1252", "big5", "cp932", "shift_jis", "euc_jp", "cp949", "euc_kr", "utf_8")


def decode(data: bytes) -> tuple[str, str]:
    """Decode bytes: UTF-8 (with or without BOM, a character cut at the very end dropped, a few bad
    bytes replaced), UTF-16 with or without BOM, else the encoding the detector finds most plausible
    (GB18030 among equals); raise SkipFile if binary or undecodable."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), "utf-16"
    if b"\x00" in data[:8192]:
        return _utf16_without_bom(data)
    try:
        return _check_text(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            return _check_text(data[: exc.start].decode("utf-8")), "utf-8"  # the last character was cut off
        text = data.decode("utf-8", errors="replace")
        bad = text.count("\ufffd")
        if bad <= len(data) // 1000:  # at most one bad byte per thousand
            return _check_text(text), "utf-8"  # a stray bad byte, not another encoding
    return _detected(data)


def _utf16_without_bom(data: bytes) -> tuple[str, str]:
    """UTF-16 text saved without a BOM (its ASCII characters leave NUL bytes), else binary."""
    even, odd = data[0:8192:2].count(0), data[1:8192:2].count(0)
    order = ("utf-16-le", "utf-16-be") if odd >= even else ("utf-16-be", "utf-16-le")
    for enc in order:
        try:
            text = data[: len(data) - len(data) % 2].decode(enc)
        except UnicodeDecodeError:
            continue
        if text.count("\x00") == 0:
            try:
                return _check_text(text), enc
            except SkipFile:
                continue
    raise SkipFile("binary file (contains NUL bytes)")


def _detected(data: bytes) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise SkipFile("unknown text encoding (save it as UTF-8)")
    least = min(m.chaos for m in matches)
    plausible = [m for m in matches if m.chaos <= least + 0.01]
    best = next((m for enc in _PREFERRED for m in plausible if m.encoding == enc), plausible[0])
    return _check_text(str(best)), best.encoding


def _check_text(text: str) -> str:
    controls = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > 0.02 * max(1, min(len(text), 20000)):
        raise SkipFile("binary file (control characters)")
    return text


UNREADABLE_PDF = "unreadable PDF: the file is damaged or incomplete; download or export it again"


def _read_pdf(
    data: bytes, progress: Callable[[int, int], None] | None = None, limits: PdfLimits = PdfLimits()
) -> tuple[str, tuple, tuple[str, ...], tuple[int, int], Bib, tuple[Table, ...], tuple[PageLine, ...]]:
    """A PDF's pages as text, '\f' between pages, the OCR confidence of pages read by OCR, notes on how
    it was read, the (lines, characters) left out as page furniture, and what the first page's layout
    says about the work; a PDF the guards refuse (bomb, too many pages, password) is skipped before parsing."""
    from rag.ingest.pages import read_pdf
    from rag.ingest.pdf.front import front_page_bib

    problem = pdf_problem(data, limits)
    if problem:
        raise SkipFile(problem)
    notes: list[str] = []
    try:
        pages = read_pdf(data, progress, limits.ocr_max_pixels, notes)
    except SkipFile:
        raise
    except Exception:  # pdfminer and pypdfium2 raise many types on broken files; their names tell a user nothing
        raise SkipFile(UNREADABLE_PDF) from None
    text = "\f".join("\n".join(p.lines) for p in pages)  # form feed marks page breaks for the cleaner
    if not text.strip():
        told = "".join(f" ({n})" for n in notes[:2])
        raise SkipFile(f"PDF has no text: no text layer, and OCR found none on its pages{told}")
    furniture = (sum(len(p.furniture) for p in pages), sum(len(t) for p in pages for t in p.furniture))
    ocr = tuple((p.number, round(p.ocr, 4)) for p in pages if p.ocr is not None)
    tables = tuple(t for p in pages for t in p.tables)
    # each page's lines in reading order, then its tables' rows (table passages are matched to those)
    boxes = tuple(
        PageLine(p.number, s.text, s.x0, s.top, s.x1, s.bottom) for p in pages for s in (*p.segments, *p.table_rows)
    )
    return text, ocr, tuple(notes), furniture, front_page_bib(pages), tables, boxes


def read_source(
    path: Path,
    doc_id: str,
    progress: Callable[[str, int, int], None] | None = None,
    limits: PdfLimits = PdfLimits(),
) -> SourceFile:
    """Read one file; raises SkipFile with a user-facing reason when it cannot be indexed.
    ``progress(stage, done, total)`` follows the OCR of scanned PDF pages; ``limits`` bound what a PDF may cost."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SkipFile(f"cannot read ({exc.strerror})") from None
    if not data.strip():
        raise SkipFile("empty file")
    sha = hashlib.sha256(data).hexdigest()
    where = str(path.resolve())  # absolute, so an index can be refreshed from any working directory
    if path.suffix.lower() in PDF_SUFFIXES or data.startswith(b"%PDF"):
        tick = (lambda done, total: progress(f"OCR {path.name}", done, total)) if progress else None
        text, ocr, notes, furniture, layout, tables, lines = _read_pdf(data, tick, limits)
        return SourceFile(doc_id, where, text, sha, "pdf", pdf_bib(data), ocr, notes, furniture, layout, tables, lines)
    text, enc = decode(data)
    if not text.strip():
        raise SkipFile("empty file")
    return SourceFile(doc_id, where, text.replace("\r\n", "\n").replace("\r", "\n"), sha, enc)


def load_sources(paths: list[str | Path]) -> tuple[list[SourceFile], list[Skipped]]:
    """Read every supported file under ``paths``; broken ones are skipped and reported, never fatal."""
    files, skipped = discover(paths)
    sources = []
    for path, doc_id in files:
        try:
            sources.append(read_source(path, doc_id))
        except SkipFile as why:
            skipped.append(Skipped(str(path), str(why)))
    require_documents(paths, sources, skipped)
    return sources, skipped


def require_documents(paths: Sequence[str | Path], found: list, skipped: list[Skipped]) -> None:
    """Raise NoDocumentsError, naming the first skip reasons, when nothing readable was found."""
    if not found:
        detail = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:3]) or "no files"
        raise NoDocumentsError(
            f"nothing to index in {', '.join(map(str, paths))} ({detail}); give a folder of .txt, .md or .pdf files"
        )
