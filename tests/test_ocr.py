"""Scanned pages: a page drawn with Chinese and English text, rasterised into an image-only PDF, is read
back by OCR offline; the character error rate against the drawn text is measured and bounded, and the
passages record that they came from OCR with its confidence."""

from __future__ import annotations

import socket

import pytest
from pdfmake import FONT_PATH, draw, layout, scanned

pytestmark = [
    pytest.mark.skipif(not FONT_PATH.exists(), reason="needs fonts-wqy-microhei"),
    pytest.mark.slow,  # OCR of a page takes seconds (minutes on a loaded machine)
]

MAX_CER = 0.03  # measured 0.0 on these pages at 150 dpi; a few misread characters are tolerated

TEXT = [
    "海底光缆的维护与合作",
    None,
    "一、引言",
    "海底光缆承载着各大洲之间绝大部分的数据流量，其维修需要多国船只协同完成。",
    "二〇二三年，全球共有约五百五十条在用海缆，总长度超过一百四十万公里。",
    "The repair of submarine cables depends on a small fleet of specialised ships.",
    "各国在近海水域的许可程序差异很大，延误常常长达数周。",
]


def cer(ref: str, hyp: str) -> float:
    """Character error rate: edit distance between the texts without whitespace, over the reference length
    (one row of the distance table at a time, in numpy: a 20-page paper is ~30k characters)."""
    import numpy as np

    a, b = "".join(ref.split()), "".join(hyp.split())
    hb = np.array([ord(c) for c in b], np.int64)
    ramp = np.arange(len(b) + 1, dtype=np.int64)
    prev = ramp.copy()
    for i, ca in enumerate(a, start=1):
        base = np.empty_like(prev)
        base[0] = i
        base[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (hb != ord(ca)))  # deletion, substitution
        prev = np.minimum.accumulate(base - ramp) + ramp  # insertions run left to right
    return int(prev[-1]) / max(1, len(a))


def test_cer_is_an_edit_distance():
    assert cer("数据流量", "数据流量") == 0.0
    assert cer("数据流量", "数椐流量") == 0.25  # one substitution in four characters
    assert cer("ab cd", "abd") == 0.25  # one deletion, spaces ignored
    assert cer("abc", "xabcy") == 2 / 3  # two insertions
    assert cer("kitten", "sitting") == 3 / 6


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    pdf, placed = draw(layout(TEXT, size=12, leading=20))
    path = tmp_path_factory.mktemp("scan") / "scan.pdf"
    path.write_bytes(scanned(pdf))
    return path, placed


def test_scanned_page_is_read_offline_with_progress(scan, monkeypatch):
    from rag.ingest.loading import read_source

    def no_network(*args, **kwargs):
        raise OSError("network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)  # the models ship in the wheel
    ticks: list[tuple[str, int, int]] = []
    path, placed = scan
    src = read_source(path, "scan.pdf", progress=lambda stage, done, total: ticks.append((stage, done, total)))
    assert ticks == [("OCR scan.pdf", 0, 1), ("OCR scan.pdf", 1, 1)]  # told before the page, then after it
    assert len(src.ocr) == 1 and src.ocr[0][0] == 1 and 0.8 < src.ocr[0][1] <= 1.0
    drawn = "".join(t for t in TEXT if t)
    got = src.text
    rate = cer(drawn, got)
    print(f"OCR character error rate {rate:.4f} over {len(drawn)} characters, confidence {src.ocr[0][1]:.3f}")
    assert rate <= MAX_CER, got
    # and the English sentence reads as words: the spaces the recogniser dropped are put back
    assert "The repair of submarine cables depends on a small fleet of specialised ships." in " ".join(got.split())


def test_ocr_passages_record_confidence_and_page(scan, tmp_path):
    from rag.ingest.chunking import chunk_document
    from rag.ingest.cleaning import clean_document
    from rag.ingest.loading import read_source

    path, _ = scan
    doc = clean_document(read_source(path, "scan.pdf"))
    assert doc.title == "海底光缆的维护与合作"
    chunks = [c for c in chunk_document(doc, 300, 60) if c.kind == "body"]
    assert chunks and all(c.page == "1" and c.ocr is not None and c.ocr > 0.8 for c in chunks)
    assert "其维修需要多国船只协同完成" in doc.text


def test_scanned_upload_is_read_once_through_check_index_and_page_view(tmp_path, monkeypatch):
    import rag.ingest.ocr
    from app.service import AppService, Exchange
    from rag.index.store import build_index
    from rag.settings import load_settings

    pdf, _ = draw(layout(TEXT, size=12, leading=20), header="upload once")  # a PDF no other test read
    scan = tmp_path / "inbox" / "海缆.pdf"
    scan.parent.mkdir()
    scan.write_bytes(scanned(pdf))
    (tmp_path / "papers").mkdir()
    (tmp_path / "papers" / "note.md").write_text("# 笔记\n\n港口的吞吐量在二〇二二年增长了百分之五。\n", "utf-8")
    s = load_settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", upload_dir=tmp_path / "uploads")
    build_index([tmp_path / "papers"], s)
    read = []
    real = rag.ingest.ocr.ocr_image
    monkeypatch.setattr(rag.ingest.ocr, "ocr_image", lambda image: read.append(1) or real(image))
    service = AppService(s)
    report = service.add_documents([scan])
    assert (report.added, report.skipped, report.error) == (["海缆.pdf"], [], "")
    ex = [x for x in service.chat("海缆维修需要什么协同完成？") if isinstance(x, Exchange)][0]
    cite = next(c for c in ex.answer.citations if c.doc == "海缆.pdf")
    assert service.page_view(cite).page == 1
    assert read == [1]  # checked, indexed and shown: the page was OCR'd once
