"""Test helpers that write real files or start real servers."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium: Playwright drives it, nothing is downloaded
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def make_pdf(lines: list[str]) -> bytes:
    """A minimal, valid one-page PDF whose text layer holds ``lines`` (ASCII)."""
    esc = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for ln in lines]
    content = "BT /F1 12 Tf 72 720 Td 16 TL " + " ".join(f"({ln}) '" for ln in esc) + " ET"
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{obj}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def free_port() -> int:
    """A TCP port nothing listens on now (on 127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on host:port."""
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def start(args: list[str], ready_url: str, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    """Start the `rag` console script and wait until ``ready_url`` answers (any status)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | (env or {})
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "rag"), *args],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            httpx.get(ready_url, timeout=2)
            return proc
        except httpx.TransportError:
            time.sleep(0.5)
    proc.kill()
    raise AssertionError("server did not start in 300 s")


def stop(proc: subprocess.Popen) -> str:
    """Stop a server started by ``start``; its stderr."""
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def index_settings(tmp_path: Path, **kw):
    """Settings for a small real index in ``tmp_path`` (its own embedding cache; 120/30 passages)."""
    from rag.settings import load_settings

    return load_settings(
        index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", chunk_size=120, chunk_overlap=30, **kw
    )


def cached_vectors(settings) -> int:
    """How many vectors the settings' embedding cache holds."""
    import sqlite3

    (path,) = settings.embedding_cache_dir.glob("*.sqlite")
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])


def english_feature_values(assistant, question: str, feature: str) -> list[float]:
    """The distinct values one answer-model feature takes on the English spans gathered for a question."""
    from rag.answer.evidence import FEATURES, Evidence, features

    r = assistant.retriever
    q = r.encode(question)
    ev = Evidence.gather(q, r.retrieve(q, 3), r)
    spans = ev.spans()
    en = [i for i, s in enumerate(spans) if ev.hits[s.hit].chunk.doc_id.startswith("en_")]
    return sorted({float(v) for v in features(ev, spans)[en, FEATURES.index(feature)]})


REAL_PDFS = Path(__file__).resolve().parents[1] / "eval" / "real_pdfs" / "corpus"


def real_pdf_page(name: str, number: int, folder: Path = REAL_PDFS) -> bytes:
    """One page of a real-pdfs suite PDF (or one in ``folder``) as a PDF of its own (reading a whole paper
    takes seconds)."""
    import pypdfium2 as pdfium

    src = pdfium.PdfDocument(str(folder / name))
    out = pdfium.PdfDocument.new()
    try:
        out.import_pages(src, [number - 1])
        buf = io.BytesIO()
        out.save(buf)
        return buf.getvalue()
    finally:
        out.close()
        src.close()


def check_gold_module():
    """eval/real_pdfs/check_gold.py loaded as the module ``check_gold`` (both real-PDF suites' gold tests use it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_gold", REAL_PDFS.parent / "check_gold.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["check_gold"] = mod  # dataclasses resolve their module by name
    spec.loader.exec_module(mod)
    return mod
