"""Page-aware PDF reading on real PDFs drawn with a CJK font: two columns, running headers and page
numbers, footnotes, hyphenated English; every passage's page checked against where its text was drawn."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from pdfmake import FONT_PATH, draw, layout

from rag.ingest.chunking import chunk_document
from rag.ingest.cleaning import clean_document
from rag.ingest.loading import read_source
from rag.ingest.pages import read_pdf
from rag.records import Citation
from rag.refs.render import citation_label, page_mark

pytestmark = pytest.mark.skipif(
    not FONT_PATH.exists(), reason="needs fonts-wqy-microhei (apt install fonts-wqy-microhei)"
)

PLACES = "北川 南岭 西河 东港 青石 白沙 红岩 金山 银湖 玉泉 松江 柳林 桃源 梅岭 竹溪 兰亭".split()
THINGS = "图书馆 博物馆 体育场 研究所 发电站 港口 机场 医院 大学 公园 水库 大桥".split()
ACTS = "扩建了 修复了 新建了 改造了 合并了 迁移了".split()
NAMES = "春夏秋冬江河湖海山川日月星辰风云雷雨松柏梅竹兰菊桂荷龙凤麟龟金木水火土石玉珠".replace("", " ").split()
KEEP = "整理保存 登记在册 编目归档 抄录留存 拍照存档".split()


def fact(rng: random.Random, i: int) -> str:
    """A sentence no other sentence repeats (so no cleaning rule takes it for page furniture)."""
    p, t, a = rng.choice(PLACES), rng.choice(THINGS), rng.choice(ACTS)
    who = "".join(rng.sample(NAMES, 2))
    return f"{p}{t}在{1900 + i}年{a}{rng.randint(2, 9)}座附属建筑，第{i}号记录由{who}{rng.choice(KEEP)}。"


def paper(n: int = 90, seed: int = 7) -> tuple[list[str | None], dict[int, list[str]]]:
    """Paragraphs of a Chinese paper (title, byline, abstract, sections) and the footnotes of some."""
    rng = random.Random(seed)
    paras: list[str | None] = [
        "城市公共设施变迁的档案研究",
        "王五 赵六",
        None,
        "摘要：本文整理城市公共设施的档案记录。",
        None,
    ]
    notes: dict[int, list[str]] = {}
    for i in range(n):
        if i % 30 == 0:
            paras.append(["一、早期记录", "二、中期变化", "三、近期发展"][i // 30])
        paras.append("".join(fact(rng, i * 3 + k) for k in range(3)))
        if i % 25 == 7:
            notes[len(paras) - 1] = [
                f"{len(notes) + 1}. 注释{i}：第{i * 3}号记录的原件藏于{rng.choice(PLACES)}市档案馆。"
            ]
    return paras, notes


@pytest.fixture(scope="module")
def two_column(tmp_path_factory):
    paras, notes = paper()
    pdf, placed = draw(layout(paras, columns=2, notes=notes), header="城市档案研究 2025年第2期")
    path = tmp_path_factory.mktemp("pdf") / "paper.pdf"
    path.write_bytes(pdf)
    return path, placed, notes


def test_two_columns_read_in_order_without_headers_or_spaces(two_column):
    path, placed, _ = two_column
    pages = read_pdf(path.read_bytes())
    assert len(pages) >= 4
    text = "\n".join(line for p in pages for line in p.lines)
    assert "城市档案研究" not in text  # the running header, at the same place on every page
    assert not any(line.strip().isdigit() for p in pages for line in p.lines)  # page numbers
    # every drawn body line comes back whole, in the order it was drawn (left column, then right)
    body = [ln for ln in placed.text.split("\n") if ln and not ln.startswith("①")]
    got = [ln for p in pages for ln in p.lines if ln]
    it = iter(got)
    assert all(any(ln == g for g in it) for ln in body if not ln[0].isdigit())  # a subsequence, in order
    doc = clean_document(read_source(path, "paper.pdf"))
    assert doc.authors == ("王五", "赵六")
    assert " " not in doc.text  # no spaces between Han characters


def test_footnotes_are_passages_on_their_page(two_column):
    path, placed, notes = two_column
    doc = clean_document(read_source(path, "paper.pdf"))
    assert len(doc.footnotes) == len(notes) == 4
    for note in doc.footnotes:
        drawn = placed.pages_of(note.text)
        assert note.page == drawn[0] == drawn[1]
        assert note.text not in doc.text  # out of the body
    chunks = chunk_document(doc, 120, 30)
    foot = [c for c in chunks if c.kind in ("footnote", "reference")]  # citation notes are "reference"
    assert [c.page for c in foot] == [str(n.page) for n in doc.footnotes]
    assert {c.page for c in foot} != {"1"}  # notes on later pages keep their own page


def test_every_passage_knows_its_pages(two_column):
    path, placed, _ = two_column
    doc = clean_document(read_source(path, "paper.pdf"))
    assert doc.title == "城市公共设施变迁的档案研究"
    chunks = [c for c in chunk_document(doc, 120, 30) if c.kind == "body"]
    pages = set()
    for c in chunks:
        first, last = placed.pages_of(c.text)
        assert c.page == (str(first) if first == last else f"{first}-{last}"), c.chunk_id
        pages.add(c.page)
    assert any("-" in p for p in pages)  # some passages run over a page break
    assert len({p.split("-")[0] for p in pages}) >= 4


def test_hyphenated_english_and_mixed_lines(tmp_path):
    words = "The governance of international telecommunication infrastructure requires coordination".split()
    text = " ".join(words * 6) + "."
    pdf, _ = draw(
        layout(["Notes on Infrastructure Governance", None, text, "中文与English混排的句子，数字2024年。"], size=11)
    )
    path = tmp_path / "en.pdf"
    path.write_bytes(pdf)
    doc = clean_document(read_source(path, "en.pdf"))
    assert " ".join(words) in doc.text
    assert "中文与English混排的句子，数字2024年。" in doc.text


def test_hyphen_at_line_end_is_joined(tmp_path):
    from pdfmake import _font
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(tmp_path / "h.pdf"))
    c.setFont(_font(), 11)
    c.drawString(72, 760, "Submarine Cables and Their Keepers")
    lines = [
        "Cables carry most of the traffic between continents, and their repair is a shared",
        "task of many states. International cooperation on the gover-",
        "nance of submarine cables is weak. Few treaties name a keeper for them.",
    ]
    for i, line in enumerate(lines):
        c.drawString(72, 700 - 14 * i, line)
    c.save()
    doc = clean_document(read_source(tmp_path / "h.pdf", "h.pdf"))
    assert "cooperation on the governance of submarine cables is weak." in doc.text


def test_page_labels():
    assert page_mark("") == "" and page_mark("12") == ", p. 12" and page_mark("12-13") == ", pp. 12-13"
    c = Citation(1, "a.pdf", "题名", "一、引言", "a.pdf#0", "文本。", "文本。", 0.9, "12")
    assert citation_label(c) == "[1] 题名 — §一、引言, p. 12 (a.pdf)"
    assert citation_label(Citation(1, "a.txt", "T", "", "a.txt#0", "x", "x", 0.9)) == "[1] T (a.txt)"


def test_text_files_have_no_pages(fixture_corpus):
    path = next(Path(fixture_corpus).glob("*.txt"))
    doc = clean_document(read_source(path, path.name))
    assert doc.pages == () and all(c.page == "" and c.ocr is None for c in chunk_document(doc, 120, 30))


def test_batch_cells_and_markdown_show_pages():
    from dataclasses import asdict

    from rag.refs.render import md_citation
    from rag.review.batch.render import citations_cell

    c = Citation(2, "a.pdf", "题名", "", "a.pdf#3", "前文。引文。", "引文。", 0.8, "12-13")
    assert citations_cell({"citations": [asdict(c)]}) == "[2] 题名, pp. 12-13 (a.pdf): “引文。”"
    assert md_citation(c, 1) == "- [2] *题名*, pp. 12-13 (R1): “引文。”"
    old = {k: v for k, v in asdict(c).items() if k != "page"}  # a journal written before pages
    assert citations_cell({"citations": [old]}) == "[2] 题名 (a.pdf): “引文。”"


def test_stored_passages_keep_text_indexes_as_they_were():
    from rag.index.store.chunks import chunk_record
    from rag.records import Chunk

    text = Chunk("a.txt#0", "a.txt", "T", "S", "正文。", 0, 3)
    assert set(chunk_record(text)) == {"chunk_id", "doc_id", "title", "section", "text", "start", "end", "kind"}
    assert Chunk(**chunk_record(text)) == text  # and a record written before pages reads back the same
    scan = Chunk("b.pdf#0", "b.pdf", "T", "S", "正文。", 0, 3, page="4-5", ocr=0.97)
    assert chunk_record(scan)["page"] == "4-5" and Chunk(**chunk_record(scan)) == scan
