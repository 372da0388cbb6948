"""The real-PDF suite's gold (eval/real_pdfs): every evidence quote on the page it names in the PDF's own
text, the suite's make-up as its notes state it, and the checker itself catching what it must."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT
from helpers import check_gold_module

from rag.eval.gold import load_gold
from rag.lang.text import detect_lang

SUITE = ROOT / "eval" / "real_pdfs"


check_gold = check_gold_module()


def _rows() -> list[dict]:
    return [json.loads(line) for line in (SUITE / "gold.jsonl").read_text(encoding="utf-8").splitlines() if line]


def test_every_text_layer_quote_is_on_its_page_and_every_title_on_its_page():
    report = check_gold.check(ocr=False)
    assert report.problems == []
    rows = _rows()
    on_scans = sum(1 for r in rows for e in r["evidence"] if e["doc"].startswith("scan_"))
    assert report.skipped == on_scans > 0  # the scans' quotes need OCR: the slow test reads them
    assert report.checked == sum(len(r["evidence"]) for r in rows) - on_scans


def test_the_gold_loads_and_has_the_make_up_its_notes_state():
    gold = load_gold(SUITE / "gold.jsonl")
    rows = {r["id"]: r for r in _rows()}
    assert len(gold) >= 40
    docs = {p.name for p in (SUITE / "corpus").glob("*.pdf")}
    assert len(docs) >= 12
    answerable = [q for q in gold if q.answerable]
    assert all(len(e.quote) < 40 and e.doc in docs for q in answerable for e in q.evidence)
    assert all(isinstance(e["page"], int) for r in rows.values() for e in r["evidence"])
    # near misses: each unanswerable question names the paper it is about, which exists
    misses = [q for q in gold if not q.answerable]
    assert len(misses) >= 10 and all(rows[q.id]["near_doc"] in docs for q in misses)

    def doc_lang(q) -> str:
        return "zh" if q.evidence[0].doc.startswith(("zh_", "scan_zh")) else "en"

    cross = [q for q in answerable if detect_lang(q.question) != doc_lang(q)]
    assert sum(detect_lang(q.question) == "zh" for q in cross) >= 3
    assert sum(detect_lang(q.question) == "en" for q in cross) >= 3
    assert sum(q.kind == "table" for q in gold) >= 5
    assert sum(q.kind == "scan" for q in gold) >= 4


def test_norm_maps_radicals_and_joins_line_end_hyphens():
    assert check_gold.norm("北京师范⼤学 ⺫录") == "北京师范大学目录"  # U+2F24 via NFKC, U+2EAB via the table
    assert check_gold.found("6% improvement over", "(6% im\ufffe\nprovement over the best")
    assert check_gold.found("state of the art", "State of\nthe  art")
    assert not check_gold.found("improvement", "im- provement")  # a hyphen inside a line is kept


def test_the_checker_reports_a_wrong_page_a_long_quote_and_a_missing_title(tmp_path):
    doc = "en_usenix_mapreduce.pdf"
    gold = tmp_path / "gold.jsonl"
    rows = [
        {"id": "w1", "question": "q", "answerable": True, "evidence": [{"doc": doc, "quote": "into 4000 files (R = 4000)", "page": 2}]},
        {"id": "w2", "question": "q", "answerable": True, "evidence": [{"doc": doc, "quote": "x" * 40, "page": 1}]},
        {"id": "w3", "question": "q", "answerable": False, "evidence": [{"doc": doc, "quote": "MapReduce", "page": 1}]},
    ]  # fmt: skip
    gold.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    titles = tmp_path / "titles.jsonl"
    titles.write_text(json.dumps({"doc": doc, "title": "A title this paper does not print"}), encoding="utf-8")
    report = check_gold.check(gold=gold, titles=titles, ocr=False)
    assert report.problems == [
        f"w1 {doc} p2: quote 'into 4000 files (R = 4000)' not on that page (found on page 9)",
        f"w2 {doc} p1: quote has 40 characters (must be under 40)",
        f"w2 {doc} p1: quote {'x' * 40!r} not on that page",
        "w3: an unanswerable question carries evidence",
        f"title {doc}: 'A title this paper does not print' not printed on page 1",
    ]


@pytest.mark.slow
def test_the_scanned_pages_quotes_are_read_by_ocr():
    """RapidOCR reads the image-only pages (about 30-60 s each on 2 busy cores, so only those cited)."""
    report = check_gold.check(ocr=True)
    assert report.problems == [] and report.skipped == 0
