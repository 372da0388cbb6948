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
    """Character error rate: edit distance between the texts without whitespace, over the reference length."""
    a, b = "".join(ref.split()), "".join(hyp.split())
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1] / max(1, len(a))


def test_cer_is_an_edit_distance():
    assert cer("数据流量", "数据流量") == 0.0
    assert cer("数据流量", "数椐流量") == 0.25  # one substitution in four characters
    assert cer("ab cd", "abd") == 0.25  # one deletion, spaces ignored


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    pdf, placed = draw(layout(TEXT, size=12, leading=20))
    path = tmp_path_factory.mktemp("scan") / "scan.pdf"
    path.write_bytes(scanned(pdf))
    return path, placed


def test_scanned_page_is_read_offline_with_progress(scan, monkeypatch):
    from rag.loading import read_source

    def no_network(*args, **kwargs):
        raise OSError("network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)  # the models ship in the wheel
    ticks: list[tuple[str, int, int]] = []
    path, placed = scan
    src = read_source(path, "scan.pdf", progress=lambda stage, done, total: ticks.append((stage, done, total)))
    assert ticks == [("OCR scan.pdf", 1, 1)]
    assert len(src.ocr) == 1 and src.ocr[0][0] == 1 and 0.8 < src.ocr[0][1] <= 1.0
    drawn = "".join(t for t in TEXT if t)
    got = src.text
    rate = cer(drawn, got)
    print(f"OCR character error rate {rate:.4f} over {len(drawn)} characters, confidence {src.ocr[0][1]:.3f}")
    assert rate <= MAX_CER, got


def test_ocr_passages_record_confidence_and_page(scan, tmp_path):
    from rag.chunking import chunk_document
    from rag.cleaning import clean_document
    from rag.loading import read_source

    path, _ = scan
    doc = clean_document(read_source(path, "scan.pdf"))
    assert doc.title == "海底光缆的维护与合作"
    chunks = [c for c in chunk_document(doc, 300, 60) if c.kind == "body"]
    assert chunks and all(c.page == "1" and c.ocr is not None and c.ocr > 0.8 for c in chunks)
    assert "其维修需要多国船只协同完成" in doc.text
