"""The user's metadata edits: a JSON file beside the index, applied at every build (an update, a forced
rebuild), winning over a library record field by field, which still wins over the text's own metadata."""

from __future__ import annotations

import json

import pytest

from rag.errors import InvalidInputError
from rag.index.store import build_index, load_index
from rag.index.store.sidecar import save_edit, sidecar_path
from rag.ingest.library import open_library
from rag.records import Person
from rag.settings import load_settings

BIB = "@article{notes,\n  author = {Lee, Kim},\n  title = {Gauge Records},\n  journal = {Hydrology Letters},\n  year = {2019},\n}\n"


def test_edits_survive_updates_and_forced_rebuilds_and_beat_the_library(tmp_path):
    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "notes.md").write_text("# Notes on gauges\n\nThe gauges were read every morning.\n", encoding="utf-8")
    (papers / "plain.md").write_text("# Lake Sensors\n\nSalinity sensors were read twice a day.\n", encoding="utf-8")
    (papers / "refs.bib").write_text(BIB, encoding="utf-8")
    s = load_settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    library = open_library([papers])
    build_index([papers], s, library=library)
    notes = load_index(s).docs["notes.md"]
    assert (notes.title, notes.bib.year) == ("Gauge Records", "2019")  # the .bib record over the text's heading

    save_edit(s, "notes.md", "Gauge Records, Revised", "", "")
    save_edit(s, "plain.md", "", "张三, John Smith", "2020")
    assert sidecar_path(s) == tmp_path / "index" / "default.metadata.json"
    assert json.loads(sidecar_path(s).read_text("utf-8"))["plain.md"] == {
        "authors": ["张三", "John Smith"],
        "year": "2020",
    }
    report = build_index([papers], s, library=library)
    assert sorted(report.updated) == ["notes.md", "plain.md"] and report.embedded == 0  # vectors from the cache
    for _rebuilt in ("updated", "forced"):  # as updated, then after a --force rebuild
        docs = load_index(s).docs
        notes, plain = docs["notes.md"], docs["plain.md"]
        assert notes.title == "Gauge Records, Revised" and notes.bib.title == "Gauge Records, Revised"
        # fields the user did not edit still come from the library record
        assert notes.authors == ("Kim Lee",) and notes.bib.year == "2019" and notes.bib.journal == "Hydrology Letters"
        assert plain.title == "Lake Sensors" and plain.authors == ("张三", "John Smith")
        assert plain.bib.authors == (Person("张三"), Person("Smith", "John")) and plain.bib.year == "2020"
        build_index([papers], s, library=library, force=True)
    assert build_index([papers], s, library=library).up_to_date
    again = build_index([papers], s, library=library, refresh={"plain.md"})  # re-index one document
    assert again.updated == ["plain.md"] and again.reused == 1


def test_bad_edits_are_one_clear_error(tmp_path):
    s = load_settings(index_dir=tmp_path / "index")
    with pytest.raises(InvalidInputError, match="the year must be four digits, like 2021, not 'last year'"):
        save_edit(s, "a.md", "", "", "last year")
    sidecar_path(s).parent.mkdir(parents=True)
    sidecar_path(s).write_text("{not json", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="metadata edits file .* cannot be read .*; fix or delete it"):
        save_edit(s, "a.md", "T", "", "")
