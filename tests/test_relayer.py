"""OCR lines of a page with a partly unreadable text layer take the layer's text where it agrees."""

from rag.ingest.pdf.records import Segment
from rag.ingest.pdf.relayer import prefer_layer


def _seg(text: str, top: float, x0: float = 50.0, x1: float = 400.0) -> Segment:
    return Segment(text, x0, x1, top, top + 12.0, 10.0)


def test_a_readable_layer_line_that_agrees_replaces_the_ocr_reading():
    ocr = [_seg("北京师范大学学术论文ITEX模版", 100.0)]
    layer = [_seg("北京师范⼤学学术论⽂ LATEX 模版", 101.0)]
    assert [s.text for s in prefer_layer(ocr, layer)] == ["北京师范大学学术论文 LATEX 模版"]
    assert prefer_layer(ocr, layer)[0].top == 100.0  # the OCR line's box is kept


def test_garbled_or_disagreeing_layer_lines_leave_the_ocr_reading():
    ocr = [_seg("论文的摘要是对论文研究内容的概括", 100.0), _seg("学院：信息技术学院", 200.0)]
    garbled = [_seg("ڹҹϡሁϴϥцڹҹ୳ૢֵبфюҝϡ", 100.0), _seg("学院： Ҽױીৼ学ऒ", 200.0)]
    assert prefer_layer(ocr, garbled) == ocr
    elsewhere = [_seg("论文的摘要是对论文研究内容的概括", 300.0)]  # not in the line's box
    assert prefer_layer(ocr, elsewhere) == ocr
    assert prefer_layer(ocr, []) == ocr
