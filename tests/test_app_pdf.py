"""The app opens a cited PDF page: rendered from the index's own source with the quoted sentence marked
where it was drawn; nothing else is opened, and the file route still refuses the source itself."""

from __future__ import annotations

from dataclasses import replace

import httpx
import numpy as np
import pytest
from conftest import served_app
from pdfmake import FONT_PATH, draw, layout
from test_pdf import paper

from app.render import citation_of, page_choices, sources_html
from app.service import AppService, Exchange
from rag.errors import InvalidInputError
from rag.ingest.pageview import VIEW_SCALE
from rag.settings import load_settings

pytestmark = [pytest.mark.skipif(not FONT_PATH.exists(), reason="needs fonts-wqy-microhei"), pytest.mark.slow]


@pytest.fixture(scope="module")
def pdf_app(tmp_path_factory):
    paras, notes = paper()
    pdf, placed = draw(layout(paras, columns=2, notes=notes), header="城市档案研究 2025年第2期")
    root = tmp_path_factory.mktemp("app-pdf")
    (root / "papers").mkdir()
    (root / "papers" / "paper.pdf").write_bytes(pdf)
    s = load_settings(index_dir=root / "index", cache_dir=root / "cache")
    from rag.index.store import build_index

    build_index([root / "papers"], s)
    return AppService(s), placed, s, root


def _answer(service: AppService, q: str) -> Exchange:
    return [x for x in service.chat(q) if isinstance(x, Exchange)][0]


def test_citation_opens_its_page_with_the_quote_marked(pdf_app):
    service, placed, _, _ = pdf_app
    ex = _answer(service, "1960年的第60号记录由谁保存？")
    assert ex.answer and not ex.answer.abstained
    choices = page_choices([ex])
    assert choices and all(", p" in label for label, _ in choices)
    cite = citation_of([ex], choices[0][1])
    assert cite is not None and cite.page
    view = service.page_view(cite)
    drawn = [a for a, b in placed.all_pages_of(cite.quote) if a == b]
    assert view.page in drawn  # the page the quoted sentence was drawn on
    assert view.marked >= len("".join(cite.quote.split())) - 2  # (all of it, but for punctuation folding)
    img = np.asarray(view.image)
    assert img.shape[1] == round(595 * VIEW_SCALE)
    x0, top, x1, bottom = view.boxes[0]
    inside = img[int(top * VIEW_SCALE) : int(bottom * VIEW_SCALE), int(x0 * VIEW_SCALE) : int(x1 * VIEW_SCALE)]
    yellow = (inside[..., 0] > 200) & (inside[..., 1] > 170) & (inside[..., 2] < 150)
    assert yellow.mean() > 0.3  # the mark is drawn over the sentence
    assert "p. " in sources_html([ex])


def test_only_the_index_own_unchanged_pdfs_are_opened(pdf_app, tmp_path):
    service, _, _, root = pdf_app
    ex = _answer(service, "1960年的第60号记录由谁保存？")
    cite = ex.answer.citations[0]
    with pytest.raises(InvalidInputError, match="no pages to show"):
        service.page_view(replace(cite, doc="../../etc/passwd"))
    with pytest.raises(InvalidInputError, match="no pages to show"):
        service.page_view(replace(cite, page=""))
    src = root / "papers" / "paper.pdf"
    original = src.read_bytes()
    try:
        src.write_bytes(original + b"\n%changed")
        with pytest.raises(InvalidInputError, match="changed since it was indexed"):
            service.page_view(cite)
    finally:
        src.write_bytes(original)
    assert service.page_view(cite).marked


def test_file_route_refuses_the_pdf_source(pdf_app):
    _, _, s, root = pdf_app
    with served_app(s) as (_, url):
        for path in (root / "papers" / "paper.pdf", s.index_path / "chunks.jsonl"):
            assert httpx.get(f"{url}gradio_api/file={path.resolve()}").status_code == 403
