"""Per-segment glossary contributions (rag.lang.glossary): the SQLite and in-memory dictionary lookups give
the same contribution, and the merged, live-filtered, capped view of several segments' contributions is
``build_glossary`` of the live vocabulary, key for key, after words were added and removed."""

from __future__ import annotations

from collections import defaultdict

import pytest
from conftest import FIXTURES

from rag.lang import glossary as gl
from rag.lang.text import tokenize
from rag.lang.translation import MAX_ALTERNATIVES, PINYIN_PREFIX, build_glossary, full_dictionary, romanisations


def _vocab() -> set[str]:
    """The fixture corpus's BM25 words, a spread of CC-CEDICT's words and single characters."""
    words = {
        t for f in sorted((FIXTURES / "corpus").iterdir()) for t in tokenize(f.read_bytes().decode("utf-8", "replace"))
    }
    dictionary = sorted({w for ws in full_dictionary().values() for w in ws})
    return words | set(dictionary[::40]) | {"中", "国", "", "data", "governance"}


@pytest.fixture()
def database(tmp_path, monkeypatch):
    path = tmp_path / "cedict.sqlite"
    gl.write_database(str(path))
    monkeypatch.setattr(gl, "_db_path", lambda: str(path))
    gl._database.cache_clear()
    yield path
    gl._database.cache_clear()


def test_contribution_from_sqlite_equals_the_in_memory_one(database):
    vocab = _vocab()
    assert gl._database() is not None  # the file is read, not the dictionary
    from_db = gl.contribution(vocab, use_database=True)
    assert from_db == gl.contribution(vocab, use_database=False)
    assert any(k.startswith(PINYIN_PREFIX) for k in from_db) and any(not k.startswith(PINYIN_PREFIX) for k in from_db)
    assert all(w in vocab for ws in from_db.values() for w in ws)


def test_contribution_without_a_writable_database_uses_the_dictionary(tmp_path, monkeypatch):
    monkeypatch.setattr(gl, "_db_path", lambda: str(tmp_path / "missing" / "cedict.sqlite"))
    gl._database.cache_clear()
    try:
        assert gl._database() is None
        vocab = {"治理", "网络空间", "联合国", "孙皓"}
        assert gl.contribution(vocab, use_database=True) == gl.contribution(vocab, use_database=False)
    finally:
        gl._database.cache_clear()


def _crowded(vocab: set[str]) -> tuple[str, list[str], str, list[str]]:
    """A dictionary key and a pinyin reading each naming more than MAX_ALTERNATIVES words (the caps apply)."""
    key = next(k for k, ws in sorted(full_dictionary().items()) if len(ws) >= MAX_ALTERNATIVES + 4)
    by_reading: dict[str, list[str]] = defaultdict(list)
    for w in sorted({w for ws in full_dictionary().values() for w in ws if len(w) == 2})[:20000]:
        for r in romanisations(w):
            by_reading[r].append(w)
    reading = next(r for r, ws in sorted(by_reading.items()) if len(ws) >= MAX_ALTERNATIVES + 3)
    return key, full_dictionary()[key], PINYIN_PREFIX + reading, by_reading[reading]


def test_merged_glossary_equals_build_glossary_after_words_added_and_removed(tmp_path):
    key, key_words, reading, reading_words = _crowded(set())
    base = _vocab() | set(key_words[:4]) | set(reading_words[:4])
    added = set(key_words[4:]) | set(reading_words[4:]) | {"孙皓", "霁虹"}
    removed = set(key_words[:3]) | set(reading_words[: len(reading_words) - MAX_ALTERNATIVES]) | {"治理"}
    files = []
    for i, vocab in enumerate([base, added]):
        files.append(tmp_path / f"{i}.json")
        gl.save_contribution(gl.contribution(vocab, use_database=False), files[-1])
    for live in (base | added, (base | added) - removed, base - removed):
        merged = gl.MergedGlossary(files if live != base - removed else files[:1], live.__contains__)
        want = build_glossary(live)
        assert want and bool(merged)
        for k, v in want.items():
            assert k in merged and merged[k] == v and merged.get(k) == v
        assert list(merged) == list(want) and len(merged) == len(want) and dict(merged) == want
        assert merged.get("no such key") is None and "no such key" not in merged
    # the caps bite both ways: the crowded reading is dropped, then kept once words are removed
    full = gl.MergedGlossary(files, (base | added).__contains__)
    assert reading not in full and len(full[key]) == MAX_ALTERNATIVES
    assert reading in gl.MergedGlossary(files, ((base | added) - removed).__contains__)
    off = gl.MergedGlossary(files, None, enabled=False)  # an index without Chinese passages
    assert not off and len(off) == 0 and key not in off and off.get(key) is None


def test_merged_glossary_of_one_segment_needs_no_live_test(tmp_path):
    vocab = _vocab()
    gl.save_contribution(gl.contribution(vocab, use_database=False), tmp_path / "g.json")
    assert dict(gl.MergedGlossary([tmp_path / "g.json"], None)) == build_glossary(vocab)
