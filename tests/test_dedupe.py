"""Duplicate documents beyond identical bytes: same DOI, same normalised title and year, near-identical text;
reported as a note and not indexed twice unless asked."""

from __future__ import annotations

from rag.index.store import build_index, load_index
from rag.ingest.dedupe import NEAR_TEXT, duplicate_reason, fingerprint, norm_title, signature, similarity
from rag.settings import load_settings

BODY = " ".join(
    f"Section {i}. The survey station {i} recorded {i * 7} readings of river depth and {i * 3} of turbidity, "
    f"and the crew noted that gauge {i} drifted by {i % 5} millimetres over the season."
    for i in range(1, 40)
)


def test_near_identical_texts_score_high_and_different_texts_low():
    edited = BODY.replace("Section 7.", "Section 7 ").replace("drifted", "drifted", 1) + " Page 12."
    assert similarity(signature(BODY), signature(edited)) >= NEAR_TEXT
    other = BODY.replace("river", "lake").replace("turbidity", "salinity").replace("gauge", "sensor")
    assert similarity(signature(BODY), signature(other)) < NEAR_TEXT
    assert signature(BODY) == signature(BODY)  # deterministic across calls (and processes: fixed seeds)
    assert signature("abc") == () and similarity((), ()) == 0.0


def test_reasons_doi_then_title_and_year_then_text():
    a = fingerprint("10.1234/ABC.1", "River Gauges: A Survey", "2020", BODY)
    assert duplicate_reason(fingerprint("10.1234/abc.1", "Other", "2001", "x" * 50), a) == "same DOI 10.1234/abc.1"
    assert duplicate_reason(fingerprint("", "river gauges — a survey", "2020", "y" * 60), a) == "same title and year"
    assert duplicate_reason(fingerprint("", "river gauges — a survey", "2021", "y" * 60), a) == ""  # another year
    assert duplicate_reason(fingerprint("", "Short", "2020", "z" * 60), fingerprint("", "short", "2020", "w")) == ""
    assert duplicate_reason(fingerprint("", "", "", BODY + " Note."), a).startswith("near-identical text (similarity")
    assert norm_title("数据 治理：框架") == norm_title("数据治理:框架")


def test_rag_index_leaves_out_a_second_copy_of_a_work(tmp_path):
    src = tmp_path / "papers"
    src.mkdir()
    (src / "a.md").write_text(f"# River Gauges in Practice\n\nDOI: 10.5555/rg.2020.1\n\n{BODY}\n", encoding="utf-8")
    s = load_settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    build_index([src], s)
    # a second export of the same text (a line break and a page number differ), one with the same DOI
    rewrapped = BODY.replace(". The", ".\nThe", 3)
    (src / "a-copy.md").write_text(f"# River Gauges in Practice\n\n{rewrapped}\n\n12\n", encoding="utf-8")
    (src / "b.md").write_text("# Notes\n\nDOI: 10.5555/rg.2020.1\n\nA short note on gauges.\n", encoding="utf-8")
    (src / "c.md").write_text("# Lake Sensors\n\nSalinity sensors were read twice a day.\n", encoding="utf-8")
    report = build_index([src], s)
    dups = {d.doc_id: (d.of, d.reason) for d in report.duplicates}
    assert dups["b.md"] == ("a.md", "same DOI 10.5555/rg.2020.1")
    assert dups["a-copy.md"][0] == "a.md" and dups["a-copy.md"][1].startswith("near-identical text")
    assert set(dups) == {"a-copy.md", "b.md"}
    assert any(n.startswith("b.md is a duplicate of a.md (same DOI") and "--keep-duplicates" in n for n in report.notes)
    assert sorted(load_index(s).docs) == ["a.md", "c.md"]
    again = build_index([src], s)  # nothing new but the duplicates: nothing rewritten, noted again
    assert again.up_to_date and {d.doc_id for d in again.duplicates} == {"a-copy.md", "b.md"}
    kept = build_index([src], s.model_copy(update={"keep_duplicates": True}))
    assert not kept.duplicates and sorted(load_index(s).docs) == ["a-copy.md", "a.md", "b.md", "c.md"]


def test_unrelated_short_papers_are_not_near_identical():
    """Two short papers sharing only their section words and a few names (a MinHash whose functions all
    favour the same small shingle hashes scored such a pair 0.88)."""
    from rag.ingest.dedupe import signature, similarity

    a = (
        "Expanding Short Queries with Translated Dictionaries\n\nBo Chen, Alice Martin\n\nAbstract: Short queries "
        "miss relevant passages when the words differ, so we expand queries with bilingual dictionaries.\n\n"
        "1 Introduction\n\nReading tools rarely expand queries (Wang and Martin, 2018).\n\nReferences\n"
    )
    b = (
        "A Survey of Reading Tools for Scholars\n\nLi Wang, Alice Martin\n\nAbstract: Scholars read and annotate "
        "many papers, and their tools differ in how they store notes and search text.\n\n1 Introduction\n\n"
        "Reference managers store bibliographic records and attachments.\n"
    )
    assert similarity(signature(a), signature(b)) < 0.2
    assert similarity(signature(a), signature(a.replace("Short", "short") + " Extra.")) > 0.85
