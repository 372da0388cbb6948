"""jieba word segmentation and part-of-speech tags without loading jieba's whole dictionary.

Loading jieba's prefix dictionary (~500k words) and its part-of-speech tables costs about a second of
CPU per process, more than the rest of a `rag ask`. Cutting a text only ever looks up substrings of
that text, so a text is cut here by jieba's own code over the dictionary restricted to the substrings it
can reach — the same words, frequencies, totals and tags, hence exactly jieba's output — read from an
SQLite file written once from the real dictionary (next to jieba's own cache, in the temp folder).
After ``FULL_AFTER`` characters (an index build, a long batch) the whole dictionary is loaded once,
which is then cheaper; without the file (first use, a read-only temp folder) jieba's whole dictionary is
loaded. Either way the text is cut and tagged by ``rag.lang.wordcut``, ports of jieba's own code (exactly its
output, faster Viterbi searches).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from functools import cached_property, lru_cache

from rag.lang import wordcut
from rag.tempdb import temp_db_path, write_db

FORMAT = 1
FULL_AFTER = 100_000  # characters cut from the on-disk dictionary before the whole one is loaded
_lock = threading.RLock()
_state = {"chars": 0, "full": False}


@lru_cache(maxsize=1)
def full_jieba():
    """jieba with its whole dictionary loaded (once, quietly, thread-safely)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _lock:
        jieba.initialize()
        _state["full"] = True
    return jieba


def _db_path() -> str:
    import jieba

    dict_file = os.path.join(os.path.dirname(jieba.__file__), "dict.txt")
    return temp_db_path("jieba", dict_file, jieba.__version__, FORMAT)


def write_dictionary(path: str) -> None:
    """Write jieba's dictionary, tags and tagging model to an SQLite file at ``path`` (atomically)."""
    import jieba.posseg as pseg

    jb = full_jieba()

    def fill(con: sqlite3.Connection) -> None:
        tags = pseg.dt.word_tag_tab
        states = list(pseg.trans_P)
        index = {s: i for i, s in enumerate(states)}
        emit: dict[str, list] = {}
        for s, row in pseg.emit_P.items():
            for ch, p in row.items():
                emit.setdefault(ch, []).append([index[s], p])
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        con.execute("CREATE TABLE words (word TEXT PRIMARY KEY, freq INTEGER, tag TEXT) WITHOUT ROWID")
        con.execute("CREATE TABLE chars (ch TEXT PRIMARY KEY, states TEXT, emit TEXT) WITHOUT ROWID")
        meta = {
            "total": jb.dt.total,
            "states": states,
            "start": [pseg.start_P[s] for s in states],
            "trans": [[[index[t], p] for t, p in pseg.trans_P[s].items()] for s in states],
        }
        con.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
        con.executemany("INSERT INTO words VALUES (?, ?, ?)", ((w, f, tags.get(w)) for w, f in jb.dt.FREQ.items()))
        cst = pseg.char_state_tab_P
        rows = (
            (ch, json.dumps([index[s] for s in cst[ch]]) if ch in cst else None, json.dumps(emit.get(ch, [])))
            for ch in set(cst) | set(emit)
        )
        con.executemany("INSERT INTO chars VALUES (?, ?, ?)", rows)

    write_db(path, fill)


class Dictionary:
    """jieba's dictionary in an SQLite file, read as texts need it: the words, tags and tagging model of
    every text cut so far are kept (a subset of jieba's tables, with the same values)."""

    def __init__(self, path: str):
        import jieba

        self.con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        meta = {k: json.loads(v) for k, v in self.con.execute("SELECT key, value FROM meta")}
        self.states = [tuple(s) for s in meta["states"]]
        self.start = dict(zip(self.states, meta["start"]))
        self.trans = {s: {self.states[t]: p for t, p in row} for s, row in zip(self.states, meta["trans"])}
        self.tokenizer = jieba.Tokenizer()  # jieba's own code over the words read so far
        self.tokenizer.total, self.tokenizer.initialized = meta["total"], True
        self.freq: dict[str, int] = self.tokenizer.FREQ
        self.tags: dict[str, str] = {}
        self.absent: set[str] = set()
        self.char_states: dict[str, tuple] = {}
        self.emit: dict[tuple, dict[str, float]] = {s: {} for s in self.states}
        self.chars_read: set[str] = set()

    def _fetch(self, table: str, key: str, cols: str, keys: list[str]) -> list[tuple]:
        out = []
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            q = f"SELECT {key}, {cols} FROM {table} WHERE {key} IN ({','.join('?' * len(part))})"
            out.extend(self.con.execute(q, part).fetchall())
        return out

    def read_words(self, text: str) -> None:
        """Read every dictionary word among the substrings of ``text``: a word's prefixes are all in
        jieba's FREQ, so growing substrings while they are found reaches every one jieba looks up."""
        frontier = [(i, i + 1) for i in range(len(text))]
        while frontier:
            new = list({text[a:b] for a, b in frontier} - self.freq.keys() - self.absent)
            for w, f, t in self._fetch("words", "word", "freq, tag", new):
                self.freq[w] = f
                if t is not None:
                    self.tags[w] = t
            self.absent.update(w for w in new if w not in self.freq)
            frontier = [(a, b + 1) for a, b in frontier if b < len(text) and text[a:b] in self.freq]

    def read_model(self, text: str) -> None:
        """Read the part-of-speech model's states and emission probabilities of ``text``'s characters."""
        chars = list(set(text) - self.chars_read)
        for ch, st, em in self._fetch("chars", "ch", "states, emit", chars):
            if st:
                self.char_states[ch] = tuple(self.states[i] for i in json.loads(st))
            for i, p in json.loads(em):
                self.emit[self.states[i]][ch] = p
        self.chars_read.update(chars)

    def cut_for_search(self, text: str) -> list[str]:
        """``jieba.lcut_for_search(text)`` over this dictionary."""
        from jieba.finalseg import Force_Split_Words

        with _lock:
            self.read_words(text)
        return wordcut.cut_for_search(self.tokenizer, text, Force_Split_Words)

    def pos_cut(self, text: str) -> list[tuple[str, str]]:
        """``jieba.posseg.cut(text)`` over this dictionary, as (word, tag) pairs."""
        with _lock:
            self.read_words(text)
            self.read_model(text)
        return wordcut.Tagger(self.tokenizer, self.tags, self.char_states, self.hmm, self.emit).cut(text)

    @cached_property
    def hmm(self) -> wordcut.DenseHMM:
        """The tagging model's start and transition tables as arrays (``wordcut.viterbi``)."""
        return wordcut.DenseHMM(self.start, self.trans)


@lru_cache(maxsize=1)
def _dictionary() -> Dictionary | None:
    try:
        path = _db_path()
        if not os.path.exists(path):
            write_dictionary(path)  # loads the whole dictionary: this process uses it
            return None
        return Dictionary(path)
    except (OSError, sqlite3.Error, ValueError, KeyError):
        return None  # no usable file: jieba as is


def _lite(text: str) -> Dictionary | None:
    """The on-disk dictionary while it is the cheaper way to cut ``text``, else None."""
    with _lock:
        if _state["full"]:
            return None
        _state["chars"] += len(text)
        return _dictionary() if _state["chars"] <= FULL_AFTER else None


def cut_for_search(text: str) -> list[str]:
    """Exactly ``jieba.lcut_for_search(text)``."""
    d = _lite(text)
    if d is None:
        from jieba.finalseg import Force_Split_Words

        return wordcut.cut_for_search(full_jieba().dt, text, Force_Split_Words)
    return d.cut_for_search(text)


def pos_cut(text: str) -> list[tuple[str, str]]:
    """Exactly ``[(p.word, p.flag) for p in jieba.posseg.cut(text)]``."""
    d = _lite(text)
    return _full_tagger().cut(text) if d is None else d.pos_cut(text)


@lru_cache(maxsize=1)
def _full_tagger() -> wordcut.Tagger:
    """jieba.posseg's tagger over jieba's whole tables (read once, under the lock: jieba's are not
    thread-safe while they initialise)."""
    jb = full_jieba()
    with _lock:
        import jieba.posseg as pseg

        pseg.dt.makesure_userdict_loaded()
        hmm = wordcut.DenseHMM(pseg.start_P, pseg.trans_P)
        return wordcut.Tagger(jb.dt, pseg.dt.word_tag_tab, pseg.char_state_tab_P, hmm, pseg.emit_P)
