"""Sentence splitting and chunking: sizes, overlap, spans, sections, stable ids."""

from __future__ import annotations

from rag.ingest.chunking import chunk_document, measure, pack
from rag.ingest.cleaning import clean_document
from rag.ingest.loading import load_sources
from rag.lang.text import split_sentences


def _sents(text):
    return [text[a:b] for a, b in split_sentences(text)]


def test_chinese_sentence_enders_and_closing_quotes():
    assert _sents("他说：“我们同意。”随后离开！真的吗？是的；好。") == [
        "他说：“我们同意。”",
        "随后离开！",
        "真的吗？",
        "是的；好。",
    ]


def test_semicolons_cut_only_long_sentences():
    clauses = "宏观层面上促进体系转型；中观层面上缓和主体矛盾；微观层面上推动机制改革。"
    assert _sents(clauses) == [clauses]
    spans = split_sentences(clauses, max_len=24)
    assert [clauses[a:b] for a, b in spans] == [
        "宏观层面上促进体系转型；中观层面上缓和主体矛盾；",
        "微观层面上推动机制改革。",
    ]


def test_english_dots_that_do_not_end_sentences():
    text = "Milton L. Mueller wrote it in 2010. The rate was 62.0 percent, e.g. in Asia. See pp. 2-3 of the U.S. report. Done."
    assert _sents(text) == [
        "Milton L. Mueller wrote it in 2010.",
        "The rate was 62.0 percent, e.g. in Asia.",
        "See pp. 2-3 of the U.S. report.",
        "Done.",
    ]


def test_newlines_end_sentences_and_long_ones_are_cut():
    assert _sents("标题\n正文。") == ["标题", "正文。"]
    long = "甲" * 50 + "，" + "乙" * 50 + "。"
    spans = split_sentences(long, max_len=60)
    assert [b - a for a, b in spans] == [51, 51]
    assert all(b - a <= 60 for a, b in split_sentences("丙" * 200, max_len=60))


def test_pack_respects_size_overlap_and_breaks():
    spans = [(0, 40), (40, 80), (80, 120), (120, 160)]
    assert pack(spans, 100, 0) == [(0, 80), (80, 160)]
    assert pack(spans, 100, 40) == [(0, 80), (40, 120), (80, 160)]
    assert pack(spans, 200, 40, breaks=[80]) == [(0, 80), (80, 160)]
    assert pack([(0, 300)], 100, 40) == [(0, 300)]  # one oversized sentence still forms a chunk


def _doc(fixture_corpus):
    sources, _ = load_sources([fixture_corpus / "zh_paper.txt"])
    return clean_document(sources[0])


def test_chunks_carry_spans_sections_and_stable_ids(fixture_corpus):
    doc = _doc(fixture_corpus)
    chunks = chunk_document(doc, 120, 30)
    body = [c for c in chunks if c.kind == "body"]
    for c in body:
        assert doc.text[c.start : c.end] == c.text
        assert measure(c.text)(0, len(c.text)) <= 120  # units: a Han character 1, any other character 1/3
        assert c.section == doc.section_at(c.start)
        assert c.doc_id == "zh_paper.txt" and c.title == doc.title
    assert [c.chunk_id for c in body] == [f"zh_paper.txt#{i}" for i in range(len(body))]
    assert [c.chunk_id for c in chunk_document(_doc(fixture_corpus), 120, 30)] == [c.chunk_id for c in chunks]
    # no chunk crosses a section start
    starts = [s for s, _ in doc.sections if s > 0]
    assert not any(c.start < s < c.end for c in body for s in starts)


def test_footnotes_become_linked_chunks(fixture_corpus):
    chunks = chunk_document(_doc(fixture_corpus), 120, 30)
    notes = [c for c in chunks if c.kind in ("footnote", "reference")]
    assert [(c.chunk_id, c.section, c.kind) for c in notes] == [
        ("zh_paper.txt#n0", "二、跨境数据流动规则 / 注1", "footnote"),  # a remark
        ("zh_paper.txt#n1", "二、跨境数据流动规则 / 注2", "reference"),  # citation notes: kept out of evidence
        ("zh_paper.txt#n2", "三、数字基础设施合作 / 注3", "reference"),
    ]
    assert notes[1].text.startswith("东盟秘书处")


def test_overlap_repeats_whole_sentences(fixture_corpus):
    doc = _doc(fixture_corpus)
    chunks = [c for c in chunk_document(doc, 80, 40) if c.kind == "body"]
    overlapping = [(a, b) for a, b in zip(chunks, chunks[1:]) if b.start < a.end]
    assert overlapping, "expected at least one pair of overlapping chunks"
    for a, b in overlapping:
        shared = doc.text[b.start : a.end]
        assert len(shared) <= 40
        assert shared.endswith(("。", "！", "？", "；"))
