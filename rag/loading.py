"""Loading: find source files, detect their encoding, skip (and report) what cannot be read."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from rag.errors import NoDocumentsError

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


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, with the reason shown to the user."""

    path: str
    reason: str


class _Skip(Exception):
    pass


def discover(paths: list[str | Path]) -> tuple[list[tuple[Path, str]], list[Skipped]]:
    """Files to index as (path, doc_id), plus unsupported or missing paths reported as skipped."""
    found: list[tuple[Path, str]] = []
    skipped: list[Skipped] = []
    for raw in paths:
        root = Path(raw)
        if not root.exists():
            skipped.append(Skipped(str(root), "no such file or directory"))
        elif root.is_file():
            found.append((root, root.name))
        else:
            for p in sorted(root.rglob("*")):
                rel = p.relative_to(root)
                if not p.is_file() or any(part.startswith(".") for part in rel.parts):
                    continue
                found.append((p, rel.as_posix()))
    out, seen = [], set()
    for path, doc_id in found:
        if path.suffix.lower() not in SUPPORTED:
            skipped.append(Skipped(str(path), f"unsupported type '{path.suffix or 'none'}' (use .txt, .md or .pdf)"))
            continue
        base, n = doc_id, 2
        while doc_id in seen:  # same relative name under two roots
            doc_id = f"{base}~{n}"
            n += 1
        seen.add(doc_id)
        out.append((path, doc_id))
    return out, skipped


def decode(data: bytes) -> tuple[str, str]:
    """Decode bytes as UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030/GBK; raise _Skip if binary."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    if b"\x00" in data[:8192]:
        raise _Skip("binary file (contains NUL bytes)")
    for enc in ("utf-8", "gb18030"):
        try:
            return _check_text(data.decode(enc)), enc
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise _Skip("unknown text encoding (save it as UTF-8)")
    return _check_text(str(best)), best.encoding


def _check_text(text: str) -> str:
    controls = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > 0.02 * max(1, min(len(text), 20000)):
        raise _Skip("binary file (control characters)")
    return text


def _read_pdf(data: bytes) -> str:
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many types on broken files
        raise _Skip(f"unreadable PDF ({type(exc).__name__})") from None
    text = "\f".join(pages)  # form feed marks page breaks for the cleaner
    if not text.strip():
        raise _Skip("PDF has no text layer (scanned? run OCR first)")
    return text


def read_source(path: Path, doc_id: str) -> SourceFile:
    """Read one file; raises _Skip with a user-facing reason when it cannot be indexed."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _Skip(f"cannot read ({exc.strerror})") from None
    if not data.strip():
        raise _Skip("empty file")
    sha = hashlib.sha256(data).hexdigest()
    where = str(path.resolve())  # absolute, so an index can be refreshed from any working directory
    if path.suffix.lower() in PDF_SUFFIXES or data.startswith(b"%PDF"):
        return SourceFile(doc_id, where, _read_pdf(data), sha, "pdf")
    text, enc = decode(data)
    if not text.strip():
        raise _Skip("empty file")
    return SourceFile(doc_id, where, text.replace("\r\n", "\n").replace("\r", "\n"), sha, enc)


def load_sources(paths: list[str | Path]) -> tuple[list[SourceFile], list[Skipped]]:
    """Read every supported file under ``paths``; broken ones are skipped and reported, never fatal."""
    files, skipped = discover(paths)
    sources = []
    for path, doc_id in files:
        try:
            sources.append(read_source(path, doc_id))
        except _Skip as why:
            skipped.append(Skipped(str(path), str(why)))
    require_documents(paths, sources, skipped)
    return sources, skipped


def require_documents(paths: list[str | Path], found: list, skipped: list[Skipped]) -> None:
    """Raise NoDocumentsError, naming the first skip reasons, when nothing readable was found."""
    if not found:
        detail = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:3]) or "no files"
        raise NoDocumentsError(
            f"nothing to index in {', '.join(map(str, paths))} ({detail}); give a folder of .txt, .md or .pdf files"
        )
